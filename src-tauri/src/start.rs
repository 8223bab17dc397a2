//! Starting the app for real: the display check, the runtime, logging, the hub config and the
//! hub, and what to say when another hub already owns the endpoint.
//!
//! Everything here runs before any window exists, so failures are one line on stderr (the only
//! place the tray prints) plus the log file.

use crate::logs::LogGuard;
use crate::{Autostart, HIDDEN_FLAG, QUIT_FLAG, Shell, quit, run_app, stop_hub};
use anyhow::Context as _;
use exai_hub::HubHandle;
use exai_tray_host::start::{Begun, ExitCode, begin, missing_display, quit_running, say};
use tauri::{Manager as _, RunEvent};

/// On Linux, replaces this process with `exai-tray-host` from the same folder (same pid, same
/// arguments), so the long-running tray maps no GTK or WebKit (ARCHITECTURE.md, "A tray that
/// costs nothing while hidden"). Returns when that is not wanted or not possible: not Linux,
/// no host beside us (then this process is the whole tray, as before), or the exec failed.
pub(crate) fn become_host() {
    if std::env::consts::OS != "linux" {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let host = exe.with_file_name(exai_tray_host::HOST_PROGRAM);
    if !host.is_file() {
        return;
    }
    let mut command = std::process::Command::new(&host);
    command.args(std::env::args_os().skip(1));
    let err = exai_ipc::process::exec_replace(&mut command);
    say(&format!(
        "exai-tray: cannot start {} ({err}); running the tray in this process",
        host.display()
    ));
}

pub(crate) fn start() -> anyhow::Result<ExitCode> {
    if std::env::args().any(|arg| arg == QUIT_FLAG) {
        return quit_running();
    }
    keep_gdk_off_gl();
    if missing_display(std::env::consts::OS, |key| std::env::var_os(key)) {
        say("exai-tray: no display: run `exai hub --dashboard` instead, or set DISPLAY");
        return Ok(ExitCode::NoDisplay);
    }
    // One runtime for Tauri and the hub (STYLE.md section 1): Tauri spawns its async commands
    // and our tasks on it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("exai-tray")
        .build()
        .context("cannot start the async runtime")?;
    tauri::async_runtime::set(runtime.handle().clone());

    let begun = match begin(&runtime)? {
        Ok(begun) => begun,
        Err(code) => return Ok(code),
    };
    let Begun {
        hub,
        hub_task,
        settings,
        endpoint_override,
        log_guard,
    } = begun;
    let hub_task = tauri::async_runtime::spawn(hub_task.run());
    let shell = Shell {
        hub,
        hub_task: Some(hub_task),
        settings,
        endpoint_override,
        autostart: Autostart::Plugin,
        tray: true,
        show_window: !std::env::args().any(|arg| arg == HIDDEN_FLAG),
    };
    let app = run_app(tauri::Builder::default(), shell).context("cannot start the app")?;
    app.manage(log_guard);

    let stopper = app.handle().clone();
    let hub = app.state::<HubHandle>().inner().clone();
    tauri::async_runtime::spawn(async move {
        tokio::select! {
            () = exai_ipc::shutdown_signal() => tracing::info!("stop requested by signal"),
            // A control client's stop (`exai-tray --quit`), or our own Quit.
            () = hub.stopping() => tracing::info!("the hub is stopping"),
        }
        quit(&stopper);
    });

    app.run(|app, event| match event {
        // Closing the window only hides it (see run_app); the tray stays until Quit.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            tauri::async_runtime::block_on(stop_hub(app));
            tracing::info!("EXAI tray stopped");
            app.state::<LogGuard>().flush();
        }
        _ => {}
    });
    Ok(ExitCode::Ok)
}

/// Tells GDK not to set up OpenGL in this process (`GDK_GL=disable`), unless the user chose a
/// `GDK_GL` of their own.
///
/// On X11, GTK 3 opens GLX when it opens the display, only to pick visuals, and that loads the
/// system's OpenGL driver (Mesa's megadriver with LLVM: about 32 MiB of a tray that would
/// otherwise idle at half that). The tray draws no GL; WebKit renders the page in its own web
/// process and shows it without GDK's GL context. See ARCHITECTURE.md, "Decisions".
pub(crate) fn keep_gdk_off_gl() {
    if std::env::var_os("GDK_GL").is_none() {
        // SAFETY: the first thing the binary does, on the main thread, before the runtime,
        // logging or GTK start a thread: nothing can read the environment concurrently.
        unsafe { std::env::set_var("GDK_GL", "disable") };
    }
}
