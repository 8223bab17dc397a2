//! Dialling the daemon: TCP connect, WebSocket upgrade, `hello`, `hello_ack`.
//!
//! Also puts WebSocket errors and close frames into words for the status and logs
//! (`connection refused (os error 111)`, `daemon closed the connection: 1008 ...`).
//! The token goes on the wire here, in the hello, and nowhere else.

use super::frames::{DaemonWs, Relabel};
use super::wire;
use crate::config::ExaiConfig;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::{IntoClientRequest as _, uri_mode};
use tokio_tungstenite::tungstenite::error::UrlError;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::stream::Mode;
use tokio_tungstenite::tungstenite::{self, Message};

/// A pooled connection's socket.
pub(crate) type Ws = DaemonWs<TcpStream>;

/// Largest message accepted from the daemon. The daemon itself allows 32 MiB frames; tungstenite's
/// default frame limit (16 MiB) would cut big tool results.
const MAX_MESSAGE: usize = 64 << 20;

/// Why a dial (TCP connect, WebSocket upgrade, hello) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DialFailure {
    /// The daemon rejected the token: a configuration error.
    Unauthorized(String),
    /// Anything else, in words.
    Other(String),
}

/// TCP connect, WebSocket upgrade, hello, hello_ack.
pub(crate) async fn dial(config: &ExaiConfig, session_id: &str) -> Result<Ws, DialFailure> {
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let mut ws = connect(config.url.as_str(), ws_config)
        .await
        .map_err(|err| DialFailure::Other(describe_ws_error(&err)))?;
    // An invalid session id makes the daemon close without a word, so never send one; the
    // generator cannot produce one, this only guards changes to it.
    let session_id = if wire::is_valid_session_id(session_id) {
        session_id
    } else {
        "exai-tray"
    };
    let hello = wire::hello(config.token.as_ref(), session_id);
    // If the send fails the daemon may already have said why in a close frame: read on.
    let send_error = ws.send(Message::text(hello)).await.err();
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let Ok(frame) = serde_json::from_str::<serde_json::Value>(text.as_str()) else {
                    return Err(DialFailure::Other(
                        "the daemon answered the hello with a frame that is not JSON".to_owned(),
                    ));
                };
                if frame.get("op").and_then(|op| op.as_str()) != Some("hello_ack") {
                    tracing::debug!("frame before hello_ack dropped");
                    continue;
                }
                if frame.get("ok").and_then(|ok| ok.as_bool()) == Some(true) {
                    return Ok(ws);
                }
                let error = frame
                    .get("error")
                    .and_then(|error| error.as_str())
                    .unwrap_or("no reason given");
                return Err(if error == "unauthorized" {
                    DialFailure::Unauthorized("token rejected (hello_ack: unauthorized)".to_owned())
                } else {
                    DialFailure::Other(format!("the daemon refused the hello: {error}"))
                });
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(match frame.as_ref().map(|frame| u16::from(frame.code)) {
                    Some(4003) => {
                        DialFailure::Unauthorized("token rejected (close 4003)".to_owned())
                    }
                    _ => DialFailure::Other(describe_close(frame.as_ref())),
                });
            }
            Some(Ok(_other)) => continue,
            Some(Err(err)) => {
                let err = send_error.as_ref().unwrap_or(&err);
                return Err(DialFailure::Other(describe_ws_error(err)));
            }
            None => {
                return Err(DialFailure::Other(
                    "the daemon closed the connection before hello_ack".to_owned(),
                ));
            }
        }
    }
}

/// TCP connect and WebSocket upgrade, as `tokio_tungstenite::connect_async_with_config` does
/// them (the same steps, checks and errors; Nagle off), but over [`Relabel`], so that text frames
/// are checked for UTF-8 by [`DaemonWs`] rather than by tungstenite (see `frames`).
async fn connect(url: &str, ws_config: WebSocketConfig) -> tungstenite::Result<Ws> {
    let request = url.into_client_request()?;
    let domain = request
        .uri()
        .host()
        .ok_or(tungstenite::Error::Url(UrlError::NoHostName))?
        .to_owned();
    let port = request
        .uri()
        .port_u16()
        .or_else(|| match request.uri().scheme_str() {
            Some("wss") => Some(443),
            Some("ws") => Some(80),
            _ => None,
        })
        .ok_or(tungstenite::Error::Url(UrlError::UnsupportedUrlScheme))?;
    let socket = TcpStream::connect(format!("{domain}:{port}"))
        .await
        .map_err(tungstenite::Error::Io)?;
    socket.set_nodelay(true)?;
    // The hub is built without TLS: `wss://` fails here as tokio-tungstenite says it. (With TLS,
    // `Relabel` would have to sit above it, on the plain frames.)
    if let Mode::Tls = uri_mode(request.uri())? {
        return Err(tungstenite::Error::Url(UrlError::TlsFeatureNotEnabled));
    }
    let (ws, _response) =
        tokio_tungstenite::client_async_with_config(request, Relabel::new(socket), Some(ws_config))
            .await?;
    Ok(DaemonWs::new(ws))
}

/// One dial outside the pool (the dashboard's Test button): connect, hello, `hello_ack`, then a
/// clean close. The caller bounds it in time.
pub(crate) async fn probe(config: &ExaiConfig) -> Result<(), DialFailure> {
    let mut ws = dial(config, "exai-hub-test").await?;
    let _ = ws.close(None).await;
    Ok(())
}

/// A close frame in words: `daemon closed the connection: 1008 Too many connections from your IP`.
pub(crate) fn describe_close(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(frame) if frame.reason.is_empty() => {
            format!("daemon closed the connection: {}", u16::from(frame.code))
        }
        Some(frame) => format!(
            "daemon closed the connection: {} {}",
            u16::from(frame.code),
            frame.reason.as_str()
        ),
        None => "daemon closed the connection".to_owned(),
    }
}

/// A WebSocket error in words, starting lowercase: `connection refused (os error 111)`.
pub(crate) fn describe_ws_error(err: &tungstenite::Error) -> String {
    let text = match err {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            "the connection closed".to_owned()
        }
        tungstenite::Error::Io(io) => io.to_string(),
        tungstenite::Error::Http(response) => format!(
            "the daemon answered HTTP {} instead of a WebSocket upgrade",
            response.status()
        ),
        other => other.to_string(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}
