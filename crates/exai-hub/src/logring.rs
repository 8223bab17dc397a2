//! A bounded ring of recent log records, filled by a `tracing` layer, for the dashboard's log view.
//!
//! The binary installs [`LogRing::layer`] in its subscriber (libraries never install subscribers)
//! and hands the ring to [`crate::Hub::new`], which streams new records as
//! [`crate::api::HubEvent::Log`].
//! A record is tagged with a session when the event, or a span it is in, has a `session` field.
//!
//! Records read as sentences: the message with its first letter capitalised and a full stop,
//! then the event's other fields in parentheses as `key: value` ([`sentence`]); `None`, empty
//! lists and strings are left out, `Some(..)` and Debug quotes taken off, `*_ms` fields read as
//! durations. A record equal to the one before it (level, target, session, message) is not a
//! new line: that record's `repeat` goes up, and it is sent again with the same `seq`.
//!
//! The ring sits behind a `std::sync::Mutex` rather than an owner task: a tracing layer is called
//! synchronously on whatever thread logs, and the critical section is a push onto a `VecDeque`.

use crate::api::LogRecord;
use exai_proto::SessionId;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Default number of records kept.
pub const DEFAULT_CAPACITY: usize = 2000;

/// The ring of recent records. Cheap to clone.
#[derive(Clone)]
pub struct LogRing {
    inner: Arc<Inner>,
}

struct Inner {
    capacity: usize,
    records: Mutex<VecDeque<LogRecord>>,
    seq: AtomicU64,
    live: broadcast::Sender<LogRecord>,
}

impl LogRing {
    /// A ring that keeps the last `capacity` records.
    pub fn new(capacity: usize) -> LogRing {
        let (live, _) = broadcast::channel(1024);
        LogRing {
            inner: Arc::new(Inner {
                capacity: capacity.max(1),
                records: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
                seq: AtomicU64::new(0),
                live,
            }),
        }
    }

    /// The layer to install in the subscriber.
    pub fn layer<S>(&self) -> RingLayer
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        RingLayer { ring: self.clone() }
    }

    /// The records now in the ring, oldest first.
    pub fn records(&self) -> Vec<LogRecord> {
        match self.inner.records.lock() {
            Ok(records) => records.iter().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
        }
    }

    /// New records as they are logged.
    pub fn subscribe(&self) -> broadcast::Receiver<LogRecord> {
        self.inner.live.subscribe()
    }

    fn push(&self, mut record: LogRecord) {
        let record = {
            let mut records = match self.inner.records.lock() {
                Ok(records) => records,
                Err(poisoned) => poisoned.into_inner(),
            };
            match records.back_mut() {
                Some(last) if same_line(last, &record) => {
                    last.repeat += 1;
                    last.at = record.at;
                    last.clone()
                }
                _ => {
                    // Under the lock, so sequence numbers follow the ring's order.
                    record.seq = self.inner.seq.fetch_add(1, Ordering::Relaxed) + 1;
                    if records.len() == self.inner.capacity {
                        records.pop_front();
                    }
                    records.push_back(record.clone());
                    record
                }
            }
        };
        // No receiver is fine: nobody is watching.
        let _ = self.inner.live.send(record);
    }
}

/// Whether `next` repeats `last`: the same line again, to be counted rather than added.
fn same_line(last: &LogRecord, next: &LogRecord) -> bool {
    last.level == next.level
        && last.session == next.session
        && last.target == next.target
        && last.message == next.message
}

/// The `tracing` layer that feeds a [`LogRing`].
pub struct RingLayer {
    ring: LogRing,
}

/// Stored in a span's extensions when the span has a `session` field.
struct SpanSession(SessionId);

impl<S> Layer<S> for RingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut visitor = SessionVisitor(None);
        attrs.record(&mut visitor);
        if let (Some(session), Some(span)) = (visitor.0, ctx.span(id)) {
            span.extensions_mut().insert(SpanSession(session));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        let session = visitor.session.or_else(|| {
            ctx.event_scope(event)?
                .find_map(|span| span.extensions().get::<SpanSession>().map(|tag| tag.0))
        });
        self.ring.push(LogRecord {
            seq: 0,
            at: crate::now_millis(),
            level: event.metadata().level().to_string(),
            target: event.metadata().target().to_owned(),
            message: sentence(&visitor.message, &visitor.fields),
            session,
            repeat: 1,
        });
    }
}

fn parse_session(text: &str) -> Option<SessionId> {
    text.trim_matches('"').parse().ok()
}

struct SessionVisitor(Option<SessionId>);

impl Visit for SessionVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "session" {
            self.0 = parse_session(&format!("{value:?}"));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "session" {
            self.0 = parse_session(value);
        }
    }
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    /// Every field but the message and the session, as recorded.
    fields: Vec<(&'static str, String)>,
    session: Option<SessionId>,
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            // The record's session tag says it; the UI shows the window's name.
            "session" => self.session = parse_session(&format!("{value:?}")),
            name => self.fields.push((name, format!("{value:?}"))),
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            "session" => self.session = parse_session(value),
            name => self.fields.push((name, value.to_owned())),
        }
    }
}

/// A record's text: the message as a sentence (first letter capitalised, a full stop unless it
/// ends in punctuation), then the fields worth reading in parentheses.
pub fn sentence(message: &str, fields: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(message.len() + 16 * fields.len());
    let message = message.trim();
    let mut chars = message.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
        out.push_str(chars.as_str());
    }
    let shown: Vec<String> = fields
        .iter()
        .filter_map(|(name, raw)| {
            let value = plain(raw)?;
            Some(match name.strip_suffix("_ms") {
                Some(stem) => match value.parse::<u64>() {
                    Ok(ms) => format!("{} {}", stem.replace('_', " "), duration(ms)),
                    Err(_) => format!("{}: {value}", stem.replace('_', " ")),
                },
                None => format!("{}: {value}", name.replace('_', " ")),
            })
        })
        .collect();
    if !shown.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('(');
        out.push_str(&shown.join(", "));
        out.push(')');
    }
    if out
        .chars()
        .next_back()
        .is_some_and(|last| !".!?:".contains(last))
    {
        out.push('.');
    }
    out
}

/// A field's value as a reader wants it, or `None` when there is nothing to say: `None`, `""`,
/// `[]`, `{}` go; `Some(x)` is `x`; a Debug string loses its quotes and escapes; a list of
/// strings is `a, b`.
fn plain(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if matches!(raw, "" | "None" | "[]" | "{}" | "\"\"") {
        return None;
    }
    if let Some(inner) = raw
        .strip_prefix("Some(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return plain(inner);
    }
    if let Some(inner) = raw
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        let items: Vec<String> = split_list(inner)
            .iter()
            .filter_map(|item| plain(item))
            .collect();
        return (!items.is_empty()).then(|| items.join(", "));
    }
    if raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"') {
        return Some(unescape(&raw[1..raw.len() - 1]));
    }
    Some(raw.to_owned())
}

/// Splits a Debug list's inside at the commas between items (not inside quoted strings).
fn split_list(inner: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, ch) in inner.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
}

/// Undoes Debug's escapes of a string's inside (`\"`, `\\`, `\n`, `\t`; others kept).
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('n') => out.push(' '),
            Some('t') => out.push(' '),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `250 ms`, `1.5 s`, `30 s`, `2 min`.
fn duration(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..10_000 if !ms.is_multiple_of(1000) => format!("{:.1} s", ms as f64 / 1000.0),
        1000..120_000 => format!("{} s", ms / 1000),
        _ => format!("{} min", ms / 60_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    fn fields(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn sentences_capitalise_and_end_with_a_full_stop() {
        assert_eq!(sentence("hub listening", &[]), "Hub listening.");
        assert_eq!(sentence("stopped.", &[]), "Stopped.");
        assert_eq!(sentence("what now?", &[]), "What now?");
        assert_eq!(sentence("", &[]), "");
    }

    #[test]
    fn fields_read_as_words_without_debug_noise() {
        let text = sentence(
            "cannot connect to the daemon",
            &fields(&[
                ("url", "ws://127.0.0.1:8079"),
                ("error", "Some(\"connection refused\")"),
                ("doing", "[]"),
                ("last_error", "None"),
                ("retry_in_ms", "1500"),
            ]),
        );
        assert_eq!(
            text,
            "Cannot connect to the daemon (url: ws://127.0.0.1:8079, error: connection refused, retry in 1.5 s)."
        );
        assert!(!text.contains("Some("), "{text}");
        assert!(!text.contains("[]"), "{text}");
    }

    #[test]
    fn lists_and_escapes_come_out_plain() {
        assert_eq!(
            plain(r#"["tools/call slow", "tools/call a, b"]"#).as_deref(),
            Some("tools/call slow, tools/call a, b")
        );
        assert_eq!(
            plain(r#""say \"hi\"\nnow""#).as_deref(),
            Some("say \"hi\" now")
        );
        assert_eq!(plain(r#"Some("")"#), None);
        assert_eq!(plain("Some(3)").as_deref(), Some("3"));
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(30_000), "30 s");
        assert_eq!(duration(300_000), "5 min");
    }

    #[test]
    fn a_repeated_line_raises_the_count_of_the_one_before() {
        let ring = LogRing::new(10);
        let mut live = ring.subscribe();
        let subscriber =
            tracing_subscriber::registry().with(ring.layer::<tracing_subscriber::Registry>());
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..4 {
                tracing::warn!(error = "connection reset", "pooled connection lost");
            }
            tracing::warn!(error = "connection refused", "pooled connection lost");
            tracing::info!("hub listening");
            tracing::info!("hub listening");
            tracing::warn!(error = "connection refused", "pooled connection lost");
        });
        let records = ring.records();
        let summary: Vec<(u64, &str, u64)> = records
            .iter()
            .map(|record| (record.seq, record.message.as_str(), record.repeat))
            .collect();
        assert_eq!(
            summary,
            [
                (1, "Pooled connection lost (error: connection reset).", 4),
                (2, "Pooled connection lost (error: connection refused).", 1),
                (3, "Hub listening.", 2),
                (4, "Pooled connection lost (error: connection refused).", 1),
            ]
        );
        // Watchers get every change: the same seq again with the new count.
        let mut seen = Vec::new();
        while let Ok(record) = live.try_recv() {
            seen.push((record.seq, record.repeat));
        }
        assert_eq!(
            seen,
            [
                (1, 1),
                (1, 2),
                (1, 3),
                (1, 4),
                (2, 1),
                (3, 1),
                (3, 2),
                (4, 1)
            ]
        );
    }

    #[test]
    fn lines_of_other_sessions_or_levels_are_not_repeats() {
        let a = LogRecord {
            seq: 1,
            at: 0,
            level: "WARN".into(),
            target: "exai_hub::registry".into(),
            message: "Lost.".into(),
            session: Some(SessionId(3)),
            repeat: 1,
        };
        assert!(same_line(&a, &a.clone()));
        assert!(!same_line(
            &a,
            &LogRecord {
                session: Some(SessionId(5)),
                ..a.clone()
            }
        ));
        assert!(!same_line(
            &a,
            &LogRecord {
                level: "INFO".into(),
                ..a.clone()
            }
        ));
        assert!(!same_line(
            &a,
            &LogRecord {
                target: "exai_hub::session".into(),
                ..a.clone()
            }
        ));
    }
}
