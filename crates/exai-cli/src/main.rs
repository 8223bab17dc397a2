//! `exai`: the hub headless (`exai hub`) and its control commands (`exai status`).
//!
//! Thin by design: the hub lives in `exai-hub`; this binary parses flags, installs the tracing
//! subscriber, and prints. No GUI libraries, so it runs on servers, over SSH and in CI.

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
