//! Whether anything shows the tray icon. On Linux a tray icon is a StatusNotifierItem, and only
//! a StatusNotifier host (KDE, most panels, GNOME with the AppIndicator extension) shows it; the
//! host finds items through the `org.kde.StatusNotifierWatcher` name on the session bus. On
//! GNOME without the extension nobody owns that name: the icon is invisible and, with it, the
//! only way to the dashboard. Then the tray says so once (a WARN line, a notification) and opens
//! the dashboard window, so the app stays reachable.
//!
//! [`advice`] is the pure rule; [`watch`] asks the bus once at start. Only Linux is asked:
//! Windows and macOS always have a place for tray icons.

use crate::{Navigate, show_dashboard};
use tauri::{AppHandle, Runtime};

/// The bus name a StatusNotifier watcher owns.
pub const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// What to tell the user, if anything: `os` is `std::env::consts::OS`, `watcher` whether the
/// watcher's name has an owner (`None`: could not tell, e.g. no session bus; then nothing is
/// said, since a wrong warning is worse than none).
pub fn advice(os: &str, watcher: Option<bool>) -> Option<&'static str> {
    match (os, watcher) {
        ("linux", Some(false)) => Some(
            "No system tray is showing the EXAI icon: nothing on this desktop hosts tray icons \
             (no StatusNotifierWatcher on the session bus; on GNOME, install and enable the \
             AppIndicator and KStatusNotifierItem extension). The dashboard window stays open \
             instead: closing it keeps EXAI running; start EXAI Tray again to bring it back.",
        ),
        _ => None,
    }
}

/// Asks the session bus whether a StatusNotifier watcher runs.
async fn watcher_present() -> zbus::Result<bool> {
    let connection = zbus::Connection::session().await?;
    let bus = zbus::fdo::DBusProxy::new(&connection).await?;
    Ok(bus.name_has_owner(WATCHER.try_into()?).await?)
}

/// Checks once, in the background, and when no host shows the icon: logs it, shows a
/// notification and opens the dashboard window.
pub fn watch<R: Runtime>(app: &AppHandle<R>) {
    let os = std::env::consts::OS;
    if os != "linux" {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let watcher = match watcher_present().await {
            Ok(present) => Some(present),
            Err(error) => {
                tracing::debug!(error = %error, "cannot ask the session bus for a tray host");
                None
            }
        };
        let Some(message) = advice(os, watcher) else {
            return;
        };
        tracing::warn!("{message}");
        tauri::async_runtime::spawn_blocking(move || {
            let shown = crate::notify::notification()
                .summary("EXAI: no tray icon on this desktop")
                .body(message)
                .show();
            if let Err(error) = shown {
                tracing::debug!(error = %error, "could not show the no-tray notification");
            }
        });
        let handle = app.clone();
        if let Err(error) = app.run_on_main_thread(move || show_dashboard(&handle, Navigate::Stay))
        {
            tracing::warn!(error = %error, "cannot open the dashboard window");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_linux_desktop_without_a_watcher_gets_the_advice() {
        let advice_text = advice("linux", Some(false)).expect("advice");
        assert!(
            advice_text.contains("StatusNotifierWatcher"),
            "{advice_text}"
        );
        assert!(
            advice_text.contains("dashboard window stays open"),
            "{advice_text}"
        );
        assert_eq!(advice("linux", Some(true)), None);
        assert_eq!(advice("linux", None), None, "no session bus: say nothing");
        assert_eq!(advice("windows", Some(false)), None);
        assert_eq!(advice("macos", Some(false)), None);
    }
}
