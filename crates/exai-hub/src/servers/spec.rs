//! Which windows share one server instance: the identity of a launch spec.
//!
//! Two windows share an instance when their keys are equal. The key is made of the command, the
//! arguments, the share policy, the environment that matters (below), the working directory
//! only under policy `workspace`, and the window itself under policy `window`.
//!
//! The environment that matters is, with `--env KEY` given, exactly those variables; otherwise
//! every variable except per-window noise ([`is_noise`]): what an editor, a terminal or a
//! session manager sets differently in each window (`VSCODE_PID`, `TERM_SESSION_ID`, `SHLVL`,
//! ...) and the shim's own `EXAI_*` settings. So a server the editor gives an API key in its
//! entry's `env` gets its own instance per key, while two windows of the same editor share one.
//!
//! The key holds values, so it is never logged or shown; status shows [`display_name`] and the
//! command line.

use exai_proto::{ServerSpec, SessionId, SharePolicy};
use std::collections::BTreeMap;

/// Variables that differ per window, terminal or login without changing what a server does.
/// Prefixes end in `*`.
pub const NOISE: &[&str] = &[
    "VSCODE_*",
    "ELECTRON_*",
    "CURSOR_*",
    "TERM_PROGRAM*",
    "TERM_SESSION_ID",
    "ITERM_SESSION_ID",
    "WT_SESSION",
    "WINDOWID",
    "SHLVL",
    "PWD",
    "OLDPWD",
    "_",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "SSH_*",
    "TMUX",
    "TMUX_PANE",
    "DESKTOP_STARTUP_ID",
    "XDG_ACTIVATION_TOKEN",
    "GIO_LAUNCHED_DESKTOP_FILE_PID",
    "EXAI_*",
];

/// Whether `key` is per-window noise ([`NOISE`]).
pub fn is_noise(key: &str) -> bool {
    NOISE.iter().any(|pattern| match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => key == *pattern,
    })
}

/// An instance's identity; equal keys share one instance. Holds environment values: never log
/// or show it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpecKey {
    command: String,
    args: Vec<String>,
    share: SharePolicy,
    env: BTreeMap<String, String>,
    cwd: Option<String>,
    window: Option<SessionId>,
}

impl std::fmt::Debug for SpecKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpecKey")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("share", &self.share)
            .field("env_keys", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field("window", &self.window)
            .finish()
    }
}

/// The key of `spec` as `window` sent it.
pub fn key(spec: &ServerSpec, window: SessionId) -> SpecKey {
    let env = if spec.env_keys.is_empty() {
        spec.env
            .iter()
            .filter(|(key, _)| !is_noise(key))
            .cloned()
            .collect()
    } else {
        spec.env
            .iter()
            .filter(|(key, _)| spec.env_keys.iter().any(|wanted| wanted == key))
            .cloned()
            .collect()
    };
    SpecKey {
        command: spec.command.clone(),
        args: spec.args.clone(),
        share: spec.share,
        env,
        cwd: (spec.share == SharePolicy::Workspace)
            .then(|| spec.cwd.clone())
            .flatten(),
        window: (spec.share == SharePolicy::Window).then_some(window),
    }
}

/// Programs that run the server named by their first argument that is not a flag.
const RUNNERS: &[&str] = &[
    "npx", "node", "bunx", "bun", "deno", "uvx", "uv", "pipx", "python", "python3", "pnpm", "yarn",
    "npm", "docker", "podman", "sh", "bash", "cmd", "java",
];

/// A short name for status and logs: the command's file name, or for a runner (`npx`, `uvx`,
/// `node`, `python`, ...) its first argument that is not a flag, without directories, a scope
/// or a version (`npx -y @modelcontextprotocol/server-everything@1` is `server-everything`).
pub fn display_name(spec: &ServerSpec) -> String {
    let base = file_stem(&spec.command);
    let runner = RUNNERS
        .iter()
        .any(|runner| base.eq_ignore_ascii_case(runner));
    let chosen = if runner {
        spec.args
            .iter()
            .filter(|arg| !arg.starts_with('-') && !arg.is_empty())
            .find(|arg| !matches!(arg.as_str(), "run" | "exec" | "x" | "dlx" | "tool"))
            .map(|arg| script_name(arg))
            .unwrap_or(base)
    } else {
        base
    };
    let mut name: String = chosen
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    if name.is_empty() {
        name = "server".to_owned();
    }
    name
}

/// A runner's argument as a name: a package without its scope and version
/// (`@scope/pkg@1` is `pkg`), or a script's file stem, or for a generic entry point
/// (`dist/index.js`, `src/main.py`) the directory above the build folders
/// (`node_modules/@modelcontextprotocol/server-everything/dist/index.js` is `server-everything`).
fn script_name(arg: &str) -> String {
    let parts: Vec<&str> = arg
        .split(['/', '\\'])
        .filter(|part| !part.is_empty())
        .collect();
    let last = parts.last().copied().unwrap_or(arg);
    let stem = file_stem(
        last.split('@')
            .find(|part| !part.is_empty())
            .unwrap_or(last),
    );
    let generic = ["index", "main", "cli", "server", "__main__", "app"];
    if parts.len() > 1 && generic.contains(&stem.as_str()) {
        let skip = ["dist", "build", "lib", "src", "bin", "out", "esm", "cjs"];
        if let Some(dir) = parts[..parts.len() - 1]
            .iter()
            .rev()
            .find(|part| !skip.contains(part))
        {
            return (*dir).to_owned();
        }
    }
    stem
}

fn file_stem(path: &str) -> String {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = file.to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat", ".com", ".js", ".mjs", ".py"] {
        if lower.ends_with(ext) && file.len() > ext.len() {
            return file[..file.len() - ext.len()].to_owned();
        }
    }
    file.to_owned()
}

/// The command line as status shows it: the command and arguments, never the environment.
pub fn command_line(spec: &ServerSpec) -> String {
    let mut line = spec.command.clone();
    for arg in &spec.args {
        line.push(' ');
        if arg.is_empty() || arg.contains([' ', '"', '\'']) {
            line.push_str(&format!("{arg:?}"));
        } else {
            line.push_str(arg);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(env: &[(&str, &str)]) -> ServerSpec {
        ServerSpec {
            command: "npx".into(),
            args: vec![
                "-y".into(),
                "@modelcontextprotocol/server-everything".into(),
            ],
            cwd: Some("/home/me/a".into()),
            env: env
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            env_keys: Vec::new(),
            share: SharePolicy::Shared,
        }
    }

    const W1: SessionId = SessionId(1);
    const W2: SessionId = SessionId(2);

    #[test]
    fn per_window_noise_does_not_split() {
        let first = spec(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/home/me"),
            ("VSCODE_PID", "100"),
            ("VSCODE_IPC_HOOK", "/tmp/a.sock"),
            ("TERM_SESSION_ID", "w0t0p0"),
            ("SHLVL", "2"),
            ("PWD", "/home/me/a"),
            ("_", "/usr/bin/code"),
            ("EXAI_SESSION_NAME", "one"),
            ("SSH_AUTH_SOCK", "/tmp/ssh-1"),
        ]);
        let mut second = spec(&[
            ("HOME", "/home/me"),
            ("PATH", "/usr/bin"),
            ("VSCODE_PID", "200"),
            ("ELECTRON_RUN_AS_NODE", "1"),
            ("TERM_PROGRAM_VERSION", "1.96"),
            ("SHLVL", "3"),
            ("PWD", "/home/me/b"),
            ("EXAI_SESSION_NAME", "two"),
            ("SSH_AUTH_SOCK", "/tmp/ssh-2"),
        ]);
        second.cwd = Some("/home/me/b".into());
        assert_eq!(key(&first, W1), key(&second, W2));
    }

    #[test]
    fn an_api_key_in_the_entrys_env_splits() {
        let first = spec(&[("PATH", "/usr/bin"), ("API_KEY", "sk-first")]);
        let second = spec(&[("PATH", "/usr/bin"), ("API_KEY", "two")]);
        let third = spec(&[("PATH", "/usr/bin")]);
        assert_ne!(key(&first, W1), key(&second, W2));
        assert_ne!(key(&first, W1), key(&third, W2));
        // Nor does the key show a value when printed.
        assert!(!format!("{:?}", key(&first, W1)).contains("sk-first"));
    }

    #[test]
    fn env_keys_narrow_what_counts() {
        let mut first = spec(&[("PATH", "/a"), ("API_KEY", "k"), ("OTHER", "1")]);
        let mut second = spec(&[("PATH", "/b"), ("API_KEY", "k"), ("OTHER", "2")]);
        first.env_keys = vec!["API_KEY".into()];
        second.env_keys = vec!["API_KEY".into()];
        assert_eq!(key(&first, W1), key(&second, W2));
        second.env = vec![("API_KEY".into(), "other".into())];
        assert_ne!(key(&first, W1), key(&second, W2));
    }

    #[test]
    fn args_and_policies_split() {
        let first = spec(&[]);
        let mut other_arg = spec(&[]);
        other_arg.args.push("--verbose".into());
        assert_ne!(key(&first, W1), key(&other_arg, W1));

        // `workspace`: the cwd counts; `shared`: it does not.
        let mut here = spec(&[]);
        let mut there = spec(&[]);
        there.cwd = Some("/elsewhere".into());
        assert_eq!(key(&here, W1), key(&there, W2));
        here.share = SharePolicy::Workspace;
        there.share = SharePolicy::Workspace;
        assert_ne!(key(&here, W1), key(&there, W2));
        there.cwd = here.cwd.clone();
        assert_eq!(key(&here, W1), key(&there, W2));

        // `window`: one per window.
        let mut mine = spec(&[]);
        mine.share = SharePolicy::Window;
        assert_ne!(key(&mine, W1), key(&mine, W2));
        assert_eq!(key(&mine, W1), key(&mine, W1));
        assert_ne!(key(&mine, W1), key(&first, W1), "the policy itself counts");
    }

    #[test]
    fn names_are_short_and_say_what_runs() {
        let mut spec = spec(&[]);
        assert_eq!(display_name(&spec), "server-everything");
        spec.args = vec!["-y".into(), "@scope/pkg@1.2.3".into(), "stdio".into()];
        assert_eq!(display_name(&spec), "pkg");
        spec.command = "/usr/bin/python3".into();
        spec.args = vec!["-u".into(), "/srv/tools/my_server.py".into()];
        assert_eq!(display_name(&spec), "my_server");
        spec.command = r"C:\tools\mcp-github.exe".into();
        spec.args = vec![];
        assert_eq!(display_name(&spec), "mcp-github");
        spec.command = "uvx".into();
        spec.args = vec!["mcp-server-git".into(), "--repository".into(), ".".into()];
        assert_eq!(display_name(&spec), "mcp-server-git");
        spec.command = "node".into();
        spec.args = vec![
            "/x/node_modules/@modelcontextprotocol/server-everything/dist/index.js".into(),
            "stdio".into(),
        ];
        assert_eq!(display_name(&spec), "server-everything");
        spec.command = "uvx".into();
        spec.args = vec!["a b".into()];
        assert_eq!(command_line(&spec), r#"uvx "a b""#);
    }
}
