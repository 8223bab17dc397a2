//! The session registry: the one owner of what the hub knows about every editor session.
//!
//! Session tasks and the hub handle talk to it over a channel ([`RegistryMsg`]); it publishes
//! every change as a [`HubEvent`] on a broadcast channel. No other task holds session state.
//! Lost sessions stay visible for `lost_retention`, then leave; closed sessions leave at once.

use crate::api::{
    ClientInfo, HostInfo, HubEvent, RequestRecord, SessionInfo, SessionState, Snapshot,
    UpstreamState, UpstreamStatus,
};
use crate::now_millis;
use exai_proto::{Hello, SessionId, limits, truncate_to};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

/// How many recent durations make up a session's `recent_latency_ms`.
const LATENCY_WINDOW: usize = 20;

/// How many finished requests each session keeps for its timeline.
pub(crate) const HISTORY: usize = 100;
/// How many in-flight requests a session record names in `doing` (`in_flight` counts them all),
/// so that a window with thousands of calls in flight does not make every event that large.
const DOING_SHOWN: usize = 8;
/// The longest request label kept (`tools/call <tool name>`; the tool name is the editor's).
const MAX_LABEL: usize = 160;

/// A fresh resume secret: 128 random bits in hex.
fn new_secret() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Compares secrets without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// The first [`DOING_SHOWN`] labels of the requests in flight.
fn doing(in_flight: &HashMap<u64, String>) -> Vec<String> {
    in_flight.values().take(DOING_SHOWN).cloned().collect()
}

/// Messages to the registry task.
#[derive(Debug)]
pub(crate) enum RegistryMsg {
    /// A shim finished its handshake; answers with the session id to use and the secret that
    /// lets only this shim resume it.
    Register {
        hello: Hello,
        peer_pid: Option<u32>,
        reply: oneshot::Sender<(SessionId, String)>,
    },
    /// The editor said who it is.
    Identified {
        id: SessionId,
        client: Option<ClientInfo>,
        protocol_version: Option<String>,
    },
    /// A request started.
    Started {
        id: SessionId,
        key: u64,
        label: String,
    },
    /// A request finished (or was cancelled).
    Finished { key: u64, record: RequestRecord },
    /// The shim's connection ended: cleanly, or lost for the reason given.
    Disconnected { id: SessionId, lost: Option<String> },
    /// Remove a lost session now (the operator looked at it).
    Dismiss { id: SessionId },
    /// A snapshot for `exai status` and new dashboards.
    Snapshot { reply: oneshot::Sender<Snapshot> },
    /// A session's recent requests, oldest first (`None`: no such session).
    Requests {
        id: SessionId,
        reply: oneshot::Sender<Option<Vec<RequestRecord>>>,
    },
    /// A control client asked the embedder to show its dashboard.
    Focus { session: Option<SessionId> },
}

struct Entry {
    info: SessionInfo,
    /// Presented by a shim that resumes this session; no one else can take it over.
    secret: String,
    latencies: VecDeque<f64>,
    in_flight: HashMap<u64, String>,
    history: VecDeque<RequestRecord>,
    lost_at: Option<Instant>,
}

pub(crate) struct Registry {
    sessions: HashMap<SessionId, Entry>,
    order: Vec<SessionId>,
    /// Lost sessions in the order they were lost, to expire them without scanning every
    /// session on every event (an entry whose session came back is skipped when it is due).
    lost: VecDeque<(Instant, SessionId)>,
    upstream: watch::Receiver<UpstreamStatus>,
    events: broadcast::Sender<HubEvent>,
    lost_retention: Duration,
    endpoint: String,
    host: HostInfo,
    started_at: u64,
}

impl Registry {
    pub(crate) fn new(
        upstream: watch::Receiver<UpstreamStatus>,
        events: broadcast::Sender<HubEvent>,
        lost_retention: Duration,
        endpoint: String,
        host: HostInfo,
    ) -> Registry {
        Registry {
            sessions: HashMap::new(),
            order: Vec::new(),
            lost: VecDeque::new(),
            upstream,
            events,
            lost_retention,
            endpoint,
            host,
            started_at: now_millis(),
        }
    }

    /// Runs until every sender is gone.
    pub(crate) async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<RegistryMsg>) {
        let mut upstream_open = true;
        loop {
            let next_expiry = self.next_expiry();
            tokio::select! {
                msg = inbox.recv() => match msg {
                    Some(msg) => self.handle(msg),
                    None => break,
                },
                changed = self.upstream.changed(), if upstream_open => {
                    if changed.is_err() {
                        // The upstream is gone (hub shutting down); keep serving the registry.
                        upstream_open = false;
                        continue;
                    }
                    self.upstream_changed();
                }
                () = sleep_until_opt(next_expiry) => self.expire_lost(),
            }
        }
    }

    fn emit(&self, event: HubEvent) {
        // No subscriber is fine.
        let _ = self.events.send(event);
    }

    /// A connected window's state: a window that stands for the EXAI daemon is degraded while
    /// the daemon is not connected; one that stands for a wrapped server (`wrapped`) does not
    /// depend on the daemon and is ready (its server's own state is in `Snapshot::servers`).
    fn live_state(&self, wrapped: bool) -> SessionState {
        if wrapped {
            return SessionState::Ready;
        }
        match self.upstream.borrow().state {
            UpstreamState::Connected => SessionState::Ready,
            _ => SessionState::Degraded,
        }
    }

    fn handle(&mut self, msg: RegistryMsg) {
        match msg {
            RegistryMsg::Register {
                hello,
                peer_pid,
                reply,
            } => {
                let registered = self.register(hello, peer_pid);
                let _ = reply.send(registered);
            }
            RegistryMsg::Identified {
                id,
                client,
                protocol_version,
            } => self.update(id, |entry| {
                if let Some(mut client) = client {
                    // The editor's own words: bounded like everything a peer controls.
                    truncate_to(&mut client.name, limits::CLIENT_INFO);
                    truncate_to(&mut client.version, limits::CLIENT_INFO);
                    entry.info.client = Some(client);
                }
                if protocol_version.is_some() {
                    entry.info.protocol_version = protocol_version;
                }
            }),
            RegistryMsg::Started { id, key, mut label } => self.update(id, |entry| {
                truncate_to(&mut label, MAX_LABEL);
                entry.info.in_flight += 1;
                entry.info.last_activity = now_millis();
                entry.in_flight.insert(key, label);
                entry.info.doing = doing(&entry.in_flight);
            }),
            RegistryMsg::Finished { key, record } => {
                let id = record.session;
                if !record.ok && !record.cancelled {
                    self.log_failure(&record);
                }
                self.update(id, |entry| {
                    if entry.in_flight.remove(&key).is_some() {
                        entry.info.in_flight = entry.info.in_flight.saturating_sub(1);
                        // A lost or closed session keeps what it was doing when it went away.
                        if matches!(
                            entry.info.state,
                            SessionState::Ready | SessionState::Degraded
                        ) {
                            entry.info.doing = doing(&entry.in_flight);
                        }
                    }
                    entry.info.last_activity = now_millis();
                    if !record.cancelled {
                        entry.info.requests += 1;
                        if entry.latencies.len() == LATENCY_WINDOW {
                            entry.latencies.pop_front();
                        }
                        entry.latencies.push_back(record.duration_ms);
                        let sum: f64 = entry.latencies.iter().sum();
                        entry.info.recent_latency_ms = Some(sum / entry.latencies.len() as f64);
                    }
                    if !record.ok {
                        entry.info.errors += 1;
                        entry.info.last_error = record.error.clone();
                    }
                    if entry.history.len() == HISTORY {
                        entry.history.pop_front();
                    }
                    entry.history.push_back(record.clone());
                });
                self.emit(HubEvent::RequestFinished { request: record });
            }
            RegistryMsg::Disconnected { id, lost } => self.disconnected(id, lost),
            RegistryMsg::Dismiss { id } => {
                if self
                    .sessions
                    .get(&id)
                    .is_some_and(|entry| entry.info.state == SessionState::Lost)
                {
                    self.remove(id);
                }
            }
            RegistryMsg::Snapshot { reply } => {
                let _ = reply.send(self.snapshot());
            }
            RegistryMsg::Requests { id, reply } => {
                let history = self
                    .sessions
                    .get(&id)
                    .map(|entry| entry.history.iter().cloned().collect());
                let _ = reply.send(history);
            }
            RegistryMsg::Focus { session } => self.emit(HubEvent::FocusRequested { session }),
        }
    }

    fn register(&mut self, hello: Hello, peer_pid: Option<u32>) -> (SessionId, String) {
        let now = now_millis();
        let state = self.live_state(hello.server.is_some());
        if let Some(resume) = &hello.resume {
            let id = resume.session_id;
            let presented = resume.secret.as_deref().unwrap_or_default();
            if let Some(entry) = self.sessions.get_mut(&id) {
                let owner = !presented.is_empty() && same_secret(presented, &entry.secret);
                if !owner {
                    // Anyone on the socket can name a session id; only its shim knows the
                    // secret. A stranger gets a session of its own below.
                    tracing::warn!(session = %id, pid = hello.pid, "refused to resume a session without its secret");
                } else if matches!(entry.info.state, SessionState::Lost | SessionState::Closed) {
                    // The same hub lost the shim for a moment: revive the session.
                    entry.info.state = state;
                    entry.info.pid = hello.pid;
                    entry.info.peer_pid = peer_pid;
                    entry.info.resumes += 1;
                    entry.info.last_activity = now;
                    entry.info.lost_reason = None;
                    entry.lost_at = None;
                    let session = entry.info.clone();
                    let secret = entry.secret.clone();
                    self.emit(HubEvent::SessionChanged { session });
                    return (id, secret);
                }
                // A live session already has that id: never let two shims share one.
            } else if !presented.is_empty() {
                // A restarted hub: take the session back under its old id and secret (this hub
                // never knew the session, so there is nothing of anyone else's to take).
                let secret = presented.to_owned();
                self.insert(id, hello, peer_pid, now, state, 1, secret.clone());
                return (id, secret);
            }
        }
        let id = loop {
            let candidate = SessionId(rand::random::<u64>() | 1);
            if !self.sessions.contains_key(&candidate) {
                break candidate;
            }
        };
        let secret = new_secret();
        self.insert(id, hello, peer_pid, now, state, 0, secret.clone());
        (id, secret)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one private constructor of a session entry"
    )]
    fn insert(
        &mut self,
        id: SessionId,
        hello: Hello,
        peer_pid: Option<u32>,
        now: u64,
        state: SessionState,
        resumes: u64,
        secret: String,
    ) {
        let info = SessionInfo {
            id,
            name: hello.name,
            client: None,
            protocol_version: None,
            pid: hello.pid,
            parent_pid: hello.parent_pid,
            peer_pid,
            cwd: hello.cwd,
            state,
            connected_at: now,
            last_activity: now,
            requests: 0,
            errors: 0,
            in_flight: 0,
            recent_latency_ms: None,
            last_error: None,
            doing: Vec::new(),
            lost_reason: None,
            resumes,
            server: hello
                .server
                .as_deref()
                .map(crate::servers::spec::display_name),
        };
        self.emit(HubEvent::SessionAppeared {
            session: info.clone(),
        });
        self.sessions.insert(
            id,
            Entry {
                info,
                secret,
                latencies: VecDeque::with_capacity(LATENCY_WINDOW),
                in_flight: HashMap::new(),
                history: VecDeque::new(),
                lost_at: None,
            },
        );
        self.order.push(id);
    }

    fn update(&mut self, id: SessionId, change: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self.sessions.get_mut(&id) {
            change(entry);
            let session = entry.info.clone();
            self.emit(HubEvent::SessionChanged { session });
        }
    }

    fn disconnected(&mut self, id: SessionId, lost: Option<String>) {
        let Some(entry) = self.sessions.get_mut(&id) else {
            return;
        };
        entry.info.state = if lost.is_none() {
            SessionState::Closed
        } else {
            SessionState::Lost
        };
        entry.info.last_activity = now_millis();
        entry.info.lost_reason = lost;
        let session = entry.info.clone();
        match &session.lost_reason {
            None => {
                tracing::info!(session = %id, "{} closed", window_words(&session));
                self.emit(HubEvent::SessionChanged { session });
                self.remove(id);
            }
            Some(reason) => {
                tracing::warn!(session = %id, "{}", lost_sentence(&session, reason));
                let now = Instant::now();
                entry.lost_at = Some(now);
                self.lost.push_back((now, id));
                self.emit(HubEvent::SessionChanged { session });
            }
        }
    }

    /// Each failed request once, at WARN, as a sentence naming the window, the tool and the
    /// error (the request record has the rest).
    fn log_failure(&self, record: &RequestRecord) {
        let window = match self.sessions.get(&record.session) {
            Some(entry) => window_words(&entry.info),
            None => "A window".to_owned(),
        };
        tracing::warn!(session = %record.session, "{}", failure_sentence(&window, record));
    }

    fn remove(&mut self, id: SessionId) {
        if self.sessions.remove(&id).is_some() {
            self.order.retain(|other| *other != id);
            self.emit(HubEvent::SessionGone { id });
        }
    }

    /// When the longest-lost session is due to leave (at worst a session that came back since,
    /// which only wakes the loop once early).
    fn next_expiry(&self) -> Option<Instant> {
        self.lost
            .front()
            .map(|(lost_at, _)| *lost_at + self.lost_retention)
    }

    fn expire_lost(&mut self) {
        let now = Instant::now();
        while let Some(&(lost_at, id)) = self.lost.front() {
            if lost_at + self.lost_retention > now {
                break;
            }
            self.lost.pop_front();
            // Still the same loss (not revived, not lost again later): it leaves now.
            if self
                .sessions
                .get(&id)
                .is_some_and(|entry| entry.lost_at == Some(lost_at))
            {
                self.remove(id);
            }
        }
    }

    fn upstream_changed(&mut self) {
        let upstream = self.upstream.borrow_and_update().clone();
        self.emit(HubEvent::UpstreamChanged {
            upstream: upstream.clone(),
        });
        let state = self.live_state(false);
        // Only the daemon's windows follow the daemon.
        let changed: Vec<SessionInfo> = self
            .sessions
            .values_mut()
            .filter(|entry| {
                entry.info.server.is_none()
                    && matches!(
                        entry.info.state,
                        SessionState::Ready | SessionState::Degraded
                    )
                    && entry.info.state != state
            })
            .map(|entry| {
                entry.info.state = state;
                entry.info.clone()
            })
            .collect();
        for session in changed {
            self.emit(HubEvent::SessionChanged { session });
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            hub_version: env!("CARGO_PKG_VERSION").to_owned(),
            endpoint: self.endpoint.clone(),
            host: self.host.clone(),
            started_at: self.started_at,
            upstream: self.upstream.borrow().clone(),
            sessions: self
                .order
                .iter()
                .filter_map(|id| self.sessions.get(id))
                .map(|entry| entry.info.clone())
                .collect(),
            // Filled in by whoever asks (the instances are not the registry's).
            servers: Vec::new(),
        }
    }
}

/// How a log line names a window: `Window "api" (Visual Studio Code, pid 42)`.
pub(crate) fn window_words(session: &SessionInfo) -> String {
    let editor = session.client.as_ref().map(|client| client.name.as_str());
    match (session.name.as_deref(), editor) {
        (Some(name), Some(editor)) => format!("Window \"{name}\" ({editor}, pid {})", session.pid),
        (Some(name), None) | (None, Some(name)) => {
            format!("Window \"{name}\" (pid {})", session.pid)
        }
        (None, None) => format!("The window of shim pid {}", session.pid),
    }
}

/// The most of an error a log line repeats (the request record keeps 500 characters).
const ERROR_IN_LOG: usize = 300;

/// `Window "api" (pid 42): tool "fail" failed: <error>`. Without the duration (the request
/// record has it), so the same failure again is the same line, counted by the log ring.
pub(crate) fn failure_sentence(window: &str, record: &RequestRecord) -> String {
    let what = match &record.tool {
        Some(tool) => format!("tool \"{tool}\""),
        None => record.method.clone(),
    };
    let flat = record
        .error
        .as_deref()
        .map(|error| error.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|error| !error.is_empty())
        .unwrap_or_else(|| "no message".to_owned());
    let error = if flat.chars().count() > ERROR_IN_LOG {
        flat.chars().take(ERROR_IN_LOG).chain(['…']).collect()
    } else {
        flat
    };
    let cached = if record.from_cache {
        " (answered from the daemon's cache)"
    } else {
        ""
    };
    format!("{window}: {what} failed{cached}: {error}")
}

/// `Window "api" (pid 42) lost while running tools/call slow: its shim's connection closed ...`.
pub(crate) fn lost_sentence(session: &SessionInfo, reason: &str) -> String {
    let doing = if session.doing.is_empty() {
        "while idle".to_owned()
    } else {
        let more = session.in_flight.saturating_sub(session.doing.len() as u64);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        format!("while running {}{more}", session.doing.join(", "))
    };
    format!("{} lost {doing}: {reason}", window_words(session))
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(name: Option<&str>, editor: Option<&str>) -> SessionInfo {
        SessionInfo {
            id: SessionId(7),
            name: name.map(str::to_owned),
            client: editor.map(|name| ClientInfo {
                name: name.to_owned(),
                version: "1".to_owned(),
            }),
            protocol_version: None,
            pid: 42,
            parent_pid: None,
            peer_pid: None,
            cwd: None,
            state: SessionState::Lost,
            connected_at: 0,
            last_activity: 0,
            requests: 0,
            errors: 0,
            in_flight: 0,
            recent_latency_ms: None,
            last_error: None,
            doing: Vec::new(),
            lost_reason: None,
            resumes: 0,
            server: None,
        }
    }

    fn failed(tool: Option<&str>, error: &str) -> RequestRecord {
        RequestRecord {
            session: SessionId(7),
            method: "tools/call".to_owned(),
            tool: tool.map(str::to_owned),
            started_at: 0,
            duration_ms: 12.4,
            ok: false,
            error: Some(error.to_owned()),
            cancelled: false,
            rate_limited_ms: 0,
            arguments: None,
            from_cache: false,
        }
    }

    #[test]
    fn windows_are_named_by_label_editor_or_pid() {
        assert_eq!(
            window_words(&session(Some("api"), Some("Visual Studio Code"))),
            r#"Window "api" (Visual Studio Code, pid 42)"#
        );
        assert_eq!(
            window_words(&session(None, Some("Cursor"))),
            r#"Window "Cursor" (pid 42)"#
        );
        assert_eq!(
            window_words(&session(None, None)),
            "The window of shim pid 42"
        );
    }

    #[test]
    fn a_failed_call_is_one_sentence_with_window_tool_and_error() {
        let window = window_words(&session(Some("api"), None));
        let text = failure_sentence(&window, &failed(Some("fail"), "EXAI daemon error:\n  boom"));
        assert_eq!(
            text,
            r#"Window "api" (pid 42): tool "fail" failed: EXAI daemon error: boom"#
        );
        let mut cached = failed(None, &"x".repeat(1000));
        cached.method = "tools/list".to_owned();
        cached.from_cache = true;
        let text = failure_sentence(&window, &cached);
        assert!(text.starts_with(r#"Window "api" (pid 42): tools/list failed (answered from the daemon's cache): xxx"#), "{text}");
        assert!(text.ends_with("x…") && text.len() < 400, "{text}");
    }

    #[test]
    fn a_lost_window_says_what_it_was_doing_and_why() {
        let mut lost = session(Some("api"), None);
        assert_eq!(
            lost_sentence(&lost, "its shim went away"),
            r#"Window "api" (pid 42) lost while idle: its shim went away"#
        );
        lost.doing = vec!["tools/call slow".to_owned()];
        lost.in_flight = 3;
        assert_eq!(
            lost_sentence(&lost, "its shim went away"),
            r#"Window "api" (pid 42) lost while running tools/call slow and 2 more: its shim went away"#
        );
    }
}
