//! The log ring tags records with their session. A test binary of its own: a thread-local
//! subscriber shares tracing's global callsite cache with every other test thread, and one
//! that hits a callsite first, with no subscriber, can leave it switched off for this test.

use exai_hub::Hub;
use exai_hub::config::{ExaiConfig, HubConfig};
use exai_hub::logring::LogRing;
use exai_proto::{ClientMsg, Frame, FrameCodec, Hello, HubMsg, PROTOCOL_VERSION, Role};
use exai_testkit::{DaemonConfig, TestDaemon};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_util::codec::Framed;
use tracing_subscriber::layer::SubscriberExt as _;

/// One thread (the default test runtime), so the thread-local subscriber sees every hub task.
#[tokio::test]
async fn records_carry_the_session_they_concern() {
    let logs = LogRing::new(100);
    let subscriber =
        tracing_subscriber::registry().with(logs.layer::<tracing_subscriber::Registry>());
    let _guard = tracing::subscriber::set_default(subscriber);
    let daemon = TestDaemon::start(DaemonConfig::default())
        .await
        .expect("daemon");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = HubConfig {
        endpoint: Some(dir.path().join("hub.sock").display().to_string()),
        exai: ExaiConfig {
            url: daemon.url(),
            pool_size: 1,
            ..ExaiConfig::default()
        },
        ..HubConfig::default()
    };
    let (hub, task) = Hub::new(config, Some(logs.clone())).await.expect("hub");
    tokio::spawn(task.run());
    let mut conn = Framed::new(hub.connect_memory(), FrameCodec::default());
    conn.send(Frame::control(&ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        role: Role::Shim,
        pid: 4242,
        parent_pid: None,
        cwd: None,
        name: Some("tagged".into()),
        resume: None,
    })))
    .await
    .expect("hello");
    let welcome = tokio::time::timeout(Duration::from_secs(20), conn.next())
        .await
        .expect("timed out waiting for the welcome")
        .expect("a frame")
        .expect("decodes");
    let Frame::Control(payload) = welcome else {
        panic!("expected a control frame")
    };
    let HubMsg::Welcome { session_id, .. } = Frame::decode_control(&payload).expect("hub message")
    else {
        panic!("no welcome")
    };
    // "session connected" is logged inside the session's span right after the welcome went
    // out; the hub's own events say when the ring has it.
    let mut events = hub.subscribe();
    let tagged = |logs: &LogRing| {
        logs.records().into_iter().any(|record| {
            record.session == Some(session_id) && record.message.contains("session connected")
        })
    };
    tokio::time::timeout(Duration::from_secs(20), async {
        while !tagged(&logs) {
            events.next().await.expect("hub running");
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no record tagged with the session: {:?}", logs.records()));
    hub.shutdown();
}
