//! Non-call ops, bare errors and strictly serial handling.

use exai_testkit::{DaemonConfig, ToolSpec};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Client, daemon, guarded, ops, result_text};

#[tokio::test]
async fn list_tools_reports_specs_and_follows_set_tools() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::hello(&daemon, "s-list").await;
    client
        .send(json!({"op": "list_tools", "request_id": "l1"}))
        .await;
    let listing = client.recv().await;
    assert_eq!(
        (&listing["op"], &listing["request_id"]),
        (&json!("list_tools_res"), &json!("l1"))
    );
    assert!(listing["timestamp"].is_string());
    let names: Vec<&str> = listing["tools"]
        .as_array()
        .expect("a tool list")
        .iter()
        .map(|tool| tool["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(
        names,
        ["echo", "slow", "gate", "fail", "big", "status", "chat"]
    );
    assert_eq!(listing["tools"][0]["inputSchema"]["type"], "object");

    daemon.set_tools(vec![ToolSpec::new(
        "analyze",
        "Analyzes.",
        json!({"type": "object"}),
    )]);
    client
        .send(json!({"op": "list_tools", "request_id": "l2"}))
        .await;
    assert_eq!(client.recv().await["tools"][0]["name"], "analyze");
    client.call("c1", "analyze", json!({"path": "x"})).await;
    let frames = client.recv_through_result().await;
    assert_eq!(
        result_text(frames.last().expect("a result")),
        r#"{"arguments":{"path":"x"},"tool":"analyze"}"#
    );
    client.call("c2", "echo", json!({"text": "gone"})).await;
    assert_eq!(
        client.recv().await,
        json!({"error": {"code": "TOOL_NOT_FOUND", "message": "Tool not found: echo"}})
    );
    assert_eq!(daemon.stats().list_tools, 2);
}

#[tokio::test]
async fn unknown_ops_and_bad_frames_get_the_daemons_errors() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::hello(&daemon, "s-errors").await;
    client
        .send(json!({"op": "health", "request_id": "h1"}))
        .await;
    assert_eq!(
        client.recv().await,
        json!({"error": {"code": "INVALID_REQUEST", "message": "Unknown operation: health"}})
    );
    client.send_text("{not json").await;
    assert_eq!(
        client.recv().await,
        json!({"op": "error", "error": {"code": "VALIDATION_ERROR",
               "message": "Invalid JSON: message could not be parsed"}})
    );
    client
        .send(json!({"op": "call_tool", "request_id": "c-noname", "arguments": {}}))
        .await;
    assert_eq!(
        client.recv().await,
        json!({"op": "call_tool_res", "request_id": "c-noname", "error": {"code": "INVALID_REQUEST",
               "message": "Invalid message: call_tool requires 'name' (non-empty string)"}})
    );
    client.call("c-unknown", "version", json!({})).await;
    assert_eq!(
        client.recv().await,
        json!({"error": {"code": "TOOL_NOT_FOUND", "message": "Tool not found: version"}})
    );
    // The connection survives all of it.
    client.ping_pong("p-after").await;
}

#[tokio::test]
async fn a_ping_behind_a_running_call_is_answered_after_it() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::hello(&daemon, "s-serial").await;
    client
        .call("g1", "gate", json!({"key": "serial", "text": "opened"}))
        .await;
    guarded("the gate call", daemon.wait_gate_started("serial")).await;
    client.send(json!({"op": "ping", "request_id": "p1"})).await;
    client
        .send(json!({"op": "cancel", "request_id": "g1"}))
        .await;
    // Progress keeps coming while the ping waits: the daemon is not reading it.
    for _ in 0..2 {
        assert_eq!(client.recv().await["op"], "progress");
    }
    let stats = daemon.stats();
    assert_eq!((stats.pings, stats.running_calls), (0, 1));

    daemon.open_gate("serial");
    let frames = client.recv_through_result().await;
    assert_eq!(result_text(frames.last().expect("a result")), "opened");
    // Cancel did not cancel anything, and both queued frames are answered after the result.
    let pong = client.recv().await;
    assert_eq!(
        (&pong["op"], &pong["request_id"]),
        (&json!("pong"), &json!("p1"))
    );
    assert_eq!(
        client.recv().await,
        json!({"op": "cancelled", "request_id": "g1"})
    );
    let stats = daemon.stats();
    assert_eq!(stats.max_running_calls_per_connection, 1);
    assert_eq!(stats.request_ids, ["g1", "p1", "g1"]);
    // Cancelling by the call's id is not a reuse.
    assert_eq!(stats.reused_request_ids, 0);
}

#[tokio::test]
async fn connections_run_in_parallel() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut blocked = Client::hello(&daemon, "s-blocked").await;
    let mut free = Client::hello(&daemon, "s-free").await;
    blocked.call("g-par", "gate", json!({"key": "par"})).await;
    guarded("the gate call", daemon.wait_gate_started("par")).await;
    free.ping_pong("p-free").await;
    free.call("e-free", "echo", json!({"text": "meanwhile"}))
        .await;
    assert_eq!(
        result_text(free.recv_through_result().await.last().expect("a result")),
        "meanwhile"
    );
    daemon.open_gate("par");
    assert_eq!(
        result_text(
            blocked
                .recv_through_result()
                .await
                .last()
                .expect("a result")
        ),
        "par"
    );
}

#[tokio::test]
async fn daemon_sends_websocket_pings_when_configured() {
    let daemon = daemon(DaemonConfig {
        ping_interval: Some(std::time::Duration::from_millis(20)),
        ..DaemonConfig::default()
    })
    .await;
    let mut client = Client::hello(&daemon, "s-wsping").await;
    assert!(matches!(client.next_message().await, Message::Ping(_)));
}

#[tokio::test]
async fn suffixed_and_legacy_calls_reach_the_tool() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::hello(&daemon, "s-names").await;
    for (idx, name) in ["status_EXAI-WS", "status-EXAI_WS", "chat_exai_ws"]
        .iter()
        .enumerate()
    {
        let arguments = json!({"prompt": "hi", "n": idx});
        client.call(&format!("n{idx}"), name, arguments).await;
        let frames = client.recv_through_result().await;
        assert_eq!(
            frames.last().expect("a result")["request_id"],
            format!("n{idx}")
        );
    }
    client
        .send(
            json!({"op": "tool_call", "request_id": "legacy", "tool": {"name": "chat"},
                     "arguments": {"prompt": "old"}}),
        )
        .await;
    let frames = client.recv_through_result().await;
    assert_eq!(
        ops(&frames),
        ["progress", "stream_complete", "call_tool_res"]
    );
    assert_eq!(result_text(&frames[2]), "echo: old");
    assert_eq!(daemon.stats().calls, 4);
}
