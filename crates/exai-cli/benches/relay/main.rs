//! The relay benchmark: real processes, side by side, one table. Run it with `scripts/bench.sh`
//! (release builds, peers installed) or `scripts/bench.sh --quick` (a few iterations of every
//! row, to prove the harness works; `scripts/test.sh` runs that).
//!
//! Paths, each driven by this process acting as the editor (a line to the child's stdin, the
//! answer read from its stdout, timed with `Instant` around the round trip):
//! - direct: a trivial stdio MCP server (this binary with `--role=trivial`): the floor;
//! - `exai-shim` + `exai hub`: the hub answers `ping` itself and relays `tools/call echo` to the
//!   test daemon (this binary with `--role=daemon`: `exai_testkit`'s daemon with its rate
//!   limits and cache off, so the figures are the relay's, not the limiter's), compared with a
//!   direct WebSocket client of that daemon written here (`ws.rs`);
//! - supergateway and mcp-proxy, each as a stdio→SSE server around the trivial server plus its
//!   own SSE→stdio client.
//!
//! The paths are measured interleaved, in rounds, so a burst of load elsewhere on the machine
//! hits them all alike. Then: 64 windows pipelining pings; 1,000 idle windows (raw clients of
//! the shim ↔ hub protocol doing the real `Hello` and `initialize`; memory, CPU and wake-ups of
//! the hub from `/proc`, and ping latency beside them); a 16 MiB tool result (time and peak
//! resident memory of a fresh shim and hub); shim start and resident memory.
//!
//! The harness fails (exit 1) when something does not work; a missed goal is only reported.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark prints its table"
)]

mod editor;
mod peers;
mod procfs;
mod report;
mod trivial;
mod windows;
mod ws;

use anyhow::Context;
use editor::{Editor, Proc};
use report::{Row, Stats, micros, thousands};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How much of everything: the full run and the quick one.
struct Plan {
    quick: bool,
    /// `--only=a,b`: the sections to run (latency, throughput, idle, large, servers); all when
    /// empty.
    only: Vec<String>,
    /// `--idle-poll`: idle CPUs poll instead of halting for the whole run (procfs::hold_idle_poll).
    idle_poll: bool,
    starts: usize,
    rounds: usize,
    pings_per_round: usize,
    echoes_per_round: usize,
    peer_per_round: usize,
    windows: usize,
    pings_per_window: usize,
    idle_windows: usize,
    idle: Duration,
    idle_pings: usize,
    big_bytes: usize,
    big_reps: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                quick,
                only: Vec::new(),
                idle_poll: false,
                starts: 5,
                rounds: 2,
                pings_per_round: 50,
                echoes_per_round: 20,
                peer_per_round: 3,
                windows: 64,
                pings_per_window: 50,
                idle_windows: 50,
                idle: Duration::from_secs(1),
                idle_pings: 200,
                big_bytes: 1 << 20,
                big_reps: 1,
            }
        } else {
            Plan {
                quick,
                only: Vec::new(),
                idle_poll: false,
                starts: 50,
                rounds: 20,
                pings_per_round: 500,
                echoes_per_round: 200,
                peer_per_round: 15,
                windows: 64,
                pings_per_window: 5000,
                idle_windows: 1000,
                idle: Duration::from_secs(10),
                idle_pings: 5000,
                big_bytes: 16 << 20,
                big_reps: 5,
            }
        }
    }

    /// Whether section `name` runs.
    fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|only| only == name)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|arg| arg == flag);
    let outcome = if has("--role=trivial") {
        trivial::serve().map_err(anyhow::Error::from)
    } else if has("--role=daemon") {
        daemon()
    } else {
        let mut plan = Plan::new(has("--quick"));
        plan.idle_poll = has("--idle-poll");
        plan.only = args
            .iter()
            .filter_map(|arg| arg.strip_prefix("--only="))
            .flat_map(|list| list.split(','))
            .map(str::to_owned)
            .collect();
        run(plan)
    };
    if let Err(error) = outcome {
        eprintln!("bench: {error:#}");
        std::process::exit(1);
    }
}

/// `--role=daemon`: the test daemon with the real one's rate limits and cache off; prints its
/// URL and runs until its stdin closes (the harness is gone).
fn daemon() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let daemon = exai_testkit::TestDaemon::start(exai_testkit::DaemonConfig {
            rate_limit: None,
            ip_rate_limit: None,
            cache: false,
            max_connections_per_ip: 64,
            ..exai_testkit::DaemonConfig::default()
        })
        .await?;
        println!("{}", daemon.url());
        let mut stdin = tokio::io::stdin();
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stdin, &mut sink).await;
        daemon.stop().await;
        Ok(())
    })
}

/// Binaries and places shared by every section.
struct Env {
    me: PathBuf,
    exai: PathBuf,
    shim: PathBuf,
    dir: tempfile::TempDir,
    config: PathBuf,
    daemon_url: String,
}

impl Env {
    fn trivial(&self) -> Command {
        let mut command = Command::new(&self.me);
        command.arg("--role=trivial");
        command
    }

    /// A fresh `exai hub` on its own socket, ready to accept.
    fn hub(&self, name: &str) -> anyhow::Result<(Proc, PathBuf)> {
        let socket = self.dir.path().join(format!("{name}.sock"));
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log")))?;
        let mut hub = Proc(
            Command::new(&self.exai)
                .arg("hub")
                .arg("--endpoint")
                .arg(&socket)
                .args(["--upstream", &self.daemon_url, "--pool", "4"])
                .arg("--config")
                .arg(&self.config)
                .env("EXAI_LOG", "error")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("starting exai hub")?,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Some(status) = hub.0.try_wait()? {
                let log = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))?;
                anyhow::bail!("exai hub exited ({status}): {log}");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "exai hub did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok((hub, socket))
    }

    fn shim(&self, socket: &Path, name: &str) -> Command {
        let mut command = Command::new(&self.shim);
        command
            .arg("--endpoint")
            .arg(socket)
            .args(["--name", name])
            .env_remove("EXAI_AUTOSTART")
            .env("EXAI_LOG", "error")
            .stderr(Stdio::null());
        command
    }

    /// A shim standing for the trivial server (`exai-shim -- relay --role=trivial EXTRA...`):
    /// the hub starts one instance per distinct command and shares it.
    fn wrapped(&self, socket: &Path, name: &str, extra: &[&str]) -> Command {
        let mut command = self.shim(socket, name);
        command
            .arg("--")
            .arg(&self.me)
            .arg("--role=trivial")
            .args(extra);
        command
    }
}

/// A peer's server and its client, or why it is skipped.
type PeerSlot = Result<(Proc, Target), String>;

/// One thing that answers a round trip.
enum Target {
    Stdio(Editor),
    Ws(ws::WsClient),
}

#[derive(Clone, Copy, PartialEq)]
enum Work {
    Ping,
    Echo,
}

impl Target {
    fn once(&mut self, work: Work, id: u64) -> anyhow::Result<Duration> {
        match self {
            Target::Stdio(editor) => {
                let line = match work {
                    Work::Ping => editor::ping(id),
                    Work::Echo => editor::echo(id),
                };
                let took = editor.ask(&line)?;
                let ok = match work {
                    Work::Ping => ws::contains(&editor.line, b"\"result\""),
                    Work::Echo => ws::contains(&editor.line, format!("echo {id}\"").as_bytes()),
                };
                anyhow::ensure!(ok, "unexpected answer: {}", editor.text());
                Ok(took)
            }
            Target::Ws(client) => {
                anyhow::ensure!(work == Work::Echo, "the daemon has no MCP ping");
                let arguments = format!(r#"{{"text":"echo {id}"}}"#);
                let started = Instant::now();
                client.call("echo", &arguments)?;
                Ok(started.elapsed())
            }
        }
    }
}

/// Round trips through every target, interleaved in rounds after one warm-up round.
fn interleaved(
    targets: &mut [(&str, &mut Target, usize)],
    work: Work,
    rounds: usize,
) -> anyhow::Result<Vec<Vec<Duration>>> {
    let mut samples = vec![Vec::new(); targets.len()];
    let mut id = 1_000_000;
    for round in 0..=rounds {
        for (index, (name, target, per_round)) in targets.iter_mut().enumerate() {
            for _ in 0..*per_round {
                id += 1;
                let took = target.once(work, id).with_context(|| name.to_string())?;
                if round > 0 {
                    samples[index].push(took);
                }
            }
        }
    }
    Ok(samples)
}

fn run(plan: Plan) -> anyhow::Result<()> {
    let run_started = Instant::now();
    let idle_poll = if plan.idle_poll {
        let held = procfs::hold_idle_poll();
        anyhow::ensure!(
            held.is_some(),
            "--idle-poll: cannot write /dev/cpu_dma_latency (it needs root)"
        );
        held
    } else {
        None
    };
    let load_before = procfs::loadavg();
    let me = std::env::current_exe()?;
    let exai = PathBuf::from(env!("CARGO_BIN_EXE_exai"));
    // The shim as shipped (scripts/bench.sh names the static build the packages carry), else
    // the one cargo built beside `exai`.
    let shim = std::env::var_os("EXAI_BENCH_SHIM")
        .map_or_else(|| exai.with_file_name("exai-shim"), PathBuf::from);
    anyhow::ensure!(
        shim.exists(),
        "{} missing: run scripts/bench.sh (it builds exai-shim first)",
        shim.display()
    );
    raise_fd_limit(plan.idle_windows + 256);
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.toml");
    // The hub's own pacing off: the daemon here has no rate limit either.
    std::fs::write(
        &config,
        "[upstream]\nrate_limit_per_sec = 0\nsession_rate_limit_per_sec = 0\n",
    )?;
    let mut daemon_child = Command::new(&me)
        .arg("--role=daemon")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the test daemon")?;
    let mut daemon_url = String::new();
    std::io::BufReader::new(daemon_child.stdout.take().expect("piped"))
        .read_line(&mut daemon_url)?;
    let daemon_url = daemon_url.trim().to_owned();
    anyhow::ensure!(
        daemon_url.starts_with("ws://"),
        "the test daemon said {daemon_url:?}"
    );
    let _daemon = Proc(daemon_child);
    let env = Env {
        me,
        exai,
        shim,
        dir,
        config,
        daemon_url,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if plan.runs("latency") {
        eprintln!("bench: latency (shim start, ping, echo) ...");
        latency(&plan, &env, &mut rows, &mut notes)?;
    }
    if plan.runs("throughput") {
        eprintln!("bench: throughput ...");
        throughput(&plan, &env, &runtime, &mut rows)?;
    }
    if plan.runs("idle") {
        eprintln!("bench: {} idle windows ...", plan.idle_windows);
        idle(&plan, &env, &runtime, &mut rows)?;
    }
    if plan.runs("large") {
        eprintln!("bench: large result ...");
        large(&plan, &env, &mut rows)?;
    }
    if plan.runs("servers") {
        eprintln!("bench: wrapped servers ...");
        servers(&plan, &env, &runtime, &mut rows, &mut notes)?;
    }

    rows.push(tray_memory());
    println!();
    report::print(&rows);
    println!();
    println!(
        "{} build · {} · {} CPUs · {} · load average {} before, {} after · {:.0} s",
        if cfg!(debug_assertions) {
            "DEBUG (figures not meaningful)"
        } else {
            "release"
        },
        procfs::cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if idle_poll.is_some() {
            "idle CPUs polling (--idle-poll: PM QoS 0 held)".to_owned()
        } else {
            procfs::cpuidle()
        },
        load_before,
        procfs::loadavg(),
        run_started.elapsed().as_secs_f64()
    );
    for note in notes {
        println!("- {note}");
    }
    if plan.quick {
        println!("- quick mode: a few iterations and the smallest sizes; not figures to quote");
    }
    Ok(())
}

/// Shim start and resident memory, then ping and echo through every path, interleaved.
fn latency(
    plan: &Plan,
    env: &Env,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let (hub, socket) = env.hub("latency")?;
    // Shim start: exec until the initialize answer (the hub already running).
    let mut starts = Vec::new();
    for index in 0..=plan.starts {
        let started = Instant::now();
        let mut shim = Editor::spawn(&mut env.shim(&socket, &format!("start-{index}")))?;
        shim.initialize().context("shim start")?;
        let took = started.elapsed();
        if index > 0 {
            starts.push(took);
        }
        shim.close();
    }
    let start_stats = Stats::of(&starts);

    let mut direct = Target::Stdio(Editor::spawn(&mut env.trivial())?);
    if let Target::Stdio(editor) = &mut direct {
        editor.initialize().context("trivial server")?;
    }
    let mut shim = Target::Stdio(Editor::spawn(&mut env.shim(&socket, "latency"))?);
    let shim_pid = match &mut shim {
        Target::Stdio(editor) => {
            editor.initialize().context("exai-shim")?;
            editor.pid()
        }
        Target::Ws(_) => unreachable!(),
    };
    let mut ws_direct = Target::Ws(ws::WsClient::connect(&env.daemon_url)?);
    // The same trivial server as the direct path, wrapped: one instance the hub shares.
    let mut wrapped = Target::Stdio(Editor::spawn(&mut env.wrapped(
        &socket,
        "latency-wrapped",
        &[],
    ))?);
    if let Target::Stdio(editor) = &mut wrapped {
        editor.initialize().context("exai-shim -- trivial server")?;
    }

    // The peers, around the same trivial server.
    let me = env.me.display().to_string();
    let trivial_line = format!("{me} --role=trivial");
    let mut peers: Vec<(&'static str, PeerSlot)> = Vec::new();
    let sg = peers::locate("EXAI_BENCH_SUPERGATEWAY")
        .and_then(|bin| peers::supergateway(&bin, &trivial_line, env.dir.path()));
    peers.push((
        "supergateway",
        sg.map(|p| (p.server, Target::Stdio(p.client))),
    ));
    let mp = peers::locate("EXAI_BENCH_MCP_PROXY")
        .and_then(|bin| peers::mcp_proxy(&bin, &[me.as_str(), "--role=trivial"], env.dir.path()));
    peers.push(("mcp-proxy", mp.map(|p| (p.server, Target::Stdio(p.client)))));
    for (name, peer) in &peers {
        if let Err(reason) = peer {
            eprintln!("bench: {name} skipped: {reason}");
        }
    }

    for work in [Work::Ping, Work::Echo] {
        let per_round = match work {
            Work::Ping => plan.pings_per_round,
            Work::Echo => plan.echoes_per_round,
        };
        let mut targets: Vec<(&str, &mut Target, usize)> = vec![
            ("direct", &mut direct, per_round),
            ("exai-shim + hub", &mut shim, per_round),
        ];
        if work == Work::Echo {
            targets.push(("direct WebSocket client", &mut ws_direct, per_round));
        }
        let mut peer_names = Vec::new();
        for (name, peer) in peers.iter_mut() {
            if let Ok((_, target)) = peer {
                targets.push((*name, target, plan.peer_per_round));
                peer_names.push(*name);
            }
        }
        targets.push(("exai-shim -- trivial server", &mut wrapped, per_round));
        let samples = interleaved(&mut targets, work, plan.rounds)?;
        let stats: Vec<Stats> = samples.iter().map(|s| Stats::of(s)).collect();
        let wrapped_stats = stats[stats.len() - 1];
        let direct_stats = stats[0];
        let ours = stats[1];
        let peer_stats = |offset: usize| -> Vec<(&str, Stats)> {
            peer_names
                .iter()
                .enumerate()
                .map(|(index, name)| (*name, stats[offset + index]))
                .collect()
        };
        let peer_offset = if work == Work::Echo { 3 } else { 2 };
        let peer_figures = peer_stats(peer_offset);
        let over = |s: &Stats, base: &Stats| {
            format!(
                "+{} / +{}",
                micros(s.p50 - base.p50),
                micros(s.p99 - base.p99)
            )
        };
        let ratios = peer_figures
            .iter()
            .map(|(name, s)| format!("{name} {:.0}×", s.p50 / ours.p50))
            .collect::<Vec<_>>()
            .join(", ");
        let what = match work {
            Work::Ping => "ping",
            Work::Echo => "tools/call echo",
        };
        let mut row = Row::latency(
            format!("{what} · direct: trivial stdio server"),
            &direct_stats,
        );
        row.over_direct = "(the floor)".to_owned();
        rows.push(row);
        match work {
            Work::Ping => {
                let added_p50 = ours.p50 - direct_stats.p50;
                let added_p99 = ours.p99 - direct_stats.p99;
                let mut row = Row::latency("ping · exai-shim + hub (hub answers)", &ours).goal(
                    "over direct: p50 <= 25, p99 <= 150",
                    added_p50 <= 25.0 && added_p99 <= 150.0,
                );
                row.over_direct = over(&ours, &direct_stats);
                row.vs_peers = ratios;
                rows.push(row);
            }
            Work::Echo => {
                let ws_stats = stats[2];
                let mut row = Row::latency(
                    "tools/call echo · direct WebSocket client → test daemon",
                    &ws_stats,
                );
                row.over_direct = over(&ws_stats, &direct_stats);
                rows.push(row);
                let added = ours.p50 - ws_stats.p50;
                let mut row =
                    Row::latency("tools/call echo · exai-shim + hub → test daemon", &ours)
                        .goal("p50 over direct WebSocket <= 80", added <= 80.0);
                row.over_direct = over(&ours, &direct_stats);
                row.figure = format!("+{} over direct WebSocket (p50)", micros(added));
                row.vs_peers = ratios;
                rows.push(row);
            }
        }
        let peer_ratios = |of: &Stats| {
            peer_figures
                .iter()
                .map(|(name, s)| format!("{name} {:.0}×", s.p50 / of.p50))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut row = Row::latency(
            match work {
                Work::Ping => "ping · exai-shim -- trivial server, shared (hub answers)",
                Work::Echo => "tools/call echo · exai-shim -- trivial server, shared",
            },
            &wrapped_stats,
        );
        row.over_direct = over(&wrapped_stats, &direct_stats);
        row.vs_peers = peer_ratios(&wrapped_stats);
        rows.push(row);
        for (name, s) in &peer_figures {
            let (via, answered) = match (*name, work) {
                ("supergateway", _) => ("stdio→SSE→stdio", "→ trivial server"),
                (_, Work::Ping) => ("stdio→SSE→stdio", "(client answers ping)"),
                _ => ("stdio→SSE→stdio", "→ trivial server"),
            };
            let mut row = Row::latency(format!("{what} · {name} {via} {answered}"), s);
            row.over_direct = over(s, &direct_stats);
            rows.push(row);
        }
    }
    for (name, peer) in &peers {
        if let Err(reason) = peer {
            rows.push(Row::skipped(
                format!("ping, tools/call echo · {name}"),
                "",
                reason.clone(),
            ));
        }
    }
    if peers
        .iter()
        .any(|(name, peer)| *name == "mcp-proxy" && peer.is_ok())
    {
        notes.push(
            "mcp-proxy's stdio client is an MCP server of the Python SDK, which answers ping \
             itself: its ping row does not reach the trivial server"
                .to_owned(),
        );
    }
    notes.push(
        "the hub answers ping itself; its echo goes to the test daemon (exai_testkit, rate limits \
         and cache off) over the hub's pooled WebSocket, so its echo row compares with the direct \
         WebSocket client, and the peers' with the trivial server"
            .to_owned(),
    );

    let mut row = Row::latency("shim exec → initialize answered", &start_stats)
        .goal("p50 <= 2,000", start_stats.p50 <= 2000.0);
    let build = if std::env::var_os("EXAI_BENCH_SHIM").is_some() {
        "the static build the packages ship"
    } else {
        "cargo's dynamically linked build"
    };
    row.figure = format!("hub already running; {build}");
    rows.push(row);
    let rss = procfs::status_kib(shim_pid, "VmRSS").unwrap_or(0);
    let hwm = procfs::status_kib(shim_pid, "VmHWM").unwrap_or(0);
    let mut row = Row::new("shim resident memory").goal("<= 3 MiB", rss <= 3 * 1024);
    row.figure = format!(
        "{:.2} MiB after the rows above (peak {:.2} MiB); {build}",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    rows.push(row);
    drop(hub);
    Ok(())
}

/// `plan.windows` windows each pipelining pings: direct trivial servers, then shims on one hub.
fn throughput(
    plan: &Plan,
    env: &Env,
    runtime: &tokio::runtime::Runtime,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let (hub, socket) = env.hub("throughput")?;
    let me = env.me.clone();
    let (answers, took) = runtime.block_on(windows::pipelined_pings(
        |_| {
            let mut command = tokio::process::Command::new(&me);
            command.arg("--role=trivial");
            command
        },
        plan.windows,
        plan.pings_per_window,
    ))?;
    let direct_rate = answers as f64 / took.as_secs_f64();
    let mut row = Row::new(format!(
        "throughput · {} windows pipelining pings · direct",
        plan.windows
    ));
    row.n = thousands(answers as f64);
    row.figure = format!("{} answers/s", thousands(direct_rate));
    rows.push(row);
    let shim = env.shim.clone();
    let (answers, took) = runtime.block_on(windows::pipelined_pings(
        |index| {
            let mut command = tokio::process::Command::new(&shim);
            command
                .arg("--endpoint")
                .arg(&socket)
                .args(["--name", &format!("pipe-{index}")])
                .env_remove("EXAI_AUTOSTART")
                .env("EXAI_LOG", "error")
                .stderr(Stdio::null());
            command
        },
        plan.windows,
        plan.pings_per_window,
    ))?;
    let rate = answers as f64 / took.as_secs_f64();
    let mut row = Row::new(format!(
        "throughput · {} windows pipelining pings · exai-shim + hub",
        plan.windows
    ))
    .goal(">= 150,000 answers/s", rate >= 150_000.0);
    row.n = thousands(answers as f64);
    row.figure = format!("{} answers/s", thousands(rate));
    rows.push(row);
    drop(hub);
    Ok(())
}

/// `plan.idle_windows` raw windows on a fresh hub: memory per session, CPU and wake-ups while
/// idle. Ping latency through a real shim on that hub is measured interleaved, in rounds, with a
/// shim on a second, identical hub that has only that one window, so load elsewhere on the
/// machine hits both alike.
fn idle(
    plan: &Plan,
    env: &Env,
    runtime: &tokio::runtime::Runtime,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let (hub, socket) = env.hub("idle")?;
    let (lone_hub, lone_socket) = env.hub("idle-lone")?;
    let hub_pid = hub.pid();
    let mut shim = Editor::spawn(&mut env.shim(&socket, "idle-probe"))?;
    shim.initialize()?;
    let mut lone = Editor::spawn(&mut env.shim(&lone_socket, "lone-probe"))?;
    lone.initialize()?;
    std::thread::sleep(Duration::from_millis(300));
    let rss_before = procfs::status_kib(hub_pid, "VmRSS").unwrap_or(0);
    let windows = runtime.block_on(windows::raw_windows(&socket, plan.idle_windows, 50))?;
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = procfs::status_kib(hub_pid, "VmRSS").unwrap_or(0);
    let cpu_before = procfs::Cpu::read(hub_pid).context("reading /proc for the hub")?;
    std::thread::sleep(plan.idle);
    let cpu = procfs::Cpu::read(hub_pid)
        .context("reading /proc for the hub")?
        .since(cpu_before);
    let mut many = Target::Stdio(shim);
    let mut one = Target::Stdio(lone);
    let per_round = (plan.idle_pings / plan.rounds.max(1)).max(1);
    let samples = interleaved(
        &mut [
            ("ping beside idle windows", &mut many, per_round),
            ("ping on a hub with one window", &mut one, per_round),
        ],
        Work::Ping,
        plan.rounds,
    )?;
    let (many, one) = (Stats::of(&samples[0]), Stats::of(&samples[1]));
    runtime.block_on(async move { drop(windows) });
    drop(hub);
    drop(lone_hub);

    let count = plan.idle_windows;
    let label = thousands(count as f64);
    let per_session = rss_after.saturating_sub(rss_before) as f64 / count as f64;
    let mut row = Row::new(format!("{label} idle windows · hub memory per session"))
        .goal("<= 32 KiB", per_session <= 32.0);
    row.n = label.clone();
    row.figure = format!(
        "{per_session:.1} KiB (hub {:.1} → {:.1} MiB RSS)",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    rows.push(row);
    let cpu_ms = cpu.ticks as f64 * 1000.0 / procfs::ticks_per_sec() as f64;
    let run_ms = cpu.run_ns as f64 / 1e6;
    let secs = plan.idle.as_secs_f64();
    let met = run_ms.max(cpu_ms) <= 10.0 * secs / 10.0 && cpu.voluntary as f64 <= 5.0 * secs;
    let mut row = Row::new(format!(
        "{label} idle windows · hub CPU and wake-ups over {secs:.0} s"
    ))
    .goal(
        format!(
            "~0: <= {:.0} ms CPU, <= {:.0} wake-ups",
            10.0 * secs / 10.0,
            5.0 * secs
        ),
        met,
    );
    row.figure = format!(
        "{run_ms:.2} ms on CPU (utime+stime {cpu_ms:.0} ms), {} wake-ups, {} preemptions",
        cpu.voluntary, cpu.nonvoluntary
    );
    rows.push(row);
    let change = many.p50 / one.p50 - 1.0;
    let mut row = Row::latency(format!("{label} idle windows · ping through a shim"), &many)
        .goal("p50 within 10% of one window", change <= 0.10);
    row.figure = format!(
        "{:+.1}% vs one window (p50 {} µs, p99 {} µs)",
        change * 100.0,
        micros(one.p50),
        micros(one.p99)
    );
    rows.push(row);
    Ok(())
}

/// A `big` tool result relayed editor-ward through a fresh shim and hub, against the same call
/// from the direct WebSocket client; peak resident memory (`VmHWM`) of the shim and the hub.
fn large(plan: &Plan, env: &Env, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let (hub, socket) = env.hub("large")?;
    let mut shim = Editor::spawn(&mut env.shim(&socket, "large"))?;
    shim.initialize()?;
    shim.ask(&editor::echo(1))?; // the pool connects
    let hub_rss = procfs::status_kib(hub.pid(), "VmRSS").unwrap_or(0);
    let shim_rss = procfs::status_kib(shim.pid(), "VmRSS").unwrap_or(0);
    let bytes = plan.big_bytes;
    let request = |id: usize| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"big","arguments":{{"bytes":{bytes}}}}}}}"#
        )
    };
    shim.line.reserve(bytes + (1 << 20));
    let mut through = Vec::new();
    let mut line_len = 0;
    for rep in 0..plan.big_reps {
        let took = shim.ask(&request(rep + 10))?;
        line_len = shim.line.len();
        anyhow::ensure!(
            line_len > bytes && ws::contains(&shim.line[..200.min(line_len)], b"\"result\""),
            "big result: {}",
            shim.text()
        );
        through.push(took);
    }
    let hub_hwm = procfs::status_kib(hub.pid(), "VmHWM").unwrap_or(0);
    let shim_hwm = procfs::status_kib(shim.pid(), "VmHWM").unwrap_or(0);
    drop(shim);
    drop(hub);
    let mut client = ws::WsClient::connect(&env.daemon_url)?;
    let arguments = format!(r#"{{"bytes":{bytes}}}"#);
    let mut direct = Vec::new();
    for _ in 0..plan.big_reps {
        let started = Instant::now();
        client.call("big", &arguments)?;
        direct.push(started.elapsed());
    }
    let median = |samples: &mut Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let through = median(&mut through);
    let direct = median(&mut direct);
    let added = through.saturating_sub(direct).as_secs_f64();
    let rate = if added > 0.0 {
        line_len as f64 / added / 1e9
    } else {
        f64::INFINITY
    };
    let size = format!("{} MiB", bytes >> 20);
    let mut row = Row::new(format!("{size} tool result · relayed editor-ward"))
        .goal(">= 1 GB/s", rate >= 1.0);
    row.n = plan.big_reps.to_string();
    row.figure = format!(
        "{rate:.2} GB/s = {:.1} MB / ({:.1} ms through shim+hub - {:.1} ms direct WebSocket); end to end {:.2} GB/s",
        line_len as f64 / 1e6,
        through.as_secs_f64() * 1e3,
        direct.as_secs_f64() * 1e3,
        line_len as f64 / through.as_secs_f64() / 1e9
    );
    rows.push(row);
    let limit = 3 * bytes as u64 / 1024;
    for (who, hwm, before) in [("shim", shim_hwm, shim_rss), ("hub", hub_hwm, hub_rss)] {
        let mut row = Row::new(format!("{size} tool result · peak resident memory, {who}")).goal(
            format!("<= 3× message ({} MiB)", limit / 1024),
            hwm <= limit,
        );
        row.figure = format!(
            "{:.1} MiB = {:.2}× message (VmHWM; {:.1} MiB before)",
            hwm as f64 / 1024.0,
            hwm as f64 * 1024.0 / bytes as f64,
            before as f64 / 1024.0
        );
        rows.push(row);
    }
    Ok(())
}

/// Wrapped servers: calls from many windows pipelined through one shared instance of the
/// trivial server, then 8 windows × 3 servers, shared through the hub versus each window
/// starting its own (processes and memory).
fn servers(
    plan: &Plan,
    env: &Env,
    runtime: &tokio::runtime::Runtime,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let per_window = (plan.pings_per_window / 2).max(1);
    let me = env.me.clone();
    let (answers, took) = runtime.block_on(windows::pipelined(
        |_| {
            let mut command = tokio::process::Command::new(&me);
            command.arg("--role=trivial");
            command
        },
        plan.windows,
        per_window,
        editor::echo,
    ))?;
    let mut row = Row::new(format!(
        "throughput · {} windows pipelining tools/call · direct, a server each",
        plan.windows
    ));
    row.n = thousands(answers as f64);
    row.figure = format!("{} calls/s", thousands(answers as f64 / took.as_secs_f64()));
    rows.push(row);

    let (hub, socket) = env.hub("servers")?;
    let shim = env.shim.clone();
    let (answers, took) = runtime.block_on(windows::pipelined(
        |index| {
            let mut command = tokio::process::Command::new(&shim);
            command
                .arg("--endpoint")
                .arg(&socket)
                .args(["--name", &format!("wrapped-{index}")])
                .env_remove("EXAI_AUTOSTART")
                .env("EXAI_LOG", "error")
                .stderr(Stdio::null())
                .arg("--")
                .arg(&me)
                .arg("--role=trivial");
            command
        },
        plan.windows,
        per_window,
        editor::echo,
    ))?;
    let rate = answers as f64 / took.as_secs_f64();
    let mut row = Row::new(format!(
        "throughput · {} windows pipelining tools/call · exai-shim -- trivial server, one shared instance",
        plan.windows
    ))
    .goal(">= 50,000 calls/s", rate >= 50_000.0);
    row.n = thousands(answers as f64);
    row.figure = format!("{} calls/s", thousands(rate));
    rows.push(row);

    // 8 windows × 3 servers. A real server from the registry when it is installed (full run);
    // the trivial server otherwise, and in quick mode.
    let everything = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../ci/servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
    );
    let real = !plan.quick && everything.is_file() && which("node").is_some();
    let (kind, argv): (&str, Vec<String>) = if real {
        (
            "@modelcontextprotocol/server-everything (node)",
            vec![
                "node".into(),
                everything.display().to_string(),
                "stdio".into(),
            ],
        )
    } else {
        (
            "the trivial server",
            vec![env.me.display().to_string(), "--role=trivial".into()],
        )
    };
    let (windows, servers) = if plan.quick { (2, 3) } else { (8, 3) };
    // Three servers: the same program told apart by an argument it ignores.
    let server_argv = |server: usize| {
        let mut argv = argv.clone();
        argv.push(format!("--bench-server={server}"));
        argv
    };
    let mut shims = Vec::new();
    for window in 0..windows {
        for server in 0..servers {
            let mut command = env.shim(&socket, &format!("w{window}-s{server}"));
            command.arg("--").args(server_argv(server));
            let mut shim = Editor::spawn(&mut command)?;
            shim.initialize()?;
            list_tools(&mut shim).with_context(|| format!("through a wrapped {kind}"))?;
            shims.push(shim);
        }
    }
    let instances = descendants(hub.pid());
    let server_processes = instances.len();
    let mut shared: Vec<u32> = instances;
    shared.push(hub.pid());
    shared.extend(shims.iter().map(Editor::pid));
    let shared_memory = Memory::of(&shared);
    drop(shims);
    drop(hub);
    let mut own = Vec::new();
    for _window in 0..windows {
        for server in 0..servers {
            let argv = server_argv(server);
            let mut server = Editor::spawn(
                Command::new(&argv[0])
                    .args(&argv[1..])
                    .stderr(Stdio::null()),
            )?;
            server.initialize()?;
            list_tools(&mut server).with_context(|| format!("{kind} started alone"))?;
            own.push(server);
        }
    }
    let mut alone: Vec<u32> = Vec::new();
    for server in &own {
        alone.push(server.pid());
        alone.extend(descendants(server.pid()));
    }
    let alone_memory = Memory::of(&alone);
    drop(own);
    let what = format!("{windows} windows × {servers} servers");
    let mut row = Row::new(format!("{what} · each window starts its own"));
    row.figure = alone_memory.describe();
    rows.push(row);
    let mut row = Row::new(format!("{what} · shared through exai-shim + hub"));
    row.figure = format!(
        "{} server processes (not {}) + {} shims + the hub: RSS {:.0} MiB, PSS {:.0} MiB ({:.1}× less RSS, {:.1}× less PSS)",
        server_processes,
        alone_memory.processes,
        windows * servers,
        shared_memory.rss_kib as f64 / 1024.0,
        shared_memory.pss_kib as f64 / 1024.0,
        alone_memory.rss_kib as f64 / shared_memory.rss_kib.max(1) as f64,
        alone_memory.pss_kib as f64 / shared_memory.pss_kib.max(1) as f64
    );
    rows.push(row);
    notes.push(format!(
        "the {what} rows run {kind}; shared counts the hub, its server instances and every shim"
    ));
    Ok(())
}

/// Lists the tools (which needs the server up), skipping the notifications that may come first
/// (server-everything announces `list_changed` when it starts).
fn list_tools(editor: &mut Editor) -> anyhow::Result<()> {
    editor.send(r#"{"jsonrpc":"2.0","id":"l","method":"tools/list"}"#)?;
    loop {
        editor.recv()?;
        if ws::contains(&editor.line, br#""id":"l""#) {
            anyhow::ensure!(
                ws::contains(&editor.line, b"\"tools\""),
                "tools/list answered {}",
                editor.text()
            );
            return Ok(());
        }
    }
}

/// The tray's memory with its window hidden, as the desktop test (ci/desktop) last measured it
/// under Xvfb: the harness does not start a desktop of its own.
fn tray_memory() -> Row {
    const WHAT: &str = "tray app, window hidden · PSS of its process tree";
    const GOAL: &str = "<= 40 MiB (release)";
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/desktop-pss.txt");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Row::skipped(
            WHAT,
            GOAL,
            "run ci/desktop/test.sh first (it writes target/desktop-pss.txt)",
        );
    };
    let hidden = text
        .split_whitespace()
        .find_map(|field| field.strip_prefix("hidden="))
        .and_then(|value| value.parse::<f64>().ok());
    match hidden {
        Some(mib) => {
            let mut row = Row::new(WHAT).goal(GOAL, mib <= 40.0);
            row.figure = format!(
                "{mib:.1} MiB from the desktop test's last run (a debug build; the release build measures about 15 MiB)"
            );
            row
        }
        None => Row::skipped(
            WHAT,
            GOAL,
            format!("{} says {:?}", file.display(), text.trim()),
        ),
    }
}

/// Processes and memory of a set of processes.
struct Memory {
    processes: usize,
    rss_kib: u64,
    pss_kib: u64,
}

impl Memory {
    fn of(pids: &[u32]) -> Memory {
        Memory {
            processes: pids.len(),
            rss_kib: pids
                .iter()
                .filter_map(|&pid| procfs::status_kib(pid, "VmRSS"))
                .sum(),
            pss_kib: pids.iter().filter_map(|&pid| procfs::pss_kib(pid)).sum(),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} processes, RSS {:.0} MiB, PSS {:.0} MiB",
            self.processes,
            self.rss_kib as f64 / 1024.0,
            self.pss_kib as f64 / 1024.0
        )
    }
}

/// Every process below `pid` (children, theirs, ...).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(parent) = procfs::parent(child) {
            parents.push((child, parent));
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(child, of) in &parents {
            if of == parent {
                found.push(child);
                frontier.push(child);
            }
        }
    }
    found
}

/// The path of `program` on PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// The idle rows hold a socket per window in this process and the hub.
fn raise_fd_limit(wanted: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
            && (limit.rlim_cur as usize) < wanted
        {
            limit.rlim_cur = limit.rlim_max.min(wanted as libc::rlim_t * 2);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
