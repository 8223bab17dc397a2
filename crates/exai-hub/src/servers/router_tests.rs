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
