//! Starting the app for real: the display check, the runtime, logging, the hub config and the
//! hub, and what to say when another hub already owns the endpoint.
//!
//! Everything here runs before any window exists, so failures are one line on stderr (the only
//! place the tray prints) plus the log file.

use crate::logs::{self, LogConfig, LogGuard};
use crate::settings::{self, SettingsStore};
use crate::{Autostart, HIDDEN_FLAG, QUIT_FLAG, Shell, quit, run_app, stop_hub};
use anyhow::Context as _;
use exai_hub::Hub;
use exai_hub::HubHandle;
use exai_hub::api::HostKind;
use exai_hub::config::HubConfig;
use exai_hub::control::ControlError;
use exai_hub::logring::LogRing;
use exai_hub::start::{self, ConfigError, ConfigFile, ConfigRequest, Flags, StartError};
use std::ffi::OsString;
use tauri::{Manager as _, RunEvent};

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
pub(crate) fn say(line: &str) {
    eprintln!("{line}");
}

pub(crate) fn start() -> anyhow::Result<ExitCode> {
    if std::env::args().any(|arg| arg == QUIT_FLAG) {
        return quit_running();
    }
    keep_gdk_off_gl();
    if missing_display(std::env::consts::OS, |key| std::env::var_os(key)) {
        say("exai-tray: no display: run `exai hub --dashboard` instead, or set DISPLAY");
        return Ok(ExitCode::NoDisplay);
    }
    // One runtime for Tauri and the hub (STYLE.md section 1): Tauri spawns its async commands
    // and our tasks on it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("exai-tray")
        .build()
        .context("cannot start the async runtime")?;
    tauri::async_runtime::set(runtime.handle().clone());

    let dirs = directories::ProjectDirs::from("", "", "exai")
        .context("cannot find the home directory for settings and logs")?;
    // The same folder as the autostarted hub's log (exai_ipc::log_dir), so "Open logs folder"
    // shows every EXAI log.
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
            return Ok(code);
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
    let hub_task = tauri::async_runtime::spawn(hub_task.run());

    let (settings, warning) =
        SettingsStore::load(dirs.config_dir().join(settings::FILE_NAME), Some(log_dir));
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }
    let shell = Shell {
        hub,
        hub_task: Some(hub_task),
        settings,
        endpoint_override,
        autostart: Autostart::Plugin,
        tray: true,
        show_window: !std::env::args().any(|arg| arg == HIDDEN_FLAG),
    };
    let app = run_app(tauri::Builder::default(), shell).context("cannot start the app")?;
    app.manage(log_guard);

    let stopper = app.handle().clone();
    let hub = app.state::<HubHandle>().inner().clone();
    tauri::async_runtime::spawn(async move {
        tokio::select! {
            () = exai_ipc::shutdown_signal() => tracing::info!("stop requested by signal"),
            // A control client's stop (`exai-tray --quit`), or our own Quit.
            () = hub.stopping() => tracing::info!("the hub is stopping"),
        }
        quit(&stopper);
    });

    app.run(|app, event| match event {
        // Closing the window only hides it (see run_app); the tray stays until Quit.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            tauri::async_runtime::block_on(stop_hub(app));
            tracing::info!("EXAI tray stopped");
            app.state::<LogGuard>().flush();
        }
        _ => {}
    });
    Ok(ExitCode::Ok)
}

/// `exai-tray --quit`: asks the hub on the endpoint (the tray's, or an `exai hub`) to stop and
/// waits for its process to end, so its files can be replaced (the Windows uninstaller runs
/// this). Nothing running is not an error.
fn quit_running() -> anyhow::Result<ExitCode> {
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
async fn already_running(endpoint_override: Option<&str>, err: StartError) -> ExitCode {
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
fn load_config() -> anyhow::Result<HubConfig> {
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

/// Tells GDK not to set up OpenGL in this process (`GDK_GL=disable`), unless the user chose a
/// `GDK_GL` of their own.
///
/// On X11, GTK 3 opens GLX when it opens the display, only to pick visuals, and that loads the
/// system's OpenGL driver (Mesa's megadriver with LLVM: about 32 MiB of a tray that would
/// otherwise idle at half that). The tray draws no GL; WebKit renders the page in its own web
/// process and shows it without GDK's GL context. See ARCHITECTURE.md, "Decisions".
fn keep_gdk_off_gl() {
    if std::env::var_os("GDK_GL").is_none() {
        // SAFETY: the first thing the binary does, on the main thread, before the runtime,
        // logging or GTK start a thread: nothing can read the environment concurrently.
        unsafe { std::env::set_var("GDK_GL", "disable") };
    }
}

/// Whether this is a desktop without a display server to talk to (GTK would abort).
///
/// A runtime check on the target's name rather than a `cfg`: platform `cfg`s live in exai-ipc.
fn missing_display(os: &str, var: impl Fn(&str) -> Option<OsString>) -> bool {
    let uses_x11_or_wayland =
        matches!(os, "linux" | "freebsd" | "dragonfly" | "netbsd" | "openbsd");
    uses_x11_or_wayland
        && ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .all(|key| var(key).is_none_or(|value| value.is_empty()))
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
