//! `exai status`: asks the running hub, as a control client over the same endpoint.

use crate::{ExitCode, StatusArgs};
use exai_hub::api::{HostKind, ServerState, SessionState, Snapshot};
use exai_hub::control::{self, ControlError};

pub(crate) async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let snapshot = match control::status(args.endpoint.as_deref()).await {
        Ok(snapshot) => snapshot,
        Err(ControlError::NotRunning { endpoint }) => {
            report_no_hub(&endpoint);
            return Ok(ExitCode::NoHub);
        }
        Err(ControlError::Other(err)) => return Err(err),
    };
    if args.json {
        print_json(&snapshot)?;
    } else {
        print_table(&snapshot);
    }
    Ok(ExitCode::Ok)
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

/// Text a peer chose (a window's name, the editor's name, an error) with control characters
/// escaped, so that it cannot move the cursor, recolour or clear the user's terminal.
fn printable(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

#[allow(clippy::print_stdout, reason = "the command's output")]
fn print_table(snapshot: &Snapshot) {
    let upstream = &snapshot.upstream;
    let host = match snapshot.host.kind {
        HostKind::Tray => "the tray app",
        HostKind::Headless => "exai hub",
    };
    println!(
        "hub {} on {} ({host}, pid {})",
        snapshot.hub_version, snapshot.endpoint, snapshot.host.pid
    );
    if let Some(url) = &snapshot.host.dashboard_url {
        println!("dashboard {url} (the token is where the hub printed it)");
    }
    println!(
        "daemon {}: {} ({}/{} connections, {} busy, {} queued, {} tools){}",
        upstream.url,
        format!("{:?}", upstream.state).to_lowercase(),
        upstream.connections,
        upstream.pool_size,
        upstream.busy,
        upstream.queued,
        upstream.tools,
        upstream
            .last_error
            .as_deref()
            .map(|error| format!(", last error: {}", printable(error)))
            .unwrap_or_default(),
    );
    if upstream.rate_limited > 0 || upstream.over_capacity > 0 {
        println!(
            "rate limit {}: {} waiting now; the daemon refused {} frame(s) as over capacity (each retried)",
            upstream.rate_limit.as_deref().unwrap_or("off"),
            upstream.rate_limited,
            upstream.over_capacity,
        );
    }
    print_servers(snapshot);
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
            printable(session.name.as_deref().unwrap_or("-")),
            printable(&client),
            session.pid,
            session.requests,
            session.errors,
            session.in_flight,
        );
    }
}

/// The wrapped MCP servers: one line each (command and arguments only, never the environment),
/// its last error and stderr line under it when it failed.
#[allow(clippy::print_stdout, reason = "the command's output")]
fn print_servers(snapshot: &Snapshot) {
    if snapshot.servers.is_empty() {
        return;
    }
    println!(
        "{:<3}  {:<20}  {:<10}  {:<9}  {:>7}  {:>7}  {:>8}  {:>8}  COMMAND",
        "#", "SERVER", "STATE", "POLICY", "PID", "WINDOWS", "RESTARTS", "MEMORY"
    );
    for server in &snapshot.servers {
        let state = match server.state {
            ServerState::Starting => "starting",
            ServerState::Ready => "ready",
            ServerState::Restarting => "restarting",
            ServerState::CrashLoop => "crash-loop",
            ServerState::Stopped => "stopped",
        };
        let memory = server
            .memory_bytes
            .map(|bytes| format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "-".to_owned());
        println!(
            "{:<3}  {:<20}  {:<10}  {:<9}  {:>7}  {:>7}  {:>8}  {:>8}  {}",
            server.id,
            printable(&server.name),
            state,
            server.policy,
            server
                .pid
                .map(|pid| pid.to_string())
                .unwrap_or_else(|| "-".to_owned()),
            server.windows.len(),
            server.restarts,
            memory,
            printable(&server.command),
        );
        if matches!(
            server.state,
            ServerState::CrashLoop | ServerState::Restarting
        ) && let Some(error) = &server.last_error
        {
            println!("     {}", printable(error));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped_and_other_text_kept() {
        assert_eq!(
            printable("caf\u{e9} \u{1b}[2J\u{7}"),
            "caf\u{e9} \\u{1b}[2J\\u{7}"
        );
        assert_eq!(printable("line\nbreak\ttab"), "line\\nbreak\\ttab");
    }
}
