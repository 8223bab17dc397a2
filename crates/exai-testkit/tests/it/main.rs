//! Integration tests of the fake daemon, driven by a raw WebSocket client.
//!
//! Each module asserts one group of the real daemon's quirks, as `exai-daemon-protocol.md`
//! describes them. One test binary for the crate, per the style guide.

mod calls;
mod handshake;
mod lifecycle;
mod limits;
mod requests;
mod support;
