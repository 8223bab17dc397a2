//! MCP messages as the hub speaks them to each editor window: parsing the few fields the hub
//! reads, version negotiation, and building responses.
//!
//! Responses are assembled from the request's raw `id` text, so an id comes back with exactly
//! its original type and value (`1`, `"1"` and `1.0` stay distinct).

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Handshake-era revisions the hub answers `initialize` with, oldest first.
pub const HANDSHAKE_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The stateless revision (no `initialize`; `_meta` on every request; `server/discover`).
pub const STATELESS_VERSION: &str = "2026-07-28";
/// Every revision the hub speaks.
pub const ALL_VERSIONS: &[&str] = &[
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// JSON-RPC: invalid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: method not found.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC: invalid params.
pub const INVALID_PARAMS: i64 = -32602;

/// The fields of an incoming message the hub looks at; everything else is skipped unparsed.
#[derive(Debug, Deserialize)]
pub struct Incoming<'a> {
    /// The request id, verbatim. Absent for notifications.
    #[serde(borrow, default)]
    pub id: Option<&'a RawValue>,
    /// The method; absent for responses.
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    /// The params, verbatim.
    #[serde(borrow, default)]
    pub params: Option<&'a RawValue>,
}

/// `clientInfo` as sent in `initialize` or `_meta`.
#[derive(Debug, Deserialize)]
pub struct WireClientInfo {
    /// The client's name.
    #[serde(default)]
    pub name: String,
    /// The client's version.
    #[serde(default)]
    pub version: String,
}

/// `initialize` params.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    /// The version the client asks for.
    pub protocol_version: String,
    /// Who the client is.
    #[serde(default)]
    pub client_info: Option<WireClientInfo>,
}

/// `_meta` as the hub reads it.
#[derive(Debug, Default, Deserialize)]
pub struct Meta<'a> {
    /// The editor's progress token, verbatim.
    #[serde(borrow, default, rename = "progressToken")]
    pub progress_token: Option<&'a RawValue>,
    /// The stateless era's per-request version.
    #[serde(default, rename = "io.modelcontextprotocol/protocolVersion")]
    pub protocol_version: Option<String>,
    /// The stateless era's per-request client info.
    #[serde(default, rename = "io.modelcontextprotocol/clientInfo")]
    pub client_info: Option<WireClientInfo>,
}

/// Params of any request: only `_meta` is read generically.
#[derive(Debug, Default, Deserialize)]
pub struct AnyParams<'a> {
    /// `_meta`.
    #[serde(borrow, default, rename = "_meta")]
    pub meta: Option<Meta<'a>>,
}

/// `tools/call` params.
#[derive(Debug, Deserialize)]
pub struct CallParams<'a> {
    /// The tool name.
    pub name: String,
    /// The arguments.
    #[serde(default)]
    pub arguments: Option<serde_json::Value>,
    /// `_meta`.
    #[serde(borrow, default, rename = "_meta")]
    pub meta: Option<Meta<'a>>,
}

/// `notifications/cancelled` params.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelledParams<'a> {
    /// The id of the request to cancel, verbatim.
    #[serde(borrow)]
    pub request_id: &'a RawValue,
}

/// Picks the version to answer `initialize` with: the client's if the hub speaks it, else the
/// latest handshake-era revision (the client then decides whether it can go on).
pub fn negotiate(requested: &str) -> &'static str {
    HANDSHAKE_VERSIONS
        .iter()
        .find(|version| **version == requested)
        .copied()
        .unwrap_or(HANDSHAKE_VERSIONS[HANDSHAKE_VERSIONS.len() - 1])
}

fn server_info() -> serde_json::Value {
    serde_json::json!({
        "name": "exai-hub",
        "title": "EXAI Tray hub",
        "version": env!("CARGO_PKG_VERSION"),
    })
}

fn capabilities() -> serde_json::Value {
    serde_json::json!({ "tools": { "listChanged": true } })
}

/// The `initialize` result.
pub fn initialize_result(version: &str) -> String {
    serde_json::json!({
        "protocolVersion": version,
        "capabilities": capabilities(),
        "serverInfo": server_info(),
        "instructions": "EXAI tools, served through the EXAI hub shared by all your editor windows.",
    })
    .to_string()
}

/// The `server/discover` result, without `resultType` (the caller adds it with [`mark_complete`]).
pub fn discover_result() -> String {
    serde_json::json!({
        "supportedVersions": ALL_VERSIONS,
        "capabilities": capabilities(),
        // The capabilities never change, but the hub may restart into a newer version: keep
        // caches short and per user.
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": { "io.modelcontextprotocol/serverInfo": server_info() },
        "instructions": "EXAI tools, served through the EXAI hub shared by all your editor windows.",
    })
    .to_string()
}

/// Adds `"resultType":"complete"` to a result object for stateless-era requests.
pub fn mark_complete(result: &str, stateless: bool) -> Cow<'_, str> {
    if !stateless {
        return Cow::Borrowed(result);
    }
    match result.strip_prefix('{') {
        Some(rest) if rest.trim_start().starts_with('}') => {
            Cow::Owned(r#"{"resultType":"complete"}"#.to_owned())
        }
        Some(rest) => Cow::Owned(format!(r#"{{"resultType":"complete",{rest}"#)),
        None => Cow::Borrowed(result),
    }
}

/// A successful response line.
pub fn response(id: &str, result: &str) -> Bytes {
    let mut line = String::with_capacity(id.len() + result.len() + 36);
    line.push_str(r#"{"jsonrpc":"2.0","id":"#);
    line.push_str(id);
    line.push_str(r#","result":"#);
    line.push_str(result);
    line.push('}');
    Bytes::from(line)
}

/// An error response line; `id` is raw JSON (`null` when unknown).
pub fn error_response(id: &str, code: i64, message: &str) -> Bytes {
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"error\"".to_owned());
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message}}}}}"#
    ))
}

/// A `notifications/progress` line.
pub fn progress_notification(token: &str, progress: u64, message: &str) -> Bytes {
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"\"".to_owned());
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{token},"progress":{progress},"message":{message}}}}}"#
    ))
}

/// The `notifications/tools/list_changed` line.
pub fn tools_list_changed() -> Bytes {
    Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#)
}

/// The reason a stateless request's version is refused, if it is.
pub fn check_stateless_version(meta: &Meta<'_>) -> Option<String> {
    let version = meta.protocol_version.as_deref()?;
    if ALL_VERSIONS.contains(&version) {
        None
    } else {
        Some(format!(
            "unsupported protocol version {version:?}; the EXAI hub supports {}",
            ALL_VERSIONS.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_known_and_unknown_versions() {
        assert_eq!(negotiate("2024-11-05"), "2024-11-05");
        assert_eq!(negotiate("2025-06-18"), "2025-06-18");
        assert_eq!(negotiate("2026-07-28"), "2025-11-25");
        assert_eq!(negotiate("1999-01-01"), "2025-11-25");
    }

    #[test]
    fn response_keeps_the_id_verbatim() {
        let line = response(r#""a:1""#, "{}");
        assert_eq!(&line[..], br#"{"jsonrpc":"2.0","id":"a:1","result":{}}"#);
        let line = error_response("7", -32601, "method not found: \"x\"");
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["id"], 7);
        assert_eq!(value["error"]["message"], "method not found: \"x\"");
    }

    #[test]
    fn marks_stateless_results_complete() {
        assert_eq!(mark_complete("{}", true), r#"{"resultType":"complete"}"#);
        assert_eq!(
            mark_complete(r#"{"tools":[]}"#, true),
            r#"{"resultType":"complete","tools":[]}"#
        );
        assert_eq!(mark_complete(r#"{"tools":[]}"#, false), r#"{"tools":[]}"#);
        let discover = discover_result();
        let marked: serde_json::Value =
            serde_json::from_str(&mark_complete(&discover, true)).unwrap();
        assert_eq!(marked["resultType"], "complete");
        assert_eq!(
            mark_complete(&discover, true).matches("resultType").count(),
            1
        );
    }
}
