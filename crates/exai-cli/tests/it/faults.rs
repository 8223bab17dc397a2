//! The fault suite: attacks that keep running while a real window is served. Each asserts that
//! the window's calls still succeed and that the hub's memory stays bounded. (The other attacks
//! live beside what they attack: a storming daemon in exai-hub's upstream tests, a bursting
//! editor in `burst.rs`, a squatter in exai-ipc's `places.rs`, idle and stalled HTTP clients in
//! `dashboard.rs`.)

use crate::support::*;
use exai_proto::{Frame, Hello, Resume, SessionId};
use exai_testkit::shim;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncWriteExt;

/// The resident memory of process `pid` in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS")
}

fn hello(name: String, resume: Option<Resume>) -> Frame {
    shim::hello_frame(Hello {
        resume,
        ..shim::hello(&name)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_client_on_the_socket_neither_starves_nor_bloats_the_hub() {
    let env = Env::new(daemon()).await;
    let mut hub = env.hub_process(&HubOptions::default());
    let pid = hub.id().expect("the hub's pid");
    let window = env.window("victim").await;
    assert_eq!(
        window.call_text("echo", json!({"text": "before"})).await,
        "before"
    );
    let before = rss_kib(pid);
    let endpoint = env.endpoint();
    let connect = || shim::connect(&endpoint);

    // Connections that never say hello, held open through the rest of the test.
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(connect().await);
    }
    // Announced 256 MiB frames before a hello, with a MiB of the body actually sent.
    for _ in 0..20 {
        let mut conn = connect().await;
        let mut bytes = vec![0x10, 0, 0, 0, 0];
        bytes.resize(1 << 20, b'x');
        // The hub refuses on the header and hangs up, so the write may fail: that is the point.
        let _ = conn.get_mut().write_all(&bytes).await;
    }
    // Hellos with 10 MB names, and hellos that try to take over the window's session.
    let victim = {
        let snapshot = std::process::Command::new(bin("exai"))
            .args(["status", "--json", "--endpoint", &env.endpoint()])
            .output()
            .expect("exai status");
        let status: serde_json::Value =
            serde_json::from_slice(&snapshot.stdout).expect("status JSON");
        let id = status["sessions"][0]["id"]
            .as_str()
            .expect("an id")
            .to_owned();
        id.parse::<SessionId>().expect("a session id")
    };
    for n in 0..20 {
        let mut conn = connect().await;
        let _ = conn.send(hello("n".repeat(10 << 20), None)).await;
        let mut conn = connect().await;
        let resume = Resume {
            session_id: victim,
            initialize: None,
            secret: Some(format!("{n:032x}")),
        };
        conn.send(hello("thief".into(), Some(resume)))
            .await
            .expect("send a hello");
        let _ = guard("an answer to the thief", conn.next()).await;
    }
    // A welcomed connection that floods unparseable lines and never reads the answers.
    let mut flood = connect().await;
    flood
        .send(hello("flood".into(), None))
        .await
        .expect("hello");
    let _ = guard("a welcome", flood.next()).await;
    for _ in 0..32 {
        if flood
            .send(Frame::Line(vec![b'{'; 1 << 20].into()))
            .await
            .is_err()
        {
            break;
        }
    }

    // The window is served throughout, and still owns its session.
    for n in 0..20 {
        let text = format!("during {n}");
        assert_eq!(
            window.call_text("echo", json!({ "text": text })).await,
            text
        );
    }
    let after = rss_kib(pid);
    assert!(
        after < before + 100 * 1024,
        "the hub grew from {before} KiB to {after} KiB"
    );
    let status = std::process::Command::new(bin("exai"))
        .args(["status", "--json", "--endpoint", &env.endpoint()])
        .output()
        .expect("exai status");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let sessions = status["sessions"].as_array().expect("sessions");
    let owner = sessions
        .iter()
        .find(|session| session["id"] == victim.to_string())
        .expect("the window's session");
    assert_eq!(owner["name"], "victim", "nobody took the session over");
    assert_eq!(owner["state"], "ready");
    drop(idle);
    hub.start_kill().expect("end the hub we started");
    let _ = hub.wait().await;
}
