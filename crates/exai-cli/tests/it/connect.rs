//! `exai connect`: the real binary writing into a temporary home's editor files (HOME points
//! at a temporary folder and XDG_CONFIG_HOME is unset, so the user's own files are never
//! touched).

use crate::support::bin;
use std::path::Path;
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
