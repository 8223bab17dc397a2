mod hub;
mod jsonrpc;
#[path = "../support/mod.rs"]
mod support;
mod upstream;
