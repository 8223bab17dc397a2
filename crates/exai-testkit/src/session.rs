//! One connection to the fake daemon: admission, reader, hello handshake and the serial loop.
//!
//! The reader keeps polling the socket at all times (so WebSocket pings are answered and a
//! vanished peer is noticed) and queues data frames. The session takes one queued frame, handles
//! it to completion, whole tool run included, and only then takes the next: the daemon's strict
//! serial handling. Tool calls themselves are handled in `calls`. Nothing here may panic or
//! unwrap on client input.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};

use crate::state::{Shared, timestamp};

/// How long the daemon waits for the peer's side of a close handshake before dropping it.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

type Ws = WebSocketStream<TcpStream>;

/// The write half of a connection, shared by the session, the reader and the pinger.
#[derive(Clone)]
pub(crate) struct Outbox {
    sink: Arc<Mutex<SplitSink<Ws, Message>>>,
    shared: Arc<Shared>,
}

/// The peer is gone; the session stops.
#[derive(Debug)]
pub(crate) struct PeerGone;

impl Outbox {
    pub async fn send_json(&self, frame: &Value) -> Result<(), PeerGone> {
        self.send(Message::text(frame.to_string())).await
    }

    async fn send(&self, message: Message) -> Result<(), PeerGone> {
        self.sink.lock().await.send(message).await.map_err(|error| {
            tracing::debug!(error = %error, "fake daemon: send failed");
            PeerGone
        })
    }

    /// Records and sends a close frame. The connection ends when the peer answers it.
    pub async fn close(&self, code: u16, reason: &str) {
        self.shared.record_close(code);
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = self.send(Message::Close(Some(frame))).await;
    }
}

/// An admitted connection's place in the limits and stats, released on drop (also on abort).
pub(crate) struct Admission {
    shared: Arc<Shared>,
    ip: IpAddr,
    session_id: Option<String>,
}

impl Admission {
    fn authenticate(&mut self, session_id: String) {
        self.shared.update(|stats| {
            stats.authenticated += 1;
            stats.hello_session_ids.push(session_id.clone());
        });
        self.session_id = Some(session_id);
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.shared.release(self.ip, self.session_id.as_deref());
    }
}

/// Serves one accepted TCP connection until it ends or its task is aborted.
pub(crate) async fn serve(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    let max_bytes = shared.config.max_message_bytes;
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(max_bytes))
        .max_frame_size(Some(max_bytes));
    let ws = match tokio_tungstenite::accept_async_with_config(tcp, Some(ws_config)).await {
        Ok(ws) => ws,
        Err(error) => {
            tracing::debug!(error = %error, %peer, "fake daemon: websocket handshake failed");
            return;
        }
    };
    let (sink, mut stream) = ws.split();
    let outbox = Outbox {
        sink: Arc::new(Mutex::new(sink)),
        shared: shared.clone(),
    };
    if let Err((code, reason)) = shared.admit(peer.ip()) {
        outbox.close(code, reason).await;
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(_)) = stream.next().await {}
        })
        .await;
        return;
    }
    let admission = Admission {
        shared: shared.clone(),
        ip: peer.ip(),
        session_id: None,
    };
    let (frames_tx, frames_rx) = mpsc::unbounded_channel();
    let reader = read_frames(stream, frames_tx, outbox.clone());
    let pinger = send_pings(outbox.clone(), shared.config.ping_interval);
    let session = Session {
        shared,
        outbox,
        frames: frames_rx,
        admission,
        calls_here: 0,
    };
    let handler = session.run();
    tokio::pin!(reader, handler, pinger);
    let reader_finished = tokio::select! {
        () = &mut reader => true,
        () = &mut handler => false,
        () = &mut pinger => false,
    };
    if !reader_finished {
        // The session closed the socket: give the peer time to answer the close frame.
        let _ = tokio::time::timeout(CLOSE_GRACE, reader).await;
    }
}

/// Reads the socket until it ends, queueing data frames for the session. An oversized frame
/// closes the connection with 1009, like the daemon's `EXAI_WS_MAX_BYTES` check.
async fn read_frames(
    mut stream: SplitStream<Ws>,
    frames: mpsc::UnboundedSender<Bytes>,
    outbox: Outbox,
) {
    while let Some(item) = stream.next().await {
        match item {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                // A session that has finished no longer reads; dropping the frame is right.
                let _ = frames.send(message.into_data());
            }
            Ok(_) => {}
            Err(WsError::Capacity(error)) => {
                tracing::debug!(error = %error, "fake daemon: frame too big");
                outbox.close(1009, "Message too big").await;
                return;
            }
            Err(error) => {
                tracing::debug!(error = %error, "fake daemon: read ended");
                return;
            }
        }
    }
}

/// Sends WebSocket pings every `interval`, as the real daemon does every 30 s.
async fn send_pings(outbox: Outbox, interval: Option<Duration>) {
    let Some(interval) = interval.filter(|interval| !interval.is_zero()) else {
        return std::future::pending().await;
    };
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        ticker.tick().await;
        if outbox.send(Message::Ping(Bytes::new())).await.is_err() {
            // The reader notices the broken socket; this task just stops doing anything.
            return std::future::pending().await;
        }
    }
}

/// The serial request loop of one connection.
pub(crate) struct Session {
    pub shared: Arc<Shared>,
    pub outbox: Outbox,
    frames: mpsc::UnboundedReceiver<Bytes>,
    admission: Admission,
    /// Calls being handled by this connection right now; the serial loop keeps it at most 1.
    pub calls_here: usize,
}

impl Session {
    async fn run(mut self) {
        let Ok(Some(session_id)) = self.handshake().await else {
            return;
        };
        self.admission.authenticate(session_id);
        if self.shared.config.close_after_hello {
            self.outbox.close(1011, "going away").await;
            return;
        }
        while let Some(frame) = self.frames.recv().await {
            if self.handle_frame(&frame).await.is_err() {
                return;
            }
        }
    }

    /// Runs the hello handshake; `Ok(None)` means the connection was refused and closed.
    async fn handshake(&mut self) -> Result<Option<String>, PeerGone> {
        let hello_timeout = self.shared.config.hello_timeout;
        let frame = match tokio::time::timeout(hello_timeout, self.frames.recv()).await {
            Err(_elapsed) => {
                self.outbox.close(4002, "Hello timeout").await;
                return Ok(None);
            }
            Ok(None) => return Err(PeerGone),
            Ok(Some(frame)) => frame,
        };
        let Ok(hello) = serde_json::from_slice::<Value>(&frame) else {
            self.outbox.close(4000, "Invalid JSON").await;
            return Ok(None);
        };
        if hello.get("op").and_then(Value::as_str) != Some("hello") {
            let nack = json!({"op": "hello_ack", "ok": false, "error": "missing_hello"});
            self.outbox.send_json(&nack).await?;
            self.outbox.close(4001, "Missing hello").await;
            return Ok(None);
        }
        let required_token = self.shared.required_token();
        if let Some(required) = required_token
            && hello.get("token").and_then(Value::as_str) != Some(required.as_str())
        {
            let nack = json!({"op": "hello_ack", "ok": false, "error": "unauthorized"});
            self.outbox.send_json(&nack).await?;
            self.outbox.close(4003, "Unauthorized").await;
            return Ok(None);
        }
        let session_id = match hello.get("session_id") {
            None | Some(Value::Null) => self.shared.random_session_id(),
            Some(Value::String(id)) if valid_session_id(id) => id.clone(),
            Some(_) => {
                // The real daemon closes normally and sends no hello_ack at all.
                self.outbox.close(1000, "").await;
                return Ok(None);
            }
        };
        if let Some(limit) = self.shared.config.ip_rate_limit {
            // A hello takes from the IP's budget when there is some; it is never refused.
            let _ = self
                .shared
                .take_rate_token(&ip_key(self.admission.ip), limit);
        }
        let ack = json!({"op": "hello_ack", "ok": true, "session_id": session_id});
        self.outbox.send_json(&ack).await?;
        Ok(Some(session_id))
    }

    /// Handles one frame after the hello, to completion.
    async fn handle_frame(&mut self, frame: &[u8]) -> Result<(), PeerGone> {
        if let Some(limit) = self.shared.config.ip_rate_limit
            && let Err(wait_secs) = self
                .shared
                .take_rate_token(&ip_key(self.admission.ip), limit)
        {
            self.shared.update(|stats| stats.over_capacity += 1);
            // Rounded, not rounded up: a short wait reads "0.0s" although waiting is needed.
            let error = json!({"op": "error", "error": {
                "code": "OVER_CAPACITY",
                "message": format!(
                    "Rate limit exceeded: ip_rate_limit_exceeded (retry after {wait_secs:.1}s)"
                ),
                "details": {
                    "reason": "ip_rate_limit_exceeded",
                    "burst": limit.burst,
                    "per_sec": limit.per_sec,
                },
            }});
            return self.outbox.send_json(&error).await;
        }
        if let Some(limit) = self.shared.config.rate_limit {
            let session_id = self.admission.session_id.clone().unwrap_or_default();
            if let Err(wait_secs) = self.shared.take_rate_token(&session_id, limit) {
                self.shared.update(|stats| stats.over_capacity += 1);
                // Shown rounded up to a tenth, so waiting the stated time is always enough.
                let shown = (wait_secs * 10.0).ceil() / 10.0;
                let error = json!({"op": "error", "error": {
                    "code": "OVER_CAPACITY",
                    "message": format!(
                        "Rate limit exceeded: user_rate_limit_exceeded (retry after {shown:.1}s)"
                    ),
                    "details": {
                        "reason": "user_rate_limit_exceeded",
                        "retry_after": shown,
                        "burst": limit.burst,
                        "per_sec": limit.per_sec,
                    },
                }});
                return self.outbox.send_json(&error).await;
            }
        }
        let Ok(message) = serde_json::from_slice::<Value>(frame) else {
            let error = json!({"op": "error", "error": {
                "code": "VALIDATION_ERROR",
                "message": "Invalid JSON: message could not be parsed",
            }});
            return self.outbox.send_json(&error).await;
        };
        let op = message.get("op").and_then(Value::as_str);
        if let Some(op @ ("call_tool" | "tool_call")) = op {
            return self.handle_call(&message, op).await;
        }
        let request_id = message.get("request_id").cloned().unwrap_or(Value::Null);
        if let Some(id) = id_text(&request_id) {
            self.shared.record_request_id(&id, false);
        }
        let reply = match op {
            Some("list_tools") => {
                self.shared.update(|stats| stats.list_tools += 1);
                let tools: Vec<Value> = self
                    .shared
                    .tools()
                    .into_iter()
                    .map(|tool| {
                        json!({
                            "name": tool.name,
                            "description": tool.description,
                            "inputSchema": tool.input_schema,
                        })
                    })
                    .collect();
                json!({"op": "list_tools_res", "request_id": request_id, "tools": tools,
                       "timestamp": timestamp()})
            }
            Some("ping") => {
                self.shared.update(|stats| stats.pings += 1);
                json!({"op": "pong", "request_id": request_id, "timestamp": timestamp()})
            }
            // Acknowledged, and nothing is cancelled: the daemon really behaves like this.
            Some("cancel") => json!({"op": "cancelled", "request_id": request_id}),
            other => {
                let shown = match (other, message.get("op")) {
                    (Some(op), _) => op.to_owned(),
                    (None, None | Some(Value::Null)) => "None".to_owned(),
                    (None, Some(value)) => value.to_string(),
                };
                bare_error("INVALID_REQUEST", &format!("Unknown operation: {shown}"))
            }
        };
        self.outbox.send_json(&reply).await
    }
}

/// The rate-limit bucket key of a client IP (session ids cannot contain `:`).
fn ip_key(ip: IpAddr) -> String {
    format!("ip:{ip}")
}

/// An error frame as the daemon sends most of them: no `op`, no `request_id`.
pub(crate) fn bare_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// A request id as text: strings as they are, other non-null values as their JSON.
pub(crate) fn id_text(request_id: &Value) -> Option<String> {
    match request_id {
        Value::Null => None,
        Value::String(id) => Some(id.clone()),
        other => Some(other.to_string()),
    }
}

/// The daemon's rule for a client-chosen session id: 3-64 characters of `[A-Za-z0-9_-]`.
pub(crate) fn valid_session_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}
