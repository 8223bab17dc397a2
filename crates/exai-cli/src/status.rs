//! `exai status`: asks the running hub, as a control client over the same endpoint.

use crate::{ExitCode, StatusArgs};
use anyhow::Context as _;
use exai_hub::api::{SessionState, Snapshot};
use exai_proto::{ClientMsg, Frame, FrameCodec, Hello, HubMsg, PROTOCOL_VERSION, Role};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_util::codec::Framed;

const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let endpoint = exai_ipc::Endpoint::resolve(args.endpoint.as_deref())?;
    let stream = match exai_ipc::connect(&endpoint).await {
        Ok(stream) => stream,
        Err(exai_ipc::ConnectError::NotRunning { .. }) => {
            report_no_hub(&endpoint.to_string());
            return Ok(ExitCode::NoHub);
        }
        Err(err) => return Err(err.into()),
    };
    let snapshot = tokio::time::timeout(ANSWER_TIMEOUT, ask(stream))
        .await
        .with_context(|| {
            format!("the hub on {endpoint} did not answer within {ANSWER_TIMEOUT:?}")
        })??;
    if args.json {
        print_json(&snapshot)?;
    } else {
        print_table(&snapshot);
    }
    Ok(ExitCode::Ok)
}

async fn ask(stream: exai_ipc::Stream) -> anyhow::Result<Snapshot> {
    let mut conn = Framed::new(stream, FrameCodec::default());
    let hello = ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        role: Role::Control,
        pid: std::process::id(),
        parent_pid: None,
        cwd: None,
        name: None,
        resume: None,
    });
    conn.send(Frame::control(&hello)).await?;
    conn.send(Frame::control(&ClientMsg::StatusRequest)).await?;
    while let Some(frame) = conn.next().await {
        let Frame::Control(payload) = frame? else {
            continue;
        };
        match Frame::decode_control::<HubMsg>(&payload)? {
            HubMsg::Welcome { .. } => {}
            HubMsg::Status { snapshot } => {
                return serde_json::from_value(snapshot).context("malformed status from the hub");
            }
            HubMsg::Rejected { reason } => anyhow::bail!("the hub refused: {reason}"),
            HubMsg::Shutdown { reason } => anyhow::bail!("the hub is stopping: {reason}"),
            HubMsg::Unknown => {}
        }
    }
    anyhow::bail!("the hub closed the connection without answering")
}

#[allow(clippy::print_stderr, reason = "the command's own message")]
fn report_no_hub(endpoint: &str) {
    eprintln!(
        "exai: no EXAI hub is running on {endpoint}: start it with `exai hub` or the tray app"
    );
}

#[allow(clippy::print_stdout, reason = "the command's output")]
fn print_json(snapshot: &Snapshot) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(snapshot)?);
    Ok(())
}

#[allow(clippy::print_stdout, reason = "the command's output")]
fn print_table(snapshot: &Snapshot) {
    let upstream = &snapshot.upstream;
    println!("hub {} on {}", snapshot.hub_version, snapshot.endpoint);
    println!(
        "daemon {}: {} ({}/{} connections, {} busy, {} tools){}",
        upstream.url,
        format!("{:?}", upstream.state).to_lowercase(),
        upstream.connections,
        upstream.pool_size,
        upstream.busy,
        upstream.tools,
        upstream
            .last_error
            .as_deref()
            .map(|error| format!(", last error: {error}"))
            .unwrap_or_default(),
    );
    if snapshot.sessions.is_empty() {
        println!("no editor windows connected");
        return;
    }
    println!(
        "{:<16}  {:<8}  {:<20}  {:<24}  {:>7}  {:>8}  {:>6}  {:>9}",
        "SESSION", "STATE", "NAME", "CLIENT", "PID", "REQUESTS", "ERRORS", "IN FLIGHT"
    );
    for session in &snapshot.sessions {
        let state = match session.state {
            SessionState::Ready => "ready",
            SessionState::Degraded => "degraded",
            SessionState::Lost => "lost",
            SessionState::Closed => "closed",
        };
        let client = session
            .client
            .as_ref()
            .map(|client| format!("{} {}", client.name, client.version))
            .unwrap_or_else(|| "-".to_owned());
        println!(
            "{:<16}  {:<8}  {:<20}  {:<24}  {:>7}  {:>8}  {:>6}  {:>9}",
            session.id,
            state,
            session.name.as_deref().unwrap_or("-"),
            client,
            session.pid,
            session.requests,
            session.errors,
            session.in_flight,
        );
    }
}
