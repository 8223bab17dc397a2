//! The tray's own settings (start at login, toasts), persisted as a small JSON file next to the
//! hub's `config.toml` and loaded at start.
//!
//! The file is read and written through `serde_json::Value`, not a derived type: only `hub::api`
//! types derive `Serialize` (ARCHITECTURE.md), and what the dashboard sees is
//! [`exai_hub::api::Settings`]. A missing file means defaults; a broken one is reported and
//! replaced by defaults on the next change, never fatal.

use anyhow::Context as _;
use exai_hub::api::{HostKind, Settings};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The file name in the config directory.
pub const FILE_NAME: &str = "tray.json";

/// Turns "start at login" on and off (`tauri-plugin-autostart` in the app, a fake in tests).
pub trait AutostartSwitch: Send + Sync {
    /// Registers or unregisters the app to start at login.
    fn set(&self, enabled: bool) -> anyhow::Result<()>;
}

/// The values kept in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Prefs {
    autostart: bool,
    notifications: bool,
}

impl Default for Prefs {
    fn default() -> Prefs {
        // Start at login is opt-in; toasts are how a lost window is noticed, so they start on.
        Prefs {
            autostart: false,
            notifications: true,
        }
    }
}

impl Prefs {
    fn from_json(value: &Value) -> Prefs {
        let defaults = Prefs::default();
        let flag =
            |key: &str, default: bool| value.get(key).and_then(Value::as_bool).unwrap_or(default);
        Prefs {
            autostart: flag("autostart", defaults.autostart),
            notifications: flag("notifications", defaults.notifications),
        }
    }

    fn to_json(self) -> Value {
        json!({ "autostart": self.autostart, "notifications": self.notifications })
    }
}

/// The settings, their file, and the autostart switch. Shared by commands, the tray menu and the
/// event forwarder; the lock is held only to read or swap two booleans.
pub struct SettingsStore {
    file: PathBuf,
    log_dir: Option<PathBuf>,
    prefs: Mutex<Prefs>,
    autostart: OnceLock<Box<dyn AutostartSwitch>>,
}

impl SettingsStore {
    /// Loads `file` (missing: defaults). The warning, if any, says why the file was not used.
    pub fn load(file: PathBuf, log_dir: Option<PathBuf>) -> (SettingsStore, Option<String>) {
        let (prefs, warning) = match read(&file) {
            Ok(prefs) => (prefs, None),
            Err(err) => (
                Prefs::default(),
                Some(format!("{err:#}; using default settings")),
            ),
        };
        let store = SettingsStore {
            file,
            log_dir,
            prefs: Mutex::new(prefs),
            autostart: OnceLock::new(),
        };
        (store, warning)
    }

    /// Attaches the autostart switch; until then autostart shows as not available.
    pub fn attach_autostart(&self, switch: Box<dyn AutostartSwitch>) {
        if self.autostart.set(switch).is_err() {
            tracing::warn!("autostart switch attached twice; keeping the first");
        }
    }

    /// The settings in effect, as the dashboard sees them.
    pub fn get(&self) -> Settings {
        let prefs = self.prefs();
        Settings {
            host: HostKind::Tray,
            autostart: self.autostart.get().map(|_| prefs.autostart),
            notifications: Some(prefs.notifications),
            log_dir: self.log_dir.as_ref().map(|dir| dir.display().to_string()),
        }
    }

    /// Whether toasts are on.
    pub fn notifications(&self) -> bool {
        self.prefs().notifications
    }

    /// Applies what the dashboard sent (`None` fields and the read-only ones are left alone),
    /// saves, and returns the settings now in effect.
    pub fn set(&self, wanted: &Settings) -> anyhow::Result<Settings> {
        let mut prefs = self
            .prefs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = *prefs;
        if let Some(notifications) = wanted.notifications {
            next.notifications = notifications;
        }
        let mut switched = None;
        if let Some(autostart) = wanted.autostart
            && autostart != prefs.autostart
        {
            let switch = self
                .autostart
                .get()
                .context("start at login is not available here")?;
            switch
                .set(autostart)
                .with_context(|| format!("cannot {} start at login", turn(autostart)))?;
            next.autostart = autostart;
            switched = Some(switch);
        }
        if next != *prefs {
            if let Err(err) = write(&self.file, next) {
                // The login item and the file must agree: a login item left switched while the
                // file (and so `prefs`) says otherwise makes the next change skip the switch.
                if let Some(switch) = switched
                    && let Err(undo) = switch.set(prefs.autostart)
                {
                    // Nothing agrees now; `prefs` follows the login item, so the next change
                    // switches it again (and saves).
                    prefs.autostart = next.autostart;
                    return Err(err.context(format!(
                        "start at login is {} but not saved, and cannot be turned back: {undo:#}",
                        on_off(next.autostart)
                    )));
                }
                return Err(err);
            }
            *prefs = next;
            tracing::info!(
                autostart = next.autostart,
                notifications = next.notifications,
                "settings changed"
            );
        }
        drop(prefs);
        Ok(self.get())
    }

    /// Flips toasts on or off (the tray menu's check item); returns the new value.
    pub fn toggle_notifications(&self) -> anyhow::Result<bool> {
        let on = !self.notifications();
        self.set(&Settings {
            host: HostKind::Tray,
            autostart: None,
            notifications: Some(on),
            log_dir: None,
        })?;
        Ok(on)
    }

    fn prefs(&self) -> Prefs {
        *self
            .prefs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// "turn on" or "turn off", for messages.
fn turn(on: bool) -> &'static str {
    if on { "turn on" } else { "turn off" }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

fn read(file: &Path) -> anyhow::Result<Prefs> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Prefs::default()),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", file.display())),
    };
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", file.display()))?;
    Ok(Prefs::from_json(&value))
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
fn write(file: &Path, prefs: Prefs) -> anyhow::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&prefs.to_json()).context("cannot encode settings")?;
    let partial = file.with_extension("json.partial");
    std::fs::write(&partial, text + "\n")
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, file).with_context(|| format!("cannot replace {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct FakeSwitch(Arc<AtomicBool>);

    impl AutostartSwitch for FakeSwitch {
        fn set(&self, enabled: bool) -> anyhow::Result<()> {
            self.0.store(enabled, Ordering::SeqCst);
            Ok(())
        }
    }

    /// Records every call; the `fail_from`th (counting from 0) and later ones fail.
    struct RecordingSwitch {
        calls: Arc<Mutex<Vec<bool>>>,
        fail_from: usize,
    }

    impl AutostartSwitch for RecordingSwitch {
        fn set(&self, enabled: bool) -> anyhow::Result<()> {
            let mut calls = self.calls.lock().unwrap();
            calls.push(enabled);
            if calls.len() > self.fail_from {
                anyhow::bail!("the login item is locked");
            }
            Ok(())
        }
    }

    /// A settings file whose directory cannot exist: its parent is a regular file (a read-only
    /// directory would not stop root).
    fn unwritable(dir: &Path) -> PathBuf {
        let parent = dir.join("not-a-dir");
        std::fs::write(&parent, "").unwrap();
        parent.join(FILE_NAME)
    }

    struct BrokenSwitch;

    impl AutostartSwitch for BrokenSwitch {
        fn set(&self, _enabled: bool) -> anyhow::Result<()> {
            anyhow::bail!("no autostart directory")
        }
    }

    fn wanted(autostart: Option<bool>, notifications: Option<bool>) -> Settings {
        Settings {
            host: HostKind::Tray,
            autostart,
            notifications,
            log_dir: None,
        }
    }

    #[test]
    fn defaults_without_a_file_then_changes_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub").join(FILE_NAME);
        let registered = Arc::new(AtomicBool::new(false));

        let (store, warning) = SettingsStore::load(file.clone(), Some(dir.path().join("logs")));
        assert_eq!(warning, None);
        assert_eq!(
            store.get(),
            Settings {
                host: HostKind::Tray,
                autostart: None,
                notifications: Some(true),
                log_dir: Some(dir.path().join("logs").display().to_string()),
            }
        );
        store.attach_autostart(Box::new(FakeSwitch(registered.clone())));
        assert_eq!(store.get().autostart, Some(false));

        let now = store.set(&wanted(Some(true), Some(false))).unwrap();
        assert_eq!(
            (now.autostart, now.notifications),
            (Some(true), Some(false))
        );
        assert!(registered.load(Ordering::SeqCst));
        assert!(!store.notifications());

        let (reloaded, warning) = SettingsStore::load(file.clone(), None);
        assert_eq!(warning, None);
        reloaded.attach_autostart(Box::new(FakeSwitch(Arc::new(AtomicBool::new(true)))));
        assert_eq!(reloaded.get().autostart, Some(true));
        assert_eq!(reloaded.get().notifications, Some(false));
        assert!(reloaded.toggle_notifications().unwrap());
        let (again, _) = SettingsStore::load(file, None);
        assert!(again.notifications());
    }

    #[test]
    fn none_fields_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        let (store, _) = SettingsStore::load(file.clone(), None);
        store.set(&wanted(None, None)).unwrap();
        assert!(!file.exists(), "nothing changed, nothing written");
        store.set(&wanted(None, Some(false))).unwrap();
        assert!(file.exists());
    }

    #[test]
    fn a_failed_autostart_change_is_an_error_and_is_not_saved() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        let (store, _) = SettingsStore::load(file.clone(), None);
        let unavailable = store.set(&wanted(Some(true), None)).unwrap_err();
        assert!(
            format!("{unavailable:#}").contains("not available"),
            "{unavailable:#}"
        );
        store.attach_autostart(Box::new(BrokenSwitch));
        let err = store.set(&wanted(Some(true), Some(false))).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot turn on start at login: no autostart directory"
        );
        assert_eq!(store.get().autostart, Some(false));
        assert_eq!(store.get().notifications, Some(true), "all or nothing");
        assert!(!file.exists());
    }

    #[test]
    fn a_failed_save_turns_the_login_item_back_and_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = SettingsStore::load(unwritable(dir.path()), None);
        let calls = Arc::new(Mutex::new(Vec::new()));
        store.attach_autostart(Box::new(RecordingSwitch {
            calls: calls.clone(),
            fail_from: usize::MAX,
        }));

        let err = store.set(&wanted(Some(true), None)).unwrap_err();
        assert!(format!("{err:#}").contains("cannot create"), "{err:#}");
        assert_eq!(*calls.lock().unwrap(), [true, false], "switched, then back");
        assert_eq!(store.get().autostart, Some(false));

        // Nothing was left behind to make the next change skip the switch.
        let err = store.set(&wanted(Some(true), None)).unwrap_err();
        assert!(format!("{err:#}").contains("cannot create"), "{err:#}");
        assert_eq!(*calls.lock().unwrap(), [true, false, true, false]);

        // A failed save of another setting touches no login item.
        store.set(&wanted(None, Some(false))).unwrap_err();
        assert_eq!(calls.lock().unwrap().len(), 4);
        assert_eq!(store.get().notifications, Some(true));
    }

    #[test]
    fn a_failed_save_that_cannot_be_undone_follows_the_login_item() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = SettingsStore::load(unwritable(dir.path()), None);
        let calls = Arc::new(Mutex::new(Vec::new()));
        store.attach_autostart(Box::new(RecordingSwitch {
            calls: calls.clone(),
            fail_from: 1,
        }));

        let err = store.set(&wanted(Some(true), None)).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.starts_with("start at login is on but not saved, and cannot be turned back: the login item is locked: cannot create"),
            "{text}"
        );
        assert_eq!(*calls.lock().unwrap(), [true, false]);
        // The login item is on, so the store says so: turning it off switches it again.
        assert_eq!(store.get().autostart, Some(true));
        let err = store.set(&wanted(Some(false), None)).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot turn off start at login: the login item is locked"
        );
        assert_eq!(*calls.lock().unwrap(), [true, false, false]);
    }

    #[test]
    fn a_broken_file_is_reported_and_defaults_are_used() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        std::fs::write(&file, "{ not json").unwrap();
        let (store, warning) = SettingsStore::load(file, None);
        assert!(warning.unwrap().contains("is not valid JSON"));
        assert!(store.notifications());
    }

    #[test]
    fn unknown_keys_and_wrong_types_fall_back_per_key() {
        let prefs = Prefs::from_json(&json!({ "autostart": true, "notifications": "yes", "x": 1 }));
        assert_eq!(
            prefs,
            Prefs {
                autostart: true,
                notifications: true
            }
        );
        assert_eq!(Prefs::from_json(&prefs.to_json()), prefs);
    }
}
