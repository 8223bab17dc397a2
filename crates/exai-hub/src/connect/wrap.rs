//! Wrapping an editor's other MCP servers through the shim, and back: each stdio server's
//! `command` and `args` become `exai-shim [SHIM FLAGS] -- COMMAND ARGS...`, so every window of
//! every editor shares one instance of it through the hub (`exai connect <editor> --wrap`,
//! `exai config <editor> --wrap FILE`); `--unwrap` restores `COMMAND ARGS...`.
//!
//! Only `command` and `args` are edited, each where it stands: `env`, `cwd`, `type` and every
//! other key, and every byte around them (comments included), stay as they were. Left alone,
//! each with its reason: remote servers (a URL, or `type` `http`/`sse`), entries that already
//! run the shim (wrapped ones, and EXAI's own entry, the shim standing for the daemon), and
//! entries with nothing to run. So wrapping twice changes nothing, and unwrapping a wrapped
//! file gives the original `command` and `args` back.
//!
//! [`plan`] is pure (text in, text and a report out) so the dashboard can show the same
//! report; [`super::Connector::wrap`] reads and writes the editor's file with it. The report
//! names the variables in an entry's `env`, never their values.
//!
//! Claude Code also keeps servers per project in the same `~/.claude.json`, under
//! `projects.<dir>.mcpServers`; with [`WrapOptions::projects`] those are rewritten too, each
//! reported with its project's folder.

use super::editor::Format;
use super::jsonc::{Doc, Entry};
use super::write::ServersFile;
use serde_json::{Map, Value};

/// Which way to rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `COMMAND ARGS` → `exai-shim ... -- COMMAND ARGS`.
    Wrap,
    /// `exai-shim ... -- COMMAND ARGS` → `COMMAND ARGS`.
    Unwrap,
}

/// The shim a wrapped entry runs, and its flags before `--` (`--name`, `--endpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapOptions {
    /// The shim's path as the entry's `command`.
    pub shim: String,
    /// The shim's own flags, before `--`.
    pub shim_args: Vec<String>,
    /// Also the servers of each project in `projects.<dir>.mcpServers` (Claude Code's
    /// `~/.claude.json`; JSON files only).
    pub projects: bool,
}

/// What happened to one server, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Now runs through the shim.
    Wrapped,
    /// Runs its own command again.
    Unwrapped,
    /// Already runs through the shim (left as it is).
    AlreadyWrapped,
    /// Does not run through the shim, so there is nothing to unwrap.
    NotWrapped,
    /// A remote server (`url`, `serverUrl`, or `type` `http`/`sse`): the editor connects to
    /// it itself, there is no process to share.
    Remote,
    /// EXAI's own entry: the shim standing for the EXAI daemon.
    Exai,
    /// Not an entry the shim can stand for; the text says why.
    Unsupported(String),
}

impl Outcome {
    /// Whether the entry is rewritten.
    pub fn changed(&self) -> bool {
        matches!(self, Outcome::Wrapped | Outcome::Unwrapped)
    }

    /// The listing's words: `wrapped`, or `left: <why>`.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Wrapped => "wrapped".to_owned(),
            Outcome::Unwrapped => "unwrapped".to_owned(),
            Outcome::AlreadyWrapped => "left: already runs through exai-shim".to_owned(),
            Outcome::NotWrapped => "left: does not run through exai-shim".to_owned(),
            Outcome::Remote => {
                "left: a remote server (URL); only stdio servers (command and args) are shared"
                    .to_owned()
            }
            Outcome::Exai => "left: the exai server itself".to_owned(),
            Outcome::Unsupported(why) => format!("left: {why}"),
        }
    }
}

/// One server in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerChange {
    /// Its name in the file.
    pub name: String,
    /// The project folder it belongs to (`projects.<dir>.mcpServers`), `None` for the file's
    /// own servers.
    pub project: Option<String>,
    /// What happens to it.
    pub outcome: Outcome,
    /// What it runs now, command first (empty for a remote server).
    pub before: Vec<String>,
    /// What it runs afterwards (equal to `before` when it is left).
    pub after: Vec<String>,
    /// The names of the variables in its `env`, sorted (the values are never reported).
    pub env_keys: Vec<String>,
}

impl ServerChange {
    /// How the listing names it: `postgres`, or `postgres (project /home/me/api)`.
    pub fn label(&self) -> String {
        match &self.project {
            Some(dir) => format!("{} (project {dir})", self.name),
            None => self.name.clone(),
        }
    }
}

/// A rewritten file and what happened to each server, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapPlan {
    /// The whole text afterwards (equal to the input when nothing changes).
    pub text: String,
    /// Every server, once each (the last of a repeated name, the one editors read).
    pub servers: Vec<ServerChange>,
}

impl WrapPlan {
    /// How many servers are rewritten.
    pub fn n_changed(&self) -> usize {
        self.servers
            .iter()
            .filter(|server| server.outcome.changed())
            .count()
    }
}

/// `text` (an editor's file in `format`) with every stdio server wrapped or unwrapped; fails
/// with the parser's words (line and column) when the text is not valid.
pub fn plan(
    text: &str,
    format: Format,
    direction: Direction,
    options: &WrapOptions,
) -> Result<WrapPlan, String> {
    let servers = ServersFile::parse(text, format)?.servers()?;
    let mut changes: Vec<(ServerChange, Option<Edit>)> = Vec::new();
    for (index, (name, entry)) in servers.iter().enumerate() {
        // A repeated name: only the last one counts (and is the one edited).
        if servers[index + 1..].iter().any(|(later, _)| later == name) {
            continue;
        }
        changes.push(server_change(name, entry, direction, options));
    }
    let mut after = text.to_owned();
    for (change, edit) in &changes {
        if let Some(edit) = edit {
            after = ServersFile::parse(&after, format)?.with_server_keys(
                &change.name,
                edit.inside,
                &edit.keys,
            )?;
        }
    }
    let mut servers: Vec<ServerChange> = changes.into_iter().map(|(change, _)| change).collect();
    if options.projects && matches!(format, Format::Json(_)) {
        let (text, projects) = plan_projects(&after, direction, options)?;
        after = text;
        servers.extend(projects);
    }
    Ok(WrapPlan {
        text: after,
        servers,
    })
}

/// The servers of each project (`projects.<dir>.mcpServers`, Claude Code's `~/.claude.json`)
/// rewritten in `text`, and what happened to each, projects in file order.
fn plan_projects(
    text: &str,
    direction: Direction,
    options: &WrapOptions,
) -> Result<(String, Vec<ServerChange>), String> {
    let doc = Doc::parse(text).map_err(|err| err.to_string())?;
    // A `projects` that is not an object is Claude Code's business, not a reason to refuse.
    let Ok(Some(projects)) = doc.members(&["projects"]) else {
        return Ok((text.to_owned(), Vec::new()));
    };
    let mut changes: Vec<(ServerChange, Option<Edit>)> = Vec::new();
    for (index, (dir, _)) in projects.iter().enumerate() {
        if projects[index + 1..].iter().any(|(later, _)| later == dir) {
            continue;
        }
        // The members in file order (a `Map` would sort them); none, or not an object: skip.
        let Ok(Some(members)) = doc.members(&["projects", dir, "mcpServers"]) else {
            continue;
        };
        for (at, (name, entry)) in members.iter().enumerate() {
            if members[at + 1..].iter().any(|(later, _)| later == name) {
                continue;
            }
            let (mut change, edit) = server_change(name, entry, direction, options);
            change.project = Some(dir.clone());
            changes.push((change, edit));
        }
    }
    let mut after = text.to_owned();
    for (change, edit) in &changes {
        if let Some(edit) = edit {
            let dir = change.project.as_deref().unwrap_or_default();
            let mut path = vec!["projects", dir, "mcpServers", change.name.as_str()];
            path.extend(edit.inside);
            after = Doc::parse(&after)
                .map_err(|err| err.to_string())?
                .set_values(&path, &edit.keys)?;
        }
    }
    Ok((
        after,
        changes.into_iter().map(|(change, _)| change).collect(),
    ))
}

/// Whether `command` is the shim (any folder, `.exe` or not).
pub fn is_shim(command: &str) -> bool {
    let file = command.rsplit(['/', '\\']).next().unwrap_or(command);
    let file = file.to_ascii_lowercase();
    file.strip_suffix(".exe").unwrap_or(&file) == "exai-shim"
}

/// The command an entry runs, in either of its shapes.
enum Launch {
    /// `"command": "npx", "args": [...]` (every editor).
    Plain { command: String, args: Vec<String> },
    /// Zed's older `"command": {"path": "npx", "args": [...], "env": {...}}`.
    ZedObject { command: String, args: Vec<String> },
}

/// The keys to set in one entry, or in an object inside it (`command` in Zed's older shape).
struct Edit {
    inside: &'static [&'static str],
    keys: Entry,
}

fn server_change(
    name: &str,
    entry: &Value,
    direction: Direction,
    options: &WrapOptions,
) -> (ServerChange, Option<Edit>) {
    let mut change = ServerChange {
        name: name.to_owned(),
        project: None,
        outcome: Outcome::NotWrapped,
        before: Vec::new(),
        after: Vec::new(),
        env_keys: env_keys(entry),
    };
    let leave = |mut change: ServerChange, outcome: Outcome| {
        change.after = change.before.clone();
        change.outcome = outcome;
        (change, None)
    };
    let Some(object) = entry.as_object() else {
        return leave(
            change,
            Outcome::Unsupported("not an object with a command".to_owned()),
        );
    };
    if is_remote(object) {
        return leave(change, Outcome::Remote);
    }
    let launch = match launch(object) {
        Ok(launch) => launch,
        Err(why) => return leave(change, Outcome::Unsupported(why)),
    };
    let (command, args) = match &launch {
        Launch::Plain { command, args } | Launch::ZedObject { command, args, .. } => {
            (command.clone(), args.clone())
        }
    };
    change.before = std::iter::once(command.clone())
        .chain(args.iter().cloned())
        .collect();
    let separator = args.iter().position(|arg| arg == "--");
    let (new_command, new_args) = match (direction, is_shim(&command), separator) {
        (Direction::Wrap, false, _) => {
            let mut new_args = options.shim_args.clone();
            new_args.push("--".to_owned());
            new_args.push(command);
            new_args.extend(args);
            change.outcome = Outcome::Wrapped;
            (options.shim.clone(), new_args)
        }
        (Direction::Wrap, true, Some(_)) => return leave(change, Outcome::AlreadyWrapped),
        (_, true, None) => return leave(change, Outcome::Exai),
        (Direction::Unwrap, false, _) => return leave(change, Outcome::NotWrapped),
        (Direction::Unwrap, true, Some(at)) => {
            let mut rest = args[at + 1..].iter().cloned();
            let Some(inner) = rest.next() else {
                return leave(
                    change,
                    Outcome::Unsupported("runs exai-shim with nothing after `--`".to_owned()),
                );
            };
            change.outcome = Outcome::Unwrapped;
            (inner, rest.collect())
        }
    };
    change.after = std::iter::once(new_command.clone())
        .chain(new_args.iter().cloned())
        .collect();
    let keys = match launch {
        Launch::Plain { .. } => vec![
            ("command".to_owned(), Value::String(new_command)),
            ("args".to_owned(), Value::from(new_args)),
        ],
        Launch::ZedObject { .. } => vec![
            ("path".to_owned(), Value::String(new_command)),
            ("args".to_owned(), Value::from(new_args)),
        ],
    };
    let inside: &[&str] = match launch {
        Launch::Plain { .. } => &[],
        Launch::ZedObject { .. } => &["command"],
    };
    (change, Some(Edit { inside, keys }))
}

/// A server the editor reaches over the network: it has a URL (`url`: VS Code, Cursor, Claude
/// Code, Codex, Zed; `serverUrl`: Windsurf; `httpUrl`), or its `type` names a remote transport.
fn is_remote(object: &Map<String, Value>) -> bool {
    let remote_type = object
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|kind| {
            matches!(
                kind.to_ascii_lowercase().as_str(),
                "http" | "sse" | "streamable-http" | "streamablehttp" | "streamable_http" | "ws"
            )
        });
    remote_type
        || ["url", "serverUrl", "httpUrl"]
            .iter()
            .any(|key| object.contains_key(*key) && !object.contains_key("command"))
}

fn launch(object: &Map<String, Value>) -> Result<Launch, String> {
    let strings = |value: Option<&Value>| -> Result<Vec<String>, String> {
        match value {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| "its args are not all strings".to_owned()),
            Some(_) => Err("its args are not a list".to_owned()),
        }
    };
    match object.get("command") {
        Some(Value::String(command)) if !command.trim().is_empty() => Ok(Launch::Plain {
            command: command.clone(),
            args: strings(object.get("args"))?,
        }),
        Some(Value::Object(inner)) => match inner.get("path") {
            Some(Value::String(path)) if !path.trim().is_empty() => Ok(Launch::ZedObject {
                command: path.clone(),
                args: strings(inner.get("args"))?,
            }),
            _ => Err("its command has no path".to_owned()),
        },
        None => Err("no command to run".to_owned()),
        Some(_) => Err("its command is not a string".to_owned()),
    }
}

/// The names in an entry's `env` (or Zed's `command.env`), sorted.
fn env_keys(entry: &Value) -> Vec<String> {
    let env = entry
        .get("env")
        .or_else(|| entry.get("command").and_then(|command| command.get("env")));
    let mut keys: Vec<String> = env
        .and_then(Value::as_object)
        .map(|env| env.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// A command line as people read it: words joined by spaces, a word with a space, a quote or
/// nothing in it quoted (as a JSON string).
pub fn command_line(words: &[String]) -> String {
    words
        .iter()
        .map(|word| {
            if word.is_empty() || word.contains(|c: char| c.is_whitespace() || c == '"') {
                Value::String(word.clone()).to_string()
            } else {
                word.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[path = "wrap_tests.rs"]
mod tests;
