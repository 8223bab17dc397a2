//! The test-facing handle: start, crash, restart and observe a fake daemon.
//!
//! [`TestDaemon`] owns the accept loop and, through the shared state, every connection and tool
//! task. Its hooks are deterministic so tests never sleep: `stop`, `restart` and
//! `drop_connections` return only once the change is in effect, and `wait_until` and
//! `wait_gate_started` are driven by watch channels, not polling.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::state::{Shared, lock};
use crate::{DaemonConfig, DaemonStats, ToolSpec};

/// A fake EXAI daemon on `127.0.0.1`. Dropping it stops the listener and every task.
pub struct TestDaemon {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept_task: Mutex<Option<JoinHandle<()>>>,
}

impl TestDaemon {
    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start(config: DaemonConfig) -> anyhow::Result<TestDaemon> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("failed to bind the fake daemon to 127.0.0.1:0")?;
        let addr = listener
            .local_addr()
            .context("failed to read the fake daemon's address")?;
        let shared = Arc::new(Shared::new(config));
        let accept_task = tokio::spawn(accept_loop(shared.clone(), listener));
        tracing::debug!(%addr, "fake daemon listening");
        Ok(TestDaemon {
            shared,
            addr,
            accept_task: Mutex::new(Some(accept_task)),
        })
    }

    /// `ws://127.0.0.1:PORT`, the URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The listening address; it stays the same across `stop` and `restart`.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Simulates a crash: closes the listener (connects are refused) and drops every connection
    /// abruptly, without a close frame. Returns once both are done. Tool runs, the in-flight
    /// table and the cache survive, so `restart` brings back the same daemon.
    pub async fn stop(&self) {
        let accept_task = lock(&self.accept_task).take();
        if let Some(accept_task) = accept_task {
            accept_task.abort();
            // Awaiting the aborted task guarantees the listener has been dropped.
            let _ = accept_task.await;
        }
        self.shared.abort_connections().await;
        tracing::debug!(addr = %self.addr, "fake daemon stopped");
    }

    /// Listens again on the same port after `stop`. Does nothing if already listening.
    pub async fn restart(&self) -> anyhow::Result<()> {
        if lock(&self.accept_task).is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr)
            .await
            .with_context(|| format!("failed to rebind the fake daemon to {}", self.addr))?;
        let accept_task = tokio::spawn(accept_loop(self.shared.clone(), listener));
        let mut slot = lock(&self.accept_task);
        if slot.is_some() {
            // A concurrent restart won; ours must not leak a second listener task.
            accept_task.abort();
        } else {
            *slot = Some(accept_task);
        }
        tracing::debug!(addr = %self.addr, "fake daemon restarted");
        Ok(())
    }

    /// Drops every live connection abruptly (no close frame) and keeps listening. Returns once
    /// the sockets are closed.
    pub async fn drop_connections(&self) {
        self.shared.abort_connections().await;
    }

    /// Replaces the advertised tools; later `list_tools` and calls see the new set.
    pub fn set_tools(&self, tools: Vec<ToolSpec>) {
        self.shared.set_tools(tools);
    }

    /// Changes the token checked by later hellos (`None` or under 16 chars: auth off).
    pub fn set_token(&self, token: Option<String>) {
        self.shared.set_token(token);
    }

    /// Lets every running and future `gate` call with this key finish.
    pub fn open_gate(&self, key: &str) {
        self.shared.gate(key).send_modify(|gate| gate.open = true);
    }

    /// Resolves once a `gate` call with this key has started running (now or earlier).
    pub async fn wait_gate_started(&self, key: &str) {
        let mut gate = self.shared.gate(key).subscribe();
        // The sender lives in the shared gate map as long as the daemon, so this cannot close.
        let _ = gate.wait_for(|gate| gate.started > 0).await;
    }

    /// A snapshot of the stats.
    pub fn stats(&self) -> DaemonStats {
        self.shared.stats()
    }

    /// Resolves when `pred` holds for the stats; re-checked on every change, never polled.
    /// Wrap it in `tokio::time::timeout` as a failure guard.
    pub async fn wait_until(&self, pred: impl Fn(&DaemonStats) -> bool) {
        let mut stats = self.shared.subscribe_stats();
        let _ = stats.wait_for(|stats| pred(stats)).await;
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(accept_task) = lock(&self.accept_task).take() {
            accept_task.abort();
        }
        self.shared.shutdown();
    }
}

impl std::fmt::Debug for TestDaemon {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TestDaemon")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Accepts connections until aborted; each one is served in its own task.
async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                let task_shared = shared.clone();
                shared.spawn_connection(crate::session::serve(task_shared, tcp, peer));
            }
            Err(error) => {
                // Usually out of file descriptors: back off briefly instead of spinning.
                tracing::warn!(error = %error, "fake daemon: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
