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
use exai_tray_host::watcher::{advice, watcher_present};
use tauri::{AppHandle, Runtime};

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
