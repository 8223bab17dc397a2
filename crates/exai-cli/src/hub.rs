//! `exai hub`: loads the config, installs logging, runs the hub (and its dashboard, when asked)
//! until Ctrl-C or SIGTERM.

use crate::{ExitCode, HubArgs, dashboard};
use anyhow::Context as _;
use exai_hub::api::HostKind;
use exai_hub::config::{self, HubConfig};
use exai_hub::logring::LogRing;
use exai_hub::{Hub, connect, control};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

pub(crate) async fn run(args: HubArgs) -> anyhow::Result<ExitCode> {
    let logs = LogRing::new(exai_hub::logring::DEFAULT_CAPACITY);
    let filter = tracing_subscriber::EnvFilter::try_from_env("EXAI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours only for a person at a terminal, not in a log file (autostart).
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(logs.layer::<tracing_subscriber::Registry>())
        .try_init()
        .context("cannot install the logger")?;

    let mut config = load_config(&args)?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let dashboard = match args.dashboard {
        Some(addr) => {
            let bound = dashboard::bind(addr, std::env::var("EXAI_DASHBOARD_TOKEN").ok()).await?;
            config.dashboard_url = Some(bound.url());
            Some(bound)
        }
        None => None,
    };
    let (handle, task) = match Hub::new(config.clone(), Some(logs)).await {
        Ok(hub) => hub,
        Err(err) => return Err(explain_already_running(err, config.endpoint.as_deref()).await),
    };
    tracing::info!(
        endpoint = handle.endpoint(),
        upstream = %config.exai.url,
        pool = config.exai.pool_size,
        "EXAI hub started; point editors at exai-shim"
    );
    let hub = tokio::spawn(task.run());
    let stop_dashboard = CancellationToken::new();
    let server = dashboard.map(|bound| {
        // The one place the token appears: stdout, once, for the person who started the hub.
        announce(&bound.url_with_token());
        tracing::info!(url = %bound.url(), "dashboard serving (the token was printed on stdout)");
        let (shim, found) = connect::find_shim();
        let connect = connect::connect_info(&shim, found, config.endpoint.as_deref());
        tokio::spawn(dashboard::serve(
            bound,
            handle.clone(),
            connect,
            stop_dashboard.clone(),
        ))
    });
    let stopper = handle.clone();
    tokio::spawn(async move {
        exai_ipc::shutdown_signal().await;
        tracing::info!("stop requested");
        stopper.shutdown();
    });
    let result = hub.await.context("the hub task failed")?;
    stop_dashboard.cancel();
    if let Some(server) = server {
        match tokio::time::timeout(Duration::from_secs(2), server).await {
            Ok(Ok(Err(err))) => tracing::warn!(error = %err, "the dashboard stopped with an error"),
            Ok(_) => {}
            Err(_) => tracing::warn!("the dashboard did not stop within 2 s"),
        }
    }
    result?;
    Ok(ExitCode::Ok)
}

/// A second hub on the same endpoint: say who already runs there.
async fn explain_already_running(err: anyhow::Error, endpoint: Option<&str>) -> anyhow::Error {
    if !matches!(
        err.downcast_ref::<exai_ipc::ListenError>(),
        Some(exai_ipc::ListenError::AlreadyRunning { .. })
    ) {
        return err;
    }
    let Ok(running) = control::status(endpoint).await else {
        return err;
    };
    let who = match running.host.kind {
        HostKind::Tray => format!("the EXAI Tray app (pid {})", running.host.pid),
        HostKind::Headless => format!("`exai hub` (pid {})", running.host.pid),
    };
    let dashboard = running
        .host
        .dashboard_url
        .map(|url| format!("; its dashboard is at {url}"))
        .unwrap_or_default();
    anyhow::anyhow!(
        "{who} already runs the EXAI hub on {}{dashboard}. Editors can use it as it is; to run this one instead, quit that one first",
        running.endpoint
    )
}

#[allow(
    clippy::print_stdout,
    reason = "the dashboard address for the person who started the hub"
)]
fn announce(url: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "EXAI dashboard: {url}");
    let _ = stdout.flush();
}

fn load_config(args: &HubArgs) -> anyhow::Result<HubConfig> {
    let mut config = HubConfig::default();
    let (path, explicit) = match &args.config {
        Some(path) => (Some(path.clone()), true),
        None => (config::default_config_path(), false),
    };
    if let Some(path) = path {
        config.apply_file(config::load_file(&path, explicit)?);
    }
    config.apply_env(|key| std::env::var(key).ok());
    if let Some(url) = &args.upstream {
        config.exai.url = url.clone();
    }
    if let Some(endpoint) = &args.endpoint {
        config.endpoint = Some(endpoint.clone());
    }
    if let Some(pool) = args.pool {
        config.exai.pool_size = pool;
    }
    if let Some(secs) = args.call_timeout {
        config.exai.call_timeout = Duration::from_secs(secs);
    }
    config.validate()?;
    Ok(config)
}
