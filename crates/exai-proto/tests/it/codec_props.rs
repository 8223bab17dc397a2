//! Property tests of the frame codec: round trips under any chunking, no panic on any bytes,
//! oversized prefixes refused before anything is allocated for them.

use bytes::{Bytes, BytesMut};
use exai_proto::{DecodeError, Frame, FrameCodec};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

fn frame() -> impl Strategy<Value = Frame> {
    let payload = || prop::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from);
    prop_oneof![
        payload().prop_map(Frame::Control),
        payload().prop_map(Frame::Line),
        (2u8..=255).prop_map(|kind| Frame::Unknown { kind }),
    ]
}

/// Feeds `stream` to a decoder in pieces cut at `cuts`, collecting frames until the end or the
/// first error.
fn decode_in_pieces(
    codec: &mut FrameCodec,
    stream: &[u8],
    cuts: &[prop::sample::Index],
) -> (Vec<Frame>, Option<String>) {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect();
    points.push(stream.len());
    points.sort_unstable();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut from = 0;
    for to in points {
        buf.extend_from_slice(&stream[from..to]);
        from = to;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => return (frames, Some(error.to_string())),
            }
        }
    }
    (frames, None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A large line written as header then payload (the hub's direct write) is byte for byte
    /// what the encoder writes, and over the limit it is refused the same way.
    #[test]
    fn line_header_then_payload_is_the_encoded_frame(
        payload in prop::collection::vec(any::<u8>(), 0..600),
        max in 1usize..700,
    ) {
        let mut codec = FrameCodec::new(max);
        let mut encoded = BytesMut::new();
        let encoding = codec.encode(Frame::Line(Bytes::from(payload.clone())), &mut encoded);
        match codec.line_header(payload.len()) {
            Ok(header) => {
                prop_assert!(encoding.is_ok());
                let mut direct = header.to_vec();
                direct.extend_from_slice(&payload);
                prop_assert_eq!(&direct[..], &encoded[..]);
            }
            Err(error) => {
                let too_long = matches!(error, DecodeError::TooLong { .. });
                prop_assert!(too_long);
                prop_assert!(encoding.is_err());
            }
        }
    }

    #[test]
    fn frames_round_trip_under_any_chunking(
        frames in prop::collection::vec(frame(), 0..8),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut codec = FrameCodec::new(4096);
        let mut stream = BytesMut::new();
        for frame in frames.clone() {
            codec.encode(frame, &mut stream).unwrap();
        }
        let (decoded, error) = decode_in_pieces(&mut codec, &stream, &cuts);
        prop_assert_eq!(error, None);
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn any_bytes_in_any_pieces_decode_the_same_or_fail_cleanly(
        stream in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        max in 1usize..300,
    ) {
        // Small prefixes now and then, so that some frames complete.
        let mut stream = stream;
        if stream.len() >= 4 && stream[0] % 2 == 0 {
            stream[..3].fill(0);
        }
        let whole = decode_in_pieces(&mut FrameCodec::new(max), &stream, &[]);
        let pieces = decode_in_pieces(&mut FrameCodec::new(max), &stream, &cuts);
        prop_assert_eq!(whole, pieces);
    }

    #[test]
    fn an_oversized_prefix_is_refused_without_allocating(
        max in 1usize..1 << 20,
        len in any::<u32>(),
        tail in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let len = (len as usize).max(max + 1);
        prop_assume!(len <= u32::MAX as usize);
        let mut buf = BytesMut::from(&(len as u32).to_be_bytes()[..]);
        buf.extend_from_slice(&tail);
        let capacity = buf.capacity();
        let result = FrameCodec::new(max).decode(&mut buf);
        let refused = matches!(result, Err(DecodeError::TooLong { len: got, max: limit }) if got == len && limit == max);
        prop_assert!(refused);
        prop_assert_eq!(buf.capacity(), capacity, "nothing reserved for the announced length");

        let mut out = BytesMut::new();
        let too_big = Frame::Line(Bytes::from(vec![0u8; max.min(1 << 12)]));
        let limit = max.min(1 << 12);
        prop_assert!(FrameCodec::new(limit).encode(too_big, &mut out).is_err());
        prop_assert!(out.is_empty(), "a refused frame writes nothing");
    }
}
