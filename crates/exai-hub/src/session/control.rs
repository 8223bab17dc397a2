//! The hub's side of the control protocol: a control client ([`crate::control`]: `exai status`,
//! a second `exai hub` or tray app) asks for a snapshot, to focus a session, or for the hub to
//! stop, one question at a time, until it hangs up. Control clients are not windows: the
//! registry never lists them.

use super::{Conn, SessionCtx, handshake};
use crate::registry::RegistryMsg;
use exai_proto::{ClientMsg, Frame, HubMsg, SessionId};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

/// A control client (`exai status`): answers questions until it hangs up.
pub(super) async fn serve<S>(mut conn: Conn<S>, ctx: Arc<SessionCtx>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if handshake::welcome(&mut conn, SessionId(0), None)
        .await
        .is_err()
    {
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
