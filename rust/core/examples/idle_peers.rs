//! Connected idle peers in one process, without Godot: their memory and background CPU, so
//! `valgrind --tool=massif` and `perf record` can look at webrtc-rs directly. Prints the RSS
//! per peer and the CPU the process used while the peers sat idle.
//! `cargo run --release -p webrtc-godot-core --example idle_peers -- [PEERS] [SECONDS]`.

use std::time::{Duration, Instant};

use webrtc_godot_core::ChannelState;

// The loopback config and in-process signaling the integration tests use.
#[path = "../tests/common/mod.rs"]
mod common;
use common::{cpu_ns, open_negotiated, Side};

/// Resident memory in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let peers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    // One pair first, so the runtime and its threads are not counted per peer.
    let mut first = (Side::default(), Side::default());
    let _warm = open_negotiated(&mut first.0, &mut first.1, "warm", 1);
    let before = rss_kib();
    let mut pairs = Vec::new();
    for _ in 0..peers / 2 {
        let (mut a, mut b) = (Side::default(), Side::default());
        let (ca, cb) = open_negotiated(&mut a, &mut b, "idle", 1);
        pairs.push((a, b, ca, cb));
    }
    // Let every connection finish its post-open chatter.
    std::thread::sleep(Duration::from_secs(1));
    let per_peer = (rss_kib().saturating_sub(before)) as f64 / (pairs.len() * 2) as f64;
    println!("{} peers: {per_peer:.0} KiB RSS per peer", pairs.len() * 2);
    let (cpu_before, started) = (cpu_ns(), Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    let cpu = (cpu_ns() - cpu_before) as f64 / 1e9;
    println!(
        "idle for {:.1} s: {:.2} % of one core",
        started.elapsed().as_secs_f64(),
        cpu / started.elapsed().as_secs_f64() * 100.0
    );
    let open = pairs.iter().all(|(_, _, ca, cb)| {
        ca.get_ready_state() == ChannelState::Open && cb.get_ready_state() == ChannelState::Open
    });
    assert!(open, "a channel closed while idle");
}
