//! The hello handshake and its close codes.

use std::time::Duration;

use exai_testkit::DaemonConfig;
use serde_json::json;

use crate::support::{Client, daemon, guarded};

const TOKEN: &str = "a-token-of-at-least-16-chars";

#[tokio::test]
async fn hello_is_acknowledged_with_the_given_session_id() {
    let daemon = daemon(DaemonConfig::default()).await;
    let _client = Client::hello(&daemon, "exai-tray-3f9c2a").await;
    let stats = daemon.stats();
    assert_eq!(stats.hello_session_ids, ["exai-tray-3f9c2a"]);
    assert_eq!((stats.authenticated, stats.live_connections), (1, 1));
}

#[tokio::test]
async fn hello_without_session_id_gets_a_random_one() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::connect(&daemon).await;
    client.send(json!({"op": "hello"})).await;
    let ack = client.recv().await;
    assert_eq!(
        (&ack["op"], &ack["ok"]),
        (&json!("hello_ack"), &json!(true))
    );
    let session_id = ack["session_id"].as_str().expect("a generated session id");
    assert!(session_id.len() >= 3);
    assert_eq!(daemon.stats().hello_session_ids, [session_id]);
}

#[tokio::test]
async fn wrong_token_is_refused_with_4003() {
    let daemon = daemon(DaemonConfig {
        token: Some(TOKEN.into()),
        ..DaemonConfig::default()
    })
    .await;
    let mut client = Client::connect(&daemon).await;
    client
        .send(json!({"op": "hello", "token": "wrong-token-wrong-token"}))
        .await;
    assert_eq!(
        client.recv().await,
        json!({"op": "hello_ack", "ok": false, "error": "unauthorized"})
    );
    assert_eq!(client.recv_close().await.0, 4003);

    let mut client = Client::connect(&daemon).await;
    client
        .send(json!({"op": "hello", "token": TOKEN, "session_id": "good"}))
        .await;
    assert_eq!(client.recv().await["ok"], true);

    daemon.set_token(Some("another-token-16-chars".into()));
    let mut client = Client::connect(&daemon).await;
    client.send(json!({"op": "hello", "token": TOKEN})).await;
    assert_eq!(client.recv().await["error"], "unauthorized");
    assert_eq!(daemon.stats().closes, [4003, 4003]);
}

#[tokio::test]
async fn a_short_token_turns_auth_off() {
    let daemon = daemon(DaemonConfig {
        token: Some("short".into()),
        ..DaemonConfig::default()
    })
    .await;
    let mut client = Client::connect(&daemon).await;
    client
        .send(json!({"op": "hello", "token": "anything", "session_id": "s-1"}))
        .await;
    assert_eq!(client.recv().await["ok"], true);
}

#[tokio::test]
async fn first_frame_not_hello_is_refused_with_4001() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::connect(&daemon).await;
    client.send(json!({"op": "ping", "request_id": "p1"})).await;
    assert_eq!(
        client.recv().await,
        json!({"op": "hello_ack", "ok": false, "error": "missing_hello"})
    );
    assert_eq!(client.recv_close().await.0, 4001);
}

#[tokio::test]
async fn first_frame_not_json_closes_with_4000() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut client = Client::connect(&daemon).await;
    client.send_text("hello?").await;
    assert_eq!(client.recv_close().await.0, 4000);
}

#[tokio::test]
async fn invalid_session_id_closes_1000_without_ack() {
    let daemon = daemon(DaemonConfig::default()).await;
    let too_long = "x".repeat(65);
    for bad in [json!("ab"), json!("has space"), json!(too_long), json!(42)] {
        let mut client = Client::connect(&daemon).await;
        client.send(json!({"op": "hello", "session_id": bad})).await;
        assert_eq!(client.recv_close().await.0, 1000, "session id {bad}");
    }
    assert_eq!(daemon.stats().hello_session_ids, Vec::<String>::new());
}

#[tokio::test]
async fn no_hello_in_time_closes_with_4002() {
    let daemon = daemon(DaemonConfig {
        hello_timeout: Duration::from_millis(50),
        ..DaemonConfig::default()
    })
    .await;
    let mut client = Client::connect(&daemon).await;
    assert_eq!(client.recv_close().await.0, 4002);
    guarded(
        "the connection to be released",
        daemon.wait_until(|s| s.live_connections == 0),
    )
    .await;
}

#[tokio::test]
async fn client_close_releases_the_connection() {
    let daemon = daemon(DaemonConfig::default()).await;
    let client = Client::hello(&daemon, "s-close").await;
    drop(client);
    guarded(
        "release",
        daemon.wait_until(|s| s.live_connections == 0 && s.authenticated == 0),
    )
    .await;
    assert_eq!(daemon.stats().connections_accepted, 1);
    let mut client = Client::hello(&daemon, "s-again").await;
    client.ping_pong("p").await;
}
