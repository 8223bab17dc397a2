//! What the tray shows, computed from what the hub said: the icon colour, the tooltip, the menu's
//! header and one line per session.
//!
//! Pure data in, data out: [`Model`] folds [`HubEvent`]s (and what the user has looked at), and
//! [`view`] turns it into a [`TrayView`]. No Tauri types here, so it is unit-tested without a
//! display; `tray.rs` only paints the result. The colour follows the rule the dashboard's pill
//! follows too ([`exai_hub::overall`]); what is the tray's own is which lost windows were seen.
//! A wrapped server restarting (amber) or in crash-loop (red) is named in the tooltip.

use exai_hub::api::{
    HubEvent, ServerState, ServerStatus, SessionInfo, SessionState, Snapshot, UpstreamStatus,
};
use exai_hub::overall::{self, Daemon, Servers, Tone, Windows};
use exai_proto::SessionId;
use std::collections::HashSet;

/// The tray icon's colour: the whole system's state at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// The daemon is connected and every window is ready.
    Green,
    /// Connecting, degraded, a wrapped server restarting, or no daemon configured yet.
    Amber,
    /// The daemon is down or rejected the token, a window was lost and nobody looked yet, or a
    /// wrapped server is in crash-loop.
    Red,
    /// No editor window is connected.
    Grey,
}

impl From<Tone> for Colour {
    fn from(tone: Tone) -> Colour {
        match tone {
            Tone::Green => Colour::Green,
            Tone::Amber => Colour::Amber,
            Tone::Red => Colour::Red,
            Tone::Grey => Colour::Grey,
        }
    }
}

impl Colour {
    /// The tray icon for this colour (PNG bytes, from `icons/generate.py`).
    pub fn icon_png(self) -> &'static [u8] {
        match self {
            Colour::Green => include_bytes!("../../../icons/tray-green.png"),
            Colour::Amber => include_bytes!("../../../icons/tray-amber.png"),
            Colour::Red => include_bytes!("../../../icons/tray-red.png"),
            Colour::Grey => include_bytes!("../../../icons/tray-grey.png"),
        }
    }
}

/// Which lost sessions the user has looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookedAt {
    /// The dashboard was opened (or focused): everything on it counts as seen.
    Everything,
    /// One session was opened from the menu, or dismissed.
    Session(SessionId),
}

/// The hub as the tray knows it: upstream, sessions, and which losses were seen.
#[derive(Debug, Default)]
pub struct Model {
    upstream: Option<UpstreamStatus>,
    /// Oldest first, as in the snapshot.
    sessions: Vec<SessionInfo>,
    /// Wrapped servers' instances, oldest first, as in the snapshot.
    servers: Vec<ServerStatus>,
    /// Lost sessions the user has looked at; a session that comes back leaves this set.
    seen: HashSet<SessionId>,
    /// A daemon URL was configured (from the snapshot's host): when not, an unreachable default
    /// daemon is "not configured yet" (amber), not "down" (red).
    daemon_configured: bool,
}

impl Model {
    /// Starts over from a snapshot (at start, and after falling behind), keeping what was seen.
    pub fn reset(&mut self, snapshot: &Snapshot) {
        self.upstream = Some(snapshot.upstream.clone());
        self.sessions = snapshot.sessions.clone();
        self.servers = snapshot.servers.clone();
        self.daemon_configured = snapshot.host.daemon_configured;
        let present: HashSet<SessionId> = self.sessions.iter().map(|session| session.id).collect();
        self.seen.retain(|id| present.contains(id));
    }

    /// Folds one event in. Returns whether anything the tray shows may have changed.
    pub fn apply(&mut self, event: &HubEvent) -> bool {
        match event {
            HubEvent::SessionAppeared { session } | HubEvent::SessionChanged { session } => {
                if session.state != SessionState::Lost {
                    self.seen.remove(&session.id);
                }
                match self
                    .sessions
                    .iter_mut()
                    .find(|known| known.id == session.id)
                {
                    Some(known) => *known = session.clone(),
                    None => self.sessions.push(session.clone()),
                }
                true
            }
            HubEvent::SessionGone { id } => {
                self.sessions.retain(|session| session.id != *id);
                self.seen.remove(id);
                true
            }
            HubEvent::UpstreamChanged { upstream } => {
                self.upstream = Some(upstream.clone());
                true
            }
            HubEvent::ServerChanged { server } => {
                match self.servers.iter_mut().find(|known| known.id == server.id) {
                    Some(known) => *known = server.clone(),
                    None => self.servers.push(server.clone()),
                }
                true
            }
            _ => false,
        }
    }

    /// Records that the user looked at a lost session (or at all of them).
    pub fn look_at(&mut self, what: LookedAt) {
        match what {
            LookedAt::Everything => {
                let lost = self
                    .sessions
                    .iter()
                    .filter(|s| s.state == SessionState::Lost);
                self.seen.extend(lost.map(|session| session.id));
            }
            LookedAt::Session(id) => {
                if self
                    .sessions
                    .iter()
                    .any(|session| session.id == id && session.state == SessionState::Lost)
                {
                    self.seen.insert(id);
                }
            }
        }
    }
}

/// Facts from outside the hub that change what the tray shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// Toasts are on (the menu's check item).
    pub notifications: bool,
}

/// One session's menu entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLine {
    /// The session it opens.
    pub id: SessionId,
    /// What the entry says, e.g. `api (Visual Studio Code): ready`.
    pub text: String,
}

/// Everything the tray paints; compared with the last one so unchanged views are not repainted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayView {
    /// The icon.
    pub colour: Colour,
    /// The tooltip, e.g. `EXAI: 3 windows, daemon connected`.
    pub tooltip: String,
    /// The menu's first (disabled) line: the daemon's state.
    pub header: String,
    /// One entry per session, oldest first (closed ones are left out).
    pub sessions: Vec<SessionLine>,
    /// The Notifications check item.
    pub notifications: bool,
}

/// The daemon's state in the tray's words.
fn daemon_words(daemon: Daemon) -> &'static str {
    match daemon {
        Daemon::Starting => "starting",
        Daemon::Connecting => "daemon connecting",
        Daemon::Connected => "daemon connected",
        Daemon::Down => "daemon down",
        Daemon::NotConfigured => "no daemon configured",
        Daemon::Unauthorized => "daemon rejected the token",
    }
}

/// Computes what the tray shows.
pub fn view(model: &Model, context: Context) -> TrayView {
    let upstream = model.upstream.as_ref();
    let daemon = Daemon::of(
        upstream.map(|upstream| upstream.state),
        model.daemon_configured,
    );
    let windows = Windows::count(&model.sessions, |id| model.seen.contains(&id));
    let colour = Colour::from(overall::tone(
        daemon,
        windows,
        Servers::count(&model.servers),
    ));
    let n_live = windows.live();
    let n_lost = model
        .sessions
        .iter()
        .filter(|session| session.state == SessionState::Lost)
        .count();

    let windows = match n_live {
        0 => "no editor connected".to_owned(),
        1 => "1 window".to_owned(),
        n => format!("{n} windows"),
    };
    let lost = if n_lost > 0 {
        format!(" ({n_lost} lost)")
    } else {
        String::new()
    };
    let server = overall::troubled_server(&model.servers)
        .map(|server| match server.state {
            ServerState::CrashLoop => format!("; {} keeps crashing", server.name),
            _ => format!("; {} restarting", server.name),
        })
        .unwrap_or_default();
    let tooltip = format!("EXAI: {windows}{lost}, {}{server}", daemon_words(daemon));

    let url = upstream.map(|upstream| upstream.url.as_str()).unwrap_or("");
    let header = match daemon {
        Daemon::Starting => "Daemon: starting".to_owned(),
        Daemon::Connecting => format!("Daemon: connecting to {url}"),
        Daemon::Connected => format!("Daemon: connected to {url}"),
        Daemon::Down => format!("Daemon: down ({url})"),
        Daemon::NotConfigured => "Daemon: not configured (set EXAI_WS_URL)".to_owned(),
        Daemon::Unauthorized => format!("Daemon: token rejected ({url})"),
    };

    let sessions = model
        .sessions
        .iter()
        .filter(|session| session.state != SessionState::Closed)
        .map(|session| SessionLine {
            id: session.id,
            text: session_text(session),
        })
        .collect();

    TrayView {
        colour,
        tooltip,
        header,
        sessions,
        notifications: context.notifications,
    }
}

fn session_text(session: &SessionInfo) -> String {
    let state = match session.state {
        SessionState::Ready => "ready",
        SessionState::Degraded => "degraded",
        SessionState::Lost => "lost",
        SessionState::Closed => "closed",
    };
    let label = session.label();
    match &session.client {
        Some(client) if client.name != label => format!("{label} ({}): {state}", client.name),
        _ => format!("{label}: {state}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exai_hub::api::{ClientInfo, UpstreamState};

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
            doing: Vec::new(),
            lost_reason: None,
            resumes: 0,
            server: None,
        }
    }

    fn status(state: UpstreamState) -> UpstreamStatus {
        UpstreamStatus {
            url: "ws://127.0.0.1:8079".into(),
            state,
            connections: 0,
            busy: 0,
            pool_size: 4,
            tools: 0,
            queued: 0,
            reconnects: 0,
            last_error: None,
            error_history: Vec::new(),
            rate_limit: None,
            rate_limited: 0,
            over_capacity: 0,
        }
    }

    fn upstream(state: UpstreamState) -> HubEvent {
        HubEvent::UpstreamChanged {
            upstream: status(state),
        }
    }

    fn changed(session: SessionInfo) -> HubEvent {
        HubEvent::SessionChanged { session }
    }

    const CONFIGURED: Context = Context {
        notifications: true,
    };

    /// A model whose hub has a daemon URL configured.
    fn model(daemon: UpstreamState, sessions: &[(u64, SessionState)]) -> Model {
        let mut model = Model {
            daemon_configured: true,
            ..Model::default()
        };
        model.apply(&upstream(daemon));
        for &(n, state) in sessions {
            model.apply(&changed(session(n, state)));
        }
        model
    }

    #[test]
    fn connected_with_ready_windows_is_green() {
        let model = model(
            UpstreamState::Connected,
            &[
                (1, SessionState::Ready),
                (2, SessionState::Ready),
                (3, SessionState::Ready),
            ],
        );
        let view = view(&model, CONFIGURED);
        assert_eq!(view.colour, Colour::Green);
        assert_eq!(view.tooltip, "EXAI: 3 windows, daemon connected");
        assert_eq!(view.header, "Daemon: connected to ws://127.0.0.1:8079");
        assert_eq!(
            view.sessions[0],
            SessionLine {
                id: SessionId(1),
                text: "w1 (Visual Studio Code): ready".into()
            }
        );
    }

    #[test]
    fn no_editor_is_grey_whatever_a_healthy_daemon_does() {
        for daemon in [UpstreamState::Connected, UpstreamState::Connecting] {
            let view = view(&model(daemon, &[]), CONFIGURED);
            assert_eq!(view.colour, Colour::Grey, "{daemon:?}");
            assert!(view.tooltip.starts_with("EXAI: no editor connected, "));
        }
        assert_eq!(
            view(&Model::default(), CONFIGURED).tooltip,
            "EXAI: no editor connected, starting"
        );
    }

    #[test]
    fn connecting_or_degraded_is_amber() {
        let connecting = model(UpstreamState::Connecting, &[(1, SessionState::Degraded)]);
        let view1 = view(&connecting, CONFIGURED);
        assert_eq!(view1.colour, Colour::Amber);
        assert_eq!(view1.tooltip, "EXAI: 1 window, daemon connecting");
        assert_eq!(view1.sessions[0].text, "w1 (Visual Studio Code): degraded");
        let degraded = model(
            UpstreamState::Connected,
            &[(1, SessionState::Ready), (2, SessionState::Degraded)],
        );
        assert_eq!(view(&degraded, CONFIGURED).colour, Colour::Amber);
    }

    #[test]
    fn an_unconfigured_daemon_is_amber_not_red() {
        let mut model = model(UpstreamState::Down, &[(1, SessionState::Degraded)]);
        model.daemon_configured = false;
        let view = view(&model, CONFIGURED);
        assert_eq!(view.colour, Colour::Amber);
        assert_eq!(view.tooltip, "EXAI: 1 window, no daemon configured");
        assert_eq!(view.header, "Daemon: not configured (set EXAI_WS_URL)");
    }

    #[test]
    fn whether_a_daemon_is_configured_comes_from_the_snapshot() {
        let mut snapshot = Snapshot {
            hub_version: "0".into(),
            endpoint: "exai-hub-v1".into(),
            host: exai_hub::api::HostInfo {
                kind: exai_hub::api::HostKind::Tray,
                pid: 1,
                dashboard_url: None,
                daemon_configured: false,
            },
            upstream: status(UpstreamState::Down),
            sessions: vec![session(1, SessionState::Degraded)],
            started_at: 0,
            servers: Vec::new(),
        };
        let mut model = Model::default();
        model.reset(&snapshot);
        assert_eq!(view(&model, CONFIGURED).colour, Colour::Amber);
        snapshot.host.daemon_configured = true;
        model.reset(&snapshot);
        assert_eq!(view(&model, CONFIGURED).colour, Colour::Red);
    }

    #[test]
    fn daemon_down_or_token_rejected_is_red_even_without_editors() {
        let down = view(&model(UpstreamState::Down, &[]), CONFIGURED);
        assert_eq!(down.colour, Colour::Red);
        assert_eq!(down.tooltip, "EXAI: no editor connected, daemon down");
        assert_eq!(down.header, "Daemon: down (ws://127.0.0.1:8079)");
        let rejected = view(
            &model(UpstreamState::Unauthorized, &[(1, SessionState::Degraded)]),
            CONFIGURED,
        );
        assert_eq!(rejected.colour, Colour::Red);
        assert_eq!(
            rejected.tooltip,
            "EXAI: 1 window, daemon rejected the token"
        );
    }

    #[test]
    fn a_lost_window_is_red_until_looked_at() {
        let mut model = model(
            UpstreamState::Connected,
            &[(1, SessionState::Ready), (2, SessionState::Lost)],
        );
        let before = view(&model, CONFIGURED);
        assert_eq!(before.colour, Colour::Red);
        assert_eq!(before.tooltip, "EXAI: 1 window (1 lost), daemon connected");
        assert_eq!(before.sessions[1].text, "w2 (Visual Studio Code): lost");

        // Opening another session does not count as looking at this one.
        model.look_at(LookedAt::Session(SessionId(1)));
        assert_eq!(view(&model, CONFIGURED).colour, Colour::Red);
        model.look_at(LookedAt::Session(SessionId(2)));
        assert_eq!(view(&model, CONFIGURED).colour, Colour::Green);

        // It resumes, then is lost again: that is news again.
        model.apply(&changed(session(2, SessionState::Ready)));
        model.apply(&changed(session(2, SessionState::Lost)));
        assert_eq!(view(&model, CONFIGURED).colour, Colour::Red);
        model.look_at(LookedAt::Everything);
        assert_eq!(view(&model, CONFIGURED).colour, Colour::Green);
    }

    #[test]
    fn a_lost_window_with_no_other_editor_is_red_then_grey() {
        let mut model = model(UpstreamState::Connected, &[(1, SessionState::Lost)]);
        assert_eq!(view(&model, CONFIGURED).colour, Colour::Red);
        model.look_at(LookedAt::Everything);
        let view = view(&model, CONFIGURED);
        assert_eq!(view.colour, Colour::Grey);
        assert_eq!(
            view.tooltip,
            "EXAI: no editor connected (1 lost), daemon connected"
        );
    }

    #[test]
    fn dismissed_sessions_leave_the_menu_and_closed_ones_are_not_listed() {
        let mut model = model(
            UpstreamState::Connected,
            &[
                (1, SessionState::Lost),
                (2, SessionState::Closed),
                (3, SessionState::Ready),
            ],
        );
        assert_eq!(view(&model, CONFIGURED).sessions.len(), 2);
        model.apply(&HubEvent::SessionGone { id: SessionId(1) });
        let view = view(&model, CONFIGURED);
        assert_eq!(view.colour, Colour::Green);
        assert_eq!(
            view.sessions.iter().map(|line| line.id).collect::<Vec<_>>(),
            vec![SessionId(3)]
        );
    }

    #[test]
    fn a_label_equal_to_the_editor_name_is_not_repeated() {
        let mut unnamed = session(1, SessionState::Ready);
        unnamed.name = None;
        assert_eq!(session_text(&unnamed), "Visual Studio Code: ready");
        unnamed.client = None;
        assert_eq!(session_text(&unnamed), "pid 1001: ready");
    }

    #[test]
    fn log_and_request_events_do_not_repaint() {
        let mut model = Model::default();
        assert!(!model.apply(&HubEvent::Lagged { missed: 3 }));
        assert!(model.apply(&upstream(UpstreamState::Connected)));
    }

    fn server(id: u64, state: ServerState) -> HubEvent {
        HubEvent::ServerChanged {
            server: ServerStatus {
                id,
                name: format!("server-{id}"),
                command: format!("npx server-{id}"),
                pid: Some(4000 + id as u32),
                state,
                policy: "shared".into(),
                windows: vec![SessionId(1)],
                restarts: 0,
                memory_bytes: None,
                last_error: None,
                stderr: Vec::new(),
            },
        }
    }

    #[test]
    fn a_restarting_server_is_amber_and_one_in_crash_loop_red_named_in_the_tooltip() {
        let mut model = model(UpstreamState::Connected, &[(1, SessionState::Ready)]);
        assert!(model.apply(&server(1, ServerState::Ready)));
        assert_eq!(view(&model, CONFIGURED).colour, Colour::Green);
        model.apply(&server(1, ServerState::Restarting));
        let restarting = view(&model, CONFIGURED);
        assert_eq!(restarting.colour, Colour::Amber);
        assert_eq!(
            restarting.tooltip,
            "EXAI: 1 window, daemon connected; server-1 restarting"
        );
        model.apply(&server(2, ServerState::CrashLoop));
        let looping = view(&model, CONFIGURED);
        assert_eq!(looping.colour, Colour::Red);
        assert_eq!(
            looping.tooltip,
            "EXAI: 1 window, daemon connected; server-2 keeps crashing"
        );
        model.apply(&server(2, ServerState::Stopped));
        model.apply(&server(1, ServerState::Ready));
        assert_eq!(view(&model, CONFIGURED).colour, Colour::Green);
    }

    #[test]
    fn every_colour_has_a_real_png() {
        for colour in [Colour::Green, Colour::Amber, Colour::Red, Colour::Grey] {
            let png = colour.icon_png();
            assert_eq!(&png[1..4], b"PNG", "{colour:?}");
            // IHDR: width and height (32x32), 8-bit RGBA (colour type 6).
            assert_eq!(&png[16..24], &[0, 0, 0, 32, 0, 0, 0, 32]);
            assert_eq!((png[24], png[25]), (8, 6));
        }
    }
}
