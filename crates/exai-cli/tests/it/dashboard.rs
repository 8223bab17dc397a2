//! `exai hub --dashboard`: the real process, spoken to over raw HTTP/1.1 on loopback.
//!
//! The browser test (`ui/e2e`) drives the page itself; these check the server's rules at the
//! byte level: token, `Host`/`Origin`, the cookie hand-off, the API, the event stream, and that
//! the token never reaches the logs.

use crate::support::{Env, HubOptions, bin, daemon, guard};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStderr, Command};

struct Dashboard {
    hub: Child,
    /// `127.0.0.1:PORT`.
    host: String,
    token: String,
    stderr: ChildStderr,
}

async fn start(env: &Env, extra_env: &[(&str, &str)]) -> Dashboard {
    let mut command: Command = env.hub_command(&HubOptions::default());
    command
        .arg("--dashboard")
        .env("EXAI_LOG", "info")
        .env_remove("EXAI_DASHBOARD_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let mut hub = command.spawn().expect("spawn exai hub --dashboard");
    let mut stdout = BufReader::new(hub.stdout.take().expect("stdout")).lines();
    let line = guard("the dashboard URL on stdout", stdout.next_line())
        .await
        .expect("read stdout")
        .expect("a line on stdout");
    let url = line
        .strip_prefix("EXAI dashboard: http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    let (host, token) = url.split_once("/?token=").expect("URL with a token");
    Dashboard {
        host: host.to_owned(),
        token: token.to_owned(),
        stderr: hub.stderr.take().expect("stderr"),
        hub,
    }
}

/// One HTTP/1.1 request; returns the status, the headers (lower-cased names) and the body.
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut text = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        text.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    stream.write_all(text.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    guard("an HTTP answer", stream.read_to_end(&mut raw))
        .await
        .expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a full answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_refuses_strangers_and_serves_its_owner() {
    let env = Env::new(daemon()).await;
    let mut dash = start(&env, &[]).await;
    let addr = dash.host.clone();
    let bearer = format!("Bearer {}", dash.token);
    assert_eq!(dash.token.len(), 64, "a random 32-byte token");

    // No token, a wrong token: 401 with a message that says what to do.
    let (status, _, body) = request(&addr, "GET", "/", &[]).await;
    assert_eq!(status, 401);
    assert!(body.contains("?token="), "{body}");
    let (status, _, _) = request(&addr, "GET", "/api/snapshot?token=nope", &[]).await;
    assert_eq!(status, 401);
    let (status, _, _) = request(
        &addr,
        "GET",
        "/api/snapshot",
        &[("Authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(status, 401);

    // DNS rebinding and cross-site requests: 403 even with the token.
    let port = addr.rsplit(':').next().unwrap();
    let evil_host = format!("evil.example:{port}");
    let (status, _, _) = request(
        &addr,
        "GET",
        "/api/snapshot",
        &[("Host", &evil_host), ("Authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = request(
        &addr,
        "POST",
        "/api/reconnect",
        &[
            ("Origin", "http://evil.example"),
            ("Authorization", &bearer),
        ],
    )
    .await;
    assert_eq!(status, 403);

    // The printed link: a cookie, and the token taken out of the address bar.
    let (status, headers, _) = request(&addr, "GET", &format!("/?token={}", dash.token), &[]).await;
    assert_eq!(status, 303);
    assert_eq!(header(&headers, "location"), Some("/"));
    let cookie = header(&headers, "set-cookie").expect("a cookie").to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(header(&headers, "referrer-policy"), Some("no-referrer"));
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let (status, headers, body) = request(&addr, "GET", "/", &[("Cookie", &cookie)]).await;
    assert_eq!(status, 200);
    assert!(
        header(&headers, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.contains("EXAI"), "the built dashboard page: {body}");
    // A scheme-relative path never sends the browser elsewhere.
    let (status, headers, _) = request(
        &addr,
        "GET",
        &format!("//evil.example/?token={}", dash.token),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(header(&headers, "location"), Some("/"));
    let (status, _, _) = request(&addr, "GET", "/no-such-file.js", &[("Cookie", &cookie)]).await;
    assert_eq!(status, 404);

    // The API, with the page's own Origin.
    let origin = format!("http://{addr}");
    let (status, _, body) = request(
        &addr,
        "GET",
        "/api/snapshot",
        &[("Cookie", &cookie), ("Origin", &origin)],
    )
    .await;
    assert_eq!(status, 200);
    let snapshot: serde_json::Value = serde_json::from_str(&body).expect("JSON snapshot");
    assert_eq!(snapshot["host"]["kind"], "headless");
    assert_eq!(snapshot["host"]["dashboard_url"], format!("http://{addr}/"));
    assert_eq!(snapshot["host"]["pid"], dash.hub.id().unwrap());
    let (status, _, body) =
        request(&addr, "GET", "/api/connect", &[("Authorization", &bearer)]).await;
    assert_eq!(status, 200);
    let connect: serde_json::Value = serde_json::from_str(&body).unwrap();
    let shim = bin("exai-shim");
    assert_eq!(connect["shim_path"], shim.display().to_string());
    assert_eq!(connect["shim_found"], true);
    assert!(
        connect["snippets"][0]["content"]
            .as_str()
            .unwrap()
            .contains(&*shim.display().to_string())
    );
    let (status, _, body) =
        request(&addr, "GET", "/api/settings", &[("Authorization", &bearer)]).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"host": "headless", "autostart": null, "notifications": null, "log_dir": null})
    );
    let (status, _, _) = request(
        &addr,
        "POST",
        "/api/reconnect",
        &[("Authorization", &bearer), ("Origin", &origin)],
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = request(
        &addr,
        "GET",
        "/api/sessions/zz/requests",
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = request(
        &addr,
        "GET",
        "/api/sessions/00000000000000ff/requests",
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 404);

    // The live stream: a window connecting shows up as an event, then its requests.
    let mut events = TcpStream::connect(&addr).await.unwrap();
    events
        .write_all(
            format!("GET /api/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut events = BufReader::new(events).lines();
    let status = guard("the event stream's head", events.next_line())
        .await
        .unwrap()
        .unwrap();
    assert!(status.contains(" 200 "), "{status}");
    // Wait for the end of the head so the subscription exists before the window connects.
    loop {
        let line = guard("the event stream's head", events.next_line())
            .await
            .unwrap()
            .unwrap();
        if line.is_empty() {
            break;
        }
    }
    let window = env.window("dash-window").await;
    assert_eq!(
        window
            .call_text("echo", serde_json::json!({"text": "hi"}))
            .await,
        "hi"
    );
    let mut appeared = None;
    let mut finished = false;
    guard(
        "session_appeared and request_finished on the stream",
        async {
            while appeared.is_none() || !finished {
                let line = events.next_line().await.unwrap().expect("stream open");
                let Some(data) = line.strip_prefix("data: ") else {
                    continue;
                };
                let event: serde_json::Value = serde_json::from_str(data).expect("JSON event");
                match event["type"].as_str() {
                    Some("session_appeared") if event["session"]["name"] == "dash-window" => {
                        appeared = Some(event["session"]["id"].as_str().unwrap().to_owned());
                    }
                    Some("request_finished") if event["request"]["tool"] == "echo" => {
                        finished = true
                    }
                    _ => {}
                }
            }
        },
    )
    .await;
    let id = appeared.unwrap();
    let (status, _, body) = request(
        &addr,
        "GET",
        &format!("/api/sessions/{id}/requests"),
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 200);
    let requests: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        requests
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["tool"] == "echo" && r["ok"] == true),
        "{requests}"
    );
    window.client.cancel().await.unwrap();

    // Stop the hub; the token never reached its logs.
    let pid = dash.hub.id().unwrap() as i32;
    // SAFETY: signals the hub this test started, by its pid.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = guard("exai hub exits", dash.hub.wait()).await.unwrap();
    assert!(status.success(), "{status}");
    let mut logs = String::new();
    guard("the hub's log", dash.stderr.read_to_string(&mut logs))
        .await
        .unwrap();
    assert!(logs.contains("dashboard serving"), "{logs}");
    assert!(
        !logs.contains(&dash.token),
        "the token leaked into the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_can_be_chosen_and_a_weak_one_is_refused() {
    let env = Env::new(daemon()).await;
    let chosen = "chosen-token-0123456789abcdef";
    let mut dash = start(&env, &[("EXAI_DASHBOARD_TOKEN", chosen)]).await;
    assert_eq!(dash.token, chosen);
    let (status, _, _) = request(
        &dash.host,
        "GET",
        "/api/logs",
        &[("Authorization", &format!("Bearer {chosen}"))],
    )
    .await;
    assert_eq!(status, 200);
    dash.hub.start_kill().unwrap();
    guard("exai hub exits", dash.hub.wait()).await.unwrap();

    let output = guard(
        "exai hub refusing a short token",
        env.hub_command(&HubOptions::default())
            .arg("--dashboard")
            .env("EXAI_DASHBOARD_TOKEN", "short")
            .output(),
    )
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("EXAI_DASHBOARD_TOKEN must be at least 16"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("short"),
        "the refused token is not echoed: {stderr}"
    );

    // Characters that would break a URL query or a cookie are refused up front.
    let output = guard(
        "exai hub refusing a token with separators",
        env.hub_command(&HubOptions::default())
            .arg("--dashboard")
            .env("EXAI_DASHBOARD_TOKEN", "long-enough-but;has=separators")
            .output(),
    )
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("A-Z, a-z, 0-9"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_hub_says_who_runs_the_first() {
    let env = Env::new(daemon()).await;
    let mut dash = start(&env, &[]).await;
    let output = guard(
        "a second exai hub refusing",
        env.hub_command(&HubOptions::default()).output(),
    )
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let pid = dash.hub.id().unwrap();
    assert!(
        stderr.contains(&format!("`exai hub` (pid {pid}) already runs the EXAI hub")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("its dashboard is at http://{}/", dash.host)),
        "{stderr}"
    );
    assert!(!stderr.contains(&dash.token));
    dash.hub.start_kill().unwrap();
    guard("exai hub exits", dash.hub.wait()).await.unwrap();
}

#[tokio::test]
async fn exai_config_prints_a_ready_to_paste_snippet() {
    let shim = bin("exai-shim");
    let output = Command::new(bin("exai"))
        .args(["config", "vscode"])
        .env_remove("EXAI_ENDPOINT")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let snippet: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(
        snippet["servers"]["exai"]["command"],
        shim.display().to_string()
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains(".vscode/mcp.json"));

    let output = Command::new(bin("exai"))
        .args(["config", "cursor", "--endpoint", "team"])
        .output()
        .await
        .unwrap();
    let snippet: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        snippet["mcpServers"]["exai"]["args"],
        serde_json::json!(["--name", "cursor", "--endpoint", "team"])
    );

    let output = Command::new(bin("exai"))
        .args(["config", "emacs"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown editor \"emacs\"") && stderr.contains("claude-desktop"),
        "{stderr}"
    );
}
