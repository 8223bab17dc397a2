//! Shared by the hub's test binaries (`it` and `logring`): a hub in process against the fake
//! daemon, and the frames a shim would send.

use exai_hub::Hub;
use exai_hub::config::{ExaiConfig, HubConfig};
use exai_hub::logring::LogRing;
use exai_proto::{ClientMsg, Frame, FrameCodec, Hello, HubMsg, Role};
use exai_testkit::{DaemonConfig, TestDaemon};
use futures_util::StreamExt;
use std::time::Duration;
use tokio_util::codec::Framed;

pub type Conn = Framed<tokio::io::DuplexStream, FrameCodec>;

pub async fn guard<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("timed out")
}

pub fn hello(version: u32, name: &str) -> Frame {
    Frame::control(&ClientMsg::Hello(Hello {
        protocol_version: version,
        role: Role::Shim,
        pid: 4242,
        parent_pid: Some(1),
        cwd: Some("/work/project".into()),
        name: Some(name.into()),
        resume: None,
    }))
}

pub async fn control(conn: &mut Conn) -> HubMsg {
    match guard(conn.next()).await.expect("a frame").expect("decodes") {
        Frame::Control(payload) => Frame::decode_control(&payload).expect("hub message"),
        other => panic!("expected a control frame, got {other:?}"),
    }
}

pub async fn start(logs: Option<LogRing>) -> (TestDaemon, tempfile::TempDir, exai_hub::HubHandle) {
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
    let (handle, task) = Hub::new(config, logs).await.expect("hub");
    tokio::spawn(task.run());
    (daemon, dir, handle)
}
