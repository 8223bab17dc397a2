//! MCP behaviour through the whole path: handshake eras, tools, concurrency, progress, cancel.

use crate::support::*;
use exai_hub::api::SessionState;
use rmcp::model::{ProtocolVersion, RequestMetaObject};
use rmcp::service::PeerRequestOptions;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_with_old_and_new_protocol_versions() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    for version in [
        ProtocolVersion::V_2024_11_05,
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
    ] {
        let name = format!("v{version}");
        let window = env.window_with(&name, version.clone()).await;
        let negotiated = window
            .client
            .peer_info()
            .expect("server info")
            .protocol_version
            .clone();
        assert_eq!(
            negotiated, version,
            "the hub answers with the editor's own version"
        );
        let tools = guard("tools/list", window.client.peer().list_all_tools())
            .await
            .expect("tools/list");
        assert!(
            tools.iter().any(|tool| tool.name == "echo"),
            "tools: {tools:?}"
        );
        let session = hub.wait_session(&name, SessionState::Ready).await;
        let client = session.client.expect("client info recorded");
        assert_eq!(client.name, format!("test-editor-{name}"));
        assert_eq!(client.version, "1.2.3");
        assert_eq!(session.protocol_version.as_deref(), Some(version.as_str()));
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_client_discovers_and_calls() {
    use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let transport =
        rmcp::transport::TokioChildProcess::new(env.shim_command("modern")).expect("spawn");
    let recorder = env_recorder();
    let client = guard(
        "server/discover startup",
        recorder.serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        ),
    )
    .await
    .expect("discover startup");
    assert_eq!(
        client.peer_info().expect("server info").protocol_version,
        ProtocolVersion::V_2026_07_28
    );
    let mut params = rmcp::model::CallToolRequestParams::new("echo");
    params.arguments = Some(
        json!({"text": "stateless ✓"})
            .as_object()
            .cloned()
            .expect("object"),
    );
    let result = guard("a stateless call", client.peer().call_tool(params))
        .await
        .expect("call");
    assert_eq!(first_text(&result), "stateless ✓");
    let session = hub.wait_session("modern", SessionState::Ready).await;
    assert_eq!(session.protocol_version.as_deref(), Some("2026-07-28"));
    hub.stop().await;
}

fn env_recorder() -> Recorder {
    Recorder::for_test("modern", ProtocolVersion::V_2026_07_28)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_and_call_round_trip_non_ascii_and_large_results() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let window = env.window("left").await;
    assert_eq!(
        window
            .call_text("echo", json!({"text": "héllo wörld ✓ 日本"}))
            .await,
        "héllo wörld ✓ 日本"
    );
    let big = window
        .call_text("big", json!({"bytes": 3 * 1024 * 1024}))
        .await;
    assert_eq!(
        big.len(),
        3 * 1024 * 1024,
        "a multi-megabyte result arrives whole"
    );
    assert!(big.contains("日本"));
    // Large answers (written to the socket from their own buffer) and small ones (through the
    // codec's buffer) interleaved on one connection: each arrives whole, to its own request.
    let sizes = [70_000, 1, 200_000, 65_535, 65_536, 1_000_000];
    let calls = sizes.iter().enumerate().map(|(n, &bytes)| {
        let window = &window;
        async move {
            let echo = format!("small {n}");
            let (big, small) = tokio::join!(
                window.call_text("big", json!({ "bytes": bytes })),
                window.call_text("echo", json!({ "text": echo })),
            );
            assert_eq!(big.len(), bytes, "call {n}");
            assert_eq!(small, echo);
        }
    });
    futures_util::future::join_all(calls).await;
    // A tool with the daemon's name suffix still resolves.
    assert_eq!(
        window
            .call_text("echo_EXAI-WS", json!({"text": "suffix"}))
            .await,
        "suffix"
    );
    let session = hub.wait_session("left", SessionState::Ready).await;
    assert!(session.requests >= 3, "requests counted: {session:?}");
    hub.stop().await;
}

/// Through the fake daemon's real rate limiter (100 frames at once and 10 a second from
/// 127.0.0.1, 50 and 5 per session): the hub paces what it sends, so no call sees the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_windows_fifty_concurrent_calls_each_without_crosstalk_or_rate_limit_errors() {
    let env = Env::new(daemon()).await;
    // The deadline counts from when the window asked; the last calls wait about 35 s.
    let options = HubOptions {
        call_timeout: Duration::from_secs(120),
        ..HubOptions::default()
    };
    let hub = env.hub(options).await;
    let mut windows = Vec::new();
    for index in 0..8 {
        windows.push(env.window(&format!("w{index}")).await);
    }
    let mut calls = Vec::new();
    for (window_index, window) in windows.iter().enumerate() {
        for call_index in 0..50 {
            let text = format!("window {window_index} call {call_index} ✓");
            calls.push(async move {
                // Under the outer guard: a call at the back of the paced queue waits longer
                // than one call's guard.
                let result = window
                    .call("echo", json!({ "text": text }))
                    .await
                    .expect("every call succeeds");
                assert_ne!(result.is_error, Some(true), "{result:?}");
                let got = first_text(&result);
                assert_eq!(
                    got, text,
                    "a result was delivered to the wrong window or call"
                );
            });
        }
    }
    // About 400 frames: the first 90 at once, the rest at 9 a second (the hub keeps a 10 %
    // margin under the daemon's numbers), so a little under 40 s.
    guard_for(
        "400 concurrent calls, paced",
        Duration::from_secs(120),
        futures_util::future::join_all(calls),
    )
    .await;
    let stats = env.daemon.stats();
    let mut ids = stats.request_ids.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        stats.request_ids.len(),
        "every daemon request id is fresh"
    );
    assert!(
        stats.max_running_calls_per_connection <= 1,
        "one outstanding request per connection"
    );
    assert_eq!(
        stats.over_capacity, 0,
        "the daemon never had to refuse a frame"
    );
    // The windows whose calls waited for the rate limit say so in their request history.
    let snapshot = hub.handle.snapshot().await.expect("snapshot");
    let mut waited = 0;
    for session in &snapshot.sessions {
        let requests = hub
            .handle
            .session_requests(session.id)
            .await
            .expect("request history")
            .expect("a known session");
        waited += requests
            .iter()
            .filter(|record| record.rate_limited_ms > 0)
            .count();
    }
    assert!(waited > 0, "some calls were held back by the rate limit");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_forwarded_with_increasing_values() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let window = env.window("progress").await;
    let mut options = PeerRequestOptions::no_options();
    options.meta = Some(RequestMetaObject::with_progress_token(
        rmcp::model::ProgressToken(rmcp::model::NumberOrString::Number(7)),
    ));
    let handle = window
        .send_call("gate", json!({"key": "p1", "text": "done"}), options)
        .await;
    guard("the gate call to start", env.daemon.wait_gate_started("p1")).await;
    // Wait for at least two progress notifications, then let the tool finish.
    guard("progress notifications", async {
        loop {
            let seen = window.recorder.progress.lock().expect("lock").len();
            if seen >= 2 {
                break;
            }
            window.recorder.progress_seen.notified().await;
        }
    })
    .await;
    env.daemon.open_gate("p1");
    let response = guard("the gate result", handle.await_response())
        .await
        .expect("response");
    let text = serde_json::to_value(&response).expect("json").to_string();
    assert!(text.contains("done"), "result: {text}");
    let progress = window.recorder.progress.lock().expect("lock").clone();
    assert!(progress.len() >= 2);
    for pair in progress.windows(2) {
        assert!(
            pair[1].progress > pair[0].progress,
            "progress must increase: {progress:?}"
        );
    }
    // The SDK puts its own token on the request; every notification must carry it back.
    for update in &progress {
        assert_eq!(update.progress_token, progress[0].progress_token);
        assert!(update.message.as_deref().is_some_and(|m| !m.is_empty()));
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_answers_nothing_and_keeps_the_connection_busy_until_the_daemon_finishes() {
    let env = Env::new(daemon()).await;
    let hub = env
        .hub(HubOptions {
            pool_size: 1,
            ..HubOptions::default()
        })
        .await;
    let window = env.window("cancel").await;
    let handle = window
        .send_call(
            "gate",
            json!({"key": "c1"}),
            PeerRequestOptions::no_options(),
        )
        .await;
    guard("the gate call to start", env.daemon.wait_gate_started("c1")).await;
    let events = hub.handle.subscribe();
    handle
        .cancel(Some("user pressed stop".into()))
        .await
        .expect("cancel");
    hub.wait_event("the cancelled request record", events, |event| {
        matches!(event, exai_hub::api::HubEvent::RequestFinished { request } if request.cancelled)
    })
    .await;
    // The single pooled connection is still busy with the cancelled tool: the daemon only
    // finishes it when the gate opens, and only then can the next call go out.
    let next = window.call("echo", json!({"text": "after cancel"}));
    let opener = async {
        env.daemon
            .wait_until(|stats| stats.running_calls == 1)
            .await;
        env.daemon.open_gate("c1");
    };
    let (result, ()) = guard("the call after a cancel", async {
        tokio::join!(next, opener)
    })
    .await;
    assert_eq!(
        first_text(&result.expect("call after cancel")),
        "after cancel"
    );
    let session = hub.wait_session("cancel", SessionState::Ready).await;
    assert_eq!(session.in_flight, 0);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_tool_in_one_window_does_not_block_another_window() {
    let env = Env::new(daemon()).await;
    let hub = env
        .hub(HubOptions {
            pool_size: 2,
            ..HubOptions::default()
        })
        .await;
    let slow_window = env.window("slow").await;
    let fast_window = env.window("fast").await;
    let slow = slow_window.call("gate", json!({"key": "s1", "text": "slow done"}));
    let fast = async {
        env.daemon.wait_gate_started("s1").await;
        // While the slow tool holds a connection, the other window lists and calls.
        let tools = fast_window
            .client
            .peer()
            .list_all_tools()
            .await
            .expect("tools/list");
        assert!(!tools.is_empty());
        let text = fast_window.call_text("echo", json!({"text": "fast"})).await;
        assert_eq!(text, "fast");
        assert_eq!(
            env.daemon.stats().running_calls,
            1,
            "the slow tool is still running"
        );
        env.daemon.open_gate("s1");
    };
    let (slow, ()) = guard("both windows", async { tokio::join!(slow, fast) }).await;
    assert_eq!(first_text(&slow.expect("slow call")), "slow done");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_errors_reach_the_editor_clearly() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let window = env.window("errors").await;
    let missing = guard("unknown tool", window.call("no_such_tool", json!({}))).await;
    let message = format!(
        "{:?}",
        missing.expect_err("an unknown tool is a JSON-RPC error")
    );
    assert!(message.contains("TOOL_NOT_FOUND"), "{message}");
    let failed = guard("failing tool", window.call("fail", json!({})))
        .await
        .expect("isError result");
    assert_eq!(failed.is_error, Some(true));
    assert!(first_text(&failed).contains("INTERNAL_ERROR"), "{failed:?}");
    let session = hub
        .wait_for("errors counted", |snapshot| {
            snapshot.sessions.iter().any(|s| s.errors >= 2)
        })
        .await;
    assert!(session.sessions[0].last_error.is_some());
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_changed_reaches_every_window_after_a_reconnect() {
    let env = Env::new(daemon()).await;
    let hub = env
        .hub(HubOptions {
            pool_size: 1,
            ..HubOptions::default()
        })
        .await;
    let a = env.window("a").await;
    let b = env.window("b").await;
    let mut tools = exai_testkit::default_tools();
    tools.push(exai_testkit::ToolSpec {
        name: "brand_new".into(),
        description: "added while the hub ran".into(),
        input_schema: json!({"type": "object"}),
    });
    env.daemon.set_tools(tools);
    let a_changed = a.recorder.list_changed.notified();
    let b_changed = b.recorder.list_changed.notified();
    env.daemon.stop().await;
    hub.wait_upstream(exai_hub::api::UpstreamState::Down).await;
    env.daemon.restart().await.expect("restart");
    hub.wait_upstream(exai_hub::api::UpstreamState::Connected)
        .await;
    guard("list_changed in both windows", async {
        tokio::join!(a_changed, b_changed)
    })
    .await;
    let listed = a.client.peer().list_all_tools().await.expect("tools/list");
    assert!(listed.iter().any(|tool| tool.name == "brand_new"));
    hub.stop().await;
}
