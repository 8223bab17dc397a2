//! `exai connect [EDITOR]`: write the exai server into an editor's own config file, or show
//! which editors are connected (`--status`, or no editor), or rewrite the editor's other stdio
//! servers to run through exai-shim (`--wrap`, undone by `--unwrap`). The work is
//! `exai_hub::connect::Connector`, shared with the dashboard's Connect page.

use crate::{ConnectArgs, ExitCode};
use exai_hub::api::EditorStatus;
use exai_hub::connect::{self, Connector, Direction, Editor, Env, ServerChange, wrap};

pub(crate) fn run(args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let (shim, found) = match args.shim {
        Some(path) => {
            let found = path.is_file();
            (std::path::absolute(&path).unwrap_or(path), found)
        }
        None => connect::find_shim(),
    };
    let connector = Connector {
        env: Env::from_process()?,
        shim,
        endpoint: args.endpoint,
    };
    let workspace = match &args.workspace {
        Some(dir) => Some(std::path::absolute(dir)?),
        None => None,
    };
    let editor = match args.editor.as_deref() {
        None => None,
        Some(key) => Some(Editor::from_key(key).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown editor {key:?}: use one of {}",
                Editor::ALL.map(Editor::key).join(", ")
            )
        })?),
    };
    if !found {
        note(&format!(
            "note: {} does not exist yet: install EXAI, build it (scripts/run.sh) or pass --shim PATH",
            connector.shim.display()
        ));
    }
    let Some(editor) = editor.filter(|_| !args.status) else {
        out(&format!("exai-shim: {}", connector.shim.display()));
        let editors: Vec<Editor> = editor.map_or(Editor::ALL.to_vec(), |editor| vec![editor]);
        for editor in editors {
            out(&status_line(
                &connector.status(editor, workspace.as_deref()),
            ));
        }
        return Ok(ExitCode::Ok);
    };
    if args.wrap || args.unwrap {
        let direction = if args.wrap {
            Direction::Wrap
        } else {
            Direction::Unwrap
        };
        if direction == Direction::Wrap && !found && !args.dry_run {
            anyhow::bail!(
                "{} does not exist, and every wrapped server would fail to start without it; install EXAI, build it or pass --shim PATH (nothing was written)",
                connector.shim.display()
            );
        }
        let result = connector.wrap(editor, workspace.as_deref(), direction, args.dry_run)?;
        out(&result.message);
        if !result.servers.is_empty() {
            out(&listing(&result.servers));
        }
        return Ok(ExitCode::Ok);
    }
    if args.dry_run {
        let plan = connector.plan(editor, workspace.as_deref())?;
        let result = connector.connect(editor, workspace.as_deref(), true)?;
        out(&result.message);
        if plan.changed() {
            out(&diff(plan.before.as_deref().unwrap_or(""), &plan.after));
        }
        return Ok(ExitCode::Ok);
    }
    let result = connector.connect(editor, workspace.as_deref(), false)?;
    out(&result.message);
    Ok(ExitCode::Ok)
}

/// What wrapping did to each server: a line with its name and outcome, then for a rewritten
/// one what it ran and runs now (`-`/`+`), and the names of its `env` variables, never their
/// values.
pub(crate) fn listing(servers: &[ServerChange]) -> String {
    let width = servers
        .iter()
        .map(|server| server.label().chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for server in servers {
        lines.push(format!(
            "  {:<width$}  {}",
            server.label(),
            server.outcome.describe()
        ));
        let pad = " ".repeat(width + 4);
        if server.outcome.changed() {
            lines.push(format!("{pad}- {}", wrap::command_line(&server.before)));
            lines.push(format!("{pad}+ {}", wrap::command_line(&server.after)));
        }
        if server.outcome.changed() && !server.env_keys.is_empty() {
            lines.push(format!(
                "{pad}env kept: {} (values not shown)",
                server.env_keys.join(", ")
            ));
        }
    }
    lines.join("\n")
}

/// One editor: `Cursor  connected  /home/me/.cursor/mcp.json`.
fn status_line(status: &EditorStatus) -> String {
    let state = match status {
        EditorStatus {
            problem: Some(problem),
            ..
        } => format!("cannot read: {problem}"),
        EditorStatus {
            connected: false,
            exists: false,
            ..
        } => "not connected (no file yet)".to_owned(),
        EditorStatus {
            connected: false, ..
        } => "not connected".to_owned(),
        EditorStatus {
            command_exists: false,
            command,
            ..
        } => format!(
            "connected, but {} does not exist: run exai connect {} again",
            command.as_deref().unwrap_or("its command"),
            status.editor
        ),
        EditorStatus {
            up_to_date: false,
            command,
            ..
        } => format!(
            "connected (runs {}; exai connect {} would update it)",
            command.as_deref().unwrap_or("?"),
            status.editor
        ),
        _ => "connected".to_owned(),
    };
    format!(
        "{:<15} {:<15} {}\n  {state}",
        status.title, status.editor, status.path
    )
}

/// The changed lines as `-`/`+` with two lines of context (the edit is one region).
fn diff(before: &str, after: &str) -> String {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let context = 2;
    let mut lines = Vec::new();
    for line in &old[prefix.saturating_sub(context)..prefix] {
        lines.push(format!("  {line}"));
    }
    for line in &old[prefix..old.len() - suffix] {
        lines.push(format!("- {line}"));
    }
    for line in &new[prefix..new.len() - suffix] {
        lines.push(format!("+ {line}"));
    }
    let tail = new.len() - suffix;
    for line in &new[tail..(tail + context).min(new.len())] {
        lines.push(format!("  {line}"));
    }
    lines.join("\n")
}

#[allow(clippy::print_stdout, reason = "the command's output")]
fn out(text: &str) {
    println!("{text}");
}

#[allow(clippy::print_stderr, reason = "a warning beside the output")]
fn note(text: &str) {
    eprintln!("{text}");
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn the_diff_shows_the_changed_lines_with_context() {
        let before = "{\n  \"a\": 1,\n  \"b\": 2\n}\n";
        let after = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"exai\": {}\n}\n";
        assert_eq!(
            diff(before, after),
            "  {\n    \"a\": 1,\n-   \"b\": 2\n+   \"b\": 2,\n+   \"exai\": {}\n  }"
        );
    }
}
