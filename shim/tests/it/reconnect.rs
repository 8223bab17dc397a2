//! The hub absent, rejecting, dying or stopping: requests get an error at once, and the shim
//! reconnects (resuming its session) as soon as the hub is back.

use crate::support::{HubConn, Place, Shim, assert_error};
use exai_proto::{ClientMsg, HubMsg, Resume};
use serde_json::json;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}"#;

/// Sends a notification from the hub and waits for it on stdout, which proves the link is up.
async fn sync_link(conn: &mut HubConn, shim: &mut Shim) {
    let changed = br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
    conn.send_line(changed).await;
    assert_eq!(shim.recv_line().await, changed);
}

/// Runs the editor's `initialize` through the hub.
async fn initialize(conn: &mut HubConn, shim: &mut Shim) {
    shim.send(INITIALIZE.as_bytes()).await;
    assert_eq!(&conn.recv_line().await[..], INITIALIZE.as_bytes());
    conn.send_line(br#"{"jsonrpc":"2.0","id":0,"result":{}}"#)
        .await;
    assert_eq!(shim.recv_json().await["id"], 0);
}

#[tokio::test]
async fn without_a_hub_requests_fail_at_once_until_it_starts() {
    let place = Place::new();
    let mut shim = place.shim(&["--connect-timeout", "0.3"]);

    shim.send(br#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#)
        .await;
    let message = assert_error(&shim.recv_json().await, json!("a"), -32001);
    let endpoint = place.socket().display().to_string();
    assert_eq!(
        message,
        format!(
            "EXAI hub is not running (endpoint {endpoint}): start it with `exai hub` or the tray app"
        )
    );
    // Notifications get no answer; the next request still does.
    shim.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    shim.send(br#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#)
        .await;
    assert_error(&shim.recv_json().await, json!(2), -32001);

    let mut hub = place.hub().await;
    let (mut conn, hello) = hub.accept().await;
    assert_eq!(hello.resume, None);
    sync_link(&mut conn, &mut shim).await;
    let request = br#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#;
    shim.send(request).await;
    assert_eq!(&conn.recv_line().await[..], request);

    assert!(
        shim.stderr().contains("EXAI hub is not running"),
        "{}",
        shim.stderr()
    );
    shim.close_stdin();
    assert!(shim.exit().await.success());
}

#[tokio::test]
async fn a_hub_that_dies_mid_request_fails_it_and_the_session_resumes() {
    let place = Place::new();
    let mut hub = place.hub().await;
    let mut shim = place.shim(&[]);
    let (mut conn, _hello) = hub.accept().await;
    let first_session = hub.last_session();
    initialize(&mut conn, &mut shim).await;

    let request =
        br#"{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"wait"}}"#;
    shim.send(request).await;
    assert_eq!(&conn.recv_line().await[..], request);
    drop(conn);

    let message = assert_error(&shim.recv_json().await, json!("slow"), -32001);
    assert!(message.starts_with("EXAI hub went away"), "{message}");
    assert!(message.contains("reconnecting"), "{message}");

    let (mut conn, hello) = hub.accept().await;
    assert_eq!(
        hello.resume,
        Some(Resume {
            session_id: first_session,
            initialize: Some(INITIALIZE.to_owned()),
            secret: Some(format!("secret-{:x}", first_session.0)),
        }),
        "the resume carries the secret the hub gave with the session"
    );
    sync_link(&mut conn, &mut shim).await;
    let again =
        br#"{"jsonrpc":"2.0","id":"slow-2","method":"tools/call","params":{"name":"wait"}}"#;
    shim.send(again).await;
    assert_eq!(&conn.recv_line().await[..], again);
    conn.send_line(br#"{"jsonrpc":"2.0","id":"slow-2","result":{}}"#)
        .await;
    assert_eq!(shim.recv_json().await["id"], "slow-2");

    shim.close_stdin();
    assert!(matches!(
        conn.recv_control().await,
        ClientMsg::Goodbye { .. }
    ));
    assert!(shim.exit().await.success());
}

#[tokio::test]
async fn a_hub_shutdown_fails_requests_in_flight_with_its_reason() {
    let place = Place::new();
    let mut hub = place.hub().await;
    let mut shim = place.shim(&[]);
    let (mut conn, _hello) = hub.accept().await;
    initialize(&mut conn, &mut shim).await;

    let first = br#"{"jsonrpc":"2.0","id":10,"method":"tools/call"}"#;
    let cancelled = br#"{"jsonrpc":"2.0","id":11,"method":"tools/call"}"#;
    let answered = br#"{"jsonrpc":"2.0","id":12,"method":"tools/call"}"#;
    for request in [&first[..], cancelled, answered] {
        shim.send(request).await;
        assert_eq!(&conn.recv_line().await[..], request);
    }
    let cancel =
        br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":11}}"#;
    shim.send(cancel).await;
    assert_eq!(&conn.recv_line().await[..], cancel);
    conn.send_line(br#"{"jsonrpc":"2.0","id":12,"result":{}}"#)
        .await;
    assert_eq!(shim.recv_json().await["id"], 12);

    conn.send_control(&HubMsg::Shutdown {
        reason: "the tray is quitting".to_owned(),
    })
    .await;
    // Only the request still in flight gets an error: not the cancelled one, not the answered one.
    let message = assert_error(&shim.recv_json().await, json!(10), -32001);
    assert!(message.starts_with("EXAI hub stopped"), "{message}");
    assert!(message.contains("the tray is quitting"), "{message}");
    drop(conn);

    let (mut conn, hello) = hub.accept().await;
    assert!(hello.resume.is_some());
    sync_link(&mut conn, &mut shim).await;
    shim.close_stdin();
    assert!(matches!(
        conn.recv_control().await,
        ClientMsg::Goodbye { .. }
    ));
    // Nothing else reached stdout: `exit` checks the rest is empty or JSON, and here it is empty.
    assert!(shim.exit().await.success());
}

#[tokio::test]
async fn a_rejection_is_reported_to_requests_and_never_crashes() {
    let place = Place::new();
    let mut hub = place.hub().await;
    let mut shim = place.shim(&["--connect-timeout", "0.2"]);
    // The hub rejects every attempt, so whichever one the request meets, the state is
    // "rejected".
    let (mut conn, _hello) = hub.accept_hello().await;
    let rejecter = tokio::spawn(async move {
        loop {
            conn.send_control(&HubMsg::Rejected {
                reason: "protocol version 1 is not supported".to_owned(),
            })
            .await;
            conn = hub.accept_hello().await.0;
        }
    });

    shim.send(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .await;
    let message = assert_error(&shim.recv_json().await, json!(1), -32001);
    assert!(
        message.contains("protocol version 1 is not supported"),
        "{message}"
    );

    shim.close_stdin();
    assert!(shim.exit().await.success());
    rejecter.abort();
}
