//! The editors `exai connect` writes to: where each keeps its MCP servers, in which format,
//! and what EXAI's entry looks like there.
//!
//! Sources, checked for each format before it was written here:
//! - VS Code 1.102+: <https://code.visualstudio.com/docs/copilot/reference/mcp-configuration>
//!   (`mcp.json` in the workspace's `.vscode/` or in the user profile, top-level `servers`,
//!   a stdio server is `{"type": "stdio", "command", "args"}`; JSONC). The user profile's
//!   folder is `Code/User` under the platform's config dir (`~/.config`, `~/Library/Application
//!   Support`, `%APPDATA%`), as VS Code's own settings.
//! - Cursor: <https://cursor.com/docs/mcp> (`~/.cursor/mcp.json`, project `.cursor/mcp.json`,
//!   `mcpServers`).
//! - Claude Desktop: <https://modelcontextprotocol.io/quickstart/user>
//!   (`claude_desktop_config.json` in `~/Library/Application Support/Claude/` or
//!   `%APPDATA%\Claude\`; `~/.config/Claude/` on Linux, where builds are unofficial;
//!   `mcpServers`).
//! - Claude Code: <https://code.claude.com/docs/en/mcp> ("MCP installation scopes": user scope is
//!   the top-level `mcpServers` of `~/.claude.json`, project scope `.mcp.json` at the project
//!   root; `claude mcp add` writes `{"type": "stdio", "command", "args", "env"}`).
//! - Windsurf: <https://docs.windsurf.com/windsurf/cascade/mcp>
//!   (`~/.codeium/windsurf/mcp_config.json`, `%USERPROFILE%` on Windows, `mcpServers`).
//! - Zed: <https://zed.dev/docs/ai/mcp> (`context_servers` in `settings.json`, a custom server is
//!   `{"command": "...", "args": [...], "env": {}}`; the older `{"command": {"path", "args"}}`
//!   and `"source": "custom"` are deprecated (zed-industries/zed#32793 and later); JSONC).
//!   The file is `~/.config/zed/settings.json` on Linux (`$XDG_CONFIG_HOME`) and macOS,
//!   `%APPDATA%\Zed\settings.json` on Windows.
//! - Codex: <https://developers.openai.com/codex/mcp> (`~/.codex/config.toml`, or
//!   `$CODEX_HOME/config.toml`, project `.codex/config.toml` in trusted projects; one
//!   `[mcp_servers.<name>]` table with `command` and `args`).

use super::jsonc::Entry;
use anyhow::Context as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// An editor `exai connect` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Editor {
    /// VS Code 1.102+ (user `mcp.json`; `.vscode/mcp.json` with a workspace).
    Code,
    /// Cursor (`~/.cursor/mcp.json`; `.cursor/mcp.json` with a workspace).
    Cursor,
    /// Claude Desktop (`claude_desktop_config.json`).
    ClaudeDesktop,
    /// Claude Code (`~/.claude.json` user scope; `.mcp.json` with a workspace).
    ClaudeCode,
    /// Windsurf (`~/.codeium/windsurf/mcp_config.json`).
    Windsurf,
    /// Zed (`settings.json`, `context_servers`).
    Zed,
    /// Codex (`~/.codex/config.toml`, `[mcp_servers.exai]`).
    Codex,
}

/// How a file keeps its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON (comments and trailing commas kept where there are some); the servers object is
    /// at this path from the top.
    Json(&'static [&'static str]),
    /// TOML; the servers table is at this path.
    Toml(&'static [&'static str]),
}

/// The process's facts that decide where the files are; tests make their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// `std::env::consts::OS`: `linux`, `macos`, `windows`, ...
    pub os: String,
    /// The home directory (`HOME`; `USERPROFILE` on Windows).
    pub home: PathBuf,
    /// `XDG_CONFIG_HOME`, when set to an absolute path (Linux and other Unixes).
    pub xdg_config_home: Option<PathBuf>,
    /// `APPDATA` (Windows).
    pub appdata: Option<PathBuf>,
    /// `CODEX_HOME`, when set.
    pub codex_home: Option<PathBuf>,
}

impl Env {
    /// This process's: from the environment, else the platform's idea of the home directory.
    pub fn from_process() -> anyhow::Result<Env> {
        let os = std::env::consts::OS.to_owned();
        let var = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
        };
        let home_var = if os == "windows" {
            "USERPROFILE"
        } else {
            "HOME"
        };
        let home = var(home_var)
            .or_else(|| directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_path_buf()))
            .context("cannot tell the home directory: set HOME")?;
        Ok(Env {
            xdg_config_home: var("XDG_CONFIG_HOME"),
            appdata: var("APPDATA"),
            codex_home: var("CODEX_HOME"),
            os,
            home,
        })
    }

    /// Where applications keep their settings: `%APPDATA%`, `~/Library/Application Support`,
    /// else `$XDG_CONFIG_HOME` or `~/.config`.
    fn config_dir(&self) -> PathBuf {
        match self.os.as_str() {
            "windows" => self
                .appdata
                .clone()
                .unwrap_or_else(|| self.home.join("AppData").join("Roaming")),
            "macos" => self.home.join("Library").join("Application Support"),
            _ => self
                .xdg_config_home
                .clone()
                .unwrap_or_else(|| self.home.join(".config")),
        }
    }
}

/// One editor's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Which editor.
    pub editor: Editor,
    /// The file, absolute.
    pub path: PathBuf,
    /// How it keeps its servers.
    pub format: Format,
}

impl Editor {
    /// Every editor, in the order lists show them.
    pub const ALL: [Editor; 7] = [
        Editor::Code,
        Editor::Cursor,
        Editor::ClaudeDesktop,
        Editor::ClaudeCode,
        Editor::Windsurf,
        Editor::Zed,
        Editor::Codex,
    ];

    /// The key on the command line and in the API.
    pub fn key(self) -> &'static str {
        match self {
            Editor::Code => "code",
            Editor::Cursor => "cursor",
            Editor::ClaudeDesktop => "claude-desktop",
            Editor::ClaudeCode => "claude-code",
            Editor::Windsurf => "windsurf",
            Editor::Zed => "zed",
            Editor::Codex => "codex",
        }
    }

    /// What the user sees.
    pub fn title(self) -> &'static str {
        match self {
            Editor::Code => "VS Code",
            Editor::Cursor => "Cursor",
            Editor::ClaudeDesktop => "Claude Desktop",
            Editor::ClaudeCode => "Claude Code",
            Editor::Windsurf => "Windsurf",
            Editor::Zed => "Zed",
            Editor::Codex => "Codex",
        }
    }

    /// An editor by key (also `vscode`, `vscode-user` and `claude`).
    pub fn from_key(key: &str) -> Option<Editor> {
        match key.to_ascii_lowercase().as_str() {
            "vscode" | "vscode-user" => Some(Editor::Code),
            "claude" => Some(Editor::ClaudeCode),
            key => Editor::ALL.into_iter().find(|editor| editor.key() == key),
        }
    }

    /// The shim's `--name` in this editor's entry (VS Code expands the variable per window).
    pub fn window_name(self) -> &'static str {
        match self {
            Editor::Code => "${workspaceFolderBasename}",
            other => other.key(),
        }
    }

    /// How this editor's files keep their servers (the same for the user's and a project's).
    pub fn format(self) -> Format {
        match self {
            Editor::Code => Format::Json(&["servers"]),
            Editor::Zed => Format::Json(&["context_servers"]),
            Editor::Codex => Format::Toml(&["mcp_servers"]),
            Editor::Cursor | Editor::ClaudeDesktop | Editor::ClaudeCode | Editor::Windsurf => {
                Format::Json(&["mcpServers"])
            }
        }
    }

    /// The file for the user (`workspace` `None`) or for one project folder.
    pub fn target(self, env: &Env, workspace: Option<&Path>) -> anyhow::Result<Target> {
        let home = &env.home;
        let (path, format) = match (self, workspace) {
            (Editor::Code, None) => (
                env.config_dir().join("Code").join("User").join("mcp.json"),
                Format::Json(&["servers"]),
            ),
            (Editor::Code, Some(dir)) => (
                dir.join(".vscode").join("mcp.json"),
                Format::Json(&["servers"]),
            ),
            (Editor::Cursor, None) => (
                home.join(".cursor").join("mcp.json"),
                Format::Json(&["mcpServers"]),
            ),
            (Editor::Cursor, Some(dir)) => (
                dir.join(".cursor").join("mcp.json"),
                Format::Json(&["mcpServers"]),
            ),
            (Editor::ClaudeDesktop, None) => (
                env.config_dir()
                    .join("Claude")
                    .join("claude_desktop_config.json"),
                Format::Json(&["mcpServers"]),
            ),
            (Editor::ClaudeCode, None) => {
                (home.join(".claude.json"), Format::Json(&["mcpServers"]))
            }
            (Editor::ClaudeCode, Some(dir)) => {
                (dir.join(".mcp.json"), Format::Json(&["mcpServers"]))
            }
            (Editor::Windsurf, None) => (
                home.join(".codeium")
                    .join("windsurf")
                    .join("mcp_config.json"),
                Format::Json(&["mcpServers"]),
            ),
            (Editor::Zed, None) => {
                let dir = match env.os.as_str() {
                    "windows" => env.config_dir().join("Zed"),
                    "macos" => home.join(".config").join("zed"),
                    _ => env.config_dir().join("zed"),
                };
                (
                    dir.join("settings.json"),
                    Format::Json(&["context_servers"]),
                )
            }
            (Editor::Codex, None) => (
                env.codex_home
                    .clone()
                    .unwrap_or_else(|| home.join(".codex"))
                    .join("config.toml"),
                Format::Toml(&["mcp_servers"]),
            ),
            (Editor::Codex, Some(dir)) => (
                dir.join(".codex").join("config.toml"),
                Format::Toml(&["mcp_servers"]),
            ),
            (editor, Some(_)) => anyhow::bail!(
                "{} has no per-project file exai connect writes; leave out --workspace to connect it for the user",
                editor.title()
            ),
        };
        Ok(Target {
            editor: self,
            path,
            format,
        })
    }

    /// EXAI's entry in this editor's file: the keys `exai connect` sets (an existing entry's
    /// other keys, such as `env`, are kept).
    pub fn entry(self, shim: &str, args: &[String]) -> Entry {
        let mut entry = Entry::new();
        if matches!(self, Editor::Code | Editor::ClaudeCode) {
            entry.push(("type".to_owned(), json!("stdio")));
        }
        entry.push(("command".to_owned(), Value::String(shim.to_owned())));
        entry.push(("args".to_owned(), json!(args)));
        entry
    }
}
