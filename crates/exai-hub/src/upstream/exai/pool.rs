//! The pool manager task: the one owner of the pool's state.
//!
//! It owns the fair queue of waiting calls, the slots (one per pooled connection), the backoff,
//! the overall state and the catalog, and publishes status and catalog on `watch` channels.
//! Connection tasks own their sockets and talk to it only through [`ConnEvent`]s; callers talk to
//! it only through [`Command`]s. Nothing here is shared behind a lock.
//!
//! Reconnect policy: while no connection is up, one probe dial at a time (so a dead daemon or a
//! wrong token costs one connection attempt per backoff period, not `pool_size`); once one is up,
//! the other slots are dialled. Every failed dial pushes the next attempt out by the current backoff
//! (with jitter), which doubles up to `max_backoff`; a rejected token waits `unauthorized_backoff`.
//! A connection that comes up resets the backoff.

use super::conn::{self, CallJob, ConnEvent, Job};
use super::dial::DialFailure;
use super::queue::FairQueue;
use crate::api::{UpstreamState, UpstreamStatus};
use crate::config::ExaiConfig;
use crate::upstream::{ToolCatalog, UpstreamError};
use rand::Rng as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::{Id as TaskId, JoinError, JoinSet};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

/// What a handle asks of the manager.
#[derive(Debug)]
pub(crate) enum Command {
    Call(CallJob),
    Reconnect,
    Shutdown,
}

/// One pooled connection's place.
#[derive(Debug)]
struct Slot {
    state: SlotState,
    /// It was up once; the next time it comes up counts as a reconnect.
    ever_up: bool,
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
    /// Since the pool last had a connection up: a dial failed / the token was rejected.
    dial_failed: bool,
    token_rejected: bool,
    /// Reconnect was asked for while a dial was in flight: if it fails, retry at once.
    retry_on_failure: bool,
    last_error: Option<String>,
    reconnects: u64,
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
        Pool {
            config: Arc::new(config),
            slots: (0..pool_size)
                .map(|_| Slot {
                    state: SlotState::Vacant,
                    ever_up: false,
                })
                .collect(),
            queue: FairQueue::default(),
            list_tools_pending: false,
            state: UpstreamState::Connecting,
            backoff,
            retry_at: None,
            dial_failed: false,
            token_rejected: false,
            retry_on_failure: false,
            last_error: None,
            reconnects: 0,
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
            let wake = tokio::select! {
                command = commands.recv() => Wake::Command(command),
                Some(event) = events.recv() => Wake::Event(event),
                Some(ended) = self.tasks.join_next_with_id() => Wake::TaskEnded(ended),
                _ = sleep_until(retry_at.unwrap_or_else(Instant::now)), if retry_at.is_some() => Wake::RetryDue,
            };
            match wake {
                Wake::Command(None | Some(Command::Shutdown)) => break,
                Wake::Command(Some(Command::Call(job))) => self.enqueue(job),
                Wake::Command(Some(Command::Reconnect)) => self.reconnect_now(),
                Wake::Event(event) => self.on_event(event),
                Wake::RetryDue => self.retry_at = None,
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

    /// Fails fast when the daemon is known to be unreachable; queues otherwise.
    fn enqueue(&mut self, job: CallJob) {
        let refusal = match self.state {
            UpstreamState::Down => Some(UpstreamError::Unavailable {
                url: self.url(),
                cause: self
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "not connected".to_owned()),
            }),
            UpstreamState::Unauthorized => Some(UpstreamError::Unauthorized { url: self.url() }),
            UpstreamState::Connecting | UpstreamState::Connected => None,
        };
        match refusal {
            Some(error) => {
                let _ = job.reply.send(Err(error));
            }
            None => self.queue.push(job.call.session, job),
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

    /// Dials vacant slots: one probe while nothing is up, all of them once something is.
    fn fill(&mut self) {
        if self.shutdown.is_cancelled() || self.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        self.retry_at = None;
        for slot_idx in 0..self.slots.len() {
            if !matches!(self.slots[slot_idx].state, SlotState::Vacant) {
                continue;
            }
            let probing = self.count_up() == 0
                && self
                    .slots
                    .iter()
                    .any(|slot| matches!(slot.state, SlotState::Dialing { .. }));
            if probing {
                break;
            }
            self.spawn_connection(slot_idx);
        }
    }

    fn spawn_connection(&mut self, slot_idx: usize) {
        let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
        let task = conn::run(
            slot_idx,
            Arc::clone(&self.config),
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
    /// order. Calls whose caller went away are dropped here, unsent.
    fn dispatch(&mut self) {
        for slot_idx in 0..self.slots.len() {
            let SlotState::Up {
                jobs,
                running: None,
            } = &self.slots[slot_idx].state
            else {
                continue;
            };
            let jobs = jobs.clone();
            let (job, kind) = if self.list_tools_pending {
                self.list_tools_pending = false;
                (Job::ListTools, Running::ListTools)
            } else {
                let Some(call) = self.next_live_call() else {
                    return;
                };
                (Job::Call(call), Running::Call)
            };
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
                self.backoff = self.config.min_backoff;
                self.dial_failed = false;
                self.token_rejected = false;
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
                        tracing::warn!(conn = slot, url = %self.config.url, error = %message, retry_in_ms = self.config.unauthorized_backoff.as_millis() as u64, "the daemon rejected the token");
                        self.token_rejected = true;
                        self.retry_at = Some(now + self.config.unauthorized_backoff);
                        self.last_error = Some(message);
                    }
                    DialFailure::Other(message) => {
                        let delay = jitter(self.backoff);
                        tracing::warn!(conn = slot, url = %self.config.url, error = %message, retry_in_ms = delay.as_millis() as u64, "cannot connect to the daemon");
                        self.token_rejected = false;
                        self.retry_at = Some(now + delay);
                        self.backoff = (self.backoff * 2).min(self.config.max_backoff);
                        let up = self.count_up();
                        self.last_error = Some(if up > 0 {
                            // Typically the daemon's per-IP limit (1008): the pool works with
                            // fewer connections, and the status says so.
                            format!("{message}; keeping the {up} open connection(s)")
                        } else {
                            message
                        });
                    }
                }
                self.dial_failed = true;
                if std::mem::take(&mut self.retry_on_failure) {
                    self.retry_at = None;
                }
            }
            ConnEvent::Idle { slot, tools } => {
                if let SlotState::Up { running, .. } = &mut self.slots[slot].state {
                    *running = None;
                }
                if let Some(tools) = tools {
                    self.set_catalog(tools);
                }
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
                if deliberate {
                    tracing::info!(conn = slot, reason = %cause, "replacing a pooled connection");
                } else {
                    tracing::warn!(conn = slot, error = %cause, "pooled connection lost");
                    self.last_error = Some(cause);
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
            self.last_error = Some("a pooled connection failed unexpectedly".to_owned());
        }
    }

    fn set_catalog(&mut self, tools: Vec<serde_json::Value>) {
        let generation = match &self.catalog {
            Some(catalog) if catalog.tools == tools => return,
            Some(catalog) => catalog.generation + 1,
            None => 1,
        };
        tracing::info!(generation, tools = tools.len(), "tool catalog updated");
        let catalog = Arc::new(ToolCatalog { generation, tools });
        self.catalog = Some(Arc::clone(&catalog));
        self.tools_tx.send_replace(Some(catalog));
    }

    /// Derives the overall state; entering Down or Unauthorized fails the queued calls.
    fn update_state(&mut self) {
        let up = self.count_up();
        if up == 0 && self.state == UpstreamState::Connected {
            // The pool just lost its last connection: it is reconnecting, not yet failing.
            self.dial_failed = false;
            self.token_rejected = false;
        }
        let state = if up > 0 {
            UpstreamState::Connected
        } else if self.token_rejected {
            UpstreamState::Unauthorized
        } else if self.dial_failed {
            UpstreamState::Down
        } else {
            UpstreamState::Connecting
        };
        if state == self.state {
            return;
        }
        match state {
            UpstreamState::Connected | UpstreamState::Connecting => {
                tracing::info!(url = %self.config.url, from = ?self.state, to = ?state, connections = up, "upstream state changed");
            }
            UpstreamState::Down | UpstreamState::Unauthorized => {
                tracing::warn!(url = %self.config.url, from = ?self.state, to = ?state, error = ?self.last_error, "upstream state changed");
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
        self.last_error = Some("the upstream was shut down".to_owned());
        self.publish();
    }
}

/// `base` scaled by a random factor in [0.5, 1.0], so a pool of hubs does not retry in lockstep.
fn jitter(base: Duration) -> Duration {
    base.mul_f64(rand::rng().random_range(0.5..=1.0))
}
