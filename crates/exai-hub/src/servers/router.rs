//! The routing of one server instance among its windows: a pure state machine from lines (a
//! window's, the server's) to [`Action`]s. The instance task ([`super::instance`]) owns it,
//! performs the actions and does all I/O; the unit tests drive it line by line.
//!
//! The rules (README, "Share any MCP server"):
//! - The hub does its own `initialize` with the server and answers each window's `initialize`
//!   itself from that result, in the window's negotiated version (never newer than the
//!   server's); a window's `initialize` is never forwarded. `ping` is answered by the hub both
//!   ways.
//! - A window's request goes up with the hub's own integer id (and, when it asked for progress,
//!   a fresh progress token, the same integer); the answer comes back with the window's raw id,
//!   type and value exact. Ids and tokens are edited in place in the line; nothing else in it
//!   is touched, so prompts, resources, completion, cursors, tasks and `_meta` pass intact.
//! - `notifications/cancelled` from a window names the hub's id upstream; only that window's
//!   call can be cancelled. A window that goes away cancels its calls.
//! - `*/list_changed` from the server goes to every window that completed `initialize`. The hub
//!   lists tools, prompts and resources itself (every page) after each `initialize` and after
//!   each `list_changed`, keeping a digest of each list; after a restart it sends
//!   `notifications/<kind>/list_changed` only for the lists that differ from before the restart
//!   (or that it could not list), and only to windows whose handshake answer offered that kind.
//!   `resources/updated`
//!   only to the windows subscribed to that URI (subscriptions counted per URI toward the
//!   server); log messages to each window whose own `logging/setLevel` admits them (the server
//!   is set to the most verbose level any window asked for; a window that never set one gets
//!   what the server sends).
//! - Tasks (2025-11-25) belong to the window whose request created them (a result with
//!   `task.taskId`): `tasks/get`, `tasks/result` and `tasks/cancel` naming another window's task
//!   (or one the hub never saw created) are answered `-32602` "task not found" by the hub and
//!   never reach the server, `tasks/list` answers are cut to the window's own tasks, and
//!   `notifications/tasks/status` goes only to the task's window.
//! - Server-to-client requests (`sampling/createMessage`, `elicitation/create`) go to the window
//!   that has a request in flight on this instance and declared the capability, the most recent
//!   one if several, with an id of the hub's; otherwise the server gets an error. `roots/list`
//!   is answered by the hub with the windows' working directories as `file://` roots (policy
//!   `shared`: all of them; `workspace`: the one), except under policy `window`, where it goes
//!   to the window when it declared `roots`.
//! - 2026-07-28 windows ([`stateless`]): `server/discover` is answered from the server's
//!   `initialize` result; each request's `_meta` gives its version (`-32022` for one the hub
//!   does not speak), client and capabilities; results get the members that version requires
//!   and the server left out; a server request for such a call becomes an `input_required`
//!   answer, and the window's retry answers the server (a call that owes its retry takes only
//!   the server requests that name it while another call can, at most 16 wait for one retry,
//!   and a call not retried within the input timeout ends); log messages only at the level a
//!   request in flight asked for, and no unsolicited notifications.

use crate::mcp::{self, Version};
use bytes::Bytes;
use exai_proto::jsonrpc::{self, ErrorCode, Id, Message, Notification, RawId, Request, Response};
use exai_proto::{SessionId, SharePolicy};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::{Duration, Instant};

/// What the instance task does next.
#[derive(Debug)]
pub(crate) enum Action {
    /// A line to the server's stdin.
    Upstream(Bytes),
    /// A line to one window.
    Window(SessionId, Bytes),
    /// A window's request went up (for the registry's in-flight list).
    Started {
        window: SessionId,
        key: u64,
        label: String,
    },
    /// A window's request ended.
    Finished {
        window: SessionId,
        key: u64,
        method: String,
        started: Instant,
        error: Option<String>,
        cancelled: bool,
    },
    /// A window said who it is in `initialize`.
    Identified {
        window: SessionId,
        client: Option<(String, String)>,
        version: Version,
    },
    /// The hub's own `initialize` with the server completed (`Ok`) or failed.
    Initialized(Result<(), String>),
}

/// MCP's log levels, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl Level {
    const ALL: [(&'static str, Level); 8] = [
        ("debug", Level::Debug),
        ("info", Level::Info),
        ("notice", Level::Notice),
        ("warning", Level::Warning),
        ("error", Level::Error),
        ("critical", Level::Critical),
        ("alert", Level::Alert),
        ("emergency", Level::Emergency),
    ];

    pub(crate) fn parse(text: &str) -> Option<Level> {
        Level::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, level)| *level)
    }

    fn as_str(self) -> &'static str {
        Level::ALL
            .iter()
            .find(|(_, level)| *level == self)
            .map_or("info", |(name, _)| name)
    }
}

/// Client capabilities the hub routes server requests by.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caps {
    sampling: bool,
    elicitation: bool,
    roots: bool,
}

impl Caps {
    /// What a `ClientCapabilities` object declares.
    pub(crate) fn of(capabilities: &serde_json::Value) -> Caps {
        Caps {
            sampling: capabilities.get("sampling").is_some(),
            elicitation: capabilities.get("elicitation").is_some(),
            roots: capabilities.get("roots").is_some(),
        }
    }
}

#[derive(Debug)]
struct Window {
    cwd: Option<String>,
    initialized: bool,
    /// The version of the window's `initialize`, else the one its latest request's `_meta`
    /// named (a 2026-07-28 window has no handshake).
    version: Option<Version>,
    /// Who the window said it is (`initialize`, or a stateless request's `_meta`).
    client: Option<(String, String)>,
    caps: Caps,
    level: Option<Level>,
    /// The lists the server offered in this window's handshake answer (bits of [`ListKind`]).
    lists: u8,
}

/// The lists a server can say changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    Tools,
    Prompts,
    Resources,
}

impl ListKind {
    const ALL: [ListKind; 3] = [ListKind::Tools, ListKind::Prompts, ListKind::Resources];

    fn name(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Prompts => "prompts",
            ListKind::Resources => "resources",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    fn from_name(name: &str) -> Option<ListKind> {
        ListKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The kinds a capabilities object offers.
    fn offered(capabilities: &serde_json::Value) -> u8 {
        ListKind::ALL
            .into_iter()
            .filter(|kind| capabilities.get(kind.name()).is_some())
            .fold(0, |bits, kind| bits | kind.bit())
    }
}

/// Pages a hub listing follows before it gives up on a list (and counts it as unknown).
const MAX_LIST_PAGES: u32 = 100;

/// What the hub knows of one of the server's lists.
#[derive(Debug, Default)]
struct ListState {
    /// A digest of the whole list as the hub last listed it (`None`: not known).
    digest: Option<u64>,
    /// The listing under way: its generation, pages so far and the digest of their items.
    listing: Option<(u64, u32, std::collections::hash_map::DefaultHasher)>,
    /// After a restart, until the new list is known: the digest from before it, to compare
    /// with (`Some(None)`: unknown before, so any new list counts as changed).
    before: Option<Option<u64>>,
}

#[derive(Debug)]
enum Pending {
    Window {
        window: SessionId,
        id: Id,
        /// The window's progress token, verbatim, when it asked for progress.
        progress: Option<Box<str>>,
        method: String,
        started: Instant,
        /// The version the request is answered in.
        version: Version,
        /// The capabilities the request itself declared (2026-07-28: per request).
        caps: Option<Caps>,
        /// The log level the request opted in to (2026-07-28: per request).
        log: Option<Level>,
        /// Server requests handed to a 2026-07-28 window as `input_required` (none: `None`).
        input: Option<Box<stateless::Input>>,
    },
    Hub(HubRequest),
}

#[derive(Debug)]
enum HubRequest {
    Initialize,
    Subscribe(String),
    Unsubscribe(String),
    SetLevel,
    /// One page of a list, for the listing of that generation.
    List {
        kind: ListKind,
        generation: u64,
        cursor: Option<String>,
    },
}

/// What the server said in the hub's `initialize`.
#[derive(Debug, Clone)]
struct ServerInit {
    version: Option<Version>,
    capabilities: String,
    server_info: String,
    instructions: Option<String>,
}

/// The routing state of one instance.
pub(crate) struct Router {
    /// The server's name, for error messages.
    name: String,
    policy: SharePolicy,
    windows: BTreeMap<SessionId, Window>,
    /// Requests sent up, by the hub's id.
    pending: HashMap<u64, Pending>,
    next_id: u64,
    /// Server-to-client requests handed to a window: (window, the hub's id) → the server's id.
    server_requests: HashMap<(SessionId, u64), Id>,
    next_server_request: u64,
    subscriptions: BTreeMap<String, BTreeSet<SessionId>>,
    upstream_level: Option<Level>,
    init: Option<ServerInit>,
    /// The server was initialized before: the next `initialize` is a restart.
    restarted: bool,
    /// The hub's own view of the server's lists, by [`ListKind`].
    lists: [ListState; 3],
    /// Tasks (2025-11-25) by id: the window whose request created each.
    tasks: HashMap<String, SessionId>,
    next_listing: u64,
    /// How long a call answered `input_required` waits for its window's retry.
    input_timeout: Duration,
    /// Parked calls' deadlines, earliest first: (deadline, call key). An entry whose call is
    /// no longer parked with that deadline is stale and dropped when it reaches the top, so
    /// finding the next deadline costs nothing per message however many calls are in flight.
    input_deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
}

/// How long a call answered `input_required` waits for its window's retry unless the instance
/// says otherwise (the servers' queue timeout, `ServersConfig::queue_timeout`).
const INPUT_TIMEOUT: Duration = Duration::from_secs(60);

/// `serverInfo` for a server whose `initialize` result named none.
const UNKNOWN_SERVER_INFO: &str = r#"{"name":"unknown","version":"0"}"#;

/// What a window's request asked for, from its `_meta` (and the window's version).
#[derive(Debug, Clone, Copy)]
struct Asked {
    version: Version,
    caps: Option<Caps>,
    log: Option<Level>,
}

/// The hub's client capabilities toward a server: what it can route.
const HUB_CAPABILITIES: &str = r#"{"roots":{"listChanged":true},"sampling":{},"elicitation":{}}"#;

impl Router {
    pub(crate) fn new(name: String, policy: SharePolicy) -> Router {
        Router {
            name,
            policy,
            windows: BTreeMap::new(),
            pending: HashMap::new(),
            next_id: 0,
            server_requests: HashMap::new(),
            next_server_request: 0,
            subscriptions: BTreeMap::new(),
            upstream_level: None,
            init: None,
            restarted: false,
            lists: Default::default(),
            next_listing: 0,
            tasks: HashMap::new(),
            input_timeout: INPUT_TIMEOUT,
            input_deadlines: BinaryHeap::new(),
        }
    }

    /// How long a call answered `input_required` waits for its window's retry.
    pub(crate) fn with_input_timeout(mut self, timeout: Duration) -> Router {
        self.input_timeout = timeout;
        self
    }

    /// The earliest time a call answered `input_required` stops waiting for its window's retry
    /// (for the instance's timer: then [`Router::expire_input`]).
    pub(crate) fn input_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, key))) = self.input_deadlines.peek() {
            if self.parked_until(key) == Some(at) {
                return Some(at);
            }
            self.input_deadlines.pop();
        }
        None
    }

    /// Call `key`'s deadline for its window's retry, while it is parked.
    fn parked_until(&self, key: u64) -> Option<Instant> {
        match self.pending.get(&key) {
            Some(Pending::Window { input, .. }) => stateless::Input::deadline(input.as_deref()),
            _ => None,
        }
    }

    /// Remembers that parked call `key` waits for its window's retry until `at`.
    pub(super) fn parked_at(&mut self, key: u64, at: Instant) {
        self.input_deadlines.push(Reverse((at, key)));
    }

    /// The calls answered `input_required` whose window did not retry by `now`: the server's
    /// requests they owe fail, the calls are cancelled upstream, and a retry that comes later
    /// is told the call ended.
    pub(crate) fn expire_input(&mut self, now: Instant) -> Vec<Action> {
        let mut expired = Vec::new();
        while let Some(at) = self.input_deadline() {
            if at > now {
                break;
            }
            if let Some(Reverse((_, key))) = self.input_deadlines.pop() {
                expired.push(key);
            }
        }
        let mut actions = Vec::new();
        for key in expired {
            let Some(Pending::Window {
                window,
                method,
                started,
                input,
                ..
            }) = self.pending.remove(&key)
            else {
                continue;
            };
            let message = format!(
                "the editor window did not answer within {} s (hub: {})",
                self.input_timeout.as_secs(),
                self.name
            );
            let answered = input.as_deref().is_some_and(stateless::Input::answered);
            actions.extend(owed_errors(input, &message));
            if !answered {
                actions.push(Action::Upstream(cancelled_line(
                    &key.to_string(),
                    "the editor window did not retry the request the hub answered input_required",
                )));
            }
            tracing::warn!(server = %self.name, %window, method = %method, timeout = ?self.input_timeout, "a 2026-07-28 window did not retry its input_required call in time; the call was cancelled");
            actions.push(Action::Finished {
                window,
                key,
                method,
                started,
                error: Some(message),
                cancelled: false,
            });
        }
        actions
    }

    /// Whether the hub's `initialize` with the running server completed.
    pub(crate) fn is_ready(&self) -> bool {
        self.init.is_some()
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A window starts using this instance.
    pub(crate) fn attach(&mut self, window: SessionId, cwd: Option<String>) {
        self.windows.insert(
            window,
            Window {
                cwd,
                initialized: false,
                version: None,
                client: None,
                caps: Caps::default(),
                level: None,
                lists: 0,
            },
        );
    }

    /// The hub's `initialize` for a freshly started server.
    pub(crate) fn initialize_request(&mut self) -> Bytes {
        let id = self.next_id();
        self.pending
            .insert(id, Pending::Hub(HubRequest::Initialize));
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{{"protocolVersion":"{}","capabilities":{HUB_CAPABILITIES},"clientInfo":{{"name":"exai-hub","title":"EXAI Tray hub","version":"{}"}}}}}}"#,
            Version::LATEST_HANDSHAKE,
            env!("CARGO_PKG_VERSION")
        );
        Bytes::from(line)
    }

    /// A window went away: its calls are cancelled upstream, the server's requests to it fail,
    /// its subscriptions and log level no longer count.
    pub(crate) fn detach(&mut self, window: SessionId) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.windows.remove(&window).is_none() {
            return actions;
        }
        let ours: Vec<u64> = self
            .pending
            .iter()
            .filter(
                |(_, pending)| matches!(pending, Pending::Window { window: w, .. } if *w == window),
            )
            .map(|(id, _)| *id)
            .collect();
        for upstream_id in ours {
            if let Some(Pending::Window {
                method,
                started,
                input,
                ..
            }) = self.pending.remove(&upstream_id)
            {
                if self.is_ready() {
                    // What the server asked the window through `input_required` and it never
                    // answered, then the call itself.
                    let message = format!(
                        "the editor window this request went to closed before answering (hub: {})",
                        self.name
                    );
                    actions.extend(owed_errors(input, &message));
                    actions.push(Action::Upstream(cancelled_line(
                        &upstream_id.to_string(),
                        "the editor window went away",
                    )));
                }
                actions.push(Action::Finished {
                    window,
                    key: upstream_id,
                    method,
                    started,
                    error: None,
                    cancelled: true,
                });
            }
        }
        let asked: Vec<(SessionId, u64)> = self
            .server_requests
            .keys()
            .filter(|(w, _)| *w == window)
            .copied()
            .collect();
        for key in asked {
            if let Some(server_id) = self.server_requests.remove(&key) {
                let message = format!(
                    "the editor window this request went to closed before answering (hub: {})",
                    self.name
                );
                actions.push(Action::Upstream(jsonrpc::error_line(
                    Some(server_id.as_raw()),
                    ErrorCode::Internal,
                    &message,
                )));
            }
        }
        self.tasks.retain(|_, owner| *owner != window);
        let emptied: Vec<String> = self
            .subscriptions
            .iter_mut()
            .filter_map(|(uri, windows)| {
                (windows.remove(&window) && windows.is_empty()).then(|| uri.clone())
            })
            .collect();
        for uri in emptied {
            self.subscriptions.remove(&uri);
            if self.is_ready() {
                actions.push(self.hub_request(HubRequest::Unsubscribe(uri)));
            }
        }
        if let Some(action) = self.reconcile_level() {
            actions.push(action);
        }
        actions
    }

    /// The server is gone (exited, killed, broken): every window request in flight fails now
    /// with `message`; nothing waits for an answer that cannot come.
    pub(crate) fn upstream_lost(&mut self, message: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        for (key, pending) in self.pending.drain() {
            if let Pending::Window {
                window,
                id,
                method,
                started,
                input,
                ..
            } = pending
            {
                // A window that owes a retry had its answer (`input_required`); its retry will
                // find no call.
                if !stateless::Input::parked(input.as_deref()) {
                    actions.push(Action::Window(
                        window,
                        jsonrpc::error_line(Some(id.as_raw()), ErrorCode::ConnectionLost, message),
                    ));
                }
                actions.push(Action::Finished {
                    window,
                    key,
                    method,
                    started,
                    error: Some(message.to_owned()),
                    cancelled: false,
                });
            }
        }
        self.server_requests.clear();
        self.upstream_level = None;
        for list in &mut self.lists {
            list.listing = None;
        }
        // The server's tasks ended with it.
        self.tasks.clear();
        if self.init.take().is_some() {
            self.restarted = true;
        }
        actions
    }

    /// A line from the server's stdout.
    pub(crate) fn upstream_line(&mut self, line: &[u8]) -> Vec<Action> {
        match Message::parse(line) {
            Message::Response(response) => self.upstream_response(&response, line),
            Message::Notification(notification) => self.upstream_notification(&notification, line),
            Message::Request(request) => self.upstream_request(&request, line),
            Message::Batch => {
                tracing::warn!(server = %self.name, "the MCP server sent a JSON-RPC batch; the hub does not route batches and dropped it");
                Vec::new()
            }
            Message::Invalid(invalid) => {
                tracing::warn!(server = %self.name, reason = %invalid.reason, "the MCP server wrote a line that is not JSON-RPC to stdout; dropped");
                Vec::new()
            }
        }
    }

    /// A line from the server over the hub's limit: when its first bytes show the id of a
    /// window's request, that request fails with `message`; anything else is dropped.
    pub(crate) fn upstream_too_long(&mut self, prefix: &[u8], message: &str) -> Vec<Action> {
        let key = jsonrpc::sniff_response_id(prefix).and_then(|id| id.as_str().parse::<u64>().ok());
        if let Some(key) = key
            && let Some(Pending::Window {
                input: Some(input), ..
            }) = self.pending.get_mut(&key)
            && stateless::Input::parked(Some(input))
        {
            // The window owes the retry this error goes to.
            let ours = key.to_string();
            if let Ok(raw) = RawId::new(&ours) {
                input.hold(&jsonrpc::error_line(
                    Some(raw),
                    ErrorCode::Internal,
                    message,
                ));
            }
            return Vec::new();
        }
        match key.and_then(|key| self.pending.remove(&key).map(|pending| (key, pending))) {
            Some((
                key,
                Pending::Window {
                    window,
                    id,
                    method,
                    started,
                    ..
                },
            )) => vec![
                Action::Window(
                    window,
                    jsonrpc::error_line(Some(id.as_raw()), ErrorCode::Internal, message),
                ),
                Action::Finished {
                    window,
                    key,
                    method,
                    started,
                    error: Some(message.to_owned()),
                    cancelled: false,
                },
            ],
            Some((key, other)) => {
                self.pending.insert(key, other);
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    fn upstream_response(&mut self, response: &Response<'_>, line: &[u8]) -> Vec<Action> {
        let Some(key) = response.id.and_then(|id| id.as_str().parse::<u64>().ok()) else {
            tracing::debug!(server = %self.name, "a response from the server to no request of the hub's");
            return Vec::new();
        };
        if let Some(Pending::Window {
            input: Some(input), ..
        }) = self.pending.get_mut(&key)
            && stateless::Input::parked(Some(input))
        {
            // The window owes the retry this answer goes to.
            input.hold(line);
            return Vec::new();
        }
        match self.pending.remove(&key) {
            Some(Pending::Window {
                window,
                id,
                method,
                started,
                version,
                ..
            }) => {
                let error = response.error.map(error_message);
                let Some(raw) = response.id else {
                    return Vec::new();
                };
                let line = match response.result {
                    Some(result) if method == "tasks/list" => self.own_tasks(window, &id, result),
                    Some(result) => {
                        if let Some(task) = created_task(result) {
                            self.tasks.insert(task, window);
                        }
                        if version.is_stateless() {
                            self.stateless_result(line, raw, &id, result, &method)
                        } else {
                            splice(line, &[(raw.as_str(), id.as_str())])
                        }
                    }
                    None => splice(line, &[(raw.as_str(), id.as_str())]),
                };
                vec![
                    Action::Window(window, line),
                    Action::Finished {
                        window,
                        key,
                        method,
                        started,
                        error,
                        cancelled: false,
                    },
                ]
            }
            Some(Pending::Hub(HubRequest::Initialize)) => self.initialized(response),
            Some(Pending::Hub(HubRequest::List {
                kind, generation, ..
            })) => {
                let page = match (response.result, response.error) {
                    (Some(result), None) => Ok(result),
                    (_, Some(error)) => Err(error_message(error)),
                    (None, None) => Err("no result".to_owned()),
                };
                self.listed(kind, generation, page)
            }
            Some(Pending::Hub(request)) => {
                if let Some(error) = response.error {
                    tracing::warn!(server = %self.name, request = ?request, error = %error_message(error), "the MCP server refused a request of the hub's");
                }
                Vec::new()
            }
            None => {
                // Cancelled, or answered for a window that left: nobody waits for it.
                tracing::debug!(server = %self.name, id = key, "a late answer from the server; dropped");
                Vec::new()
            }
        }
    }

    fn initialized(&mut self, response: &Response<'_>) -> Vec<Action> {
        #[derive(Deserialize)]
        struct InitResult<'a> {
            #[serde(rename = "protocolVersion")]
            protocol_version: Cow<'a, str>,
            #[serde(borrow, default)]
            capabilities: Option<&'a RawValue>,
            #[serde(borrow, rename = "serverInfo", default)]
            server_info: Option<&'a RawValue>,
            #[serde(borrow, default)]
            instructions: Option<&'a RawValue>,
        }
        if let Some(error) = response.error {
            let message = format!(
                "the server refused the hub's initialize: {}",
                error_message(error)
            );
            return vec![Action::Initialized(Err(message))];
        }
        let parsed = response
            .result
            .map(|result| serde_json::from_str::<InitResult<'_>>(result.get()));
        let result = match parsed {
            Some(Ok(result)) => result,
            Some(Err(err)) => {
                let message = format!("the server's initialize result is not one: {err}");
                return vec![Action::Initialized(Err(message))];
            }
            None => {
                return vec![Action::Initialized(Err(
                    "the server answered initialize without a result".to_owned(),
                ))];
            }
        };
        let init = ServerInit {
            version: Version::parse(&result.protocol_version),
            capabilities: result
                .capabilities
                .map_or_else(|| "{}".to_owned(), |raw| raw.get().to_owned()),
            server_info: result.server_info.map_or_else(
                || UNKNOWN_SERVER_INFO.to_owned(),
                |raw| raw.get().to_owned(),
            ),
            instructions: result.instructions.map(|raw| raw.get().to_owned()),
        };
        let capabilities: serde_json::Value =
            serde_json::from_str(&init.capabilities).unwrap_or_default();
        self.init = Some(init);
        let mut actions = vec![Action::Upstream(Bytes::from_static(
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        ))];
        let offered = ListKind::offered(&capabilities);
        if self.restarted {
            // Subscriptions and the log level, as the windows had them.
            let uris: Vec<String> = self.subscriptions.keys().cloned().collect();
            for uri in uris {
                actions.push(self.hub_request(HubRequest::Subscribe(uri)));
            }
            if let Some(action) = self.reconcile_level() {
                actions.push(action);
            }
            // Each list is compared with the one from before the restart once it is listed
            // (a comparison from an earlier restart that never completed keeps its older
            // baseline: that is what the windows last knew).
            for kind in ListKind::ALL {
                let list = &mut self.lists[kind as usize];
                if list.before.is_none() {
                    list.before = Some(list.digest);
                }
                if offered & kind.bit() == 0 {
                    // Gone from the restarted server: changed if it was there before.
                    let was = list.before.take().flatten().is_some();
                    list.digest = None;
                    if was {
                        actions.extend(self.list_changed(kind));
                    }
                }
            }
        }
        for kind in ListKind::ALL {
            if offered & kind.bit() != 0 {
                actions.push(self.start_listing(kind));
            }
        }
        actions.push(Action::Initialized(Ok(())));
        actions
    }

    fn upstream_notification(
        &mut self,
        notification: &Notification<'_>,
        line: &[u8],
    ) -> Vec<Action> {
        let params = notification.params.map(RawValue::get).unwrap_or("{}");
        match &*notification.method {
            "notifications/progress" => {
                #[derive(Deserialize)]
                struct Params<'a> {
                    #[serde(borrow, rename = "progressToken")]
                    token: &'a RawValue,
                }
                let Ok(parsed) = serde_json::from_str::<Params<'_>>(params) else {
                    return Vec::new();
                };
                let key = parsed.token.get().parse::<u64>().ok();
                match key.and_then(|key| self.pending.get(&key)) {
                    Some(Pending::Window {
                        window,
                        progress: Some(token),
                        input,
                        ..
                    }) if !stateless::Input::parked(input.as_deref()) => vec![Action::Window(
                        *window,
                        splice(line, &[(parsed.token.get(), token)]),
                    )],
                    _ => Vec::new(),
                }
            }
            "notifications/message" => {
                #[derive(Deserialize)]
                struct Params<'a> {
                    #[serde(borrow)]
                    level: Cow<'a, str>,
                }
                let level = serde_json::from_str::<Params<'_>>(params)
                    .ok()
                    .and_then(|parsed| Level::parse(&parsed.level));
                let line = Bytes::copy_from_slice(line);
                let mut actions =
                    self.to_initialized_windows(&line, |window| match (window.level, level) {
                        (Some(wanted), Some(level)) => level >= wanted,
                        _ => true,
                    });
                // A stateless window hears log messages only while a request of its own that
                // opted in (`_meta` `io.modelcontextprotocol/logLevel`) at a level admitting
                // this one runs; the server's messages name no request, so any of them counts.
                let listening: BTreeSet<SessionId> = self
                    .pending
                    .values()
                    .filter_map(|pending| match pending {
                        Pending::Window {
                            window,
                            version,
                            log: Some(wanted),
                            ..
                        } if version.is_stateless()
                            && level.is_none_or(|level| level >= *wanted) =>
                        {
                            Some(*window)
                        }
                        _ => None,
                    })
                    .filter(|window| {
                        self.windows
                            .get(window)
                            .is_some_and(|entry| !entry.initialized)
                    })
                    .collect();
                actions.extend(
                    listening
                        .into_iter()
                        .map(|window| Action::Window(window, line.clone())),
                );
                actions
            }
            "notifications/tasks/status" => {
                #[derive(Deserialize)]
                struct Params {
                    #[serde(rename = "taskId")]
                    task_id: String,
                }
                let owner = serde_json::from_str::<Params>(params)
                    .ok()
                    .and_then(|parsed| self.tasks.get(&parsed.task_id).copied());
                match owner {
                    Some(window) => vec![Action::Window(window, Bytes::copy_from_slice(line))],
                    None => Vec::new(),
                }
            }
            "notifications/resources/updated" => {
                #[derive(Deserialize)]
                struct Params {
                    uri: String,
                }
                let Ok(parsed) = serde_json::from_str::<Params>(params) else {
                    return Vec::new();
                };
                let line = Bytes::copy_from_slice(line);
                self.subscriptions
                    .get(&parsed.uri)
                    .into_iter()
                    .flatten()
                    .map(|window| Action::Window(*window, line.clone()))
                    .collect()
            }
            jsonrpc::CANCELLED => {
                // The server gave up a request it sent a window.
                let Some(server_id) = notification.cancelled_id() else {
                    return Vec::new();
                };
                let found = self
                    .server_requests
                    .iter()
                    .find(|(_, id)| id.as_str() == server_id.as_str())
                    .map(|(key, _)| *key);
                match found {
                    Some((window, ours)) => {
                        self.server_requests.remove(&(window, ours));
                        vec![Action::Window(
                            window,
                            cancelled_line(&ours.to_string(), "the server cancelled it"),
                        )]
                    }
                    None => Vec::new(),
                }
            }
            method => {
                // `*/list_changed` and anything else not tied to a request: every window that
                // did the handshake.
                let line = Bytes::copy_from_slice(line);
                let mut actions = self.to_initialized_windows(&line, |_| true);
                let changed = method
                    .strip_prefix("notifications/")
                    .and_then(|rest| rest.strip_suffix("/list_changed"))
                    .and_then(ListKind::from_name);
                if let Some(kind) = changed
                    && self.is_ready()
                {
                    // The windows were told; the hub lists again to know the new list.
                    self.lists[kind as usize].before = None;
                    actions.push(self.start_listing(kind));
                }
                actions
            }
        }
    }

    /// `notifications/<kind>/list_changed` from the hub to every window that did the
    /// handshake and was offered that kind.
    fn list_changed(&self, kind: ListKind) -> Vec<Action> {
        let line = Bytes::from(format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/{}/list_changed"}}"#,
            kind.name()
        ));
        self.to_initialized_windows(&line, |window| window.lists & kind.bit() != 0)
    }

    /// Starts the hub's listing of `kind` (a listing of it under way is dropped).
    fn start_listing(&mut self, kind: ListKind) -> Action {
        self.next_listing += 1;
        let generation = self.next_listing;
        self.lists[kind as usize].listing = Some((generation, 0, Default::default()));
        self.hub_request(HubRequest::List {
            kind,
            generation,
            cursor: None,
        })
    }

    /// One page of the hub's listing of `kind` came back (`Err`: the server refused it).
    fn listed(
        &mut self,
        kind: ListKind,
        generation: u64,
        page: Result<&RawValue, String>,
    ) -> Vec<Action> {
        use std::hash::{Hash, Hasher};
        #[derive(Deserialize)]
        struct Page {
            #[serde(default, rename = "nextCursor")]
            next_cursor: Option<String>,
            #[serde(flatten)]
            rest: serde_json::Map<String, serde_json::Value>,
        }
        let list = &mut self.lists[kind as usize];
        let Some((current, pages, mut hasher)) = list.listing.take() else {
            return Vec::new();
        };
        if current != generation {
            list.listing = Some((current, pages, hasher));
            return Vec::new();
        }
        let page = page
            .and_then(|raw| serde_json::from_str::<Page>(raw.get()).map_err(|err| err.to_string()));
        let items = page
            .as_ref()
            .ok()
            .and_then(|page| match page.rest.get(kind.name()) {
                Some(serde_json::Value::Array(items)) => Some(items),
                _ => None,
            });
        let digest = match (&page, items) {
            (Ok(page), Some(items)) => {
                for item in items {
                    item.to_string().hash(&mut hasher);
                }
                match &page.next_cursor {
                    Some(cursor) if pages + 1 < MAX_LIST_PAGES => {
                        list.listing = Some((generation, pages + 1, hasher));
                        return vec![self.hub_request(HubRequest::List {
                            kind,
                            generation,
                            cursor: Some(cursor.clone()),
                        })];
                    }
                    Some(_) => {
                        tracing::warn!(server = %self.name, kind = kind.name(), pages = MAX_LIST_PAGES, "the server's list has more pages than the hub follows; counted as unknown");
                        None
                    }
                    None => Some(hasher.finish()),
                }
            }
            (Err(error), _) => {
                tracing::debug!(server = %self.name, kind = kind.name(), %error, "the hub could not list the server's {}", kind.name());
                None
            }
            (Ok(_), None) => None,
        };
        let list = &mut self.lists[kind as usize];
        list.digest = digest;
        match list.before.take() {
            // Unknown on either side counts as changed: a needless refresh beats a stale list.
            Some(before) if before.is_none() || before != digest => self.list_changed(kind),
            _ => Vec::new(),
        }
    }

    fn to_initialized_windows(
        &self,
        line: &Bytes,
        admits: impl Fn(&Window) -> bool,
    ) -> Vec<Action> {
        self.windows
            .iter()
            .filter(|(_, window)| window.initialized && admits(window))
            .map(|(id, _)| Action::Window(*id, line.clone()))
            .collect()
    }

    fn upstream_request(&mut self, request: &Request<'_>, line: &[u8]) -> Vec<Action> {
        let method = &*request.method;
        match method {
            "ping" => vec![Action::Upstream(mcp::empty_response(
                request.id,
                Version::V2025_11_25,
            ))],
            "roots/list" => {
                if self.policy == SharePolicy::Window
                    && let Some(actions) =
                        self.route_to_window(request, line, |caps| caps.roots, false)
                {
                    return actions;
                }
                vec![Action::Upstream(self.roots_answer(request.id))]
            }
            "sampling/createMessage" => {
                self.route_or_refuse(request, line, "sampling", |caps| caps.sampling)
            }
            "elicitation/create" => {
                self.route_or_refuse(request, line, "elicitation", |caps| caps.elicitation)
            }
            other => {
                let message = format!(
                    "the EXAI hub does not route the server request {other:?} to editor windows"
                );
                vec![Action::Upstream(jsonrpc::error_line(
                    Some(request.id),
                    ErrorCode::MethodNotFound,
                    &message,
                ))]
            }
        }
    }

    fn route_or_refuse(
        &mut self,
        request: &Request<'_>,
        line: &[u8],
        capability: &str,
        has: impl Fn(&Caps) -> bool,
    ) -> Vec<Action> {
        match self.route_to_window(request, line, has, true) {
            Some(actions) => actions,
            None => {
                let message = format!(
                    "no editor window with a request in flight on {} declared the {capability} capability",
                    self.name
                );
                vec![Action::Upstream(jsonrpc::error_line(
                    Some(request.id),
                    ErrorCode::MethodNotFound,
                    &message,
                ))]
            }
        }
    }

    /// Hands a server request to the window with the most recent request in flight that has the
    /// capability (`in_flight`), or to the instance's only window (policy `window`). A
    /// 2026-07-28 request counts with the capabilities its own `_meta` declared, and is asked
    /// through `input_required` (that era has no server requests).
    fn route_to_window(
        &mut self,
        request: &Request<'_>,
        line: &[u8],
        has: impl Fn(&Caps) -> bool,
        in_flight: bool,
    ) -> Option<Vec<Action>> {
        let window = if in_flight {
            // The call the request names by its progress token (the hub's token is the call's
            // key), else the most recent call not parked on `input_required`, else the most
            // recent parked one: a parked call takes only what belongs to it while another
            // can answer, so an abandoned one cannot hold a later call's requests.
            let related = related_call(request);
            let candidates: Vec<(u64, SessionId, bool, bool, bool)> = self
                .pending
                .iter()
                .filter_map(|(key, pending)| match pending {
                    Pending::Window {
                        window,
                        version,
                        caps,
                        input,
                        progress,
                        ..
                    } => {
                        let declared = if version.is_stateless() {
                            caps.unwrap_or_default()
                        } else {
                            self.windows
                                .get(window)
                                .map_or_else(Caps::default, |w| w.caps)
                        };
                        has(&declared).then_some((
                            *key,
                            *window,
                            version.is_stateless(),
                            stateless::Input::parked(input.as_deref()),
                            progress.is_some() && related == Some(*key),
                        ))
                    }
                    Pending::Hub(_) => None,
                })
                .collect();
            let (key, window, stateless, ..) = candidates
                .iter()
                .find(|(.., named)| *named)
                .or_else(|| {
                    candidates
                        .iter()
                        .filter(|(_, _, _, parked, _)| !parked)
                        .max_by_key(|(key, ..)| *key)
                })
                .or_else(|| candidates.iter().max_by_key(|(key, ..)| *key))
                .copied()?;
            if stateless {
                return Some(self.ask_input(key, request));
            }
            window
        } else {
            let (id, window) = self.windows.iter().next()?;
            if !has(&window.caps) || window.version.is_some_and(Version::is_stateless) {
                return None;
            }
            *id
        };
        self.next_server_request += 1;
        let ours = self.next_server_request;
        self.server_requests
            .insert((window, ours), request.id.to_id());
        let line = splice(line, &[(request.id.as_str(), &ours.to_string())]);
        Some(vec![Action::Window(window, line)])
    }

    /// `roots/list` answered by the hub: each distinct working directory of the windows using
    /// this instance, as a `file://` root.
    fn roots_answer(&self, id: RawId<'_>) -> Bytes {
        let dirs: BTreeSet<&str> = self
            .windows
            .values()
            .filter_map(|window| window.cwd.as_deref())
            .collect();
        let roots: Vec<serde_json::Value> = dirs
            .into_iter()
            .map(|dir| {
                let name = dir
                    .rsplit(['/', '\\'])
                    .find(|part| !part.is_empty())
                    .unwrap_or(dir);
                serde_json::json!({"uri": file_uri(dir), "name": name})
            })
            .collect();
        mcp::ResultLine::new(id, Version::V2025_11_25, 64)
            .value("roots", &roots)
            .finish()
    }

    fn hub_request(&mut self, request: HubRequest) -> Action {
        let id = self.next_id();
        let line = match &request {
            HubRequest::Subscribe(uri) | HubRequest::Unsubscribe(uri) => {
                let method = if matches!(request, HubRequest::Subscribe(_)) {
                    "resources/subscribe"
                } else {
                    "resources/unsubscribe"
                };
                let params = serde_json::json!({ "uri": uri });
                format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#)
            }
            HubRequest::SetLevel => format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"logging/setLevel","params":{{"level":"{}"}}}}"#,
                self.upstream_level.unwrap_or(Level::Info).as_str()
            ),
            HubRequest::List { kind, cursor, .. } => {
                let params = match cursor {
                    Some(cursor) => serde_json::json!({ "cursor": cursor }),
                    None => serde_json::json!({}),
                };
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"method":"{}/list","params":{params}}}"#,
                    kind.name()
                )
            }
            HubRequest::Initialize => unreachable!("initialize goes through initialize_request"),
        };
        self.pending.insert(id, Pending::Hub(request));
        Action::Upstream(Bytes::from(line))
    }

    /// The most verbose level any window asked for; a `logging/setLevel` up when it changed.
    fn reconcile_level(&mut self) -> Option<Action> {
        let wanted = self
            .windows
            .values()
            .filter_map(|window| window.level)
            .min();
        if wanted == self.upstream_level || wanted.is_none() || !self.is_ready() {
            if wanted.is_none() {
                // Nobody asks any more: the server keeps its level (MCP has no "unset").
                self.upstream_level = None;
            }
            return None;
        }
        self.upstream_level = wanted;
        Some(self.hub_request(HubRequest::SetLevel))
    }

    /// A line from a window. The instance passes lines only while the server is ready.
    pub(crate) fn window_line(&mut self, window: SessionId, line: &[u8]) -> Vec<Action> {
        if !self.windows.contains_key(&window) {
            return Vec::new();
        }
        match Message::parse(line) {
            Message::Request(request) => self.window_request(window, &request, line),
            Message::Notification(notification) => {
                self.window_notification(window, &notification, line)
            }
            Message::Response(response) => self.window_response(window, &response, line),
            Message::Batch => vec![Action::Window(
                window,
                jsonrpc::error_line(
                    None,
                    ErrorCode::InvalidRequest,
                    "JSON-RPC batches are not supported by the EXAI hub: send one message per line",
                ),
            )],
            Message::Invalid(invalid) => vec![Action::Window(window, invalid.error_line())],
        }
    }

    /// A window's request: its `_meta` read (a version the hub does not speak is refused with
    /// `-32022`, as on the daemon's windows), then answered by the hub or sent up.
    fn window_request(
        &mut self,
        window: SessionId,
        request: &Request<'_>,
        line: &[u8],
    ) -> Vec<Action> {
        let params = request.params.map(RawValue::get);
        let meta = stateless::RequestMeta::of(params);
        let known = self.windows.get(&window).and_then(|entry| entry.version);
        let version = match meta.version(known) {
            Ok(version) => version,
            Err(requested) => {
                return vec![Action::Window(
                    window,
                    mcp::unsupported_version_response(request.id, &requested),
                )];
            }
        };
        let asked = Asked {
            version,
            caps: meta.caps(),
            log: meta.log_level(),
        };
        let mut actions = self.note_meta(window, &meta, version);
        match self.retried(window, request, asked) {
            Some(retried) => actions.extend(retried),
            None => actions.extend(self.answer_request(window, request, line, asked)),
        }
        actions
    }

    fn answer_request(
        &mut self,
        window: SessionId,
        request: &Request<'_>,
        line: &[u8],
        asked: Asked,
    ) -> Vec<Action> {
        let params = request.params.map(RawValue::get);
        let answer = |line: Bytes| vec![Action::Window(window, line)];
        match &*request.method {
            "initialize" => self.window_initialize(window, request.id, params),
            "ping" => answer(self.empty_result(request.id, asked.version)),
            "server/discover" => match &self.init {
                Some(init) => answer(stateless::discover_response(
                    request.id,
                    init.version,
                    &init.capabilities,
                    &init.server_info,
                    init.instructions.as_deref(),
                )),
                None => answer(jsonrpc::error_line(
                    Some(request.id),
                    ErrorCode::Unavailable,
                    &format!("{} is not running", self.name),
                )),
            },
            "subscriptions/listen" => answer(jsonrpc::error_line(
                Some(request.id),
                ErrorCode::MethodNotFound,
                &format!(
                    "the EXAI hub offers no subscriptions/listen stream for the wrapped server {}: its lists are marked stale (ttlMs 0), ask again",
                    self.name
                ),
            )),
            "logging/setLevel" => {
                #[derive(Deserialize)]
                struct Params<'a> {
                    #[serde(borrow)]
                    level: Cow<'a, str>,
                }
                let level = params
                    .and_then(|params| serde_json::from_str::<Params<'_>>(params).ok())
                    .and_then(|parsed| Level::parse(&parsed.level));
                let Some(level) = level else {
                    return answer(jsonrpc::error_line(
                        Some(request.id),
                        ErrorCode::InvalidParams,
                        "logging/setLevel needs a level: debug, info, notice, warning, error, critical, alert or emergency",
                    ));
                };
                if let Some(entry) = self.windows.get_mut(&window) {
                    entry.level = Some(level);
                }
                let mut actions: Vec<Action> = self.reconcile_level().into_iter().collect();
                actions.push(Action::Window(
                    window,
                    self.empty_result(request.id, asked.version),
                ));
                actions
            }
            method @ ("resources/subscribe" | "resources/unsubscribe") => {
                #[derive(Deserialize)]
                struct Params {
                    uri: String,
                }
                let Some(uri) = params
                    .and_then(|params| serde_json::from_str::<Params>(params).ok())
                    .map(|parsed| parsed.uri)
                else {
                    return answer(jsonrpc::error_line(
                        Some(request.id),
                        ErrorCode::InvalidParams,
                        &format!("{method} needs params with a uri"),
                    ));
                };
                let subscribers = self.subscriptions.entry(uri.clone()).or_default();
                let forward = if method == "resources/subscribe" {
                    subscribers.insert(window) && subscribers.len() == 1
                } else {
                    let removed = subscribers.remove(&window);
                    let last = subscribers.is_empty();
                    if last {
                        self.subscriptions.remove(&uri);
                    }
                    removed && last
                };
                if forward {
                    self.forward(window, request, line, asked)
                } else {
                    answer(self.empty_result(request.id, asked.version))
                }
            }
            method @ ("tasks/get" | "tasks/result" | "tasks/cancel") => {
                #[derive(Deserialize)]
                struct Params {
                    #[serde(rename = "taskId")]
                    task_id: String,
                }
                let task = params
                    .and_then(|params| serde_json::from_str::<Params>(params).ok())
                    .map(|parsed| parsed.task_id);
                match task {
                    Some(task) if self.tasks.get(&task) == Some(&window) => {
                        self.forward(window, request, line, asked)
                    }
                    Some(task) => answer(jsonrpc::error_line(
                        Some(request.id),
                        ErrorCode::InvalidParams,
                        &format!(
                            "{method}: task not found: {task:?} is not a task of this window on {}",
                            self.name
                        ),
                    )),
                    None => answer(jsonrpc::error_line(
                        Some(request.id),
                        ErrorCode::InvalidParams,
                        &format!("{method} needs params with a taskId"),
                    )),
                }
            }
            _ => self.forward(window, request, line, asked),
        }
    }

    /// A `tasks/list` result for `window`: only the tasks it created, with its id.
    fn own_tasks(&self, window: SessionId, id: &Id, result: &RawValue) -> Bytes {
        let mut result: serde_json::Value = serde_json::from_str(result.get()).unwrap_or_default();
        if let Some(serde_json::Value::Array(tasks)) = result.get_mut("tasks") {
            tasks.retain(|task| {
                task.get("taskId")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|task| self.tasks.get(task) == Some(&window))
            });
        }
        Bytes::from(format!(
            r#"{{"jsonrpc":"2.0","id":{},"result":{result}}}"#,
            id.as_str()
        ))
    }

    /// A resuming shim's replayed `initialize`: the window's capabilities and name are taken,
    /// it counts as initialized, and nothing is answered (its editor had its answer from the
    /// hub before).
    pub(crate) fn replay_initialize(&mut self, window: SessionId, line: &[u8]) -> Vec<Action> {
        let Message::Request(request) = Message::parse(line) else {
            return Vec::new();
        };
        if request.method != "initialize" {
            return Vec::new();
        }
        let params = request.params.map(RawValue::get);
        let actions = self.window_initialize(window, request.id, params);
        if let Some(entry) = self.windows.get_mut(&window) {
            entry.initialized = true;
        }
        actions
            .into_iter()
            .filter(|action| !matches!(action, Action::Window(..)))
            .collect()
    }

    /// The server's `serverInfo` (raw JSON), for the `_meta` of 2026-07-28 results.
    fn server_info(&self) -> &str {
        self.init
            .as_ref()
            .map_or(UNKNOWN_SERVER_INFO, |init| init.server_info.as_str())
    }

    /// An empty result the hub answers itself, in `version`, named by the server.
    fn empty_result(&self, id: RawId<'_>, version: Version) -> Bytes {
        mcp::ResultLine::with_server_info(id, version, 0, self.server_info()).finish()
    }

    /// A server's result for a 2026-07-28 request: the window's id, and what every 2026-07-28
    /// result carries that the server (a handshake-era one) left out, spliced into the line.
    fn stateless_result(
        &self,
        line: &[u8],
        raw: RawId<'_>,
        id: &Id,
        result: &RawValue,
        method: &str,
    ) -> Bytes {
        let added =
            stateless::completions(result, self.server_info(), stateless::is_cacheable(method));
        let mut edits = vec![(raw.as_str(), id.as_str())];
        edits.extend(added.iter().map(|(at, text)| (*at, text.as_str())));
        splice(line, &edits)
    }

    /// What a request's `_meta` says of its window: a stateless window's version, client,
    /// capabilities and log level are recorded from it (`Identified` when who or which version
    /// changed; the server's log level follows a new level).
    fn note_meta(
        &mut self,
        window: SessionId,
        meta: &stateless::RequestMeta<'_>,
        version: Version,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(entry) = self.windows.get_mut(&window) else {
            return actions;
        };
        let mut identified = false;
        if meta.protocol_version.is_some() && entry.version != Some(version) {
            entry.version = Some(version);
            identified = true;
        }
        if let Some(info) = &meta.client_info {
            let client = Some((info.name.clone(), info.version.clone()));
            if entry.client != client {
                entry.client = client;
                identified = true;
            }
        }
        if let Some(caps) = meta.caps() {
            entry.caps = caps;
        }
        let level = meta.log_level();
        let new_level = level.is_some() && entry.level != level;
        if new_level {
            entry.level = level;
        }
        if identified && let Some(version) = entry.version {
            actions.push(Action::Identified {
                window,
                client: entry.client.clone(),
                version,
            });
        }
        if new_level && let Some(action) = self.reconcile_level() {
            actions.push(action);
        }
        actions
    }

    fn window_initialize(
        &mut self,
        window: SessionId,
        id: RawId<'_>,
        params: Option<&str>,
    ) -> Vec<Action> {
        #[derive(Deserialize)]
        struct Params {
            #[serde(rename = "protocolVersion")]
            protocol_version: String,
            #[serde(default)]
            capabilities: serde_json::Value,
            #[serde(default, rename = "clientInfo")]
            client_info: Option<mcp::WireClientInfo>,
        }
        let parsed = match params.map(serde_json::from_str::<Params>) {
            Some(Ok(parsed)) => parsed,
            Some(Err(err)) => {
                let message = format!("invalid initialize params: {err}");
                return vec![Action::Window(
                    window,
                    jsonrpc::error_line(Some(id), ErrorCode::InvalidParams, &message),
                )];
            }
            None => {
                return vec![Action::Window(
                    window,
                    jsonrpc::error_line(
                        Some(id),
                        ErrorCode::InvalidParams,
                        "initialize needs params",
                    ),
                )];
            }
        };
        let Some(init) = &self.init else {
            let message = format!("{} is not running", self.name);
            return vec![Action::Window(
                window,
                jsonrpc::error_line(Some(id), ErrorCode::Unavailable, &message),
            )];
        };
        // The window's version, never newer than the server's.
        let mut version = mcp::negotiate(&parsed.protocol_version);
        if let Some(server) = init.version {
            version = version.min(server);
        }
        let caps = &parsed.capabilities;
        let offered = serde_json::from_str(&init.capabilities)
            .map_or(0, |capabilities| ListKind::offered(&capabilities));
        let client = parsed.client_info.map(|info| (info.name, info.version));
        if let Some(entry) = self.windows.get_mut(&window) {
            entry.caps = Caps::of(caps);
            entry.lists = offered;
            entry.version = Some(version);
            entry.client = client.clone();
        }
        let mut result = mcp::ResultLine::new(
            id,
            version,
            init.capabilities.len() + init.server_info.len() + 64,
        )
        .raw("protocolVersion", &format!("\"{version}\""))
        .raw("capabilities", &init.capabilities)
        .raw("serverInfo", &init.server_info);
        if let Some(instructions) = &init.instructions {
            result = result.raw("instructions", instructions);
        }
        vec![
            Action::Window(window, result.finish()),
            Action::Identified {
                window,
                client,
                version,
            },
        ]
    }

    /// Sends a window's request up with the hub's id (and progress token).
    fn forward(
        &mut self,
        window: SessionId,
        request: &Request<'_>,
        line: &[u8],
        asked: Asked,
    ) -> Vec<Action> {
        #[derive(Deserialize)]
        struct Params<'a> {
            #[serde(borrow, default)]
            name: Option<Cow<'a, str>>,
            #[serde(borrow, default, rename = "_meta")]
            meta: Option<mcp::Meta<'a>>,
        }
        let key = self.next_id();
        let ours = key.to_string();
        let parsed = request
            .params
            .and_then(|params| serde_json::from_str::<Params<'_>>(params.get()).ok());
        let token = parsed
            .as_ref()
            .and_then(|parsed| parsed.meta.as_ref())
            .and_then(|meta| meta.progress_token);
        let mut edits = vec![(request.id.as_str(), ours.as_str())];
        if let Some(token) = token {
            edits.push((token.get(), ours.as_str()));
        }
        let upstream = splice(line, &edits);
        let method = request.method.to_string();
        let label = match (
            method.as_str(),
            parsed.as_ref().and_then(|parsed| parsed.name.as_deref()),
        ) {
            ("tools/call" | "prompts/get", Some(name)) => format!("{method} {name}"),
            _ => method.clone(),
        };
        self.pending.insert(
            key,
            Pending::Window {
                window,
                id: request.id.to_id(),
                progress: token.map(|token| token.get().into()),
                method,
                started: Instant::now(),
                version: asked.version,
                caps: asked.caps,
                log: asked.log,
                input: None,
            },
        );
        vec![
            Action::Started { window, key, label },
            Action::Upstream(upstream),
        ]
    }

    fn window_notification(
        &mut self,
        window: SessionId,
        notification: &Notification<'_>,
        line: &[u8],
    ) -> Vec<Action> {
        match &*notification.method {
            "notifications/initialized" => {
                if let Some(entry) = self.windows.get_mut(&window) {
                    entry.initialized = true;
                }
                Vec::new()
            }
            jsonrpc::CANCELLED => {
                let Some(id) = notification.cancelled_id() else {
                    return Vec::new();
                };
                // With duplicate ids in flight, the most recent one.
                let key = self
                    .pending
                    .iter()
                    .filter(|(_, pending)| matches!(pending, Pending::Window { window: w, id: their, .. } if *w == window && their.as_str() == id.as_str()))
                    .map(|(key, _)| *key)
                    .max();
                let Some(key) = key else {
                    return Vec::new();
                };
                let Some(Pending::Window {
                    method,
                    started,
                    input,
                    ..
                }) = self.pending.remove(&key)
                else {
                    return Vec::new();
                };
                #[derive(Deserialize)]
                struct Params {
                    #[serde(default)]
                    reason: Option<String>,
                }
                let reason = notification
                    .params
                    .and_then(|params| serde_json::from_str::<Params>(params.get()).ok())
                    .and_then(|parsed| parsed.reason)
                    .unwrap_or_else(|| "cancelled by the editor".to_owned());
                // What the server asked through `input_required` and the window will now never
                // answer, then the call itself.
                let message = format!(
                    "the editor window cancelled the request this one was asked for (hub: {})",
                    self.name
                );
                let mut actions = owed_errors(input, &message);
                actions.push(Action::Upstream(cancelled_line(&key.to_string(), &reason)));
                actions.push(Action::Finished {
                    window,
                    key,
                    method,
                    started,
                    error: None,
                    cancelled: true,
                });
                actions
            }
            _ => vec![Action::Upstream(Bytes::copy_from_slice(line))],
        }
    }

    fn window_response(
        &mut self,
        window: SessionId,
        response: &Response<'_>,
        line: &[u8],
    ) -> Vec<Action> {
        let Some(raw) = response.id else {
            return Vec::new();
        };
        let Some(ours) = raw.as_str().parse::<u64>().ok() else {
            return Vec::new();
        };
        match self.server_requests.remove(&(window, ours)) {
            Some(server_id) => vec![Action::Upstream(splice(
                line,
                &[(raw.as_str(), server_id.as_str())],
            ))],
            None => Vec::new(),
        }
    }
}

/// The id of the task a result created (`{"task": {"taskId": ...}}`: a task-augmented
/// request's answer), if it is one.
fn created_task(result: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Created {
        task: Task,
    }
    #[derive(Deserialize)]
    struct Task {
        #[serde(rename = "taskId")]
        task_id: String,
    }
    if !result.get().contains("\"taskId\"") {
        return None;
    }
    serde_json::from_str::<Created>(result.get())
        .ok()
        .map(|created| created.task.task_id)
}

/// The call a server request names as its own: a progress token of the hub's in its `_meta`
/// (the hub's token for a call is the call's key).
fn related_call(request: &Request<'_>) -> Option<u64> {
    let params = request.params?;
    serde_json::from_str::<mcp::AnyParams<'_>>(params.get())
        .ok()?
        .meta?
        .progress_token?
        .get()
        .parse::<u64>()
        .ok()
}

/// An error to the server for each of its requests a call's window was asked (or was yet to be
/// asked) through `input_required` and will never answer.
fn owed_errors(input: Option<Box<stateless::Input>>, message: &str) -> Vec<Action> {
    input
        .map(|input| input.owed())
        .unwrap_or_default()
        .into_iter()
        .map(|server_id| {
            Action::Upstream(jsonrpc::error_line(
                Some(server_id.as_raw()),
                ErrorCode::Internal,
                message,
            ))
        })
        .collect()
}

/// `notifications/cancelled` for request `id` (raw JSON).
fn cancelled_line(id: &str, reason: &str) -> Bytes {
    let reason = serde_json::to_string(reason).unwrap_or_else(|_| "\"\"".to_owned());
    Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{id},"reason":{reason}}}}}"#
    ))
}

/// An error object's message (or the whole object when it has none).
fn error_message(error: &RawValue) -> String {
    #[derive(Deserialize)]
    struct Error {
        #[serde(default)]
        message: Option<String>,
    }
    serde_json::from_str::<Error>(error.get())
        .ok()
        .and_then(|error| error.message)
        .unwrap_or_else(|| error.get().chars().take(500).collect())
}

/// `line` with each `(part, replacement)` done, where each `part` is a slice borrowed from
/// `line` itself (an id or a token the parser found): replaced where it is, every other byte
/// kept.
fn splice(line: &[u8], edits: &[(&str, &str)]) -> Bytes {
    let start = line.as_ptr() as usize;
    let mut places: Vec<(usize, usize, &str)> = edits
        .iter()
        .filter_map(|(part, replacement)| {
            let offset = (part.as_ptr() as usize).checked_sub(start)?;
            (offset + part.len() <= line.len()).then_some((offset, part.len(), *replacement))
        })
        .collect();
    places.sort_unstable_by_key(|(offset, _, _)| *offset);
    let mut out = Vec::with_capacity(line.len() + 32);
    let mut at = 0;
    for (offset, len, replacement) in places {
        if offset < at {
            continue;
        }
        out.extend_from_slice(&line[at..offset]);
        out.extend_from_slice(replacement.as_bytes());
        at = offset + len;
    }
    out.extend_from_slice(&line[at..]);
    Bytes::from(out)
}

/// A directory as a `file://` URI (`/home/me/a b` → `file:///home/me/a%20b`; `C:\w` →
/// `file:///C:/w`).
fn file_uri(dir: &str) -> String {
    let path = dir.replace('\\', "/");
    let mut uri = String::from("file://");
    if !path.starts_with('/') {
        uri.push('/');
    }
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b':' => {
                uri.push(byte as char)
            }
            other => uri.push_str(&format!("%{other:02X}")),
        }
    }
    uri
}

/// 2026-07-28 windows: `_meta`, `server/discover`, results completed, `input_required`.
#[path = "stateless.rs"]
mod stateless;

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
