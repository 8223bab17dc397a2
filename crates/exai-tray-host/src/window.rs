//! The dashboard window as a child process: `exai-tray --window` (the Tauri webview app, which
//! links GTK and WebKitGTK) started when the dashboard is opened, so the host itself never maps
//! them.
//!
//! At most one window process runs. It is started tied to the host (`exai_ipc::process::
//! spawn_tied`: it dies with the host however the host ends), with a pipe each way:
//! - to it, on stdin: first the dashboard's address with its token (never on the command line,
//!   which other local users can read), then one `show <hash>` line per later opening (it shows
//!   and focuses its window and moves the page there); end of input makes it exit;
//! - from it, on stdout: `shown`, `hidden`, `focused`, `unfocused` as its window changes.
//!
//! Closing the window hides it; the window process ends by itself a while later
//! (`EXAI_TRAY_RELEASE_SECS`, a minute by default) unless it is shown again, and with it WebKit's
//! web and network processes, so all of WebKit's memory is returned. The host sees its stdout
//! end, reaps it, and the next opening starts a new one.

use crate::{Navigate, WINDOW_FLAG};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What the window process said, or that it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowEvent {
    /// Its window was shown (`true`) or hidden.
    Shown(bool),
    /// Its window took (`true`) or lost the focus.
    Focused(bool),
    /// It ended (pid), and was reaped.
    Ended(u32),
}

/// How the current window process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// After its window was shown: released, as closing it asks.
    Released,
    /// Before its window was ever shown: no window can be made here (no WebKitGTK, a webview
    /// that fails); the dashboard goes to the browser instead.
    NeverShown,
}

impl WindowEvent {
    /// A line of the window process's stdout.
    pub(crate) fn parse(line: &str) -> Option<WindowEvent> {
        Some(match line.trim() {
            "shown" => WindowEvent::Shown(true),
            "hidden" => WindowEvent::Shown(false),
            "focused" => WindowEvent::Focused(true),
            "unfocused" => WindowEvent::Focused(false),
            _ => return None,
        })
    }
}

/// The running window process.
struct Running {
    pid: u32,
    stdin: ChildStdin,
    child: Arc<Mutex<exai_ipc::process::TiedChild>>,
}

/// Starts, reuses and ends the window process.
pub(crate) struct WindowProcess {
    program: PathBuf,
    running: Option<Running>,
    events: mpsc::UnboundedSender<WindowEvent>,
    shown: bool,
    focused: bool,
    /// The current process has shown its window at least once.
    ever_shown: bool,
    /// Where the last `show` asked the running process to go, until it says it is shown: a
    /// process that ends first (its release came as the user asked again) took that request
    /// with it, and the next process opens there.
    pending: Option<Navigate>,
}

impl WindowProcess {
    /// `program` is `exai-tray` (run with `--window`); its events go to `events`.
    pub(crate) fn new(
        program: PathBuf,
        events: mpsc::UnboundedSender<WindowEvent>,
    ) -> WindowProcess {
        WindowProcess {
            program,
            running: None,
            events,
            shown: false,
            focused: false,
            ever_shown: false,
            pending: None,
        }
    }

    /// The user is looking at the dashboard (its window shown and focused).
    pub(crate) fn in_view(&self) -> bool {
        self.running.is_some() && self.shown && self.focused
    }

    /// Shows the window at `target`: tells a running window process, else starts one on
    /// `address` (from `address`, called only then). Fails when no window process can be
    /// started.
    pub(crate) fn show(
        &mut self,
        target: Navigate,
        address: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        if let Some(running) = &mut self.running {
            match writeln!(running.stdin, "show {}", target.hash()) {
                Ok(()) => {
                    self.pending = Some(target);
                    return Ok(());
                }
                // It is ending: start a new one (its end is reported and ignored by pid).
                Err(err) => tracing::debug!(error = %err, "the window process is gone"),
            }
        }
        self.start(&address())
    }

    fn start(&mut self, address: &str) -> anyhow::Result<()> {
        let mut command = Command::new(&self.program);
        command
            .arg(WINDOW_FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = exai_ipc::process::spawn_tied(&mut command).map_err(|err| {
            anyhow::anyhow!(
                "cannot start {} {WINDOW_FLAG}: {err}",
                self.program.display()
            )
        })?;
        let pid = child.id();
        let (Some(mut stdin), Some(stdout)) = (
            child.child_mut().stdin.take(),
            child.child_mut().stdout.take(),
        ) else {
            anyhow::bail!("the window process has no pipes");
        };
        writeln!(stdin, "{address}")
            .map_err(|err| anyhow::anyhow!("cannot hand the window process its address: {err}"))?;
        let child = Arc::new(Mutex::new(child));
        let events = self.events.clone();
        let reaped = child.clone();
        // To wait for the exit without holding the child's lock: `close` takes that lock to
        // kill a process that closed its stdout but does not end.
        let runtime = tokio::runtime::Handle::try_current().ok();
        std::thread::Builder::new()
            .name("exai-tray::window".to_owned())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(event) = WindowEvent::parse(&line) {
                        let _ = events.send(event);
                    }
                }
                // Ended (not yet reaped, so the pid is still the child's) before the lock is
                // taken to reap it.
                if let Some(runtime) = &runtime {
                    runtime.block_on(exai_ipc::wait_for_exit(pid));
                }
                let status = reaped
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .wait();
                match status {
                    Ok(status) if !status.success() => {
                        tracing::warn!(pid, %status, "the dashboard window process failed");
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::debug!(pid, error = %err, "cannot reap the window process")
                    }
                }
                let _ = events.send(WindowEvent::Ended(pid));
            })
            .map_err(|err| anyhow::anyhow!("cannot start a thread for the window: {err}"))?;
        tracing::info!(pid, "dashboard window created");
        self.shown = false;
        self.focused = false;
        self.ever_shown = false;
        self.pending = None;
        self.running = Some(Running { pid, stdin, child });
        Ok(())
    }

    /// Folds in what the window process said; returns how the current process ended, if it
    /// did.
    pub(crate) fn apply(&mut self, event: WindowEvent) -> Option<Ended> {
        match event {
            WindowEvent::Shown(shown) => {
                self.shown = shown;
                self.ever_shown |= shown;
                if shown {
                    self.pending = None;
                }
            }
            WindowEvent::Focused(focused) => self.focused = focused,
            WindowEvent::Ended(pid) => {
                if self
                    .running
                    .as_ref()
                    .is_some_and(|running| running.pid == pid)
                {
                    self.running = None;
                    self.shown = false;
                    self.focused = false;
                    return Some(if self.ever_shown {
                        Ended::Released
                    } else {
                        Ended::NeverShown
                    });
                }
            }
        }
        None
    }

    /// A `show` the ended process never answered (the `pending` field), taken.
    pub(crate) fn take_unanswered(&mut self) -> Option<Navigate> {
        self.pending.take()
    }

    /// Ends the window process now (the tray quits), with WebKit's processes in its group.
    pub(crate) fn close(&mut self) {
        if let Some(running) = self.running.take() {
            drop(running.stdin);
            let killed = running
                .child
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .kill();
            if let Err(err) = killed {
                tracing::debug!(pid = running.pid, error = %err, "cannot end the window process");
            }
        }
    }
}

impl Drop for WindowProcess {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_process_lines_are_its_states() {
        assert_eq!(WindowEvent::parse("shown"), Some(WindowEvent::Shown(true)));
        assert_eq!(
            WindowEvent::parse("hidden\n"),
            Some(WindowEvent::Shown(false))
        );
        assert_eq!(
            WindowEvent::parse("focused"),
            Some(WindowEvent::Focused(true))
        );
        assert_eq!(
            WindowEvent::parse("unfocused"),
            Some(WindowEvent::Focused(false))
        );
        assert_eq!(WindowEvent::parse("Gtk-WARNING"), None);
    }

    #[test]
    fn a_process_that_never_showed_its_window_ended_for_want_of_one() {
        let (events, _) = mpsc::unbounded_channel();
        let mut window = WindowProcess::new(PathBuf::from("/nonexistent/exai-tray"), events);
        assert!(
            window
                .show(Navigate::Stay, || "http://127.0.0.1:9/".to_owned())
                .is_err()
        );
        assert_eq!(window.apply(WindowEvent::Ended(1)), None, "not ours");
        assert!(!window.in_view());
    }
}
