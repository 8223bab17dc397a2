//! MCP messages as the hub speaks them to each editor window: the params the hub reads, version
//! negotiation, and building responses.
//!
//! JSON-RPC itself (what a line is, raw ids, error codes, the response envelope) is
//! [`exai_proto::jsonrpc`], shared with the shim. Responses are assembled around the request's
//! raw `id` text, so an id comes back with exactly its original type and value (`1`, `"1"` and
//! `1.0` stay distinct).
//!
//! Every result and notification has the shape of the version the request is answered in
//! ([`request_version`]): `resultType` (and on `tools/list` and `server/discover` `ttlMs` and
//! `cacheScope`) only in 2026-07-28, progress `message` only from 2025-03-26, the server's `title`
//! only from 2025-06-18. `ci/sdk` checks the lines against the official SDKs' validators.

use bytes::Bytes;
use exai_proto::jsonrpc::{self, ErrorCode, RawId, ResultWriter};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A protocol revision the hub speaks. Ordered oldest first, so "from 2025-03-26 on" is a
/// comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// `2024-11-05`.
    V2024_11_05,
    /// `2025-03-26`: progress `message`, batches.
    V2025_03_26,
    /// `2025-06-18`: `Implementation.title`.
    V2025_06_18,
    /// `2025-11-25`: the last handshake-era revision.
    V2025_11_25,
    /// `2026-07-28`: stateless (no `initialize`; `_meta` on every request; `server/discover`);
    /// every result carries `resultType`, cacheable results `ttlMs` and `cacheScope`.
    V2026_07_28,
}

impl Version {
    /// Every revision the hub speaks, oldest first.
    pub const ALL: [Version; 5] = [
        Version::V2024_11_05,
        Version::V2025_03_26,
        Version::V2025_06_18,
        Version::V2025_11_25,
        Version::V2026_07_28,
    ];
    /// The newest revision `initialize` can negotiate.
    pub const LATEST_HANDSHAKE: Version = Version::V2025_11_25;

    /// The revision named `text`, if the hub speaks it.
    pub fn parse(text: &str) -> Option<Version> {
        Version::ALL
            .into_iter()
            .find(|version| version.as_str() == text)
    }

    /// The revision's name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::V2024_11_05 => "2024-11-05",
            Version::V2025_03_26 => "2025-03-26",
            Version::V2025_06_18 => "2025-06-18",
            Version::V2025_11_25 => "2025-11-25",
            Version::V2026_07_28 => "2026-07-28",
        }
    }

    /// The stateless era: `resultType` on every result, no `initialize`, no unsolicited
    /// notifications (they travel on a `subscriptions/listen` stream only).
    pub fn is_stateless(self) -> bool {
        self >= Version::V2026_07_28
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a 2026-07-28 client may cache `tools/list`: 30 s. The catalog changes only when the
/// daemon's tool set does (a reconnect after a daemon upgrade), and a stateless window hears of
/// that only by asking again (`notifications/tools/list_changed` travels on a
/// `subscriptions/listen` stream, which the hub does not offer). Asking again is cheap (the hub
/// answers from memory, no daemon round trip), so a short TTL bounds how stale a window's list
/// can get without making clients ask before every call.
pub const TOOLS_LIST_TTL_MS: u64 = 30_000;
/// How long a client may cache `server/discover`: 0 (always stale). Answered from memory, and the
/// hub may be restarted into a newer version at any time.
pub const DISCOVER_TTL_MS: u64 = 0;

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

/// Picks the version to answer `initialize` with: the client's if the hub speaks it in the
/// handshake era, else the latest handshake-era revision (the client then decides whether it can
/// go on; `initialize` does not exist in 2026-07-28).
pub fn negotiate(requested: &str) -> Version {
    Version::parse(requested)
        .filter(|version| !version.is_stateless())
        .unwrap_or(Version::LATEST_HANDSHAKE)
}

/// The version a request is answered in: the one its `_meta` names (stateless era), else the
/// window's (negotiated by `initialize`, or named by an earlier request's `_meta`), else the
/// latest handshake-era revision (whose shapes a client that skipped the handshake expects).
/// `Err` carries a `_meta` version the hub does not speak.
pub fn request_version<'m>(
    meta: &'m Meta<'_>,
    window: Option<Version>,
) -> Result<Version, &'m str> {
    match meta.protocol_version.as_deref() {
        Some(requested) => Version::parse(requested).ok_or(requested),
        None => Ok(window.unwrap_or(Version::LATEST_HANDSHAKE)),
    }
}

/// `Implementation` for the hub, with `title` (2025-06-18 on).
const SERVER_INFO: &str = concat!(
    r#"{"name":"exai-hub","title":"EXAI Tray hub","version":""#,
    env!("CARGO_PKG_VERSION"),
    r#""}"#
);
/// `Implementation` for the hub as 2024-11-05 and 2025-03-26 define it (`name`, `version`).
const SERVER_INFO_UNTITLED: &str = concat!(
    r#"{"name":"exai-hub","version":""#,
    env!("CARGO_PKG_VERSION"),
    r#""}"#
);
/// `initialize`'s capabilities: tools, and `notifications/tools/list_changed` on catalog changes.
const CAPABILITIES: &str = r#"{"tools":{"listChanged":true}}"#;
/// `server/discover`'s capabilities: tools without `listChanged`, which in 2026-07-28 promises
/// the notification on a `subscriptions/listen` stream the hub does not offer; stateless windows
/// refresh by `ttlMs` instead.
const CAPABILITIES_STATELESS: &str = r#"{"tools":{}}"#;
const INSTRUCTIONS: &str =
    r#""EXAI tools, served through the EXAI hub shared by all your editor windows.""#;

fn server_info(version: Version) -> &'static str {
    if version >= Version::V2025_06_18 {
        SERVER_INFO
    } else {
        SERVER_INFO_UNTITLED
    }
}

/// One successful response line, built in a single buffer: the envelope around the request's raw
/// id, the members every result of `version` carries (2026-07-28: `resultType` and
/// `_meta["io.modelcontextprotocol/serverInfo"]`), then the caller's members, raw or serialized
/// in place. Nothing is parsed back, and a large tool result is serialized once, into the line.
pub struct ResultLine {
    writer: ResultWriter,
    version: Version,
    empty: bool,
}

impl ResultLine {
    /// Starts the line for a result of `version`; `capacity` is the expected size of the
    /// caller's members.
    pub fn new(id: RawId<'_>, version: Version, capacity: usize) -> ResultLine {
        ResultLine::with_server_info(id, version, capacity, server_info(version))
    }

    /// Starts the line for a result of `version` that names `server_info` (an `Implementation`,
    /// raw JSON) in its 2026-07-28 `_meta` instead of the hub: a wrapped server's results.
    pub fn with_server_info(
        id: RawId<'_>,
        version: Version,
        capacity: usize,
        server_info: &str,
    ) -> ResultLine {
        let mut writer = ResultWriter::new(id, capacity + 192);
        writer.buf().push(b'{');
        let mut line = ResultLine {
            writer,
            version,
            empty: true,
        };
        if version.is_stateless() {
            line = line.raw("resultType", r#""complete""#);
            line.key("_meta");
            let buf = line.writer.buf();
            buf.extend_from_slice(br#"{"io.modelcontextprotocol/serverInfo":"#);
            buf.extend_from_slice(server_info.as_bytes());
            buf.push(b'}');
        }
        line
    }

    fn key(&mut self, name: &str) {
        debug_assert!(
            !name.contains(['"', '\\']),
            "member names are plain: {name}"
        );
        let first = std::mem::take(&mut self.empty);
        let buf = self.writer.buf();
        if !first {
            buf.push(b',');
        }
        buf.push(b'"');
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\":");
    }

    /// Adds a member whose value is already JSON.
    pub fn raw(mut self, name: &str, json: &str) -> ResultLine {
        self.key(name);
        self.writer.buf().extend_from_slice(json.as_bytes());
        self
    }

    /// Adds a member whose value is JSON already, in parts written one after the other.
    pub fn raw_parts(mut self, name: &str, parts: &[Bytes]) -> ResultLine {
        self.key(name);
        let buf = self.writer.buf();
        for part in parts {
            buf.extend_from_slice(part);
        }
        self
    }

    /// Adds a member, serializing `value` straight into the line.
    pub fn value<T: serde::Serialize + ?Sized>(mut self, name: &str, value: &T) -> ResultLine {
        self.key(name);
        let buf = self.writer.buf();
        let start = buf.len();
        if serde_json::to_writer(&mut *buf, value).is_err() {
            // Only a map with non-string keys fails; the hub's values are JSON already.
            buf.truncate(start);
            buf.extend_from_slice(b"null");
        }
        self
    }

    /// `ttlMs` and `cacheScope` for a cacheable result (2026-07-28 on; nothing before). The scope
    /// is `private`: the tools come from a daemon reached with this user's token.
    pub fn cacheable(self, ttl_ms: u64) -> ResultLine {
        if !self.version.is_stateless() {
            return self;
        }
        self.raw("ttlMs", &ttl_ms.to_string())
            .raw("cacheScope", r#""private""#)
    }

    /// The finished line.
    pub fn finish(mut self) -> Bytes {
        self.writer.buf().push(b'}');
        self.writer.finish()
    }
}

/// The `initialize` response, in the negotiated (handshake-era) version.
pub fn initialize_response(id: RawId<'_>, version: Version) -> Bytes {
    ResultLine::new(id, version, 256)
        .raw("protocolVersion", &format!("\"{version}\""))
        .raw("capabilities", CAPABILITIES)
        .raw("serverInfo", server_info(version))
        .raw("instructions", INSTRUCTIONS)
        .finish()
}

/// The `server/discover` response: a 2026-07-28 result whatever the request's `_meta` said (the
/// method exists only there).
pub fn discover_response(id: RawId<'_>) -> Bytes {
    let versions: Vec<&str> = Version::ALL
        .iter()
        .map(|version| version.as_str())
        .collect();
    ResultLine::new(id, Version::V2026_07_28, 256)
        .value("supportedVersions", &versions)
        .raw("capabilities", CAPABILITIES_STATELESS)
        .cacheable(DISCOVER_TTL_MS)
        .raw("instructions", INSTRUCTIONS)
        .finish()
}

/// An empty result (`ping`): `{}`, or `{"resultType":"complete",...}` in 2026-07-28.
pub fn empty_response(id: RawId<'_>, version: Version) -> Bytes {
    ResultLine::new(id, version, 0).finish()
}

/// The `tools/list` response from the catalog's serialized `tools` array.
pub fn tools_list_response(id: RawId<'_>, version: Version, tools_json: &str) -> Bytes {
    ResultLine::new(id, version, tools_json.len() + 48)
        .raw("tools", tools_json)
        .cacheable(TOOLS_LIST_TTL_MS)
        .finish()
}

/// The `tools/call` response (`CallToolResult`), the content serialized once, into the line.
pub fn call_tool_response(
    id: RawId<'_>,
    version: Version,
    content: &crate::upstream::Content,
    is_error: bool,
) -> Bytes {
    ResultLine::new(id, version, content.len() + 32)
        .raw_parts("content", content.parts())
        .raw("isError", if is_error { "true" } else { "false" })
        .finish()
}

/// [`call_tool_response`] in parts to write one after the other: the line's start, the content's
/// parts as they are (a large text is a slice of the daemon's frame) and the line's end, so the
/// content is never copied into a line of its own.
pub fn call_tool_response_parts(
    id: RawId<'_>,
    version: Version,
    content: &crate::upstream::Content,
    is_error: bool,
) -> Vec<Bytes> {
    let mut line = ResultLine::new(id, version, 32).raw("content", "");
    let content_at = line.writer.buf().len();
    let line = line
        .raw("isError", if is_error { "true" } else { "false" })
        .finish();
    let mut parts = Vec::with_capacity(content.parts().len() + 2);
    parts.push(line.slice(..content_at));
    parts.extend(content.parts().iter().cloned());
    parts.push(line.slice(content_at..));
    parts
}

/// An error response line to request `id`.
pub fn error_response(id: RawId<'_>, code: ErrorCode, message: &str) -> Bytes {
    jsonrpc::error_line(Some(id), code, message)
}

/// The 2026-07-28 `UNSUPPORTED_PROTOCOL_VERSION` error for a `_meta` version the hub does not
/// speak, with `data: {supported, requested}` so the client can pick one and retry.
pub fn unsupported_version_response(id: RawId<'_>, requested: &str) -> Bytes {
    let supported: Vec<&str> = Version::ALL
        .iter()
        .map(|version| version.as_str())
        .collect();
    let message = format!(
        "unsupported protocol version {requested:?}; the EXAI hub supports {}",
        supported.join(", ")
    );
    let data = serde_json::json!({ "supported": supported, "requested": requested });
    jsonrpc::error_line_with_data(
        Some(id),
        ErrorCode::UnsupportedProtocolVersion,
        &message,
        &data,
    )
}

/// A `notifications/progress` line in the request's version: `message` exists from 2025-03-26
/// on and is left out for 2024-11-05 windows (`progress` still counts up).
pub fn progress_notification(version: Version, token: &str, progress: u64, message: &str) -> Bytes {
    if version < Version::V2025_03_26 {
        return Bytes::from(format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{token},"progress":{progress}}}}}"#
        ));
    }
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"\"".to_owned());
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{token},"progress":{progress},"message":{message}}}}}"#
    ))
}

/// The `notifications/tools/list_changed` line; only for windows that did `initialize` (in
/// 2026-07-28 the notification travels on a `subscriptions/listen` stream only).
pub fn tools_list_changed() -> Bytes {
    Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn id(text: &str) -> RawId<'_> {
        RawId::new(text).expect("a valid id")
    }

    fn parse(line: &[u8]) -> Value {
        serde_json::from_slice(line).expect("every line the hub builds is JSON")
    }

    fn result(line: &[u8]) -> Value {
        let line = parse(line);
        assert_eq!(line["jsonrpc"], "2.0");
        line["result"].clone()
    }

    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    /// What every 2026-07-28 result carries, and nothing of it before.
    fn assert_era(result: &Value, version: Version) {
        if version.is_stateless() {
            assert_eq!(result["resultType"], "complete", "{version}: {result}");
            let info = &result["_meta"]["io.modelcontextprotocol/serverInfo"];
            assert_eq!(info["name"], "exai-hub");
            assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
        } else {
            assert!(result.get("resultType").is_none(), "{version}: {result}");
            assert!(result.get("_meta").is_none(), "{version}: {result}");
            assert!(result.get("ttlMs").is_none(), "{version}: {result}");
            assert!(result.get("cacheScope").is_none(), "{version}: {result}");
        }
    }

    #[test]
    fn versions_parse_and_order() {
        for version in Version::ALL {
            assert_eq!(Version::parse(version.as_str()), Some(version));
            assert_eq!(version.to_string(), version.as_str());
        }
        assert!(Version::ALL.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(Version::parse("2025-11-26"), None);
        assert!(Version::V2026_07_28.is_stateless());
        assert!(!Version::LATEST_HANDSHAKE.is_stateless());
    }

    #[test]
    fn negotiates_known_and_unknown_versions() {
        assert_eq!(negotiate("2024-11-05"), Version::V2024_11_05);
        assert_eq!(negotiate("2025-06-18"), Version::V2025_06_18);
        assert_eq!(negotiate("2026-07-28"), Version::V2025_11_25);
        assert_eq!(negotiate("1999-01-01"), Version::V2025_11_25);
    }

    #[test]
    fn a_request_is_answered_in_its_meta_version_else_the_windows() {
        let meta = |version: &str| Meta {
            protocol_version: Some(version.to_owned()),
            ..Meta::default()
        };
        let none = Meta::default();
        assert_eq!(request_version(&none, None), Ok(Version::V2025_11_25));
        assert_eq!(
            request_version(&none, Some(Version::V2024_11_05)),
            Ok(Version::V2024_11_05)
        );
        assert_eq!(
            request_version(&meta("2026-07-28"), Some(Version::V2024_11_05)),
            Ok(Version::V2026_07_28)
        );
        let wrong = meta("2099-01-01");
        assert_eq!(request_version(&wrong, None), Err("2099-01-01"));
    }

    #[test]
    fn ids_come_back_verbatim() {
        for text in [r#""a:1""#, "7", "1.0", "-0", r#""日本""#] {
            let line = empty_response(id(text), Version::V2025_11_25);
            let expected = format!(r#"{{"jsonrpc":"2.0","id":{text},"result":{{}}}}"#);
            assert_eq!(&line[..], expected.as_bytes());
            let line = tools_list_response(id(text), Version::V2026_07_28, "[]");
            assert!(line.starts_with(format!(r#"{{"jsonrpc":"2.0","id":{text},"#).as_bytes()));
            let line = error_response(
                id(text),
                ErrorCode::MethodNotFound,
                "method not found: \"x\"",
            );
            assert!(line.starts_with(format!(r#"{{"jsonrpc":"2.0","id":{text},"#).as_bytes()));
            assert_eq!(parse(&line)["error"]["message"], "method not found: \"x\"");
        }
    }

    #[test]
    fn ping_is_empty_before_2026_and_complete_in_2026() {
        for version in Version::ALL {
            let result = result(&empty_response(id("1"), version));
            assert_era(&result, version);
            if version.is_stateless() {
                assert_eq!(keys(&result), ["_meta", "resultType"]);
            } else {
                assert_eq!(result, json!({}));
            }
        }
    }

    #[test]
    fn initialize_has_each_versions_shape() {
        for version in Version::ALL.into_iter().filter(|v| !v.is_stateless()) {
            let result = result(&initialize_response(id("0"), version));
            assert_era(&result, version);
            assert_eq!(
                keys(&result),
                [
                    "capabilities",
                    "instructions",
                    "protocolVersion",
                    "serverInfo"
                ]
            );
            assert_eq!(result["protocolVersion"], version.as_str());
            assert_eq!(
                result["capabilities"],
                json!({"tools": {"listChanged": true}})
            );
            // `Implementation.title` arrived in 2025-06-18.
            let expected = if version >= Version::V2025_06_18 {
                vec!["name", "title", "version"]
            } else {
                vec!["name", "version"]
            };
            assert_eq!(keys(&result["serverInfo"]), expected, "{version}");
        }
    }

    #[test]
    fn discover_is_a_cacheable_2026_result() {
        let result = result(&discover_response(id(r#""d""#)));
        assert_era(&result, Version::V2026_07_28);
        assert_eq!(
            keys(&result),
            [
                "_meta",
                "cacheScope",
                "capabilities",
                "instructions",
                "resultType",
                "supportedVersions",
                "ttlMs"
            ]
        );
        assert_eq!(result["ttlMs"], DISCOVER_TTL_MS);
        assert_eq!(result["cacheScope"], "private");
        assert_eq!(
            result["supportedVersions"],
            json!([
                "2024-11-05",
                "2025-03-26",
                "2025-06-18",
                "2025-11-25",
                "2026-07-28"
            ])
        );
        // No `listChanged`: in 2026 it promises a `subscriptions/listen` stream.
        assert_eq!(result["capabilities"], json!({"tools": {}}));
        assert_eq!(
            result["_meta"]["io.modelcontextprotocol/serverInfo"]["title"],
            "EXAI Tray hub"
        );
    }

    #[test]
    fn tools_list_is_cacheable_only_in_2026() {
        let tools = r#"[{"name":"echo","inputSchema":{"type":"object"}}]"#;
        for version in Version::ALL {
            let result = result(&tools_list_response(id("2"), version, tools));
            assert_era(&result, version);
            assert_eq!(result["tools"][0]["name"], "echo");
            if version.is_stateless() {
                assert_eq!(result["ttlMs"], TOOLS_LIST_TTL_MS);
                assert_eq!(result["cacheScope"], "private");
                assert_eq!(
                    keys(&result),
                    ["_meta", "cacheScope", "resultType", "tools", "ttlMs"]
                );
            } else {
                assert_eq!(keys(&result), ["tools"]);
            }
        }
    }

    #[test]
    fn call_results_carry_content_and_is_error() {
        let content = vec![json!({"type": "text", "text": "héllo \"wörld\" ✓\n"})];
        let items = crate::upstream::Content::from_items(&content);
        for version in Version::ALL {
            for is_error in [false, true] {
                let line = call_tool_response(id("3"), version, &items, is_error);
                let parts = call_tool_response_parts(id("3"), version, &items, is_error);
                assert_eq!(parts.concat(), line, "the parts make the same line");
                let result = result(&line);
                assert_era(&result, version);
                assert_eq!(result["content"], json!(content));
                assert_eq!(result["isError"], is_error);
                let expected = if version.is_stateless() {
                    vec!["_meta", "content", "isError", "resultType"]
                } else {
                    vec!["content", "isError"]
                };
                assert_eq!(keys(&result), expected);
            }
        }
        // An empty content list is still a list.
        let result = result(&call_tool_response(
            id("4"),
            Version::V2026_07_28,
            &crate::upstream::Content::empty(),
            true,
        ));
        assert_eq!(result["content"], json!([]));
    }

    #[test]
    fn progress_message_only_from_2025_03_26() {
        for version in Version::ALL {
            let line = parse(&progress_notification(version, r#""t""#, 3, "step \"3\""));
            assert_eq!(line["method"], "notifications/progress");
            assert!(line.get("id").is_none());
            let params = &line["params"];
            assert_eq!(params["progressToken"], "t");
            assert_eq!(params["progress"], 3);
            if version >= Version::V2025_03_26 {
                assert_eq!(keys(params), ["message", "progress", "progressToken"]);
                assert_eq!(params["message"], "step \"3\"");
            } else {
                assert_eq!(keys(params), ["progress", "progressToken"]);
            }
        }
        let line = parse(&progress_notification(Version::V2025_11_25, "7", 1, ""));
        assert_eq!(
            line["params"]["progressToken"], 7,
            "an integer token stays one"
        );
    }

    #[test]
    fn unsupported_version_names_what_is_supported() {
        let line = parse(&unsupported_version_response(id("5"), "2099-01-01"));
        assert_eq!(line["id"], 5);
        let error = &line["error"];
        assert_eq!(error["code"], -32022);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("unsupported protocol version")
        );
        assert_eq!(error["data"]["requested"], "2099-01-01");
        assert_eq!(
            error["data"]["supported"],
            json!(Version::ALL.map(Version::as_str))
        );
    }

    #[test]
    fn list_changed_is_a_bare_notification() {
        let line = parse(&tools_list_changed());
        assert_eq!(
            line,
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        );
    }
}
