//! What a 2026-07-28 (stateless) window of a wrapped server needs beyond what the server, a
//! handshake-era MCP server initialized by the hub, says: its per-request `_meta`, the
//! `server/discover` answer built from the server's `initialize` result, and results passed
//! through with the members every 2026-07-28 result carries.
//!
//! The server's results are never parsed into a tree: the members the window's version requires
//! and the server did not send are spliced into the line's raw text (one scan to see which
//! members are there, nothing copied but the line itself), and whatever the server did send
//! (its own `resultType`, an `input_required` result, its `_meta`) is kept as it is.
//!
//! A server request (`sampling/createMessage`, `elicitation/create`) that picks a 2026-07-28
//! request (the most recent one in flight whose own `_meta` declared the capability) reaches it
//! the way that era asks a client: the window's request is answered `input_required` with the
//! server's request in `inputRequests` and a `requestState` of the hub's; the window's retry
//! (same method, `inputResponses`, that `requestState`) is not sent up: its responses answer the
//! server's requests, and the still running call's result goes to the retry's id. A server
//! request that comes while the window owes its retry is asked in the answer to that retry (at
//! most [`MAX_QUEUED_INPUT`]); a final result that comes then is held for it. A call that owes
//! its retry takes only server requests that name it while another call can take them, and one
//! not retried within the router's input timeout ends (`Router::expire_input`).

use crate::mcp::{self, Version};
use bytes::Bytes;
use exai_proto::jsonrpc::RawId;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use std::borrow::Cow;

use super::{Action, Asked, Caps, Level, Pending, Router};
use exai_proto::SessionId;
use exai_proto::jsonrpc::{self, ErrorCode, Id, Request};
use std::collections::HashMap;
use std::time::Instant;

/// `_meta` of a window's request as the router reads it: the stateless era's version, client and
/// capabilities (declared per request), and the log level it opts in to.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RequestMeta<'a> {
    #[serde(borrow, default, rename = "io.modelcontextprotocol/protocolVersion")]
    pub(crate) protocol_version: Option<Cow<'a, str>>,
    #[serde(default, rename = "io.modelcontextprotocol/clientInfo")]
    pub(crate) client_info: Option<mcp::WireClientInfo>,
    #[serde(borrow, default, rename = "io.modelcontextprotocol/clientCapabilities")]
    pub(crate) client_capabilities: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "io.modelcontextprotocol/logLevel")]
    pub(crate) log_level: Option<Cow<'a, str>>,
}

impl RequestMeta<'_> {
    /// The `_meta` of a request's params (`None` params, or params without `_meta`: all empty).
    pub(crate) fn of(params: Option<&str>) -> RequestMeta<'_> {
        #[derive(Deserialize)]
        struct Params<'a> {
            #[serde(borrow, default, rename = "_meta")]
            meta: Option<RequestMeta<'a>>,
        }
        params
            .and_then(|params| serde_json::from_str::<Params<'_>>(params).ok())
            .and_then(|params| params.meta)
            .unwrap_or_default()
    }

    /// The version the request is answered in: its own, else the window's, else the latest
    /// handshake-era one (`mcp::request_version`); `Err` names a version the hub does not speak.
    pub(crate) fn version(&self, window: Option<Version>) -> Result<Version, String> {
        match self.protocol_version.as_deref() {
            Some(requested) => Version::parse(requested).ok_or_else(|| requested.to_owned()),
            None => Ok(window.unwrap_or(Version::LATEST_HANDSHAKE)),
        }
    }

    /// The capabilities this request declared, when it declared any.
    pub(crate) fn caps(&self) -> Option<Caps> {
        let capabilities = self.client_capabilities?;
        serde_json::from_str::<serde_json::Value>(capabilities.get())
            .ok()
            .map(|capabilities| Caps::of(&capabilities))
    }

    /// The log level the request opts in to (2026-07-28: no level, no log messages for it).
    pub(crate) fn log_level(&self) -> Option<Level> {
        self.log_level.as_deref().and_then(Level::parse)
    }
}

/// The `requestState` prefix of the hub's own `input_required` results.
const STATE_PREFIX: &str = "exai-hub/";

/// A window's call whose server asked it something through `input_required`.
#[derive(Debug, Default)]
pub(crate) struct Input {
    /// The window's request was answered `input_required`; the hub waits for its retry.
    parked: bool,
    /// What that answer asked: its `inputRequests` key → the server's request id.
    asked: Vec<(String, Id)>,
    /// Server requests that came while parked, for the answer to the retry: key, the server's
    /// id, the request as an `InputRequest` (`{"method":..,"params":..}`).
    queued: Vec<(String, Id, String)>,
    /// The server's answer to the call, when it came while parked.
    stash: Option<Vec<u8>>,
    /// While parked: when the hub stops waiting for the retry (the owed requests then fail and
    /// the call is cancelled).
    deadline: Option<Instant>,
}

/// Server requests that may wait for one parked call's retry; one more is answered with an
/// error at once.
pub(crate) const MAX_QUEUED_INPUT: usize = 16;

impl Input {
    /// The window's request was answered `input_required` and no retry came yet.
    pub(crate) fn parked(input: Option<&Input>) -> bool {
        input.is_some_and(|input| input.parked)
    }

    /// The server's requests the window was asked, or is yet to be asked, and never answered.
    pub(crate) fn owed(self) -> Vec<Id> {
        let asked = self.asked.into_iter().map(|(_, server_id)| server_id);
        let queued = self.queued.into_iter().map(|(_, server_id, _)| server_id);
        asked.chain(queued).collect()
    }

    /// When the hub stops waiting for a parked call's retry (`None`: not parked).
    pub(crate) fn deadline(input: Option<&Input>) -> Option<Instant> {
        input
            .filter(|input| input.parked)
            .and_then(|input| input.deadline)
    }

    /// The call's result already came (held for the retry): nothing to cancel upstream.
    pub(crate) fn answered(&self) -> bool {
        self.stash.is_some()
    }

    /// Holds the server's answer to the call until the window's retry.
    pub(crate) fn hold(&mut self, line: &[u8]) {
        self.stash = Some(line.to_vec());
    }
}

/// `requestState` and `inputResponses` of a retried request.
#[derive(Deserialize)]
struct Retry<'a> {
    #[serde(borrow, rename = "requestState")]
    state: Cow<'a, str>,
    #[serde(borrow, default, rename = "inputResponses")]
    responses: HashMap<String, &'a RawValue>,
}

impl Router {
    /// Asks the window of 2026-07-28 call `key` the server's `request`: at once in an
    /// `input_required` answer to its request, or, when it owes a retry, in the answer to that.
    pub(super) fn ask_input(&mut self, key: u64, request: &Request<'_>) -> Vec<Action> {
        self.next_server_request += 1;
        let tag = format!("exai-{}", self.next_server_request);
        let method = serde_json::to_string(&*request.method).unwrap_or_default();
        let params = request.params.map_or("{}", RawValue::get);
        let asking = format!(r#"{{"method":{method},"params":{params}}}"#);
        let server_info = self.server_info().to_owned();
        let deadline = Instant::now() + self.input_timeout;
        let name = &self.name;
        let Some(Pending::Window {
            window, id, input, ..
        }) = self.pending.get_mut(&key)
        else {
            return Vec::new();
        };
        let input = input.get_or_insert_default();
        if input.parked {
            if input.queued.len() >= MAX_QUEUED_INPUT {
                let message = format!(
                    "the editor window already has {MAX_QUEUED_INPUT} requests of {name} waiting for its retry; refused (hub)"
                );
                return vec![Action::Upstream(jsonrpc::error_line(
                    Some(request.id),
                    ErrorCode::Internal,
                    &message,
                ))];
            }
            input.queued.push((tag, request.id.to_id(), asking));
            return Vec::new();
        }
        input.parked = true;
        input.deadline = Some(deadline);
        input.asked = vec![(tag.clone(), request.id.to_id())];
        let line = input_required(id, key, &[(&tag, &asking)], &server_info);
        let action = Action::Window(*window, line);
        self.parked_at(key, deadline);
        vec![action]
    }

    /// A window's request that retries an `input_required` answer of the hub's (its
    /// `requestState` is the hub's): `None` when it is not one, so it goes up as any request.
    pub(super) fn retried(
        &mut self,
        window: SessionId,
        request: &Request<'_>,
        asked: Asked,
    ) -> Option<Vec<Action>> {
        let params = request.params?.get();
        if !params.contains(STATE_PREFIX) {
            return None;
        }
        let retry = serde_json::from_str::<Retry<'_>>(params).ok()?;
        let key = retry
            .state
            .strip_prefix(STATE_PREFIX)?
            .parse::<u64>()
            .ok()?;
        let server_info = self.server_info().to_owned();
        let token = serde_json::from_str::<mcp::AnyParams<'_>>(params)
            .ok()
            .and_then(|params| params.meta)
            .and_then(|meta| meta.progress_token)
            .map(|token| Box::<str>::from(token.get()));
        let found = match self.pending.get_mut(&key) {
            Some(Pending::Window {
                window: owner,
                id,
                progress,
                version,
                caps,
                log,
                input: Some(input),
                ..
            }) if *owner == window && input.parked => {
                *id = request.id.to_id();
                *progress = token;
                *version = asked.version;
                *caps = asked.caps;
                *log = asked.log;
                Some(input)
            }
            _ => None,
        };
        let Some(input) = found else {
            let message = format!(
                "requestState {:?} names no call of this window waiting for input on {} (it ended: cancelled, or the server stopped or restarted): call again without it",
                retry.state, self.name
            );
            return Some(vec![Action::Window(
                window,
                jsonrpc::error_line(Some(request.id), ErrorCode::InvalidParams, &message),
            )]);
        };
        let mut actions = Vec::new();
        let mut parked = None;
        for (tag, server_id) in std::mem::take(&mut input.asked) {
            let line = match retry.responses.get(&tag) {
                Some(response) => Bytes::from(format!(
                    r#"{{"jsonrpc":"2.0","id":{},"result":{}}}"#,
                    server_id.as_str(),
                    response.get()
                )),
                None => jsonrpc::error_line(
                    Some(server_id.as_raw()),
                    ErrorCode::Internal,
                    "the editor window retried without answering this request",
                ),
            };
            actions.push(Action::Upstream(line));
        }
        input.parked = false;
        input.deadline = None;
        if !input.queued.is_empty() {
            let queued = std::mem::take(&mut input.queued);
            let asking: Vec<(&str, &str)> = queued
                .iter()
                .map(|(tag, _, asking)| (tag.as_str(), asking.as_str()))
                .collect();
            let line = input_required(&request.id.to_id(), key, &asking, &server_info);
            let deadline = Instant::now() + self.input_timeout;
            input.parked = true;
            input.deadline = Some(deadline);
            parked = Some(deadline);
            input.asked = queued
                .iter()
                .map(|(tag, server_id, _)| (tag.clone(), server_id.clone()))
                .collect();
            actions.push(Action::Window(window, line));
        } else if let Some(stash) = input.stash.take() {
            actions.extend(self.upstream_line(&stash));
        }
        if let Some(deadline) = parked {
            self.parked_at(key, deadline);
        }
        Some(actions)
    }
}

/// An `input_required` answer to window request `id` for call `key`: `asking` as its
/// `inputRequests` (key, `InputRequest`), the hub's `requestState` naming the call.
fn input_required(id: &Id, key: u64, asking: &[(&str, &str)], server_info: &str) -> Bytes {
    let requests: Vec<String> = asking
        .iter()
        .map(|(tag, request)| format!(r#""{tag}":{request}"#))
        .collect();
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"resultType":"input_required","inputRequests":{{{}}},"requestState":"{STATE_PREFIX}{key}","_meta":{{"io.modelcontextprotocol/serverInfo":{server_info}}}}}}}"#,
        id.as_str(),
        requests.join(",")
    ))
}

/// The results 2026-07-28 makes cacheable (`ttlMs` and `cacheScope` required).
pub(crate) fn is_cacheable(method: &str) -> bool {
    matches!(
        method,
        "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
    )
}

/// How long a stateless window may cache a wrapped server's list or read: 0 (immediately stale).
/// A handshake-era server announces changes with `list_changed` and `resources/updated`, which a
/// stateless window could hear only on a `subscriptions/listen` stream the hub does not offer for
/// wrapped servers; any positive TTL would be a promise the server never made.
pub(crate) const PASSED_TTL_MS: u64 = 0;

/// The versions the hub serves a window of a server that negotiated `server` with it: the
/// handshake-era ones up to the server's (an unknown server version: all of them), and
/// 2026-07-28, whose shape the hub adds to the server's results.
pub(crate) fn supported_versions(server: Option<Version>) -> Vec<&'static str> {
    Version::ALL
        .into_iter()
        .filter(|version| version.is_stateless() || server.is_none_or(|server| *version <= server))
        .map(Version::as_str)
        .collect()
}

/// The server's capabilities as a stateless window may read them: `listChanged` and resource
/// `subscribe` promise notifications on a `subscriptions/listen` stream, which the hub does not
/// offer for wrapped servers, and `tasks` is not a 2026-07-28 capability; the rest as the server
/// said it.
pub(crate) fn capabilities(server: &str) -> String {
    let Ok(serde_json::Value::Object(mut capabilities)) = serde_json::from_str(server) else {
        return "{}".to_owned();
    };
    capabilities.remove("tasks");
    for kind in ["tools", "prompts", "resources"] {
        if let Some(serde_json::Value::Object(members)) = capabilities.get_mut(kind) {
            members.remove("listChanged");
            members.remove("subscribe");
        }
    }
    serde_json::Value::Object(capabilities).to_string()
}

/// The `server/discover` answer for a wrapped server: what the server offers (its
/// `initialize` result) in the 2026-07-28 shape, named by the server's own `serverInfo`.
pub(crate) fn discover_response(
    id: RawId<'_>,
    server: Option<Version>,
    server_capabilities: &str,
    server_info: &str,
    instructions: Option<&str>,
) -> Bytes {
    let capabilities = capabilities(server_capabilities);
    let mut line = mcp::ResultLine::with_server_info(
        id,
        Version::V2026_07_28,
        capabilities.len() + instructions.map_or(0, str::len) + 192,
        server_info,
    )
    .value("supportedVersions", &supported_versions(server))
    .raw("capabilities", &capabilities)
    .cacheable(mcp::DISCOVER_TTL_MS);
    if let Some(instructions) = instructions {
        line = line.raw("instructions", instructions);
    }
    line.finish()
}

/// Members of a result object, as far as 2026-07-28 requires them.
#[derive(Deserialize)]
struct Present<'a> {
    #[serde(default, rename = "resultType")]
    result_type: Option<IgnoredAny>,
    #[serde(default, rename = "ttlMs")]
    ttl_ms: Option<IgnoredAny>,
    #[serde(default, rename = "cacheScope")]
    cache_scope: Option<IgnoredAny>,
    /// `Some` whenever the member is there, `null` included (a plain `Option` reads `null` as
    /// absent, and a second `_meta` would then be added).
    #[serde(borrow, default, rename = "_meta", deserialize_with = "present_raw")]
    meta: Option<&'a RawValue>,
}

/// A member's raw value, `null` included, as present.
fn present_raw<'de, D>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    <&RawValue as Deserialize>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
struct MetaPresent {
    #[serde(default, rename = "io.modelcontextprotocol/serverInfo")]
    server_info: Option<IgnoredAny>,
}

/// Edits (a slice of `result`'s text and what replaces it; an empty slice: an insertion there)
/// that give a server's `result` object what every 2026-07-28 result carries and it lacks:
/// `resultType` `"complete"`, `_meta` with `io.modelcontextprotocol/serverInfo` (added into the
/// server's own `_meta` when it has one; a `_meta` of `null` is replaced by one), and on a
/// cacheable result `ttlMs` and `cacheScope`. Nothing else the server sent is replaced. Empty
/// when `result` is not an object.
pub(crate) fn completions<'r>(
    result: &'r RawValue,
    server_info: &str,
    cacheable: bool,
) -> Vec<(&'r str, String)> {
    let text = result.get();
    let Ok(present) = serde_json::from_str::<Present<'r>>(text) else {
        return Vec::new();
    };
    let Some(open) = text.find('{') else {
        return Vec::new();
    };
    let mut members = Vec::new();
    if present.result_type.is_none() {
        members.push(r#""resultType":"complete""#.to_owned());
    }
    if cacheable && present.ttl_ms.is_none() {
        members.push(format!(r#""ttlMs":{PASSED_TTL_MS}"#));
    }
    if cacheable && present.cache_scope.is_none() {
        members.push(r#""cacheScope":"private""#.to_owned());
    }
    let mut edits = Vec::new();
    match present.meta {
        None => members.push(format!(
            r#""_meta":{{"io.modelcontextprotocol/serverInfo":{server_info}}}"#
        )),
        // `"_meta": null`: replaced by one that names the server.
        Some(meta) if meta.get() == "null" => edits.push((
            meta.get(),
            format!(r#"{{"io.modelcontextprotocol/serverInfo":{server_info}}}"#),
        )),
        Some(meta) => {
            let meta_text = meta.get();
            let named = serde_json::from_str::<MetaPresent>(meta_text)
                .map(|meta| meta.server_info.is_some());
            if let (Ok(false), Some(meta_open)) = (named, meta_text.find('{')) {
                edits.push(insertion(
                    meta_text,
                    meta_open,
                    format!(r#""io.modelcontextprotocol/serverInfo":{server_info}"#),
                ));
            }
        }
    }
    if !members.is_empty() {
        edits.push(insertion(text, open, members.join(",")));
    }
    edits
}

/// `members` placed right after the `{` at `open` in `object`, with a comma when the object has
/// members of its own.
fn insertion(object: &str, open: usize, mut members: String) -> (&str, String) {
    let at = open + 1;
    if !object[at..].trim_start().starts_with('}') {
        members.push(',');
    }
    (&object[at..at], members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const INFO: &str = r#"{"name":"srv","version":"9"}"#;

    fn completed(result: &str, cacheable: bool) -> Value {
        let raw: &RawValue = serde_json::from_str(result).expect("raw");
        let mut edits = completions(raw, INFO, cacheable);
        edits.sort_by_key(|(place, _)| place.as_ptr() as usize);
        let start = raw.get().as_ptr() as usize;
        let mut out = String::new();
        let mut at = 0;
        for (place, text) in &edits {
            let offset = place.as_ptr() as usize - start;
            out.push_str(&raw.get()[at..offset]);
            out.push_str(text);
            at = offset + place.len();
        }
        out.push_str(&raw.get()[at..]);
        serde_json::from_str(&out).unwrap_or_else(|err| panic!("{err}: {out}"))
    }

    #[test]
    fn a_plain_result_gets_result_type_and_server_info() {
        assert_eq!(
            completed(r#"{"content":[],"isError":false}"#, false),
            json!({"resultType": "complete", "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "srv", "version": "9"}}, "content": [], "isError": false})
        );
        assert_eq!(
            completed("{ }", false),
            json!({"resultType": "complete", "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "srv", "version": "9"}}})
        );
    }

    #[test]
    fn a_list_gets_ttl_and_scope_and_the_servers_meta_is_kept() {
        let result = completed(r#"{"tools":[],"_meta":{"x/y":1}}"#, true);
        assert_eq!(result["ttlMs"], 0);
        assert_eq!(result["cacheScope"], "private");
        assert_eq!(result["_meta"]["x/y"], 1);
        assert_eq!(
            result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "srv"
        );
        let result = completed(r#"{"tools":[],"_meta":{}}"#, true);
        assert_eq!(
            result["_meta"],
            json!({"io.modelcontextprotocol/serverInfo": {"name": "srv", "version": "9"}})
        );
    }

    #[test]
    fn a_null_meta_is_replaced_not_added_twice() {
        let raw: &RawValue = serde_json::from_str(r#"{"content":[],"_meta":null}"#).expect("raw");
        let edits = completions(raw, INFO, false);
        let metas: usize = edits
            .iter()
            .map(|(_, text)| text.matches("\"_meta\"").count())
            .sum();
        assert_eq!(metas, 0, "no second _meta member: {edits:?}");
        assert_eq!(
            completed(r#"{"content":[],"_meta":null}"#, false),
            json!({"resultType": "complete", "content": [], "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "srv", "version": "9"}}})
        );
    }

    #[test]
    fn what_a_2026_server_sent_is_not_added_again() {
        let sent = json!({
            "resultType": "input_required",
            "inputRequests": {"a": {"method": "elicitation/create", "params": {}}},
            "ttlMs": 5,
            "cacheScope": "public",
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "own", "version": "1"}}
        });
        assert!(
            completions(&serde_json::value::to_raw_value(&sent).unwrap(), INFO, true).is_empty()
        );
        assert_eq!(completed(&sent.to_string(), true), sent);
    }

    #[test]
    fn discover_offers_what_a_stateless_window_can_use() {
        let caps = capabilities(
            r#"{"tools":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},"logging":{},"tasks":{"list":{}},"completions":{}}"#,
        );
        assert_eq!(
            serde_json::from_str::<Value>(&caps).unwrap(),
            json!({"tools": {}, "resources": {}, "logging": {}, "completions": {}})
        );
        assert_eq!(
            supported_versions(Some(Version::V2025_03_26)),
            ["2024-11-05", "2025-03-26", "2026-07-28"]
        );
        assert_eq!(supported_versions(None).len(), Version::ALL.len());
    }
}
