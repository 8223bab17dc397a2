//! What the relay needs to know about a JSON-RPC line, from [`exai_proto::jsonrpc`]'s view.
//!
//! Editor lines are looked at once: requests are tracked by their raw id (so they are failed if
//! the hub goes away), invalid lines are answered here whether or not the hub is there (exactly
//! the answer the hub would give), and `notifications/cancelled` retires the request it names.
//! Hub lines are only checked for being a response, to retire the request in flight.
//! Nothing is re-encoded: forwarded lines keep their original bytes.

use bytes::Bytes;
use exai_proto::jsonrpc::{self, ErrorCode, Id, Message};

/// What an editor line is, as far as the relay cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Classified {
    /// Blank: ignored.
    Empty,
    /// Invalid: answer with this error line instead of forwarding.
    Reply(Bytes),
    /// A request.
    Request {
        /// Its raw id.
        id: Id,
        /// Whether this is `initialize`, kept for resume.
        initialize: bool,
    },
    /// `notifications/cancelled`, with the raw id of the request it cancels.
    Cancel {
        /// The cancelled request's id.
        request_id: Option<Id>,
    },
    /// Another notification, or a response to a request from the hub.
    Other,
    /// A JSON array: forwarded as is, the hub decides.
    Batch,
}

/// Classifies one editor line (without its newline).
pub fn classify(line: &[u8]) -> Classified {
    if jsonrpc::is_blank(line) {
        return Classified::Empty;
    }
    match Message::parse(line) {
        Message::Request(request) => Classified::Request {
            id: request.id.to_id(),
            initialize: request.method == "initialize",
        },
        Message::Notification(notification) if notification.method == jsonrpc::CANCELLED => {
            Classified::Cancel {
                request_id: notification.cancelled_id().map(|id| id.to_id()),
            }
        }
        Message::Notification(_) | Message::Response(_) => Classified::Other,
        Message::Batch => Classified::Batch,
        Message::Invalid(invalid) => Classified::Reply(invalid.error_line()),
    }
}

/// The raw id a hub line answers, if it is a response with an id.
pub fn answered_id(line: &[u8]) -> Option<&str> {
    // Scanned, not parsed: the hub puts the id before the result, so a large result is never
    // read (a full parse of a 16 MiB tool result was a third of the shim's time relaying it).
    jsonrpc::sniff_response_id(line).map(|id| id.as_str())
}

/// The answer to a batch while the hub is unavailable: `message` to each request in it, and
/// each invalid item's own error.
///
/// Returns `None` when the batch holds only notifications and responses (nothing to answer), and
/// a single error when the batch is not a valid JSON array.
pub fn batch_errors(line: &[u8], message: &str) -> Option<Bytes> {
    let items = match jsonrpc::parse_batch(line) {
        Ok(items) => items,
        Err(invalid) => return Some(invalid.error_line()),
    };
    let mut answer = Vec::from(&b"["[..]);
    for item in &items {
        let error = match item {
            Message::Request(request) => {
                jsonrpc::error_line(Some(request.id), ErrorCode::Unavailable, message)
            }
            Message::Invalid(invalid) => invalid.error_line(),
            _ => continue,
        };
        if answer.len() > 1 {
            answer.push(b',');
        }
        answer.extend_from_slice(&error);
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

    fn id(text: &str) -> Id {
        jsonrpc::RawId::new(text).unwrap().to_id()
    }

    #[test]
    fn classifies_requests_notifications_and_responses() {
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","id":"a\u0062","method":"initialize","params":{}}"#),
            Classified::Request {
                id: id(r#""a\u0062""#),
                initialize: true
            }
        );
        assert_eq!(
            classify(
                br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4}}"#
            ),
            Classified::Cancel {
                request_id: Some(id("4"))
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
        // Request-shaped, but not a request: answered here, never forwarded (finding 6).
        let null_id = reply_json(classify(br#"{"id":null,"method":"ping"}"#));
        assert_eq!(null_id["error"]["code"], -32600);
        assert_eq!(null_id["id"], serde_json::Value::Null);
        let no_method = reply_json(classify(br#"{"id":"z"}"#));
        assert_eq!(no_method["id"], "z");
        let null_method = reply_json(classify(br#"{"id":3,"method":null}"#));
        assert_eq!(null_method["id"], 3);
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
    fn batch_errors_cover_requests_and_invalid_items() {
        let answer = batch_errors(
            br#"[{"id":1,"method":"a"},{"method":"n"},{"id":"b","method":"c"},{"id":null,"method":"d"}]"#,
            "down",
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(value.as_array().unwrap().len(), 3);
        assert_eq!(value[1]["id"], "b");
        assert_eq!(value[1]["error"]["code"], -32001);
        assert_eq!(value[2]["error"]["code"], -32600);
        assert_eq!(batch_errors(br#"[{"method":"n"}]"#, "down"), None);
        let broken: serde_json::Value =
            serde_json::from_slice(&batch_errors(b"[1,", "down").unwrap()).unwrap();
        assert_eq!(broken["error"]["code"], -32700);
    }
}
