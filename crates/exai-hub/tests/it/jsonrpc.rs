//! Every request-shaped line a window sends gets exactly one answer, over `connect_memory`:
//! each line is followed by a `ping` whose answer marks the end of what the line caused.

use crate::support::{Conn, control, guard, hello, start};
use exai_proto::jsonrpc::{Message, RawId};
use exai_proto::{Frame, HubMsg, PROTOCOL_VERSION};
use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use serde_json::value::RawValue;

async fn open(hub: &exai_hub::HubHandle) -> Conn {
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(hello(PROTOCOL_VERSION, "jsonrpc"))
        .await
        .expect("hello");
    let HubMsg::Welcome { .. } = control(&mut conn).await else {
        panic!("no welcome")
    };
    conn
}

/// Sends `line`, then a ping; returns every line that came back before the ping's answer.
async fn answers(conn: &mut Conn, line: &[u8], sentinel: usize) -> Vec<Vec<u8>> {
    let ping = format!(r#"{{"jsonrpc":"2.0","id":"sentinel-{sentinel}","method":"ping"}}"#);
    for line in [line.to_vec(), ping.into_bytes()] {
        conn.send(Frame::Line(line.into())).await.expect("send");
    }
    let sentinel = format!(r#""sentinel-{sentinel}""#);
    let mut answers = Vec::new();
    loop {
        let Frame::Line(answer) = guard("this step", conn.next())
            .await
            .expect("a frame")
            .expect("decodes")
        else {
            continue;
        };
        if answer_id(&answer) == sentinel {
            return answers;
        }
        answers.push(answer.to_vec());
    }
}

/// The raw text of an answer's `id`, checking the envelope on the way.
fn answer_id(line: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Answer<'a> {
        jsonrpc: &'a str,
        #[serde(borrow)]
        id: &'a RawValue,
    }
    let answer: Answer<'_> = serde_json::from_slice(line).expect("a JSON-RPC answer");
    assert_eq!(answer.jsonrpc, "2.0");
    answer.id.get().to_owned()
}

#[tokio::test]
async fn every_request_shaped_line_gets_exactly_one_answer() {
    let (_daemon, _dir, hub) = start(None).await;
    let mut conn = open(&hub).await;
    let cases: [(&str, Option<&str>, i64); 9] = [
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            None,
            -32600,
        ),
        (r#"{"jsonrpc":"2.0","id":7}"#, Some("7"), -32600),
        (
            r#"{"jsonrpc":"2.0","id":"n","method":null}"#,
            Some(r#""n""#),
            -32600,
        ),
        (r#"{"jsonrpc":"2.0","method":null}"#, None, -32600),
        (
            r#"{"jsonrpc":"2.0","id":1.0,"method":5}"#,
            Some("1.0"),
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":"p","method":"ping","params":[1]}"#,
            Some(r#""p""#),
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
            None,
            -32600,
        ),
        (r#"{"jsonrpc":"2.0"}"#, None, -32600),
        (
            r#"{"jsonrpc":"2.0","id":9,"method":"ping""#,
            Some("9"),
            -32700,
        ),
    ];
    for (index, (line, id, code)) in cases.into_iter().enumerate() {
        let answers = answers(&mut conn, line.as_bytes(), index).await;
        assert_eq!(answers.len(), 1, "{line}: {answers:?}");
        assert_eq!(answer_id(&answers[0]), id.unwrap_or("null"), "{line}");
        let answer: Value = serde_json::from_slice(&answers[0]).unwrap();
        assert_eq!(answer["error"]["code"], code, "{line}");
    }
    // The editor's responses and notifications are never answered; params null is no params.
    for (index, line) in [
        r#"{"jsonrpc":"2.0","id":5,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":5,"error":{"code":-1,"message":"no"}}"#,
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"?"}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"x"}}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let answers = answers(&mut conn, line.as_bytes(), 100 + index).await;
        assert!(answers.is_empty(), "{line}: {answers:?}");
    }
    let answers = answers(
        &mut conn,
        br#"{"jsonrpc":"2.0","id":"q","method":"ping","params":null}"#,
        200,
    )
    .await;
    assert_eq!(
        answers,
        vec![br#"{"jsonrpc":"2.0","id":"q","result":{}}"#.to_vec()]
    );
    hub.shutdown();
}

/// Member values a window might send, valid and not.
fn member() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        Just("1.0".to_owned()),
        "[a-z/]{0,8}".prop_map(|text| serde_json::to_string(&text).unwrap()),
        Just(r#""ping""#.to_owned()),
        Just(r#""server/discover""#.to_owned()),
        Just(r#""notifications/initialized""#.to_owned()),
        Just("null".to_owned()),
        Just("false".to_owned()),
        Just("{}".to_owned()),
        Just(r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}"#.to_owned()),
        Just("[1]".to_owned()),
    ]
}

fn line() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("id"),
        Just("method"),
        Just("params"),
        Just("result"),
        Just("error"),
        Just("jsonrpc"),
    ];
    (
        prop::collection::vec((key, member()), 0..5),
        prop::sample::select(vec!["", "}", "[", " x"]),
    )
        .prop_map(|(members, tail)| {
            let mut seen = std::collections::HashSet::new();
            let body: Vec<String> = members
                .into_iter()
                .filter(|(key, _)| seen.insert(*key))
                .map(|(key, value)| format!(r#""{key}":{value}"#))
                .collect();
            // Now and then not JSON, or not an object.
            match tail {
                "" => format!("{{{}}}", body.join(",")),
                "[" => format!("[{{{}}}]", body.join(",")),
                tail => format!("{{{}{tail}", body.join(",")),
            }
        })
}

#[test]
fn random_lines_get_one_answer_each_with_their_id() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (daemon, dir, hub) = runtime.block_on(start(None));
    // `run` takes a `Fn`: the connection and the counter live in cells.
    let conn = std::cell::RefCell::new(runtime.block_on(open(&hub)));
    let sentinel = std::cell::Cell::new(0);
    let mut runner = TestRunner::new(Config::with_cases(96));
    runner
        .run(&line(), |line| {
            sentinel.set(sentinel.get() + 1);
            // The methods the generator names are all answered at once (no daemon round trip).
            let expected = match Message::parse(line.as_bytes()) {
                Message::Request(request) => Some(Some(request.id)),
                Message::Invalid(invalid) => Some(invalid.id),
                Message::Batch => Some(None),
                Message::Notification(_) | Message::Response(_) => None,
            };
            let mut conn = conn.borrow_mut();
            let answers = runtime.block_on(answers(&mut conn, line.as_bytes(), sentinel.get()));
            match expected {
                Some(id) => {
                    prop_assert_eq!(answers.len(), 1, "{} → {:?}", line, answers);
                    prop_assert_eq!(answer_id(&answers[0]), id.map_or("null", RawId::as_str));
                }
                None => prop_assert!(answers.is_empty(), "{} → {:?}", line, answers),
            }
            Ok(())
        })
        .expect("every line answered once");
    hub.shutdown();
    drop((daemon, dir));
}
