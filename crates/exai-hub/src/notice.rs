//! Notices: the few things worth interrupting the operator for, merged and debounced.
//!
//! [`Notices`] is a pure state machine over [`HubEvent`]s and a clock; [`run`] drives it with a
//! timer (no polling) and publishes each [`Notice`] as [`HubEvent::Notice`]. The shell decides
//! how to show them (the tray: a toast).
//!
//! Rules, so that a bad minute does not become a storm of toasts:
//! - Lost windows are merged: the first loss waits [`LOST_MERGE`] for others, then one notice
//!   covers them all; after a notice, further losses wait out [`LOST_COOLDOWN`].
//! - The daemon is "down" only after [`DOWN_GRACE`] without a connection (a blip says nothing),
//!   and "down" notices are at least [`DOWN_COOLDOWN`] apart, so a flapping daemon toasts once.
//! - A rejected token is said at once, once per outage; "back" is said only after a "down" or
//!   "token rejected" notice.
//! - A wrapped server entering crash-loop is said at once, at most once per instance per
//!   [`CRASH_LOOP_COOLDOWN`]: a window asking again retries it, and each retry that fails puts it
//!   back in crash-loop, which the tray's red already shows.

use crate::api::{
    HubEvent, Notice, NoticeKind, ServerState, ServerStatus, SessionInfo, SessionState,
    UpstreamState, UpstreamStatus,
};
use exai_proto::SessionId;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long the first lost window waits for others to be lost with it.
pub(crate) const LOST_MERGE: Duration = Duration::from_millis(750);
/// The least time between two "windows lost" notices.
pub(crate) const LOST_COOLDOWN: Duration = Duration::from_secs(10);
/// How long the daemon must stay unreachable before it is "down".
pub(crate) const DOWN_GRACE: Duration = Duration::from_secs(5);
/// The least time between two "daemon down" notices.
pub(crate) const DOWN_COOLDOWN: Duration = Duration::from_secs(60);
/// The least time between two crash-loop notices for one server instance.
pub(crate) const CRASH_LOOP_COOLDOWN: Duration = Duration::from_secs(5 * 60);
/// How many windows a merged notice names before it says "and N more".
const NAMED: usize = 4;

/// Publishes notices for the hub's events until `stop`.
pub(crate) async fn run(events: broadcast::Sender<HubEvent>, stop: CancellationToken) {
    let mut inbox = events.subscribe();
    let mut notices = Notices::default();
    loop {
        let deadline = notices.deadline();
        let fired = tokio::select! {
            () = stop.cancelled() => return,
            event = inbox.recv() => match event {
                Ok(event) => notices.observe(&event, Instant::now()),
                // Missed events only make a notice less complete; carry on.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = sleep_until_opt(deadline) => notices.fire(Instant::now()),
        };
        for notice in fired {
            tracing::info!("notice shown: {}", notice.title);
            let _ = events.send(HubEvent::Notice { notice });
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The notice state machine. Feed it every event with [`Notices::observe`]; call
/// [`Notices::fire`] when [`Notices::deadline`] passes.
#[derive(Default)]
pub(crate) struct Notices {
    /// Sessions already counted as lost (so a later change of a lost session is not a new loss).
    lost: HashSet<SessionId>,
    /// Lost sessions waiting to be announced, in the order they were lost.
    pending_lost: Vec<SessionInfo>,
    /// When the pending losses are announced.
    lost_due: Option<Instant>,
    /// When the last "windows lost" notice went out.
    last_lost_notice: Option<Instant>,
    /// Live session count, for the "back" notice.
    live: HashMap<SessionId, SessionState>,
    /// The upstream as last seen.
    upstream: Option<UpstreamStatus>,
    /// When the daemon will be announced down, if it stays unreachable.
    down_due: Option<Instant>,
    /// When the last "daemon down" notice went out.
    last_down_notice: Option<Instant>,
    /// The last outage notice (down or token) since the daemon was last connected.
    announced: Option<NoticeKind>,
    /// Each wrapped server instance's state as last seen, by [`ServerStatus::id`] (none for a
    /// stopped one).
    servers: HashMap<u64, ServerState>,
    /// When each instance's last crash-loop notice went out, while its cooldown lasts.
    last_crash_loop_notice: HashMap<u64, Instant>,
}

impl Notices {
    /// Takes one event in; returns the notices due at once.
    pub(crate) fn observe(&mut self, event: &HubEvent, now: Instant) -> Vec<Notice> {
        match event {
            HubEvent::SessionAppeared { session } | HubEvent::SessionChanged { session } => {
                self.session(session, now);
                Vec::new()
            }
            HubEvent::SessionGone { id } => {
                // Dismissed (or expired) before its notice went out: nothing to say any more.
                self.lost.remove(id);
                self.live.remove(id);
                self.pending_lost.retain(|pending| pending.id != *id);
                Vec::new()
            }
            HubEvent::UpstreamChanged { upstream } => self.upstream(upstream, now),
            HubEvent::ServerChanged { server } => self.server(server, now),
            _ => Vec::new(),
        }
    }

    /// When [`Notices::fire`] should be called next.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match (self.lost_due, self.down_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Returns the notices whose time has come.
    pub(crate) fn fire(&mut self, now: Instant) -> Vec<Notice> {
        let mut out = Vec::new();
        if self.lost_due.is_some_and(|due| due <= now) {
            self.lost_due = None;
            if !self.pending_lost.is_empty() {
                out.push(lost_notice(&std::mem::take(&mut self.pending_lost)));
                self.last_lost_notice = Some(now);
            }
        }
        if self.down_due.is_some_and(|due| due <= now) {
            self.down_due = None;
            if let Some(upstream) = &self.upstream
                && upstream.state == UpstreamState::Down
            {
                out.push(down_notice(upstream));
                self.last_down_notice = Some(now);
                self.announced = Some(NoticeKind::DaemonDown);
            }
        }
        out
    }

    fn session(&mut self, session: &SessionInfo, now: Instant) {
        if session.state != SessionState::Lost {
            // Resumed, or never lost: a later loss is a new one.
            self.lost.remove(&session.id);
            self.pending_lost.retain(|pending| pending.id != session.id);
            self.live.insert(session.id, session.state);
            return;
        }
        self.live.remove(&session.id);
        if !self.lost.insert(session.id) {
            return;
        }
        self.pending_lost.push(session.clone());
        if self.lost_due.is_none() {
            let merged = now + LOST_MERGE;
            let cooled = self
                .last_lost_notice
                .map_or(merged, |last| last + LOST_COOLDOWN);
            self.lost_due = Some(merged.max(cooled));
        }
    }

    fn upstream(&mut self, upstream: &UpstreamStatus, now: Instant) -> Vec<Notice> {
        let before = self.upstream.replace(upstream.clone()).map(|old| old.state);
        if before == Some(upstream.state) {
            return Vec::new();
        }
        match upstream.state {
            UpstreamState::Connected => {
                self.down_due = None;
                if self.announced.take().is_some() {
                    let ready = self
                        .live
                        .values()
                        .filter(|state| {
                            matches!(state, SessionState::Ready | SessionState::Degraded)
                        })
                        .count();
                    return vec![back_notice(upstream, ready)];
                }
                Vec::new()
            }
            UpstreamState::Down => {
                if self.down_due.is_none() && self.announced.is_none() {
                    let graced = now + DOWN_GRACE;
                    let cooled = self
                        .last_down_notice
                        .map_or(graced, |last| last + DOWN_COOLDOWN);
                    self.down_due = Some(graced.max(cooled));
                }
                Vec::new()
            }
            UpstreamState::Unauthorized => {
                self.down_due = None;
                // Said once per outage; but a daemon first unreachable, then back with another
                // token, must still say the token is wrong.
                if self.announced == Some(NoticeKind::TokenRejected) {
                    return Vec::new();
                }
                self.announced = Some(NoticeKind::TokenRejected);
                vec![token_notice(upstream)]
            }
            UpstreamState::Connecting => Vec::new(),
        }
    }
}

impl Notices {
    fn server(&mut self, server: &ServerStatus, now: Instant) -> Vec<Notice> {
        // A cooldown that ended says nothing any more; a stopped instance (idle, or gone with
        // its windows) keeps no state: absent counts as not in crash-loop, as stopped does.
        // So neither map grows with instances that come and go.
        self.last_crash_loop_notice
            .retain(|_, last| now < *last + CRASH_LOOP_COOLDOWN);
        let before = if server.state == ServerState::Stopped {
            self.servers.remove(&server.id)
        } else {
            self.servers.insert(server.id, server.state)
        };
        if server.state != ServerState::CrashLoop || before == Some(ServerState::CrashLoop) {
            return Vec::new();
        }
        if self
            .last_crash_loop_notice
            .get(&server.id)
            .is_some_and(|last| now < *last + CRASH_LOOP_COOLDOWN)
        {
            return Vec::new();
        }
        self.last_crash_loop_notice.insert(server.id, now);
        vec![crash_loop_notice(server)]
    }
}

fn crash_loop_notice(server: &ServerStatus) -> Notice {
    let stderr = server
        .stderr
        .last()
        .map(|line| format!(" Its last stderr line: {line}"))
        .unwrap_or_default();
    Notice {
        kind: NoticeKind::ServerCrashLoop,
        title: format!("EXAI: server \"{}\" keeps crashing", server.name),
        body: format!(
            "{} failed again and again soon after starting, so the hub stopped restarting it (crash-loop).{stderr} Fix it, then press Restart on the dashboard's Servers page (or ask again from the editor).",
            server.command
        ),
        sessions: server.windows.clone(),
    }
}

fn lost_notice(lost: &[SessionInfo]) -> Notice {
    let sessions = lost.iter().map(|session| session.id).collect();
    if let [session] = lost {
        let editor = session
            .client
            .as_ref()
            .map(|client| format!("{} {}", client.name, client.version))
            .unwrap_or_else(|| "An editor".to_owned());
        let doing = if session.doing.is_empty() {
            "It was idle.".to_owned()
        } else {
            format!("It was running {}.", session.doing.join(", "))
        };
        return Notice {
            kind: NoticeKind::SessionsLost,
            title: format!("EXAI: window \"{}\" lost", session.label()),
            body: format!(
                "{editor} (shim pid {}) went away without a goodbye. {doing} Restart the MCP server in that window.",
                session.pid
            ),
            sessions,
        };
    }
    let mut names: Vec<String> = lost
        .iter()
        .take(NAMED)
        .map(|session| format!("\"{}\" (pid {})", session.label(), session.pid))
        .collect();
    if lost.len() > NAMED {
        names.push(format!("and {} more", lost.len() - NAMED));
    }
    Notice {
        kind: NoticeKind::SessionsLost,
        title: format!("EXAI: {} windows lost", lost.len()),
        body: format!(
            "{} went away without a goodbye. Restart the MCP server in those windows.",
            names.join(", ")
        ),
        sessions,
    }
}

fn down_notice(upstream: &UpstreamStatus) -> Notice {
    let why = upstream
        .last_error
        .as_deref()
        .map(|error| format!(" ({error})"))
        .unwrap_or_default();
    Notice {
        kind: NoticeKind::DaemonDown,
        title: "EXAI: daemon unreachable".to_owned(),
        body: format!(
            "{}{why}. Tool calls fail until it is back; the hub keeps retrying (Reconnect daemon retries now).",
            upstream.url
        ),
        sessions: Vec::new(),
    }
}

fn token_notice(upstream: &UpstreamStatus) -> Notice {
    Notice {
        kind: NoticeKind::TokenRejected,
        title: "EXAI: daemon rejected the token".to_owned(),
        body: format!(
            "{} refused the token. Set EXAI_WS_TOKEN (or [upstream] token in config.toml) to the daemon's token, then Reconnect daemon.",
            upstream.url
        ),
        sessions: Vec::new(),
    }
}

fn back_notice(upstream: &UpstreamStatus, ready: usize) -> Notice {
    let windows = match ready {
        1 => "1 window is".to_owned(),
        n => format!("{n} windows are"),
    };
    Notice {
        kind: NoticeKind::DaemonBack,
        title: "EXAI: daemon back".to_owned(),
        body: format!("{} is reachable again; {windows} ready.", upstream.url),
        sessions: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ClientInfo;

    fn session(n: u64, state: SessionState) -> SessionInfo {
        SessionInfo {
            id: SessionId(n),
            name: Some(format!("w{n}")),
            client: Some(ClientInfo {
                name: "Visual Studio Code".into(),
                version: "1.96.0".into(),
            }),
            protocol_version: None,
            pid: 1000 + n as u32,
            parent_pid: None,
            peer_pid: None,
            cwd: None,
            state,
            connected_at: 0,
            last_activity: 0,
            requests: 0,
            errors: 0,
            in_flight: 0,
            recent_latency_ms: None,
            last_error: None,
            doing: vec!["tools/call chat".into()],
            lost_reason: None,
            resumes: 0,
            server: None,
        }
    }

    fn upstream(state: UpstreamState) -> HubEvent {
        HubEvent::UpstreamChanged {
            upstream: UpstreamStatus {
                url: "ws://127.0.0.1:8079".into(),
                state,
                connections: 0,
                busy: 0,
                pool_size: 4,
                tools: 0,
                queued: 0,
                reconnects: 0,
                last_error: Some("connection refused".into()),
                error_history: Vec::new(),
                rate_limit: None,
                rate_limited: 0,
                over_capacity: 0,
            },
        }
    }

    fn changed(session: SessionInfo) -> HubEvent {
        HubEvent::SessionChanged { session }
    }

    /// Runs the machine's timer up to `until`, collecting what fires.
    fn advance(notices: &mut Notices, until: Instant) -> Vec<Notice> {
        let mut out = Vec::new();
        while let Some(due) = notices.deadline().filter(|due| *due <= until) {
            out.extend(notices.fire(due));
        }
        out
    }

    #[test]
    fn one_lost_window_names_label_editor_pid_and_what_it_did() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        assert!(
            n.observe(&changed(session(1, SessionState::Ready)), t0)
                .is_empty()
        );
        assert!(
            n.observe(&changed(session(1, SessionState::Lost)), t0)
                .is_empty()
        );
        assert_eq!(n.deadline(), Some(t0 + LOST_MERGE));
        let fired = advance(&mut n, t0 + LOST_MERGE);
        assert_eq!(fired.len(), 1);
        let notice = &fired[0];
        assert_eq!(notice.kind, NoticeKind::SessionsLost);
        assert_eq!(notice.title, "EXAI: window \"w1\" lost");
        assert!(
            notice.body.contains("Visual Studio Code 1.96.0"),
            "{}",
            notice.body
        );
        assert!(notice.body.contains("pid 1001"), "{}", notice.body);
        assert!(notice.body.contains("tools/call chat"), "{}", notice.body);
        assert_eq!(notice.sessions, vec![SessionId(1)]);
        // A later change of the same lost session is not a second loss.
        assert!(
            n.observe(&changed(session(1, SessionState::Lost)), t0)
                .is_empty()
        );
        assert_eq!(n.deadline(), None);
    }

    #[test]
    fn ten_windows_lost_at_once_are_one_notice() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        for i in 0..10 {
            n.observe(
                &changed(session(i, SessionState::Lost)),
                t0 + Duration::from_millis(i * 20),
            );
        }
        let fired = advance(&mut n, t0 + Duration::from_secs(5));
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].title, "EXAI: 10 windows lost");
        assert!(fired[0].body.contains("and 6 more"), "{}", fired[0].body);
        assert_eq!(fired[0].sessions.len(), 10);
    }

    #[test]
    fn losses_during_the_cooldown_wait_and_merge() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        n.observe(&changed(session(1, SessionState::Lost)), t0);
        assert_eq!(advance(&mut n, t0 + LOST_MERGE).len(), 1);
        let t1 = t0 + Duration::from_secs(2);
        n.observe(&changed(session(2, SessionState::Lost)), t1);
        n.observe(
            &changed(session(3, SessionState::Lost)),
            t1 + Duration::from_secs(3),
        );
        // Nothing before the cooldown ends, then one notice for both.
        assert!(
            advance(
                &mut n,
                t0 + LOST_MERGE + LOST_COOLDOWN - Duration::from_millis(1)
            )
            .is_empty()
        );
        let fired = advance(&mut n, t0 + LOST_MERGE + LOST_COOLDOWN);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].title, "EXAI: 2 windows lost");
    }

    #[test]
    fn a_window_that_resumes_before_the_notice_is_not_announced() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        n.observe(&changed(session(1, SessionState::Lost)), t0);
        n.observe(
            &changed(session(1, SessionState::Ready)),
            t0 + Duration::from_millis(100),
        );
        assert!(advance(&mut n, t0 + Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn a_blip_says_nothing_a_long_outage_says_down_then_back() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        n.observe(&changed(session(1, SessionState::Ready)), t0);
        n.observe(&upstream(UpstreamState::Connected), t0);
        n.observe(&upstream(UpstreamState::Down), t0);
        assert!(
            n.observe(
                &upstream(UpstreamState::Connected),
                t0 + Duration::from_secs(1)
            )
            .is_empty()
        );
        assert!(advance(&mut n, t0 + Duration::from_secs(30)).is_empty());

        let t1 = t0 + Duration::from_secs(30);
        n.observe(&upstream(UpstreamState::Down), t1);
        let fired = advance(&mut n, t1 + DOWN_GRACE);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].kind, NoticeKind::DaemonDown);
        assert!(
            fired[0].body.contains("connection refused"),
            "{}",
            fired[0].body
        );
        let back = n.observe(
            &upstream(UpstreamState::Connected),
            t1 + Duration::from_secs(9),
        );
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].kind, NoticeKind::DaemonBack);
        assert!(
            back[0].body.contains("1 window is ready"),
            "{}",
            back[0].body
        );
    }

    #[test]
    fn a_flapping_daemon_toasts_once_per_cooldown() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        n.observe(&upstream(UpstreamState::Connected), t0);
        let mut downs = 0;
        let mut backs = 0;
        // Down for 6 s, up for 1 s, for two minutes.
        let mut t = t0;
        while t < t0 + Duration::from_secs(120) {
            n.observe(&upstream(UpstreamState::Down), t);
            for notice in advance(&mut n, t + Duration::from_secs(6)) {
                assert_eq!(notice.kind, NoticeKind::DaemonDown);
                downs += 1;
            }
            t += Duration::from_secs(6);
            backs += n.observe(&upstream(UpstreamState::Connected), t).len();
            t += Duration::from_secs(1);
        }
        assert_eq!(downs, 2, "one per {DOWN_COOLDOWN:?} over two minutes");
        assert_eq!(backs, 2);
    }

    #[test]
    fn a_rejected_token_after_a_down_notice_is_still_said() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        n.observe(&upstream(UpstreamState::Down), t0);
        assert_eq!(
            advance(&mut n, t0 + DOWN_GRACE)[0].kind,
            NoticeKind::DaemonDown
        );
        // The daemon comes back with a rotated token: the pool goes straight to unauthorized.
        let fired = n.observe(
            &upstream(UpstreamState::Unauthorized),
            t0 + Duration::from_secs(20),
        );
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].kind, NoticeKind::TokenRejected);
    }

    #[test]
    fn a_window_dismissed_before_its_notice_is_not_announced() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        n.observe(&changed(session(1, SessionState::Lost)), t0);
        n.observe(&changed(session(2, SessionState::Lost)), t0);
        n.observe(
            &HubEvent::SessionGone { id: SessionId(1) },
            t0 + Duration::from_millis(100),
        );
        let fired = advance(&mut n, t0 + Duration::from_secs(1));
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].sessions, vec![SessionId(2)]);
    }

    #[test]
    fn a_rejected_token_is_said_at_once_and_once() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        let fired = n.observe(&upstream(UpstreamState::Unauthorized), t0);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].kind, NoticeKind::TokenRejected);
        assert!(fired[0].body.contains("EXAI_WS_TOKEN"));
        assert!(
            n.observe(&upstream(UpstreamState::Connecting), t0)
                .is_empty()
        );
        assert!(
            n.observe(&upstream(UpstreamState::Unauthorized), t0)
                .is_empty()
        );
        assert!(advance(&mut n, t0 + Duration::from_secs(600)).is_empty());
        let back = n.observe(
            &upstream(UpstreamState::Connected),
            t0 + Duration::from_secs(700),
        );
        assert_eq!(back[0].kind, NoticeKind::DaemonBack);
    }

    fn server(id: u64, state: ServerState) -> HubEvent {
        HubEvent::ServerChanged {
            server: ServerStatus {
                id,
                name: "server-memory".into(),
                command: "npx -y @modelcontextprotocol/server-memory".into(),
                pid: None,
                state,
                policy: "shared".into(),
                windows: vec![SessionId(7)],
                restarts: 4,
                memory_bytes: None,
                last_error: None,
                stderr: vec!["cannot open memory.json".into()],
            },
        }
    }

    #[test]
    fn a_server_entering_crash_loop_is_said_at_once_naming_it() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        for state in [
            ServerState::Starting,
            ServerState::Restarting,
            ServerState::Restarting,
        ] {
            assert!(n.observe(&server(1, state), t0).is_empty());
        }
        let fired = n.observe(&server(1, ServerState::CrashLoop), t0);
        assert_eq!(fired.len(), 1);
        let notice = &fired[0];
        assert_eq!(notice.kind, NoticeKind::ServerCrashLoop);
        assert!(notice.title.contains("server-memory"), "{}", notice.title);
        assert!(
            notice
                .body
                .contains("npx -y @modelcontextprotocol/server-memory")
        );
        assert!(notice.body.contains("cannot open memory.json"));
        assert!(notice.body.contains("Restart"));
        assert_eq!(notice.sessions, vec![SessionId(7)]);
        // Still in crash-loop (a window joined): nothing new.
        assert!(n.observe(&server(1, ServerState::CrashLoop), t0).is_empty());
        assert!(n.deadline().is_none(), "nothing waits on a timer");
    }

    #[test]
    fn a_retried_server_back_in_crash_loop_toasts_once_per_cooldown() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        assert_eq!(n.observe(&server(1, ServerState::CrashLoop), t0).len(), 1);
        // A window asks again: it restarts and fails again, within the cooldown.
        let soon = t0 + Duration::from_secs(30);
        assert!(
            n.observe(&server(1, ServerState::Restarting), soon)
                .is_empty()
        );
        assert!(
            n.observe(&server(1, ServerState::CrashLoop), soon)
                .is_empty()
        );
        // Another server is its own story.
        assert_eq!(n.observe(&server(2, ServerState::CrashLoop), soon).len(), 1);
        // After the cooldown, a new crash-loop is said again.
        let later = t0 + CRASH_LOOP_COOLDOWN;
        assert!(n.observe(&server(1, ServerState::Ready), later).is_empty());
        assert_eq!(
            n.observe(&server(1, ServerState::CrashLoop), later).len(),
            1
        );
    }

    #[test]
    fn server_state_is_pruned_for_stopped_instances_and_ended_cooldowns() {
        let t0 = Instant::now();
        let mut n = Notices::default();
        for id in 1..=50 {
            assert_eq!(n.observe(&server(id, ServerState::CrashLoop), t0).len(), 1);
            // Asked again, it starts; then it goes idle and stops.
            n.observe(&server(id, ServerState::Starting), t0);
            n.observe(&server(id, ServerState::Stopped), t0);
        }
        assert!(n.servers.is_empty(), "stopped instances keep no state");
        assert_eq!(n.last_crash_loop_notice.len(), 50, "within the cooldown");
        // Within the cooldown the notice is still held back.
        let soon = t0 + Duration::from_secs(1);
        assert!(
            n.observe(&server(1, ServerState::CrashLoop), soon)
                .is_empty()
        );
        // After it, the ended cooldowns are dropped.
        let later = t0 + CRASH_LOOP_COOLDOWN;
        assert!(n.observe(&server(99, ServerState::Ready), later).is_empty());
        assert!(n.last_crash_loop_notice.is_empty());
        assert_eq!(n.servers.len(), 2, "instance 1 in crash-loop and 99 ready");
        // Instance 1 was still in crash-loop: no new notice for the same episode.
        assert!(
            n.observe(&server(1, ServerState::CrashLoop), later)
                .is_empty()
        );
        assert_eq!(
            n.observe(&server(2, ServerState::CrashLoop), later).len(),
            1
        );
    }
}
