//! Whether anything shows the tray icon. On Linux a tray icon is a StatusNotifierItem, and only
//! a StatusNotifier host (KDE, most panels, GNOME with the AppIndicator extension) shows it; the
//! host finds items through the `org.kde.StatusNotifierWatcher` name on the session bus. On
//! GNOME without the extension nobody owns that name: the icon is invisible and, with it, the
//! only way to the dashboard. Then the tray says so once (a WARN line, a notification) and opens
//! the dashboard window, so the app stays reachable.
//!
//! [`advice`] is the pure rule; [`watcher_present`] asks the bus. Only Linux is asked: Windows
//! and macOS always have a place for tray icons. Both tray processes use them: the Linux host
//! (`host.rs`) and the Tauri tray (`src-tauri/src/tray/host.rs`).

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
pub async fn watcher_present() -> zbus::Result<bool> {
    let connection = zbus::Connection::session().await?;
    let bus = zbus::fdo::DBusProxy::new(&connection).await?;
    Ok(bus.name_has_owner(WATCHER.try_into()?).await?)
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
