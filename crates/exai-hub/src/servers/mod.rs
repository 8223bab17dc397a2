//! Wrapped MCP servers (`exai-shim -- COMMAND ...`): one instance per [spec key](spec::key),
//! shared by every window with that key, each a task of its own ([`instance`]) with a
//! [`router`] that keeps every answer, notification and server request with the right window.
//!
//! [`Servers`] is the hub's index of instances: it finds or starts the one a window's spec
//! names and gathers their status for snapshots.

pub(crate) mod instance;
pub(crate) mod router;
pub mod spec;

use crate::api::{HubEvent, ServerStatus};
use crate::registry::RegistryMsg;
use bytes::Bytes;
use exai_proto::{ServerSpec, SessionId};
use instance::{Instance, InstanceCtx, InstanceMsg};
pub use instance::{QUEUE_BYTES, QUEUE_LINES};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How wrapped servers are run.
#[derive(Debug, Clone, Copy)]
pub struct ServersConfig {
    /// A server no window used for this long is stopped (the next window starts it again).
    pub idle_timeout: Duration,
    /// The first restart delay after a crash; doubles per quick failure up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest restart delay.
    pub max_backoff: Duration,
    /// How long a started server may take to answer the hub's `initialize`.
    pub init_timeout: Duration,
    /// How long a window's line waits for a starting or restarting server before the hub
    /// answers it with an error.
    pub queue_timeout: Duration,
}

impl Default for ServersConfig {
    fn default() -> ServersConfig {
        ServersConfig {
            idle_timeout: Duration::from_secs(5 * 60),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            init_timeout: Duration::from_secs(30),
            queue_timeout: Duration::from_secs(60),
        }
    }
}

struct Entry {
    inbox: mpsc::UnboundedSender<InstanceMsg>,
    status: watch::Receiver<ServerStatus>,
}

/// The hub's wrapped-server instances.
pub(crate) struct Servers {
    config: ServersConfig,
    registry: mpsc::UnboundedSender<RegistryMsg>,
    events: broadcast::Sender<HubEvent>,
    shutdown: CancellationToken,
    /// The one place instances are looked up; held only for a lookup or an insert, never across
    /// an await. Every instance's own state lives in its task.
    instances: Mutex<(u64, HashMap<spec::SpecKey, Entry>)>,
    /// The instance tasks, so a stopping hub can wait for its servers to be gone.
    tasks: TaskTracker,
}

/// A window's link to its instance.
pub(crate) struct Attached {
    /// The server's name, for the window's session info and logs.
    pub(crate) name: String,
    /// Where the window's lines go.
    pub(crate) inbox: mpsc::UnboundedSender<InstanceMsg>,
}

impl Servers {
    pub(crate) fn new(
        config: ServersConfig,
        registry: mpsc::UnboundedSender<RegistryMsg>,
        events: broadcast::Sender<HubEvent>,
        shutdown: CancellationToken,
    ) -> Servers {
        Servers {
            config,
            registry,
            events,
            shutdown,
            instances: Mutex::new((0, HashMap::new())),
            tasks: TaskTracker::new(),
        }
    }

    /// Waits until every instance task has ended (and its process is gone); for a stopping hub.
    pub(crate) async fn stopped(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Attaches `window` to the instance its spec names, starting that instance's task when
    /// there is none; the window's lines come back on `out`. `replay` is the editor's
    /// `initialize` a resuming shim replays after a hub restart: applied, never answered.
    pub(crate) fn attach(
        &self,
        spec: &ServerSpec,
        window: SessionId,
        replay: Option<Bytes>,
        out: mpsc::UnboundedSender<Bytes>,
    ) -> Attached {
        let key = spec::key(spec, window);
        let mut guard = self
            .instances
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (next_id, instances) = &mut *guard;
        let live = instances.get(&key).filter(|entry| !entry.inbox.is_closed());
        let (inbox, name) = match live {
            Some(entry) => (entry.inbox.clone(), entry.status.borrow().name.clone()),
            None => {
                *next_id += 1;
                let ctx = InstanceCtx {
                    registry: self.registry.clone(),
                    events: self.events.clone(),
                    shutdown: self.shutdown.clone(),
                    config: self.config,
                };
                let (instance, status) = Instance::new(*next_id, spec.clone(), ctx);
                let (inbox, inbox_rx) = mpsc::unbounded_channel();
                let name = status.borrow().name.clone();
                let span = tracing::info_span!("server", server = %name);
                self.tasks.spawn(tracing::Instrument::instrument(
                    instance.run(inbox_rx),
                    span,
                ));
                instances.insert(
                    key,
                    Entry {
                        inbox: inbox.clone(),
                        status,
                    },
                );
                (inbox, name)
            }
        };
        let _ = inbox.send(InstanceMsg::Attach {
            window,
            cwd: spec.cwd.clone(),
            replay,
            out,
        });
        Attached { name, inbox }
    }

    /// Restarts the instance numbered `id` ([`ServerStatus::id`]) now: its requests in flight
    /// fail with an error naming the server, the process is ended and started again, and the
    /// windows using it stay attached. Returns `false` when there is no such instance.
    pub(crate) fn restart(&self, id: u64) -> bool {
        let guard = self
            .instances
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard
            .1
            .values()
            .find(|entry| entry.status.borrow().id == id)
            .is_some_and(|entry| entry.inbox.send(InstanceMsg::Restart).is_ok())
    }

    /// Every instance's status, oldest first, with resident memory where the system tells it.
    pub(crate) fn statuses(&self) -> Vec<ServerStatus> {
        let guard = self
            .instances
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut list: Vec<ServerStatus> = guard
            .1
            .values()
            .map(|entry| entry.status.borrow().clone())
            .collect();
        drop(guard);
        list.sort_by_key(|status| status.id);
        for status in &mut list {
            status.memory_bytes = status.pid.and_then(resident_memory);
        }
        list
    }
}

/// A process's resident memory in bytes, from `/proc/<pid>/status` (Linux; `None` elsewhere or
/// when it cannot be read).
pub(crate) fn resident_memory(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
