//! A window that stands for the EXAI daemon: the hub is its MCP server.
//!
//! [`run`] serves the window until it leaves. The [`Session`] task owns the window's state (its
//! negotiated version, whether it did the handshake, the requests in flight) and reads its lines
//! through `exai_proto::jsonrpc`: every request and every invalid line is answered exactly once,
//! notifications and responses never. `initialize`, `server/discover` and `ping` are answered
//! here; `tools/list` and `tools/call` in [`super::tools`], whose calls run as
//! [`super::call::CallTask`]s and send their lines back through [`Out`].

use super::record::request_record;
use super::{
    Conn, FromShim, SessionCtx, from_shim, say_shutdown, send_line, send_parts, write_failed,
};
use crate::api::ClientInfo;
use crate::mcp;
use crate::registry::RegistryMsg;
use crate::upstream::ToolCatalog;
use bytes::Bytes;
use exai_proto::jsonrpc::{ErrorCode, Id, Message, Notification};
use exai_proto::{Frame, SessionId};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// What request tasks send back to the session task.
pub(super) enum Out {
    Line(Bytes),
    /// One line in parts (a tool result: see [`crate::mcp::call_tool_response_parts`]).
    Parts(Vec<Bytes>),
    Done {
        id: Id,
        key: u64,
    },
}

/// A `tools/call` in flight: how to cancel it, and which call of that id it is.
pub(super) struct InFlight {
    pub(super) cancel: CancellationToken,
    pub(super) key: u64,
}

/// One daemon window's MCP server.
pub(super) struct Session {
    pub(super) id: SessionId,
    pub(super) ctx: Arc<SessionCtx>,
    pub(super) out_tx: mpsc::UnboundedSender<Out>,
    pub(super) in_flight: HashMap<Id, InFlight>,
    pub(super) next_key: u64,
    /// The editor completed the handshake-era `initialize`.
    pub(super) initialized: bool,
    /// The window's version: negotiated by `initialize`, else the last one a request's `_meta`
    /// named. Requests without `_meta` are answered in it.
    version: Option<mcp::Version>,
    pub(super) tools: watch::Receiver<Option<Arc<ToolCatalog>>>,
    /// Serialized `tools` array for the catalog generation it was made from.
    pub(super) tools_json: Option<(u64, Arc<str>)>,
    /// The catalog generation this window last saw (to send `list_changed` once per change).
    pub(super) seen_generation: Option<u64>,
}

/// Serves a daemon window until it leaves: `Ok` for a goodbye or a hub shutdown, else why it is
/// lost. `replay` is the editor's `initialize` a resuming shim replayed in its hello.
pub(super) async fn run<S>(
    conn: &mut Conn<S>,
    id: SessionId,
    replay: Option<String>,
    ctx: Arc<SessionCtx>,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tracing::info!("session connected");
    ctx.upstream.window_opened();
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let tools = ctx.upstream.tools();
    let mut session = Session {
        id,
        ctx,
        out_tx,
        in_flight: HashMap::new(),
        next_key: 0,
        initialized: false,
        version: None,
        tools,
        tools_json: None,
        seen_generation: None,
    };
    if let Some(line) = replay {
        // The shim replays the editor's `initialize` after a hub restart; nobody reads the answer.
        session.replay_initialize(line.as_bytes());
    }
    let result = session.run(conn, out_rx).await;
    session.ctx.upstream.window_closed();
    for (_, request) in session.in_flight.drain() {
        request.cancel.cancel();
    }
    result
}

impl Session {
    /// Runs the session: `Ok` when it ended cleanly (goodbye or hub shutdown), else why the
    /// window is lost, in words.
    async fn run<S>(
        &mut self,
        conn: &mut Conn<S>,
        mut out_rx: mpsc::UnboundedReceiver<Out>,
    ) -> Result<(), String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let shutdown = self.ctx.shutdown.clone();
        let mut tools_open = true;
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    say_shutdown(conn).await;
                    return Ok(());
                }
                Some(out) = out_rx.recv() => match out {
                    Out::Line(line) => {
                        if let Err(err) = send_line(conn, line).await {
                            tracing::debug!(error = %err, "write to shim failed");
                            return Err(write_failed(&err));
                        }
                    }
                    Out::Parts(parts) => {
                        if let Err(err) = send_parts(conn, parts).await {
                            tracing::debug!(error = %err, "write to shim failed");
                            return Err(write_failed(&err));
                        }
                    }
                    Out::Done { id, key } => {
                        // The editor may have reused the id after cancelling: remove only ours.
                        if self.in_flight.get(&id).is_some_and(|request| request.key == key) {
                            self.in_flight.remove(&id);
                        }
                    }
                },
                frame = conn.next() => match from_shim(frame) {
                    FromShim::Line(line) => {
                        if let Some(reply) = self.handle_line(&line)
                            && let Err(err) = conn.send(Frame::Line(reply)).await
                        {
                            return Err(write_failed(&err));
                        }
                    }
                    FromShim::Nothing => {}
                    FromShim::End(end) => return end,
                },
                changed = self.tools.changed(), if tools_open => {
                    if changed.is_err() {
                        // The upstream is gone (hub stopping); the shutdown branch follows.
                        tools_open = false;
                        continue;
                    }
                    if let Some(line) = self.tools_changed()
                        && let Err(err) = conn.send(Frame::Line(line)).await
                    {
                        return Err(write_failed(&err));
                    }
                }
            }
        }
    }

    fn replay_initialize(&mut self, line: &[u8]) {
        if let Message::Request(request) = Message::parse(line)
            && request.method == "initialize"
        {
            if let Ok(version) = self.initialize(request.params.map(|raw| raw.get())) {
                self.version = Some(version);
            }
            self.initialized = true;
        }
    }

    /// Handles one line from the editor; returns an immediate answer, if any.
    ///
    /// Every request and every invalid line is answered exactly once (here, or by the task it
    /// starts); notifications and responses never are.
    fn handle_line(&mut self, line: &[u8]) -> Option<Bytes> {
        let request = match Message::parse(line) {
            Message::Request(request) => request,
            Message::Notification(notification) => {
                self.notification(&notification);
                return None;
            }
            Message::Response(_) => {
                // A response to a server-to-client request; the hub sends none.
                tracing::debug!("ignored a response from the editor");
                return None;
            }
            Message::Batch => {
                return Some(exai_proto::jsonrpc::error_line(
                    None,
                    ErrorCode::InvalidRequest,
                    "JSON-RPC batches are not supported by the EXAI hub: send one message per line",
                ));
            }
            Message::Invalid(invalid) => {
                tracing::debug!(reason = %invalid.reason, "answered an invalid line");
                return Some(invalid.error_line());
            }
        };
        let id = request.id;
        let method = &*request.method;
        let params = request.params.map(|raw| raw.get());
        let meta = params
            .and_then(|params| serde_json::from_str::<mcp::AnyParams<'_>>(params).ok())
            .and_then(|params| params.meta)
            .unwrap_or_default();
        let version = match mcp::request_version(&meta, self.version) {
            Ok(version) => version,
            Err(requested) => {
                let reply = mcp::unsupported_version_response(id, requested);
                let reason = format!("unsupported protocol version {requested:?}");
                self.finished(method, None, Instant::now(), Some(reason));
                return Some(reply);
            }
        };
        if meta.protocol_version.is_some() && !self.initialized {
            self.version = Some(version);
            self.identify_stateless(&meta);
        }
        let started = Instant::now();
        let answer = match method {
            "initialize" => self.initialize(params).map(|negotiated| {
                // The window's version from now on, whatever `_meta` said before.
                self.version = Some(negotiated);
                mcp::initialize_response(id, negotiated)
            }),
            "server/discover" => Ok(mcp::discover_response(id)),
            "ping" => Ok(mcp::empty_response(id, version)),
            "tools/list" => return self.tools_list(id, version, started),
            "tools/call" => return self.tools_call(id, params, version),
            other => Err((
                ErrorCode::MethodNotFound,
                format!("method not found: {other} (the EXAI hub serves tools only)"),
            )),
        };
        let (reply, error) = match answer {
            Ok(reply) => (reply, None),
            Err((code, message)) => (mcp::error_response(id, code, &message), Some(message)),
        };
        self.finished(method, None, started, error);
        Some(reply)
    }

    fn notification(&mut self, notification: &Notification<'_>) {
        match &*notification.method {
            "notifications/initialized" => {
                self.initialized = true;
                // From now on this window hears about catalog changes.
                self.seen_generation = self.tools.borrow().as_ref().map(|tools| tools.generation);
            }
            exai_proto::jsonrpc::CANCELLED => {
                let request_id = notification.cancelled_id();
                match request_id.and_then(|id| self.in_flight.remove(id.as_str())) {
                    Some(request) => request.cancel.cancel(),
                    None => tracing::debug!("cancellation for a request not in flight"),
                }
            }
            other => tracing::debug!(method = other, "ignored notification"),
        }
    }

    /// Reads `initialize`, tells the registry who the window is; returns the negotiated version.
    fn initialize(&mut self, params: Option<&str>) -> Result<mcp::Version, (ErrorCode, String)> {
        let params = params
            .ok_or_else(|| "initialize needs params".to_owned())
            .and_then(|params| {
                serde_json::from_str::<mcp::InitializeParams>(params)
                    .map_err(|err| format!("invalid initialize params: {err}"))
            })
            .map_err(|reason| (ErrorCode::InvalidParams, reason))?;
        let version = mcp::negotiate(&params.protocol_version);
        let client = params.client_info.map(|info| ClientInfo {
            name: info.name,
            version: info.version,
        });
        let _ = self.ctx.registry.send(RegistryMsg::Identified {
            id: self.id,
            client,
            protocol_version: Some(version.as_str().to_owned()),
        });
        Ok(version)
    }

    fn identify_stateless(&mut self, meta: &mcp::Meta<'_>) {
        if self.initialized {
            return;
        }
        let client = meta.client_info.as_ref().map(|info| ClientInfo {
            name: info.name.clone(),
            version: info.version.clone(),
        });
        let _ = self.ctx.registry.send(RegistryMsg::Identified {
            id: self.id,
            client,
            protocol_version: meta.protocol_version.clone(),
        });
    }

    pub(super) fn finished(
        &self,
        method: &str,
        tool: Option<String>,
        started: Instant,
        error: Option<String>,
    ) {
        let ok = error.is_none();
        let record = request_record(self.id, method, tool, started, ok, error, false);
        let _ = self.ctx.registry.send(RegistryMsg::Finished {
            key: u64::MAX,
            record,
        });
    }
}
