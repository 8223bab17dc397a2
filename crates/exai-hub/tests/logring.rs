//! The log ring tags records with their session. A test binary of its own: a thread-local
//! subscriber shares tracing's global callsite cache with every other test thread, and one
//! that hits a callsite first, with no subscriber, can leave it switched off for this test.

mod support;

use exai_hub::logring::LogRing;
use exai_proto::{HubMsg, PROTOCOL_VERSION};
use futures_util::SinkExt;
use support::{control, guard, hello, start};
use tracing_subscriber::layer::SubscriberExt as _;

/// One thread (the default test runtime), so the thread-local subscriber sees every hub task.
#[tokio::test]
async fn records_carry_the_session_they_concern() {
    let logs = LogRing::new(100);
    let subscriber =
        tracing_subscriber::registry().with(logs.layer::<tracing_subscriber::Registry>());
    let _guard = tracing::subscriber::set_default(subscriber);
    let (_daemon, _dir, hub) = start(Some(logs.clone())).await;
    let mut conn = exai_testkit::shim::raw(hub.connect_memory());
    conn.send(hello(PROTOCOL_VERSION, "tagged"))
        .await
        .expect("hello");
    let HubMsg::Welcome { session_id, .. } = control(&mut conn).await else {
        panic!("no welcome")
    };
    // "session connected" is logged inside the session's span right after the welcome went
    // out; the hub's own events say when the ring has it.
    let mut events = hub.subscribe();
    let tagged = |logs: &LogRing| {
        logs.records().into_iter().any(|record| {
            record.session == Some(session_id)
                && record.message.to_lowercase().contains("session connected")
        })
    };
    guard("this step", async {
        while !tagged(&logs) {
            events.next().await.expect("hub running");
        }
    })
    .await;
    assert!(tagged(&logs), "{:?}", logs.records());
    hub.shutdown();
}
