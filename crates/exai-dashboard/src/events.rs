//! The live stream, `GET /api/events`: every [`exai_hub::api::HubEvent`] as one Server-Sent
//! Events `data:` line of JSON, through a small queue of its own per client.
//!
//! A task reads the hub's subscription as fast as events come and puts them in the client's
//! queue, so a client that stops reading never holds the hub's shared event buffer. When the
//! queue is full (more than [`MAX_QUEUED_EVENTS`] or [`MAX_QUEUED_BYTES`] waiting) the client has
//! fallen behind for good: its queue is dropped, it is sent `event: resync` (the page then
//! reconnects and fetches a fresh snapshot), and its connection is closed [`RESYNC_GRACE`]
//! later whether or not it read that.

use super::conn::Conn;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use exai_hub::Subscription;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Events waiting for one client, at most.
pub(crate) const MAX_QUEUED_EVENTS: usize = 256;
/// Bytes of JSON waiting for one client, at most.
pub(crate) const MAX_QUEUED_BYTES: usize = 1 << 20;
/// How long a client that fell behind has to read `event: resync` before it is disconnected.
pub(crate) const RESYNC_GRACE: Duration = Duration::from_secs(2);

/// What the stream sends next.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// One event's JSON.
    Event(String),
    /// The client fell behind; everything queued was dropped.
    Resync,
    /// The stream is over.
    End,
}

/// Why no more events will be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    /// The hub or the dashboard stopped: send what is queued, then end.
    Stopped,
    /// The client fell behind: send `resync`, then end.
    Behind,
    /// `resync` was sent.
    Told,
}

#[derive(Default)]
struct State {
    events: VecDeque<String>,
    bytes: usize,
    closed: Option<Closed>,
}

/// One client's bounded queue: one producer (the forwarding task), one consumer (the stream).
#[derive(Default)]
struct Queue {
    state: Mutex<State>,
    ready: Notify,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change below leaves the state consistent, so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues one event; `false` when the client has fallen behind (or the queue is closed).
    fn push(&self, data: String) -> bool {
        let mut state = self.lock();
        if state.closed.is_some() {
            return false;
        }
        if state.events.len() >= MAX_QUEUED_EVENTS || state.bytes + data.len() > MAX_QUEUED_BYTES {
            state.events = VecDeque::new();
            state.bytes = 0;
            state.closed = Some(Closed::Behind);
            drop(state);
            self.ready.notify_one();
            return false;
        }
        state.bytes += data.len();
        state.events.push_back(data);
        drop(state);
        self.ready.notify_one();
        true
    }

    /// No more events: what is queued still goes out.
    fn stop(&self) {
        self.lock().closed.get_or_insert(Closed::Stopped);
        self.ready.notify_one();
    }

    async fn next(&self) -> Next {
        loop {
            {
                let mut state = self.lock();
                match state.closed {
                    Some(Closed::Behind) => {
                        state.closed = Some(Closed::Told);
                        return Next::Resync;
                    }
                    Some(Closed::Told) => return Next::End,
                    _ => {}
                }
                if let Some(data) = state.events.pop_front() {
                    state.bytes -= data.len();
                    return Next::Event(data);
                }
                if state.closed == Some(Closed::Stopped) {
                    return Next::End;
                }
            }
            // One consumer: a notification sent since the check above is kept as a permit.
            self.ready.notified().await;
        }
    }
}

/// The response for one client of the live stream.
pub(crate) fn stream(subscription: Subscription, stop: CancellationToken, conn: Conn) -> Response {
    let queue = Arc::new(Queue::default());
    // Cancelled when the response body is dropped (the client went away, or the stream ended).
    let gone = CancellationToken::new();
    tokio::spawn(forward(
        subscription,
        queue.clone(),
        stop,
        gone.clone(),
        conn,
    ));
    let body =
        futures_util::stream::unfold((queue, gone.drop_guard()), |(queue, guard)| async move {
            let event = match queue.next().await {
                Next::Event(data) => Event::default().data(data),
                Next::Resync => Event::default()
                    .event("resync")
                    .data("fell behind: reconnect and fetch a fresh snapshot"),
                Next::End => return None,
            };
            Some((Ok::<_, Infallible>(event), (queue, guard)))
        });
    Sse::new(body)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Moves events from the hub to one client's queue until the client goes, falls behind, or
/// the dashboard stops.
async fn forward(
    mut subscription: Subscription,
    queue: Arc<Queue>,
    stop: CancellationToken,
    gone: CancellationToken,
    conn: Conn,
) {
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => break,
            () = gone.cancelled() => return,
            event = subscription.next() => event,
        };
        let Some(event) = event else { break };
        let data = serde_json::to_string(&event).unwrap_or_default();
        if !queue.push(data) {
            drop(subscription);
            tracing::info!(
                "a dashboard event stream fell behind; it was told to resync and is disconnected"
            );
            tokio::select! {
                () = tokio::time::sleep(RESYNC_GRACE) => conn.close(),
                () = gone.cancelled() => {}
            }
            return;
        }
    }
    queue.stop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_flow_in_order_and_a_stop_delivers_what_is_queued() {
        let queue = Queue::default();
        assert!(queue.push("a".into()));
        assert!(queue.push("b".into()));
        queue.stop();
        assert!(!queue.push("c".into()));
        assert_eq!(queue.next().await, Next::Event("a".into()));
        assert_eq!(queue.next().await, Next::Event("b".into()));
        assert_eq!(queue.next().await, Next::End);
    }

    #[tokio::test]
    async fn a_client_that_falls_behind_gets_resync_instead_of_the_backlog() {
        let queue = Queue::default();
        for n in 0..MAX_QUEUED_EVENTS {
            assert!(queue.push(n.to_string()));
        }
        assert!(!queue.push("one too many".into()));
        assert_eq!(queue.lock().bytes, 0, "the backlog is dropped at once");
        assert_eq!(queue.next().await, Next::Resync);
        assert_eq!(queue.next().await, Next::End);
        assert!(!queue.push("late".into()));
    }

    #[tokio::test]
    async fn the_byte_budget_counts_too() {
        let queue = Queue::default();
        assert!(queue.push("x".repeat(MAX_QUEUED_BYTES - 10)));
        assert!(!queue.push("y".repeat(11)));
        assert_eq!(queue.next().await, Next::Resync);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_for_the_next_event() {
        let queue = Arc::new(Queue::default());
        let reader = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        tokio::task::yield_now().await;
        assert!(queue.push("late".into()));
        assert_eq!(reader.await.unwrap(), Next::Event("late".into()));
    }
}
