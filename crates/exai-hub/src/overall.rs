//! The one rule for the whole system's colour at a glance: the tray icon and the dashboard's
//! status pill both follow it.
//!
//! In order: red when the daemon is down or rejected the token, a window was lost and nobody
//! has looked at it yet, or a wrapped server is in crash-loop; grey when no editor window is
//! connected; amber while a wrapped server restarts; green when the daemon is connected and every
//! window is ready; amber otherwise (connecting, a degraded window, or no daemon configured yet,
//! which is news to set up, not an outage).
//!
//! The cases live in `overall_cases.json`, which this module's test and the dashboard's
//! (`ui/src/state/overall.test.ts`, whose `overallTone` is the TypeScript twin) both check.
//! Which lost windows count as looked at is the caller's: the tray remembers what the user opened,
//! the dashboard shows every lost window until it is dismissed.

use crate::api::{ServerState, ServerStatus, SessionInfo, SessionState, UpstreamState};
use exai_proto::SessionId;

/// The overall colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// The daemon is connected and every window is ready.
    Green,
    /// Connecting, degraded, or no daemon configured yet.
    Amber,
    /// The daemon is down or rejected the token, or a lost window nobody has looked at.
    Red,
    /// No editor window is connected.
    Grey,
}

impl Tone {
    /// The name the dashboard uses (`data-tone`) and the shared cases spell.
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Green => "green",
            Tone::Amber => "amber",
            Tone::Red => "red",
            Tone::Grey => "grey",
        }
    }
}

/// The daemon as the overall state sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// No upstream status yet.
    Starting,
    /// Trying to connect.
    Connecting,
    /// Connected.
    Connected,
    /// Unreachable, and a URL was configured.
    Down,
    /// Unreachable at the default URL, and no URL was ever configured.
    NotConfigured,
    /// The daemon rejected the token.
    Unauthorized,
}

impl Daemon {
    /// From the upstream's state (`None`: not known yet) and whether a URL was configured
    /// ([`crate::api::HostInfo::daemon_configured`]).
    pub fn of(state: Option<UpstreamState>, configured: bool) -> Daemon {
        match state {
            None => Daemon::Starting,
            Some(UpstreamState::Connecting) => Daemon::Connecting,
            Some(UpstreamState::Connected) => Daemon::Connected,
            Some(UpstreamState::Down) if configured => Daemon::Down,
            Some(UpstreamState::Down) => Daemon::NotConfigured,
            Some(UpstreamState::Unauthorized) => Daemon::Unauthorized,
        }
    }
}

/// The editor windows, counted as the rule needs them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Windows {
    /// Connected and ready.
    pub ready: usize,
    /// Connected, but the daemon is not reachable for them.
    pub degraded: usize,
    /// Lost, and nobody has looked at them yet.
    pub unseen_lost: usize,
}

impl Windows {
    /// Counts `sessions`; a lost one for which `seen` says yes is left out.
    pub fn count(sessions: &[SessionInfo], seen: impl Fn(SessionId) -> bool) -> Windows {
        let mut windows = Windows::default();
        for session in sessions {
            match session.state {
                SessionState::Ready => windows.ready += 1,
                SessionState::Degraded => windows.degraded += 1,
                SessionState::Lost if !seen(session.id) => windows.unseen_lost += 1,
                SessionState::Lost | SessionState::Closed => {}
            }
        }
        windows
    }

    /// Connected windows: ready or degraded.
    pub fn live(self) -> usize {
        self.ready + self.degraded
    }
}

/// The wrapped servers' instances, counted as the rule needs them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Servers {
    /// Failed and waiting to be started again (or started again and not ready yet).
    pub restarting: usize,
    /// Failed too often in a row: not restarted until a window asks again or the operator
    /// restarts it.
    pub crash_loop: usize,
}

impl Servers {
    /// Counts `servers` by state.
    pub fn count(servers: &[ServerStatus]) -> Servers {
        let mut counted = Servers::default();
        for server in servers {
            match server.state {
                ServerState::Restarting => counted.restarting += 1,
                ServerState::CrashLoop => counted.crash_loop += 1,
                ServerState::Starting | ServerState::Ready | ServerState::Stopped => {}
            }
        }
        counted
    }
}

/// The rule (see the module doc).
pub fn tone(daemon: Daemon, windows: Windows, servers: Servers) -> Tone {
    match daemon {
        Daemon::Down | Daemon::Unauthorized => Tone::Red,
        _ if windows.unseen_lost > 0 || servers.crash_loop > 0 => Tone::Red,
        _ if windows.live() == 0 => Tone::Grey,
        _ if servers.restarting > 0 => Tone::Amber,
        Daemon::Connected if windows.degraded == 0 => Tone::Green,
        _ => Tone::Amber,
    }
}

/// The first wrapped server, by the rule's order, that colours the whole: one in crash-loop,
/// else one restarting; for the words beside the colour (the tray's tooltip).
pub fn troubled_server(servers: &[ServerStatus]) -> Option<&ServerStatus> {
    servers
        .iter()
        .find(|server| server.state == ServerState::CrashLoop)
        .or_else(|| {
            servers
                .iter()
                .find(|server| server.state == ServerState::Restarting)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row of `overall_cases.json`.
    #[derive(serde::Deserialize)]
    struct Case {
        case: String,
        /// `null`: no upstream status yet.
        daemon: Option<UpstreamState>,
        configured: bool,
        ready: usize,
        degraded: usize,
        unseen_lost: usize,
        /// Wrapped servers restarting (absent: none).
        #[serde(default)]
        restarting: usize,
        /// Wrapped servers in crash-loop (absent: none).
        #[serde(default)]
        crash_loop: usize,
        tone: String,
    }

    #[test]
    fn every_shared_case_holds() {
        let cases: Vec<Case> = serde_json::from_str(include_str!("overall_cases.json")).unwrap();
        assert!(cases.len() >= 10);
        for case in cases {
            let windows = Windows {
                ready: case.ready,
                degraded: case.degraded,
                unseen_lost: case.unseen_lost,
            };
            let servers = Servers {
                restarting: case.restarting,
                crash_loop: case.crash_loop,
            };
            let tone = tone(Daemon::of(case.daemon, case.configured), windows, servers);
            assert_eq!(tone.as_str(), case.tone, "{}", case.case);
        }
    }

    #[test]
    fn a_lost_window_counts_until_seen_and_closed_ones_never() {
        let session = |id: u64, state: SessionState| SessionInfo {
            id: SessionId(id),
            name: None,
            client: None,
            protocol_version: None,
            pid: 1,
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
        };
        let sessions = [
            session(1, SessionState::Ready),
            session(2, SessionState::Degraded),
            session(3, SessionState::Lost),
            session(4, SessionState::Lost),
            session(5, SessionState::Closed),
        ];
        let windows = Windows::count(&sessions, |id| id == SessionId(3));
        assert_eq!(
            windows,
            Windows {
                ready: 1,
                degraded: 1,
                unseen_lost: 1
            }
        );
        assert_eq!(Windows::count(&sessions, |_| true).unseen_lost, 0);
    }
}
