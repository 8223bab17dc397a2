//! One connection from a shim (an editor window) or a control client.
//!
//! Generic over `AsyncRead + AsyncWrite`, so tests drive it over `tokio::io::duplex` and the hub
//! over the local socket or pipe alike. The session task owns the connection's writer and the map
//! of requests in flight; tool calls run in tasks of their own and send their lines back through
//! a channel, so one slow tool never blocks the window's other requests.

use crate::api::{ARGUMENTS_SHOWN, ClientInfo, RequestRecord};
use crate::mcp;
use crate::now_millis;
use crate::registry::RegistryMsg;
use crate::upstream::{Progress, ToolCall, ToolCatalog, Upstream, UpstreamError};
use bytes::Bytes;
use exai_proto::jsonrpc::{ErrorCode, Id, Message, Notification, RawId};
use exai_proto::{
    ClientMsg, DecodeError, Frame, FrameCodec, Hello, HubMsg, PROTOCOL_VERSION, Role, SessionId,
};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

mod wrapped;

/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `tools/list` waits for the first catalog while the upstream is still connecting.
const FIRST_CATALOG_WAIT: Duration = Duration::from_secs(10);

/// What a session needs from the hub.
pub(crate) struct SessionCtx {
    pub(crate) registry: mpsc::UnboundedSender<RegistryMsg>,
    pub(crate) upstream: Arc<dyn Upstream>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) max_frame_len: usize,
    /// Wrapped MCP servers, for windows that stand for one.
    pub(crate) servers: crate::servers::Servers,
}

/// Who is on the other end, as the operating system says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer {
    pub(crate) pid: Option<u32>,
    pub(crate) uid: Option<u32>,
    pub(crate) same_user: bool,
}

type Conn<S> = Framed<S, FrameCodec>;

/// Lines of at least this size go to the shim from their own buffer (see [`send_line`]).
const DIRECT_WRITE_MIN: usize = 64 * 1024;

/// Sends one line to the shim. A large one (a big tool result) is written to the socket
/// straight from its buffer, after what the codec already holds, rather than copied into the
/// codec's write buffer: one copy fewer, and no connection keeps megabytes of write buffer after
/// one large answer.
pub(crate) async fn send_line<S>(conn: &mut Conn<S>, line: Bytes) -> Result<(), DecodeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt as _;
    if line.len() < DIRECT_WRITE_MIN {
        return conn.send(Frame::Line(line)).await;
    }
    let header = conn.codec().line_header(line.len())?;
    SinkExt::<Frame>::flush(conn).await?;
    let io = conn.get_mut();
    io.write_all(&header).await?;
    io.write_all(&line).await?;
    io.flush().await?;
    Ok(())
}

/// Serves one connection to its end.
pub(crate) async fn serve<S>(stream: S, peer: Peer, ctx: Arc<SessionCtx>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    // Until the hello is accepted, a peer gets no more than a small frame's worth of memory.
    let mut codec = FrameCodec::default();
    codec.set_decode_limit(exai_proto::MAX_HELLO_FRAME_LEN.min(ctx.max_frame_len));
    let mut conn = Framed::new(stream, codec);
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, conn.next()).await {
        Ok(Some(Ok(Frame::Control(payload)))) => Frame::decode_control::<ClientMsg>(&payload),
        Ok(Some(Ok(_))) => Err(exai_proto::DecodeError::BadControl(
            "the first frame must be a hello".to_owned(),
        )),
        Ok(Some(Err(err))) => Err(err),
        Ok(None) => return,
        Err(_) => {
            tracing::debug!("connection closed: no hello within {HELLO_TIMEOUT:?}");
            return;
        }
    };
    let hello = match hello {
        Ok(ClientMsg::Hello(hello)) => hello,
        Ok(_) => return reject(conn, "the first message must be a hello".to_owned()).await,
        Err(err) => return reject(conn, format!("bad hello: {err}")).await,
    };
    if let Err(reason) = hello.check_limits() {
        return reject(conn, reason).await;
    }
    if hello.protocol_version != PROTOCOL_VERSION {
        let reason = format!(
            "protocol version mismatch: the client speaks v{}, this hub speaks v{PROTOCOL_VERSION}; \
             install matching versions of exai-shim and the hub",
            hello.protocol_version
        );
        return reject(conn, reason).await;
    }
    if !peer.same_user {
        tracing::warn!(
            peer_uid = ?peer.uid,
            peer_pid = ?peer.pid,
            "refused a connection from another user"
        );
        let reason = "connection refused: the EXAI hub serves only the user who started it".into();
        return reject(conn, reason).await;
    }
    match hello.role {
        Role::Control => {
            // A control client only ever sends small questions.
            conn.codec_mut()
                .set_decode_limit(exai_proto::MAX_CONTROL_FRAME_LEN.min(ctx.max_frame_len));
            control(conn, ctx).await
        }
        Role::Shim => {
            // Known now: a shim may send lines as large as MCP messages get.
            conn.codec_mut().set_decode_limit(ctx.max_frame_len);
            shim(conn, hello, peer, ctx).await
        }
    }
}

async fn reject<S>(mut conn: Conn<S>, reason: String)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tracing::info!(reason = %reason, "rejected a connection");
    let _ = conn
        .send(Frame::control(&HubMsg::Rejected { reason }))
        .await;
}

/// A control client (`exai status`): answers questions until it hangs up.
async fn control<S>(mut conn: Conn<S>, ctx: Arc<SessionCtx>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let welcome = HubMsg::Welcome {
        session_id: SessionId(0),
        hub_version: env!("CARGO_PKG_VERSION").to_owned(),
        resume_secret: None,
    };
    if conn.send(Frame::control(&welcome)).await.is_err() {
        return;
    }
    while let Some(Ok(frame)) = conn.next().await {
        let Frame::Control(payload) = frame else {
            continue;
        };
        let answer = match Frame::decode_control::<ClientMsg>(&payload) {
            Ok(ClientMsg::StatusRequest) => {
                let (reply, answer) = oneshot::channel();
                if ctx.registry.send(RegistryMsg::Snapshot { reply }).is_err() {
                    return;
                }
                let Ok(mut snapshot) = answer.await else {
                    return;
                };
                snapshot.servers = ctx.servers.statuses();
                let Ok(raw) = serde_json::to_value(&snapshot) else {
                    return;
                };
                HubMsg::Status { snapshot: raw }
            }
            Ok(ClientMsg::Focus { session }) => {
                if ctx.registry.send(RegistryMsg::Focus { session }).is_err() {
                    return;
                }
                HubMsg::Focused
            }
            Ok(ClientMsg::Stop) => {
                tracing::info!("stop requested by a control client");
                let _ = conn.send(Frame::control(&HubMsg::Stopping)).await;
                ctx.shutdown.cancel();
                return;
            }
            _ => continue,
        };
        if conn.send(Frame::control(&answer)).await.is_err() {
            return;
        }
    }
}

/// Why a window is lost when its shim's connection just ended.
const WENT_AWAY: &str = "its shim went away without a goodbye (the editor window, the editor or \
    the shim quit, crashed or was killed)";

fn write_failed(err: &dyn std::fmt::Display) -> String {
    format!("the hub could not write to its shim ({err}): the shim or its editor went away")
}

/// What request tasks send back to the session task.
enum Out {
    Line(Bytes),
    Done { id: Id, key: u64 },
}

struct InFlight {
    cancel: CancellationToken,
    key: u64,
}

struct Session {
    id: SessionId,
    ctx: Arc<SessionCtx>,
    out_tx: mpsc::UnboundedSender<Out>,
    in_flight: HashMap<Id, InFlight>,
    next_key: u64,
    /// The editor completed the handshake-era `initialize`.
    initialized: bool,
    /// The window's version: negotiated by `initialize`, else the last one a request's `_meta`
    /// named. Requests without `_meta` are answered in it.
    version: Option<mcp::Version>,
    tools: watch::Receiver<Option<Arc<ToolCatalog>>>,
    /// Serialized `tools` array for the catalog generation it was made from.
    tools_json: Option<(u64, Arc<str>)>,
    /// The catalog generation this window last saw (to send `list_changed` once per change).
    seen_generation: Option<u64>,
}

async fn shim<S>(mut conn: Conn<S>, hello: Hello, peer: Peer, ctx: Arc<SessionCtx>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let replay = hello
        .resume
        .as_ref()
        .and_then(|resume| resume.initialize.clone());
    let server = hello.server.clone();
    let (reply, answer) = oneshot::channel();
    let register = RegistryMsg::Register {
        hello,
        peer_pid: peer.pid,
        reply,
    };
    if ctx.registry.send(register).is_err() {
        return;
    }
    let Ok((id, secret)) = answer.await else {
        return;
    };
    let span = tracing::info_span!("session", session = %id);
    async move {
        let welcome = HubMsg::Welcome {
            session_id: id,
            hub_version: env!("CARGO_PKG_VERSION").to_owned(),
            resume_secret: Some(secret),
        };
        if let Err(err) = conn.send(Frame::control(&welcome)).await {
            let lost = Some(format!(
                "the hub could not send its welcome to the shim ({err})"
            ));
            let _ = ctx.registry.send(RegistryMsg::Disconnected { id, lost });
            return;
        }
        if let Some(spec) = server {
            let lost = wrapped::run(&mut conn, id, &spec, replay, &ctx).await.err();
            let _ = ctx.registry.send(RegistryMsg::Disconnected { id, lost });
            return;
        }
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
        let lost = session.run(&mut conn, out_rx).await.err();
        session.ctx.upstream.window_closed();
        for (_, request) in session.in_flight.drain() {
            request.cancel.cancel();
        }
        let _ = session
            .ctx
            .registry
            .send(RegistryMsg::Disconnected { id, lost });
    }
    .instrument(span)
    .await;
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
                    let reason = "the EXAI hub is shutting down".to_owned();
                    let _ = conn.send(Frame::control(&HubMsg::Shutdown { reason })).await;
                    return Ok(());
                }
                Some(out) = out_rx.recv() => match out {
                    Out::Line(line) => {
                        if let Err(err) = send_line(conn, line).await {
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
                frame = conn.next() => match frame {
                    Some(Ok(Frame::Line(line))) => {
                        if let Some(reply) = self.handle_line(&line)
                            && let Err(err) = conn.send(Frame::Line(reply)).await
                        {
                            return Err(write_failed(&err));
                        }
                    }
                    Some(Ok(Frame::Control(payload))) if payload.len() > exai_proto::MAX_CONTROL_FRAME_LEN => {
                        tracing::warn!(len = payload.len(), max = exai_proto::MAX_CONTROL_FRAME_LEN, "control frame over the limit from shim; dropping the connection");
                        return Err(format!("its shim sent a control message of {} bytes, over the {} byte limit, and the hub dropped it", payload.len(), exai_proto::MAX_CONTROL_FRAME_LEN));
                    }
                    Some(Ok(Frame::Control(payload))) => {
                        match Frame::decode_control::<ClientMsg>(&payload) {
                            Ok(ClientMsg::Goodbye { reason }) => {
                                tracing::info!(reason = ?reason, "shim said goodbye");
                                return Ok(());
                            }
                            Ok(other) => tracing::debug!(message = ?other, "ignored control message"),
                            Err(err) => tracing::warn!(error = %err, "malformed control message"),
                        }
                    }
                    Some(Ok(Frame::Unknown { kind })) => {
                        tracing::debug!(kind, "skipped a frame of unknown kind");
                    }
                    Some(Err(err)) => {
                        tracing::warn!(error = %err, "bad frame from shim; dropping the connection");
                        return Err(format!("the hub could not read its shim ({err}) and dropped the connection"));
                    }
                    None => return Err(WENT_AWAY.to_owned()),
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

    fn tools_changed(&mut self) -> Option<Bytes> {
        let generation = self.tools.borrow_and_update().as_ref()?.generation;
        let previous = self.seen_generation.replace(generation);
        // Only windows that did the handshake take unsolicited notifications: in 2026-07-28 they
        // travel on a `subscriptions/listen` stream only, which the hub does not offer.
        (self.initialized && previous.is_some_and(|seen| seen != generation))
            .then(mcp::tools_list_changed)
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

    fn finished(
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

    fn tools_list(
        &mut self,
        id: RawId<'_>,
        version: mcp::Version,
        started: Instant,
    ) -> Option<Bytes> {
        let catalog = self.tools.borrow().clone();
        if let Some(catalog) = catalog {
            let json = self.tools_json(&catalog);
            self.finished("tools/list", None, started, None);
            return Some(mcp::tools_list_response(id, version, &json));
        }
        // No catalog yet: wait for the first one while the upstream is still connecting, or fail
        // at once with the upstream's own words.
        let id = id.to_id();
        let mut tools = self.tools.clone();
        let status = self.ctx.upstream.status();
        let out = self.out_tx.clone();
        let registry = self.ctx.registry.clone();
        let session = self.id;
        let url = status.borrow().url.clone();
        tokio::spawn(
            async move {
                let waited = tokio::time::timeout(FIRST_CATALOG_WAIT, async {
                    let mut status = status;
                    loop {
                        if let Some(catalog) = tools.borrow_and_update().clone() {
                            return Ok(catalog);
                        }
                        let state = status.borrow_and_update().clone();
                        match state.state {
                            crate::api::UpstreamState::Connecting
                            | crate::api::UpstreamState::Connected => {}
                            crate::api::UpstreamState::Unauthorized => {
                                return Err(UpstreamError::Unauthorized { url: state.url });
                            }
                            crate::api::UpstreamState::Down => {
                                return Err(UpstreamError::Unavailable {
                                    url: state.url,
                                    cause: state
                                        .last_error
                                        .unwrap_or_else(|| "not connected".to_owned()),
                                });
                            }
                        }
                        tokio::select! {
                            _ = tools.changed() => {}
                            _ = status.changed() => {}
                        }
                    }
                })
                .await
                .unwrap_or_else(|_| {
                    Err(UpstreamError::Unavailable {
                        url,
                        cause: "no tool list within 10 s".to_owned(),
                    })
                });
                let (line, error) = match waited {
                    Ok(catalog) => {
                        let json = serialize_tools(&catalog);
                        (mcp::tools_list_response(id.as_raw(), version, &json), None)
                    }
                    Err(err) => (
                        mcp::error_response(
                            id.as_raw(),
                            ErrorCode::from_code(err.jsonrpc_code()),
                            &err.to_string(),
                        ),
                        Some(err.to_string()),
                    ),
                };
                let _ = out.send(Out::Line(line));
                let ok = error.is_none();
                let record = request_record(session, "tools/list", None, started, ok, error, false);
                let _ = registry.send(RegistryMsg::Finished {
                    key: u64::MAX,
                    record,
                });
            }
            .in_current_span(),
        );
        None
    }

    fn tools_json(&mut self, catalog: &ToolCatalog) -> Arc<str> {
        match &self.tools_json {
            Some((generation, json)) if *generation == catalog.generation => json.clone(),
            _ => {
                let json: Arc<str> = serialize_tools(catalog).into();
                self.tools_json = Some((catalog.generation, json.clone()));
                json
            }
        }
    }

    fn tools_call(
        &mut self,
        id: RawId<'_>,
        params: Option<&str>,
        version: mcp::Version,
    ) -> Option<Bytes> {
        let params = match params.map(serde_json::from_str::<mcp::CallParams<'_>>) {
            Some(Ok(params)) => params,
            Some(Err(err)) => {
                let message = format!("invalid tools/call params: {err}");
                return Some(mcp::error_response(id, ErrorCode::InvalidParams, &message));
            }
            None => {
                let message = "tools/call needs params with a tool name";
                return Some(mcp::error_response(id, ErrorCode::InvalidParams, message));
            }
        };
        if self.in_flight.contains_key(id.as_str()) {
            let message = format!("request id {id} is already in flight in this session");
            return Some(mcp::error_response(id, ErrorCode::InvalidRequest, &message));
        }
        self.next_key += 1;
        let key = self.next_key;
        let cancel = CancellationToken::new();
        let id = id.to_id();
        self.in_flight.insert(
            id.clone(),
            InFlight {
                cancel: cancel.clone(),
                key,
            },
        );
        let _ = self.ctx.registry.send(RegistryMsg::Started {
            id: self.id,
            key,
            label: format!("tools/call {}", params.name),
        });
        let progress_token = params
            .meta
            .as_ref()
            .and_then(|meta| meta.progress_token)
            .map(|token| token.get().to_owned());
        let call = CallTask {
            session: self.id,
            key,
            id,
            tool: params.name,
            arguments: params
                .arguments
                .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            progress_token,
            version,
            cancel,
            out: self.out_tx.clone(),
            registry: self.ctx.registry.clone(),
            upstream: self.ctx.upstream.clone(),
        };
        tokio::spawn(call.run().in_current_span());
        None
    }
}

/// How a request ended, for the registry and its watchers.
fn request_record(
    session: SessionId,
    method: &str,
    tool: Option<String>,
    started: Instant,
    ok: bool,
    error: Option<String>,
    cancelled: bool,
) -> RequestRecord {
    let elapsed = started.elapsed();
    RequestRecord {
        session,
        method: method.to_owned(),
        tool,
        started_at: now_millis().saturating_sub(elapsed.as_millis() as u64),
        duration_ms: elapsed.as_secs_f64() * 1000.0,
        ok,
        error,
        cancelled,
        rate_limited_ms: 0,
        arguments: None,
        from_cache: false,
    }
}

/// A call's arguments as the request record keeps them: compact JSON, at most
/// [`ARGUMENTS_SHOWN`] bytes (cut at a character boundary, ending in `…`).
fn arguments_shown(arguments: &serde_json::Value) -> String {
    let mut text = arguments.to_string();
    if text.len() > ARGUMENTS_SHOWN {
        let mut end = ARGUMENTS_SHOWN - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

fn serialize_tools(catalog: &ToolCatalog) -> String {
    serde_json::to_string(&catalog.tools).unwrap_or_else(|_| "[]".to_owned())
}

/// One `tools/call` running in its own task.
struct CallTask {
    session: SessionId,
    key: u64,
    id: Id,
    tool: String,
    arguments: serde_json::Value,
    progress_token: Option<String>,
    /// The version the call's result and progress are shaped for.
    version: mcp::Version,
    cancel: CancellationToken,
    out: mpsc::UnboundedSender<Out>,
    registry: mpsc::UnboundedSender<RegistryMsg>,
    upstream: Arc<dyn Upstream>,
}

impl CallTask {
    async fn run(self) {
        let started = Instant::now();
        let (progress_tx, mut progress_rx) = match &self.progress_token {
            Some(_) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let arguments = arguments_shown(&self.arguments);
        let mut call = self.upstream.call_tool(ToolCall {
            session: self.session,
            name: self.tool.clone(),
            arguments: self.arguments,
            progress: progress_tx,
        });
        let mut progress_count = 0u64;
        let outcome = loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break None,
                Some(update) = recv_opt(&mut progress_rx) => {
                    progress_count += 1;
                    let message = match &update {
                        Progress::Working { message } => message,
                        Progress::Chunk { text } => text,
                    };
                    if let Some(token) = &self.progress_token {
                        let line = mcp::progress_notification(
                            self.version,
                            token,
                            progress_count,
                            message,
                        );
                        let _ = self.out.send(Out::Line(line));
                    }
                }
                result = &mut call => break Some(result),
            }
        };
        drop(call);
        let mut rate_limited = Duration::ZERO;
        let mut from_cache = false;
        let (ok, error, cancelled) = match outcome {
            None => {
                tracing::debug!(id = %self.id, tool = %self.tool, "call cancelled by the editor");
                (false, None, true)
            }
            Some(Ok(result)) => {
                rate_limited = result.rate_limited;
                from_cache = result.from_cache;
                let error = result.is_error.then(|| first_text(&result.content));
                let line = mcp::call_tool_response(
                    self.id.as_raw(),
                    self.version,
                    &result.content,
                    result.is_error,
                );
                // The content is in the line now: free it before the line is written out.
                drop(result.content);
                let _ = self.out.send(Out::Line(line));
                (!result.is_error, error, false)
            }
            Some(Err(err)) => {
                let message = err.to_string();
                let code = ErrorCode::from_code(err.jsonrpc_code());
                let line = mcp::error_response(self.id.as_raw(), code, &message);
                let _ = self.out.send(Out::Line(line));
                (false, Some(message), false)
            }
        };
        let _ = self.out.send(Out::Done {
            id: self.id,
            key: self.key,
        });
        let tool = Some(self.tool);
        let mut record = request_record(
            self.session,
            "tools/call",
            tool,
            started,
            ok || cancelled,
            error,
            cancelled,
        );
        record.rate_limited_ms = rate_limited.as_millis() as u64;
        record.arguments = Some(arguments);
        record.from_cache = from_cache;
        let _ = self.registry.send(RegistryMsg::Finished {
            key: self.key,
            record,
        });
    }
}

async fn recv_opt(rx: &mut Option<mpsc::UnboundedReceiver<Progress>>) -> Option<Progress> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn first_text(content: &crate::upstream::Content) -> String {
    content
        .first_text()
        .map(|text| text.chars().take(500).collect())
        .unwrap_or_else(|| "tool reported an error".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_kept_short_and_whole_characters() {
        let small = serde_json::json!({"text": "hi"});
        assert_eq!(arguments_shown(&small), r#"{"text":"hi"}"#);
        let big = serde_json::json!({"text": "日本".repeat(200)});
        let shown = arguments_shown(&big);
        assert!(shown.len() <= ARGUMENTS_SHOWN, "{}", shown.len());
        assert!(
            shown.starts_with(r#"{"text":"日本"#) && shown.ends_with('…'),
            "{shown}"
        );
    }
}
