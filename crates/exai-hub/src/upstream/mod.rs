//! Upstreams: where tool calls go.
//!
//! Sessions see only the [`Upstream`] trait, so other kinds of upstream (a standard MCP server over
//! stdio or HTTP) can be added later without touching session code.
//! The one implementation today is [`exai::ExaiUpstream`], a pool of WebSocket connections to the
//! EXAI daemon.

pub mod exai;

use crate::api::UpstreamStatus;
use exai_proto::SessionId;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// A future returned by [`Upstream::call_tool`].
pub type CallFuture = Pin<Box<dyn Future<Output = Result<ToolResult, UpstreamError>> + Send>>;

/// An upstream tool server shared by every session.
pub trait Upstream: Send + Sync + 'static {
    /// Runs one tool call.
    ///
    /// Dropping the returned future cancels the call from the caller's side: a queued call is never
    /// sent, and a running one keeps its connection busy until the upstream finishes it (or its
    /// deadline passes), after which the result is dropped.
    fn call_tool(&self, call: ToolCall) -> CallFuture;

    /// The tool catalog; `None` until it was fetched once. Changes when the tool list changes.
    fn tools(&self) -> watch::Receiver<Option<Arc<ToolCatalog>>>;

    /// The upstream's status; changes on every state change.
    fn status(&self) -> watch::Receiver<UpstreamStatus>;

    /// Drops the backoff and reconnects now (the dashboard's Reconnect button).
    fn reconnect(&self);

    /// An editor window connected: while any is, a down upstream is retried often, so windows
    /// are ready again soon after it comes back.
    fn window_opened(&self) {}

    /// An editor window went away (pairs with [`Upstream::window_opened`]).
    fn window_closed(&self) {}
}

/// One tool call from one session.
#[derive(Debug)]
pub struct ToolCall {
    /// The session that asked; used for fair queueing and logs.
    pub session: SessionId,
    /// The tool name as the editor sent it.
    pub name: String,
    /// The tool arguments (a JSON object; `{}` when the editor sent none).
    pub arguments: serde_json::Value,
    /// Where to send progress, when the editor asked for it (`params._meta.progressToken`).
    pub progress: Option<mpsc::UnboundedSender<Progress>>,
}

/// A progress update from the upstream for a running call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The daemon's periodic "still running" frame.
    Working {
        /// Its message.
        message: String,
    },
    /// A piece of streamed output.
    Chunk {
        /// The chunk's text.
        text: String,
    },
}

/// A tool result's MCP content items (`[{"type":"text","text":..}, ...]`), kept as the JSON of
/// the one array they will be in the answer line, in parts.
///
/// The daemon's text arrives escaped and leaves escaped: decoding it into strings only to encode
/// it again was most of the hub's time and several copies of the memory for a large result. A
/// large piece (a long text) is a slice of the daemon's frame itself, not a copy; the line is
/// the one copy. The JSON never holds a line break (the editor's side is line-delimited).
#[derive(Clone)]
pub struct Content {
    parts: Vec<bytes::Bytes>,
}

/// Builds a [`Content`]: small pieces are copied together, large ones are shared slices.
#[derive(Default)]
pub(crate) struct ContentBuilder {
    parts: Vec<bytes::Bytes>,
    pending: Vec<u8>,
}

impl ContentBuilder {
    /// Pieces at least this long are sliced out of their frame rather than copied.
    const SHARE_FROM: usize = 4096;

    pub(crate) fn push_str(&mut self, text: &str) {
        self.pending.extend_from_slice(text.as_bytes());
    }

    /// Adds `piece`, a part of `frame` (which holds `frame_text`'s bytes), by reference when it
    /// is large. `frame` is `None` when `frame_text` is not shared: then it is copied.
    pub(crate) fn push_from(
        &mut self,
        piece: &str,
        frame_text: &str,
        frame: Option<&bytes::Bytes>,
    ) {
        let start = (piece.as_ptr() as usize).wrapping_sub(frame_text.as_ptr() as usize);
        match frame {
            Some(frame)
                if piece.len() >= Self::SHARE_FROM
                    && start <= frame_text.len()
                    && piece.len() <= frame_text.len() - start
                    && frame.len() == frame_text.len() =>
            {
                self.flush();
                self.parts.push(frame.slice(start..start + piece.len()));
            }
            _ => self.push_str(piece),
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.parts
                .push(bytes::Bytes::from(std::mem::take(&mut self.pending)));
        }
    }

    pub(crate) fn finish(mut self) -> Content {
        self.flush();
        Content { parts: self.parts }
    }
}

impl Content {
    /// Content from items already decoded (errors the hub writes, tests).
    pub fn from_items(items: &[serde_json::Value]) -> Content {
        let json = serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned());
        let mut builder = ContentBuilder::default();
        builder.push_str(&json);
        builder.finish()
    }

    /// One text item.
    pub fn text(text: &str) -> Content {
        Content::from_items(&[serde_json::json!({ "type": "text", "text": text })])
    }

    /// No items.
    pub fn empty() -> Content {
        Content::from_items(&[])
    }

    /// The JSON, in the parts to write one after the other.
    pub fn parts(&self) -> &[bytes::Bytes] {
        &self.parts
    }

    /// The JSON's length in bytes.
    pub fn len(&self) -> usize {
        self.parts.iter().map(bytes::Bytes::len).sum()
    }

    /// Whether the JSON is empty (never, for content that was built: it is at least `[]`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The JSON in one string (a copy: for messages and tests; the answer path writes the parts).
    pub fn to_json(&self) -> String {
        let mut json = Vec::with_capacity(self.len());
        for part in &self.parts {
            json.extend_from_slice(part);
        }
        String::from_utf8(json).unwrap_or_else(|_| "[]".to_owned())
    }

    /// The items, decoded (for a failure's message and for tests; the answer path never does).
    pub fn items(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.to_json()).unwrap_or_default()
    }

    /// The first text item's text, if any.
    pub fn first_text(&self) -> Option<String> {
        self.items().into_iter().find_map(|item| match item {
            serde_json::Value::Object(mut map) => match map.remove("text") {
                Some(serde_json::Value::String(text)) => Some(text),
                _ => None,
            },
            _ => None,
        })
    }
}

impl PartialEq for Content {
    /// The same items, however the JSON is spaced or split.
    fn eq(&self, other: &Content) -> bool {
        let (mine, theirs) = (self.to_json(), other.to_json());
        mine == theirs || self.items() == other.items()
    }
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 200;
        let json = self.to_json();
        match json.char_indices().nth(SHOWN) {
            None => write!(f, "Content({json})"),
            Some((end, _)) => write!(f, "Content({}... {} bytes)", &json[..end], json.len()),
        }
    }
}

/// The result of a tool call, in MCP terms.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// MCP content items (`{"type":"text","text":..}`, ...).
    pub content: Content,
    /// True when the tool ran and failed (MCP `isError`): the model should see the failure.
    pub is_error: bool,
    /// The daemon answered from its cache or from an identical in-flight call.
    pub from_cache: bool,
    /// How long the call was held back by the daemon's rate limit (the hub's pacing and any
    /// retries after the daemon said it was over capacity).
    pub rate_limited: Duration,
}

/// The tool list as last fetched from the upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCatalog {
    /// Increments whenever the list changes (not on a refresh that changed nothing).
    pub generation: u64,
    /// The tools, each an MCP `Tool` object (`name`, `description`, `inputSchema`).
    pub tools: Vec<serde_json::Value>,
}

/// Why a call failed without a tool result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpstreamError {
    /// The daemon is unreachable; said at once rather than after a timeout.
    #[error("EXAI daemon unreachable at {url}: {cause}; the hub keeps retrying")]
    Unavailable {
        /// The daemon URL (never with the token).
        url: String,
        /// The last connection error, in words.
        cause: String,
    },
    /// The daemon rejected the token.
    #[error(
        "EXAI daemon at {url} rejected the token: set EXAI_WS_TOKEN or `token` in the hub config to the daemon's token"
    )]
    Unauthorized {
        /// The daemon URL.
        url: String,
    },
    /// No final frame within the per-call deadline; the connection was replaced.
    #[error("EXAI daemon did not finish the call within {}s; the connection was replaced", .after.as_secs())]
    Timeout {
        /// The deadline that passed.
        after: Duration,
    },
    /// The daemon's rate limit kept refusing the call until its deadline.
    #[error(
        "EXAI daemon's rate limit ({limit}) kept refusing the call for {}s, until its deadline: {message}; \
         another client may share the daemon's per-IP budget, or the daemon's limit is lower than \
         the hub's `rate_limit_per_sec`",
        .waited.as_secs()
    )]
    OverCapacity {
        /// The limit the hub paces to, in words (`10 frames/s, burst 100 per IP`).
        limit: String,
        /// How long the hub retried.
        waited: Duration,
        /// The daemon's last message.
        message: String,
    },
    /// The daemon refused the request itself (unknown tool, invalid arguments, ...).
    #[error("EXAI daemon error {code}: {message}")]
    Rejected {
        /// The daemon's error code, e.g. `TOOL_NOT_FOUND`.
        code: String,
        /// The daemon's message.
        message: String,
    },
    /// The connection closed while the call ran.
    #[error("EXAI daemon connection lost during the call: {cause}")]
    ConnectionLost {
        /// What happened, in words.
        cause: String,
    },
}

impl UpstreamError {
    /// The JSON-RPC error code to answer the editor with.
    pub fn jsonrpc_code(&self) -> i64 {
        match self {
            UpstreamError::Rejected { code, .. } if code == "TOOL_NOT_FOUND" => -32602,
            UpstreamError::Rejected { code, .. }
                if code == "INVALID_REQUEST" || code == "VALIDATION_ERROR" =>
            {
                -32602
            }
            UpstreamError::Rejected { .. } => -32603,
            UpstreamError::Unavailable { .. } => -32001,
            UpstreamError::Unauthorized { .. } => -32002,
            UpstreamError::Timeout { .. } => -32003,
            UpstreamError::OverCapacity { .. } => -32004,
            UpstreamError::ConnectionLost { .. } => -32005,
        }
    }
}
