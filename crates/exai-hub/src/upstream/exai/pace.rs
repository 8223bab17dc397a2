//! Pacing: the daemon's rate limit, kept on our side so that windows never run into it.
//!
//! The daemon limits frames per client IP (everything from 127.0.0.1 together: a burst of 100,
//! then 10 per second) and per hello session (a burst of 50, then 5 per second), and answers a
//! frame over either limit with `OVER_CAPACITY`. The hub is the daemon's one client on this
//! machine, so it can stay under both: every frame it sends (hello, call, `list_tools`, `ping`)
//! first takes a reservation here, and goes out no earlier than the reservation says.
//!
//! Each limit is a GCRA (the token bucket written as one "theoretical arrival time"), so a
//! reservation is an instant in the future rather than a yes or no, and frames keep their order.
//! We pace at 90% of the configured numbers: the daemon measures arrival times, we measure send
//! times, and a margin absorbs the difference. When the daemon still refuses (another client
//! shares the IP's budget, or the daemon was configured lower), [`Pacer::defer`] holds every
//! connection back for the stated time, so the retries of four connections do not storm.

use crate::config::RateLimit;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The share of the configured rate and burst we use.
const MARGIN: f64 = 0.9;

/// One limit as a GCRA: the next frame's theoretical arrival time `tat`, the spacing between
/// frames, and how far ahead of `tat` a frame may go (the burst).
#[derive(Debug, Clone)]
struct Gcra {
    interval: Duration,
    tolerance: Duration,
    tat: Option<Instant>,
}

impl Gcra {
    /// `None` when the limit is off (`per_sec` 0 or no burst).
    fn new(limit: Option<RateLimit>) -> Option<Gcra> {
        let limit = limit?;
        let per_sec = limit.per_sec * MARGIN;
        let burst = (f64::from(limit.burst) * MARGIN).floor().max(1.0);
        if !(per_sec > 0.0 && per_sec.is_finite()) {
            return None;
        }
        let interval = Duration::from_secs_f64(1.0 / per_sec);
        Some(Gcra {
            interval,
            tolerance: interval.mul_f64(burst - 1.0),
            tat: None,
        })
    }

    /// The earliest instant a frame may go, without taking it.
    fn earliest(&self, now: Instant) -> Instant {
        match self.tat {
            None => now,
            Some(tat) => tat
                .checked_sub(self.tolerance)
                .map_or(now, |at| at.max(now)),
        }
    }

    /// Takes the frame that goes at `at`.
    fn take(&mut self, at: Instant) {
        let base = self.tat.map_or(at, |tat| tat.max(at));
        self.tat = Some(base + self.interval);
    }

    /// Nothing goes before `until`; after it, frames go one interval apart (no new burst).
    fn defer(&mut self, until: Instant) {
        let tat = until + self.tolerance;
        self.tat = Some(self.tat.map_or(tat, |current| current.max(tat)));
    }
}

#[derive(Debug)]
struct State {
    /// Everything the hub sends to the daemon (the daemon's per-IP limit).
    all: Option<Gcra>,
    /// Per pooled connection (each has its own hello session id, so its own limit there).
    per_conn: Vec<Option<Gcra>>,
}

/// The hub's side of the daemon's rate limit, shared by the pool manager and its connections.
#[derive(Debug)]
pub(crate) struct Pacer {
    state: Mutex<State>,
    session_limit: Option<RateLimit>,
}

impl Pacer {
    pub(crate) fn new(ip: Option<RateLimit>, session: Option<RateLimit>, slots: usize) -> Pacer {
        Pacer {
            state: Mutex::new(State {
                all: Gcra::new(ip),
                per_conn: (0..slots).map(|_| Gcra::new(session)).collect(),
            }),
            session_limit: session,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent whatever a panicking holder did (plain numbers).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// When a frame on connection `slot` (`None`: a hello, which counts toward the IP only) could
    /// go, without reserving it.
    pub(crate) fn earliest(&self, slot: Option<usize>, now: Instant) -> Instant {
        let state = self.lock();
        earliest(&state, slot, now)
    }

    /// Reserves a frame on `slot` and returns when it may go (`now` or later).
    pub(crate) fn reserve(&self, slot: Option<usize>, now: Instant) -> Instant {
        let mut state = self.lock();
        let at = earliest(&state, slot, now);
        if let Some(all) = state.all.as_mut() {
            all.take(at);
        }
        if let Some(conn) = slot.and_then(|slot| state.per_conn.get_mut(slot)?.as_mut()) {
            conn.take(at);
        }
        at
    }

    /// Holds every frame back until `until` (the daemon said it is over capacity).
    pub(crate) fn defer(&self, until: Instant) {
        if let Some(all) = self.lock().all.as_mut() {
            all.defer(until);
        }
    }

    /// A new connection in `slot` has a new session id, so a fresh per-session budget.
    pub(crate) fn new_connection(&self, slot: usize) {
        let fresh = Gcra::new(self.session_limit);
        if let Some(conn) = self.lock().per_conn.get_mut(slot) {
            *conn = fresh;
        }
    }
}

fn earliest(state: &State, slot: Option<usize>, now: Instant) -> Instant {
    let all = state.all.as_ref().map_or(now, |all| all.earliest(now));
    let conn = slot
        .and_then(|slot| state.per_conn.get(slot)?.as_ref())
        .map_or(now, |conn| conn.earliest(now));
    all.max(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_sec: f64, burst: u32) -> Option<RateLimit> {
        Some(RateLimit { per_sec, burst })
    }

    /// Replays reservations against a token bucket with the daemon's real numbers, as the daemon
    /// would count them on arrival, and returns how many it would refuse.
    fn refusals(send_times: &[Duration], per_sec: f64, burst: u32) -> usize {
        let mut tokens = f64::from(burst);
        let mut last = Duration::ZERO;
        let mut refused = 0;
        for &at in send_times {
            tokens = (tokens + (at - last).as_secs_f64() * per_sec).min(f64::from(burst));
            last = at;
            if tokens >= 1.0 {
                tokens -= 1.0;
            } else {
                refused += 1;
            }
        }
        refused
    }

    #[test]
    fn a_burst_goes_at_once_then_frames_are_spaced() {
        let start = Instant::now();
        let pacer = Pacer::new(limit(10.0, 100), None, 4);
        let times: Vec<Duration> = (0..400)
            .map(|n| pacer.reserve(Some(n % 4), start) - start)
            .collect();
        // 90 % of the burst goes at once, the rest at 90 % of the rate.
        assert_eq!(times.iter().filter(|at| at.is_zero()).count(), 90);
        assert!(
            times.windows(2).all(|pair| pair[0] <= pair[1]),
            "order kept"
        );
        let last = times[399].as_secs_f64();
        assert!((34.0..35.0).contains(&last), "310 frames at 9/s: {last}");
        assert_eq!(refusals(&times, 10.0, 100), 0);
    }

    #[test]
    fn per_connection_budgets_are_separate_and_renewed() {
        let start = Instant::now();
        let pacer = Pacer::new(None, limit(5.0, 50), 2);
        let slot0: Vec<Duration> = (0..100)
            .map(|_| pacer.reserve(Some(0), start) - start)
            .collect();
        assert_eq!(refusals(&slot0, 5.0, 50), 0);
        assert!(slot0[99] > Duration::from_secs(10));
        // The other connection is untouched; a hello (no slot) counts toward neither.
        assert_eq!(pacer.earliest(Some(1), start), start);
        assert_eq!(pacer.earliest(None, start), start);
        pacer.new_connection(0);
        assert_eq!(pacer.earliest(Some(0), start), start);
    }

    #[test]
    fn defer_holds_everything_back_without_a_new_burst() {
        let start = Instant::now();
        let pacer = Pacer::new(limit(10.0, 100), None, 1);
        let until = start + Duration::from_secs(2);
        pacer.defer(until);
        assert_eq!(pacer.reserve(Some(0), start), until);
        let next = pacer.reserve(Some(0), start);
        assert!(next > until, "one interval after, not a burst");
    }

    #[test]
    fn off_means_never_wait() {
        let start = Instant::now();
        let pacer = Pacer::new(limit(0.0, 100), limit(0.0, 0), 1);
        for _ in 0..1000 {
            assert_eq!(pacer.reserve(Some(0), start), start);
        }
    }
}
