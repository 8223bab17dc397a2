//! The dashboard in the default browser, for when the tray cannot show its own window: no
//! WebView2 runtime on Windows (stripped-down installs, Wine), or a webview that fails to be
//! made anywhere. Then the tray serves the same dashboard over loopback HTTP, exactly as
//! `exai hub --dashboard` does (`exai-dashboard`: the built UI, the token on every API request,
//! `Host` and `Origin` checks), and opens its address with the token in the default browser.
//! The menu's "Open dashboard in browser" does the same on purpose.
//!
//! Nothing of it exists until it is first needed (the tray's idle memory matters): the server
//! is bound then, on a free port of 127.0.0.1 with a fresh random token, and serves until the
//! app ends; later openings reuse it. `EXAI_TRAY_BROWSER=1` makes every opening use the browser
//! and never make a window (how the desktop test proves this path on Linux).
//!
//! The token is in the address handed to the browser (the page moves it out of its address bar
//! at once) and never in a log line.

use crate::{Navigate, ShellInfo, ShellTx};
use exai_hub::HubHandle;
use exai_hub::api::Settings;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tauri::{AppHandle, Manager as _, Runtime};
use tauri_plugin_opener::OpenerExt as _;

/// `EXAI_TRAY_BROWSER=1`: the dashboard always opens in the browser, never in a window.
pub const BROWSER_ENV: &str = "EXAI_TRAY_BROWSER";

/// Whether `value` (from [`BROWSER_ENV`]) asks for the browser.
pub fn forced(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("1" | "true" | "yes"))
}

/// The served dashboard, once started: its address with the token, and whether the user has
/// been told why the browser opens instead of a window.
#[derive(Default)]
pub(crate) struct BrowserDashboard {
    link: tokio::sync::OnceCell<Link>,
    told: AtomicBool,
    /// A window could not be made once: every later opening goes to the browser.
    no_webview: AtomicBool,
}

struct Link {
    /// Without the token: safe to log.
    url: String,
    with_token: String,
    token_start: usize,
}

impl BrowserDashboard {
    /// Whether openings go to the browser: forced by [`BROWSER_ENV`], or no window could be made.
    pub(crate) fn preferred(&self) -> bool {
        self.no_webview.load(Ordering::Relaxed)
            || forced(std::env::var(BROWSER_ENV).ok().as_deref())
    }
}

/// The tray's side of `/api/settings`: its own settings store, as the window's commands use it.
struct TrayShell<R: Runtime>(AppHandle<R>);

impl<R: Runtime> exai_dashboard::Shell for TrayShell<R> {
    fn settings(&self) -> Settings {
        self.0.state::<crate::settings::SettingsStore>().get()
    }

    fn set_settings(&self, settings: &Settings) -> anyhow::Result<Settings> {
        let now = self
            .0
            .state::<crate::settings::SettingsStore>()
            .set(settings)?;
        self.0.state::<ShellTx>().settings_changed();
        Ok(now)
    }
}

/// The window could not be made (`why`): opens the dashboard in the browser instead, and from
/// now on every time; says why once.
pub(crate) fn fall_back<R: Runtime>(app: &AppHandle<R>, target: Navigate, why: String) {
    let state = app.state::<BrowserDashboard>();
    state.no_webview.store(true, Ordering::Relaxed);
    if !state.told.swap(true, Ordering::Relaxed) {
        let message = format!(
            "The dashboard window cannot be made on this system ({why}); the dashboard opens in your web browser instead."
        );
        tracing::warn!("{message}");
        crate::notify::tell("EXAI: dashboard in your browser", message);
    }
    open(app, target);
}

/// Opens the dashboard at `target` in the default browser, starting its server first if this
/// is the first time. Returns at once.
pub fn open<R: Runtime>(app: &AppHandle<R>, target: Navigate) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<BrowserDashboard>();
        let link = match state.link.get_or_try_init(|| start(&app)).await {
            Ok(link) => link,
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "cannot serve the dashboard for the browser");
                return;
            }
        };
        let address = format!("{}{}", link.with_token, target.hash());
        match app.opener().open_url(address, None::<&str>) {
            Ok(()) => tracing::info!(url = %link.url, "dashboard opened in the browser"),
            Err(err) => {
                // An opener's error may quote the address; the token stays out of the log.
                let error = err
                    .to_string()
                    .replace(&link.with_token[link.token_start..], "…");
                tracing::warn!(url = %link.url, error, "cannot open the browser");
            }
        }
    });
}

/// Binds the dashboard on a free loopback port and serves it until the app ends.
async fn start<R: Runtime>(app: &AppHandle<R>) -> anyhow::Result<Link> {
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let bound = exai_dashboard::bind(loopback, None).await?;
    let url = bound.url();
    let with_token = bound.url_with_token();
    let token_start = with_token
        .find("token=")
        .map_or(0, |at| at + "token=".len());
    let endpoint = app.state::<ShellInfo>().endpoint_override.clone();
    let (shim, found) = exai_hub::connect::find_shim();
    let connect = exai_hub::connect::connect_info(&shim, found, endpoint.as_deref());
    let hub = app.state::<HubHandle>().inner().clone();
    let shell = Arc::new(TrayShell(app.clone()));
    let stop = tokio_util::sync::CancellationToken::new();
    tauri::async_runtime::spawn(async move {
        if let Err(err) = exai_dashboard::serve_with(bound, hub, connect, shell, stop).await {
            tracing::warn!(error = %format!("{err:#}"), "the browser dashboard stopped");
        }
    });
    tracing::info!(url = %url, "dashboard serving for the browser");
    Ok(Link {
        url,
        with_token,
        token_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_yes_forces_the_browser() {
        for yes in ["1", "true", "yes", " 1 "] {
            assert!(forced(Some(yes)), "{yes:?}");
        }
        for no in [None, Some(""), Some("0"), Some("no"), Some("false")] {
            assert!(!forced(no), "{no:?}");
        }
    }
}
