//! One connection from a shim (an editor window) or a control client.
//!
//! Generic over `AsyncRead + AsyncWrite`, so tests drive it over `tokio::io::duplex` and the hub
//! over the local socket or pipe alike. [`serve`] takes the hello ([`handshake`]) and hands the
//! connection to what it asked for:
//! - a control client to [`control`];
//! - a window that stands for the EXAI daemon to [`daemon`], the window's MCP server, whose
//!   tools are [`tools`] and whose calls each run in a task of their own ([`call`]), so one slow
//!   tool never blocks the window's other requests; [`record`] is what the registry keeps of
//!   each request;
//! - a window whose hello names a server (`exai-shim -- COMMAND ...`) to [`wrapped`].
//!
//! This module owns what both kinds of window share: registering and welcoming the window and
//! telling the registry how it ended, writing a line to the shim ([`send_line`]), the shim's own
//! frames (goodbye, limits, unknown kinds: [`from_shim`]) and the hub's shutdown notice.

use crate::registry::RegistryMsg;
use crate::upstream::Upstream;
use bytes::Bytes;
use exai_proto::{ClientMsg, DecodeError, Frame, FrameCodec, Hello, HubMsg, Role};
use futures_util::SinkExt;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

mod call;
mod control;
mod daemon;
mod handshake;
mod record;
mod tools;
mod wrapped;

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

/// Serves one connection to its end.
pub(crate) async fn serve<S>(stream: S, peer: Peer, ctx: Arc<SessionCtx>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let Some((mut conn, hello)) = handshake::hello(stream, peer, &ctx).await else {
        return;
    };
    match hello.role {
        Role::Control => {
            // A control client only ever sends small questions.
            conn.codec_mut()
                .set_decode_limit(exai_proto::MAX_CONTROL_FRAME_LEN.min(ctx.max_frame_len));
            control::serve(conn, ctx).await
        }
        Role::Shim => {
            // Known now: a shim may send lines as large as MCP messages get.
            conn.codec_mut().set_decode_limit(ctx.max_frame_len);
            window(conn, hello, peer, ctx).await
        }
    }
}

/// A shim's connection: the window is registered and welcomed, served as a daemon window or a
/// wrapped server's, and the registry told how it ended.
async fn window<S>(mut conn: Conn<S>, hello: Hello, peer: Peer, ctx: Arc<SessionCtx>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let replay = hello
        .resume
        .as_ref()
        .and_then(|resume| resume.initialize.clone());
    let server = hello.server.clone();
    let Some((id, secret)) = handshake::register(hello, peer, &ctx).await else {
        return;
    };
    let span = tracing::info_span!("session", session = %id);
    async move {
        if let Err(err) = handshake::welcome(&mut conn, id, Some(secret)).await {
            let lost = Some(format!(
                "the hub could not send its welcome to the shim ({err})"
            ));
            let _ = ctx.registry.send(RegistryMsg::Disconnected { id, lost });
            return;
        }
        let lost = match server {
            Some(spec) => wrapped::run(&mut conn, id, &spec, replay, &ctx).await.err(),
            None => daemon::run(&mut conn, id, replay, ctx.clone()).await.err(),
        };
        let _ = ctx.registry.send(RegistryMsg::Disconnected { id, lost });
    }
    .instrument(span)
    .await;
}

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

/// Sends one line given in parts ([`crate::mcp::call_tool_response_parts`]). A large one is
/// written to the socket from the parts themselves, gathered by vectored writes, so a large
/// result's text goes from the daemon's frame to the socket without a copy in between; a small
/// one is joined and sent as any line.
pub(crate) async fn send_parts<S>(conn: &mut Conn<S>, parts: Vec<Bytes>) -> Result<(), DecodeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt as _;
    let len: usize = parts.iter().map(Bytes::len).sum();
    if len < DIRECT_WRITE_MIN {
        return send_line(conn, Bytes::from(parts.concat())).await;
    }
    let header = conn.codec().line_header(len)?;
    SinkExt::<Frame>::flush(conn).await?;
    let io = conn.get_mut();
    let mut parts: std::collections::VecDeque<Bytes> =
        std::iter::once(Bytes::copy_from_slice(&header))
            .chain(parts)
            .filter(|part| !part.is_empty())
            .collect();
    while !parts.is_empty() {
        /// Enough slices for a result's parts in one call, within every system's `IOV_MAX`.
        const SLICES: usize = 64;
        let slices: Vec<std::io::IoSlice<'_>> = parts
            .iter()
            .take(SLICES)
            .map(|part| std::io::IoSlice::new(part))
            .collect();
        let mut written = io.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
        }
        while written > 0 {
            let Some(first) = parts.front_mut() else {
                break;
            };
            if written < first.len() {
                bytes::Buf::advance(first, written);
                break;
            }
            written -= first.len();
            parts.pop_front();
        }
    }
    io.flush().await?;
    Ok(())
}

/// Tells the shim the hub is shutting down (it will reconnect to the next one).
async fn say_shutdown<S>(conn: &mut Conn<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let reason = "the EXAI hub is shutting down".to_owned();
    let _ = conn
        .send(Frame::control(&HubMsg::Shutdown { reason }))
        .await;
}

/// Why a window is lost when its shim's connection just ended.
const WENT_AWAY: &str = "its shim went away without a goodbye (the editor window, the editor or \
    the shim quit, crashed or was killed)";

fn write_failed(err: &dyn std::fmt::Display) -> String {
    format!("the hub could not write to its shim ({err}): the shim or its editor went away")
}

/// What a frame read from the shim means to a window's relay loop.
enum FromShim {
    /// One MCP line from the editor.
    Line(Bytes),
    /// Nothing for the window (a control message the hub ignores, a frame of an unknown kind).
    Nothing,
    /// The window ends: `Ok` for a goodbye, else why it is lost, in words.
    End(Result<(), String>),
}

/// Reads what the shim sent ([`futures_util::StreamExt::next`] on the connection): the one place
/// that handles the shim's control frames, its limits and the connection's end, for both kinds
/// of window.
fn from_shim(frame: Option<Result<Frame, DecodeError>>) -> FromShim {
    match frame {
        Some(Ok(Frame::Line(line))) => FromShim::Line(line),
        Some(Ok(Frame::Control(payload))) if payload.len() > exai_proto::MAX_CONTROL_FRAME_LEN => {
            tracing::warn!(
                len = payload.len(),
                max = exai_proto::MAX_CONTROL_FRAME_LEN,
                "control frame over the limit from shim; dropping the connection"
            );
            FromShim::End(Err(format!(
                "its shim sent a control message of {} bytes, over the {} byte limit, and the hub \
                 dropped it",
                payload.len(),
                exai_proto::MAX_CONTROL_FRAME_LEN
            )))
        }
        Some(Ok(Frame::Control(payload))) => {
            match Frame::decode_control::<ClientMsg>(&payload) {
                Ok(ClientMsg::Goodbye { reason }) => {
                    tracing::info!(reason = ?reason, "shim said goodbye");
                    return FromShim::End(Ok(()));
                }
                Ok(other) => tracing::debug!(message = ?other, "ignored control message"),
                Err(err) => tracing::warn!(error = %err, "malformed control message"),
            }
            FromShim::Nothing
        }
        Some(Ok(Frame::Unknown { kind })) => {
            tracing::debug!(kind, "skipped a frame of unknown kind");
            FromShim::Nothing
        }
        Some(Err(err)) => {
            tracing::warn!(error = %err, "bad frame from shim; dropping the connection");
            FromShim::End(Err(format!(
                "the hub could not read its shim ({err}) and dropped the connection"
            )))
        }
        None => FromShim::End(Err(WENT_AWAY.to_owned())),
    }
}
