//! Starting a hub the way both embedders (`exai hub` and the tray app) do: the config from
//! defaults, file, environment and flags (later wins), its warnings and checks; and, when another
//! hub owns the endpoint, who that is.
//!
//! Embedders match on [`StartError`] and keep only their own words and exit codes: `exai hub`
//! prints one line and fails, the tray asks a running tray to show its dashboard. Nothing here
//! prints; config warnings go to `tracing`.

use crate::api::{ConfigSource, HostInfo, HostKind};
use crate::config::{self, HubConfig};
use crate::control::{self, ControlError};
use std::path::PathBuf;
use std::time::Duration;

/// Which config file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFile {
    /// `<config dir>/exai/config.toml` ([`config::default_config_path`]), when it exists.
    Default,
    /// A file the user named (`exai hub --config`): it must exist.
    Explicit(PathBuf),
    /// No file: defaults and the environment only (the tray after a broken file).
    Skip,
}

/// Settings from the command line; each wins over the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--upstream`: the daemon URL.
    pub upstream: Option<String>,
    /// `--endpoint`: the local endpoint name or socket path.
    pub endpoint: Option<String>,
    /// `--pool`: pooled connections to the daemon.
    pub pool: Option<usize>,
    /// `--call-timeout`: the per-call deadline.
    pub call_timeout: Option<Duration>,
    /// `--server-idle-secs`: how long a wrapped server no window uses keeps running.
    pub server_idle: Option<Duration>,
}

/// What [`load_config`] reads.
#[derive(Debug, Clone)]
pub struct ConfigRequest {
    /// What runs the hub (shown to a second hub or tray).
    pub host: HostKind,
    /// The config file.
    pub file: ConfigFile,
    /// The command line.
    pub flags: Flags,
}

/// Why the config is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read or parsed; the message names the file, line and key.
    #[error(transparent)]
    File(anyhow::Error),
    /// A value would make the hub misbehave (a pool of 0, `wss://`, ...).
    #[error(transparent)]
    Invalid(anyhow::Error),
}

/// Why a hub did not start. Messages are full sentences; embedders may say it their own way.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The endpoint's name is unusable.
    #[error(transparent)]
    EndpointName(#[from] exai_ipc::EndpointError),
    /// Another hub owns the endpoint and said who it is.
    #[error("an EXAI hub is already running on {endpoint}: {} (pid {})", host_words(host.kind), host.pid)]
    AlreadyRunning {
        /// The running hub's process, as it described itself.
        host: HostInfo,
        /// Its endpoint, as it names it.
        endpoint: String,
    },
    /// Another hub owns the endpoint but did not answer who it is (it may be starting or
    /// stopping, or stuck).
    #[error("{}", exai_ipc::ListenError::AlreadyRunning { endpoint: endpoint.clone() })]
    NotAnswering {
        /// Where it listens.
        endpoint: String,
        /// Why asking it failed (not part of the message: the endpoint is the news).
        error: ControlError,
    },
    /// The endpoint cannot be bound: an insecure place, or an operating system error.
    #[error(transparent)]
    Endpoint(#[from] exai_ipc::ListenError),
}

fn host_words(kind: HostKind) -> &'static str {
    match kind {
        HostKind::Tray => "the EXAI Tray app",
        HostKind::Headless => "`exai hub`",
    }
}

/// Loads the config: defaults, then the file, then `env` (`EXAI_WS_URL`, ...), then `flags`;
/// checks it and logs its warnings.
///
/// Also records whether a daemon URL was given anywhere ([`HubConfig::daemon_configured`]).
pub fn load_config(
    request: &ConfigRequest,
    env: impl Fn(&str) -> Option<String>,
) -> Result<HubConfig, ConfigError> {
    let mut config = HubConfig {
        host: request.host,
        ..HubConfig::default()
    };
    let file = match &request.file {
        ConfigFile::Default => config::default_config_path().map(|path| (path, false)),
        ConfigFile::Explicit(path) => Some((path.clone(), true)),
        ConfigFile::Skip => None,
    };
    let mut url_source = ConfigSource::Default;
    let mut token_source = ConfigSource::Default;
    if let Some((path, explicit)) = file {
        let file = config::load_file(&path, explicit).map_err(ConfigError::File)?;
        if file.upstream.url.is_some() {
            url_source = ConfigSource::File;
        }
        if file.upstream.token.is_some() {
            token_source = ConfigSource::File;
        }
        config.apply_file(file);
        config.config_file = Some(path);
    } else {
        // Not read (the tray after a broken file), but still where the dashboard writes.
        config.config_file = config::default_config_path();
    }
    let set = |key: &str| env(key).is_some_and(|value| !value.trim().is_empty());
    if ["EXAI_WS_URL", "EXAI_WS_HOST", "EXAI_WS_PORT"]
        .iter()
        .any(|key| set(key))
    {
        url_source = ConfigSource::Environment;
    }
    if set("EXAI_WS_TOKEN") {
        token_source = ConfigSource::Environment;
    }
    config.apply_env(env);
    let flags = &request.flags;
    if let Some(url) = &flags.upstream {
        config.exai.url = url.clone();
        url_source = ConfigSource::Flag;
    }
    if let Some(endpoint) = &flags.endpoint {
        config.endpoint = Some(endpoint.clone());
    }
    if let Some(pool) = flags.pool {
        config.exai.pool_size = pool;
    }
    if let Some(timeout) = flags.call_timeout {
        config.exai.call_timeout = timeout;
    }
    if let Some(idle) = flags.server_idle {
        config.servers.idle_timeout = idle;
    }
    config.daemon_configured = url_source != ConfigSource::Default;
    config.url_source = url_source;
    config.token_source = token_source;
    config.validate().map_err(ConfigError::Invalid)?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    Ok(config)
}

/// Another hub owns `endpoint` (where it was found): asks it who it is.
pub(crate) async fn who_runs(endpoint_override: Option<&str>, endpoint: String) -> StartError {
    match control::status(endpoint_override).await {
        Ok(snapshot) => StartError::AlreadyRunning {
            host: snapshot.host,
            endpoint: snapshot.endpoint,
        },
        Err(error) => StartError::NotAnswering { endpoint, error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_URL;

    fn vars(set: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let set: Vec<(String, String)> = set
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        move |key| {
            set.iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
        }
    }

    fn request(file: ConfigFile, flags: Flags) -> ConfigRequest {
        ConfigRequest {
            host: HostKind::Tray,
            file,
            flags,
        }
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn file_then_environment_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "[hub]\nendpoint = \"from-file\"\n[upstream]\nurl = \"ws://file:1\"\npool_size = 2\n[servers]\nidle_secs = 60\n",
        );
        let config = load_config(
            &request(ConfigFile::Explicit(path.clone()), Flags::default()),
            vars(&[]),
        )
        .unwrap();
        assert_eq!(
            (config.exai.url.as_str(), config.exai.pool_size),
            ("ws://file:1", 2)
        );
        assert_eq!(config.endpoint.as_deref(), Some("from-file"));
        assert_eq!(config.host, HostKind::Tray);
        assert!(config.daemon_configured);
        assert_eq!(config.servers.idle_timeout, Duration::from_secs(60));

        let env = vars(&[("EXAI_WS_URL", "ws://env:2"), ("EXAI_ENDPOINT", "from-env")]);
        let config = load_config(
            &request(ConfigFile::Explicit(path.clone()), Flags::default()),
            &env,
        )
        .unwrap();
        assert_eq!(config.exai.url, "ws://env:2");
        assert_eq!(config.endpoint.as_deref(), Some("from-env"));

        let flags = Flags {
            upstream: Some("ws://flag:3".into()),
            endpoint: Some("from-flag".into()),
            pool: Some(5),
            call_timeout: Some(Duration::from_secs(7)),
            server_idle: Some(Duration::from_secs(8)),
        };
        let config = load_config(&request(ConfigFile::Explicit(path), flags), &env).unwrap();
        assert_eq!(config.exai.url, "ws://flag:3");
        assert_eq!(config.endpoint.as_deref(), Some("from-flag"));
        assert_eq!(config.exai.pool_size, 5);
        assert_eq!(config.exai.call_timeout, Duration::from_secs(7));
        assert_eq!(config.servers.idle_timeout, Duration::from_secs(8));
    }

    #[test]
    fn a_daemon_is_configured_only_when_a_url_was_given_somewhere() {
        let none = load_config(&request(ConfigFile::Skip, Flags::default()), vars(&[])).unwrap();
        assert_eq!(none.exai.url, DEFAULT_URL);
        assert!(!none.daemon_configured);
        let blank = vars(&[("EXAI_WS_URL", "  ")]);
        let blank = load_config(&request(ConfigFile::Skip, Flags::default()), blank).unwrap();
        assert!(!blank.daemon_configured, "a blank variable is not a URL");
        let port = vars(&[("EXAI_WS_PORT", "9000")]);
        let port = load_config(&request(ConfigFile::Skip, Flags::default()), port).unwrap();
        assert!(port.daemon_configured);
        let flag = Flags {
            upstream: Some(DEFAULT_URL.into()),
            ..Flags::default()
        };
        let flag = load_config(&request(ConfigFile::Skip, flag), vars(&[])).unwrap();
        assert!(
            flag.daemon_configured,
            "even the default URL, when asked for"
        );
    }

    #[test]
    fn each_setting_says_where_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "[upstream]\nurl = \"ws://file:1\"\ntoken = \"t\"\n");
        let file = || ConfigFile::Explicit(path.clone());
        let config = load_config(&request(file(), Flags::default()), vars(&[])).unwrap();
        assert_eq!(config.url_source, ConfigSource::File);
        assert_eq!(config.token_source, ConfigSource::File);
        assert_eq!(config.config_file.as_deref(), Some(path.as_path()));
        let env = vars(&[("EXAI_WS_PORT", "9"), ("EXAI_WS_TOKEN", "e")]);
        let config = load_config(&request(file(), Flags::default()), &env).unwrap();
        assert_eq!(config.url_source, ConfigSource::Environment);
        assert_eq!(config.token_source, ConfigSource::Environment);
        let flags = Flags {
            upstream: Some("ws://flag:3".into()),
            ..Flags::default()
        };
        let config = load_config(&request(file(), flags), &env).unwrap();
        assert_eq!(config.url_source, ConfigSource::Flag);
        let none = load_config(&request(ConfigFile::Skip, Flags::default()), vars(&[])).unwrap();
        assert_eq!(
            (none.url_source, none.token_source),
            (ConfigSource::Default, ConfigSource::Default)
        );
    }

    #[test]
    fn a_missing_explicit_file_a_bad_file_and_a_bad_value_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let missing = ConfigFile::Explicit(dir.path().join("absent.toml"));
        let error = load_config(&request(missing, Flags::default()), vars(&[])).unwrap_err();
        assert!(matches!(error, ConfigError::File(_)), "{error:?}");
        assert!(format!("{:#}", anyhow::Error::from(error)).starts_with("cannot read config file"));

        let typo = write(&dir, "[upstream]\npool_sise = 3\n");
        let error = load_config(
            &request(ConfigFile::Explicit(typo.clone()), Flags::default()),
            vars(&[]),
        )
        .unwrap_err();
        let ConfigError::File(error) = error else {
            panic!("{error:?}")
        };
        let message = format!("{error:#}");
        assert!(message.contains(&typo.display().to_string()), "{message}");
        assert!(message.contains("line 2"), "{message}");

        let flags = Flags {
            pool: Some(0),
            ..Flags::default()
        };
        let error = load_config(&request(ConfigFile::Skip, flags), vars(&[])).unwrap_err();
        assert!(matches!(error, ConfigError::Invalid(_)), "{error:?}");
        assert_eq!(error.to_string(), "pool size must be at least 1");
    }
}
