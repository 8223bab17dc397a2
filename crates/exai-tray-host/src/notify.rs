//! Toasts: each hub [`Notice`] becomes one desktop notification (notify-rust; on Linux the
//! freedesktop Notify call over D-Bus).
//!
//! The hub already merged bursts and debounced a flapping daemon, so this module shows what it is
//! given, once. Showing is a side effect of the shell only: a failed toast (no notification
//! daemon, no session bus) is logged and forgotten, never propagated. The call blocks on D-Bus,
//! so it runs on tokio's blocking pool (a thread of its own outside a runtime), off the async
//! worker threads.

use exai_hub::api::Notice;

/// The application name toasts carry.
pub const APP_NAME: &str = "EXAI Tray";
/// The AppUserModelID Windows shows toasts under: the installer registers it with the app's
/// name and icon, and gives the Start-menu shortcut the same id (packaging/windows/exai.nsi).
pub const APP_ID: &str = "dev.exai.tray";

/// A notification from this app: its name, and on Windows its AppUserModelID.
pub fn notification() -> notify_rust::Notification {
    let mut notification = notify_rust::Notification::new();
    notification.appname(APP_NAME);
    exai_ipc::toast_app_id!(notification, APP_ID);
    notification
}

/// Shows `notice` as a toast in the background.
pub fn show(notice: Notice) {
    off_thread(move || {
        let result = notification()
            .summary(&notice.title)
            .body(&notice.body)
            .show();
        match result {
            Ok(_) => tracing::debug!(kind = ?notice.kind, title = %notice.title, "toast shown"),
            Err(error) => tracing::warn!(
                kind = ?notice.kind,
                title = %notice.title,
                error = %error,
                "could not show a toast"
            ),
        }
    });
}

/// Shows a message of the shell's own (not a hub notice) in the background; a failure is
/// logged at debug, since the message is also in the log.
pub fn tell(summary: &'static str, body: String) {
    off_thread(move || {
        let result = notification().summary(summary).body(&body).show();
        if let Err(error) = result {
            tracing::debug!(summary, error = %error, "could not show a notification");
        }
    });
}

/// Runs `work` on the runtime's blocking pool, or on a thread of its own outside a runtime.
fn off_thread(work: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn_blocking(work);
        }
        Err(_) => {
            let spawned = std::thread::Builder::new()
                .name("exai-tray::notify".to_owned())
                .spawn(work);
            if let Err(error) = spawned {
                tracing::debug!(error = %error, "cannot start a thread for a notification");
            }
        }
    }
}
