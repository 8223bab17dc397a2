//! The tray's tracing subscriber: daily log files with bounded retention, stderr in debug
//! builds, and the hub's [`LogRing`] so the dashboard's log panel shows the same records.
//!
//! Set-up lives in one function that takes its config as input ([`LogConfig::init`]); the
//! non-blocking writer's guard goes into the app's managed state ([`LogGuard`]) and is dropped
//! on exit so the last lines reach the file. `EXAI_LOG` filters (default `info`).

use anyhow::Context as _;
use exai_hub::logring::LogRing;
use std::path::PathBuf;
use std::sync::Mutex;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{self, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Log files kept (one per day).
pub const MAX_LOG_FILES: usize = 14;
/// Log file names: `exai-tray.YYYY-MM-DD.log`.
pub const FILE_PREFIX: &str = "exai-tray";

/// Everything [`LogConfig::init`] needs.
pub struct LogConfig {
    /// Where the daily files go (created if missing).
    pub dir: PathBuf,
    /// An `EnvFilter` directive, e.g. `info` or `exai_hub=debug`.
    pub filter: String,
    /// Also log to stderr (debug builds).
    pub stderr: bool,
    /// The ring that feeds the dashboard's log panel.
    pub ring: Option<LogRing>,
}

/// Keeps the file writer's background thread alive; dropping it flushes the last records.
pub struct LogGuard(Mutex<Option<WorkerGuard>>);

impl LogGuard {
    /// Flushes and closes the file writer (on exit; later records go nowhere).
    pub fn flush(&self) {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        drop(guard);
    }
}

impl LogConfig {
    /// The config from the environment: `EXAI_LOG`, else `info`.
    pub fn from_env(dir: PathBuf, stderr: bool, ring: Option<LogRing>) -> LogConfig {
        let filter = std::env::var("EXAI_LOG")
            .ok()
            .filter(|filter| !filter.trim().is_empty())
            .unwrap_or_else(|| "info".to_owned());
        LogConfig {
            dir,
            filter,
            stderr,
            ring,
        }
    }

    /// Installs the subscriber for the whole process.
    pub fn init(self) -> anyhow::Result<LogGuard> {
        let (subscriber, guard) = self.build()?;
        subscriber.try_init().context("cannot install the logger")?;
        Ok(guard)
    }

    /// The subscriber without installing it (tests install it for one scope).
    pub fn build(self) -> anyhow::Result<(impl tracing::Subscriber + Send + Sync, LogGuard)> {
        let filter = EnvFilter::try_new(&self.filter)
            .with_context(|| format!("EXAI_LOG={:?} is not a valid filter", self.filter))?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create the log directory {}", self.dir.display()))?;
        let appender = rolling::Builder::new()
            .rotation(Rotation::DAILY)
            .filename_prefix(FILE_PREFIX)
            .filename_suffix("log")
            .max_log_files(MAX_LOG_FILES)
            .build(&self.dir)
            .with_context(|| format!("cannot open a log file in {}", self.dir.display()))?;
        let (writer, guard) = tracing_appender::non_blocking(appender);
        let file = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer);
        let stderr = self
            .stderr
            .then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
        let ring = self
            .ring
            .as_ref()
            .map(|ring| ring.layer::<tracing_subscriber::Registry>());
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(file)
            .with(stderr)
            .with(ring);
        Ok((subscriber, LogGuard(Mutex::new(Some(guard)))))
    }
}

/// Logs panics through tracing (so they reach the log file and the dashboard), then runs the
/// previous hook (stderr).
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        let location = info
            .location()
            .map(|location| location.to_string())
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        tracing::error!(thread, location, "panic: {message}");
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_reach_the_daily_file_and_the_ring_through_the_filter() {
        let dir = tempfile::tempdir().unwrap();
        let ring = LogRing::new(16);
        let config = LogConfig {
            dir: dir.path().join("logs"),
            filter: "info,exai_tray_host::logs::noisy=warn".to_owned(),
            stderr: false,
            ring: Some(ring.clone()),
        };
        let (subscriber, guard) = config.build().unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(endpoint = "tray-test", "EXAI tray started");
            tracing::debug!("filtered out");
            tracing::info!(target: "exai_tray_host::logs::noisy", "filtered out too");
        });
        guard.flush();

        let records = ring.records();
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(
            records[0].message,
            "EXAI tray started (endpoint: tray-test)."
        );
        assert_eq!(records[0].level, "INFO");

        let files: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(
            files[0].starts_with("exai-tray.") && files[0].ends_with(".log"),
            "{files:?}"
        );
        let text = std::fs::read_to_string(dir.path().join("logs").join(&files[0])).unwrap();
        assert!(
            text.contains("EXAI tray started endpoint=\"tray-test\""),
            "{text}"
        );
        assert!(!text.contains("filtered out"), "{text}");
    }

    #[test]
    fn a_bad_filter_is_an_error_naming_exai_log() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            dir: dir.path().to_owned(),
            filter: "exai_hub=[".to_owned(),
            stderr: false,
            ring: None,
        };
        let err = config.build().err().unwrap();
        assert!(format!("{err:#}").contains("EXAI_LOG"), "{err:#}");
    }
}
