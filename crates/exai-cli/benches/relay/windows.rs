//! Many windows at once (async): raw hub clients that do the real handshake, and pipelined pings.

use exai_proto::{Frame, FrameCodec, HubMsg, PROTOCOL_VERSION};
use futures_util::{SinkExt, StreamExt};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio_util::codec::Framed;

pub type RawWindow = Framed<UnixStream, FrameCodec>;

/// One window as a raw client of the shim ↔ hub protocol: `Hello` as a shim, `Welcome`, then the
/// editor's `initialize` (answered) and `notifications/initialized`, exactly what a shim relays.
pub async fn raw_window(socket: &std::path::Path, index: usize) -> anyhow::Result<RawWindow> {
    let stream = UnixStream::connect(socket).await?;
    let mut conn = Framed::new(stream, FrameCodec::default());
    // Built as JSON so that fields added to `Hello` later (all optional) do not break the bench.
    let hello = serde_json::json!({
        "type": "hello",
        "protocol_version": PROTOCOL_VERSION,
        "role": "shim",
        "pid": std::process::id(),
        "name": format!("idle-{index}"),
    });
    conn.send(Frame::control(&hello)).await?;
    match conn.next().await {
        Some(Ok(Frame::Control(payload))) => match Frame::decode_control::<HubMsg>(&payload)? {
            HubMsg::Welcome { .. } => {}
            other => anyhow::bail!("window {index}: hub answered the hello with {other:?}"),
        },
        other => anyhow::bail!("window {index}: no Welcome: {other:?}"),
    }
    conn.send(Frame::Line(
        crate::editor::INITIALIZE.as_bytes().to_vec().into(),
    ))
    .await?;
    loop {
        match conn.next().await {
            Some(Ok(Frame::Line(line))) => {
                anyhow::ensure!(
                    crate::ws::contains(&line, b"protocolVersion"),
                    "window {index}: initialize answered {}",
                    String::from_utf8_lossy(&line)
                );
                break;
            }
            Some(Ok(_)) => {}
            other => anyhow::bail!("window {index}: no initialize answer: {other:?}"),
        }
    }
    conn.send(Frame::Line(
        crate::editor::INITIALIZED.as_bytes().to_vec().into(),
    ))
    .await?;
    Ok(conn)
}

/// Connects `count` raw windows, `parallel` handshakes at a time.
pub async fn raw_windows(
    socket: &std::path::Path,
    count: usize,
    parallel: usize,
) -> anyhow::Result<Vec<RawWindow>> {
    let mut windows = Vec::with_capacity(count);
    let mut next = 0;
    while next < count {
        let mut set = tokio::task::JoinSet::new();
        for index in next..(next + parallel).min(count) {
            let socket = socket.to_owned();
            set.spawn(async move { raw_window(&socket, index).await });
        }
        next = (next + parallel).min(count);
        while let Some(joined) = set.join_next().await {
            windows.push(joined??);
        }
    }
    Ok(windows)
}

/// `windows` stdio servers made by `command`, each initialized, then `per_window` pings written
/// at once into each while its answers are read: answers per second over all windows.
pub async fn pipelined_pings(
    command: impl Fn(usize) -> tokio::process::Command,
    windows: usize,
    per_window: usize,
) -> anyhow::Result<(usize, Duration)> {
    pipelined(command, windows, per_window, crate::editor::ping).await
}

/// [`pipelined_pings`] with any request: `request(id)` is the line for request `id`.
pub async fn pipelined(
    command: impl Fn(usize) -> tokio::process::Command,
    windows: usize,
    per_window: usize,
    request: fn(u64) -> String,
) -> anyhow::Result<(usize, Duration)> {
    let mut children = Vec::with_capacity(windows);
    for index in 0..windows {
        let mut child = command(index)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::with_capacity(256 << 10, child.stdout.take().expect("piped"));
        stdin
            .write_all(format!("{}\n", crate::editor::INITIALIZE).as_bytes())
            .await?;
        let mut line = String::new();
        stdout.read_line(&mut line).await?;
        anyhow::ensure!(line.contains("protocolVersion"), "window {index}: {line}");
        stdin
            .write_all(format!("{}\n", crate::editor::INITIALIZED).as_bytes())
            .await?;
        children.push((child, stdin, stdout));
    }
    let mut batch = Vec::new();
    for id in 0..per_window {
        batch.extend_from_slice(request(id as u64).as_bytes());
        batch.push(b'\n');
    }
    let batch = std::sync::Arc::new(batch);
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (index, (child, mut stdin, mut stdout)) in children.into_iter().enumerate() {
        let batch = batch.clone();
        set.spawn(async move {
            let write = async {
                stdin.write_all(&batch).await?;
                stdin.flush().await?;
                anyhow::Ok(stdin)
            };
            let read = async {
                let mut buf = vec![0u8; 256 << 10];
                let mut answers = 0;
                let mut first = true;
                while answers < per_window {
                    let read = stdout.read(&mut buf).await?;
                    anyhow::ensure!(read > 0, "window {index} closed after {answers} answers");
                    if first {
                        anyhow::ensure!(
                            crate::ws::contains(&buf[..read], b"\"result\""),
                            "window {index}: {}",
                            String::from_utf8_lossy(&buf[..read.min(300)])
                        );
                        first = false;
                    }
                    answers += buf[..read].iter().filter(|&&byte| byte == b'\n').count();
                }
                anyhow::Ok(answers)
            };
            let (stdin, answers) = tokio::try_join!(write, read)?;
            anyhow::Ok((answers, child, stdin))
        });
    }
    let mut total = 0;
    // The processes end only after the clock stops.
    let mut done = Vec::with_capacity(windows);
    while let Some(joined) = set.join_next().await {
        let (answers, child, stdin) = joined??;
        total += answers;
        done.push((child, stdin));
    }
    let elapsed = started.elapsed();
    drop(done);
    Ok((total, elapsed))
}
