//! Autostart failures, with stand-in programs: a shim whose `exai` is missing, exits at once, or
//! never answers says so in one line that names the log. (Autostart of the real `exai hub` is
//! proven end to end in crates/exai-cli/tests/it/autostart.rs.)
//!
//! Each test links the shim binary into a directory of its own, so that "next to exai-shim"
//! holds only what the test puts there. The stand-ins are shell scripts, hence Unix only.

#![cfg(unix)]

use crate::support::{Place, Shim, assert_error, guard};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use tokio::process::Command;

/// The JSON-RPC code for "hub unavailable".
const HUB_UNAVAILABLE: i64 = -32001;

/// A shim in a directory of its own, with a private log directory and an empty PATH.
struct Setup {
    place: Place,
    /// Holds `exai-shim` and whatever stand-in the test adds.
    bin: tempfile::TempDir,
    /// `XDG_STATE_HOME` for the shim, so the autostart log lands here.
    state: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        // In the target directory, so that a hard link to the built shim is possible (a copy
        // being written while another test forks could fail to run with ETXTBSY).
        let bin = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bin dir");
        std::fs::hard_link(
            env!("CARGO_BIN_EXE_exai-shim"),
            bin.path().join("exai-shim"),
        )
        .expect("link the shim");
        Setup {
            place: Place::new(),
            bin,
            state: tempfile::tempdir().expect("state dir"),
        }
    }

    /// Puts an `exai` shell script next to the shim.
    fn stand_in(&self, script: &str) {
        let path = self.bin.path().join("exai");
        std::fs::write(&path, format!("#!/bin/sh\nPATH=/usr/bin:/bin\n{script}\n"))
            .expect("write the stand-in");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the stand-in");
    }

    fn log(&self) -> PathBuf {
        self.state.path().join("exai/logs/hub-autostart.log")
    }

    fn shim_log(&self) -> PathBuf {
        self.state.path().join("shim.log")
    }

    /// The shim's log lines; complete once the shim has exited.
    fn shim_log_lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.shim_log()).expect("the shim's log");
        text.lines().map(str::to_owned).collect()
    }

    fn shim(&self, connect_timeout: &str) -> Shim {
        let mut command = Command::new(self.bin.path().join("exai-shim"));
        command
            .arg("--endpoint")
            .arg(self.place.socket())
            .args(["--connect-timeout", connect_timeout])
            .arg("--log-file")
            .arg(self.shim_log())
            .env("EXAI_AUTOSTART", "hub")
            .env("PATH", self.state.path())
            .env("XDG_STATE_HOME", self.state.path())
            .env_remove("HOME");
        Shim::spawn(command, self.place.dir())
    }
}

/// Sends a request and returns the error message it gets.
async fn request_error(shim: &mut Shim) -> String {
    shim.send(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .await;
    let response = shim.recv_json().await;
    assert_error(&response, json!(1), HUB_UNAVAILABLE)
}

/// The pid in "... (pid N) ...".
fn pid_in(text: &str) -> u32 {
    let start = text.find("(pid ").expect("a pid in the message") + 5;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("pid digits")
}

#[tokio::test]
async fn a_missing_program_is_one_line_saying_where_it_was_looked_for() {
    let setup = Setup::new();
    let mut shim = setup.shim("0.2");
    let message = request_error(&mut shim).await;
    let bin = std::fs::canonicalize(setup.bin.path()).expect("canonical bin dir");
    let expected = format!(
        "autostart: EXAI_AUTOSTART=hub but exai was not found next to exai-shim (in {}) or on PATH; install it there, or unset EXAI_AUTOSTART",
        bin.display()
    );
    assert!(message.contains(&expected), "{message}");
    shim.close_stdin();
    assert!(shim.exit().await.success());
    let stderr = setup.shim_log_lines();
    let mentions: Vec<&String> = stderr.iter().filter(|l| l.contains("autostart")).collect();
    assert_eq!(mentions.len(), 1, "one line about it: {stderr:#?}");
    assert!(
        !stderr
            .iter()
            .any(|l| l.contains("start it with `exai hub`")),
        "no generic line besides: {stderr:#?}"
    );
}

#[tokio::test]
async fn a_program_that_exits_at_once_is_reported_with_its_code_and_log() {
    let setup = Setup::new();
    setup.stand_in(r#"echo "stand-in hub: $*" >&2; exit 7"#);
    let mut shim = setup.shim("20");
    let message = request_error(&mut shim).await;
    let log = setup.log();
    assert!(
        message.contains("autostart: exai hub (pid ")
            && message.contains(&format!(
                "exited with code 7 before it answered; its log: {}",
                log.display()
            )),
        "{message}"
    );
    let logged = std::fs::read_to_string(&log).expect("the autostart log");
    assert!(
        logged.contains(&format!(
            "stand-in hub: hub --endpoint {}",
            setup.place.socket().display()
        )),
        "the program got `hub --endpoint` and its stderr went to the log:\n{logged}"
    );
    assert!(
        logged.contains(&format!(
            "--- exai-shim (pid {}) starting {} hub --endpoint {}",
            shim.pid(),
            std::fs::canonicalize(setup.bin.path().join("exai"))
                .expect("canonical stand-in")
                .display(),
            setup.place.socket().display()
        )),
        "{logged}"
    );
    shim.close_stdin();
    assert!(shim.exit().await.success());
}

#[tokio::test]
async fn a_program_that_never_answers_times_out_with_its_pid_and_log() {
    let setup = Setup::new();
    setup.stand_in("exec sleep 30");
    let mut shim = setup.shim("0.5");
    let message = request_error(&mut shim).await;
    let pid = pid_in(&message);
    // Ours to end, by pid: started (detached) by the shim we started.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success(), "kill the stand-in {pid}");
    assert!(
        message.contains(&format!(
            "autostart: started exai hub (pid {pid}) but it did not answer within 0.5 s; its log: {}",
            setup.log().display()
        )),
        "{message}"
    );
    shim.close_stdin();
    assert!(shim.exit().await.success());
    let stderr = setup.shim_log_lines();
    let warnings: Vec<&String> = stderr
        .iter()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert_eq!(warnings.len(), 1, "one actionable line: {stderr:#?}");
}

#[tokio::test]
async fn without_autostart_nothing_is_started() {
    let setup = Setup::new();
    setup.stand_in(&format!(
        "touch {}",
        setup.state.path().join("started").display()
    ));
    let mut command = Command::new(setup.bin.path().join("exai-shim"));
    command
        .arg("--endpoint")
        .arg(setup.place.socket())
        .args(["--connect-timeout", "0.2"])
        .env_remove("EXAI_AUTOSTART");
    let mut shim = Shim::spawn(command, setup.place.dir());
    let message = request_error(&mut shim).await;
    assert!(message.contains("EXAI hub is not running"), "{message}");
    assert!(!message.contains("autostart"), "{message}");
    shim.close_stdin();
    assert!(shim.exit().await.success());
    assert!(!setup.state.path().join("started").exists());
}

#[tokio::test]
async fn a_bad_autostart_value_is_a_usage_error() {
    let setup = Setup::new();
    let mut command = Command::new(setup.bin.path().join("exai-shim"));
    command.env("EXAI_AUTOSTART", "always");
    let output = guard(command.output()).await.expect("run the shim");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("EXAI_AUTOSTART must be hub, tray or off, not \"always\""),
        "{stderr}"
    );
}
