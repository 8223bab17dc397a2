//! Lines relayed both ways, byte for byte.

use crate::support::Place;
use exai_proto::ClientMsg;

#[tokio::test]
async fn lines_are_relayed_byte_for_byte_both_ways() {
    let place = Place::new();
    let mut hub = place.hub().await;
    let mut shim = place.shim(&[]);
    let (mut conn, _hello) = hub.accept().await;

    // Non-ASCII text, with a Windows line ending that must not reach the hub.
    let unicode =
        r#"{"jsonrpc":"2.0","id":"é-1","method":"tools/call","params":{"text":"grüße 日本 🦀"}}"#;
    shim.write(format!("{unicode}\r\n").as_bytes()).await;
    assert_eq!(&conn.recv_line().await[..], unicode.as_bytes());

    // The answer comes back unchanged, and a trailing `\r` from the hub never reaches stdout.
    let answer =
        r#"{"jsonrpc":"2.0","id":"é-1","result":{"content":[{"type":"text","text":"ça va ✓"}]}}"#;
    conn.send_line(format!("{answer}\r").as_bytes()).await;
    assert_eq!(shim.recv_line().await, answer.as_bytes());

    // A 5 MiB request and a 5 MiB answer, both ways at once.
    let blob = "x".repeat(5 << 20);
    let big_request =
        format!(r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"blob":"{blob}"}}}}"#);
    let big_answer = format!(r#"{{"jsonrpc":"2.0","id":2,"result":{{"blob":"{blob}"}}}}"#);
    let (_, relayed) = tokio::join!(shim.send(big_request.as_bytes()), conn.recv_line());
    assert!(
        relayed[..] == *big_request.as_bytes(),
        "the 5 MiB request changed on the way"
    );
    let (_, received) = tokio::join!(conn.send_line(big_answer.as_bytes()), shim.recv_line());
    assert!(
        received == big_answer.as_bytes(),
        "the 5 MiB answer changed on the way"
    );

    // Notifications and server-to-client requests pass through too.
    let progress = r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":3}}"#;
    conn.send_line(progress.as_bytes()).await;
    assert_eq!(shim.recv_line().await, progress.as_bytes());
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    shim.send(initialized.as_bytes()).await;
    assert_eq!(&conn.recv_line().await[..], initialized.as_bytes());

    // A batch is forwarded as is.
    let batch = r#"[{"jsonrpc":"2.0","id":7,"method":"ping"},{"jsonrpc":"2.0","method":"x"}]"#;
    shim.send(batch.as_bytes()).await;
    assert_eq!(&conn.recv_line().await[..], batch.as_bytes());

    shim.close_stdin();
    assert!(matches!(
        conn.recv_control().await,
        ClientMsg::Goodbye { .. }
    ));
    assert!(shim.exit().await.success());
}
