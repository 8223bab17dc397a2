//! The tray icon on Linux without a toolkit: a StatusNotifierItem with a dbusmenu, served over
//! the session bus with zbus, as libayatana-appindicator (what Tauri uses) serves them.
//!
//! The item (`org.kde.StatusNotifierItem` at `/StatusNotifierItem`) registers with the
//! StatusNotifier watcher under the bus name `org.kde.StatusNotifierItem-<pid>-1`; a host (a
//! panel, KDE, GNOME's AppIndicator extension) reads its properties and draws the menu it finds
//! at `/MenuBar` (`com.canonical.dbusmenu`, `dbusmenu.rs`). The icon is a PNG file in a folder
//! of ours under the user's runtime directory, named by `IconName` with `IconThemePath` set to
//! that folder, the way appindicator hands icons over (hosts load such a path directly).
//!
//! What the menu says comes from [`crate::menu::entries`], the same list the Tauri tray paints; a
//! click arrives as a [`MenuId`] on the channel [`start`] was given. A host that clicks the icon
//! itself (`Activate`) asks for the dashboard. Nothing here decides anything.

use crate::dbusmenu::Menu;
use crate::menu::MenuId;
use crate::status::{Colour, TrayView};
use anyhow::Context as _;
use futures_util::StreamExt as _;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;
use zbus::OwnedObjectPath;
use zbus::interface;
use zbus::object_server::SignalEmitter;

/// Where the item is served.
const ITEM_PATH: &str = "/StatusNotifierItem";
/// Where its menu is served.
const MENU_PATH: &str = "/MenuBar";
/// The item's id, the same one Tauri's tray gives it.
const ITEM_ID: &str = "exai-tray";

/// What the user did on the tray icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Click {
    /// A menu line.
    Menu(MenuId),
    /// The icon itself (hosts that activate rather than open the menu).
    Activate,
}

/// The registered tray icon; dropping it leaves the bus (the watcher then forgets the item).
pub struct Tray {
    connection: zbus::Connection,
    icons: IconFiles,
}

/// The icon PNGs, written once into a folder of our own, removed when the tray ends.
struct IconFiles {
    dir: PathBuf,
}

impl IconFiles {
    fn write(dir: PathBuf) -> anyhow::Result<IconFiles> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let files = IconFiles { dir };
        for colour in [Colour::Grey, Colour::Green, Colour::Amber, Colour::Red] {
            let file = files.path(colour);
            std::fs::write(&file, colour.icon_png())
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        Ok(files)
    }

    fn path(&self, colour: Colour) -> PathBuf {
        let name = match colour {
            Colour::Green => "tray-green.png",
            Colour::Amber => "tray-amber.png",
            Colour::Red => "tray-red.png",
            Colour::Grey => "tray-grey.png",
        };
        self.dir.join(name)
    }
}

impl Drop for IconFiles {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.dir) {
            tracing::debug!(dir = %self.dir.display(), error = %err, "cannot remove the tray icons");
        }
    }
}

/// A StatusNotifierItem pixmap: width, height, ARGB32 bytes.
type Pixmap = (i32, i32, Vec<u8>);

/// A StatusNotifierItem tooltip: icon name, icon pixmaps, title, text.
type ToolTip = (String, Vec<Pixmap>, String, String);

/// The item's properties.
struct Item {
    icon_name: String,
    icon_dir: String,
    tooltip: String,
    clicks: mpsc::UnboundedSender<Click>,
}

#[interface(name = "org.kde.StatusNotifierItem")]
impl Item {
    #[zbus(property)]
    fn category(&self) -> &str {
        "ApplicationStatus"
    }

    #[zbus(property)]
    fn id(&self) -> &str {
        ITEM_ID
    }

    #[zbus(property)]
    fn title(&self) -> &str {
        crate::notify::APP_NAME
    }

    #[zbus(property)]
    fn status(&self) -> &str {
        "Active"
    }

    #[zbus(property)]
    fn window_id(&self) -> i32 {
        0
    }

    #[zbus(property)]
    fn icon_name(&self) -> &str {
        &self.icon_name
    }

    #[zbus(property)]
    fn icon_theme_path(&self) -> &str {
        &self.icon_dir
    }

    #[zbus(property)]
    fn icon_pixmap(&self) -> Vec<Pixmap> {
        Vec::new()
    }

    #[zbus(property)]
    fn overlay_icon_name(&self) -> &str {
        ""
    }

    #[zbus(property)]
    fn attention_icon_name(&self) -> &str {
        ""
    }

    #[zbus(property)]
    fn tool_tip(&self) -> ToolTip {
        (
            String::new(),
            Vec::new(),
            self.tooltip.clone(),
            String::new(),
        )
    }

    #[zbus(property)]
    fn item_is_menu(&self) -> bool {
        // Every click opens the menu, as with Tauri's tray on Linux; the menu has "Open
        // dashboard".
        true
    }

    #[zbus(property)]
    fn menu(&self) -> OwnedObjectPath {
        OwnedObjectPath::try_from(MENU_PATH).unwrap_or_default()
    }

    fn activate(&self, _x: i32, _y: i32) {
        let _ = self.clicks.send(Click::Activate);
    }

    fn secondary_activate(&self, _x: i32, _y: i32) {}

    fn context_menu(&self, _x: i32, _y: i32) {}

    fn scroll(&self, _delta: i32, _orientation: String) {}

    #[zbus(signal)]
    async fn new_icon(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;

    #[zbus(signal, name = "NewToolTip")]
    async fn new_tool_tip(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
}

/// Serves the item and its menu (grey, "starting") and registers with the watcher; clicks go
/// to `clicks`. `icon_dir` is a folder of ours for the icon files (made here, removed when the
/// tray ends). Fails when there is no session bus; a watcher that is missing or refuses is
/// logged, not an error (the item stays served, for a watcher that comes later to find).
pub async fn start(icon_dir: &Path, clicks: mpsc::UnboundedSender<Click>) -> anyhow::Result<Tray> {
    let icons = IconFiles::write(icon_dir.to_owned())?;
    let item = Item {
        icon_name: icons.path(Colour::Grey).display().to_string(),
        icon_dir: icons.dir.display().to_string(),
        tooltip: "EXAI: starting".to_owned(),
        clicks: clicks.clone(),
    };
    let menu = Menu::starting(clicks);
    let name = format!("org.kde.StatusNotifierItem-{}-1", std::process::id());
    let connection = zbus::connection::Builder::session()
        .name(name.as_str())
        .serve_at(ITEM_PATH, item)
        .serve_at(MENU_PATH, menu)
        .build()
        .await
        .context("cannot serve the tray icon on the session bus")?;
    register(&connection, &name).await;
    tokio::spawn(register_again(connection.clone(), name));
    Ok(Tray { connection, icons })
}

/// Registers the item `name` with the StatusNotifier watcher; a watcher that is missing or
/// refuses is logged at debug (`watcher.rs` tells the user when nothing shows icons).
async fn register(connection: &zbus::Connection, name: &str) {
    let registered = async {
        let watcher = zbus::Proxy::new(
            connection,
            crate::watcher::WATCHER,
            "/StatusNotifierWatcher",
            crate::watcher::WATCHER,
        )
        .await?;
        watcher
            .call_method("RegisterStatusNotifierItem", &(name,))
            .await
    };
    if let Err(err) = registered.await {
        tracing::debug!(error = %err, "the StatusNotifier watcher did not take the tray icon");
    }
}

/// Registers again whenever a StatusNotifier watcher appears (a panel restarted, or started
/// after us), as appindicator does; ends with the connection.
async fn register_again(connection: zbus::Connection, name: String) {
    let changes = async {
        let bus = zbus::fdo::DBusProxy::new(&connection).await?;
        bus.receive_name_owner_changed().await
    };
    let mut changes = match changes.await {
        Ok(changes) => changes,
        Err(err) => {
            tracing::debug!(error = %err, "cannot follow the StatusNotifier watcher");
            return;
        }
    };
    while let Some(change) = changes.next().await {
        let Ok(args) = change.args() else { continue };
        if args.name().as_str() == crate::watcher::WATCHER && args.new_owner().is_some() {
            tracing::info!("a StatusNotifier watcher appeared; registering the tray icon with it");
            register(&connection, &name).await;
        }
    }
}

impl Tray {
    /// Shows `view`: icon, tooltip and the menu's lines.
    pub async fn paint(&self, view: &TrayView) -> anyhow::Result<()> {
        let server = self.connection.object_server();
        let item = server.interface::<_, Item>(ITEM_PATH).await?;
        {
            let mut item = item.get_mut().await;
            item.icon_name = self.icons.path(view.colour).display().to_string();
            item.tooltip = view.tooltip.clone();
        }
        let emitter = item.signal_emitter();
        Item::new_icon(emitter).await?;
        Item::new_tool_tip(emitter).await?;
        let item = item.get().await;
        item.icon_name_changed(emitter).await?;
        item.tool_tip_changed(emitter).await?;
        drop(item);
        let menu = server.interface::<_, Menu>(MENU_PATH).await?;
        let revision = {
            let mut menu = menu.get_mut().await;
            menu.set(view);
            menu.revision()
        };
        Menu::layout_updated(menu.signal_emitter(), revision, 0).await?;
        Ok(())
    }
}
