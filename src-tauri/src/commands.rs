//! The dashboard's commands, exactly as docs/dashboard-api.md lists them: one-line forwards to
//! [`HubHandle`] or to the [`SettingsStore`].
//!
//! Commands that wait (on the hub, on a file) are `async`, so they run on the tokio runtime and
//! never on the main (UI) thread. Failures reach the page as `UiError { code, message }`.

use crate::ShellInfo;
use crate::forward::ShellTx;
use crate::settings::SettingsStore;
use crate::status::LookedAt;
use exai_hub::HubHandle;
use exai_hub::api::{
    ConnectInfo, ConnectResult, EditorStatus, LogRecord, RequestRecord, Settings, Snapshot,
};
use exai_hub::api::{
    UpstreamConfig, UpstreamConfigSaved, UpstreamConfigUpdate, UpstreamTest, UpstreamTestResult,
    WrapDirection, WrapEditorResult, WrapPreview,
};
use exai_proto::SessionId;
use tauri::ipc::InvokeError;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_opener::OpenerExt as _;

/// A command's failure as the page sees it: `{ "code": "...", "message": "..." }`.
///
/// Built by hand into JSON rather than derived: only `hub::api` types derive `Serialize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiError {
    /// What kind of failure, for the page to branch on.
    pub code: &'static str,
    /// What happened, in words.
    pub message: String,
}

impl UiError {
    fn new(code: &'static str, error: impl std::fmt::Display) -> UiError {
        UiError {
            code,
            message: error.to_string(),
        }
    }
}

impl From<UiError> for InvokeError {
    fn from(error: UiError) -> InvokeError {
        InvokeError(serde_json::json!({ "code": error.code, "message": error.message }))
    }
}

/// The hub stopped (the app is quitting).
const HUB_STOPPED: &str = "hub_stopped";
/// No wrapped server instance has that id (any more).
const UNKNOWN_SERVER: &str = "unknown_server";
/// The session is not (or no longer) known.
const UNKNOWN_SESSION: &str = "unknown_session";
/// A setting could not be changed.
const SETTINGS: &str = "settings";
/// The config file could not be made or opened.
const CONFIG_FILE: &str = "config_file";

fn hub_error(error: anyhow::Error) -> UiError {
    UiError::new(HUB_STOPPED, format_args!("{error:#}"))
}
/// An editor's config file could not be read or written.
const CONNECT: &str = "connect";
/// No such editor.
const UNKNOWN_EDITOR: &str = "unknown_editor";

/// Everything the hub knows now.
#[tauri::command]
pub async fn snapshot(hub: State<'_, HubHandle>) -> Result<Snapshot, UiError> {
    hub.snapshot().await.map_err(hub_error)
}

/// The recent log records, oldest first.
#[tauri::command]
pub fn logs(hub: State<'_, HubHandle>) -> Vec<LogRecord> {
    hub.logs()
}

/// The daemon's tools (name, description), by name.
#[tauri::command]
pub fn tools(hub: State<'_, HubHandle>) -> Vec<exai_hub::api::ToolInfo> {
    hub.tools()
}

/// A session's recent requests, oldest first.
#[tauri::command]
pub async fn session_requests(
    hub: State<'_, HubHandle>,
    id: SessionId,
) -> Result<Vec<RequestRecord>, UiError> {
    hub.session_requests(id)
        .await
        .map_err(hub_error)?
        .ok_or_else(|| UiError::new(UNKNOWN_SESSION, format_args!("no session {id}")))
}

/// Reconnects the daemon now, skipping any backoff.
#[tauri::command]
pub fn reconnect_upstream(hub: State<'_, HubHandle>) {
    hub.reconnect_upstream();
}

/// Restarts a wrapped server's instance now (`ServerStatus::id`): its calls in flight fail,
/// the windows using it keep working.
#[tauri::command]
pub fn restart_server(hub: State<'_, HubHandle>, id: u64) -> Result<(), UiError> {
    if hub.restart_server(id) {
        Ok(())
    } else {
        Err(UiError::new(
            UNKNOWN_SERVER,
            format_args!("no wrapped server {id}"),
        ))
    }
}

/// Removes a lost session from view.
#[tauri::command]
pub fn dismiss(hub: State<'_, HubHandle>, shell: State<'_, ShellTx>, id: SessionId) {
    shell.looked_at(LookedAt::Session(id));
    hub.dismiss(id);
}

/// The "Connect an editor" snippets, for the `exai-shim` next to this app.
#[tauri::command]
pub async fn connect_info(info: State<'_, ShellInfo>) -> Result<ConnectInfo, UiError> {
    let (shim, found) = exai_hub::connect::find_shim();
    Ok(exai_hub::connect::connect_info(
        &shim,
        found,
        info.endpoint_override.as_deref(),
    ))
}

/// The settings in effect.
#[tauri::command]
pub fn settings(store: State<'_, SettingsStore>) -> Settings {
    store.get()
}

/// Connects editors to the shim the snippets use.
fn connector(info: &ShellInfo) -> Result<exai_hub::connect::Connector, UiError> {
    let (shim, found) = exai_hub::connect::find_shim();
    let info = exai_hub::connect::connect_info(&shim, found, info.endpoint_override.as_deref());
    exai_hub::connect::Connector::for_info(&info)
        .map_err(|error| UiError::new(CONNECT, format_args!("{error:#}")))
}

/// Every editor's config file and whether it has the exai server.
#[tauri::command]
pub async fn connect_status(info: State<'_, ShellInfo>) -> Result<Vec<EditorStatus>, UiError> {
    let connector = connector(&info)?;
    tokio::task::spawn_blocking(move || connector.statuses())
        .await
        .map_err(|error| UiError::new(CONNECT, error))
}

/// Writes the exai server into one editor's own config file (after a backup).
#[tauri::command]
pub async fn connect_editor(
    info: State<'_, ShellInfo>,
    editor: String,
) -> Result<ConnectResult, UiError> {
    let editor = exai_hub::connect::Editor::from_key(&editor)
        .ok_or_else(|| UiError::new(UNKNOWN_EDITOR, format_args!("no editor {editor:?}")))?;
    let connector = connector(&info)?;
    tokio::task::spawn_blocking(move || connector.connect(editor, None, false))
        .await
        .map_err(|error| UiError::new(CONNECT, error))?
        .map_err(|error| UiError::new(CONNECT, format_args!("{error:#}")))
}

/// What "Share these servers through EXAI" would do to each editor's own file (env names,
/// never values).
#[tauri::command]
pub async fn connect_wrap_previews(
    info: State<'_, ShellInfo>,
) -> Result<Vec<WrapPreview>, UiError> {
    let connector = connector(&info)?;
    tokio::task::spawn_blocking(move || connector.wrap_previews())
        .await
        .map_err(|error| UiError::new(CONNECT, error))
}

/// Wraps (or unwraps) one editor's servers through the shim, after a backup; refused while
/// the shim is missing.
#[tauri::command]
pub async fn connect_wrap(
    info: State<'_, ShellInfo>,
    editor: String,
    direction: WrapDirection,
) -> Result<WrapEditorResult, UiError> {
    let editor = exai_hub::connect::Editor::from_key(&editor)
        .ok_or_else(|| UiError::new(UNKNOWN_EDITOR, format_args!("no editor {editor:?}")))?;
    let connector = connector(&info)?;
    tokio::task::spawn_blocking(move || connector.wrap_editor(editor, direction))
        .await
        .map_err(|error| UiError::new(CONNECT, error))?
        .map_err(|error| UiError::new(CONNECT, format_args!("{error:#}")))
}

/// Changes settings; returns them as now in effect.
#[tauri::command]
pub async fn set_settings(
    store: State<'_, SettingsStore>,
    shell: State<'_, ShellTx>,
    settings: Settings,
) -> Result<Settings, UiError> {
    let now = store
        .set(&settings)
        .map_err(|error| UiError::new(SETTINGS, format_args!("{error:#}")))?;
    shell.settings_changed();
    Ok(now)
}

/// The daemon's URL, whether a token is set, where each came from, and the config file (never
/// the token itself).
#[tauri::command]
pub fn upstream_config(hub: State<'_, HubHandle>) -> UpstreamConfig {
    hub.upstream_config()
}

/// Writes the daemon's URL and token into `config.toml` (0600) and reconnects with them; the
/// tray reads a fresh snapshot (the daemon now counts as configured).
#[tauri::command]
pub async fn set_upstream_config(
    hub: State<'_, HubHandle>,
    shell: State<'_, ShellTx>,
    update: UpstreamConfigUpdate,
) -> Result<UpstreamConfigSaved, UiError> {
    let saved = hub
        .set_upstream_config(update)
        .await
        .map_err(|error| UiError::new(error.code(), error))?;
    shell.resync();
    Ok(saved)
}

/// Tries a daemon once (connect, hello) and says how it went.
#[tauri::command]
pub async fn test_upstream(
    hub: State<'_, HubHandle>,
    test: UpstreamTest,
) -> Result<UpstreamTestResult, UiError> {
    Ok(hub.test_upstream(test).await)
}

/// Opens `config.toml` in the user's editor, first creating it (with the settings commented
/// out) when it does not exist.
#[tauri::command]
pub async fn open_config_file<R: Runtime>(
    app: AppHandle<R>,
    hub: State<'_, HubHandle>,
) -> Result<(), UiError> {
    let path = hub
        .upstream_config()
        .config_path
        .ok_or_else(|| UiError::new(CONFIG_FILE, "there is no home directory for config.toml"))?;
    let file = std::path::PathBuf::from(&path);
    tokio::task::spawn_blocking(move || exai_hub::config_write::create_if_missing(&file))
        .await
        .map_err(|error| UiError::new(CONFIG_FILE, error))?
        .map_err(|error| UiError::new(error.code(), error))?;
    app.opener()
        .open_path(path, None::<&str>)
        .map_err(|error| UiError::new(CONFIG_FILE, format_args!("cannot open it: {error}")))
}
