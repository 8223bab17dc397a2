//! The hello: what a new connection must say first, and the hub's answer.
//!
//! A connection has [`HELLO_TIMEOUT`] and a frame of [`exai_proto::MAX_HELLO_FRAME_LEN`] to say
//! hello; a hello that is malformed, over its field limits, of another protocol version or from
//! another user is rejected with a reason in words ([`reject`]). A window's hello registers it
//! with the registry (a new session, or a lost one taken back: the registry checks the resume
//! secret), and the `Welcome` hands the shim its session id and the secret for its next resume.

use super::{Conn, Peer, SessionCtx};
use crate::registry::RegistryMsg;
use exai_proto::{
    ClientMsg, DecodeError, Frame, FrameCodec, Hello, HubMsg, PROTOCOL_VERSION, SessionId,
};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio_util::codec::Framed;

/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads and checks a new connection's hello; `None` when the connection ended, timed out or
/// was rejected (and told why).
pub(super) async fn hello<S>(stream: S, peer: Peer, ctx: &SessionCtx) -> Option<(Conn<S>, Hello)>
where
    S: AsyncRead + AsyncWrite + Unpin,
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
        Ok(None) => return None,
        Err(_) => {
            tracing::debug!("connection closed: no hello within {HELLO_TIMEOUT:?}");
            return None;
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
    Some((conn, hello))
}

/// Tells the peer why its connection is refused, and ends it.
async fn reject<S, T>(mut conn: Conn<S>, reason: String) -> Option<T>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tracing::info!(reason = %reason, "rejected a connection");
    let _ = conn
        .send(Frame::control(&HubMsg::Rejected { reason }))
        .await;
    None
}

/// Registers a window's hello with the registry: its session id and resume secret, or `None`
/// when the hub is stopping.
pub(super) async fn register(
    hello: Hello,
    peer: Peer,
    ctx: &SessionCtx,
) -> Option<(SessionId, String)> {
    let (reply, answer) = oneshot::channel();
    let register = RegistryMsg::Register {
        hello,
        peer_pid: peer.pid,
        reply,
    };
    if ctx.registry.send(register).is_err() {
        return None;
    }
    answer.await.ok()
}

/// Sends the `Welcome`: the session id, and the resume secret for a window (a control client
/// gets session 0 and none).
pub(super) async fn welcome<S>(
    conn: &mut Conn<S>,
    session_id: SessionId,
    resume_secret: Option<String>,
) -> Result<(), DecodeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let welcome = HubMsg::Welcome {
        session_id,
        hub_version: env!("CARGO_PKG_VERSION").to_owned(),
        resume_secret,
    };
    conn.send(Frame::control(&welcome)).await
}
