//! Reliable bulk throughput through a lossy path, without Godot: two peers of the core crate in
//! one process, their only path the in-process `udp-impair` relay. Keeps 1 MiB of 16 KiB
//! messages buffered on an ordered reliable channel for the given time and prints the kilobytes
//! delivered in each second and on average. What the lossy benchmark's throughput rows measure
//! through Godot, isolated so that congestion control can be studied and A/B-tested alone.
//!
//! `cargo run --release -p webrtc-godot-core --example lossy_throughput -- LOSS DELAY_MS SEED
//! [SECONDS] [JITTER_MS] [RATE_KBPS]`, e.g. `0.01 10 1 10` for 1 % loss each way and 10 ms one
//! way. With a rate the relay is also a bottleneck of that many kilobytes a second each way,
//! whose one-second queue drops what overflows: congestion losses instead of random ones.

use std::time::{Duration, Instant};

use udp_impair::Impairment;
use webrtc_godot_core::Value;

#[path = "../tests/common/mod.rs"]
mod common;
use common::Path;

const MESSAGE: usize = 16 * 1024;
const BUFFERED: usize = 1 << 20;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let loss: f64 = arg(0, "0.01").parse().expect("LOSS is a fraction");
    let delay: u64 = arg(1, "10").parse().expect("DELAY_MS is a number");
    let seed: u64 = arg(2, "1").parse().expect("SEED is a number");
    let seconds: u64 = arg(3, "10").parse().expect("SECONDS is a number");
    let jitter: u64 = arg(4, "0").parse().expect("JITTER_MS is a number");
    let rate: Option<u64> = args
        .get(5)
        .map(|r| r.parse::<u64>().expect("RATE_KBPS is a number") * 1000);
    let impairment = Impairment {
        loss,
        delay: Duration::from_millis(delay),
        jitter: Duration::from_millis(jitter),
        rate,
        ..Impairment::default()
    };
    let mut path = Path::new(impairment, seed);
    let (mut tx, mut rx) = path.open(&[("negotiated", Value::Bool(true)), ("id", Value::Int(1))]);
    let message = vec![7u8; MESSAGE];
    let start = Instant::now();
    let run = Duration::from_secs(seconds);
    let mut received = 0usize;
    let mut each_second = Vec::new();
    let mut last_mark = start;
    let mut at_mark = 0usize;
    while start.elapsed() < run {
        while tx.get_buffered_amount() < BUFFERED {
            if tx.put_packet(&message).is_err() {
                break;
            }
        }
        rx.poll();
        while rx.get_available_packet_count() > 0 {
            received += rx.get_packet().map_or(0, <[u8]>::len);
        }
        if last_mark.elapsed() >= Duration::from_secs(1) {
            each_second.push((received - at_mark) / 1000);
            at_mark = received;
            last_mark = Instant::now();
        }
        std::thread::yield_now();
    }
    println!("KB each second: {each_second:?}");
    println!("relay: {}", path.relay.stats());
    println!(
        "loss {loss} delay {delay}±{jitter} ms seed {seed}: {:.0} KB/s",
        received as f64 / start.elapsed().as_secs_f64() / 1000.0
    );
}
