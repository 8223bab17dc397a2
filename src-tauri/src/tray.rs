//! The tray icon and its menu: paints a [`TrayView`] and turns menu clicks into actions.
//!
//! Built only in the real app (`run_app` with `tray: true`); the mock-runtime tests leave it
//! out. What the menu lists is `exai_tray_host::menu::entries`, which the Linux host's D-Bus
//! menu lists too. The menu is one [`Menu`] whose items are replaced in place on each repaint, because on
//! Linux a tray's menu, once set, cannot be swapped for another. Paint calls come from the event
//! forwarder (on hub events, never on a timer), each as one task on the main thread: there
//! Tauri's tray and menu calls run directly, where from another thread each would wait for a
//! round trip to it.

pub mod host;

use crate::status::{LookedAt, TrayView};
use crate::{Navigate, ShellTx, show_dashboard};
use exai_hub::HubHandle;
use exai_tray_host::menu::{self, MenuEntry};
pub use exai_tray_host::menu::{MenuId, UnknownMenuId};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager as _, Runtime};

/// The tray icon's id.
const TRAY_ID: &str = "exai-tray";

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
        let mut items: Vec<Box<dyn IsMenuItem<R>>> = Vec::new();
        for entry in menu::entries(view) {
            items.push(match entry {
                MenuEntry::Item { id, label, enabled } => Box::new(MenuItem::with_id(
                    app,
                    id.to_string(),
                    label,
                    enabled,
                    None::<&str>,
                )?),
                MenuEntry::Check { id, label, checked } => Box::new(CheckMenuItem::with_id(
                    app,
                    id.to_string(),
                    label,
                    true,
                    checked,
                    None::<&str>,
                )?),
                MenuEntry::Separator => Box::new(PredefinedMenuItem::separator(app)?),
            });
        }
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
