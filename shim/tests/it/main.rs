//! Integration tests: the real `exai-shim` binary against a fake hub on a real local socket.
//!
//! One test binary for the crate; each module covers one area of behaviour.

mod autostart;
mod bad_input;
mod lifecycle;
mod reconnect;
mod relay;
mod support;
