//! `exai hub`: loads the config, installs logging, runs the hub (and its dashboard, when asked)
//! until Ctrl-C or SIGTERM.

use crate::{ExitCode, HubArgs};
use anyhow::Context as _;
use exai_dashboard as dashboard;
use exai_hub::api::HostKind;
use exai_hub::logring::LogRing;
use exai_hub::start::{self, ConfigFile, ConfigRequest, Flags, StartError};
use exai_hub::{Hub, connect};
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

    let mut config = start::load_config(&config_request(&args), |key| std::env::var(key).ok())?;
    let dashboard = match args.dashboard {
        Some(addr) => {
            let bound = dashboard::bind(addr, std::env::var("EXAI_DASHBOARD_TOKEN").ok()).await?;
            config.dashboard_url = Some(bound.url());
            Some(bound)
        }
        None => None,
    };
    let (handle, task) = Hub::new(config.clone(), Some(logs))
        .await
        .map_err(explain)?;
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

/// How `exai hub` words a failed start: a second hub on the same endpoint says who already runs
/// there; anything else says what went wrong in the hub's own words.
fn explain(err: StartError) -> anyhow::Error {
    match err {
        StartError::AlreadyRunning { host, endpoint } => {
            let who = match host.kind {
                HostKind::Tray => format!("the EXAI Tray app (pid {})", host.pid),
                HostKind::Headless => format!("`exai hub` (pid {})", host.pid),
            };
            let dashboard = host
                .dashboard_url
                .map(|url| format!("; its dashboard is at {url}"))
                .unwrap_or_default();
            anyhow::anyhow!(
                "{who} already runs the EXAI hub on {endpoint}{dashboard}. Editors can use it as it is; to run this one instead, quit that one first"
            )
        }
        err => err.into(),
    }
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

fn config_request(args: &HubArgs) -> ConfigRequest {
    ConfigRequest {
        host: HostKind::Headless,
        file: match &args.config {
            Some(path) => ConfigFile::Explicit(path.clone()),
            None => ConfigFile::Default,
        },
        flags: Flags {
            upstream: args.upstream.clone(),
            endpoint: args.endpoint.clone(),
            pool: args.pool,
            call_timeout: args.call_timeout.map(Duration::from_secs),
            server_idle: args.server_idle_secs.map(Duration::from_secs),
        },
    }
}
