//! The Connect page's "Share these servers through EXAI": per editor, a preview of what
//! wrapping (and unwrapping) would do to each of its servers, and the rewrite itself, for the
//! dashboard's HTTP API and the tray's commands alike. The work is [`super::wrap`] through
//! [`Connector::wrap`]; this module only puts it into `api` types. Like the CLI, it refuses to
//! wrap while the shim does not exist, and it names `env` variables, never their values.

use super::wrap::{Direction, Outcome, ServerChange, command_line};
use super::{Connector, Editor};
use crate::api::{WrapDirection, WrapEditorResult, WrapOutcome, WrapPreview, WrapServer};

impl Connector {
    /// What wrapping and unwrapping would do to `editor`'s own file (the user's).
    pub fn wrap_preview(&self, editor: Editor) -> WrapPreview {
        let mut preview = WrapPreview {
            editor: editor.key().to_owned(),
            title: editor.title().to_owned(),
            path: String::new(),
            exists: false,
            shim_path: self.shim.display().to_string(),
            shim_found: self.shim.is_file(),
            wrap: Vec::new(),
            unwrap: Vec::new(),
            problem: None,
        };
        match editor.target(&self.env, None) {
            Ok(target) => {
                preview.path = target.path.display().to_string();
                preview.exists = target.path.exists();
            }
            Err(err) => {
                preview.problem = Some(format!("{err:#}"));
                return preview;
            }
        }
        if !preview.exists {
            return preview;
        }
        for (direction, servers) in [
            (Direction::Wrap, &mut preview.wrap),
            (Direction::Unwrap, &mut preview.unwrap),
        ] {
            match self.plan_wrap(editor, None, direction) {
                Ok((_, plan)) => *servers = plan.servers.iter().map(wrap_server).collect(),
                Err(err) => {
                    preview.problem = Some(format!("{err:#}"));
                    break;
                }
            }
        }
        preview
    }

    /// Every editor's preview.
    pub fn wrap_previews(&self) -> Vec<WrapPreview> {
        Editor::ALL
            .into_iter()
            .map(|editor| self.wrap_preview(editor))
            .collect()
    }

    /// Wraps (or unwraps) `editor`'s servers in its own file, after a backup. Refuses to wrap
    /// while the shim does not exist, as `exai connect --wrap` does.
    pub fn wrap_editor(
        &self,
        editor: Editor,
        direction: WrapDirection,
    ) -> anyhow::Result<WrapEditorResult> {
        let direction = match direction {
            WrapDirection::Wrap => Direction::Wrap,
            WrapDirection::Unwrap => Direction::Unwrap,
        };
        if direction == Direction::Wrap && !self.shim.is_file() {
            anyhow::bail!(
                "{} does not exist, and every wrapped server would fail to start without it; install EXAI or build it (scripts/run.sh), then try again (nothing was written)",
                self.shim.display()
            );
        }
        let result = self.wrap(editor, None, direction, false)?;
        Ok(WrapEditorResult {
            editor: editor.key().to_owned(),
            path: result.path.display().to_string(),
            changed: result.changed,
            backup: result.backup.map(|path| path.display().to_string()),
            message: result.message,
            servers: result.servers.iter().map(wrap_server).collect(),
            preview: self.wrap_preview(editor),
        })
    }
}

/// One server's report as the page shows it (the `env` names only, as the report has them).
pub fn wrap_server(change: &ServerChange) -> WrapServer {
    WrapServer {
        name: change.name.clone(),
        project: change.project.clone(),
        outcome: match change.outcome {
            Outcome::Wrapped => WrapOutcome::Wrapped,
            Outcome::Unwrapped => WrapOutcome::Unwrapped,
            Outcome::AlreadyWrapped => WrapOutcome::AlreadyWrapped,
            Outcome::NotWrapped => WrapOutcome::NotWrapped,
            Outcome::Remote => WrapOutcome::Remote,
            Outcome::Exai => WrapOutcome::Exai,
            Outcome::Unsupported(_) => WrapOutcome::Unsupported,
        },
        changed: change.outcome.changed(),
        reason: change.outcome.describe(),
        before: command_line(&change.before),
        after: command_line(&change.after),
        env_keys: change.env_keys.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::Env;
    use std::path::PathBuf;

    const SECRET: &str = "sk-live-0123456789";

    fn connector(home: &std::path::Path, shim: PathBuf) -> Connector {
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

    #[test]
    fn the_preview_lists_each_server_with_env_names_only_and_wrap_writes_a_backup() {
        let home = tempfile::tempdir().unwrap();
        let shim = home.path().join("exai-shim");
        std::fs::write(&shim, "").unwrap();
        let file = home.path().join(".claude.json");
        let before = format!(
            r#"{{
  "mcpServers": {{
    "memory": {{ "type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "env": {{ "MEMORY_KEY": "{SECRET}" }} }},
    "sentry": {{ "type": "sse", "url": "https://mcp.sentry.dev/sse" }}
  }},
  "projects": {{
    "/home/me/api": {{ "mcpServers": {{ "git": {{ "command": "uvx", "args": ["mcp-server-git"] }} }} }}
  }}
}}"#
        );
        std::fs::write(&file, &before).unwrap();
        let connector = connector(home.path(), shim.clone());
        let preview = connector.wrap_preview(Editor::ClaudeCode);
        assert!(preview.exists && preview.shim_found && preview.problem.is_none());
        let rows: Vec<(&str, Option<&str>, WrapOutcome)> = preview
            .wrap
            .iter()
            .map(|s| (s.name.as_str(), s.project.as_deref(), s.outcome))
            .collect();
        assert_eq!(
            rows,
            [
                ("memory", None, WrapOutcome::Wrapped),
                ("sentry", None, WrapOutcome::Remote),
                ("git", Some("/home/me/api"), WrapOutcome::Wrapped),
            ]
        );
        assert_eq!(
            preview.wrap[0].before,
            "npx -y @modelcontextprotocol/server-memory"
        );
        assert_eq!(
            preview.wrap[0].after,
            format!(
                "{} --name claude-code -- npx -y @modelcontextprotocol/server-memory",
                shim.display()
            )
        );
        assert_eq!(preview.wrap[0].env_keys, ["MEMORY_KEY"]);
        assert!(preview.unwrap.iter().all(|server| !server.changed));
        let json = serde_json::to_string(&preview).unwrap();
        assert!(
            json.contains("MEMORY_KEY") && !json.contains(SECRET),
            "{json}"
        );

        let done = connector
            .wrap_editor(Editor::ClaudeCode, WrapDirection::Wrap)
            .unwrap();
        assert!(done.changed, "{}", done.message);
        let backup = done.backup.clone().unwrap();
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), before);
        assert!(!serde_json::to_string(&done).unwrap().contains(SECRET));
        assert!(done.preview.wrap.iter().all(|server| !server.changed));
        assert_eq!(done.preview.unwrap.iter().filter(|s| s.changed).count(), 2);
        let undone = connector
            .wrap_editor(Editor::ClaudeCode, WrapDirection::Unwrap)
            .unwrap();
        assert!(undone.changed);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    }

    #[test]
    fn wrapping_is_refused_while_the_shim_is_missing() {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join(".cursor/mcp.json");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let before = r#"{"mcpServers": {"memory": {"command": "npx", "args": []}}}"#;
        std::fs::write(&file, before).unwrap();
        let missing = home.path().join("nowhere/exai-shim");
        let connector = connector(home.path(), missing.clone());
        let preview = connector.wrap_preview(Editor::Cursor);
        assert!(!preview.shim_found);
        assert_eq!(preview.wrap.len(), 1);
        let err = connector
            .wrap_editor(Editor::Cursor, WrapDirection::Wrap)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&missing.display().to_string()) && err.contains("nothing was written"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
        // Unwrapping needs no shim.
        let undone = connector
            .wrap_editor(Editor::Cursor, WrapDirection::Unwrap)
            .unwrap();
        assert!(!undone.changed);
        // No file: nothing to list, no problem.
        let none = connector.wrap_preview(Editor::Windsurf);
        assert!(!none.exists && none.wrap.is_empty() && none.problem.is_none());
    }
}
