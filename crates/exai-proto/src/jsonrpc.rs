//! JSON-RPC 2.0 as MCP lines carry it: ids kept as raw JSON text, error codes, a borrowed view of
//! an incoming message, and response lines built in one buffer.
//!
//! Used by the shim (what an editor line is, which hub line answers which request) and by the hub
//! (every window's MCP server). No I/O, and nothing is re-encoded: a message is looked at through
//! [`Message::parse`], which borrows `method`, `id` and `params` from the line (large params are
//! validated, never copied), and answers are written around the request's raw id, so an id comes
//! back with exactly its original type and value (`1`, `"1"` and `1.0` stay distinct).
//!
//! Every request-shaped line gets exactly one answer: a [`Message::Request`] from whoever serves
//! it, a [`Message::Invalid`] with [`Invalid::error_line`] (`-32700` or `-32600`, with the id when
//! it is a valid one, else `null`). Notifications and responses are never answered.

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A JSON-RPC error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `-32700`: the line is not JSON.
    ParseError,
    /// `-32600`: JSON, but not a valid request object.
    InvalidRequest,
    /// `-32601`: the method is not served.
    MethodNotFound,
    /// `-32602`: the params do not fit the method (also an unknown tool).
    InvalidParams,
    /// `-32603`: the server failed.
    Internal,
    /// `-32001`: what answers the request cannot be reached (the hub from the shim, the daemon
    /// from the hub).
    Unavailable,
    /// `-32002`: the daemon rejected the hub's token.
    Unauthorized,
    /// `-32003`: the hub's deadline for the call passed.
    Timeout,
    /// `-32004`: the daemon is over capacity for longer than the call may wait.
    OverCapacity,
    /// `-32005`: the connection serving the call was lost mid-call.
    ConnectionLost,
    /// `-32022` (MCP 2026-07-28): the request's protocol version is not supported.
    UnsupportedProtocolVersion,
    /// Any other code, passed on as it came.
    Other(i64),
}

impl ErrorCode {
    /// The number on the wire.
    pub const fn code(self) -> i64 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::Internal => -32603,
            ErrorCode::Unavailable => -32001,
            ErrorCode::Unauthorized => -32002,
            ErrorCode::Timeout => -32003,
            ErrorCode::OverCapacity => -32004,
            ErrorCode::ConnectionLost => -32005,
            ErrorCode::UnsupportedProtocolVersion => -32022,
            ErrorCode::Other(code) => code,
        }
    }

    /// The code for a number; known numbers get their variant.
    pub const fn from_code(code: i64) -> ErrorCode {
        match code {
            -32700 => ErrorCode::ParseError,
            -32600 => ErrorCode::InvalidRequest,
            -32601 => ErrorCode::MethodNotFound,
            -32602 => ErrorCode::InvalidParams,
            -32603 => ErrorCode::Internal,
            -32001 => ErrorCode::Unavailable,
            -32002 => ErrorCode::Unauthorized,
            -32003 => ErrorCode::Timeout,
            -32004 => ErrorCode::OverCapacity,
            -32005 => ErrorCode::ConnectionLost,
            -32022 => ErrorCode::UnsupportedProtocolVersion,
            other => ErrorCode::Other(other),
        }
    }
}

impl From<i64> for ErrorCode {
    fn from(code: i64) -> ErrorCode {
        ErrorCode::from_code(code)
    }
}

impl From<ErrorCode> for i64 {
    fn from(code: ErrorCode) -> i64 {
        code.code()
    }
}

/// A request id exactly as written: the JSON text of a string or a number, borrowed from the line.
///
/// Two ids are the same id when their texts are equal, which is what a peer that echoes the text
/// back (both of ours do) needs; `1` and `1.0`, `"a"` and `"\u0061"` are different ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawId<'a>(&'a str);

/// Why a JSON value is not a request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// `null`: JSON-RPC allows it only in an error response to an unreadable request.
    Null,
    /// `true` or `false`.
    Bool,
    /// An object.
    Object,
    /// An array.
    Array,
    /// Not one complete JSON value.
    NotJson,
}

impl IdError {
    fn kind(self) -> &'static str {
        match self {
            IdError::Null => "null",
            IdError::Bool => "a boolean",
            IdError::Object => "an object",
            IdError::Array => "an array",
            IdError::NotJson => "not JSON",
        }
    }
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the id must be a string or a number, not {}",
            self.kind()
        )
    }
}

impl std::error::Error for IdError {}

impl<'a> RawId<'a> {
    /// The id whose JSON text is `json` (no surrounding whitespace).
    pub fn new(json: &'a str) -> Result<RawId<'a>, IdError> {
        id_kind(json)?;
        let trimmed = !json.ends_with([' ', '\t', '\r', '\n']);
        if trimmed && serde_json::from_str::<IgnoredAny>(json).is_ok() {
            Ok(RawId(json))
        } else {
            Err(IdError::NotJson)
        }
    }

    /// The id held by a raw value (already known to be one JSON value).
    pub fn from_raw(raw: &'a RawValue) -> Result<RawId<'a>, IdError> {
        id_kind(raw.get())?;
        Ok(RawId(raw.get()))
    }

    /// The id's JSON text.
    pub fn as_str(self) -> &'a str {
        self.0
    }

    /// An owned copy, to keep while the request is in flight.
    pub fn to_id(self) -> Id {
        Id(self.0.into())
    }
}

/// Whether `json` starts like a string or a number; the error names what it is instead.
fn id_kind(json: &str) -> Result<(), IdError> {
    match json.as_bytes().first() {
        Some(b'"' | b'-' | b'0'..=b'9') => Ok(()),
        Some(b'n') if json == "null" => Err(IdError::Null),
        Some(b't' | b'f') if json == "true" || json == "false" => Err(IdError::Bool),
        Some(b'{') => Err(IdError::Object),
        Some(b'[') => Err(IdError::Array),
        _ => Err(IdError::NotJson),
    }
}

impl fmt::Display for RawId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An owned request id: the raw JSON text, kept while the request is in flight.
///
/// Borrows as `str`, so a map keyed by `Id` is looked up with [`RawId::as_str`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(Box<str>);

impl Id {
    /// The borrowed view, for writing an answer.
    pub fn as_raw(&self) -> RawId<'_> {
        RawId(&self.0)
    }

    /// The id's JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<RawId<'_>> for Id {
    fn from(id: RawId<'_>) -> Id {
        id.to_id()
    }
}

/// One incoming line, looked at without copying it.
#[derive(Debug)]
pub enum Message<'a> {
    /// A request: answer it exactly once.
    Request(Request<'a>),
    /// A notification: never answered.
    Notification(Notification<'a>),
    /// A response (`result` or `error`, no `method`): never answered.
    Response(Response<'a>),
    /// A JSON array (a batch, 2025-03-26 only): the caller decides; see [`parse_batch`].
    Batch,
    /// Not a valid message: answer with [`Invalid::error_line`].
    Invalid(Invalid<'a>),
}

/// A request.
#[derive(Debug)]
pub struct Request<'a> {
    /// The id, verbatim.
    pub id: RawId<'a>,
    /// The method (borrowed unless it holds escapes).
    pub method: Cow<'a, str>,
    /// The params (an object), verbatim; `None` when absent or `null`.
    pub params: Option<&'a RawValue>,
}

/// A notification.
#[derive(Debug)]
pub struct Notification<'a> {
    /// The method (borrowed unless it holds escapes).
    pub method: Cow<'a, str>,
    /// The params, verbatim; `None` when absent or `null`.
    pub params: Option<&'a RawValue>,
}

/// MCP's `notifications/cancelled`: the method, and the params member naming the request.
pub const CANCELLED: &str = "notifications/cancelled";

impl<'a> Notification<'a> {
    /// For `notifications/cancelled`, the id of the request it cancels (`params.requestId`).
    pub fn cancelled_id(&self) -> Option<RawId<'a>> {
        #[derive(Deserialize)]
        struct Params<'a> {
            #[serde(borrow, rename = "requestId")]
            request_id: &'a RawValue,
        }
        if self.method != CANCELLED {
            return None;
        }
        let params: Params<'a> = serde_json::from_str(self.params?.get()).ok()?;
        RawId::from_raw(params.request_id).ok()
    }
}

/// A response.
#[derive(Debug)]
pub struct Response<'a> {
    /// The id it answers; `None` when `null` (an answer to an unreadable request) or not an id.
    pub id: Option<RawId<'a>>,
    /// `result`, verbatim.
    pub result: Option<&'a RawValue>,
    /// `error`, verbatim.
    pub error: Option<&'a RawValue>,
}

/// A line that is not a valid message, and the id to answer it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid<'a> {
    /// The request's id, when it has a valid one (for a line that is not JSON: sniffed with
    /// [`sniff_id`]).
    pub id: Option<RawId<'a>>,
    /// What is wrong.
    pub reason: Reason,
}

/// What is wrong with an invalid line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Not JSON (serde's words).
    Parse(String),
    /// JSON, but not an object.
    NotAnObject,
    /// An object serde refused (a member given twice).
    Malformed(String),
    /// Neither `method` nor `id` (nor `result`/`error`).
    Empty,
    /// An `id` (valid or not), but no `method`, `result` or `error`.
    NoMethod,
    /// A `method` that is not a string.
    MethodNotString,
    /// A request whose `id` is `null` or not a string or number.
    BadId(IdError),
    /// A request whose `params` is not an object.
    ParamsNotObject,
}

impl Reason {
    /// The JSON-RPC code for it: `-32700` for text that is not JSON, else `-32600`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Reason::Parse(_) => ErrorCode::ParseError,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Parse(error) => write!(f, "parse error: {error}"),
            Reason::NotAnObject => f.write_str("invalid request: not a JSON-RPC message object"),
            Reason::Malformed(error) => write!(f, "invalid request: {error}"),
            Reason::Empty => {
                f.write_str("invalid request: a JSON-RPC message needs a method or an id")
            }
            Reason::NoMethod => f.write_str(
                "invalid request: a message with an id needs a method (or, as a response, a result or an error)",
            ),
            Reason::MethodNotString => f.write_str("invalid request: the method must be a string"),
            Reason::BadId(error) => write!(f, "invalid request: {error}"),
            Reason::ParamsNotObject => {
                f.write_str("invalid request: the params of a request must be an object")
            }
        }
    }
}

impl Invalid<'_> {
    /// The error answer, with the request's id or `null`.
    pub fn error_line(&self) -> Bytes {
        error_line(self.id, self.reason.code(), &self.reason.to_string())
    }
}

/// The members of a message the view reads; a present `null` is told apart from an absent member.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// `Some` for any present value, `null` included (plain `Option` would read `null` as absent).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Whether the line holds nothing but whitespace.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn first_byte(line: &[u8]) -> Option<u8> {
    line.iter()
        .copied()
        .find(|byte| !byte.is_ascii_whitespace())
}

impl<'a> Message<'a> {
    /// Looks at one line (without its newline).
    ///
    /// A blank line is a parse error here; the shim skips blank lines before asking.
    pub fn parse(line: &'a [u8]) -> Message<'a> {
        match first_byte(line) {
            Some(b'{') => {}
            Some(b'[') => return Message::Batch,
            _ => {
                // serde's struct visitor would also take an array or fail on a scalar with a
                // data error; tell "not JSON" from "not an object" by the text itself.
                let reason = match serde_json::from_slice::<IgnoredAny>(line) {
                    Ok(_) => Reason::NotAnObject,
                    Err(error) => Reason::Parse(error.to_string()),
                };
                return Message::Invalid(Invalid { id: None, reason });
            }
        }
        let fields = match serde_json::from_slice::<Fields<'a>>(line) {
            Ok(fields) => fields,
            Err(error) => {
                let reason = if error.is_data() {
                    Reason::Malformed(error.to_string())
                } else {
                    Reason::Parse(error.to_string())
                };
                return Message::Invalid(Invalid {
                    id: sniff_id(line),
                    reason,
                });
            }
        };
        Message::classify(fields)
    }

    fn classify(fields: Fields<'a>) -> Message<'a> {
        let id = fields.id.map(RawId::from_raw);
        let valid_id = id.and_then(Result::ok);
        let invalid = |reason| {
            Message::Invalid(Invalid {
                id: valid_id,
                reason,
            })
        };
        let Some(method) = fields.method else {
            return match (fields.result.is_some() || fields.error.is_some(), id) {
                (true, _) => Message::Response(Response {
                    id: valid_id,
                    result: fields.result,
                    error: fields.error,
                }),
                (false, Some(_)) => invalid(Reason::NoMethod),
                (false, None) => invalid(Reason::Empty),
            };
        };
        let Some(method) = method_text(method) else {
            return invalid(Reason::MethodNotString);
        };
        // `"params": null` is read as no params: lenient toward writers that emit it.
        let params = fields.params.filter(|params| params.get() != "null");
        match id {
            None => Message::Notification(Notification { method, params }),
            Some(Err(error)) => invalid(Reason::BadId(error)),
            Some(Ok(id)) if params.is_some_and(|params| !params.get().starts_with('{')) => {
                Message::Invalid(Invalid {
                    id: Some(id),
                    reason: Reason::ParamsNotObject,
                })
            }
            Some(Ok(id)) => Message::Request(Request { id, method, params }),
        }
    }

    /// The id to answer, when this message is one that gets an answer: a request's, or an invalid
    /// line's (`Some(None)`: answer with `null`). `None` for notifications, responses and batches.
    pub fn answer_id(&self) -> Option<Option<RawId<'a>>> {
        match self {
            Message::Request(request) => Some(Some(request.id)),
            Message::Invalid(invalid) => Some(invalid.id),
            Message::Notification(_) | Message::Response(_) | Message::Batch => None,
        }
    }
}

/// A method's text: borrowed from the line, owned only when it holds escapes; `None` when the
/// value is not a string.
fn method_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    if !raw.get().starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(raw.get()) {
        Ok(text) => Some(Cow::Borrowed(text)),
        Err(_) => serde_json::from_str::<String>(raw.get())
            .ok()
            .map(Cow::Owned),
    }
}

/// The items of a batch line, each looked at on its own; `Err` when the line is not a JSON array.
pub fn parse_batch(line: &[u8]) -> Result<Vec<Message<'_>>, Invalid<'_>> {
    match serde_json::from_slice::<Vec<&RawValue>>(line) {
        Ok(items) => Ok(items
            .into_iter()
            .map(|item| Message::parse(item.get().as_bytes()))
            .collect()),
        Err(error) => {
            let reason = if error.is_data() {
                Reason::NotAnObject
            } else {
                Reason::Parse(error.to_string())
            };
            Err(Invalid { id: None, reason })
        }
    }
}

/// The start of every response line, up to the id.
const HEAD: &[u8] = br#"{"jsonrpc":"2.0","id":"#;

/// One success line, built in a single buffer: the envelope around the raw id, then the result
/// value the caller writes into [`ResultWriter::buf`], then the closing brace.
#[derive(Debug)]
pub struct ResultWriter {
    buf: Vec<u8>,
}

impl ResultWriter {
    /// Starts `{"jsonrpc":"2.0","id":<id>,"result":`; `capacity` is the expected result size.
    pub fn new(id: RawId<'_>, capacity: usize) -> ResultWriter {
        let mut buf = Vec::with_capacity(HEAD.len() + id.0.len() + 12 + capacity + 1);
        buf.extend_from_slice(HEAD);
        buf.extend_from_slice(id.0.as_bytes());
        buf.extend_from_slice(br#","result":"#);
        ResultWriter { buf }
    }

    /// Where the result value goes: exactly one JSON value, no newline.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// The finished line (without newline).
    pub fn finish(mut self) -> Bytes {
        self.buf.push(b'}');
        Bytes::from(self.buf)
    }
}

/// A success line whose result is the JSON text `result`.
pub fn result_line(id: RawId<'_>, result: &str) -> Bytes {
    let mut writer = ResultWriter::new(id, result.len());
    writer.buf().extend_from_slice(result.as_bytes());
    writer.finish()
}

/// An error line: `{"jsonrpc":"2.0","id":<id or null>,"error":{"code":..,"message":..}}`.
pub fn error_line(id: Option<RawId<'_>>, code: ErrorCode, message: &str) -> Bytes {
    error_line_with(id, code, message, None::<&()>)
}

/// An error line with `data`, serialized into the line.
pub fn error_line_with_data<T: serde::Serialize + ?Sized>(
    id: Option<RawId<'_>>,
    code: ErrorCode,
    message: &str,
    data: &T,
) -> Bytes {
    error_line_with(id, code, message, Some(data))
}

fn error_line_with<T: serde::Serialize + ?Sized>(
    id: Option<RawId<'_>>,
    code: ErrorCode,
    message: &str,
    data: Option<&T>,
) -> Bytes {
    let id = id.map_or("null", RawId::as_str);
    let mut buf = Vec::with_capacity(HEAD.len() + id.len() + 48 + message.len());
    buf.extend_from_slice(HEAD);
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(br#","error":{"code":"#);
    buf.extend_from_slice(code.code().to_string().as_bytes());
    buf.extend_from_slice(br#","message":"#);
    // A &str always serializes; the fallback is unreachable.
    if serde_json::to_writer(&mut buf, message).is_err() {
        buf.extend_from_slice(b"\"\"");
    }
    if let Some(data) = data {
        buf.extend_from_slice(br#","data":"#);
        let start = buf.len();
        if serde_json::to_writer(&mut buf, data).is_err() {
            // Only a map with non-string keys fails to serialize.
            buf.truncate(start);
            buf.extend_from_slice(b"null");
        }
    }
    buf.extend_from_slice(b"}}");
    Bytes::from(buf)
}

/// Finds the value of a top-level `"id"` member in the start of a JSON object, for a line that
/// cannot be parsed (cut off, or not JSON further on).
///
/// Returns the id when it is a complete string or number inside `prefix`, and `None` for
/// anything else (no object, no id, a null id, or an id cut off by the prefix end). Nested objects
/// and arrays are skipped, so an `"id"` inside `params` is never mistaken for the request id.
pub fn sniff_id(prefix: &[u8]) -> Option<RawId<'_>> {
    let mut scanner = Scanner {
        text: prefix,
        at: 0,
    };
    scanner.skip_ws();
    scanner.expect(b'{')?;
    loop {
        scanner.skip_ws();
        if scanner.peek()? == b'}' {
            return None;
        }
        let key = scanner.string()?;
        scanner.skip_ws();
        scanner.expect(b':')?;
        scanner.skip_ws();
        let value = scanner.value()?;
        if key == b"\"id\"" {
            // A number is only complete when something follows it inside the prefix.
            let complete = value.first() == Some(&b'"') || scanner.at < prefix.len();
            let text = std::str::from_utf8(value).ok()?;
            return RawId::new(text).ok().filter(|_| complete);
        }
        scanner.skip_ws();
        match scanner.bump()? {
            b',' => continue,
            _ => return None,
        }
    }
}

/// A cursor over JSON text that only knows how to skip values.
/// The id of a response line (one with `result` or `error` and no `method`), read without
/// parsing the line: the keys are scanned in order and the scan stops as soon as the answer is
/// known, so for a line that starts `{"jsonrpc":"2.0","id":..,"result":` (every line the hub
/// writes) a multi-megabyte result is never looked at. `None` for requests, notifications,
/// batches, non-objects and lines whose id is not a valid request id.
pub fn sniff_response_id(line: &[u8]) -> Option<RawId<'_>> {
    let mut scanner = Scanner { text: line, at: 0 };
    scanner.skip_ws();
    scanner.expect(b'{')?;
    let mut id = None;
    let mut answer = false;
    loop {
        scanner.skip_ws();
        if scanner.peek()? == b'}' {
            break;
        }
        let key = scanner.string()?;
        scanner.skip_ws();
        scanner.expect(b':')?;
        scanner.skip_ws();
        match key {
            b"\"method\"" => return None,
            b"\"result\"" | b"\"error\"" => {
                answer = true;
                if id.is_some() {
                    break;
                }
                scanner.value()?;
            }
            b"\"id\"" => {
                let value = std::str::from_utf8(scanner.value()?).ok()?;
                id = Some(RawId::new(value).ok()?);
                if answer {
                    break;
                }
            }
            _ => {
                scanner.value()?;
            }
        }
        scanner.skip_ws();
        match scanner.bump()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    id.filter(|_| answer)
}

struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.bump()? == wanted).then_some(())
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    /// A complete string, quotes included.
    fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        self.expect(b'"')?;
        loop {
            match self.bump()? {
                b'\\' => {
                    self.bump()?;
                }
                b'"' => return Some(&self.text[start..self.at]),
                _ => {}
            }
        }
    }

    /// One complete value of any kind; scalars end at the first delimiter or the prefix end.
    fn value(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            if depth == 0 {
                                self.at += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while let Some(byte) = self.peek() {
                    if matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.at += 1;
                }
            }
        }
        Some(&self.text[start..self.at])
    }
}

#[cfg(test)]
#[path = "jsonrpc_tests.rs"]
mod tests;
