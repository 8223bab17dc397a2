//! Tool calls (`call_tool` and the legacy `tool_call`) on one connection.
//!
//! A call is answered, in this order of precedence, from the global in-flight table (any call
//! still running, or stuck, under the same request id), as a bare `TOOL_NOT_FOUND`, from the
//! result cache, or by running the tool in its own task while this connection relays progress
//! and chunks. The connection reads nothing else until the call is answered, which is what makes
//! the daemon strictly serial.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::session::{PeerGone, Session, bare_error, id_text};
use crate::state::{CallStart, timestamp};
use crate::tools::{self, ToolEvent};

/// How a final `call_tool_res` came about, for its optional flag.
#[derive(Clone, Copy, PartialEq)]
enum Origin {
    Run,
    Cache,
    Inflight,
}

impl Session {
    /// Handles one `call_tool` or `tool_call` frame to completion.
    pub(crate) async fn handle_call(&mut self, message: &Value, op: &str) -> Result<(), PeerGone> {
        self.shared.update(|stats| stats.calls += 1);
        let request_id = message
            .get("request_id")
            .and_then(id_text)
            .unwrap_or_else(|| "unknown".to_owned());
        self.shared.record_request_id(&request_id, true);
        let name_field = if op == "tool_call" {
            message
                .get("tool")
                .and_then(|tool| tool.get("name"))
                .or_else(|| message.get("name"))
        } else {
            message.get("name")
        };
        let Some(raw_name) = name_field
            .and_then(Value::as_str)
            .filter(|name| !name.trim().is_empty())
        else {
            // The only call error that carries its request id.
            let error = json!({"op": "call_tool_res", "request_id": request_id, "error": {
                "code": "INVALID_REQUEST",
                "message": "Invalid message: call_tool requires 'name' (non-empty string)",
            }});
            self.shared.update(|stats| stats.results_sent += 1);
            return self.outbox.send_json(&error).await;
        };
        let name = tools::strip_suffix(raw_name).to_owned();
        let arguments = match message.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(arguments) => arguments.clone(),
        };
        self.calls_here += 1;
        let calls_here = self.calls_here;
        self.shared.update(|stats| {
            stats.max_running_calls_per_connection =
                stats.max_running_calls_per_connection.max(calls_here);
        });
        let answered = self.answer_call(request_id, name, arguments).await;
        self.calls_here -= 1;
        answered
    }

    async fn answer_call(
        &mut self,
        request_id: String,
        name: String,
        arguments: Value,
    ) -> Result<(), PeerGone> {
        let received_at = Instant::now();
        match self.shared.begin_call(&request_id, &name, &arguments) {
            CallStart::Inflight(mut slot) => {
                // A stuck id never resolves: this connection then hangs forever, as the real
                // daemon's does. Only the peer closing (or the test daemon going) ends it.
                // The guard is cloned out at once: holding it across an await is not `Send`.
                let resolved = slot
                    .wait_for(Option::is_some)
                    .await
                    .map(|result| result.clone());
                let Ok(Some(text)) = resolved else {
                    return std::future::pending().await;
                };
                self.send_final(&request_id, &text, Origin::Inflight, received_at.elapsed())
                    .await
            }
            CallStart::NotFound => {
                let error = bare_error("TOOL_NOT_FOUND", &format!("Tool not found: {name}"));
                self.outbox.send_json(&error).await
            }
            CallStart::Cached(text) => {
                self.send_final(&request_id, &text, Origin::Cache, received_at.elapsed())
                    .await
            }
            CallStart::Run => self.run_call(request_id, name, arguments).await,
        }
    }

    /// Runs the tool in its own task (it outlives this connection) and relays what it emits.
    async fn run_call(
        &mut self,
        request_id: String,
        name: String,
        arguments: Value,
    ) -> Result<(), PeerGone> {
        let received_at = Instant::now();
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let (done_tx, done) = oneshot::channel::<Result<String, ()>>();
        let shared = self.shared.clone();
        let (task_id, task_name) = (request_id.clone(), name.clone());
        self.shared.spawn_tool(async move {
            // The daemon's global cap: later calls queue here without telling anyone.
            let _permit = shared.tool_permits.clone().acquire_owned().await;
            shared.update(|stats| stats.running_calls += 1);
            let result = tools::run_tool(&shared, &task_name, &arguments, &events_tx).await;
            shared.update(|stats| stats.running_calls = stats.running_calls.saturating_sub(1));
            if let Ok(text) = &result {
                shared.finish_call(&task_id, &task_name, &arguments, text);
            }
            // A failure leaves the id in the in-flight table forever: the stuck-id quirk.
            let _ = done_tx.send(result);
        });
        tokio::pin!(done);
        let outcome = loop {
            tokio::select! {
                biased;
                Some(event) = events.recv() => self.relay(&request_id, event).await?,
                outcome = &mut done => break outcome,
            }
        };
        // Events sent just before the result may still be queued; they go first.
        while let Ok(event) = events.try_recv() {
            self.relay(&request_id, event).await?;
        }
        match outcome {
            Ok(Ok(text)) => {
                if self.shared.config.send_stream_complete {
                    let complete = json!({"op": "stream_complete", "request_id": request_id,
                                          "timestamp": timestamp()});
                    self.outbox.send_json(&complete).await?;
                }
                let elapsed = received_at.elapsed();
                self.send_final(&request_id, &text, Origin::Run, elapsed)
                    .await?;
                if self.shared.config.duplicate_final {
                    self.send_final(&request_id, &text, Origin::Run, elapsed)
                        .await?;
                }
                Ok(())
            }
            Ok(Err(())) => {
                let error = bare_error("INTERNAL_ERROR", &format!("Tool execution failed: {name}"));
                self.outbox.send_json(&error).await
            }
            // The tool task was aborted: the test daemon is going away.
            Err(_aborted) => Err(PeerGone),
        }
    }

    async fn relay(&self, request_id: &str, event: ToolEvent) -> Result<(), PeerGone> {
        let frame = match event {
            ToolEvent::Progress => json!({"op": "progress", "request_id": request_id,
                                          "message": "Tool execution in progress..."}),
            ToolEvent::Chunk(chunk) => {
                json!({"op": "stream_chunk", "request_id": request_id, "chunk": chunk})
            }
        };
        self.outbox.send_json(&frame).await
    }

    async fn send_final(
        &self,
        request_id: &str,
        text: &str,
        origin: Origin,
        elapsed: Duration,
    ) -> Result<(), PeerGone> {
        let total_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let mut frame = json!({"op": "call_tool_res", "request_id": request_id, "outputs": [{
            "type": "text",
            "text": text,
            "metadata": {"latency_metrics": {"total_ms": total_ms, "queue_ms": 0}},
        }]});
        match origin {
            Origin::Run => {}
            Origin::Cache => frame["from_cache"] = json!(true),
            Origin::Inflight => frame["from_inflight"] = json!(true),
        }
        self.outbox.send_json(&frame).await?;
        self.shared.update(|stats| stats.results_sent += 1);
        Ok(())
    }
}
