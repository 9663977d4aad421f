//! Unloading the library stops and joins every runtime thread, even with live connections.
//! Its own test binary: shutting the shared runtime down would break tests running beside it.
//! Linux only: threads are counted in procfs.
#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

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
    let started = Instant::now();
    runtime::shutdown(Duration::from_millis(500));
    println!(
        "FIGURE runtime shutdown with 16 connections and 16 closes in flight: {:?}",
        started.elapsed()
    );
    // Joining returns once the kernel clears a thread's id, a moment before the thread leaves
    // /proc: give it that moment, no more.
    let deadline = Instant::now() + Duration::from_secs(1);
    while runtime_threads() > 0 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(runtime_threads(), 0, "no runtime thread outlives shutdown");

    // A connection that outlives the runtime fails with an error code; dropping it is safe.
    let mut late = Peer::new(common::loopback_config());
    assert!(matches!(late.create_offer(), Err(Error::Unavailable(_))));
    drop(peers);
}
