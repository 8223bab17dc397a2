//! The daemon's WebSocket, its text messages checked for UTF-8 here rather than by tungstenite.
//!
//! tungstenite checks every text message with `str::from_utf8` and offers no way around it; on
//! a large non-ASCII tool result that check alone ran under 1 GB/s and was a third of the hub's
//! time. So the socket under tungstenite ([`Relabel`]) marks each single-frame text message
//! binary as its bytes are read (one byte of the frame header changes), remembering that it was
//! text and checking its payload with `simdutf8` piece by piece as it passes (while in cache),
//! and [`DaemonWs`] hands those messages on as [`Message::Text`]: the same messages and, for
//! invalid UTF-8, the same error (such a message is checked whole again, for tungstenite's
//! words), several times faster. Everything else (the handshake, control frames, fragmented messages, size limits,
//! closing) is still tungstenite's: a fragmented text message is left as it came and checked by
//! tungstenite as before.

use futures_util::{Sink, Stream};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};

/// What a data message was on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A single-frame text message, relabelled binary; with its payload's length once it was
    /// found to be UTF-8 as it was read.
    Text { utf8_len: Option<u64> },
    /// A binary message (one frame or several).
    Binary,
}

/// The longest WebSocket frame header: 2 bytes, 8 of extended length, 4 of mask.
const MAX_HEADER: usize = 14;

/// Where the reader is in the byte stream from the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In the HTTP response to the upgrade: 1 when a line just ended, 2 when a `\r` followed
    /// (the headers end at the next `\n`), else 0.
    Http { matched: u8 },
    /// In a frame header: its bytes so far.
    Header { bytes: [u8; MAX_HEADER], got: u8 },
    /// In a frame's payload: how many bytes are left.
    Payload { left: u64 },
}

/// The pure part of [`Relabel`]: follows the frames in the bytes read and relabels text frames
/// in place. It keeps no payload, only the state between two reads.
#[derive(Debug)]
struct FrameReader {
    state: State,
    /// A data message started with a frame that was not final and has not ended yet.
    in_message: bool,
    /// The kinds of the relabelled and binary messages read, oldest first, not yet handed on.
    kinds: VecDeque<Kind>,
    /// The UTF-8 check of the relabelled frame being read (its payload is checked as it passes,
    /// while in cache, rather than in one more pass once the message is whole).
    check: Option<Utf8Check>,
}

impl FrameReader {
    fn new() -> FrameReader {
        FrameReader {
            state: State::Http { matched: 0 },
            in_message: false,
            kinds: VecDeque::new(),
            check: None,
        }
    }

    /// Goes over bytes just read, in order, relabelling the opcode of each single-frame text
    /// message that does not interrupt a fragmented one (tungstenite reports that one itself).
    fn feed(&mut self, mut bytes: &mut [u8]) {
        const NEXT_HEADER: State = State::Header {
            bytes: [0; MAX_HEADER],
            got: 0,
        };
        while !bytes.is_empty() {
            let used = match self.state {
                State::Http { matched } => {
                    // The empty line that ends the headers, as httparse (tungstenite's parser)
                    // finds it: a line feed, an optional carriage return, a line feed. So
                    // `\r\n\r\n`, and also bare `\n` line endings, which it accepts too.
                    // 0: within a line; 1: a line just ended; 2: and a `\r` followed.
                    let (byte, after_line) = (bytes[0], matched != 0);
                    self.state = match byte {
                        b'\n' if after_line => NEXT_HEADER,
                        b'\n' => State::Http { matched: 1 },
                        b'\r' if matched == 1 => State::Http { matched: 2 },
                        _ => State::Http { matched: 0 },
                    };
                    1
                }
                State::Header {
                    bytes: mut header,
                    got: 0,
                } => {
                    self.frame_starts(&mut bytes[0]);
                    header[0] = bytes[0];
                    self.state = State::Header {
                        bytes: header,
                        got: 1,
                    };
                    1
                }
                State::Header {
                    bytes: mut header,
                    got,
                } => {
                    let got = usize::from(got);
                    let take = (header_len(&header, got) - got).min(bytes.len());
                    header[got..got + take].copy_from_slice(&bytes[..take]);
                    let got = got + take;
                    self.state = if got < header_len(&header, got) {
                        State::Header {
                            bytes: header,
                            got: got as u8,
                        }
                    } else {
                        match payload_len(&header) {
                            0 => {
                                self.checked(0);
                                NEXT_HEADER
                            }
                            left => {
                                if let Some(check) = &mut self.check {
                                    check.len = left;
                                }
                                State::Payload { left }
                            }
                        }
                    };
                    take
                }
                State::Payload { left } => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                    if let Some(check) = &mut self.check {
                        check.feed(&bytes[..take]);
                    }
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        let len = self.check.as_ref().map_or(0, |check| check.len);
                        self.checked(len);
                        NEXT_HEADER
                    } else {
                        State::Payload { left }
                    };
                    take
                }
            };
            bytes = &mut bytes[used..];
        }
    }

    /// The relabelled frame's payload (`len` bytes) was read: its kind says whether it is UTF-8.
    fn checked(&mut self, len: u64) {
        if let Some(check) = self.check.take()
            && check.finish()
            && let Some(Kind::Text { utf8_len }) = self.kinds.back_mut()
        {
            *utf8_len = Some(len);
        }
    }

    /// The first byte of a frame header (FIN, RSV, opcode): notes data messages and relabels a
    /// text frame that is a whole message.
    fn frame_starts(&mut self, first: &mut u8) {
        const FIN: u8 = 0x80;
        const TEXT: u8 = 0x1;
        const BINARY: u8 = 0x2;
        const CONTINUATION: u8 = 0x0;
        let fin = *first & FIN != 0;
        match *first & 0x0F {
            TEXT if fin && !self.in_message => {
                *first = (*first & 0xF0) | BINARY;
                self.kinds.push_back(Kind::Text { utf8_len: None });
                self.check = Some(Utf8Check::default());
            }
            // A fragmented text message stays text (tungstenite checks it as it always did), as
            // does a text frame inside a fragmented message (tungstenite's error names it).
            TEXT => self.in_message |= !fin,
            BINARY => {
                if !self.in_message {
                    self.kinds.push_back(Kind::Binary);
                }
                self.in_message |= !fin;
            }
            CONTINUATION if fin => self.in_message = false,
            // Control frames (they may come between fragments) and reserved opcodes, which
            // tungstenite refuses.
            _ => {}
        }
    }
}

/// UTF-8 checked piece by piece: a character cut between two pieces is completed from the next.
#[derive(Debug, Default)]
struct Utf8Check {
    /// The start of a character cut at the end of the last piece (at most 3 bytes).
    carry: [u8; 4],
    carry_len: usize,
    /// An invalid sequence was seen.
    failed: bool,
    /// The payload's length (set once the header is read).
    len: u64,
}

impl Utf8Check {
    fn feed(&mut self, mut piece: &[u8]) {
        if self.failed {
            return;
        }
        if self.carry_len > 0 {
            // The carried bytes start a character (a lead byte and continuations), so its width
            // is known.
            let width = match self.carry[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (width - self.carry_len).min(piece.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&piece[..take]);
            self.carry_len += take;
            piece = &piece[take..];
            if self.carry_len < width {
                return;
            }
            self.carry_len = 0;
            if simdutf8::basic::from_utf8(&self.carry[..width]).is_err() {
                self.failed = true;
                return;
            }
        }
        if let Err(error) = simdutf8::compat::from_utf8(piece) {
            match error.error_len() {
                // Cut at the end: keep the start of the character for the next piece.
                None => {
                    let rest = &piece[error.valid_up_to()..];
                    self.carry[..rest.len()].copy_from_slice(rest);
                    self.carry_len = rest.len();
                }
                Some(_) => self.failed = true,
            }
        }
    }

    /// Whether everything fed was UTF-8, no character left unfinished.
    fn finish(&self) -> bool {
        !self.failed && self.carry_len == 0
    }
}

/// The length of a header whose first `got` bytes are in `header` (`got` >= 1): 2 until the
/// second byte is known.
fn header_len(header: &[u8; MAX_HEADER], got: usize) -> usize {
    if got < 2 {
        return 2;
    }
    let extended = match header[1] & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if header[1] & 0x80 != 0 { 4 } else { 0 };
    2 + extended + mask
}

/// The payload length of a complete header.
fn payload_len(header: &[u8; MAX_HEADER]) -> u64 {
    match header[1] & 0x7F {
        126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
        127 => u64::from_be_bytes(header[2..10].try_into().unwrap_or([0xFF; 8])),
        len => u64::from(len),
    }
}

/// The socket under tungstenite: reads pass through [`FrameReader`], writes go straight on.
///
/// It must sit on the plain byte stream (under any TLS): it reads the frames' own bytes.
pub(crate) struct Relabel<S> {
    inner: S,
    reader: FrameReader,
}

impl<S> Relabel<S> {
    pub(crate) fn new(inner: S) -> Relabel<S> {
        Relabel {
            inner,
            reader: FrameReader::new(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Relabel<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.reader.feed(&mut buf.filled_mut()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Relabel<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The daemon's WebSocket: tungstenite's stream over [`Relabel`], with each relabelled message
/// checked and handed on as text again.
pub(crate) struct DaemonWs<S> {
    inner: WebSocketStream<Relabel<S>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> DaemonWs<S> {
    pub(crate) fn new(inner: WebSocketStream<Relabel<S>>) -> DaemonWs<S> {
        DaemonWs { inner }
    }

    /// Sends a close frame and flushes (tungstenite's `close`).
    pub(crate) async fn close(&mut self, frame: Option<CloseFrame>) -> tungstenite::Result<()> {
        self.inner.close(frame).await
    }

    /// A binary message from tungstenite: text again if it was a relabelled text frame.
    fn restore(&mut self, payload: bytes::Bytes) -> tungstenite::Result<Message> {
        match self.inner.get_mut().reader.kinds.pop_front() {
            // Checked as it was read (and the same length, as a guard against ever losing track
            // of the frames).
            Some(Kind::Text {
                utf8_len: Some(len),
            }) if len == payload.len() as u64 => {
                // SAFETY: these bytes were found to be UTF-8 as they were read (`Utf8Check`).
                Ok(Message::Text(unsafe {
                    Utf8Bytes::from_bytes_unchecked(payload)
                }))
            }
            Some(Kind::Text { .. }) => text(payload).map(Message::Text),
            Some(Kind::Binary) | None => Ok(Message::Binary(payload)),
        }
    }
}

/// `payload` as text, or tungstenite's own error for a text message that is not UTF-8.
fn text(payload: bytes::Bytes) -> tungstenite::Result<Utf8Bytes> {
    if simdutf8::basic::from_utf8(&payload).is_ok() {
        // SAFETY: simdutf8 just checked that the bytes are UTF-8.
        Ok(unsafe { Utf8Bytes::from_bytes_unchecked(payload) })
    } else {
        // The slow check only to say where, in std's words, as tungstenite does.
        match std::str::from_utf8(&payload) {
            Err(error) => Err(error.into()),
            Ok(_) => Err(tungstenite::Error::Utf8("invalid UTF-8".to_owned())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for DaemonWs<S> {
    type Item = tungstenite::Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let message = ready!(Pin::new(&mut this.inner).poll_next(cx));
        Poll::Ready(message.map(|message| match message {
            Ok(Message::Binary(payload)) => this.restore(payload),
            other => other,
        }))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for DaemonWs<S> {
    type Error = tungstenite::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<tungstenite::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> tungstenite::Result<()> {
        Pin::new(&mut self.get_mut().inner).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<tungstenite::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<tungstenite::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

#[cfg(test)]
#[path = "frames_tests.rs"]
mod tests;
