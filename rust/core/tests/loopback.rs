//! Core behaviour with two real peers on 127.0.0.1.

mod common;

use std::time::Instant;

use common::{dict, negotiated, open_negotiated, run_until, Side};
use webrtc_godot_core::{
    Channel, ChannelOptions, ChannelState, ConnectionState, Error, SdpKind, Value, WriteMode,
};

fn open(channel: &Channel) -> bool {
    channel.get_ready_state() == ChannelState::Open
}

fn receive_all(
    a: &mut Side,
    b: &mut Side,
    reader: impl Fn(&mut Side) -> &mut Channel,
    count: usize,
) -> Vec<(Vec<u8>, bool)> {
    let mut got = Vec::new();
    run_until(a, b, "messages", |_, b| {
        let channel = reader(b);
        while channel.get_available_packet_count() > 0 {
            let data = channel.get_packet().expect("packet").to_vec();
            got.push((data, channel.was_string_packet()));
        }
        got.len() >= count
    });
    got
}

#[test]
fn negotiated_channel_carries_text_and_binary_in_order() {
    let started = Instant::now();
    let mut a = Side::default();
    let mut b = Side::default();
    let mut ca = a
        .peer
        .create_data_channel("game", &negotiated(7))
        .expect("channel a");
    let cb = b
        .peer
        .create_data_channel("game", &negotiated(7))
        .expect("channel b");
    a.peer.create_offer().expect("offer");
    let mut channels = Some(cb);
    run_until(&mut a, &mut b, "both channels open", |_, _| {
        open(&ca) && channels.as_ref().is_some_and(open)
    });
    eprintln!("negotiated channel open after {:?}", started.elapsed());
    assert_eq!(a.peer.get_connection_state(), ConnectionState::Connected);
    assert_eq!(ca.get_id(), 7);

    // Every third message is over a kilobyte (two-byte characters in text), which travels in a
    // buffer that goes back to the sender (`send_buffers`): both kinds keep one order.
    let message = |i: usize| {
        let padding = if i.is_multiple_of(3) {
            "é".repeat(600)
        } else {
            String::new()
        };
        format!("message {i}{padding}")
    };
    for i in 0..200 {
        ca.set_write_mode(if i % 2 == 0 {
            WriteMode::Text
        } else {
            WriteMode::Binary
        });
        ca.put_packet(message(i).as_bytes()).expect("send");
    }
    b.received.push(channels.take().expect("channel b"));
    let got = receive_all(&mut a, &mut b, |side| &mut side.received[0], 200);
    for (i, (data, was_string)) in got.iter().enumerate() {
        assert_eq!(data, message(i).as_bytes(), "message {i}");
        assert_eq!(*was_string, i % 2 == 0, "text flag of message {i}");
    }
}

#[test]
fn in_band_channel_reaches_the_other_side_with_its_options() {
    let mut a = Side::default();
    let mut b = Side::default();
    let options = ChannelOptions::parse(&dict(&[
        ("ordered", Value::Bool(false)),
        ("maxRetransmits", Value::Int(0)),
        ("protocol", Value::Str("game-v1".into())),
    ]))
    .expect("options");
    let mut ca = a
        .peer
        .create_data_channel("chat", &options)
        .expect("channel");
    assert_eq!(ca.get_id(), 65535, "id is unknown before negotiation");
    a.peer.create_offer().expect("offer");
    run_until(&mut a, &mut b, "in-band channel", |_, b| {
        b.received.first().is_some_and(open)
    });
    run_until(&mut a, &mut b, "local channel open", |_, _| open(&ca));
    let remote = &b.received[0];
    assert_eq!(remote.info().label, "chat");
    assert_eq!(remote.info().protocol, "game-v1");
    assert!(!remote.info().ordered);
    assert_eq!(
        remote.info().max_retransmits,
        Some(0),
        "what the remote asked for"
    );
    assert_eq!(remote.info().max_packet_life_time, None);
    assert!(!remote.info().negotiated);
    assert_ne!(remote.get_id(), 65535, "in-band id learned on open");
    assert_eq!(
        remote.get_id(),
        ca.get_id(),
        "both sides agree on the stream id"
    );

    ca.put_packet(b"\x00\x01binary").expect("send");
    let got = receive_all(&mut a, &mut b, |side| &mut side.received[0], 1);
    assert_eq!(got, vec![(b"\x00\x01binary".to_vec(), false)]);
}

#[test]
fn early_candidates_are_queued_and_prefix_forms_accepted() {
    let mut a = Side::default();
    let mut b = Side::default();
    let ca = a
        .peer
        .create_data_channel("x", &negotiated(1))
        .expect("channel");
    let cb = b
        .peer
        .create_data_channel("x", &negotiated(1))
        .expect("channel");
    a.peer.create_offer().expect("offer");
    // Collect A's offer and candidates, deliver the candidates to B first, in mixed forms.
    let mut offer = None;
    let mut candidates = Vec::new();
    let start = Instant::now();
    let mut offered = false;
    while candidates.is_empty() {
        assert!(start.elapsed() < common::DEADLINE, "no candidates gathered");
        while let Some(event) = a.peer.next_event() {
            match event {
                webrtc_godot_core::PeerEvent::SessionDescription { kind, sdp } => {
                    a.peer.set_local_description(kind, &sdp).expect("local");
                    offered = true;
                    offer = Some(sdp);
                }
                webrtc_godot_core::PeerEvent::IceCandidate { media, index, name } => {
                    candidates.push((media, index, name));
                }
                webrtc_godot_core::PeerEvent::DataChannel(_) => {}
            }
        }
        assert!(offered || start.elapsed() < common::DEADLINE);
        std::thread::yield_now();
    }
    for (i, (media, index, name)) in candidates.iter().enumerate() {
        let form = match i % 3 {
            0 => format!("a={name}"),
            1 => name.trim_start_matches("candidate:").to_owned(),
            _ => name.clone(),
        };
        assert!(!media.is_empty(), "our candidates carry a media id");
        b.peer
            .add_ice_candidate("", *index, &form)
            .expect("early candidate queued");
    }
    b.peer
        .set_remote_description(SdpKind::Offer, &offer.expect("offer"))
        .expect("remote offer");
    let mut channels = (ca, cb);
    run_until(&mut a, &mut b, "connection", |_, _| {
        open(&channels.0) && open(&channels.1)
    });
    channels.0.put_packet(b"hi").expect("send");
    run_until(&mut a, &mut b, "message", |_, _| {
        channels.1.get_available_packet_count() == 1
    });
}

#[test]
fn close_is_seen_by_the_other_side() {
    let mut a = Side::default();
    let mut b = Side::default();
    let (mut ca, mut cb) = open_negotiated(&mut a, &mut b, "x", 3);

    ca.close();
    assert_ne!(ca.get_ready_state(), ChannelState::Open);
    assert!(matches!(ca.put_packet(b"late"), Err(Error::Unavailable(_))));
    run_until(&mut a, &mut b, "remote channel close", |_, _| {
        cb.get_ready_state() == ChannelState::Closed
    });
    assert!(matches!(cb.put_packet(b"late"), Err(Error::Unavailable(_))));

    a.peer.close();
    assert_eq!(a.peer.get_connection_state(), ConnectionState::Closed);
    run_until(&mut a, &mut b, "remote connection close", |_, b| {
        matches!(
            b.peer.get_connection_state(),
            ConnectionState::Closed | ConnectionState::Disconnected | ConnectionState::Failed
        )
    });
}

/// The engine's `webrtc_minimal` demo creates a second negotiated channel with id 1 on one
/// side. It must be refused, and the first channel must keep its messages.
#[test]
fn a_second_negotiated_channel_with_a_taken_id_is_refused() {
    let mut a = Side::default();
    let mut b = Side::default();
    let mut ca = a
        .peer
        .create_data_channel("chat", &negotiated(1))
        .expect("channel a");
    let mut cb = b
        .peer
        .create_data_channel("chat", &negotiated(1))
        .expect("channel b");
    let refused = a.peer.create_data_channel("chat", &negotiated(1));
    assert!(
        matches!(&refused, Err(Error::InvalidParameter(why)) if why.contains("id 1 is already used")),
        "{:?}",
        refused.err()
    );
    a.peer.create_offer().expect("offer");
    run_until(&mut a, &mut b, "both channels open", |_, _| {
        open(&ca) && open(&cb)
    });
    ca.put_packet(b"Hi from P1").expect("send a");
    cb.put_packet(b"Hi from P2").expect("send b");
    let mut got = (None, None);
    run_until(&mut a, &mut b, "a message each way", |_, _| {
        if cb.get_available_packet_count() > 0 {
            got.0 = cb.get_packet().ok().map(<[u8]>::to_vec);
        }
        if ca.get_available_packet_count() > 0 {
            got.1 = ca.get_packet().ok().map(<[u8]>::to_vec);
        }
        got.0.is_some() && got.1.is_some()
    });
    assert_eq!(got.0.as_deref(), Some(&b"Hi from P1"[..]));
    assert_eq!(got.1.as_deref(), Some(&b"Hi from P2"[..]));
}

/// `libdatachannel.portRangeBegin`/`portRangeEnd` (the official plugin's keys): every
/// connection binds a port of the range, and one too many gets a clear error instead.
#[test]
fn connections_bind_ports_of_the_configured_range_and_a_full_range_is_refused() {
    // Below the ephemeral ranges of Linux (32768-60999) and Windows (49152-65535), so no other
    // test's port-0 socket can be given one of them; no other test binds a fixed port.
    let begin: u16 = 30_101;
    let range = Value::Dict(dict(&[
        ("portRangeBegin", Value::Int(i64::from(begin))),
        ("portRangeEnd", Value::Int(i64::from(begin + 1))),
    ]));
    let config = || common::loopback_config_with(&[("libdatachannel", range.clone())]);
    let mut a = Side::with_config(config());
    let mut b = Side::with_config(config());
    let (_ca, _cb) = open_negotiated(&mut a, &mut b, "ranged", 2);
    let ports: Vec<u16> = [&a, &b]
        .iter()
        .map(|side| {
            side.peer
                .get_stats()
                .local_candidate
                .expect("a selected pair")
                .port
        })
        .collect();
    assert!(
        ports.iter().all(|port| (begin..=begin + 1).contains(port)) && ports[0] != ports[1],
        "ports {ports:?} outside {begin}..={} or shared",
        begin + 1
    );

    let mut third = Side::with_config(config());
    match third.peer.create_data_channel("late", &negotiated(2)) {
        Err(Error::Unavailable(why)) => assert!(why.contains("widen the range"), "{why}"),
        other => panic!("a third connection on a two-port range: {:?}", other.err()),
    }
}
