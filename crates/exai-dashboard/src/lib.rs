//! The dashboard over loopback HTTP: `exai hub --dashboard` for machines with no display
//! (remote development, servers) and for browser tests, and the tray's fallback when it cannot
//! make its own window (no WebView2, no webview).
//!
//! The same built UI as the tray app (`ui/dist`, embedded at build time), talking to the hub
//! through the routes in `docs/dashboard-api.md`: JSON for reads and actions, Server-Sent Events
//! for the live stream ([`events`]). The built UI is public; every `/api` request needs the
//! token as `Authorization: Bearer`, and every request a `Host`/`Origin` that name this
//! dashboard (see [`guard`]). How many connections it holds and for how long: [`conn`].

mod conn;
mod events;
mod guard;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use exai_hub::HubHandle;
use exai_hub::api::{ConnectInfo, HostKind, Settings, WrapDirection};
use exai_proto::SessionId;
use guard::{Policy, Verdict};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// The largest request body accepted (the API's bodies are a few hundred bytes of JSON).
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// Security headers on every answer: no framing, no sniffing, no referrer (the first page load
/// carries the token in its URL), nothing cached.
const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// A bound, not yet serving, dashboard.
pub struct Bound {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    token: String,
}

impl Bound {
    /// The address without the token: safe to log and to show in `exai status`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The address with the token: printed once, on stdout, at start.
    pub fn url_with_token(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token)
    }
}

/// Binds the dashboard's address. The token is `EXAI_DASHBOARD_TOKEN` or a fresh random one.
pub async fn bind(addr: SocketAddr, env_token: Option<String>) -> anyhow::Result<Bound> {
    let token = match env_token {
        // Only characters that need no escaping in a URL query or a header.
        Some(token)
            if token.len() < 16
                || !token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._~-".contains(c)) =>
        {
            anyhow::bail!(
                "EXAI_DASHBOARD_TOKEN must be at least 16 characters of A-Z, a-z, 0-9, '.', '_', '~' or '-'; unset it to get a random one"
            )
        }
        Some(token) => token,
        None => guard::random_token(),
    };
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the dashboard listens beyond this machine, as asked: anyone who can reach it and has the token can steer the hub"
        );
    }
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|err| {
        anyhow::anyhow!("cannot listen for the dashboard on {addr}: {err} (pick another address with --dashboard ADDR)")
    })?;
    let addr = listener.local_addr()?;
    Ok(Bound {
        listener,
        addr,
        token,
    })
}

/// What the program serving the dashboard adds to the hub: its own settings (`/api/settings`).
pub trait Shell: Send + Sync + 'static {
    /// The settings in effect.
    fn settings(&self) -> Settings;
    /// Applies what the page sent; returns the settings now in effect.
    fn set_settings(&self, settings: &Settings) -> anyhow::Result<Settings>;
    /// Opens `config.toml` (at `path`) in the user's editor, for the tray's own window
    /// (`/api/open-config-file`); `None`: this program does not (a headless hub opens nothing on
    /// the desktop).
    fn open_config_file(&self, path: &std::path::Path) -> Option<anyhow::Result<()>> {
        let _ = path;
        None
    }
}

/// `exai hub`: no settings of its own (no login item, no toasts), so both read as `null` and a
/// change is answered with them unchanged.
pub struct Headless;

impl Shell for Headless {
    fn settings(&self) -> Settings {
        Settings {
            host: HostKind::Headless,
            autostart: None,
            notifications: None,
            log_dir: None,
        }
    }

    fn set_settings(&self, _: &Settings) -> anyhow::Result<Settings> {
        Ok(self.settings())
    }
}

struct Dash {
    hub: HubHandle,
    policy: Policy,
    connect: ConnectInfo,
    shell: Arc<dyn Shell>,
    stop: CancellationToken,
}

/// Serves `exai hub`'s dashboard until `stop` is cancelled.
pub async fn serve(
    bound: Bound,
    hub: HubHandle,
    connect: ConnectInfo,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    serve_with(bound, hub, connect, Arc::new(Headless), stop).await
}

/// Serves the dashboard of `shell` (whose settings `/api/settings` reads and changes) until
/// `stop` is cancelled.
pub async fn serve_with(
    bound: Bound,
    hub: HubHandle,
    connect: ConnectInfo,
    shell: Arc<dyn Shell>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let dash = Arc::new(Dash {
        hub,
        policy: Policy::new(bound.token, bound.addr),
        connect,
        shell,
        stop: stop.clone(),
    });
    let app = Router::new()
        .route("/api/snapshot", get(snapshot))
        .route("/api/logs", get(logs))
        .route("/api/tools", get(tools))
        .route("/api/sessions/{id}/requests", get(session_requests))
        .route("/api/sessions/{id}/dismiss", post(dismiss))
        .route("/api/reconnect", post(reconnect))
        .route("/api/servers/{id}/restart", post(restart_server))
        .route("/api/connect", get(connect_info))
        .route("/api/connect/editors", get(connect_status))
        .route("/api/connect/editors/{editor}", post(connect_editor))
        .route("/api/connect/wrap", get(wrap_previews))
        .route("/api/connect/editors/{editor}/wrap", post(wrap_editor))
        .route("/api/connect/editors/{editor}/unwrap", post(unwrap_editor))
        .route("/api/settings", get(settings).post(set_settings))
        .route(
            "/api/upstream/config",
            get(upstream_config).post(set_upstream_config),
        )
        .route("/api/upstream/test", post(test_upstream))
        .route("/api/open-config-file", post(open_config_file))
        .route("/api/events", get(events))
        .fallback(asset)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(dash.clone(), guard))
        .with_state(dash);
    conn::serve(bound.listener, app, stop).await;
    Ok(())
}

/// Body size, `Host`, `Origin` and token checks, then security headers on whatever the route
/// answers. Nothing here redirects: the page takes the token out of its own address bar, so no
/// answer ever carries a `Location`.
async fn guard(State(dash): State<Arc<Dash>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bytes = |name| headers.get(name).map(HeaderValue::as_bytes);
    let public = is_public(request.method(), request.uri().path());
    let verdict = dash.policy.check(
        !public,
        bytes(header::HOST),
        bytes(header::ORIGIN),
        bytes(header::AUTHORIZATION),
    );
    let too_large = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length > MAX_BODY as u64);
    let mut response = match verdict {
        Verdict::ForeignHost => refuse(
            StatusCode::FORBIDDEN,
            "403 Forbidden: this EXAI dashboard answers only on its own address (the Host header names another).",
        ),
        Verdict::ForeignOrigin => refuse(
            StatusCode::FORBIDDEN,
            "403 Forbidden: requests from other sites are refused (the Origin header names another site).",
        ),
        Verdict::NoToken => refuse(
            StatusCode::UNAUTHORIZED,
            "401 Unauthorized: this EXAI dashboard needs its token. Open the full address `exai hub --dashboard` printed when it started (it ends in ?token=...); other clients send it as `Authorization: Bearer TOKEN`.",
        ),
        Verdict::Allow if too_large => refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "413 Payload Too Large: the dashboard's requests carry at most 16 KiB.",
        ),
        Verdict::Allow => {
            if !public && let Some(conn) = request.extensions().get::<conn::Conn>() {
                conn.trust();
            }
            next.run(request).await
        }
    };
    secure(response.headers_mut());
    response
}

/// The built UI is public (it is the same in every copy of exai and holds no secret); the
/// token guards everything else.
fn is_public(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && (path == "/" || find_asset(path).is_some())
}

fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

fn refuse(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

fn hub_gone(err: anyhow::Error) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("{err:#}")).into_response()
}

async fn snapshot(State(dash): State<Arc<Dash>>) -> Response {
    match dash.hub.snapshot().await {
        Ok(snapshot) => axum::Json(snapshot).into_response(),
        Err(err) => hub_gone(err),
    }
}

async fn logs(State(dash): State<Arc<Dash>>) -> Response {
    axum::Json(dash.hub.logs()).into_response()
}

async fn tools(State(dash): State<Arc<Dash>>) -> Response {
    axum::Json(dash.hub.tools()).into_response()
}

async fn session_requests(State(dash): State<Arc<Dash>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<SessionId>() else {
        return (StatusCode::BAD_REQUEST, "not a session id").into_response();
    };
    match dash.hub.session_requests(id).await {
        Ok(Some(requests)) => axum::Json(requests).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such session").into_response(),
        Err(err) => hub_gone(err),
    }
}

async fn dismiss(State(dash): State<Arc<Dash>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<SessionId>() else {
        return (StatusCode::BAD_REQUEST, "not a session id").into_response();
    };
    dash.hub.dismiss(id);
    StatusCode::NO_CONTENT.into_response()
}

async fn reconnect(State(dash): State<Arc<Dash>>) -> Response {
    tracing::info!("reconnect requested from the dashboard");
    dash.hub.reconnect_upstream();
    StatusCode::NO_CONTENT.into_response()
}

/// Restarts a wrapped server's instance now (its calls in flight fail, its windows stay); 404
/// for an id the hub does not know.
async fn restart_server(State(dash): State<Arc<Dash>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return (StatusCode::BAD_REQUEST, "not a server id").into_response();
    };
    if dash.hub.restart_server(id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (StatusCode::NOT_FOUND, "no such server").into_response()
    }
}

async fn connect_info(State(dash): State<Arc<Dash>>) -> Response {
    axum::Json(dash.connect.clone()).into_response()
}

/// Every editor's config file and whether it has the exai server (read from disk each time).
async fn connect_status(State(dash): State<Arc<Dash>>) -> Response {
    let info = dash.connect.clone();
    let statuses = tokio::task::spawn_blocking(move || {
        exai_hub::connect::Connector::for_info(&info).map(|connector| connector.statuses())
    })
    .await;
    match statuses {
        Ok(Ok(statuses)) => axum::Json(statuses).into_response(),
        Ok(Err(err)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}")).into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// Writes the exai server into one editor's own config file (the user's, never a project's:
/// the page names no folder). 404 for an editor the hub does not know, 422 with the reason
/// when the file cannot be merged (nothing is written then).
async fn connect_editor(State(dash): State<Arc<Dash>>, Path(editor): Path<String>) -> Response {
    let Some(editor) = exai_hub::connect::Editor::from_key(&editor) else {
        return (StatusCode::NOT_FOUND, "no such editor").into_response();
    };
    let info = dash.connect.clone();
    let result = tokio::task::spawn_blocking(move || {
        exai_hub::connect::Connector::for_info(&info)?.connect(editor, None, false)
    })
    .await;
    match result {
        Ok(Ok(result)) => {
            tracing::info!(
                editor = editor.key(),
                changed = result.changed,
                "editor connected from the dashboard"
            );
            axum::Json(result).into_response()
        }
        Ok(Err(err)) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{err:#}")).into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// What "Share these servers through EXAI" would do to each editor's own file: every server
/// with its command line before and after, its `env` names (never values), what is left and
/// why (read from disk each time).
async fn wrap_previews(State(dash): State<Arc<Dash>>) -> Response {
    let info = dash.connect.clone();
    let previews = tokio::task::spawn_blocking(move || {
        exai_hub::connect::Connector::for_info(&info).map(|connector| connector.wrap_previews())
    })
    .await;
    match previews {
        Ok(Ok(previews)) => axum::Json(previews).into_response(),
        Ok(Err(err)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}")).into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

async fn wrap_editor(State(dash): State<Arc<Dash>>, Path(editor): Path<String>) -> Response {
    rewrite_editor(dash, editor, WrapDirection::Wrap).await
}

async fn unwrap_editor(State(dash): State<Arc<Dash>>, Path(editor): Path<String>) -> Response {
    rewrite_editor(dash, editor, WrapDirection::Unwrap).await
}

/// Wraps (or unwraps) one editor's servers in its own file, after a backup. 404 for an editor
/// the hub does not know, 422 with the reason when it cannot (the shim is missing, the file
/// does not parse); nothing is written then.
async fn rewrite_editor(dash: Arc<Dash>, editor: String, direction: WrapDirection) -> Response {
    let Some(editor) = exai_hub::connect::Editor::from_key(&editor) else {
        return (StatusCode::NOT_FOUND, "no such editor").into_response();
    };
    let info = dash.connect.clone();
    let result = tokio::task::spawn_blocking(move || {
        exai_hub::connect::Connector::for_info(&info)?.wrap_editor(editor, direction)
    })
    .await;
    match result {
        Ok(Ok(result)) => {
            tracing::info!(
                editor = editor.key(),
                changed = result.changed,
                servers = result
                    .servers
                    .iter()
                    .filter(|server| server.changed)
                    .count(),
                "editor's servers {} from the dashboard",
                match direction {
                    WrapDirection::Wrap => "wrapped",
                    WrapDirection::Unwrap => "unwrapped",
                }
            );
            axum::Json(result).into_response()
        }
        Ok(Err(err)) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{err:#}")).into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// The settings of the program serving the dashboard (see [`Shell`]).
async fn settings(State(dash): State<Arc<Dash>>) -> Response {
    axum::Json(dash.shell.settings()).into_response()
}

/// Changes them; 422 with the reason when they cannot be changed.
async fn set_settings(
    State(dash): State<Arc<Dash>>,
    axum::Json(wanted): axum::Json<Settings>,
) -> Response {
    let shell = dash.shell.clone();
    match tokio::task::spawn_blocking(move || shell.set_settings(&wanted)).await {
        Ok(Ok(now)) => axum::Json(now).into_response(),
        Ok(Err(err)) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{err:#}")).into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// The daemon's URL, whether a token is set, and the config file (never the token).
async fn upstream_config(State(dash): State<Arc<Dash>>) -> Response {
    axum::Json(dash.hub.upstream_config()).into_response()
}

/// Writes the daemon's URL and token into config.toml (0600) and reconnects with them; 422 with
/// the reason when the URL or the file is refused (nothing is written then).
async fn set_upstream_config(
    State(dash): State<Arc<Dash>>,
    axum::Json(update): axum::Json<exai_hub::api::UpstreamConfigUpdate>,
) -> Response {
    match dash.hub.set_upstream_config(update).await {
        Ok(saved) => axum::Json(saved).into_response(),
        Err(err) => (StatusCode::UNPROCESSABLE_ENTITY, err.to_string()).into_response(),
    }
}

/// Tries a daemon once (connect, hello) and says how it went.
async fn test_upstream(
    State(dash): State<Arc<Dash>>,
    axum::Json(test): axum::Json<exai_hub::api::UpstreamTest>,
) -> Response {
    axum::Json(dash.hub.test_upstream(test).await).into_response()
}

/// Opens `config.toml` in the user's editor, first creating it (settings commented out) when
/// missing: 204; 404 where the program serving the dashboard opens nothing (`exai hub`); 422 with
/// the reason when it cannot.
async fn open_config_file(State(dash): State<Arc<Dash>>) -> Response {
    let Some(path) = dash.hub.upstream_config().config_path else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "there is no home directory for config.toml",
        )
            .into_response();
    };
    let shell = dash.shell.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let path = std::path::PathBuf::from(path);
        if let Err(err) = exai_hub::config_write::create_if_missing(&path) {
            return Some(Err(anyhow::Error::from(err)));
        }
        shell.open_config_file(&path)
    })
    .await;
    match opened {
        Ok(None) => refuse(StatusCode::NOT_FOUND, "this dashboard cannot open files"),
        Ok(Some(Ok(()))) => StatusCode::NO_CONTENT.into_response(),
        Ok(Some(Err(err))) => {
            (StatusCode::UNPROCESSABLE_ENTITY, format!("{err:#}")).into_response()
        }
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// The live stream: see [`events`].
async fn events(State(dash): State<Arc<Dash>>, Extension(conn): Extension<conn::Conn>) -> Response {
    events::stream(dash.hub.subscribe(), dash.stop.clone(), conn)
}

fn find_asset(path: &str) -> Option<&'static (&'static str, &'static [u8], &'static str)> {
    assets::ASSETS.iter().find(|(url, _, _)| *url == path)
}

async fn asset(request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if !assets::BUILT {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "This exai was built without its dashboard (ui/dist was missing). Run `npm --prefix ui ci && npm --prefix ui run build`, then rebuild exai.",
        );
    }
    let path = match request.uri().path() {
        "/" => "/index.html",
        path => path,
    };
    match find_asset(path) {
        Some((_, bytes, content_type)) => {
            // Hashed file names never change; index.html must always be fetched fresh.
            let cache = if path == "/index.html" {
                "no-store"
            } else {
                "public, max-age=31536000, immutable"
            };
            (
                [
                    (header::CONTENT_TYPE, *content_type),
                    (header::CACHE_CONTROL, cache),
                ],
                *bytes,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
