//! Bad input from the editor gets a JSON-RPC error and the shim carries on.

use crate::support::{Place, assert_error};
use serde_json::json;

#[tokio::test]
async fn invalid_json_gets_a_parse_error_and_the_shim_continues() {
    let place = Place::new();
    let mut hub = place.hub().await;
    let mut shim = place.shim(&[]);
    let (mut conn, _hello) = hub.accept().await;

    shim.send(br#"{"jsonrpc":"2.0","id":5,"method":"tools/list""#)
        .await;
    let message = assert_error(&shim.recv_json().await, json!(5), -32700);
    assert!(message.starts_with("parse error: "), "{message}");

    shim.send(b"this is not json").await;
    assert_error(&shim.recv_json().await, json!(null), -32700);

    // Valid JSON that is not a JSON-RPC message object.
    shim.send(b"42").await;
    assert_error(&shim.recv_json().await, json!(null), -32600);
    shim.send(br#"{"jsonrpc":"2.0"}"#).await;
    assert_error(&shim.recv_json().await, json!(null), -32600);

    // Empty lines are ignored, and the next request goes through.
    shim.send(b"").await;
    shim.send(b"\r").await;
    let request = br#"{"jsonrpc":"2.0","id":6,"method":"tools/list"}"#;
    shim.send(request).await;
    assert_eq!(&conn.recv_line().await[..], request);

    shim.close_stdin();
    assert!(shim.exit().await.success());
}

#[tokio::test]
async fn an_over_long_line_gets_invalid_request_with_its_id() {
    let place = Place::new();
    let mut hub = place.hub().await;
    let mut shim = place.shim(&["--max-line-bytes", "1000"]);
    let (mut conn, _hello) = hub.accept().await;

    let long = format!(
        r#"{{"jsonrpc":"2.0","id":"big-1","method":"tools/call","params":{{"data":"{}"}}}}"#,
        "z".repeat(300_000)
    );
    shim.send(long.as_bytes()).await;
    let message = assert_error(&shim.recv_json().await, json!("big-1"), -32600);
    assert_eq!(
        message,
        format!(
            "request too large: {} bytes exceeds the limit of 1000 bytes (EXAI_MAX_LINE_BYTES)",
            long.len()
        )
    );

    // The id is after the payload: it cannot be sniffed, so the answer carries null.
    let id_last = format!(r#"{{"params":{{"data":"{}"}},"id":9}}"#, "z".repeat(5000));
    shim.send(id_last.as_bytes()).await;
    assert_error(&shim.recv_json().await, json!(null), -32600);

    let request = br#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#;
    shim.send(request).await;
    assert_eq!(&conn.recv_line().await[..], request);

    shim.close_stdin();
    assert!(shim.exit().await.success());
}

/// Request-shaped lines that are not valid requests, the id each answer carries, and its code.
const NOT_REQUESTS: [(&str, Option<i64>); 6] = [
    (r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, None),
    (r#"{"jsonrpc":"2.0","id":7}"#, Some(7)),
    (r#"{"jsonrpc":"2.0","id":8,"method":null}"#, Some(8)),
    (r#"{"jsonrpc":"2.0","id":9,"method":42}"#, Some(9)),
    (
        r#"{"jsonrpc":"2.0","id":10,"method":"ping","params":"x"}"#,
        Some(10),
    ),
    (r#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#, None),
];

async fn each_gets_one_invalid_request_error(shim: &mut crate::support::Shim) {
    for (line, id) in NOT_REQUESTS {
        shim.send(line.as_bytes()).await;
        let id = id.map_or(json!(null), |id| json!(id));
        let message = assert_error(&shim.recv_json().await, id, -32600);
        assert!(
            message.starts_with("invalid request: "),
            "{line}: {message}"
        );
    }
}

#[tokio::test]
async fn request_shaped_lines_that_are_not_requests_get_one_answer_with_or_without_a_hub() {
    let place = Place::new();
    let mut shim = place.shim(&["--connect-timeout", "0.3"]);

    // No hub: the same answer the hub would give, not "hub unavailable".
    each_gets_one_invalid_request_error(&mut shim).await;
    // A response from the editor is never answered; the next request is.
    shim.send(br#"{"jsonrpc":"2.0","id":5,"result":{}}"#).await;
    shim.send(br#"{"jsonrpc":"2.0","id":6,"method":"ping"}"#)
        .await;
    assert_error(&shim.recv_json().await, json!(6), -32001);

    let mut hub = place.hub().await;
    let (mut conn, _hello) = hub.accept().await;
    let changed = br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
    conn.send_line(changed).await;
    assert_eq!(shim.recv_line().await, changed);

    // With a hub: answered by the shim and not forwarded; responses and requests go through.
    each_gets_one_invalid_request_error(&mut shim).await;
    let response = br#"{"jsonrpc":"2.0","id":5,"result":{}}"#;
    shim.send(response).await;
    let request = br#"{"jsonrpc":"2.0","id":11,"method":"ping"}"#;
    shim.send(request).await;
    assert_eq!(&conn.recv_line().await[..], response);
    assert_eq!(&conn.recv_line().await[..], request);

    shim.close_stdin();
    assert!(shim.exit().await.success());
}
