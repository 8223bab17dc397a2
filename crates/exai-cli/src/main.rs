//! `exai`: the hub headless (`exai hub`, optionally with its dashboard over loopback HTTP) and
//! its control commands (`exai status`, `exai config`, `exai connect`).
//!
//! Thin by design: the hub lives in `exai-hub`; this binary parses flags, installs the tracing
//! subscriber, and prints. No GUI libraries, so it runs on servers, over SSH and in CI.

mod config;
mod connect;
mod hub;
mod status;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The EXAI hub: one connection to the EXAI daemon shared by every editor window.
#[derive(Debug, Parser)]
#[command(name = "exai", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub in the foreground (logs to stderr; Ctrl-C stops it and tells the shims).
    Hub(HubArgs),
    /// Show the running hub's upstream and sessions.
    Status(StatusArgs),
    /// Print an editor's MCP configuration for exai-shim, ready to paste.
    Config(ConfigArgs),
    /// Write the exai server into an editor's own MCP config file (after a backup); with no
    /// editor, show which editors are connected.
    Connect(ConnectArgs),
}

/// Flags of `exai hub`.
#[derive(Debug, clap::Args)]
struct HubArgs {
    /// EXAI daemon URL (default ws://127.0.0.1:8079; env EXAI_WS_URL, or EXAI_WS_HOST + EXAI_WS_PORT).
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Local endpoint name or socket path (env EXAI_ENDPOINT).
    #[arg(long, value_name = "NAME")]
    endpoint: Option<String>,
    /// Config file (default: the platform config dir's exai/config.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Pooled connections to the daemon (default 4).
    #[arg(long, value_name = "N")]
    pool: Option<usize>,
    /// Per-call deadline in seconds (default 310).
    #[arg(long, value_name = "SECS")]
    call_timeout: Option<u64>,
    /// Seconds a wrapped MCP server (`exai-shim -- COMMAND`) no window uses keeps running
    /// (default 300; `[servers] idle_secs` in the config file).
    #[arg(long, value_name = "SECS")]
    server_idle_secs: Option<u64>,
    /// Serve the dashboard over HTTP (default 127.0.0.1 on a free port); prints its URL with
    /// the access token (env EXAI_DASHBOARD_TOKEN, else a random one).
    #[arg(
        long,
        value_name = "ADDR",
        num_args = 0..=1,
        default_missing_value = "127.0.0.1:0"
    )]
    dashboard: Option<std::net::SocketAddr>,
}

/// Flags of `exai config`.
#[derive(Debug, clap::Args)]
struct ConfigArgs {
    /// vscode, vscode-user, cursor, claude-desktop, claude-code, windsurf, zed, codex, augment, or all.
    #[arg(value_name = "EDITOR", default_value = "all")]
    editor: String,
    /// The exai-shim to launch (default: the one next to exai, else on PATH).
    #[arg(long, value_name = "PATH")]
    shim: Option<PathBuf>,
    /// A non-default local endpoint the shim must use (env EXAI_ENDPOINT).
    #[arg(long, value_name = "NAME", env = "EXAI_ENDPOINT")]
    endpoint: Option<String>,
    /// Print FILE, this editor's MCP config ('-': standard input), with every stdio server
    /// rewritten to run through exai-shim (shared by every window), ready to paste; what was
    /// wrapped and what was left goes to stderr.
    #[arg(long, value_name = "FILE", conflicts_with = "unwrap")]
    wrap: Option<PathBuf>,
    /// Print FILE with every server that runs through exai-shim back on its own command.
    #[arg(long, value_name = "FILE")]
    unwrap: Option<PathBuf>,
}

/// Flags of `exai connect`.
#[derive(Debug, clap::Args)]
struct ConnectArgs {
    /// code, cursor, claude-desktop, claude-code, windsurf, zed or codex; none: --status.
    #[arg(value_name = "EDITOR")]
    editor: Option<String>,
    /// Show what would change and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write the project's file instead of the user's (VS Code .vscode/mcp.json, Cursor
    /// .cursor/mcp.json, Claude Code .mcp.json, Codex .codex/config.toml).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Show every editor's file and whether it has the exai server.
    #[arg(long, conflicts_with_all = ["dry_run"])]
    status: bool,
    /// Instead of adding the exai server, rewrite the editor's other stdio servers to run
    /// through exai-shim (`exai-shim -- COMMAND ARGS`), so every window shares one instance of
    /// each; env, cwd and every other key stay; remote and already wrapped servers are left.
    #[arg(long, requires = "editor", conflicts_with_all = ["status", "unwrap"])]
    wrap: bool,
    /// Undo --wrap: every server that runs through exai-shim runs its own command again.
    #[arg(long, requires = "editor", conflicts_with_all = ["status"])]
    unwrap: bool,
    /// The exai-shim to launch (default: the installed one, else the one next to exai).
    #[arg(long, value_name = "PATH")]
    shim: Option<PathBuf>,
    /// A non-default local endpoint the shim must use (env EXAI_ENDPOINT).
    #[arg(long, value_name = "NAME", env = "EXAI_ENDPOINT")]
    endpoint: Option<String>,
}

/// Flags of `exai status`.
#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Local endpoint name or socket path (env EXAI_ENDPOINT).
    #[arg(long, value_name = "NAME")]
    endpoint: Option<String>,
}

/// How `exai` exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExitCode {
    Ok = 0,
    /// Something failed; the message says what.
    Failure = 1,
    /// `exai status`: no hub is running.
    NoHub = 3,
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("exai")
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => fail(&format!("cannot start the async runtime: {err}")),
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Hub(args) => hub::run(args).await,
            Command::Status(args) => status::run(args).await,
            Command::Config(args) => config::run(args),
            Command::Connect(args) => connect::run(args),
        }
    });
    match code {
        Ok(code) => std::process::exit(code as i32),
        Err(err) => fail(&format!("{err:#}")),
    }
}

#[allow(
    clippy::print_stderr,
    reason = "the one error line of a command-line tool"
)]
fn fail(message: &str) -> ! {
    eprintln!("exai: {message}");
    std::process::exit(ExitCode::Failure as i32)
}
