//! The tray shell under Tauri's mock runtime: `run_app` with a real in-process hub (on a
//! tempdir endpoint) and the fake EXAI daemon; commands are invoked through Tauri's IPC as the
//! page would invoke them. No display, no tray icon, no real login item or user directory.

use exai_hub::HubHandle;
use exai_hub::api::HubEvent;
use exai_hub::config::{ExaiConfig, HubConfig};
use exai_hub::logring::LogRing;
use exai_proto::{ClientMsg, Frame, FrameCodec, Hello, HubMsg, PROTOCOL_VERSION, Role, SessionId};
use exai_testkit::{DaemonConfig, TestDaemon};
use exai_tray::settings::{AutostartSwitch, SettingsStore};
use exai_tray::{Autostart, Shell, run_app};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener as _, Manager as _, WebviewWindow};
use tokio_util::codec::Framed;

/// Upper bound for anything a test waits for; a timeout is a failure, never a pause.
const PATIENCE: Duration = Duration::from_secs(20);

type Conn = Framed<tokio::io::DuplexStream, FrameCodec>;

struct FakeAutostart(Arc<AtomicBool>);

impl AutostartSwitch for FakeAutostart {
    fn set(&self, enabled: bool) -> anyhow::Result<()> {
        self.0.store(enabled, Ordering::SeqCst);
        Ok(())
    }
}

/// A mock app around a real hub.
struct Harness {
    app: App<MockRuntime>,
    page: WebviewWindow<MockRuntime>,
    hub: HubHandle,
    daemon: TestDaemon,
    autostart: Arc<AtomicBool>,
    dir: tempfile::TempDir,
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tauri::async_runtime::block_on(async {
        tokio::time::timeout(PATIENCE, future)
            .await
            .expect("timed out")
    })
}

/// Starts the fake daemon, a hub on a tempdir endpoint, and `run_app` on the mock runtime.
fn start() -> Harness {
    let daemon = block_on(TestDaemon::start(DaemonConfig::default())).expect("daemon");
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = dir.path().join("hub.sock").display().to_string();
    let config = HubConfig {
        endpoint: Some(endpoint.clone()),
        exai: ExaiConfig {
            url: daemon.url(),
            pool_size: 1,
            ..ExaiConfig::default()
        },
        host: exai_hub::api::HostKind::Tray,
        daemon_configured: true,
        config_file: Some(dir.path().join("config").join("config.toml")),
        ..HubConfig::default()
    };
    let (hub, task) = block_on(exai_hub::Hub::new(config, Some(LogRing::new(100)))).expect("hub");
    let task = tauri::async_runtime::spawn(task.run());
    let (settings, warning) = SettingsStore::load(
        dir.path().join("config").join("tray.json"),
        Some(dir.path().join("logs")),
    );
    assert_eq!(warning, None);
    let autostart = Arc::new(AtomicBool::new(false));
    let shell = Shell {
        hub: hub.clone(),
        hub_task: Some(task),
        settings,
        endpoint_override: Some(endpoint),
        autostart: Autostart::Switch(Box::new(FakeAutostart(autostart.clone()))),
        tray: false,
        show_window: false,
    };
    let mut app = run_app(mock_builder(), shell).expect("app");
    // Runs the setup hook (config windows, the event forwarder) as the real event loop's first
    // iteration would.
    #[allow(
        deprecated,
        reason = "the way to run setup without an event loop under the mock runtime; called once, not in a loop"
    )]
    app.run_iteration(|_, _| {});
    // No window exists until the dashboard is first shown; the page is made as show_dashboard
    // makes it.
    assert!(
        app.get_webview_window("main").is_none(),
        "no window at start"
    );
    let page = exai_tray::window::build(app.handle(), exai_tray::Navigate::Stay)
        .expect("the dashboard window");
    Harness {
        app,
        page,
        hub,
        daemon,
        autostart,
        dir,
    }
}

impl Harness {
    /// Invokes `command` with `args` as the page does; the answer or the error as JSON.
    fn invoke(&self, command: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: command.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: tauri::ipc::InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_owned(),
        };
        get_ipc_response(&self.page, request).map(|body| body.deserialize::<Value>().expect("JSON"))
    }

    #[track_caller]
    fn ok(&self, command: &str, args: Value) -> Value {
        self.invoke(command, args)
            .unwrap_or_else(|err| panic!("{command} failed: {err}"))
    }

    /// Connects an in-memory "shim" named `name` and returns it with its session id.
    fn connect(&self, name: &str) -> (Conn, SessionId) {
        // connect_memory spawns the session on the current runtime: Tauri's, as in the app.
        let stream = block_on(async { self.hub.connect_memory() });
        let mut conn = Framed::new(stream, FrameCodec::default());
        let hello = Frame::control(&ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            role: Role::Shim,
            pid: 4242,
            parent_pid: Some(1),
            cwd: Some("/work/project".into()),
            name: Some(name.into()),
            resume: None,
            server: None,
        }));
        block_on(conn.send(hello)).expect("hello");
        match block_on(control(&mut conn)) {
            HubMsg::Welcome { session_id, .. } => (conn, session_id),
            other => panic!("no welcome: {other:?}"),
        }
    }

    /// Waits for the first event that `pick` accepts.
    fn wait_for<T>(
        &self,
        events: &mut exai_hub::Subscription,
        pick: impl Fn(&HubEvent) -> Option<T>,
    ) -> T {
        block_on(async {
            loop {
                let event = events.next().await.expect("the hub stopped");
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
        })
    }
}

async fn control(conn: &mut Conn) -> HubMsg {
    loop {
        match conn.next().await.expect("a frame").expect("decodes") {
            Frame::Control(payload) => {
                return Frame::decode_control(&payload).expect("hub message");
            }
            Frame::Line(_) | Frame::Unknown { .. } => continue,
        }
    }
}

#[test]
fn snapshot_shows_the_hub_and_its_sessions() {
    let h = start();
    let snapshot = h.ok("snapshot", json!({}));
    assert_eq!(snapshot["endpoint"], h.hub.endpoint());
    assert_eq!(snapshot["host"]["kind"], "tray");
    assert_eq!(snapshot["host"]["pid"], std::process::id());
    assert_eq!(snapshot["sessions"], json!([]));

    let mut events = h.hub.subscribe();
    let (_conn, id) = h.connect("api");
    // Ready once the daemon connection is up too (degraded before, when the hub is young).
    h.wait_for(&mut events, |event| match event {
        HubEvent::SessionAppeared { session } | HubEvent::SessionChanged { session }
            if session.id == id && session.state == exai_hub::api::SessionState::Ready =>
        {
            Some(())
        }
        _ => None,
    });
    let snapshot = h.ok("snapshot", json!({}));
    let sessions = snapshot["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], id.to_string());
    assert_eq!(sessions[0]["name"], "api");
    assert_eq!(sessions[0]["state"], "ready");

    assert_eq!(
        h.ok("session_requests", json!({ "id": id.to_string() })),
        json!([])
    );
    let unknown = h
        .invoke("session_requests", json!({ "id": "00000000deadbeef" }))
        .expect_err("an unknown session is an error");
    assert_eq!(unknown["code"], "unknown_session");
    assert!(
        unknown["message"]
            .as_str()
            .unwrap()
            .contains("00000000deadbeef"),
        "{unknown}"
    );
    assert!(h.ok("logs", json!({})).is_array());
}

#[test]
fn a_lost_session_can_be_dismissed() {
    let h = start();
    let mut events = h.hub.subscribe();
    let (conn, id) = h.connect("doomed");
    // The shim vanishes without a goodbye.
    drop(conn);
    h.wait_for(&mut events, |event| match event {
        HubEvent::SessionChanged { session }
            if session.id == id && session.state == exai_hub::api::SessionState::Lost =>
        {
            Some(())
        }
        _ => None,
    });
    assert_eq!(h.ok("snapshot", json!({}))["sessions"][0]["state"], "lost");
    assert_eq!(
        h.ok("dismiss", json!({ "id": id.to_string() })),
        Value::Null
    );
    h.wait_for(&mut events, |event| match event {
        HubEvent::SessionGone { id: gone } if *gone == id => Some(()),
        _ => None,
    });
    assert_eq!(h.ok("snapshot", json!({}))["sessions"], json!([]));
}

#[test]
fn reconnect_reaches_the_daemon() {
    let h = start();
    block_on(
        h.daemon
            .wait_until(|stats| stats.authenticated == 1 && stats.list_tools >= 1),
    );
    let catalogs = h.daemon.stats().list_tools;
    assert_eq!(h.ok("reconnect_upstream", json!({})), Value::Null);
    // A reconnect while connected refreshes the tool catalog.
    block_on(h.daemon.wait_until(|stats| stats.list_tools > catalogs));
    assert_eq!(
        h.ok("snapshot", json!({}))["upstream"]["state"],
        "connected"
    );
}

#[test]
fn restart_server_is_a_command_and_names_an_unknown_server() {
    let h = start();
    let unknown = h
        .invoke("restart_server", json!({ "id": 7 }))
        .expect_err("no wrapped server has that id");
    assert_eq!(unknown["code"], "unknown_server");
    assert!(unknown["message"].as_str().unwrap().contains('7'));
}

/// The share commands are registered and take the page's arguments; an unknown editor is
/// refused by name before any file is read (the user's own files are never touched here).
#[test]
fn connect_wrap_is_a_command_and_names_an_unknown_editor() {
    let h = start();
    for direction in ["wrap", "unwrap"] {
        let unknown = h
            .invoke(
                "connect_wrap",
                json!({ "editor": "emacs", "direction": direction }),
            )
            .expect_err("no such editor");
        assert_eq!(unknown["code"], "unknown_editor", "{unknown}");
        assert!(unknown["message"].as_str().unwrap().contains("emacs"));
    }
    assert!(
        h.invoke(
            "connect_wrap",
            json!({ "editor": "cursor", "direction": "sideways" })
        )
        .is_err()
    );
}

#[test]
fn tools_lists_the_daemons_catalog_by_name_with_descriptions() {
    let h = start();
    let mut events = h.hub.subscribe();
    // The catalog comes with the pool's first connection; each status change may be it.
    let tools = loop {
        let tools = h.ok("tools", json!({}));
        if tools.as_array().is_some_and(|tools| !tools.is_empty()) {
            break tools;
        }
        h.wait_for(&mut events, |event| {
            matches!(event, HubEvent::UpstreamChanged { .. }).then_some(())
        });
    };
    let mut expected = exai_testkit::default_tools();
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    let expected: Vec<Value> = expected
        .iter()
        .map(|tool| json!({ "name": tool.name, "description": tool.description }))
        .collect();
    assert_eq!(tools, Value::Array(expected));
}

#[test]
fn connect_info_names_the_shim_and_this_endpoint() {
    let h = start();
    let info = h.ok("connect_info", json!({}));
    let shim = info["shim_path"].as_str().expect("shim_path");
    assert!(
        std::path::Path::new(shim)
            .file_stem()
            .is_some_and(|stem| stem == "exai-shim"),
        "{shim}"
    );
    let snippets = info["snippets"].as_array().expect("snippets");
    assert!(!snippets.is_empty());
    assert!(
        snippets.iter().all(|snippet| snippet["content"]
            .as_str()
            .unwrap()
            .contains(h.hub.endpoint())),
        "every snippet carries the non-default endpoint: {snippets:?}"
    );
}

#[test]
fn the_daemon_settings_are_saved_to_a_private_file_and_the_token_never_comes_back() {
    let h = start();
    let path = h.dir.path().join("config").join("config.toml");
    let config = h.ok("upstream_config", json!({}));
    assert_eq!(config["url"], h.daemon.url());
    assert_eq!(config["token_set"], false);
    assert_eq!(config["config_path"], path.display().to_string());

    let tested = h.ok(
        "test_upstream",
        json!({ "test": { "url": h.daemon.url(), "token": null } }),
    );
    assert_eq!(tested["outcome"], "ok", "{tested}");
    let refused = h.invoke(
        "set_upstream_config",
        json!({ "update": { "url": "http://nope", "token": null } }),
    );
    let refused = refused.expect_err("an http:// URL is refused");
    assert_eq!(refused["code"], "invalid_url", "{refused}");

    let token = "tray-token-0123456789";
    let saved = h.ok(
        "set_upstream_config",
        json!({ "update": { "url": h.daemon.url(), "token": token } }),
    );
    assert!(!saved.to_string().contains(token), "{saved}");
    assert_eq!(saved["config"]["token_set"], true);
    assert_eq!(saved["config"]["url_source"], "file");
    let text = std::fs::read_to_string(&path).expect("config.toml");
    assert!(
        text.contains(token) && text.contains(&h.daemon.url()),
        "{text}"
    );
    let config = h.ok("upstream_config", json!({}));
    assert!(!config.to_string().contains(token), "{config}");
}

#[test]
fn settings_round_trip_through_the_file() {
    let h = start();
    let log_dir = h.dir.path().join("logs").display().to_string();
    assert_eq!(
        h.ok("settings", json!({})),
        json!({ "host": "tray", "autostart": false, "notifications": true, "log_dir": log_dir })
    );
    let changed = h.ok(
        "set_settings",
        json!({ "settings": { "host": "tray", "autostart": true, "notifications": false, "log_dir": null } }),
    );
    assert_eq!(
        changed,
        json!({ "host": "tray", "autostart": true, "notifications": false, "log_dir": log_dir })
    );
    assert!(
        h.autostart.load(Ordering::SeqCst),
        "the login item was registered"
    );
    assert_eq!(h.ok("settings", json!({})), changed);

    let file = h.dir.path().join("config").join("tray.json");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("saved")).expect("JSON");
    assert_eq!(saved, json!({ "autostart": true, "notifications": false }));
    let (reloaded, _) = SettingsStore::load(file, None);
    assert!(!reloaded.notifications());

    let wrong = h
        .invoke(
            "set_settings",
            json!({ "settings": { "autostart": "yes" } }),
        )
        .expect_err("a malformed settings object is refused");
    assert!(
        wrong
            .as_str()
            .is_some_and(|text| text.contains("set_settings")),
        "{wrong}"
    );
    assert_eq!(h.ok("settings", json!({})), changed, "nothing changed");
}

#[test]
fn every_hub_event_reaches_the_page() {
    let h = start();
    let (seen, mut page_events) = tokio::sync::mpsc::unbounded_channel();
    h.app.listen_any(exai_tray::HUB_EVENT, move |event| {
        let _ = seen.send(serde_json::from_str::<Value>(event.payload()).expect("JSON payload"));
    });
    let (_conn, id) = h.connect("watched");
    let appeared = block_on(async {
        loop {
            let event = page_events.recv().await.expect("events");
            if event["type"] == "session_appeared" {
                return event;
            }
        }
    });
    assert_eq!(appeared["session"]["id"], id.to_string());
    assert_eq!(appeared["session"]["name"], "watched");
}

#[test]
fn stopping_the_hub_tells_the_shims() {
    let h = start();
    let (mut conn, _id) = h.connect("leaving");
    block_on(exai_tray::stop_hub(h.app.handle()));
    match block_on(control(&mut conn)) {
        HubMsg::Shutdown { .. } => {}
        other => panic!("expected a shutdown notice, got {other:?}"),
    }
    let stopped = h
        .invoke("snapshot", json!({}))
        .expect_err("the hub is gone");
    assert_eq!(stopped["code"], "hub_stopped");
    // A second stop (Quit after a signal, say) returns at once.
    block_on(exai_tray::stop_hub(h.app.handle()));
}
