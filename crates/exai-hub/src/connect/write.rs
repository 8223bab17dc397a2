//! Reading, merging and writing one editor's file: parse first (nothing is written to a file
//! that does not parse), a backup copy before the first byte changes, an atomic replace, and
//! nothing at all when the entry is already there.
//!
//! [`ServersFile`] is the one interface over the two formats: list the servers, set one.
//! Connecting sets `exai`; wrapping the editor's other servers through the shim
//! (`super::wrap`) reads [`ServersFile::servers`] and sets each one's `command` and `args`
//! with [`ServersFile::with_server_keys`].

use super::editor::{Format, Target};
use super::jsonc::{self, Entry};
use super::tomlfile::TomlDoc;
use anyhow::Context as _;
use serde_json::Value;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// One editor's file, parsed.
pub enum ServersFile<'a> {
    /// JSON or JSONC, servers at the path.
    Json(jsonc::Doc<'a>, &'static [&'static str]),
    /// TOML, servers at the path.
    Toml(TomlDoc<'a>, &'static [&'static str]),
}

impl<'a> ServersFile<'a> {
    /// Parses `text` (empty: no servers yet).
    pub fn parse(text: &'a str, format: Format) -> Result<ServersFile<'a>, String> {
        match format {
            Format::Json(path) => jsonc::Doc::parse(text)
                .map(|doc| ServersFile::Json(doc, path))
                .map_err(|err| err.to_string()),
            Format::Toml(path) => TomlDoc::parse(text).map(|doc| ServersFile::Toml(doc, path)),
        }
    }

    /// Every server in the file, in file order (empty when there are none).
    pub fn servers(&self) -> Result<Vec<(String, Value)>, String> {
        let members = match self {
            ServersFile::Json(doc, path) => doc.members(path)?,
            ServersFile::Toml(doc, path) => doc.members(path)?,
        };
        Ok(members.unwrap_or_default())
    }

    /// One server's entry, when there is one.
    pub fn server(&self, name: &str) -> Result<Option<Value>, String> {
        Ok(self
            .servers()?
            .into_iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value))
    }

    /// The whole text with server `name` set to `entry` (its other keys kept).
    pub fn with_server(self, name: &str, entry: &Entry) -> Result<String, String> {
        match self {
            ServersFile::Json(doc, path) => doc.set_member(path, name, entry),
            ServersFile::Toml(doc, path) => doc.set_member(path, name, entry),
        }
    }

    /// The whole text with only `keys` of the existing server `name` changed, each value where
    /// it stands: its other keys, and in JSONC the comments and layout inside the entry, stay
    /// byte for byte (wrapping edits `command` and `args` next to an `env` it must not touch).
    /// `inside` names an object within the entry instead (Zed's older `command` object; JSON
    /// only).
    pub fn with_server_keys(
        self,
        name: &str,
        inside: &[&str],
        keys: &Entry,
    ) -> Result<String, String> {
        match self {
            ServersFile::Json(doc, path) => {
                let mut full: Vec<&str> = path.to_vec();
                full.push(name);
                full.extend(inside);
                doc.set_values(&full, keys)
            }
            ServersFile::Toml(doc, path) if inside.is_empty() => doc.set_member(path, name, keys),
            ServersFile::Toml(..) => Err(format!("{name}.{} is not editable", inside.join("."))),
        }
    }
}

/// What writing one file would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The file.
    pub target: Target,
    /// Its text now (`None`: it does not exist).
    pub before: Option<String>,
    /// Its text afterwards.
    pub after: String,
}

impl Plan {
    /// Whether anything would be written.
    pub fn changed(&self) -> bool {
        self.before.as_deref() != Some(self.after.as_str())
    }
}

fn kind(format: Format) -> &'static str {
    match format {
        Format::Json(_) => "JSON",
        Format::Toml(_) => "TOML",
    }
}

/// Reads `path` as UTF-8; `None` when it does not exist.
pub fn read(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            anyhow::anyhow!("{} is not UTF-8 text; nothing was written", path.display())
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// What the file would be with each `(name, entry)` set, in order.
pub fn plan(target: &Target, edits: &[(&str, Entry)]) -> anyhow::Result<Plan> {
    let before = read(&target.path)?;
    let mut after = before.clone().unwrap_or_default();
    for (name, entry) in edits {
        let file = ServersFile::parse(&after, target.format).map_err(|err| {
            anyhow::anyhow!(
                "{} is not valid {}: {err}. Fix it (or move it away) and connect again; nothing was written",
                target.path.display(),
                kind(target.format)
            )
        })?;
        after = file.with_server(name, entry).map_err(|err| {
            anyhow::anyhow!(
                "cannot add {name} to {}: {err}; nothing was written",
                target.path.display()
            )
        })?;
    }
    Ok(Plan {
        target: target.clone(),
        before,
        after,
    })
}

/// Writes a plan that changes something: copies the old file to a backup next to it first
/// (returned), then replaces it atomically (a temporary file in the same folder, renamed over
/// it), keeping its permissions. A symlinked file is written where the link points.
pub fn apply(plan: &Plan, now: SystemTime) -> anyhow::Result<Option<PathBuf>> {
    if !plan.changed() {
        return Ok(None);
    }
    let link = &plan.target.path;
    let path = match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(link)
            .with_context(|| format!("cannot follow the link {}", link.display()))?,
        _ => link.clone(),
    };
    let dir = path
        .parent()
        .with_context(|| format!("{} has no folder", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let backup = match &plan.before {
        Some(_) => {
            let backup = free_backup_name(dir, &name, now);
            std::fs::copy(&path, &backup).with_context(|| {
                format!(
                    "cannot back up {} to {}; nothing was written",
                    path.display(),
                    backup.display()
                )
            })?;
            Some(backup)
        }
        None => None,
    };
    let temp = dir.join(format!(".{name}.exai-{}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(plan.after.as_bytes())?;
        file.sync_all()?;
        drop(file);
        if let Ok(meta) = std::fs::metadata(&path) {
            std::fs::set_permissions(&temp, meta.permissions())?;
        }
        std::fs::rename(&temp, &path)
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(err).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(backup)
}

/// `<name>.exai-backup-<UTC yyyymmdd-hhmmss>` in `dir`, with `-2`, `-3`, ... when taken.
fn free_backup_name(dir: &Path, name: &str, now: SystemTime) -> PathBuf {
    let stamp = utc_stamp(now);
    let base = dir.join(format!("{name}.exai-backup-{stamp}"));
    if !base.exists() {
        return base;
    }
    (2..)
        .map(|n| dir.join(format!("{name}.exai-backup-{stamp}-{n}")))
        .find(|path| !path.exists())
        .unwrap_or(base)
}

/// `yyyymmdd-hhmmss` in UTC (civil-from-days, Howard Hinnant's algorithm).
pub fn utc_stamp(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}
