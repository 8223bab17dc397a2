//! The fake daemon's tools: their advertised specs and what running them does.
//!
//! A tool run reports to its connection through [`ToolEvent`]s (progress ticks and stream
//! chunks) and returns its result text, or a failure that the connection turns into the
//! daemon's bare `INTERNAL_ERROR`. Tools never touch the socket, so a run survives the
//! connection that started it, as in the real daemon.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::ToolSpec;
use crate::state::Shared;

/// What a running tool tells its connection before the result.
#[derive(Debug)]
pub(crate) enum ToolEvent {
    /// Send a `progress` frame.
    Progress,
    /// Send a `stream_chunk` frame.
    Chunk(String),
}

/// The pattern `big` repeats: multi-byte characters of 2, 3 and 3 bytes among ASCII.
const BIG_PATTERN: &str = "héllo wörld ✓ 日本 ";

/// The default tools: `echo`, `slow`, `gate`, `fail`, `big`, `status` and `chat`.
pub fn default_tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec::new(
            "echo",
            "Returns `text` immediately.",
            object_schema(json!({"text": {"type": "string"}}), &["text"]),
        ),
        ToolSpec::new(
            "slow",
            "Runs for `ms` milliseconds with progress, streams `chunks`, returns {\"slept_ms\":ms}.",
            object_schema(
                json!({
                    "ms": {"type": "integer", "minimum": 0},
                    "chunks": {"type": "array", "items": {"type": "string"}}
                }),
                &["ms"],
            ),
        ),
        ToolSpec::new(
            "gate",
            "Runs with progress until the test opens gate `key`; returns `text` or `key`.",
            object_schema(
                json!({"key": {"type": "string"}, "text": {"type": "string"}}),
                &["key"],
            ),
        ),
        ToolSpec::new(
            "fail",
            "Always raises, leaving its request id stuck forever.",
            object_schema(json!({}), &[]),
        ),
        ToolSpec::new(
            "big",
            "Returns exactly `bytes` UTF-8 bytes of text with non-ASCII characters.",
            object_schema(
                json!({"bytes": {"type": "integer", "minimum": 0}}),
                &["bytes"],
            ),
        ),
        ToolSpec::new(
            "status",
            "Returns daemon status as JSON text.",
            object_schema(json!({}), &[]),
        ),
        ToolSpec::new(
            "chat",
            "Returns \"echo: <prompt>\" after one progress frame.",
            object_schema(json!({"prompt": {"type": "string"}}), &["prompt"]),
        ),
    ]
}

fn object_schema(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

/// Strips a trailing `[_-]EXAI[_-]WS` suffix, case-insensitively, as the daemon does.
pub(crate) fn strip_suffix(name: &str) -> &str {
    const SUFFIX_LEN: usize = "_EXAI_WS".len();
    // Checking the boundary first keeps `split_at` from panicking on multi-byte names.
    if name.len() <= SUFFIX_LEN || !name.is_char_boundary(name.len() - SUFFIX_LEN) {
        return name;
    }
    let (base, suffix) = name.split_at(name.len() - SUFFIX_LEN);
    let bytes = suffix.as_bytes();
    let is_separator = |byte: u8| byte == b'_' || byte == b'-';
    if is_separator(bytes[0])
        && bytes[1..5].eq_ignore_ascii_case(b"EXAI")
        && is_separator(bytes[5])
        && bytes[6..].eq_ignore_ascii_case(b"WS")
    {
        base
    } else {
        name
    }
}

/// Runs tool `name` (already stripped and known to exist) and returns its result text, or
/// `Err(())` when the tool raises (bad arguments included, as with the real daemon's tools).
pub(crate) async fn run_tool(
    shared: &Shared,
    name: &str,
    arguments: &Value,
    events: &mpsc::UnboundedSender<ToolEvent>,
) -> Result<String, ()> {
    let interval = shared.config.progress_interval;
    match name {
        "echo" => str_arg(arguments, "text").map(str::to_owned),
        "slow" => {
            let ms = u64_arg(arguments, "ms")?;
            let chunks = match arguments.get("chunks") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned).ok_or(()))
                    .collect::<Result<Vec<_>, ()>>()?,
                Some(_) => return Err(()),
            };
            with_progress(
                interval,
                events,
                tokio::time::sleep(Duration::from_millis(ms)),
            )
            .await;
            for chunk in chunks {
                let _ = events.send(ToolEvent::Chunk(chunk));
            }
            Ok(json!({"slept_ms": ms}).to_string())
        }
        "gate" => {
            let key = str_arg(arguments, "key")?;
            let text = match arguments.get("text") {
                None | Some(Value::Null) => key.to_owned(),
                Some(value) => value.as_str().ok_or(())?.to_owned(),
            };
            let gate = shared.gate(key);
            let mut opened = gate.subscribe();
            gate.send_modify(|state| state.started += 1);
            let _ = with_progress(interval, events, opened.wait_for(|state| state.open)).await;
            Ok(text)
        }
        "fail" => Err(()),
        "big" => {
            let bytes = usize::try_from(u64_arg(arguments, "bytes")?).map_err(|_| ())?;
            Ok(big_text(bytes))
        }
        "status" => Ok(json!({
            "status": "ok",
            "daemon": "exai-testkit",
            "tools": shared.tools().len(),
            "live_connections": shared.stats().live_connections,
            "uptime_ms": u64::try_from(shared.started_at.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
        .to_string()),
        "chat" => {
            let prompt = str_arg(arguments, "prompt")?;
            let _ = events.send(ToolEvent::Progress);
            Ok(format!("echo: {prompt}"))
        }
        other => Ok(json!({"tool": other, "arguments": arguments}).to_string()),
    }
}

/// Awaits `work`, emitting a progress event every `interval` (the first after one interval),
/// the way the daemon reports long tool runs.
async fn with_progress<F: Future>(
    interval: Duration,
    events: &mpsc::UnboundedSender<ToolEvent>,
    work: F,
) -> F::Output {
    let interval = interval.max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            output = &mut work => return output,
            _ = ticker.tick() => {
                let _ = events.send(ToolEvent::Progress);
            }
        }
    }
}

fn str_arg<'a>(arguments: &'a Value, field: &str) -> Result<&'a str, ()> {
    arguments.get(field).and_then(Value::as_str).ok_or(())
}

fn u64_arg(arguments: &Value, field: &str) -> Result<u64, ()> {
    arguments.get(field).and_then(Value::as_u64).ok_or(())
}

/// Exactly `len` bytes of deterministic text: [`BIG_PATTERN`] repeated, cut on a character
/// boundary, then padded with ASCII dots.
pub(crate) fn big_text(len: usize) -> String {
    let mut text = String::with_capacity(len);
    for ch in BIG_PATTERN.chars().cycle() {
        if text.len() + ch.len_utf8() > len {
            break;
        }
        text.push(ch);
    }
    while text.len() < len {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_every_suffix_spelling() {
        assert_eq!(strip_suffix("status_EXAI-WS"), "status");
        assert_eq!(strip_suffix("status-EXAI_WS"), "status");
        assert_eq!(strip_suffix("status_exai_ws"), "status");
        assert_eq!(strip_suffix("status-Exai-Ws"), "status");
        assert_eq!(strip_suffix("status"), "status");
        assert_eq!(strip_suffix("_EXAI_WS"), "_EXAI_WS");
        assert_eq!(strip_suffix("statusXEXAI_WS"), "statusXEXAI_WS");
        assert_eq!(strip_suffix("日本語テキスト"), "日本語テキスト");
    }

    #[test]
    fn big_text_has_exact_length_and_non_ascii() {
        for len in [0, 1, 2, 3, 17, 18, 19, 20, 1000, 65_537] {
            let text = big_text(len);
            assert_eq!(text.len(), len);
            if len > 10 {
                assert!(!text.is_ascii());
            }
        }
        assert_eq!(big_text(40), big_text(40));
    }
}
