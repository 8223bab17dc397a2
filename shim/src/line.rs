//! The editor side of the wire: a newline-delimited line reader with a length limit, and the
//! answer to a line over it (its id sniffed from the kept start with
//! [`exai_proto::jsonrpc::sniff_id`]).
//!
//! Nothing here touches stdout: callers hand the built lines to the stdout writer.
//! The reader keeps all of its state in the struct, so [`LineReader::next`] is cancel safe and can
//! sit in a `tokio::select!` next to the hub connection.

use bytes::{Buf, Bytes, BytesMut};
use exai_proto::jsonrpc::{self, ErrorCode, RawId};
use tokio::io::{AsyncRead, AsyncReadExt};

/// How much of an over-long line is kept to sniff its id from.
///
/// Most writers put `id` right after `jsonrpc`, so the first few KiB are enough; keeping more
/// would only cost memory on a path that already failed.
const SNIFF_PREFIX_LEN: usize = 16 << 10;

/// How much room the reader asks for before each read.
const READ_CHUNK: usize = 64 << 10;

/// Buffers that grew beyond this are replaced once they are nearly empty again.
const SHRINK_ABOVE: usize = 1 << 20;

/// One unit of input from the editor.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// A complete line without its `\n` (and without a trailing `\r`).
    Line(Bytes),
    /// A line longer than the limit; only its start was kept.
    TooLong {
        /// The line's length in bytes, without the line ending.
        len: usize,
        /// The first bytes of the line, for [`jsonrpc::sniff_id`].
        prefix: Bytes,
    },
}

/// What the reader is in the middle of.
enum Mode {
    /// Collecting a line in the buffer.
    Collect {
        /// How many bytes of the buffer are known to hold no `\n`.
        scanned: usize,
    },
    /// Skipping the rest of an over-long line.
    Discard {
        /// Bytes of the line seen so far.
        len: usize,
        /// The kept start of the line.
        prefix: Bytes,
        /// Whether the last byte seen was `\r` (it does not count toward the length).
        last_was_cr: bool,
    },
}

/// Reads `\n`-terminated lines of at most `max_len` bytes in bounded memory.
pub struct LineReader<R> {
    reader: R,
    buf: BytesMut,
    max_len: usize,
    mode: Mode,
    eof: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// A reader that reports lines longer than `max_len` bytes as [`Input::TooLong`].
    pub fn new(reader: R, max_len: usize) -> LineReader<R> {
        LineReader {
            reader,
            buf: BytesMut::with_capacity(READ_CHUNK),
            max_len,
            mode: Mode::Collect { scanned: 0 },
            eof: false,
        }
    }

    /// The next line, or `None` at end of input.
    ///
    /// A last line without a trailing newline is still returned.
    /// Cancel safe: all progress is kept in `self`.
    pub async fn next(&mut self) -> std::io::Result<Option<Input>> {
        loop {
            if let Some(input) = self.take_buffered() {
                return Ok(Some(input));
            }
            if self.eof {
                return Ok(self.take_at_eof());
            }
            if self.buf.capacity() - self.buf.len() < READ_CHUNK {
                self.buf.reserve(READ_CHUNK);
            }
            if self.reader.read_buf(&mut self.buf).await? == 0 {
                self.eof = true;
            }
        }
    }

    /// Returns a complete input from the buffer, if one is there, and advances the mode.
    fn take_buffered(&mut self) -> Option<Input> {
        match &mut self.mode {
            Mode::Collect { scanned } => {
                if let Some(offset) = memchr(&self.buf[*scanned..]) {
                    let newline_at = *scanned + offset;
                    self.mode = Mode::Collect { scanned: 0 };
                    let mut line = self.buf.split_to(newline_at + 1).freeze();
                    line.truncate(newline_at);
                    if line.last() == Some(&b'\r') {
                        line.truncate(newline_at - 1);
                    }
                    self.shrink();
                    return Some(self.checked(line));
                }
                *scanned = self.buf.len();
                // One more byte than the limit may be a `\r` that the newline will strip.
                if self.buf.len() > self.max_len + 1 {
                    let keep = self.buf.len().min(SNIFF_PREFIX_LEN).min(self.max_len);
                    let prefix = Bytes::copy_from_slice(&self.buf[..keep]);
                    let last_was_cr = self.buf.last() == Some(&b'\r');
                    self.mode = Mode::Discard {
                        len: self.buf.len(),
                        prefix,
                        last_was_cr,
                    };
                    self.buf.clear();
                }
                None
            }
            Mode::Discard {
                len,
                prefix,
                last_was_cr,
            } => {
                if self.buf.is_empty() {
                    return None;
                }
                if let Some(newline_at) = memchr(&self.buf) {
                    let mut total = *len + newline_at;
                    let cr_before = if newline_at == 0 {
                        *last_was_cr
                    } else {
                        self.buf[newline_at - 1] == b'\r'
                    };
                    if cr_before {
                        total -= 1;
                    }
                    let prefix = std::mem::take(prefix);
                    self.buf.advance(newline_at + 1);
                    self.mode = Mode::Collect { scanned: 0 };
                    return Some(Input::TooLong { len: total, prefix });
                }
                *len += self.buf.len();
                *last_was_cr = self.buf.last() == Some(&b'\r');
                self.buf.clear();
                None
            }
        }
    }

    /// Lets go of a buffer that grew for a big line, so one large message does not pin its size
    /// for the rest of the session.
    fn shrink(&mut self) {
        if self.buf.capacity() > SHRINK_ABOVE && self.buf.len() <= READ_CHUNK {
            let mut fresh = BytesMut::with_capacity(READ_CHUNK);
            fresh.extend_from_slice(&self.buf);
            self.buf = fresh;
        }
    }

    /// Flushes whatever is left when the input has ended.
    fn take_at_eof(&mut self) -> Option<Input> {
        match std::mem::replace(&mut self.mode, Mode::Collect { scanned: 0 }) {
            Mode::Collect { .. } => {
                if self.buf.is_empty() {
                    return None;
                }
                let mut line = self.buf.split().freeze();
                if line.last() == Some(&b'\r') {
                    line.truncate(line.len() - 1);
                }
                Some(self.checked(line))
            }
            Mode::Discard {
                len,
                prefix,
                last_was_cr,
            } => Some(Input::TooLong {
                len: len - usize::from(last_was_cr),
                prefix,
            }),
        }
    }

    /// Applies the limit to a complete line.
    fn checked(&self, line: Bytes) -> Input {
        if line.len() > self.max_len {
            let keep = line.len().min(SNIFF_PREFIX_LEN).min(self.max_len);
            Input::TooLong {
                len: line.len(),
                prefix: line.slice(..keep),
            }
        } else {
            Input::Line(line)
        }
    }
}

/// Position of the first `\n`.
fn memchr(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&byte| byte == b'\n')
}

/// The answer to a line longer than the limit.
pub fn too_large(id: Option<RawId<'_>>, len: usize, max_len: usize) -> Bytes {
    let message = format!(
        "request too large: {len} bytes exceeds the limit of {max_len} bytes (EXAI_MAX_LINE_BYTES)"
    );
    jsonrpc::error_line(id, ErrorCode::InvalidRequest, &message)
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
