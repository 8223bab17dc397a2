//! Unit and property tests of the line reader and the over-long line's answer.

use super::*;
use exai_proto::jsonrpc::sniff_id;
use proptest::prelude::*;
use std::pin::Pin;
use std::task::{Context, Poll};

#[test]
fn the_answer_to_a_long_line_is_one_json_rpc_line() {
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
                assert_eq!(sniff_id(prefix).map(|id| id.as_str()), Some("3"));
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

/// A reader that hands out its input in the given pieces, one per read.
struct Pieces {
    pieces: std::collections::VecDeque<Vec<u8>>,
}

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(mut piece) = self.pieces.pop_front() {
            let take = piece.len().min(buf.remaining());
            buf.put_slice(&piece[..take]);
            if take < piece.len() {
                self.pieces.push_front(piece.split_off(take));
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Reads `input` cut at `cuts` to the end.
fn read_in_pieces(input: &[u8], cuts: &[prop::sample::Index], max_len: usize) -> Vec<Input> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect();
    points.sort_unstable();
    points.push(input.len());
    let mut from = 0;
    let mut pieces = std::collections::VecDeque::new();
    for to in points {
        if to > from {
            pieces.push_back(input[from..to].to_vec());
        }
        from = to;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut reader = LineReader::new(Pieces { pieces }, max_len);
        let mut inputs = Vec::new();
        while let Some(input) = reader.next().await.unwrap() {
            inputs.push(input);
        }
        inputs
    })
}

/// What the reader must make of `input`: `\n`-separated lines, one trailing `\r` dropped, a last
/// line without newline kept, lines over the limit reported with their length and start.
fn expected_lines(input: &[u8], max_len: usize) -> Vec<Input> {
    let mut lines: Vec<&[u8]> = input.split(|&byte| byte == b'\n').collect();
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .map(|line| {
            if line.len() > max_len {
                Input::TooLong {
                    len: line.len(),
                    prefix: Bytes::copy_from_slice(&line[..max_len.min(SNIFF_PREFIX_LEN)]),
                }
            } else {
                Input::Line(Bytes::copy_from_slice(line))
            }
        })
        .collect()
}

fn line_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"ab{}\":,".to_vec()),
        2 => Just(b'\n'),
        2 => Just(b'\r'),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_chunking_gives_the_same_lines(
        input in line_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..16),
        max_len in 1usize..48,
    ) {
        let expected = expected_lines(&input, max_len);
        prop_assert_eq!(read_in_pieces(&input, &[], max_len), expected_lines(&input, max_len));
        prop_assert_eq!(read_in_pieces(&input, &cuts, max_len), expected);
    }

    #[test]
    fn an_over_long_request_is_answered_with_its_id_or_null(
        id in prop_oneof![any::<i64>().prop_map(|n| n.to_string()), "[a-z]{0,6}".prop_map(|s| format!("\"{s}\""))],
        padding in 0usize..200,
        id_first in any::<bool>(),
        max_len in 1usize..120,
    ) {
        let data = "x".repeat(padding);
        let line = if id_first {
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"data":"{data}"}}}}"#)
        } else {
            format!(r#"{{"jsonrpc":"2.0","method":"tools/call","params":{{"data":"{data}"}},"id":{id}}}"#)
        };
        for input in read_in_pieces(format!("{line}\r\n").as_bytes(), &[], max_len) {
            let answer = match input {
                Input::Line(read) => {
                    prop_assert_eq!(&read[..], line.as_bytes());
                    continue;
                }
                Input::TooLong { len, prefix } => {
                    prop_assert_eq!(len, line.len());
                    too_large(sniff_id(&prefix), len, max_len)
                }
            };
            let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
            prop_assert_eq!(answer["error"]["code"].as_i64(), Some(-32600));
            let expected: serde_json::Value = serde_json::from_str(&id).unwrap();
            prop_assert!(answer["id"].is_null() || answer["id"] == expected, "{}", answer);
        }
    }
}
