//! `exai hub`: loads the config, installs logging, runs the hub until Ctrl-C or SIGTERM.

use crate::{ExitCode, HubArgs};
use anyhow::Context as _;
use exai_hub::Hub;
use exai_hub::config::{self, HubConfig};
use exai_hub::logring::LogRing;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

pub(crate) async fn run(args: HubArgs) -> anyhow::Result<ExitCode> {
    let logs = LogRing::new(exai_hub::logring::DEFAULT_CAPACITY);
    let filter = tracing_subscriber::EnvFilter::try_from_env("EXAI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(logs.layer::<tracing_subscriber::Registry>())
        .try_init()
        .context("cannot install the logger")?;

    let config = load_config(&args)?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let (handle, task) = Hub::new(config.clone(), Some(logs)).await?;
    tracing::info!(
        endpoint = handle.endpoint(),
        upstream = %config.exai.url,
        pool = config.exai.pool_size,
        "EXAI hub started; point editors at exai-shim"
    );
    let hub = tokio::spawn(task.run());
    let stopper = handle.clone();
    tokio::spawn(async move {
        exai_ipc::shutdown_signal().await;
        tracing::info!("stop requested");
        stopper.shutdown();
    });
    hub.await.context("the hub task failed")??;
    Ok(ExitCode::Ok)
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
