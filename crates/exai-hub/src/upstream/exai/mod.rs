//! The EXAI daemon upstream: a pool of WebSocket connections to the daemon.
//!
//! [`ExaiUpstream::new`] returns a cheap, cloneable handle and the pool's driver future, which the
//! embedder spawns. Inside, one manager task (`pool`) owns all pool state (fair queue, slots,
//! backoff, catalog) and one task per pooled socket (`conn`) owns that socket. The daemon handles
//! each connection strictly serially and sends errors without ids, so a connection carries at most
//! one outstanding request; parallel calls need several connections.
//! See `exai-daemon-protocol.md` for the daemon's behaviour this module defends against.
//!
//! The token appears only in the hello frame (`wire`, sent by `dial`); never in a log line, an
//! error or the status.
//! Turn on `EXAI_LOG=exai_hub::upstream=debug` to see every request id and dropped frame.

mod conn;
mod dial;
mod frames;
mod pace;
mod pool;
mod queue;
mod scan;
mod wire;

pub(crate) use dial::{DialFailure, probe};

use crate::api::UpstreamStatus;
use crate::config::ExaiConfig;
use crate::upstream::{CallFuture, ToolCall, ToolCatalog, Upstream, UpstreamError};
use conn::CallJob;
use pool::{Command, Pool};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, timeout_at};
use tracing::Instrument as _;

/// A handle to the pooled EXAI daemon upstream. Cheap to clone.
///
/// The pool's driver future (from [`ExaiUpstream::new`]) ends when every handle is dropped or on
/// [`ExaiUpstream::shutdown`].
#[derive(Debug, Clone)]
pub struct ExaiUpstream {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<UpstreamStatus>,
    tools: watch::Receiver<Option<Arc<ToolCatalog>>>,
    url: Arc<str>,
    call_timeout: Duration,
}

impl ExaiUpstream {
    /// Creates the upstream and its driver future; spawn the future on the embedder's runtime.
    ///
    /// Nothing connects until the future runs.
    pub fn new(config: ExaiConfig) -> (ExaiUpstream, impl Future<Output = ()> + Send + 'static) {
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (status_tx, status_rx) = watch::channel(Pool::initial_status(&config));
        let (tools_tx, tools_rx) = watch::channel(None);
        let url: Arc<str> = Arc::from(config.url.as_str());
        let call_timeout = config.call_timeout;
        let pool = Pool::new(config, status_tx, tools_tx, events_tx);
        let driver = pool
            .run(commands_rx, events_rx)
            .instrument(tracing::info_span!("hub::upstream"));
        let upstream = ExaiUpstream {
            commands: commands_tx,
            status: status_rx,
            tools: tools_rx,
            url,
            call_timeout,
        };
        (upstream, driver)
    }

    /// Stops the pool: queued calls fail, connections close, the driver future ends.
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }
}

impl Upstream for ExaiUpstream {
    fn call_tool(&self, call: ToolCall) -> CallFuture {
        let (reply, result) = oneshot::channel();
        // The deadline starts when the window asked: time in the queue, held back by the rate
        // limit or waiting for a reconnect counts too, so every call is answered in time.
        let now = Instant::now();
        let deadline = now + self.call_timeout;
        let sent = self.commands.send(Command::Call(CallJob {
            call,
            reply,
            deadline,
            queued_at: now,
            rate_limited: Duration::ZERO,
        }));
        let url = self.url.to_string();
        let after = self.call_timeout;
        Box::pin(async move {
            if sent.is_err() {
                return Err(UpstreamError::Unavailable {
                    url,
                    cause: "the upstream was shut down".to_owned(),
                });
            }
            // A running call is failed by its connection at the deadline (which then replaces
            // the connection); this also covers a call that never left the queue. Dropping
            // `result` makes the pool skip a queued call.
            match timeout_at(deadline, result).await {
                Ok(answer) => answer.unwrap_or_else(|_| {
                    Err(UpstreamError::ConnectionLost {
                        cause: "the upstream stopped before the call finished".to_owned(),
                    })
                }),
                Err(_elapsed) => Err(UpstreamError::Timeout { after }),
            }
        })
    }

    fn tools(&self) -> watch::Receiver<Option<Arc<ToolCatalog>>> {
        self.tools.clone()
    }

    fn status(&self) -> watch::Receiver<UpstreamStatus> {
        self.status.clone()
    }

    fn reconnect(&self) {
        let _ = self.commands.send(Command::Reconnect);
    }

    fn window_opened(&self) {
        let _ = self.commands.send(Command::WindowOpened);
    }

    fn window_closed(&self) {
        let _ = self.commands.send(Command::WindowClosed);
    }
}
