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
    // The hub never knew the lists from before: once listed, they count as changed.
    let list = up
        .iter()
        .find(|line| line["method"] == "tools/list")
        .expect("the hub lists the tools");
    let actions = router.upstream_line(
        format!(
            r#"{{"jsonrpc":"2.0","id":{},"result":{{"tools":[]}}}}"#,
            list["id"]
        )
        .as_bytes(),
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

/// Answers every `*/list` request among `up` from `lists` (kind → pages of items), following
/// cursors; what the windows were sent along the way.
fn answer_lists(router: &mut Router, up: Vec<Value>, lists: &Value) -> Vec<Action> {
    let mut sent = Vec::new();
    let mut queue: Vec<Value> = up
        .into_iter()
        .filter(|line| {
            line["method"]
                .as_str()
                .is_some_and(|m| m.ends_with("/list"))
        })
        .collect();
    while let Some(request) = queue.pop() {
        let kind = request["method"]
            .as_str()
            .unwrap()
            .trim_end_matches("/list");
        let page: usize = request["params"]["cursor"]
            .as_str()
            .map_or(0, |cursor| cursor.parse().unwrap());
        let pages = lists[kind].as_array().unwrap();
        let mut result = json!({ kind: pages[page] });
        if page + 1 < pages.len() {
            result["nextCursor"] = json!((page + 1).to_string());
        }
        let line = json!({"jsonrpc": "2.0", "id": request["id"], "result": result}).to_string();
        let actions = router.upstream_line(line.as_bytes());
        queue.extend(ups(&actions).into_iter().filter(|line| {
            line["method"]
                .as_str()
                .is_some_and(|m| m.ends_with("/list"))
        }));
        sent.extend(actions);
    }
    sent
}

/// Restarts the server with `capabilities`; the hub's requests to it and what the initialize
/// answer made the router do.
fn restart(router: &mut Router, capabilities: &str) -> (Vec<Value>, Vec<Action>) {
    router.upstream_lost("the MCP server everything exited (exit status: 1)");
    let init = router.initialize_request();
    let answer = format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"protocolVersion":"2025-06-18","capabilities":{capabilities},"serverInfo":{{"name":"srv","version":"9"}}}}}}"#,
        json(&init)["id"]
    );
    let actions = router.upstream_line(answer.as_bytes());
    (ups(&actions), actions)
}

fn changed(actions: &[Action], window: SessionId) -> Vec<String> {
    to(actions, window)
        .into_iter()
        .map(|line| line["method"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn after_a_restart_list_changed_goes_out_only_for_lists_that_differ() {
    let mut router = Router::new("everything".into(), SharePolicy::Shared);
    router.attach(A, None);
    router.attach(B, None);
    let caps = r#"{"tools":{"listChanged":true},"prompts":{},"resources":{}}"#;
    let init = router.initialize_request();
    let answer = format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"protocolVersion":"2025-06-18","capabilities":{caps},"serverInfo":{{"name":"srv","version":"9"}}}}}}"#,
        json(&init)["id"]
    );
    let up = ups(&router.upstream_line(answer.as_bytes()));
    let listed: Vec<&str> = up.iter().filter_map(|l| l["method"].as_str()).collect();
    assert_eq!(
        listed,
        [
            "notifications/initialized",
            "tools/list",
            "prompts/list",
            "resources/list"
        ]
    );
    // Tools over two pages (the order of an item's keys does not matter), one prompt.
    let first = json!({
        "tools": [[{"name": "echo", "inputSchema": {"type": "object"}}], [{"name": "add"}]],
        "prompts": [[{"name": "greet"}]],
        "resources": [[]],
    });
    let sent = answer_lists(&mut router, up, &first);
    assert!(to(&sent, A).is_empty(), "a first start announces nothing");
    // A's handshake answer offered all three lists, B's only tools (as if the server had
    // offered less then): each window is told only of what its answer offered.
    for (window, offered) in [(A, caps), (B, r#"{"tools":{}}"#)] {
        router.init.as_mut().unwrap().capabilities = offered.to_owned();
        router.window_line(
            window,
            br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"ed","version":"1"}}}"#,
        );
        router.window_line(
            window,
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        );
    }

    // The same lists after a restart: nothing to say.
    let same = json!({
        "tools": [[{"inputSchema": {"type": "object"}, "name": "echo"}], [{"name": "add"}]],
        "prompts": [[{"name": "greet"}]],
        "resources": [[]],
    });
    let (up, actions) = restart(&mut router, caps);
    assert!(
        to(&actions, A).is_empty(),
        "nothing is said before the lists are known"
    );
    let sent = answer_lists(&mut router, up, &same);
    assert!(changed(&sent, A).is_empty(), "{:?}", changed(&sent, A));
    assert!(changed(&sent, B).is_empty());

    // The prompts differ: only prompts, and only to the window offered prompts.
    let other = json!({
        "tools": [[{"name": "echo", "inputSchema": {"type": "object"}}, {"name": "add"}]],
        "prompts": [[{"name": "greet"}, {"name": "bye"}]],
        "resources": [[]],
    });
    let (up, _) = restart(&mut router, caps);
    let sent = answer_lists(&mut router, up, &other);
    assert_eq!(
        changed(&sent, A),
        ["notifications/prompts/list_changed"],
        "the same tools over one page instead of two are the same list"
    );
    assert!(changed(&sent, B).is_empty());

    // Prompts gone from the restarted server: changed; a refused tools/list: changed too.
    let (up, at_init) = restart(&mut router, r#"{"tools":{},"resources":{}}"#);
    assert_eq!(
        changed(&at_init, A),
        ["notifications/prompts/list_changed"],
        "gone prompts are announced at once"
    );
    assert!(changed(&at_init, B).is_empty());
    let tools = up.iter().find(|l| l["method"] == "tools/list").unwrap();
    let refused = format!(
        r#"{{"jsonrpc":"2.0","id":{},"error":{{"code":-32603,"message":"busy"}}}}"#,
        tools["id"]
    );
    let mut sent = router.upstream_line(refused.as_bytes());
    sent.extend(answer_lists(
        &mut router,
        up.into_iter()
            .filter(|l| l["method"] != "tools/list")
            .collect(),
        &other,
    ));
    assert_eq!(changed(&sent, A), ["notifications/tools/list_changed"]);
    assert_eq!(changed(&sent, B), ["notifications/tools/list_changed"]);
}

#[test]
fn the_servers_own_list_changed_is_passed_on_and_relisted() {
    let mut router = ready(SharePolicy::Shared);
    let actions =
        router.upstream_line(br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#);
    assert_eq!(to(&actions, A).len(), 1);
    let up = ups(&actions);
    assert_eq!(up[0]["method"], "tools/list", "the hub lists again");
    // Its answer is the new baseline: a restart with the same list says nothing.
    let lists = json!({"tools": [[{"name": "new"}]], "resources": [[]]});
    answer_lists(&mut router, up, &lists);
    let (up, _) = restart(
        &mut router,
        r#"{"tools":{"listChanged":true},"resources":{"subscribe":true}}"#,
    );
    let sent = answer_lists(&mut router, up, &lists);
    // (The resources were never listed before, so they count as changed.)
    assert_eq!(changed(&sent, A), ["notifications/resources/list_changed"]);
}

#[test]
fn a_task_belongs_to_the_window_that_created_it() {
    let mut router = ready(SharePolicy::Shared);
    let create = br#"{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"research","arguments":{},"task":{"ttl":60000}}}"#;
    let up = ups(&router.window_line(A, create)).remove(0);
    let created = format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"task":{{"taskId":"t-1","status":"working","createdAt":"2025-11-25T00:00:00Z","ttl":60000}}}}}}"#,
        up["id"]
    );
    let actions = router.upstream_line(created.as_bytes());
    assert_eq!(to(&actions, A)[0]["result"]["task"]["taskId"], "t-1");

    // Another window naming it: refused by the hub, nothing goes up.
    for method in ["tasks/get", "tasks/result", "tasks/cancel"] {
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":5,"method":"{method}","params":{{"taskId":"t-1"}}}}"#
        );
        let actions = router.window_line(B, line.as_bytes());
        assert!(ups(&actions).is_empty(), "{method} went up");
        let refused = to(&actions, B).remove(0);
        assert_eq!(refused["id"], 5);
        assert_eq!(refused["error"]["code"], -32602);
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("task not found"),
            "{refused}"
        );
        // Its owner's goes up.
        let actions = router.window_line(A, line.as_bytes());
        assert_eq!(ups(&actions)[0]["method"], method);
    }

    // tasks/list: each window sees only its own.
    let list = br#"{"jsonrpc":"2.0","id":"l","method":"tasks/list","params":{}}"#;
    for (window, expected) in [(A, vec!["t-1"]), (B, vec![])] {
        let up = ups(&router.window_line(window, list)).remove(0);
        let answer = format!(
            r#"{{"jsonrpc":"2.0","id":{},"result":{{"tasks":[{{"taskId":"t-1","status":"working"}},{{"taskId":"other","status":"working"}}],"nextCursor":"n"}}}}"#,
            up["id"]
        );
        let got = to(&router.upstream_line(answer.as_bytes()), window).remove(0);
        assert_eq!(got["id"], "l");
        assert_eq!(got["result"]["nextCursor"], "n");
        let ids: Vec<&str> = got["result"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|task| task["taskId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected);
    }

    // Status notifications only to the owner.
    let status = br#"{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"t-1","status":"completed"}}"#;
    let actions = router.upstream_line(status);
    assert_eq!((to(&actions, A).len(), to(&actions, B).len()), (1, 0));

    // The owner leaves: nobody can name the task.
    router.detach(A);
    let actions = router.window_line(
        B,
        br#"{"jsonrpc":"2.0","id":6,"method":"tasks/get","params":{"taskId":"t-1"}}"#,
    );
    assert!(ups(&actions).is_empty());
    assert!(router.upstream_line(status).is_empty());
}

const S: SessionId = SessionId(0x5);

/// A 2026-07-28 request line: `_meta` names the version, the client and its capabilities.
fn stateless(id: u64, method: &str, params: Value, caps: Value) -> Vec<u8> {
    let mut params = params;
    let meta = params
        .as_object_mut()
        .expect("params are an object")
        .entry("_meta")
        .or_insert_with(|| json!({}));
    meta["io.modelcontextprotocol/protocolVersion"] = json!("2026-07-28");
    meta["io.modelcontextprotocol/clientInfo"] = json!({"name": "modern", "version": "2"});
    meta["io.modelcontextprotocol/clientCapabilities"] = caps;
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
        .unwrap()
}

/// `ready` plus window S, which never does `initialize`.
fn ready_with_stateless() -> Router {
    let mut router = ready(SharePolicy::Shared);
    router.attach(S, Some("/home/me/s".into()));
    router
}

#[test]
fn a_stateless_window_discovers_the_server_from_the_hubs_initialize() {
    let mut router = ready_with_stateless();
    let actions = router.window_line(S, &stateless(1, "server/discover", json!({}), json!({})));
    assert!(
        ups(&actions).is_empty(),
        "answered by the hub, never forwarded"
    );
    let result = to(&actions, S).remove(0)["result"].clone();
    assert_eq!(result["resultType"], "complete");
    assert_eq!(
        result["supportedVersions"],
        json!(["2024-11-05", "2025-03-26", "2025-06-18", "2026-07-28"]),
        "the handshake versions up to the server's, and 2026-07-28"
    );
    // No `listChanged` or `subscribe`: those promise a `subscriptions/listen` stream.
    assert_eq!(
        result["capabilities"],
        json!({"tools": {}, "resources": {}, "logging": {}})
    );
    assert_eq!(result["instructions"], "hi");
    assert_eq!(result["ttlMs"], 0);
    assert_eq!(result["cacheScope"], "private");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"],
        json!({"name": "srv", "version": "9"})
    );
    let identified = actions.iter().find_map(|action| match action {
        Action::Identified {
            window,
            client,
            version,
        } => Some((*window, client.clone(), *version)),
        _ => None,
    });
    assert_eq!(
        identified,
        Some((
            S,
            Some(("modern".to_owned(), "2".to_owned())),
            Version::V2026_07_28
        ))
    );
    // The same client again says nothing new.
    let actions = router.window_line(S, &stateless(2, "server/discover", json!({}), json!({})));
    assert!(
        !actions
            .iter()
            .any(|action| matches!(action, Action::Identified { .. }))
    );
}

#[test]
fn a_stateless_windows_results_get_the_2026_members_the_server_left_out() {
    let mut router = ready_with_stateless();
    for (method, cacheable) in [("tools/list", true), ("tools/call", false)] {
        let params = json!({"name": "echo", "_meta": {"progressToken": "p"}});
        let actions = router.window_line(S, &stateless(3, method, params, json!({})));
        let up = ups(&actions).remove(0);
        assert_eq!(
            up["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"], "2026-07-28",
            "the request's _meta goes up intact"
        );
        let ours = up["id"].as_u64().unwrap();
        let progress = format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{ours},"progress":1,"message":"m"}}}}"#
        );
        let notes = to(&router.upstream_line(progress.as_bytes()), S);
        assert_eq!(notes[0]["params"]["progressToken"], "p");
        let answer = format!(
            r#"{{"jsonrpc":"2.0","id":{ours},"result":{{"tools":[],"content":[{{"type":"text","text":"x"}}],"_meta":{{"own/key":true}}}}}}"#
        );
        let actions = router.upstream_line(answer.as_bytes());
        let line = to(&actions, S).remove(0);
        assert_eq!(line["id"], 3);
        let result = &line["result"];
        assert_eq!(result["resultType"], "complete");
        assert_eq!(
            result["_meta"]["own/key"], true,
            "the server's _meta is kept"
        );
        assert_eq!(
            result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "srv"
        );
        assert_eq!(result.get("ttlMs").is_some(), cacheable, "{method}");
        assert_eq!(result.get("cacheScope").is_some(), cacheable, "{method}");
    }
    // A 2026-era server's own members (an input_required result) are not added again.
    let actions = router.window_line(
        S,
        &stateless(4, "tools/call", json!({"name": "ask"}), json!({})),
    );
    let ours = ups(&actions)[0]["id"].as_u64().unwrap();
    let sent = r#"{"resultType":"input_required","inputRequests":{"q":{"method":"elicitation/create","params":{"message":"?","requestedSchema":{"type":"object","properties":{}}}}},"requestState":"r","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"srv2026","version":"1"}}}"#;
    let answer = format!(r#"{{"jsonrpc":"2.0","id":{ours},"result":{sent}}}"#);
    let actions = router.upstream_line(answer.as_bytes());
    assert_eq!(
        raw_to(&actions, S),
        [format!(r#"{{"jsonrpc":"2.0","id":4,"result":{sent}}}"#)]
    );
    // A handshake-era window's answer is the server's, untouched.
    let actions = router.window_line(B, br#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#);
    let ours = ups(&actions)[0]["id"].as_u64().unwrap();
    let answer = format!(r#"{{"jsonrpc":"2.0","id":{ours},"result":{{"tools":[]}}}}"#);
    assert_eq!(
        raw_to(&router.upstream_line(answer.as_bytes()), B),
        [r#"{"jsonrpc":"2.0","id":5,"result":{"tools":[]}}"#]
    );
}

#[test]
fn an_unknown_meta_version_is_refused_like_on_the_daemons_windows() {
    let mut router = ready_with_stateless();
    let line = br#"{"jsonrpc":"2.0","id":"v","method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}}"#;
    let actions = router.window_line(S, line);
    assert!(ups(&actions).is_empty());
    let error = to(&actions, S).remove(0);
    assert_eq!(error["id"], "v");
    assert_eq!(error["error"]["code"], -32022);
    assert_eq!(error["error"]["data"]["requested"], "2099-01-01");
    // subscriptions/listen is not offered for wrapped servers.
    let actions = router.window_line(
        S,
        &stateless(
            6,
            "subscriptions/listen",
            json!({"notifications": {}}),
            json!({}),
        ),
    );
    assert!(ups(&actions).is_empty());
    assert_eq!(to(&actions, S)[0]["error"]["code"], -32601);
}

#[test]
fn log_messages_reach_a_stateless_window_only_at_its_requests_level() {
    let mut router = ready_with_stateless();
    let params = json!({"name": "long", "_meta": {"io.modelcontextprotocol/logLevel": "warning"}});
    let actions = router.window_line(S, &stateless(1, "tools/call", params, json!({})));
    assert_eq!(
        ups(&actions)[0]["params"]["level"],
        "warning",
        "the server's level follows the most verbose one asked"
    );
    // S gets those its request admits; B (initialized, no level) all.
    for (level, to_s) in [("info", false), ("error", true)] {
        let line = format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/message","params":{{"level":"{level}","data":"d"}}}}"#
        );
        let actions = router.upstream_line(line.as_bytes());
        assert_eq!(to(&actions, S).len(), usize::from(to_s), "{level}");
        assert_eq!(to(&actions, B).len(), 1);
    }
    // A stateless request that did not opt in hears nothing.
    let mut router = ready_with_stateless();
    router.window_line(
        S,
        &stateless(1, "tools/call", json!({"name": "x"}), json!({})),
    );
    let line = br#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"emergency","data":"d"}}"#;
    assert!(to(&router.upstream_line(line), S).is_empty());
}

#[test]
fn a_server_request_reaches_a_stateless_call_as_input_required_and_the_retry_answers_it() {
    let mut router = ready_with_stateless();
    // A (sampling in its initialize) has a call in flight; S's later call declares elicitation
    // in its own `_meta`; B has a call and declared nothing.
    router.window_line(
        A,
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
    );
    let params = json!({"name": "ask", "_meta": {"progressToken": "p1"}});
    let actions = router.window_line(
        S,
        &stateless(1, "tools/call", params, json!({"elicitation": {}})),
    );
    let ours = ups(&actions)[0]["id"].as_u64().unwrap();
    router.window_line(
        B,
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"y"}}"#,
    );
    let elicit = |id: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":"{id}","method":"elicitation/create","params":{{"message":"{id}?","requestedSchema":{{"type":"object","properties":{{}}}}}}}}"#
        )
    };
    let actions = router.upstream_line(elicit("e1").as_bytes());
    assert!(ups(&actions).is_empty() && to(&actions, A).is_empty() && to(&actions, B).is_empty());
    let answer = to(&actions, S).remove(0);
    assert_eq!(answer["id"], 1, "the window's request is answered");
    let result = &answer["result"];
    assert_eq!(result["resultType"], "input_required");
    assert_eq!(result["requestState"], format!("exai-hub/{ours}"));
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "srv"
    );
    let (tag, asked) = result["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(asked["method"], "elicitation/create");
    assert_eq!(asked["params"]["message"], "e1?");
    let first_tag = tag.clone();
    // While S owes its retry: a second server request waits for it, progress is not sent, and
    // the call's result is held.
    assert!(router.upstream_line(elicit("e2").as_bytes()).is_empty());
    let progress = format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{ours},"progress":1}}}}"#
    );
    assert!(router.upstream_line(progress.as_bytes()).is_empty());
    let retry = |id: u64, tag: &str, state: &Value| {
        let params = json!({
            "name": "ask",
            "inputResponses": {tag: {"action": "accept", "content": {"n": id}}},
            "requestState": state,
            "_meta": {"progressToken": format!("p{id}")}
        });
        stateless(id, "tools/call", params, json!({"elicitation": {}}))
    };
    let actions = router.window_line(S, &retry(2, &first_tag, &result["requestState"]));
    let up = ups(&actions);
    assert_eq!(up.len(), 1, "the retry is not sent up: {up:?}");
    assert_eq!(up[0]["id"], "e1");
    assert_eq!(
        up[0]["result"],
        json!({"action": "accept", "content": {"n": 2}})
    );
    let again = to(&actions, S).remove(0);
    assert_eq!(again["id"], 2);
    assert_eq!(again["result"]["resultType"], "input_required");
    let second_tag = again["result"]["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    assert_ne!(second_tag, first_tag);
    // Progress goes to the retry's token now.
    let done = format!(
        r#"{{"jsonrpc":"2.0","id":{ours},"result":{{"content":[{{"type":"text","text":"done"}}]}}}}"#
    );
    assert!(
        router.upstream_line(done.as_bytes()).is_empty(),
        "held for the retry"
    );
    let actions = router.window_line(S, &retry(3, &second_tag, &again["result"]["requestState"]));
    assert_eq!(ups(&actions)[0]["id"], "e2");
    let last = to(&actions, S).remove(0);
    assert_eq!(last["id"], 3);
    assert_eq!(last["result"]["resultType"], "complete");
    assert_eq!(last["result"]["content"][0]["text"], "done");
    // A requestState of the hub's that names no waiting call is refused, not sent up.
    let actions = router.window_line(
        S,
        &retry(4, &second_tag, &json!(format!("exai-hub/{ours}"))),
    );
    assert!(ups(&actions).is_empty());
    assert_eq!(to(&actions, S)[0]["error"]["code"], -32602);
    // An answer over the line limit while S owes its retry: the retry gets the error, once.
    let actions = router.window_line(
        S,
        &stateless(
            6,
            "tools/call",
            json!({"name": "ask"}),
            json!({"elicitation": {}}),
        ),
    );
    let call = ups(&actions)[0]["id"].as_u64().unwrap();
    let asked = to(&router.upstream_line(elicit("e5").as_bytes()), S).remove(0);
    let prefix = format!(r#"{{"jsonrpc":"2.0","id":{call},"result":{{"content":[{{"#);
    assert!(
        router
            .upstream_too_long(prefix.as_bytes(), "too long")
            .is_empty()
    );
    let tag = asked["result"]["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let actions = router.window_line(S, &retry(7, &tag, &asked["result"]["requestState"]));
    let answers = to(&actions, S);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0]["id"], 7);
    assert_eq!(answers[0]["error"]["message"], "too long");
    // A window that goes away owing answers: the server gets an error for each, then the cancel.
    let actions = router.window_line(
        S,
        &stateless(
            5,
            "tools/call",
            json!({"name": "ask"}),
            json!({"elicitation": {}}),
        ),
    );
    let call = ups(&actions)[0]["id"].clone();
    router.upstream_line(elicit("e3").as_bytes());
    router.upstream_line(elicit("e4").as_bytes());
    let up = ups(&router.detach(S));
    assert_eq!(up[0]["id"], "e3");
    assert_eq!(up[1]["id"], "e4");
    assert!(up[0]["error"].is_object() && up[1]["error"].is_object());
    assert_eq!(up[2]["method"], "notifications/cancelled");
    assert_eq!(up[2]["params"]["requestId"], call);
    // The handshake-era windows were never asked.
    let sampling = br#"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}"#;
    let actions = router.upstream_line(sampling);
    assert_eq!(to(&actions, A)[0]["method"], "sampling/createMessage");
}

/// An `elicitation/create` line from the server with id `"<id>"`.
fn elicit(id: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":"{id}","method":"elicitation/create","params":{{"message":"{id}?","requestedSchema":{{"type":"object","properties":{{}}}}}}}}"#
    )
}

/// S starts a 2026-07-28 `tools/call` with id `id` that declares elicitation; the hub's id.
fn stateless_call(router: &mut Router, id: u64) -> u64 {
    let actions = router.window_line(
        S,
        &stateless(
            id,
            "tools/call",
            json!({"name": "ask"}),
            json!({"elicitation": {}}),
        ),
    );
    ups(&actions)[0]["id"].as_u64().unwrap()
}

#[test]
fn cancel_while_parked_answers_the_servers_requests() {
    let mut router = ready_with_stateless();
    let call = stateless_call(&mut router, 1);
    // Asked at once (parked), then one queued for the retry.
    let asked = to(&router.upstream_line(elicit("e1").as_bytes()), S).remove(0);
    assert_eq!(asked["result"]["resultType"], "input_required");
    assert!(router.upstream_line(elicit("e2").as_bytes()).is_empty());
    let cancel = br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"user"}}"#;
    let actions = router.window_line(S, cancel);
    let up = ups(&actions);
    assert_eq!(up.len(), 3, "{up:?}");
    assert_eq!((&up[0]["id"], &up[1]["id"]), (&json!("e1"), &json!("e2")));
    assert!(up[0]["error"].is_object() && up[1]["error"].is_object());
    assert_eq!(up[2]["method"], "notifications/cancelled");
    assert_eq!(up[2]["params"]["requestId"], call);
    assert!(to(&actions, S).is_empty());
    // A late retry finds no call.
    let retry = stateless(
        2,
        "tools/call",
        json!({"name": "ask", "inputResponses": {}, "requestState": asked["result"]["requestState"]}),
        json!({"elicitation": {}}),
    );
    let actions = router.window_line(S, &retry);
    assert!(ups(&actions).is_empty());
    assert_eq!(to(&actions, S)[0]["error"]["code"], -32602);
}

/// The `requestState` and the only `inputRequests` key of an `input_required` answer.
fn asked_of(answer: &Value) -> (Value, String) {
    let result = &answer["result"];
    assert_eq!(result["resultType"], "input_required", "{answer}");
    let tag = result["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    (result["requestState"].clone(), tag)
}

#[test]
fn a_parked_call_takes_only_its_own_server_requests_while_another_call_can() {
    let mut router = ready_with_stateless();
    let first = stateless_call(&mut router, 1);
    let params = json!({"name": "ask", "_meta": {"progressToken": "p"}});
    let actions = router.window_line(
        S,
        &stateless(2, "tools/call", params, json!({"elicitation": {}})),
    );
    let second = ups(&actions)[0]["id"].as_u64().unwrap();
    // The most recent call is asked and parks.
    let answer = to(&router.upstream_line(elicit("e1").as_bytes()), S).remove(0);
    assert_eq!(answer["id"], 2);
    // A request naming the parked call (its progress token, the hub's) waits for its retry.
    let own = format!(
        r#"{{"jsonrpc":"2.0","id":"e2","method":"elicitation/create","params":{{"message":"?","requestedSchema":{{"type":"object","properties":{{}}}},"_meta":{{"progressToken":{second}}}}}}}"#
    );
    assert!(router.upstream_line(own.as_bytes()).is_empty());
    // One naming no call goes to the call that is not parked, not into the parked one's queue.
    let answer = to(&router.upstream_line(elicit("e3").as_bytes()), S).remove(0);
    assert_eq!(answer["id"], 1);
    let (state, tag) = asked_of(&answer);
    assert_eq!(state, format!("exai-hub/{first}"));
    let retry = stateless(
        3,
        "tools/call",
        json!({"name": "ask", "inputResponses": {tag: {"action": "decline"}}, "requestState": state}),
        json!({"elicitation": {}}),
    );
    let up = ups(&router.window_line(S, &retry));
    assert_eq!(up.len(), 1);
    assert_eq!(up[0]["id"], "e3");
    // The retried call runs again, so it is asked the next one, through its retry's id.
    let answer = to(&router.upstream_line(elicit("e4").as_bytes()), S).remove(0);
    assert_eq!(answer["id"], 3);
    // With every candidate parked, the most recent one still takes it (queued).
    assert!(router.upstream_line(elicit("e5").as_bytes()).is_empty());
    let up = ups(&router.detach(S));
    let ids: Vec<&Value> = up.iter().map(|line| &line["id"]).collect();
    for owed in ["e1", "e2", "e4", "e5"] {
        assert!(ids.contains(&&json!(owed)), "{owed}: {up:?}");
    }
}

#[test]
fn a_parked_calls_queue_is_bounded() {
    let mut router = ready_with_stateless();
    stateless_call(&mut router, 1);
    assert_eq!(
        to(&router.upstream_line(elicit("e0").as_bytes()), S).len(),
        1
    );
    for n in 1..=stateless::MAX_QUEUED_INPUT {
        let actions = router.upstream_line(elicit(&format!("q{n}")).as_bytes());
        assert!(actions.is_empty(), "queued: {n}");
    }
    let actions = router.upstream_line(elicit("over").as_bytes());
    let up = ups(&actions);
    assert_eq!(up.len(), 1);
    assert_eq!(up[0]["id"], "over");
    assert!(up[0]["error"].is_object());
    assert!(to(&actions, S).is_empty());
}

#[test]
fn a_parked_call_not_retried_by_its_deadline_ends() {
    let mut router = ready_with_stateless().with_input_timeout(Duration::from_secs(60));
    assert_eq!(router.input_deadline(), None);
    let call = stateless_call(&mut router, 1);
    let answer = to(&router.upstream_line(elicit("e1").as_bytes()), S).remove(0);
    assert!(router.upstream_line(elicit("e2").as_bytes()).is_empty());
    let deadline = router
        .input_deadline()
        .expect("a parked call has a deadline");
    assert!(
        router
            .expire_input(deadline - Duration::from_millis(1))
            .is_empty()
    );
    let actions = router.expire_input(deadline);
    let up = ups(&actions);
    assert_eq!(up.len(), 3, "{up:?}");
    assert_eq!((&up[0]["id"], &up[1]["id"]), (&json!("e1"), &json!("e2")));
    assert!(up[0]["error"].is_object() && up[1]["error"].is_object());
    assert_eq!(up[2]["method"], "notifications/cancelled");
    assert_eq!(up[2]["params"]["requestId"], call);
    assert!(actions.iter().any(|action| matches!(
        action,
        Action::Finished { key, error: Some(_), .. } if *key == call
    )));
    assert_eq!(router.input_deadline(), None);
    // The late retry is told the call ended; the server's late answer goes nowhere.
    let (state, tag) = asked_of(&answer);
    let retry = stateless(
        2,
        "tools/call",
        json!({"name": "ask", "inputResponses": {tag: {"action": "decline"}}, "requestState": state}),
        json!({"elicitation": {}}),
    );
    let actions = router.window_line(S, &retry);
    assert!(ups(&actions).is_empty());
    assert_eq!(to(&actions, S)[0]["error"]["code"], -32602);
    let late = format!(r#"{{"jsonrpc":"2.0","id":{call},"result":{{}}}}"#);
    assert!(router.upstream_line(late.as_bytes()).is_empty());
}

#[test]
fn a_retried_call_has_no_deadline_and_its_old_one_expires_nothing() {
    let mut router = ready_with_stateless().with_input_timeout(Duration::from_secs(60));
    let call = stateless_call(&mut router, 1);
    let answer = to(&router.upstream_line(elicit("e1").as_bytes()), S).remove(0);
    let deadline = router
        .input_deadline()
        .expect("a parked call has a deadline");
    let (state, tag) = asked_of(&answer);
    let retry = stateless(
        2,
        "tools/call",
        json!({"name": "ask", "inputResponses": {tag: {"action": "decline"}}, "requestState": state}),
        json!({"elicitation": {}}),
    );
    let actions = router.window_line(S, &retry);
    assert_eq!(ups(&actions)[0]["id"], "e1");
    assert_eq!(router.input_deadline(), None, "the retry ended the wait");
    assert!(
        router.expire_input(deadline).is_empty(),
        "the call is in flight again, not parked: nothing expires"
    );
    // Parked again by the server's next request: a new deadline, and it expires the call.
    assert!(!to(&router.upstream_line(elicit("e2").as_bytes()), S).is_empty());
    let again = router.input_deadline().expect("parked again");
    assert!(again >= deadline);
    let actions = router.expire_input(again);
    assert!(actions.iter().any(|action| matches!(
        action,
        Action::Finished { key, error: Some(_), .. } if *key == call
    )));
}
