//! Endpoint names: which name wins (flag, environment, default), what a valid bare name is, and
//! the facts that turn a name into the places a socket may be, or a pipe name.
//!
//! A bare name lands where the user's own facts put it, never where an environment variable
//! does: editors and launchers (the MCP SDKs pass only `HOME`, `LOGNAME`, `PATH`, `SHELL`,
//! `TERM` and `USER`; `env -i`, sudo, systemd units, SSH) differ in what they pass, and a hub
//! and a shim that read `XDG_RUNTIME_DIR` or `TMPDIR` could look in different places.
//! - Linux and other Unixes: `/run/user/<euid>/exai/<name>.sock` when `/run/user/<euid>` is a
//!   directory of ours closed to others (what logind makes and calls `XDG_RUNTIME_DIR`), then
//!   `/tmp/exai-<euid>/<name>.sock` (the literal `/tmp`).
//! - macOS: `confstr(_CS_DARWIN_USER_TEMP_DIR)/exai/<name>.sock`, then
//!   `/tmp/exai-<euid>/<name>.sock`.
//! - Windows: `\\.\pipe\<name>-<user>`, the user from `GetUserNameW`.
//!
//! The hub listens at the first place (after making sure no hub answers at another), and a
//! client connects at the first place where one answers. `EXAI_ENDPOINT` and `--endpoint`
//! override the name; one containing `/` is an explicit socket path, used alone.
//!
//! Resolution is a pure function of [`EndpointEnv`], so tests never mutate the process
//! environment. This module does no I/O beyond [`EndpointEnv::from_process`]; creating and
//! checking directories happens in the backend at listen and connect time.

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

    /// Every place [`connect`](crate::connect) looks, in order, as displayed. The first is
    /// where [`listen`](crate::listen) binds and what `Display` shows.
    pub fn candidates(&self) -> Vec<String> {
        self.addr.candidates()
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

/// The facts endpoint resolution depends on.
///
/// Apart from `EXAI_ENDPOINT` none of them comes from an environment variable, so every
/// process of the user computes the same places whoever launched it.
/// [`EndpointEnv::from_process`] reads them from the running process; tests and embedders can
/// fill the fields in themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointEnv {
    /// The value of `EXAI_ENDPOINT`, if set. An empty value counts as unset.
    pub exai_endpoint: Option<String>,
    /// The user's private runtime directory as the system provides it, probed rather than read
    /// from the environment: on Linux `/run/user/<euid>` when it is a directory owned by us and
    /// not writable by group or others; on macOS the per-user temp dir from
    /// `confstr(_CS_DARWIN_USER_TEMP_DIR)`; `None` otherwise (and always on Windows). Bare names
    /// first look in `<run_user_dir>/exai/<name>.sock`.
    pub run_user_dir: Option<PathBuf>,
    /// Where the fallback directory `exai-<user>` lives (Unix only): always `/tmp` from
    /// [`EndpointEnv::from_process`], never `TMPDIR`, which launchers set differently. A field so
    /// that tests can point it at a directory of their own.
    pub shared_tmp: PathBuf,
    /// Who the endpoint belongs to: the effective uid in decimal on Unix, the user name from
    /// `GetUserNameW` on Windows (sanitised before it goes into a pipe name).
    pub user: String,
}

impl EndpointEnv {
    /// Reads the facts of the running process: `EXAI_ENDPOINT`, the probed runtime directory
    /// and the user. `XDG_RUNTIME_DIR`, `TMPDIR` and `USERNAME` are deliberately not read.
    pub fn from_process() -> Result<EndpointEnv, EndpointError> {
        let exai_endpoint = std::env::var(ENDPOINT_ENV).ok().filter(|v| !v.is_empty());
        Ok(EndpointEnv {
            exai_endpoint,
            run_user_dir: backend::run_user_dir(),
            shared_tmp: PathBuf::from(backend::SHARED_TMP),
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
    /// The shared temporary directory of an [`EndpointEnv`] is not absolute.
    #[error("no usable directory for the endpoint: the shared temp dir {temp_dir} is not absolute")]
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
