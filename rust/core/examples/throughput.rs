//! Reliable throughput between two peers in one process, without Godot: isolates the core and
//! webrtc-rs from the engine when profiling (`perf record` works on it directly). Prints the
//! connection-state timeline up to OPEN, the first message's latency, every gap over 20 ms
//! between arrivals (a stall: a retransmission timer or a parked receive), and MB/s.
//! `cargo run --release -p webrtc-godot-core --example throughput -- [MESSAGE_BYTES] [TOTAL_MIB]`.

use std::time::{Duration, Instant};

use webrtc_godot_core::{ChannelOptions, ChannelState, Value};

// The loopback config and in-process signaling the integration tests use.
#[path = "../tests/common/mod.rs"]
mod common;
use common::{dict, relay, Side};

fn main() {
    let mut args = std::env::args().skip(1);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16384);
    let total = args
        .next()
        .and_then(|a| a.parse::<usize>().ok())
        .unwrap_or(64)
        << 20;
    let options = ChannelOptions::parse(&dict(&[
        ("negotiated", Value::Bool(true)),
        ("id", Value::Int(1)),
    ]))
    .expect("options");
    let mut a = Side::default();
    let mut b = Side::default();
    let mut tx = a
        .peer
        .create_data_channel("bench", &options)
        .expect("channel");
    let mut rx = b
        .peer
        .create_data_channel("bench", &options)
        .expect("channel");
    a.peer.create_offer().expect("offer");
    let opened = Instant::now();
    let mut seen = String::new();
    while tx.get_ready_state() != ChannelState::Open || rx.get_ready_state() != ChannelState::Open {
        relay(&mut a, &mut b);
        relay(&mut b, &mut a);
        let now = format!(
            "{:?}/{:?} {:?}/{:?}",
            a.peer.get_connection_state(),
            b.peer.get_connection_state(),
            tx.get_ready_state(),
            rx.get_ready_state()
        );
        if now != seen {
            println!("{:>8.2?} {now}", opened.elapsed());
            seen = now;
        }
        assert!(opened.elapsed() < Duration::from_secs(10), "open timed out");
    }
    println!("open: {:?}", opened.elapsed());
    let first = Instant::now();
    tx.put_packet(b"first").expect("send");
    while rx.get_available_packet_count() == 0 {
        relay(&mut a, &mut b);
        relay(&mut b, &mut a);
    }
    println!("first message after open: {:?}", first.elapsed());
    let message = vec![7u8; size];
    let (mut sent, mut received) = (0, 0);
    let started = Instant::now();
    let mut last = Instant::now();
    let mut stalls = Vec::new();
    while received < total {
        while sent < total && tx.get_buffered_amount() < 1 << 20 {
            if tx.put_packet(&message).is_err() {
                break;
            }
            sent += size;
        }
        rx.poll();
        while rx.get_available_packet_count() > 0 {
            received += rx.get_packet().map_or(0, <[u8]>::len);
            if last.elapsed() > Duration::from_millis(20) {
                stalls.push((last.elapsed().as_millis(), received >> 10));
            }
            last = Instant::now();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("gaps over 20 ms between arrivals (ms, KiB received): {stalls:?}");
    println!(
        "{size}-byte messages: {:.1} MB/s ({} MiB in {seconds:.2} s)",
        total as f64 / seconds / 1e6,
        total >> 20
    );
}
