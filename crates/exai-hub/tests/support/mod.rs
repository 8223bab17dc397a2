//! Shared by the hub's test binaries (`it` and `logring`): a hub in process against the fake
//! daemon, and the frames a shim would send.

#![allow(
    dead_code,
    unused_imports,
    reason = "shared by two test binaries, each using a part of it"
)]

use exai_hub::Hub;
use exai_hub::config::{ExaiConfig, HubConfig};
use exai_hub::logring::LogRing;
use exai_proto::{Frame, Hello};
use exai_testkit::{DaemonConfig, TestDaemon};

pub type Conn = exai_testkit::shim::RawShim<tokio::io::DuplexStream>;

pub use exai_testkit::guard::guard;
pub use exai_testkit::shim::{ask, control};

/// A shim's hello speaking protocol `version`.
pub fn hello(version: u32, name: &str) -> Frame {
    exai_testkit::shim::hello_frame(Hello {
        protocol_version: version,
        pid: 4242,
        ..exai_testkit::shim::hello(name)
    })
}

pub async fn start(logs: Option<LogRing>) -> (TestDaemon, tempfile::TempDir, exai_hub::HubHandle) {
    start_with(logs, |_| {}).await
}

/// [`start`] with the config changed by `change` first.
pub async fn start_with(
    logs: Option<LogRing>,
    change: impl FnOnce(&mut HubConfig),
) -> (TestDaemon, tempfile::TempDir, exai_hub::HubHandle) {
    let daemon = TestDaemon::start(DaemonConfig::default())
        .await
        .expect("daemon");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = HubConfig {
        endpoint: Some(dir.path().join("hub.sock").display().to_string()),
        exai: ExaiConfig {
            url: daemon.url(),
            pool_size: 1,
            ..ExaiConfig::default()
        },
        ..HubConfig::default()
    };
    change(&mut config);
    let (handle, task) = Hub::new(config, logs).await.expect("hub");
    tokio::spawn(task.run());
    (daemon, dir, handle)
}
