//! What a hostile or broken peer cannot do: connect with a certificate that does not match
//! the signaled fingerprint, make us buffer without bound, or find us listening where the
//! game did not ask.

mod common;

#[cfg(target_os = "linux")]
use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{
    dict, loopback_config_with, negotiated, number_of, numbered, open_negotiated, relay, run_until,
    run_until_within, Side,
};
use webrtc_godot_core::{ChannelOptions, ChannelState, ConnectionState, Error, PeerEvent, Value};

/// Changes the first byte of every `a=fingerprint` line, keeping the syntax valid.
fn tamper(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .map(|line| match line.split_once("a=fingerprint:sha-256 ") {
            Some((head, hex)) => {
                let flipped = if hex.starts_with("00") { "FF" } else { "00" };
                format!("{head}a=fingerprint:sha-256 {flipped}{}", &hex[2..])
            }
            None => line.to_owned(),
        })
        .collect()
}

/// Signals A → B with B seeing a tampered fingerprint for A; B → A is honest.
fn relay_tampering(a: &mut Side, b: &mut Side) {
    while let Some(event) = a.peer.next_event() {
        match event {
            PeerEvent::SessionDescription { kind, sdp } => {
                a.peer.set_local_description(kind, &sdp).expect("local");
                let forged = tamper(&sdp);
                assert_ne!(forged, sdp, "the offer carries a fingerprint");
                b.peer
                    .set_remote_description(kind, &forged)
                    .expect("a well-formed fingerprint is accepted at signaling time");
            }
            PeerEvent::IceCandidate { media, index, name } => {
                b.peer
                    .add_ice_candidate(&media, index, &name)
                    .expect("candidate");
            }
            PeerEvent::DataChannel(channel) => a.received.push(channel),
        }
    }
    relay(b, a);
}

#[test]
fn a_certificate_that_does_not_match_the_fingerprint_gets_no_connection_and_no_data() {
    let mut a = Side::default();
    let mut b = Side::default();
    let mut ca = a
        .peer
        .create_data_channel("x", &negotiated(1))
        .expect("channel");
    let cb = b
        .peer
        .create_data_channel("x", &negotiated(1))
        .expect("channel");
    a.peer.create_offer().expect("offer");
    let start = Instant::now();
    let mut attempts = 0;
    let mut sent = 0;
    // Both sides learn at once that the handshake cannot succeed: B checks the certificate,
    // A gets B's fatal alert. Before webrtc-rs patch R3 that took ~15 s.
    let mut a_failed = None;
    while b.peer.get_connection_state() != ConnectionState::Failed || a_failed.is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no quick refusal: B {:?}, A {:?}",
            b.peer.get_connection_state(),
            a.peer.get_connection_state()
        );
        if a_failed.is_none() && a.peer.get_connection_state() == ConnectionState::Failed {
            a_failed = Some(start.elapsed());
        }
        relay_tampering(&mut a, &mut b);
        assert_ne!(
            b.peer.get_connection_state(),
            ConnectionState::Connected,
            "B connected to a peer whose certificate does not match"
        );
        assert_ne!(cb.get_ready_state(), ChannelState::Open);
        attempts += 1;
        if ca.put_packet(b"secret").is_ok() {
            sent += 1;
        }
        std::thread::yield_now();
    }
    cb.poll();
    assert_eq!(cb.get_available_packet_count(), 0, "no data delivered");
    assert_eq!(sent, 0, "A never had an open channel to send on");
    println!(
        "FIGURE tampered fingerprint: B reported FAILED after {:?}, A after {:?} ({attempts} polls), nothing delivered",
        start.elapsed(),
        a_failed.unwrap_or_default()
    );
}

#[test]
fn a_reader_that_stops_reading_pushes_back_on_the_sender_and_loses_nothing() {
    const SIZE: usize = 16 * 1024;
    let mut a = Side::default();
    let mut b = Side::default();
    let (mut tx, mut rx) = open_negotiated(&mut a, &mut b, "flood", 2);

    // The game stops reading; the peer keeps sending until it is told to wait.
    let mut sent = 0u32;
    let mut refused = false;
    let start = Instant::now();
    let mut most_queued = 0usize;
    while !refused {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the sender was never pushed back ({sent} messages, {} B buffered, {} queued here)",
            tx.get_buffered_amount(),
            rx.get_available_packet_count()
        );
        match tx.put_packet(&numbered(sent, SIZE)) {
            Ok(()) => sent += 1,
            Err(Error::Busy(_)) => refused = true,
            Err(err) => panic!("unexpected send error: {err}"),
        }
        most_queued = most_queued.max(rx.get_available_packet_count() * SIZE);
        relay(&mut a, &mut b);
        relay(&mut b, &mut a);
    }
    // The reader still away, the transport keeps moving data until the reader's inbox is full;
    // then look at what we hold.
    // (Under Wine the 4 MiB take seconds: the deadline is the drain's, below.)
    run_until_within(
        &mut a,
        &mut b,
        "the reader's inbox to fill",
        Duration::from_secs(64),
        |_, _| {
            most_queued = most_queued.max(rx.get_available_packet_count() * SIZE);
            rx.get_available_packet_count() * SIZE + SIZE > 4 << 20
        },
    );
    let held = rx.get_available_packet_count() * SIZE;
    most_queued = most_queued.max(held);
    println!(
        "FIGURE unread channel: sender refused after {sent} x 16 KiB ({:.1} MiB), {} B still buffered at the sender, receiver holds {:.1} MiB",
        (sent as usize * SIZE) as f64 / 1048576.0,
        tx.get_buffered_amount(),
        most_queued as f64 / 1048576.0
    );
    assert!(
        most_queued <= 4 << 20,
        "the receiver queued {most_queued} B for a game that does not read"
    );

    // The game reads again: everything arrives, in order, none dropped, and without a stall.
    // How long the 16 MiB take is the platform's throughput (under Wine every datagram costs a
    // trip through its server; PROFILES.md, "Back-pressure under Wine"), so the drain gets a
    // deadline for 0.25 MB/s; a window that fails to reopen shows instead as a wait between two
    // messages of at least a retransmission timeout.
    let mut next = 0u32;
    let resumed = Instant::now();
    let mut last = resumed;
    let mut longest_wait = Duration::ZERO;
    run_until_within(
        &mut a,
        &mut b,
        "every message after reading resumes",
        Duration::from_secs(64),
        |_, _| {
            while rx.get_available_packet_count() > 0 {
                let data = rx.get_packet().expect("packet");
                assert_eq!(data.len(), SIZE);
                let seq = number_of(data);
                assert_eq!(seq, next, "in order, none lost");
                next += 1;
                longest_wait = longest_wait.max(last.elapsed());
                last = Instant::now();
            }
            next == sent
        },
    );
    println!(
        "FIGURE unread channel drained: {sent} x 16 KiB in {:.2} s once reading resumed, longest wait between two messages {:.0} ms",
        resumed.elapsed().as_secs_f64(),
        longest_wait.as_secs_f64() * 1000.0
    );
    assert!(
        longest_wait < Duration::from_secs(1),
        "delivery stalled for {longest_wait:?} after reading resumed"
    );
}

/// UDP and TCP sockets of this process as `(local address, listening)`, read from procfs.
#[cfg(target_os = "linux")]
fn own_sockets() -> Vec<(String, bool)> {
    let inodes: HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .expect("fd list")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(str::to_owned)
        })
        .collect();
    let mut found = Vec::new();
    for table in ["udp", "udp6", "tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/self/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && inodes.contains(fields[9]) {
                // TCP state 0A is LISTEN; every bound UDP socket receives.
                let listening = table.starts_with("udp") || fields[3] == "0A";
                if listening {
                    found.push((format!("{table} {}", decode(fields[1])), listening));
                }
            }
        }
    }
    found
}

/// `0100007F:1F90` → `127.0.0.1:8080`; IPv6 in the kernel's word order.
fn decode(hex: &str) -> String {
    let (addr, port) = hex.split_once(':').expect("addr:port");
    let port = u16::from_str_radix(port, 16).expect("port");
    let bytes: Vec<u8> = (0..addr.len() / 2)
        .map(|i| u8::from_str_radix(&addr[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let ip: std::net::IpAddr = if bytes.len() == 4 {
        std::net::Ipv4Addr::new(bytes[3], bytes[2], bytes[1], bytes[0]).into()
    } else {
        let mut octets = [0u8; 16];
        for word in 0..4 {
            for i in 0..4 {
                octets[word * 4 + i] = bytes[word * 4 + 3 - i];
            }
        }
        std::net::Ipv6Addr::from(octets).into()
    };
    std::net::SocketAddr::new(ip, port).to_string()
}

#[test]
#[cfg(target_os = "linux")]
fn with_loopback_binding_nothing_listens_beyond_loopback() {
    let mut a = Side::default();
    let mut b = Side::default();
    // Held open while the sockets are listed.
    let _channels = open_negotiated(&mut a, &mut b, "x", 4);
    let sockets = own_sockets();
    println!("FIGURE sockets of two connected loopback peers: {sockets:?}");
    assert!(!sockets.is_empty(), "the peers' sockets are visible");
    for (socket, _) in &sockets {
        let addr = socket.split(' ').nth(1).unwrap_or_default();
        assert!(
            addr.starts_with("127.") || addr.starts_with("[::1]"),
            "socket bound beyond loopback: {socket}"
        );
    }
    assert!(
        sockets.iter().all(|(socket, _)| socket.starts_with("udp")),
        "no TCP listener: {sockets:?}"
    );
}

#[test]
fn an_unreachable_turn_server_with_relay_only_fails_instead_of_hanging() {
    // A TURN server that never answers: a socket of the test's own, bound for the whole test and
    // never read, so its port cannot be taken by anyone else meanwhile.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("silent TURN socket");
    let port = silent.local_addr().expect("addr").port();
    let config = webrtc_godot_core::PeerConfig::parse(&dict(&[
        (
            "bindAddresses",
            Value::Array(vec![Value::Str("127.0.0.1".into())]),
        ),
        ("mdns", Value::Bool(false)),
        ("iceTransportPolicy", Value::Str("relay".into())),
        (
            "iceServers",
            Value::Array(vec![Value::Dict(dict(&[
                ("urls", Value::Str(format!("turn:127.0.0.1:{port}"))),
                ("username", Value::Str("player".into())),
                ("credential", Value::Str("secret".into())),
            ]))]),
        ),
    ]))
    .expect("valid config");
    let mut side = Side {
        peer: webrtc_godot_core::Peer::new(config),
        received: Vec::new(),
    };
    let channel = side
        .peer
        .create_data_channel("x", &ChannelOptions::default())
        .expect("channel");
    side.peer.create_offer().expect("offer");
    let start = Instant::now();
    while side.peer.get_connection_state() != ConnectionState::Failed {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "still {:?} (gathering {:?}) after 90 s with no way to gather a relay candidate",
            side.peer.get_connection_state(),
            side.peer.get_gathering_state()
        );
        while let Some(event) = side.peer.next_event() {
            if let PeerEvent::SessionDescription { kind, sdp } = event {
                side.peer.set_local_description(kind, &sdp).expect("local");
            }
        }
        std::thread::yield_now();
    }
    assert_eq!(channel.get_ready_state(), ChannelState::Closed);
    println!(
        "FIGURE unreachable TURN, relay only: FAILED after {:?}",
        start.elapsed()
    );
}

#[test]
fn empty_and_largest_packets_cross_and_an_oversized_one_is_refused_whole() {
    let raised = [("maxMessageSize", Value::Int(262_144))];
    for (extra, largest) in [(&[][..], 65_536), (&raised[..], 262_144)] {
        let mut a = Side::with_config(loopback_config_with(extra));
        let mut b = Side::with_config(loopback_config_with(extra));
        let (mut tx, mut rx) = open_negotiated(&mut a, &mut b, "sizes", 5);
        assert_eq!(tx.get_max_packet_size(), largest);
        let largest = vec![9u8; largest];
        tx.put_packet(&[]).expect("an empty binary packet is sent");
        tx.set_write_mode(webrtc_godot_core::WriteMode::Text);
        tx.put_packet(&[]).expect("an empty text packet is sent");
        tx.set_write_mode(webrtc_godot_core::WriteMode::Binary);
        tx.put_packet(&largest).expect("the largest packet is sent");
        let oversized = vec![0u8; largest.len() + 1];
        assert!(matches!(
            tx.put_packet(&oversized),
            Err(Error::InvalidParameter(_))
        ));
        tx.put_packet(b"after").expect("the channel still works");
        let mut got = Vec::new();
        run_until(&mut a, &mut b, "four packets", |_, _| {
            while rx.get_available_packet_count() > 0 {
                let data = rx.get_packet().expect("packet").to_vec();
                got.push((data, rx.was_string_packet()));
            }
            got.len() == 4
        });
        assert_eq!(got[0], (Vec::new(), false), "empty binary");
        assert_eq!(got[1], (Vec::new(), true), "empty text");
        assert_eq!(got[2].0.len(), largest.len(), "largest arrives whole");
        assert_eq!(got[3].0, b"after");
    }
}
