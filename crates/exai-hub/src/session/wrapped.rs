//! A window that stands for a wrapped MCP server (`exai-shim -- COMMAND ...`): its lines go to
//! the server's instance ([`crate::servers`]), which routes them, and the instance's lines for
//! this window come back here. The window's MCP conversation lives in the instance's router;
//! this loop only moves frames and ends the session.

use super::{Conn, FromShim, SessionCtx, from_shim, say_shutdown, send_line, write_failed};
use crate::servers::instance::InstanceMsg;
use bytes::Bytes;
use exai_proto::{ServerSpec, SessionId};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// Serves the window until it leaves: `Ok` for a goodbye or a hub shutdown, else why it is lost.
pub(super) async fn run<S>(
    conn: &mut Conn<S>,
    id: SessionId,
    spec: &ServerSpec,
    replay: Option<String>,
    ctx: &SessionCtx,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
    let attached = ctx
        .servers
        .attach(spec, id, replay.map(Bytes::from), out_tx);
    tracing::info!(server = %attached.name, "session connected to a wrapped server");
    let shutdown = ctx.shutdown.clone();
    let result = loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                say_shutdown(conn).await;
                break Ok(());
            }
            Some(line) = out_rx.recv() => {
                if let Err(err) = send_line(conn, line).await {
                    break Err(write_failed(&err));
                }
            }
            frame = conn.next() => match from_shim(frame) {
                FromShim::Line(line) => {
                    let _ = attached.inbox.send(InstanceMsg::Line { window: id, line });
                }
                FromShim::Nothing => {}
                FromShim::End(end) => break end,
            },
        }
    };
    let _ = attached.inbox.send(InstanceMsg::Detach { window: id });
    result
}
