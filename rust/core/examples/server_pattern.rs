//! The dedicated-server benchmark's traffic without Godot, for a measurement that does not
//! drift with the machine: PAIRS connected pairs in one process, each with an unreliable
//! "state" channel and a reliable "events" channel. In every round each client side sends a
//! 64-byte input, each server side a 100-byte state, and every 30th round a 200-byte reliable
//! event; the round ends once all of them have arrived and been read, and the next starts after
//! GAP_MS (the benchmark's 30 Hz is 33 ms). Prints the process's CPU per round and pair.
//!
//! Under `valgrind --tool=callgrind` the difference between two runs of different lengths is the
//! instructions a round costs in user space, the same for the same build whatever else runs:
//! what an A/B of a change to the per-message path needs on a machine whose timings drift.
//!
//! `cargo run --release -p webrtc-godot-core --example server_pattern -- [PAIRS] [ROUNDS] [GAP_MS]`

use std::time::{Duration, Instant};

use webrtc_godot_core::{Channel, ChannelOptions, ChannelState, Value};

#[path = "../tests/common/mod.rs"]
mod common;
use common::{cpu_ns, dict, drain, run_until, Side};

const INPUT_BYTES: usize = 64;
const STATE_BYTES: usize = 100;
const EVENT_BYTES: usize = 200;
const ROUNDS_PER_EVENT: u64 = 30;
/// How long one round may take before the run gives up on it.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

/// One client and its server-side connection, with both channels on each side.
struct Pair {
    client: Side,
    server: Side,
    /// (client's, server's) for each channel.
    state: (Channel, Channel),
    events: (Channel, Channel),
}

fn options(id: i64, reliable: bool) -> ChannelOptions {
    let mut entries = vec![("negotiated", Value::Bool(true)), ("id", Value::Int(id))];
    if !reliable {
        entries.push(("ordered", Value::Bool(false)));
        entries.push(("maxRetransmits", Value::Int(0)));
    }
    ChannelOptions::parse(&dict(&entries)).expect("valid options")
}

fn connect() -> Pair {
    let (mut client, mut server) = (Side::default(), Side::default());
    let mut both = |id, reliable| {
        let ours = client
            .peer
            .create_data_channel("c", &options(id, reliable))
            .expect("client channel");
        let theirs = server
            .peer
            .create_data_channel("c", &options(id, reliable))
            .expect("server channel");
        (ours, theirs)
    };
    let state = both(1, false);
    let events = both(2, true);
    client.peer.create_offer().expect("offer");
    run_until(&mut client, &mut server, "channels open", |_, _| {
        [&state.0, &state.1, &events.0, &events.1]
            .iter()
            .all(|channel| channel.get_ready_state() == ChannelState::Open)
    });
    Pair {
        client,
        server,
        state,
        events,
    }
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|arg| arg.parse().expect("arguments are numbers"))
        .collect();
    let pairs_wanted = args.first().copied().unwrap_or(32);
    let rounds = args.get(1).copied().unwrap_or(300);
    let gap = Duration::from_millis(args.get(2).copied().unwrap_or(33));
    let mut pairs: Vec<Pair> = (0..pairs_wanted).map(|_| connect()).collect();
    let (input, state, event) = (
        vec![1u8; INPUT_BYTES],
        vec![2u8; STATE_BYTES],
        vec![3u8; EVENT_BYTES],
    );
    let (cpu_before, started) = (cpu_ns(), Instant::now());
    let mut lost = 0;
    for round in 0..rounds {
        let with_event = round % ROUNDS_PER_EVENT == 0;
        for pair in &mut pairs {
            pair.state.0.put_packet(&input).expect("input sent");
            pair.state.1.put_packet(&state).expect("state sent");
            if with_event {
                pair.events.1.put_packet(&event).expect("event sent");
            }
        }
        let expected = pairs.len() * (2 + usize::from(with_event));
        let mut read = 0;
        let begun = Instant::now();
        while read < expected && begun.elapsed() < ROUND_LIMIT {
            std::thread::sleep(Duration::from_micros(500));
            for pair in &mut pairs {
                pair.client.peer.release_packets();
                pair.server.peer.release_packets();
                read += drain(&mut pair.state.0) + drain(&mut pair.state.1);
                read += drain(&mut pair.events.0);
            }
        }
        lost += expected.saturating_sub(read);
        std::thread::sleep(gap);
    }
    let cpu = Duration::from_nanos(cpu_ns() - cpu_before);
    let per = cpu.as_secs_f64() * 1e6 / (rounds * pairs_wanted) as f64;
    println!(
        "{pairs_wanted} pairs, {rounds} rounds, {gap:?} apart, in {:.1} s: {per:.1} µs of CPU per round and pair, {lost} messages not read",
        started.elapsed().as_secs_f64()
    );
}
