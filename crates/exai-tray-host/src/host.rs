//! The host's life: start-up (as the Tauri tray starts: display check, runtime, logs, config,
//! the hub or the words for one already running), then one task that owns the tray's state and
//! follows the hub, the tray icon's clicks, the window process and the settings, until Quit, a
//! stop request or a signal.
//!
//! It logs nothing per hub event: every log record is itself an event here, and a log line per
//! event would feed itself.

use crate::dashboard::{self, Dashboard};
use crate::menu::MenuId;
use crate::settings::SettingsStore;
use crate::sni::{self, Click};
use crate::start::{self, ExitCode, HIDDEN_FLAG, QUIT_FLAG, say};
use crate::status::{self, Context, LookedAt, Model, TrayView};
use crate::window::{Ended, WindowProcess};
use crate::{HOST_PROGRAM, Navigate};
use anyhow::Context as _;
use exai_hub::HubHandle;
use exai_hub::api::HubEvent;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// `EXAI_TRAY_BROWSER=1`: the dashboard always opens in the browser, never in a window.
pub const BROWSER_ENV: &str = "EXAI_TRAY_BROWSER";

/// Whether `value` (from [`BROWSER_ENV`]) asks for the browser.
pub fn browser_forced(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("1" | "true" | "yes"))
}

/// The host binary: runs until the tray quits; returns the exit code.
pub fn run() -> std::process::ExitCode {
    let code = match start_host() {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "EXAI tray failed");
            say(&format!("exai-tray: {err:#}"));
            ExitCode::Failed
        }
    };
    code.into()
}

fn start_host() -> anyhow::Result<ExitCode> {
    if std::env::args().any(|arg| arg == QUIT_FLAG) {
        return start::quit_running();
    }
    if start::missing_display(std::env::consts::OS, |key| std::env::var_os(key)) {
        say("exai-tray: no display: run `exai hub --dashboard` instead, or set DISPLAY");
        return Ok(ExitCode::NoDisplay);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("exai-tray")
        .build()
        .context("cannot start the async runtime")?;
    let begun = match start::begin(&runtime)? {
        Ok(begun) => begun,
        Err(code) => return Ok(code),
    };
    let start::Begun {
        hub,
        hub_task,
        settings,
        endpoint_override,
        log_guard,
    } = begun;
    let hub_task = runtime.spawn(hub_task.run());
    let launcher = launcher();
    match crate::autostart::LoginItem::new(&launcher) {
        Ok(item) => settings.attach_autostart(Box::new(item)),
        Err(err) => tracing::warn!(error = %format!("{err:#}"), "start at login is not available"),
    }
    let host = Host {
        hub: hub.clone(),
        settings: Arc::new(settings),
        endpoint_override,
        launcher,
        show_window: !std::env::args().any(|arg| arg == HIDDEN_FLAG),
    };
    runtime.block_on(async move {
        host.run().await;
        hub.shutdown();
        match hub_task.await {
            Ok(Ok(())) => tracing::info!("hub stopped"),
            Ok(Err(err)) => tracing::error!(error = %format!("{err:#}"), "the hub failed"),
            Err(err) => tracing::error!(error = %err, "the hub task failed"),
        }
    });
    tracing::info!("EXAI tray stopped");
    log_guard.flush();
    Ok(ExitCode::Ok)
}

/// `exai-tray`, the program the window process and the login item run: beside this one.
fn launcher() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from(HOST_PROGRAM));
    exe.with_file_name(format!("exai-tray{}", std::env::consts::EXE_SUFFIX))
}

struct Host {
    hub: HubHandle,
    settings: Arc<SettingsStore>,
    endpoint_override: Option<String>,
    launcher: PathBuf,
    show_window: bool,
}

/// Everything the host's one task owns.
struct State {
    hub: HubHandle,
    settings: Arc<SettingsStore>,
    model: Model,
    tray: Option<sni::Tray>,
    painted: Option<TrayView>,
    window: WindowProcess,
    dashboard: Dashboard,
    /// A window could not be made once: every later opening goes to the browser.
    no_window: AtomicBool,
}

impl Host {
    async fn run(self) {
        let mut events = self.hub.subscribe();
        let (clicks_tx, mut clicks) = mpsc::unbounded_channel();
        let (window_tx, mut window_events) = mpsc::unbounded_channel();
        let (changed_tx, mut changed) = mpsc::unbounded_channel();
        let icon_dir = icon_dir();
        let tray = match sni::start(&icon_dir, clicks_tx).await {
            Ok(tray) => Some(tray),
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "no tray icon: nothing to show it in; the hub runs on");
                None
            }
        };
        let mut state = State {
            hub: self.hub.clone(),
            settings: self.settings.clone(),
            model: Model::default(),
            tray,
            painted: None,
            window: WindowProcess::new(self.launcher, window_tx),
            dashboard: Dashboard::new(
                self.hub.clone(),
                self.endpoint_override,
                self.settings,
                changed_tx,
            ),
            no_window: AtomicBool::new(false),
        };
        match self.hub.snapshot().await {
            Ok(snapshot) => state.model.reset(&snapshot),
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "no first snapshot for the tray");
            }
        }
        state.paint().await;
        if self.show_window {
            state.show_dashboard(Navigate::Stay).await;
        }
        let (no_host_tx, mut no_host) = mpsc::unbounded_channel();
        tokio::spawn(check_tray_host(no_host_tx));
        let stopping = self.hub.clone();
        let stop = async move {
            tokio::select! {
                () = exai_ipc::shutdown_signal() => tracing::info!("stop requested by signal"),
                () = stopping.stopping() => tracing::info!("the hub is stopping"),
            }
        };
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                event = events.next() => {
                    let Some(event) = event else { break };
                    state.on_hub_event(event).await;
                }
                Some(click) = clicks.recv() => {
                    if state.on_click(click).await {
                        tracing::info!("quitting");
                        break;
                    }
                }
                Some(event) = window_events.recv() => {
                    match state.window.apply(event) {
                        Some(Ended::Released) => {
                            tracing::info!("dashboard window released");
                            // Asked again while it was ending: a new window then.
                            if let Some(target) = state.window.take_unanswered() {
                                state.show_dashboard(target).await;
                            }
                        }
                        Some(Ended::NeverShown) => {
                            state.no_webview("the window process ended before it showed its window".to_owned(), Navigate::Stay).await;
                        }
                        None => {}
                    }
                    if state.window.in_view() {
                        state.looked_at(LookedAt::Everything).await;
                    }
                }
                Some(()) = changed.recv() => {
                    state.painted = None;
                    state.paint().await;
                }
                Some(()) = no_host.recv() => state.show_dashboard(Navigate::Stay).await,
            }
        }
        state.window.close();
        drop(state.tray.take());
        if let Err(err) = std::fs::remove_dir_all(&icon_dir) {
            tracing::debug!(error = %err, "cannot remove the tray icons' folder");
        }
    }
}

/// A folder of this process's own for the icon files, in the user's runtime directory (where
/// appindicator puts them too).
fn icon_dir() -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .unwrap_or_else(std::env::temp_dir);
    base.join(format!("exai-tray-{}", std::process::id()))
}

/// Asks the bus once whether anything shows tray icons; when not, says so (a WARN line, a
/// notification) and asks for the window.
async fn check_tray_host(open: mpsc::UnboundedSender<()>) {
    let os = std::env::consts::OS;
    let watcher = match crate::watcher::watcher_present().await {
        Ok(present) => Some(present),
        Err(error) => {
            tracing::debug!(error = %error, "cannot ask the session bus for a tray host");
            None
        }
    };
    let Some(message) = crate::watcher::advice(os, watcher) else {
        return;
    };
    tracing::warn!("{message}");
    crate::notify::tell("EXAI: no tray icon on this desktop", message.to_owned());
    let _ = open.send(());
}

impl State {
    async fn on_hub_event(&mut self, event: HubEvent) {
        let mut changed = self.model.apply(&event);
        match event {
            HubEvent::Notice { notice } if self.settings.notifications() => {
                crate::notify::show(notice);
            }
            HubEvent::FocusRequested { session } => {
                tracing::info!(?session, "another EXAI tray asked to show the dashboard");
                self.show_dashboard(session.map_or(Navigate::Stay, Navigate::Session))
                    .await;
            }
            HubEvent::Lagged { .. } => {
                if let Ok(snapshot) = self.hub.snapshot().await {
                    self.model.reset(&snapshot);
                    changed = true;
                }
            }
            _ => {}
        }
        if changed {
            if self.window.in_view() {
                self.model.look_at(LookedAt::Everything);
            }
            self.paint().await;
        }
    }

    /// Returns whether the user asked to quit.
    async fn on_click(&mut self, click: Click) -> bool {
        let id = match click {
            Click::Activate => MenuId::OpenDashboard,
            Click::Menu(id) => id,
        };
        match id {
            MenuId::Header => {}
            MenuId::Session(session) => self.show_dashboard(Navigate::Session(session)).await,
            MenuId::OpenDashboard => self.show_dashboard(Navigate::Stay).await,
            MenuId::OpenInBrowser => {
                self.looked_at(LookedAt::Everything).await;
                self.dashboard.open_in_browser(Navigate::Stay).await;
            }
            MenuId::Reconnect => {
                tracing::info!("reconnect requested from the tray menu");
                self.hub.reconnect_upstream();
            }
            MenuId::Connect => self.show_dashboard(Navigate::Connect).await,
            MenuId::OpenLogs => match self.settings.get().log_dir {
                Some(dir) => {
                    if let Err(err) = dashboard::open_path(std::ffi::OsStr::new(&dir)) {
                        tracing::warn!(dir, error = %format!("{err:#}"), "cannot open the log folder");
                    }
                }
                None => tracing::warn!("no log folder to open"),
            },
            MenuId::Notifications => {
                if let Err(err) = self.settings.toggle_notifications() {
                    tracing::warn!(error = %format!("{err:#}"), "cannot change the notifications setting");
                }
                self.painted = None;
                self.paint().await;
            }
            MenuId::Quit => return true,
        }
        false
    }

    async fn looked_at(&mut self, what: LookedAt) {
        self.model.look_at(what);
        self.paint().await;
    }

    /// Shows the dashboard at `target`: the window process, or the browser where no window can
    /// be made (or [`BROWSER_ENV`] says so).
    async fn show_dashboard(&mut self, target: Navigate) {
        self.looked_at(match target {
            Navigate::Session(id) => LookedAt::Session(id),
            Navigate::Stay | Navigate::Connect => LookedAt::Everything,
        })
        .await;
        let forced = browser_forced(std::env::var(BROWSER_ENV).ok().as_deref());
        if forced || self.no_window.load(Ordering::Relaxed) {
            self.dashboard.open_in_browser(target).await;
            return;
        }
        let link = match self.dashboard.link().await {
            Ok(link) => link,
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "cannot serve the dashboard");
                return;
            }
        };
        if let Err(err) = self.window.show(target, || link.address(target)) {
            let why = link.redact(&format!("{err:#}"));
            self.no_webview(why, target).await;
        }
    }

    /// No window can be made (`why`): says so once, and from now on every opening goes to the
    /// browser, this one first.
    async fn no_webview(&mut self, why: String, target: Navigate) {
        if !self.no_window.swap(true, Ordering::Relaxed) {
            let message = format!(
                "The dashboard window cannot be made on this system ({why}); the dashboard opens in your web browser instead."
            );
            tracing::warn!("{message}");
            crate::notify::tell("EXAI: dashboard in your browser", message);
        }
        self.dashboard.open_in_browser(target).await;
    }

    /// Repaints the tray when what it shows changed; one line per change of what the icon says.
    async fn paint(&mut self) {
        let Some(tray) = &self.tray else { return };
        let context = Context {
            notifications: self.settings.notifications(),
        };
        let view = status::view(&self.model, context);
        if self.painted.as_ref() == Some(&view) {
            return;
        }
        let said = |view: &TrayView| (view.colour, view.tooltip.clone());
        let announce = self.painted.as_ref().map(said) != Some(said(&view));
        match tray.paint(&view).await {
            Ok(()) => {
                if announce {
                    tracing::info!(colour = ?view.colour, tooltip = %view.tooltip, "tray updated");
                }
                self.painted = Some(view);
            }
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "cannot update the tray");
                self.painted = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_yes_forces_the_browser() {
        for yes in ["1", "true", "yes", " 1 "] {
            assert!(browser_forced(Some(yes)), "{yes:?}");
        }
        for no in [None, Some(""), Some("0"), Some("no"), Some("false")] {
            assert!(!browser_forced(no), "{no:?}");
        }
    }
}
