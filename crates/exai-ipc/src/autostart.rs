//! [`AutostartLock`]: the cross-process lock that lets only one process at a time start a hub
//! for an endpoint, so that two editors opening at once do not start two hubs.
//!
//! It is a try-lock only: a process that finds it held never waits on it, it keeps trying to
//! connect instead, because whoever holds it is starting the hub it wants.

use std::io;

use crate::{Endpoint, backend};

/// Held while this process checks for a hub on an endpoint, starts one, and waits for it to
/// answer. Dropping it releases the lock; so does this process dying, so it is never stale, and
/// the program started while holding it does not inherit it.
///
/// Unix: an exclusive `flock` on `<socket>.autostart.lock`, beside the socket (the private
/// directory is created and checked first, as for a listener). Windows: the named mutex
/// `Global\exai-autostart-<pipe>`, with the pipe's security descriptor.
#[derive(Debug)]
pub struct AutostartLock {
    _inner: backend::AutostartLock,
}

impl AutostartLock {
    /// Takes the lock for `endpoint` without waiting.
    ///
    /// Fails with [`io::ErrorKind::WouldBlock`] while another process (or another
    /// `AutostartLock` in this one) holds it.
    pub fn try_acquire(endpoint: &Endpoint) -> io::Result<AutostartLock> {
        let inner = backend::AutostartLock::try_acquire(endpoint.addr())?;
        Ok(AutostartLock { _inner: inner })
    }
}
