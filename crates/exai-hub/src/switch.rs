//! The upstream the hub's sessions see: the daemon pool behind a switch, so new settings saved
//! from the dashboard (the first-run card) take effect without restarting the hub.
//!
//! The pool itself is built for one URL and token for its whole life (its connections, backoff,
//! pacing and catalog all belong to that daemon), so it is not reconfigured in place: a new pool
//! is started with the new settings and the old one is shut down (its queued calls fail, a call
//! running on it ends as "connection lost"; the user just changed the daemon). Sessions hold
//! this switch, never a pool: calls go to the current pool, the status and tool catalog are
//! relayed from it into watches that outlive every pool (the catalog's generation keeps
//! counting up across pools, so windows get `list_changed`), and the number of open windows is
//! handed on to each new pool.

use crate::api::UpstreamStatus;
use crate::config::ExaiConfig;
use crate::upstream::exai::ExaiUpstream;
use crate::upstream::{CallFuture, ToolCall, ToolCatalog, Upstream};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The current pool and what the relays need. One lock for all of it: switching, relaying and
/// counting windows are rare and short.
struct Current {
    upstream: ExaiUpstream,
    config: ExaiConfig,
    /// Which pool this is (the relays of older ones stop forwarding).
    pool: u64,
    windows: usize,
    /// The last catalog forwarded: (pool, its generation), and the generation sessions saw.
    catalog_from: Option<(u64, u64)>,
    generation: u64,
    /// Where new pools' drivers and relays go; `None` after shutdown.
    spawn: Option<mpsc::UnboundedSender<Task>>,
}

/// The upstream behind a switch; see the module docs.
pub(crate) struct SwitchUpstream {
    current: Mutex<Current>,
    status: watch::Sender<UpstreamStatus>,
    tools: watch::Sender<Option<Arc<ToolCatalog>>>,
}

impl SwitchUpstream {
    /// The switch with a first pool for `config`, and the driver that runs every pool; spawn it.
    pub(crate) fn new(config: ExaiConfig) -> (Arc<SwitchUpstream>, impl Future<Output = ()>) {
        let (upstream, driver) = ExaiUpstream::new(config.clone());
        let (spawn, tasks) = mpsc::unbounded_channel::<Task>();
        let switch = Arc::new(SwitchUpstream {
            status: watch::channel(upstream.status().borrow().clone()).0,
            tools: watch::channel(None).0,
            current: Mutex::new(Current {
                upstream: upstream.clone(),
                config,
                pool: 0,
                windows: 0,
                catalog_from: None,
                generation: 0,
                spawn: Some(spawn.clone()),
            }),
        });
        let _ = spawn.send(Box::pin(driver));
        let _ = spawn.send(Box::pin(relay(Arc::downgrade(&switch), 0, upstream)));
        (switch, run(tasks))
    }

    fn lock(&self) -> MutexGuard<'_, Current> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn upstream(&self) -> ExaiUpstream {
        self.lock().upstream.clone()
    }

    /// The daemon settings the current pool runs with.
    pub(crate) fn config(&self) -> ExaiConfig {
        self.lock().config.clone()
    }

    /// Starts a pool for `config` and shuts the current one down.
    pub(crate) fn replace(self: &Arc<Self>, config: ExaiConfig) {
        let mut current = self.lock();
        let Some(spawn) = current.spawn.clone() else {
            return; // the hub is stopping
        };
        let (upstream, driver) = ExaiUpstream::new(config.clone());
        for _ in 0..current.windows {
            upstream.window_opened();
        }
        current.upstream.shutdown();
        current.upstream = upstream.clone();
        tracing::info!(url = %config.url, "daemon settings changed; reconnecting with them");
        current.config = config;
        current.pool += 1;
        let pool = current.pool;
        // The new daemon's tools are not known yet; sessions wait for them as at start.
        self.tools.send_replace(None);
        self.status.send_replace(upstream.status().borrow().clone());
        drop(current);
        let _ = spawn.send(Box::pin(driver));
        let _ = spawn.send(Box::pin(relay(Arc::downgrade(self), pool, upstream)));
    }

    /// Stops the current pool and accepts no new one; the driver ends once every pool has.
    pub(crate) fn shutdown(&self) {
        let mut current = self.lock();
        current.upstream.shutdown();
        current.spawn = None;
    }

    /// A status from pool `pool`, forwarded only while it is the current one.
    fn forward_status(&self, pool: u64, status: UpstreamStatus) {
        let current = self.lock();
        if current.pool == pool {
            self.status.send_replace(status);
        }
    }

    /// A catalog from pool `pool`, forwarded with a generation that counts across pools.
    fn forward_tools(&self, pool: u64, catalog: Option<Arc<ToolCatalog>>) {
        let mut current = self.lock();
        if current.pool != pool {
            return;
        }
        let Some(catalog) = catalog else { return };
        let from = (pool, catalog.generation);
        if current.catalog_from != Some(from) {
            current.catalog_from = Some(from);
            current.generation += 1;
        }
        self.tools.send_replace(Some(Arc::new(ToolCatalog {
            generation: current.generation,
            tools: catalog.tools.clone(),
        })));
    }
}

/// Runs every pool's driver and relay until the switch is shut down and all of them ended.
async fn run(mut tasks: mpsc::UnboundedReceiver<Task>) {
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            task = tasks.recv() => match task {
                Some(task) => {
                    running.spawn(task);
                }
                None => break,
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    while running.join_next().await.is_some() {}
}

/// Forwards pool `pool`'s status and catalog until the pool ends (its watches close).
async fn relay(switch: std::sync::Weak<SwitchUpstream>, pool: u64, upstream: ExaiUpstream) {
    let mut status = upstream.status();
    let mut tools = upstream.tools();
    // The handle would keep the pool alive; the watches are enough.
    drop(upstream);
    loop {
        tokio::select! {
            changed = status.changed() => {
                if changed.is_err() { break }
                let Some(switch) = switch.upgrade() else { break };
                switch.forward_status(pool, status.borrow_and_update().clone());
            }
            changed = tools.changed() => {
                if changed.is_err() { break }
                let Some(switch) = switch.upgrade() else { break };
                switch.forward_tools(pool, tools.borrow_and_update().clone());
            }
        }
    }
}

impl Upstream for SwitchUpstream {
    fn call_tool(&self, call: ToolCall) -> CallFuture {
        self.upstream().call_tool(call)
    }

    fn tools(&self) -> watch::Receiver<Option<Arc<ToolCatalog>>> {
        self.tools.subscribe()
    }

    fn status(&self) -> watch::Receiver<UpstreamStatus> {
        self.status.subscribe()
    }

    fn reconnect(&self) {
        self.upstream().reconnect();
    }

    fn window_opened(&self) {
        let mut current = self.lock();
        current.windows += 1;
        current.upstream.window_opened();
    }

    fn window_closed(&self) {
        let mut current = self.lock();
        current.windows = current.windows.saturating_sub(1);
        current.upstream.window_closed();
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{
        ConfigSource, UpstreamConfigUpdate, UpstreamState, UpstreamTest, UpstreamTestOutcome,
    };
    use crate::config::{ExaiConfig, HubConfig, Secret};
    use crate::{Hub, HubHandle};
    use exai_testkit::{DaemonConfig, TestDaemon};
    use std::time::Duration;

    async fn wait_for(hub: &HubHandle, what: &str, holds: impl Fn(&crate::api::Snapshot) -> bool) {
        let mut events = hub.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let snapshot = hub.snapshot().await.unwrap();
            if holds(&snapshot) {
                return;
            }
            tokio::select! {
                _ = events.next() => {}
                () = tokio::time::sleep_until(deadline) => panic!("{what}: not within 10 s: {:?}", snapshot.upstream),
            }
        }
    }

    /// A hub that starts with no daemon configured, as on a first run: the default URL, which
    /// nothing here answers, and a config file in a temporary directory.
    #[tokio::test]
    async fn saving_new_settings_reconnects_the_running_hub_and_keeps_the_token_private() {
        let daemon = TestDaemon::start(DaemonConfig {
            token: Some("s3cret-token-0123456789".into()),
            ..DaemonConfig::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exai").join("config.toml");
        let config = HubConfig {
            endpoint: Some(dir.path().join("hub.sock").display().to_string()),
            exai: ExaiConfig {
                url: "ws://127.0.0.1:9".into(),
                pool_size: 1,
                min_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
                ..ExaiConfig::default()
            },
            config_file: Some(path.clone()),
            ..HubConfig::default()
        };
        let (hub, task) = Hub::new(config, None).await.unwrap();
        let task = tokio::spawn(task.run());
        let before = hub.upstream_config();
        assert_eq!(before.url_source, ConfigSource::Default);
        assert!(!before.token_set && !before.config_exists);
        assert!(!hub.snapshot().await.unwrap().host.daemon_configured);

        let refused = hub
            .test_upstream(UpstreamTest {
                url: "ws://127.0.0.1:9".into(),
                token: None,
            })
            .await;
        assert_eq!(refused.outcome, UpstreamTestOutcome::Refused, "{refused:?}");
        let wanted = hub
            .test_upstream(UpstreamTest {
                url: daemon.url(),
                token: None,
            })
            .await;
        assert_eq!(
            wanted.outcome,
            UpstreamTestOutcome::Unauthorized,
            "{wanted:?}"
        );
        let ok = hub
            .test_upstream(UpstreamTest {
                url: daemon.url(),
                token: Some(Secret::new("s3cret-token-0123456789")),
            })
            .await;
        assert_eq!(ok.outcome, UpstreamTestOutcome::Ok, "{ok:?}");
        let invalid = hub
            .test_upstream(UpstreamTest {
                url: "http://x".into(),
                token: None,
            })
            .await;
        assert_eq!(invalid.outcome, UpstreamTestOutcome::Invalid);

        let error = hub
            .set_upstream_config(UpstreamConfigUpdate {
                url: "wss://far:1".into(),
                token: None,
            })
            .await
            .unwrap_err();
        assert_eq!(error.code(), "invalid_url");
        assert!(!path.exists(), "nothing written for a refused URL");

        let saved = hub
            .set_upstream_config(UpstreamConfigUpdate {
                url: daemon.url(),
                token: Some(Secret::new("s3cret-token-0123456789")),
            })
            .await
            .unwrap();
        assert!(saved.message.contains(&daemon.url()), "{}", saved.message);
        assert!(!saved.message.contains("s3cret"), "{}", saved.message);
        assert_eq!(saved.config.url_source, ConfigSource::File);
        assert!(saved.config.token_set && saved.config.config_exists);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("token = \"s3cret-token-0123456789\""),
            "{text}"
        );
        let permissions = format!("{:?}", std::fs::metadata(&path).unwrap().permissions());
        assert!(
            !permissions.contains("mode") || permissions.contains("0o100600"),
            "{permissions}"
        );

        wait_for(&hub, "connected to the saved daemon", |snapshot| {
            snapshot.upstream.url == daemon.url()
                && snapshot.upstream.state == UpstreamState::Connected
                && snapshot.host.daemon_configured
        })
        .await;
        let tools = hub.upstream().tools();
        let catalog = tools.borrow().clone();
        let catalog = match catalog {
            Some(catalog) => catalog,
            None => {
                let mut tools = hub.upstream().tools();
                tokio::time::timeout(Duration::from_secs(10), tools.wait_for(Option::is_some))
                    .await
                    .unwrap()
                    .unwrap()
                    .clone()
                    .unwrap()
            }
        };
        assert!(!catalog.tools.is_empty());
        assert!(catalog.generation >= 1);

        // Keeping the token (no field) keeps it in the file and in effect.
        hub.set_upstream_config(UpstreamConfigUpdate {
            url: daemon.url(),
            token: None,
        })
        .await
        .unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("s3cret-token-0123456789")
        );
        wait_for(&hub, "connected again with the kept token", |snapshot| {
            snapshot.upstream.state == UpstreamState::Connected
        })
        .await;

        hub.shutdown();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the hub stops with its pools")
            .unwrap()
            .unwrap();
    }
}
