//! One `tools/call` of a daemon window, running in a task of its own ([`CallTask`]) so a slow
//! tool never blocks the window's other requests: it asks the upstream, turns the daemon's
//! progress into the window's progress notifications, writes the one answer (nothing when the
//! editor cancelled), and reports the finished request to the registry.

use super::daemon::Out;
use super::record::{arguments_shown, request_record};
use crate::mcp;
use crate::registry::RegistryMsg;
use crate::upstream::{Progress, ToolCall, Upstream};
use exai_proto::SessionId;
use exai_proto::jsonrpc::{ErrorCode, Id};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One `tools/call` running in its own task.
pub(super) struct CallTask {
    pub(super) session: SessionId,
    pub(super) key: u64,
    pub(super) id: Id,
    pub(super) tool: String,
    pub(super) arguments: serde_json::Value,
    pub(super) progress_token: Option<String>,
    /// The version the call's result and progress are shaped for.
    pub(super) version: mcp::Version,
    pub(super) cancel: CancellationToken,
    pub(super) out: mpsc::UnboundedSender<Out>,
    pub(super) registry: mpsc::UnboundedSender<RegistryMsg>,
    pub(super) upstream: Arc<dyn Upstream>,
}

impl CallTask {
    /// Runs the call to its end: one answer (none when cancelled), then its record.
    pub(super) async fn run(self) {
        let started = Instant::now();
        let (progress_tx, mut progress_rx) = match &self.progress_token {
            Some(_) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let arguments = arguments_shown(&self.arguments);
        let mut call = self.upstream.call_tool(ToolCall {
            session: self.session,
            name: self.tool.clone(),
            arguments: self.arguments,
            progress: progress_tx,
        });
        let mut progress_count = 0u64;
        let outcome = loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break None,
                Some(update) = recv_opt(&mut progress_rx) => {
                    progress_count += 1;
                    let message = match &update {
                        Progress::Working { message } => message,
                        Progress::Chunk { text } => text,
                    };
                    if let Some(token) = &self.progress_token {
                        let line = mcp::progress_notification(
                            self.version,
                            token,
                            progress_count,
                            message,
                        );
                        let _ = self.out.send(Out::Line(line));
                    }
                }
                result = &mut call => break Some(result),
            }
        };
        drop(call);
        let mut rate_limited = Duration::ZERO;
        let mut from_cache = false;
        let (ok, error, cancelled) = match outcome {
            None => {
                tracing::debug!(id = %self.id, tool = %self.tool, "call cancelled by the editor");
                (false, None, true)
            }
            Some(Ok(result)) => {
                rate_limited = result.rate_limited;
                from_cache = result.from_cache;
                let error = result.is_error.then(|| first_text(&result.content));
                // The line in parts: a large text goes out from the daemon's frame, uncopied.
                let parts = mcp::call_tool_response_parts(
                    self.id.as_raw(),
                    self.version,
                    &result.content,
                    result.is_error,
                );
                drop(result.content);
                let _ = self.out.send(Out::Parts(parts));
                (!result.is_error, error, false)
            }
            Some(Err(err)) => {
                let message = err.to_string();
                let code = ErrorCode::from_code(err.jsonrpc_code());
                let line = mcp::error_response(self.id.as_raw(), code, &message);
                let _ = self.out.send(Out::Line(line));
                (false, Some(message), false)
            }
        };
        let _ = self.out.send(Out::Done {
            id: self.id,
            key: self.key,
        });
        let tool = Some(self.tool);
        let mut record = request_record(
            self.session,
            "tools/call",
            tool,
            started,
            ok || cancelled,
            error,
            cancelled,
        );
        record.rate_limited_ms = rate_limited.as_millis() as u64;
        record.arguments = Some(arguments);
        record.from_cache = from_cache;
        let _ = self.registry.send(RegistryMsg::Finished {
            key: self.key,
            record,
        });
    }
}

async fn recv_opt(rx: &mut Option<mpsc::UnboundedReceiver<Progress>>) -> Option<Progress> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn first_text(content: &crate::upstream::Content) -> String {
    content
        .first_text()
        .map(|text| text.chars().take(500).collect())
        .unwrap_or_else(|| "tool reported an error".to_owned())
}
