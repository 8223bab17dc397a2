//! The editor's side of a stdio MCP server: a child process, a line out, a line back.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"exai-bench","version":"0"}}}"#;
pub const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// A child process killed (by its own handle) when dropped.
pub struct Proc(pub Child);

impl Proc {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Editor {
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub line: Vec<u8>,
    out: Vec<u8>,
    child: Proc,
}

impl Editor {
    pub fn spawn(command: &mut Command) -> std::io::Result<Editor> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = BufReader::with_capacity(1 << 20, child.stdout.take().expect("piped stdout"));
        Ok(Editor {
            stdin,
            stdout,
            line: Vec::new(),
            out: Vec::new(),
            child: Proc(child),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    pub fn send(&mut self, line: &str) -> std::io::Result<()> {
        self.out.clear();
        self.out.extend_from_slice(line.as_bytes());
        self.out.push(b'\n');
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("stdin closed"))?;
        stdin.write_all(&self.out)
    }

    /// Reads one line into `self.line` (without the newline).
    pub fn recv(&mut self) -> std::io::Result<&[u8]> {
        self.line.clear();
        if self.stdout.read_until(b'\n', &mut self.line)? == 0 {
            return Err(std::io::Error::other("the server closed its stdout"));
        }
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
        }
        Ok(&self.line)
    }

    /// Sends `line` and returns the next line back with the round trip time.
    pub fn ask(&mut self, line: &str) -> std::io::Result<Duration> {
        let started = Instant::now();
        self.send(line)?;
        self.recv()?;
        Ok(started.elapsed())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.line[..self.line.len().min(400)]).into_owned()
    }

    /// The MCP handshake; fails unless the answer carries a protocol version.
    pub fn initialize(&mut self) -> std::io::Result<()> {
        self.ask(INITIALIZE)?;
        if !crate::ws::contains(&self.line, b"protocolVersion") {
            return Err(std::io::Error::other(format!(
                "initialize answered {}",
                self.text()
            )));
        }
        self.send(INITIALIZED)
    }

    /// Closes stdin (the editor went away) and waits for the process.
    pub fn close(mut self) {
        self.stdin = None;
        let _ = self.child.0.wait();
    }
}

pub fn ping(id: u64) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#)
}

pub fn echo(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"echo {id}"}}}}}}"#
    )
}
