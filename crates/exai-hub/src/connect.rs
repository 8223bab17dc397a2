//! "Connect an editor": ready-to-paste MCP configurations that launch `exai-shim`.
//!
//! The dashboard's connect page and `exai config <editor>` show the same snippets, built here
//! with `serde_json` so that paths are escaped correctly (Windows backslashes included).

use crate::api::{ConnectInfo, Snippet};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The shim's file name on this platform.
pub fn shim_file_name() -> String {
    format!("exai-shim{}", std::env::consts::EXE_SUFFIX)
}

/// Where the installed `exai-shim` is: next to the running program, else the first on `PATH`.
///
/// When neither exists, returns the path next to the running program (`found` false), so the
/// page can say where it expected it.
pub fn find_shim() -> (PathBuf, bool) {
    let name = shim_file_name();
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)));
    if let Some(path) = &beside
        && path.is_file()
    {
        return (path.clone(), true);
    }
    if let Some(path) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(&name))
        .find(|path| path.is_file())
    {
        return (path, true);
    }
    (beside.unwrap_or_else(|| PathBuf::from(name)), false)
}

/// The editors `exai config` knows, by key.
pub const EDITORS: [&str; 5] = [
    "vscode",
    "vscode-user",
    "cursor",
    "claude-desktop",
    "augment",
];

/// Every snippet, for the shim at `shim` and the hub's `endpoint` override (`None`: default).
pub fn connect_info(shim: &Path, found: bool, endpoint: Option<&str>) -> ConnectInfo {
    let command = shim.display().to_string();
    let args = |name: Option<&str>| -> Vec<String> {
        let mut args = Vec::new();
        if let Some(name) = name {
            args.extend(["--name".to_owned(), name.to_owned()]);
        }
        if let Some(endpoint) = endpoint {
            args.extend(["--endpoint".to_owned(), endpoint.to_owned()]);
        }
        args
    };
    let server = |args: Vec<String>| json!({ "type": "stdio", "command": command, "args": args });
    let plain = |args: Vec<String>| json!({ "command": command, "args": args });
    let snippets = vec![
        snippet(
            "vscode",
            "VS Code (this workspace)",
            ".vscode/mcp.json in your project",
            json!({ "servers": { "exai": server(args(Some("${workspaceFolderBasename}"))) } }),
        ),
        snippet(
            "vscode-user",
            "VS Code (every workspace)",
            "your user settings.json (Preferences: Open User Settings (JSON))",
            json!({ "mcp": { "servers": { "exai": server(args(Some("${workspaceFolderBasename}"))) } } }),
        ),
        snippet(
            "cursor",
            "Cursor",
            "~/.cursor/mcp.json (every project) or .cursor/mcp.json (one project)",
            json!({ "mcpServers": { "exai": plain(args(Some("cursor"))) } }),
        ),
        snippet(
            "claude-desktop",
            "Claude Desktop",
            "claude_desktop_config.json (Settings > Developer > Edit Config)",
            json!({ "mcpServers": { "exai": plain(args(Some("claude-desktop"))) } }),
        ),
        snippet(
            "augment",
            "Augment",
            "VS Code settings.json (Augment's MCP servers)",
            json!({
                "augment.advanced": {
                    "mcpServers": [{ "name": "exai", "command": command, "args": args(Some("augment")) }]
                }
            }),
        ),
    ];
    ConnectInfo {
        shim_path: command.clone(),
        shim_found: found,
        snippets,
    }
}

fn snippet(editor: &str, title: &str, target: &str, content: Value) -> Snippet {
    Snippet {
        editor: editor.to_owned(),
        title: title.to_owned(),
        target: target.to_owned(),
        language: "json".to_owned(),
        content: serde_json::to_string_pretty(&content).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_editor_has_a_valid_json_snippet_with_the_shim_path() {
        let shim = Path::new(r"C:\Tools\exai\exai-shim.exe");
        let info = connect_info(shim, true, None);
        let keys: Vec<&str> = info.snippets.iter().map(|s| s.editor.as_str()).collect();
        assert_eq!(keys, EDITORS);
        for snippet in &info.snippets {
            let parsed: Value = serde_json::from_str(&snippet.content).unwrap();
            let text = parsed.to_string();
            assert!(
                text.contains(r#""C:\\Tools\\exai\\exai-shim.exe""#),
                "{}: {text}",
                snippet.editor
            );
            assert!(!text.contains("--endpoint"));
        }
        let vscode: Value = serde_json::from_str(&info.snippets[0].content).unwrap();
        assert_eq!(vscode["servers"]["exai"]["type"], "stdio");
        assert_eq!(
            vscode["servers"]["exai"]["args"],
            json!(["--name", "${workspaceFolderBasename}"])
        );
        let augment: Value = serde_json::from_str(&info.snippets[4].content).unwrap();
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
}
