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

mod commands;
mod forward;
pub mod logs;
mod notify;
pub mod settings;
mod start;
pub mod status;
pub mod tray;

pub use commands::UiError;
pub use forward::ShellTx;
pub use start::ExitCode;

use crate::settings::{AutostartSwitch, SettingsStore};
use crate::status::LookedAt;
use exai_hub::HubHandle;
use exai_proto::SessionId;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter as _, Manager as _, Runtime, WindowEvent};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_opener::OpenerExt as _;

/// The dashboard window's label (tauri.conf.json).
pub const MAIN_WINDOW: &str = "main";
/// Every hub event goes to the page under this name (docs/dashboard-api.md).
pub const HUB_EVENT: &str = "hub-event";
/// The tray menu moves the page with this event (docs/dashboard-api.md).
pub const NAVIGATE: &str = "navigate";
/// Passed by the login item: start in the tray without showing the window.
pub const HIDDEN_FLAG: &str = "--hidden";

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

/// The hub task, taken once on quit.
struct HubRun(Mutex<Option<JoinHandle<anyhow::Result<()>>>>);

/// Whether the dashboard window is shown and has the focus, kept from its `Focused` events and
/// our own show and hide calls.
///
/// The event forwarder reads this on every change rather than asking the window: a window's
/// getters are blocking round trips to the main thread, which would stall the runtime the hub
/// shares whenever the main thread is busy.
#[derive(Default)]
pub(crate) struct DashboardView {
    shown: AtomicBool,
    focused: AtomicBool,
}

impl DashboardView {
    /// The user is looking at the dashboard.
    pub(crate) fn in_view(&self) -> bool {
        self.shown.load(Ordering::Relaxed) && self.focused.load(Ordering::Relaxed)
    }

    fn set_shown(&self, shown: bool) {
        self.shown.store(shown, Ordering::Relaxed);
    }

    fn set_focused(&self, focused: bool) {
        self.focused.store(focused, Ordering::Relaxed);
    }
}

/// Where the tray menu sends the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Navigate {
    /// Show the window as the user left it.
    Stay,
    /// One session's page.
    Session(SessionId),
    /// "Connect an editor".
    Connect,
}

impl Navigate {
    fn payload(self) -> Option<serde_json::Value> {
        match self {
            Navigate::Stay => None,
            Navigate::Session(id) => {
                Some(serde_json::json!({ "view": "session", "id": id.to_string() }))
            }
            Navigate::Connect => Some(serde_json::json!({ "view": "connect" })),
        }
    }
}

/// The binary: checks the display, starts the runtime, logging and the hub, then runs the app.
pub fn run() -> std::process::ExitCode {
    let code = match start::start() {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "EXAI tray failed");
            start::say(&format!("exai-tray: {err:#}"));
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
        .manage(HubRun(Mutex::new(hub_task)))
        .manage(DashboardView::default())
        .invoke_handler(tauri::generate_handler![
            commands::snapshot,
            commands::logs,
            commands::tools,
            commands::session_requests,
            commands::reconnect_upstream,
            commands::dismiss,
            commands::connect_info,
            commands::settings,
            commands::set_settings,
        ])
        .on_window_event(|window, event| match event {
            WindowEvent::CloseRequested { api, .. } if window.label() == MAIN_WINDOW => {
                // The app lives in the tray: closing the window hides it.
                api.prevent_close();
                match window.hide() {
                    Ok(()) => window.state::<DashboardView>().set_shown(false),
                    Err(err) => tracing::warn!(error = %err, "cannot hide the dashboard"),
                }
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
            let tray = if tray {
                Some(tray::create(app.handle())?)
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
                commands::connect_status,
                commands::connect_editor,
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

/// Shows and focuses the dashboard window, then moves the page to `target`.
pub fn show_dashboard<R: Runtime>(app: &AppHandle<R>, target: Navigate) {
    match app.get_webview_window(MAIN_WINDOW) {
        Some(window) => {
            let shown = window.unminimize().and_then(|()| window.show());
            if shown.is_ok() {
                app.state::<DashboardView>().set_shown(true);
            }
            // The focus itself is reported by the window's `Focused` event.
            if let Err(err) = shown.and_then(|()| window.set_focus()) {
                tracing::warn!(error = %err, "cannot show the dashboard");
            }
        }
        None => tracing::warn!("the dashboard window is missing"),
    }
    if let Some(payload) = target.payload()
        && let Err(err) = app.emit_to(MAIN_WINDOW, NAVIGATE, payload)
    {
        tracing::warn!(error = %err, "cannot move the dashboard");
    }
    app.state::<ShellTx>().looked_at(match target {
        Navigate::Session(id) => LookedAt::Session(id),
        Navigate::Stay | Navigate::Connect => LookedAt::Everything,
    });
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

/// Stops the hub (shims are told) and waits for its task, once; later calls return at once.
pub async fn stop_hub<R: Runtime>(app: &AppHandle<R>) {
    app.state::<HubHandle>().shutdown();
    let task = app
        .state::<HubRun>()
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    if let Some(task) = task {
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
    fn navigate_payloads_follow_the_dashboard_contract() {
        assert_eq!(Navigate::Stay.payload(), None);
        assert_eq!(
            Navigate::Session(SessionId(0xab)).payload(),
            Some(serde_json::json!({ "view": "session", "id": "00000000000000ab" }))
        );
        assert_eq!(
            Navigate::Connect.payload(),
            Some(serde_json::json!({ "view": "connect" }))
        );
    }
}
