//! The relay loop: one `select!` over the editor's stdin, the hub connection, the reconnect
//! attempt, the initial connect deadline and the parent process.
//!
//! [`Relay`] owns all mutable state (the hub link, the requests in flight, the `initialize` line
//! kept for resume) and no other task touches it.
//! While the hub is unreachable the loop keeps reading the editor and answers every request at
//! once with a JSON-RPC error, and it never waits on the hub for anything but the next frame.
//!
//! The loop never blocks on a write. A line that finds its writer's queue full is parked
//! (`to_hub`, `to_editor`) and the loop stops reading only the side that produces more of the
//! same: with a line parked for the hub it stops reading the editor, with lines parked for the
//! editor it stops reading the hub (and the editor, whose bad lines are answered directly). It
//! keeps reading the other side, so an editor that pipelines thousands of requests and a hub
//! that answers them can never each wait for the other to read (both socket buffers full, both
//! processes idle).

use crate::autostart;
use crate::conn::{self, Attempt, Backoff, Connected, HubConn, Unavailable};
use crate::editor::{self, Classified};
use crate::line::{self, Input, LineReader};
use crate::writers;
use bytes::Bytes;
use exai_ipc::{AutostartLock, Endpoint};
use exai_proto::jsonrpc::{self, ErrorCode, Id};
use exai_proto::{ClientMsg, DecodeError, Frame, Hello, HubMsg, Resume, SessionId};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Longest wait between background reconnect attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Longest wait between attempts while the editor is still held back.
const MAX_INITIAL_DELAY: Duration = Duration::from_millis(500);
/// Shortest time a connected hub gets to answer `Hello`.
const MIN_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a link must have lived for its loss to restart the backoff from zero.
const STABLE_LINK: Duration = Duration::from_secs(2);
/// How long leaving may take: `Goodbye` to the hub, then the last lines to stdout.
const EXIT_FLUSH_BUDGET: Duration = Duration::from_millis(500);

/// What the relay needs to know, from flags and the environment.
pub struct Settings {
    /// The wrapped server this shim stands for (`-- COMMAND ...`); `None`: the EXAI daemon.
    pub server: Option<exai_proto::ServerSpec>,
    /// Where the hub listens.
    pub endpoint: Endpoint,
    /// The user's label for this session.
    pub name: Option<String>,
    /// How long the editor's input is held back while the first connection is attempted.
    pub connect_timeout: Duration,
    /// The longest line accepted from the editor.
    pub max_line_bytes: usize,
    /// The parent process (the editor) to watch, when known.
    pub parent_pid: Option<u32>,
    /// What to start when no hub answers at start-up, if the user asked for that.
    pub autostart: Option<autostart::Plan>,
}

/// Why the relay ended normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The editor closed stdin.
    StdinClosed,
    /// The parent process exited.
    ParentExited,
    /// Stdout broke: nobody reads the shim any more.
    StdoutClosed,
}

impl Outcome {
    fn goodbye_reason(self) -> &'static str {
        match self {
            Outcome::StdinClosed => "stdin closed",
            Outcome::ParentExited => "parent exited",
            Outcome::StdoutClosed => "stdout closed",
        }
    }
}

/// Runs the shim until the editor leaves. The only error is a failure to read stdin.
pub async fn run(settings: Settings) -> std::io::Result<Outcome> {
    let (out, out_queue) = mpsc::channel(writers::QUEUE_LEN);
    let mut stdout_task = Some(tokio::spawn(writers::write_lines(
        exai_ipc::async_stdout(),
        out_queue,
    )));
    let mut reader = LineReader::new(exai_ipc::async_stdin(), settings.max_line_bytes);
    let parent_pid = settings.parent_pid.filter(|&pid| pid > 1);
    let deadline = Instant::now() + settings.connect_timeout;
    let parent_exit = async move {
        match parent_pid {
            Some(pid) => exai_ipc::wait_for_exit(pid).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(parent_exit);

    let mut relay = Relay::new(settings, out, deadline);
    let mut phase = Phase::Starting;

    let outcome = loop {
        let starting = phase == Phase::Starting;
        let read_hub = relay.to_editor.is_empty();
        let read_editor = !starting && relay.to_editor.is_empty() && relay.to_hub.is_none();
        let hub_room = relay
            .to_hub
            .as_ref()
            .and(relay.hub.link())
            .map(|link| link.queue.clone());
        let editor_room = (!relay.to_editor.is_empty()).then(|| relay.out.clone());
        let event = tokio::select! {
            () = &mut parent_exit => Event::ParentExited,
            _ = maybe(stdout_task.as_mut()) => Event::StdoutClosed,
            permit = maybe(editor_room.as_ref().map(|out| Box::pin(out.reserve()))) => Event::EditorRoom(permit.is_ok()),
            permit = maybe(hub_room.as_ref().map(|queue| Box::pin(queue.reserve()))) => Event::HubRoom(permit.is_ok()),
            event = relay.hub.next_event(read_hub) => event,
            () = tokio::time::sleep_until(deadline), if starting => Event::Deadline,
            input = reader.next(), if read_editor => Event::Editor(input),
        };
        let step = match event {
            Event::ParentExited => Step::Exit(Outcome::ParentExited),
            Event::StdoutClosed => {
                stdout_task = None;
                Step::Exit(Outcome::StdoutClosed)
            }
            Event::EditorRoom(true) => relay.flush_to_editor(),
            Event::EditorRoom(false) => Step::Exit(Outcome::StdoutClosed),
            Event::HubRoom(true) => relay.flush_to_hub().await,
            Event::HubRoom(false) => {
                relay
                    .lose(Unavailable::Lost("writing to the hub failed".to_owned()))
                    .await
            }
            Event::Hub(frame) => relay.on_hub_frame(frame).await,
            Event::Attempt(result) => {
                match &result {
                    Ok(_) => phase = Phase::Running,
                    // Starting a hub failed for good: hold the editor back no longer, it gets
                    // the reason at once.
                    Err(Unavailable::Autostart(_)) if phase == Phase::Starting => {
                        phase = Phase::Running;
                        relay.backoff.set_max(MAX_RETRY_DELAY);
                    }
                    Err(_) => {}
                }
                relay.on_attempt(result, phase).await
            }
            Event::Deadline => {
                phase = Phase::Running;
                relay.backoff.set_max(MAX_RETRY_DELAY);
                // A running autostart reports its own outcome in a moment; say nothing first.
                if let HubLink::Down {
                    why,
                    autostarting: false,
                    ..
                } = &relay.hub
                {
                    relay.report(why.clone());
                }
                Step::Continue
            }
            Event::Editor(Ok(Some(input))) => relay.on_editor_input(input).await,
            Event::Editor(Ok(None)) => Step::Exit(Outcome::StdinClosed),
            Event::Editor(Err(error)) => {
                relay
                    .leave(Outcome::StdinClosed.goodbye_reason(), stdout_task)
                    .await;
                return Err(error);
            }
        };
        if let Step::Exit(outcome) = step {
            break outcome;
        }
    };
    tracing::debug!(?outcome, "leaving");
    relay.leave(outcome.goodbye_reason(), stdout_task).await;
    Ok(outcome)
}

/// Polls an optional future; a missing one never completes.
async fn maybe<F: Future + Unpin>(future: Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// Something the loop woke up for.
enum Event {
    ParentExited,
    StdoutClosed,
    /// The stdout queue has room (`false`: it closed).
    EditorRoom(bool),
    /// The hub queue has room (`false`: it closed).
    HubRoom(bool),
    Hub(Option<Result<Frame, DecodeError>>),
    Attempt(Result<Connected, Unavailable>),
    Deadline,
    Editor(std::io::Result<Option<Input>>),
}

/// What the loop does after handling an event.
enum Step {
    Continue,
    Exit(Outcome),
}

/// Whether the editor is still held back while the first connection is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Until the first connection, a failed autostart or the connect timeout: the editor's
    /// input waits, so its first request does not fail only because the hub is slow to answer.
    Starting,
    /// From then on every request is answered at once, by the hub or with the reason it cannot.
    Running,
}

/// Where the relay stands with the hub: exactly one of a welcomed link or an attempt under way.
enum HubLink {
    /// Welcomed: lines flow both ways.
    Up(Link),
    /// Not connected: why, and the attempt under way (an autostart one, or a plain connect).
    Down {
        why: Unavailable,
        attempt: Attempt,
        autostarting: bool,
    },
}

impl HubLink {
    fn link(&self) -> Option<&Link> {
        match self {
            HubLink::Up(link) => Some(link),
            HubLink::Down { .. } => None,
        }
    }

    /// The next thing the hub side has to say: a frame (only when `read`, so answers can wait
    /// for room towards the editor) or the attempt's outcome.
    async fn next_event(&mut self, read: bool) -> Event {
        match self {
            HubLink::Up(link) if read => Event::Hub(link.frames.next().await),
            HubLink::Up(_) => std::future::pending().await,
            HubLink::Down { attempt, .. } => Event::Attempt(attempt.await),
        }
    }
}

/// A live, welcomed connection to the hub.
struct Link {
    /// When the handshake completed; a link that dies young does not reset the backoff.
    since: Instant,
    frames: SplitStream<HubConn>,
    queue: mpsc::Sender<Frame>,
    writer: JoinHandle<()>,
}

/// The relay's state; see the module docs.
struct Relay {
    endpoint: Rc<Endpoint>,
    hello: Hello,
    handshake_timeout: Duration,
    max_line_bytes: usize,
    out: mpsc::Sender<Bytes>,
    hub: HubLink,
    backoff: Backoff,
    /// The last state logged at warn, so each change is logged once.
    reported: Option<Unavailable>,
    session_id: Option<SessionId>,
    /// The hub's secret for `session_id`, presented when resuming it.
    resume_secret: Option<String>,
    /// The editor's most recent `initialize` request, replayed on resume.
    initialize: Option<Bytes>,
    /// Raw JSON ids of editor requests the hub has not answered yet.
    in_flight: HashSet<Id>,
    /// An editor line waiting for room in the hub queue; the editor is not read meanwhile.
    to_hub: Option<Bytes>,
    /// Lines waiting for room in the stdout queue; neither side is read meanwhile.
    to_editor: VecDeque<Bytes>,
    /// What to start if no hub answers at start-up; taken by the one try.
    autostart: Option<autostart::Plan>,
    /// The end of the start-up phase (the connect timeout).
    deadline: Instant,
}

impl Relay {
    fn new(settings: Settings, out: mpsc::Sender<Bytes>, deadline: Instant) -> Relay {
        // The hub refuses a hello over its limits; what the user or the OS gave is trimmed.
        let name = settings.name.map(|mut name| {
            if name.len() > exai_proto::limits::NAME {
                tracing::warn!(
                    len = name.len(),
                    limit = exai_proto::limits::NAME,
                    "the session name is too long; sending the first part"
                );
                exai_proto::truncate_to(&mut name, exai_proto::limits::NAME);
            }
            name
        });
        let cwd = std::env::current_dir()
            .ok()
            .map(|dir| dir.to_string_lossy().into_owned())
            .filter(|cwd| cwd.len() <= exai_proto::limits::CWD);
        let hello = Hello {
            protocol_version: exai_proto::PROTOCOL_VERSION,
            role: exai_proto::Role::Shim,
            pid: std::process::id(),
            parent_pid: settings.parent_pid,
            cwd,
            name,
            resume: None,
            server: settings.server.map(Box::new),
        };
        let endpoint = Rc::new(settings.endpoint);
        let handshake_timeout = settings.connect_timeout.max(MIN_HANDSHAKE_TIMEOUT);
        let first = conn::attempt(
            Duration::ZERO,
            endpoint.clone(),
            hello.clone(),
            handshake_timeout,
        );
        Relay {
            endpoint,
            hello,
            handshake_timeout,
            max_line_bytes: settings.max_line_bytes,
            out,
            hub: HubLink::Down {
                why: Unavailable::Pending,
                attempt: first,
                autostarting: false,
            },
            backoff: Backoff::new(MAX_INITIAL_DELAY),
            reported: None,
            session_id: None,
            resume_secret: None,
            initialize: None,
            in_flight: HashSet::new(),
            to_hub: None,
            to_editor: VecDeque::new(),
            autostart: settings.autostart,
            deadline,
        }
    }

    /// Starts a connect attempt; a known session is resumed with the editor's `initialize`.
    fn start_attempt(&self, delay: Duration) -> Attempt {
        conn::attempt(
            delay,
            self.endpoint.clone(),
            self.next_hello(),
            self.handshake_timeout,
        )
    }

    /// The `Hello` for the next attempt.
    fn next_hello(&self) -> Hello {
        let mut hello = self.hello.clone();
        hello.resume = self.session_id.map(|session_id| Resume {
            session_id,
            // A line too large to replay is left out; the hub then learns the client's name
            // from its next request.
            initialize: self
                .initialize
                .as_ref()
                .filter(|line| line.len() <= exai_proto::limits::INITIALIZE)
                .map(|line| String::from_utf8_lossy(line).into_owned()),
            secret: self.resume_secret.clone(),
        });
        hello
    }

    /// Starts the autostart attempt if the user asked for one and no other process is starting
    /// a hub; `None` means carry on retrying as usual.
    fn try_autostart(&mut self) -> Option<Attempt> {
        self.autostart.as_ref()?;
        match AutostartLock::try_acquire(&self.endpoint) {
            Ok(lock) => {
                let plan = self.autostart.take()?;
                Some(autostart::attempt(
                    plan,
                    lock,
                    self.endpoint.clone(),
                    self.next_hello(),
                    self.handshake_timeout,
                    self.deadline,
                ))
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                tracing::debug!("autostart: another process is starting the hub; waiting for it");
                None
            }
            Err(error) => {
                tracing::warn!(
                    "autostart: cannot take the autostart lock: {error}; not starting a hub"
                );
                self.autostart = None;
                None
            }
        }
    }

    async fn on_attempt(&mut self, result: Result<Connected, Unavailable>, phase: Phase) -> Step {
        match result {
            Ok(Connected {
                conn,
                session_id,
                resume_secret,
            }) => {
                let (sink, frames) = conn.split();
                let (queue, frame_queue) = mpsc::channel(writers::QUEUE_LEN);
                let writer = tokio::spawn(writers::write_frames(sink, frame_queue));
                self.hub = HubLink::Up(Link {
                    since: Instant::now(),
                    frames,
                    queue,
                    writer,
                });
                let resumed = self.session_id.is_some();
                self.session_id = Some(session_id);
                self.resume_secret = resume_secret;
                if self.reported.take().is_some() {
                    tracing::warn!(endpoint = %self.endpoint, session = %session_id, resumed, "connected to the EXAI hub again");
                } else {
                    tracing::info!(endpoint = %self.endpoint, session = %session_id, resumed, "connected to the EXAI hub");
                }
            }
            Err(reason) => {
                tracing::debug!(?reason, "connect attempt failed");
                let previous = match &self.hub {
                    HubLink::Down { why, .. } => why.clone(),
                    HubLink::Up(_) => Unavailable::Pending,
                };
                if phase == Phase::Starting
                    && reason == Unavailable::NotRunning
                    && let Some(attempt) = self.try_autostart()
                {
                    self.hub = HubLink::Down {
                        why: previous,
                        attempt,
                        autostarting: true,
                    };
                    return Step::Continue;
                }
                // Why starting a hub failed explains "not running" better than the bare state.
                let reason = match (&reason, previous) {
                    (Unavailable::NotRunning, autostart @ Unavailable::Autostart(_)) => autostart,
                    _ => reason,
                };
                if phase == Phase::Running {
                    self.report(reason.clone());
                }
                let delay = self.backoff.next_delay();
                self.hub = HubLink::Down {
                    attempt: self.start_attempt(delay),
                    why: reason,
                    autostarting: false,
                };
            }
        }
        Step::Continue
    }

    /// Logs a new unavailable state at warn, once per change of kind.
    fn report(&mut self, reason: Unavailable) {
        if self
            .reported
            .as_ref()
            .is_some_and(|reported| reported.same_kind(&reason))
        {
            return;
        }
        tracing::warn!("{}", reason.message(&self.endpoint));
        self.reported = Some(reason);
    }

    async fn on_hub_frame(&mut self, frame: Option<Result<Frame, DecodeError>>) -> Step {
        match frame {
            Some(Ok(Frame::Line(line))) => {
                // Skip the parse when nothing waits for an answer.
                if !self.in_flight.is_empty()
                    && let Some(id) = editor::answered_id(&line)
                {
                    self.in_flight.remove(id);
                }
                self.emit(line)
            }
            Some(Ok(Frame::Control(payload))) => match Frame::decode_control::<HubMsg>(&payload) {
                Ok(HubMsg::Shutdown { reason } | HubMsg::Rejected { reason }) => {
                    self.lose(Unavailable::Stopped(reason)).await
                }
                Ok(other) => {
                    tracing::debug!(?other, "ignoring a control message from the hub");
                    Step::Continue
                }
                Err(error) => {
                    tracing::warn!(%error, "ignoring a malformed control message from the hub");
                    Step::Continue
                }
            },
            Some(Ok(Frame::Unknown { kind })) => {
                tracing::debug!(kind, "ignoring a frame of unknown kind from the hub");
                Step::Continue
            }
            Some(Err(error)) => self.lose(Unavailable::Lost(error.to_string())).await,
            None => {
                self.lose(Unavailable::Lost("the connection closed".to_owned()))
                    .await
            }
        }
    }

    /// Drops the link, fails every request in flight and starts reconnecting.
    async fn lose(&mut self, reason: Unavailable) -> Step {
        // Reconnect at once after a link that lived a while; a hub that accepts and then drops
        // every connection at once gets the growing backoff instead of a busy loop.
        let mut delay = self.backoff.next_delay();
        // A line parked for the dead link is a request in flight: it is failed below.
        self.to_hub = None;
        if let HubLink::Up(link) = &self.hub {
            link.writer.abort();
            if link.since.elapsed() >= STABLE_LINK {
                self.backoff = Backoff::new(MAX_RETRY_DELAY);
                delay = Duration::ZERO;
            }
        }
        let message = reason.message(&self.endpoint);
        self.report(reason.clone());
        self.hub = HubLink::Down {
            attempt: self.start_attempt(delay),
            why: reason,
            autostarting: false,
        };
        let ids: Vec<Id> = self.in_flight.drain().collect();
        for id in ids {
            let line = jsonrpc::error_line(Some(id.as_raw()), ErrorCode::Unavailable, &message);
            if let Step::Exit(outcome) = self.emit(line) {
                return Step::Exit(outcome);
            }
        }
        Step::Continue
    }

    async fn on_editor_input(&mut self, input: Input) -> Step {
        let line = match input {
            Input::Line(line) => line,
            Input::TooLong { len, prefix } => {
                tracing::warn!(
                    len,
                    limit = self.max_line_bytes,
                    "rejecting an over-long line"
                );
                let id = jsonrpc::sniff_id(&prefix);
                return self.emit(line::too_large(id, len, self.max_line_bytes));
            }
        };
        match editor::classify(&line) {
            Classified::Empty => Step::Continue,
            Classified::Reply(error) => self.emit(error),
            Classified::Request { id, initialize } => {
                if initialize {
                    self.initialize = Some(line.clone());
                }
                if let HubLink::Down { why, .. } = &self.hub {
                    let message = why.message(&self.endpoint);
                    let error =
                        jsonrpc::error_line(Some(id.as_raw()), ErrorCode::Unavailable, &message);
                    return self.emit(error);
                }
                self.in_flight.insert(id);
                self.forward(line).await
            }
            Classified::Cancel { request_id } => {
                if let Some(request_id) = request_id {
                    self.in_flight.remove(request_id.as_str());
                }
                self.forward_or_drop(line).await
            }
            Classified::Other => self.forward_or_drop(line).await,
            Classified::Batch => {
                let message = match &self.hub {
                    HubLink::Up(_) => return self.forward(line).await,
                    HubLink::Down { why, .. } => why.message(&self.endpoint),
                };
                match editor::batch_errors(&line, &message) {
                    Some(errors) => self.emit(errors),
                    None => Step::Continue,
                }
            }
        }
    }

    /// Forwards a notification or response, or drops it with a log line while disconnected.
    async fn forward_or_drop(&mut self, line: Bytes) -> Step {
        if self.hub.link().is_none() {
            tracing::info!("dropping a notification or response: the EXAI hub is unavailable");
            return Step::Continue;
        }
        self.forward(line).await
    }

    /// Queues one editor line for the hub, or parks it until the queue has room.
    async fn forward(&mut self, line: Bytes) -> Step {
        let Some(link) = self.hub.link() else {
            return Step::Continue;
        };
        match link.queue.try_send(Frame::Line(line)) {
            Ok(()) => Step::Continue,
            Err(mpsc::error::TrySendError::Full(Frame::Line(line))) => {
                self.to_hub = Some(line);
                Step::Continue
            }
            Err(_) => {
                self.lose(Unavailable::Lost("writing to the hub failed".to_owned()))
                    .await
            }
        }
    }

    /// The hub queue has room again: sends the parked line.
    async fn flush_to_hub(&mut self) -> Step {
        match self.to_hub.take() {
            Some(line) => self.forward(line).await,
            None => Step::Continue,
        }
    }

    /// Queues one line for stdout, or parks it behind those already waiting.
    fn emit(&mut self, line: Bytes) -> Step {
        if !self.to_editor.is_empty() {
            self.to_editor.push_back(line);
            return Step::Continue;
        }
        match self.out.try_send(line) {
            Ok(()) => Step::Continue,
            Err(mpsc::error::TrySendError::Full(line)) => {
                self.to_editor.push_back(line);
                Step::Continue
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Step::Exit(Outcome::StdoutClosed),
        }
    }

    /// The stdout queue has room again: sends as many parked lines as fit.
    fn flush_to_editor(&mut self) -> Step {
        while let Some(line) = self.to_editor.pop_front() {
            match self.out.try_send(line) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(line)) => {
                    self.to_editor.push_front(line);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    return Step::Exit(Outcome::StdoutClosed);
                }
            }
        }
        Step::Continue
    }

    /// Says goodbye to the hub and flushes stdout, within a fixed budget.
    async fn leave(mut self, reason: &str, stdout_task: Option<JoinHandle<std::io::Result<()>>>) {
        let budget = Instant::now() + EXIT_FLUSH_BUDGET;
        if let HubLink::Up(link) = self.hub {
            let goodbye = Frame::control(&ClientMsg::Goodbye {
                reason: Some(reason.to_owned()),
            });
            let Link { queue, writer, .. } = link;
            let said = tokio::time::timeout_at(budget, async move {
                let _ = queue.send(goodbye).await;
                drop(queue);
                let _ = writer.await;
            })
            .await;
            if said.is_err() {
                tracing::debug!("the hub did not take the goodbye in time");
            }
        }
        // What was answered but not yet written still goes out, within the same budget.
        let parked: Vec<Bytes> = self.to_editor.drain(..).collect();
        let out = self.out;
        let flushed = tokio::time::timeout_at(budget, async move {
            for line in parked {
                if out.send(line).await.is_err() {
                    break;
                }
            }
        })
        .await;
        if flushed.is_err() {
            tracing::debug!("parked lines did not reach stdout in time");
        }
        if let Some(task) = stdout_task
            && tokio::time::timeout_at(budget, task).await.is_err()
        {
            tracing::debug!("stdout did not drain in time");
        }
    }
}
