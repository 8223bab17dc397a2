//! The proxies a user would pick instead, around the same trivial server: supergateway (npm) and
//! mcp-proxy (PyPI), each as a stdio→SSE server plus its own SSE→stdio client.
//! `scripts/bench.sh` installs them under `target/bench-peers/` and passes their paths in
//! `EXAI_BENCH_SUPERGATEWAY` and `EXAI_BENCH_MCP_PROXY` (or `skip: <reason>`).

use crate::editor::{Editor, Proc};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Peer {
    pub server: Proc,
    pub client: Editor,
}

/// Where a peer comes from, or why it is skipped.
pub fn locate(env: &str) -> Result<String, String> {
    match std::env::var(env) {
        Ok(value) if value.starts_with("skip:") => Err(value["skip:".len()..].trim().to_owned()),
        Ok(value) if Path::new(&value).exists() => Ok(value),
        Ok(value) => Err(format!("{value} does not exist")),
        Err(_) => Err(format!("{env} not set (run scripts/bench.sh)")),
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn log(dir: &Path, name: &str) -> std::io::Result<Stdio> {
    Ok(std::fs::File::create(dir.join(name))?.into())
}

fn wait_for_port(server: &mut Proc, port: u16, name: &str, dir: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            let log =
                std::fs::read_to_string(dir.join(format!("{name}-server.err"))).unwrap_or_default();
            let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join(" / ");
            return Err(format!("{name} server exited ({status}): {tail}"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{name} server did not listen on {port} within 30 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// supergateway: `--stdio CMD --port P` serves SSE; `--sse URL` is the stdio client.
pub fn supergateway(bin: &str, trivial: &str, dir: &Path) -> Result<Peer, String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let mut server = Proc(
        Command::new(bin)
            .args([
                "--stdio",
                trivial,
                "--port",
                &port.to_string(),
                "--logLevel",
                "none",
            ])
            .stdin(Stdio::null())
            .stdout(log(dir, "supergateway-server.log").map_err(|e| e.to_string())?)
            .stderr(log(dir, "supergateway-server.err").map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("supergateway: {e}"))?,
    );
    wait_for_port(&mut server, port, "supergateway", dir)?;
    let mut client = Editor::spawn(
        Command::new(bin)
            .args([
                "--sse",
                &format!("http://127.0.0.1:{port}/sse"),
                "--logLevel",
                "none",
            ])
            .stderr(log(dir, "supergateway-client.log").map_err(|e| e.to_string())?),
    )
    .map_err(|e| format!("supergateway client: {e}"))?;
    client
        .initialize()
        .map_err(|e| format!("supergateway client: {e}"))?;
    Ok(Peer { server, client })
}

/// mcp-proxy: `--port P -- CMD` serves SSE (and streamable HTTP); `URL/sse` is the stdio client.
pub fn mcp_proxy(bin: &str, trivial: &[&str], dir: &Path) -> Result<Peer, String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let mut server = Proc(
        Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--host",
                "127.0.0.1",
                "--log-level",
                "WARNING",
                "--",
            ])
            .args(trivial)
            .stdin(Stdio::null())
            .stdout(log(dir, "mcp-proxy-server.log").map_err(|e| e.to_string())?)
            .stderr(log(dir, "mcp-proxy-server.err").map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("mcp-proxy: {e}"))?,
    );
    wait_for_port(&mut server, port, "mcp-proxy", dir)?;
    let mut client = Editor::spawn(
        Command::new(bin)
            .args([
                "--log-level",
                "WARNING",
                &format!("http://127.0.0.1:{port}/sse"),
            ])
            .stderr(log(dir, "mcp-proxy-client.log").map_err(|e| e.to_string())?),
    )
    .map_err(|e| format!("mcp-proxy client: {e}"))?;
    client
        .initialize()
        .map_err(|e| format!("mcp-proxy client: {e}"))?;
    Ok(Peer { server, client })
}
