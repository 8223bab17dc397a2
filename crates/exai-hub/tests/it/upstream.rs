//! The pooled EXAI daemon upstream against the fake daemon, over real WebSockets on loopback.
//!
//! No test sleeps to synchronise: they wait on the upstream's status and catalog watch channels
//! and on the fake daemon's stats and gates. `tokio::time::timeout` is only a failure guard.

use exai_hub::api::{UpstreamState, UpstreamStatus};
use exai_hub::config::{ExaiConfig, Secret};
use exai_hub::upstream::exai::ExaiUpstream;
use exai_hub::upstream::{
    Content, Progress, ToolCall, ToolCatalog, ToolResult, Upstream, UpstreamError,
};
use exai_proto::SessionId;
use exai_testkit::guard::{GUARD, guard};
use exai_testkit::{DaemonConfig, RateLimit, TestDaemon, ToolSpec};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// A running upstream and its driver task.
struct Pool {
    upstream: ExaiUpstream,
    driver: JoinHandle<()>,
}

impl Pool {
    /// Starts an upstream for `daemon` with `pool_size` connections and fast test backoffs.
    fn start(daemon: &TestDaemon, pool_size: usize) -> Pool {
        Pool::with_config(test_config(daemon, pool_size))
    }

    fn with_config(config: ExaiConfig) -> Pool {
        let (upstream, driver) = ExaiUpstream::new(config);
        Pool {
            upstream,
            driver: tokio::spawn(driver),
        }
    }

    /// Waits until the status satisfies `pred` and returns it.
    #[track_caller]
    fn wait_status(
        &self,
        pred: impl Fn(&UpstreamStatus) -> bool + 'static,
    ) -> impl Future<Output = UpstreamStatus> + '_ {
        let caller = std::panic::Location::caller();
        let mut status = self.upstream.status();
        async move {
            let waited = timeout(GUARD, async {
                status.wait_for(|s| pred(s)).await.map(|s| s.clone())
            });
            match waited.await {
                Ok(Ok(status)) => status,
                _ => panic!(
                    "status never matched at {caller}; last: {:?}",
                    *self.upstream.status().borrow()
                ),
            }
        }
    }

    /// Waits until `connections` pooled connections are up.
    #[track_caller]
    fn wait_connected(&self, connections: usize) -> impl Future<Output = UpstreamStatus> + '_ {
        self.wait_status(move |s| {
            s.state == UpstreamState::Connected && s.connections == connections
        })
    }

    /// Waits until the catalog satisfies `pred` and returns it.
    async fn wait_catalog(&self, pred: impl Fn(&ToolCatalog) -> bool) -> Arc<ToolCatalog> {
        let mut tools = self.upstream.tools();
        let waited = timeout(GUARD, async {
            tools
                .wait_for(|catalog| catalog.as_deref().is_some_and(&pred))
                .await
                .map(|catalog| catalog.clone())
        });
        match waited.await {
            Ok(Ok(Some(catalog))) => catalog,
            _ => panic!(
                "catalog never matched; last: {:?}",
                *self.upstream.tools().borrow()
            ),
        }
    }

    /// Runs a call to completion under the guard.
    async fn call(
        &self,
        session: u64,
        name: &str,
        arguments: Value,
    ) -> Result<ToolResult, UpstreamError> {
        guard(
            "this step",
            self.upstream.call_tool(tool_call(session, name, arguments)),
        )
        .await
    }

    /// Shuts the pool down and checks that the driver ends.
    async fn shutdown(self) {
        self.upstream.shutdown();
        guard("this step", self.driver)
            .await
            .expect("driver task panicked");
    }
}

fn test_config(daemon: &TestDaemon, pool_size: usize) -> ExaiConfig {
    ExaiConfig {
        url: daemon.url(),
        token: None,
        pool_size,
        call_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        health_interval: Duration::from_secs(60),
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        unauthorized_backoff: Duration::from_secs(60),
        ..ExaiConfig::default()
    }
}

async fn daemon(config: DaemonConfig) -> TestDaemon {
    TestDaemon::start(config).await.expect("fake daemon starts")
}

fn tool_call(session: u64, name: &str, arguments: Value) -> ToolCall {
    ToolCall {
        session: SessionId(session),
        name: name.to_owned(),
        arguments,
        progress: None,
    }
}

fn text(text: &str) -> Content {
    Content::text(text)
}

/// Asserts the daemon never saw a request id twice.
#[track_caller]
fn assert_unique_request_ids(daemon: &TestDaemon) {
    let stats = daemon.stats();
    let unique: HashSet<_> = stats.request_ids.iter().collect();
    assert_eq!(
        unique.len(),
        stats.request_ids.len(),
        "{:?}",
        stats.request_ids
    );
    assert_eq!(stats.reused_request_ids, 0);
    assert!(!stats.request_ids.iter().any(|id| id == "unknown"));
}

#[tokio::test]
async fn connects_the_whole_pool_and_fetches_the_catalog() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 3);
    let status = pool.wait_connected(3).await;
    assert_eq!(status.url, daemon.url());
    assert_eq!(status.pool_size, 3);
    assert_eq!(status.reconnects, 0);
    assert_eq!(status.last_error, None);

    let catalog = pool.wait_catalog(|_| true).await;
    assert_eq!(catalog.generation, 1);
    let names: Vec<_> = catalog
        .tools
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["echo", "slow", "gate", "fail", "big", "status", "chat"]
    );
    assert!(
        catalog
            .tools
            .iter()
            .all(|tool| tool["inputSchema"]["type"] == "object")
    );
    pool.wait_status(|s| s.tools == 7).await;

    let stats = daemon.stats();
    assert_eq!(stats.authenticated, 3);
    assert_eq!(stats.list_tools, 1, "one list_tools per pool start");
    let ids: HashSet<_> = stats.hello_session_ids.iter().collect();
    assert_eq!(ids.len(), 3, "every connection has its own session id");
    assert!(
        stats
            .hello_session_ids
            .iter()
            .all(|id| id.starts_with("exai-tray-"))
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn a_call_made_while_connecting_waits_and_returns_content() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 2);
    // Sent before anything is up: it queues until a connection is.
    let result = pool
        .call(1, "echo", json!({"text": "hello"}))
        .await
        .unwrap();
    assert_eq!(
        result,
        ToolResult {
            content: text("hello"),
            is_error: false,
            from_cache: false,
            rate_limited: Duration::ZERO,
        }
    );
    // The daemon caches identical calls; the flag comes through.
    let cached = pool
        .call(2, "echo", json!({"text": "hello"}))
        .await
        .unwrap();
    assert!(cached.from_cache);
    assert_eq!(cached.content, text("hello"));
    // Suffixed names are the daemon's business; they pass through untouched.
    let suffixed = pool
        .call(1, "echo_EXAI-WS", json!({"text": "suffix"}))
        .await
        .unwrap();
    assert_eq!(suffixed.content, text("suffix"));
    assert_unique_request_ids(&daemon);
    pool.shutdown().await;
}

#[tokio::test]
async fn progress_and_chunks_are_forwarded_in_order() {
    let daemon = daemon(DaemonConfig {
        progress_interval: Duration::from_millis(10),
        ..DaemonConfig::default()
    })
    .await;
    let pool = Pool::start(&daemon, 1);

    // A running tool's progress reaches the caller while it runs.
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let mut call = tool_call(1, "gate", json!({"key": "p1", "text": "done"}));
    call.progress = Some(progress_tx);
    let running = tokio::spawn(pool.upstream.call_tool(call));
    let first = guard("this step", progress_rx.recv()).await;
    assert_eq!(
        first,
        Some(Progress::Working {
            message: "Tool execution in progress...".to_owned()
        })
    );
    daemon.open_gate("p1");
    let result = guard("this step", running).await.unwrap().unwrap();
    assert_eq!(result.content, text("done"));

    // Chunks arrive in order, after the progress frames.
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let mut call = tool_call(
        1,
        "slow",
        json!({"ms": 30, "chunks": ["one", "two", "three"]}),
    );
    call.progress = Some(progress_tx);
    let result = guard("this step", pool.upstream.call_tool(call))
        .await
        .unwrap();
    assert_eq!(result.content, text(r#"{"slept_ms":30}"#));
    let mut updates = Vec::new();
    while let Ok(update) = progress_rx.try_recv() {
        updates.push(update);
    }
    let first_chunk = updates
        .iter()
        .position(|update| matches!(update, Progress::Chunk { .. }))
        .expect("chunks arrived");
    assert!(
        updates[..first_chunk]
            .iter()
            .all(|update| matches!(update, Progress::Working { .. })),
        "{updates:?}"
    );
    let expected: Vec<_> = ["one", "two", "three"]
        .map(|chunk| Progress::Chunk {
            text: chunk.to_owned(),
        })
        .into();
    assert_eq!(updates[first_chunk..], expected[..]);
    pool.shutdown().await;
}

#[tokio::test]
async fn a_hundred_concurrent_calls_use_fresh_ids_and_one_request_per_connection() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 4);
    pool.wait_connected(4).await;
    let calls = (0..100u64).map(|n| {
        let arguments = if n % 2 == 0 {
            json!({"text": format!("call {n}")})
        } else {
            json!({"ms": 1 + n % 5, "chunks": [format!("chunk {n}")]})
        };
        let name = if n % 2 == 0 { "echo" } else { "slow" };
        pool.upstream.call_tool(tool_call(n % 7, name, arguments))
    });
    let results = guard("this step", futures_util::future::join_all(calls)).await;
    for (n, result) in results.into_iter().enumerate() {
        let result = result.unwrap();
        let expected = if n % 2 == 0 {
            format!("call {n}")
        } else {
            json!({"slept_ms": 1 + n % 5}).to_string()
        };
        assert_eq!(
            result.content,
            text(&expected),
            "call {n} got another call's result"
        );
    }
    let stats = daemon.stats();
    assert_eq!(stats.calls, 100);
    assert!(stats.max_running_calls_per_connection <= 1);
    assert_unique_request_ids(&daemon);
    let status = pool.wait_status(|s| s.busy == 0).await;
    assert_eq!(status.queued, 0);
    pool.shutdown().await;
}

#[tokio::test]
async fn a_sessions_backlog_does_not_starve_another_session() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 1);
    pool.wait_connected(1).await;
    pool.wait_catalog(|_| true).await;

    // Session A queues five gate calls; the first runs, four wait.
    let a_calls: Vec<_> = (1..=5)
        .map(|n| {
            let call = tool_call(0xa, "gate", json!({"key": format!("a{n}")}));
            tokio::spawn(pool.upstream.call_tool(call))
        })
        .collect();
    guard("this step", daemon.wait_gate_started("a1")).await;
    pool.wait_status(|s| s.queued == 4 && s.busy == 1).await;

    // Session B's single call arrives last but goes out right after A's running call.
    let b_call = tokio::spawn(pool.upstream.call_tool(tool_call(
        0xb,
        "echo",
        json!({"text": "b"}),
    )));
    pool.wait_status(|s| s.queued == 5).await;
    daemon.open_gate("a1");
    // With one connection and gate a2 still closed, B can only finish if it went before a2.
    let b_result = guard("this step", b_call).await.unwrap().unwrap();
    assert_eq!(b_result.content, text("b"));
    guard("this step", daemon.wait_gate_started("a2")).await;

    for n in 2..=5 {
        daemon.open_gate(&format!("a{n}"));
    }
    for (n, call) in a_calls.into_iter().enumerate() {
        let result = guard("this step", call).await.unwrap().unwrap();
        assert_eq!(result.content, text(&format!("a{}", n + 1)));
    }
    pool.shutdown().await;
}

#[tokio::test]
async fn daemon_errors_are_classified() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 1);

    let unknown = pool.call(1, "version", json!({})).await;
    assert_eq!(
        unknown,
        Err(UpstreamError::Rejected {
            code: "TOOL_NOT_FOUND".to_owned(),
            message: "Tool not found: version".to_owned(),
        })
    );

    // A tool that raises is a result the model should see, not a protocol error.
    let failed = pool.call(1, "fail", json!({})).await.unwrap();
    assert!(failed.is_error);
    assert_eq!(
        failed.content,
        text("EXAI daemon error INTERNAL_ERROR: Tool execution failed: fail")
    );
    // A second failing call gets a fresh id, so it does not hang on the stuck one.
    let failed_again = pool.call(1, "fail", json!({})).await.unwrap();
    assert!(failed_again.is_error);

    // An empty name comes back as a call_tool_res with an error.
    let nameless = pool.call(1, "", json!({})).await;
    assert!(
        matches!(&nameless, Err(UpstreamError::Rejected { code, .. }) if code == "INVALID_REQUEST"),
        "{nameless:?}"
    );

    // The connection is still usable after all that.
    let echo = pool
        .call(1, "echo", json!({"text": "still here"}))
        .await
        .unwrap();
    assert_eq!(echo.content, text("still here"));
    assert_eq!(daemon.stats().connections_accepted, 1);
    assert_unique_request_ids(&daemon);
    pool.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_call_keeps_its_connection_busy_until_the_daemon_finishes() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 1);
    pool.wait_connected(1).await;
    pool.wait_catalog(|_| true).await;

    let running = tokio::spawn(
        pool.upstream
            .call_tool(tool_call(1, "gate", json!({"key": "c1"}))),
    );
    guard("this step", daemon.wait_gate_started("c1")).await;
    running.abort();
    assert!(
        guard("this step", running)
            .await
            .unwrap_err()
            .is_cancelled()
    );

    // A queued call that is cancelled is never sent.
    let queued = tokio::spawn(
        pool.upstream
            .call_tool(tool_call(2, "gate", json!({"key": "c2"}))),
    );
    pool.wait_status(|s| s.queued == 1).await;
    queued.abort();
    assert!(guard("this step", queued).await.unwrap_err().is_cancelled());

    let next = tokio::spawn(
        pool.upstream
            .call_tool(tool_call(3, "echo", json!({"text": "next"}))),
    );
    // The connection stays busy with the cancelled call: the daemon cannot stop it.
    pool.wait_status(|s| s.busy == 1 && s.queued == 2).await;
    daemon.open_gate("c1");
    let result = guard("this step", next).await.unwrap().unwrap();
    assert_eq!(result.content, text("next"));

    // The daemon counts a result after sending it: wait for the count rather than race it.
    guard("this step", daemon.wait_until(|s| s.results_sent == 2)).await;
    let stats = daemon.stats();
    assert_eq!(stats.calls, 2, "the cancelled queued call was never sent");
    assert_eq!(
        stats.request_ids.len(),
        3,
        "list_tools, gate, echo; no cancel op"
    );
    assert_eq!(stats.connections_accepted, 1);
    pool.wait_status(|s| s.busy == 0 && s.queued == 0).await;
    pool.shutdown().await;
}

#[tokio::test]
async fn a_call_past_its_deadline_times_out_and_its_connection_is_replaced() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut config = test_config(&daemon, 1);
    config.call_timeout = Duration::from_millis(300);
    let pool = Pool::with_config(config);
    pool.wait_connected(1).await;
    pool.wait_catalog(|_| true).await;

    let timed_out = pool.call(1, "gate", json!({"key": "t1"})).await;
    assert_eq!(
        timed_out,
        Err(UpstreamError::Timeout {
            after: Duration::from_millis(300)
        })
    );
    let status = pool
        .wait_status(|s| s.state == UpstreamState::Connected && s.reconnects == 1)
        .await;
    assert_eq!(status.connections, 1);
    let stats = daemon.stats();
    assert_eq!(
        stats.connections_accepted, 2,
        "a new connection replaced the stuck one"
    );
    assert_ne!(stats.hello_session_ids[0], stats.hello_session_ids[1]);

    let echo = pool
        .call(1, "echo", json!({"text": "after timeout"}))
        .await
        .unwrap();
    assert_eq!(echo.content, text("after timeout"));
    daemon.open_gate("t1");
    pool.shutdown().await;
}

#[tokio::test]
async fn over_capacity_is_retried_after_the_stated_wait_with_a_fresh_id() {
    let daemon = daemon(DaemonConfig {
        rate_limit: Some(RateLimit {
            burst: 1,
            per_sec: 0.5,
        }),
        ..DaemonConfig::default()
    })
    .await;
    // The hub does not know this daemon's lower limit, so the daemon refuses once.
    let pool = Pool::start(&daemon, 1);
    // list_tools takes the only token in the bucket.
    pool.wait_catalog(|_| true).await;
    let result = pool
        .call(1, "echo", json!({"text": "limited"}))
        .await
        .unwrap();
    assert_eq!(result.content, text("limited"));
    // The daemon said "retry after 2.0s"; the retry went no earlier, and the result says so.
    assert!(result.rate_limited >= Duration::from_secs(2), "{result:?}");
    let stats = daemon.stats();
    assert_eq!(stats.over_capacity, 1, "the retry waited long enough");
    assert_eq!(
        stats.calls, 1,
        "the rejected frame is not counted as a call"
    );
    assert_eq!(
        stats.request_ids.len(),
        2,
        "list_tools and the retried call"
    );
    assert_unique_request_ids(&daemon);
    let status = pool.wait_status(|s| s.over_capacity == 1).await;
    assert!(
        status
            .error_history
            .iter()
            .any(|e| e.message.contains("rate limit")),
        "{status:?}"
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn a_call_refused_as_over_capacity_until_its_deadline_fails_naming_the_limit() {
    let daemon = daemon(DaemonConfig {
        // No refill: the daemon says "retry after infs", which we read as "unknown" (1 s).
        rate_limit: Some(RateLimit {
            burst: 1,
            per_sec: 0.0,
        }),
        ..DaemonConfig::default()
    })
    .await;
    let mut config = test_config(&daemon, 1);
    config.call_timeout = Duration::from_secs(3);
    let pool = Pool::with_config(config);
    pool.wait_catalog(|_| true).await;
    let result = pool.call(1, "echo", json!({"text": "limited"})).await;
    let Err(error @ UpstreamError::OverCapacity { .. }) = &result else {
        panic!("expected OverCapacity, got {result:?}");
    };
    assert_eq!(error.jsonrpc_code(), -32004);
    let message = error.to_string();
    assert!(
        message.contains("10 frames/s, burst 100 per IP") && message.contains("Rate limit"),
        "{message}"
    );
    assert!(
        daemon.stats().over_capacity >= 2,
        "retried until the deadline, not once: {:?}",
        daemon.stats().over_capacity
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn the_hub_paces_to_the_daemons_limits_so_no_call_is_refused() {
    // Both sides with the same (small, so the test is quick) limits.
    let ip = RateLimit {
        burst: 20,
        per_sec: 40.0,
    };
    let session = RateLimit {
        burst: 10,
        per_sec: 20.0,
    };
    let daemon = daemon(DaemonConfig {
        ip_rate_limit: Some(ip),
        rate_limit: Some(session),
        ..DaemonConfig::default()
    })
    .await;
    let mut config = test_config(&daemon, 3);
    config.ip_rate_limit = Some(exai_hub::config::RateLimit {
        per_sec: ip.per_sec,
        burst: ip.burst,
    });
    config.session_rate_limit = Some(exai_hub::config::RateLimit {
        per_sec: session.per_sec,
        burst: session.burst,
    });
    let pool = Pool::with_config(config);
    pool.wait_connected(3).await;
    let mut held = pool.upstream.status();
    let calls = (0..120u64).map(|n| {
        let call = pool.upstream.call_tool(tool_call(
            n % 4,
            "echo",
            json!({ "text": format!("paced {n}") }),
        ));
        async move { (n, call.await) }
    });
    let (results, saw_held) = tokio::join!(
        guard("this step", futures_util::future::join_all(calls)),
        guard("this step", async {
            held.wait_for(|s| s.rate_limited > 0)
                .await
                .map(|s| s.rate_limited)
        })
    );
    assert!(saw_held.expect("status") > 0);
    let mut waited = 0;
    for (n, result) in results {
        let result = result.unwrap_or_else(|err| panic!("call {n} failed: {err}"));
        assert_eq!(result.content, text(&format!("paced {n}")));
        waited += usize::from(!result.rate_limited.is_zero());
    }
    assert!(waited > 0, "calls that waited say so");
    assert_eq!(daemon.stats().over_capacity, 0, "the daemon never refused");
    let status = pool.wait_status(|s| s.rate_limited == 0).await;
    assert_eq!(status.over_capacity, 0);
    assert!(
        status
            .rate_limit
            .is_some_and(|words| words.contains("40 frames/s"))
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn windows_waiting_cap_the_backoff_and_a_call_probes_at_once() {
    let daemon = daemon(DaemonConfig::default()).await;
    let mut config = test_config(&daemon, 1);
    // Without windows the pool would wait 5 s, then 10 s, ... between attempts.
    config.min_backoff = Duration::from_secs(5);
    config.max_backoff = Duration::from_secs(60);
    config.active_max_backoff = Duration::from_millis(50);
    let pool = Pool::with_config(config);
    pool.wait_connected(1).await;
    daemon.stop().await;
    pool.wait_status(|s| s.state == UpstreamState::Down).await;

    // A window is connected: attempts come at most 50 ms apart, so five failures in a row
    // come well within the guard (with the 5 s backoff they would take over a minute).
    pool.upstream.window_opened();
    let down = pool
        .wait_status(|s| s.error_history.last().is_some_and(|e| e.count >= 5))
        .await;
    assert!(down.last_error.is_some());

    daemon.restart().await.expect("daemon restarts");
    let back = pool.wait_connected(1).await;
    assert_eq!(back.last_error, None, "cleared once connected: {back:?}");
    assert!(
        back.error_history.iter().any(|e| e.count >= 5),
        "the history keeps it: {back:?}"
    );

    // No window now: the backoff grows to 5 s and more. A call made while the daemon is down
    // probes at once and runs when the probe finds the daemon back.
    pool.upstream.window_closed();
    daemon.stop().await;
    pool.wait_status(|s| s.state == UpstreamState::Down).await;
    daemon.restart().await.expect("daemon restarts");
    let echo = pool.call(1, "echo", json!({"text": "probed"})).await;
    assert_eq!(echo.map(|r| r.content), Ok(text("probed")));
    pool.shutdown().await;
}

#[tokio::test]
async fn a_stopped_daemon_fails_calls_fast_and_the_pool_recovers_on_restart() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 2);
    pool.wait_connected(2).await;
    pool.wait_catalog(|_| true).await;

    daemon.stop().await;
    let down = pool.wait_status(|s| s.state == UpstreamState::Down).await;
    assert_eq!(down.connections, 0);
    let cause = down.last_error.clone().expect("the status says why");
    assert!(
        !cause.is_empty() && !cause.starts_with("IO error"),
        "{cause}"
    );

    let failed = timeout(
        Duration::from_secs(1),
        pool.upstream
            .call_tool(tool_call(1, "echo", json!({"text": "x"}))),
    )
    .await
    .expect("a call fails at once while the daemon is down");
    match failed {
        Err(UpstreamError::Unavailable { url, cause }) => {
            assert_eq!(url, daemon.url());
            assert!(!cause.is_empty());
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }

    daemon.restart().await.expect("daemon restarts");
    let status = pool.wait_connected(2).await;
    assert!(status.reconnects >= 2, "{status:?}");
    let echo = pool.call(1, "echo", json!({"text": "back"})).await.unwrap();
    assert_eq!(echo.content, text("back"));
    // The catalog is fetched again after Down.
    guard("this step", daemon.wait_until(|s| s.list_tools == 2)).await;
    pool.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_without_a_retry_storm() {
    let token = "the-daemons-real-token-0123";
    let wrong = "a-wrong-token-that-is-long-enough";
    let daemon = daemon(DaemonConfig {
        token: Some(token.to_owned()),
        ..DaemonConfig::default()
    })
    .await;
    let mut config = test_config(&daemon, 4);
    config.token = Some(Secret::new(wrong));
    let pool = Pool::with_config(config);

    // Sent while the first attempt is in flight: it fails when the attempt does.
    let failed = pool.call(1, "echo", json!({"text": "x"})).await;
    assert_eq!(
        failed,
        Err(UpstreamError::Unauthorized { url: daemon.url() })
    );
    let status = pool
        .wait_status(|s| s.state == UpstreamState::Unauthorized)
        .await;
    let shown = format!("{status:?} {failed:?}");
    assert!(
        !shown.contains(wrong) && !shown.contains(token),
        "a token leaked: {shown}"
    );
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("token rejected")
    );

    // Fails fast now.
    let again = timeout(
        Duration::from_secs(1),
        pool.upstream
            .call_tool(tool_call(1, "echo", json!({"text": "y"}))),
    )
    .await
    .expect("fails at once");
    assert_eq!(
        again,
        Err(UpstreamError::Unauthorized { url: daemon.url() })
    );

    // The dashboard's Reconnect button tries once more, now, and only once.
    pool.upstream.reconnect();
    guard(
        "this step",
        daemon.wait_until(|s| s.closes.iter().filter(|code| **code == 4003).count() == 2),
    )
    .await;
    assert_eq!(
        daemon.stats().connections_accepted,
        2,
        "one probe per attempt, not the whole pool"
    );

    // The daemon's token is changed to ours: Reconnect brings the pool up.
    daemon.set_token(Some(wrong.to_owned()));
    pool.upstream.reconnect();
    pool.wait_connected(4).await;
    assert_eq!(daemon.stats().connections_accepted, 6);
    pool.shutdown().await;
}

#[tokio::test]
async fn a_daemon_that_drops_every_connection_after_the_hello_is_not_redialled_in_a_loop() {
    let daemon = daemon(DaemonConfig {
        close_after_hello: true,
        ..DaemonConfig::default()
    })
    .await;
    let mut config = test_config(&daemon, 4);
    config.call_timeout = Duration::from_secs(2);
    let pool = Pool::with_config(config);
    // Queued while every connection dies at once: it is still answered, by its deadline.
    let result = pool.call(1, "echo", json!({"text": "x"})).await;
    assert!(
        matches!(
            result,
            Err(UpstreamError::Timeout { .. } | UpstreamError::Unavailable { .. })
        ),
        "{result:?}"
    );
    // Connections that never served a request do not reset the backoff: with 20 ms doubling
    // to 200 ms, two seconds hold about a dozen attempts (a loop would make thousands).
    let accepted = daemon.stats().connections_accepted;
    assert!(accepted <= 40, "{accepted} connections in about 2 s");
    let status = pool.upstream.status().borrow().clone();
    assert!(
        status.error_history.iter().any(|e| e.count > 1),
        "{status:?}"
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn a_changed_tool_list_bumps_the_catalog_generation() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 1);
    let first = pool.wait_catalog(|_| true).await;
    assert_eq!(first.generation, 1);

    daemon.set_tools(vec![ToolSpec::new(
        "fresh",
        "A new tool.",
        json!({"type": "object"}),
    )]);
    pool.upstream.reconnect();
    let second = pool.wait_catalog(|catalog| catalog.generation == 2).await;
    assert_eq!(
        second.tools,
        vec![
            json!({"name": "fresh", "description": "A new tool.", "inputSchema": {"type": "object"}})
        ]
    );
    pool.wait_status(|s| s.tools == 1).await;

    // A pool that comes back after losing every connection refetches; an unchanged list keeps
    // its generation.
    daemon.drop_connections().await;
    pool.wait_status(|s| s.reconnects == 1 && s.connections == 1)
        .await;
    guard("this step", daemon.wait_until(|s| s.list_tools == 3)).await;
    // The catalog update is handled before the next job on the one connection.
    let result = pool.call(1, "fresh", json!({})).await.unwrap();
    assert_eq!(result.content, text(r#"{"arguments":{},"tool":"fresh"}"#));
    assert_eq!(
        pool.upstream.tools().borrow().as_ref().unwrap().generation,
        2
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn a_missing_stream_complete_and_duplicate_finals_are_tolerated() {
    let daemon = daemon(DaemonConfig {
        send_stream_complete: false,
        duplicate_final: true,
        ..DaemonConfig::default()
    })
    .await;
    let pool = Pool::start(&daemon, 1);
    for n in 0..3 {
        let expected = format!("reply {n}");
        let result = pool
            .call(1, "echo", json!({"text": expected}))
            .await
            .unwrap();
        assert_eq!(
            result.content,
            text(&expected),
            "results must not shift by one"
        );
    }
    let slow = pool.call(1, "slow", json!({"ms": 5})).await.unwrap();
    assert_eq!(slow.content, text(r#"{"slept_ms":5}"#));
    // Every call's final came twice; the daemon counts a result after sending it.
    guard("this step", daemon.wait_until(|s| s.results_sent == 8)).await;
    assert_eq!(daemon.stats().calls, 4);
    pool.shutdown().await;
}

#[tokio::test]
async fn the_driver_ends_when_every_handle_is_dropped() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 2);
    pool.wait_connected(2).await;
    let Pool { upstream, driver } = pool;
    let clone = upstream.clone();
    drop(upstream);
    drop(clone);
    guard("this step", driver)
        .await
        .expect("driver ended cleanly");
    guard("this step", daemon.wait_until(|s| s.live_connections == 0)).await;
}

#[tokio::test]
async fn calls_after_shutdown_fail_at_once() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 1);
    pool.wait_connected(1).await;
    let upstream = pool.upstream.clone();
    pool.shutdown().await;
    let result = guard(
        "this step",
        upstream.call_tool(tool_call(1, "echo", json!({"text": "late"}))),
    )
    .await;
    assert!(
        matches!(result, Err(UpstreamError::Unavailable { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_per_ip_limit_keeps_the_connections_that_are_up() {
    let daemon = daemon(DaemonConfig {
        max_connections_per_ip: 2,
        ..DaemonConfig::default()
    })
    .await;
    let pool = Pool::start(&daemon, 3);
    let status = pool
        .wait_status(|s| {
            s.connections == 2 && s.last_error.as_deref().is_some_and(|e| e.contains("1008"))
        })
        .await;
    assert_eq!(status.state, UpstreamState::Connected);
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("daemon closed the connection: 1008 Too many connections from your IP"),
        "{status:?}"
    );
    let echo = pool
        .call(1, "echo", json!({"text": "two is enough"}))
        .await
        .unwrap();
    assert_eq!(echo.content, text("two is enough"));
    pool.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_health_checked_with_the_ping_op() {
    let daemon = daemon(DaemonConfig {
        // The daemon's own WebSocket pings must be answered while idle, too.
        ping_interval: Some(Duration::from_millis(20)),
        ..DaemonConfig::default()
    })
    .await;
    let mut config = test_config(&daemon, 2);
    config.health_interval = Duration::from_millis(30);
    let pool = Pool::with_config(config);
    pool.wait_connected(2).await;
    guard("this step", daemon.wait_until(|s| s.pings >= 6)).await;
    let status = pool.wait_connected(2).await;
    assert_eq!(status.reconnects, 0);
    assert_eq!(daemon.stats().connections_accepted, 2);
    let echo = pool
        .call(1, "echo", json!({"text": "healthy"}))
        .await
        .unwrap();
    assert_eq!(echo.content, text("healthy"));
    assert_unique_request_ids(&daemon);
    pool.shutdown().await;
}

#[tokio::test]
async fn results_larger_than_the_default_frame_limit_arrive() {
    let daemon = daemon(DaemonConfig::default()).await;
    let pool = Pool::start(&daemon, 1);
    let bytes = 20 << 20;
    let result = pool.call(1, "big", json!({"bytes": bytes})).await.unwrap();
    let text = result.content.first_text().unwrap();
    assert_eq!(text.len(), bytes);
    pool.shutdown().await;
}
