//! The two writer tasks: stdout (the editor's side of the wire) and the hub socket's write half.
//!
//! Each owns its sink and drains a bounded channel, so a slow reader on one side never stops the
//! relay loop from reading the other side, and flushes happen only when the queue runs empty.
//! The stdout writer is the only code in the shim that writes to stdout.

use crate::conn::HubConn;
use bytes::Bytes;
use exai_proto::Frame;
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

/// How many messages may wait for a writer before the relay loop waits too.
pub const QUEUE_LEN: usize = 64;

/// Writes each queued line plus `\n` to `out`, flushing whenever the queue is empty.
///
/// Lines arrive without their newline; a trailing `\r` is dropped so the shim never emits one.
/// Returns when the queue closes (after a final flush) or when a write fails, for instance with
/// a broken pipe because the editor went away.
pub async fn write_lines<W: AsyncWrite + Unpin>(
    out: W,
    mut queue: mpsc::Receiver<Bytes>,
) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(64 << 10, out);
    while let Some(line) = queue.recv().await {
        write_line(&mut out, &line).await?;
        while let Ok(line) = queue.try_recv() {
            write_line(&mut out, &line).await?;
        }
        out.flush().await?;
    }
    out.flush().await
}

async fn write_line<W: AsyncWrite + Unpin>(
    out: &mut BufWriter<W>,
    line: &[u8],
) -> std::io::Result<()> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    out.write_all(line).await?;
    out.write_all(b"\n").await
}

/// Sends each queued frame to the hub, flushing whenever the queue is empty.
///
/// When the queue closes, the socket's write half is flushed and shut down, so the hub sees a
/// clean end of stream right after the last frame (the `Goodbye`).
/// A write error ends the task; the relay notices through its closed queue or the read half.
pub async fn write_frames(mut sink: SplitSink<HubConn, Frame>, mut queue: mpsc::Receiver<Frame>) {
    while let Some(frame) = queue.recv().await {
        if let Err(error) = sink.feed(frame).await {
            tracing::debug!(%error, "writing to the hub failed");
            return;
        }
        while let Ok(frame) = queue.try_recv() {
            if let Err(error) = sink.feed(frame).await {
                tracing::debug!(%error, "writing to the hub failed");
                return;
            }
        }
        if let Err(error) = sink.flush().await {
            tracing::debug!(%error, "flushing to the hub failed");
            return;
        }
    }
    if let Err(error) = sink.close().await {
        tracing::debug!(%error, "closing the hub connection failed");
    }
}
