//! The `exai-tray` binary: everything lives in the library so tests can run it.
// Windows: no console window behind the app in release builds. The one cfg outside exai-ipc.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    exai_tray::run()
}
