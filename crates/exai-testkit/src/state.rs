//! State shared by every connection of one fake daemon.
//!
//! This module owns the stats watch channel, the global in-flight table keyed by request id,
//! the result cache, the gates used by the `gate` tool, the rate-limit buckets and the task
//! sets. It does no I/O; the connection logic lives in `session` and the handle in `daemon`.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::{DaemonConfig, DaemonStats, RateLimit, ToolSpec};

/// How long the daemon caches a result for identical tool name and arguments.
const CACHE_TTL: Duration = Duration::from_secs(300);

/// The slot of one running call in the in-flight table. It holds `Some(text)` once the call
/// succeeded; a failed call leaves it `None` forever, which is how ids get stuck.
pub(crate) type InflightSlot = Arc<watch::Sender<Option<String>>>;

/// What to do with a call, decided atomically against the in-flight table.
pub(crate) enum CallStart {
    /// The id is already in flight (or stuck): wait on that call's slot.
    Inflight(watch::Receiver<Option<String>>),
    /// The tool does not exist.
    NotFound,
    /// The cache has a result for this name and arguments.
    Cached(String),
    /// Run the tool: its slot is registered, and [`Shared::finish_call`] resolves it.
    Run,
}

/// The state of one `gate` key.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GateState {
    pub open: bool,
    pub started: u64,
}

/// One session's token bucket.
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

/// Everything shared by the accept loop, the connections and the tool tasks.
pub(crate) struct Shared {
    pub config: DaemonConfig,
    pub started_at: Instant,
    pub tool_permits: Arc<Semaphore>,
    tools: Mutex<Vec<ToolSpec>>,
    token: Mutex<Option<String>>,
    stats: watch::Sender<DaemonStats>,
    seen_call_ids: Mutex<HashSet<String>>,
    inflight: Mutex<HashMap<String, InflightSlot>>,
    cache: Mutex<HashMap<String, (Instant, String)>>,
    gates: Mutex<HashMap<String, Arc<watch::Sender<GateState>>>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    per_ip: Mutex<HashMap<std::net::IpAddr, usize>>,
    /// `None` once the handle is dropped: later spawns are refused, so nothing outlives it.
    conn_tasks: Mutex<Option<JoinSet<()>>>,
    tool_tasks: Mutex<Option<JoinSet<()>>>,
    session_counter: AtomicU64,
}

/// Locks a std mutex, ignoring poisoning: a panicking test task must not wedge the daemon.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(config: DaemonConfig) -> Shared {
        Shared {
            started_at: Instant::now(),
            tool_permits: Arc::new(Semaphore::new(config.max_concurrent_tools.max(1))),
            tools: Mutex::new(config.tools.clone()),
            token: Mutex::new(config.token.clone()),
            stats: watch::Sender::new(DaemonStats::default()),
            seen_call_ids: Mutex::default(),
            inflight: Mutex::default(),
            cache: Mutex::default(),
            gates: Mutex::default(),
            buckets: Mutex::default(),
            per_ip: Mutex::default(),
            conn_tasks: Mutex::new(Some(JoinSet::new())),
            tool_tasks: Mutex::new(Some(JoinSet::new())),
            session_counter: AtomicU64::new(0),
            config,
        }
    }

    // ----- Stats -----

    /// Applies a change to the stats and wakes every `wait_until`.
    pub fn update(&self, change: impl FnOnce(&mut DaemonStats)) {
        self.stats.send_modify(change);
    }

    pub fn stats(&self) -> DaemonStats {
        self.stats.borrow().clone()
    }

    pub fn subscribe_stats(&self) -> watch::Receiver<DaemonStats> {
        self.stats.subscribe()
    }

    /// Records a received request id. Only a call reusing the id of an earlier call counts as
    /// reused: that is what collides in the daemon's global table (a `cancel` naming its
    /// call's id is legitimate).
    pub fn record_request_id(&self, request_id: &str, is_call: bool) {
        let reused = is_call && !lock(&self.seen_call_ids).insert(request_id.to_owned());
        self.update(|stats| {
            stats.request_ids.push(request_id.to_owned());
            if reused {
                stats.reused_request_ids += 1;
            }
        });
    }

    pub fn record_close(&self, code: u16) {
        self.update(|stats| stats.closes.push(code));
    }

    // ----- Tools and token -----

    pub fn tools(&self) -> Vec<ToolSpec> {
        lock(&self.tools).clone()
    }

    pub fn set_tools(&self, tools: Vec<ToolSpec>) {
        *lock(&self.tools) = tools;
    }

    pub fn set_token(&self, token: Option<String>) {
        *lock(&self.token) = token;
    }

    /// The token hellos must carry, or `None` when auth is off (unset or under 16 chars).
    pub fn required_token(&self) -> Option<String> {
        lock(&self.token).clone().filter(|token| token.len() >= 16)
    }

    /// A fresh random session id for a hello without one.
    pub fn random_session_id(&self) -> String {
        let counter = self.session_counter.fetch_add(1, Ordering::Relaxed);
        let high = RandomState::new().hash_one(counter);
        let low = RandomState::new().hash_one((counter, high));
        format!("{high:016x}{low:016x}")
    }

    // ----- Connection admission -----

    /// Admits a connection from `ip` if the limits allow, returning the close code and reason
    /// otherwise. An admitted connection must later call [`Shared::release`].
    pub fn admit(&self, ip: std::net::IpAddr) -> Result<(), (u16, &'static str)> {
        let mut per_ip = lock(&self.per_ip);
        let total: usize = per_ip.values().sum();
        let from_ip = per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= self.config.max_connections_per_ip {
            return Err((1008, "Too many connections from your IP"));
        }
        if total >= self.config.max_connections {
            return Err((1013, "Too many connections"));
        }
        per_ip.insert(ip, from_ip + 1);
        drop(per_ip);
        self.update(|stats| {
            stats.connections_accepted += 1;
            stats.live_connections += 1;
        });
        Ok(())
    }

    /// Forgets an admitted connection; like the real daemon, closing any connection of a
    /// session forgets that session (its rate-limit bucket included).
    pub fn release(&self, ip: std::net::IpAddr, session_id: Option<&str>) {
        {
            let mut per_ip = lock(&self.per_ip);
            if let Some(count) = per_ip.get_mut(&ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
        if let Some(session_id) = session_id {
            lock(&self.buckets).remove(session_id);
        }
        self.update(|stats| {
            stats.live_connections = stats.live_connections.saturating_sub(1);
            if session_id.is_some() {
                stats.authenticated = stats.authenticated.saturating_sub(1);
            }
        });
    }

    // ----- Rate limit -----

    /// Takes one frame from the session's bucket, or returns the wait in seconds until one
    /// frame is available.
    pub fn take_rate_token(&self, session_id: &str, limit: RateLimit) -> Result<(), f64> {
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(session_id.to_owned()).or_insert(Bucket {
            tokens: f64::from(limit.burst),
            refilled_at: now,
        });
        let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_sec).min(f64::from(limit.burst));
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else if limit.per_sec > 0.0 {
            Err((1.0 - bucket.tokens) / limit.per_sec)
        } else {
            Err(f64::INFINITY)
        }
    }

    // ----- In-flight table and cache -----

    /// Decides, atomically with respect to other connections, how a call is answered.
    pub fn begin_call(&self, request_id: &str, name: &str, arguments: &Value) -> CallStart {
        let mut inflight = lock(&self.inflight);
        if let Some(slot) = inflight.get(request_id) {
            return CallStart::Inflight(slot.subscribe());
        }
        if !lock(&self.tools).iter().any(|tool| tool.name == name) {
            return CallStart::NotFound;
        }
        if self.config.cache {
            let mut cache = lock(&self.cache);
            cache.retain(|_, (stored_at, _)| stored_at.elapsed() < CACHE_TTL);
            if let Some((_, text)) = cache.get(&cache_key(name, arguments)) {
                return CallStart::Cached(text.clone());
            }
        }
        inflight.insert(request_id.to_owned(), Arc::new(watch::Sender::new(None)));
        CallStart::Run
    }

    /// Completes a successful call: caches it, frees its id and wakes in-flight waiters.
    pub fn finish_call(&self, request_id: &str, name: &str, arguments: &Value, text: &str) {
        if self.config.cache {
            let key = cache_key(name, arguments);
            lock(&self.cache).insert(key, (Instant::now(), text.to_owned()));
        }
        if let Some(slot) = lock(&self.inflight).remove(request_id) {
            slot.send_replace(Some(text.to_owned()));
        }
    }

    // ----- Gates -----

    pub fn gate(&self, key: &str) -> Arc<watch::Sender<GateState>> {
        lock(&self.gates)
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(watch::Sender::new(GateState::default())))
            .clone()
    }

    // ----- Tasks -----

    /// Spawns a connection task; [`Shared::abort_connections`] ends it abruptly.
    pub fn spawn_connection(&self, task: impl Future<Output = ()> + Send + 'static) {
        spawn_into(&self.conn_tasks, task);
    }

    /// Spawns a tool run. Tool runs outlive their connection, as in the real daemon.
    pub fn spawn_tool(&self, task: impl Future<Output = ()> + Send + 'static) {
        spawn_into(&self.tool_tasks, task);
    }

    /// Aborts every connection task and waits until their sockets are dropped.
    pub async fn abort_connections(&self) {
        let taken = lock(&self.conn_tasks).as_mut().map(std::mem::take);
        if let Some(mut tasks) = taken {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Aborts everything for good; called when the handle is dropped, which also breaks the
    /// `Arc` cycle between this state and the tasks holding it.
    pub fn shutdown(&self) {
        drop(lock(&self.conn_tasks).take());
        drop(lock(&self.tool_tasks).take());
    }
}

fn spawn_into(tasks: &Mutex<Option<JoinSet<()>>>, task: impl Future<Output = ()> + Send + 'static) {
    let mut tasks = lock(tasks);
    // After shutdown the task is dropped unstarted, closing whatever socket it owns.
    if let Some(tasks) = tasks.as_mut() {
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }
}

/// The cache key: the tool name plus its arguments as canonical JSON (sorted keys).
fn cache_key(name: &str, arguments: &Value) -> String {
    let mut key = String::from(name);
    key.push('\n');
    write_canonical(arguments, &mut key);
    key
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|left, right| left.0.cmp(right.0));
            out.push('{');
            for (idx, (key, item)) in entries.into_iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A wall-clock time string like the daemon's (`2026-11-22 02:31:04 UTC`), computed without
/// a time-zone database. Clients must not parse it anyway.
pub(crate) fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil-from-days, after Howard Hinnant's public-domain algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
