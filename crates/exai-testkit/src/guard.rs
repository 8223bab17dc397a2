//! The one failure guard every test binary uses: it turns a hang into a failure that names what
//! was awaited and where. It is never a synchronisation device: tests wait on events (a frame, a
//! line, a stats change, a watch channel), and the guard only bounds how long.

use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::time::Duration;

/// How long any single wait may take before the test fails.
pub const GUARD: Duration = Duration::from_secs(20);

/// Awaits `future`, failing the test with `what` and the caller's location after [`GUARD`].
#[track_caller]
pub fn guard<F: IntoFuture>(what: &'static str, future: F) -> impl Future<Output = F::Output> {
    guard_at(what, Location::caller(), GUARD, future)
}

/// [`guard`] with a longer limit, for work that is slow by design (paced to a rate limit).
#[track_caller]
pub fn guard_for<F: IntoFuture>(
    what: &'static str,
    limit: Duration,
    future: F,
) -> impl Future<Output = F::Output> {
    guard_at(what, Location::caller(), limit, future)
}

/// [`guard_for`] reporting `caller` as the place that waited (for helpers that take the
/// location of their own caller with `#[track_caller]`).
pub async fn guard_at<F: IntoFuture>(
    what: &'static str,
    caller: &'static Location<'static>,
    limit: Duration,
    future: F,
) -> F::Output {
    match tokio::time::timeout(limit, future.into_future()).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {limit:?} waiting for {what} (at {caller})"),
    }
}
