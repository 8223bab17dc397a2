//! Pure tests of the shim ↔ hub wire: golden bytes, round trips, truncation, unknown input.

mod codec_props;

use bytes::BytesMut;
use exai_proto::{
    ClientMsg, DecodeError, Frame, FrameCodec, Hello, HubMsg, PROTOCOL_VERSION, Resume, Role,
    SessionId,
};
use tokio_util::codec::{Decoder, Encoder};

fn encode(frame: Frame) -> BytesMut {
    let mut buf = BytesMut::new();
    FrameCodec::default().encode(frame, &mut buf).unwrap();
    buf
}

#[test]
fn line_frame_golden_bytes() {
    let buf = encode(Frame::Line(bytes::Bytes::from_static(b"{}")));
    assert_eq!(&buf[..], b"\x00\x00\x00\x03\x01{}");
    let buf = encode(Frame::Line(bytes::Bytes::new()));
    assert_eq!(&buf[..], b"\x00\x00\x00\x01\x01");
}

#[test]
fn hello_golden_json() {
    let hello = ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        role: Role::Shim,
        pid: 42,
        parent_pid: Some(7),
        cwd: None,
        name: Some("left".into()),
        resume: None,
        server: None,
    });
    let Frame::Control(json) = Frame::control(&hello) else {
        panic!("not a control frame")
    };
    assert_eq!(
        std::str::from_utf8(&json).unwrap(),
        r#"{"type":"hello","protocol_version":1,"role":"shim","pid":42,"parent_pid":7,"name":"left"}"#
    );
    let buf = encode(Frame::Control(json.clone()));
    assert_eq!(buf[4], 0, "control frames have kind 0");
    assert_eq!(&buf[5..], &json[..]);
}

#[test]
fn round_trips_several_frames_in_one_buffer() {
    let mut buf = BytesMut::new();
    let mut codec = FrameCodec::default();
    let frames = vec![
        Frame::control(&ClientMsg::Goodbye {
            reason: Some("stdin closed".into()),
        }),
        Frame::Line(bytes::Bytes::from("{\"id\":1,\"text\":\"héllo ✓\"}")),
        Frame::Line(bytes::Bytes::from(vec![b'x'; 100_000])),
    ];
    for frame in frames.clone() {
        codec.encode(frame, &mut buf).unwrap();
    }
    let mut decoded = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).unwrap() {
        decoded.push(frame);
    }
    assert_eq!(decoded, frames);
    assert!(buf.is_empty());
}

#[test]
fn truncated_frame_waits_for_more_bytes() {
    let full = encode(Frame::Line(bytes::Bytes::from_static(b"hello")));
    let mut codec = FrameCodec::default();
    for cut in 0..full.len() {
        let mut partial = BytesMut::from(&full[..cut]);
        assert_eq!(codec.decode(&mut partial).unwrap(), None, "cut at {cut}");
    }
    let mut rest = full.clone();
    assert_eq!(
        codec.decode(&mut rest).unwrap(),
        Some(Frame::Line(bytes::Bytes::from_static(b"hello")))
    );
}

#[test]
fn oversized_and_empty_frames_are_errors() {
    let mut codec = FrameCodec::new(8);
    let mut buf = BytesMut::from(&b"\x00\x00\x01\x00\x01"[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(DecodeError::TooLong { len: 256, max: 8 })
    ));
    let mut buf = BytesMut::from(&b"\x00\x00\x00\x00"[..]);
    assert!(matches!(codec.decode(&mut buf), Err(DecodeError::Empty)));
    let mut out = BytesMut::new();
    assert!(
        codec
            .encode(Frame::Line(bytes::Bytes::from(vec![0; 9])), &mut out)
            .is_err()
    );
}

#[test]
fn unknown_frame_kind_is_tolerated() {
    let mut buf = BytesMut::from(&b"\x00\x00\x00\x03\x09ab\x00\x00\x00\x02\x01x"[..]);
    let mut codec = FrameCodec::default();
    assert_eq!(
        codec.decode(&mut buf).unwrap(),
        Some(Frame::Unknown { kind: 9 })
    );
    assert_eq!(
        codec.decode(&mut buf).unwrap(),
        Some(Frame::Line(bytes::Bytes::from_static(b"x")))
    );
}

#[test]
fn unknown_control_messages_are_tolerated() {
    let msg: ClientMsg = Frame::decode_control(br#"{"type":"from_the_future","x":1}"#).unwrap();
    assert_eq!(msg, ClientMsg::Unknown);
    let msg: HubMsg = Frame::decode_control(br#"{"type":"hub_news"}"#).unwrap();
    assert!(matches!(msg, HubMsg::Unknown));
    assert!(Frame::decode_control::<ClientMsg>(b"not json").is_err());
}

#[test]
fn resume_round_trips_with_the_initialize_line() {
    let hello = ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        role: Role::Shim,
        pid: 1,
        parent_pid: None,
        cwd: Some("/home/me/project".into()),
        name: None,
        resume: Some(Resume {
            session_id: SessionId(0xdead_beef),
            initialize: Some(r#"{"jsonrpc":"2.0","id":0,"method":"initialize"}"#.into()),
            secret: Some("5ec2e7".into()),
        }),
        server: None,
    });
    let Frame::Control(json) = Frame::control(&hello) else {
        panic!("not a control frame")
    };
    assert!(
        std::str::from_utf8(&json)
            .unwrap()
            .contains(r#""session_id":"00000000deadbeef""#)
    );
    assert_eq!(Frame::decode_control::<ClientMsg>(&json).unwrap(), hello);
}

#[test]
fn session_ids_are_hex_strings() {
    assert_eq!(SessionId(255).to_string(), "00000000000000ff");
    assert_eq!("ff".parse::<SessionId>().unwrap(), SessionId(255));
    assert!("xyz".parse::<SessionId>().is_err());
    assert!("00000000000000000".parse::<SessionId>().is_err());
    let json = serde_json::to_string(&SessionId(u64::MAX)).unwrap();
    assert_eq!(json, r#""ffffffffffffffff""#);
}

#[test]
fn focus_golden_json() {
    let Frame::Control(json) = Frame::control(&ClientMsg::Focus {
        session: Some(SessionId(0xab)),
    }) else {
        panic!("not a control frame")
    };
    assert_eq!(
        std::str::from_utf8(&json).unwrap(),
        r#"{"type":"focus","session":"00000000000000ab"}"#
    );
    let bare: ClientMsg = Frame::decode_control(br#"{"type":"focus"}"#).unwrap();
    assert_eq!(bare, ClientMsg::Focus { session: None });
    let answer: HubMsg = Frame::decode_control(br#"{"type":"focused"}"#).unwrap();
    assert!(matches!(answer, HubMsg::Focused));
}
