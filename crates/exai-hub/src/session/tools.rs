//! A daemon window's tools: `tools/list` from the upstream's catalog (its JSON kept per catalog
//! generation; the first list waited for while the upstream is still connecting), the
//! `list_changed` notification when the catalog changes, and `tools/call`, which registers the
//! call in flight and starts its [`CallTask`].

use super::call::CallTask;
use super::daemon::{InFlight, Out, Session};
use super::record::request_record;
use crate::mcp;
use crate::registry::RegistryMsg;
use crate::upstream::{ToolCatalog, UpstreamError};
use bytes::Bytes;
use exai_proto::jsonrpc::{ErrorCode, RawId};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

/// How long `tools/list` waits for the first catalog while the upstream is still connecting.
const FIRST_CATALOG_WAIT: Duration = Duration::from_secs(10);

impl Session {
    /// The `list_changed` line for this window when the catalog changed since it last saw it.
    pub(super) fn tools_changed(&mut self) -> Option<Bytes> {
        let generation = self.tools.borrow_and_update().as_ref()?.generation;
        let previous = self.seen_generation.replace(generation);
        // Only windows that did the handshake take unsolicited notifications: in 2026-07-28 they
        // travel on a `subscriptions/listen` stream only, which the hub does not offer.
        (self.initialized && previous.is_some_and(|seen| seen != generation))
            .then(mcp::tools_list_changed)
    }

    /// Answers `tools/list`: at once from the catalog, or, before the first catalog, from a task
    /// that waits for it.
    pub(super) fn tools_list(
        &mut self,
        id: RawId<'_>,
        version: mcp::Version,
        started: Instant,
    ) -> Option<Bytes> {
        let catalog = self.tools.borrow().clone();
        if let Some(catalog) = catalog {
            let json = self.tools_json(&catalog);
            self.finished("tools/list", None, started, None);
            return Some(mcp::tools_list_response(id, version, &json));
        }
        // No catalog yet: wait for the first one while the upstream is still connecting, or fail
        // at once with the upstream's own words.
        let id = id.to_id();
        let mut tools = self.tools.clone();
        let status = self.ctx.upstream.status();
        let out = self.out_tx.clone();
        let registry = self.ctx.registry.clone();
        let session = self.id;
        let url = status.borrow().url.clone();
        tokio::spawn(
            async move {
                let waited = tokio::time::timeout(FIRST_CATALOG_WAIT, async {
                    let mut status = status;
                    loop {
                        if let Some(catalog) = tools.borrow_and_update().clone() {
                            return Ok(catalog);
                        }
                        let state = status.borrow_and_update().clone();
                        match state.state {
                            crate::api::UpstreamState::Connecting
                            | crate::api::UpstreamState::Connected => {}
                            crate::api::UpstreamState::Unauthorized => {
                                return Err(UpstreamError::Unauthorized { url: state.url });
                            }
                            crate::api::UpstreamState::Down => {
                                return Err(UpstreamError::Unavailable {
                                    url: state.url,
                                    cause: state
                                        .last_error
                                        .unwrap_or_else(|| "not connected".to_owned()),
                                });
                            }
                        }
                        tokio::select! {
                            _ = tools.changed() => {}
                            _ = status.changed() => {}
                        }
                    }
                })
                .await
                .unwrap_or_else(|_| {
                    Err(UpstreamError::Unavailable {
                        url,
                        cause: "no tool list within 10 s".to_owned(),
                    })
                });
                let (line, error) = match waited {
                    Ok(catalog) => {
                        let json = serialize_tools(&catalog);
                        (mcp::tools_list_response(id.as_raw(), version, &json), None)
                    }
                    Err(err) => (
                        mcp::error_response(
                            id.as_raw(),
                            ErrorCode::from_code(err.jsonrpc_code()),
                            &err.to_string(),
                        ),
                        Some(err.to_string()),
                    ),
                };
                let _ = out.send(Out::Line(line));
                let ok = error.is_none();
                let record = request_record(session, "tools/list", None, started, ok, error, false);
                let _ = registry.send(RegistryMsg::Finished {
                    key: u64::MAX,
                    record,
                });
            }
            .in_current_span(),
        );
        None
    }

    /// The catalog's `tools` array as JSON, serialized once per catalog generation.
    fn tools_json(&mut self, catalog: &ToolCatalog) -> Arc<str> {
        match &self.tools_json {
            Some((generation, json)) if *generation == catalog.generation => json.clone(),
            _ => {
                let json: Arc<str> = serialize_tools(catalog).into();
                self.tools_json = Some((catalog.generation, json.clone()));
                json
            }
        }
    }

    /// Starts a `tools/call` in a task of its own; answers at once only a call it refuses.
    pub(super) fn tools_call(
        &mut self,
        id: RawId<'_>,
        params: Option<&str>,
        version: mcp::Version,
    ) -> Option<Bytes> {
        let params = match params.map(serde_json::from_str::<mcp::CallParams<'_>>) {
            Some(Ok(params)) => params,
            Some(Err(err)) => {
                let message = format!("invalid tools/call params: {err}");
                return Some(mcp::error_response(id, ErrorCode::InvalidParams, &message));
            }
            None => {
                let message = "tools/call needs params with a tool name";
                return Some(mcp::error_response(id, ErrorCode::InvalidParams, message));
            }
        };
        if self.in_flight.contains_key(id.as_str()) {
            let message = format!("request id {id} is already in flight in this session");
            return Some(mcp::error_response(id, ErrorCode::InvalidRequest, &message));
        }
        self.next_key += 1;
        let key = self.next_key;
        let cancel = CancellationToken::new();
        let id = id.to_id();
        self.in_flight.insert(
            id.clone(),
            InFlight {
                cancel: cancel.clone(),
                key,
            },
        );
        let _ = self.ctx.registry.send(RegistryMsg::Started {
            id: self.id,
            key,
            label: format!("tools/call {}", params.name),
        });
        let progress_token = params
            .meta
            .as_ref()
            .and_then(|meta| meta.progress_token)
            .map(|token| token.get().to_owned());
        let call = CallTask {
            session: self.id,
            key,
            id,
            tool: params.name,
            arguments: params
                .arguments
                .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            progress_token,
            version,
            cancel,
            out: self.out_tx.clone(),
            registry: self.ctx.registry.clone(),
            upstream: self.ctx.upstream.clone(),
        };
        tokio::spawn(call.run().in_current_span());
        None
    }
}

/// The catalog's `tools` array as JSON.
fn serialize_tools(catalog: &ToolCatalog) -> String {
    serde_json::to_string(&catalog.tools).unwrap_or_else(|_| "[]".to_owned())
}
