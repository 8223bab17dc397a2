//! Tool calls: frame order, the cache, the global in-flight table and stuck ids.

use std::time::Duration;

use exai_testkit::DaemonConfig;
use serde_json::json;

use crate::support::{Client, daemon, guarded, ops, result_text};

#[tokio::test]
async fn a_call_sends_progress_then_stream_complete_then_the_result() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::hello(&daemon, "s-order").await;
    client.call("c1", "gate", json!({"key": "order"})).await;
    assert_eq!(
        client.recv().await,
        json!({"op": "progress", "request_id": "c1", "message": "Tool execution in progress..."})
    );
    daemon.open_gate("order");
    let frames = client.recv_through_result().await;
    let (last, before) = frames.split_last().expect("a result");
    assert!(
        before[..before.len() - 1]
            .iter()
            .all(|frame| frame["op"] == "progress")
    );
    assert_eq!(
        before.last().expect("stream_complete")["op"],
        "stream_complete"
    );
    assert!(before.last().expect("stream_complete")["timestamp"].is_string());
    assert_eq!(last["request_id"], "c1");
    assert_eq!(result_text(last), "order");
    assert!(last["outputs"][0]["metadata"]["latency_metrics"].is_object());
    assert!(last.get("from_cache").is_none() && last.get("from_inflight").is_none());

    client
        .call("c2", "slow", json!({"ms": 1, "chunks": ["a", "b"]}))
        .await;
    let frames = client.recv_through_result().await;
    let tail = &frames[frames.len() - 4..];
    assert_eq!(
        ops(tail),
        [
            "stream_chunk",
            "stream_chunk",
            "stream_complete",
            "call_tool_res"
        ]
    );
    assert_eq!(
        (&tail[0]["chunk"], &tail[1]["chunk"]),
        (&json!("a"), &json!("b"))
    );
    assert_eq!(result_text(&tail[3]), r#"{"slept_ms":1}"#);
    assert_eq!(daemon.stats().results_sent, 2);
}

#[tokio::test]
async fn newer_builds_skip_stream_complete_or_send_two_finals() {
    let daemon = daemon(DaemonConfig {
        send_stream_complete: false,
        duplicate_final: true,
        ..DaemonConfig::default()
    })
    .await;
    let mut client = Client::hello(&daemon, "s-newer").await;
    client.call("c1", "echo", json!({"text": "twice"})).await;
    let first = client.recv().await;
    let second = client.recv().await;
    assert_eq!(first, second);
    assert_eq!(result_text(&first), "twice");
    client.ping_pong("p").await;
    assert_eq!(daemon.stats().results_sent, 2);
}

#[tokio::test]
async fn identical_calls_are_answered_from_the_cache_across_clients() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut first = Client::hello(&daemon, "s-cache-1").await;
    let mut second = Client::hello(&daemon, "s-cache-2").await;
    first
        .call("c1", "chat", json!({"prompt": "hi", "model": "m"}))
        .await;
    assert_eq!(
        ops(&first.recv_through_result().await),
        ["progress", "stream_complete", "call_tool_res"]
    );
    // Same arguments in another key order: still a hit, alone and flagged.
    second
        .call("c2", "chat_EXAI-WS", json!({"model": "m", "prompt": "hi"}))
        .await;
    let cached = second.recv().await;
    assert_eq!(cached["from_cache"], true);
    assert_eq!(cached["request_id"], "c2");
    assert_eq!(result_text(&cached), "echo: hi");
    second.call("c3", "chat", json!({"prompt": "other"})).await;
    assert_eq!(second.recv().await["op"], "progress");
}

#[tokio::test]
async fn cache_can_be_turned_off() {
    let daemon = daemon(DaemonConfig {
        cache: false,
        ..DaemonConfig::default()
    })
    .await;
    let mut client = Client::hello(&daemon, "s-nocache").await;
    for request_id in ["c1", "c2"] {
        client
            .call(request_id, "echo", json!({"text": "same"}))
            .await;
        let frames = client.recv_through_result().await;
        assert_eq!(ops(&frames), ["stream_complete", "call_tool_res"]);
    }
}

#[tokio::test]
async fn a_reused_running_id_gets_that_calls_result_from_inflight() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut owner = Client::hello(&daemon, "s-owner").await;
    let mut intruder = Client::hello(&daemon, "s-intruder").await;
    owner
        .call(
            "shared-id",
            "gate",
            json!({"key": "inflight", "text": "owner's result"}),
        )
        .await;
    guarded("the gate call", daemon.wait_gate_started("inflight")).await;
    intruder
        .call("shared-id", "echo", json!({"text": "mine"}))
        .await;
    guarded("the second call", daemon.wait_until(|s| s.calls == 2)).await;
    daemon.open_gate("inflight");
    let stolen = intruder.recv().await;
    assert_eq!(stolen["from_inflight"], true);
    assert_eq!(result_text(&stolen), "owner's result");
    assert_eq!(
        result_text(owner.recv_through_result().await.last().expect("a result")),
        "owner's result"
    );
    assert_eq!(daemon.stats().reused_request_ids, 1);
}

#[tokio::test]
async fn id_less_calls_share_the_unknown_id() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut first = Client::hello(&daemon, "s-noid-1").await;
    let mut second = Client::hello(&daemon, "s-noid-2").await;
    first
        .send(json!({"op": "call_tool", "name": "gate", "arguments": {"key": "noid"}}))
        .await;
    guarded("the gate call", daemon.wait_gate_started("noid")).await;
    second
        .send(json!({"op": "call_tool", "name": "echo", "arguments": {"text": "x"}}))
        .await;
    guarded("the second call", daemon.wait_until(|s| s.calls == 2)).await;
    daemon.open_gate("noid");
    let leaked = second.recv().await;
    assert_eq!(
        (&leaked["request_id"], &leaked["from_inflight"]),
        (&json!("unknown"), &json!(true))
    );
    assert_eq!(result_text(&leaked), "noid");
    let stats = daemon.stats();
    assert_eq!(stats.request_ids, ["unknown", "unknown"]);
    assert_eq!(stats.reused_request_ids, 1);
}

#[tokio::test]
async fn a_failed_call_leaves_its_id_stuck_forever() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::hello(&daemon, "s-stuck").await;
    client.call("f1", "fail", json!({})).await;
    assert_eq!(
        client.recv().await,
        json!({"error": {"code": "INTERNAL_ERROR", "message": "Tool execution failed: fail"}})
    );
    client.call("f1", "echo", json!({"text": "never"})).await;
    client
        .send(json!({"op": "ping", "request_id": "p-behind"}))
        .await;
    guarded("the reused call", daemon.wait_until(|s| s.calls == 2)).await;

    // The daemon as a whole still answers, on another connection.
    let mut other = Client::hello(&daemon, "s-other").await;
    other.ping_pong("p-other").await;
    let stats = daemon.stats();
    assert_eq!(
        (stats.reused_request_ids, stats.pings, stats.running_calls),
        (1, 1, 0)
    );
    // Negative check: the stuck connection stays silent.
    let silence = tokio::time::timeout(Duration::from_millis(200), client.recv()).await;
    assert!(
        silence.is_err(),
        "a stuck id must hang its connection: {silence:?}"
    );
}

#[tokio::test]
async fn big_results_have_the_exact_byte_length_and_non_ascii_text() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::hello(&daemon, "s-big").await;
    client.call("b1", "big", json!({"bytes": 1_000_001})).await;
    let frames = client.recv_through_result().await;
    let text = result_text(frames.last().expect("a result"));
    assert_eq!(text.len(), 1_000_001);
    assert!(text.contains('日') && text.contains('✓'));
}
