//! Raw JSON-RPC through a real shim and a real hub: every request-shaped line gets exactly one
//! answer, ids come back with their exact text, and the editor's own responses get none.

use crate::support::*;
use exai_proto::jsonrpc::{Message, RawId};
use serde_json::{Value, json};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The raw text of a stdout line's `id` (every line here is a response).
fn raw_id(line: &str) -> String {
    match Message::parse(line.as_bytes()) {
        Message::Response(response) => response.id.map_or("null", RawId::as_str).to_owned(),
        other => panic!("not a response: {line} ({other:?})"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_shaped_line_gets_exactly_one_answer_through_a_real_shim() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let mut shim = env
        .shim_command("jsonrpc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stdin = shim.stdin.take().expect("stdin");
    let mut lines = BufReader::new(shim.stdout.take().expect("stdout")).lines();
    let mut sentinel = 0;
    // Sends `line` and a ping; returns what came back before the ping's answer.
    let mut exchange = async |line: &str| -> Vec<String> {
        sentinel += 1;
        let ping = format!(r#"{{"jsonrpc":"2.0","id":"sentinel-{sentinel}","method":"ping"}}"#);
        for line in [line, &ping] {
            stdin.write_all(line.as_bytes()).await.expect("write");
            stdin.write_all(b"\n").await.expect("write");
        }
        let mut answers = Vec::new();
        loop {
            let answer = guard("an answer", lines.next_line())
                .await
                .expect("read")
                .expect("a line");
            if raw_id(&answer) == format!(r#""sentinel-{sentinel}""#) {
                return answers;
            }
            answers.push(answer);
        }
    };
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}});
    assert_eq!(exchange(&init.to_string()).await.len(), 1);

    for (line, id) in [
        (r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, "null"),
        (r#"{"jsonrpc":"2.0","id":"no-method"}"#, r#""no-method""#),
        (r#"{"jsonrpc":"2.0","id":3,"method":null}"#, "3"),
        (r#"{"jsonrpc":"2.0","id":4,"method":{"x":1}}"#, "4"),
        (
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/list","params":7}"#,
            "5",
        ),
        (r#"{"jsonrpc":"2.0","id":false,"method":"ping"}"#, "null"),
    ] {
        let answers = exchange(line).await;
        assert_eq!(answers.len(), 1, "{line}: {answers:?}");
        assert_eq!(raw_id(&answers[0]), id, "{line}");
        let answer: Value = serde_json::from_str(&answers[0]).unwrap();
        assert_eq!(answer["error"]["code"], -32600, "{line}");
    }
    // Ids come back with their exact text, through shim and hub.
    for id in ["1.0", "-0", r#""\u0061""#, "12345678901234567890"] {
        let answers = exchange(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#)).await;
        assert_eq!(answers.len(), 1);
        assert_eq!(
            answers[0],
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)
        );
    }
    // The editor's responses and notifications get nothing.
    for line in [
        r#"{"jsonrpc":"2.0","id":9,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":77}}"#,
    ] {
        assert_eq!(exchange(line).await, Vec::<String>::new(), "{line}");
    }
    drop(stdin);
    let status = guard("the shim to exit on stdin EOF", shim.wait())
        .await
        .expect("wait");
    assert!(status.success());
    hub.stop().await;
}
