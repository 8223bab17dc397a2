//! Listening, connecting and moving bytes, on every platform.

use exai_ipc::{ConnectError, ListenError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestEndpoint, connected_pair, listen_ok, within};

#[tokio::test]
async fn bytes_flow_both_ways() {
    let test = TestEndpoint::new();
    let mut listener = listen_ok(&test.endpoint).await;
    assert_eq!(listener.endpoint(), &test.endpoint);
    let (mut client, accepted) = connected_pair(&mut listener).await;
    let mut server = accepted.stream;

    within("client to hub", async {
        client.write_all(b"hello hub").await.expect("client write");
        let mut buf = [0u8; 9];
        server.read_exact(&mut buf).await.expect("hub read");
        assert_eq!(&buf, b"hello hub");
    })
    .await;
    within("hub to client, then EOF", async {
        server.write_all(b"hello shim").await.expect("hub write");
        server.shutdown().await.expect("hub shutdown");
        drop(server);
        let mut received = Vec::new();
        client
            .read_to_end(&mut received)
            .await
            .expect("client read");
        assert_eq!(received, b"hello shim");
    })
    .await;
}

#[tokio::test]
async fn several_clients_are_accepted_in_turn() {
    let test = TestEndpoint::new();
    let mut listener = listen_ok(&test.endpoint).await;
    for n_client in 0..3u8 {
        let (mut client, accepted) = connected_pair(&mut listener).await;
        let mut server = accepted.stream;
        within("one byte each way", async {
            client.write_all(&[n_client]).await.expect("client write");
            assert_eq!(server.read_u8().await.expect("hub read"), n_client);
        })
        .await;
    }
}

#[tokio::test]
async fn a_second_hub_is_told_one_is_already_running_and_the_first_keeps_working() {
    let test = TestEndpoint::new();
    let mut first = listen_ok(&test.endpoint).await;

    let second = exai_ipc::listen(&test.endpoint).await;
    let Err(err) = second else {
        panic!("a second listen on {} succeeded", test.endpoint);
    };
    assert!(
        matches!(&err, ListenError::AlreadyRunning { endpoint } if *endpoint == test.endpoint.to_string()),
        "unexpected error: {err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "an EXAI hub is already running on {}: use it, or stop it first (`exai status` shows it)",
            test.endpoint
        )
    );

    let (mut client, accepted) = connected_pair(&mut first).await;
    let mut server = accepted.stream;
    within("a byte through the first hub", async {
        client.write_all(b"!").await.expect("client write");
        assert_eq!(server.read_u8().await.expect("hub read"), b'!');
    })
    .await;
}

#[tokio::test]
async fn connecting_with_no_hub_is_not_running() {
    let test = TestEndpoint::new();
    let err = exai_ipc::connect(&test.endpoint).await.err();
    assert!(
        matches!(&err, Some(ConnectError::NotRunning { .. })),
        "unexpected result: {err:?}"
    );
    let message = err.map(|err| err.to_string()).unwrap_or_default();
    assert_eq!(
        message,
        format!("no EXAI hub is listening on {}", test.endpoint)
    );
}

#[tokio::test]
async fn a_dropped_listener_frees_the_endpoint() {
    let test = TestEndpoint::new();
    let listener = listen_ok(&test.endpoint).await;
    drop(listener);
    let err = exai_ipc::connect(&test.endpoint).await.err();
    assert!(
        matches!(err, Some(ConnectError::NotRunning { .. })),
        "unexpected result: {err:?}"
    );
    let mut again = listen_ok(&test.endpoint).await;
    let _pair = connected_pair(&mut again).await;
}

#[tokio::test]
async fn the_peer_is_this_process_and_the_same_user() {
    let test = TestEndpoint::new();
    let mut listener = listen_ok(&test.endpoint).await;
    let (_client, accepted) = connected_pair(&mut listener).await;
    let peer = accepted.peer;
    assert_eq!(peer.pid, Some(std::process::id()));
    assert!(peer.same_user, "{peer:?}");
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions.
        let our_uid = unsafe { libc::geteuid() };
        assert_eq!(peer.uid, Some(our_uid));
    }
    #[cfg(windows)]
    assert_eq!(peer.uid, None);
}
