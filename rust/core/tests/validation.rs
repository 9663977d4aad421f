//! Config and channel-option rules, exactly as Godot users write the dictionaries.

mod common;

use common::dict;
use webrtc_godot_core::{ChannelOptions, Error, PeerConfig, Value};

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

fn config(entries: &[(&str, Value)]) -> Result<PeerConfig, Error> {
    PeerConfig::parse(&dict(entries))
}

fn options(entries: &[(&str, Value)]) -> Result<ChannelOptions, Error> {
    ChannelOptions::parse(&dict(entries))
}

fn server(entries: &[(&str, Value)]) -> Value {
    Value::Array(vec![Value::Dict(dict(entries))])
}

#[test]
fn accepts_ice_servers_in_every_documented_shape() {
    let parsed = config(&[(
        "iceServers",
        Value::Array(vec![
            Value::Dict(dict(&[("urls", s("stun:stun.example.org:3478"))])),
            Value::Dict(dict(&[
                (
                    "urls",
                    Value::Array(vec![
                        s("turn:[::1]:3478?transport=udp"),
                        s("turns:relay.example"),
                    ]),
                ),
                ("username", s("user")),
                ("credential", s("secret")),
            ])),
        ]),
    )])
    .expect("valid");
    assert_eq!(parsed.ice_servers.len(), 2);
    assert_eq!(parsed.ice_servers[1].urls.len(), 2);
    assert_eq!(parsed.ice_servers[1].username, "user");
}

#[test]
fn rejects_wrong_types_and_malformed_urls_with_the_key_named() {
    let cases = [
        (config(&[("iceServers", s("stun:x"))]), "iceServers"),
        (
            config(&[("iceServers", Value::Array(vec![Value::Int(1)]))]),
            "iceServers[0]",
        ),
        (
            config(&[("iceServers", server(&[("urls", Value::Int(5))]))]),
            "urls",
        ),
        (
            config(&[("iceServers", server(&[("urls", s("http://x"))]))]),
            "scheme",
        ),
        (
            config(&[("iceServers", server(&[("urls", s("stun:host:99999"))]))]),
            "port",
        ),
        (
            config(&[("iceServers", server(&[("urls", s("stun:bad host"))]))]),
            "host",
        ),
        (
            config(&[("iceServers", server(&[("urls", s("stun:x?transport=udp"))]))]),
            "query",
        ),
        (
            config(&[("iceServers", server(&[("urls", s("turn:x"))]))]),
            "credential",
        ),
        (config(&[("iceServers", server(&[]))]), "urls"),
        (
            config(&[("iceTransportPolicy", s("maybe"))]),
            "iceTransportPolicy",
        ),
        (
            config(&[("bindAddresses", s("localhost"))]),
            "bindAddresses",
        ),
        (config(&[("mdns", Value::Int(0))]), "mdns"),
        (
            config(&[("maxMessageSize", Value::Int(0))]),
            "maxMessageSize",
        ),
        (
            config(&[("maxMessageSize", Value::Int(262_145))]),
            "maxMessageSize",
        ),
        (
            config(&[("maxMessageSize", Value::Int(-1))]),
            "maxMessageSize",
        ),
        (
            config(&[("maxMessageSize", Value::Float(1024.5))]),
            "maxMessageSize",
        ),
        (config(&[("maxMessageSize", s("1024"))]), "maxMessageSize"),
    ];
    assert_refused_naming(cases);
}

#[test]
fn max_message_size_defaults_to_64_kib_and_goes_up_to_256_kib() {
    assert_eq!(config(&[]).expect("valid").max_message_size, 65_536);
    for size in [1, 16_384, 262_144] {
        let parsed = config(&[("maxMessageSize", Value::Int(size))]).expect("valid");
        assert_eq!(parsed.max_message_size as i64, size);
    }
    // As a dictionary parsed from JSON holds it.
    let from_json = config(&[("maxMessageSize", Value::Float(131_072.0))]).expect("valid");
    assert_eq!(from_json.max_message_size, 131_072);
}

#[test]
fn unknown_keys_are_kept_for_a_verbose_note() {
    let parsed = config(&[
        ("iceServers", Value::Array(vec![])),
        ("bundlePolicy", s("x")),
    ])
    .expect("valid");
    assert_eq!(parsed.ignored_keys, vec!["bundlePolicy".to_owned()]);
}

#[test]
fn bind_addresses_keep_their_ports() {
    let lan = config(&[("bindAddresses", s("10.1.2.3:5000"))]).expect("valid");
    assert_eq!(lan.bind_addresses[0].port(), 5000);
    let both = config(&[(
        "bindAddresses",
        Value::Array(vec![s("127.0.0.1"), s("[::1]:0")]),
    )])
    .expect("valid");
    assert_eq!(both.bind_addresses.len(), 2);
}

#[test]
fn channel_options_follow_godot_rules() {
    let defaults = options(&[]).expect("empty options");
    assert!(defaults.ordered);
    assert_eq!(defaults.negotiated_id, None);

    let engine = options(&[
        ("negotiated", Value::Bool(true)),
        ("id", Value::Int(2)),
        ("ordered", Value::Bool(false)),
        ("maxPacketLifetime", Value::Int(1)),
    ])
    .expect("the engine's own spelling");
    assert_eq!(engine.negotiated_id, Some(2));
    assert_eq!(engine.max_packet_life_time, Some(1));

    let json = options(&[("maxRetransmits", Value::Float(3.0))]).expect("whole float");
    assert_eq!(json.max_retransmits, Some(3));

    for bad in [
        options(&[("negotiated", Value::Bool(true))]),
        options(&[("id", Value::Int(1))]),
        options(&[
            ("maxRetransmits", Value::Int(1)),
            ("maxPacketLifeTime", Value::Int(1)),
        ]),
        options(&[
            ("maxPacketLifeTime", Value::Int(1)),
            ("maxPacketLifetime", Value::Int(1)),
        ]),
        options(&[("maxRetransmits", Value::Int(-1))]),
        options(&[("maxRetransmits", Value::Float(0.5))]),
        options(&[("negotiated", Value::Bool(true)), ("id", Value::Int(65535))]),
        options(&[("ordered", s("yes"))]),
        options(&[("protocol", Value::Nil)]),
    ] {
        assert!(matches!(bad, Err(Error::InvalidParameter(_))), "{bad:?}");
    }
}

fn libdatachannel(entries: &[(&str, Value)]) -> Result<PeerConfig, Error> {
    config(&[("libdatachannel", Value::Dict(dict(entries)))])
}

#[test]
fn the_official_plugins_libdatachannel_keys_are_understood() {
    let parsed = libdatachannel(&[
        ("portRangeBegin", Value::Int(47_000)),
        ("portRangeEnd", Value::Float(47_010.0)),
        ("mtu", Value::Int(1400)),
        ("enableIceTcp", Value::Bool(true)),
        ("enableIceUdpMux", Value::Bool(true)),
        ("maxMessageSize", Value::Int(1)),
    ])
    .expect("valid");
    assert_eq!(parsed.port_range, Some((47_000, 47_010)));
    assert_eq!(parsed.mtu, Some(1400));
    assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
    assert!(parsed.warnings[0].contains("libdatachannel.enableIceTcp"));
    assert!(parsed.warnings[1].contains("libdatachannel.enableIceUdpMux"));
    assert_eq!(parsed.ignored_keys, vec!["libdatachannel.maxMessageSize"]);

    let off = libdatachannel(&[
        ("enableIceTcp", Value::Bool(false)),
        ("enableIceUdpMux", Value::Bool(false)),
    ])
    .expect("valid");
    assert!(off.warnings.is_empty(), "nothing to warn about when off");
}

#[test]
fn bad_libdatachannel_values_name_the_key() {
    let cases = [
        (config(&[("libdatachannel", s("ports"))]), "libdatachannel"),
        (
            libdatachannel(&[("portRangeBegin", Value::Int(47_000))]),
            "go together",
        ),
        (
            libdatachannel(&[
                ("portRangeBegin", Value::Int(47_010)),
                ("portRangeEnd", Value::Int(47_000)),
            ]),
            "begin <= end",
        ),
        (
            libdatachannel(&[
                ("portRangeBegin", Value::Int(1)),
                ("portRangeEnd", Value::Int(70_000)),
            ]),
            "libdatachannel.portRangeEnd",
        ),
        (
            libdatachannel(&[("mtu", Value::Int(500))]),
            "libdatachannel.mtu",
        ),
        (
            libdatachannel(&[("enableIceTcp", s("yes"))]),
            "libdatachannel.enableIceTcp",
        ),
    ];
    assert_refused_naming(cases);
}

/// Each result must be `InvalidParameter` with a message that names the given key.
fn assert_refused_naming<T: std::fmt::Debug>(
    cases: impl IntoIterator<Item = (Result<T, Error>, &'static str)>,
) {
    for (result, needle) in cases {
        match result {
            Err(Error::InvalidParameter(message)) => {
                assert!(
                    message.contains(needle),
                    "{message:?} should mention {needle:?}"
                )
            }
            other => panic!("expected InvalidParameter mentioning {needle:?}, got {other:?}"),
        }
    }
}
