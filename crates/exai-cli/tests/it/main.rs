//! End-to-end tests: real `exai-shim` processes driven by the official Rust MCP SDK (`rmcp`),
//! a real hub (in process, or the `exai hub` binary when it must be killed), and a fake EXAI
//! daemon that behaves like the real one.

mod autostart;
mod burst;
mod cli;
mod connect;
mod dashboard;
mod faults;
mod jsonrpc;
mod launcher;
mod mcp;
mod resilience;
mod servers;
mod support;
mod tidy;
mod wine;
