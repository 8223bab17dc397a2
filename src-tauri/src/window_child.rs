//! `exai-tray --window`: the dashboard window as a process of its own, started by the Linux
//! host (`exai-tray-host`, crates/exai-tray-host/src/window.rs says why and how).
//!
//! One webview window on the host's loopback dashboard: the address (with its token) is the
//! first line of stdin, never an argument. The page speaks HTTP to the hub like a browser tab
//! (an initialization script marks it as the tray's window, ui/src/api/index.ts). Later stdin
//! lines `show <hash>` show and focus the window and move the page; the end of stdin (the host
//! is gone) ends the process. What the window does is written to stdout, one word a line:
//! `shown`, `hidden`, `focused`, `unfocused`.
//!
//! Closing the window hides it; the process ends [`window::RELEASE_ENV`] seconds (a minute by
//! default) later unless it was shown again, taking WebKit's web and network processes with it.
//! No hub, no tray icon, no plugins here.

use crate::start::keep_gdk_off_gl;
use crate::window::{RELEASE_ENV, TITLE, release_after};
use crate::{ExitCode, MAIN_WINDOW};
use std::io::{BufRead as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tauri::{Manager as _, RunEvent, WebviewUrl, WindowEvent};

/// Marks the page as the tray's own window (ui/src/api/index.ts, `TRAY_WINDOW_MARK`).
const MARK_SCRIPT: &str = "window.__EXAI_TRAY_WINDOW__ = true;";

/// Tells the host what the window did.
fn tell(word: &str) {
    let mut stdout = std::io::stdout().lock();
    // The host gone: nothing to tell; stdin's end stops us.
    let _ = writeln!(stdout, "{word}").and_then(|()| stdout.flush());
}

/// Counts shows and hides, so a release scheduled by a hide knows whether one came since.
#[derive(Default)]
struct Epoch(AtomicU64);

impl Epoch {
    fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Runs the window process until its window is released or the host goes.
pub(crate) fn run() -> anyhow::Result<ExitCode> {
    keep_gdk_off_gl();
    let mut first = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut first)
        .map_err(|err| anyhow::anyhow!("cannot read the dashboard's address: {err}"))?;
    let address: tauri::Url = first
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("the host gave no dashboard address"))?;
    let epoch = Arc::new(Epoch::default());
    let release_epoch = epoch.clone();
    let app = tauri::Builder::default()
        .on_window_event(move |window, event| match event {
            WindowEvent::CloseRequested { api, .. } => {
                api.prevent_close();
                if let Err(err) = window.hide() {
                    tracing::warn!(error = %err, "cannot hide the dashboard");
                }
                tell("hidden");
                let mine = release_epoch.next();
                let epoch = release_epoch.clone();
                let app = window.app_handle().clone();
                let delay = release_after(std::env::var(RELEASE_ENV).ok().as_deref());
                tauri::async_runtime::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if epoch.now() == mine {
                        app.exit(0);
                    }
                });
            }
            WindowEvent::Focused(focused) => tell(if *focused { "focused" } else { "unfocused" }),
            _ => {}
        })
        .setup(move |app| {
            let window =
                tauri::WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::External(address))
                    .title(TITLE)
                    .inner_size(960.0, 640.0)
                    .min_inner_size(640.0, 420.0)
                    .center()
                    .initialization_script(MARK_SCRIPT)
                    .build()?;
            window.set_focus()?;
            tell("shown");
            let handle = app.handle().clone();
            std::thread::Builder::new()
                .name("exai-tray::window-stdin".to_owned())
                .spawn(move || follow_host(&handle, &epoch))?;
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(|_, event| {
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            // Only a release or the host's end ends this process, not a hidden last window.
            api.prevent_exit();
        }
    });
    Ok(ExitCode::Ok)
}

/// Reads the host's `show <hash>` lines until its end, then ends the app.
fn follow_host(app: &tauri::AppHandle, epoch: &Arc<Epoch>) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Some(hash) = line.strip_prefix("show") else {
            continue;
        };
        epoch.next();
        let hash = hash.trim().to_owned();
        let handle = app.clone();
        let shown = app.run_on_main_thread(move || show(&handle, &hash));
        if shown.is_err() {
            break;
        }
    }
    app.exit(0);
}

fn show(app: &tauri::AppHandle, hash: &str) {
    let Some(window) = app.get_webview_window(MAIN_WINDOW) else {
        return;
    };
    let shown = window
        .unminimize()
        .and_then(|()| window.show())
        .and_then(|()| window.set_focus());
    match shown {
        Ok(()) => tell("shown"),
        Err(err) => tracing::warn!(error = %err, "cannot show the dashboard"),
    }
    if !hash.is_empty() {
        let script = format!(
            "window.location.hash = {};",
            serde_json::Value::from(hash.to_owned())
        );
        if let Err(err) = window.eval(&script) {
            tracing::warn!(error = %err, "cannot move the dashboard");
        }
    }
}
