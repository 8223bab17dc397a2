//! The EXAI daemon's frames: building requests and reading answers.
//!
//! Pure functions over `serde_json::Value`; no sockets here. The daemon's quirks (bare error frames
//! without an id, JSON inside `text`, "retry after N s" only in the message) are decoded in one
//! place so the connection task only decides what to do with them.

use super::scan;
use crate::upstream::{Content, ContentBuilder, Progress, ToolResult, UpstreamError};
use serde_json::{Value, json};
use std::time::Duration;

/// The longest OVER_CAPACITY wait we honour before a retry.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Error codes that mean the daemon refused the request itself, so the editor gets a JSON-RPC
/// error rather than a tool result.
const REJECTED_CODES: [&str; 3] = ["TOOL_NOT_FOUND", "INVALID_REQUEST", "VALIDATION_ERROR"];

/// The daemon's error code for its rate limit.
const OVER_CAPACITY: &str = "OVER_CAPACITY";

/// A fresh, globally unique request id. Never reuse one: ids are global to the whole daemon.
pub(crate) fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A fresh hello session id for pooled connection `slot`: `exai-tray-<random hex>-<slot>`.
pub(crate) fn new_session_id(slot: usize) -> String {
    let random: u64 = rand::random();
    format!("exai-tray-{random:016x}-{slot}")
}

/// Whether the daemon accepts `id` as a hello `session_id` (3-64 of `[A-Za-z0-9_-]`).
///
/// An invalid id makes the daemon close the socket without any answer, so check before sending.
pub(crate) fn is_valid_session_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// The hello frame. The only place the token is exposed.
pub(crate) fn hello(token: Option<&crate::config::Secret>, session_id: &str) -> String {
    let mut frame = json!({ "op": "hello", "session_id": session_id });
    if let Some(token) = token {
        frame["token"] = Value::String(token.expose().to_owned());
    }
    frame.to_string()
}

/// A `call_tool` frame.
pub(crate) fn call_tool(request_id: &str, name: &str, arguments: &Value) -> String {
    let arguments = match arguments {
        Value::Null => json!({}),
        other => other.clone(),
    };
    json!({ "op": "call_tool", "request_id": request_id, "name": name, "arguments": arguments })
        .to_string()
}

/// A `list_tools` frame.
pub(crate) fn list_tools(request_id: &str) -> String {
    json!({ "op": "list_tools", "request_id": request_id }).to_string()
}

/// A `ping` frame (the daemon's op, not a WebSocket ping).
pub(crate) fn ping(request_id: &str) -> String {
    json!({ "op": "ping", "request_id": request_id }).to_string()
}

/// An error the daemon sent, with its code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DaemonError {
    pub(crate) code: String,
    pub(crate) message: String,
}

impl DaemonError {
    fn from_value(value: &Value) -> DaemonError {
        match value {
            Value::Object(map) => DaemonError {
                code: map
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("UNKNOWN")
                    .to_owned(),
                message: map
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            },
            Value::String(text) => DaemonError {
                code: "UNKNOWN".to_owned(),
                message: text.clone(),
            },
            other => DaemonError {
                code: "UNKNOWN".to_owned(),
                message: other.to_string(),
            },
        }
    }
}

/// One frame from the daemon, as it concerns the connection's one outstanding request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    /// `progress` or `stream_chunk` for `request_id`.
    Progress {
        request_id: String,
        progress: Progress,
    },
    /// `stream_complete` for `request_id`.
    StreamComplete { request_id: String },
    /// `call_tool_res` for `request_id`: outputs, or the error it carries.
    CallResult {
        request_id: String,
        result: Result<ToolResult, DaemonError>,
    },
    /// `list_tools_res` for `request_id`.
    ToolList {
        request_id: String,
        tools: Vec<Value>,
    },
    /// `pong` for `request_id`.
    Pong { request_id: String },
    /// An error frame with no request id (`{"error":..}` or `{"op":"error",..}`): it belongs to
    /// the connection's one outstanding request.
    BareError(DaemonError),
    /// An error frame that names a request id.
    Error {
        request_id: String,
        error: DaemonError,
    },
    /// Anything else (unknown op, `cancelled`, `hello_ack` late, ...).
    Other(String),
}

impl Incoming {
    /// The request id the frame names, if any.
    pub(crate) fn request_id(&self) -> Option<&str> {
        match self {
            Incoming::Progress { request_id, .. }
            | Incoming::StreamComplete { request_id }
            | Incoming::CallResult { request_id, .. }
            | Incoming::ToolList { request_id, .. }
            | Incoming::Pong { request_id }
            | Incoming::Error { request_id, .. } => Some(request_id),
            Incoming::BareError(_) | Incoming::Other(_) => None,
        }
    }
}

/// A JSON value as it appears in the frame, not decoded; `null` included (unlike `Option`).
#[derive(Default, Clone, Copy)]
struct Raw<'a>(Option<&'a str>);

impl<'a> Raw<'a> {
    fn json(self) -> Option<&'a str> {
        self.0
    }

    /// The value if it is a string (escapes decoded), else `None`.
    fn string(self) -> Option<String> {
        self.json()
            .filter(|json| json.starts_with('"'))
            .and_then(|json| serde_json::from_str(json).ok())
    }

    fn is_true(self) -> bool {
        self.json() == Some("true")
    }

    fn value(self) -> Value {
        self.json()
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or(Value::Null)
    }
}

/// The members of a daemon frame the hub reads, borrowed from the frame: a large `outputs` is
/// not decoded here (see [`outputs_to_content`]).
#[derive(Default)]
struct Frame<'a> {
    op: Raw<'a>,
    request_id: Raw<'a>,
    error: Raw<'a>,
    outputs: Raw<'a>,
    /// The items of `outputs` when it is an array.
    output_items: Option<Vec<scan::Item<'a>>>,
    from_cache: Raw<'a>,
    from_inflight: Raw<'a>,
    message: Raw<'a>,
    chunk: Raw<'a>,
    tools: Raw<'a>,
}

/// A frame that is not one JSON object, or that names a member the hub reads twice.
struct Unread;

impl<'a> Frame<'a> {
    /// Reads `text` in one pass ([`scan::object`]).
    fn read(text: &'a str) -> Result<Frame<'a>, Unread> {
        let mut frame = Frame::default();
        for member in scan::object(text, "outputs").map_err(|_| Unread)? {
            let field = match &*member.key {
                "op" => &mut frame.op,
                "request_id" => &mut frame.request_id,
                "error" => &mut frame.error,
                "outputs" => {
                    if frame.outputs.0.is_some() {
                        return Err(Unread);
                    }
                    frame.output_items = member.items;
                    &mut frame.outputs
                }
                "from_cache" => &mut frame.from_cache,
                "from_inflight" => &mut frame.from_inflight,
                "message" => &mut frame.message,
                "chunk" => &mut frame.chunk,
                "tools" => &mut frame.tools,
                _ => continue,
            };
            if field.0.replace(member.value).is_some() {
                return Err(Unread);
            }
        }
        Ok(frame)
    }
}

/// Decodes one text frame; `None` when it is not a JSON object.
pub(crate) fn parse(text: &str) -> Option<Incoming> {
    parse_in(text, None)
}

/// [`parse`] for a frame whose bytes are shared (`frame` holds exactly `text`'s bytes): a large
/// result's text is then a slice of the frame, not a copy.
pub(crate) fn parse_shared(text: &str, frame: &bytes::Bytes) -> Option<Incoming> {
    parse_in(text, Some(frame))
}

fn parse_in(text: &str, shared: Option<&bytes::Bytes>) -> Option<Incoming> {
    // A struct would also take an array; the daemon's frames are objects.
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let frame = match Frame::read(text) {
        Ok(frame) => frame,
        // A member named twice: decode it the slow way, last one wins (and not JSON: `None`).
        Err(Unread) => return parse_value(text),
    };
    let op = frame.op.string();
    let request_id = frame.request_id.string();
    let text_field = |raw: Raw<'_>| raw.string().unwrap_or_default();
    let incoming = match (op.as_deref(), request_id) {
        (Some("progress"), Some(request_id)) => Incoming::Progress {
            request_id,
            progress: Progress::Working {
                message: text_field(frame.message),
            },
        },
        (Some("stream_chunk"), Some(request_id)) => Incoming::Progress {
            request_id,
            progress: Progress::Chunk {
                text: text_field(frame.chunk),
            },
        },
        (Some("stream_complete"), Some(request_id)) => Incoming::StreamComplete { request_id },
        (Some("call_tool_res"), Some(request_id)) => {
            let result = match frame.error.json() {
                Some(error) if error != "null" => {
                    Err(DaemonError::from_value(&frame.error.value()))
                }
                _ => Ok(ToolResult {
                    content: outputs_to_content(frame.output_items.as_deref(), text, shared),
                    is_error: false,
                    from_cache: frame.from_cache.is_true() || frame.from_inflight.is_true(),
                    rate_limited: Duration::ZERO,
                }),
            };
            Incoming::CallResult { request_id, result }
        }
        (Some("list_tools_res"), Some(request_id)) => Incoming::ToolList {
            request_id,
            tools: match frame.tools.value() {
                Value::Array(tools) => tools.iter().map(to_mcp_tool).collect(),
                _ => Vec::new(),
            },
        },
        (Some("pong"), Some(request_id)) => Incoming::Pong { request_id },
        (None | Some("error"), request_id) if frame.error.0.is_some() => {
            let error = DaemonError::from_value(&frame.error.value());
            match request_id {
                Some(request_id) => Incoming::Error { request_id, error },
                None => Incoming::BareError(error),
            }
        }
        (op, _) => Incoming::Other(op.unwrap_or("<none>").to_owned()),
    };
    Some(incoming)
}

/// [`parse`] for a frame that names a member twice: through a `Value` (whose map keeps the last).
fn parse_value(text: &str) -> Option<Incoming> {
    let value: Value = serde_json::from_str(text).ok()?;
    if !value.is_object() {
        return None;
    }
    // Written back without duplicates, it takes the borrowed path.
    let unique = value.to_string();
    Frame::read(&unique).ok()?;
    parse(&unique)
}

/// The daemon's `outputs` as MCP content: text items lose their `metadata`, other objects pass
/// through, anything else becomes text. The text stays as the daemon escaped it: never decoded
/// and encoded again, and a large one not even copied (a slice of `shared`, the frame that holds
/// `frame_text`, when given).
fn outputs_to_content(
    items: Option<&[scan::Item<'_>]>,
    frame_text: &str,
    shared: Option<&bytes::Bytes>,
) -> Content {
    let Some(items) = items else {
        return Content::empty();
    };
    let mut out = Out {
        builder: ContentBuilder::default(),
        frame_text,
        shared,
    };
    out.push_str("[");
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(",");
        }
        push_content_item(&mut out, item);
    }
    out.push_str("]");
    out.builder.finish()
}

/// Where content is written: small pieces copied, pieces of the frame shared.
struct Out<'a> {
    builder: ContentBuilder,
    frame_text: &'a str,
    shared: Option<&'a bytes::Bytes>,
}

impl Out<'_> {
    fn push_str(&mut self, text: &str) {
        self.builder.push_str(text);
    }

    /// `piece` is a part of the frame's text.
    fn push_piece(&mut self, piece: &str) {
        self.builder.push_from(piece, self.frame_text, self.shared);
    }
}

/// Writes one of the daemon's output items as an MCP content item.
fn push_content_item(out: &mut Out<'_>, item: &scan::Item<'_>) {
    let push_text = |out: &mut Out<'_>, text_json: &str| {
        out.push_str(r#"{"type":"text","text":"#);
        out.push_piece(text_json);
        out.push_str("}");
    };
    match (item.json.as_bytes().first(), &item.members) {
        // A string's JSON never holds a raw line break; it is copied as it came.
        (Some(b'"'), _) => push_text(out, item.json),
        // An item whose keys cannot be decoded is decoded again, and fails, in `push_value`.
        (Some(b'{'), Some(Ok(members))) => match text_item(members) {
            Some((Some(r#""text""#), text)) => match text.filter(|text| text.starts_with('"')) {
                Some(text) => push_text(out, text),
                None => push_text(out, r#""""#),
            },
            // Another kind of item passes through; whitespace between its tokens may hold line
            // breaks, so it is written anew then.
            Some(_) if !item.json.contains(['\n', '\r']) => out.push_piece(item.json),
            _ => push_value(out, item.json),
        },
        (Some(b'{'), _) => push_value(out, item.json),
        _ => {
            // Numbers, booleans, arrays, null: their JSON text becomes the text.
            let value: Value = serde_json::from_str(item.json).unwrap_or(Value::Null);
            let text = Value::String(value.to_string()).to_string();
            out.push_str(r#"{"type":"text","text":"#);
            out.push_str(&text);
            out.push_str("}");
        }
    }
}

/// An object item's `type` and `text`, undecoded; `None` when it names either twice.
fn text_item<'a>(members: &[scan::Member<'a>]) -> Option<(Option<&'a str>, Option<&'a str>)> {
    let (mut kind, mut text) = (None, None);
    for member in members {
        let field = match &*member.key {
            "type" => &mut kind,
            "text" => &mut text,
            _ => continue,
        };
        if field.replace(member.value).is_some() {
            return None;
        }
    }
    Some((kind, text))
}

/// An object item decoded and written again: a member named twice, or line breaks between
/// tokens.
fn push_value(out: &mut Out<'_>, item: &str) {
    let value: Value = serde_json::from_str(item).unwrap_or(Value::Null);
    let value = match value {
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some("text") => {
            let text = map.get("text").and_then(Value::as_str).unwrap_or_default();
            json!({ "type": "text", "text": text })
        }
        other => other,
    };
    out.push_str(&value.to_string());
}

/// A daemon tool entry as an MCP `Tool` object.
fn to_mcp_tool(tool: &Value) -> Value {
    let field = |key: &str| tool.get(key).cloned();
    let mut mcp = json!({
        "name": field("name").unwrap_or(Value::Null),
        "description": field("description").unwrap_or(Value::String(String::new())),
        "inputSchema": field("inputSchema")
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({ "type": "object" })),
    });
    if mcp["name"].is_null() {
        mcp["name"] = Value::String(String::new());
    }
    mcp
}

/// What a daemon error means for a call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ErrorVerdict {
    /// Fail the call with this error.
    Fail(UpstreamError),
    /// The tool ran and failed: give the model a result that says so.
    ToolFailed(ToolResult),
    /// Rate limited: wait this long, then retry once with a fresh id.
    RetryAfter(Duration, String),
}

/// Classifies a daemon error answering a `call_tool`.
pub(crate) fn classify(error: DaemonError) -> ErrorVerdict {
    if error.code == OVER_CAPACITY {
        let wait = retry_after(&error.message)
            .unwrap_or(Duration::from_secs(1))
            .min(MAX_RETRY_AFTER);
        return ErrorVerdict::RetryAfter(wait, error.message);
    }
    if REJECTED_CODES.contains(&error.code.as_str()) {
        return ErrorVerdict::Fail(UpstreamError::Rejected {
            code: error.code,
            message: error.message,
        });
    }
    ErrorVerdict::ToolFailed(ToolResult {
        content: Content::text(&format!(
            "EXAI daemon error {}: {}",
            error.code, error.message
        )),
        is_error: true,
        from_cache: false,
        rate_limited: Duration::ZERO,
    })
}

/// Parses "retry after N s" (e.g. "... (retry after 0.2s)") out of an OVER_CAPACITY message.
pub(crate) fn retry_after(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let start = lower.find("retry after")? + "retry after".len();
    let rest = lower[start..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let seconds: f64 = rest[..end].parse().ok()?;
    if seconds.is_finite() && seconds >= 0.0 {
        Some(Duration::from_secs_f64(
            seconds.min(MAX_RETRY_AFTER.as_secs_f64()),
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_valid_and_distinct() {
        let first = new_session_id(0);
        let second = new_session_id(9);
        assert!(is_valid_session_id(&first), "{first}");
        assert!(is_valid_session_id(&second), "{second}");
        assert_ne!(first, second);
        assert!(is_valid_session_id(&new_session_id(usize::MAX)));
        assert!(!is_valid_session_id("ab"));
        assert!(!is_valid_session_id("exai tray"));
        assert!(!is_valid_session_id(&"a".repeat(65)));
    }

    #[test]
    fn hello_carries_token_only_when_set() {
        let frame: Value = serde_json::from_str(&hello(None, "exai-tray-1")).unwrap();
        assert_eq!(frame, json!({"op": "hello", "session_id": "exai-tray-1"}));
        let secret = crate::config::Secret::new("sixteen-chars-token");
        let frame: Value = serde_json::from_str(&hello(Some(&secret), "exai-tray-1")).unwrap();
        assert_eq!(frame["token"], "sixteen-chars-token");
    }

    #[test]
    fn parses_retry_after() {
        let message = "Rate limit exceeded: user_rate_limit_exceeded (retry after 0.2s)";
        assert_eq!(retry_after(message), Some(Duration::from_millis(200)));
        assert_eq!(retry_after("retry after 3 s"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("retry after 9999s"), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("slow down"), None);
    }

    #[test]
    fn decodes_results_and_errors() {
        let frame = r#"{"op":"call_tool_res","request_id":"r1","from_cache":true,
            "outputs":[{"type":"text","text":"hi","metadata":{"x":1}},{"type":"image","data":"A"}]}"#;
        assert_eq!(
            parse(frame),
            Some(Incoming::CallResult {
                request_id: "r1".to_owned(),
                result: Ok(ToolResult {
                    content: Content::from_items(&[
                        json!({"type": "text", "text": "hi"}),
                        json!({"type": "image", "data": "A"}),
                    ]),
                    is_error: false,
                    from_cache: true,
                    rate_limited: Duration::ZERO,
                }),
            })
        );
        let bare = r#"{"error":{"code":"TOOL_NOT_FOUND","message":"Tool not found: version"}}"#;
        let Some(Incoming::BareError(error)) = parse(bare) else {
            panic!("not a bare error")
        };
        assert_eq!(
            classify(error),
            ErrorVerdict::Fail(UpstreamError::Rejected {
                code: "TOOL_NOT_FOUND".to_owned(),
                message: "Tool not found: version".to_owned(),
            })
        );
        let over =
            r#"{"op":"error","error":{"code":"OVER_CAPACITY","message":"(retry after 0.2s)"}}"#;
        let Some(Incoming::BareError(error)) = parse(over) else {
            panic!("not a bare error")
        };
        assert!(
            matches!(classify(error), ErrorVerdict::RetryAfter(wait, _) if wait == Duration::from_millis(200))
        );
        let internal = DaemonError {
            code: "INTERNAL_ERROR".to_owned(),
            message: "Tool execution failed: chat".to_owned(),
        };
        let ErrorVerdict::ToolFailed(result) = classify(internal) else {
            panic!("not a tool failure")
        };
        assert!(result.is_error);
        assert_eq!(
            result.content,
            Content::text("EXAI daemon error INTERNAL_ERROR: Tool execution failed: chat")
        );
        assert_eq!(parse("[1]"), None);
        assert_eq!(parse("not json"), None);
    }
}

/// Property tests: the decoder never panics on what a daemon (or anything on its port) sends.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// JSON values that look like daemon frames now and then: the keys it uses, values of any type.
    fn frame_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(Value::from),
            ".{0,10}".prop_map(Value::String),
            prop::sample::select(vec![
                "progress",
                "stream_chunk",
                "stream_complete",
                "call_tool_res",
                "list_tools_res",
                "pong",
                "error",
                "text",
                "OVER_CAPACITY",
                "TOOL_NOT_FOUND",
            ])
            .prop_map(Value::from),
        ];
        let key = prop::sample::select(vec![
            "op",
            "request_id",
            "error",
            "outputs",
            "tools",
            "message",
            "chunk",
            "from_cache",
            "type",
            "text",
            "code",
            "name",
            "inputSchema",
        ]);
        leaf.prop_recursive(4, 32, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6).prop_map(|members| {
                    Value::Object(
                        members
                            .into_iter()
                            .map(|(key, value)| (key.to_owned(), value))
                            .collect(),
                    )
                }),
            ]
        })
    }

    /// The decoder as it was before frames were read borrowed: every member through a `Value`.
    /// [`parse`] must agree with it on every frame.
    fn reference_parse(text: &str) -> Option<Incoming> {
        let value: Value = serde_json::from_str(text).ok()?;
        let map = value.as_object()?;
        let op = map.get("op").and_then(Value::as_str);
        let request_id = map
            .get("request_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let text_field = |key: &str| {
            map.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let is_true = |key: &str| map.get(key).and_then(Value::as_bool).unwrap_or(false);
        let content = |outputs: Option<&Value>| {
            let Some(Value::Array(outputs)) = outputs else {
                return Content::empty();
            };
            let items: Vec<Value> = outputs
                .iter()
                .map(|output| match output {
                    Value::Object(map)
                        if map.get("type").and_then(Value::as_str) == Some("text") =>
                    {
                        let text = map.get("text").and_then(Value::as_str).unwrap_or_default();
                        json!({ "type": "text", "text": text })
                    }
                    Value::Object(_) => output.clone(),
                    Value::String(text) => json!({ "type": "text", "text": text }),
                    other => json!({ "type": "text", "text": other.to_string() }),
                })
                .collect();
            Content::from_items(&items)
        };
        Some(match (op, request_id) {
            (Some("progress"), Some(request_id)) => Incoming::Progress {
                request_id,
                progress: Progress::Working {
                    message: text_field("message"),
                },
            },
            (Some("stream_chunk"), Some(request_id)) => Incoming::Progress {
                request_id,
                progress: Progress::Chunk {
                    text: text_field("chunk"),
                },
            },
            (Some("stream_complete"), Some(request_id)) => Incoming::StreamComplete { request_id },
            (Some("call_tool_res"), Some(request_id)) => {
                let result = match map.get("error") {
                    Some(error) if !error.is_null() => Err(DaemonError::from_value(error)),
                    _ => Ok(ToolResult {
                        content: content(map.get("outputs")),
                        is_error: false,
                        from_cache: is_true("from_cache") || is_true("from_inflight"),
                        rate_limited: Duration::ZERO,
                    }),
                };
                Incoming::CallResult { request_id, result }
            }
            (Some("list_tools_res"), Some(request_id)) => Incoming::ToolList {
                request_id,
                tools: map
                    .get("tools")
                    .and_then(Value::as_array)
                    .map(|tools| tools.iter().map(to_mcp_tool).collect())
                    .unwrap_or_default(),
            },
            (Some("pong"), Some(request_id)) => Incoming::Pong { request_id },
            (None | Some("error"), request_id) if map.contains_key("error") => {
                let error = DaemonError::from_value(&map["error"]);
                match request_id {
                    Some(request_id) => Incoming::Error { request_id, error },
                    None => Incoming::BareError(error),
                }
            }
            (op, _) => Incoming::Other(op.unwrap_or("<none>").to_owned()),
        })
    }

    /// A result's text is copied as the daemon escaped it, never with a raw line break, and
    /// pretty-printed frames and members named twice still decode.
    #[test]
    fn large_and_awkward_outputs_pass_through_escaped() {
        // JSON escapes, as they stand in the frame.
        let text = r#"line one\nline \"two\" \u00e9\t\\ \ud83d\ude00 "#.repeat(1000);
        let frame = format!(
            "{{\n  \"op\": \"call_tool_res\",\n  \"request_id\": \"r\",\n  \"outputs\": [\n    {{\"type\": \"text\", \"text\": \"{text}\", \"metadata\": {{\"a\": [1,\n 2]}}}},\n    {{\"type\": \"image\",\n \"data\": \"QQ==\"}},\n    \"plain\",\n    42\n  ]\n}}"
        );
        let Some(Incoming::CallResult {
            result: Ok(result), ..
        }) = parse(&frame)
        else {
            panic!("not a result")
        };
        let json = result.content.to_json();
        assert!(!json.contains(['\n', '\r']), "{json}");
        assert!(json.contains(&text), "the text is copied, not re-encoded");
        assert_eq!(
            Some(&result),
            match reference_parse(&frame) {
                Some(Incoming::CallResult {
                    result: Ok(ref reference),
                    ..
                }) => Some(reference),
                _ => None,
            }
        );
        assert_eq!(
            result.content.items()[3],
            json!({"type": "text", "text": "42"})
        );
        // From a shared frame: the same content, and the long text is the frame's own bytes.
        let bytes = bytes::Bytes::from(frame.clone().into_bytes());
        let shared_text = std::str::from_utf8(&bytes).unwrap();
        let Some(Incoming::CallResult {
            result: Ok(shared), ..
        }) = parse_shared(shared_text, &bytes)
        else {
            panic!("not a result")
        };
        assert_eq!(shared.content.to_json(), result.content.to_json());
        let frame_range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
        assert!(
            shared
                .content
                .parts()
                .iter()
                .any(|part| part.len() >= text.len()
                    && frame_range.contains(&(part.as_ptr() as usize))),
            "the text is a slice of the frame, not a copy"
        );
        // An item whose key cannot be decoded becomes null, as serde_json's decoding of it did.
        let surrogate = r#"{"op":"call_tool_res","request_id":"r","outputs":[{"\ud800":1},"b"]}"#;
        let Some(Incoming::CallResult {
            result: Ok(result), ..
        }) = parse(surrogate)
        else {
            panic!("not a result")
        };
        assert_eq!(
            result.content.to_json(),
            r#"[null,{"type":"text","text":"b"}]"#
        );
        let twice = r#"{"op":"pong","op":"call_tool_res","request_id":"r","outputs":["a"],"outputs":["b"]}"#;
        assert_eq!(parse(twice), reference_parse(twice));
        assert_eq!(
            parse(twice),
            Some(Incoming::CallResult {
                request_id: "r".to_owned(),
                result: Ok(ToolResult {
                    content: Content::text("b"),
                    is_error: false,
                    from_cache: false,
                    rate_limited: Duration::ZERO,
                }),
            })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn parse_never_panics_on_text(text in ".{0,64}") {
            let _ = parse(&text);
        }

        #[test]
        fn parse_agrees_with_decoding_every_member(value in frame_value(), pretty: bool) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                value.to_string()
            };
            let incoming = parse(&text);
            prop_assert_eq!(&incoming, &reference_parse(&text));
            let bytes = bytes::Bytes::from(text.clone().into_bytes());
            let shared_text = std::str::from_utf8(&bytes).unwrap();
            prop_assert_eq!(&parse_shared(shared_text, &bytes), &incoming);
            if let Some(Incoming::CallResult { result: Ok(result), .. }) = incoming {
                prop_assert!(!result.content.to_json().contains(['\n', '\r']));
            }
        }

        #[test]
        fn parse_reads_any_json_and_errors_classify(value in frame_value()) {
            let text = value.to_string();
            let incoming = parse(&text);
            prop_assert_eq!(incoming.is_some(), value.is_object());
            if let Some(Incoming::BareError(error) | Incoming::Error { error, .. }) = incoming {
                match classify(error) {
                    ErrorVerdict::RetryAfter(wait, _) => prop_assert!(wait <= MAX_RETRY_AFTER),
                    ErrorVerdict::ToolFailed(result) => prop_assert!(result.is_error),
                    ErrorVerdict::Fail(_) => {}
                }
            }
        }

        #[test]
        fn classify_never_panics(
            code in prop_oneof![
                Just("OVER_CAPACITY".to_owned()),
                Just("TOOL_NOT_FOUND".to_owned()),
                Just("VALIDATION_ERROR".to_owned()),
                "[A-Z_]{0,12}",
            ],
            message in ".{0,40}",
        ) {
            let over = code == OVER_CAPACITY;
            match classify(DaemonError { code, message }) {
                ErrorVerdict::RetryAfter(wait, _) => {
                    prop_assert!(over);
                    prop_assert!(wait <= MAX_RETRY_AFTER);
                }
                _ => prop_assert!(!over),
            }
        }

        #[test]
        fn retry_after_reads_what_the_daemon_writes(
            seconds in 0.0f64..100.0,
            before in "[a-p :(]{0,20}",
            after in "[a-z )]{0,10}",
        ) {
            let message = format!("{before}retry after {seconds:.1}s{after}");
            let wait = retry_after(&message).expect("a wait");
            let expected = ((seconds * 10.0).round() / 10.0).min(MAX_RETRY_AFTER.as_secs_f64());
            prop_assert!((wait.as_secs_f64() - expected).abs() < 1e-6, "{} → {:?}", message, wait);
        }

        #[test]
        fn retry_after_never_panics(message in ".{0,48}") {
            if let Some(wait) = retry_after(&message) {
                prop_assert!(wait <= MAX_RETRY_AFTER);
            }
        }
    }
}
