//! EXAI Tray (`exai-tray`): the desktop face of the hub.
//!
//! It embeds the hub ([`exai_hub::Hub`]) on the app's own tokio runtime, shows the whole system's
//! state as a tray icon and menu, serves the dashboard (`ui/dist`) in one window, turns hub
//! notices into toasts, and writes daily log files. It owns no hub logic: the hub decides, the
//! shell shows and forwards. `exai hub` is the same hub without the window; whichever starts
//! second on an endpoint says so and exits (the tray by focusing the running tray's dashboard).
//!
//! [`run`] is the binary; [`run_app`] wires state, commands and the event forwarder for any
//! Tauri runtime, so tests drive it with `tauri::test::mock_builder()`.
//! Debug logs: `EXAI_LOG=exai_tray=debug,exai_hub=debug exai-tray`.

pub mod browser;
mod commands;
mod forward;
mod start;
pub mod tray;
pub mod window;
mod window_child;

use exai_tray_host::notify;
pub use exai_tray_host::start::{HIDDEN_FLAG, QUIT_FLAG};
pub use exai_tray_host::{Navigate, logs, settings, status};

pub use commands::UiError;
pub use exai_tray_host::start::ExitCode;
pub use forward::ShellTx;
pub use window::show_dashboard;

use crate::settings::{AutostartSwitch, SettingsStore};
use crate::status::LookedAt;
use exai_hub::HubHandle;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Manager as _, Runtime, WindowEvent};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_opener::OpenerExt as _;

/// The dashboard window's label (the window is made by [`window::build`]).
pub const MAIN_WINDOW: &str = "main";
/// Every hub event goes to the page under this name (docs/dashboard-api.md).
pub const HUB_EVENT: &str = "hub-event";
/// The tray menu moves the page with this event (docs/dashboard-api.md).
pub const NAVIGATE: &str = "navigate";

/// How "start at login" is switched.
pub enum Autostart {
    /// With `tauri-plugin-autostart` (the app).
    Plugin,
    /// With this switch (tests, so no real login item is touched).
    Switch(Box<dyn AutostartSwitch>),
}

/// What [`run_app`] needs: a started hub and the shell's own pieces.
pub struct Shell {
    /// The hub, already bound to its endpoint.
    pub hub: HubHandle,
    /// The hub's task (`HubTask::run`), awaited on quit so shims are told.
    pub hub_task: Option<JoinHandle<anyhow::Result<()>>>,
    /// The tray's settings.
    pub settings: SettingsStore,
    /// The endpoint override the hub runs on (`None`: the default), for the connect snippets.
    pub endpoint_override: Option<String>,
    /// How autostart is switched.
    pub autostart: Autostart,
    /// Build the tray icon (the real app; not under the mock runtime).
    pub tray: bool,
    /// Show the dashboard window at start.
    pub show_window: bool,
}

/// Facts the commands read.
pub struct ShellInfo {
    /// See [`Shell::endpoint_override`].
    pub endpoint_override: Option<String>,
}

/// The hub task, awaited once on quit; the lock is held while it is awaited, so a second
/// [`stop_hub`] (the menu's Quit racing a stop request) returns only once the hub has ended.
struct HubRun(tokio::sync::Mutex<Option<JoinHandle<anyhow::Result<()>>>>);

/// Whether the dashboard window exists, is shown and has the focus, kept from its `Focused`
/// and `Destroyed` events and our own build, show, hide and release calls.
///
/// The event forwarder reads this on every change rather than asking the window: a window's
/// getters are blocking round trips to the main thread, which would stall the runtime the hub
/// shares whenever the main thread is busy.
#[derive(Default)]
pub(crate) struct DashboardView {
    exists: AtomicBool,
    shown: AtomicBool,
    focused: AtomicBool,
    /// Counts shows and hides, so a release scheduled by a hide knows whether one came since.
    epoch: AtomicU64,
}

impl DashboardView {
    /// The user is looking at the dashboard.
    pub(crate) fn in_view(&self) -> bool {
        self.shown() && self.focused.load(Ordering::Relaxed)
    }

    /// A window (and so a page that listens) exists.
    pub(crate) fn exists(&self) -> bool {
        self.exists.load(Ordering::Relaxed)
    }

    pub(crate) fn shown(&self) -> bool {
        self.shown.load(Ordering::Relaxed)
    }

    pub(crate) fn set_exists(&self, exists: bool) {
        self.exists.store(exists, Ordering::Relaxed);
        if !exists {
            self.set_shown(false);
            self.set_focused(false);
        }
    }

    pub(crate) fn set_shown(&self, shown: bool) {
        self.shown.store(shown, Ordering::Relaxed);
    }

    fn set_focused(&self, focused: bool) {
        self.focused.store(focused, Ordering::Relaxed);
    }

    /// Starts a new show or hide; returns its number.
    pub(crate) fn next_epoch(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }
}

/// The binary. On Linux it becomes the toolkit-free host (`exai-tray-host`, same pid) unless it
/// is the dashboard window process (`--window`); elsewhere, or without the host beside it, it
/// checks the display, starts the runtime, logging and the hub, then runs the app.
pub fn run() -> std::process::ExitCode {
    let window = std::env::args().any(|arg| arg == exai_tray_host::WINDOW_FLAG);
    if !window {
        start::become_host();
    }
    let started = if window {
        window_child::run()
    } else {
        start::start()
    };
    let code = match started {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "EXAI tray failed");
            exai_tray_host::start::say(&format!("exai-tray: {err:#}"));
            ExitCode::Failed
        }
    };
    code.into()
}

/// Wires plugins, state, commands, window behaviour and the event forwarder on `builder`.
pub fn run_app<R: Runtime>(
    builder: tauri::Builder<R>,
    shell: Shell,
) -> tauri::Result<tauri::App<R>> {
    let Shell {
        hub,
        hub_task,
        settings,
        endpoint_override,
        autostart,
        tray,
        show_window,
    } = shell;
    let (shell_tx, inbox) = ShellTx::channel();
    let mut builder = builder.plugin(tauri_plugin_opener::init());
    let autostart_plugin = match autostart {
        Autostart::Plugin => {
            builder = builder.plugin(tauri_plugin_autostart::init(
                tauri_plugin_autostart::MacosLauncher::LaunchAgent,
                Some(vec![HIDDEN_FLAG]),
            ));
            true
        }
        Autostart::Switch(switch) => {
            settings.attach_autostart(switch);
            false
        }
    };
    let forwarder_hub = hub.clone();
    builder
        .manage(hub)
        .manage(settings)
        .manage(shell_tx)
        .manage(ShellInfo { endpoint_override })
        .manage(HubRun(tokio::sync::Mutex::new(hub_task)))
        .manage(DashboardView::default())
        .manage(browser::BrowserDashboard::default())
        .invoke_handler(tauri::generate_handler![
            commands::snapshot,
            commands::logs,
            commands::tools,
            commands::session_requests,
            commands::reconnect_upstream,
            commands::restart_server,
            commands::dismiss,
            commands::connect_info,
            commands::connect_status,
            commands::connect_editor,
            commands::connect_wrap_previews,
            commands::connect_wrap,
            commands::settings,
            commands::set_settings,
            commands::upstream_config,
            commands::set_upstream_config,
            commands::test_upstream,
            commands::open_config_file,
        ])
        .on_window_event(|window, event| match event {
            WindowEvent::CloseRequested { api, .. } if window.label() == MAIN_WINDOW => {
                // The app lives in the tray: closing the window hides it, and a while later
                // releases it (window.rs).
                api.prevent_close();
                window::hide(window);
            }
            WindowEvent::Destroyed if window.label() == MAIN_WINDOW => {
                window.state::<DashboardView>().set_exists(false);
            }
            WindowEvent::Focused(focused) if window.label() == MAIN_WINDOW => {
                window.state::<DashboardView>().set_focused(*focused);
                if *focused {
                    window.state::<ShellTx>().looked_at(LookedAt::Everything);
                }
            }
            _ => {}
        })
        .setup(move |app| {
            if autostart_plugin {
                let switch = PluginAutostart(app.handle().clone());
                app.state::<SettingsStore>()
                    .attach_autostart(Box::new(switch));
            }
            // Without a shell to show the icon in (Wine's systray not up yet, a stripped
            // Windows), the hub still runs: shims connect, a second start shows the dashboard,
            // `--quit` and Quit stop it.
            let tray = if tray {
                tray::create(app.handle())
                    .inspect_err(|err| {
                        tracing::warn!(error = %err, "no tray icon: nothing to show it in; the hub runs on");
                    })
                    .ok()
            } else {
                None
            };
            // Subscribe here, not in the task: events from now on reach the page, even those
            // that come before the task first runs.
            let events = forwarder_hub.subscribe();
            tauri::async_runtime::spawn(forward::run(
                app.handle().clone(),
                forwarder_hub,
                events,
                inbox,
                tray,
            ));
            if show_window {
                show_dashboard(app.handle(), Navigate::Stay);
            }
            Ok(())
        })
        .build(tauri::generate_context!())
}

/// `tauri-plugin-autostart` behind the settings' switch.
struct PluginAutostart<R: Runtime>(AppHandle<R>);

impl<R: Runtime> AutostartSwitch for PluginAutostart<R> {
    fn set(&self, enabled: bool) -> anyhow::Result<()> {
        let manager = self.0.autolaunch();
        if enabled {
            manager.enable()?;
        } else {
            manager.disable()?;
        }
        Ok(())
    }
}

/// Opens the log folder in the file manager.
fn open_logs_folder<R: Runtime>(app: &AppHandle<R>) {
    let Some(dir) = app.state::<SettingsStore>().get().log_dir else {
        tracing::warn!("no log folder to open");
        return;
    };
    if let Err(err) = app.opener().open_path(dir.clone(), None::<&str>) {
        tracing::warn!(dir, error = %err, "cannot open the log folder");
    }
}

/// Stops the hub (shims are told), waits for it, then exits the app.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tracing::info!("quitting");
        stop_hub(&app).await;
        app.exit(0);
    });
}

/// Stops the hub (shims are told) and waits for its task; a later or concurrent call returns
/// once the hub has ended.
pub async fn stop_hub<R: Runtime>(app: &AppHandle<R>) {
    app.state::<HubHandle>().shutdown();
    let hub_run = app.state::<HubRun>();
    let mut task = hub_run.0.lock().await;
    if let Some(task) = task.take() {
        match task.await {
            Ok(Ok(())) => tracing::info!("hub stopped"),
            Ok(Err(err)) => tracing::error!(error = %format!("{err:#}"), "the hub failed"),
            Err(err) => tracing::error!(error = %err, "the hub task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_is_in_view_while_shown_and_focused() {
        let view = DashboardView::default();
        assert!(!view.in_view(), "hidden at start");
        view.set_focused(true);
        assert!(!view.in_view(), "focused but never shown");
        view.set_shown(true);
        assert!(view.in_view());
        view.set_focused(false);
        assert!(!view.in_view(), "another window has the focus");
        view.set_focused(true);
        view.set_shown(false);
        assert!(!view.in_view(), "hidden");
    }

    #[test]
    fn a_released_window_is_neither_shown_nor_focused_and_each_show_or_hide_counts() {
        let view = DashboardView::default();
        view.set_exists(true);
        view.set_shown(true);
        view.set_focused(true);
        assert!(view.in_view());
        view.set_exists(false);
        assert!(!view.exists() && !view.shown() && !view.in_view());
        let first = view.next_epoch();
        assert_eq!(view.next_epoch(), first + 1);
        assert_eq!(view.epoch(), first + 1);
    }
}
