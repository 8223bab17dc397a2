//! Relay benchmarks: prints a table. Run with `scripts/bench.sh` (release builds).
//!
//! What it measures, each through real processes and sockets:
//! - shim start: exec of `exai-shim` until its `initialize` answer arrives (hub already running);
//! - ping round trip: editor → shim → hub → shim → editor, no daemon involved;
//! - echo call round trip: the whole path to the fake daemon and back;
//! - throughput: 8 windows × 200 concurrent echo calls;
//! - resident memory of a shim after its handshake, and of the `exai hub` process with 8 windows.

#![allow(clippy::print_stdout, reason = "a benchmark prints its table")]

use exai_testkit::{DaemonConfig, TestDaemon};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

fn bin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_exai")).with_file_name(name);
    assert!(
        path.exists(),
        "{} missing: run scripts/bench.sh",
        path.display()
    );
    path
}

struct Raw {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Raw {
    fn spawn(endpoint: &str, name: &str) -> Raw {
        let mut child = Command::new(bin("exai-shim"))
            .args(["--endpoint", endpoint, "--name", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn exai-shim");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Raw {
            child,
            stdin,
            lines,
        }
    }

    async fn ask(&mut self, line: &str) -> String {
        self.stdin.write_all(line.as_bytes()).await.expect("write");
        self.stdin.write_all(b"\n").await.expect("write");
        self.lines.next_line().await.expect("read").expect("a line")
    }

    async fn initialize(&mut self) {
        let answer = self
            .ask(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#)
            .await;
        assert!(answer.contains("protocolVersion"), "{answer}");
        self.stdin
            .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
            .await
            .expect("write");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn row(what: &str, n: usize, samples: &mut [Duration]) {
    samples.sort();
    println!(
        "| {what:<34} | {n:>6} | {:>9.1} | {:>9.1} | {:>9.1} |",
        percentile(samples, 0.5).as_secs_f64() * 1e6,
        percentile(samples, 0.9).as_secs_f64() * 1e6,
        percentile(samples, 0.99).as_secs_f64() * 1e6,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let daemon = TestDaemon::start(DaemonConfig {
        cache: false,
        ..DaemonConfig::default()
    })
    .await
    .expect("daemon");
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = dir.path().join("hub.sock").display().to_string();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").expect("config");
    let mut hub = Command::new(bin("exai"))
        .args([
            "hub",
            "--endpoint",
            &endpoint,
            "--upstream",
            &daemon.url(),
            "--pool",
            "4",
        ])
        .arg("--config")
        .arg(&config)
        .env("EXAI_LOG", "error")
        .kill_on_drop(true)
        .spawn()
        .expect("spawn exai hub");
    daemon.wait_until(|stats| stats.authenticated >= 4).await;

    println!(
        "| {:<34} | {:>6} | {:>9} | {:>9} | {:>9} |",
        "measurement", "n", "p50 µs", "p90 µs", "p99 µs"
    );
    println!(
        "|{:-<36}|{:->8}|{:->11}|{:->11}|{:->11}|",
        "", "", "", "", ""
    );

    // Shim start: exec until the initialize answer.
    let mut starts = Vec::new();
    for index in 0..30 {
        let started = Instant::now();
        let mut shim = Raw::spawn(&endpoint, &format!("start{index}"));
        shim.initialize().await;
        starts.push(started.elapsed());
        drop(shim.stdin);
        let _ = shim.child.wait().await;
    }
    row(
        "shim start → initialize answered",
        starts.len(),
        &mut starts,
    );

    let mut shim = Raw::spawn(&endpoint, "bench");
    shim.initialize().await;
    let shim_rss = shim.child.id().and_then(rss_kib);

    let mut pings = Vec::new();
    for index in 0..5000 {
        let line = format!(r#"{{"jsonrpc":"2.0","id":{index},"method":"ping"}}"#);
        let started = Instant::now();
        let answer = shim.ask(&line).await;
        pings.push(started.elapsed());
        debug_assert!(answer.contains("result"));
    }
    row("ping round trip (shim+hub)", pings.len(), &mut pings);

    let mut calls = Vec::new();
    for index in 0..2000 {
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":{index},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"call {index}"}}}}}}"#
        );
        let started = Instant::now();
        let answer = shim.ask(&line).await;
        calls.push(started.elapsed());
        assert!(answer.contains(&format!("call {index}")), "{answer}");
    }
    row("echo call round trip (full path)", calls.len(), &mut calls);

    // Throughput: 8 windows, 200 calls each, all in flight at once.
    let mut windows = Vec::new();
    for index in 0..8 {
        let mut window = Raw::spawn(&endpoint, &format!("t{index}"));
        window.initialize().await;
        windows.push(window);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (window_index, mut window) in windows.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut batch = String::new();
            for call in 0..200 {
                batch.push_str(&format!(
                    r#"{{"jsonrpc":"2.0","id":{call},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"w{window_index} c{call}"}}}}}}"#
                ));
                batch.push('\n');
            }
            window.stdin.write_all(batch.as_bytes()).await.expect("write");
            for _ in 0..200 {
                let answer = window.lines.next_line().await.expect("read").expect("line");
                assert!(answer.contains(&format!("w{window_index} c")), "{answer}");
            }
            window
        }));
    }
    let mut windows = Vec::new();
    for task in tasks {
        windows.push(task.await.expect("window"));
    }
    let elapsed = started.elapsed();
    let hub_rss = hub.id().and_then(rss_kib);
    println!();
    println!(
        "throughput: 1600 echo calls from 8 windows in {:.1} ms = {:.0} calls/s (pool of 4, daemon serial per connection)",
        elapsed.as_secs_f64() * 1e3,
        1600.0 / elapsed.as_secs_f64()
    );
    println!(
        "resident memory: shim {} KiB, hub with 9 windows {} KiB",
        shim_rss.unwrap_or(0),
        hub_rss.unwrap_or(0)
    );
    drop(windows);
    let _ = hub.start_kill();
}
