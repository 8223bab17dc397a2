//! The one integration-test binary of `exai-ipc`: real sockets and pipes, a fresh endpoint per
//! test (in a tempdir on Unix), no fixed names and no sleeps for synchronisation.

mod autostart;
mod endpoint;
mod helper;
mod io;
#[cfg(unix)]
mod other_user;
#[cfg(unix)]
mod places;
mod process;
#[cfg(unix)]
mod signal;
mod spawn;
mod support;
#[cfg(unix)]
mod unix_security;
#[cfg(windows)]
mod windows;
