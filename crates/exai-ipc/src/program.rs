//! Finding the program a wrapped server's command names, on the `PATH` of the window that asked
//! (not the hub's: a tray started from the dock or at login lacks the shell's `PATH`, and peers
//! fail there with `spawn npx ENOENT`).
//!
//! The search is a pure function of the command, the `PATH` and `PATHEXT` strings and a test for
//! "is this a program", so both platforms' rules are tested everywhere; only the choice of rules
//! for this platform is under `cfg`. On Windows `npx` is `npx.cmd`: found through `PATHEXT`, and
//! std's `Command` runs a `.cmd` or `.bat` through `cmd.exe` with its arguments escaped.

use std::path::{Path, PathBuf};

/// Windows' `PATHEXT` when the window's environment has none.
pub const DEFAULT_PATHEXT: &str = ".COM;.EXE;.BAT;.CMD";

/// The rules a platform searches by.
#[derive(Debug, Clone)]
pub struct SearchRules {
    /// Extensions tried, in order, after a name without one of them (Windows: `PATHEXT`,
    /// lowercase; Unix: none).
    pub extensions: Vec<String>,
    /// Whether `\` separates directories as well as `/`.
    pub backslash: bool,
}

impl SearchRules {
    /// Unix: no extensions, `/` only.
    pub fn unix() -> SearchRules {
        SearchRules {
            extensions: Vec::new(),
            backslash: false,
        }
    }

    /// Windows, with the window's `PATHEXT` (or [`DEFAULT_PATHEXT`]).
    pub fn windows(pathext: Option<&str>) -> SearchRules {
        let pathext = pathext
            .filter(|text| !text.trim().is_empty())
            .unwrap_or(DEFAULT_PATHEXT);
        SearchRules {
            extensions: pathext
                .split(';')
                .map(|ext| ext.trim().to_ascii_lowercase())
                .filter(|ext| ext.starts_with('.') && ext.len() > 1)
                .collect(),
            backslash: true,
        }
    }

    /// This platform's rules, with the window's `PATHEXT` where it matters.
    pub fn native(pathext: Option<&str>) -> SearchRules {
        #[cfg(windows)]
        {
            SearchRules::windows(pathext)
        }
        #[cfg(not(windows))]
        {
            let _ = pathext;
            SearchRules::unix()
        }
    }
}

/// Finds `command` the way a shell on `path` would: a name with a directory in it is taken
/// relative to `cwd`; a bare name is looked up in each directory of `path` (separated by `;`
/// under Windows rules, `:` otherwise; relative entries are taken relative to `cwd`), each with
/// the rules' extensions tried when the name has none of them. `runnable` decides whether a
/// candidate file is a program. `None` when nothing fits.
pub fn search(
    command: &str,
    path: Option<&str>,
    cwd: Option<&Path>,
    rules: &SearchRules,
    runnable: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    if command.is_empty() {
        return None;
    }
    let base = cwd.map(Path::to_path_buf).unwrap_or_default();
    let lower = command.to_ascii_lowercase();
    let has_extension = rules
        .extensions
        .iter()
        .any(|ext| lower.ends_with(ext.as_str()));
    let candidates = |dir: &Path| -> Vec<PathBuf> {
        let mut out = Vec::new();
        if rules.extensions.is_empty() || has_extension {
            out.push(dir.join(command));
        }
        if !has_extension {
            for ext in &rules.extensions {
                out.push(dir.join(format!("{command}{ext}")));
            }
        }
        out
    };
    let has_dir = command.contains('/') || (rules.backslash && command.contains('\\'));
    if has_dir {
        return candidates(&base)
            .into_iter()
            .find(|candidate| runnable(candidate));
    }
    let separator = if rules.backslash { ';' } else { ':' };
    for entry in path.unwrap_or_default().split(separator) {
        let entry = entry.trim_matches('"');
        let dir = if entry.is_empty() {
            base.clone()
        } else if Path::new(entry).is_absolute() {
            PathBuf::from(entry)
        } else {
            base.join(entry)
        };
        if let Some(found) = candidates(&dir)
            .into_iter()
            .find(|candidate| runnable(candidate))
        {
            return Some(found);
        }
    }
    None
}

/// Finds `command` on `path` (the window's `PATH`) with this platform's rules: on Unix a file
/// with an execute bit, on Windows any file with a `PATHEXT` extension.
pub fn resolve_program(
    command: &str,
    path: Option<&str>,
    pathext: Option<&str>,
    cwd: Option<&Path>,
) -> Option<PathBuf> {
    search(
        command,
        path,
        cwd,
        &SearchRules::native(pathext),
        is_program,
    )
}

fn is_program(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn fs(files: &[&str]) -> impl Fn(&Path) -> bool {
        let files: HashSet<PathBuf> = files.iter().map(PathBuf::from).collect();
        move |path: &Path| files.contains(path)
    }

    #[test]
    fn unix_searches_the_windows_path_in_order() {
        let rules = SearchRules::unix();
        let files = fs(&["/opt/node/bin/npx", "/usr/bin/npx", "/w/tools/run"]);
        let found = search(
            "npx",
            Some("/nowhere:/opt/node/bin:/usr/bin"),
            None,
            &rules,
            &files,
        );
        assert_eq!(found, Some(PathBuf::from("/opt/node/bin/npx")));
        assert_eq!(
            search("npx", Some("/usr/bin"), None, &rules, &files),
            Some("/usr/bin/npx".into())
        );
        assert_eq!(search("npx", Some("/nowhere"), None, &rules, &files), None);
        assert_eq!(search("npx", None, None, &rules, &files), None);
        // A name with a directory is taken relative to the window's cwd, not searched.
        let found = search(
            "tools/run",
            Some("/usr/bin"),
            Some(Path::new("/w")),
            &rules,
            &files,
        );
        assert_eq!(found, Some(PathBuf::from("/w/tools/run")));
        let found = search(
            "bin/npx",
            Some("/usr"),
            Some(Path::new("/w")),
            &rules,
            &files,
        );
        assert_eq!(found, None);
    }

    #[test]
    fn windows_tries_pathext_and_semicolons() {
        let rules = SearchRules::windows(Some(".COM;.EXE;.BAT;.CMD"));
        let files = fs(&[
            r"C:\Program Files\nodejs/npx.cmd",
            r"C:\Program Files\nodejs/node.exe",
            r"C:\w/run.bat",
        ]);
        let path = r#"C:\Windows;"C:\Program Files\nodejs""#;
        assert_eq!(
            search("npx", Some(path), None, &rules, &files),
            Some(PathBuf::from(r"C:\Program Files\nodejs/npx.cmd"))
        );
        assert_eq!(
            search("node.exe", Some(path), None, &rules, &files),
            Some(PathBuf::from(r"C:\Program Files\nodejs/node.exe"))
        );
        // Without PATHEXT, the default list.
        let default = SearchRules::windows(None);
        assert_eq!(default.extensions, [".com", ".exe", ".bat", ".cmd"]);
    }
}
