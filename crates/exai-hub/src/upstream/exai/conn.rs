//! One pooled WebSocket connection to the EXAI daemon.
//!
//! The connection task owns its socket. It dials and says hello, then takes one job at a time from
//! the pool manager, so at most one request is outstanding and every frame on the socket belongs to
//! that request (the daemon's error frames carry no id). It reads the socket at all times, also when
//! idle, because the daemon drops peers that do not answer its WebSocket pings; and it checks an
//! idle socket with the daemon's `ping` op. It never decides about other connections: it reports to
//! the manager and ends, and the manager replaces it.

use super::dial::{DialFailure, Ws, describe_close, describe_ws_error, dial};
use super::pace::Pacer;
use super::wire::{self, DaemonError, ErrorVerdict, Incoming};
use crate::config::ExaiConfig;
use crate::upstream::{Progress, ToolCall, ToolResult, UpstreamError};
use futures_util::{SinkExt as _, StreamExt as _};
use rand::Rng as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;

/// How long a closing handshake may take before the socket is simply dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// A tool call waiting for, or running on, a connection.
#[derive(Debug)]
pub(crate) struct CallJob {
    pub(crate) call: ToolCall,
    pub(crate) reply: oneshot::Sender<Result<ToolResult, UpstreamError>>,
    /// When the window asked plus the call timeout: queueing, pacing and retries all count.
    pub(crate) deadline: Instant,
    /// When the manager queued it.
    pub(crate) queued_at: Instant,
    /// How long the manager held it back for the rate limit before handing it over.
    pub(crate) rate_limited: Duration,
}

/// Work the manager hands to an idle connection.
#[derive(Debug)]
pub(crate) enum Job {
    Call(CallJob),
    ListTools,
}

/// What a connection task tells the pool manager.
#[derive(Debug)]
pub(crate) enum ConnEvent {
    /// The hello was acknowledged; the connection takes jobs now.
    Up { slot: usize },
    /// The dial failed; the task has ended.
    DialFailed { slot: usize, failure: DialFailure },
    /// The job is done (its caller was answered); the connection takes the next one.
    /// `tools` is the fetched list when the job was `ListTools` and it succeeded.
    Idle {
        slot: usize,
        tools: Option<Vec<serde_json::Value>>,
    },
    /// The daemon refused a frame as over capacity; the connection retries it after `retry_in`.
    OverCapacity {
        slot: usize,
        message: String,
        retry_in: Duration,
    },
    /// The connection is gone; the task has ended.
    Lost {
        slot: usize,
        cause: String,
        /// We closed it on purpose (deadline, failed health check, shutdown): not a daemon failure.
        deliberate: bool,
        /// A job the manager sent that was never started.
        unstarted: Option<Job>,
    },
}

/// Why a connection ended.
struct End {
    cause: String,
    deliberate: bool,
}

impl End {
    fn lost(cause: String) -> End {
        End {
            cause,
            deliberate: false,
        }
    }
    fn replaced(cause: String) -> End {
        End {
            cause,
            deliberate: true,
        }
    }
}

/// How waiting for a request's final frame ended.
enum Wait {
    /// The call's `call_tool_res`.
    Result(Result<ToolResult, DaemonError>),
    /// `list_tools_res`.
    Tools(Vec<serde_json::Value>),
    /// `pong`.
    Pong,
    /// An error frame: bare (attributed to the one outstanding request) or naming the request.
    Error(DaemonError),
    /// The deadline passed.
    TimedOut,
    /// The socket closed or failed.
    Lost(String),
    /// The hub is shutting down.
    Shutdown,
}

/// How a retry after `OVER_CAPACITY` went.
enum Retry {
    /// Send again now; the pause took this long.
    Again(Duration),
    /// The call's deadline would pass first, or its caller went away.
    GiveUp,
    /// The connection must end.
    End(End),
}

/// Runs one pooled connection from dial to close. Reports to the manager over `events`.
pub(crate) async fn run(
    slot: usize,
    config: Arc<ExaiConfig>,
    pacer: Arc<Pacer>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    events: mpsc::UnboundedSender<ConnEvent>,
    shutdown: CancellationToken,
) {
    let session_id = wire::new_session_id(slot);
    // The hello counts toward the daemon's per-IP limit too.
    let hello_at = pacer.reserve(None, Instant::now());
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = sleep_until(hello_at) => {}
    }
    let dialed = tokio::select! {
        _ = shutdown.cancelled() => return,
        dialed = timeout(config.connect_timeout, dial(&config, &session_id)) => dialed,
    };
    let ws = match dialed {
        Ok(Ok(ws)) => ws,
        Ok(Err(failure)) => {
            let _ = events.send(ConnEvent::DialFailed { slot, failure });
            return;
        }
        Err(_elapsed) => {
            let failure = DialFailure::Other(format!(
                "no hello_ack from the daemon within {} ms",
                config.connect_timeout.as_millis()
            ));
            let _ = events.send(ConnEvent::DialFailed { slot, failure });
            return;
        }
    };
    tracing::debug!(conn = slot, session_id = %session_id, "connection up");
    // A new session id: the daemon counts this connection's frames afresh.
    pacer.new_connection(slot);
    let _ = events.send(ConnEvent::Up { slot });

    let mut conn = Conn {
        ws,
        slot,
        config,
        pacer,
        events: events.clone(),
        shutdown,
    };
    let end = conn.serve(&mut jobs, &events).await;
    let _ = timeout(CLOSE_GRACE, conn.ws.close(None)).await;
    // Whatever the manager sent after we stopped taking jobs goes back to it, unsent.
    jobs.close();
    let unstarted = jobs.try_recv().ok();
    let _ = events.send(ConnEvent::Lost {
        slot,
        cause: end.cause,
        deliberate: end.deliberate,
        unstarted,
    });
}

struct Conn {
    ws: Ws,
    slot: usize,
    config: Arc<ExaiConfig>,
    pacer: Arc<Pacer>,
    events: mpsc::UnboundedSender<ConnEvent>,
    shutdown: CancellationToken,
}

impl Conn {
    /// Takes jobs one at a time until the connection ends; health-checks it while idle.
    async fn serve(
        &mut self,
        jobs: &mut mpsc::UnboundedReceiver<Job>,
        events: &mpsc::UnboundedSender<ConnEvent>,
    ) -> End {
        let mut next_health_check = Instant::now() + self.config.health_interval;
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => {
                    return End::replaced("the hub is shutting down".to_owned());
                }
                frame = self.ws.next() => {
                    if let Err(end) = self.idle_frame(frame) {
                        return end;
                    }
                }
                job = jobs.recv() => {
                    let Some(job) = job else {
                        return End::replaced("the pool closed".to_owned());
                    };
                    let tools = match job {
                        Job::Call(job) => {
                            if let Err(end) = self.run_call(job).await {
                                return end;
                            }
                            None
                        }
                        Job::ListTools => match self.run_list_tools().await {
                            Ok(tools) => tools,
                            Err(end) => return end,
                        },
                    };
                    let _ = events.send(ConnEvent::Idle { slot: self.slot, tools });
                    next_health_check = Instant::now() + self.config.health_interval;
                }
                _ = sleep_until(next_health_check) => {
                    if let Err(end) = self.health_check().await {
                        return end;
                    }
                    next_health_check = Instant::now() + self.config.health_interval;
                }
            }
        }
    }

    /// A frame that arrived with no request outstanding: a late duplicate, or the socket closing.
    fn idle_frame(
        &mut self,
        frame: Option<Result<Message, tungstenite::Error>>,
    ) -> Result<(), End> {
        match frame {
            Some(Ok(Message::Text(text))) => {
                let request_id = wire::parse(text.as_str())
                    .and_then(|incoming| incoming.request_id().map(str::to_owned));
                tracing::debug!(conn = self.slot, request_id = ?request_id, "frame while idle dropped");
                Ok(())
            }
            Some(Ok(Message::Close(frame))) => Err(End::lost(describe_close(frame.as_ref()))),
            Some(Ok(_ping_pong_or_binary)) => Ok(()),
            Some(Err(err)) => Err(End::lost(describe_ws_error(&err))),
            None => Err(End::lost("the connection closed".to_owned())),
        }
    }

    async fn send(&mut self, frame: String) -> Result<(), String> {
        self.ws
            .send(Message::text(frame))
            .await
            .map_err(|err| describe_ws_error(&err))
    }

    /// Runs one tool call and answers its caller. `Err` when the connection must end.
    ///
    /// The manager reserved the first send with the pacer. When the daemon still answers
    /// `OVER_CAPACITY`, the same call goes again (with a fresh id) after the stated wait, a floor
    /// and jitter, for as long as its deadline allows.
    async fn run_call(&mut self, job: CallJob) -> Result<(), End> {
        let CallJob {
            call,
            reply,
            deadline,
            mut rate_limited,
            ..
        } = job;
        loop {
            let request_id = wire::new_request_id();
            tracing::debug!(conn = self.slot, session = %call.session, tool = %call.name, request_id = %request_id, "call sent");
            let wait = match self
                .send(wire::call_tool(&request_id, &call.name, &call.arguments))
                .await
            {
                Ok(()) => {
                    self.wait_final(&request_id, deadline, call.progress.as_ref())
                        .await
                }
                Err(cause) => Wait::Lost(cause),
            };
            let (outcome, end) = match wait {
                Wait::Result(Ok(mut result)) => {
                    result.rate_limited = rate_limited;
                    (Ok(result), None)
                }
                Wait::Result(Err(error)) => (
                    Err(UpstreamError::Rejected {
                        code: error.code,
                        message: error.message,
                    }),
                    None,
                ),
                Wait::Error(error) => match wire::classify(error) {
                    ErrorVerdict::Fail(error) => (Err(error), None),
                    ErrorVerdict::ToolFailed(mut result) => {
                        result.rate_limited = rate_limited;
                        (Ok(result), None)
                    }
                    ErrorVerdict::RetryAfter(pause, message) => {
                        let retry = if reply.is_closed() {
                            Retry::GiveUp
                        } else {
                            self.over_capacity(pause, &message, deadline).await
                        };
                        match retry {
                            Retry::Again(paused) => {
                                rate_limited += paused;
                                continue;
                            }
                            Retry::GiveUp => {
                                (Err(self.over_capacity_error(deadline, message)), None)
                            }
                            Retry::End(end) => {
                                let cause = end.cause.clone();
                                (Err(UpstreamError::ConnectionLost { cause }), Some(end))
                            }
                        }
                    }
                },
                Wait::Tools(_) | Wait::Pong => {
                    // Impossible with a fresh id; count it as a broken conversation.
                    let cause = "the daemon answered a call with another op".to_owned();
                    (
                        Err(UpstreamError::ConnectionLost {
                            cause: cause.clone(),
                        }),
                        Some(End::lost(cause)),
                    )
                }
                Wait::TimedOut => (
                    Err(UpstreamError::Timeout {
                        after: self.config.call_timeout,
                    }),
                    Some(End::replaced(format!(
                        "call {request_id} passed its {} ms deadline",
                        self.config.call_timeout.as_millis()
                    ))),
                ),
                Wait::Lost(cause) => (
                    Err(UpstreamError::ConnectionLost {
                        cause: cause.clone(),
                    }),
                    Some(End::lost(cause)),
                ),
                Wait::Shutdown => {
                    let cause = "the hub is shutting down".to_owned();
                    (
                        Err(UpstreamError::ConnectionLost {
                            cause: cause.clone(),
                        }),
                        Some(End::replaced(cause)),
                    )
                }
            };
            if reply.send(outcome).is_err() {
                tracing::debug!(conn = self.slot, request_id = %request_id, "caller went away; result dropped");
            }
            return match end {
                Some(end) => Err(end),
                None => Ok(()),
            };
        }
    }

    /// The daemon refused a frame as over capacity: holds every connection back for the stated
    /// time (at least the floor, plus jitter so four connections do not retry in step), then
    /// waits for this connection's next turn with the pacer.
    async fn over_capacity(&mut self, stated: Duration, message: &str, deadline: Instant) -> Retry {
        let started = Instant::now();
        let pause = stated
            .max(self.config.over_capacity_floor)
            .mul_f64(rand::rng().random_range(1.0..=1.5));
        self.pacer.defer(started + pause);
        let send_at = self.pacer.reserve(Some(self.slot), started);
        let _ = self.events.send(ConnEvent::OverCapacity {
            slot: self.slot,
            message: message.to_owned(),
            retry_in: send_at - started,
        });
        if send_at >= deadline {
            return Retry::GiveUp;
        }
        match self.pause_until(send_at).await {
            Ok(()) => Retry::Again(started.elapsed()),
            Err(end) => Retry::End(end),
        }
    }

    fn over_capacity_error(&self, deadline: Instant, message: String) -> UpstreamError {
        let left = deadline.saturating_duration_since(Instant::now());
        UpstreamError::OverCapacity {
            limit: describe_limits(&self.config),
            waited: self.config.call_timeout.saturating_sub(left),
            message,
        }
    }

    /// Fetches the tool list. `Ok(None)` when the daemon answered with an error.
    async fn run_list_tools(&mut self) -> Result<Option<Vec<serde_json::Value>>, End> {
        let deadline = Instant::now() + self.config.call_timeout;
        loop {
            let request_id = wire::new_request_id();
            self.send(wire::list_tools(&request_id))
                .await
                .map_err(End::lost)?;
            match self.wait_final(&request_id, deadline, None).await {
                Wait::Tools(tools) => return Ok(Some(tools)),
                Wait::Error(error) => {
                    if let ErrorVerdict::RetryAfter(pause, message) = wire::classify(error.clone())
                    {
                        match self.over_capacity(pause, &message, deadline).await {
                            Retry::Again(_) => continue,
                            Retry::End(end) => return Err(end),
                            Retry::GiveUp => {}
                        }
                    }
                    tracing::warn!(code = %error.code, error = %error.message, "the daemon could not list its tools");
                    return Ok(None);
                }
                Wait::Result(_) | Wait::Pong => return Ok(None),
                Wait::TimedOut => {
                    return Err(End::replaced("list_tools passed its deadline".to_owned()));
                }
                Wait::Lost(cause) => return Err(End::lost(cause)),
                Wait::Shutdown => return Err(End::replaced("the hub is shutting down".to_owned())),
            }
        }
    }

    /// The daemon's `ping` op on an idle connection: a pong within `connect_timeout`, or replace it.
    async fn health_check(&mut self) -> Result<(), End> {
        let now = Instant::now();
        if self.pacer.earliest(Some(self.slot), now) > now {
            // The rate limit holds frames back, so there is traffic that proves the daemon
            // alive; a ping now would only take a call's place.
            return Ok(());
        }
        self.pacer.reserve(Some(self.slot), now);
        let request_id = wire::new_request_id();
        self.send(wire::ping(&request_id))
            .await
            .map_err(End::lost)?;
        let deadline = Instant::now() + self.config.connect_timeout;
        match self.wait_final(&request_id, deadline, None).await {
            Wait::Pong => Ok(()),
            Wait::Error(error) => {
                // The daemon answered, so the connection works; the error is worth a line.
                tracing::warn!(code = %error.code, error = %error.message, "the daemon answered a ping with an error");
                Ok(())
            }
            Wait::Result(_) | Wait::Tools(_) => Ok(()),
            Wait::TimedOut => Err(End::replaced(format!(
                "health check: no pong within {} ms",
                self.config.connect_timeout.as_millis()
            ))),
            Wait::Lost(cause) => Err(End::lost(cause)),
            Wait::Shutdown => Err(End::replaced("the hub is shutting down".to_owned())),
        }
    }

    /// Waits until `until` while still reading the socket (frames that arrive are stale and
    /// dropped).
    async fn pause_until(&mut self, until: Instant) -> Result<(), End> {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => {
                    return Err(End::replaced("the hub is shutting down".to_owned()));
                }
                _ = sleep_until(until) => return Ok(()),
                frame = self.ws.next() => self.idle_frame(frame)?,
            }
        }
    }

    /// Reads frames until the final one for `request_id` (or a bare error, which can only be its).
    async fn wait_final(
        &mut self,
        request_id: &str,
        deadline: Instant,
        progress: Option<&mpsc::UnboundedSender<Progress>>,
    ) -> Wait {
        loop {
            let frame = tokio::select! {
                _ = self.shutdown.cancelled() => return Wait::Shutdown,
                frame = timeout_at(deadline, self.ws.next()) => match frame {
                    Ok(frame) => frame,
                    Err(_elapsed) => return Wait::TimedOut,
                },
            };
            let text = match frame {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(frame))) => {
                    return Wait::Lost(describe_close(frame.as_ref()));
                }
                Some(Ok(_ping_pong_or_binary)) => continue,
                Some(Err(err)) => return Wait::Lost(describe_ws_error(&err)),
                None => return Wait::Lost("the connection closed".to_owned()),
            };
            // A large result's text stays in this frame's bytes, shared, not copied.
            let Some(incoming) = wire::parse_shared(text.as_str(), text.as_ref()) else {
                tracing::debug!(conn = self.slot, "frame that is not a JSON object dropped");
                continue;
            };
            if let Some(id) = incoming.request_id()
                && id != request_id
            {
                tracing::debug!(conn = self.slot, request_id = %id, "frame for a finished request dropped");
                continue;
            }
            match incoming {
                Incoming::Progress {
                    progress: update, ..
                } => {
                    if let Some(progress) = progress {
                        let _ = progress.send(update);
                    }
                }
                Incoming::StreamComplete { .. } => {
                    tracing::trace!(conn = self.slot, request_id = %request_id, "stream complete");
                }
                Incoming::CallResult { result, .. } => return Wait::Result(result),
                Incoming::ToolList { tools, .. } => return Wait::Tools(tools),
                Incoming::Pong { .. } => return Wait::Pong,
                Incoming::BareError(error) | Incoming::Error { error, .. } => {
                    return Wait::Error(error);
                }
                Incoming::Other(op) => {
                    tracing::debug!(conn = self.slot, op = %op, "unexpected frame dropped");
                }
            }
        }
    }
}

/// The rate limits the hub paces to, in words, for errors.
pub(crate) fn describe_limits(config: &ExaiConfig) -> String {
    match (config.ip_rate_limit, config.session_rate_limit) {
        (None, None) => "pacing off".to_owned(),
        (Some(ip), None) => format!("{ip} per IP"),
        (None, Some(session)) => format!("{session} per session"),
        (Some(ip), Some(session)) => format!("{ip} per IP, {session} per session"),
    }
}
