//! What the shim needs to know about a JSON-RPC line, and nothing more.
//!
//! Editor lines get one borrowed serde parse that validates the JSON and picks out `id` (kept as
//! raw JSON so it is echoed back with its original type and value), `method`, and for
//! `notifications/cancelled` the `params.requestId`.
//! Hub lines are only checked for being a response, to retire the request in flight.
//! Nothing is re-encoded: forwarded lines keep their original bytes.

use crate::line::{self, INVALID_REQUEST, PARSE_ERROR};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// The fields of an editor message the shim looks at.
#[derive(Deserialize)]
struct EditorMsg<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

/// The `params` of `notifications/cancelled`.
#[derive(Deserialize)]
struct CancelParams<'a> {
    #[serde(rename = "requestId", borrow, default)]
    request_id: Option<&'a RawValue>,
}

/// The fields of a hub line the shim looks at.
#[derive(Deserialize)]
struct HubLine<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(default)]
    method: Option<IgnoredAny>,
}

/// What an editor line is, as far as the relay cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Classified {
    /// Blank: ignored.
    Empty,
    /// Invalid: answer with this error line instead of forwarding.
    Reply(Bytes),
    /// A request; `id` is its raw JSON id.
    Request {
        /// The id as raw JSON text.
        id: Box<str>,
        /// Whether this is `initialize`, kept for resume.
        initialize: bool,
    },
    /// `notifications/cancelled`, with the raw id of the request it cancels.
    Cancel {
        /// The cancelled request's id as raw JSON text.
        request_id: Option<Box<str>>,
    },
    /// Another notification, or a response to a request from the hub.
    Other,
    /// A JSON array: forwarded as is, the hub decides.
    Batch,
}

/// Classifies one editor line (without its newline).
pub fn classify(line: &[u8]) -> Classified {
    let Some(first) = line.iter().find(|byte| !byte.is_ascii_whitespace()) else {
        return Classified::Empty;
    };
    if *first == b'[' {
        return Classified::Batch;
    }
    let message = match serde_json::from_slice::<EditorMsg<'_>>(line) {
        Ok(message) => message,
        Err(error) => return Classified::Reply(invalid(line, &error)),
    };
    match (message.id, message.method) {
        (Some(id), Some(method)) => Classified::Request {
            id: id.get().into(),
            initialize: method == "initialize",
        },
        (None, Some(method)) if method == "notifications/cancelled" => {
            let request_id = message
                .params
                .and_then(|params| serde_json::from_str::<CancelParams<'_>>(params.get()).ok())
                .and_then(|params| params.request_id)
                .map(|id| id.get().into());
            Classified::Cancel { request_id }
        }
        (None, Some(_)) | (Some(_), None) => Classified::Other,
        (None, None) => Classified::Reply(line::error_line(
            None,
            INVALID_REQUEST,
            "invalid request: a JSON-RPC message needs a method or an id",
        )),
    }
}

/// The error answer for a line that failed to parse.
fn invalid(line: &[u8], error: &serde_json::Error) -> Bytes {
    let id = line::sniff_id(line);
    if error.is_data() {
        let message = format!("invalid request: not a JSON-RPC message object: {error}");
        line::error_line(id, INVALID_REQUEST, &message)
    } else {
        line::error_line(id, PARSE_ERROR, &format!("parse error: {error}"))
    }
}

/// The raw id a hub line answers, if it is a response (an id and no method).
pub fn answered_id(line: &[u8]) -> Option<&str> {
    if line.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let message = serde_json::from_slice::<HubLine<'_>>(line).ok()?;
    match (message.id, message.method) {
        (Some(id), None) => Some(id.get()),
        _ => None,
    }
}

/// The answer to a batch while the hub is unavailable: one error per request in it.
///
/// Returns `None` when the batch holds only notifications and responses (nothing to answer), and
/// a parse error when the batch is not valid JSON.
pub fn batch_errors(line: &[u8], message: &str) -> Option<Bytes> {
    let items = match serde_json::from_slice::<Vec<EditorMsg<'_>>>(line) {
        Ok(items) => items,
        Err(error) => return Some(invalid(line, &error)),
    };
    let mut answer = Vec::from(&b"["[..]);
    for item in &items {
        if let (Some(id), Some(_)) = (item.id, &item.method) {
            if answer.len() > 1 {
                answer.push(b',');
            }
            let error = line::error_line(Some(id.get().as_bytes()), line::HUB_UNAVAILABLE, message);
            answer.extend_from_slice(&error);
        }
    }
    answer.push(b']');
    (answer.len() > 2).then(|| Bytes::from(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_json(classified: Classified) -> serde_json::Value {
        match classified {
            Classified::Reply(line) => serde_json::from_slice(&line).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn classifies_requests_notifications_and_responses() {
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","id":"a\u0062","method":"initialize","params":{}}"#),
            Classified::Request {
                id: r#""a\u0062""#.into(),
                initialize: true
            }
        );
        assert_eq!(
            classify(
                br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4}}"#
            ),
            Classified::Cancel {
                request_id: Some("4".into())
            }
        );
        assert_eq!(
            classify(br#"{"method":"notifications/initialized"}"#),
            Classified::Other
        );
        assert_eq!(classify(br#"{"id":1,"result":{}}"#), Classified::Other);
        assert_eq!(classify(b" [1]"), Classified::Batch);
        assert_eq!(classify(b" \t"), Classified::Empty);
    }

    #[test]
    fn answers_invalid_lines() {
        let parse = reply_json(classify(br#"{"id":9,"method":"x""#));
        assert_eq!(parse["error"]["code"], -32700);
        assert_eq!(parse["id"], 9);
        let not_object = reply_json(classify(b"42"));
        assert_eq!(not_object["error"]["code"], -32600);
        assert_eq!(not_object["id"], serde_json::Value::Null);
        let empty = reply_json(classify(b"{}"));
        assert_eq!(empty["error"]["code"], -32600);
    }

    #[test]
    fn finds_answered_ids_only_in_responses() {
        assert_eq!(
            answered_id(br#"{"jsonrpc":"2.0","id":"x","result":{}}"#),
            Some(r#""x""#)
        );
        assert_eq!(answered_id(br#"{"id":3,"method":"roots/list"}"#), None);
        assert_eq!(answered_id(br#"[{"id":3,"result":{}}]"#), None);
    }

    #[test]
    fn batch_errors_cover_requests_only() {
        let answer = batch_errors(
            br#"[{"id":1,"method":"a"},{"method":"n"},{"id":"b","method":"c"}]"#,
            "down",
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(value.as_array().unwrap().len(), 2);
        assert_eq!(value[1]["id"], "b");
        assert_eq!(batch_errors(br#"[{"method":"n"}]"#, "down"), None);
    }
}
