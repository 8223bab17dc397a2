//! The hub in process: sessions over `HubHandle::connect_memory` (no shim, no OS socket for the
//! session), against the fake daemon.

use crate::support::{Conn, ask, control, guard, hello, start, start_with};
use exai_hub::api::{HubEvent, SessionState};
use exai_proto::{ClientMsg, Frame, Hello, HubMsg, PROTOCOL_VERSION, Role};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt as _;

#[tokio::test(flavor = "current_thread")]
async fn memory_session_speaks_mcp() {
    // The log ring's session tagging is tested in its own binary (tests/logring.rs): a
    // thread-local subscriber races with other tests' threads over tracing's callsite cache.
    let (_daemon, _dir, hub) = start(None).await;
    let mut events = hub.subscribe();
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(hello(PROTOCOL_VERSION, "memory"))
        .await
        .expect("hello");
    let HubMsg::Welcome { session_id, .. } = control(&mut conn).await else {
        panic!("no welcome")
    };

    let init = ask(&mut conn, r#"{"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"mem","version":"9"}}}"#).await;
    assert_eq!(init["id"], "i");
    assert_eq!(init["result"]["protocolVersion"], "2024-11-05");
    assert_eq!(
        init["result"]["capabilities"],
        serde_json::json!({"tools": {"listChanged": true}}),
        "only tools are advertised"
    );
    let batch = ask(&mut conn, r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).await;
    assert_eq!(batch["error"]["code"], -32600);
    let unknown = ask(
        &mut conn,
        r#"{"jsonrpc":"2.0","id":2.5,"method":"prompts/list"}"#,
    )
    .await;
    assert_eq!(unknown["error"]["code"], -32601);
    assert_eq!(
        unknown["id"], 2.5,
        "ids come back with their type and value"
    );
    let discover = ask(&mut conn, r#"{"jsonrpc":"2.0","id":3,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#).await;
    assert_eq!(discover["result"]["resultType"], "complete");
    assert!(
        discover["result"]["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&"2026-07-28".into())
    );
    let wrong = ask(&mut conn, r#"{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}}"#).await;
    assert!(
        wrong["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unsupported protocol version")
    );
    assert_eq!(wrong["error"]["code"], -32022);
    assert_eq!(wrong["error"]["data"]["requested"], "2099-01-01");

    // The session appeared with its details.
    let mut appeared = false;
    while !appeared {
        if let Some(HubEvent::SessionAppeared { session }) = guard("this step", events.next()).await
        {
            assert_eq!(session.id, session_id);
            assert_eq!(session.pid, 4242);
            assert_eq!(session.cwd.as_deref(), Some("/work/project"));
            appeared = true;
        }
    }
    conn.send(Frame::control(&ClientMsg::Goodbye { reason: None }))
        .await
        .expect("goodbye");
    loop {
        match guard("this step", events.next()).await {
            Some(HubEvent::SessionGone { id }) if id == session_id => break,
            Some(HubEvent::SessionChanged { session }) if session.id == session_id => {
                assert_ne!(session.state, SessionState::Lost, "a goodbye is not a loss");
            }
            Some(_) => {}
            None => panic!("hub stopped"),
        }
    }
    hub.shutdown();
}

#[tokio::test]
async fn a_wrong_protocol_version_is_rejected_with_a_reason() {
    let (_daemon, _dir, hub) = start(None).await;
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(hello(PROTOCOL_VERSION + 1, "future"))
        .await
        .expect("hello");
    let HubMsg::Rejected { reason } = control(&mut conn).await else {
        panic!("not rejected")
    };
    assert!(reason.contains("protocol version mismatch"), "{reason}");
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(Frame::Line("{}".into())).await.expect("send");
    let HubMsg::Rejected { reason } = control(&mut conn).await else {
        panic!("not rejected")
    };
    assert!(reason.contains("hello"), "{reason}");
    hub.shutdown();
}

#[tokio::test]
async fn shutdown_tells_every_shim() {
    let (_daemon, _dir, hub) = start(None).await;
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(hello(PROTOCOL_VERSION, "told"))
        .await
        .expect("hello");
    assert!(matches!(control(&mut conn).await, HubMsg::Welcome { .. }));
    hub.shutdown();
    let HubMsg::Shutdown { reason } = control(&mut conn).await else {
        panic!("no shutdown notice")
    };
    assert!(reason.contains("shutting down"));
}

#[tokio::test]
async fn three_windows_dropped_at_once_are_one_notice_and_requests_are_kept_per_window() {
    let (_daemon, _dir, hub) = start(None).await;
    let mut events = hub.subscribe();
    let mut conns = Vec::new();
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let mut conn = exai_testkit::shim::raw(hub.connect_memory());
        conn.send(hello(PROTOCOL_VERSION, name))
            .await
            .expect("hello");
        let HubMsg::Welcome { session_id, .. } = control(&mut conn).await else {
            panic!("not welcomed")
        };
        ids.push(session_id);
        conns.push(conn);
    }
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"Zed","version":"0.1"}}}"#;
    ask(&mut conns[0], init).await;
    ask(&mut conns[0], r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}"#).await;
    let requests = hub
        .session_requests(ids[0])
        .await
        .unwrap()
        .expect("known session");
    assert!(
        requests
            .iter()
            .any(|r| r.tool.as_deref() == Some("echo") && r.ok),
        "{requests:?}"
    );
    assert_eq!(
        hub.session_requests(ids[1]).await.unwrap(),
        Some(Vec::new())
    );
    assert_eq!(
        hub.session_requests(exai_proto::SessionId(2))
            .await
            .unwrap(),
        None
    );

    // Three shims vanish without a goodbye: the notices name them all, merged (one notice,
    // unless a loaded machine spreads the three losses over the 750 ms merge window).
    drop(conns);
    let mut notices = Vec::new();
    let mut named: Vec<exai_proto::SessionId> = Vec::new();
    guard("this step", async {
        while named.len() < 3 {
            match events.next().await {
                Some(HubEvent::Notice { notice }) => {
                    named.extend(&notice.sessions);
                    notices.push(notice);
                }
                Some(_) => {}
                None => panic!("hub stopped"),
            }
        }
    })
    .await;
    named.sort();
    ids.sort();
    assert_eq!(named, ids, "every lost window named exactly once");
    assert!(
        notices.len() <= 2,
        "merged, not one per window: {notices:?}"
    );
    if let [notice] = notices.as_slice() {
        assert_eq!(notice.title, "EXAI: 3 windows lost");
    }
    hub.shutdown();
}

#[tokio::test]
async fn a_focus_request_reaches_the_embedder() {
    let (_daemon, dir, hub) = start(None).await;
    let mut events = hub.subscribe();
    let endpoint = dir.path().join("hub.sock").display().to_string();
    let outcome = exai_hub::control::request_focus(Some(&endpoint), None)
        .await
        .expect("focus");
    // `start` runs a headless hub: nothing to focus, and the answer says who runs it.
    assert_eq!(
        outcome,
        exai_hub::control::FocusOutcome::Headless {
            pid: std::process::id(),
            dashboard_url: None
        }
    );
    // The control message itself is passed on as an event.
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(Frame::control(&ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        role: Role::Control,
        pid: 1,
        parent_pid: None,
        cwd: None,
        name: None,
        resume: None,
        server: None,
    })))
    .await
    .unwrap();
    assert!(matches!(control(&mut conn).await, HubMsg::Welcome { .. }));
    conn.send(Frame::control(&ClientMsg::Focus {
        session: Some(exai_proto::SessionId(7)),
    }))
    .await
    .unwrap();
    assert!(matches!(control(&mut conn).await, HubMsg::Focused));
    let focused = guard("this step", async {
        loop {
            if let Some(HubEvent::FocusRequested { session }) = events.next().await {
                return session;
            }
        }
    })
    .await;
    assert_eq!(focused, Some(exai_proto::SessionId(7)));
    hub.shutdown();
}

#[tokio::test]
async fn a_stop_request_is_answered_and_stops_the_hub() {
    let (_daemon, _dir, hub) = start(None).await;
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(exai_testkit::shim::hello_frame(Hello {
        role: Role::Control,
        ..exai_testkit::shim::hello("exai-tray --quit")
    }))
    .await
    .unwrap();
    assert!(matches!(control(&mut conn).await, HubMsg::Welcome { .. }));
    conn.send(Frame::control(&ClientMsg::Stop)).await.unwrap();
    assert!(matches!(control(&mut conn).await, HubMsg::Stopping));
    // The embedder (the tray app) follows its hub out.
    guard("the hub stopping", hub.stopping()).await;
}

async fn window(hub: &exai_hub::HubHandle, name: &str) -> Conn {
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(hello(PROTOCOL_VERSION, name))
        .await
        .expect("hello");
    assert!(matches!(control(&mut conn).await, HubMsg::Welcome { .. }));
    conn
}

/// `notifications/tools/list_changed` goes to windows that did `initialize`. A 2026-07-28 window
/// (no handshake: in that revision the notification travels on a `subscriptions/listen` stream,
/// which the hub does not offer) hears of a change only by asking again, answered in its shape.
#[tokio::test(flavor = "current_thread")]
async fn list_changed_reaches_handshake_windows_only() {
    let (daemon, _dir, hub) = start(None).await;
    let mut legacy = window(&hub, "legacy").await;
    let init = ask(&mut legacy, r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}"#).await;
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert!(init["result"].get("resultType").is_none());
    legacy
        .send(Frame::Line(
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into(),
        ))
        .await
        .expect("initialized");
    let listed = ask(
        &mut legacy,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    )
    .await;
    assert!(listed["result"]["tools"].is_array());
    assert!(listed["result"].get("ttlMs").is_none(), "{listed}");

    let mut modern = window(&hub, "modern").await;
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#;
    let list = |id: u32| {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list","params":{{{meta}}}}}"#)
    };
    let listed = ask(&mut modern, &list(1)).await;
    assert_eq!(listed["result"]["resultType"], "complete");
    assert_eq!(listed["result"]["ttlMs"], 30_000);
    assert_eq!(listed["result"]["cacheScope"], "private");

    let mut tools = exai_testkit::default_tools();
    tools.push(exai_testkit::ToolSpec::new(
        "brand_new",
        "added while the hub ran",
        serde_json::json!({"type": "object"}),
    ));
    daemon.set_tools(tools);
    daemon.drop_connections().await;

    // The handshake window is told...
    let changed = match guard("this step", legacy.next())
        .await
        .expect("a frame")
        .expect("decodes")
    {
        Frame::Line(line) => serde_json::from_slice::<serde_json::Value>(&line).expect("JSON"),
        other => panic!("expected a line, got {other:?}"),
    };
    assert_eq!(changed["method"], "notifications/tools/list_changed");
    // ...the stateless one is not: its next lines are the answers to its requests. Its session
    // saw the change before these (current-thread runtime), so a notification would come first.
    let listed = ask(&mut modern, &list(2)).await;
    assert_eq!(listed["id"], 2, "{listed}");
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert!(names.contains(&"brand_new"), "{names:?}");
    // A request without `_meta` is answered in the window's version (2026-07-28, from `_meta`).
    let ping = ask(&mut modern, r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#).await;
    assert_eq!(ping["id"], 3, "{ping}");
    assert_eq!(ping["result"]["resultType"], "complete");
    hub.shutdown();
}

#[tokio::test]
async fn a_hello_over_its_limits_is_rejected_naming_the_field() {
    let (_daemon, _dir, hub) = start(None).await;
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(hello(PROTOCOL_VERSION, &"n".repeat(300)))
        .await
        .expect("hello");
    let HubMsg::Rejected { reason } = control(&mut conn).await else {
        panic!("not rejected")
    };
    assert!(
        reason.contains("`name` is 300 bytes, over the limit of 256"),
        "{reason}"
    );

    // A wrapped server's spec (its environment, mostly) has a limit of its own.
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    let server = exai_proto::ServerSpec {
        command: "npx".into(),
        args: vec!["server".into()],
        cwd: None,
        env: vec![("BIG".into(), "x".repeat(200 << 10))],
        env_keys: Vec::new(),
        share: exai_proto::SharePolicy::Shared,
    };
    conn.send(exai_testkit::shim::hello_frame(Hello {
        server: Some(Box::new(server)),
        ..exai_testkit::shim::hello("big-env")
    }))
    .await
    .expect("hello");
    let HubMsg::Rejected { reason } = control(&mut conn).await else {
        panic!("not rejected")
    };
    assert!(
        reason.contains("hello field `server`") && reason.contains("over the limit of 131072"),
        "{reason}"
    );
    assert!(!reason.contains("xxxx"), "no value in the reason: {reason}");

    // A length prefix announcing 256 MiB before any hello: refused on the header, nothing is
    // buffered for it.
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.get_mut()
        .write_all(&[0x10, 0, 0, 0, 0])
        .await
        .expect("send a header");
    let HubMsg::Rejected { reason } = control(&mut conn).await else {
        panic!("not rejected")
    };
    assert!(reason.contains("exceeds the limit of 262144"), "{reason}");
    assert!(
        guard("this step", conn.next()).await.is_none(),
        "and the connection is closed"
    );
    assert!(hub.snapshot().await.expect("snapshot").sessions.is_empty());
    hub.shutdown();
}

#[tokio::test]
async fn a_control_frame_over_the_limit_ends_the_session() {
    let (_daemon, _dir, hub) = start(None).await;
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(hello(PROTOCOL_VERSION, "chatty"))
        .await
        .expect("hello");
    assert!(matches!(control(&mut conn).await, HubMsg::Welcome { .. }));
    let reason = "x".repeat(exai_proto::MAX_CONTROL_FRAME_LEN + 1);
    let goodbye = Frame::control(&ClientMsg::Goodbye {
        reason: Some(reason),
    });
    let _ = conn.send(goodbye).await;
    assert!(
        guard("this step", conn.next()).await.is_none(),
        "the hub hung up"
    );
    hub.shutdown();
}

#[tokio::test]
async fn only_the_shim_with_the_secret_can_resume_a_lost_session() {
    let (_daemon, _dir, hub) = start(None).await;
    let mut events = hub.subscribe();
    let mut first = exai_testkit::shim::raw(hub.connect_memory());
    first
        .send(hello(PROTOCOL_VERSION, "owner"))
        .await
        .expect("hello");
    let HubMsg::Welcome {
        session_id,
        resume_secret: Some(secret),
        ..
    } = control(&mut first).await
    else {
        panic!("no welcome with a secret")
    };
    drop(first);
    guard("this step", async {
        while let Some(event) = events.next().await {
            if let HubEvent::SessionChanged { session } = event
                && session.id == session_id
                && session.state == SessionState::Lost
            {
                return;
            }
        }
    })
    .await;

    let resume_hello = |secret: Option<String>| {
        Frame::control(&ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            role: Role::Shim,
            pid: 7,
            parent_pid: None,
            cwd: None,
            name: Some("intruder".into()),
            resume: Some(exai_proto::Resume {
                session_id,
                initialize: None,
                secret,
            }),
            server: None,
        }))
    };
    for wrong in [None, Some("0".repeat(32))] {
        let mut intruder = exai_testkit::shim::raw(hub.connect_memory());
        intruder.send(resume_hello(wrong)).await.expect("hello");
        let HubMsg::Welcome {
            session_id: given, ..
        } = control(&mut intruder).await
        else {
            panic!("no welcome")
        };
        assert_ne!(given, session_id, "a stranger gets a session of its own");
    }
    let snapshot = hub.snapshot().await.expect("snapshot");
    let owned = snapshot
        .sessions
        .iter()
        .find(|session| session.id == session_id)
        .expect("the lost session is still there");
    assert_eq!(owned.state, SessionState::Lost);
    assert_eq!(owned.name.as_deref(), Some("owner"));

    let mut owner = exai_testkit::shim::raw(hub.connect_memory());
    owner.send(resume_hello(Some(secret))).await.expect("hello");
    let HubMsg::Welcome {
        session_id: given, ..
    } = control(&mut owner).await
    else {
        panic!("no welcome")
    };
    assert_eq!(given, session_id, "the owner gets its session back");
    hub.shutdown();
}

#[tokio::test]
async fn lost_windows_leave_after_the_retention_unless_they_came_back() {
    let (_daemon, _dir, hub) = start_with(None, |config| {
        config.lost_retention = std::time::Duration::from_millis(300);
    })
    .await;
    let mut events = hub.subscribe();
    let open = |name: &'static str| {
        let hub = &hub;
        async move {
            let mut conn = exai_testkit::shim::raw(hub.connect_memory());
            conn.send(hello(PROTOCOL_VERSION, name))
                .await
                .expect("hello");
            let HubMsg::Welcome {
                session_id,
                resume_secret: Some(secret),
                ..
            } = control(&mut conn).await
            else {
                panic!("no welcome")
            };
            (conn, session_id, secret)
        }
    };
    let (first, first_id, secret) = open("comes-back").await;
    let (second, second_id, _) = open("stays-away").await;
    drop(first);
    let lost = |id: exai_proto::SessionId| {
        move |event: &HubEvent| {
            matches!(event, HubEvent::SessionChanged { session }
                if session.id == id && session.state == SessionState::Lost)
        }
    };
    guard("the first window lost", async {
        while let Some(event) = events.next().await {
            if lost(first_id)(&event) {
                return;
            }
        }
    })
    .await;
    // The first window's shim comes back with its secret before the retention ends.
    let mut back = exai_testkit::shim::raw(hub.connect_memory());
    back.send(exai_testkit::shim::hello_frame(Hello {
        resume: Some(exai_proto::Resume {
            session_id: first_id,
            initialize: None,
            secret: Some(secret),
        }),
        ..exai_testkit::shim::hello("comes-back")
    }))
    .await
    .expect("hello");
    assert!(
        matches!(control(&mut back).await, HubMsg::Welcome { session_id, .. } if session_id == first_id)
    );
    drop(second);
    // The second window, lost after the first one's old due time, leaves when its own comes;
    // by then the first window's stale expiry has passed and must not have removed it.
    guard("the second window gone", async {
        while let Some(event) = events.next().await {
            if matches!(event, HubEvent::SessionGone { id } if id == second_id) {
                return;
            }
        }
    })
    .await;
    let snapshot = hub.snapshot().await.expect("snapshot");
    let first = snapshot
        .sessions
        .iter()
        .find(|session| session.id == first_id)
        .expect("the window that came back is still there");
    assert_eq!(first.state, SessionState::Ready);
    assert!(
        snapshot
            .sessions
            .iter()
            .all(|session| session.id != second_id)
    );
    drop(back);
    hub.shutdown();
}
