//! Endpoint names: which name wins (flag, environment, default), what a valid bare name is, and
//! the environment facts that turn a name into a socket path or pipe name.
//!
//! Resolution is a pure function of [`EndpointEnv`], so tests never mutate the process
//! environment. This module does no I/O beyond [`EndpointEnv::from_process`]; creating and
//! checking directories happens in the backend at listen time.

use std::fmt;
use std::path::PathBuf;

use crate::backend;

/// The default endpoint name. The version suffix changes when the local protocol does, so an old
/// shim never talks to a new hub by accident.
pub const DEFAULT_NAME: &str = "exai-hub-v1";

/// The environment variable that names the endpoint when no explicit name is given.
pub const ENDPOINT_ENV: &str = "EXAI_ENDPOINT";

/// The longest bare name we accept. It keeps socket paths well under the Unix limit.
const MAX_BARE_NAME_LEN: usize = 64;

/// A resolved per-user endpoint: a socket path on Unix, a pipe name on Windows.
///
/// `Display` shows the human-readable path or pipe name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    addr: backend::EndpointAddr,
}

impl Endpoint {
    /// Resolves the endpoint: `explicit` (a `--endpoint` flag) wins, then the `EXAI_ENDPOINT`
    /// environment variable, then [`DEFAULT_NAME`].
    pub fn resolve(explicit: Option<&str>) -> Result<Endpoint, EndpointError> {
        Endpoint::resolve_with(explicit, &EndpointEnv::from_process()?)
    }

    /// Resolves `name_or_path` without looking at `EXAI_ENDPOINT`.
    ///
    /// A bare name still lands in the platform's per-user location (see [`EndpointEnv`]); a Unix
    /// path containing `/` or a full `\\.\pipe\` name is used as is.
    pub fn named(name_or_path: &str) -> Result<Endpoint, EndpointError> {
        let mut env = EndpointEnv::from_process()?;
        env.exai_endpoint = None;
        Endpoint::resolve_with(Some(name_or_path), &env)
    }

    /// The pure form of [`Endpoint::resolve`]: the same rules, with the environment passed in.
    pub fn resolve_with(
        explicit: Option<&str>,
        env: &EndpointEnv,
    ) -> Result<Endpoint, EndpointError> {
        let from_env = env.exai_endpoint.as_deref().filter(|name| !name.is_empty());
        let name = explicit.or(from_env).unwrap_or(DEFAULT_NAME);
        let addr = backend::EndpointAddr::resolve(name, env)?;
        Ok(Endpoint { addr })
    }

    pub(crate) fn addr(&self) -> &backend::EndpointAddr {
        &self.addr
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.addr, f)
    }
}

/// The facts about the environment that endpoint resolution depends on.
///
/// [`EndpointEnv::from_process`] reads them from the running process; tests and embedders can
/// fill the fields in themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointEnv {
    /// The value of `EXAI_ENDPOINT`, if set. An empty value counts as unset.
    pub exai_endpoint: Option<String>,
    /// A usable `XDG_RUNTIME_DIR` (Unix only): set, absolute and an existing directory.
    /// Bare names then live in `<runtime_dir>/exai/<name>.sock`.
    pub runtime_dir: Option<PathBuf>,
    /// The temporary directory. On Unix, without a runtime dir, bare names live in
    /// `<temp_dir>/exai-<user>/<name>.sock`.
    pub temp_dir: PathBuf,
    /// Who the endpoint belongs to: the effective uid in decimal on Unix, the user name on
    /// Windows (sanitised before it goes into a pipe name).
    pub user: String,
}

impl EndpointEnv {
    /// Reads the environment of the running process.
    pub fn from_process() -> Result<EndpointEnv, EndpointError> {
        let exai_endpoint = std::env::var(ENDPOINT_ENV).ok().filter(|v| !v.is_empty());
        Ok(EndpointEnv {
            exai_endpoint,
            runtime_dir: backend::runtime_dir_from_process(),
            temp_dir: std::env::temp_dir(),
            user: backend::current_user()?,
        })
    }
}

/// Why an endpoint name could not be resolved.
#[derive(thiserror::Error, Debug)]
pub enum EndpointError {
    /// The name is not a valid bare name, socket path or pipe name.
    #[error("invalid endpoint name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The resulting socket path does not fit in a Unix socket address.
    #[error(
        "socket path {path} is {len} bytes, over the {max}-byte limit for unix sockets: pass a shorter path with --endpoint"
    )]
    PathTooLong {
        /// The path that is too long.
        path: String,
        /// Its length in bytes.
        len: usize,
        /// The longest path the platform accepts.
        max: usize,
    },
    /// Neither a runtime directory nor an absolute temporary directory is available.
    #[error(
        "no usable directory for the endpoint: the temp dir {temp_dir} is not absolute; set TMPDIR or XDG_RUNTIME_DIR to an absolute path"
    )]
    NoUsableDir {
        /// The temporary directory that was rejected.
        temp_dir: String,
    },
    /// The current user could not be determined.
    #[error("cannot tell who the current user is: {reason}")]
    UnknownUser {
        /// What went wrong.
        reason: String,
    },
}

/// Checks a bare endpoint name (one that is neither a path nor a full pipe name).
///
/// Bare names are limited to ASCII letters, digits, `-`, `_` and `.`, do not start with `.`,
/// and are at most 64 bytes, so they are safe in both file names and pipe names.
pub(crate) fn check_bare_name(name: &str) -> Result<(), EndpointError> {
    let invalid = |reason: &str| EndpointError::InvalidName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.len() > MAX_BARE_NAME_LEN {
        return Err(invalid("it is longer than 64 bytes"));
    }
    if name.starts_with('.') {
        return Err(invalid("it starts with '.'"));
    }
    let is_allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !name.chars().all(is_allowed) {
        return Err(invalid(
            "use only ASCII letters, digits, '-', '_' and '.', or pass a full path",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_checked() {
        assert!(check_bare_name("exai-hub-v1").is_ok());
        assert!(check_bare_name("a.b_c-1").is_ok());
        for bad in ["", ".hidden", "a b", "a\\b", "naïve", &"x".repeat(65)] {
            assert!(check_bare_name(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
