//! EXAI Tray's long-running process on Linux (`exai-tray-host`), and what both tray processes
//! share.
//!
//! On Linux `exai-tray` replaces itself with this program at start (same pid, so autostart
//! entries, installers and a second instance see one tray): it hosts the hub, draws the tray
//! icon through the StatusNotifierItem D-Bus protocol (`sni.rs`), shows toasts, keeps the
//! settings and log files, and serves the dashboard over loopback HTTP (`exai-dashboard`). It
//! links no GUI toolkit and no webview: the dashboard window is another process,
//! `exai-tray --window` (the Tauri webview app), started when the dashboard is opened and ended
//! a while after its window closes, so a hidden tray holds none of WebKit's memory
//! (ARCHITECTURE.md, "A tray that costs nothing while hidden").
//!
//! Shared with the Tauri tray (`src-tauri`, the whole tray on Windows and macOS): the pure tray
//! model ([`status`], [`menu`]), [`settings`], [`logs`], toasts ([`notify`]), the tray-host check
//! ([`watcher`]) and the start-up words ([`start`]). Nothing here may depend on Tauri, GTK or
//! WebKit: that is the point of the crate.
//! Debug logs: `EXAI_LOG=exai_tray_host=debug,exai_hub=debug exai-tray`.

pub mod autostart;
mod dashboard;
mod dbusmenu;
mod host;
pub mod logs;
pub mod menu;
pub mod notify;
pub mod settings;
mod sni;
pub mod start;
pub mod status;
pub mod watcher;
mod window;

pub use host::run;

use exai_proto::SessionId;

/// The program name of the host, found next to `exai-tray`.
pub const HOST_PROGRAM: &str = "exai-tray-host";
/// `exai-tray --window`: the dashboard window process the host starts.
pub const WINDOW_FLAG: &str = "--window";

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
    /// Where a new page starts (its URL's hash, ui/src/router.ts).
    pub fn hash(self) -> String {
        match self {
            Navigate::Stay => String::new(),
            Navigate::Session(id) => format!("#/session/{id}"),
            Navigate::Connect => "#/connect".to_owned(),
        }
    }

    pub fn payload(self) -> Option<serde_json::Value> {
        match self {
            Navigate::Stay => None,
            Navigate::Session(id) => {
                Some(serde_json::json!({ "view": "session", "id": id.to_string() }))
            }
            Navigate::Connect => Some(serde_json::json!({ "view": "connect" })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_page_starts_where_the_menu_sends_it() {
        assert_eq!(Navigate::Stay.hash(), "");
        assert_eq!(Navigate::Connect.hash(), "#/connect");
        assert_eq!(
            Navigate::Session(SessionId(0xab)).hash(),
            "#/session/00000000000000ab"
        );
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
