//! A bounded ring of recent log records, filled by a `tracing` layer, for the dashboard's log view.
//!
//! The binary installs [`LogRing::layer`] in its subscriber (libraries never install subscribers)
//! and hands the ring to [`crate::Hub::new`], which streams new records as
//! [`crate::api::HubEvent::Log`].
//! A record is tagged with a session when the event, or a span it is in, has a `session` field.
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
        record.seq = self.inner.seq.fetch_add(1, Ordering::Relaxed) + 1;
        {
            let mut records = match self.inner.records.lock() {
                Ok(records) => records,
                Err(poisoned) => poisoned.into_inner(),
            };
            if records.len() == self.inner.capacity {
                records.pop_front();
            }
            records.push_back(record.clone());
        }
        // No receiver is fine: nobody is watching.
        let _ = self.inner.live.send(record);
    }
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
            message: visitor.message + &visitor.fields,
            session,
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
    fields: String,
    session: Option<SessionId>,
}

impl MessageVisitor {
    fn add(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if field.name() == "message" {
            let _ = self.message.write_fmt(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "session" {
            self.session = parse_session(&format!("{value:?}"));
        }
        self.add(field, format_args!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "session" {
            self.session = parse_session(value);
        }
        self.add(field, format_args!("{value}"));
    }
}
