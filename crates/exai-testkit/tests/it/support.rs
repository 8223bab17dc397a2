//! Helpers for driving the fake daemon with a raw tokio-tungstenite client.
//!
//! Every wait is bounded by exai-testkit's one guard, which only turns a hang into a failure;
//! no helper sleeps to synchronise.

use exai_testkit::{DaemonConfig, TestDaemon};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use exai_testkit::guard::guard as guarded;

/// Starts a daemon with `config`.
pub async fn daemon(config: DaemonConfig) -> TestDaemon {
    TestDaemon::start(config)
        .await
        .expect("the fake daemon starts")
}

/// What the client saw next on the socket.
#[derive(Debug)]
pub enum Event {
    /// A text frame, parsed as JSON.
    Json(Value),
    /// A close frame with its code and reason.
    Close(u16, String),
    /// The socket ended without a close frame (or with an error): an abrupt drop.
    Ended,
}

/// A raw WebSocket client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Connects without sending anything.
    pub async fn connect(daemon: &TestDaemon) -> Client {
        let (ws, _response) = guarded("connect", tokio_tungstenite::connect_async(daemon.url()))
            .await
            .expect("the daemon accepts the connection");
        Client { ws }
    }

    /// Connects and completes a hello with `session_id`, returning the client and the ack.
    pub async fn hello(daemon: &TestDaemon, session_id: &str) -> Client {
        let mut client = Client::connect(daemon).await;
        client
            .send(json!({"op": "hello", "token": null, "session_id": session_id}))
            .await;
        let ack = client.recv().await;
        assert_eq!(
            ack,
            json!({"op": "hello_ack", "ok": true, "session_id": session_id})
        );
        client
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        guarded("send", self.ws.send(Message::text(text)))
            .await
            .expect("the frame is sent");
    }

    /// The next data frame, close or end, skipping WebSocket pings and pongs.
    pub async fn next_event(&mut self) -> Event {
        loop {
            match guarded("a frame", self.ws.next()).await {
                Some(Ok(Message::Text(text))) => {
                    let value = serde_json::from_str(text.as_str()).expect("frames are JSON");
                    return Event::Json(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(frame) => Event::Close(frame.code.into(), frame.reason.to_string()),
                        None => Event::Close(1005, String::new()),
                    };
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Event::Ended,
            }
        }
    }

    /// The next raw message, pings included.
    pub async fn next_message(&mut self) -> Message {
        guarded("a message", self.ws.next())
            .await
            .expect("the socket is open")
            .expect("the socket reads")
    }

    /// The next JSON frame; fails on a close or an end.
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Value> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            match self.next_event().await {
                Event::Json(value) => value,
                other => panic!("expected a JSON frame, got {other:?} (at {caller})"),
            }
        }
    }

    /// The close code and reason the daemon sends next; fails on any data frame first.
    #[track_caller]
    pub fn recv_close(&mut self) -> impl Future<Output = (u16, String)> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            match self.next_event().await {
                Event::Close(code, reason) => (code, reason),
                other => panic!("expected a close frame, got {other:?} (at {caller})"),
            }
        }
    }

    /// Every frame up to and including the first `call_tool_res`.
    pub async fn recv_through_result(&mut self) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let frame = self.recv().await;
            let done = frame["op"] == "call_tool_res";
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }

    /// Sends a `call_tool` frame.
    pub async fn call(&mut self, request_id: &str, name: &str, arguments: Value) {
        self.send(
            json!({"op": "call_tool", "request_id": request_id, "name": name,
                         "arguments": arguments}),
        )
        .await;
    }

    /// Sends a `ping` and expects its `pong` as the very next frame.
    pub async fn ping_pong(&mut self, request_id: &str) {
        self.send(json!({"op": "ping", "request_id": request_id}))
            .await;
        let pong = self.recv().await;
        assert_eq!(pong["op"], "pong");
        assert_eq!(pong["request_id"], request_id);
    }
}

/// The `op` of every frame, for asserting order.
pub fn ops(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|frame| frame["op"].as_str().unwrap_or("<none>"))
        .collect()
}

/// The result text of a `call_tool_res` frame.
#[track_caller]
pub fn result_text(frame: &Value) -> &str {
    assert_eq!(frame["op"], "call_tool_res", "not a result: {frame}");
    frame["outputs"][0]["text"]
        .as_str()
        .expect("outputs[0].text is a string")
}
