//! A raw shim for tests that must say what no real shim would (an oversized hello, a stolen
//! session id, a flood of bad lines) or that drive the hub without a process: the framed
//! connection, the hello a shim sends, and the answers, each wait under [`crate::guard`].

use crate::guard::guard_at;
use exai_proto::{ClientMsg, Frame, FrameCodec, Hello, HubMsg, PROTOCOL_VERSION, Role};
use futures_util::{SinkExt, StreamExt};
use std::panic::Location;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

/// A connection to a hub, framed as the shim frames it.
pub type RawShim<S> = Framed<S, FrameCodec>;

/// Frames `stream` as a shim does.
pub fn raw<S: AsyncRead + AsyncWrite>(stream: S) -> RawShim<S> {
    Framed::new(stream, FrameCodec::default())
}

/// Connects to the hub listening on `endpoint` (a bare name or a socket path).
pub async fn connect(endpoint: &str) -> RawShim<exai_ipc::Stream> {
    let endpoint = exai_ipc::Endpoint::named(endpoint).expect("a valid endpoint");
    raw(exai_ipc::connect(&endpoint)
        .await
        .expect("connect to the hub"))
}

/// The hello a shim labelled `name` sends (this protocol version, no resume).
pub fn hello(name: &str) -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        role: Role::Shim,
        pid: std::process::id(),
        parent_pid: Some(1),
        cwd: Some("/work/project".into()),
        name: Some(name.into()),
        resume: None,
        server: None,
    }
}

/// `hello` as the frame that carries it.
pub fn hello_frame(hello: Hello) -> Frame {
    Frame::control(&ClientMsg::Hello(hello))
}

/// The next control message from the hub (a `Welcome`, `Rejected`, ...).
#[track_caller]
pub fn control<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut RawShim<S>,
) -> impl Future<Output = HubMsg> + '_ {
    let caller = Location::caller();
    async move {
        match guard_at("a control frame", caller, crate::guard::GUARD, conn.next()).await {
            Some(Ok(Frame::Control(payload))) => {
                Frame::decode_control(&payload).expect("a hub message")
            }
            other => panic!("expected a control frame, got {other:?} (at {caller})"),
        }
    }
}

/// Sends one MCP line and returns the next line the hub sends, as JSON.
#[track_caller]
pub fn ask<'a, S: AsyncRead + AsyncWrite + Unpin>(
    conn: &'a mut RawShim<S>,
    line: &str,
) -> impl Future<Output = serde_json::Value> + 'a {
    let caller = Location::caller();
    let line = Frame::Line(line.to_owned().into());
    async move {
        conn.send(line).await.expect("send a line");
        match guard_at("an answer", caller, crate::guard::GUARD, conn.next()).await {
            Some(Ok(Frame::Line(line))) => serde_json::from_slice(&line).expect("JSON"),
            other => panic!("expected a line, got {other:?} (at {caller})"),
        }
    }
}
