//! The tray icon and its menu: paints a [`TrayView`] and turns menu clicks into actions.
//!
//! Built only in the real app (`run_app` with `tray: true`); the mock-runtime tests leave it
//! out. The menu is one [`Menu`] whose items are replaced in place on each repaint, because on
//! Linux a tray's menu, once set, cannot be swapped for another. Paint calls come from the event
//! forwarder (on hub events, never on a timer), each as one task on the main thread: there
//! Tauri's tray and menu calls run directly, where from another thread each would wait for a
//! round trip to it.

pub mod host;

use crate::status::{LookedAt, TrayView};
use crate::{Navigate, ShellTx, show_dashboard};
use exai_hub::HubHandle;
use exai_proto::SessionId;
use std::fmt;
use std::str::FromStr;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager as _, Runtime};

/// The tray icon's id.
const TRAY_ID: &str = "exai-tray";

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

/// The tray icon and its menu; a clone is a handle to the same ones.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    menu: Menu<R>,
}

// Not derived: that would ask for `R: Clone`.
impl<R: Runtime> Clone for Tray<R> {
    fn clone(&self) -> Tray<R> {
        Tray {
            icon: self.icon.clone(),
            menu: self.menu.clone(),
        }
    }
}

/// Creates the tray icon (grey, "starting") with its menu.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Tray<R>> {
    let menu = Menu::new(app)?;
    let starting = MenuItem::with_id(
        app,
        MenuId::Header.to_string(),
        "EXAI: starting",
        false,
        None::<&str>,
    )?;
    menu.append(&starting)?;
    let icon = TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(crate::status::Colour::Grey.icon_png())?)
        .tooltip("EXAI: starting")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(on_menu_event)
        .on_tray_icon_event(on_tray_icon_event)
        .build(app)?;
    // Nobody may show the icon (GNOME without its extension): then say so and open the window.
    host::watch(app);
    Ok(Tray { icon, menu })
}

impl<R: Runtime> Tray<R> {
    /// Shows `view`: icon, tooltip and the menu's items. Call it on the main thread: elsewhere
    /// each of its twenty-odd Tauri calls blocks until the main thread has run it.
    pub fn paint(&self, view: &TrayView) -> tauri::Result<()> {
        self.icon
            .set_icon(Some(Image::from_bytes(view.colour.icon_png())?))?;
        self.icon.set_tooltip(Some(&view.tooltip))?;
        let app = self.icon.app_handle();
        while self.menu.remove_at(0)?.is_some() {}
        let item = |id: MenuId, text: &str, enabled: bool| {
            MenuItem::with_id(app, id.to_string(), text, enabled, None::<&str>)
        };
        let mut items: Vec<Box<dyn IsMenuItem<R>>> = Vec::new();
        items.push(Box::new(item(MenuId::Header, &view.header, false)?));
        items.push(Box::new(PredefinedMenuItem::separator(app)?));
        if view.sessions.is_empty() {
            items.push(Box::new(item(
                MenuId::Header,
                "No editor connected",
                false,
            )?));
        }
        for line in &view.sessions {
            items.push(Box::new(item(MenuId::Session(line.id), &line.text, true)?));
        }
        items.push(Box::new(PredefinedMenuItem::separator(app)?));
        items.push(Box::new(item(
            MenuId::OpenDashboard,
            "Open dashboard",
            true,
        )?));
        items.push(Box::new(item(
            MenuId::OpenInBrowser,
            "Open dashboard in browser",
            true,
        )?));
        items.push(Box::new(item(MenuId::Reconnect, "Reconnect daemon", true)?));
        items.push(Box::new(item(MenuId::Connect, "Connect an editor…", true)?));
        items.push(Box::new(item(MenuId::OpenLogs, "Open logs folder", true)?));
        items.push(Box::new(CheckMenuItem::with_id(
            app,
            MenuId::Notifications.to_string(),
            "Notifications",
            true,
            view.notifications,
            None::<&str>,
        )?));
        items.push(Box::new(PredefinedMenuItem::separator(app)?));
        items.push(Box::new(item(MenuId::Quit, "Quit EXAI Tray", true)?));
        let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(|item| item.as_ref()).collect();
        self.menu.append_items(&refs)
    }
}

fn on_tray_icon_event<R: Runtime>(icon: &TrayIcon<R>, event: TrayIconEvent) {
    // Left click shows the dashboard where the platform reports clicks (Windows, macOS); on
    // Linux every click opens the menu, which has "Open dashboard".
    if let TrayIconEvent::Click {
        button: MouseButton::Left,
        button_state: MouseButtonState::Up,
        ..
    } = event
    {
        show_dashboard(icon.app_handle(), Navigate::Stay);
    }
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = match event.id().as_ref().parse::<MenuId>() {
        Ok(id) => id,
        Err(UnknownMenuId(id)) => {
            tracing::warn!(id, "click on an unknown menu item");
            return;
        }
    };
    match id {
        MenuId::Header => {}
        MenuId::Session(session) => {
            app.state::<ShellTx>().looked_at(LookedAt::Session(session));
            show_dashboard(app, Navigate::Session(session));
        }
        MenuId::OpenDashboard => show_dashboard(app, Navigate::Stay),
        MenuId::OpenInBrowser => {
            app.state::<ShellTx>().looked_at(LookedAt::Everything);
            crate::browser::open(app, Navigate::Stay);
        }
        MenuId::Reconnect => {
            tracing::info!("reconnect requested from the tray menu");
            app.state::<HubHandle>().reconnect_upstream();
        }
        MenuId::Connect => show_dashboard(app, Navigate::Connect),
        MenuId::OpenLogs => crate::open_logs_folder(app),
        MenuId::Notifications => {
            let settings = app.state::<crate::settings::SettingsStore>();
            if let Err(err) = settings.toggle_notifications() {
                tracing::warn!(error = %format!("{err:#}"), "cannot change the notifications setting");
            }
            // Repaint either way: the check item toggled itself on click.
            app.state::<ShellTx>().settings_changed();
        }
        MenuId::Quit => crate::quit(app),
    }
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
    fn unknown_ids_are_errors() {
        for text in ["", "session:", "session:xyz", "Quit", "open dashboard"] {
            assert_eq!(text.parse::<MenuId>(), Err(UnknownMenuId(text.to_owned())));
        }
    }
}
