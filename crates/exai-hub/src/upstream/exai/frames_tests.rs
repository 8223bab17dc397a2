//! Tests of `frames`: the byte-level relabelling under any split of the reads, and the messages
//! a client over `DaemonWs` sees next to a plain tungstenite client.

use super::*;
use futures_util::{SinkExt as _, StreamExt as _};
use proptest::prelude::*;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// One frame as the daemon could send it.
#[derive(Debug, Clone)]
struct TestFrame {
    opcode: u8,
    fin: bool,
    /// 0: the shortest length encoding, 1: 16-bit, 2: 64-bit (tungstenite takes any).
    length_form: u8,
    mask: Option<[u8; 4]>,
    payload: Vec<u8>,
}

impl TestFrame {
    fn bytes(&self) -> Vec<u8> {
        let mut out = vec![(u8::from(self.fin) << 7) | self.opcode];
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let len = self.payload.len();
        match self.length_form {
            0 if len < 126 => out.push(mask_bit | len as u8),
            0 | 1 if len < 65536 => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        if let Some(mask) = self.mask {
            out.extend_from_slice(&mask);
        }
        out.extend_from_slice(&self.payload);
        out
    }
}

fn test_frame() -> impl Strategy<Value = TestFrame> {
    (
        prop::sample::select(vec![0u8, 1, 2, 8, 9, 10, 3]),
        any::<bool>(),
        0u8..3,
        prop::option::of(any::<[u8; 4]>()),
        // Payloads full of bytes that look like headers, UTF-8 text (cut anywhere by the reads),
        // and one long enough for 16-bit lengths.
        prop_oneof![
            "(a|é|✓|😀|\r|\n){0,40}".prop_map(String::into_bytes),
            prop::collection::vec(
                prop::sample::select(vec![0u8, 1, 2, 0x81, 0x82, 126, 127, b'\r', b'\n']),
                0..40
            ),
            prop::collection::vec(any::<u8>(), 120..300),
        ],
    )
        .prop_map(|(opcode, fin, length_form, mask, payload)| TestFrame {
            opcode,
            fin,
            length_form,
            mask,
            payload,
        })
}

/// The relabelling as a rule over whole frames: what `feed` must do over their bytes.
fn expected(frames: &[TestFrame]) -> (Vec<u8>, Vec<Kind>) {
    let mut out = Vec::new();
    let mut kinds = Vec::new();
    let mut in_message = false;
    for frame in frames {
        let mut bytes = frame.bytes();
        match frame.opcode {
            1 if frame.fin && !in_message => {
                bytes[0] = (bytes[0] & 0xF0) | 2;
                let utf8_len = std::str::from_utf8(&frame.payload)
                    .is_ok()
                    .then_some(frame.payload.len() as u64);
                kinds.push(Kind::Text { utf8_len });
            }
            1 => in_message |= !frame.fin,
            2 => {
                if !in_message {
                    kinds.push(Kind::Binary);
                }
                in_message |= !frame.fin;
            }
            0 if frame.fin => in_message = false,
            _ => {}
        }
        out.extend_from_slice(&bytes);
    }
    (out, kinds)
}

const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Odd: a\r\n\r\r\nConnection: Upgrade\r\n\r\n";

/// Upgrade responses whose headers end as httparse (tungstenite's parser) ends them: `\r\n`
/// line endings, bare `\n` ones, and the two mixed; the frames begin right after each.
const RESPONSES: [&[u8]; 4] = [
    RESPONSE,
    b"HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\n",
    b"HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\r\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the upgrade response's line endings, the frames and however the reads split
    /// them, only the first byte of a single-frame text message changes, and the kinds come
    /// out in order.
    #[test]
    fn relabels_only_whole_text_messages(
        response in prop::sample::select(RESPONSES.to_vec()),
        frames in prop::collection::vec(test_frame(), 0..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let (body, kinds) = expected(&frames);
        let mut input = response.to_vec();
        input.extend_from_slice(&frames.iter().flat_map(TestFrame::bytes).collect::<Vec<_>>());
        let mut want = response.to_vec();
        want.extend_from_slice(&body);
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect();
        cuts.extend([0, input.len()]);
        cuts.sort_unstable();
        let mut reader = FrameReader::new();
        for pair in cuts.windows(2) {
            reader.feed(&mut input[pair[0]..pair[1]]);
        }
        prop_assert_eq!(input, want);
        prop_assert_eq!(reader.kinds.into_iter().collect::<Vec<_>>(), kinds);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Checked in pieces cut anywhere, text is UTF-8 exactly when it is as a whole.
    #[test]
    fn utf8_in_pieces_is_utf8_as_a_whole(
        bytes in prop_oneof![
            "(a|é|✓|😀){0,30}".prop_map(String::into_bytes),
            prop::collection::vec(
                prop::sample::select(vec![b'a', 0x80, 0xBF, 0xC2, 0xC0, 0xE0, 0xED, 0xA0, 0xF0, 0xF4, 0x90, 0xFF]),
                0..30,
            ),
        ],
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
        cuts.extend([0, bytes.len()]);
        cuts.sort_unstable();
        let mut check = Utf8Check::default();
        for pair in cuts.windows(2) {
            check.feed(&bytes[pair[0]..pair[1]]);
        }
        prop_assert_eq!(check.finish(), std::str::from_utf8(&bytes).is_ok(), "{:x?} cut at {:?}", bytes, cuts);
    }
}

#[test]
fn lengths_of_every_form_are_followed() {
    for (len, form) in [
        (0, 0),
        (125, 0),
        (126, 0),
        (65_535, 0),
        (65_536, 0),
        (3, 1),
        (3, 2),
    ] {
        let frames = [
            TestFrame {
                opcode: 1,
                fin: true,
                length_form: form,
                mask: None,
                payload: vec![0x81; len],
            },
            TestFrame {
                opcode: 1,
                fin: true,
                length_form: 0,
                mask: None,
                payload: b"after".to_vec(),
            },
        ];
        let mut input = RESPONSE.to_vec();
        input.extend(frames.iter().flat_map(TestFrame::bytes));
        let mut reader = FrameReader::new();
        reader.feed(&mut input);
        let utf8_len = |len: usize| Kind::Text {
            utf8_len: std::str::from_utf8(&vec![0x81; len])
                .is_ok()
                .then_some(len as u64),
        };
        let after = Kind::Text { utf8_len: Some(5) };
        assert_eq!(reader.kinds, [utf8_len(len), after], "length {len}");
        assert_eq!(input[RESPONSE.len()], 0x82);
        assert_eq!(input[input.len() - 7], 0x82, "the second frame is found");
    }
}

/// What a client reads from a server that sends `frames`, then closes: over `DaemonWs`, or
/// over tungstenite alone.
async fn read_all(frames: Vec<Frame>, relabel: bool) -> Vec<Result<Message, String>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(socket).await.unwrap();
        for frame in frames {
            if ws.send(Message::Frame(frame)).await.is_err() {
                return;
            }
        }
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    });
    let url = format!("ws://{addr}/");
    let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut seen = Vec::new();
    let describe = |item: tungstenite::Result<Message>| item.map_err(|err| err.to_string());
    if relabel {
        let (ws, _) = tokio_tungstenite::client_async(url, Relabel::new(socket))
            .await
            .unwrap();
        let mut ws = DaemonWs::new(ws);
        while let Some(item) = ws.next().await {
            let end = item.is_err() || matches!(item, Ok(Message::Close(_)));
            seen.push(describe(item));
            if end {
                break;
            }
        }
    } else {
        let (mut ws, _) = tokio_tungstenite::client_async(url, socket).await.unwrap();
        while let Some(item) = ws.next().await {
            let end = item.is_err() || matches!(item, Ok(Message::Close(_)));
            seen.push(describe(item));
            if end {
                break;
            }
        }
    }
    server.abort();
    seen
}

fn data(opcode: Data, fin: bool, payload: &[u8]) -> Frame {
    Frame::message(payload.to_vec(), OpCode::Data(opcode), fin)
}

/// The client sees the same messages, and the same errors, as tungstenite alone gives.
#[tokio::test]
async fn the_same_messages_as_tungstenite_alone() {
    let big = "héllo wörld ✓ 日本 ".repeat(10_000);
    let cases: Vec<Vec<Frame>> = vec![
        vec![
            data(Data::Text, true, b"{\"op\":\"pong\"}"),
            data(Data::Binary, true, b"\x00\xffbinary"),
            Frame::ping(b"hi".to_vec()),
            data(Data::Text, true, big.as_bytes()),
            data(Data::Text, false, "frag".as_bytes()),
            Frame::ping(b"between".to_vec()),
            data(Data::Continue, false, "men".as_bytes()),
            data(Data::Continue, true, "ted ✓".as_bytes()),
            data(Data::Binary, false, b"bin"),
            data(Data::Continue, true, b"ary"),
            data(Data::Text, true, b""),
        ],
        // Not UTF-8 in a whole message, and in a fragmented one.
        vec![
            data(Data::Text, true, b"ok"),
            data(Data::Text, true, b"caf\xe9!"),
        ],
        vec![
            data(Data::Text, false, b"caf\xc3"),
            data(Data::Continue, true, b"\xa9\xff"),
        ],
        // A text frame where a continuation was due.
        vec![
            data(Data::Binary, false, b"a"),
            data(Data::Text, true, b"b"),
        ],
        vec![data(Data::Text, false, b"a"), data(Data::Text, true, b"b")],
        vec![data(Data::Continue, true, b"a")],
    ];
    for frames in cases {
        let relabelled = read_all(frames.clone(), true).await;
        let plain = read_all(frames.clone(), false).await;
        assert_eq!(relabelled, plain, "frames {frames:?}");
        assert!(!plain.is_empty());
    }
}
