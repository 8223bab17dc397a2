//! The floor: a trivial stdio MCP server that answers `initialize`, `ping`, `tools/list` and
//! `tools/call echo` at once. Run as `relay --role=trivial`; the direct path and the peers
//! (supergateway, mcp-proxy) wrap this same program.
//!
//! Synchronous std I/O on dup'ed descriptors: one read buffer, and the answers are flushed when
//! no more input is waiting, so a pipelining client gets batched writes as from any good server.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::fd::AsFd;

pub fn serve() -> std::io::Result<()> {
    let stdin = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let stdout = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    let mut input = BufReader::with_capacity(64 << 10, stdin);
    let mut output = BufWriter::with_capacity(64 << 10, stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return output.flush();
        }
        if let Some(answer) = answer(line.trim_end()) {
            output.write_all(answer.as_bytes())?;
            output.write_all(b"\n")?;
        }
        if input.buffer().is_empty() {
            output.flush()?;
        }
    }
}

fn answer(line: &str) -> Option<String> {
    let request: Value = serde_json::from_str(line).ok()?;
    // Notifications (no id) and answers to our own requests get nothing back.
    let id = request.get("id")?;
    let method = request.get("method").and_then(Value::as_str)?;
    let result = match method {
        "initialize" => {
            let version = request
                .pointer("/params/protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("2025-06-18");
            json!({
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "bench-trivial", "version": "0"},
            })
        }
        "ping" => json!({}),
        "tools/list" => json!({"tools": [{
            "name": "echo",
            "description": "Returns `text` at once.",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        }]}),
        "tools/call" => {
            let text = request
                .pointer("/params/arguments/text")
                .and_then(Value::as_str)
                .unwrap_or("");
            json!({"content": [{"type": "text", "text": text}], "isError": false})
        }
        _ => {
            return Some(
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}})
                    .to_string(),
            );
        }
    };
    Some(json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string())
}
