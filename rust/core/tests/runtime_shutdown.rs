//! Unloading the library stops and joins every runtime thread, even with live connections.
//! Its own test binary: shutting the shared runtime down would break tests running beside it.

mod common;

use webrtc_godot_core::{runtime, ChannelOptions, Error, Peer};

fn runtime_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "webrtc-rs")
        .count()
}

fn offering_peers(count: usize) -> Vec<Peer> {
    let mut peers: Vec<Peer> = (0..count)
        .map(|_| Peer::new(common::loopback_config()))
        .collect();
    for peer in &mut peers {
        peer.create_data_channel("x", &ChannelOptions::default())
            .expect("channel");
        peer.create_offer().expect("offer");
    }
    peers
}

#[test]
fn shutdown_joins_all_threads_and_later_calls_fail_cleanly() {
    let mut peers = offering_peers(8);
    let pool = runtime_threads();
    assert!((1..=2).contains(&pool), "one or two workers, got {pool}");
    peers.extend(offering_peers(8));
    assert_eq!(
        runtime_threads(),
        pool,
        "a fixed pool, whatever the number of peers"
    );
    runtime::shutdown(std::time::Duration::from_millis(500));
    assert_eq!(runtime_threads(), 0, "no runtime thread outlives shutdown");

    // A connection that outlives the runtime fails with an error code; dropping it is safe.
    let mut late = Peer::new(common::loopback_config());
    assert!(matches!(late.create_offer(), Err(Error::Unavailable(_))));
    drop(peers);
}
