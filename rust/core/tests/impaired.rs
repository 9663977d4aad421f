//! Two real peers whose only path is a userspace impairment relay (`udp-impair`): loss, jitter
//! and reordering for the reliable channel, loss for the unreliable one, and a path that goes
//! silent. Each test prints the figures it measured.

mod common;

use std::hash::{DefaultHasher, Hasher};
use std::time::{Duration, Instant};

use common::{drain, is_open, number_of, numbered, Path};
use udp_impair::{HandshakeDrops, Impairment};
use webrtc_godot_core::{Channel, ChannelState, ConnectionState, Error, Value};

/// About a minute (figures in tests/bench/results/PROFILES.md): at 10 % loss each way nearly
/// every window has a loss, so the rate is set by how the window answers one. tests/run.sh runs
/// it in the background while the Godot suites run.
#[test]
#[ignore = "minutes long; run by tests/run.sh in the background"]
fn reliable_ordered_data_arrives_complete_through_loss_jitter_and_reordering() {
    const SIZE: usize = 16 * 1024;
    const TOTAL: usize = 8 << 20;
    const COUNT: u32 = (TOTAL / SIZE) as u32;
    let mut path = Path::new(
        Impairment {
            loss: 0.10,
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(10),
            reorder: 0.01,
            ..Impairment::default()
        },
        0x5eed,
    );
    let (mut tx, mut rx) = path.open(&[("negotiated", Value::Bool(true)), ("id", Value::Int(1))]);

    let started = Instant::now();
    let (mut sent, mut received) = (0u32, 0u32);
    let (mut sent_hash, mut received_hash) = (DefaultHasher::new(), DefaultHasher::new());
    path.run_until(
        "8 MiB through a lossy path",
        Duration::from_secs(1500),
        |_| {
            while sent < COUNT && tx.get_buffered_amount() < 1 << 20 {
                let data = numbered(sent, SIZE);
                match tx.put_packet(&data) {
                    Ok(()) => {
                        sent_hash.write(&data);
                        sent += 1;
                    }
                    Err(Error::Busy(_)) => break,
                    Err(err) => panic!("send failed: {err}"),
                }
            }
            while rx.get_available_packet_count() > 0 {
                let data = rx.get_packet().expect("packet");
                assert_eq!(data.len(), SIZE, "message {received} kept its size");
                let seq = number_of(data);
                assert_eq!(seq, received, "messages arrive in order");
                received_hash.write(data);
                received += 1;
            }
            received == COUNT
        },
    );
    let elapsed = started.elapsed();
    assert_eq!(received_hash.finish(), sent_hash.finish(), "content hash");
    let stats = path.relay.stats();
    assert!(
        stats.lost > 0 && stats.reordered > 0,
        "the path was impaired: {stats}"
    );
    println!(
        "FIGURE reliable through 10% loss, 20±10 ms, 1% reorder: 8 MiB complete and in order in {:.1} s ({:.2} MB/s); relay {stats} ({:.1}% lost)",
        elapsed.as_secs_f64(),
        TOTAL as f64 / elapsed.as_secs_f64() / 1e6,
        100.0 * stats.lost as f64 / stats.received as f64
    );
}

/// The handshake's most fragile datagrams, lost on purpose. B answers, so it is the DTLS client:
/// its final flight and resends carry B's ChangeCipherSpec, the server's main flight A's
/// ServerHello and its final flight A's ChangeCipherSpec. However many of the first ones are
/// lost on either side, flights are sent again and the channel opens.
#[test]
fn lost_handshake_flights_are_sent_again_and_the_channel_opens() {
    let drops = |change_cipher_spec, server_hello| HandshakeDrops {
        change_cipher_spec,
        server_hello,
    };
    for (from_a, from_b) in [
        (drops(0, 0), drops(1, 0)),
        (drops(0, 0), drops(3, 0)),
        (drops(1, 0), drops(0, 0)),
        (drops(1, 0), drops(1, 0)),
        (drops(2, 0), drops(2, 0)),
        // The server's main flight is lost, the client repeats its hello, and then the server's
        // final flight is lost too.
        (drops(1, 1), drops(0, 0)),
    ] {
        let mut path = Path::new(
            Impairment {
                delay: Duration::from_millis(5),
                handshake_drops_from_a: from_a,
                handshake_drops_from_b: from_b,
                ..Impairment::default()
            },
            1,
        );
        let started = Instant::now();
        let (tx, rx) =
            path.start_opening(&[("negotiated", Value::Bool(true)), ("id", Value::Int(5))]);
        path.run_until(
            "channel open after the lost flights",
            Duration::from_secs(15),
            |_| is_open(&tx, &rx),
        );
        let stats = path.relay.stats();
        println!(
            "FIGURE handshake datagrams lost from the server {from_a:?}, from the client {from_b:?}: open after {:.2?}; relay {stats}",
            started.elapsed()
        );
        let dropped = from_a.change_cipher_spec
            + from_a.server_hello
            + from_b.change_cipher_spec
            + from_b.server_hello;
        assert_eq!(stats.lost, u64::from(dropped), "the flights were dropped");
    }
}

/// One connection of [`every_connection_opens_through_heavy_loss`] and when it got where.
struct Attempt {
    path: Path,
    channels: (Channel, Channel),
    /// Both sides CONNECTED: ICE and the DTLS handshake are through.
    connected: Option<Duration>,
    opened: Option<Duration>,
}

/// Many connections, each through its own 10 % lossy path, all set up at once: every handshake
/// completes and every channel opens. The deadline leaves room for set-up's backed-off
/// retransmissions (DTLS flights, SCTP's INIT every 3 s once backed off to RTO.max), which
/// are slow but no stall.
#[test]
fn every_connection_opens_through_heavy_loss() {
    const PATHS: u64 = 24;
    let mut attempts: Vec<Attempt> = (0..PATHS)
        .map(|seed| {
            let mut path = Path::new(
                Impairment {
                    loss: 0.10,
                    delay: Duration::from_millis(20),
                    jitter: Duration::from_millis(5),
                    ..Impairment::default()
                },
                0x0bad + seed,
            );
            let channels =
                path.start_opening(&[("negotiated", Value::Bool(true)), ("id", Value::Int(6))]);
            Attempt {
                path,
                channels,
                connected: None,
                opened: None,
            }
        })
        .collect();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(70) {
        let mut waiting = 0;
        for attempt in attempts
            .iter_mut()
            .filter(|attempt| attempt.opened.is_none())
        {
            attempt.path.signal();
            let both_connected = [&attempt.path.a, &attempt.path.b]
                .iter()
                .all(|side| side.peer.get_connection_state() == ConnectionState::Connected);
            if both_connected && attempt.connected.is_none() {
                attempt.connected = Some(started.elapsed());
            }
            if is_open(&attempt.channels.0, &attempt.channels.1) {
                attempt.opened = Some(started.elapsed());
            } else {
                waiting += 1;
            }
        }
        if waiting == 0 {
            break;
        }
        std::thread::yield_now();
    }
    let sorted = |mut times: Vec<Duration>| {
        times.sort_unstable();
        times
    };
    let connected = sorted(attempts.iter().filter_map(|a| a.connected).collect());
    let opened = sorted(attempts.iter().filter_map(|a| a.opened).collect());
    let median = |times: &[Duration]| times.get(times.len() / 2).copied().unwrap_or_default();
    let slowest = |times: &[Duration]| times.last().copied().unwrap_or_default();
    let lost: u64 = attempts.iter().map(|a| a.path.relay.stats().lost).sum();
    println!(
        "FIGURE {PATHS} connections through 10% loss, 20±5 ms: {} connected (median {:.2?}, slowest {:.2?}), {} channels open (median {:.2?}, slowest {:.2?}), {lost} datagrams lost",
        connected.len(),
        median(&connected),
        slowest(&connected),
        opened.len(),
        median(&opened),
        slowest(&opened),
    );
    assert_eq!(
        connected.len() as u64,
        PATHS,
        "handshakes that never completed"
    );
    assert_eq!(opened.len() as u64, PATHS, "channels that never opened");
}

#[test]
fn unreliable_channel_never_stalls_and_shows_its_loss() {
    // A game's state stream: 200-byte updates, 200 per second, for 3 s.
    const COUNT: u32 = 600;
    const SIZE: usize = 200;
    const INTERVAL: Duration = Duration::from_millis(5);
    let mut path = Path::new(
        Impairment {
            loss: 0.10,
            delay: Duration::from_millis(20),
            ..Impairment::default()
        },
        0xfeed,
    );
    let (mut tx, mut rx) = path.open(&[
        ("negotiated", Value::Bool(true)),
        ("id", Value::Int(2)),
        ("ordered", Value::Bool(false)),
        ("maxRetransmits", Value::Int(0)),
    ]);

    let mut received = std::collections::HashSet::new();
    let mut read = |rx: &mut Channel| {
        while rx.get_available_packet_count() > 0 {
            let data = rx.get_packet().expect("packet");
            received.insert(number_of(data));
        }
    };
    let started = Instant::now();
    let (mut sent, mut slowest, mut most_buffered) = (0u32, Duration::ZERO, 0usize);
    path.run_until("the paced sends", Duration::from_secs(30), |_| {
        if sent < COUNT && started.elapsed() >= INTERVAL * sent {
            let call = Instant::now();
            tx.put_packet(&numbered(sent, SIZE))
                .expect("an unreliable send is never refused");
            slowest = slowest.max(call.elapsed());
            sent += 1;
        }
        most_buffered = most_buffered.max(tx.get_buffered_amount());
        read(&mut rx);
        sent == COUNT
    });
    let send_time = started.elapsed();
    // Everything sent is delivered or abandoned. A lost message stops counting as buffered
    // when it is abandoned, not when the peer confirms the FORWARD-TSN that skips it.
    path.run_until(
        "the unreliable send queue to drain",
        Duration::from_secs(90),
        |_| {
            read(&mut rx);
            tx.get_buffered_amount() == 0
        },
    );
    let drained = started.elapsed() - send_time;
    read(&mut rx);
    let fraction = received.len() as f64 / f64::from(COUNT);
    let stats = path.relay.stats();
    println!(
        "FIGURE unreliable through 10% loss, 20 ms: {COUNT} x {SIZE} B at 200/s sent in {:.2} s, slowest put_packet {slowest:?}, most buffered {most_buffered} B, drained {:.0} ms after the last send, delivered {:.1}%; relay {stats}",
        send_time.as_secs_f64(),
        drained.as_secs_f64() * 1e3,
        fraction * 100.0
    );
    // put_packet never waits for the network (that would take at least the 200 ms RTO floor);
    // it only shares the connection's lock with its driver, which a loaded machine (Wine, the
    // parallel test run) can hold for tens of milliseconds.
    assert!(
        slowest < Duration::from_millis(150),
        "put_packet blocked for {slowest:?}"
    );
    assert!(
        send_time < Duration::from_secs(4),
        "the sender fell behind its 3 s schedule: {send_time:?}"
    );
    // The last lost message is abandoned by a fast retransmission or at the latest when the
    // retransmission timer fires: one RTO (200 ms at least, more when the timer has backed off
    // after an earlier timeout) plus the round trip. 1 s leaves room for a timer backed off
    // twice, not for the RTO.max of 3 s nor for waiting on a FORWARD-TSN exchange (figures in
    // PROFILES.md).
    assert!(
        drained < Duration::from_secs(1),
        "abandoned messages occupied the sender {drained:?} after the last send"
    );
    // webrtc-rs abandons a lost unreliable chunk when its retransmission timer fires (200 ms
    // at least with the plugin's settings); the sends behind it count as buffered until then,
    // and congestion control's slow start then works the backlog off. With a 1 s minimum the
    // peak over 170 runs was 1.8 s of sends; 2.5 s (of the 3 s stream) stays the bound.
    let bound = SIZE * (Duration::from_millis(2500).as_nanos() / INTERVAL.as_nanos()) as usize;
    assert!(
        most_buffered < bound,
        "unreliable data piled up behind lost packets: {most_buffered} B"
    );
    // Each packet is sent once, so about a tenth is lost; a retransmission timeout abandons
    // the whole window in flight, which costs a few percent more.
    assert!(
        (0.75..0.97).contains(&fraction),
        "about 10% of unreliable messages should be lost, delivered {:.1}%",
        fraction * 100.0
    );
}

#[test]
fn a_path_that_goes_silent_is_reported_disconnected_then_failed() {
    let mut path = Path::new(Impairment::default(), 1);
    let (mut tx, mut rx) = path.open(&[("negotiated", Value::Bool(true)), ("id", Value::Int(4))]);
    tx.put_packet(b"before").expect("send");
    path.run_until("a message before the cut", Duration::from_secs(10), |_| {
        rx.get_available_packet_count() > 0
    });
    assert_eq!(rx.get_packet().expect("packet"), b"before");

    path.relay.set_silent(true);
    let cut = Instant::now();
    let mut disconnected = [None, None];
    let mut failed = [None, None];
    path.run_until("both sides to fail", Duration::from_secs(15), |path| {
        for (i, side) in [&path.a, &path.b].into_iter().enumerate() {
            match side.peer.get_connection_state() {
                ConnectionState::Disconnected => {
                    disconnected[i].get_or_insert(cut.elapsed());
                }
                ConnectionState::Failed | ConnectionState::Closed => {
                    failed[i].get_or_insert(cut.elapsed());
                }
                _ => {}
            }
        }
        failed.iter().all(Option::is_some)
    });
    for i in 0..2 {
        let side = ["A", "B"][i];
        let seen = disconnected[i].expect("DISCONNECTED is reported before FAILED");
        let gone = failed[i].expect("FAILED");
        println!("FIGURE silent path, side {side}: DISCONNECTED after {seen:.2?}, FAILED after {gone:.2?}");
        assert!(seen < gone);
        assert!(gone <= Duration::from_secs(10), "documented limit is 10 s");
    }
    // A failed connection's channels refuse to send instead of queueing into the void.
    path.run_until("channels to close", Duration::from_secs(5), |_| {
        tx.get_ready_state() == ChannelState::Closed
    });
    assert!(tx.put_packet(b"after").is_err());
}

/// Once a connection is up, ICE keeps checking its path (consent, RFC 7675): a STUN request
/// each way and the answers. While a game's traffic arrives, which already shows the path
/// alive, the plugin has the checks go out every 2.5 s (webrtc-rs patch I2); on a quiet
/// connection every second, so that a path that falls silent is noticed within 3 s. Counted at
/// the relay: 30 Hz both ways for 8 s, then nothing for 5 s.
#[test]
fn consent_checks_slow_down_while_traffic_arrives_and_not_on_a_quiet_connection() {
    const INTERVAL: Duration = Duration::from_millis(33);
    const BUSY: Duration = Duration::from_secs(8);
    const QUIET: Duration = Duration::from_secs(4);
    let mut path = Path::new(Impairment::default(), 3);
    let (mut a, mut b) = path.open(&[
        ("negotiated", Value::Bool(true)),
        ("id", Value::Int(5)),
        ("ordered", Value::Bool(false)),
        ("maxRetransmits", Value::Int(0)),
    ]);
    let stun_at_open = path.relay.stats().stun;
    let started = Instant::now();
    let mut next_send = started;
    let mut delivered = 0;
    path.run_until("8 s of traffic both ways", BUSY * 2, |path| {
        if Instant::now() >= next_send {
            a.put_packet(&[1; 64]).expect("input");
            b.put_packet(&[2; 100]).expect("state");
            next_send += INTERVAL;
        }
        delivered += drain(&mut a) + drain(&mut b);
        assert_eq!(
            path.a.peer.get_connection_state(),
            ConnectionState::Connected
        );
        started.elapsed() >= BUSY
    });
    let stun_busy = path.relay.stats().stun - stun_at_open;

    // Nothing is due for the first second of quiet: each side then checks as soon as nothing
    // has arrived for a keepalive interval.
    let quiet_from = Instant::now() + Duration::from_secs(1);
    path.run_until("the first second of quiet", Duration::from_secs(5), |_| {
        Instant::now() >= quiet_from
    });
    let stun_before_quiet = path.relay.stats().stun;
    path.run_until("4 s of quiet", QUIET * 2, |path| {
        assert_eq!(
            path.b.peer.get_connection_state(),
            ConnectionState::Connected
        );
        quiet_from.elapsed() >= QUIET
    });
    let stun_quiet = path.relay.stats().stun - stun_before_quiet;

    let busy_rate = stun_busy as f64 / BUSY.as_secs_f64();
    let quiet_rate = stun_quiet as f64 / QUIET.as_secs_f64();
    println!(
        "FIGURE consent checks: {stun_busy} STUN messages in {BUSY:?} of traffic ({busy_rate:.1}/s, {delivered} messages delivered), {stun_quiet} in {QUIET:?} of quiet ({quiet_rate:.1}/s)"
    );
    assert!(delivered > 400, "the traffic got through: {delivered}");
    // A check every 2.5 s each way with its answer: about 1.6 a second (2.4 with the triggered
    // check webrtc-rs's controlled side answered each of the other side's with before patch
    // I3). Each second, as on a quiet connection, would be about 4 (6 before I3).
    assert!(
        busy_rate <= 3.5,
        "checks while traffic arrives: {busy_rate:.1} STUN messages a second"
    );
    assert!(
        quiet_rate >= 1.5,
        "a quiet connection is checked each second: {quiet_rate:.1} STUN messages a second"
    );
}

/// A game's reliable stream through a 2.5 s outage, shorter than the time ICE takes to call
/// the path disconnected: every message sent before, during and after it arrives, in order,
/// soon after the path comes back. With linear timeouts for thin streams (webrtc-rs patch S13)
/// a first version counted each 200 ms expiry towards SCTP's five retransmissions, gave up
/// after 1.2 s and never retransmitted again: the connection stayed CONNECTED and the channel
/// OPEN, but nothing more arrived.
#[test]
fn a_reliable_stream_resumes_after_a_short_outage() {
    const INTERVAL: Duration = Duration::from_millis(50);
    const OUTAGE: Duration = Duration::from_millis(2500);
    let mut path = Path::new(
        Impairment {
            delay: Duration::from_millis(10),
            ..Impairment::default()
        },
        1,
    );
    let (mut tx, mut rx) = path.open(&[("negotiated", Value::Bool(true)), ("id", Value::Int(6))]);
    let total = 120u32;
    let start = Instant::now();
    let (mut sent, mut received) = (0u32, 0u32);
    let (mut restored, mut resumed) = (None::<Instant>, None);
    path.run_until(
        "every message of the stream after the outage",
        Duration::from_secs(30),
        |path| {
            let elapsed = start.elapsed();
            if restored.is_none() && elapsed >= Duration::from_secs(1) + OUTAGE {
                path.relay.set_silent(false);
                restored = Some(Instant::now());
            } else if restored.is_none() && elapsed >= Duration::from_secs(1) {
                path.relay.set_silent(true);
            }
            if sent < total && elapsed >= INTERVAL * sent {
                tx.put_packet(&numbered(sent, 200)).expect("send");
                sent += 1;
            }
            while rx.get_available_packet_count() > 0 {
                let data = rx.get_packet().expect("packet");
                let seq = number_of(data);
                assert_eq!(seq, received, "in order, none lost");
                received += 1;
                if let Some(at) = restored {
                    resumed.get_or_insert(at.elapsed());
                }
            }
            received == total
        },
    );
    let resumed = resumed.expect("messages after the outage");
    println!(
        "FIGURE a 2.5 s outage of a 20 Hz reliable stream: all {total} messages in order, the \
         first {resumed:.2?} after the path came back"
    );
    assert_eq!(
        path.a.peer.get_connection_state(),
        ConnectionState::Connected
    );
}

/// A game that stops reading fills the receive window; the sender then only probes it on its
/// retransmission timer, backed off up to 3 s. When the game reads again the sender must hear
/// of the open window at once (webrtc-rs patch S5), not at its next probe: the resume is timed
/// right after a probe, so without the window update data would wait a whole backed-off RTO.
#[test]
fn a_reader_that_resumes_gets_data_flowing_again_within_a_round_trip() {
    const SIZE: usize = 16 * 1024;
    const ONE_WAY: Duration = Duration::from_millis(50);
    let mut path = Path::new(
        Impairment {
            delay: ONE_WAY,
            ..Impairment::default()
        },
        1,
    );
    let (mut tx, mut rx) = path.open(&[("negotiated", Value::Bool(true)), ("id", Value::Int(3))]);

    // The game stops reading; the sender fills everything until it is refused.
    let mut sent = 0u32;
    path.run_until(
        "the sender to be refused",
        Duration::from_secs(60),
        |_| match tx.put_packet(&numbered(sent, SIZE)) {
            Ok(()) => {
                sent += 1;
                false
            }
            Err(Error::Busy(_)) => true,
            Err(err) => panic!("send failed: {err}"),
        },
    );

    // The window is closed once the sender's packets come only as probes: wait for a packet
    // from it after at least 500 ms of silence (five round trips: its RTO has backed off past
    // the 200 ms floor, which a sender with an open window never does), and resume just after
    // it. Here the next probe is at least twice that away. Under qemu with both cores busy the
    // sender was seen settling into probing about once a second, never quieter than ~550 ms.
    let from_a = |path: &Path| path.relay.stats().received_from_a;
    let mut last_probe = (from_a(&path), Instant::now());
    path.run_until(
        "a backed-off zero-window probe",
        Duration::from_secs(60),
        |path| {
            let count = from_a(path);
            if count == last_probe.0 {
                return false;
            }
            let (_, at) = last_probe;
            last_probe = (count, Instant::now());
            at.elapsed() >= Duration::from_millis(500)
        },
    );

    // The game reads again. What the plugin and webrtc-rs hold is read first, then data from
    // the network: the longest wait between two messages is the stall the game sees.
    let resumed = Instant::now();
    let before = from_a(&path);
    let (mut received, mut after_burst) = (0u32, None);
    let (mut last_arrival, mut longest_gap) = (resumed, Duration::ZERO);
    // Which message ended the longest wait, and when: a wait among the first ones is the
    // plugin's or webrtc-rs's own buffers, a later one the network.
    let mut longest_at = (0u32, Duration::ZERO);
    path.run_until(
        "data from the network after reading resumed",
        Duration::from_secs(10),
        |path| {
            while rx.get_available_packet_count() > 0 {
                let data = rx.get_packet().expect("packet");
                let seq = number_of(data);
                assert_eq!(seq, received, "in order, none lost");
                if last_arrival.elapsed() > longest_gap {
                    longest_gap = last_arrival.elapsed();
                    longest_at = (received, resumed.elapsed());
                }
                received += 1;
                last_arrival = Instant::now();
            }
            // Twenty messages after the sender's burst began have come from the network.
            if after_burst.is_none() && from_a(path) >= before + 10 {
                after_burst = Some(received + 20);
            }
            after_burst.is_some_and(|target| received >= target)
        },
    );
    println!(
        "FIGURE window reopened: longest wait between two messages after the game resumed \
         reading {longest_gap:?}, before message {} at {:?} (round trip {:?}; {received} \
         messages read)",
        longest_at.0,
        longest_at.1,
        ONE_WAY * 2
    );
    // Without the window update the wait is the sender's next probe, a backed-off RTO away.
    assert!(
        longest_gap < ONE_WAY * 2 * 4 * common::time_factor(),
        "the game waited {longest_gap:?} for data after reading again; a round trip is {:?}",
        ONE_WAY * 2
    );
}
