//! Starting a hub when none answers and the user opted in (`EXAI_AUTOSTART=hub|tray`).
//!
//! Only at start-up, once: a shim that finds no hub takes the endpoint's autostart lock
//! ([`exai_ipc::AutostartLock`]), checks once more that no hub answers, starts `exai hub` (or
//! `exai-tray`) detached, so it outlives this shim and the editor, and waits for it to answer
//! within the connect timeout. A shim that finds the lock taken starts nothing: it keeps
//! retrying the connection, because whoever holds the lock is starting the hub it wants. So two
//! editors opening at once start one hub. A hub that goes away later is not restarted: the user
//! may have quit it on purpose; the next editor window to open starts one again.
//!
//! The hub's stderr is appended to `hub-autostart.log` in [`exai_ipc::log_dir`]; every failure
//! message names that file.

use crate::conn::{self, Attempt, Backoff, Unavailable};
use exai_ipc::{AutostartLock, Endpoint};
use exai_proto::Hello;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// The environment variable that turns autostart on.
pub const ENV: &str = "EXAI_AUTOSTART";
/// The log file's name, inside [`exai_ipc::log_dir`].
const LOG_NAME: &str = "hub-autostart.log";
/// Past this size the log is moved to `hub-autostart.log.old` before the next start.
const LOG_ROTATE_BYTES: u64 = 4 << 20;
/// The longest pause between connection attempts while the new hub starts.
const MAX_WAIT_STEP: Duration = Duration::from_millis(200);

/// Which program to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `exai-tray`, the tray app, which embeds the hub.
    Tray,
    /// `exai hub`, the headless hub.
    Hub,
}

impl Mode {
    /// Reads an `EXAI_AUTOSTART` / `--autostart` value: `hub`, `tray`, or `off` (also `0`,
    /// `no`, `false`), in any case. `Ok(None)` means off.
    pub fn parse(value: &str) -> Result<Option<Mode>, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "hub" => Ok(Some(Mode::Hub)),
            "tray" => Ok(Some(Mode::Tray)),
            "" | "off" | "0" | "no" | "false" => Ok(None),
            _ => Err(format!("must be hub, tray or off, not {value:?}")),
        }
    }

    /// The program's file name without the platform's suffix.
    fn program(self) -> &'static str {
        match self {
            Mode::Tray => "exai-tray",
            Mode::Hub => "exai",
        }
    }

    /// The environment value that asks for this mode.
    fn env_value(self) -> &'static str {
        match self {
            Mode::Tray => "tray",
            Mode::Hub => "hub",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Tray => "exai-tray",
            Mode::Hub => "exai hub",
        })
    }
}

/// What to start, decided from flags and the environment.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The program.
    pub mode: Mode,
    /// The shim's own `--endpoint`, passed on so that the hub listens where the shim looks.
    /// Without it the hub resolves `EXAI_ENDPOINT` or the default exactly as the shim did.
    pub endpoint_flag: Option<String>,
}

/// Holding `lock`: checks once more for a hub, starts one if there is none, and waits for it
/// to answer until `deadline`.
///
/// Fails with [`Unavailable::Autostart`] saying what went wrong and where the hub's log is, or
/// with whatever a hub that did answer said.
pub fn attempt(
    plan: Plan,
    lock: AutostartLock,
    endpoint: Rc<Endpoint>,
    hello: Hello,
    handshake_timeout: Duration,
    deadline: Instant,
) -> Attempt {
    Box::pin(async move {
        let _lock = lock;
        // Another shim may have started a hub between our last attempt and taking the lock.
        match conn::attempt(
            Duration::ZERO,
            endpoint.clone(),
            hello.clone(),
            handshake_timeout,
        )
        .await
        {
            Err(Unavailable::NotRunning) => {}
            answered => return answered,
        }
        let started_at = Instant::now();
        let hub = start(&plan).map_err(Unavailable::Autostart)?;
        let connect =
            |delay| conn::attempt(delay, endpoint.clone(), hello.clone(), handshake_timeout);
        match wait_for_answer(connect, hub.exited, deadline).await {
            Ok(Answered::Started(connected)) => {
                tracing::info!(
                    pid = hub.pid,
                    "autostart: {} answered after {} ms",
                    plan.mode,
                    started_at.elapsed().as_millis()
                );
                Ok(connected)
            }
            Ok(Answered::Another { connected, exit }) => {
                tracing::info!(
                    pid = hub.pid,
                    "autostart: {} {}, but another hub answers (it took the endpoint first)",
                    plan.mode,
                    describe_wait(exit)
                );
                Ok(connected)
            }
            Err(NoAnswer::Failed(other)) => Err(other),
            Err(NoAnswer::Exited(status)) => {
                let how = describe_wait(status);
                Err(Unavailable::Autostart(format!(
                    "autostart: {} (pid {}) {how} before it answered; its log: {}",
                    plan.mode, hub.pid, hub.log
                )))
            }
            Err(NoAnswer::TimedOut) => {
                let waited = deadline.saturating_duration_since(started_at);
                Err(Unavailable::Autostart(format!(
                    "autostart: started {} (pid {}) but it did not answer within {:.1} s; \
                     its log: {}",
                    plan.mode,
                    hub.pid,
                    waited.as_secs_f64(),
                    hub.log
                )))
            }
        }
    })
}

/// Who answered.
#[derive(Debug, PartialEq)]
enum Answered<T, E> {
    /// Most likely the program we started (the endpoint was free when we started it).
    Started(T),
    /// Another hub: ours had exited (`exit`), as it does when it finds the endpoint taken.
    Another { connected: T, exit: E },
}

/// How waiting for a started hub ended without a connection.
#[derive(Debug, PartialEq)]
enum NoAnswer<E> {
    /// Something answered, but not with a welcome (a rejection, a broken handshake).
    Failed(Unavailable),
    /// The program exited, and no hub answered afterwards either.
    Exited(E),
    /// Nothing answered before the deadline.
    TimedOut,
}

/// Tries `connect` with growing pauses until a hub answers, the program we started exits
/// (`exited`), or `deadline` passes.
///
/// The program exiting is not the end by itself: a hub started by other means (by hand, at
/// login) may have taken the endpoint between our last check and our start, and then ours exits
/// because one already runs. So one more attempt, without a pause, decides.
async fn wait_for_answer<T, E>(
    mut connect: impl FnMut(Duration) -> Pin<Box<dyn Future<Output = Result<T, Unavailable>>>>,
    exited: impl Future<Output = E>,
    deadline: Instant,
) -> Result<Answered<T, E>, NoAnswer<E>> {
    let mut exited = std::pin::pin!(exited);
    let mut backoff = Backoff::new(MAX_WAIT_STEP);
    loop {
        tokio::select! {
            result = connect(backoff.next_delay()) => match result {
                Ok(connected) => return Ok(Answered::Started(connected)),
                Err(Unavailable::NotRunning) => {}
                Err(other) => return Err(NoAnswer::Failed(other)),
            },
            status = &mut exited => {
                return match connect(Duration::ZERO).await {
                    Ok(connected) => Ok(Answered::Another { connected, exit: status }),
                    Err(Unavailable::NotRunning) => Err(NoAnswer::Exited(status)),
                    Err(other) => Err(NoAnswer::Failed(other)),
                };
            }
            () = tokio::time::sleep_until(deadline) => return Err(NoAnswer::TimedOut),
        }
    }
}

/// A hub this shim started.
struct Started {
    pid: u32,
    /// Where its stderr goes, as shown to the user.
    log: LogPlace,
    /// Resolves when it exits.
    exited: Pin<Box<dyn Future<Output = std::io::Result<ExitStatus>>>>,
}

/// Finds the program and starts it detached, its stderr appended to the autostart log.
fn start(plan: &Plan) -> Result<Started, String> {
    let program = find_program(plan.mode.program()).map_err(|looked_in| {
        format!(
            "autostart: {ENV}={} but {} was not found {looked_in}; install it there, or unset \
             {ENV}",
            plan.mode.env_value(),
            plan.mode.program(),
        )
    })?;
    let mut command = Command::new(&program);
    match plan.mode {
        Mode::Hub => {
            command.arg("hub");
            if let Some(endpoint) = &plan.endpoint_flag {
                command.args(["--endpoint", endpoint]);
            }
        }
        Mode::Tray => {
            // Started by an editor, the tray stays in the tray: no window pops up over it.
            command.arg("--hidden");
            if let Some(endpoint) = &plan.endpoint_flag {
                command.env(exai_ipc::ENDPOINT_ENV, endpoint);
            }
        }
    }
    // Not the editor's workspace: a process sitting in a directory keeps it from being
    // deleted on Windows, and the hub outlives the window.
    if let Some(dir) = program.parent() {
        command.current_dir(dir);
    }
    let (stderr, log) = open_log(&command);
    let child = exai_ipc::process::spawn_detached(&mut command, stderr).map_err(|error| {
        format!(
            "autostart: cannot start {}: {error}; its log: {log}",
            program.display()
        )
    })?;
    let pid = child.id();
    tracing::info!(
        pid,
        program = %program.display(),
        "autostart: started {} (pid {pid}); its log: {log}",
        plan.mode
    );
    Ok(Started {
        pid,
        log,
        exited: watch_exit(child),
    })
}

/// Reaps the child on a thread of its own (a hub that exits while the shim runs on would stay a
/// zombie otherwise) and resolves with how it ended; never resolves if it cannot watch.
fn watch_exit(
    mut child: std::process::Child,
) -> Pin<Box<dyn Future<Output = std::io::Result<ExitStatus>>>> {
    let (done, exited) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("exai-autostart-wait".to_owned())
        .spawn(move || {
            // Nobody may be listening any more; that is fine.
            let _ = done.send(child.wait());
        });
    if let Err(error) = spawned {
        tracing::debug!(%error, "cannot watch the started hub; it will not be reaped early");
    }
    Box::pin(async move {
        match exited.await {
            Ok(status) => status,
            Err(_) => std::future::pending().await,
        }
    })
}

/// How the started program ended, or why that is unknown.
fn describe_wait(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => describe_exit(status),
        Err(error) => format!("could not be waited for ({error})"),
    }
}

fn describe_exit(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => format!("ended ({status})"),
    }
}

/// Looks for `name` (plus `.exe` on Windows) next to this executable, then on `PATH` (absolute
/// entries only). On failure, says where it looked.
fn find_program(name: &str) -> Result<PathBuf, String> {
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.to_path_buf()));
    if let Some(dir) = &beside {
        let candidate = dir.join(&file);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(&file))
        .find(|candidate| candidate.is_file());
    if let Some(found) = on_path {
        return Ok(found);
    }
    Err(match beside {
        Some(dir) => format!("next to exai-shim (in {}) or on PATH", dir.display()),
        None => "on PATH".to_owned(),
    })
}

/// Where the started program's stderr goes, for messages.
struct LogPlace(Option<PathBuf>);

impl fmt::Display for LogPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(path) => fmt::Display::fmt(&path.display(), f),
            None => f.write_str("none (no log directory could be used; see the shim's log)"),
        }
    }
}

/// Opens the autostart log for appending (moving a large one aside first) and writes a line
/// saying who starts what. Without a usable log directory the program's stderr is discarded.
fn open_log(command: &Command) -> (Stdio, LogPlace) {
    let Some(dir) = exai_ipc::log_dir() else {
        tracing::warn!(
            "autostart: no log directory (HOME, or LOCALAPPDATA on Windows, is unset); the started program's output is discarded"
        );
        return (Stdio::null(), LogPlace(None));
    };
    let path = dir.join(LOG_NAME);
    match append_log(&dir, &path) {
        Ok(mut file) => {
            let since_epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            // A lost header line costs nothing; the program's own output follows it.
            let args: Vec<String> = command
                .get_args()
                .map(|arg| arg.to_string_lossy().into_owned())
                .collect();
            let _ = writeln!(
                file,
                "--- exai-shim (pid {}) starting {} {} at unix time {since_epoch}",
                std::process::id(),
                command.get_program().to_string_lossy(),
                args.join(" "),
            );
            (Stdio::from(file), LogPlace(Some(path)))
        }
        Err(error) => {
            tracing::warn!(
                path = %path.display(),
                %error,
                "autostart: cannot open the log; the started program's output is discarded"
            );
            (Stdio::null(), LogPlace(None))
        }
    }
}

fn append_log(dir: &Path, path: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    if std::fs::metadata(path).is_ok_and(|meta| meta.len() > LOG_ROTATE_BYTES) {
        let mut old = path.as_os_str().to_owned();
        old.push(".old");
        std::fs::rename(path, old)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    #[test]
    fn modes_parse_in_any_case_and_off_means_none() {
        assert_eq!(Mode::parse("hub"), Ok(Some(Mode::Hub)));
        assert_eq!(Mode::parse(" Tray "), Ok(Some(Mode::Tray)));
        for off in ["", "off", "OFF", "0", "no", "false"] {
            assert_eq!(Mode::parse(off), Ok(None), "{off:?}");
        }
        assert!(Mode::parse("yes").is_err());
    }

    type Answer = Result<&'static str, Unavailable>;
    type Connect = Box<dyn FnMut(Duration) -> Pin<Box<dyn Future<Output = Answer>>>>;

    /// A fake endpoint: each attempt answers, after its pause, with what `hub` holds then, and
    /// calls `on_attempt` with the number of attempts so far.
    fn fake_endpoint(hub: &Rc<RefCell<Answer>>, on_attempt: impl Fn(u32) + 'static) -> Connect {
        let hub = hub.clone();
        let on_attempt = Rc::new(on_attempt);
        let attempts = Rc::new(Cell::new(0));
        Box::new(move |delay| {
            let (hub, on_attempt, attempts) = (hub.clone(), on_attempt.clone(), attempts.clone());
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                attempts.set(attempts.get() + 1);
                on_attempt(attempts.get());
                hub.borrow().clone()
            })
        })
    }

    fn nothing_runs() -> Rc<RefCell<Answer>> {
        Rc::new(RefCell::new(Err(Unavailable::NotRunning)))
    }

    fn far_away() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn a_hub_that_took_the_endpoint_before_ours_is_used_when_ours_exits() {
        let hub = nothing_runs();
        // Ours exits because the other hub holds the endpoint, and that one answers.
        let exited = {
            let hub = hub.clone();
            async move {
                *hub.borrow_mut() = Ok("the other hub");
                "already running"
            }
        };
        let outcome = wait_for_answer(fake_endpoint(&hub, |_| {}), exited, far_away()).await;
        assert_eq!(
            outcome,
            Ok(Answered::Another {
                connected: "the other hub",
                exit: "already running"
            })
        );
    }

    #[tokio::test]
    async fn an_exit_with_nothing_answering_is_a_failure_after_one_more_attempt() {
        let hub = nothing_runs();
        let seen = Rc::new(Cell::new(0));
        let (exit, exited) = tokio::sync::oneshot::channel();
        let exit = RefCell::new(Some(exit));
        let connect = fake_endpoint(&hub, {
            let seen = seen.clone();
            move |attempts| {
                seen.set(attempts);
                // Ours exits while the second attempt finds nothing.
                if attempts == 2
                    && let Some(exit) = exit.borrow_mut().take()
                {
                    exit.send("code 1").unwrap();
                }
            }
        });
        let outcome = wait_for_answer(connect, async { exited.await.unwrap() }, far_away()).await;
        assert_eq!(outcome, Err(NoAnswer::Exited("code 1")));
        assert_eq!(seen.get(), 3, "one attempt after the exit");
    }

    #[tokio::test]
    async fn after_an_exit_what_a_hub_said_is_reported() {
        let hub = nothing_runs();
        let exited = {
            let hub = hub.clone();
            async move {
                *hub.borrow_mut() = Err(Unavailable::Rejected("protocol 9".to_owned()));
            }
        };
        let outcome = wait_for_answer(fake_endpoint(&hub, |_| {}), exited, far_away()).await;
        assert_eq!(
            outcome,
            Err(NoAnswer::Failed(Unavailable::Rejected(
                "protocol 9".to_owned()
            )))
        );
    }

    #[tokio::test]
    async fn nothing_answering_by_the_deadline_is_a_timeout() {
        let hub = nothing_runs();
        let deadline = Instant::now() + Duration::from_millis(50);
        let outcome = wait_for_answer(
            fake_endpoint(&hub, |_| {}),
            std::future::pending::<()>(),
            deadline,
        )
        .await;
        assert_eq!(outcome, Err(NoAnswer::TimedOut));
    }

    #[test]
    fn a_missing_program_says_where_it_looked() {
        let looked = find_program("exai-no-such-program-here").unwrap_err();
        assert!(looked.contains("next to exai-shim"), "{looked}");
        assert!(looked.contains("PATH"), "{looked}");
    }
}
