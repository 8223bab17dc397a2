//! The errors callers branch on when listening and connecting, and the one place where an OS
//! error from `connect` is classified (by `io::ErrorKind`, never by message text).

use std::io;

use crate::Endpoint;

/// Why [`listen`](crate::listen) failed.
#[derive(thiserror::Error, Debug)]
pub enum ListenError {
    /// Another hub already owns this endpoint.
    #[error(
        "an EXAI hub is already running on {endpoint}: use it, or stop it first (`exai status` shows it)"
    )]
    AlreadyRunning {
        /// The endpoint, as displayed.
        endpoint: String,
    },
    /// A directory or file on the way to the endpoint could let another user in.
    #[error("refusing to use {path}: {reason}")]
    Insecure {
        /// The offending directory or file.
        path: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An operating system call failed.
    #[error("{context}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl ListenError {
    /// Wraps an I/O error with a description of what we were doing.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> ListenError {
        ListenError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Why [`connect`](crate::connect) failed.
#[derive(thiserror::Error, Debug)]
pub enum ConnectError {
    /// Nothing is listening on the endpoint.
    #[error("no EXAI hub is listening on {endpoint}")]
    NotRunning {
        /// The endpoint, as displayed.
        endpoint: String,
    },
    /// Something is there, but this user may not open it.
    #[error(
        "permission denied on {endpoint}: it belongs to another user or its directory is private; check who runs the hub"
    )]
    PermissionDenied {
        /// The endpoint, as displayed.
        endpoint: String,
    },
    /// Any other operating system error.
    #[error("cannot connect to {endpoint}")]
    Io {
        /// The endpoint, as displayed.
        endpoint: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl ConnectError {
    /// Classifies a failed connect.
    ///
    /// A missing socket or pipe (`ENOENT`, `ERROR_FILE_NOT_FOUND`) and a refused connection (a
    /// socket file left behind by a dead hub) both mean no hub; `EACCES`, `EPERM` and
    /// `ERROR_ACCESS_DENIED` all map to `PermissionDenied`.
    pub(crate) fn classify(endpoint: &Endpoint, source: io::Error) -> ConnectError {
        let endpoint = endpoint.to_string();
        match source.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                ConnectError::NotRunning { endpoint }
            }
            io::ErrorKind::PermissionDenied => ConnectError::PermissionDenied { endpoint },
            _ => ConnectError::Io { endpoint, source },
        }
    }
}
