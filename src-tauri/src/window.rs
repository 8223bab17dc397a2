//! The dashboard window: made when it is first shown, released a while after it is hidden.
//!
//! A tray app idles all day, and a webview is most of its memory: on Linux WebKitGTK runs the
//! page in a web process (about 100 MiB) beside a network process (about 27 MiB), and the
//! window's own GTK and WebKit state sits in ours. So no window exists until the user asks for
//! the dashboard (Open dashboard, a tray click, a session's menu line, a notice, a second
//! instance, or a start without `--hidden`), and a hidden window is destroyed after
//! [`RELEASE_AFTER`] (a reopen within that time is instant; after it, the page loads again in
//! about a second). Destroying the webview ends its web process. WebKit keeps its network
//! process for the life of the app once it has started one (Tauri keeps the web context on
//! Linux for that reason: tauri-apps/tauri#14626), so that one stays after the first opening.
//!
//! Nothing is lost while there is no page: a new page subscribes to `hub-event` first and then
//! loads a snapshot (ui/src/app.ts), and the forwarder skips emitting while no window exists.
//!
//! Where no window can be made (no WebView2 runtime, a webview that fails), the dashboard opens
//! in the browser instead (browser.rs).
//!
//! Window work runs on a blocking thread, never on the main thread in an event handler (where
//! creating a WebView2 window deadlocks on Windows) and never on the runtime the hub shares.

use crate::browser::{self, BrowserDashboard};
use crate::forward::ShellTx;
use crate::status::LookedAt;
use crate::{DashboardView, MAIN_WINDOW, NAVIGATE, Navigate};
use std::time::Duration;
use tauri::{AppHandle, Emitter as _, Manager as _, Runtime, WebviewUrl, WebviewWindow};

/// How long a hidden dashboard keeps its webview before it is released.
pub const RELEASE_AFTER: Duration = Duration::from_secs(60);
/// Overrides [`RELEASE_AFTER`], in seconds (the desktop test uses a short one).
pub const RELEASE_ENV: &str = "EXAI_TRAY_RELEASE_SECS";
/// The window's title (also what the desktop test looks for).
pub const TITLE: &str = "EXAI Tray";

/// [`RELEASE_AFTER`], or the seconds in `value` (from [`RELEASE_ENV`]) when it is a number.
pub fn release_after(value: Option<&str>) -> Duration {
    value
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(RELEASE_AFTER, Duration::from_secs)
}

/// Builds the dashboard window, not yet shown, its page opening at `target`.
///
/// Blocks until the main thread made it: call it off the main thread (see the module docs).
pub fn build<R: Runtime>(app: &AppHandle<R>, target: Navigate) -> tauri::Result<WebviewWindow<R>> {
    let url = WebviewUrl::App(format!("index.html{}", target.hash()).into());
    let window = tauri::WebviewWindowBuilder::new(app, MAIN_WINDOW, url)
        .title(TITLE)
        .inner_size(960.0, 640.0)
        .min_inner_size(640.0, 420.0)
        .center()
        .visible(false)
        .build()?;
    app.state::<DashboardView>().set_exists(true);
    Ok(window)
}

/// Shows and focuses the dashboard, making the window first if there is none, and moves the
/// page to `target`. Returns at once; the window work runs on a blocking thread.
pub fn show_dashboard<R: Runtime>(app: &AppHandle<R>, target: Navigate) {
    // A release scheduled by an earlier hide must not take the window we are about to show.
    app.state::<DashboardView>().next_epoch();
    app.state::<ShellTx>().looked_at(match target {
        Navigate::Session(id) => LookedAt::Session(id),
        Navigate::Stay | Navigate::Connect => LookedAt::Everything,
    });
    if app.state::<BrowserDashboard>().preferred() {
        browser::open(app, target);
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || show(&app, target));
}

fn show<R: Runtime>(app: &AppHandle<R>, target: Navigate) {
    let (window, made) = match app.get_webview_window(MAIN_WINDOW) {
        Some(window) => (window, false),
        None => match build(app, target) {
            Ok(window) => {
                tracing::info!("dashboard window created");
                (window, true)
            }
            Err(err) => {
                browser::fall_back(app, target, err.to_string());
                return;
            }
        },
    };
    let shown = window.unminimize().and_then(|()| window.show());
    if shown.is_ok() {
        app.state::<DashboardView>().set_shown(true);
    }
    // The focus itself is reported by the window's `Focused` event.
    if let Err(err) = shown.and_then(|()| window.set_focus()) {
        tracing::warn!(error = %err, "cannot show the dashboard");
    }
    // A new page starts at `target` from its URL; a running one is told.
    if !made
        && let Some(payload) = target.payload()
        && let Err(err) = app.emit_to(MAIN_WINDOW, NAVIGATE, payload)
    {
        tracing::warn!(error = %err, "cannot move the dashboard");
    }
}

/// The user closed the window: hide it now, release it after the delay unless shown again.
pub(crate) fn hide<R: Runtime>(window: &tauri::Window<R>) {
    match window.hide() {
        Ok(()) => window.state::<DashboardView>().set_shown(false),
        Err(err) => tracing::warn!(error = %err, "cannot hide the dashboard"),
    }
    let app = window.app_handle().clone();
    let epoch = app.state::<DashboardView>().next_epoch();
    let delay = release_after(std::env::var(RELEASE_ENV).ok().as_deref());
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(delay).await;
        let view = app.state::<DashboardView>();
        if view.epoch() != epoch || view.shown() {
            return; // shown again since
        }
        let app = app.clone();
        tauri::async_runtime::spawn_blocking(move || release(&app, epoch));
    });
}

fn release<R: Runtime>(app: &AppHandle<R>, epoch: u64) {
    let view = app.state::<DashboardView>();
    if view.epoch() != epoch || view.shown() {
        return;
    }
    let Some(window) = app.get_webview_window(MAIN_WINDOW) else {
        return;
    };
    view.set_exists(false);
    match window.destroy() {
        Ok(()) => tracing::info!("dashboard window released"),
        Err(err) => {
            view.set_exists(true);
            tracing::warn!(error = %err, "cannot release the dashboard window");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_delay_is_a_minute_unless_the_environment_says_otherwise() {
        assert_eq!(release_after(None), Duration::from_secs(60));
        assert_eq!(release_after(Some("2")), Duration::from_secs(2));
        assert_eq!(release_after(Some(" 0 ")), Duration::ZERO);
        assert_eq!(release_after(Some("soon")), RELEASE_AFTER);
    }
}
