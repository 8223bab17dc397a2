//! The `exai` command: `exai status`, a second hub, config errors.

use crate::support::*;
use exai_hub::Hub;
use std::process::Stdio;
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_shows_the_upstream_and_every_session() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let _window = env.window("status-window").await;
    hub.wait_session("status-window", exai_hub::api::SessionState::Ready)
        .await;
    // The pool dials the rest once its first connection has served a request.
    hub.wait_for("the whole pool", |snapshot| {
        snapshot.upstream.connections == 4
    })
    .await;
    let output = Command::new(bin("exai"))
        .args(["status", "--json", "--endpoint", &env.endpoint()])
        .output()
        .await
        .expect("run exai status");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(status["upstream"]["url"], env.daemon.url());
    assert_eq!(status["upstream"]["state"], "connected");
    assert_eq!(status["upstream"]["connections"], 4);
    assert!(status["upstream"]["tools"].as_u64().unwrap() > 0);
    let session = &status["sessions"][0];
    assert_eq!(session["name"], "status-window");
    assert_eq!(session["state"], "ready");
    assert_eq!(session["client"]["name"], "test-editor-status-window");
    for key in ["id", "pid", "requests", "errors", "in_flight"] {
        assert!(!session[key].is_null(), "missing {key}");
    }
    let table = Command::new(bin("exai"))
        .args(["status", "--endpoint", &env.endpoint()])
        .output()
        .await
        .expect("run exai status");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("status-window") && table.contains("connected"),
        "{table}"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_without_a_hub_says_so_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = dir.path().join("nobody.sock");
    let output = Command::new(bin("exai"))
        .args(["status", "--endpoint"])
        .arg(&endpoint)
        .output()
        .await
        .expect("run exai status");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no EXAI hub is running") && stderr.contains("exai hub"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_hub_on_the_same_endpoint_refuses_and_the_first_keeps_working() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let second = Hub::new(env.hub_config(&HubOptions::default()), None).await;
    let error = format!("{:#}", second.err().expect("a second hub must refuse"));
    assert!(error.contains("already running"), "{error}");
    let output = Command::new(bin("exai"))
        .args([
            "hub",
            "--endpoint",
            &env.endpoint(),
            "--upstream",
            &env.daemon.url(),
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run a second exai hub");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The hub in this test process is the one already there; the message says who it is.
    let who = format!(
        "`exai hub` (pid {}) already runs the EXAI hub",
        std::process::id()
    );
    assert!(stderr.contains(&who), "{stderr}");
    let window = env.window("first-hub").await;
    assert_eq!(
        window
            .call_text("echo", serde_json::json!({"text": "ok"}))
            .await,
        "ok"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_config_file_names_the_file_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[upstream]\nurl = \"ws://127.0.0.1:1\"\npool_sise = 3\n",
    )
    .expect("write");
    let output = Command::new(bin("exai"))
        .args(["hub", "--endpoint"])
        .arg(dir.path().join("hub.sock"))
        .arg("--config")
        .arg(&config)
        .output()
        .await
        .expect("run exai hub");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&config.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("line 3") && stderr.contains("pool_sise"),
        "{stderr}"
    );
}
