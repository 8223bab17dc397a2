//! Crashing, restarting and dropping connections.

use exai_testkit::DaemonConfig;
use serde_json::json;

use crate::support::{Client, Event, daemon, guarded, result_text};

#[tokio::test]
async fn stop_refuses_connects_and_restart_listens_on_the_same_port() {
    let daemon = daemon(DaemonConfig::default()).await;
    let addr = daemon.addr();
    assert_eq!(daemon.url(), format!("ws://127.0.0.1:{}", addr.port()));
    let mut client = Client::hello(&daemon, "s-crash").await;

    daemon.stop().await;
    // Abrupt: the socket ends with no close frame.
    assert!(matches!(client.next_event().await, Event::Ended));
    assert!(
        tokio_tungstenite::connect_async(daemon.url())
            .await
            .is_err()
    );
    assert_eq!(daemon.stats().live_connections, 0);
    assert!(daemon.stats().closes.is_empty());

    daemon.restart().await.expect("the daemon restarts");
    assert_eq!(daemon.addr(), addr);
    let mut client = Client::hello(&daemon, "s-back").await;
    client.ping_pong("p").await;
    assert_eq!(daemon.stats().connections_accepted, 2);
    // Restarting a running daemon changes nothing.
    daemon.restart().await.expect("a no-op restart");
    client.ping_pong("p2").await;
}

#[tokio::test]
async fn drop_connections_keeps_listening_and_tools_run_on() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::hello(&daemon, "s-drop").await;
    client.call("g1", "gate", json!({"key": "survivor"})).await;
    guarded("the gate call", daemon.wait_gate_started("survivor")).await;

    daemon.drop_connections().await;
    assert!(matches!(client.next_event().await, Event::Ended));
    assert_eq!(daemon.stats().running_calls, 1);

    // The tool runs on after its connection is gone, and its id is still in flight.
    let mut client = Client::hello(&daemon, "s-drop-2").await;
    client.call("g1", "echo", json!({"text": "late"})).await;
    guarded("the reused call", daemon.wait_until(|s| s.calls == 2)).await;
    daemon.open_gate("survivor");
    let frame = client.recv().await;
    assert_eq!(frame["from_inflight"], true);
    assert_eq!(result_text(&frame), "survivor");
    guarded(
        "the tool to finish",
        daemon.wait_until(|s| s.running_calls == 0),
    )
    .await;
}

#[tokio::test]
async fn dropping_the_daemon_stops_everything() {
    let daemon = daemon(DaemonConfig::default()).await;
    let url = daemon.url();
    let mut client = Client::hello(&daemon, "s-gone").await;
    client.call("g1", "gate", json!({"key": "never"})).await;
    guarded("the gate call", daemon.wait_gate_started("never")).await;
    drop(daemon);
    // Progress frames may still be in flight; then the socket ends without a close frame.
    loop {
        match client.next_event().await {
            Event::Json(frame) => assert_eq!(frame["op"], "progress"),
            Event::Ended => break,
            close @ Event::Close(..) => panic!("a dropped daemon sends no close: {close:?}"),
        }
    }
    guarded("connects to be refused", async {
        while tokio_tungstenite::connect_async(url.as_str()).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
}
