//! Rate limits, connection limits and the frame size limit.

use exai_testkit::{DaemonConfig, RateLimit};
use serde_json::json;

use crate::support::{Client, Event, daemon, guarded};

#[tokio::test]
async fn exceeding_the_session_rate_limit_gets_over_capacity_with_the_wait() {
    let daemon = daemon(DaemonConfig {
        rate_limit: Some(RateLimit {
            burst: 2,
            per_sec: 5.0,
        }),
        ..DaemonConfig::default()
    })
    .await;
    let mut client = Client::hello(&daemon, "s-rate").await;
    for request_id in ["p1", "p2", "p3"] {
        client
            .send(json!({"op": "ping", "request_id": request_id}))
            .await;
    }
    assert_eq!(client.recv().await["op"], "pong");
    assert_eq!(client.recv().await["op"], "pong");
    let refused = client.recv().await;
    assert_eq!(refused["op"], "error");
    assert_eq!(refused["error"]["code"], "OVER_CAPACITY");
    assert_eq!(
        refused["error"]["message"],
        "Rate limit exceeded: user_rate_limit_exceeded (retry after 0.2s)"
    );
    assert!(refused["error"]["details"].is_object());
    let stats = daemon.stats();
    assert_eq!((stats.over_capacity, stats.pings), (1, 2));

    // Another session has its own bucket.
    let mut other = Client::hello(&daemon, "s-rate-2").await;
    other.ping_pong("q1").await;
}

#[tokio::test]
async fn the_connection_over_the_per_ip_limit_is_closed_with_1008() {
    let daemon = daemon(DaemonConfig {
        max_connections_per_ip: 2,
        ..DaemonConfig::default()
    })
    .await;
    let first = Client::hello(&daemon, "s-ip-1").await;
    let _second = Client::hello(&daemon, "s-ip-2").await;
    let mut third = Client::connect(&daemon).await;
    assert_eq!(
        third.recv_close().await,
        (1008, "Too many connections from your IP".to_owned())
    );
    drop(first);
    guarded(
        "a slot to free up",
        daemon.wait_until(|s| s.live_connections == 1),
    )
    .await;
    let mut fourth = Client::hello(&daemon, "s-ip-4").await;
    fourth.ping_pong("p").await;
    let stats = daemon.stats();
    assert_eq!(
        (stats.connections_accepted, stats.closes.as_slice()),
        (3, &[1008][..])
    );
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let daemon = daemon(DaemonConfig {
        max_message_bytes: 4096,
        ..DaemonConfig::default()
    })
    .await;
    let mut client = Client::hello(&daemon, "s-size").await;
    client
        .call("ok", "echo", json!({"text": "x".repeat(3000)}))
        .await;
    let frames = client.recv_through_result().await;
    assert_eq!(frames.len(), 2);
    client
        .call("too-big", "echo", json!({"text": "x".repeat(5000)}))
        .await;
    match client.next_event().await {
        Event::Close(code, _) => assert_eq!(code, 1009),
        other => panic!("expected close 1009, got {other:?}"),
    }
}
