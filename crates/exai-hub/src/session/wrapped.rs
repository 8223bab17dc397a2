//! A window that stands for a wrapped MCP server (`exai-shim -- COMMAND ...`): its lines go to
//! the server's instance ([`crate::servers`]), which routes them, and the instance's lines for
//! this window come back here. The window's MCP conversation lives in the instance's router;
//! this loop only moves frames and ends the session.

use super::{Conn, SessionCtx, WENT_AWAY, write_failed};
use crate::servers::instance::InstanceMsg;
use bytes::Bytes;
use exai_proto::{ClientMsg, Frame, HubMsg, ServerSpec, SessionId};
use futures_util::{SinkExt, StreamExt};
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
                let reason = "the EXAI hub is shutting down".to_owned();
                let _ = conn.send(Frame::control(&HubMsg::Shutdown { reason })).await;
                break Ok(());
            }
            Some(line) = out_rx.recv() => {
                if let Err(err) = super::send_line(conn, line).await {
                    break Err(write_failed(&err));
                }
            }
            frame = conn.next() => match frame {
                Some(Ok(Frame::Line(line))) => {
                    let _ = attached.inbox.send(InstanceMsg::Line { window: id, line });
                }
                Some(Ok(Frame::Control(payload))) if payload.len() > exai_proto::MAX_CONTROL_FRAME_LEN => {
                    break Err(format!("its shim sent a control message of {} bytes, over the {} byte limit, and the hub dropped it", payload.len(), exai_proto::MAX_CONTROL_FRAME_LEN));
                }
                Some(Ok(Frame::Control(payload))) => match Frame::decode_control::<ClientMsg>(&payload) {
                    Ok(ClientMsg::Goodbye { reason }) => {
                        tracing::info!(reason = ?reason, "shim said goodbye");
                        break Ok(());
                    }
                    Ok(other) => tracing::debug!(message = ?other, "ignored control message"),
                    Err(err) => tracing::warn!(error = %err, "malformed control message"),
                },
                Some(Ok(Frame::Unknown { kind })) => tracing::debug!(kind, "skipped a frame of unknown kind"),
                Some(Err(err)) => {
                    break Err(format!("the hub could not read its shim ({err}) and dropped the connection"));
                }
                None => break Err(WENT_AWAY.to_owned()),
            },
        }
    };
    let _ = attached.inbox.send(InstanceMsg::Detach { window: id });
    result
}
