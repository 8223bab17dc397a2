//! What the registry keeps of a finished request ([`RequestRecord`]): built here for every
//! request a daemon window answers, whether at once ([`super::daemon`]), after waiting for the
//! first tool list ([`super::tools`]) or from a call's task ([`super::call`]).

use crate::api::{ARGUMENTS_SHOWN, RequestRecord};
use crate::now_millis;
use exai_proto::SessionId;
use std::time::Instant;

/// How a request ended, for the registry and its watchers.
pub(super) fn request_record(
    session: SessionId,
    method: &str,
    tool: Option<String>,
    started: Instant,
    ok: bool,
    error: Option<String>,
    cancelled: bool,
) -> RequestRecord {
    let elapsed = started.elapsed();
    RequestRecord {
        session,
        method: method.to_owned(),
        tool,
        started_at: now_millis().saturating_sub(elapsed.as_millis() as u64),
        duration_ms: elapsed.as_secs_f64() * 1000.0,
        ok,
        error,
        cancelled,
        rate_limited_ms: 0,
        arguments: None,
        from_cache: false,
    }
}

/// A call's arguments as the request record keeps them: compact JSON, at most
/// [`ARGUMENTS_SHOWN`] bytes (cut at a character boundary, ending in `…`).
pub(super) fn arguments_shown(arguments: &serde_json::Value) -> String {
    let mut text = arguments.to_string();
    if text.len() > ARGUMENTS_SHOWN {
        let mut end = ARGUMENTS_SHOWN - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_kept_short_and_whole_characters() {
        let small = serde_json::json!({"text": "hi"});
        assert_eq!(arguments_shown(&small), r#"{"text":"hi"}"#);
        let big = serde_json::json!({"text": "日本".repeat(200)});
        let shown = arguments_shown(&big);
        assert!(shown.len() <= ARGUMENTS_SHOWN, "{}", shown.len());
        assert!(
            shown.starts_with(r#"{"text":"日本"#) && shown.ends_with('…'),
            "{shown}"
        );
    }
}
