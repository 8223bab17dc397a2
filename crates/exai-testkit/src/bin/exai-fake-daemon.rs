//! `exai-fake-daemon`: the test daemon as a process, for tests written outside Rust (the
//! dashboard's browser test, the desktop test under Xvfb) and for trying the tray by hand.
//!
//! Prints one line, `ws://127.0.0.1:PORT`, on stdout once it listens; stops on SIGTERM/Ctrl-C or
//! when the process that started it exits (so a test harness that dies takes it along).
//! `--token TOKEN` turns auth on (16 characters or more, as the real daemon requires).

use exai_testkit::{DaemonConfig, TestDaemon};
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut config = DaemonConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--token" => config.token = args.next(),
            "--help" | "-h" => {
                say("usage: exai-fake-daemon [--token TOKEN]");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let daemon = TestDaemon::start(config).await?;
    say(&daemon.url());
    let parent_gone = async {
        match exai_ipc::parent_pid().filter(|&pid| pid > 1) {
            Some(pid) => exai_ipc::wait_for_exit(pid).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = parent_gone => {}
        () = exai_ipc::shutdown_signal() => {}
    }
    daemon.stop().await;
    Ok(())
}

#[allow(clippy::print_stdout, reason = "the URL line is this program's output")]
fn say(line: &str) {
    println!("{line}");
}
