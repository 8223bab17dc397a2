//! One pooled WebSocket connection to the EXAI daemon.
//!
//! The connection task owns its socket. It dials and says hello, then takes one job at a time from
//! the pool manager, so at most one request is outstanding and every frame on the socket belongs to
//! that request (the daemon's error frames carry no id). It reads the socket at all times, also when
//! idle, because the daemon drops peers that do not answer its WebSocket pings; and it checks an
//! idle socket with the daemon's `ping` op. It never decides about other connections: it reports to
//! the manager and ends, and the manager replaces it.

use super::dial::{DialFailure, Ws, describe_close, describe_ws_error, dial};
use super::wire::{self, DaemonError, ErrorVerdict, Incoming};
use crate::config::ExaiConfig;
use crate::upstream::{Progress, ToolCall, ToolResult, UpstreamError};
use futures_util::{SinkExt as _, StreamExt as _};
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

/// Runs one pooled connection from dial to close. Reports to the manager over `events`.
pub(crate) async fn run(
    slot: usize,
    config: Arc<ExaiConfig>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    events: mpsc::UnboundedSender<ConnEvent>,
    shutdown: CancellationToken,
) {
    let session_id = wire::new_session_id(slot);
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
    let _ = events.send(ConnEvent::Up { slot });

    let mut conn = Conn {
        ws,
        slot,
        config,
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
    async fn run_call(&mut self, job: CallJob) -> Result<(), End> {
        let CallJob { call, reply } = job;
        let mut retried = false;
        loop {
            let request_id = wire::new_request_id();
            tracing::debug!(conn = self.slot, session = %call.session, tool = %call.name, request_id = %request_id, "call sent");
            let wait = match self
                .send(wire::call_tool(&request_id, &call.name, &call.arguments))
                .await
            {
                Ok(()) => {
                    let deadline = Instant::now() + self.config.call_timeout;
                    self.wait_final(&request_id, deadline, call.progress.as_ref())
                        .await
                }
                Err(cause) => Wait::Lost(cause),
            };
            let (outcome, end) = match wait {
                Wait::Result(Ok(result)) => (Ok(result), None),
                Wait::Result(Err(error)) => (
                    Err(UpstreamError::Rejected {
                        code: error.code,
                        message: error.message,
                    }),
                    None,
                ),
                Wait::Error(error) => match wire::classify(error) {
                    ErrorVerdict::Fail(error) => (Err(error), None),
                    ErrorVerdict::ToolFailed(result) => (Ok(result), None),
                    ErrorVerdict::RetryAfter(pause, message) => {
                        if retried || reply.is_closed() {
                            (Err(UpstreamError::OverCapacity { message }), None)
                        } else {
                            tracing::debug!(
                                conn = self.slot,
                                wait_ms = pause.as_millis() as u64,
                                "over capacity; retrying once"
                            );
                            retried = true;
                            match self.pause(pause).await {
                                Ok(()) => continue,
                                Err(end) => {
                                    let cause = end.cause.clone();
                                    (Err(UpstreamError::ConnectionLost { cause }), Some(end))
                                }
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

    /// Fetches the tool list. `Ok(None)` when the daemon answered with an error.
    async fn run_list_tools(&mut self) -> Result<Option<Vec<serde_json::Value>>, End> {
        let mut retried = false;
        loop {
            let request_id = wire::new_request_id();
            self.send(wire::list_tools(&request_id))
                .await
                .map_err(End::lost)?;
            let deadline = Instant::now() + self.config.call_timeout;
            match self.wait_final(&request_id, deadline, None).await {
                Wait::Tools(tools) => return Ok(Some(tools)),
                Wait::Error(error) => {
                    if let ErrorVerdict::RetryAfter(pause, _) = wire::classify(error.clone())
                        && !retried
                    {
                        retried = true;
                        self.pause(pause).await?;
                        continue;
                    }
                    tracing::warn!(conn = self.slot, code = %error.code, message = %error.message, "list_tools failed");
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
        let request_id = wire::new_request_id();
        self.send(wire::ping(&request_id))
            .await
            .map_err(End::lost)?;
        let deadline = Instant::now() + self.config.connect_timeout;
        match self.wait_final(&request_id, deadline, None).await {
            Wait::Pong => Ok(()),
            Wait::Error(error) => {
                // The daemon answered, so the connection works; the error is worth a line.
                tracing::warn!(conn = self.slot, code = %error.code, message = %error.message, "ping answered with an error");
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

    /// Waits `pause` while still reading the socket (frames that arrive are stale and dropped).
    async fn pause(&mut self, pause: Duration) -> Result<(), End> {
        let until = Instant::now() + pause;
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
            let Some(incoming) = wire::parse(text.as_str()) else {
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
