//! Tidy: the project's written rules and ARCHITECTURE.md's invariants, checked on every test run.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Every tracked-looking source file under `dir` (skips target/, node_modules/, hidden dirs).
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !(name.starts_with('.')
                    || name == "target"
                    || name == "node_modules"
                    || name == "dist")
                {
                    stack.push(path);
                }
            } else if name.ends_with(ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn no_ignored_or_should_panic_tests() {
    let banned = [concat!("#[", "ignore"), concat!("#[", "should_panic")];
    for file in files(&root(), ".rs") {
        let text = read(&file);
        for pattern in banned {
            assert!(
                !text.contains(pattern),
                "{} contains {pattern}: fix the test instead",
                file.display()
            );
        }
    }
}

#[test]
fn nothing_kills_processes_by_name() {
    let banned = [
        concat!("pk", "ill "),
        concat!("kill", "all "),
        concat!("task", "kill"),
    ];
    for ext in [".rs", ".sh", ".ts", ".js", ".toml"] {
        for file in files(&root(), ext) {
            let text = read(&file);
            for pattern in banned {
                assert!(
                    !text.contains(pattern),
                    "{} kills by name ({pattern:?}): end only what you started, by id",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn the_shim_writes_nothing_to_stdout_but_relayed_messages() {
    for file in files(&root().join("shim/src"), ".rs") {
        let text = read(&file);
        for pattern in [
            concat!("println", "!("),
            concat!("print", "!("),
            concat!("dbg", "!("),
        ] {
            assert!(
                !text.contains(pattern),
                "{} uses {pattern}: stdout is the MCP wire",
                file.display()
            );
        }
        assert!(
            !text.contains(concat!("windows_sub", "system")),
            "the shim needs console stdio"
        );
    }
}

#[test]
fn only_exai_ipc_contains_platform_cfgs() {
    let root = root();
    for dir in [
        "crates/exai-proto/src",
        "crates/exai-hub/src",
        "crates/exai-dashboard/src",
        "crates/exai-cli/src",
        "crates/exai-tray-host/src",
        "shim/src",
        "src-tauri/src",
    ] {
        for file in files(&root.join(dir), ".rs") {
            let text = read(&file);
            for pattern in [
                concat!("cfg(", "windows)"),
                concat!("cfg(", "unix)"),
                concat!("cfg(target_", "os"),
            ] {
                assert!(
                    !text.contains(pattern),
                    "{} has {pattern}: platform code belongs in exai-ipc",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn crate_boundaries_hold() {
    let root = root();
    let manifest = |dir: &str| read(&root.join(dir).join("Cargo.toml"));
    for headless in [
        "crates/exai-hub",
        "crates/exai-dashboard",
        "crates/exai-cli",
    ] {
        let deps = manifest(headless);
        for banned in ["tauri", "notify-rust", "gtk", "wry"] {
            assert!(
                !deps.contains(banned),
                "{headless} must not depend on {banned}: it runs where no display exists"
            );
        }
    }
    // The tray's long-running process on Linux exists to map no toolkit and no webview.
    let tray_host = manifest("crates/exai-tray-host");
    for banned in ["tauri", "gtk", "wry", "webkit", "tao"] {
        assert!(
            !tray_host.contains(&format!("\n{banned}")),
            "exai-tray-host must not depend on {banned}: it idles all day with no window"
        );
    }
    let shim = manifest("shim");
    let shim_deps = shim.split("[dev-dependencies]").next().unwrap_or_default();
    for banned in ["exai-hub", "tungstenite", "rustls", "native-tls", "openssl"] {
        assert!(
            !shim_deps.contains(banned),
            "exai-shim must not link {banned}"
        );
    }
    let proto = manifest("crates/exai-proto");
    let proto_deps = proto.split("[dev-dependencies]").next().unwrap_or_default();
    assert!(
        !proto_deps.contains("tokio.workspace") && !proto_deps.contains("exai-ipc"),
        "exai-proto does no I/O"
    );
}

#[test]
fn every_crate_root_says_what_it_owns() {
    let root = root();
    for file in [
        "crates/exai-proto/src/lib.rs",
        "crates/exai-ipc/src/lib.rs",
        "crates/exai-hub/src/lib.rs",
        "crates/exai-dashboard/src/lib.rs",
        "crates/exai-cli/src/main.rs",
        "crates/exai-testkit/src/lib.rs",
        "crates/exai-tray-host/src/lib.rs",
        "src-tauri/src/host_main.rs",
        "shim/src/main.rs",
        "src-tauri/src/lib.rs",
        "src-tauri/src/main.rs",
    ] {
        let text = read(&root.join(file));
        assert!(
            text.starts_with("//!"),
            "{file} must open with a //! comment saying what it owns"
        );
    }
}

#[test]
fn only_boundary_types_derive_serialize_in_the_hub() {
    for file in files(&root().join("crates/exai-hub/src"), ".rs") {
        if file.ends_with("api.rs") {
            continue;
        }
        let text = read(&file);
        assert!(
            !text.contains("Serialize)]") && !text.contains("Serialize,"),
            "{} derives Serialize: only hub::api types are a boundary",
            file.display()
        );
    }
}

#[test]
fn only_the_tray_binary_asks_for_the_windows_subsystem() {
    let pattern = concat!("windows_sub", "system");
    for file in files(&root(), ".rs") {
        if file.ends_with("src-tauri/src/main.rs") || file.ends_with("tidy.rs") {
            continue;
        }
        assert!(
            !read(&file).contains(pattern),
            "{} sets the {pattern}: only exai-tray's main.rs may (no console window)",
            file.display()
        );
    }
    assert!(
        read(&root().join("src-tauri/src/main.rs")).contains(pattern),
        "exai-tray must use the Windows subsystem so no console window flashes up"
    );
}

#[test]
fn processes_are_launched_only_through_exai_ipc() {
    // exai_ipc::process ties what the hub launches to it (a Job Object on Windows, no console
    // window) or detaches it on purpose (the shim's autostart); a bare `spawn()` does neither.
    let root = root();
    for dir in [
        "crates/exai-hub/src",
        "crates/exai-dashboard/src",
        "crates/exai-cli/src",
        "crates/exai-tray-host/src",
        "src-tauri/src",
        "shim/src",
    ] {
        for file in files(&root.join(dir), ".rs") {
            let text = read(&file);
            assert!(
                !text.contains(concat!(".spawn", "()")) && !text.contains(concat!(".output", "()")),
                "{} starts a process by hand: use exai_ipc::process",
                file.display()
            );
            assert!(
                !text.contains(concat!("Command", "::new")) || text.contains("exai_ipc::process"),
                "{} builds a process without exai_ipc::process",
                file.display()
            );
        }
    }
}
