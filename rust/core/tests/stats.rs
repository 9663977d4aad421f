//! `get_stats()` with two real peers on 127.0.0.1: the figures are there, plausible, and grow
//! with the traffic.

mod common;

use std::time::{Duration, Instant};

use common::{
    dict, drain, negotiated, open_negotiated, relay, run_until, run_until_within, time_factor,
    Side, DEADLINE,
};
use webrtc_godot_core::{ChannelOptions, ChannelState, ConnectionStats, Peer, PeerEvent, Value};

const MESSAGES: usize = 50;
const SIZE: usize = 1000;

#[test]
fn a_connection_that_was_never_built_reports_zeros() {
    let peer = Peer::default();
    assert_eq!(peer.get_stats(), ConnectionStats::default());
}

#[test]
fn stats_show_the_pair_the_traffic_and_each_channel() {
    let mut a = Side::default();
    let mut b = Side::default();
    let (mut ca, mut cb) = open_negotiated(&mut a, &mut b, "game", 3);
    let before = a.peer.get_stats();

    for i in 0..MESSAGES {
        ca.put_packet(&[i as u8; SIZE]).expect("send");
    }
    let mut received = 0;
    run_until(
        &mut a,
        &mut b,
        "every message and its acknowledgement",
        |_, _| {
            received += drain(&mut cb);
            received == MESSAGES && ca.get_buffered_amount() == 0
        },
    );
    // A round trip is measured by ICE's consent checks; the first comes with the pair.
    run_until(&mut a, &mut b, "a measured round trip", |a, _| {
        a.peer.get_stats().round_trip_time > 0.0
    });
    let after = a.peer.get_stats();
    let theirs = b.peer.get_stats();
    eprintln!("before {before:?}\nafter {after:?}\ntheirs {theirs:?}");

    assert!(
        after.round_trip_time > 0.0 && after.round_trip_time < 0.5,
        "loopback round trip {} s",
        after.round_trip_time
    );
    let payload = (MESSAGES * SIZE) as u64;
    let sent = after.bytes_sent - before.bytes_sent;
    // Each 1000-byte message is one DTLS record of one SCTP packet: ~60 bytes of headers,
    // plus the SACKs and ICE checks of the same time.
    assert!(
        sent >= payload && sent < payload * 3 / 2,
        "{sent} bytes on the wire for {payload} bytes of messages"
    );
    assert!(after.packets_sent >= before.packets_sent + MESSAGES as u64);
    assert!(theirs.bytes_received >= payload && theirs.packets_received >= MESSAGES as u64);

    for stats in [&after, &theirs] {
        let local = stats.local_candidate.as_ref().expect("a selected pair");
        let remote = stats.remote_candidate.as_ref().expect("a selected pair");
        assert_eq!(local.kind, "host");
        // The remote end is the signaled host candidate, or the same address learned first
        // from the peer's checks (peer-reflexive), whichever came first.
        assert!(["host", "prflx"].contains(&remote.kind), "{remote:?}");
        for end in [local, remote] {
            assert_eq!(end.address, "127.0.0.1");
            assert_eq!(end.protocol, "udp");
            assert_ne!(end.port, 0);
        }
    }
    assert_eq!(
        after.local_candidate.as_ref().map(|c| c.port),
        theirs.remote_candidate.as_ref().map(|c| c.port),
        "each side's selected pair names the other's port"
    );

    let [channel] = after.data_channels.as_slice() else {
        panic!("one channel: {:?}", after.data_channels);
    };
    assert_eq!((channel.label.as_str(), channel.id), ("game", 3));
    assert_eq!(channel.state, ChannelState::Open);
    assert_eq!(
        (channel.messages_sent, channel.bytes_sent),
        (MESSAGES as u64, payload)
    );
    assert_eq!(channel.buffered_amount, 0);
    let [their_channel] = theirs.data_channels.as_slice() else {
        panic!("one channel: {:?}", theirs.data_channels);
    };
    assert_eq!(
        (
            their_channel.messages_received,
            their_channel.bytes_received
        ),
        (MESSAGES as u64, payload)
    );

    drop(ca);
    assert!(
        a.peer.get_stats().data_channels.is_empty(),
        "a channel the game let go of is not reported"
    );
}

/// With trickle ICE the peer's checks often arrive before its candidates: the selected pair's
/// remote end is then a peer-reflexive candidate, known only from those checks. It is reported
/// as such (webrtc-rs patch R5), with the address and port the checks came from.
#[test]
fn a_remote_known_only_from_its_checks_is_reported_as_peer_reflexive() {
    let mut a = Side::default();
    let mut b = Side::default();
    let ca = a
        .peer
        .create_data_channel("game", &negotiated(1))
        .expect("a");
    let cb = b
        .peer
        .create_data_channel("game", &negotiated(1))
        .expect("b");
    a.peer.create_offer().expect("offer");
    let started = Instant::now();
    while ca.get_ready_state() != ChannelState::Open || cb.get_ready_state() != ChannelState::Open {
        assert!(
            started.elapsed() < DEADLINE,
            "timed out waiting for the channels"
        );
        relay(&mut a, &mut b);
        // B's answer reaches A, its candidates never do.
        for _ in 0..b.peer.pending_events() {
            if let Some(PeerEvent::SessionDescription { kind, sdp }) = b.peer.next_event() {
                b.peer.set_local_description(kind, &sdp).expect("local");
                a.peer.set_remote_description(kind, &sdp).expect("remote");
            }
        }
        std::thread::yield_now();
    }
    let remote = a
        .peer
        .get_stats()
        .remote_candidate
        .expect("the selected pair's remote end is reported");
    assert_eq!(remote.kind, "prflx");
    assert_eq!(remote.address, "127.0.0.1");
    let b_port = b.peer.get_stats().local_candidate.map(|local| local.port);
    assert_eq!(Some(remote.port), b_port, "the port B's checks came from");
}

/// A game's inputs and states: unreliable messages both ways at 25 Hz, B's each 30 ms after A's.
/// Each message owes the other side a SACK; it waits for that side's next message and rides in
/// its packet (webrtc-rs patch S16 and the plugin's 50 ms SACK delay), so each side sends about
/// one datagram per message. With libdatachannel's 20 ms delay B's SACKs went alone: two
/// datagrams per message.
#[test]
fn acknowledgements_ride_in_the_replies_of_a_two_way_stream() {
    const MESSAGES: u32 = 25;
    const PERIOD: Duration = Duration::from_millis(40);
    const REPLY_AFTER: Duration = Duration::from_millis(30);
    let options = ChannelOptions::parse(&dict(&[
        ("negotiated", Value::Bool(true)),
        ("id", Value::Int(2)),
        ("ordered", Value::Bool(false)),
        ("maxRetransmits", Value::Int(0)),
    ]))
    .expect("valid options");
    let mut a = Side::default();
    let mut b = Side::default();
    let mut ca = a.peer.create_data_channel("inputs", &options).expect("a");
    let mut cb = b.peer.create_data_channel("inputs", &options).expect("b");
    a.peer.create_offer().expect("offer");
    run_until(&mut a, &mut b, "both channels open", |_, _| {
        ca.get_ready_state() == ChannelState::Open && cb.get_ready_state() == ChannelState::Open
    });
    let before = [a.peer.get_stats(), b.peer.get_stats()];

    let started = Instant::now();
    let (mut sent_a, mut sent_b, mut received_a, mut received_b) = (0, 0, 0, 0);
    let limit = (PERIOD * MESSAGES + DEADLINE) * time_factor();
    run_until_within(&mut a, &mut b, "the exchange", limit, |_, _| {
        let elapsed = started.elapsed();
        if sent_a < MESSAGES && elapsed >= PERIOD * sent_a {
            ca.put_packet(&[1; 64]).expect("A sends");
            sent_a += 1;
        }
        if sent_b < MESSAGES && elapsed >= PERIOD * sent_b + REPLY_AFTER {
            cb.put_packet(&[2; 100]).expect("B sends");
            sent_b += 1;
        }
        while ca.get_packet().is_ok() {
            received_a += 1;
        }
        while cb.get_packet().is_ok() {
            received_b += 1;
        }
        received_a == MESSAGES && received_b == MESSAGES
    });
    let after = [a.peer.get_stats(), b.peer.get_stats()];

    for (side, (before, after)) in ["A", "B"].iter().zip(before.iter().zip(&after)) {
        let datagrams = after.packets_sent - before.packets_sent;
        eprintln!("{side} sent {datagrams} datagrams for {MESSAGES} messages");
        // A few go alone: ICE's consent checks and answers, and a SACK whose reply came late.
        assert!(
            datagrams >= u64::from(MESSAGES) && datagrams <= u64::from(MESSAGES * 3 / 2),
            "{side} sent {datagrams} datagrams for {MESSAGES} messages"
        );
    }
}
