//! "Start at login" for the Linux host, the same login item `tauri-plugin-autostart` makes for
//! the Tauri tray (an XDG autostart entry named after the app, through the same `auto-launch`
//! crate), so either process turns off what the other turned on. The entry starts `exai-tray`,
//! not the host: `exai-tray` is the program people install and start.

use crate::settings::AutostartSwitch;
use crate::start::HIDDEN_FLAG;
use anyhow::Context as _;
use std::path::Path;

/// The login item's name: the app's product name, as the Tauri plugin names it.
pub const APP_NAME: &str = "EXAI Tray";

/// The login item for `launcher` (the `exai-tray` program), started with `--hidden`.
pub struct LoginItem(auto_launch::AutoLaunch);

impl LoginItem {
    /// Describes the login item; nothing is written until it is switched.
    pub fn new(launcher: &Path) -> anyhow::Result<LoginItem> {
        let launch = auto_launch::AutoLaunchBuilder::new()
            .set_app_name(APP_NAME)
            .set_app_path(&launcher.display().to_string())
            .set_args(&[HIDDEN_FLAG])
            .build()
            .context("cannot describe the login item")?;
        Ok(LoginItem(launch))
    }
}

impl AutostartSwitch for LoginItem {
    fn set(&self, enabled: bool) -> anyhow::Result<()> {
        if enabled {
            self.0.enable().context("cannot add the login item")
        } else if self.0.is_enabled().unwrap_or(true) {
            self.0.disable().context("cannot remove the login item")
        } else {
            Ok(())
        }
    }
}
