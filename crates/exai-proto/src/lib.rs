//! The wire between an `exai-shim` (or an `exai status` control client) and the hub.
//!
//! This crate owns the frame layout ([`codec`]), the control messages exchanged around the relay
//! ([`ClientMsg`], [`HubMsg`]) and [`PROTOCOL_VERSION`], and what both ends need to know about the
//! MCP lines relayed inside ([`jsonrpc`]: raw ids, error codes, a borrowed message view, answers).
//! It does no I/O: the codec is a pure transform over byte buffers that callers put on any
//! `AsyncRead`/`AsyncWrite` (a Unix socket, a named pipe, or `tokio::io::duplex` in tests).
//!
//! A connection looks like this:
//!
//! ```text
//! client → hub   Control(ClientMsg::Hello { protocol_version, role, pid, .. })
//! hub → client   Control(HubMsg::Welcome { session_id, .. })  or  Control(HubMsg::Rejected { reason })
//! both ways      Line(one MCP JSON-RPC message, no trailing newline)     (role = shim)
//! client → hub   Control(ClientMsg::Goodbye { .. })                      (clean exit)
//! hub → client   Control(HubMsg::Shutdown { reason })                    (hub stopping)
//! ```
//!
//! Tags are stable: never rename or reorder variants or frame kinds; add new ones.
//! Unknown control messages decode to an `Unknown` variant and unknown frame kinds to
//! [`Frame::Unknown`], so an older peer tolerates a newer one.
#![deny(missing_docs)]

pub mod codec;
pub mod jsonrpc;
mod message;
mod server;

pub use codec::{DecodeError, Frame, FrameCodec};
pub use message::{
    ClientMsg, Hello, HubMsg, Resume, Role, SessionId, SessionIdParseError, truncate_to,
};
pub use server::{ServerSpec, SharePolicy};

/// Version of the shim ↔ hub protocol, checked in the handshake.
///
/// Bump when a change would make an older peer misread a newer one: a new frame kind that must not
/// be skipped, a changed field meaning, or a changed frame layout.
/// Adding an optional field or a new control message does not need a bump.
pub const PROTOCOL_VERSION: u32 = 1;

/// Suffix of the default endpoint name; versioned so an incompatible hub never answers.
pub const ENDPOINT_BASENAME: &str = "exai-hub-v1";

/// Largest frame either side accepts by default (256 MiB).
///
/// Tool results of tens of MiB are normal (the daemon itself allows 32 MiB frames, and re-encoding
/// its JSON-in-text grows it); this bound only stops a corrupt length prefix from allocating wildly.
pub const DEFAULT_MAX_FRAME_LEN: usize = 256 << 20;

/// Largest frame accepted before the handshake (the `Hello`): whoever connects gets no more
/// than this before the hub knows who it is (256 KiB; a `Hello` within [`limits`] is smaller,
/// a wrapped server's launch spec with its environment included).
pub const MAX_HELLO_FRAME_LEN: usize = 256 << 10;

/// Largest control frame a client may send after the handshake (64 KiB).
pub const MAX_CONTROL_FRAME_LEN: usize = 64 << 10;

/// Size limits on what a peer puts in a [`Hello`], in bytes. The hub rejects a hello over any of
/// them with a message naming the field; the shim trims what it sends to fit.
pub mod limits {
    /// A window's label.
    pub const NAME: usize = 256;
    /// A working directory (Linux's `PATH_MAX`).
    pub const CWD: usize = 4096;
    /// The editor's `initialize` line replayed on resume.
    pub const INITIALIZE: usize = 64 << 10;
    /// A resume secret.
    pub const SECRET: usize = 128;
    /// Client names and versions the editor reports (longer ones are cut, not refused).
    pub const CLIENT_INFO: usize = 256;
    /// A wrapped server's launch spec ([`crate::ServerSpec::wire_len`]: command, args, cwd and
    /// the environment): 128 KiB.
    pub const SERVER: usize = 128 << 10;
}
