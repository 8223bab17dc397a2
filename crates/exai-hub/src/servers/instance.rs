//! One running server instance: the task that owns its process, its [`Router`] and its status.
//!
//! Lifecycle: started when the first window attaches (with that window's environment, working
//! directory and `PATH`), `initialize`d by the hub, ready; a crash fails the requests in flight
//! at once and restarts it with backoff (1 s doubling to 30 s) while windows use it; five quick
//! failures in a row (each within [`QUICK`] of its start) make it `crash-loop`, which only a
//! window asking again (attaching, or sending a request) retries; with no window for the idle
//! time it stops, and the next window starts it again.
//!
//! Window lines that arrive while the server is starting or restarting wait in a bounded queue
//! (at most [`QUEUE_LINES`] lines and [`QUEUE_BYTES`] bytes per instance, each for at most
//! `ServersConfig::queue_timeout`) and go up in order once it is ready; a request beyond the
//! bound, or still waiting at its deadline, gets one error naming the server. The server's stdout is read as JSON-RPC lines of at most [`MAX_LINE`]; its stderr goes
//! to the hub's log (INFO, tagged with the server's name) and the last [`STDERR_KEPT`] lines to
//! status.

use super::router::{Action, Router};
use super::{ServersConfig, spec};
use crate::api::{ClientInfo, HubEvent, RequestRecord, ServerState, ServerStatus};
use crate::registry::RegistryMsg;
use bytes::Bytes;
use exai_proto::jsonrpc::{self, ErrorCode, Message};
use exai_proto::{ServerSpec, SessionId};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The longest line read from a server's stdout: 32 MiB.
pub(crate) const MAX_LINE: usize = 32 << 20;
/// The longest stderr line kept (longer ones are cut).
const MAX_STDERR_LINE: usize = 4096;
/// How many stderr lines status keeps.
pub(crate) const STDERR_KEPT: usize = 20;
/// A failure within this long of a start counts as quick.
const QUICK: Duration = Duration::from_secs(30);
/// Quick failures in a row that make `crash-loop`.
const CRASH_LOOP_AFTER: u32 = 5;
/// How much of an over-long line is kept to find its id.
const PREFIX_KEPT: usize = 4096;
/// The most window lines one instance holds while it starts or restarts.
pub const QUEUE_LINES: usize = 256;
/// The most bytes of window lines one instance holds while it starts or restarts.
pub const QUEUE_BYTES: usize = 64 << 20;

/// A window's line waiting for the server to be ready.
struct Queued {
    window: SessionId,
    line: Bytes,
    deadline: Instant,
}

/// What the hub's other tasks send an instance.
#[derive(Debug)]
pub(crate) enum InstanceMsg {
    /// A window starts using the instance; its lines come back on `out`.
    Attach {
        window: SessionId,
        cwd: Option<String>,
        /// The editor's `initialize`, replayed by a resuming shim: applied, never answered.
        replay: Option<Bytes>,
        out: mpsc::UnboundedSender<Bytes>,
    },
    /// A line from a window.
    Line { window: SessionId, line: Bytes },
    /// The window went away.
    Detach { window: SessionId },
    /// The operator asked for a restart (the dashboard's Restart): requests in flight fail
    /// naming the server, the process is ended and started again at once, windows stay.
    Restart,
}

/// What the reader tasks of one process send.
enum ChildEvent {
    Line(u64, Bytes),
    TooLong(u64, Bytes, usize),
    Stderr(u64, String),
    Eof(u64),
}

struct Running {
    child: exai_ipc::process::TiedChild,
    stdin: mpsc::UnboundedSender<Bytes>,
    pid: u32,
    started: Instant,
    generation: u64,
}

/// What the hub gives an instance.
pub(crate) struct InstanceCtx {
    pub(crate) registry: mpsc::UnboundedSender<RegistryMsg>,
    pub(crate) events: broadcast::Sender<HubEvent>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) config: ServersConfig,
}

pub(crate) struct Instance {
    id: u64,
    name: String,
    /// The first window's spec: the environment, cwd and `PATH` the server starts with.
    launch: ServerSpec,
    ctx: InstanceCtx,
    router: Router,
    outs: HashMap<SessionId, mpsc::UnboundedSender<Bytes>>,
    queue: VecDeque<Queued>,
    /// The bytes of the lines in `queue`.
    queued_bytes: usize,
    /// Replayed `initialize` lines waiting for the server to be ready.
    replays: Vec<(SessionId, Bytes)>,
    running: Option<Running>,
    generation: u64,
    state: ServerState,
    restarts: u64,
    quick_failures: u32,
    backoff: Duration,
    restart_at: Option<Instant>,
    idle_at: Option<Instant>,
    init_deadline: Option<Instant>,
    stderr: VecDeque<String>,
    last_error: Option<String>,
    /// Why the hub is ending the process, for the failure that its end reports.
    kill_reason: Option<String>,
    status: watch::Sender<ServerStatus>,
    child_tx: mpsc::Sender<ChildEvent>,
    child_rx: mpsc::Receiver<ChildEvent>,
}

impl Instance {
    pub(crate) fn new(
        id: u64,
        launch: ServerSpec,
        ctx: InstanceCtx,
    ) -> (Instance, watch::Receiver<ServerStatus>) {
        let name = spec::display_name(&launch);
        let status = ServerStatus {
            id,
            name: name.clone(),
            command: spec::command_line(&launch),
            pid: None,
            state: ServerState::Stopped,
            policy: launch.share.as_str().to_owned(),
            windows: Vec::new(),
            restarts: 0,
            memory_bytes: None,
            last_error: None,
            stderr: Vec::new(),
        };
        let (status_tx, status_rx) = watch::channel(status);
        let (child_tx, child_rx) = mpsc::channel(64);
        let backoff = ctx.config.min_backoff;
        let instance = Instance {
            id,
            router: Router::new(name.clone(), launch.share)
                .with_input_timeout(ctx.config.queue_timeout),
            name,
            launch,
            ctx,
            outs: HashMap::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            replays: Vec::new(),
            running: None,
            generation: 0,
            state: ServerState::Stopped,
            restarts: 0,
            quick_failures: 0,
            backoff,
            restart_at: None,
            idle_at: None,
            init_deadline: None,
            stderr: VecDeque::new(),
            last_error: None,
            kill_reason: None,
            status: status_tx,
            child_tx,
            child_rx,
        };
        (instance, status_rx)
    }

    /// Runs until the hub shuts down or every handle is gone; the process dies with it.
    pub(crate) async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<InstanceMsg>) {
        let shutdown = self.ctx.shutdown.clone();
        loop {
            let restart_at = self.restart_at;
            let idle_at = self.idle_at;
            let init_deadline = self.init_deadline;
            let queue_deadline = self.queue.front().map(|queued| queued.deadline);
            let input_deadline = self.router.input_deadline().map(Instant::from_std);
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                msg = inbox.recv() => match msg {
                    Some(msg) => self.message(msg).await,
                    None => break,
                },
                Some(event) = self.child_rx.recv() => self.child_event(event).await,
                () = sleep_until(restart_at) => {
                    self.restart_at = None;
                    self.start();
                }
                () = sleep_until(init_deadline) => {
                    self.init_deadline = None;
                    let reason = format!("did not answer the hub's initialize within {} s", self.ctx.config.init_timeout.as_secs());
                    self.failed(reason).await;
                }
                () = sleep_until(idle_at) => {
                    self.idle_at = None;
                    self.stop_idle().await;
                }
                () = sleep_until(queue_deadline) => self.expire_queue(),
                () = sleep_until(input_deadline) => {
                    let actions = self.router.expire_input(Instant::now().into_std());
                    self.perform(actions);
                }
            }
        }
        if let Some(mut running) = self.running.take() {
            let _ = tokio::task::spawn_blocking(move || running.child.kill()).await;
        }
        self.state = ServerState::Stopped;
        self.publish(true);
    }

    async fn message(&mut self, msg: InstanceMsg) {
        match msg {
            InstanceMsg::Attach {
                window,
                cwd,
                replay,
                out,
            } => {
                self.outs.insert(window, out);
                self.router.attach(window, cwd);
                if let Some(line) = replay {
                    self.replays.push((window, line));
                    self.apply_replays();
                }
                self.idle_at = None;
                match self.state {
                    ServerState::Stopped => self.start(),
                    ServerState::CrashLoop => self.retry_crash_loop(),
                    _ => {}
                }
                self.publish(true);
            }
            InstanceMsg::Line { window, line } => {
                if !self.outs.contains_key(&window) {
                    return;
                }
                match self.state {
                    ServerState::Ready => {
                        let actions = self.router.window_line(window, &line);
                        self.perform(actions);
                    }
                    ServerState::CrashLoop => {
                        // A window asking again is what retries a crash-looping server.
                        self.enqueue(window, line);
                        self.retry_crash_loop();
                        self.publish(true);
                    }
                    _ => self.enqueue(window, line),
                }
            }
            InstanceMsg::Detach { window } => {
                self.outs.remove(&window);
                self.queue.retain(|queued| queued.window != window);
                self.queued_bytes = self.queue.iter().map(|queued| queued.line.len()).sum();
                self.replays.retain(|(queued, _)| *queued != window);
                let actions = self.router.detach(window);
                self.perform(actions);
                if self.outs.is_empty() {
                    self.idle_at = Some(Instant::now() + self.ctx.config.idle_timeout);
                    if self.state != ServerState::Ready && self.state != ServerState::Starting {
                        // Nobody waits for a restart.
                        self.restart_at = None;
                        if self.state == ServerState::Restarting {
                            self.state = ServerState::Stopped;
                        }
                    }
                }
                self.publish(true);
            }
            InstanceMsg::Restart => self.restart().await,
        }
    }

    /// Ends the process (if any) and starts it again now: no backoff, and it does not count
    /// toward crash-loop (a server in crash-loop gets a fresh start). The requests in flight get
    /// an error naming the server; the windows stay attached and the router redoes their
    /// subscriptions and log level once the new process is ready, as after a crash.
    async fn restart(&mut self) {
        tracing::info!(server = %self.name, pid = self.running.as_ref().map(|r| r.pid), "restarting the MCP server, as the operator asked");
        if let Some(mut running) = self.running.take() {
            let _ = tokio::task::spawn_blocking(move || running.child.kill()).await;
            let message = format!(
                "the MCP server {} was restarted by the operator while this request ran",
                self.name
            );
            let actions = self.router.upstream_lost(&message);
            self.perform(actions);
        }
        self.kill_reason = None;
        self.init_deadline = None;
        self.restart_at = None;
        self.quick_failures = 0;
        self.backoff = self.ctx.config.min_backoff;
        self.restarts += 1;
        self.state = ServerState::Restarting;
        if self.outs.is_empty() && self.idle_at.is_none() {
            self.idle_at = Some(Instant::now() + self.ctx.config.idle_timeout);
        }
        self.start();
        self.publish(true);
    }

    fn apply_replays(&mut self) {
        if !self.router.is_ready() {
            return;
        }
        for (window, line) in std::mem::take(&mut self.replays) {
            let actions = self.router.replay_initialize(window, &line);
            self.perform(actions);
        }
    }

    fn retry_crash_loop(&mut self) {
        if self.state == ServerState::CrashLoop && self.running.is_none() {
            // One more quick failure puts it back in crash-loop.
            self.quick_failures = CRASH_LOOP_AFTER - 1;
            self.start();
        }
    }

    /// Starts the server process and sends the hub's `initialize`.
    fn start(&mut self) {
        if self.running.is_some() {
            return;
        }
        self.state = if self.restarts > 0 || self.state == ServerState::Restarting {
            ServerState::Restarting
        } else {
            ServerState::Starting
        };
        match self.launch_process() {
            Ok(running) => {
                tracing::info!(server = %self.name, pid = running.pid, "started the MCP server");
                self.running = Some(running);
                let line = self.router.initialize_request();
                self.to_upstream(line);
                self.init_deadline = Some(Instant::now() + self.ctx.config.init_timeout);
                self.publish(true);
            }
            Err(reason) => {
                // Nothing to wait for: fail now, on the task (no process, no await needed).
                self.after_failure(reason, None, Instant::now());
            }
        }
    }

    fn launch_process(&mut self) -> Result<Running, String> {
        let env = &self.launch.env;
        let lookup = |name: &str| {
            env.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        let cwd = self
            .launch
            .cwd
            .as_deref()
            .map(std::path::Path::new)
            .filter(|dir| dir.is_dir());
        let program = exai_ipc::program::resolve_program(
            &self.launch.command,
            lookup("PATH"),
            lookup("PATHEXT"),
            cwd,
        )
        .ok_or_else(|| {
            format!(
                "could not be started: `{}` is not a program on the window's PATH",
                self.launch.command
            )
        })?;
        let mut command = std::process::Command::new(&program);
        command
            .args(&self.launch.args)
            .env_clear()
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let mut child = exai_ipc::process::spawn_tied(&mut command)
            .map_err(|err| format!("could not be started ({}): {err}", program.display()))?;
        let pid = child.id();
        let std_child = child.child_mut();
        let (Some(stdin), Some(stdout), Some(stderr)) = (
            std_child.stdin.take(),
            std_child.stdout.take(),
            std_child.stderr.take(),
        ) else {
            return Err("could not be started: no pipes to it".to_owned());
        };
        let stdin = tokio::process::ChildStdin::from_std(stdin)
            .map_err(|err| format!("could not be started: {err}"))?;
        let stdout = tokio::process::ChildStdout::from_std(stdout)
            .map_err(|err| format!("could not be started: {err}"))?;
        let stderr = tokio::process::ChildStderr::from_std(stderr)
            .map_err(|err| format!("could not be started: {err}"))?;
        self.generation += 1;
        let generation = self.generation;
        let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
        tokio::spawn(write_stdin(stdin, stdin_rx));
        tokio::spawn(read_stdout(
            BufReader::with_capacity(64 << 10, stdout),
            generation,
            self.child_tx.clone(),
        ));
        tokio::spawn(read_stderr(
            BufReader::new(stderr),
            generation,
            self.child_tx.clone(),
        ));
        Ok(Running {
            child,
            stdin: stdin_tx,
            pid,
            started: Instant::now(),
            generation,
        })
    }

    fn current(&self, generation: u64) -> bool {
        self.running
            .as_ref()
            .is_some_and(|running| running.generation == generation)
    }

    async fn child_event(&mut self, event: ChildEvent) {
        match event {
            ChildEvent::Line(generation, line) => {
                if !self.current(generation) {
                    return;
                }
                if !self.router.is_ready()
                    && matches!(Message::parse(&line), Message::Invalid(_) | Message::Batch)
                {
                    let shown: String = String::from_utf8_lossy(&line).chars().take(120).collect();
                    let reason = format!(
                        "wrote a line to stdout that is not JSON-RPC ({shown:?}): an MCP server's stdout carries only JSON-RPC messages, one per line (logs belong on stderr)"
                    );
                    self.failed(reason).await;
                    return;
                }
                let actions = self.router.upstream_line(&line);
                self.perform(actions);
            }
            ChildEvent::TooLong(generation, prefix, len) => {
                if !self.current(generation) {
                    return;
                }
                tracing::warn!(server = %self.name, len, max = MAX_LINE, "the MCP server wrote a line over the hub's limit; dropped");
                let message = format!(
                    "{} answered with a line of {len} bytes or more, over the hub's limit of {MAX_LINE} bytes",
                    self.name
                );
                let actions = self.router.upstream_too_long(&prefix, &message);
                self.perform(actions);
            }
            ChildEvent::Stderr(generation, line) => {
                tracing::info!(server = %self.name, pid = self.running.as_ref().filter(|r| r.generation == generation).map(|r| r.pid), "{line}");
                if self.stderr.len() == STDERR_KEPT {
                    self.stderr.pop_front();
                }
                self.stderr.push_back(line);
                self.publish(false);
            }
            ChildEvent::Eof(generation) => {
                if !self.current(generation) {
                    return;
                }
                self.failed(String::new()).await;
            }
        }
    }

    /// The process ended or must end: reap it, then decide what comes next.
    async fn failed(&mut self, reason: String) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        let started = running.started;
        let pid = running.pid;
        // Give a process that closed stdout a moment to exit on its own, for its real status.
        let exited = tokio::time::timeout(Duration::from_secs(2), exai_ipc::wait_for_exit(pid))
            .await
            .is_ok();
        let status = tokio::task::spawn_blocking(move || {
            let status = if exited {
                running.child.try_wait().ok().flatten()
            } else {
                None
            };
            match status {
                Some(status) => Some(status),
                None => running.child.kill().ok(),
            }
        })
        .await
        .ok()
        .flatten();
        let exit = status.map_or_else(
            || "an unknown status".to_owned(),
            |status| status.to_string(),
        );
        let reason = match self.kill_reason.take() {
            Some(killed) if reason.is_empty() => killed,
            _ => reason,
        };
        let reason = if reason.is_empty() {
            format!("exited ({exit})")
        } else {
            format!("{reason}; stopped it ({exit})")
        };
        self.after_failure(reason, Some(pid), started);
    }

    fn after_failure(&mut self, reason: String, pid: Option<u32>, started: Instant) {
        self.init_deadline = None;
        let was_ready = self.router.is_ready();
        let mut message = format!("the MCP server {} {reason}", self.name);
        if let Some(last) = self.stderr.back() {
            message.push_str(&format!("; its last stderr line: {last}"));
        }
        tracing::warn!(server = %self.name, pid, "{message}");
        self.last_error = Some(message.clone());
        let actions = self.router.upstream_lost(&message);
        self.perform(actions);
        let quick = !was_ready || started.elapsed() < QUICK;
        self.quick_failures = if quick { self.quick_failures + 1 } else { 1 };
        if !quick {
            self.backoff = self.ctx.config.min_backoff;
        }
        if self.quick_failures >= CRASH_LOOP_AFTER {
            self.state = ServerState::CrashLoop;
            let reason = format!(
                "{} is in crash-loop: it failed {} times in a row within {} s of starting and is not restarted until a window asks again; last error: {message}",
                self.name,
                self.quick_failures,
                QUICK.as_secs()
            );
            tracing::warn!(server = %self.name, "{reason}");
            self.last_error = Some(reason.clone());
            self.fail_queue(&reason);
        } else if self.outs.is_empty() {
            self.state = ServerState::Stopped;
            self.fail_queue(&message);
        } else {
            self.state = ServerState::Restarting;
            self.restarts += 1;
            self.restart_at = Some(Instant::now() + self.backoff);
            self.backoff = (self.backoff * 2).min(self.ctx.config.max_backoff);
        }
        self.publish(true);
    }

    /// Answers every queued request with `message` (notifications are dropped).
    fn fail_queue(&mut self, message: &str) {
        self.queued_bytes = 0;
        for queued in std::mem::take(&mut self.queue) {
            self.refuse(queued.window, &queued.line, message);
        }
    }

    /// A window's line that cannot go up: a request gets `message` as its one answer, anything
    /// else is dropped.
    fn refuse(&self, window: SessionId, line: &[u8], message: &str) {
        let Some(out) = self.outs.get(&window) else {
            return;
        };
        match Message::parse(line).answer_id() {
            Some(Some(id)) => {
                let _ = out.send(jsonrpc::error_line(
                    Some(id),
                    ErrorCode::Unavailable,
                    message,
                ));
            }
            Some(None) => {
                let _ = out.send(jsonrpc::error_line(None, ErrorCode::Unavailable, message));
            }
            None => {}
        }
    }

    /// What the server is doing while lines wait, in words.
    fn waiting_words(&self) -> &'static str {
        match self.state {
            ServerState::Starting => "starting",
            ServerState::Restarting => "restarting",
            ServerState::CrashLoop => "in crash-loop",
            ServerState::Stopped => "stopped",
            ServerState::Ready => "ready",
        }
    }

    /// Keeps a window's line until the server is ready, within the queue's bound.
    fn enqueue(&mut self, window: SessionId, line: Bytes) {
        if self.queue.len() >= QUEUE_LINES || self.queued_bytes + line.len() > QUEUE_BYTES {
            let message = format!(
                "the MCP server {} is {} and {} lines ({} MiB) from editor windows already wait for it, the hub's limit; this one was not sent: try again once it is ready",
                self.name,
                self.waiting_words(),
                self.queue.len(),
                self.queued_bytes >> 20,
            );
            tracing::warn!(server = %self.name, "{message}");
            self.refuse(window, &line, &message);
            return;
        }
        self.queued_bytes += line.len();
        self.queue.push_back(Queued {
            window,
            line,
            deadline: Instant::now() + self.ctx.config.queue_timeout,
        });
    }

    /// Answers the queued lines whose deadline passed.
    fn expire_queue(&mut self) {
        let now = Instant::now();
        let mut expired = 0usize;
        while let Some(queued) = self.queue.front()
            && queued.deadline <= now
        {
            let Some(queued) = self.queue.pop_front() else {
                break;
            };
            self.queued_bytes -= queued.line.len();
            let mut message = format!(
                "the MCP server {} is {} and was not ready within {} s of this request, so the hub did not send it",
                self.name,
                self.waiting_words(),
                self.ctx.config.queue_timeout.as_secs_f64()
            );
            if let Some(error) = &self.last_error {
                message.push_str(&format!(" (last error: {error})"));
            }
            self.refuse(queued.window, &queued.line, &message);
            expired += 1;
        }
        if expired > 0 {
            tracing::warn!(server = %self.name, expired, "window lines waited for the MCP server past their deadline and were answered with an error");
        }
    }

    /// Ends an unused server; `Stopped` is published once the process is gone (reaped), so
    /// status never says stopped while it still runs.
    async fn stop_idle(&mut self) {
        if !self.outs.is_empty() {
            return;
        }
        if let Some(running) = self.running.take() {
            tracing::info!(server = %self.name, pid = running.pid, idle = ?self.ctx.config.idle_timeout, "stopped the MCP server: no window used it");
            let mut running = running;
            let _ = tokio::task::spawn_blocking(move || running.child.kill()).await;
            let _ = self.router.upstream_lost("stopped");
            // An idle stop is not a crash: the next start is a first start again.
            self.quick_failures = 0;
            self.backoff = self.ctx.config.min_backoff;
        }
        self.state = ServerState::Stopped;
        self.publish(true);
    }

    fn to_upstream(&self, line: Bytes) {
        if let Some(running) = &self.running {
            let _ = running.stdin.send(line);
        }
    }

    fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Upstream(line) => self.to_upstream(line),
                Action::Window(window, line) => {
                    if let Some(out) = self.outs.get(&window) {
                        let _ = out.send(line);
                    }
                }
                Action::Started { window, key, label } => {
                    let _ = self.ctx.registry.send(RegistryMsg::Started {
                        id: window,
                        key,
                        label,
                    });
                }
                Action::Finished {
                    window,
                    key,
                    method,
                    started,
                    error,
                    cancelled,
                } => {
                    let elapsed = started.elapsed();
                    let record = RequestRecord {
                        session: window,
                        tool: None,
                        started_at: crate::now_millis().saturating_sub(elapsed.as_millis() as u64),
                        duration_ms: elapsed.as_secs_f64() * 1000.0,
                        ok: error.is_none(),
                        error,
                        cancelled,
                        rate_limited_ms: 0,
                        arguments: None,
                        from_cache: false,
                        method,
                    };
                    let _ = self
                        .ctx
                        .registry
                        .send(RegistryMsg::Finished { key, record });
                }
                Action::Identified {
                    window,
                    client,
                    version,
                } => {
                    let _ = self.ctx.registry.send(RegistryMsg::Identified {
                        id: window,
                        client: client.map(|(name, version)| ClientInfo { name, version }),
                        protocol_version: Some(version.as_str().to_owned()),
                    });
                }
                Action::Initialized(Ok(())) => {
                    self.init_deadline = None;
                    self.state = ServerState::Ready;
                    self.last_error = None;
                    tracing::info!(server = %self.name, pid = self.running.as_ref().map(|r| r.pid), "the MCP server is ready");
                    self.publish(true);
                    self.apply_replays();
                    while self.state == ServerState::Ready
                        && let Some(Queued { window, line, .. }) = self.queue.pop_front()
                    {
                        self.queued_bytes -= line.len();
                        let actions = self.router.window_line(window, &line);
                        self.perform(actions);
                    }
                }
                Action::Initialized(Err(reason)) => {
                    // Ends the process; the child's end then runs the failure path.
                    self.init_deadline = None;
                    self.kill_reason = Some(reason.clone());
                    if let Some(running) = &mut self.running {
                        let _ = running.child.child_mut().kill();
                    }
                    tracing::warn!(server = %self.name, "{reason}");
                }
            }
        }
    }

    fn publish(&self, event: bool) {
        let status = ServerStatus {
            id: self.id,
            name: self.name.clone(),
            command: spec::command_line(&self.launch),
            pid: self.running.as_ref().map(|running| running.pid),
            state: self.state,
            policy: self.launch.share.as_str().to_owned(),
            windows: {
                let mut windows: Vec<SessionId> = self.outs.keys().copied().collect();
                windows.sort_unstable();
                windows
            },
            restarts: self.restarts,
            memory_bytes: None,
            last_error: self.last_error.clone(),
            stderr: self.stderr.iter().cloned().collect(),
        };
        let changed = {
            let old = self.status.borrow();
            old.state != status.state
                || old.pid != status.pid
                || old.windows != status.windows
                || old.restarts != status.restarts
        };
        self.status.send_replace(status.clone());
        if event && changed {
            let _ = self
                .ctx
                .events
                .send(HubEvent::ServerChanged { server: status });
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn write_stdin(
    mut stdin: tokio::process::ChildStdin,
    mut lines: mpsc::UnboundedReceiver<Bytes>,
) {
    while let Some(line) = lines.recv().await {
        if stdin.write_all(&line).await.is_err() || stdin.write_all(b"\n").await.is_err() {
            return;
        }
        if lines.is_empty() && stdin.flush().await.is_err() {
            return;
        }
    }
}

/// What [`read_line`] read.
pub(crate) enum Read {
    Line(Vec<u8>),
    /// A line over the limit: its first bytes and its length so far (the rest was skipped).
    TooLong(Vec<u8>, usize),
    Eof,
}

/// Reads one `\n`-terminated line of at most `max` bytes (a trailing `\r` is dropped); a longer
/// line is skipped to its end and reported with its first bytes.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Read> {
    let mut line = Vec::new();
    let mut too_long = 0usize;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(match (too_long, line.is_empty()) {
                (0, true) => Read::Eof,
                (0, false) => Read::Line(line),
                (len, _) => Read::TooLong(line, len),
            });
        }
        let (chunk, found) = match buf.iter().position(|&byte| byte == b'\n') {
            Some(end) => (&buf[..end], true),
            None => (buf, false),
        };
        let used = chunk.len() + usize::from(found);
        if too_long > 0 || line.len() + chunk.len() > max {
            if too_long == 0 {
                too_long = line.len();
                line.truncate(PREFIX_KEPT);
                let room = PREFIX_KEPT.saturating_sub(line.len());
                line.extend_from_slice(&chunk[..room.min(chunk.len())]);
            }
            too_long += chunk.len();
        } else {
            line.extend_from_slice(chunk);
        }
        reader.consume(used);
        if found {
            if too_long > 0 {
                return Ok(Read::TooLong(line, too_long));
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Read::Line(line));
        }
    }
}

async fn read_stdout<R: AsyncBufRead + Unpin>(
    mut reader: R,
    generation: u64,
    events: mpsc::Sender<ChildEvent>,
) {
    loop {
        let event = match read_line(&mut reader, MAX_LINE).await {
            Ok(Read::Line(line)) if jsonrpc::is_blank(&line) => continue,
            Ok(Read::Line(line)) => ChildEvent::Line(generation, Bytes::from(line)),
            Ok(Read::TooLong(prefix, len)) => {
                ChildEvent::TooLong(generation, Bytes::from(prefix), len)
            }
            Ok(Read::Eof) | Err(_) => {
                let _ = events.send(ChildEvent::Eof(generation)).await;
                return;
            }
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

async fn read_stderr<R: AsyncBufRead + Unpin>(
    mut reader: R,
    generation: u64,
    events: mpsc::Sender<ChildEvent>,
) {
    loop {
        let line = match read_line(&mut reader, MAX_STDERR_LINE).await {
            Ok(Read::Line(line)) => line,
            Ok(Read::TooLong(prefix, _)) => prefix,
            Ok(Read::Eof) | Err(_) => return,
        };
        let text: String = String::from_utf8_lossy(&line)
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        if text.trim().is_empty() {
            continue;
        }
        if events
            .send(ChildEvent::Stderr(generation, text))
            .await
            .is_err()
        {
            return;
        }
    }
}
