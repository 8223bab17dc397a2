//! Control messages: the handshake around the relay, goodbye, shutdown and status.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Identifies one editor session across reconnects and hub restarts.
///
/// On the wire and in JSON it is 16 lowercase hex digits: a string, because JavaScript numbers
/// cannot hold a `u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A session id that is not 1 to 16 hex digits.
#[derive(Debug, thiserror::Error)]
#[error("invalid session id {0:?}: expected 1 to 16 hex digits")]
pub struct SessionIdParseError(String);

impl FromStr for SessionId {
    type Err = SessionIdParseError;
    fn from_str(text: &str) -> Result<SessionId, SessionIdParseError> {
        if text.is_empty() || text.len() > 16 {
            return Err(SessionIdParseError(text.to_owned()));
        }
        u64::from_str_radix(text, 16)
            .map(SessionId)
            .map_err(|_| SessionIdParseError(text.to_owned()))
    }
}

impl Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<SessionId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a connecting client wants to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An editor window's shim: becomes a session and relays MCP lines.
    Shim,
    /// A control client such as `exai status`: not a session, asks questions only.
    Control,
}

/// The first frame of every connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// The client's [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u32,
    /// Shim or control client.
    pub role: Role,
    /// The client's process id.
    pub pid: u32,
    /// The client's parent process id (the editor, for a shim), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_pid: Option<u32>,
    /// The client's working directory (the editor's workspace, usually).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// A label chosen by the user (`--name` or `EXAI_SESSION_NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Set when a shim reconnects after losing its hub: resume this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
    /// Set when the shim stands for a wrapped MCP server (`exai-shim -- COMMAND ...`) rather
    /// than the EXAI daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Box<crate::ServerSpec>>,
}

impl Hello {
    /// Checks every field a peer controls against [`crate::limits`]; the error names the field,
    /// its size and the limit.
    pub fn check_limits(&self) -> Result<(), String> {
        use crate::limits;
        let resume = self.resume.as_ref();
        let fields = [
            ("name", self.name.as_deref(), limits::NAME),
            ("cwd", self.cwd.as_deref(), limits::CWD),
            (
                "resume.initialize",
                resume.and_then(|resume| resume.initialize.as_deref()),
                limits::INITIALIZE,
            ),
            (
                "resume.secret",
                resume.and_then(|resume| resume.secret.as_deref()),
                limits::SECRET,
            ),
        ];
        for (field, value, limit) in fields {
            if let Some(value) = value
                && value.len() > limit
            {
                return Err(format!(
                    "hello field `{field}` is {} bytes, over the limit of {limit}",
                    value.len()
                ));
            }
        }
        if let Some(server) = &self.server {
            let len = server.wire_len();
            if len > limits::SERVER {
                return Err(format!(
                    "hello field `server` (the wrapped server's command, arguments and \
                     environment) is {len} bytes, over the limit of {}",
                    limits::SERVER
                ));
            }
        }
        Ok(())
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary.
pub fn truncate_to(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
}

/// What a reconnecting shim knows of its session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    /// The session id the previous hub gave.
    pub session_id: SessionId,
    /// The editor's original `initialize` request line, replayed so a restarted hub knows the
    /// client. The hub does not answer it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialize: Option<String>,
    /// The secret the hub gave with the session (`Welcome::resume_secret`): only the shim that
    /// had the session can take it back while the hub still remembers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Control messages from a shim or control client to the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// The first frame of every connection.
    Hello(Hello),
    /// The client is leaving on purpose (its editor closed stdin).
    Goodbye {
        /// Why, in words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A control client asks for the hub's status snapshot.
    StatusRequest,
    /// A control client (a second tray app, say) asks the hub's embedder to show its dashboard.
    Focus {
        /// The session to show, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
    },
    /// A control client (`exai-tray --quit`, the Windows uninstaller) asks the hub to stop: it
    /// answers [`HubMsg::Stopping`], tells every shim, and its embedder exits.
    Stop,
    /// A message this version does not know.
    #[serde(other)]
    Unknown,
}

/// Control messages from the hub to a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubMsg {
    /// The handshake succeeded.
    Welcome {
        /// The session id (for a control client, an id for its connection only).
        session_id: SessionId,
        /// The hub's own version, for diagnostics.
        hub_version: String,
        /// For a shim: the secret to present when it resumes this session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_secret: Option<String>,
    },
    /// The handshake failed; the hub closes the connection after this.
    Rejected {
        /// Why, in words a user can act on.
        reason: String,
    },
    /// The hub is stopping; the connection closes after this.
    Shutdown {
        /// Why, in words.
        reason: String,
    },
    /// Answer to [`ClientMsg::StatusRequest`]: the hub's status as JSON.
    Status {
        /// The snapshot, in the shape of `exai_hub::api::Snapshot`.
        ///
        /// A `Value` rather than a `RawValue`: serde buffers the fields of an internally tagged
        /// enum, and a raw value cannot be read back from that buffer.
        snapshot: serde_json::Value,
    },
    /// Answer to [`ClientMsg::Focus`]: the request was passed to the hub's embedder.
    Focused,
    /// Answer to [`ClientMsg::Stop`]: the hub is stopping; the connection closes after this.
    Stopping,
    /// A message this version does not know.
    #[serde(other)]
    Unknown,
}
