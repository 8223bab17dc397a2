//! The dashboard's accept loop: how many HTTP connections it holds, and for how long.
//!
//! The dashboard port is reachable by every local user, and its connections share the process's
//! file descriptors with the editor endpoint. So a stranger must not be able to pin descriptors
//! or memory here:
//! - at most [`MAX_CONNECTIONS`] at once; when all are taken, a new connection pushes out the
//!   oldest one that has not yet shown the token (a token holder's connection is never pushed
//!   out; when every slot holds one, the newcomer is closed at once);
//! - the request head must arrive within [`HEAD_TIMEOUT`] of connecting or of the previous
//!   answer (slowloris, and idle keep-alive connections);
//! - small buffers per connection: hyper's ([`MAX_BUFFER`]) and the kernel's send buffer
//!   ([`SEND_BUFFER`], fixed, so a reader that stops cannot make it grow to megabytes); bodies
//!   are checked in `mod.rs` ([`super::MAX_BODY`]).
//!
//! This is its own loop rather than `axum::serve`, which has none of these knobs. It runs in its
//! own task on its own listener, so nothing here can hold up the editor endpoint's accept loop.

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// HTTP connections held at once. A browser opens at most six per origin; the rest is room for
/// a few tabs and `curl`.
pub(crate) const MAX_CONNECTIONS: usize = 64;

/// Time to send a whole request head, counted from the connection's start or the previous
/// answer; so it is also how long an idle keep-alive connection stays open. Node's HTTP server
/// uses the same 5 s for keep-alive.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// hyper's read buffer (so the largest request head) and write buffer, per connection.
const MAX_BUFFER: usize = 64 * 1024;

/// The kernel's send buffer per connection (Linux doubles it). Plenty for loopback and a tunnel.
const SEND_BUFFER: usize = 64 * 1024;

/// How long open connections get to finish when the dashboard stops.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// One connection as the handlers see it (a request extension).
#[derive(Clone)]
pub(crate) struct Conn {
    trusted: Arc<AtomicBool>,
    close: CancellationToken,
}

impl Conn {
    /// The connection carried a valid token: it is no longer pushed out for a newcomer.
    pub(crate) fn trust(&self) {
        self.trusted.store(true, Ordering::Relaxed);
    }

    /// Closes the connection now, whatever it is doing.
    pub(crate) fn close(&self) {
        self.close.cancel();
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Slots {
    next: u64,
    open: BTreeMap<u64, Conn>,
}

impl Slots {
    /// Makes room for a new connection (pushing out the oldest untrusted one when full), or
    /// `None` when every slot is held by a token holder.
    fn admit(&mut self, max: usize) -> Option<(u64, Conn)> {
        if self.open.len() >= max {
            let oldest = self
                .open
                .iter()
                .find(|(_, conn)| !conn.trusted.load(Ordering::Relaxed))
                .map(|(&id, _)| id)?;
            if let Some(conn) = self.open.remove(&oldest) {
                conn.close();
            }
        }
        let id = self.next;
        self.next += 1;
        let conn = Conn {
            trusted: Arc::new(AtomicBool::new(false)),
            close: CancellationToken::new(),
        };
        self.open.insert(id, conn.clone());
        Some((id, conn))
    }
}

/// Frees a connection's slot however its task ends.
struct Release {
    slots: Arc<Mutex<Slots>>,
    id: u64,
    /// Returned when the connection's socket is closed (see `serve_one`).
    _descriptor: OwnedSemaphorePermit,
}

impl Drop for Release {
    fn drop(&mut self) {
        lock(&self.slots).open.remove(&self.id);
    }
}

fn lock(slots: &Mutex<Slots>) -> std::sync::MutexGuard<'_, Slots> {
    // The table stays consistent even if a holder panicked: every change is one map operation.
    slots
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Accepts and serves connections until `stop` is cancelled, then gives open ones
/// [`STOP_GRACE`] to finish.
pub(crate) async fn serve(listener: TcpListener, app: Router, stop: CancellationToken) {
    let slots = Arc::new(Mutex::new(Slots::default()));
    // One permit per descriptor a connection holds, released only once its socket is closed.
    // Pushing a connection out of its slot is immediate, but its task closes the socket a
    // moment later; a burst of newcomers must not outrun those closes (each accepted one would
    // hold a descriptor, and the process has few: the editor endpoint needs them too).
    let descriptors = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let tasks = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of descriptors or memory: say so, and give it a moment rather than spin.
                tracing::warn!(error = %err, "the dashboard could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let admitted = lock(&slots).admit(MAX_CONNECTIONS);
        let Some((id, conn)) = admitted else {
            tracing::debug!("every dashboard connection holds the token; closing a newcomer");
            continue;
        };
        // Waits only while a pushed-out connection is still closing its socket.
        let permit = tokio::select! {
            () = stop.cancelled() => break,
            permit = descriptors.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let release = Release {
            slots: slots.clone(),
            id,
            _descriptor: permit,
        };
        tasks.spawn(serve_one(stream, conn, release, app.clone(), stop.clone()));
    }
    drop(listener);
    tasks.close();
    let _ = tokio::time::timeout(STOP_GRACE + Duration::from_millis(500), tasks.wait()).await;
}

async fn serve_one(
    stream: tokio::net::TcpStream,
    conn: Conn,
    release: Release,
    app: Router,
    stop: CancellationToken,
) {
    serve_connection(stream, conn, app, stop).await;
    // The socket is closed by now (`serve_connection` owned it): the descriptor is free.
    drop(release);
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    conn: Conn,
    app: Router,
    stop: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
    let close = conn.close.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(conn.clone());
        let mut app = app.clone();
        tower_service::Service::call(&mut app, request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_BUFFER)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "dashboard connection ended");
            }
        }
        // Pushed out for a newcomer, or an event stream that fell behind: drop it at once.
        () = close.cancelled() => {}
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(STOP_GRACE, connection).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_pushes_out_the_oldest_stranger_and_never_a_token_holder() {
        let mut slots = Slots::default();
        let conns: Vec<_> = (0..3).map(|_| slots.admit(3).unwrap()).collect();
        conns[0].1.trust();
        // Full: the oldest connection without the token (1) goes.
        let (id, _) = slots.admit(3).unwrap();
        assert_eq!(id, 3);
        assert!(conns[1].1.close.is_cancelled());
        assert!(!conns[0].1.close.is_cancelled());
        assert_eq!(slots.open.keys().copied().collect::<Vec<_>>(), [0, 2, 3]);
        // Every slot with a token holder: the newcomer is refused.
        for conn in slots.open.values() {
            conn.trust();
        }
        assert!(slots.admit(3).is_none());
        assert_eq!(slots.open.len(), 3);
    }
}
