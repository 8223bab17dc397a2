//! The daemon's URL and token from the dashboard (the first-run card): checked, merged into
//! `config.toml` and applied to the running hub; and one try of a daemon (its Test button).
//!
//! The file is edited with `toml_edit`, so every other key, comment and blank line stays as the
//! user wrote it; it is replaced atomically and, because it holds the token, as a file only the
//! user can read (`exai_ipc::write_private_file`: mode 0600 on Unix). The token is a [`Secret`]
//! from the moment it is read from the request: it is written to the file and put in the hello,
//! never echoed back, logged or sent in an event.
//!
//! What is in effect after a save follows the start-up order: the environment (`EXAI_WS_URL`,
//! `EXAI_WS_TOKEN`) and flags (`--upstream`) still win over the file, so a value they set stays,
//! and the answer says so rather than pretending the file changed anything.

use crate::api::{ConfigSource, UpstreamTestOutcome, UpstreamTestResult};
use crate::config::{self, ExaiConfig, Secret};
use crate::upstream::exai::DialFailure;
use std::path::Path;
use std::time::Duration;

/// How long the Test button waits for the daemon's `hello_ack`.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What to do with the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenChange {
    /// Leave it as it is (the field was left empty).
    Keep,
    /// Remove it from the file.
    Remove,
    /// Write this one.
    Set(Secret),
}

impl TokenChange {
    /// From the request's field: absent keeps it, empty removes it.
    pub fn from_request(token: Option<Secret>) -> TokenChange {
        match token {
            None => TokenChange::Keep,
            Some(token) if token.expose().trim().is_empty() => TokenChange::Remove,
            Some(token) => TokenChange::Set(Secret::new(token.expose().trim())),
        }
    }
}

/// Why a save was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// The URL is not a daemon address; the message says what is wrong and what would be right.
    #[error("{0}")]
    InvalidUrl(String),
    /// The config file cannot be read, parsed or written; the message names it.
    #[error("{0}")]
    File(String),
}

impl SaveError {
    /// A stable code for the dashboard (`invalid_url`, `config_file`).
    pub fn code(&self) -> &'static str {
        match self {
            SaveError::InvalidUrl(_) => "invalid_url",
            SaveError::File(_) => "config_file",
        }
    }
}

/// Checks a daemon URL and returns it trimmed: `ws://HOST[:PORT][/PATH]`, no credentials, no
/// spaces; `wss://` is refused with the way to reach a remote daemon instead.
pub fn check_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("Enter the daemon's address, for example ws://127.0.0.1:8079.".to_owned());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{url:?} is not an address: it contains spaces or control characters."
        ));
    }
    let Some(rest) = url.strip_prefix("ws://") else {
        if url.starts_with("wss://") {
            return Err(
                "wss:// is not supported: the EXAI daemon speaks plain ws://. For a daemon on \
                 another machine, forward its port over SSH (ssh -N -L 8079:127.0.0.1:8079 HOST) \
                 and use ws://127.0.0.1:8079."
                    .to_owned(),
            );
        }
        return Err(format!(
            "{url:?} must start with ws:// (the EXAI daemon speaks WebSocket), for example \
             ws://127.0.0.1:8079."
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "Put the token in the token field, not in the address (no user@ or user:password@)."
                .to_owned(),
        );
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => return Err(format!("{url:?}: the IPv6 address has no closing ]")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!(
            "{url:?} names no host: use ws://HOST:PORT, for example ws://127.0.0.1:8079."
        ));
    }
    if let Some(port) = port
        && !matches!(port.parse::<u16>(), Ok(1..))
    {
        return Err(format!(
            "{url:?}: the port must be a number from 1 to 65535 (8079 by default, 3010 under Docker)."
        ));
    }
    Ok(url.to_owned())
}

/// The config text with `[upstream] url` set and the token changed as asked; every other key,
/// comment and blank line kept. An empty `text` becomes a new file with a header comment.
pub fn merge(text: &str, url: &str, token: &TokenChange) -> Result<String, String> {
    let text = if text.trim().is_empty() {
        "# EXAI hub settings (README: Configuration). The dashboard writes [upstream]; edit freely.\n\n[upstream]\n"
    } else {
        text
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|err: toml_edit::TomlError| one_line(&err.to_string()))?;
    let upstream = doc
        .entry("upstream")
        .or_insert_with(toml_edit::table)
        .as_table_like_mut()
        .ok_or("`upstream` is not a table ([upstream])")?;
    set_keeping_decor(upstream, "url", url);
    match token {
        TokenChange::Keep => {}
        TokenChange::Remove => {
            upstream.remove("token");
        }
        TokenChange::Set(token) => set_keeping_decor(upstream, "token", token.expose()),
    }
    Ok(doc.to_string())
}

/// Sets `key` to a string, keeping the comments around an existing value.
fn set_keeping_decor(table: &mut dyn toml_edit::TableLike, key: &str, value: &str) {
    if let Some(existing) = table.get_mut(key).and_then(|item| item.as_value_mut()) {
        let decor = existing.decor().clone();
        *existing = toml_edit::Value::from(value);
        *existing.decor_mut() = decor;
    } else {
        table.insert(key, toml_edit::value(value));
    }
}

/// toml_edit's multi-line error (with a caret under the spot) as one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.chars().all(|c| "|^ ".contains(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads `path` (missing: empty), merges the URL and token in, checks that the hub can read the
/// result, and replaces the file as a private (0600) file. Creates the directory if needed.
pub fn save(path: &Path, url: &str, token: &TokenChange) -> Result<(), SaveError> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(SaveError::File(format!("Cannot read {shown}: {err}."))),
    };
    let merged = merge(&text, url, token).map_err(|err| {
        SaveError::File(format!(
            "{shown} is not valid TOML ({err}); fix or remove it, then save again."
        ))
    })?;
    if let Err(err) = config::parse_file(&merged) {
        return Err(SaveError::File(format!(
            "{shown} has a setting the hub does not know ({err}); fix it, then save again."
        )));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|err| SaveError::File(format!("Cannot create {}: {err}.", dir.display())))?;
    }
    exai_ipc::write_private_file(path, merged.as_bytes())
        .map_err(|err| SaveError::File(format!("Cannot write {shown}: {err}.")))
}

/// Creates `path` (and its directory) as a private file with every daemon setting commented
/// out, when it does not exist, so "Open config file" has something to open.
pub fn create_if_missing(path: &Path) -> Result<(), SaveError> {
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|err| SaveError::File(format!("Cannot create {}: {err}.", dir.display())))?;
    }
    let text = "# EXAI hub settings (README: Configuration). The dashboard writes [upstream].\n\
                # [upstream]\n# url = \"ws://127.0.0.1:8079\"\n# token = \"the daemon's token\"\n";
    exai_ipc::write_private_file(path, text.as_bytes())
        .map_err(|err| SaveError::File(format!("Cannot write {}: {err}.", path.display())))
}

/// The daemon settings in effect and where each came from.
#[derive(Debug, Clone)]
pub(crate) struct Effective {
    pub(crate) url: String,
    pub(crate) url_source: ConfigSource,
    pub(crate) token: Option<Secret>,
    pub(crate) token_source: ConfigSource,
}

/// What is in effect once `url` and `token` are in the file: the environment and flags still
/// win, as they would at the next start. Also the sentences that say so.
pub(crate) fn after_save(
    now: &Effective,
    url: &str,
    token: &TokenChange,
) -> (Effective, Vec<String>) {
    let mut next = now.clone();
    let mut notes = Vec::new();
    match now.url_source {
        ConfigSource::Environment => notes.push(format!(
            "EXAI_WS_URL (or EXAI_WS_HOST/EXAI_WS_PORT) is set in this program's environment and \
             wins over config.toml, so the hub stays on {}; unset it to use the file.",
            now.url
        )),
        ConfigSource::Flag => notes.push(format!(
            "--upstream was given on the command line and wins over config.toml, so the hub \
             stays on {}.",
            now.url
        )),
        ConfigSource::Default | ConfigSource::File => {
            next.url = url.to_owned();
            next.url_source = ConfigSource::File;
        }
    }
    if now.token_source == ConfigSource::Environment {
        if *token != TokenChange::Keep {
            notes.push(
                "EXAI_WS_TOKEN is set in this program's environment and wins over the token in \
                 config.toml."
                    .to_owned(),
            );
        }
    } else {
        match token {
            TokenChange::Keep => {}
            TokenChange::Remove => {
                next.token = None;
                next.token_source = ConfigSource::Default;
            }
            TokenChange::Set(token) => {
                next.token = Some(token.clone());
                next.token_source = ConfigSource::File;
            }
        }
    }
    (next, notes)
}

/// Tries `config`'s daemon once (connect, hello, `hello_ack`), within [`TEST_TIMEOUT`].
pub(crate) async fn test(config: &ExaiConfig) -> UpstreamTestResult {
    if let Err(message) = check_url(&config.url) {
        return UpstreamTestResult {
            outcome: UpstreamTestOutcome::Invalid,
            message,
        };
    }
    let tried = tokio::time::timeout(TEST_TIMEOUT, crate::upstream::exai::probe(config)).await;
    test_result(&config.url, config.token.is_some(), tried.ok())
}

/// A try's end in words; `None`: no answer within [`TEST_TIMEOUT`].
fn test_result(
    url: &str,
    with_token: bool,
    tried: Option<Result<(), DialFailure>>,
) -> UpstreamTestResult {
    let (outcome, message) = match tried {
        Some(Ok(())) if with_token => (
            UpstreamTestOutcome::Ok,
            format!("The daemon at {url} answered and accepted the token."),
        ),
        Some(Ok(())) => (
            UpstreamTestOutcome::Ok,
            format!("The daemon at {url} answered; it wants no token."),
        ),
        Some(Err(DialFailure::Unauthorized(_))) if with_token => (
            UpstreamTestOutcome::Unauthorized,
            format!(
                "The daemon at {url} rejected the token: use the token the daemon was started \
                 with (its EXAI_WS_TOKEN)."
            ),
        ),
        Some(Err(DialFailure::Unauthorized(_))) => (
            UpstreamTestOutcome::Unauthorized,
            format!(
                "The daemon at {url} wants a token: enter the one it was started with (its \
                 EXAI_WS_TOKEN)."
            ),
        ),
        Some(Err(DialFailure::Other(cause))) if cause.contains("refused") => (
            UpstreamTestOutcome::Refused,
            format!(
                "Nothing listens at {url} (connection refused): start the daemon, or check the \
                 port (8079 by default, often 3010 under Docker)."
            ),
        ),
        Some(Err(DialFailure::Other(cause))) => (
            UpstreamTestOutcome::Failed,
            format!("Could not talk to a daemon at {url}: {cause}."),
        ),
        None => (
            UpstreamTestOutcome::Timeout,
            format!(
                "No answer from {url} within {} s: check the address, and that a firewall or \
                 tunnel lets it through.",
                TEST_TIMEOUT.as_secs()
            ),
        ),
    };
    UpstreamTestResult { outcome, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "ws://127.0.0.1:3010";

    #[test]
    fn urls_are_checked_with_a_message_that_says_what_would_be_right() {
        assert_eq!(
            check_url(" ws://127.0.0.1:8079 ").unwrap(),
            "ws://127.0.0.1:8079"
        );
        assert!(check_url("ws://localhost").is_ok());
        assert!(check_url("ws://[::1]:8079/ws").is_ok());
        for (bad, says) in [
            ("", "Enter the daemon's address"),
            ("127.0.0.1:8079", "must start with ws://"),
            ("http://127.0.0.1:8079", "must start with ws://"),
            ("wss://daemon:8079", "ssh -N -L"),
            ("ws://:8079", "names no host"),
            ("ws://host:0", "port must be a number"),
            ("ws://host:99999", "port must be a number"),
            ("ws://host:80x", "port must be a number"),
            ("ws://user:pw@host:1", "token field"),
            ("ws://host :1", "spaces"),
            ("ws://[::1:1", "closing ]"),
        ] {
            let error = check_url(bad).unwrap_err();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
    }

    #[test]
    fn merging_keeps_every_other_key_and_comment() {
        let text = "# my hub\n[hub]\nlost_retention_secs = 60 # a minute\n\n[upstream]\n\
                    # where the daemon is\nurl = \"ws://old:1\" # old one\npool_size = 2\n";
        let token = TokenChange::Set(Secret::new("t0k"));
        let merged = merge(text, URL, &token).unwrap();
        assert_eq!(
            merged,
            "# my hub\n[hub]\nlost_retention_secs = 60 # a minute\n\n[upstream]\n\
             # where the daemon is\nurl = \"ws://127.0.0.1:3010\" # old one\npool_size = 2\n\
             token = \"t0k\"\n"
        );
        let parsed = config::parse_file(&merged).unwrap();
        assert_eq!(parsed.upstream.url.as_deref(), Some(URL));
        assert_eq!(parsed.upstream.pool_size, Some(2));
        assert_eq!(parsed.upstream.token.unwrap().expose(), "t0k");

        let kept = merge(&merged, "ws://other:2", &TokenChange::Keep).unwrap();
        assert!(kept.contains("token = \"t0k\""), "{kept}");
        let removed = merge(&merged, URL, &TokenChange::Remove).unwrap();
        assert!(!removed.contains("token"), "{removed}");
        assert!(removed.contains("# a minute") && removed.contains("pool_size = 2"));
    }

    #[test]
    fn a_new_file_gets_a_header_and_the_upstream_table() {
        let merged = merge("", URL, &TokenChange::Keep).unwrap();
        assert!(merged.starts_with("# EXAI hub settings"), "{merged}");
        assert!(
            merged.ends_with("[upstream]\nurl = \"ws://127.0.0.1:3010\"\n"),
            "{merged}"
        );
        let inline = merge("upstream = { pool_size = 3 }\n", URL, &TokenChange::Keep).unwrap();
        assert_eq!(
            config::parse_file(&inline).unwrap().upstream.url.as_deref(),
            Some(URL)
        );
        let error = merge("upstream = 3\n", URL, &TokenChange::Keep).unwrap_err();
        assert!(error.contains("not a table"), "{error}");
        let error = merge("[upstream\nurl = 1\n", URL, &TokenChange::Keep).unwrap_err();
        assert!(error.contains("line 1"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn saving_writes_a_private_file_and_refuses_a_broken_one_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exai").join("config.toml");
        save(&path, URL, &TokenChange::Set(Secret::new("s3cret"))).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("token = \"s3cret\""), "{text}");
        // On Unix the permissions' Debug shows the mode (exai-ipc's own test reads it as bits).
        let permissions = format!("{:?}", std::fs::metadata(&path).unwrap().permissions());
        assert!(
            !permissions.contains("mode") || permissions.contains("0o100600"),
            "{permissions}"
        );

        std::fs::write(&path, "[upstream]\npool_sise = 2\n").unwrap();
        let error = save(&path, URL, &TokenChange::Keep).unwrap_err();
        assert_eq!(error.code(), "config_file");
        assert!(error.to_string().contains("pool_sise"), "{error}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[upstream]\npool_sise = 2\n",
            "nothing is written"
        );
        std::fs::write(&path, "[upstream\n").unwrap();
        let error = save(&path, URL, &TokenChange::Keep).unwrap_err();
        assert!(error.to_string().contains("not valid TOML"), "{error}");
    }

    #[test]
    fn opening_a_missing_file_creates_one_that_reads_as_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exai").join("config.toml");
        create_if_missing(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = config::parse_file(&text).unwrap();
        assert!(parsed.upstream.url.is_none() && parsed.upstream.token.is_none());
        std::fs::write(&path, "[hub]\n").unwrap();
        create_if_missing(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[hub]\n",
            "an existing file is kept"
        );
    }

    #[test]
    fn the_request_field_says_keep_remove_or_set() {
        assert_eq!(TokenChange::from_request(None), TokenChange::Keep);
        assert_eq!(
            TokenChange::from_request(Some(Secret::new("  "))),
            TokenChange::Remove
        );
        assert_eq!(
            TokenChange::from_request(Some(Secret::new(" t "))),
            TokenChange::Set(Secret::new("t"))
        );
    }

    #[test]
    fn the_environment_and_flags_still_win_after_a_save() {
        let now = Effective {
            url: "ws://127.0.0.1:8079".into(),
            url_source: ConfigSource::Default,
            token: None,
            token_source: ConfigSource::Default,
        };
        let token = TokenChange::Set(Secret::new("t"));
        let (next, notes) = after_save(&now, URL, &token);
        assert_eq!(
            (next.url.as_str(), next.url_source),
            (URL, ConfigSource::File)
        );
        assert_eq!(next.token, Some(Secret::new("t")));
        assert!(notes.is_empty());

        let env = Effective {
            url: "ws://env:1".into(),
            url_source: ConfigSource::Environment,
            token: Some(Secret::new("e")),
            token_source: ConfigSource::Environment,
        };
        let (next, notes) = after_save(&env, URL, &token);
        assert_eq!(next.url, "ws://env:1");
        assert_eq!(next.token, Some(Secret::new("e")));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("EXAI_WS_URL"), "{notes:?}");
        let flag = Effective {
            url_source: ConfigSource::Flag,
            ..env
        };
        let (_, notes) = after_save(&flag, URL, &TokenChange::Keep);
        assert!(
            notes.len() == 1 && notes[0].contains("--upstream"),
            "{notes:?}"
        );
    }

    #[test]
    fn each_way_a_try_ends_is_said_in_words_without_the_token() {
        let cases = [
            (
                Some(Ok(())),
                true,
                UpstreamTestOutcome::Ok,
                "accepted the token",
            ),
            (
                Some(Ok(())),
                false,
                UpstreamTestOutcome::Ok,
                "wants no token",
            ),
            (
                Some(Err(DialFailure::Unauthorized("close 4003".into()))),
                true,
                UpstreamTestOutcome::Unauthorized,
                "rejected the token",
            ),
            (
                Some(Err(DialFailure::Unauthorized("close 4003".into()))),
                false,
                UpstreamTestOutcome::Unauthorized,
                "wants a token",
            ),
            (
                Some(Err(DialFailure::Other(
                    "connection refused (os error 111)".into(),
                ))),
                false,
                UpstreamTestOutcome::Refused,
                "3010 under Docker",
            ),
            (
                Some(Err(DialFailure::Other("dns error".into()))),
                false,
                UpstreamTestOutcome::Failed,
                "dns error",
            ),
            (None, false, UpstreamTestOutcome::Timeout, "within 5 s"),
        ];
        for (tried, with_token, outcome, says) in cases {
            let result = test_result(URL, with_token, tried);
            assert_eq!(result.outcome, outcome, "{result:?}");
            assert!(
                result.message.contains(says) && result.message.contains(URL),
                "{result:?}"
            );
        }
    }
}
