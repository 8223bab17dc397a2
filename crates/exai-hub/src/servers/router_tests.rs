//! The router line by line: ids, tokens, cancellation, fan-out, subscriptions, log levels and
//! server requests, with no process and no I/O.

use super::*;
use serde_json::{Value, json};

const A: SessionId = SessionId(0xa);
const B: SessionId = SessionId(0xb);

fn json(line: &[u8]) -> Value {
    serde_json::from_slice(line).expect("JSON")
}

fn ups(actions: &[Action]) -> Vec<Value> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Upstream(line) => Some(json(line)),
            _ => None,
        })
        .collect()
}

fn to(actions: &[Action], window: SessionId) -> Vec<Value> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Window(w, line) if *w == window => Some(json(line)),
            _ => None,
        })
        .collect()
}

fn raw_to(actions: &[Action], window: SessionId) -> Vec<String> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Window(w, line) if *w == window => {
                Some(String::from_utf8_lossy(line).into_owned())
            }
            _ => None,
        })
        .collect()
}

/// A ready router with windows A and B (both initialized; A declares sampling).
fn ready(policy: SharePolicy) -> Router {
    let mut router = Router::new("everything".into(), policy);
    router.attach(A, Some("/home/me/a".into()));
    router.attach(B, Some("/home/me/b b".into()));
    let init = router.initialize_request();
    let id = json(&init)["id"].clone();
    let answer = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"2025-06-18","capabilities":{{"tools":{{"listChanged":true}},"resources":{{"subscribe":true}},"logging":{{}}}},"serverInfo":{{"name":"srv","version":"9"}},"instructions":"hi"}}}}"#
    );
    let actions = router.upstream_line(answer.as_bytes());
    assert!(matches!(actions.last(), Some(Action::Initialized(Ok(())))));
    assert_eq!(ups(&actions)[0]["method"], "notifications/initialized");
    for (window, caps) in [(A, r#"{"sampling":{}}"#), (B, "{}")] {
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{caps},"clientInfo":{{"name":"ed","version":"1"}}}}}}"#
        );
        let actions = router.window_line(window, line.as_bytes());
        let answer = &to(&actions, window)[0];
        assert_eq!(
            answer["result"]["protocolVersion"], "2025-06-18",
            "never newer than the server's"
        );
        assert_eq!(answer["result"]["serverInfo"]["name"], "srv");
        assert_eq!(answer["result"]["instructions"], "hi");
        assert!(
            ups(&actions).is_empty(),
            "a window's initialize is never forwarded"
        );
        router.window_line(
            window,
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        );
    }
    router
}

#[test]
fn ids_go_up_as_the_hubs_and_come_back_exactly() {
    let mut router = ready(SharePolicy::Shared);
    let mut sent = Vec::new();
    for (window, id) in [(A, r#""x:1""#), (B, "1"), (A, "1.0"), (B, "1")] {
        let message = serde_json::to_string(id).unwrap();
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":{message}}}}}}}"#
        );
        let actions = router.window_line(window, line.as_bytes());
        let up = ups(&actions).remove(0);
        assert!(up["id"].is_u64());
        assert_eq!(
            up["params"]["arguments"]["message"], id,
            "nothing else changes"
        );
        sent.push((window, id, up["id"].as_u64().unwrap()));
    }
    // Answers in reverse order; each to its window, with its id's exact text.
    for (window, id, ours) in sent.into_iter().rev() {
        let line = format!(r#"{{"jsonrpc":"2.0","id":{ours},"result":{{"content":[]}}}}"#);
        let actions = router.upstream_line(line.as_bytes());
        let other = if window == A { B } else { A };
        assert!(raw_to(&actions, other).is_empty());
        assert_eq!(
            raw_to(&actions, window),
            [format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[]}}}}"#
            )]
        );
    }
}

#[test]
fn progress_tokens_are_fresh_upstream_and_restored_per_window() {
    let mut router = ready(SharePolicy::Shared);
    let mut ours = Vec::new();
    for window in [A, B] {
        let line = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"long","_meta":{"progressToken":1}}}"#;
        let up = ups(&router.window_line(window, line)).remove(0);
        assert_eq!(
            up["params"]["_meta"]["progressToken"], up["id"],
            "the token is the hub's"
        );
        ours.push(up["id"].as_u64().unwrap());
    }
    assert_ne!(ours[0], ours[1]);
    let progress = format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{},"progress":1}}}}"#,
        ours[1]
    );
    let actions = router.upstream_line(progress.as_bytes());
    assert!(to(&actions, A).is_empty());
    assert_eq!(to(&actions, B)[0]["params"]["progressToken"], 1);
}

#[test]
fn a_cancel_names_the_hubs_id_and_only_the_windows_own_call() {
    let mut router = ready(SharePolicy::Shared);
    let line = br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow"}}"#;
    let a = ups(&router.window_line(A, line)).remove(0)["id"].clone();
    let b = ups(&router.window_line(B, line)).remove(0)["id"].clone();
    let cancel = br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5,"reason":"user"}}"#;
    let actions = router.window_line(A, cancel);
    let up = ups(&actions);
    assert_eq!(up.len(), 1);
    assert_eq!(up[0]["params"]["requestId"], a);
    assert_eq!(up[0]["params"]["reason"], "user");
    // A second cancel from A finds nothing more of A's; B's call still answers.
    assert!(ups(&router.window_line(A, cancel)).is_empty());
    let answer = format!(r#"{{"jsonrpc":"2.0","id":{b},"result":{{}}}}"#);
    assert_eq!(to(&router.upstream_line(answer.as_bytes()), B)[0]["id"], 5);
    // A late answer to the cancelled call goes nowhere.
    let late = format!(r#"{{"jsonrpc":"2.0","id":{a},"result":{{}}}}"#);
    assert!(router.upstream_line(late.as_bytes()).is_empty());
}

#[test]
fn list_changed_fans_out_to_initialized_windows_only() {
    let mut router = ready(SharePolicy::Shared);
    let late = SessionId(0xc);
    router.attach(late, None);
    let actions =
        router.upstream_line(br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#);
    assert_eq!(to(&actions, A).len(), 1);
    assert_eq!(to(&actions, B).len(), 1);
    assert!(to(&actions, late).is_empty());
}

#[test]
fn subscriptions_are_counted_per_uri() {
    let mut router = ready(SharePolicy::Shared);
    let sub =
        br#"{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"test://r/1"}}"#;
    let unsub = br#"{"jsonrpc":"2.0","id":2,"method":"resources/unsubscribe","params":{"uri":"test://r/1"}}"#;
    assert_eq!(
        ups(&router.window_line(A, sub)).len(),
        1,
        "the first subscriber goes up"
    );
    let actions = router.window_line(B, sub);
    assert!(
        ups(&actions).is_empty(),
        "the second is answered by the hub"
    );
    assert_eq!(to(&actions, B)[0]["result"], json!({}));
    let updated = br#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"test://r/1"}}"#;
    let actions = router.upstream_line(updated);
    assert_eq!((to(&actions, A).len(), to(&actions, B).len()), (1, 1));
    assert!(
        ups(&router.window_line(A, unsub)).is_empty(),
        "B still listens"
    );
    let actions = router.upstream_line(updated);
    assert_eq!((to(&actions, A).len(), to(&actions, B).len()), (0, 1));
    // B leaves: the last subscriber, so the hub unsubscribes upstream.
    let up = ups(&router.detach(B));
    assert_eq!(up[0]["method"], "resources/unsubscribe");
}

#[test]
fn the_server_gets_the_most_verbose_level_and_each_window_its_own() {
    let mut router = ready(SharePolicy::Shared);
    let set = |level: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{{"level":"{level}"}}}}"#
        )
    };
    assert_eq!(
        ups(&router.window_line(A, set("error").as_bytes()))[0]["params"]["level"],
        "error"
    );
    assert_eq!(
        ups(&router.window_line(B, set("debug").as_bytes()))[0]["params"]["level"],
        "debug"
    );
    let message = |level: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/message","params":{{"level":"{level}","data":"x"}}}}"#
        )
    };
    let actions = router.upstream_line(message("info").as_bytes());
    assert_eq!((to(&actions, A).len(), to(&actions, B).len()), (0, 1));
    let actions = router.upstream_line(message("critical").as_bytes());
    assert_eq!((to(&actions, A).len(), to(&actions, B).len()), (1, 1));
    // B leaves: back to A's level upstream.
    assert_eq!(ups(&router.detach(B))[0]["params"]["level"], "error");
}

#[test]
fn sampling_goes_to_the_window_in_flight_that_declared_it() {
    let mut router = ready(SharePolicy::Shared);
    let sample = br#"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}"#;
    // Nobody in flight: refused.
    let refused = ups(&router.upstream_line(sample));
    assert_eq!(refused[0]["id"], "s1");
    assert_eq!(refused[0]["error"]["code"], -32601);
    // B (no sampling capability) and A both have a call in flight: A gets it, with the hub's id.
    let call = br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"sample"}}"#;
    router.window_line(A, call);
    router.window_line(B, call);
    let actions = router.upstream_line(sample);
    assert!(to(&actions, B).is_empty());
    let asked = to(&actions, A).remove(0);
    assert_eq!(asked["method"], "sampling/createMessage");
    let answer = format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"role":"assistant"}}}}"#,
        asked["id"]
    );
    let back = ups(&router.window_line(A, answer.as_bytes()));
    assert_eq!(back[0]["id"], "s1", "the server's id restored");
}

#[test]
fn roots_are_the_windows_directories_and_ping_is_answered_by_the_hub() {
    let mut router = ready(SharePolicy::Shared);
    let roots = ups(&router.upstream_line(br#"{"jsonrpc":"2.0","id":4,"method":"roots/list"}"#));
    assert_eq!(
        roots[0]["result"]["roots"],
        json!([{"uri": "file:///home/me/a", "name": "a"}, {"uri": "file:///home/me/b%20b", "name": "b b"}])
    );
    let pong = ups(&router.upstream_line(br#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#));
    assert_eq!(pong[0], json!({"jsonrpc": "2.0", "id": "p", "result": {}}));
}

#[test]
fn a_lost_server_fails_what_is_in_flight_and_a_restart_restores_subscriptions() {
    let mut router = ready(SharePolicy::Shared);
    router.window_line(
        A,
        br#"{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"slow"}}"#,
    );
    router.window_line(
        B,
        br#"{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"u"}}"#,
    );
    let actions = router.upstream_lost("the MCP server everything exited (exit status: 1)");
    let failed = to(&actions, A).remove(0);
    assert_eq!(failed["id"], "c");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exit status: 1")
    );
    assert!(!router.is_ready());
    let init = router.initialize_request();
    let answer = format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"protocolVersion":"2025-06-18","capabilities":{{"tools":{{}}}},"serverInfo":{{"name":"srv","version":"9"}}}}}}"#,
        json(&init)["id"]
    );
    let actions = router.upstream_line(answer.as_bytes());
    let up = ups(&actions);
    assert!(
        up.iter()
            .any(|line| line["method"] == "resources/subscribe" && line["params"]["uri"] == "u")
    );
    assert_eq!(
        to(&actions, A)[0]["method"],
        "notifications/tools/list_changed"
    );
    assert_eq!(
        to(&actions, B)[0]["method"],
        "notifications/tools/list_changed"
    );
}
