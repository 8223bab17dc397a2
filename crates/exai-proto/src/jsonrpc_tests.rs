//! Unit and property tests of the message view, the id sniffer and the answer writers.

use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn sniff(text: &str) -> Option<&str> {
    sniff_id(text.as_bytes()).map(RawId::as_str)
}

fn parse_json(line: &[u8]) -> Value {
    serde_json::from_slice(line).expect("every line built here is JSON")
}

/// The answer a message gets: the invalid line's error, or for a request a stand-in error built
/// from its id.
fn answer(line: &[u8]) -> Option<Bytes> {
    match Message::parse(line) {
        Message::Invalid(invalid) => Some(invalid.error_line()),
        Message::Request(request) => {
            Some(error_line(Some(request.id), ErrorCode::MethodNotFound, "x"))
        }
        _ => None,
    }
}

#[test]
fn error_codes_have_their_numbers() {
    let all = [
        (ErrorCode::ParseError, -32700),
        (ErrorCode::InvalidRequest, -32600),
        (ErrorCode::MethodNotFound, -32601),
        (ErrorCode::InvalidParams, -32602),
        (ErrorCode::Internal, -32603),
        (ErrorCode::Unavailable, -32001),
        (ErrorCode::Unauthorized, -32002),
        (ErrorCode::Timeout, -32003),
        (ErrorCode::OverCapacity, -32004),
        (ErrorCode::ConnectionLost, -32005),
        (ErrorCode::UnsupportedProtocolVersion, -32022),
        (ErrorCode::Other(-1), -1),
    ];
    for (code, number) in all {
        assert_eq!(code.code(), number);
        assert_eq!(ErrorCode::from_code(number), code);
        assert_eq!(i64::from(code), number);
    }
}

#[test]
fn ids_are_strings_or_numbers_kept_verbatim() {
    for text in ["7", "-1.5e3", "1.0", r#""a\u0062""#, r#""""#] {
        assert_eq!(RawId::new(text).map(RawId::as_str), Ok(text));
    }
    assert_eq!(RawId::new("null"), Err(IdError::Null));
    assert_eq!(RawId::new("true"), Err(IdError::Bool));
    assert_eq!(RawId::new("{}"), Err(IdError::Object));
    assert_eq!(RawId::new("[1]"), Err(IdError::Array));
    assert_eq!(RawId::new("1-2"), Err(IdError::NotJson));
    assert_eq!(RawId::new("1 "), Err(IdError::NotJson));
    assert_eq!(RawId::new(r#""open"#), Err(IdError::NotJson));
    assert_ne!(RawId::new("1"), RawId::new("1.0"));
    let id = RawId::new(r#""x""#).unwrap().to_id();
    let set: std::collections::HashSet<Id> = [id.clone()].into();
    assert!(set.contains(r#""x""#), "an Id is looked up by its text");
    assert_eq!(id.to_string(), r#""x""#);
}

#[test]
fn classifies_requests_notifications_and_responses() {
    let line = br#"{"jsonrpc":"2.0","id":"a\u0062","method":"initialize","params":{"x":1}}"#;
    let Message::Request(request) = Message::parse(line) else {
        panic!("a request")
    };
    assert_eq!(request.id.as_str(), r#""a\u0062""#);
    assert_eq!(request.method, "initialize");
    assert!(matches!(request.method, Cow::Borrowed(_)), "no copy");
    assert_eq!(request.params.map(RawValue::get), Some(r#"{"x":1}"#));

    let line = br#"{"id":1,"method":"p\u0069ng","params":null}"#;
    let Message::Request(request) = Message::parse(line) else {
        panic!("a request")
    };
    assert_eq!(request.method, "ping", "escapes are decoded");
    assert!(request.params.is_none(), "null params are no params");

    let line = br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4}}"#;
    let Message::Notification(notification) = Message::parse(line) else {
        panic!("a notification")
    };
    assert_eq!(notification.cancelled_id().map(RawId::as_str), Some("4"));
    let Message::Notification(notification) =
        Message::parse(br#"{"method":"notifications/initialized"}"#)
    else {
        panic!("a notification")
    };
    assert_eq!(notification.cancelled_id(), None);

    let Message::Response(response) = Message::parse(br#"{"id":"x","result":{}}"#) else {
        panic!("a response")
    };
    assert_eq!(response.id.map(RawId::as_str), Some(r#""x""#));
    let Message::Response(response) =
        Message::parse(br#"{"id":null,"error":{"code":1,"message":"m"}}"#)
    else {
        panic!("a response")
    };
    assert_eq!(response.id, None);
    assert!(matches!(Message::parse(b" [1]"), Message::Batch));
}

#[test]
fn invalid_lines_say_why_with_their_id() {
    let cases: [(&[u8], Option<&str>, i64, &str); 12] = [
        (
            br#"{"id":9,"method":"x""#,
            Some("9"),
            -32700,
            "parse error: EOF while parsing an object at line 1 column 20",
        ),
        (
            b"not json",
            None,
            -32700,
            "parse error: expected ident at line 1 column 2",
        ),
        (
            b"",
            None,
            -32700,
            "parse error: EOF while parsing a value at line 1 column 0",
        ),
        (
            b"42",
            None,
            -32600,
            "invalid request: not a JSON-RPC message object",
        ),
        (
            b"{}",
            None,
            -32600,
            "invalid request: a JSON-RPC message needs a method or an id",
        ),
        (
            br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            None,
            -32600,
            "invalid request: the id must be a string or a number, not null",
        ),
        (
            br#"{"id":{"a":1},"method":"ping"}"#,
            None,
            -32600,
            "invalid request: the id must be a string or a number, not an object",
        ),
        (
            br#"{"id":7}"#,
            Some("7"),
            -32600,
            "invalid request: a message with an id needs a method (or, as a response, a result or an error)",
        ),
        (
            br#"{"id":"m","method":null}"#,
            Some(r#""m""#),
            -32600,
            "invalid request: the method must be a string",
        ),
        (
            br#"{"method":5}"#,
            None,
            -32600,
            "invalid request: the method must be a string",
        ),
        (
            br#"{"id":1.0,"method":"tools/call","params":[1]}"#,
            Some("1.0"),
            -32600,
            "invalid request: the params of a request must be an object",
        ),
        (
            br#"{"id":3,"id":4,"method":"x"}"#,
            Some("3"),
            -32600,
            "invalid request: duplicate field `id` at line 1 column 12",
        ),
    ];
    for (line, id, code, message) in cases {
        let text = String::from_utf8_lossy(line);
        let Message::Invalid(invalid) = Message::parse(line) else {
            panic!("{text} is invalid")
        };
        assert_eq!(invalid.id.map(RawId::as_str), id, "{text}");
        let answer = parse_json(&invalid.error_line());
        assert_eq!(answer["error"]["code"], code, "{text}");
        assert_eq!(answer["error"]["message"], message, "{text}");
        let expected_id = id.map_or(Value::Null, |id| serde_json::from_str(id).unwrap());
        assert_eq!(answer["id"], expected_id, "{text}");
    }
}

#[test]
fn batches_are_parsed_item_by_item() {
    let items =
        parse_batch(br#"[{"id":1,"method":"a"},{"method":"n"},{"id":null,"method":"c"}]"#).unwrap();
    assert!(matches!(items[0], Message::Request(_)));
    assert!(matches!(items[1], Message::Notification(_)));
    assert!(matches!(items[2], Message::Invalid(_)));
    assert_eq!(
        parse_batch(b"[1,").unwrap_err().reason.code(),
        ErrorCode::ParseError
    );
}

#[test]
fn answers_are_built_around_the_raw_id() {
    for id in [r#""a:1""#, "7", "1.0", "-0", r#""日本""#] {
        let raw = RawId::new(id).unwrap();
        let line = result_line(raw, "{}");
        let expected = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#);
        assert_eq!(&line[..], expected.as_bytes());
        let line = error_line(Some(raw), ErrorCode::MethodNotFound, "no \"x\"\nhere");
        let expected = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"no \"x\"\nhere"}}}}"#
        );
        assert_eq!(&line[..], expected.as_bytes());
    }
    let line = error_line_with_data(
        None,
        ErrorCode::UnsupportedProtocolVersion,
        "m",
        &json!({"requested": "x"}),
    );
    assert_eq!(
        &line[..],
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"m","data":{"requested":"x"}}}"#
    );
}

#[test]
fn sniffs_top_level_ids_of_both_types() {
    assert_eq!(sniff(r#"{"jsonrpc":"2.0","id":7,"method":"x"}"#), Some("7"));
    assert_eq!(
        sniff(r#" { "id" : "a\"b" , "method":"x"}"#),
        Some(r#""a\"b""#)
    );
    assert_eq!(sniff(r#"{"id":-1.5e3}"#), Some("-1.5e3"));
    assert_eq!(
        sniff(r#"{"method":"x","params":{"a":[1,{"b":"}"}]},"id":"z"}"#),
        Some(r#""z""#)
    );
}

#[test]
fn ignores_nested_null_and_truncated_ids() {
    assert_eq!(sniff(r#"{"method":"x","params":{"id":5},"#), None);
    assert_eq!(sniff(r#"{"params":["id",5],"id":null}"#), None);
    assert_eq!(sniff(r#"{"id":12"#), None, "a number cut by the prefix end");
    assert_eq!(
        sniff(r#"{"id":"abc"#),
        None,
        "a string cut by the prefix end"
    );
    assert_eq!(sniff(r#"{"id":true}"#), None);
    assert_eq!(sniff(r#"{"id":{"x":1}}"#), None);
    assert_eq!(sniff(r#"{"id":1-2}"#), None, "not a valid number");
    assert_eq!(sniff(r#"{"a":]],"id":1}"#), None, "unbalanced");
    assert_eq!(sniff("[1,2]"), None);
    assert_eq!(sniff("not json"), None);
    assert_eq!(sniff(""), None);
}

// Property tests: a bounded number of cases, so they run with every `cargo test`.

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![Just("id"), Just("method"), Just("params")].prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("id".to_owned()),
                        Just("method".to_owned()),
                        Just("result".to_owned()),
                        "[a-z]{1,4}"
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// The JSON text of a member value as a writer might spell it: ids of every kind (valid ones in
/// several spellings), methods, params.
fn member_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u32>().prop_map(|n| format!("{n}.0")),
        Just("-0".to_owned()),
        Just("1e3".to_owned()),
        ".{0,8}".prop_map(|text| serde_json::to_string(&text).unwrap()),
        Just(r#""\u0061""#.to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just(r#""ping""#.to_owned()),
        json_value().prop_map(|value| value.to_string()),
    ]
}

/// An object line from optional members in any order, with any spacing.
fn message_line() -> impl Strategy<Value = (String, Vec<(&'static str, String)>)> {
    let key = prop_oneof![
        Just("jsonrpc"),
        Just("id"),
        Just("method"),
        Just("params"),
        Just("result"),
        Just("error"),
        Just("other"),
    ];
    (
        prop::collection::vec((key, member_text()), 0..6),
        prop_oneof![Just(""), Just(" "), Just("\t")],
    )
        .prop_map(|(members, space)| {
            let mut seen = std::collections::HashSet::new();
            let members: Vec<_> = members
                .into_iter()
                .filter(|(key, _)| seen.insert(*key))
                .collect();
            let body: Vec<String> = members
                .iter()
                .map(|(key, value)| format!("{space}\"{key}\"{space}:{space}{value}"))
                .collect();
            (format!("{{{}}}", body.join(",")), members)
        })
}

/// What the view should make of an object with these members.
#[derive(Debug, PartialEq)]
enum Expected {
    Request,
    Notification,
    Response,
    Invalid(Option<String>),
}

fn expected(members: &[(&str, String)]) -> Expected {
    let get = |name: &str| {
        members
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    };
    let valid_id = get("id")
        .filter(|id| RawId::new(id).is_ok())
        .map(str::to_owned);
    let Some(method) = get("method") else {
        if get("result").is_some() || get("error").is_some() {
            return Expected::Response;
        }
        return Expected::Invalid(valid_id);
    };
    if !method.starts_with('"') {
        return Expected::Invalid(valid_id);
    }
    match get("id") {
        None => Expected::Notification,
        Some(_) if valid_id.is_none() => Expected::Invalid(None),
        Some(_) => match get("params") {
            Some(params) if params != "null" && !params.starts_with('{') => {
                Expected::Invalid(valid_id)
            }
            _ => Expected::Request,
        },
    }
}

/// The `id` member of an answer line, as raw text.
fn answer_id(line: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Answer<'a> {
        jsonrpc: &'a str,
        #[serde(borrow)]
        id: &'a RawValue,
    }
    let answer: Answer<'_> = serde_json::from_slice(line).expect("an answer line");
    assert_eq!(answer.jsonrpc, "2.0");
    answer.id.get().to_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let message = Message::parse(&bytes);
        if let Message::Invalid(invalid) = &message {
            parse_json(&invalid.error_line());
        }
        let _ = parse_batch(&bytes);
    }

    #[test]
    fn every_request_shaped_value_gets_one_answer_or_is_a_response(value in json_value()) {
        let line = value.to_string();
        let request_shaped = value.get("method").is_some() || value.get("id").is_some();
        let response = value.get("method").is_none()
            && (value.get("result").is_some() || value.get("error").is_some());
        match Message::parse(line.as_bytes()) {
            Message::Request(_) | Message::Invalid(_) => {
                let answer = answer(line.as_bytes()).unwrap();
                // Compared as text: serde_json reads some floats back a bit off.
                let id = answer_id(&answer);
                let sent = value.get("id").map(Value::to_string);
                prop_assert!(id == "null" || Some(&id) == sent.as_ref(), "{} → {:?}", line, answer);
                let answer = parse_json(&answer);
                prop_assert!(answer["error"]["code"].is_i64());
                prop_assert!(answer["error"]["message"].is_string());
            }
            Message::Notification(_) => prop_assert!(value.get("id").is_none() && value.get("method").is_some_and(Value::is_string)),
            Message::Response(_) => prop_assert!(response),
            Message::Batch => prop_assert!(value.is_array()),
        }
        if request_shaped && !response {
            prop_assert!(!matches!(Message::parse(line.as_bytes()), Message::Response(_)));
        }
    }

    #[test]
    fn members_in_any_form_are_classified_and_answered_with_their_raw_id(
        (line, members) in message_line()
    ) {
        let message = Message::parse(line.as_bytes());
        let kind = match &message {
            Message::Request(request) => {
                let id = request.id;
                let text = members.iter().find(|(key, _)| *key == "id").map(|(_, v)| v.as_str());
                prop_assert_eq!(Some(id.as_str()), text);
                for answer in [result_line(id, "{}"), error_line(Some(id), ErrorCode::Internal, "m")] {
                    prop_assert_eq!(answer_id(&answer), id.as_str());
                    let value = parse_json(&answer);
                    if let Ok(expected) = serde_json::from_str::<Value>(id.as_str()) {
                        prop_assert_eq!(&value["id"], &expected);
                    }
                }
                Expected::Request
            }
            Message::Notification(_) => Expected::Notification,
            Message::Response(_) => Expected::Response,
            Message::Invalid(invalid) => {
                let answer = invalid.error_line();
                prop_assert_eq!(answer_id(&answer), invalid.id.map_or("null", RawId::as_str));
                prop_assert_eq!(parse_json(&answer)["error"]["code"].as_i64(), Some(-32600));
                Expected::Invalid(invalid.id.map(|id| id.as_str().to_owned()))
            }
            Message::Batch => panic!("an object is not a batch"),
        };
        prop_assert_eq!(kind, expected(&members), "{}", line);
    }

    #[test]
    fn sniffed_ids_of_any_prefix_are_the_real_id_or_none(
        (line, members) in message_line(),
        cut in any::<prop::sample::Index>(),
    ) {
        let id = members
            .iter()
            .find(|(key, _)| *key == "id")
            .map(|(_, value)| value.as_str())
            .filter(|id| RawId::new(id).is_ok());
        let bytes = line.as_bytes();
        let prefix = &bytes[..cut.index(bytes.len() + 1)];
        if let Some(sniffed) = sniff_id(prefix) {
            prop_assert_eq!(Some(sniffed.as_str()), id, "{:?}", String::from_utf8_lossy(prefix));
        }
        prop_assert_eq!(sniff_id(bytes).map(RawId::as_str), id);
    }

    #[test]
    fn a_sniffed_response_id_is_the_parsed_one((line, members) in message_line()) {
        // The shim's fast path for the hub's answers must agree with the full parse, except on
        // a line that has `method` after `result` or `error` (invalid, and never the hub's):
        // the scan stops at the answer.
        let has = |name: &str| members.iter().any(|(key, _)| *key == name);
        prop_assume!(!(has("method") && (has("result") || has("error"))));
        let parsed = match Message::parse(line.as_bytes()) {
            Message::Response(response) => response.id.map(|id| id.as_str().to_owned()),
            _ => None,
        };
        let sniffed = sniff_response_id(line.as_bytes()).map(|id| id.as_str().to_owned());
        prop_assert_eq!(sniffed, parsed, "{}", line);
    }

    #[test]
    fn sniff_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Some(id) = sniff_id(&bytes) {
            prop_assert!(RawId::new(id.as_str()).is_ok());
        }
    }

    #[test]
    fn any_string_or_integer_id_round_trips(text in ".{0,16}", number in any::<i64>()) {
        for id in [serde_json::to_string(&text).unwrap(), number.to_string()] {
            let raw = RawId::new(&id).unwrap();
            let expected: Value = serde_json::from_str(&id).unwrap();
            for line in [result_line(raw, "null"), error_line(Some(raw), ErrorCode::Other(number), &text)] {
                let value = parse_json(&line);
                prop_assert_eq!(&value["id"], &expected);
                prop_assert_eq!(answer_id(&line), id.clone());
            }
            let error = parse_json(&error_line(Some(raw), ErrorCode::Other(number), &text));
            prop_assert_eq!(&error["error"]["message"], &Value::String(text.clone()));
            prop_assert_eq!(error["error"]["code"].as_i64(), Some(number));
        }
    }
}
