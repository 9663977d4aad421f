//! Two real peers over 127.0.0.1, signaled in-process the way a Godot game does it, directly or
//! with a userspace impairment relay (`udp-impair`) as their only path.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use udp_impair::{Impairment, Relay};
use webrtc_godot_core::{
    Channel, ChannelOptions, ChannelState, Peer, PeerConfig, PeerEvent, Value,
};

pub const DEADLINE: Duration = Duration::from_secs(10);

/// How much slower than this machine's native build the tests run: `CORE_TEST_TIME_FACTOR`,
/// 1 when unset. tests/platforms/run.sh sets it where the binaries run emulated (qemu), so
/// that a limit on a wait that includes the peers' own work (encrypting, copying) still tells
/// a protocol stall from a slow CPU.
pub fn time_factor() -> u32 {
    std::env::var("CORE_TEST_TIME_FACTOR")
        .ok()
        .and_then(|factor| factor.parse().ok())
        .filter(|factor| *factor >= 1)
        .unwrap_or(1)
}

/// A config that keeps every packet on loopback and sends no multicast.
pub fn loopback_config() -> PeerConfig {
    loopback_config_with(&[])
}

/// [`loopback_config`] plus `extra` keys.
pub fn loopback_config_with(extra: &[(&str, Value)]) -> PeerConfig {
    let mut entries = dict(&[
        (
            "bindAddresses",
            Value::Array(vec![Value::Str("127.0.0.1".into())]),
        ),
        ("mdns", Value::Bool(false)),
    ]);
    entries.extend(dict(extra));
    PeerConfig::parse(&entries).expect("loopback config is valid")
}

pub fn dict(entries: &[(&str, Value)]) -> Vec<(Value, Value)> {
    entries
        .iter()
        .map(|(key, value)| (Value::Str((*key).into()), value.clone()))
        .collect()
}

/// Options for a channel both sides create with the same stream `id`.
pub fn negotiated(id: i64) -> ChannelOptions {
    ChannelOptions::parse(&dict(&[
        ("negotiated", Value::Bool(true)),
        ("id", Value::Int(id)),
    ]))
    .expect("valid options")
}

/// A negotiated channel `label`/`id` on both sides, opened by A's offer: (A's, B's).
pub fn open_negotiated(a: &mut Side, b: &mut Side, label: &str, id: i64) -> (Channel, Channel) {
    let ca = a
        .peer
        .create_data_channel(label, &negotiated(id))
        .expect("channel a");
    let cb = b
        .peer
        .create_data_channel(label, &negotiated(id))
        .expect("channel b");
    a.peer.create_offer().expect("offer");
    run_until(a, b, "both channels open", |_, _| {
        ca.get_ready_state() == ChannelState::Open && cb.get_ready_state() == ChannelState::Open
    });
    (ca, cb)
}

/// One side: its peer and the channels the remote opened towards it.
pub struct Side {
    pub peer: Peer,
    pub received: Vec<Channel>,
}

impl Default for Side {
    fn default() -> Self {
        Self::with_config(loopback_config())
    }
}

impl Side {
    pub fn with_config(config: PeerConfig) -> Self {
        Self {
            peer: Peer::new(config),
            received: Vec::new(),
        }
    }
}

/// Moves one side's pending events to the other, exactly as `poll()` + signal handlers would.
pub fn relay(from: &mut Side, to: &mut Side) {
    relay_via(from, to, None);
}

/// Like [`relay`], but tells `to` that `from` lives at `via` (a middlebox that forwards to it):
/// every candidate's address and port are replaced, so the only path between them is `via`.
pub fn relay_via(from: &mut Side, to: &mut Side, via: Option<std::net::SocketAddr>) {
    from.peer.release_packets();
    for _ in 0..from.peer.pending_events() {
        let Some(event) = from.peer.next_event() else {
            break;
        };
        match event {
            PeerEvent::SessionDescription { kind, sdp } => {
                from.peer
                    .set_local_description(kind, &sdp)
                    .expect("local description");
                to.peer
                    .set_remote_description(kind, &sdp)
                    .expect("remote description");
            }
            PeerEvent::IceCandidate { media, index, name } => {
                let name = match via {
                    Some(addr) => rewrite_candidate(&name, addr),
                    None => name,
                };
                to.peer
                    .add_ice_candidate(&media, index, &name)
                    .expect("candidate");
            }
            PeerEvent::DataChannel(channel) => from.received.push(channel),
        }
    }
}

/// Relays both ways until `done` holds; panics with `what` at the deadline.
pub fn run_until(
    a: &mut Side,
    b: &mut Side,
    what: &str,
    done: impl FnMut(&mut Side, &mut Side) -> bool,
) {
    run_until_within(a, b, what, DEADLINE, done);
}

/// [`run_until`] with a deadline of its own, for work whose length grows with its amount.
pub fn run_until_within(
    a: &mut Side,
    b: &mut Side,
    what: &str,
    limit: Duration,
    mut done: impl FnMut(&mut Side, &mut Side) -> bool,
) {
    let start = Instant::now();
    while !done(a, b) {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        relay(a, b);
        relay(b, a);
        std::thread::yield_now();
    }
}

/// Replaces the connection address and port of a candidate line (fields 5 and 6 of RFC 8839's
/// `candidate-attribute`).
pub fn rewrite_candidate(name: &str, addr: std::net::SocketAddr) -> String {
    let mut fields: Vec<String> = name.split_whitespace().map(str::to_owned).collect();
    assert!(fields.len() >= 8, "unexpected candidate '{name}'");
    fields[4] = addr.ip().to_string();
    fields[5] = addr.port().to_string();
    fields.join(" ")
}

/// CPU time of every thread of the process, in nanoseconds (schedstat is exact, unlike
/// ticks): what the examples report their CPU with.
pub fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Reads every packet `channel` holds; how many there were.
pub fn drain(channel: &mut Channel) -> usize {
    let mut read = 0;
    while channel.get_available_packet_count() > 0 {
        channel.get_packet().expect("a counted packet");
        read += 1;
    }
    read
}

/// Message `seq` of `size` bytes (at least 4): its number first, big-endian, then filler that
/// differs from one message to the next.
pub fn numbered(seq: u32, size: usize) -> Vec<u8> {
    let mut data = vec![(seq % 251) as u8; size];
    data[..4].copy_from_slice(&seq.to_be_bytes());
    data
}

/// The number [`numbered`] put at the start of `data`.
pub fn number_of(data: &[u8]) -> u32 {
    u32::from_be_bytes([data[0], data[1], data[2], data[3]])
}

/// Two sides and the relay between them.
pub struct Path {
    pub a: Side,
    pub b: Side,
    pub relay: Relay,
}

impl Path {
    pub fn new(impairment: Impairment, seed: u64) -> Self {
        let relay =
            Relay::start(IpAddr::V4(Ipv4Addr::LOCALHOST), impairment, seed).expect("relay binds");
        Self {
            a: Side::default(),
            b: Side::default(),
            relay,
        }
    }

    /// One round of signaling: A's candidates reach B rewritten to the relay, and back.
    pub fn signal(&mut self) {
        let for_b = self.relay.endpoint_for_b().expect("relay address");
        let for_a = self.relay.endpoint_for_a().expect("relay address");
        relay_via(&mut self.a, &mut self.b, Some(for_b));
        relay_via(&mut self.b, &mut self.a, Some(for_a));
    }

    /// Signals until `done` holds; panics naming `what` after `limit`.
    pub fn run_until(
        &mut self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&mut Self) -> bool,
    ) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}"
            );
            self.signal();
            std::thread::yield_now();
        }
    }

    /// A negotiated channel with `options` on both sides, open.
    pub fn open(&mut self, options: &[(&str, Value)]) -> (Channel, Channel) {
        let (tx, rx) = self.start_opening(options);
        let started = Instant::now();
        self.run_until(
            "channel open through the relay",
            Duration::from_secs(30),
            |_| is_open(&tx, &rx),
        );
        eprintln!("open through the relay after {:?}", started.elapsed());
        (tx, rx)
    }

    /// Creates a negotiated channel with `options` on both sides and A's offer.
    pub fn start_opening(&mut self, options: &[(&str, Value)]) -> (Channel, Channel) {
        let options = ChannelOptions::parse(&dict(options)).expect("valid options");
        let tx = self
            .a
            .peer
            .create_data_channel("impaired", &options)
            .expect("channel a");
        let rx = self
            .b
            .peer
            .create_data_channel("impaired", &options)
            .expect("channel b");
        self.a.peer.create_offer().expect("offer");
        (tx, rx)
    }
}

pub fn is_open(tx: &Channel, rx: &Channel) -> bool {
    tx.get_ready_state() == ChannelState::Open && rx.get_ready_state() == ChannelState::Open
}
