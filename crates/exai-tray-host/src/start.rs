//! What both tray processes do the same way before they show anything: the logs, the hub config
//! as `exai hub` loads it, the hub itself ([`begin`]), `exai-tray --quit`, what to say when
//! another hub already owns the endpoint (a tray is asked to show its dashboard), the display
//! check, the settings, and the exit codes.
//!
//! Everything here runs before any window or tray icon exists, so failures are one line on
//! stderr (the only place the tray prints) plus the log file.

use crate::logs::{self, LogConfig, LogGuard};
use crate::settings::{self, SettingsStore};
use anyhow::Context as _;
use exai_hub::api::HostKind;
use exai_hub::config::HubConfig;
use exai_hub::control::ControlError;
use exai_hub::logring::LogRing;
use exai_hub::start::{self, ConfigError, ConfigFile, ConfigRequest, Flags, StartError};
use exai_hub::{Hub, HubHandle, HubTask};
use std::ffi::OsString;

/// Passed by the login item: start in the tray without showing the window.
pub const HIDDEN_FLAG: &str = "--hidden";
/// `exai-tray --quit`: ask the running tray (or hub) to stop, wait for it to end, and exit.
pub const QUIT_FLAG: &str = "--quit";

/// How `exai-tray` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Quit from the menu, or another tray was focused.
    Ok = 0,
    /// It could not start, or a headless hub already owns the endpoint.
    Failed = 1,
    /// No display to draw on (Linux without DISPLAY or WAYLAND_DISPLAY).
    NoDisplay = 2,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> std::process::ExitCode {
        std::process::ExitCode::from(code as u8)
    }
}

/// Prints the one line a user sees when the tray cannot run.
#[allow(
    clippy::print_stderr,
    reason = "the one place the tray talks to a terminal: why it exits, before or instead of a window"
)]
pub fn say(line: &str) {
    eprintln!("{line}");
}

/// `exai-tray --quit`: asks the hub on the endpoint (the tray's, or an `exai hub`) to stop and
/// waits for its process to end, so its files can be replaced (the Windows uninstaller runs
/// this). Nothing running is not an error.
pub fn quit_running() -> anyhow::Result<ExitCode> {
    let endpoint = load_config().ok().and_then(|config| config.endpoint);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let stopped = runtime.block_on(exai_hub::control::stop(
        endpoint.as_deref(),
        std::time::Duration::from_secs(20),
    ));
    Ok(match stopped {
        Ok(host) => {
            let what = match host.kind {
                HostKind::Tray => "EXAI Tray",
                HostKind::Headless => "the EXAI hub (`exai hub`)",
            };
            say(&format!("exai-tray: {what} (pid {}) has quit", host.pid));
            ExitCode::Ok
        }
        Err(ControlError::NotRunning { .. }) => {
            say("exai-tray: no EXAI Tray is running; nothing to quit");
            ExitCode::Ok
        }
        Err(err) => {
            say(&format!(
                "exai-tray: cannot quit the running EXAI Tray: {err}"
            ));
            ExitCode::Failed
        }
    })
}

/// A hub already owns the endpoint: focus it if it is a tray, else explain.
pub async fn already_running(endpoint_override: Option<&str>, err: StartError) -> ExitCode {
    let (host, endpoint) = match err {
        StartError::AlreadyRunning { host, endpoint } => (host, endpoint),
        StartError::NotAnswering { endpoint, error } => return not_answering(&endpoint, &error),
        // Only the two above are passed in.
        other => {
            say(&format!("exai-tray: {other}"));
            return ExitCode::Failed;
        }
    };
    match host.kind {
        HostKind::Tray => match exai_hub::control::focus(endpoint_override, None).await {
            Ok(()) => {
                let pid = host.pid;
                tracing::info!(
                    pid,
                    endpoint,
                    "EXAI tray already running; showed its dashboard"
                );
                say(&format!(
                    "exai-tray: EXAI Tray is already running (pid {pid}); showed its dashboard"
                ));
                ExitCode::Ok
            }
            Err(error) => not_answering(&endpoint, &error),
        },
        HostKind::Headless => {
            let pid = host.pid;
            let dashboard = host
                .dashboard_url
                .map(|url| format!(", or use its dashboard at {url}"))
                .unwrap_or_else(|| ", or use `exai status`".to_owned());
            tracing::warn!(pid, endpoint, "a headless EXAI hub already runs");
            say(&format!(
                "exai-tray: an EXAI hub (`exai hub`, pid {pid}) already runs on {endpoint}: \
                 stop it to use the tray{dashboard}"
            ));
            ExitCode::Failed
        }
    }
}

fn not_answering(endpoint: &str, error: &ControlError) -> ExitCode {
    tracing::warn!(endpoint, error = %error, "a hub already runs but did not answer");
    say(&format!(
        "exai-tray: an EXAI hub already runs on {endpoint} but did not answer ({error}); \
         stop it or try again"
    ));
    ExitCode::Failed
}

/// The hub config as `exai hub` loads it (defaults, file, environment), for the tray.
///
/// A broken config file is logged (the dashboard's log panel shows it) and the defaults are
/// used: nobody reads a tray's stderr. A bad value stops the tray, as it stops `exai hub`.
pub fn load_config() -> anyhow::Result<HubConfig> {
    let env = |key: &str| std::env::var(key).ok();
    let mut request = ConfigRequest {
        host: HostKind::Tray,
        file: ConfigFile::Default,
        flags: Flags::default(),
    };
    let loaded = match start::load_config(&request, env) {
        Err(ConfigError::File(err)) => {
            tracing::error!(error = %format!("{err:#}"), "config file ignored");
            request.file = ConfigFile::Skip;
            start::load_config(&request, env)
        }
        loaded => loaded,
    };
    loaded.map_err(|err| anyhow::Error::from(err).context("cannot start the hub"))
}

/// Whether this is a desktop without a display server to talk to (GTK would abort).
///
/// A runtime check on the target's name rather than a `cfg`: platform `cfg`s live in exai-ipc.
pub fn missing_display(os: &str, var: impl Fn(&str) -> Option<OsString>) -> bool {
    let uses_x11_or_wayland =
        matches!(os, "linux" | "freebsd" | "dragonfly" | "netbsd" | "openbsd");
    uses_x11_or_wayland
        && ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .all(|key| var(key).is_none_or(|value| value.is_empty()))
}

/// A tray's hub, started and not yet run, with what the tray keeps beside it.
pub struct Begun {
    pub hub: HubHandle,
    /// Runs the hub once spawned on the tray's runtime.
    pub hub_task: HubTask,
    pub settings: SettingsStore,
    /// The endpoint the config file names, if any (for the second-instance hand-over).
    pub endpoint_override: Option<String>,
    /// Keep it for the process's life; flush it before exiting.
    pub log_guard: LogGuard,
}

/// What both trays do first: the log files (in `exai_ipc::log_dir`, where the autostarted hub
/// logs too, so "Open logs folder" shows every EXAI log) and the panic hook, the config, the
/// hub on the endpoint, and the tray's settings. `Err(code)` when another hub already owns the
/// endpoint and was told (or its tray asked to show its dashboard): exit with that code.
pub fn begin(runtime: &tokio::runtime::Runtime) -> anyhow::Result<Result<Begun, ExitCode>> {
    let dirs = directories::ProjectDirs::from("", "", "exai")
        .context("cannot find the home directory for settings and logs")?;
    let log_dir = exai_ipc::log_dir().unwrap_or_else(|| dirs.data_local_dir().join("logs"));
    let ring = LogRing::new(exai_hub::logring::DEFAULT_CAPACITY);
    let log_guard =
        LogConfig::from_env(log_dir.clone(), cfg!(debug_assertions), Some(ring.clone())).init()?;
    logs::install_panic_hook();

    let config = load_config()?;
    let endpoint_override = config.endpoint.clone();
    let (hub, hub_task) = match runtime.block_on(Hub::new(config.clone(), Some(ring))) {
        Ok(started) => started,
        Err(err @ (StartError::AlreadyRunning { .. } | StartError::NotAnswering { .. })) => {
            let code = runtime.block_on(already_running(endpoint_override.as_deref(), err));
            log_guard.flush();
            return Ok(Err(code));
        }
        Err(err) => return Err(anyhow::Error::from(err).context("cannot start the hub")),
    };
    tracing::info!(
        endpoint = hub.endpoint(),
        upstream = %config.exai.url,
        pool = config.exai.pool_size,
        log_dir = %log_dir.display(),
        "EXAI tray started"
    );
    let (settings, warning) =
        SettingsStore::load(dirs.config_dir().join(settings::FILE_NAME), Some(log_dir));
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }
    Ok(Ok(Begun {
        hub,
        hub_task,
        settings,
        endpoint_override,
        log_guard,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(set: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let set: Vec<(String, String)> = set
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        move |key| {
            set.iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn linux_needs_an_x11_or_wayland_display() {
        assert!(missing_display("linux", vars(&[])));
        assert!(missing_display("linux", vars(&[("DISPLAY", "")])));
        assert!(!missing_display("linux", vars(&[("DISPLAY", ":99")])));
        assert!(!missing_display(
            "linux",
            vars(&[("WAYLAND_DISPLAY", "wayland-0")])
        ));
        assert!(!missing_display("windows", vars(&[])));
        assert!(!missing_display("macos", vars(&[])));
    }

    #[test]
    fn exit_codes_are_stable() {
        assert_eq!(ExitCode::Ok as u8, 0);
        assert_eq!(ExitCode::Failed as u8, 1);
        assert_eq!(ExitCode::NoDisplay as u8, 2);
    }
}
