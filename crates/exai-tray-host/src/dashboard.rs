//! The host's dashboard server: `exai-dashboard` on a free port of 127.0.0.1 with a fresh
//! token, exactly as `exai hub --dashboard` serves it (the token on every API request, `Host`
//! and `Origin` checks), for the window process and for the default browser.
//!
//! Nothing of it exists until the dashboard is first opened (the tray's idle memory matters);
//! then it serves until the tray ends, and later openings reuse it. The token reaches the
//! window process on its stdin (never its command line) and the browser in the address it
//! opens; it is never in a log line.

use crate::Navigate;
use crate::settings::SettingsStore;
use exai_hub::HubHandle;
use exai_hub::api::Settings;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The served dashboard's address.
pub(crate) struct Link {
    /// Without the token: safe to log.
    pub(crate) url: String,
    with_token: String,
    token_start: usize,
}

impl Link {
    /// The address with the token, the page opening at `target`.
    pub(crate) fn address(&self, target: Navigate) -> String {
        format!("{}{}", self.with_token, target.hash())
    }

    /// `text` with the token cut out (an opener's error may quote the address).
    pub(crate) fn redact(&self, text: &str) -> String {
        text.replace(&self.with_token[self.token_start..], "…")
    }
}

/// What the host's settings and desktop add to the dashboard (`/api/settings`, opening the
/// config file).
struct HostShell {
    settings: Arc<SettingsStore>,
    /// Told when a setting the tray shows changed.
    changed: mpsc::UnboundedSender<()>,
}

impl exai_dashboard::Shell for HostShell {
    fn settings(&self) -> Settings {
        self.settings.get()
    }

    fn set_settings(&self, settings: &Settings) -> anyhow::Result<Settings> {
        let now = self.settings.set(settings)?;
        let _ = self.changed.send(());
        Ok(now)
    }

    fn open_config_file(&self, path: &Path) -> Option<anyhow::Result<()>> {
        Some(open_path(path.as_os_str()))
    }
}

/// The server, started on first use.
pub(crate) struct Dashboard {
    link: tokio::sync::OnceCell<Link>,
    hub: HubHandle,
    endpoint_override: Option<String>,
    settings: Arc<SettingsStore>,
    changed: mpsc::UnboundedSender<()>,
}

impl Dashboard {
    pub(crate) fn new(
        hub: HubHandle,
        endpoint_override: Option<String>,
        settings: Arc<SettingsStore>,
        changed: mpsc::UnboundedSender<()>,
    ) -> Dashboard {
        Dashboard {
            link: tokio::sync::OnceCell::new(),
            hub,
            endpoint_override,
            settings,
            changed,
        }
    }

    /// The address, binding and serving first if this is the first time.
    pub(crate) async fn link(&self) -> anyhow::Result<&Link> {
        self.link.get_or_try_init(|| self.start()).await
    }

    async fn start(&self) -> anyhow::Result<Link> {
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let bound = exai_dashboard::bind(loopback, None).await?;
        let url = bound.url();
        let with_token = bound.url_with_token();
        let token_start = with_token
            .find("token=")
            .map_or(0, |at| at + "token=".len());
        let (shim, found) = exai_hub::connect::find_shim();
        let connect =
            exai_hub::connect::connect_info(&shim, found, self.endpoint_override.as_deref());
        let shell = Arc::new(HostShell {
            settings: self.settings.clone(),
            changed: self.changed.clone(),
        });
        let hub = self.hub.clone();
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(async move {
            if let Err(err) = exai_dashboard::serve_with(bound, hub, connect, shell, stop).await {
                tracing::warn!(error = %format!("{err:#}"), "the dashboard server stopped");
            }
        });
        tracing::info!(url = %url, "dashboard serving for the browser and the window");
        Ok(Link {
            url,
            with_token,
            token_start,
        })
    }

    /// Opens the dashboard at `target` in the default browser.
    pub(crate) async fn open_in_browser(&self, target: Navigate) {
        let link = match self.link().await {
            Ok(link) => link,
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "cannot serve the dashboard for the browser");
                return;
            }
        };
        let address = link.address(target);
        match open_path(std::ffi::OsStr::new(&address)) {
            Ok(()) => tracing::info!(url = %link.url, "dashboard opened in the browser"),
            Err(err) => {
                let error = link.redact(&format!("{err:#}"));
                tracing::warn!(url = %link.url, error, "cannot open the browser");
            }
        }
    }
}

/// Hands a file, folder or address to the desktop's opener (`xdg-open`), detached, and reaps
/// it in the background.
pub(crate) fn open_path(what: &std::ffi::OsStr) -> anyhow::Result<()> {
    let mut command = Command::new("xdg-open");
    command.arg(what);
    let mut child = exai_ipc::process::spawn_detached(&mut command, Stdio::null())
        .map_err(|err| anyhow::anyhow!("cannot start xdg-open: {err}"))?;
    let reaper = std::thread::Builder::new()
        .name("exai-tray::opener".to_owned())
        .spawn(move || {
            if let Err(err) = child.wait() {
                tracing::debug!(error = %err, "cannot wait for xdg-open");
            }
        });
    if let Err(err) = reaper {
        tracing::debug!(error = %err, "cannot start a thread to wait for xdg-open");
    }
    Ok(())
}
