//! Property tests over everything a user or a peer controls: SDP text, candidate strings,
//! config and channel-option dictionaries, and call sequences in every state. Each input must
//! end in `Ok` or an `Error` with a message; a panic, abort or hang fails the test.
//!
//! The seed corpus under `tests/corpus/` (real offers from libdatachannel and aiortc, a
//! Chromium-style offer, malformed variants, candidate lines in every known form) is replayed
//! as is and used as the starting point for mutations. proptest keeps any failing case it
//! finds in `proptest-regressions/`, replayed first on every run.
//!
//! No input here can send a packet off the machine: descriptions are applied without a local
//! description (so ICE never starts checks), and generated addresses are loopback or invalid.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Once};

use common::{dict, loopback_config};
use proptest::prelude::*;
use webrtc_godot_core::{ChannelOptions, Error, Peer, PeerConfig, PeerEvent, SdpKind, Value};

fn corpus(kind: &str) -> Vec<String> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "corpus", kind]
        .iter()
        .collect();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("corpus {}: {err}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("corpus file is UTF-8"))
        .collect()
}

/// Candidate lines of the corpus, read once for every case.
fn candidate_seeds() -> &'static [String] {
    static SEEDS: LazyLock<Vec<String>> = LazyLock::new(|| {
        corpus("candidate")
            .iter()
            .flat_map(|file| file.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    });
    &SEEDS
}

/// Panics anywhere in the process, including webrtc-rs tasks on runtime threads, which would
/// otherwise only print and leave a dead connection behind.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// An error must explain itself: Godot prints this text next to the code. No thread may
/// have panicked on the way.
fn explained(result: Result<(), Error>) -> Result<(), TestCaseError> {
    watch_panics();
    prop_assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a thread panicked");
    if let Err(err) = result {
        prop_assert!(
            !err.to_string().trim().is_empty(),
            "error without a message: {err:?}"
        );
    }
    Ok(())
}

/// One line-level change to a text blob.
#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    ReplaceValue(usize, String),
    InsertLine(usize, String),
    Truncate(usize),
    SwapLines(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let junk = prop_oneof![
        ".{0,40}",
        "[0-9]{1,25}",
        "[A-F0-9:]{0,120}",
        Just(String::new()),
        Just("-1".to_owned()),
        Just("\u{0}".to_owned()),
        "\\PC{0,20}",
    ];
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), junk.clone()).prop_map(|(at, text)| Edit::ReplaceValue(at, text)),
        (any::<usize>(), junk).prop_map(|(at, text)| Edit::InsertLine(at, text)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for edit in edits {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match edit {
            Edit::DeleteLine(at) => {
                lines.remove(at % n);
            }
            Edit::DuplicateLine(at) => {
                let line = lines[at % n].clone();
                lines.insert(at % n, line);
            }
            Edit::ReplaceValue(at, value) => {
                let line = &mut lines[at % n];
                let keep = line.find([':', '=', ' ']).map_or(0, |i| i + 1);
                line.truncate(keep);
                line.push_str(value);
            }
            Edit::InsertLine(at, value) => lines.insert(at % (n + 1), value.clone()),
            Edit::Truncate(at) => {
                let line = &mut lines[at % n];
                let mut cut = at % (line.len() + 1);
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
            }
            Edit::SwapLines(a, b) => lines.swap(a % n, b % n),
        }
    }
    lines.join("\r\n") + "\r\n"
}

/// A peer whose offer exists but whose local description is not applied: ICE stays idle.
fn offering_peer() -> Peer {
    let mut peer = Peer::new(loopback_config());
    peer.create_data_channel("fuzz", &ChannelOptions::default())
        .expect("channel");
    peer.create_offer().expect("offer");
    peer
}

fn own_offer() -> String {
    let mut peer = offering_peer();
    match peer.next_event() {
        Some(PeerEvent::SessionDescription { sdp, .. }) => sdp,
        _ => panic!("an offer event"),
    }
}

/// The SDP corpus plus one of our own offers, built once for every case.
fn sdp_seeds() -> &'static [String] {
    static SEEDS: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut seeds = corpus("sdp");
        seeds.push(own_offer());
        seeds
    });
    &SEEDS
}

#[test]
fn corpus_descriptions_and_candidates_get_an_answer_not_a_crash() {
    let seeds = sdp_seeds();
    let mut accepted = 0;
    for sdp in seeds {
        for kind in [SdpKind::Offer, SdpKind::Answer] {
            let mut peer = offering_peer();
            let result = peer.set_remote_description(kind, sdp);
            if result.is_ok() {
                accepted += 1;
            }
            explained(result).expect("explained");
            let mut fresh = Peer::new(loopback_config());
            explained(fresh.set_local_description(kind, sdp)).expect("explained");
        }
    }
    // The real offers are offers: they must be accepted as such.
    assert!(
        accepted >= 3,
        "only {accepted} corpus descriptions accepted"
    );

    let mut peer = Peer::new(loopback_config());
    peer.set_remote_description(SdpKind::Offer, &seeds[0])
        .expect("libdatachannel-style offer from the corpus");
    for line in candidate_seeds() {
        explained(peer.add_ice_candidate("0", 0, line)).expect("explained");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn mutated_descriptions_are_accepted_or_refused(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
        answer in any::<bool>(),
    ) {
        let seeds = sdp_seeds();
        let sdp = apply(seed.get::<String>(seeds), &edits);
        let kind = if answer { SdpKind::Answer } else { SdpKind::Offer };
        let mut peer = if answer { offering_peer() } else { Peer::new(loopback_config()) };
        explained(peer.set_remote_description(kind, &sdp))?;
        // Whatever was accepted leaves the peer usable: states answer, close is clean.
        let _ = peer.get_connection_state();
        peer.close();
    }

    #[test]
    fn arbitrary_text_as_sdp_is_refused_with_a_reason(text in "\\PC{0,400}", answer in any::<bool>()) {
        let kind = if answer { SdpKind::Answer } else { SdpKind::Offer };
        let mut peer = Peer::new(loopback_config());
        explained(peer.set_remote_description(kind, &text))?;
        explained(peer.set_local_description(kind, &text))?;
    }

    #[test]
    fn mutated_and_generated_candidates_are_accepted_or_refused(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 0..3),
        fields in prop::collection::vec(prop_oneof![
            "[a-z0-9]{0,12}",
            "[0-9]{0,22}",
            Just("127.0.0.1".to_owned()),
            Just("::1".to_owned()),
            Just("x.local".to_owned()),
            Just("typ".to_owned()),
            Just("host".to_owned()),
            Just("raddr".to_owned()),
            "\\PC{0,8}",
        ], 0..14),
        media in ".{0,8}",
        index in any::<i32>(),
    ) {
        let seeds = candidate_seeds();
        let mutated = apply(seed.get::<String>(seeds), &edits);
        let generated = format!("candidate:{}", fields.join(" "));
        let mut peer = Peer::new(loopback_config());
        peer.set_remote_description(SdpKind::Offer, &sdp_seeds()[0]).expect("seed offer");
        for line in [mutated.trim_end(), generated.as_str()] {
            // Only loopback, `.local` or unparsable addresses reach the agent.
            let address = line.split_whitespace().nth(4).unwrap_or("");
            let routable = address.parse::<std::net::IpAddr>().is_ok_and(|ip| !ip.is_loopback());
            if !routable {
                explained(peer.add_ice_candidate(&media, index, line))?;
            }
        }
    }

    #[test]
    fn config_dictionaries_of_any_shape_parse_or_name_the_problem(dict in dictionary(&[
        "iceServers", "iceTransportPolicy", "bindAddresses", "mdns", "urls", "username", "credential",
    ])) {
        match PeerConfig::parse(&dict) {
            Ok(config) => {
                // Only build connections that bind where tests may: loopback.
                if !config.bind_addresses.is_empty()
                    && config.bind_addresses.iter().all(|addr| addr.ip().is_loopback())
                {
                    let mut peer = Peer::new(config);
                    explained(peer.create_offer())?;
                }
            }
            Err(err) => prop_assert!(matches!(err, Error::InvalidParameter(_)), "{err:?}"),
        }
    }

    #[test]
    fn channel_options_of_any_shape_parse_or_name_the_problem(dict in dictionary(&[
        "negotiated", "id", "ordered", "maxRetransmits", "maxPacketLifeTime", "maxPacketLifetime", "protocol",
    ]), label in "\\PC{0,70000}") {
        match ChannelOptions::parse(&dict) {
            Ok(options) => {
                let mut peer = Peer::new(loopback_config());
                if let Err(err) = peer.create_data_channel(&label, &options) {
                    prop_assert!(!err.to_string().is_empty());
                }
            }
            Err(err) => prop_assert!(matches!(err, Error::InvalidParameter(_)), "{err:?}"),
        }
    }

    #[test]
    fn any_call_sequence_ends_in_ok_or_an_error(calls in prop::collection::vec(call(), 1..12)) {
        let offer = sdp_seeds().last().expect("our own offer").clone();
        let mut peer = Peer::new(loopback_config());
        let mut channels = Vec::new();
        for call in calls {
            match call {
                Call::CreateOffer => explained(peer.create_offer())?,
                Call::SetRemote(answer, own) => {
                    let kind = if answer { SdpKind::Answer } else { SdpKind::Offer };
                    let sdp = if own { offer.clone() } else { "v=0\r\n".to_owned() };
                    explained(peer.set_remote_description(kind, &sdp))?;
                }
                Call::Candidate => explained(peer.add_ice_candidate(
                    "0", 0, "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"))?,
                Call::Channel(negotiated) => {
                    let options = if negotiated {
                        ChannelOptions::parse(&dict(&[
                            ("negotiated", Value::Bool(true)), ("id", Value::Int(1)),
                        ])).expect("options")
                    } else {
                        ChannelOptions::default()
                    };
                    match peer.create_data_channel("seq", &options) {
                        Ok(channel) => channels.push(channel),
                        Err(err) => prop_assert!(!err.to_string().is_empty()),
                    }
                }
                Call::Send(size) => {
                    for channel in &mut channels {
                        explained(channel.put_packet(&vec![7u8; size]))?;
                        let _ = channel.get_buffered_amount();
                    }
                }
                Call::Receive => {
                    for channel in &mut channels {
                        prop_assert!(channel.get_packet().is_err(), "nothing was sent to us");
                    }
                }
                Call::CloseChannels => channels.iter_mut().for_each(|channel| channel.close()),
                Call::Poll => while peer.next_event().is_some() {},
                Call::Close => peer.close(),
                Call::Initialize => explained(peer.initialize(loopback_config()))?,
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Call {
    CreateOffer,
    /// (as answer, use a real offer)
    SetRemote(bool, bool),
    Candidate,
    Channel(bool),
    Send(usize),
    Receive,
    CloseChannels,
    Poll,
    Close,
    Initialize,
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        Just(Call::CreateOffer),
        (any::<bool>(), any::<bool>()).prop_map(|(a, o)| Call::SetRemote(a, o)),
        Just(Call::Candidate),
        any::<bool>().prop_map(Call::Channel),
        prop_oneof![
            Just(0usize),
            Just(1),
            Just(65_536),
            Just(65_537),
            Just(262_144),
            Just(262_145),
            0usize..2048
        ]
        .prop_map(Call::Send),
        Just(Call::Receive),
        Just(Call::CloseChannels),
        Just(Call::Poll),
        Just(Call::Close),
        Just(Call::Initialize),
    ]
}

/// Dictionaries with the given keys (and others), holding values of every shape, nested.
fn dictionary(keys: &'static [&'static str]) -> impl Strategy<Value = Vec<(Value, Value)>> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![any::<i64>(), -2i64..70_000].prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        prop_oneof![
            "\\PC{0,30}",
            Just("stun:127.0.0.1:3478".to_owned()),
            Just("turn:127.0.0.1:3478?transport=udp".to_owned()),
            Just("127.0.0.1".to_owned()),
            Just("[::1]:0".to_owned()),
            Just("relay".to_owned()),
        ]
        .prop_map(Value::Str),
        "[A-Za-z]{1,12}".prop_map(Value::Other),
    ];
    let value = leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(keys), inner), 0..6).prop_map(Value::Dict),
        ]
    });
    prop::collection::vec((key(keys), value), 0..6)
}

fn key(keys: &'static [&'static str]) -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        4 => prop::sample::select(keys).prop_map(|key| Value::Str(key.to_owned())),
        1 => "\\PC{0,12}".prop_map(Value::Str),
        1 => any::<i64>().prop_map(Value::Int),
    ]
}
