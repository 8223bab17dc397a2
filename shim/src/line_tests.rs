//! Unit tests for the line reader, the id sniffer and the error builders.

use super::*;

fn sniff(text: &str) -> Option<&str> {
    sniff_id(text.as_bytes()).map(|raw| std::str::from_utf8(raw).unwrap())
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
    assert_eq!(sniff("[1,2]"), None);
    assert_eq!(sniff("not json"), None);
    assert_eq!(sniff(""), None);
}

#[test]
fn error_lines_are_valid_json_rpc() {
    let line = error_line(Some(b"\"x\""), PARSE_ERROR, "bad \"quote\"\nnewline");
    let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"jsonrpc":"2.0","id":"x","error":{"code":-32700,"message":"bad \"quote\"\nnewline"}})
    );
    assert!(!line.contains(&b'\n'));

    let line = too_large(None, 20, 10);
    assert_eq!(
        &line[..],
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"request too large: 20 bytes exceeds the limit of 10 bytes (EXAI_MAX_LINE_BYTES)"}}"#
    );
}

async fn read_all(input: &[u8], max_len: usize) -> Vec<Input> {
    let mut reader = LineReader::new(input, max_len);
    let mut inputs = Vec::new();
    while let Some(input) = reader.next().await.unwrap() {
        inputs.push(input);
    }
    inputs
}

fn line(text: &str) -> Input {
    Input::Line(Bytes::copy_from_slice(text.as_bytes()))
}

#[tokio::test]
async fn reader_splits_lines_strips_cr_and_keeps_last_line() {
    let inputs = read_all(b"a\r\n\nbc\nlast\r", 10).await;
    assert_eq!(inputs, vec![line("a"), line(""), line("bc"), line("last")]);
}

#[tokio::test]
async fn reader_reports_long_lines_and_continues() {
    let long = format!("{{\"id\":3,\"x\":\"{}\"}}", "y".repeat(200_000));
    let input = format!("{long}\r\nok\n{long}");
    let inputs = read_all(input.as_bytes(), 100).await;
    assert_eq!(inputs.len(), 3);
    for (index, input) in [&inputs[0], &inputs[2]].into_iter().enumerate() {
        match input {
            Input::TooLong { len, prefix } => {
                assert_eq!(*len, long.len(), "input {index}");
                assert_eq!(prefix.len(), 100);
                assert_eq!(sniff_id(prefix), Some(&b"3"[..]));
            }
            other => panic!("expected TooLong, got {other:?}"),
        }
    }
    assert_eq!(inputs[1], line("ok"));
}

#[tokio::test]
async fn reader_limit_excludes_the_line_ending() {
    let inputs = read_all(b"12345\r\n123456\n", 5).await;
    assert_eq!(inputs[0], line("12345"));
    assert!(matches!(inputs[1], Input::TooLong { len: 6, .. }));
}
