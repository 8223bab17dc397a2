//! The launch spec of a wrapped MCP server (`exai-shim -- COMMAND ARGS...`): what the shim
//! sends in its [`Hello`](crate::Hello) so the hub can start the server, or reuse a running one.
//!
//! The environment travels as the shim was given it, values included: the hub needs them to
//! start the server. Nothing here prints a value: [`ServerSpec`]'s `Debug` shows the keys only.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How widely one running server is shared among editor windows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SharePolicy {
    /// One instance for every window with the same spec (the default).
    #[default]
    Shared,
    /// One instance per working directory (the editor's workspace folder).
    Workspace,
    /// One instance per window, for servers that keep per-client state or depend on roots.
    Window,
}

impl SharePolicy {
    /// The policy's name on the command line and in status.
    pub const fn as_str(self) -> &'static str {
        match self {
            SharePolicy::Shared => "shared",
            SharePolicy::Workspace => "workspace",
            SharePolicy::Window => "window",
        }
    }

    /// The policy named `text` (`shared`, `workspace`, `window`).
    pub fn parse(text: &str) -> Option<SharePolicy> {
        [
            SharePolicy::Shared,
            SharePolicy::Workspace,
            SharePolicy::Window,
        ]
        .into_iter()
        .find(|policy| policy.as_str() == text)
    }
}

impl fmt::Display for SharePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stdio MCP server as one editor window would start it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSpec {
    /// The program, as the editor's entry names it (resolved on the window's `PATH` by the hub).
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// The working directory the shim was started in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The environment the shim was given, as (key, value) pairs.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// `--env KEY`: when not empty, exactly these variables tell one server from another.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_keys: Vec<String>,
    /// `--share`.
    #[serde(default)]
    pub share: SharePolicy,
}

impl ServerSpec {
    /// The bytes a peer controls in this spec, for [`crate::limits::SERVER`].
    pub fn wire_len(&self) -> usize {
        self.command.len()
            + self.args.iter().map(|arg| arg.len() + 4).sum::<usize>()
            + self.cwd.as_ref().map_or(0, String::len)
            + self
                .env
                .iter()
                .map(|(key, value)| key.len() + value.len() + 8)
                .sum::<usize>()
            + self.env_keys.iter().map(|key| key.len() + 4).sum::<usize>()
    }
}

impl fmt::Debug for ServerSpec {
    /// Keys only: an environment holds secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.env.iter().map(|(key, _)| key.as_str()).collect();
        f.debug_struct("ServerSpec")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field("env_keys_given", &keys)
            .field("env_keys", &self.env_keys)
            .field("share", &self.share)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_value() {
        let spec = ServerSpec {
            command: "npx".into(),
            args: vec!["-y".into(), "server".into()],
            cwd: None,
            env: vec![("API_KEY".into(), "s3cr3t-value".into())],
            env_keys: vec![],
            share: SharePolicy::Shared,
        };
        let shown = format!("{spec:?}");
        assert!(shown.contains("API_KEY"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn policies_round_trip() {
        for policy in [
            SharePolicy::Shared,
            SharePolicy::Workspace,
            SharePolicy::Window,
        ] {
            assert_eq!(SharePolicy::parse(policy.as_str()), Some(policy));
            let json = serde_json::to_string(&policy).unwrap();
            assert_eq!(json, format!("\"{policy}\""));
        }
        assert_eq!(SharePolicy::parse("global"), None);
    }
}
