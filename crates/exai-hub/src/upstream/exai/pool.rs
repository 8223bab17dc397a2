//! The pool manager task: the one owner of the pool's state.
//!
//! It owns the fair queue of waiting calls, the slots (one per pooled connection), the backoff,
//! the overall state and the catalog, and publishes status and catalog on `watch` channels.
//! Connection tasks own their sockets and talk to it only through [`ConnEvent`]s; callers talk to
//! it only through [`Command`]s. Nothing here is shared behind a lock.
//!
//! Reconnect policy: while no connection is up, one probe dial at a time (so a dead daemon or a
//! wrong token costs one connection attempt per backoff period, not `pool_size`); once one is up,
//! the other slots are dialled. Every failed dial, and every connection lost before it served a
//! request, pushes the next attempt out by the current backoff (with jitter), which doubles up to
//! `max_backoff`, or only up to `active_max_backoff` while editor windows are connected, so they
//! are ready again soon after the daemon returns. A rejected token waits `unauthorized_backoff`.
//! Only a connection that served a request resets the backoff: a daemon that accepts the hello
//! and hangs up at once must not make us redial in a tight loop. A call that arrives while the
//! daemon is down waits for a probe dial made at once (at most one every [`PROBE_SPACING`]),
//! and fails only if that probe fails.
//!
//! Pacing: every call and `list_tools` is handed to a connection only when the [`Pacer`] says
//! the daemon's rate limit allows it; until then it stays in the fair queue, and the status
//! counts it as rate-limited.

use super::conn::{self, CallJob, ConnEvent, Job};
use super::dial::DialFailure;
use super::pace::Pacer;
use super::queue::FairQueue;
use crate::api::{UpstreamErrorRecord, UpstreamState, UpstreamStatus};
use crate::config::ExaiConfig;
use crate::now_millis;
use crate::upstream::{ToolCatalog, UpstreamError};
use rand::Rng as _;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::{Id as TaskId, JoinError, JoinSet};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

/// The shortest time between two probe dials that windows' calls ask for while the daemon is
/// down: a burst of calls makes one probe, not a storm.
const PROBE_SPACING: Duration = Duration::from_millis(250);
/// How many errors the status keeps.
const ERROR_HISTORY: usize = 8;
/// Rate-limit refusals are logged at WARN at most this often (the rest at DEBUG).
const OVER_CAPACITY_LOG_EVERY: Duration = Duration::from_secs(10);

/// What a handle asks of the manager.
#[derive(Debug)]
pub(crate) enum Command {
    Call(CallJob),
    Reconnect,
    WindowOpened,
    WindowClosed,
    Shutdown,
}

/// How the last dial ended, since the pool last had a connection up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LastDial {
    /// None has ended yet (at start, and after losing the last connection).
    Untried,
    /// It failed (refused, timed out, closed before the hello was acknowledged).
    Failed,
    /// The daemon rejected the token.
    Rejected,
}

/// One pooled connection's place.
#[derive(Debug)]
struct Slot {
    state: SlotState,
    /// It was up once; the next time it comes up counts as a reconnect.
    ever_up: bool,
    /// The current connection served a request (only then does it reset the backoff).
    proven: bool,
}

#[derive(Debug)]
enum SlotState {
    Vacant,
    /// The connection task dials; the job sender waits here until it is up.
    Dialing {
        jobs: mpsc::UnboundedSender<Job>,
    },
    Up {
        jobs: mpsc::UnboundedSender<Job>,
        running: Option<Running>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Running {
    Call,
    ListTools,
}

/// Why the manager loop woke up.
enum Wake {
    Command(Option<Command>),
    Event(ConnEvent),
    RetryDue,
    PaceDue,
    TaskEnded(Result<(TaskId, ()), JoinError>),
}

pub(crate) struct Pool {
    config: Arc<ExaiConfig>,
    slots: Vec<Slot>,
    queue: FairQueue<CallJob>,
    list_tools_pending: bool,
    state: UpstreamState,
    /// The next dial's delay after a failure; doubles per failure up to `max_backoff`.
    backoff: Duration,
    /// No dial before this instant.
    retry_at: Option<Instant>,
    /// How the last dial ended since the pool last had a connection up.
    last_dial: LastDial,
    /// Reconnect was asked for while a dial was in flight: if it fails, retry at once.
    retry_on_failure: bool,
    /// When the last dial started (probe dials asked for by calls keep `PROBE_SPACING` apart).
    last_dial_at: Option<Instant>,
    /// Editor windows connected to the hub (they shorten the backoff).
    windows: usize,
    last_error: Option<String>,
    error_history: VecDeque<UpstreamErrorRecord>,
    /// The last failure logged at WARN, so a repeat goes to DEBUG.
    last_logged_failure: Option<String>,
    reconnects: u64,
    pacer: Arc<Pacer>,
    /// The next instant the pacer lets a held-back request go.
    pace_at: Option<Instant>,
    /// The last time the pacer held back a waiting request.
    last_held_at: Option<Instant>,
    /// Requests held back by the pacer at the last dispatch.
    rate_limited: usize,
    over_capacity: u64,
    last_over_capacity_log: Option<Instant>,
    catalog: Option<Arc<ToolCatalog>>,
    status_tx: watch::Sender<UpstreamStatus>,
    tools_tx: watch::Sender<Option<Arc<ToolCatalog>>>,
    events_tx: mpsc::UnboundedSender<ConnEvent>,
    tasks: JoinSet<()>,
    task_slots: HashMap<TaskId, usize>,
    shutdown: CancellationToken,
}

impl Pool {
    pub(crate) fn new(
        config: ExaiConfig,
        status_tx: watch::Sender<UpstreamStatus>,
        tools_tx: watch::Sender<Option<Arc<ToolCatalog>>>,
        events_tx: mpsc::UnboundedSender<ConnEvent>,
    ) -> Pool {
        let pool_size = config.pool_size.max(1);
        let backoff = config.min_backoff;
        let pacer = Arc::new(Pacer::new(
            config.ip_rate_limit,
            config.session_rate_limit,
            pool_size,
        ));
        Pool {
            config: Arc::new(config),
            slots: (0..pool_size)
                .map(|_| Slot {
                    state: SlotState::Vacant,
                    ever_up: false,
                    proven: false,
                })
                .collect(),
            queue: FairQueue::default(),
            list_tools_pending: false,
            state: UpstreamState::Connecting,
            backoff,
            retry_at: None,
            last_dial: LastDial::Untried,
            retry_on_failure: false,
            last_dial_at: None,
            windows: 0,
            last_error: None,
            error_history: VecDeque::new(),
            last_logged_failure: None,
            reconnects: 0,
            pacer,
            pace_at: None,
            last_held_at: None,
            rate_limited: 0,
            over_capacity: 0,
            last_over_capacity_log: None,
            catalog: None,
            status_tx,
            tools_tx,
            events_tx,
            tasks: JoinSet::new(),
            task_slots: HashMap::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// The status a fresh pool starts with.
    pub(crate) fn initial_status(config: &ExaiConfig) -> UpstreamStatus {
        UpstreamStatus {
            url: config.url.clone(),
            state: UpstreamState::Connecting,
            connections: 0,
            busy: 0,
            pool_size: config.pool_size.max(1),
            tools: 0,
            queued: 0,
            reconnects: 0,
            last_error: None,
            error_history: Vec::new(),
            rate_limit: limits_in_words(config),
            rate_limited: 0,
            over_capacity: 0,
        }
    }

    /// The manager loop. Ends on [`Command::Shutdown`] or when every handle is gone.
    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut events: mpsc::UnboundedReceiver<ConnEvent>,
    ) {
        tracing::debug!(url = %self.config.url, pool_size = self.slots.len(), "upstream pool starting");
        loop {
            self.fill();
            self.dispatch();
            self.update_state();
            self.publish();
            let retry_at = self.retry_at.filter(|_| self.has_vacant());
            let pace_at = self.pace_at;
            let wake = tokio::select! {
                command = commands.recv() => Wake::Command(command),
                Some(event) = events.recv() => Wake::Event(event),
                Some(ended) = self.tasks.join_next_with_id() => Wake::TaskEnded(ended),
                _ = sleep_until(retry_at.unwrap_or_else(Instant::now)), if retry_at.is_some() => Wake::RetryDue,
                _ = sleep_until(pace_at.unwrap_or_else(Instant::now)), if pace_at.is_some() => Wake::PaceDue,
            };
            match wake {
                Wake::Command(None | Some(Command::Shutdown)) => break,
                Wake::Command(Some(Command::Call(job))) => self.enqueue(job),
                Wake::Command(Some(Command::Reconnect)) => self.reconnect_now(),
                Wake::Command(Some(Command::WindowOpened)) => self.window_opened(),
                Wake::Command(Some(Command::WindowClosed)) => {
                    self.windows = self.windows.saturating_sub(1);
                }
                Wake::Event(event) => self.on_event(event),
                Wake::RetryDue => self.retry_at = None,
                Wake::PaceDue => self.pace_at = None,
                Wake::TaskEnded(ended) => self.on_task_ended(ended),
            }
        }
        self.stop().await;
    }

    fn url(&self) -> String {
        self.config.url.clone()
    }

    fn count_up(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| matches!(slot.state, SlotState::Up { .. }))
            .count()
    }

    fn has_vacant(&self) -> bool {
        self.slots
            .iter()
            .any(|slot| matches!(slot.state, SlotState::Vacant))
    }

    /// Queues a call. While the daemon is down the call waits for a probe dial made now (it
    /// fails if that fails); with a rejected token it fails at once.
    fn enqueue(&mut self, job: CallJob) {
        match self.state {
            UpstreamState::Unauthorized => {
                let _ = job
                    .reply
                    .send(Err(UpstreamError::Unauthorized { url: self.url() }));
                return;
            }
            UpstreamState::Down => self.probe_soon(),
            UpstreamState::Connecting | UpstreamState::Connected => {}
        }
        self.queue.push(job.call.session, job);
    }

    /// Someone waits for the daemon while it is down: dial now, unless a dial is under way or the
    /// last one started less than [`PROBE_SPACING`] ago.
    fn probe_soon(&mut self) {
        if self.is_dialing() {
            return;
        }
        let now = Instant::now();
        let at = self
            .last_dial_at
            .map_or(now, |last| (last + PROBE_SPACING).max(now));
        self.retry_at = Some(self.retry_at.map_or(at, |retry_at| retry_at.min(at)));
    }

    fn is_dialing(&self) -> bool {
        self.slots
            .iter()
            .any(|slot| matches!(slot.state, SlotState::Dialing { .. }))
    }

    /// The longest backoff now: short while editor windows are connected.
    fn backoff_cap(&self) -> Duration {
        if self.windows > 0 {
            self.config.active_max_backoff.min(self.config.max_backoff)
        } else {
            self.config.max_backoff
        }
    }

    /// Schedules the next dial after a failure and doubles the backoff.
    fn back_off(&mut self) -> Duration {
        let delay = jitter(self.backoff.min(self.backoff_cap()));
        self.retry_at = Some(Instant::now() + delay);
        self.backoff = (self.backoff * 2).min(self.config.max_backoff);
        delay
    }

    fn window_opened(&mut self) {
        self.windows += 1;
        if self.windows == 1 && self.last_dial != LastDial::Rejected {
            // A window now waits: a retry scheduled far out comes in to the short cap.
            let cap = Instant::now() + jitter(self.backoff_cap());
            if let Some(retry_at) = self.retry_at.as_mut() {
                *retry_at = (*retry_at).min(cap);
            }
        }
    }

    /// Records an error for the status: `last_error` and the history.
    fn set_error(&mut self, message: String) {
        self.error_history_note(message.clone());
        self.last_error = Some(message);
    }

    /// Adds an error to the history only.
    fn error_history_note(&mut self, message: String) {
        let at = now_millis();
        match self.error_history.back_mut() {
            Some(last) if last.message == message => {
                last.at = at;
                last.count += 1;
            }
            _ => {
                if self.error_history.len() == ERROR_HISTORY {
                    self.error_history.pop_front();
                }
                self.error_history.push_back(UpstreamErrorRecord {
                    at,
                    message,
                    count: 1,
                });
            }
        }
    }

    /// Whether a failure is new (logged at WARN) or a repeat (DEBUG).
    fn first_time(&mut self, message: &str) -> bool {
        if self.last_logged_failure.as_deref() == Some(message) {
            return false;
        }
        self.last_logged_failure = Some(message.to_owned());
        true
    }

    /// Fails every queued call when nothing is up and nothing is being dialled: the probe they
    /// waited for failed.
    fn fail_waiting_if_down(&mut self) {
        if self.count_up() > 0 || self.is_dialing() || self.queue.len() == 0 {
            return;
        }
        let refusal = if self.last_dial == LastDial::Rejected {
            UpstreamError::Unauthorized { url: self.url() }
        } else {
            UpstreamError::Unavailable {
                url: self.url(),
                cause: self
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "not connected".to_owned()),
            }
        };
        for job in self.queue.drain() {
            let _ = job.reply.send(Err(refusal.clone()));
        }
    }

    fn reconnect_now(&mut self) {
        tracing::info!(url = %self.config.url, "reconnect requested");
        self.backoff = self.config.min_backoff;
        self.retry_at = None;
        // A dial in flight may be about to fail and schedule a retry far out; this click should
        // still be answered by an attempt now.
        self.retry_on_failure = self
            .slots
            .iter()
            .any(|slot| matches!(slot.state, SlotState::Dialing { .. }));
        // A reconnect also refreshes the catalog, so tool changes show without a restart.
        if self.count_up() > 0 {
            self.list_tools_pending = true;
        }
    }

    /// Dials vacant slots: one probe until a connection has served a request, then all of them.
    fn fill(&mut self) {
        if self.shutdown.is_cancelled() || self.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        self.retry_at = None;
        for slot_idx in 0..self.slots.len() {
            if !matches!(self.slots[slot_idx].state, SlotState::Vacant) {
                continue;
            }
            // Until one connection has served a request, one at a time: a daemon that takes
            // the hello and hangs up costs one connection per backoff period, not the pool.
            let established = self
                .slots
                .iter()
                .any(|slot| slot.proven && matches!(slot.state, SlotState::Up { .. }));
            let trying = self.slots.iter().any(|slot| match slot.state {
                SlotState::Dialing { .. } => true,
                SlotState::Up { .. } => !slot.proven,
                SlotState::Vacant => false,
            });
            if !established && trying {
                break;
            }
            self.last_dial_at = Some(Instant::now());
            self.spawn_connection(slot_idx);
        }
    }

    fn spawn_connection(&mut self, slot_idx: usize) {
        let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
        let task = conn::run(
            slot_idx,
            Arc::clone(&self.config),
            Arc::clone(&self.pacer),
            jobs_rx,
            self.events_tx.clone(),
            self.shutdown.clone(),
        )
        .instrument(tracing::info_span!("hub::upstream", conn = slot_idx));
        let handle = self.tasks.spawn(task);
        self.task_slots.insert(handle.id(), slot_idx);
        self.slots[slot_idx].state = SlotState::Dialing { jobs: jobs_tx };
    }

    /// Hands the next jobs to idle connections: a pending `list_tools` first, then calls in fair
    /// order, each only when the pacer lets it go now. Calls whose caller went away are dropped
    /// here, unsent.
    fn dispatch(&mut self) {
        let now = Instant::now();
        self.pace_at = None;
        let mut held = false;
        for slot_idx in 0..self.slots.len() {
            let SlotState::Up {
                jobs,
                running: None,
            } = &self.slots[slot_idx].state
            else {
                continue;
            };
            if !self.list_tools_pending && self.queue.len() == 0 {
                break;
            }
            let at = self.pacer.earliest(Some(slot_idx), now);
            if at > now {
                held = true;
                self.pace_at = Some(self.pace_at.map_or(at, |pace_at| pace_at.min(at)));
                continue;
            }
            let jobs = jobs.clone();
            let (job, kind) = if self.list_tools_pending {
                self.list_tools_pending = false;
                (Job::ListTools, Running::ListTools)
            } else {
                let Some(mut call) = self.next_live_call() else {
                    break;
                };
                if self
                    .last_held_at
                    .is_some_and(|held_at| held_at >= call.queued_at)
                {
                    call.rate_limited = now - call.queued_at;
                }
                (Job::Call(call), Running::Call)
            };
            self.pacer.reserve(Some(slot_idx), now);
            match jobs.send(job) {
                Ok(()) => {
                    if let SlotState::Up { running, .. } = &mut self.slots[slot_idx].state {
                        *running = Some(kind);
                    }
                }
                // The connection is ending; its `Lost` event follows. Take the job back.
                Err(mpsc::error::SendError(job)) => {
                    self.take_back(job);
                    if let SlotState::Up { running, .. } = &mut self.slots[slot_idx].state {
                        *running = Some(kind);
                    }
                }
            }
        }
        if held {
            self.last_held_at = Some(now);
            self.rate_limited = self.queue.len() + usize::from(self.list_tools_pending);
        } else {
            self.rate_limited = 0;
        }
    }

    fn next_live_call(&mut self) -> Option<CallJob> {
        loop {
            let call = self.queue.pop()?;
            if call.reply.is_closed() {
                tracing::debug!(session = %call.call.session, tool = %call.call.name, "cancelled call dropped from the queue");
                continue;
            }
            return Some(call);
        }
    }

    /// A job that was handed to a connection but never started goes back to the front.
    fn take_back(&mut self, job: Job) {
        match job {
            Job::Call(call) => self.queue.push_front(call.call.session, call),
            Job::ListTools => self.list_tools_pending = true,
        }
    }

    fn on_event(&mut self, event: ConnEvent) {
        match event {
            ConnEvent::Up { slot } => {
                let was_up = self.count_up() > 0;
                let slot_state = &mut self.slots[slot];
                let SlotState::Dialing { jobs } =
                    std::mem::replace(&mut slot_state.state, SlotState::Vacant)
                else {
                    tracing::error!(
                        conn = slot,
                        "connection came up in a slot that was not dialing"
                    );
                    return;
                };
                slot_state.state = SlotState::Up {
                    jobs,
                    running: None,
                };
                if slot_state.ever_up {
                    self.reconnects += 1;
                }
                slot_state.ever_up = true;
                slot_state.proven = false;
                self.last_logged_failure = None;
                self.last_dial = LastDial::Untried;
                self.retry_on_failure = false;
                if !was_up {
                    // First connection, or the pool is back: the tools may have changed.
                    self.list_tools_pending = true;
                }
                tracing::debug!(conn = slot, "pooled connection up");
            }
            ConnEvent::DialFailed { slot, failure } => {
                self.slots[slot].state = SlotState::Vacant;
                let now = Instant::now();
                match failure {
                    DialFailure::Unauthorized(message) => {
                        if self.first_time(&message) {
                            tracing::warn!(error = %message, retry_in_ms = self.config.unauthorized_backoff.as_millis() as u64, "the daemon at {} rejected the token: set EXAI_WS_TOKEN or `token` in the hub config", self.config.url);
                        }
                        self.last_dial = LastDial::Rejected;
                        self.retry_at = Some(now + self.config.unauthorized_backoff);
                        self.set_error(message);
                    }
                    DialFailure::Other(message) => {
                        let delay = self.back_off();
                        if self.first_time(&message) {
                            tracing::warn!(error = %message, retry_in_ms = delay.as_millis() as u64, "cannot connect to the daemon at {}", self.config.url);
                        } else {
                            tracing::debug!(conn = slot, url = %self.config.url, error = %message, retry_in_ms = delay.as_millis() as u64, "cannot connect to the daemon (again)");
                        }
                        self.last_dial = LastDial::Failed;
                        let up = self.count_up();
                        self.set_error(if up > 0 {
                            // Typically the daemon's per-IP limit (1008): the pool works with
                            // fewer connections, and the status says so.
                            format!("{message}; keeping the {up} open connection(s)")
                        } else {
                            message
                        });
                    }
                }
                if std::mem::take(&mut self.retry_on_failure) {
                    self.retry_at = None;
                }
                self.fail_waiting_if_down();
            }
            ConnEvent::Idle { slot, tools } => {
                let slot_state = &mut self.slots[slot];
                if let SlotState::Up { running, .. } = &mut slot_state.state {
                    *running = None;
                }
                if !slot_state.proven {
                    // It served a request: the daemon really works, so the backoff starts over.
                    slot_state.proven = true;
                    self.backoff = self.config.min_backoff;
                }
                if let Some(tools) = tools {
                    self.set_catalog(tools);
                }
            }
            ConnEvent::OverCapacity {
                slot,
                message,
                retry_in,
            } => {
                self.over_capacity += 1;
                let now = Instant::now();
                let log_now = self
                    .last_over_capacity_log
                    .is_none_or(|last| now.duration_since(last) >= OVER_CAPACITY_LOG_EVERY);
                if log_now {
                    self.last_over_capacity_log = Some(now);
                    tracing::warn!(error = %message, retry_in_ms = retry_in.as_millis() as u64, limit = %conn::describe_limits(&self.config), "the daemon's rate limit refused a request although the hub paces to it; holding every connection back and retrying (another client may share the daemon's per-IP budget)");
                } else {
                    tracing::debug!(conn = slot, error = %message, retry_in_ms = retry_in.as_millis() as u64, "over capacity; retrying");
                }
                self.error_history_note(format!("the daemon's rate limit: {message}"));
            }
            ConnEvent::Lost {
                slot,
                cause,
                deliberate,
                unstarted,
            } => {
                let old = std::mem::replace(&mut self.slots[slot].state, SlotState::Vacant);
                if let SlotState::Up {
                    running: Some(Running::ListTools),
                    ..
                } = old
                {
                    self.list_tools_pending = true;
                }
                if let Some(job) = unstarted {
                    self.take_back(job);
                }
                let proven = std::mem::replace(&mut self.slots[slot].proven, false);
                if deliberate {
                    tracing::info!(conn = slot, reason = %cause, "replacing a pooled connection");
                } else {
                    if !proven {
                        // It never served a request: redial only after the backoff, or a daemon
                        // that accepts the hello and hangs up would be redialled in a tight loop.
                        self.back_off();
                    }
                    if self.first_time(&cause) {
                        tracing::warn!(error = %cause, "a connection to the daemon was lost");
                    } else {
                        tracing::debug!(conn = slot, error = %cause, "pooled connection lost (again)");
                    }
                    self.set_error(cause);
                }
            }
        }
    }

    /// A connection task ended. Normally it said so with an event first; if it panicked, its
    /// slot is freed here (its caller, if any, sees the reply channel close).
    fn on_task_ended(&mut self, ended: Result<(TaskId, ()), JoinError>) {
        let (task_id, panicked) = match &ended {
            Ok((task_id, ())) => (*task_id, false),
            Err(err) => (err.id(), err.is_panic()),
        };
        let slot = self.task_slots.remove(&task_id);
        if let (true, Some(slot)) = (panicked, slot) {
            tracing::error!(conn = slot, "connection task panicked");
            let old = std::mem::replace(&mut self.slots[slot].state, SlotState::Vacant);
            if let SlotState::Up {
                running: Some(Running::ListTools),
                ..
            } = old
            {
                self.list_tools_pending = true;
            }
            self.set_error("a pooled connection failed unexpectedly".to_owned());
        }
    }

    fn set_catalog(&mut self, tools: Vec<serde_json::Value>) {
        let generation = match &self.catalog {
            Some(catalog) if catalog.tools == tools => return,
            Some(catalog) => catalog.generation + 1,
            None => 1,
        };
        tracing::info!(
            "the daemon offers {} tools (catalog version {generation})",
            tools.len()
        );
        let catalog = Arc::new(ToolCatalog { generation, tools });
        self.catalog = Some(Arc::clone(&catalog));
        self.tools_tx.send_replace(Some(catalog));
    }

    /// Derives the overall state; entering Down or Unauthorized fails the queued calls.
    fn update_state(&mut self) {
        let up = self.count_up();
        if up == 0 && self.state == UpstreamState::Connected {
            // The pool just lost its last connection: it is reconnecting, not yet failing.
            self.last_dial = LastDial::Untried;
        }
        let state = match (up, self.last_dial) {
            (1.., _) => UpstreamState::Connected,
            (0, LastDial::Rejected) => UpstreamState::Unauthorized,
            (0, LastDial::Failed) => UpstreamState::Down,
            (0, LastDial::Untried) => UpstreamState::Connecting,
        };
        if state == self.state {
            return;
        }
        match state {
            UpstreamState::Connected | UpstreamState::Connecting => {
                if state == UpstreamState::Connected {
                    tracing::info!(
                        "connected to the daemon at {} ({up} of {} connections up)",
                        self.config.url,
                        self.slots.len()
                    );
                } else {
                    tracing::info!("connecting to the daemon at {}", self.config.url);
                }
                if state == UpstreamState::Connected {
                    // Back: the old error stays in the history only.
                    self.last_error = None;
                }
            }
            UpstreamState::Down | UpstreamState::Unauthorized => {
                let what = if state == UpstreamState::Down {
                    "is down"
                } else {
                    "refuses the token"
                };
                tracing::warn!(error = ?self.last_error, "the daemon at {} {what}", self.config.url);
            }
        }
        self.state = state;
        let refusal = match state {
            UpstreamState::Down => UpstreamError::Unavailable {
                url: self.url(),
                cause: self
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "not connected".to_owned()),
            },
            UpstreamState::Unauthorized => UpstreamError::Unauthorized { url: self.url() },
            UpstreamState::Connected | UpstreamState::Connecting => return,
        };
        for job in self.queue.drain() {
            let _ = job.reply.send(Err(refusal.clone()));
        }
    }

    fn publish(&self) {
        let status = UpstreamStatus {
            url: self.url(),
            state: self.state,
            connections: self.count_up(),
            busy: self
                .slots
                .iter()
                .filter(|slot| {
                    matches!(
                        slot.state,
                        SlotState::Up {
                            running: Some(_),
                            ..
                        }
                    )
                })
                .count(),
            pool_size: self.slots.len(),
            tools: self
                .catalog
                .as_ref()
                .map_or(0, |catalog| catalog.tools.len()),
            queued: self.queue.len(),
            reconnects: self.reconnects,
            last_error: self.last_error.clone(),
            error_history: self.error_history.iter().cloned().collect(),
            rate_limit: limits_in_words(&self.config),
            rate_limited: self.rate_limited,
            over_capacity: self.over_capacity,
        };
        self.status_tx.send_if_modified(|current| {
            if *current == status {
                false
            } else {
                *current = status;
                true
            }
        });
    }

    /// Fails what waits, closes every connection and waits for their tasks.
    async fn stop(mut self) {
        tracing::info!(url = %self.config.url, "upstream pool stopping");
        self.shutdown.cancel();
        let refusal = UpstreamError::Unavailable {
            url: self.url(),
            cause: "the hub is shutting down".to_owned(),
        };
        for job in self.queue.drain() {
            let _ = job.reply.send(Err(refusal.clone()));
        }
        for slot in &mut self.slots {
            slot.state = SlotState::Vacant;
        }
        while self.tasks.join_next().await.is_some() {}
        self.state = UpstreamState::Down;
        self.set_error("the upstream was shut down".to_owned());
        self.publish();
    }
}

/// The pacing in words for the status, `None` when off.
fn limits_in_words(config: &ExaiConfig) -> Option<String> {
    (config.ip_rate_limit.is_some() || config.session_rate_limit.is_some())
        .then(|| conn::describe_limits(config))
}

/// `base` scaled by a random factor in [0.5, 1.0], so a pool of hubs does not retry in lockstep.
fn jitter(base: Duration) -> Duration {
    base.mul_f64(rand::rng().random_range(0.5..=1.0))
}
