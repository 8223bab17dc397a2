//! Reaching the hub: one connect-and-handshake attempt, the backoff between attempts, and the
//! reasons the hub can be unavailable (with the message each one puts in front of the user).
//!
//! This module never loops on its own: the relay owns the retry schedule, so it can keep
//! answering the editor while attempts run.

use exai_ipc::{ConnectError, Endpoint};
use exai_proto::{ClientMsg, Frame, FrameCodec, Hello, HubMsg, SessionId};
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;
use tokio_util::codec::Framed;

/// The framed connection to the hub.
pub type HubConn = Framed<exai_ipc::Stream, FrameCodec>;

/// A pending attempt, polled by the relay loop.
pub type Attempt = Pin<Box<dyn Future<Output = Result<Connected, Unavailable>>>>;

/// A connection that completed the handshake.
pub struct Connected {
    /// The framed stream, positioned right after `Welcome`.
    pub conn: HubConn,
    /// The session id the hub gave.
    pub session_id: SessionId,
    /// The secret that lets only this shim resume the session.
    pub resume_secret: Option<String>,
}

/// Why the hub cannot be used right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The first attempt has not finished yet.
    Pending,
    /// Nothing listens at any place the endpoint may be.
    NotRunning,
    /// The endpoint exists but this user may not connect to it.
    PermissionDenied,
    /// Something is there that is not provably this user's hub; the text says what and where.
    Untrusted(String),
    /// The hub answered the handshake with `Rejected`.
    Rejected(String),
    /// Connecting failed for another reason.
    Io(String),
    /// The hub accepted the connection but did not complete the handshake.
    Handshake(String),
    /// The connection broke mid-session.
    Lost(String),
    /// The hub said it is shutting down.
    Stopped(String),
    /// No hub answered and starting one failed; the text says why and where its log is.
    Autostart(String),
}

impl Unavailable {
    /// The error message a request gets while the hub is in this state.
    pub fn message(&self, endpoint: &Endpoint) -> String {
        const START: &str = "start it with `exai hub` or the tray app";
        const RETRY: &str = "the shim is reconnecting, retry the request";
        match self {
            Unavailable::Pending => {
                format!("EXAI hub did not answer yet (endpoint {endpoint}): {RETRY}")
            }
            Unavailable::NotRunning => {
                // Every place the shim looked, so a user can see where a hub was expected.
                let also: Vec<String> = endpoint.candidates().into_iter().skip(1).collect();
                if also.is_empty() {
                    format!("EXAI hub is not running (endpoint {endpoint}): {START}")
                } else {
                    format!(
                        "EXAI hub is not running (endpoint {endpoint}; also looked at {}): {START}",
                        also.join(", ")
                    )
                }
            }
            Unavailable::Untrusted(error) => format!(
                "EXAI hub endpoint not trusted, nothing was sent: {error}; check who made it, \
                 or set EXAI_ENDPOINT or --endpoint to a socket path in a directory of yours"
            ),
            Unavailable::PermissionDenied => format!(
                "permission denied connecting to the EXAI hub (endpoint {endpoint}): it belongs \
                 to another user or has wrong permissions; set EXAI_ENDPOINT or --endpoint to \
                 your own hub, or {START}"
            ),
            Unavailable::Rejected(reason) => {
                format!("EXAI hub rejected this shim (endpoint {endpoint}): {reason}")
            }
            Unavailable::Io(error) => {
                format!("cannot connect to the EXAI hub (endpoint {endpoint}): {error}; {START}")
            }
            Unavailable::Handshake(error) => format!(
                "EXAI hub did not complete the handshake (endpoint {endpoint}): {error}; {RETRY}"
            ),
            Unavailable::Lost(error) => {
                format!("EXAI hub went away (endpoint {endpoint}): {error}; {RETRY}")
            }
            Unavailable::Stopped(reason) => {
                format!("EXAI hub stopped (endpoint {endpoint}): {reason}; {RETRY}")
            }
            Unavailable::Autostart(reason) => {
                format!("EXAI hub is not running (endpoint {endpoint}): {reason}")
            }
        }
    }

    /// Whether two states differ enough to log the change.
    pub fn same_kind(&self, other: &Unavailable) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// Growing delays between attempts: doubling from 10 ms up to a cap.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// The first delay.
    const START: Duration = Duration::from_millis(10);

    /// A schedule that starts at 10 ms and never exceeds `max`.
    pub fn new(max: Duration) -> Backoff {
        Backoff {
            next: Backoff::START.min(max),
            max,
        }
    }

    /// Changes the cap, keeping the current position.
    pub fn set_max(&mut self, max: Duration) {
        self.max = max;
        self.next = self.next.min(max);
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

/// Starts one attempt after `delay`: connect, send `hello`, wait for `Welcome`.
///
/// The handshake is bounded by `handshake_timeout` so a hub that accepts but never answers does
/// not stall the shim.
pub fn attempt(
    delay: Duration,
    endpoint: Rc<Endpoint>,
    hello: Hello,
    handshake_timeout: Duration,
) -> Attempt {
    Box::pin(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let stream = exai_ipc::connect(&endpoint)
            .await
            .map_err(|error| match error {
                ConnectError::NotRunning { .. } => Unavailable::NotRunning,
                ConnectError::PermissionDenied { .. } => Unavailable::PermissionDenied,
                error @ ConnectError::Untrusted { .. } => Unavailable::Untrusted(error.to_string()),
                ConnectError::Io { source, .. } => Unavailable::Io(source.to_string()),
            })?;
        let conn = Framed::new(stream, FrameCodec::default());
        match tokio::time::timeout(handshake_timeout, handshake(conn, hello)).await {
            Ok(result) => result,
            Err(_) => Err(Unavailable::Handshake(format!(
                "no answer to Hello within {:.1} s",
                handshake_timeout.as_secs_f64()
            ))),
        }
    })
}

/// Sends `Hello` and reads frames until the hub decides.
async fn handshake(mut conn: HubConn, hello: Hello) -> Result<Connected, Unavailable> {
    conn.send(Frame::control(&ClientMsg::Hello(hello)))
        .await
        .map_err(|error| Unavailable::Handshake(format!("sending Hello failed: {error}")))?;
    loop {
        let frame = match conn.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(error)) => {
                return Err(Unavailable::Handshake(format!(
                    "reading the answer: {error}"
                )));
            }
            None => {
                return Err(Unavailable::Handshake(
                    "the hub closed the connection before answering Hello".to_owned(),
                ));
            }
        };
        let payload = match frame {
            Frame::Control(payload) => payload,
            Frame::Line(_) => {
                return Err(Unavailable::Handshake(
                    "the hub sent an MCP line before Welcome".to_owned(),
                ));
            }
            Frame::Unknown { kind } => {
                tracing::debug!(
                    kind,
                    "skipping a frame of unknown kind during the handshake"
                );
                continue;
            }
        };
        match Frame::decode_control::<HubMsg>(&payload) {
            Ok(HubMsg::Welcome {
                session_id,
                hub_version,
                resume_secret,
            }) => {
                tracing::debug!(session = %session_id, hub_version, "welcomed by the hub");
                return Ok(Connected {
                    conn,
                    session_id,
                    resume_secret,
                });
            }
            Ok(HubMsg::Rejected { reason }) => return Err(Unavailable::Rejected(reason)),
            Ok(HubMsg::Shutdown { reason }) => return Err(Unavailable::Stopped(reason)),
            Ok(other) => tracing::debug!(?other, "skipping a control message during the handshake"),
            Err(error) => {
                return Err(Unavailable::Handshake(format!("malformed answer: {error}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_running_names_every_place_the_shim_looked() {
        let env = exai_ipc::EndpointEnv {
            exai_endpoint: None,
            run_user_dir: Some("/run/user/1000".into()),
            shared_tmp: "/tmp".into(),
            user: "1000".to_owned(),
        };
        let endpoint = Endpoint::resolve_with(Some("hub"), &env).expect("endpoint");
        let message = Unavailable::NotRunning.message(&endpoint);
        assert!(
            message.starts_with(&format!("EXAI hub is not running (endpoint {endpoint}")),
            "{message}"
        );
        assert!(message.ends_with("start it with `exai hub` or the tray app"));
        // On Unix two places (/run/user first, then /tmp); on Windows the one pipe.
        for place in endpoint.candidates() {
            assert!(message.contains(&place), "{place} missing from {message}");
        }
    }
}
