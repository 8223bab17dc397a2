//! Length-prefixed frames.
//!
//! Layout: `[len: u32 big-endian][kind: u8][payload: len - 1 bytes]`.
//! `len` counts the kind byte and the payload, so an empty line is `00 00 00 01 01`.
//! Kind `0` is a JSON control message, kind `1` is one MCP line relayed verbatim.
//! Length prefixes instead of newlines because payloads are arbitrary bytes: a relay never has to
//! scan or escape what it forwards.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder};

const KIND_CONTROL: u8 = 0;
const KIND_LINE: u8 = 1;
const HEADER_LEN: usize = 4;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A JSON-encoded [`crate::ClientMsg`] or [`crate::HubMsg`]; decode with [`Frame::decode_control`].
    Control(Bytes),
    /// One MCP JSON-RPC message, without its trailing newline.
    Line(Bytes),
    /// A frame kind this version does not know; its payload was skipped.
    Unknown {
        /// The unknown kind byte.
        kind: u8,
    },
}

impl Frame {
    /// Encodes a control message into a frame.
    pub fn control<T: Serialize>(msg: &T) -> Frame {
        // Serializing our own enums to a Vec cannot fail: they hold only strings, numbers and maps
        // with string keys.
        let json = serde_json::to_vec(msg).unwrap_or_else(|_| b"{}".to_vec());
        Frame::Control(Bytes::from(json))
    }

    /// Decodes the payload of a control frame.
    pub fn decode_control<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
        serde_json::from_slice(payload).map_err(|err| DecodeError::BadControl(err.to_string()))
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The length prefix exceeds the configured maximum.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLong {
        /// Length announced by the prefix.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// A zero length prefix: every frame has at least its kind byte.
    #[error("frame with zero length")]
    Empty,
    /// A control frame whose JSON is not a known message shape.
    #[error("malformed control message: {0}")]
    BadControl(String),
    /// The underlying reader or writer failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Encoder and decoder for [`Frame`]s, for use with `tokio_util::codec::Framed`.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    /// Longest frame written.
    max_len: usize,
    /// Longest frame read (the peer's allowance; the hub changes it during the handshake).
    max_decode_len: usize,
}

impl FrameCodec {
    /// A codec that rejects frames longer than `max_len` bytes, both ways.
    pub fn new(max_len: usize) -> FrameCodec {
        FrameCodec {
            max_len,
            max_decode_len: max_len,
        }
    }

    /// Changes the longest frame accepted from the peer, keeping what may be written (the hub
    /// gives an unknown peer a small allowance until its `Hello` is accepted).
    pub fn set_decode_limit(&mut self, max_len: usize) {
        self.max_decode_len = max_len;
    }

    /// The header [`Encoder::encode`] writes before a line of `payload_len` bytes, for a caller
    /// that writes a large payload to the socket itself rather than copying it into the write
    /// buffer. Refused over the limit, as `encode` does.
    pub fn line_header(&self, payload_len: usize) -> Result<[u8; HEADER_LEN + 1], DecodeError> {
        let len = payload_len + 1;
        if len > self.max_len {
            return Err(DecodeError::TooLong {
                len,
                max: self.max_len,
            });
        }
        let mut header = [0u8; HEADER_LEN + 1];
        header[..HEADER_LEN].copy_from_slice(&(len as u32).to_be_bytes());
        header[HEADER_LEN] = KIND_LINE;
        Ok(header)
    }
}

impl Default for FrameCodec {
    fn default() -> FrameCodec {
        FrameCodec::new(crate::DEFAULT_MAX_FRAME_LEN)
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if len == 0 {
            return Err(DecodeError::Empty);
        }
        if len > self.max_decode_len {
            return Err(DecodeError::TooLong {
                len,
                max: self.max_decode_len,
            });
        }
        if src.len() < HEADER_LEN + len {
            src.reserve(HEADER_LEN + len - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        let kind = src.get_u8();
        let payload = src.split_to(len - 1).freeze();
        Ok(Some(match kind {
            KIND_CONTROL => Frame::Control(payload),
            KIND_LINE => Frame::Line(payload),
            kind => Frame::Unknown { kind },
        }))
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = DecodeError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), DecodeError> {
        let (kind, payload) = match &frame {
            Frame::Control(payload) => (KIND_CONTROL, &payload[..]),
            Frame::Line(payload) => (KIND_LINE, &payload[..]),
            Frame::Unknown { kind } => (*kind, &[][..]),
        };
        let len = payload.len() + 1;
        if len > self.max_len {
            return Err(DecodeError::TooLong {
                len,
                max: self.max_len,
            });
        }
        dst.reserve(HEADER_LEN + len);
        dst.put_u32(len as u32);
        dst.put_u8(kind);
        dst.extend_from_slice(payload);
        Ok(())
    }
}
