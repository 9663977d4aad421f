//! A game's reliable messages through a lossy path, without Godot: two peers of the core crate
//! in one process, their only path the in-process `udp-impair` relay. Sends 200-byte messages
//! at 20 a second on an ordered reliable channel and prints the latency from `put_packet` to
//! `get_packet` (p50, p99, p99.9, max) and every message that took longer than 250 ms, with
//! when it was sent: the place to look for a stall. What the lossy benchmark's game rows
//! measure through Godot, isolated so that loss recovery can be studied and A/B-tested alone.
//!
//! `cargo run --release -p webrtc-godot-core --example game_pattern -- LOSS DELAY_MS SEED
//! [SECONDS] [SHORTEST-LONGEST]`, e.g. `0.03 10 1 60 2-5` for 3 % loss in runs of 2 to 5.
//! With `GAME_PATTERN_LOG` set, rtc-sctp's records down to trace level go to stderr, on the
//! same clock as the sent-at times (every packet sent, each retransmission and timeout).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use udp_impair::Impairment;
use webrtc_godot_core::Value;

#[path = "../tests/common/mod.rs"]
mod common;
use common::Path;

const RATE: u64 = 20;
const BYTES: usize = 200;
/// How long the last messages may take before the run ends without them.
const DRAIN: Duration = Duration::from_secs(10);

/// The clock both the message times and the log records are printed on.
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn main() {
    let epoch = *EPOCH.get_or_init(Instant::now);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let loss: f64 = arg(0, "0.03").parse().expect("LOSS is a fraction");
    let delay: u64 = arg(1, "10").parse().expect("DELAY_MS is a number");
    let seed: u64 = arg(2, "1").parse().expect("SEED is a number");
    let seconds: u64 = arg(3, "60").parse().expect("SECONDS is a number");
    let burst = args.get(4).map(|runs| {
        let (shortest, longest) = runs.split_once('-').expect("runs are SHORTEST-LONGEST");
        (
            shortest.parse().expect("a number"),
            longest.parse().expect("a number"),
        )
    });
    let impairment = Impairment {
        loss,
        burst,
        delay: Duration::from_millis(delay),
        ..Impairment::default()
    };
    if std::env::var_os("GAME_PATTERN_LOG").is_some() {
        webrtc_godot_core::logging::install(print_record, true);
        log::set_max_level(log::LevelFilter::Trace);
    }
    let mut path = Path::new(impairment, seed);
    let (mut tx, mut rx) = path.open(&[("negotiated", Value::Bool(true)), ("id", Value::Int(1))]);
    let total = seconds * RATE;
    let start = Instant::now();
    let interval = Duration::from_micros(1_000_000 / RATE);
    let mut sent = 0u64;
    let mut latencies = Vec::new();
    let mut late = Vec::new();
    let mut last_sent = start;
    while (latencies.len() as u64) < total {
        let now = Instant::now();
        if sent < total && now >= start + interval * sent as u32 {
            let mut message = vec![0u8; BYTES];
            let at = now.duration_since(epoch).as_micros() as u64;
            message[..8].copy_from_slice(&at.to_be_bytes());
            tx.put_packet(&message).expect("send");
            sent += 1;
            last_sent = now;
        }
        rx.poll();
        while rx.get_available_packet_count() > 0 {
            let Ok(packet) = rx.get_packet() else { break };
            let at = u64::from_be_bytes(packet[..8].try_into().expect("8 bytes"));
            let latency = epoch.elapsed().as_micros() as u64 - at;
            if latency > 250_000 {
                late.push((at / 1000, latency / 1000));
            }
            latencies.push(latency as f64 / 1000.0);
        }
        if sent == total && last_sent.elapsed() > DRAIN {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let stats = path.relay.stats();
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        sorted
            .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "loss {loss} runs {burst:?} delay {delay} ms seed {seed}: delivered {}/{total}, \
         p50 {:.1} p99 {:.1} p99.9 {:.1} max {:.1} ms",
        latencies.len(),
        quantile(0.5),
        quantile(0.99),
        quantile(0.999),
        sorted.last().copied().unwrap_or(f64::NAN)
    );
    println!("relay: {stats:?}");
    println!("over 250 ms (sent at ms, latency ms): {late:?}");
}

fn print_record(_: log::Level, message: &str) {
    let at = EPOCH.get_or_init(Instant::now).elapsed();
    if message.contains("rtc_sctp") {
        eprintln!("{:>10.3} {message}", at.as_secs_f64());
    }
}
