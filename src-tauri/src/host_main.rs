//! The `exai-tray-host` binary: EXAI Tray's long-running process on Linux, which `exai-tray`
//! becomes at start (crates/exai-tray-host says what it does). It uses only that crate, so the
//! linker keeps Tauri, GTK and WebKit out of it (the desktop test checks its mappings).

fn main() -> std::process::ExitCode {
    exai_tray_host::run()
}
