//! "Connect an editor": write EXAI's entry into an editor's own config file (`exai connect`,
//! the Connect page's buttons), say which editors are connected, and the ready-to-paste
//! snippets (`exai config`, the same page below the list).
//!
//! - [`editor`]: which editors, where their files are, what the entry looks like (with the
//!   documentation each format was checked against).
//! - [`write`]: parse, merge, back up, write atomically; nothing when nothing changes.
//! - [`wrap`]: the editor's other stdio servers rewritten to run through the shim (and back),
//!   as a pure function from file text to text and a report.
//! - `share`: the same for the Connect page ("Share these servers through EXAI"), in `api`
//!   types: a preview per editor, and the rewrite refused while the shim is missing.
//! - `jsonc` and `tomlfile`: edits that keep every byte outside the edited member (comments,
//!   trailing commas, formatting) as it was.
//!
//! Snippets are rendered by the same code that writes the files, so a snippet is exactly what
//! `exai connect` puts into an empty file.

pub mod editor;
mod jsonc;
mod share;
mod tomlfile;
pub mod wrap;
pub mod write;

use crate::api::{ConnectInfo, ConnectResult, EditorStatus, Snippet};
pub use editor::{Editor, Env, Format, Target};
pub use jsonc::{Entry, ParseError};
use serde_json::{Value, json};
pub use share::wrap_server;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
pub use wrap::{Direction, Outcome, ServerChange, WrapOptions, WrapPlan};
pub use write::{Plan, ServersFile};

/// The name of EXAI's entry in every editor's file.
pub const SERVER_NAME: &str = "exai";

/// The shim's file name on this platform.
pub fn shim_file_name() -> String {
    format!("exai-shim{}", std::env::consts::EXE_SUFFIX)
}

/// Where `exai-shim` is installed, preferring an installed copy over a build folder.
///
/// In order: next to the running program when that is not a cargo build folder; an installed
/// location (`/usr/bin`, `/usr/local/bin`; `%LOCALAPPDATA%\Programs\EXAI` on Windows); next to
/// the running program in a build folder; the first on `PATH`. When none exists, returns the
/// path next to the running program (`found` false), so the page can say where it expected it.
pub fn find_shim() -> (PathBuf, bool) {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .collect();
    let installed = installed_shims(
        std::env::consts::OS,
        std::env::var_os("LOCALAPPDATA").map(PathBuf::from),
    );
    choose_shim(
        exe_dir.as_deref(),
        &installed,
        &path_dirs,
        &shim_file_name(),
        |path| path.is_file(),
        in_build_dir,
    )
}

/// Where the installers put the shim (issue 12: the `.deb` in `/usr/bin`, the Windows per-user
/// installer in `%LOCALAPPDATA%\Programs\EXAI`).
fn installed_shims(os: &str, local_app_data: Option<PathBuf>) -> Vec<PathBuf> {
    match os {
        "windows" => local_app_data
            .map(|dir| dir.join("Programs").join("EXAI").join("exai-shim.exe"))
            .into_iter()
            .collect(),
        _ => vec![
            PathBuf::from("/usr/bin/exai-shim"),
            PathBuf::from("/usr/local/bin/exai-shim"),
        ],
    }
}

/// Whether `path` lies in a cargo build folder (cargo marks its target folder with
/// `CACHEDIR.TAG`).
fn in_build_dir(path: &Path) -> bool {
    path.ancestors()
        .skip(1)
        .any(|dir| dir.join("CACHEDIR.TAG").is_file())
}

fn choose_shim(
    exe_dir: Option<&Path>,
    installed: &[PathBuf],
    path_dirs: &[PathBuf],
    name: &str,
    is_file: impl Fn(&Path) -> bool,
    in_build_dir: impl Fn(&Path) -> bool,
) -> (PathBuf, bool) {
    let beside = exe_dir.map(|dir| dir.join(name));
    let on_path: Vec<PathBuf> = path_dirs
        .iter()
        .map(|dir| dir.join(name))
        .filter(|path| is_file(path))
        .collect();
    let beside_found = beside.clone().filter(|path| is_file(path));
    let found = beside_found
        .clone()
        .filter(|path| !in_build_dir(path))
        .or_else(|| installed.iter().find(|path| is_file(path)).cloned())
        .or_else(|| on_path.iter().find(|path| !in_build_dir(path)).cloned())
        .or(beside_found)
        .or_else(|| on_path.first().cloned());
    match found {
        Some(path) => (path, true),
        None => (beside.unwrap_or_else(|| PathBuf::from(name)), false),
    }
}

/// The shim's arguments: `--name` when given, `--endpoint` for a non-default hub.
pub fn shim_args(name: Option<&str>, endpoint: Option<&str>) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(name) = name {
        args.extend(["--name".to_owned(), name.to_owned()]);
    }
    if let Some(endpoint) = endpoint {
        args.extend(["--endpoint".to_owned(), endpoint.to_owned()]);
    }
    args
}

/// Connects editors to one shim: the facts the files and entries depend on.
#[derive(Debug, Clone)]
pub struct Connector {
    /// Where the files are.
    pub env: Env,
    /// The shim the entries run.
    pub shim: PathBuf,
    /// A non-default endpoint the shim must use.
    pub endpoint: Option<String>,
}

impl Connector {
    /// Connects to the shim and endpoint the Connect page's snippets use, for this process's
    /// user.
    pub fn for_info(info: &ConnectInfo) -> anyhow::Result<Connector> {
        Ok(Connector {
            env: Env::from_process()?,
            shim: PathBuf::from(&info.shim_path),
            endpoint: info.endpoint.clone(),
        })
    }

    /// The entry `editor` gets.
    pub fn entry(&self, editor: Editor) -> Entry {
        let args = shim_args(Some(editor.window_name()), self.endpoint.as_deref());
        editor.entry(&self.shim.display().to_string(), &args)
    }

    /// What connecting `editor` would write.
    pub fn plan(&self, editor: Editor, workspace: Option<&Path>) -> anyhow::Result<Plan> {
        let target = editor.target(&self.env, workspace)?;
        write::plan(&target, &[(SERVER_NAME, self.entry(editor))])
    }

    /// Writes EXAI's entry into `editor`'s file (unless `dry_run`): merged with what is
    /// there, after a backup, and not at all when it is already there.
    pub fn connect(
        &self,
        editor: Editor,
        workspace: Option<&Path>,
        dry_run: bool,
    ) -> anyhow::Result<ConnectResult> {
        let plan = self.plan(editor, workspace)?;
        let path = plan.target.path.display().to_string();
        let backup = if dry_run {
            None
        } else {
            write::apply(&plan, SystemTime::now())?
        };
        let title = editor.title();
        let had_entry = plan.before.as_deref().is_some_and(|text| {
            ServersFile::parse(text, plan.target.format)
                .ok()
                .and_then(|file| file.server(SERVER_NAME).ok().flatten())
                .is_some()
        });
        let verb = match (&plan.before, plan.changed()) {
            (_, false) => None,
            (None, _) => Some(("Created", "with")),
            (Some(_), _) if had_entry => Some(("Updated", "in")),
            (Some(_), _) => Some(("Added", "to")),
        };
        let message = match verb {
            None => format!(
                "{title} is already connected: {path} has this exai entry; nothing was written."
            ),
            Some(("Created", _)) if dry_run => {
                format!("Dry run: would create {path} with the exai server; nothing was written.")
            }
            Some((verb, word)) if dry_run => format!(
                "Dry run: would {} the exai server {word} {path} (after a backup); nothing was written.",
                if verb == "Added" { "add" } else { "update" },
            ),
            Some(("Created", _)) => format!(
                "Created {path} with the exai server. Restart {title} (or reload its MCP servers) to use it."
            ),
            Some((verb, word)) => format!(
                "{verb} the exai server {word} {path}{}. Restart {title} (or reload its MCP servers) to use it.",
                backup
                    .as_ref()
                    .map(|backup| format!(" (the old file is in {})", backup.display()))
                    .unwrap_or_default()
            ),
        };
        let status = if dry_run {
            self.status_of(editor, &plan, &plan.before)
        } else {
            self.status(editor, workspace)
        };
        Ok(ConnectResult {
            editor: editor.key().to_owned(),
            path,
            changed: plan.changed(),
            backup: backup.map(|path| path.display().to_string()),
            message,
            status,
        })
    }

    /// The options a wrapped entry of `editor` gets: this shim, `--name` as EXAI's own entry
    /// (so the dashboard says which editor a window is), `--endpoint` when not the default.
    pub fn wrap_options(&self, editor: Editor) -> WrapOptions {
        WrapOptions {
            shim: self.shim.display().to_string(),
            shim_args: shim_args(Some(editor.window_name()), self.endpoint.as_deref()),
            projects: editor == Editor::ClaudeCode,
        }
    }

    /// What wrapping (or unwrapping) `editor`'s servers would write, and what happens to each.
    pub fn plan_wrap(
        &self,
        editor: Editor,
        workspace: Option<&Path>,
        direction: Direction,
    ) -> anyhow::Result<(Plan, WrapPlan)> {
        let target = editor.target(&self.env, workspace)?;
        let before = write::read(&target.path)?;
        let wrapped = wrap::plan(
            before.as_deref().unwrap_or(""),
            target.format,
            direction,
            &self.wrap_options(editor),
        )
        .map_err(|err| {
            anyhow::anyhow!(
                "{} is not valid: {err}. Fix it (or move it away) and try again; nothing was written",
                target.path.display()
            )
        })?;
        let plan = Plan {
            target,
            after: match &before {
                Some(_) => wrapped.text.clone(),
                None => String::new(),
            },
            before,
        };
        Ok((plan, wrapped))
    }

    /// Rewrites `editor`'s stdio servers to run through the shim ([`Direction::Wrap`]) or back
    /// (unless `dry_run`): after a backup, only their `command` and `args`, nothing when
    /// nothing changes.
    pub fn wrap(
        &self,
        editor: Editor,
        workspace: Option<&Path>,
        direction: Direction,
        dry_run: bool,
    ) -> anyhow::Result<WrapResult> {
        let (plan, wrapped) = self.plan_wrap(editor, workspace, direction)?;
        let path = plan.target.path.display().to_string();
        let backup = if dry_run || plan.before.is_none() {
            None
        } else {
            write::apply(&plan, SystemTime::now())?
        };
        let title = editor.title();
        let n_changed = wrapped.n_changed();
        let servers = match n_changed {
            1 => "1 server".to_owned(),
            n => format!("{n} servers"),
        };
        let (verb, done) = match direction {
            Direction::Wrap => ("wrap", "Wrapped"),
            Direction::Unwrap => ("unwrap", "Unwrapped"),
        };
        let message = match (&plan.before, n_changed) {
            (None, _) => format!(
                "{path} does not exist: {title} has no servers to {verb}; nothing was written."
            ),
            (Some(_), 0) => format!("Nothing to {verb} in {path}; nothing was written."),
            _ if dry_run => format!(
                "Dry run: would {verb} {servers} in {path} (after a backup); nothing was written."
            ),
            _ => format!(
                "{done} {servers} in {path}{}. Restart {title} (or reload its MCP servers) to use them.",
                backup
                    .as_ref()
                    .map(|backup| format!(" (the old file is in {})", backup.display()))
                    .unwrap_or_default()
            ),
        };
        Ok(WrapResult {
            path: plan.target.path.clone(),
            changed: plan.before.is_some() && plan.changed(),
            backup,
            message,
            servers: wrapped.servers,
        })
    }

    /// Whether `editor` is connected, and to what.
    pub fn status(&self, editor: Editor, workspace: Option<&Path>) -> EditorStatus {
        let target = match editor.target(&self.env, workspace) {
            Ok(target) => target,
            Err(err) => return empty_status(editor, String::new(), Some(format!("{err:#}"))),
        };
        match self.plan(editor, workspace) {
            Ok(plan) => self.status_of(editor, &plan, &plan.before),
            Err(err) => {
                let mut status = empty_status(
                    editor,
                    target.path.display().to_string(),
                    Some(format!("{err:#}")),
                );
                status.exists = target.path.exists();
                status
            }
        }
    }

    /// Every editor's status, for the user's own files.
    pub fn statuses(&self) -> Vec<EditorStatus> {
        Editor::ALL
            .into_iter()
            .map(|editor| self.status(editor, None))
            .collect()
    }

    fn status_of(&self, editor: Editor, plan: &Plan, text: &Option<String>) -> EditorStatus {
        let path = plan.target.path.display().to_string();
        let entry = text.as_deref().and_then(|text| {
            ServersFile::parse(text, plan.target.format)
                .ok()?
                .server(SERVER_NAME)
                .ok()
                .flatten()
        });
        let command = entry.as_ref().and_then(entry_command);
        EditorStatus {
            editor: editor.key().to_owned(),
            title: editor.title().to_owned(),
            path,
            exists: text.is_some(),
            connected: entry.is_some(),
            command_exists: command.as_deref().is_some_and(|c| Path::new(c).is_file()),
            command,
            up_to_date: !plan.changed(),
            problem: None,
        }
    }
}

/// What [`Connector::wrap`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapResult {
    /// The editor's file.
    pub path: PathBuf,
    /// Whether the file changes (or, in a dry run, would).
    pub changed: bool,
    /// Where the old file was copied.
    pub backup: Option<PathBuf>,
    /// One sentence for the user.
    pub message: String,
    /// Every server in the file and what happened to it.
    pub servers: Vec<ServerChange>,
}

/// The command an entry runs (also Zed's older `{"command": {"path": ...}}`).
fn entry_command(entry: &Value) -> Option<String> {
    match entry.get("command")? {
        Value::String(command) => Some(command.clone()),
        Value::Object(command) => command.get("path")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn empty_status(editor: Editor, path: String, problem: Option<String>) -> EditorStatus {
    EditorStatus {
        editor: editor.key().to_owned(),
        title: editor.title().to_owned(),
        path,
        exists: false,
        connected: false,
        command: None,
        command_exists: false,
        up_to_date: false,
        problem,
    }
}

/// The editors `exai config` knows, by key.
pub const EDITORS: [&str; 9] = [
    "vscode",
    "vscode-user",
    "cursor",
    "claude-desktop",
    "claude-code",
    "windsurf",
    "zed",
    "codex",
    "augment",
];

/// Every snippet, for the shim at `shim` and the hub's `endpoint` override (`None`: default).
pub fn connect_info(shim: &Path, found: bool, endpoint: Option<&str>) -> ConnectInfo {
    let command = shim.display().to_string();
    let connector = Connector {
        env: Env {
            os: std::env::consts::OS.to_owned(),
            home: PathBuf::new(),
            xdg_config_home: None,
            appdata: None,
            codex_home: None,
        },
        shim: shim.to_path_buf(),
        endpoint: endpoint.map(str::to_owned),
    };
    // The same text `exai connect` writes into an empty file.
    let file = |editor: Editor, format: Format| -> String {
        let entry = connector.entry(editor);
        let text = match format {
            Format::Json(path) => jsonc::Doc::parse("")
                .map_err(|err| err.to_string())
                .and_then(|doc| doc.set_member(path, SERVER_NAME, &entry)),
            Format::Toml(path) => tomlfile::TomlDoc::parse("")
                .and_then(|doc| doc.set_member(path, SERVER_NAME, &entry)),
        };
        text.unwrap_or_default().trim_end().to_owned()
    };
    let json = |editor, key| file(editor, Format::Json(key));
    let snippets = vec![
        snippet(
            "vscode",
            "VS Code (this workspace)",
            ".vscode/mcp.json in your project",
            json(Editor::Code, &["servers"]),
        ),
        snippet(
            "vscode-user",
            "VS Code (every workspace)",
            "your user mcp.json (command palette: MCP: Open User Configuration)",
            json(Editor::Code, &["servers"]),
        ),
        snippet(
            "cursor",
            "Cursor",
            "~/.cursor/mcp.json (every project) or .cursor/mcp.json (one project)",
            json(Editor::Cursor, &["mcpServers"]),
        ),
        snippet(
            "claude-desktop",
            "Claude Desktop",
            "claude_desktop_config.json (Settings > Developer > Edit Config)",
            json(Editor::ClaudeDesktop, &["mcpServers"]),
        ),
        snippet(
            "claude-code",
            "Claude Code",
            "~/.claude.json (every project) or .mcp.json in your project",
            json(Editor::ClaudeCode, &["mcpServers"]),
        ),
        snippet(
            "windsurf",
            "Windsurf",
            "~/.codeium/windsurf/mcp_config.json",
            json(Editor::Windsurf, &["mcpServers"]),
        ),
        snippet(
            "zed",
            "Zed",
            "Zed's settings.json (zed: open settings file)",
            json(Editor::Zed, &["context_servers"]),
        ),
        Snippet {
            language: "toml".to_owned(),
            ..snippet(
                "codex",
                "Codex",
                "~/.codex/config.toml",
                file(Editor::Codex, Format::Toml(&["mcp_servers"])),
            )
        },
        snippet(
            "augment",
            "Augment",
            "VS Code settings.json (Augment's MCP servers)",
            serde_json::to_string_pretty(&json!({
                "augment.advanced": {
                    "mcpServers": [{ "name": "exai", "command": command, "args": shim_args(Some("augment"), endpoint) }]
                }
            }))
            .unwrap_or_default(),
        ),
    ];
    ConnectInfo {
        shim_path: command.clone(),
        shim_found: found,
        endpoint: endpoint.map(str::to_owned),
        snippets,
    }
}

fn snippet(editor: &str, title: &str, target: &str, content: String) -> Snippet {
    Snippet {
        editor: editor.to_owned(),
        title: title.to_owned(),
        target: target.to_owned(),
        language: "json".to_owned(),
        content,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_editor_has_a_snippet_with_the_shim_path() {
        let shim = Path::new(r"C:\Tools\exai\exai-shim.exe");
        let info = connect_info(shim, true, None);
        let keys: Vec<&str> = info.snippets.iter().map(|s| s.editor.as_str()).collect();
        assert_eq!(keys, EDITORS);
        for snippet in &info.snippets {
            let text = match snippet.language.as_str() {
                "json" => serde_json::from_str::<Value>(&snippet.content)
                    .unwrap()
                    .to_string(),
                _ => {
                    let doc = tomlfile::TomlDoc::parse(&snippet.content).unwrap();
                    Value::from_iter(doc.members(&["mcp_servers"]).unwrap().unwrap()).to_string()
                }
            };
            assert!(
                text.contains(r#""C:\\Tools\\exai\\exai-shim.exe""#),
                "{}: {text}",
                snippet.editor
            );
            assert!(!text.contains("--endpoint"));
        }
        let vscode: Value = serde_json::from_str(&info.snippets[1].content).unwrap();
        assert_eq!(vscode["servers"]["exai"]["type"], "stdio");
        assert_eq!(
            vscode["servers"]["exai"]["args"],
            json!(["--name", "${workspaceFolderBasename}"])
        );
        assert!(info.snippets[1].target.contains("user mcp.json"));
        let zed: Value = serde_json::from_str(&info.snippets[6].content).unwrap();
        assert_eq!(
            zed["context_servers"]["exai"]["command"],
            r"C:\Tools\exai\exai-shim.exe"
        );
        assert_eq!(info.snippets[7].language, "toml");
        assert!(info.snippets[7].content.starts_with("[mcp_servers.exai]\n"));
        let augment: Value = serde_json::from_str(&info.snippets[8].content).unwrap();
        assert_eq!(augment["augment.advanced"]["mcpServers"][0]["name"], "exai");
    }

    #[test]
    fn a_non_default_endpoint_is_passed_to_the_shim() {
        let info = connect_info(Path::new("/opt/exai/exai-shim"), false, Some("team-hub"));
        assert!(!info.shim_found);
        let cursor: Value = serde_json::from_str(&info.snippets[2].content).unwrap();
        assert_eq!(
            cursor["mcpServers"]["exai"]["args"],
            json!(["--name", "cursor", "--endpoint", "team-hub"])
        );
    }

    #[test]
    fn an_installed_shim_wins_over_a_build_folder() {
        let files = [
            "/src/exai/target/debug/exai-shim",
            "/usr/bin/exai-shim",
            "/opt/bin/exai-shim",
        ];
        let is_file = |path: &Path| files.iter().any(|file| Path::new(file) == path);
        let in_target = |path: &Path| path.starts_with("/src/exai/target");
        let installed = installed_shims("linux", None);
        let exe = Some(Path::new("/src/exai/target/debug"));
        let path = [PathBuf::from("/opt/bin")];
        let choose = |exe, installed: &[PathBuf], path: &[PathBuf]| {
            choose_shim(exe, installed, path, "exai-shim", is_file, in_target)
        };
        assert_eq!(
            choose(exe, &installed, &path),
            (PathBuf::from("/usr/bin/exai-shim"), true)
        );
        // Not installed: a shim on PATH outside a build folder, then the build folder's.
        assert_eq!(
            choose(exe, &[], &path),
            (PathBuf::from("/opt/bin/exai-shim"), true)
        );
        assert_eq!(
            choose(exe, &[], &[]),
            (PathBuf::from("/src/exai/target/debug/exai-shim"), true)
        );
        // An installed exai finds the shim next to it first.
        assert_eq!(
            choose(Some(Path::new("/opt/bin")), &installed, &[]),
            (PathBuf::from("/opt/bin/exai-shim"), true)
        );
        assert_eq!(
            choose(Some(Path::new("/nowhere")), &[], &[]),
            (PathBuf::from("/nowhere/exai-shim"), false)
        );
        assert_eq!(
            installed_shims("windows", Some(PathBuf::from(r"C:\Users\me\AppData\Local"))),
            [Path::new(r"C:\Users\me\AppData\Local")
                .join("Programs")
                .join("EXAI")
                .join("exai-shim.exe")]
        );
    }

    #[test]
    fn each_editor_file_is_where_its_documentation_says() {
        let linux = Env {
            os: "linux".to_owned(),
            home: PathBuf::from("/home/me"),
            xdg_config_home: None,
            appdata: None,
            codex_home: None,
        };
        let path = |env: &Env, editor: Editor| editor.target(env, None).unwrap().path;
        let expect = [
            (Editor::Code, "/home/me/.config/Code/User/mcp.json"),
            (Editor::Cursor, "/home/me/.cursor/mcp.json"),
            (
                Editor::ClaudeDesktop,
                "/home/me/.config/Claude/claude_desktop_config.json",
            ),
            (Editor::ClaudeCode, "/home/me/.claude.json"),
            (
                Editor::Windsurf,
                "/home/me/.codeium/windsurf/mcp_config.json",
            ),
            (Editor::Zed, "/home/me/.config/zed/settings.json"),
            (Editor::Codex, "/home/me/.codex/config.toml"),
        ];
        for (editor, expected) in expect {
            assert_eq!(path(&linux, editor), PathBuf::from(expected), "{editor:?}");
        }
        let xdg = Env {
            xdg_config_home: Some(PathBuf::from("/cfg")),
            codex_home: Some(PathBuf::from("/codex")),
            ..linux.clone()
        };
        assert_eq!(
            path(&xdg, Editor::Code),
            PathBuf::from("/cfg/Code/User/mcp.json")
        );
        assert_eq!(
            path(&xdg, Editor::Zed),
            PathBuf::from("/cfg/zed/settings.json")
        );
        assert_eq!(
            path(&xdg, Editor::Codex),
            PathBuf::from("/codex/config.toml")
        );
        let mac = Env {
            os: "macos".to_owned(),
            home: PathBuf::from("/Users/me"),
            ..linux.clone()
        };
        assert_eq!(
            path(&mac, Editor::Code),
            PathBuf::from("/Users/me/Library/Application Support/Code/User/mcp.json")
        );
        assert_eq!(
            path(&mac, Editor::ClaudeDesktop),
            PathBuf::from(
                "/Users/me/Library/Application Support/Claude/claude_desktop_config.json"
            )
        );
        assert_eq!(
            path(&mac, Editor::Zed),
            PathBuf::from("/Users/me/.config/zed/settings.json")
        );
        let windows = Env {
            os: "windows".to_owned(),
            home: PathBuf::from(r"C:\Users\me"),
            appdata: Some(PathBuf::from(r"C:\Users\me\AppData\Roaming")),
            ..linux.clone()
        };
        let roaming = Path::new(r"C:\Users\me\AppData\Roaming");
        assert_eq!(
            path(&windows, Editor::Code),
            roaming.join("Code").join("User").join("mcp.json")
        );
        assert_eq!(
            path(&windows, Editor::ClaudeDesktop),
            roaming.join("Claude").join("claude_desktop_config.json")
        );
        assert_eq!(
            path(&windows, Editor::Zed),
            roaming.join("Zed").join("settings.json")
        );
        let project = Path::new("/src/app");
        let in_project = |editor: Editor| editor.target(&linux, Some(project)).map(|t| t.path);
        assert_eq!(
            in_project(Editor::Code).unwrap(),
            project.join(".vscode/mcp.json")
        );
        assert_eq!(
            in_project(Editor::ClaudeCode).unwrap(),
            project.join(".mcp.json")
        );
        assert_eq!(
            in_project(Editor::Cursor).unwrap(),
            project.join(".cursor/mcp.json")
        );
        assert!(in_project(Editor::Windsurf).is_err());
        assert_eq!(Editor::from_key("vscode"), Some(Editor::Code));
        assert_eq!(
            Editor::from_key("Claude-Desktop"),
            Some(Editor::ClaudeDesktop)
        );
        assert_eq!(Editor::from_key("emacs"), None);
    }

    /// A connector for a temporary home; the shim is a real file in it.
    fn connector(home: &Path) -> Connector {
        let shim = home.join("bin").join("exai-shim");
        std::fs::create_dir_all(shim.parent().unwrap()).unwrap();
        std::fs::write(&shim, "").unwrap();
        Connector {
            env: Env {
                os: "linux".to_owned(),
                home: home.to_path_buf(),
                xdg_config_home: None,
                appdata: None,
                codex_home: None,
            },
            shim,
            endpoint: None,
        }
    }

    fn backups(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".exai-backup-"))
            .collect();
        names.sort();
        names
    }

    /// Each editor's file with another server, a comment (where the format allows one) and,
    /// in JSONC files, trailing commas.
    fn existing(editor: Editor) -> &'static str {
        match editor {
            Editor::Code => {
                "{\n\t// mine\n\t\"servers\": {\n\t\t\"memory\": { \"type\": \"stdio\", \"command\": \"npx\", \"args\": [\"-y\", \"@modelcontextprotocol/server-memory\"], },\n\t},\n}\n"
            }
            Editor::Zed => {
                "// Zed settings\n{\n  \"theme\": \"One Dark\",\n  \"context_servers\": {\n    \"memory\": { \"command\": \"npx\", \"args\": [], }, // the memory server\n  },\n}\n"
            }
            Editor::Codex => {
                "# Codex\nmodel = \"o3\"\n\n[mcp_servers.memory]\ncommand = \"npx\" # npm\nargs = [\"-y\", \"@modelcontextprotocol/server-memory\"]\n"
            }
            Editor::ClaudeCode => {
                "{\n  \"numStartups\": 12,\n  \"mcpServers\": {\n    \"memory\": {\n      \"type\": \"stdio\",\n      \"command\": \"npx\",\n      \"args\": []\n    }\n  },\n  \"projects\": {}\n}"
            }
            _ => {
                "{\n  \"mcpServers\": {\n    \"memory\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-memory\"]\n    }\n  },\n  \"globalShortcut\": \"\"\n}\n"
            }
        }
    }

    #[test]
    fn connecting_creates_a_missing_file_and_the_second_time_changes_nothing() {
        for editor in Editor::ALL {
            let home = tempfile::tempdir().unwrap();
            let connector = connector(home.path());
            let path = editor.target(&connector.env, None).unwrap().path;
            let status = connector.status(editor, None);
            assert!(
                !status.exists && !status.connected && !status.up_to_date,
                "{status:?}"
            );

            let dry = connector.connect(editor, None, true).unwrap();
            assert!(dry.changed && dry.message.starts_with("Dry run"), "{dry:?}");
            assert!(!path.exists(), "{editor:?}: a dry run writes nothing");

            let first = connector.connect(editor, None, false).unwrap();
            assert!(first.changed && first.backup.is_none(), "{first:?}");
            assert!(first.message.starts_with("Created"), "{}", first.message);
            let text = std::fs::read_to_string(&path).unwrap();
            let file =
                ServersFile::parse(&text, editor.target(&connector.env, None).unwrap().format)
                    .unwrap();
            let entry = file.server("exai").unwrap().unwrap();
            assert_eq!(
                entry_command(&entry).as_deref(),
                Some(connector.shim.to_str().unwrap())
            );
            assert_eq!(entry["args"][1], editor.window_name());
            let status = &first.status;
            assert!(
                status.exists && status.connected && status.command_exists && status.up_to_date,
                "{status:?}"
            );

            let second = connector.connect(editor, None, false).unwrap();
            assert!(!second.changed && second.backup.is_none(), "{second:?}");
            assert!(
                second.message.contains("already connected"),
                "{}",
                second.message
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
            assert!(backups(path.parent().unwrap()).is_empty());
        }
    }

    #[test]
    fn connecting_merges_with_other_servers_after_a_backup_and_keeps_every_other_byte() {
        for editor in Editor::ALL {
            let home = tempfile::tempdir().unwrap();
            let connector = connector(home.path());
            let target = editor.target(&connector.env, None).unwrap();
            let before = existing(editor);
            std::fs::create_dir_all(target.path.parent().unwrap()).unwrap();
            std::fs::write(&target.path, before).unwrap();

            let result = connector.connect(editor, None, false).unwrap();
            assert!(
                result.changed && result.message.starts_with("Added"),
                "{result:?}"
            );
            let backup = PathBuf::from(result.backup.clone().unwrap());
            assert!(
                result.message.contains(&backup.display().to_string()),
                "{}",
                result.message
            );
            assert_eq!(std::fs::read_to_string(&backup).unwrap(), before);
            assert_eq!(backup.parent(), target.path.parent());

            let after = std::fs::read_to_string(&target.path).unwrap();
            // Every byte of the old file is still there, in order, with only the new member
            // (and at most one comma before it) inserted.
            let file = ServersFile::parse(&after, target.format).unwrap();
            let names: Vec<String> = file
                .servers()
                .unwrap()
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            assert_eq!(names, ["memory", "exai"], "{editor:?}: {after}");
            let mut rest = after.as_str();
            for chunk in before.split_inclusive('\n') {
                let at = rest
                    .find(chunk.trim_end_matches([',', '\n']))
                    .unwrap_or_else(|| panic!("{editor:?}: {chunk:?} lost from\n{after}"));
                rest = &rest[at..];
            }
            let inserted = after.len() - before.len();
            let entry_len = after
                .find("exai")
                .map(|at| after[at..].len())
                .unwrap_or_default();
            assert!(inserted > 0 && inserted <= entry_len + 32, "{editor:?}");

            // Again: nothing, and no second backup.
            let again = connector.connect(editor, None, false).unwrap();
            assert!(!again.changed && again.backup.is_none());
            assert_eq!(
                backups(target.path.parent().unwrap()).len(),
                1,
                "{editor:?}"
            );
        }
    }

    #[test]
    fn wrapping_an_editor_s_servers_backs_up_once_and_unwrapping_restores_them() {
        for editor in Editor::ALL {
            let home = tempfile::tempdir().unwrap();
            let connector = connector(home.path());
            let target = editor.target(&connector.env, None).unwrap();
            let missing = connector
                .wrap(editor, None, Direction::Wrap, false)
                .unwrap();
            assert!(
                !missing.changed && missing.servers.is_empty(),
                "{missing:?}"
            );
            assert!(
                missing.message.contains("does not exist") && !target.path.exists(),
                "{editor:?}: {}",
                missing.message
            );

            let before = existing(editor);
            std::fs::create_dir_all(target.path.parent().unwrap()).unwrap();
            std::fs::write(&target.path, before).unwrap();
            let dry = connector.wrap(editor, None, Direction::Wrap, true).unwrap();
            assert!(dry.changed && dry.backup.is_none(), "{dry:?}");
            assert!(dry.message.starts_with("Dry run: would wrap 1 server in"));
            assert_eq!(std::fs::read_to_string(&target.path).unwrap(), before);

            let wrapped = connector
                .wrap(editor, None, Direction::Wrap, false)
                .unwrap();
            assert_eq!(wrapped.servers.len(), 1);
            assert_eq!(wrapped.servers[0].outcome, Outcome::Wrapped);
            let backup = wrapped.backup.clone().unwrap();
            assert_eq!(std::fs::read_to_string(&backup).unwrap(), before);
            assert!(
                wrapped.message.starts_with("Wrapped 1 server in")
                    && wrapped.message.contains(&backup.display().to_string()),
                "{}",
                wrapped.message
            );
            let text = std::fs::read_to_string(&target.path).unwrap();
            let entry = ServersFile::parse(&text, target.format)
                .unwrap()
                .server("memory")
                .unwrap()
                .unwrap();
            assert_eq!(
                entry_command(&entry).as_deref(),
                Some(connector.shim.to_str().unwrap())
            );
            assert_eq!(
                entry["args"].as_array().unwrap()[..4],
                [
                    json!("--name"),
                    json!(editor.window_name()),
                    json!("--"),
                    json!("npx")
                ]
            );

            let again = connector
                .wrap(editor, None, Direction::Wrap, false)
                .unwrap();
            assert!(!again.changed && again.backup.is_none(), "{again:?}");
            assert!(again.message.starts_with("Nothing to wrap"));
            assert_eq!(backups(target.path.parent().unwrap()).len(), 1);

            let unwrapped = connector
                .wrap(editor, None, Direction::Unwrap, false)
                .unwrap();
            assert!(unwrapped.changed && unwrapped.backup.is_some());
            // Claude Code's `"args": []` comes back as written; the others' compact arrays too.
            assert_eq!(
                std::fs::read_to_string(&target.path).unwrap(),
                before,
                "{editor:?}"
            );
        }
    }

    #[test]
    fn a_stale_entry_is_replaced_and_reported_as_updated() {
        let home = tempfile::tempdir().unwrap();
        let connector = connector(home.path());
        let path = home.path().join(".cursor/mcp.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let before = "{\n  \"mcpServers\": {\n    \"exai\": { \"command\": \"/gone/target/debug/exai-shim\", \"args\": [], \"env\": { \"EXAI_AUTOSTART\": \"hub\" } }\n  }\n}\n";
        std::fs::write(&path, before).unwrap();
        let status = connector.status(Editor::Cursor, None);
        assert!(
            status.connected && !status.command_exists && !status.up_to_date,
            "{status:?}"
        );
        assert_eq!(
            status.command.as_deref(),
            Some("/gone/target/debug/exai-shim")
        );
        let result = connector.connect(Editor::Cursor, None, false).unwrap();
        assert!(result.message.starts_with("Updated"), "{}", result.message);
        let after = std::fs::read_to_string(&path).unwrap();
        let entry: Value =
            serde_json::from_str::<Value>(&after).unwrap()["mcpServers"]["exai"].clone();
        assert_eq!(entry["command"], connector.shim.to_str().unwrap());
        assert_eq!(entry["env"]["EXAI_AUTOSTART"], "hub");
        assert!(result.status.command_exists && result.status.up_to_date);
    }

    #[test]
    fn an_invalid_file_is_refused_naming_it_and_its_line_and_nothing_is_written() {
        for (editor, text) in [
            (
                Editor::Cursor,
                "{\n  \"mcpServers\": {\n    \"a\": {}\n    \"b\": {}\n  }\n}\n",
            ),
            (
                Editor::Zed,
                "{\n  // ok\n  \"context_servers\": { oops }\n}\n",
            ),
            (Editor::Codex, "model = \"o3\"\n[mcp_servers\n"),
        ] {
            let home = tempfile::tempdir().unwrap();
            let connector = connector(home.path());
            let path = editor.target(&connector.env, None).unwrap().path;
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            let err = format!("{:#}", connector.connect(editor, None, false).unwrap_err());
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(
                err.contains("line ") && err.contains("nothing was written"),
                "{err}"
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
            assert!(backups(path.parent().unwrap()).is_empty());
            let status = connector.status(editor, None);
            assert!(status.exists && status.problem.is_some_and(|p| p.contains("line ")));
        }
    }

    #[test]
    fn a_workspace_file_and_an_endpoint() {
        let home = tempfile::tempdir().unwrap();
        let mut connector = connector(home.path());
        connector.endpoint = Some("team".to_owned());
        let project = home.path().join("project");
        let result = connector
            .connect(Editor::Code, Some(&project), false)
            .unwrap();
        assert_eq!(
            PathBuf::from(&result.path),
            project.join(".vscode").join("mcp.json")
        );
        let written: Value = serde_json::from_str(
            &std::fs::read_to_string(project.join(".vscode/mcp.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            written["servers"]["exai"]["args"],
            json!(["--name", "${workspaceFolderBasename}", "--endpoint", "team"])
        );
        let err = connector
            .connect(Editor::Zed, Some(&project), false)
            .unwrap_err();
        assert!(err.to_string().contains("--workspace"), "{err}");
    }

    #[test]
    fn backups_are_named_by_the_utc_time_and_never_overwrite_each_other() {
        let at = UNIX_EPOCH_PLUS(1_700_000_000);
        assert_eq!(write::utc_stamp(at), "20231114-221320");
        assert_eq!(
            write::utc_stamp(UNIX_EPOCH_PLUS(951_782_400)),
            "20000229-000000"
        );
        let home = tempfile::tempdir().unwrap();
        let connector = connector(home.path());
        let target = Editor::Cursor.target(&connector.env, None).unwrap();
        std::fs::create_dir_all(target.path.parent().unwrap()).unwrap();
        for round in 0..2 {
            std::fs::write(&target.path, format!("{{ \"round\": {round} }}")).unwrap();
            let plan =
                write::plan(&target, &[(SERVER_NAME, connector.entry(Editor::Cursor))]).unwrap();
            write::apply(&plan, at).unwrap().unwrap();
        }
        assert_eq!(
            backups(target.path.parent().unwrap()),
            [
                "mcp.json.exai-backup-20231114-221320",
                "mcp.json.exai-backup-20231114-221320-2"
            ]
        );
    }

    #[allow(non_snake_case)]
    fn UNIX_EPOCH_PLUS(secs: u64) -> SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(secs)
    }
}
