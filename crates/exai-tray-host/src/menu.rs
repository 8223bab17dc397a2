//! The tray menu as data: what each entry does ([`MenuId`], whose string form is the Tauri menu
//! item id) and which entries a [`TrayView`] shows ([`entries`]).
//!
//! Shared by both ways the menu is drawn: the Tauri tray (Windows, macOS, and Linux when the
//! host binary is missing) and the StatusNotifierItem's dbusmenu of the Linux host (`sni.rs`),
//! so the two cannot drift apart. Pure: no toolkit, no D-Bus.

use crate::status::TrayView;
use exai_proto::SessionId;
use std::fmt;
use std::str::FromStr;

/// What a menu entry does; its string form is the Tauri menu item id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuId {
    /// A disabled line of information (the daemon's state, "No editor connected").
    Header,
    /// One session: opens the dashboard on it.
    Session(SessionId),
    /// Shows the dashboard.
    OpenDashboard,
    /// Opens the dashboard in the default browser.
    OpenInBrowser,
    /// Reconnects the daemon now.
    Reconnect,
    /// Opens the "Connect an editor" page.
    Connect,
    /// Opens the log folder in the file manager.
    OpenLogs,
    /// Turns toasts on or off.
    Notifications,
    /// Stops the hub (shims are told) and exits.
    Quit,
}

const SESSION_PREFIX: &str = "session:";

impl MenuId {
    /// The fixed ids; a session's id is `session:<16 hex digits>`.
    fn fixed(self) -> Option<&'static str> {
        Some(match self {
            MenuId::Header => "header",
            MenuId::Session(_) => return None,
            MenuId::OpenDashboard => "open-dashboard",
            MenuId::OpenInBrowser => "open-in-browser",
            MenuId::Reconnect => "reconnect",
            MenuId::Connect => "connect",
            MenuId::OpenLogs => "open-logs",
            MenuId::Notifications => "notifications",
            MenuId::Quit => "quit",
        })
    }
}

impl fmt::Display for MenuId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.fixed()) {
            (_, Some(id)) => f.write_str(id),
            (MenuId::Session(id), None) => write!(f, "{SESSION_PREFIX}{id}"),
            (_, None) => unreachable!("every id but Session is fixed"),
        }
    }
}

/// A menu id this version does not know.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownMenuId(pub String);

impl FromStr for MenuId {
    type Err = UnknownMenuId;

    fn from_str(text: &str) -> Result<MenuId, UnknownMenuId> {
        const FIXED: [MenuId; 8] = [
            MenuId::Header,
            MenuId::OpenDashboard,
            MenuId::OpenInBrowser,
            MenuId::Reconnect,
            MenuId::Connect,
            MenuId::OpenLogs,
            MenuId::Notifications,
            MenuId::Quit,
        ];
        if let Some(id) = FIXED.into_iter().find(|id| id.fixed() == Some(text)) {
            return Ok(id);
        }
        text.strip_prefix(SESSION_PREFIX)
            .and_then(|hex| hex.parse().ok())
            .map(MenuId::Session)
            .ok_or_else(|| UnknownMenuId(text.to_owned()))
    }
}

/// One line of the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuEntry {
    /// A line that does `id` when clicked (`enabled: false`: a line of information).
    Item {
        /// What it does.
        id: MenuId,
        /// What it says.
        label: String,
        /// Whether it can be clicked.
        enabled: bool,
    },
    /// A check item (Notifications).
    Check {
        /// What it does.
        id: MenuId,
        /// What it says.
        label: String,
        /// Whether it is ticked.
        checked: bool,
    },
    /// A separator line.
    Separator,
}

/// The menu for `view`, top to bottom.
pub fn entries(view: &TrayView) -> Vec<MenuEntry> {
    let item = |id: MenuId, label: &str, enabled: bool| MenuEntry::Item {
        id,
        label: label.to_owned(),
        enabled,
    };
    let mut menu = vec![
        item(MenuId::Header, &view.header, false),
        MenuEntry::Separator,
    ];
    if view.sessions.is_empty() {
        menu.push(item(MenuId::Header, "No editor connected", false));
    }
    for line in &view.sessions {
        menu.push(item(MenuId::Session(line.id), &line.text, true));
    }
    menu.extend([
        MenuEntry::Separator,
        item(MenuId::OpenDashboard, "Open dashboard", true),
        item(MenuId::OpenInBrowser, "Open dashboard in browser", true),
        item(MenuId::Reconnect, "Reconnect daemon", true),
        item(MenuId::Connect, "Connect an editor…", true),
        item(MenuId::OpenLogs, "Open logs folder", true),
        MenuEntry::Check {
            id: MenuId::Notifications,
            label: "Notifications".to_owned(),
            checked: view.notifications,
        },
        MenuEntry::Separator,
        item(MenuId::Quit, "Quit EXAI Tray", true),
    ]);
    menu
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_round_trip_through_their_strings() {
        let ids = [
            MenuId::Header,
            MenuId::Session(SessionId(0xabc)),
            MenuId::Session(SessionId(u64::MAX)),
            MenuId::OpenDashboard,
            MenuId::OpenInBrowser,
            MenuId::Reconnect,
            MenuId::Connect,
            MenuId::OpenLogs,
            MenuId::Notifications,
            MenuId::Quit,
        ];
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            let text = id.to_string();
            assert!(seen.insert(text.clone()), "{text} used twice");
            assert_eq!(text.parse::<MenuId>(), Ok(id));
        }
        assert_eq!(
            MenuId::Session(SessionId(0xabc)).to_string(),
            "session:0000000000000abc"
        );
    }

    #[test]
    fn the_menu_lists_sessions_or_says_there_are_none_then_the_actions() {
        use crate::status::{Colour, SessionLine};
        let mut view = TrayView {
            colour: Colour::Grey,
            tooltip: "EXAI: no windows".to_owned(),
            header: "Daemon: connected".to_owned(),
            sessions: Vec::new(),
            notifications: true,
        };
        let labels = |menu: &[MenuEntry]| -> Vec<String> {
            menu.iter()
                .map(|entry| match entry {
                    MenuEntry::Item { label, .. } | MenuEntry::Check { label, .. } => label.clone(),
                    MenuEntry::Separator => "--".to_owned(),
                })
                .collect()
        };
        let empty = entries(&view);
        assert_eq!(
            labels(&empty),
            [
                "Daemon: connected",
                "--",
                "No editor connected",
                "--",
                "Open dashboard",
                "Open dashboard in browser",
                "Reconnect daemon",
                "Connect an editor…",
                "Open logs folder",
                "Notifications",
                "--",
                "Quit EXAI Tray"
            ]
        );
        assert!(empty.contains(&MenuEntry::Check {
            id: MenuId::Notifications,
            label: "Notifications".to_owned(),
            checked: true
        }));
        view.sessions.push(SessionLine {
            id: SessionId(7),
            text: "api (Cursor): ready".to_owned(),
        });
        let one = entries(&view);
        assert_eq!(labels(&one)[2], "api (Cursor): ready");
        assert!(one.contains(&MenuEntry::Item {
            id: MenuId::Session(SessionId(7)),
            label: "api (Cursor): ready".to_owned(),
            enabled: true
        }));
    }

    #[test]
    fn unknown_ids_are_errors() {
        for text in ["", "session:", "session:xyz", "Quit", "open dashboard"] {
            assert_eq!(text.parse::<MenuId>(), Err(UnknownMenuId(text.to_owned())));
        }
    }
}
