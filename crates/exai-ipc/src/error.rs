//! The errors callers branch on when listening and connecting, and the one place where an OS
//! error from `connect` is classified (by `io::ErrorKind`, never by message text).

use std::io;

/// Why [`listen`](crate::listen) failed.
#[derive(thiserror::Error, Debug)]
pub enum ListenError {
    /// Another hub already owns this endpoint, at the place where this one would listen or at
    /// another place a client looks first or too.
    #[error(
        "an EXAI hub is already running on {endpoint}: use it, or stop it first (`exai status` shows it)"
    )]
    AlreadyRunning {
        /// Where the running hub is (its socket path or pipe name).
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
    /// Nothing is listening at any place the endpoint may be.
    #[error("no EXAI hub is listening on {}", .looked_at.join(" or "))]
    NotRunning {
        /// The endpoint, as displayed (the first place).
        endpoint: String,
        /// Every place that was looked at, in order.
        looked_at: Vec<String>,
    },
    /// Something is there, but it is not provably this user's hub: the directory is not ours
    /// or is writable by others, the socket file is not ours, or the process listening runs as
    /// another user. Nothing was sent to it, and later places were not tried.
    #[error(
        "refusing to connect to {path}: {reason}; this may be another user impersonating the EXAI hub"
    )]
    Untrusted {
        /// The socket or directory that failed the check.
        path: String,
        /// What is wrong with it.
        reason: String,
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
    /// Classifies a failed connect at one place; `None` means no hub is there.
    ///
    /// A missing socket or pipe (`ENOENT`, `ERROR_FILE_NOT_FOUND`) and a refused connection (a
    /// socket file left behind by a dead hub) both mean no hub; `EACCES`, `EPERM` and
    /// `ERROR_ACCESS_DENIED` all map to `PermissionDenied`.
    pub(crate) fn classify(place: &str, source: io::Error) -> Option<ConnectError> {
        let endpoint = place.to_owned();
        match source.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => None,
            io::ErrorKind::PermissionDenied => Some(ConnectError::PermissionDenied { endpoint }),
            _ => Some(ConnectError::Io { endpoint, source }),
        }
    }
}
