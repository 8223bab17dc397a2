//! Process-level platform calls on Windows: our parent's pid, waiting for another process to
//! exit, and the console's stop requests.

#![cfg(windows)]

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};

use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcessId, INFINITE, OpenProcess, PROCESS_SYNCHRONIZE, WaitForSingleObject,
};

/// Finds our own entry in a Toolhelp process snapshot and returns its parent.
pub(crate) fn parent_pid() -> Option<u32> {
    // SAFETY: no pointers are passed.
    let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
    if raw == INVALID_HANDLE_VALUE || raw.is_null() {
        return None;
    }
    // SAFETY: the snapshot handle is ours to close.
    let snapshot = unsafe { OwnedHandle::from_raw_handle(raw) };
    // SAFETY: no preconditions.
    let our_pid = unsafe { GetCurrentProcessId() };
    let mut entry = PROCESSENTRY32W {
        dwSize: std::mem::size_of::<PROCESSENTRY32W>() as u32,
        ..Default::default()
    };
    // SAFETY: `entry` is valid and its dwSize is set.
    let mut more = unsafe { Process32FirstW(snapshot.as_raw_handle(), &mut entry) } != 0;
    while more {
        if entry.th32ProcessID == our_pid {
            return Some(entry.th32ParentProcessID).filter(|&ppid| ppid != 0);
        }
        // SAFETY: as above.
        more = unsafe { Process32NextW(snapshot.as_raw_handle(), &mut entry) } != 0;
    }
    None
}

/// Waits on the process handle on a dedicated thread.
///
/// A plain thread rather than `spawn_blocking`: tokio waits for blocking-pool tasks when the
/// runtime shuts down, and an infinite wait there would hang the shim's exit. A wait that is
/// abandoned leaves its thread parked until the watched process exits or ours does.
pub(crate) async fn wait_for_exit(pid: u32) {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("exai-wait-for-exit".to_owned())
        .spawn(move || {
            wait_for_process_blocking(pid);
            // The receiver may be gone if the caller stopped waiting; that is fine.
            let _ = done_tx.send(());
        });
    match spawned {
        Ok(_detached) => {
            let _ = done_rx.await;
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot start a thread to watch the process; using the blocking pool");
            let _ = tokio::task::spawn_blocking(move || wait_for_process_blocking(pid)).await;
        }
    }
}

fn wait_for_process_blocking(pid: u32) {
    // SAFETY: no pointers are passed.
    let raw = unsafe { OpenProcess(PROCESS_SYNCHRONIZE, 0, pid) };
    if raw.is_null() {
        // No such process (or no right to wait on it): treat it as already exited.
        return;
    }
    // SAFETY: OpenProcess succeeded, so we own this handle.
    let process = unsafe { OwnedHandle::from_raw_handle(raw) };
    // SAFETY: the handle is valid for the duration of the wait.
    unsafe { WaitForSingleObject(process.as_raw_handle(), INFINITE) };
}

/// Resolves on Ctrl-Break, on the console window closing, or on system shutdown. Ctrl-C is
/// handled by the shared code.
pub(crate) async fn stop_requested() {
    use tokio::signal::windows::{ctrl_break, ctrl_close, ctrl_shutdown};
    let (mut on_break, mut on_close, mut on_shutdown) = match (
        ctrl_break(),
        ctrl_close(),
        ctrl_shutdown(),
    ) {
        (Ok(on_break), Ok(on_close), Ok(on_shutdown)) => (on_break, on_close, on_shutdown),
        (Err(err), _, _) | (_, Err(err), _) | (_, _, Err(err)) => {
            tracing::warn!(error = %err, "cannot watch console stop events; only Ctrl-C stops this process");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = on_break.recv() => {}
        _ = on_close.recv() => {}
        _ = on_shutdown.recv() => {}
    }
}
