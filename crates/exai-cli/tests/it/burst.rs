//! Bursts: an editor that pipelines far more than the socket buffers hold, while reading its
//! answers at full speed, must get every answer (the shim and hub never both wait to write).

use crate::support::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Writes `count` requests made by `request` without waiting for answers, while another task
/// reads stdout; returns the ids answered.
async fn pipeline(
    env: &Env,
    name: &str,
    count: usize,
    request: impl Fn(usize) -> Value,
) -> HashSet<u64> {
    let mut shim = env
        .shim_command(name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the shim");
    let mut stdin = shim.stdin.take().expect("stdin");
    let mut lines = BufReader::new(shim.stdout.take().expect("stdout")).lines();
    let init = json!({"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":name,"version":"0"}}});
    stdin
        .write_all(format!("{init}\n").as_bytes())
        .await
        .expect("write initialize");
    let first = guard("the initialize answer", lines.next_line())
        .await
        .expect("read")
        .expect("a line");
    assert!(first.contains("protocolVersion"), "{first}");
    let mut requests = Vec::with_capacity(count * 64);
    for n in 0..count {
        requests.extend_from_slice(request(n).to_string().as_bytes());
        requests.push(b'\n');
    }
    let writer = tokio::spawn(async move {
        // One big write: as fast as the pipe takes it.
        stdin.write_all(&requests).await.expect("write the burst");
        stdin
    });
    let mut answered = HashSet::with_capacity(count);
    guard_for(
        "every answer to the burst",
        Duration::from_secs(60),
        async {
            while answered.len() < count {
                let line = lines.next_line().await.expect("read").expect("a line");
                let value: Value = serde_json::from_str(&line).expect("every line is JSON");
                assert!(value.get("error").is_none(), "{value}");
                let id = value["id"].as_u64().expect("a numeric id");
                assert!(answered.insert(id), "id {id} answered twice");
            }
        },
    )
    .await;
    let stdin = writer.await.expect("writer");
    drop(stdin);
    let status = guard("the shim to exit", shim.wait()).await.expect("wait");
    assert!(status.success(), "{status:?}");
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_pipelined_pings_are_all_answered() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let count = 20_000;
    let answered = pipeline(
        &env,
        "burst",
        count,
        |n| json!({"jsonrpc":"2.0","id":n,"method":"ping"}),
    )
    .await;
    assert_eq!(answered.len(), count);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_tool_lists_with_large_answers_are_all_answered() {
    // Each answer is the whole tool list: a few hundred of them overflow every buffer between
    // the hub and the editor many times over.
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let count = 2_000;
    let answered = pipeline(
        &env,
        "burst-lists",
        count,
        |n| json!({"jsonrpc":"2.0","id":n,"method":"tools/list"}),
    )
    .await;
    assert_eq!(answered.len(), count);
    hub.stop().await;
}
