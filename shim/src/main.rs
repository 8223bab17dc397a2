//! `exai-shim`: the MCP stdio server an editor launches.
//!
//! It connects to the EXAI hub over the local endpoint, says `Hello`, and relays one JSON-RPC
//! message per line between the editor (stdin/stdout) and the hub (length-prefixed frames).
//! When the hub is absent or goes away, requests get a JSON-RPC error at once and the shim keeps
//! reconnecting in the background.
//!
//! Stdout is the wire: nothing but relayed MCP messages and the shim's own JSON-RPC errors ever
//! goes there. Logs go to stderr or to `EXAI_SHIM_LOG_FILE`; set `EXAI_LOG=debug` to see more.
//! This file owns flags, logging, the runtime and exit codes; the relay lives in `relay.rs`.

mod autostart;
mod conn;
mod editor;
mod line;
mod relay;
mod writers;

use std::io::Write as _;
use std::time::Duration;

const HELP: &str = "\
exai-shim: the MCP server an editor launches; relays stdin/stdout to the EXAI hub

USAGE:
    exai-shim [OPTIONS]                         stand for the EXAI daemon's tools
    exai-shim [OPTIONS] -- COMMAND [ARGS...]    stand for the stdio MCP server COMMAND: the hub
                                                starts it once and shares it among windows

OPTIONS:
    --endpoint NAME          hub endpoint (env EXAI_ENDPOINT, else the per-user default)
    --name LABEL             label for this session (env EXAI_SESSION_NAME)
    --connect-timeout SECS   how long to wait for the hub at startup (env EXAI_CONNECT_TIMEOUT, default 5)
    --max-line-bytes N       longest accepted request line (env EXAI_MAX_LINE_BYTES, default 16777216)
    --log-file PATH          log here instead of stderr (env EXAI_SHIM_LOG_FILE)
    --autostart hub|tray|off when no hub answers at start-up, start `exai hub` or `exai-tray`
                             (found next to exai-shim, else on PATH) and wait for it; its
                             output goes to hub-autostart.log in the exai log directory
                             (env EXAI_AUTOSTART, default off)
    --share shared|workspace|window
                             with `--`: one server for every window with the same command,
                             arguments and environment (shared, the default), one per working
                             directory (workspace), or one per window (window)
    --env KEY                with `--`: only these variables tell one server from another
                             (repeatable; default: the whole environment minus per-window noise)
    --help                   print this help
    --version                print the version

Logs are filtered by EXAI_LOG (default: warn).";

/// Default `--max-line-bytes`: 16 MiB.
const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;
/// Default `--connect-timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The shim's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum ExitCode {
    /// The editor left (stdin closed, parent exited, or stdout closed).
    Ok = 0,
    /// Something unexpected failed (reading stdin, building the runtime).
    Failure = 1,
    /// Bad flags or environment values.
    Usage = 2,
    /// The endpoint or log file could not be set up.
    Config = 3,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> std::process::ExitCode {
        std::process::ExitCode::from(code as u8)
    }
}

/// A failure to report: one line on stderr and an exit code.
struct Failure {
    code: ExitCode,
    message: String,
}

impl Failure {
    fn new(code: ExitCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(code) => code.into(),
        Err(failure) => {
            // One actionable line; a failed write to stderr leaves nothing else to try.
            let _ = writeln!(std::io::stderr().lock(), "exai-shim: {}", failure.message);
            failure.code.into()
        }
    }
}

/// Parsed command-line flags; `None` means "not given, ask the environment".
#[derive(Default)]
struct Flags {
    endpoint: Option<String>,
    name: Option<String>,
    connect_timeout: Option<String>,
    max_line_bytes: Option<String>,
    log_file: Option<String>,
    autostart: Option<String>,
    /// `--share`.
    share: Option<String>,
    /// `--env KEY`, in order.
    env_keys: Vec<String>,
    /// Everything after `--`: the wrapped server's command and arguments.
    server: Option<Vec<String>>,
}

/// What the command line asks for.
enum Command {
    Run(Box<Flags>),
    Help,
    Version,
}

fn run() -> Result<ExitCode, Failure> {
    let flags = match parse_args(std::env::args().skip(1))? {
        Command::Run(flags) => *flags,
        Command::Help => return Ok(print_stdout(HELP)),
        Command::Version => {
            return Ok(print_stdout(concat!(
                "exai-shim ",
                env!("CARGO_PKG_VERSION")
            )));
        }
    };
    let name = flags.name.or_else(|| env_var("EXAI_SESSION_NAME"));
    let connect_timeout = match flags
        .connect_timeout
        .map(|value| ("--connect-timeout", value))
        .or_else(|| env_var("EXAI_CONNECT_TIMEOUT").map(|value| ("EXAI_CONNECT_TIMEOUT", value)))
    {
        Some((source, value)) => parse_seconds(source, &value)?,
        None => DEFAULT_CONNECT_TIMEOUT,
    };
    let max_line_bytes = match flags
        .max_line_bytes
        .map(|value| ("--max-line-bytes", value))
        .or_else(|| env_var("EXAI_MAX_LINE_BYTES").map(|value| ("EXAI_MAX_LINE_BYTES", value)))
    {
        Some((source, value)) => parse_bytes(source, &value)?,
        None => DEFAULT_MAX_LINE_BYTES,
    };
    let autostart_mode = match flags
        .autostart
        .map(|value| ("--autostart", value))
        .or_else(|| env_var(autostart::ENV).map(|value| (autostart::ENV, value)))
    {
        Some((source, value)) => autostart::Mode::parse(&value)
            .map_err(|error| Failure::new(ExitCode::Usage, format!("{source} {error}")))?,
        None => None,
    };
    init_logging(flags.log_file.or_else(|| env_var("EXAI_SHIM_LOG_FILE")))?;
    let endpoint = exai_ipc::Endpoint::resolve(flags.endpoint.as_deref()).map_err(|error| {
        Failure::new(
            ExitCode::Config,
            format!("cannot use the hub endpoint: {error}; check --endpoint or EXAI_ENDPOINT"),
        )
    })?;
    let server = server_spec(flags.server, flags.share, flags.env_keys)?;
    let settings = relay::Settings {
        server,
        endpoint,
        name,
        connect_timeout,
        max_line_bytes,
        parent_pid: exai_ipc::parent_pid(),
        autostart: autostart_mode.map(|mode| autostart::Plan {
            mode,
            endpoint_flag: flags.endpoint.clone(),
        }),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            Failure::new(
                ExitCode::Failure,
                format!("cannot start the async runtime: {error}"),
            )
        })?;
    let result = runtime.block_on(relay::run(settings));
    // The stdin reader may sit in a blocking read that only process exit ends: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(outcome) => {
            tracing::debug!(?outcome, "exiting");
            Ok(ExitCode::Ok)
        }
        Err(error) => Err(Failure::new(
            ExitCode::Failure,
            format!("reading stdin failed: {error}; the editor's pipe is unusable"),
        )),
    }
}

/// Answers `--help` and `--version`: a human on a terminal, not an editor, so the one place the
/// shim writes anything of its own to stdout. Written with `write_all`, not a print macro, so the
/// tidy check can ban those macros in the shim outright.
fn print_stdout(text: &str) -> ExitCode {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::Ok,
        Err(_) => ExitCode::Failure,
    }
}

/// A non-empty environment variable.
fn env_var(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|value| !value.is_empty())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, Failure> {
    let mut flags = Flags::default();
    while let Some(arg) = args.next() {
        if arg == "--" {
            let server: Vec<String> = args.by_ref().collect();
            if server.is_empty() {
                return Err(Failure::new(
                    ExitCode::Usage,
                    "`--` needs the server's command after it, e.g. `exai-shim -- npx -y @modelcontextprotocol/server-memory`",
                ));
            }
            flags.server = Some(server);
            break;
        }
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let slot = match flag.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            "--endpoint" => &mut flags.endpoint,
            "--name" => &mut flags.name,
            "--connect-timeout" => &mut flags.connect_timeout,
            "--max-line-bytes" => &mut flags.max_line_bytes,
            "--log-file" => &mut flags.log_file,
            "--autostart" => &mut flags.autostart,
            "--share" => &mut flags.share,
            "--env" => {
                let key = inline_value.or_else(|| args.next()).ok_or_else(|| {
                    Failure::new(
                        ExitCode::Usage,
                        "--env needs a variable name; see exai-shim --help",
                    )
                })?;
                flags.env_keys.push(key);
                continue;
            }
            other => {
                return Err(Failure::new(
                    ExitCode::Usage,
                    format!("unknown argument {other:?}; see exai-shim --help"),
                ));
            }
        };
        let value = inline_value.or_else(|| args.next()).ok_or_else(|| {
            Failure::new(
                ExitCode::Usage,
                format!("{flag} needs a value; see exai-shim --help"),
            )
        })?;
        *slot = Some(value);
    }
    Ok(Command::Run(Box::new(flags)))
}

/// The wrapped server's launch spec from `-- COMMAND ARGS...`, `--share` and `--env`: the
/// command and arguments as given, this process's working directory and environment (variables
/// that are not UTF-8 cannot be sent and are left out, with a warning).
fn server_spec(
    server: Option<Vec<String>>,
    share: Option<String>,
    env_keys: Vec<String>,
) -> Result<Option<exai_proto::ServerSpec>, Failure> {
    let Some(mut words) = server else {
        if share.is_some() || !env_keys.is_empty() {
            return Err(Failure::new(
                ExitCode::Usage,
                "--share and --env apply to a wrapped server: put its command after `--`",
            ));
        }
        return Ok(None);
    };
    let share = match share {
        Some(text) => exai_proto::SharePolicy::parse(&text).ok_or_else(|| {
            Failure::new(
                ExitCode::Usage,
                format!("--share must be shared, workspace or window, not {text:?}"),
            )
        })?,
        None => exai_proto::SharePolicy::Shared,
    };
    let command = words.remove(0);
    let mut env = Vec::new();
    for (key, value) in std::env::vars_os() {
        match (key.into_string(), value.into_string()) {
            (Ok(key), Ok(value)) => env.push((key, value)),
            (key, _) => tracing::warn!(
                variable = ?key.unwrap_or_else(|key| key.to_string_lossy().into_owned()),
                "an environment variable that is not UTF-8 is not passed to the wrapped server"
            ),
        }
    }
    let spec = exai_proto::ServerSpec {
        command,
        args: words,
        cwd: std::env::current_dir()
            .ok()
            .map(|dir| dir.to_string_lossy().into_owned()),
        env,
        env_keys,
        share,
    };
    if spec.wire_len() > exai_proto::limits::SERVER {
        return Err(Failure::new(
            ExitCode::Usage,
            format!(
                "the server's command, arguments and environment take {} bytes, over the hub's \
                 limit of {}; start the shim with a smaller environment",
                spec.wire_len(),
                exai_proto::limits::SERVER
            ),
        ));
    }
    Ok(Some(spec))
}

fn parse_seconds(source: &str, value: &str) -> Result<Duration, Failure> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| {
            Failure::new(
                ExitCode::Usage,
                format!("{source} must be a number of seconds such as 5 or 0.5, not {value:?}"),
            )
        })
}

fn parse_bytes(source: &str, value: &str) -> Result<usize, Failure> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| {
            Failure::new(
                ExitCode::Usage,
                format!("{source} must be a positive number of bytes, not {value:?}"),
            )
        })
}

/// Installs the tracing subscriber: stderr, or `log_file` when given; filter from `EXAI_LOG`.
fn init_logging(log_file: Option<String>) -> Result<(), Failure> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    // `Targets` reads the same `level` and `target=level,...` forms as an env filter does, without
    // a regular-expression engine: the shim starts faster and stays smaller.
    let filter = std::env::var("EXAI_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::WARN));
    let builder = tracing_subscriber::fmt().with_target(false);
    match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|error| {
                    Failure::new(
                        ExitCode::Config,
                        format!("cannot open the log file {path}: {error}; check --log-file or EXAI_SHIM_LOG_FILE"),
                    )
                })?;
            let layer = builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .finish();
            tracing::subscriber::set_global_default(layer.with(filter))
        }
        None => {
            let layer = builder
                .with_ansi(false)
                .with_writer(std::io::stderr)
                .finish();
            tracing::subscriber::set_global_default(layer.with(filter))
        }
    }
    .map_err(|error| Failure::new(ExitCode::Failure, format!("cannot set up logging: {error}")))?;
    // A panic is a bug: log it where the logs go, so it is not lost when stderr is dropped.
    std::panic::set_hook(Box::new(|info| tracing::error!("panic: {info}")));
    Ok(())
}
