//! The EXAI hub: the part every editor window's shim connects to.
//!
//! It owns the local endpoint, one session per editor window (each an MCP server of its own), the
//! session registry, and the upstream (a pool of connections to the EXAI daemon).
//! Embedders (`exai hub`, the tray app, tests) call [`Hub::new`] and spawn the returned
//! [`HubTask`] on their own runtime; they watch and steer the hub through [`HubHandle`].
//!
//! This crate has no GUI dependency and never installs a tracing subscriber: it only emits, and
//! offers [`logring`] for an embedder that wants the recent records.
//! Turn on debug logs with `EXAI_LOG=exai_hub=debug`.
#![deny(missing_docs)]

pub mod api;
pub mod config;
pub mod upstream;
