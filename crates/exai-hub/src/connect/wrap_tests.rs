//! The wrap planner on realistic files of every editor `exai connect` knows.

use super::*;
use crate::connect::Editor;
use serde_json::json;

const SHIM: &str = "/usr/bin/exai-shim";
const SECRET: &str = "ghp_s3cr3tT0ken";

fn options(editor: Editor) -> WrapOptions {
    WrapOptions {
        shim: SHIM.to_owned(),
        shim_args: vec!["--name".to_owned(), editor.window_name().to_owned()],
        projects: editor == Editor::ClaudeCode,
    }
}

fn wrap(editor: Editor, text: &str) -> WrapPlan {
    plan(text, editor.format(), Direction::Wrap, &options(editor))
        .unwrap_or_else(|err| panic!("{editor:?}: {err}"))
}

fn unwrap(editor: Editor, text: &str) -> WrapPlan {
    plan(text, editor.format(), Direction::Unwrap, &options(editor))
        .unwrap_or_else(|err| panic!("{editor:?}: {err}"))
}

fn outcomes(plan: &WrapPlan) -> Vec<(&str, Outcome)> {
    plan.servers
        .iter()
        .map(|server| (server.name.as_str(), server.outcome.clone()))
        .collect()
}

fn servers(editor: Editor, text: &str) -> Vec<(String, Value)> {
    ServersFile::parse(text, editor.format())
        .unwrap()
        .servers()
        .unwrap()
}

/// An entry with `command`/`args` taken out (a missing `args` is `[]`), and what it runs.
fn split(entry: &Value) -> (Value, Vec<String>) {
    let mut rest = entry.clone();
    let object = rest.as_object_mut().unwrap();
    let command = object.remove("command");
    let args = object.remove("args").unwrap_or(json!([]));
    let words = std::iter::once(command.unwrap_or(Value::Null))
        .chain(args.as_array().unwrap().iter().cloned())
        .map(|word| word.as_str().unwrap_or_default().to_owned())
        .collect();
    (rest, words)
}

/// Every byte of `before` outside `command` and `args` values is still in `after`, in order:
/// checked by removing each edited value's text from both and comparing what is left.
fn only_commands_and_args_changed(editor: Editor, before: &str, after: &str) {
    let old = servers(editor, before);
    let new = servers(editor, after);
    assert_eq!(old.len(), new.len(), "{editor:?}: {after}");
    for ((name, old), (new_name, new)) in old.iter().zip(&new) {
        assert_eq!(name, new_name);
        let (old_rest, _) = split(old);
        let (new_rest, _) = split(new);
        assert_eq!(old_rest, new_rest, "{editor:?} {name}: other keys changed");
    }
    // Comments and the env's own text survive byte for byte.
    for line in before.lines().filter(|line| {
        ["//", "/*", "#", SECRET, "env"]
            .iter()
            .any(|marker| line.contains(marker))
            && !line.contains("\"command\"")
            && !line.contains("\"args\"")
            && !line.starts_with("command =")
            && !line.starts_with("args =")
    }) {
        assert!(
            after.contains(line.trim_end_matches(',')),
            "{editor:?}: {line:?} lost from\n{after}"
        );
    }
}

const CLAUDE_DESKTOP: &str = r#"{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop", "/Users/me/My Documents"]
    },
    "github": {
      "command": "docker",
      "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"],
      "env": {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_s3cr3tT0ken"
      }
    },
    "exai": {
      "command": "/usr/bin/exai-shim",
      "args": ["--name", "claude-desktop"]
    }
  },
  "globalShortcut": "Alt+Space"
}
"#;

const CURSOR: &str = r#"{
  "mcpServers": {
    "memory": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "env": { "MEMORY_FILE_PATH": "/home/me/memory.json" } },
    "linear": { "url": "https://mcp.linear.app/sse", "headers": { "Authorization": "Bearer ghp_s3cr3tT0ken" } },
    "git": { "command": "/usr/bin/exai-shim", "args": ["--name", "cursor", "--", "uvx", "mcp-server-git"] },
    "sqlite": { "command": "uvx", "args": ["mcp-server-sqlite", "--db-path", "/home/me/test.db"], "cwd": "/home/me", "disabled": false }
  }
}
"#;

const VSCODE: &str = r#"// User MCP servers
{
	"inputs": [
		{ "type": "promptString", "id": "github-token", "description": "GitHub token", "password": true },
	],
	"servers": {
		// Playwright, for the browser
		"playwright": {
			"type": "stdio",
			"command": "npx",
			"args": ["@playwright/mcp@latest"], // pinned later
			"envFile": "${workspaceFolder}/.env",
		},
		"github": {
			"type": "http",
			"url": "https://api.githubcopilot.com/mcp/",
			"headers": { "Authorization": "Bearer ${input:github-token}" },
		},
		"time": {
			"type": "stdio",
			"command": "uvx",
			"args": ["mcp-server-time", "--local-timezone=Europe/Paris"],
			"env": { "API_KEY": "ghp_s3cr3tT0ken" }, /* mine */
		},
	},
}
"#;

const CLAUDE_CODE: &str = r#"{
  "numStartups": 42,
  "installMethod": "native",
  "mcpServers": {
    "sentry": {
      "type": "sse",
      "url": "https://mcp.sentry.dev/sse"
    },
    "airtable": {
      "type": "stdio",
      "command": "npx",
      "args": [
        "-y",
        "airtable-mcp-server"
      ],
      "env": {
        "AIRTABLE_API_KEY": "ghp_s3cr3tT0ken"
      }
    }
  },
  "projects": {
    "/home/me/app": { "allowedTools": [], "mcpServers": {} }
  }
}"#;

const WINDSURF: &str = r#"{
  "mcpServers": {
    "figma": { "serverUrl": "https://figma.example/mcp" },
    "puppeteer": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-puppeteer"]
    }
  }
}
"#;

const ZED: &str = r#"// Zed settings
{
  "theme": "One Dark",
  "context_servers": {
    "everything": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-everything"],
      "env": { "TOKEN": "ghp_s3cr3tT0ken" } // for the demo
    },
    "old-style": {
      "source": "custom",
      "command": { "path": "uvx", "args": ["mcp-server-fetch"], "env": { "A": "1" } }
    },
    "remote": { "url": "https://mcp.example.com/mcp" },
    "extension": { "settings": { "key": "value" } },
  },
}
"#;

const CODEX: &str = r#"# Codex
model = "o3"

[mcp_servers.context7]
command = "npx" # from npm
args = ["-y", "@upstash/context7-mcp"]
startup_timeout_sec = 20

[mcp_servers.context7.env]
CONTEXT7_API_KEY = "ghp_s3cr3tT0ken"

[mcp_servers.figma]
url = "https://mcp.figma.com/mcp"
bearer_token_env_var = "FIGMA_OAUTH_TOKEN"

# profiles below
[profiles.fast]
model = "o4-mini"
"#;

fn file(editor: Editor) -> &'static str {
    match editor {
        Editor::ClaudeDesktop => CLAUDE_DESKTOP,
        Editor::Cursor => CURSOR,
        Editor::Code => VSCODE,
        Editor::ClaudeCode => CLAUDE_CODE,
        Editor::Windsurf => WINDSURF,
        Editor::Zed => ZED,
        Editor::Codex => CODEX,
    }
}

fn expected(editor: Editor) -> Vec<(&'static str, Outcome)> {
    use Outcome::*;
    match editor {
        Editor::ClaudeDesktop => vec![("filesystem", Wrapped), ("github", Wrapped), ("exai", Exai)],
        Editor::Cursor => vec![
            ("memory", Wrapped),
            ("linear", Remote),
            ("git", AlreadyWrapped),
            ("sqlite", Wrapped),
        ],
        Editor::Code => vec![
            ("playwright", Wrapped),
            ("github", Remote),
            ("time", Wrapped),
        ],
        Editor::ClaudeCode => vec![("sentry", Remote), ("airtable", Wrapped)],
        Editor::Windsurf => vec![("figma", Remote), ("puppeteer", Wrapped)],
        Editor::Zed => vec![
            ("everything", Wrapped),
            ("old-style", Wrapped),
            ("remote", Remote),
            ("extension", Unsupported("no command to run".to_owned())),
        ],
        Editor::Codex => vec![("context7", Wrapped), ("figma", Remote)],
    }
}

#[test]
fn every_editor_s_stdio_servers_are_wrapped_and_nothing_else_changes() {
    for editor in Editor::ALL {
        let before = file(editor);
        let plan = wrap(editor, before);
        assert_eq!(outcomes(&plan), expected(editor), "{editor:?}");
        only_commands_and_args_changed(editor, before, &plan.text);
        let old = servers(editor, before);
        for ((name, entry), server) in servers(editor, &plan.text).iter().zip(&plan.servers) {
            if server.before.is_empty() {
                // A remote server, or nothing to run: no words to report.
                assert!(server.after.is_empty() && !server.outcome.changed());
                continue;
            }
            let (_, old_words) = split(&old.iter().find(|(n, _)| n == name).unwrap().1);
            let entry = match entry.get("command") {
                // Zed's older shape: the words are inside `command`.
                Some(Value::Object(inner)) => {
                    json!({ "command": inner["path"], "args": inner["args"] })
                }
                _ => entry.clone(),
            };
            let (_, words) = split(&entry);
            assert_eq!(
                server.after, words,
                "{editor:?} {name}: the report says what runs"
            );
            if server.outcome == Outcome::Wrapped {
                let mut wrapped = vec![SHIM.to_owned(), "--name".to_owned()];
                wrapped.push(editor.window_name().to_owned());
                wrapped.push("--".to_owned());
                let old_words = if name == "old-style" {
                    vec!["uvx".to_owned(), "mcp-server-fetch".to_owned()]
                } else {
                    old_words
                };
                wrapped.extend(old_words.clone());
                assert_eq!(words, wrapped, "{editor:?} {name}");
                assert_eq!(server.before, old_words, "{editor:?} {name}");
            } else if server.outcome != Outcome::Remote {
                assert_eq!(words, old_words, "{editor:?} {name}: left as it was");
            }
        }
        // The secret stays in the file, exactly where it was.
        assert_eq!(
            plan.text.matches(SECRET).count(),
            before.matches(SECRET).count(),
            "{editor:?}"
        );
    }
}

#[test]
fn wrapping_twice_changes_nothing_and_unwrapping_gives_the_original_back() {
    for editor in Editor::ALL {
        let before = file(editor);
        let wrapped = wrap(editor, before);
        assert!(wrapped.n_changed() > 0, "{editor:?}");
        let again = wrap(editor, &wrapped.text);
        assert_eq!(again.text, wrapped.text, "{editor:?}: idempotent");
        assert_eq!(again.n_changed(), 0, "{editor:?}");
        assert!(
            again
                .servers
                .iter()
                .all(|server| server.outcome != Outcome::Wrapped),
            "{editor:?}"
        );

        let unwrapped = unwrap(editor, &wrapped.text);
        // Cursor's `git` was wrapped before this test wrapped the others.
        let wrapped_before = usize::from(editor == Editor::Cursor);
        assert_eq!(
            unwrapped.n_changed(),
            wrapped.n_changed() + wrapped_before,
            "{editor:?}"
        );
        // Compact arrays are written as they were read, so the original comes back byte for
        // byte, except Claude Code's args spread over lines (now on one) and Cursor's `git`,
        // which was wrapped before and is unwrapped too.
        match editor {
            Editor::ClaudeCode | Editor::Cursor => {
                let old = servers(editor, before);
                let new = servers(editor, &unwrapped.text);
                for ((name, old), (_, new)) in old.iter().zip(&new) {
                    let (old_rest, old_words) = split(old);
                    let (new_rest, new_words) = split(new);
                    assert_eq!(old_rest, new_rest, "{editor:?} {name}");
                    if name == "git" {
                        assert_eq!(new_words, ["uvx", "mcp-server-git"]);
                    } else {
                        assert_eq!(old_words, new_words, "{editor:?} {name}");
                    }
                }
            }
            _ => assert_eq!(unwrapped.text, before, "{editor:?}"),
        }
        // Unwrapping what is not wrapped changes nothing.
        let nothing = unwrap(editor, before);
        assert_eq!(
            nothing.text == before,
            editor != Editor::Cursor,
            "{editor:?}"
        );
    }
}

#[test]
fn edits_are_in_place_keeping_comments_and_layout_inside_the_entry() {
    let plan = wrap(Editor::Code, VSCODE);
    let expected = VSCODE
        .replace(
            "\"command\": \"npx\",\n\t\t\t\"args\": [\"@playwright/mcp@latest\"], // pinned later",
            "\"command\": \"/usr/bin/exai-shim\",\n\t\t\t\"args\": [\"--name\", \"${workspaceFolderBasename}\", \"--\", \"npx\", \"@playwright/mcp@latest\"], // pinned later",
        )
        .replace(
            "\"command\": \"uvx\",\n\t\t\t\"args\": [\"mcp-server-time\", \"--local-timezone=Europe/Paris\"],",
            "\"command\": \"/usr/bin/exai-shim\",\n\t\t\t\"args\": [\"--name\", \"${workspaceFolderBasename}\", \"--\", \"uvx\", \"mcp-server-time\", \"--local-timezone=Europe/Paris\"],",
        );
    assert_eq!(plan.text, expected);

    let plan = wrap(Editor::Codex, CODEX);
    assert_eq!(
        plan.text,
        CODEX.replace(
            "command = \"npx\" # from npm\nargs = [\"-y\", \"@upstash/context7-mcp\"]",
            "command = \"/usr/bin/exai-shim\" # from npm\nargs = [\"--name\", \"codex\", \"--\", \"npx\", \"-y\", \"@upstash/context7-mcp\"]",
        )
    );
}

#[test]
fn an_entry_without_args_gets_them_and_zed_s_older_shape_is_wrapped_inside_command() {
    let text = "{\"mcpServers\": {\"a\": {\"command\": \"my-server\"}}}";
    let plan = wrap(Editor::Cursor, text);
    assert_eq!(
        plan.text,
        "{\"mcpServers\": {\"a\": {\"command\": \"/usr/bin/exai-shim\", \"args\": [\"--name\", \"cursor\", \"--\", \"my-server\"]}}}"
    );
    let plan = wrap(Editor::Zed, ZED);
    let old_style = &servers(Editor::Zed, &plan.text)[1].1;
    assert_eq!(
        old_style["command"],
        json!({ "path": SHIM, "args": ["--name", "zed", "--", "uvx", "mcp-server-fetch"], "env": { "A": "1" } })
    );
    assert_eq!(old_style["source"], "custom");
}

#[test]
fn what_cannot_be_wrapped_is_left_with_its_reason() {
    let text = r#"{"mcpServers": {
        "a": {"command": "x", "args": "--flag"},
        "b": {"command": "x", "args": [1]},
        "c": {"command": 7},
        "d": "npx",
        "e": {"command": "C:\\Program Files\\EXAI\\exai-shim.exe", "args": ["--", "npx.cmd", "-y", "pkg"]},
        "f": {"command": "EXAI-SHIM", "args": []},
        "g": {"type": "http", "command": "ignored"}
    }}"#;
    let plan = wrap(Editor::Cursor, text);
    let unsupported = |why: &str| Outcome::Unsupported(why.to_owned());
    assert_eq!(
        outcomes(&plan),
        vec![
            ("a", unsupported("its args are not a list")),
            ("b", unsupported("its args are not all strings")),
            ("c", unsupported("its command is not a string")),
            ("d", unsupported("not an object with a command")),
            ("e", Outcome::AlreadyWrapped),
            ("f", Outcome::Exai),
            ("g", Outcome::Remote),
        ]
    );
    assert_eq!(plan.text, text);
    let plan = unwrap(Editor::Cursor, text);
    assert_eq!(plan.servers[4].outcome, Outcome::Unwrapped);
    assert_eq!(plan.servers[4].after, ["npx.cmd", "-y", "pkg"]);
    let broken =
        "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"args\": [\"--name\", \"n\", \"--\"]}}}";
    let broken = broken.replace("\"x\"", "\"/bin/exai-shim\"");
    assert_eq!(
        unwrap(Editor::Cursor, &broken).servers[0].outcome,
        unsupported("runs exai-shim with nothing after `--`")
    );
}

#[test]
fn a_repeated_name_is_reported_once_and_the_last_one_is_wrapped() {
    let text = "{\"mcpServers\": {\"a\": {\"command\": \"one\"}, \"a\": {\"command\": \"two\"}}}";
    let plan = wrap(Editor::Cursor, text);
    assert_eq!(plan.servers.len(), 1);
    assert_eq!(plan.servers[0].before, ["two"]);
    assert!(
        plan.text.contains("{\"command\": \"one\"}"),
        "{}",
        plan.text
    );
}

#[test]
fn an_empty_file_or_one_without_servers_has_nothing_to_wrap() {
    for (editor, text) in [
        (Editor::Cursor, ""),
        (Editor::Zed, "// nothing\n{ \"theme\": \"x\" }\n"),
        (Editor::Codex, "model = \"o3\"\n"),
    ] {
        let plan = wrap(editor, text);
        assert_eq!((plan.text.as_str(), plan.servers.len()), (text, 0));
    }
    let err = plan(
        "{\n  \"mcpServers\": {\n    \"a\": {}\n    \"b\": {}\n  }\n}\n",
        Editor::Cursor.format(),
        Direction::Wrap,
        &options(Editor::Cursor),
    )
    .unwrap_err();
    assert!(err.starts_with("line 4, column 5"), "{err}");
}

#[test]
fn the_report_names_env_variables_and_never_their_values() {
    for editor in Editor::ALL {
        let plan = wrap(editor, file(editor));
        let listing: String = plan
            .servers
            .iter()
            .map(|server| {
                format!(
                    "{} {} {} {} {}",
                    server.name,
                    server.outcome.describe(),
                    command_line(&server.before),
                    command_line(&server.after),
                    server.env_keys.join(",")
                )
            })
            .collect();
        assert!(!listing.contains(SECRET), "{editor:?}: {listing}");
    }
    let plan = wrap(Editor::ClaudeDesktop, CLAUDE_DESKTOP);
    assert_eq!(plan.servers[1].env_keys, ["GITHUB_PERSONAL_ACCESS_TOKEN"]);
    let plan = wrap(Editor::Zed, ZED);
    assert_eq!(plan.servers[1].env_keys, ["A"]);
}

#[test]
fn command_lines_quote_words_with_spaces() {
    let words: Vec<String> = ["npx", "-y", "/Users/me/My Documents", "", "a\"b"]
        .map(str::to_owned)
        .to_vec();
    assert_eq!(
        command_line(&words),
        r#"npx -y "/Users/me/My Documents" "" "a\"b""#
    );
    assert!(is_shim("exai-shim") && is_shim("/opt/x/exai-shim") && is_shim(r"C:\x\Exai-Shim.EXE"));
    assert!(!is_shim("exai") && !is_shim("exai-shim-old") && !is_shim("/exai-shim/npx"));
}

#[test]
fn each_editor_s_format_is_its_targets() {
    let env = crate::connect::Env {
        os: "linux".to_owned(),
        home: "/home/me".into(),
        xdg_config_home: None,
        appdata: None,
        codex_home: None,
    };
    for editor in Editor::ALL {
        assert_eq!(editor.target(&env, None).unwrap().format, editor.format());
    }
}

/// `~/.claude.json` as Claude Code keeps it: user servers at the top, each project's own under
/// `projects.<dir>.mcpServers` beside its history and trust flags.
const CLAUDE_CODE_PROJECTS: &str = r#"{
  "numStartups": 184,
  "installMethod": "native",
  "autoUpdates": true,
  "tipsHistory": { "new-user-warmup": 1, "memory-command": 12 },
  "userID": "4f1c0b8e2a9d",
  "mcpServers": {
    "context7": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@upstash/context7-mcp"],
      "env": {}
    }
  },
  "projects": {
    "/home/me/src/api": {
      "allowedTools": [],
      "history": [
        { "display": "why does the mcpServers test fail?", "pastedContents": {} }
      ],
      "mcpContextUris": [],
      "mcpServers": {
        "postgres": {
          "type": "stdio",
          "command": "npx",
          "args": ["-y", "@modelcontextprotocol/server-postgres", "postgresql://localhost/api"],
          "env": { "PGPASSWORD": "ghp_s3cr3tT0ken" }
        },
        "linear": { "type": "sse", "url": "https://mcp.linear.app/sse" }
      },
      "enabledMcpjsonServers": [],
      "disabledMcpjsonServers": [],
      "hasTrustDialogAccepted": true,
      "projectOnboardingSeenCount": 3
    },
    "/home/me/src/web app": {
      "allowedTools": ["Bash(npm test)"],
      "mcpServers": {
        "playwright": { "type": "stdio", "command": "npx", "args": ["@playwright/mcp@latest"], "env": {} },
        "git": {
          "type": "stdio",
          "command": "/usr/bin/exai-shim",
          "args": ["--name", "claude-code", "--", "uvx", "mcp-server-git"]
        }
      },
      "hasTrustDialogAccepted": false
    },
    "/home/me": { "allowedTools": [], "history": [] }
  },
  "oauthAccount": { "emailAddress": "me@example.com" }
}"#;

fn by_project(plan: &WrapPlan) -> Vec<(Option<&str>, &str, Outcome)> {
    plan.servers
        .iter()
        .map(|server| {
            (
                server.project.as_deref(),
                server.name.as_str(),
                server.outcome.clone(),
            )
        })
        .collect()
}

#[test]
fn claude_code_s_project_servers_are_wrapped_with_their_folder() {
    use Outcome::*;
    let before = CLAUDE_CODE_PROJECTS;
    let plan = wrap(Editor::ClaudeCode, before);
    assert_eq!(
        by_project(&plan),
        [
            (None, "context7", Wrapped),
            (Some("/home/me/src/api"), "postgres", Wrapped),
            (Some("/home/me/src/api"), "linear", Remote),
            (Some("/home/me/src/web app"), "playwright", Wrapped),
            (Some("/home/me/src/web app"), "git", AlreadyWrapped),
        ]
    );
    let after: Value = serde_json::from_str(&plan.text).unwrap();
    let api = &after["projects"]["/home/me/src/api"];
    assert_eq!(
        api["mcpServers"]["postgres"],
        json!({
            "type": "stdio",
            "command": SHIM,
            "args": ["--name", "claude-code", "--", "npx", "-y",
                     "@modelcontextprotocol/server-postgres", "postgresql://localhost/api"],
            "env": { "PGPASSWORD": SECRET }
        })
    );
    // Everything else in the project, and in the file, is as it was.
    let original: Value = serde_json::from_str(before).unwrap();
    for key in ["history", "hasTrustDialogAccepted", "enabledMcpjsonServers"] {
        assert_eq!(api[key], original["projects"]["/home/me/src/api"][key]);
    }
    assert_eq!(after["oauthAccount"], original["oauthAccount"]);
    assert_eq!(
        after["projects"]["/home/me"],
        original["projects"]["/home/me"]
    );
    assert_eq!(
        after["projects"]["/home/me/src/web app"]["mcpServers"]["git"],
        original["projects"]["/home/me/src/web app"]["mcpServers"]["git"]
    );
    // The report names the variable, never its value; the file keeps it where it was.
    let postgres = &plan.servers[1];
    assert_eq!(postgres.env_keys, ["PGPASSWORD"]);
    assert!(!format!("{:?}", plan.servers).contains(SECRET));
    assert_eq!(plan.text.matches(SECRET).count(), 1);
    // Only the edited values' lines differ (postgres's new `command` line is the same as
    // git's, so four lines are new).
    assert_eq!(plan.text.lines().count(), before.lines().count());
    let changed: Vec<&str> = plan
        .text
        .lines()
        .filter(|line| !before.lines().any(|old| old == *line))
        .collect();
    assert_eq!(changed.len(), 4, "{changed:#?}");

    // Twice: nothing more. Unwrapped: every server runs its own command, the git one too.
    let again = wrap(Editor::ClaudeCode, &plan.text);
    assert_eq!(
        (again.text.as_str(), again.n_changed()),
        (plan.text.as_str(), 0)
    );
    let unwrapped = unwrap(Editor::ClaudeCode, &plan.text);
    assert_eq!(unwrapped.n_changed(), 4);
    assert_eq!(unwrapped.text, unwrap(Editor::ClaudeCode, before).text);
    let restored: Value = serde_json::from_str(&unwrapped.text).unwrap();
    assert_eq!(
        restored["projects"]["/home/me/src/web app"]["mcpServers"]["git"]["command"],
        "uvx"
    );
    assert_eq!(restored["mcpServers"], original["mcpServers"]);
    assert_eq!(
        restored["projects"]["/home/me/src/api"],
        original["projects"]["/home/me/src/api"]
    );
}

#[test]
fn project_servers_are_left_to_editors_without_projects() {
    // The same text read as Cursor's file: only the top-level servers.
    let plan = wrap(Editor::Cursor, CLAUDE_CODE_PROJECTS);
    assert_eq!(by_project(&plan), [(None, "context7", Outcome::Wrapped)]);
    assert!(plan.text.contains(
        r#""command": "npx",
          "args": ["-y", "@modelcontextprotocol/server-postgres""#
    ));
}
