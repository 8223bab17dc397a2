//! `exai connect`: the real binary writing into a temporary home's editor files (HOME points
//! at a temporary folder and XDG_CONFIG_HOME is unset, so the user's own files are never
//! touched); `--wrap`/`--unwrap` and `exai config --wrap`, and a wrapped entry launched from
//! the written file as an editor would, reaching one shared instance of a real server.

use crate::support::{Env, HubOptions, Recorder, bin, daemon, everything, guard};
use exai_hub::api::ServerState;
use rmcp::ServiceExt as _;
use rmcp::model::ProtocolVersion;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn exai_connect(home: &Path, args: &[&str]) -> Output {
    Command::new(bin("exai"))
        .arg("connect")
        .args(args)
        .env("HOME", home)
        .env("USERPROFILE", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("CODEX_HOME")
        .env_remove("EXAI_ENDPOINT")
        .output()
        .expect("run exai connect")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn connect_code_dry_run_shows_the_entry_and_writes_nothing() {
    let home = tempfile::tempdir().expect("tempdir");
    let output = exai_connect(home.path(), &["code", "--dry-run"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    let file = home.path().join(".config/Code/User/mcp.json");
    assert!(
        stdout.contains("Dry run") && stdout.contains(&file.display().to_string()),
        "{stdout}"
    );
    assert!(
        stdout.contains("+   \"servers\": {") && stdout.contains("exai-shim"),
        "{stdout}"
    );
    assert!(
        !home.path().join(".config").exists(),
        "a dry run creates nothing"
    );
}

#[test]
fn connect_cursor_merges_backs_up_and_is_idempotent() {
    let home = tempfile::tempdir().expect("tempdir");
    let file = home.path().join(".cursor").join("mcp.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let before = "{\n  // my servers\n  \"mcpServers\": {\n    \"memory\": { \"command\": \"npx\", \"args\": [\"-y\", \"@modelcontextprotocol/server-memory\"] }\n  }\n}\n";
    std::fs::write(&file, before).unwrap();

    let output = exai_connect(home.path(), &["cursor"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.starts_with("Added the exai server to"), "{stdout}");
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(
        after.starts_with("{\n  // my servers\n  \"mcpServers\": {\n    \"memory\": { \"command\": \"npx\", \"args\": [\"-y\", \"@modelcontextprotocol/server-memory\"] },\n    \"exai\": {\n"),
        "{after}"
    );
    // An installed shim wins over the build folder's (after `dpkg -i`, say).
    let installed = Path::new("/usr/bin/exai-shim");
    let shim = if installed.is_file() {
        installed.to_path_buf()
    } else {
        bin("exai-shim")
    };
    assert!(
        after.contains(&serde_json::to_string(&shim.display().to_string()).unwrap()),
        "the installed shim, else the one built with this exai: {after}"
    );
    assert!(
        after.contains("\"args\": [\"--name\", \"cursor\"]"),
        "{after}"
    );
    let backups: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains(".exai-backup-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), before);
    assert!(
        stdout.contains(&backups[0].display().to_string()),
        "{stdout}"
    );

    let again = exai_connect(home.path(), &["cursor"]);
    assert!(again.status.success());
    assert!(
        text(&again.stdout).contains("already connected"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), after);
    assert_eq!(
        std::fs::read_dir(file.parent().unwrap()).unwrap().count(),
        2,
        "no second backup"
    );

    let status = exai_connect(home.path(), &["--status"]);
    let stdout = text(&status.stdout);
    assert!(status.status.success(), "{stdout}");
    let cursor = stdout
        .lines()
        .skip_while(|line| !line.starts_with("Cursor "))
        .nth(1)
        .unwrap_or_default();
    assert_eq!(cursor.trim(), "connected", "{stdout}");
    assert!(
        stdout.contains("VS Code") && stdout.contains("not connected (no file yet)"),
        "{stdout}"
    );
}

#[test]
fn connect_refuses_a_broken_file_and_an_unknown_editor() {
    let home = tempfile::tempdir().expect("tempdir");
    let file = home.path().join(".codeium/windsurf/mcp_config.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        "{\n  \"mcpServers\": {\n    \"a\": {}\n    \"b\": {}\n  }\n}\n",
    )
    .unwrap();
    let output = exai_connect(home.path(), &["windsurf"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&file.display().to_string())
            && stderr.contains("line 4, column 5")
            && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(file.parent().unwrap()).unwrap().count(),
        1
    );

    let output = exai_connect(home.path(), &["emacs"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("unknown editor \"emacs\": use one of code, cursor"),
        "{}",
        text(&output.stderr)
    );
}

/// `exai connect` with a shim that exists (the one built with this exai) and no endpoint.
fn exai_wrap(home: &Path, args: &[&str]) -> Output {
    let shim = bin("exai-shim");
    let mut all = vec!["--shim", shim.to_str().expect("utf-8 path")];
    all.extend(args);
    exai_connect(home, &all)
}

fn backups_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains(".exai-backup-"))
        .collect()
}

const SECRET: &str = "ghp_n0tF0rPr1nt1ng";

/// Claude Desktop's file as people have it: two stdio servers (one with a token in `env`),
/// EXAI's own entry, and a key of the app's own.
fn claude_desktop_file() -> String {
    format!(
        r#"{{
  "mcpServers": {{
    "memory": {{
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-memory"]
    }},
    "github": {{
      "command": "docker",
      "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"],
      "env": {{ "GITHUB_PERSONAL_ACCESS_TOKEN": "{SECRET}" }},
      "cwd": "/tmp"
    }},
    "exai": {{ "command": "/usr/bin/exai-shim", "args": ["--name", "claude-desktop"] }}
  }},
  "globalShortcut": ""
}}
"#
    )
}

#[test]
fn connect_wrap_rewrites_stdio_servers_after_a_backup_and_unwrap_restores_them() {
    let home = tempfile::tempdir().expect("tempdir");
    let file = home
        .path()
        .join(".config/Claude/claude_desktop_config.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let before = claude_desktop_file();
    std::fs::write(&file, &before).unwrap();
    let shim = bin("exai-shim").display().to_string();

    // A dry run lists what would happen, without the token, and writes nothing.
    let dry = exai_wrap(home.path(), &["claude-desktop", "--wrap", "--dry-run"]);
    let (stdout, stderr) = (text(&dry.stdout), text(&dry.stderr));
    assert!(dry.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "Dry run: would wrap 2 servers in {} (after a backup); nothing was written.\n",
            file.display()
        )),
        "{stdout}"
    );
    let expected_listing = format!(
        "  memory  wrapped
          - npx -y @modelcontextprotocol/server-memory
          + {shim} --name claude-desktop -- npx -y @modelcontextprotocol/server-memory
  github  wrapped
          - docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN ghcr.io/github/github-mcp-server
          + {shim} --name claude-desktop -- docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN ghcr.io/github/github-mcp-server
          env kept: GITHUB_PERSONAL_ACCESS_TOKEN (values not shown)
  exai    left: the exai server itself
"
    );
    assert!(stdout.ends_with(&expected_listing), "{stdout}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    assert!(backups_in(file.parent().unwrap()).is_empty());

    // For real: after a backup, only `command` and `args` change.
    let wrapped = exai_wrap(home.path(), &["claude-desktop", "--wrap"]);
    let stdout = text(&wrapped.stdout);
    assert!(
        wrapped.status.success(),
        "{stdout}{}",
        text(&wrapped.stderr)
    );
    let backups = backups_in(file.parent().unwrap());
    assert_eq!(backups.len(), 1);
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), before);
    assert!(
        stdout.starts_with(&format!(
            "Wrapped 2 servers in {} (the old file is in {}). Restart Claude Desktop",
            file.display(),
            backups[0].display()
        )),
        "{stdout}"
    );
    assert!(stdout.ends_with(&expected_listing) && !stdout.contains(SECRET));
    let after = std::fs::read_to_string(&file).unwrap();
    let quoted = serde_json::to_string(&shim).unwrap();
    assert_eq!(
        after,
        before
            .replace(
                "\"command\": \"npx\",\n      \"args\": [\"-y\"",
                &format!(
                    "\"command\": {quoted},\n      \"args\": [\"--name\", \"claude-desktop\", \"--\", \"npx\", \"-y\""
                )
            )
            .replace(
                "\"command\": \"docker\",\n      \"args\": [\"run\"",
                &format!(
                    "\"command\": {quoted},\n      \"args\": [\"--name\", \"claude-desktop\", \"--\", \"docker\", \"run\""
                )
            )
    );

    // Again: nothing to do, nothing written, no second backup.
    let again = exai_wrap(home.path(), &["claude-desktop", "--wrap"]);
    let stdout = text(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "Nothing to wrap in {}; nothing was written.",
            file.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("  memory  left: already runs through exai-shim"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), after);
    assert_eq!(backups_in(file.parent().unwrap()).len(), 1);

    // Unwrapping gives the original file back, byte for byte.
    let unwrapped = exai_wrap(home.path(), &["claude-desktop", "--unwrap"]);
    let stdout = text(&unwrapped.stdout);
    assert!(unwrapped.status.success(), "{stdout}");
    assert!(stdout.starts_with("Unwrapped 2 servers in"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    assert_eq!(backups_in(file.parent().unwrap()).len(), 2);
}

#[test]
fn connect_wrap_refuses_a_missing_shim_and_needs_an_editor() {
    let home = tempfile::tempdir().expect("tempdir");
    let file = home.path().join(".cursor/mcp.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let before = "{\"mcpServers\": {\"memory\": {\"command\": \"npx\", \"args\": []}}}";
    std::fs::write(&file, before).unwrap();
    let missing = home.path().join("nowhere/exai-shim");
    let output = exai_connect(
        home.path(),
        &["cursor", "--wrap", "--shim", missing.to_str().unwrap()],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&missing.display().to_string())
            && stderr.contains("every wrapped server would fail to start")
            && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    assert!(backups_in(file.parent().unwrap()).is_empty());

    let output = exai_connect(home.path(), &["--wrap"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));

    // No file: nothing to wrap, nothing created.
    let output = exai_wrap(home.path(), &["windsurf", "--wrap"]);
    assert!(output.status.success());
    assert!(
        text(&output.stdout).contains("has no servers to wrap; nothing was written"),
        "{}",
        text(&output.stdout)
    );
    assert!(!home.path().join(".codeium").exists());
}

/// `~/.claude.json` with a user server and a project's own (`claude mcp add --scope local`):
/// `exai connect claude-code --wrap` rewrites both, the listing naming the project's folder,
/// and `--unwrap` gives the same servers back (its arguments, written on several lines here,
/// on one).
#[test]
fn connect_wrap_claude_code_also_wraps_each_project_s_servers() {
    let home = tempfile::tempdir().expect("tempdir");
    let file = home.path().join(".claude.json");
    let project = home.path().join("src/api").display().to_string();
    let before = serde_json::to_string_pretty(&json!({
        "numStartups": 31,
        "mcpServers": {
            "context7": { "type": "stdio", "command": "npx", "args": ["-y", "@upstash/context7-mcp"], "env": {} }
        },
        "projects": {
            project.clone(): {
                "allowedTools": [],
                "history": [{ "display": "list the tables", "pastedContents": {} }],
                "mcpServers": {
                    "postgres": {
                        "type": "stdio",
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-postgres", "postgresql://localhost/api"],
                        "env": { "PGPASSWORD": SECRET }
                    }
                },
                "hasTrustDialogAccepted": true
            }
        }
    }))
    .unwrap();
    std::fs::write(&file, &before).unwrap();
    let wrapped = exai_wrap(home.path(), &["claude-code", "--wrap"]);
    let stdout = text(&wrapped.stdout);
    assert!(
        wrapped.status.success(),
        "{stdout}{}",
        text(&wrapped.stderr)
    );
    assert!(stdout.starts_with("Wrapped 2 servers in"), "{stdout}");
    assert!(
        stdout.contains(&format!("  postgres (project {project})  wrapped")),
        "{stdout}"
    );
    assert!(
        stdout.contains("env kept: PGPASSWORD (values not shown)") && !stdout.contains(SECRET),
        "{stdout}"
    );
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let shim = bin("exai-shim").display().to_string();
    let postgres = &after["projects"][&project]["mcpServers"]["postgres"];
    assert_eq!(postgres["command"], shim);
    assert_eq!(
        postgres["args"],
        json!([
            "--name",
            "claude-code",
            "--",
            "npx",
            "-y",
            "@modelcontextprotocol/server-postgres",
            "postgresql://localhost/api"
        ])
    );
    assert_eq!(postgres["env"]["PGPASSWORD"], SECRET);
    assert_eq!(after["mcpServers"]["context7"]["command"], shim);

    let unwrapped = exai_wrap(home.path(), &["claude-code", "--unwrap"]);
    assert!(
        text(&unwrapped.stdout).starts_with("Unwrapped 2 servers in"),
        "{}",
        text(&unwrapped.stdout)
    );
    let restored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(restored, serde_json::from_str::<Value>(&before).unwrap());
}

#[test]
fn config_wrap_prints_the_file_rewritten_ready_to_paste() {
    let home = tempfile::tempdir().expect("tempdir");
    let input = home.path().join("mine.json");
    let before = claude_desktop_file();
    std::fs::write(&input, &before).unwrap();
    let shim = bin("exai-shim");
    let config = |args: &[&str], stdin: Option<&str>| {
        let mut command = Command::new(bin("exai"));
        command
            .arg("config")
            .args(args)
            .args(["--shim", shim.to_str().unwrap(), "--endpoint", "team"])
            .env("HOME", home.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("run exai config");
        let mut pipe = child.stdin.take().unwrap();
        if let Some(stdin) = stdin {
            use std::io::Write as _;
            pipe.write_all(stdin.as_bytes()).unwrap();
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    };
    let output = config(&["claude-desktop", "--wrap", input.to_str().unwrap()], None);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("the file, as JSON");
    assert_eq!(
        value["mcpServers"]["memory"]["args"],
        serde_json::json!([
            "--name",
            "claude-desktop",
            "--endpoint",
            "team",
            "--",
            "npx",
            "-y",
            "@modelcontextprotocol/server-memory"
        ])
    );
    assert_eq!(
        value["mcpServers"]["memory"]["command"],
        shim.display().to_string()
    );
    assert_eq!(
        value["mcpServers"]["github"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"], SECRET,
        "the printed file keeps the env"
    );
    assert_eq!(value["mcpServers"]["github"]["cwd"], "/tmp");
    assert!(
        stderr.contains(&format!(
            "# {} with 2 of its 3 servers wrapped:",
            input.display()
        )) && stderr.contains("env kept: GITHUB_PERSONAL_ACCESS_TOKEN (values not shown)")
            && !stderr.contains(SECRET),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&input).unwrap(),
        before,
        "the input is only read"
    );

    // From standard input, and back.
    let output = config(&["claude-desktop", "--unwrap", "-"], Some(&stdout));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), before);
    assert!(
        text(&output.stderr).starts_with("# standard input with 2 of its 3 servers unwrapped:"),
        "{}",
        text(&output.stderr)
    );

    let output = config(&["augment", "--wrap", input.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("--wrap needs the editor whose file it is"),
        "{}",
        text(&output.stderr)
    );
}

/// The whole path: an editor's file with a real stdio server (and its own variable in `env`),
/// `exai connect cursor --wrap`, then the written entry started twice exactly as the editor
/// starts it (its `command`, `args` and `env`): both windows reach one shared instance,
/// which got the entry's variable.
#[tokio::test]
async fn a_wrapped_entry_launched_as_the_editor_would_reaches_one_shared_server() {
    let Some(server) =
        everything("a_wrapped_entry_launched_as_the_editor_would_reaches_one_shared_server")
    else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let home = tempfile::tempdir().expect("tempdir");
    let file = home.path().join(".cursor/mcp.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let marker = format!("--test-marker={}", env.dir.path().display());
    let value = format!("only-this-entry-{}", std::process::id());
    let before = json!({
        "mcpServers": {
            "everything": {
                "command": "node",
                "args": [server.display().to_string(), "stdio", marker],
                "env": { "EXAI_WRAP_TEST_KEY": value }
            },
            "docs": { "url": "https://mcp.example.invalid/mcp" }
        }
    });
    std::fs::write(&file, serde_json::to_string_pretty(&before).unwrap()).unwrap();

    let output = exai_wrap(
        home.path(),
        &["cursor", "--wrap", "--endpoint", &env.endpoint()],
    );
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.starts_with("Wrapped 1 server in"), "{stdout}");
    assert!(!stdout.contains(&value), "{stdout}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["mcpServers"]["docs"], before["mcpServers"]["docs"]);
    let entry = &written["mcpServers"]["everything"];
    assert_eq!(entry["env"], before["mcpServers"]["everything"]["env"]);

    // As the editor does it: the entry's command, args and env, nothing else of ours.
    let launch = |name: &str| {
        let mut command = tokio::process::Command::new(entry["command"].as_str().unwrap());
        command
            .args(
                entry["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|arg| arg.as_str().unwrap()),
            )
            .envs(
                entry["env"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(key, value)| (key, value.as_str().unwrap())),
            )
            .env_remove("EXAI_ENDPOINT");
        let transport = TokioChildProcess::new(command).expect("spawn the entry");
        Recorder::for_test(name, ProtocolVersion::V_2025_06_18).serve(transport)
    };
    let first = guard("the first window's handshake", launch("first"))
        .await
        .expect("handshake");
    let second = guard("the second window's handshake", launch("second"))
        .await
        .expect("handshake");
    for (n, client) in [&first, &second].into_iter().enumerate() {
        let name = client
            .peer_info()
            .and_then(|info| info.server_info.as_ref().map(|info| info.name.clone()));
        assert_eq!(name.as_deref(), Some("mcp-servers/everything"));
        let mut params = rmcp::model::CallToolRequestParams::new("echo");
        params.arguments = json!({ "message": format!("window {n}") })
            .as_object()
            .cloned();
        let result = guard("echo", client.peer().call_tool(params))
            .await
            .expect("echo");
        let content = serde_json::to_value(&result.content).unwrap();
        assert_eq!(content[0]["text"], format!("Echo: window {n}"));
    }
    let result = guard(
        "get-env",
        second
            .peer()
            .call_tool(rmcp::model::CallToolRequestParams::new("get-env")),
    )
    .await
    .expect("get-env");
    let content = serde_json::to_value(&result.content).unwrap();
    let server_env: Value =
        serde_json::from_str(content[0]["text"].as_str().unwrap()).expect("get-env's JSON");
    assert_eq!(server_env["EXAI_WRAP_TEST_KEY"], value.as_str());

    let snapshot = hub
        .wait_for("one ready instance used by both windows", |snapshot| {
            snapshot.servers.len() == 1
                && snapshot.servers[0].windows.len() == 2
                && snapshot.servers[0].state == ServerState::Ready
        })
        .await;
    assert_eq!(snapshot.servers[0].name, "server-everything");
    assert!(
        snapshot
            .sessions
            .iter()
            .all(|session| session.name.as_deref() == Some("cursor")),
        "the wrapped entry labels its windows with the editor"
    );
    let _ = first.cancel().await;
    let _ = second.cancel().await;
    hub.stop().await;
}
