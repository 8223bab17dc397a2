//! The control client: how `exai status`, a second tray app and scripts talk to a running hub.
//!
//! A control client connects to the same endpoint as the shims, says hello with
//! [`Role::Control`], and asks; the hub never starts an MCP session for it.

use crate::api::{HostInfo, HostKind, Snapshot};
use anyhow::Context as _;
use exai_proto::{ClientMsg, Frame, FrameCodec, Hello, HubMsg, PROTOCOL_VERSION, Role, SessionId};
use futures_util::{SinkExt as _, StreamExt as _};
use std::time::Duration;
use tokio_util::codec::Framed;

/// How long a control client waits for the hub's answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a control request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nothing listens on the endpoint.
    #[error(
        "no EXAI hub is running on {endpoint}: start it with `exai hub` or the tray app (exai-tray)"
    )]
    NotRunning {
        /// Every place looked at, as shown to users.
        endpoint: String,
    },
    /// Anything else, in words.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What [`request_focus`] achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FocusOutcome {
    /// The running hub is a tray app; it was asked to show its dashboard.
    Focused {
        /// The tray app's process id.
        pid: u32,
    },
    /// The running hub is headless (`exai hub`): it has no window to show.
    Headless {
        /// Its process id.
        pid: u32,
        /// Its dashboard address (without the token), when it serves one.
        dashboard_url: Option<String>,
    },
}

/// Asks the hub on `endpoint` (`None`: the default) for its snapshot.
pub async fn status(endpoint: Option<&str>) -> Result<Snapshot, ControlError> {
    let mut conn = open(endpoint).await?;
    conn.send(Frame::control(&ClientMsg::StatusRequest))
        .await
        .context("cannot write to the hub")?;
    match answer(&mut conn).await? {
        HubMsg::Status { snapshot } => {
            Ok(serde_json::from_value(snapshot).context("malformed status from the hub")?)
        }
        other => Err(anyhow::anyhow!("unexpected answer from the hub: {other:?}").into()),
    }
}

/// Asks the hub on `endpoint` to show its dashboard (on `session`, if given), when it has one.
pub async fn request_focus(
    endpoint: Option<&str>,
    session: Option<SessionId>,
) -> Result<FocusOutcome, ControlError> {
    let snapshot = status(endpoint).await?;
    match snapshot.host.kind {
        HostKind::Headless => Ok(FocusOutcome::Headless {
            pid: snapshot.host.pid,
            dashboard_url: snapshot.host.dashboard_url,
        }),
        HostKind::Tray => {
            focus(endpoint, session).await?;
            Ok(FocusOutcome::Focused {
                pid: snapshot.host.pid,
            })
        }
    }
}

/// Asks the hub on `endpoint` to show its dashboard (on `session`, if given), without first
/// asking what it is: for a caller that already knows it is a tray app.
pub async fn focus(endpoint: Option<&str>, session: Option<SessionId>) -> Result<(), ControlError> {
    let mut conn = open(endpoint).await?;
    conn.send(Frame::control(&ClientMsg::Focus { session }))
        .await
        .context("cannot write to the hub")?;
    match answer(&mut conn).await? {
        HubMsg::Focused => Ok(()),
        other => Err(anyhow::anyhow!("unexpected answer from the hub: {other:?}").into()),
    }
}

/// Asks the hub on `endpoint` to stop (it tells every shim, and a tray app exits with it), then
/// waits up to `wait` for its process to end: after `Ok`, its files can be replaced. Returns
/// what was running.
pub async fn stop(endpoint: Option<&str>, wait: Duration) -> Result<HostInfo, ControlError> {
    let host = status(endpoint).await?.host;
    let mut conn = open(endpoint).await?;
    conn.send(Frame::control(&ClientMsg::Stop))
        .await
        .context("cannot write to the hub")?;
    match answer(&mut conn).await? {
        HubMsg::Stopping => {}
        other => {
            return Err(anyhow::anyhow!("unexpected answer from the hub: {other:?}").into());
        }
    }
    drop(conn);
    if tokio::time::timeout(wait, exai_ipc::wait_for_exit(host.pid))
        .await
        .is_err()
    {
        return Err(anyhow::anyhow!(
            "the EXAI hub (pid {}) is stopping but still runs after {} s",
            host.pid,
            wait.as_secs()
        )
        .into());
    }
    Ok(host)
}

type Conn = Framed<exai_ipc::Stream, FrameCodec>;

async fn open(endpoint: Option<&str>) -> Result<Conn, ControlError> {
    let endpoint = exai_ipc::Endpoint::resolve(endpoint).context("bad endpoint")?;
    let stream = match exai_ipc::connect(&endpoint).await {
        Ok(stream) => stream,
        Err(exai_ipc::ConnectError::NotRunning { looked_at, .. }) => {
            return Err(ControlError::NotRunning {
                endpoint: looked_at.join(" or "),
            });
        }
        Err(err) => return Err(anyhow::Error::from(err).into()),
    };
    let mut conn = Framed::new(stream, FrameCodec::default());
    let hello = ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        role: Role::Control,
        pid: std::process::id(),
        parent_pid: None,
        cwd: None,
        name: None,
        resume: None,
        server: None,
    });
    conn.send(Frame::control(&hello))
        .await
        .context("cannot write to the hub")?;
    Ok(conn)
}

/// The next control answer other than the welcome, within [`ANSWER_TIMEOUT`].
async fn answer(conn: &mut Conn) -> anyhow::Result<HubMsg> {
    let wait = async {
        while let Some(frame) = conn.next().await {
            let Frame::Control(payload) = frame.context("cannot read from the hub")? else {
                continue;
            };
            match Frame::decode_control::<HubMsg>(&payload)? {
                HubMsg::Welcome { .. } | HubMsg::Unknown => {}
                HubMsg::Rejected { reason } => anyhow::bail!("the hub refused: {reason}"),
                HubMsg::Shutdown { reason } => anyhow::bail!("the hub is stopping: {reason}"),
                other => return Ok(other),
            }
        }
        anyhow::bail!("the hub closed the connection without answering")
    };
    tokio::time::timeout(ANSWER_TIMEOUT, wait)
        .await
        .with_context(|| format!("the hub did not answer within {ANSWER_TIMEOUT:?}"))?
}
