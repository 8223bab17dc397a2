//! Hub configuration: defaults, the TOML file, environment, flags (later wins).
//!
//! The token is a [`Secret`]: it has no `Display`, its `Debug` is redacted and it is not
//! serializable, so it cannot reach a log line, an event or `exai status` by accident.

use anyhow::Context as _;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default daemon URL.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:8079";
/// Default pool size.
pub const DEFAULT_POOL_SIZE: usize = 4;
/// The daemon's own per-IP connection limit; a larger pool gets a warning.
pub const DAEMON_PER_IP_LIMIT: usize = 10;
/// Default per-call deadline: a little over the daemon's own 300 s tool limit.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(310);
/// Default largest frame from a shim: room for a line at twice the shim's default limit.
pub const DEFAULT_MAX_INCOMING_FRAME: usize = 32 << 20;
/// Default time a lost session stays visible.
pub const DEFAULT_LOST_RETENTION: Duration = Duration::from_secs(600);
/// The daemon's own limit per client IP (its `rate_limiter.py` defaults).
pub const DAEMON_IP_RATE_LIMIT: RateLimit = RateLimit {
    per_sec: 10.0,
    burst: 100,
};
/// The daemon's own limit per hello session.
pub const DAEMON_SESSION_RATE_LIMIT: RateLimit = RateLimit {
    per_sec: 5.0,
    burst: 50,
};

/// A rate limit as the daemon counts it: `burst` frames at once, then `per_sec` a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Frames per second, refilled continuously.
    pub per_sec: f64,
    /// Frames at once.
    pub burst: u32,
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} frames/s, burst {}", self.per_sec, self.burst)
    }
}

/// A rate limit from the config file: `per_sec` 0 turns it off.
fn rate_limit(per_sec: f64, burst: u32) -> Option<RateLimit> {
    (per_sec > 0.0 && burst > 0).then_some(RateLimit { per_sec, burst })
}

/// A secret string (the daemon token). Redacted everywhere it could be printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself; call only where it goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Settings of the EXAI daemon upstream.
#[derive(Debug, Clone)]
pub struct ExaiConfig {
    /// `ws://HOST:PORT`.
    pub url: String,
    /// The daemon token, if the daemon wants one.
    pub token: Option<Secret>,
    /// Number of pooled connections.
    pub pool_size: usize,
    /// Per-call deadline; past it the call fails and its connection is replaced.
    pub call_timeout: Duration,
    /// Deadline for the TCP connect plus `hello`/`hello_ack`.
    pub connect_timeout: Duration,
    /// An idle connection is health-checked with the daemon's `ping` op this often.
    pub health_interval: Duration,
    /// First reconnect delay; doubles per failure, with jitter, up to `max_backoff`.
    pub min_backoff: Duration,
    /// Largest reconnect delay while the daemon is down and no editor window is connected.
    pub max_backoff: Duration,
    /// Largest reconnect delay while the daemon is down and editor windows are connected, so
    /// they are ready again within a second or two of the daemon's return.
    pub active_max_backoff: Duration,
    /// The daemon's per-IP rate limit, which the hub stays under (`None`: not paced).
    pub ip_rate_limit: Option<RateLimit>,
    /// The daemon's per-session rate limit, per pooled connection (`None`: not paced).
    pub session_rate_limit: Option<RateLimit>,
    /// The shortest wait before retrying a frame the daemon refused as over capacity (its
    /// "retry after 0.0s" is often too short).
    pub over_capacity_floor: Duration,
    /// Reconnect delay after the daemon rejected the token.
    pub unauthorized_backoff: Duration,
}

impl Default for ExaiConfig {
    fn default() -> ExaiConfig {
        ExaiConfig {
            url: DEFAULT_URL.to_owned(),
            token: None,
            pool_size: DEFAULT_POOL_SIZE,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            connect_timeout: Duration::from_secs(10),
            health_interval: Duration::from_secs(30),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            active_max_backoff: Duration::from_secs(1),
            ip_rate_limit: Some(DAEMON_IP_RATE_LIMIT),
            session_rate_limit: Some(DAEMON_SESSION_RATE_LIMIT),
            over_capacity_floor: Duration::from_millis(200),
            unauthorized_backoff: Duration::from_secs(120),
        }
    }
}

/// Everything the hub needs.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// The local endpoint override (`--endpoint` / `EXAI_ENDPOINT`); `None` for the default.
    pub endpoint: Option<String>,
    /// The daemon upstream.
    pub exai: ExaiConfig,
    /// How long a lost session stays visible.
    pub lost_retention: Duration,
    /// Largest frame accepted from a shim (an editor's message: its request lines, bounded by the
    /// shim's `--max-line-bytes`, 16 MiB by default). Frames to the shims may be larger (tool
    /// results, up to `exai_proto::DEFAULT_MAX_FRAME_LEN`).
    pub max_frame_len: usize,
    /// What runs the hub (shown to a second hub or tray that finds this one running).
    pub host: crate::api::HostKind,
    /// The dashboard's address without its token, when the embedder serves one over HTTP.
    pub dashboard_url: Option<String>,
    /// A daemon URL was given (file, environment or flag), not just the default: when not, an
    /// unreachable daemon is "not configured yet" rather than "down" ([`crate::overall`]).
    pub daemon_configured: bool,
    /// The config file the dashboard writes the daemon's URL and token to (the one read at
    /// start, or the default place); `None` when there is no home directory.
    pub config_file: Option<PathBuf>,
    /// Where the daemon URL came from.
    pub url_source: crate::api::ConfigSource,
    /// Where the daemon token came from (`Default`: there is none).
    pub token_source: crate::api::ConfigSource,
    /// How wrapped MCP servers (`exai-shim -- COMMAND ...`) are run: idle time, restart backoff.
    pub servers: crate::servers::ServersConfig,
}

impl Default for HubConfig {
    fn default() -> HubConfig {
        HubConfig {
            endpoint: None,
            exai: ExaiConfig::default(),
            lost_retention: DEFAULT_LOST_RETENTION,
            max_frame_len: DEFAULT_MAX_INCOMING_FRAME,
            host: crate::api::HostKind::Headless,
            dashboard_url: None,
            daemon_configured: false,
            config_file: None,
            url_source: crate::api::ConfigSource::Default,
            token_source: crate::api::ConfigSource::Default,
            servers: crate::servers::ServersConfig::default(),
        }
    }
}

/// The TOML file's shape. Unknown keys are errors, so a typo is reported rather than ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[hub]`.
    #[serde(default)]
    pub hub: FileHub,
    /// `[upstream]`.
    #[serde(default)]
    pub upstream: FileUpstream,
    /// `[servers]`: wrapped MCP servers (`exai-shim -- COMMAND ...`).
    #[serde(default)]
    pub servers: FileServers,
}

/// `[servers]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileServers {
    /// Seconds a wrapped server no window uses keeps running before it is stopped (default
    /// 300; the next window starts it again).
    pub idle_secs: Option<u64>,
}

/// `[hub]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHub {
    /// Endpoint name or socket path.
    pub endpoint: Option<String>,
    /// Seconds a lost session stays visible.
    pub lost_retention_secs: Option<u64>,
    /// Longest editor message accepted from a shim, in bytes (default 32 MiB); raise it with
    /// the shims' `--max-line-bytes`.
    pub max_line_bytes: Option<usize>,
}

/// `[upstream]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUpstream {
    /// `ws://HOST:PORT`.
    pub url: Option<String>,
    /// The daemon token.
    pub token: Option<Secret>,
    /// Pooled connections.
    pub pool_size: Option<usize>,
    /// Per-call deadline in seconds.
    pub call_timeout_secs: Option<u64>,
    /// The daemon's per-IP rate limit in frames per second (default 10; 0 turns pacing off).
    pub rate_limit_per_sec: Option<f64>,
    /// The daemon's per-IP burst (default 100).
    pub rate_limit_burst: Option<u32>,
    /// The daemon's per-session rate limit in frames per second (default 5; 0 turns it off).
    pub session_rate_limit_per_sec: Option<f64>,
    /// The daemon's per-session burst (default 50).
    pub session_rate_limit_burst: Option<u32>,
}

/// The default config file path: `<config dir>/exai/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "exai").map(|dirs| dirs.config_dir().join("config.toml"))
}

/// Reads a config file; a missing default file is not an error, a missing explicit one is.
///
/// Errors name the file, the line and the key.
pub fn load_file(path: &Path, explicit: bool) -> anyhow::Result<FileConfig> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(FileConfig::default());
        }
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read config file {}", path.display()));
        }
    };
    parse_file(&text).map_err(|err| anyhow::anyhow!("config file {}: {err}", path.display()))
}

/// Parses config text; the error says the line, column and key.
pub fn parse_file(text: &str) -> Result<FileConfig, String> {
    toml::from_str::<FileConfig>(text).map_err(|err| {
        let message = err.message().to_owned();
        match err.span() {
            Some(span) => {
                let line = text[..span.start].matches('\n').count() + 1;
                let column = span.start - text[..span.start].rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {column}: {message}")
            }
            None => message,
        }
    })
}

impl HubConfig {
    /// Applies a parsed config file over this config.
    pub fn apply_file(&mut self, file: FileConfig) {
        let upstream = &file.upstream;
        if upstream.rate_limit_per_sec.is_some() || upstream.rate_limit_burst.is_some() {
            let default = DAEMON_IP_RATE_LIMIT;
            self.exai.ip_rate_limit = rate_limit(
                upstream.rate_limit_per_sec.unwrap_or(default.per_sec),
                upstream.rate_limit_burst.unwrap_or(default.burst),
            );
        }
        if upstream.session_rate_limit_per_sec.is_some()
            || upstream.session_rate_limit_burst.is_some()
        {
            let default = DAEMON_SESSION_RATE_LIMIT;
            self.exai.session_rate_limit = rate_limit(
                upstream
                    .session_rate_limit_per_sec
                    .unwrap_or(default.per_sec),
                upstream.session_rate_limit_burst.unwrap_or(default.burst),
            );
        }
        if let Some(endpoint) = file.hub.endpoint {
            self.endpoint = Some(endpoint);
        }
        if let Some(secs) = file.hub.lost_retention_secs {
            self.lost_retention = Duration::from_secs(secs);
        }
        if let Some(bytes) = file.hub.max_line_bytes {
            // The frame carries the line and one byte of kind.
            self.max_frame_len = bytes.saturating_add(1);
        }
        if let Some(url) = file.upstream.url {
            self.exai.url = url;
        }
        if let Some(token) = file.upstream.token {
            self.exai.token = Some(token);
        }
        if let Some(pool_size) = file.upstream.pool_size {
            self.exai.pool_size = pool_size;
        }
        if let Some(secs) = file.upstream.call_timeout_secs {
            self.exai.call_timeout = Duration::from_secs(secs);
        }
        if let Some(secs) = file.servers.idle_secs {
            self.servers.idle_timeout = Duration::from_secs(secs);
        }
    }

    /// Applies the environment: `EXAI_WS_URL` (or `EXAI_WS_HOST` + `EXAI_WS_PORT`),
    /// `EXAI_WS_TOKEN`, `EXAI_ENDPOINT`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        let non_empty = |key: &str| get(key).filter(|value| !value.trim().is_empty());
        if let Some(url) = non_empty("EXAI_WS_URL") {
            self.exai.url = url;
        } else if non_empty("EXAI_WS_HOST").is_some() || non_empty("EXAI_WS_PORT").is_some() {
            let host = non_empty("EXAI_WS_HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
            let port = non_empty("EXAI_WS_PORT").unwrap_or_else(|| "8079".to_owned());
            self.exai.url = format!("ws://{host}:{port}");
        }
        if let Some(token) = non_empty("EXAI_WS_TOKEN") {
            self.exai.token = Some(Secret::new(token));
        }
        if let Some(endpoint) = non_empty("EXAI_ENDPOINT") {
            self.endpoint = Some(endpoint);
        }
    }

    /// Problems that do not stop the hub but that the user should see.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.exai.pool_size > DAEMON_PER_IP_LIMIT {
            warnings.push(format!(
                "pool size {} is above the daemon's limit of {DAEMON_PER_IP_LIMIT} connections per IP; \
                 connections past it will be refused",
                self.exai.pool_size
            ));
        }
        warnings
    }

    /// Checks values that would make the hub misbehave.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.exai.pool_size == 0 {
            anyhow::bail!("pool size must be at least 1");
        }
        if self.exai.url.starts_with("wss://") {
            anyhow::bail!(
                "upstream URL {:?}: wss:// is not supported; the EXAI daemon speaks plain ws:// and \
                 the hub has no TLS stack. For a daemon on another machine, forward its port over \
                 SSH (`ssh -N -L 8079:127.0.0.1:8079 HOST`) and use ws://127.0.0.1:8079",
                self.exai.url
            );
        }
        if !self.exai.url.starts_with("ws://") {
            anyhow::bail!(
                "upstream URL {:?} must start with ws:// (the EXAI daemon speaks WebSocket)",
                self.exai.url
            );
        }
        for limit in [self.exai.ip_rate_limit, self.exai.session_rate_limit]
            .into_iter()
            .flatten()
        {
            if !limit.per_sec.is_finite() || limit.per_sec < 0.0 {
                anyhow::bail!(
                    "rate limit {} frames/s is not a usable number (0 turns pacing off)",
                    limit.per_sec
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wss_is_refused_with_what_to_do_instead() {
        let mut config = HubConfig::default();
        config.exai.url = "wss://daemon.example:8079".to_owned();
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("wss:// is not supported"), "{error}");
        assert!(error.contains("ssh -N -L"), "{error}");
        config.exai.url = "http://127.0.0.1:8079".to_owned();
        assert!(config.validate().is_err());
        config.exai.url = "ws://127.0.0.1:8079".to_owned();
        assert!(config.validate().is_ok());
    }

    #[test]
    fn a_wrapped_servers_idle_time_comes_from_the_file() {
        let mut config = HubConfig::default();
        assert_eq!(config.servers.idle_timeout, Duration::from_secs(300));
        config.apply_file(parse_file("[servers]\nidle_secs = 42\n").unwrap());
        assert_eq!(config.servers.idle_timeout, Duration::from_secs(42));
        let typo = parse_file("[servers]\nidle_sec = 42\n").unwrap_err();
        assert!(
            typo.contains("line 2") && typo.contains("idle_sec"),
            "{typo}"
        );
    }

    #[test]
    fn rate_limits_default_to_the_daemons_and_zero_turns_pacing_off() {
        let config = HubConfig::default();
        assert_eq!(config.exai.ip_rate_limit, Some(DAEMON_IP_RATE_LIMIT));
        assert_eq!(
            config.exai.session_rate_limit,
            Some(DAEMON_SESSION_RATE_LIMIT)
        );

        let mut config = HubConfig::default();
        let file = parse_file("[upstream]\nrate_limit_per_sec = 20\n").unwrap();
        config.apply_file(file);
        assert_eq!(
            config.exai.ip_rate_limit,
            Some(RateLimit {
                per_sec: 20.0,
                burst: 100
            }),
            "a burst not given keeps the daemon's"
        );
        let file =
            parse_file("[upstream]\nrate_limit_per_sec = 0\nsession_rate_limit_per_sec = 0\n")
                .unwrap();
        config.apply_file(file);
        assert_eq!(config.exai.ip_rate_limit, None);
        assert_eq!(config.exai.session_rate_limit, None);
        assert!(
            parse_file("[upstream]\nrate_limit = 3\n").is_err(),
            "typos are errors"
        );
    }
}
