//! The EXAI hub: the part every editor window's shim connects to.
//!
//! It owns the local endpoint, one session per editor window (each an MCP server of its own), the
//! session registry, and the upstream (a pool of connections to the EXAI daemon).
//! Embedders (`exai hub`, the tray app, tests) call [`Hub::new`] and spawn the returned
//! [`HubTask`] on their own runtime; they watch and steer the hub through [`HubHandle`].
//!
//! This crate has no GUI dependency and never installs a tracing subscriber: it only emits, and
//! offers [`logring`] for an embedder that wants the recent records.
//! Turn on debug logs with `EXAI_LOG=exai_hub=debug`.
#![deny(missing_docs)]

pub mod api;
mod catalog;
pub mod config;
pub mod config_write;
pub mod connect;
pub mod control;
pub mod logring;
pub mod mcp;
mod notice;
pub mod overall;
mod registry;
pub mod servers;
mod session;
pub mod start;
mod switch;
pub mod upstream;

use crate::api::{
    ConfigSource, HostInfo, HubEvent, LogRecord, RequestRecord, Snapshot, UpstreamConfig,
    UpstreamConfigSaved, UpstreamConfigUpdate, UpstreamTest, UpstreamTestResult,
};
use crate::config::HubConfig;
use crate::config_write::{SaveError, TokenChange};
use crate::logring::LogRing;
use crate::registry::{Registry, RegistryMsg};
use crate::session::{Peer, SessionCtx};
use crate::start::{ConfigError, StartError};
use crate::switch::SwitchUpstream;
use crate::upstream::Upstream;
use exai_proto::SessionId;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

/// How long shutdown waits for sessions to say goodbye to their shims.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// Builds a hub.
pub struct Hub;

impl Hub {
    /// Binds the local endpoint and wires the hub; nothing runs until [`HubTask::run`] is polled.
    ///
    /// Binding here, rather than in the task, lets a second hub on the same endpoint fail before
    /// anything starts: with [`StartError::AlreadyRunning`] saying who runs there (asked over the
    /// control protocol), so embedders only choose their words. Must be called inside a tokio
    /// runtime.
    #[allow(
        clippy::new_ret_no_self,
        reason = "STYLE.md's embedder-owns-the-runtime shape: new returns the handle and the task"
    )]
    pub async fn new(
        config: HubConfig,
        logs: Option<LogRing>,
    ) -> Result<(HubHandle, HubTask), StartError> {
        config.validate().map_err(ConfigError::Invalid)?;
        // A large tool result is held briefly, a few times over; its memory must not stay.
        exai_ipc::release_large_allocations();
        let endpoint = exai_ipc::Endpoint::resolve(config.endpoint.as_deref())?;
        let listener = match exai_ipc::listen(&endpoint).await {
            Ok(listener) => listener,
            Err(exai_ipc::ListenError::AlreadyRunning { endpoint: there }) => {
                return Err(start::who_runs(config.endpoint.as_deref(), there).await);
            }
            Err(err) => return Err(err.into()),
        };
        let (upstream, driver) = SwitchUpstream::new(config.exai.clone());
        let (events, _) = broadcast::channel(4096);
        let (registry_tx, registry_rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let upstream_handle = upstream.clone();
        let ctx = Arc::new(SessionCtx {
            registry: registry_tx.clone(),
            upstream: upstream.clone(),
            shutdown: shutdown.clone(),
            max_frame_len: config.max_frame_len,
            servers: servers::Servers::new(
                config.servers,
                registry_tx.clone(),
                events.clone(),
                shutdown.clone(),
            ),
        });
        let registry = Registry::new(
            ctx.upstream.status(),
            events.clone(),
            config.lost_retention,
            endpoint.to_string(),
            HostInfo {
                kind: config.host,
                pid: std::process::id(),
                dashboard_url: config.dashboard_url.clone(),
                daemon_configured: config.daemon_configured,
            },
        );
        let handle = HubHandle {
            ctx: ctx.clone(),
            events: events.clone(),
            logs: logs.clone(),
            endpoint: endpoint.to_string(),
            switch: upstream.clone(),
            daemon: Arc::new(Mutex::new(DaemonSettings {
                url_source: config.url_source,
                token_source: config.token_source,
                config_file: config.config_file.clone(),
                configured: config.daemon_configured,
            })),
            saving: Arc::new(tokio::sync::Mutex::new(())),
        };
        let task = HubTask {
            listener,
            ctx,
            registry,
            registry_rx,
            upstream: upstream_handle,
            driver: Box::pin(driver),
            events,
            logs,
        };
        Ok((handle, task))
    }
}

/// The hub's work; spawn [`HubTask::run`] on the runtime that should run the hub.
pub struct HubTask {
    listener: exai_ipc::Listener,
    ctx: Arc<SessionCtx>,
    registry: Registry,
    registry_rx: mpsc::UnboundedReceiver<RegistryMsg>,
    upstream: Arc<SwitchUpstream>,
    driver: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    events: broadcast::Sender<HubEvent>,
    logs: Option<LogRing>,
}

impl HubTask {
    /// Runs the hub until [`HubHandle::shutdown`]; then tells every shim and returns.
    pub async fn run(self) -> anyhow::Result<()> {
        let HubTask {
            mut listener,
            ctx,
            registry,
            registry_rx,
            upstream,
            driver,
            events,
            logs,
        } = self;
        let driver = tokio::spawn(driver.instrument(tracing::info_span!("hub::upstream")));
        let registry = tokio::spawn(registry.run(registry_rx));
        tokio::spawn(notice::run(events.clone(), ctx.shutdown.clone()));
        if let Some(logs) = logs {
            tokio::spawn(forward_logs(logs, events, ctx.shutdown.clone()));
        }
        tracing::info!(endpoint = %listener.endpoint(), "hub listening");
        let sessions = TaskTracker::new();
        let shutdown = ctx.shutdown.clone();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => {
                        let peer = Peer {
                            pid: accepted.peer.pid,
                            uid: accepted.peer.uid,
                            same_user: accepted.peer.same_user,
                        };
                        sessions.spawn(session::serve(accepted.stream, peer, ctx.clone()));
                    }
                    Err(err) => {
                        // Usually a transient resource shortage (too many open files): say so,
                        // and give it a moment rather than spinning.
                        tracing::error!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        tracing::info!("hub shutting down");
        drop(listener);
        sessions.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!("some sessions did not finish within {SHUTDOWN_GRACE:?}");
        }
        // Wrapped servers end with the hub (their processes are killed and reaped).
        if tokio::time::timeout(SHUTDOWN_GRACE, ctx.servers.stopped())
            .await
            .is_err()
        {
            tracing::warn!("some wrapped servers did not stop within {SHUTDOWN_GRACE:?}");
        }
        upstream.shutdown();
        drop(upstream);
        drop(ctx);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, driver).await;
        registry.abort();
        Ok(())
    }
}

async fn forward_logs(logs: LogRing, events: broadcast::Sender<HubEvent>, stop: CancellationToken) {
    let mut records = logs.subscribe();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            record = records.recv() => match record {
                Ok(record) => {
                    let _ = events.send(HubEvent::Log { record });
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// Watches and steers a running hub. Cheap to clone.
#[derive(Clone)]
pub struct HubHandle {
    ctx: Arc<SessionCtx>,
    events: broadcast::Sender<HubEvent>,
    logs: Option<LogRing>,
    endpoint: String,
    switch: Arc<SwitchUpstream>,
    daemon: Arc<Mutex<DaemonSettings>>,
    /// One save at a time (read, merge, write, apply).
    saving: Arc<tokio::sync::Mutex<()>>,
}

/// Where the daemon settings in effect came from, and where the dashboard saves them.
#[derive(Debug, Clone)]
struct DaemonSettings {
    url_source: ConfigSource,
    token_source: ConfigSource,
    config_file: Option<PathBuf>,
    /// [`HostInfo::daemon_configured`] as it is now (a save makes it true).
    configured: bool,
}

impl HubHandle {
    /// The local endpoint shims connect to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Everything the hub knows now.
    pub async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let (reply, answer) = oneshot::channel();
        self.ctx
            .registry
            .send(RegistryMsg::Snapshot { reply })
            .map_err(|_| anyhow::anyhow!("the hub has stopped"))?;
        let mut snapshot = answer
            .await
            .map_err(|_| anyhow::anyhow!("the hub has stopped"))?;
        // The registry keeps the start-time value; a save from the dashboard changes it.
        snapshot.host.daemon_configured |= self.daemon().configured;
        snapshot.servers = self.ctx.servers.statuses();
        Ok(snapshot)
    }

    fn daemon(&self) -> DaemonSettings {
        self.daemon
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The daemon's URL, whether a token is set, where each came from and the config file the
    /// dashboard writes (never the token).
    pub fn upstream_config(&self) -> UpstreamConfig {
        let daemon = self.daemon();
        let config = self.switch.config();
        UpstreamConfig {
            url: config.url,
            url_source: daemon.url_source,
            token_set: config.token.is_some(),
            token_source: daemon.token_source,
            config_exists: daemon
                .config_file
                .as_deref()
                .is_some_and(std::path::Path::is_file),
            config_path: daemon.config_file.map(|path| path.display().to_string()),
        }
    }

    /// Writes the daemon's URL and token into the config file (`[upstream]`, other keys and
    /// comments kept, the file private to the user) and reconnects with them: a new pool
    /// replaces the running one. What the environment or a flag set stays in effect, and the
    /// answer says so. See [`config_write`].
    pub async fn set_upstream_config(
        &self,
        update: UpstreamConfigUpdate,
    ) -> Result<UpstreamConfigSaved, SaveError> {
        let url = config_write::check_url(&update.url).map_err(SaveError::InvalidUrl)?;
        let token = TokenChange::from_request(update.token);
        let _one_at_a_time = self.saving.lock().await;
        let daemon = self.daemon();
        let path = daemon.config_file.clone().ok_or_else(|| {
            SaveError::File(
                "There is no home directory to keep config.toml in; set EXAI_WS_URL instead."
                    .to_owned(),
            )
        })?;
        let (save_path, save_url, save_token) = (path.clone(), url.clone(), token.clone());
        tokio::task::spawn_blocking(move || config_write::save(&save_path, &save_url, &save_token))
            .await
            .map_err(|err| SaveError::File(format!("The save did not finish: {err}.")))??;
        let config = self.switch.config();
        let now = config_write::Effective {
            url: config.url.clone(),
            url_source: daemon.url_source,
            token: config.token.clone(),
            token_source: daemon.token_source,
        };
        let (next, notes) = config_write::after_save(&now, &url, &token);
        {
            let mut settings = self
                .daemon
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            settings.url_source = next.url_source;
            settings.token_source = next.token_source;
            settings.configured |= next.url_source != ConfigSource::Default;
        }
        tracing::info!(path = %path.display(), url = %url, token_set = next.token.is_some(), "daemon settings saved");
        self.switch.replace(config::ExaiConfig {
            url: next.url.clone(),
            token: next.token,
            ..config
        });
        let mut message = format!(
            "Saved to {}. The hub is connecting to {}.",
            path.display(),
            next.url
        );
        for note in notes {
            message.push(' ');
            message.push_str(&note);
        }
        Ok(UpstreamConfigSaved {
            path: path.display().to_string(),
            message,
            config: self.upstream_config(),
        })
    }

    /// Tries a daemon once (connect, hello, `hello_ack`; at most
    /// [`config_write::TEST_TIMEOUT`]) with the given token, or the one in effect.
    pub async fn test_upstream(&self, test: UpstreamTest) -> UpstreamTestResult {
        let mut config = self.switch.config();
        config.url = test.url.trim().to_owned();
        if let Some(token) = test.token.filter(|token| !token.expose().trim().is_empty()) {
            config.token = Some(config::Secret::new(token.expose().trim()));
        }
        config_write::test(&config).await
    }

    /// Events from now on. Take a [`HubHandle::snapshot`] after subscribing to start from.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            events: self.events.subscribe(),
        }
    }

    /// The recent requests of a session, oldest first (at most 100); `None` for an unknown id.
    pub async fn session_requests(
        &self,
        id: SessionId,
    ) -> anyhow::Result<Option<Vec<RequestRecord>>> {
        let (reply, answer) = oneshot::channel();
        self.ctx
            .registry
            .send(RegistryMsg::Requests { id, reply })
            .map_err(|_| anyhow::anyhow!("the hub has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the hub has stopped"))
    }

    /// The recent log records (empty when the embedder gave no ring).
    pub fn logs(&self) -> Vec<LogRecord> {
        self.logs.as_ref().map(LogRing::records).unwrap_or_default()
    }

    /// Reconnects the upstream now, skipping any backoff.
    pub fn reconnect_upstream(&self) {
        self.ctx.upstream.reconnect();
    }

    /// Restarts a wrapped server's instance ([`api::ServerStatus::id`]) now, as the dashboard's
    /// Restart button asks: its requests in flight fail with an error naming the server, the
    /// process is started again at once (no backoff; a server in crash-loop gets a fresh start)
    /// and the windows using it keep working. `false` when there is no such instance.
    pub fn restart_server(&self, id: u64) -> bool {
        self.ctx.servers.restart(id)
    }

    /// Removes a lost session from view.
    pub fn dismiss(&self, id: SessionId) {
        let _ = self.ctx.registry.send(RegistryMsg::Dismiss { id });
    }

    /// Stops the hub: shims are told, [`HubTask::run`] returns.
    pub fn shutdown(&self) {
        self.ctx.shutdown.cancel();
    }

    /// Resolves once the hub is stopping, whoever asked ([`HubHandle::shutdown`], or a control
    /// client's stop request): an embedder exits with its hub.
    pub async fn stopping(&self) {
        self.ctx.shutdown.cancelled().await;
    }

    /// Serves one in-memory connection, as if a shim had connected over the endpoint.
    ///
    /// Use this for testing: the returned stream speaks the `exai-proto` frames.
    pub fn connect_memory(&self) -> tokio::io::DuplexStream {
        let (client, server) = tokio::io::duplex(1 << 16);
        let peer = Peer {
            pid: Some(std::process::id()),
            uid: None,
            same_user: true,
        };
        tokio::spawn(session::serve(server, peer, self.ctx.clone()));
        client
    }

    /// The upstream, for embedders that show more than the status.
    pub fn upstream(&self) -> Arc<dyn Upstream> {
        self.ctx.upstream.clone()
    }
}

/// A stream of [`HubEvent`]s.
pub struct Subscription {
    events: broadcast::Receiver<HubEvent>,
}

impl Subscription {
    /// The next event; `None` once the hub has stopped. A subscriber that fell behind gets
    /// [`HubEvent::Lagged`] and should take a fresh snapshot.
    pub async fn next(&mut self) -> Option<HubEvent> {
        match self.events.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(HubEvent::Lagged { missed }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}
