//! Connection configuration: the `initialize()` dictionary, validated and turned into
//! webrtc-rs settings.
//!
//! Keys follow the W3C `RTCConfiguration` spelling Godot users already know from the engine's
//! docs and the web export, plus the plugin's own keys for where ICE may bind.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::peer_connection::configuration::setting_engine::SctpMaxMessageSize;
use webrtc::peer_connection::{
    RTCConfiguration, RTCConfigurationBuilder, RTCIceServer, RTCIceTransportPolicy, SettingEngine,
    SettingEngineBuilder,
};

use crate::error::{Error, Result};
use crate::value::{entries, whole_number, Value};

/// Largest message either side may send unless `maxMessageSize` says otherwise, advertised as
/// `a=max-message-size`. webrtc-rs keeps a zeroed scratch buffer of this size per connection,
/// so it is also that many bytes of memory each; 64 KiB is webrtc-rs's own default, what SCTP
/// assumes when a peer advertises nothing (RFC 8841), and what Godot's web export buffers per
/// channel, so a cross-platform game cannot rely on more anyway.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 65_536;

/// The largest `maxMessageSize` accepted: what Chromium and libdatachannel advertise.
pub const MAX_MESSAGE_SIZE_LIMIT: usize = 262_144;

/// A parsed and validated `initialize()` dictionary.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerConfig {
    pub ice_servers: Vec<IceServer>,
    /// `iceTransportPolicy: "relay"` forces traffic through TURN.
    pub relay_only: bool,
    /// `bindAddresses`: where ICE may open sockets. Empty means every usable interface, or
    /// loopback on a host that has none (see [`PeerConfig::network`]).
    pub bind_addresses: Vec<SocketAddr>,
    /// `mdns`: resolve browsers' `.local` host candidates over multicast DNS.
    /// `None` means the default: on, unless every address ICE binds is loopback.
    pub mdns: Option<bool>,
    /// `maxMessageSize`: the largest message this connection sends or accepts, in bytes.
    pub max_message_size: usize,
    /// `libdatachannel.portRangeBegin`/`portRangeEnd`: the UDP ports ICE may bind, inclusive.
    pub port_range: Option<(u16, u16)>,
    /// `libdatachannel.mtu`: the path MTU SCTP packets must fit in, with DTLS, UDP and IPv6.
    pub mtu: Option<u32>,
    /// Keys that were ignored, reported in verbose output.
    pub ignored_keys: Vec<String>,
    /// Keys that were understood but cannot be honoured, each with why; always shown.
    pub warnings: Vec<String>,
}

/// One `iceServers` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            relay_only: false,
            bind_addresses: Vec::new(),
            mdns: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            port_range: None,
            mtu: None,
            ignored_keys: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

impl PeerConfig {
    /// Validates a config dictionary. Any wrong type or malformed URL is an
    /// [`Error::InvalidParameter`] naming the offending key.
    pub fn parse(dict: &[(Value, Value)]) -> Result<Self> {
        let mut config = Self::default();
        for entry in entries(dict, "config") {
            let (key, value) = entry.map_err(Error::invalid)?;
            match key {
                "iceServers" => config.ice_servers = parse_ice_servers(value)?,
                "iceTransportPolicy" => config.relay_only = parse_transport_policy(value)?,
                "bindAddresses" => config.bind_addresses = parse_bind_addresses(value)?,
                "mdns" => match value {
                    Value::Bool(on) => config.mdns = Some(*on),
                    other => return Err(wrong_type("mdns", "bool", other)),
                },
                "maxMessageSize" => config.max_message_size = parse_max_message_size(value)?,
                "libdatachannel" => config.parse_libdatachannel(value)?,
                other => config.ignored_keys.push(other.to_owned()),
            }
        }
        Ok(config)
    }

    /// The official plugin's (webrtc-native 1.2) `libdatachannel` dictionary, so configs written
    /// for it keep working: the port range and MTU are honoured, the rest is warned about.
    fn parse_libdatachannel(&mut self, value: &Value) -> Result<()> {
        let Value::Dict(dict) = value else {
            return Err(wrong_type("libdatachannel", "a Dictionary", value));
        };
        let (mut begin, mut end) = (None, None);
        for entry in entries(dict, "libdatachannel") {
            let (key, value) = entry.map_err(Error::invalid)?;
            let path = format!("libdatachannel.{key}");
            match key {
                "portRangeBegin" => begin = Some(parse_port(&path, value)?),
                "portRangeEnd" => end = Some(parse_port(&path, value)?),
                "mtu" => self.mtu = Some(parse_mtu(&path, value)?),
                "enableIceTcp" => {
                    if parse_bool(&path, value)? {
                        self.warnings.push(format!(
                            "{path}: ICE over TCP is not available in this plugin; connections use UDP only"
                        ));
                    }
                }
                "enableIceUdpMux" => {
                    if parse_bool(&path, value)? {
                        self.warnings.push(format!(
                            "{path}: webrtc-rs 0.21.1 cannot share one UDP port between connections; \
                             each connection binds its own (use portRangeBegin/portRangeEnd to bound them)"
                        ));
                    }
                }
                other => self.ignored_keys.push(format!("libdatachannel.{other}")),
            }
        }
        self.port_range =
            match (begin, end) {
                (None, None) => None,
                (Some(begin), Some(end)) if begin > 0 && begin <= end => Some((begin, end)),
                (Some(begin), Some(end)) => {
                    return Err(Error::invalid(format!(
                    "config keys 'libdatachannel.portRangeBegin'/'portRangeEnd' must give a range \
                     of ports 1..=65535 with begin <= end, got {begin}..{end}"
                )))
                }
                _ => return Err(Error::invalid(
                    "config keys 'libdatachannel.portRangeBegin' and 'portRangeEnd' go together",
                )),
            };
        Ok(())
    }

    /// Where a connection binds and whether it uses mDNS, on a host whose interfaces have
    /// `interfaces` (every address, loopback included).
    ///
    /// Without `bindAddresses`, ICE binds the wildcard of each address family that has a usable
    /// address (webrtc-rs turns it into one socket per interface address), so a family with none
    /// adds no socket and no candidate. A host with no usable address at all (a container
    /// without a network, an offline machine) binds loopback instead, so two games on it still
    /// connect, as with libdatachannel and the official plugin.
    pub fn network(&self, interfaces: &[IpAddr]) -> Network {
        let udp_addrs = if self.bind_addresses.is_empty() {
            default_bind_addresses(interfaces)
        } else {
            self.bind_addresses.clone()
        };
        let mdns = self
            .mdns
            .unwrap_or_else(|| !udp_addrs.iter().all(|addr| addr.ip().is_loopback()));
        Network { udp_addrs, mdns }
    }

    pub(crate) fn rtc_configuration(&self) -> RTCConfiguration {
        let servers = self
            .ice_servers
            .iter()
            .map(|server| RTCIceServer {
                urls: server.urls.clone(),
                username: server.username.clone(),
                credential: server.credential.clone(),
            })
            .collect();
        let policy = if self.relay_only {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        };
        RTCConfigurationBuilder::new()
            .with_ice_servers(servers)
            .with_ice_transport_policy(policy)
            .build()
    }

    pub(crate) fn setting_engine(&self, network: &Network) -> SettingEngine {
        let mdns = if network.mdns {
            MulticastDnsMode::QueryOnly
        } else {
            MulticastDnsMode::Disabled
        };
        let loopback = network.udp_addrs.iter().any(|addr| addr.ip().is_loopback());
        let engine = SettingEngineBuilder::new()
            // A peer-reflexive pair is found when the remote's checks arrive before its trickled
            // candidates, which is the normal order with trickle ICE. webrtc-rs 0.21.1 then
            // waits a full second before accepting it; a check that succeeded is proof enough.
            // Shown by the time-to-open benchmark.
            .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
            .with_host_acceptance_min_wait(Some(Duration::ZERO))
            // webrtc-rs 0.21.1: the agent only acts on its timer tick, 200 ms by default, and
            // set-up waits for a few ticks (figures in PROFILES.md, "Sockets, timers and
            // set-up"). 280 attempts keep the default 1.4 s budget per candidate pair; the tick
            // only runs while checking. Shown by the time-to-open benchmark.
            .with_ice_connection_attempts(Some(Duration::from_millis(5)), Some(280))
            // A silent path is reported DISCONNECTED after 3 s and FAILED 5 s later.
            .with_ice_timeouts(
                Some(Duration::from_secs(3)),
                Some(Duration::from_secs(5)),
                Some(Duration::from_secs(1)),
            )
            // Once connected, the agent wakes for its consent check each second and for those
            // timeouts, not five times a second as well (patch I1). The set-up steps that wait
            // for a timeout are run by `crate::timers`' set-up window, not by that tick.
            .with_ice_connected_wakes_when_due(true)
            // Traffic arriving on the pair already shows it alive: while it keeps coming, one
            // consent check every 2.5 s (Chromium's interval on a stable connection), not each
            // second (patch I2). The round-trip time in `get_stats()` comes from those checks.
            .with_ice_keepalive_interval_while_receiving(Some(Duration::from_millis(2500)))
            .with_multicast_dns_mode(mdns)
            .with_include_loopback_candidate(loopback)
            .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(self.max_message_size as u32))
            .with_sctp_timer_config(sctp_timers())
            // Ten packets, as Chromium's dcsctp and TCP (RFC 6928) start with: a message of up to
            // ~12 KB on a new connection goes out in one flight instead of over two or three round
            // trips. Sent as one burst, as dcsctp and TCP send theirs.
            .with_sctp_initial_cwnd_mtus(10);
        match self.mtu {
            Some(mtu) => engine.with_sctp_mtu(mtu - PATH_OVERHEAD).build(),
            None => engine.build(),
        }
    }
}

/// What a path MTU carries besides the SCTP packet: IPv6 (40) and UDP (8) headers, TURN
/// ChannelData framing (4) and the DTLS record (37). webrtc-rs derives its default SCTP packet
/// budget (1191) from the IPv6 minimum MTU of 1280 the same way.
const PATH_OVERHEAD: u32 = 40 + 8 + 4 + 37;

/// SCTP timers for games on lossy links. RFC 9260's defaults (RTO at least 1 s, SACKs delayed
/// up to 200 ms) are made for bulk transfer over unknown paths: on an ordered reliable channel
/// one loss repaired by the retransmission timer then holds every later message back for a
/// second or more. The RTO values are those of WebRTC stacks (libdatachannel's usrsctp
/// settings: minimum 200 ms; dcsctp's 500 ms initial RTO), with back-off capped at 3 s so a
/// repair after an outage is never more than 3 s away; the association still gives up after
/// the default 5 timeouts in a row (about 9 s), after ICE reported FAILED.
///
/// A SACK owed for a lone packet waits up to 50 ms: a game's messages go both ways at 20 to
/// 60 Hz, and a SACK still owed when the next message leaves rides in its packet instead of
/// taking a datagram of its own, which costs both ends a receive, a decryption and a send.
/// With libdatachannel's 20 ms, two messages 33 ms apart sent two in five SACKs alone (figures
/// in PROFILES.md, "SACKs that wait for the reply"). Loss recovery does not wait on it: a packet
/// past a gap and a message that empties the send queue are acknowledged at once (below), and
/// 50 ms stays far below the peers' minimum RTO, so their timers do not fire early (200 ms here
/// and in libdatachannel, 220 ms or more in dcsctp, 1 s in RFC 9260). Linux delays a TCP ACK at
/// least 40 ms; dcsctp (Chrome) half the RTO, up to 200 ms.
///
/// A game's reliable messages are sparse (a few to 20 a second), so a lost one seldom has the
/// three later packets fast retransmission needs: early retransmission (RFC 5827) repairs it on
/// the first SACK that reports it missing, time-based loss detection (RACK's rule) on a later
/// one when that SACK was lost too, and the tail-loss probe resends the last one of a burst
/// about two round trips after it was sent; each would otherwise wait for the retransmission
/// timer. When the timer does fire, such a stream has only its retransmission in flight, one
/// packet per RTO: linear timeouts keep the RTO from doubling for the first six expiries in a
/// row, so a few losses in a row cost a few RTOs instead of seconds of back-off (Linux offers
/// the same for thin TCP streams). Figures in PROFILES.md ("Loss recovery for sparse traffic").
/// The peer delays its SACK for a lone packet, and a sparse stream's every message is one, so
/// its round trip would carry that delay and the probe would come late: the message that
/// empties the send queue asks to be acknowledged at once (RFC 7053's I bit), unless it is
/// never retransmitted. Figures in PROFILES.md ("The tail asks for its SACK").
///
/// Players' links drop packets at random (Wi-Fi, mobile), not only when a queue overflows, and
/// halving the window at every loss held a download through 1 % loss to a few hundred KB/s
/// whatever the link could carry. With TCP Westwood+'s loss response the window after a loss
/// is what the peer was seen to acknowledge in the smallest round trip (never below half, never
/// above what it was): a window that built no queue is kept, one that did comes down as before.
/// Figures in PROFILES.md ("Bulk through random loss"). On a path without a bottleneck that
/// estimate is only what the flow itself carried, so it also takes TCP Veno's rule: a loss while
/// the smoothed round trip stands within three packets' worth of its smallest is random and
/// keeps four fifths of the window; a flow that queues at a bottleneck still halves. Figures in
/// PROFILES.md ("Random loss told from congestion").
fn sctp_timers() -> rtc::sctp::TimerConfig {
    rtc::sctp::TimerConfig {
        rto_initial_ms: 500,
        rto_min_ms: 200,
        rto_max_ms: 3000,
        delayed_ack_ms: 50,
        early_retransmit: true,
        tail_loss_probe: true,
        time_based_loss_detection: true,
        thin_stream_linear_timeouts: true,
        bandwidth_estimate_on_loss: true,
        immediate_sack_for_tail: true,
        random_loss_differentiation: true,
        ..rtc::sctp::TimerConfig::default()
    }
}

/// Where a connection binds and whether it resolves `.local` candidates: the configuration
/// applied to the host's interfaces when the connection is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The addresses handed to webrtc-rs to bind UDP sockets on.
    pub udp_addrs: Vec<SocketAddr>,
    /// Whether browsers' `<uuid>.local` candidates are resolved over multicast DNS.
    pub mdns: bool,
}

/// Every address of every local interface, loopback included; empty when they cannot be listed.
pub(crate) fn local_addresses() -> Vec<IpAddr> {
    match rtc::shared::ifaces::ifaces() {
        Ok(interfaces) => interfaces
            .into_iter()
            .filter_map(|interface| interface.addr.map(|addr| addr.ip()))
            .collect(),
        Err(err) => {
            log::warn!("cannot list the network interfaces ({err}); ICE binds every interface");
            Vec::new()
        }
    }
}

/// An address a peer on another machine could reach: not loopback, unspecified or link-local
/// (webrtc-rs skips the same ones when it expands a wildcard).
fn is_usable(ip: &IpAddr) -> bool {
    let link_local = match ip {
        IpAddr::V4(ip) => ip.is_link_local(),
        IpAddr::V6(ip) => (ip.segments()[0] & 0xffc0) == 0xfe80,
    };
    !ip.is_loopback() && !ip.is_unspecified() && !link_local
}

/// See [`PeerConfig::network`]. With no interface list at all (listing failed), both
/// wildcards, and webrtc-rs decides.
fn default_bind_addresses(interfaces: &[IpAddr]) -> Vec<SocketAddr> {
    let v4_wildcard = SocketAddr::from(([0, 0, 0, 0], 0));
    let v6_wildcard = SocketAddr::from(([0u16; 8], 0));
    if interfaces.is_empty() {
        return vec![v4_wildcard, v6_wildcard];
    }
    let usable = |v4: bool| {
        interfaces
            .iter()
            .any(|ip| ip.is_ipv4() == v4 && is_usable(ip))
    };
    let wildcards: Vec<SocketAddr> = [(true, v4_wildcard), (false, v6_wildcard)]
        .into_iter()
        .filter(|(v4, _)| usable(*v4))
        .map(|(_, wildcard)| wildcard)
        .collect();
    if !wildcards.is_empty() {
        return wildcards;
    }
    // Offline: IPv4 loopback where there is one, as every stack's candidates can name it.
    let loopback = interfaces
        .iter()
        .find(|ip| ip.is_loopback() && ip.is_ipv4())
        .or_else(|| interfaces.iter().find(|ip| ip.is_loopback()))
        .copied()
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    vec![SocketAddr::new(loopback, 0)]
}

fn wrong_type(key: &str, expected: &str, got: &Value) -> Error {
    Error::invalid(format!(
        "config key '{key}' must be {expected}, got {}",
        got.type_name()
    ))
}

fn parse_ice_servers(value: &Value) -> Result<Vec<IceServer>> {
    let Value::Array(items) = value else {
        return Err(wrong_type("iceServers", "an Array of Dictionaries", value));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_ice_server(index, item))
        .collect()
}

fn parse_ice_server(index: usize, value: &Value) -> Result<IceServer> {
    let key = format!("iceServers[{index}]");
    let Value::Dict(dict) = value else {
        return Err(wrong_type(&key, "a Dictionary", value));
    };
    let mut server = IceServer::default();
    for entry in entries(dict, &key) {
        let (name, value) = entry.map_err(Error::invalid)?;
        let field = format!("{key}.{name}");
        match (name, value) {
            ("urls" | "url", Value::Str(url)) => server.urls.push(url.clone()),
            ("urls", Value::Array(urls)) => {
                for (i, url) in urls.iter().enumerate() {
                    match url {
                        Value::Str(url) => server.urls.push(url.clone()),
                        other => {
                            return Err(wrong_type(&format!("{field}[{i}]"), "a String", other))
                        }
                    }
                }
            }
            ("urls" | "url", other) => {
                return Err(wrong_type(&field, "a String or an Array of Strings", other))
            }
            ("username", Value::Str(user)) => server.username = user.clone(),
            ("credential", Value::Str(secret)) => server.credential = secret.clone(),
            ("username" | "credential", other) => {
                return Err(wrong_type(&field, "a String", other))
            }
            _ => {}
        }
    }
    if server.urls.is_empty() {
        return Err(Error::invalid(format!("{key} has no 'urls'")));
    }
    for url in &server.urls {
        check_ice_url(url).map_err(|why| Error::invalid(format!("{key}: {why}")))?;
        if url.starts_with("turn") && (server.username.is_empty() || server.credential.is_empty()) {
            return Err(Error::invalid(format!(
                "{key}: TURN server '{url}' needs a 'username' and a 'credential'"
            )));
        }
    }
    Ok(server)
}

/// Checks a `stun:`, `stuns:`, `turn:` or `turns:` URL (RFC 7064 / RFC 7065) without resolving it.
pub(crate) fn check_ice_url(url: &str) -> std::result::Result<(), String> {
    let (scheme, rest) = url.split_once(':').ok_or_else(|| {
        format!("'{url}' is not an ICE server URL (expected stun:, turn: or turns:)")
    })?;
    if !matches!(scheme, "stun" | "stuns" | "turn" | "turns") {
        return Err(format!(
            "'{url}' has scheme '{scheme}'; expected stun:, stuns:, turn: or turns:"
        ));
    }
    let (authority, query) = match rest.split_once('?') {
        Some((authority, query)) => (authority, Some(query)),
        None => (rest, None),
    };
    if let Some(query) = query {
        if scheme.starts_with("stun") {
            return Err(format!("'{url}': STUN URLs take no '?transport=' query"));
        }
        if !matches!(query, "transport=udp" | "transport=tcp") {
            return Err(format!(
                "'{url}': unknown query '{query}' (expected transport=udp or tcp)"
            ));
        }
    }
    let (host, port) = split_host_port(authority)
        .ok_or_else(|| format!("'{url}' has a malformed host or port"))?;
    if host.is_empty() || host.starts_with("//") {
        return Err(format!("'{url}' has no host"));
    }
    let host_ok = host.parse::<IpAddr>().is_ok()
        || host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !host_ok {
        return Err(format!("'{url}' has an invalid host '{host}'"));
    }
    if port == Some(0) {
        return Err(format!("'{url}' has port 0"));
    }
    Ok(())
}

/// Splits `host[:port]`, `[v6][:port]`. `None` when the port is not a number.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            port => Some((host, Some(port.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((authority, None)),
    }
}

fn parse_max_message_size(value: &Value) -> Result<usize> {
    let size = whole_number(value).ok_or_else(|| wrong_type("maxMessageSize", "an int", value))?;
    usize::try_from(size)
        .ok()
        .filter(|size| (1..=MAX_MESSAGE_SIZE_LIMIT).contains(size))
        .ok_or_else(|| {
            Error::invalid(format!(
                "config key 'maxMessageSize' must be between 1 and {MAX_MESSAGE_SIZE_LIMIT} bytes, got {size}"
            ))
        })
}

fn parse_port(key: &str, value: &Value) -> Result<u16> {
    let port = whole_number(value).ok_or_else(|| wrong_type(key, "an int", value))?;
    u16::try_from(port).map_err(|_| {
        Error::invalid(format!(
            "config key '{key}' must be a port 0..=65535, got {port}"
        ))
    })
}

/// The smallest MTU every IPv6 path carries (RFC 8200); 65535 is the largest UDP datagram.
const MTU_RANGE: std::ops::RangeInclusive<i64> = 1280..=65_535;

fn parse_mtu(key: &str, value: &Value) -> Result<u32> {
    let mtu = whole_number(value).ok_or_else(|| wrong_type(key, "an int", value))?;
    if !MTU_RANGE.contains(&mtu) {
        return Err(Error::invalid(format!(
            "config key '{key}' must be between {} and {} bytes, got {mtu}",
            MTU_RANGE.start(),
            MTU_RANGE.end()
        )));
    }
    Ok(mtu as u32)
}

fn parse_bool(key: &str, value: &Value) -> Result<bool> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        other => Err(wrong_type(key, "a bool", other)),
    }
}

fn parse_transport_policy(value: &Value) -> Result<bool> {
    match value {
        Value::Str(policy) if policy == "all" => Ok(false),
        Value::Str(policy) if policy == "relay" => Ok(true),
        Value::Str(policy) => Err(Error::invalid(format!(
            "config key 'iceTransportPolicy' must be \"all\" or \"relay\", got \"{policy}\""
        ))),
        other => Err(wrong_type("iceTransportPolicy", "a String", other)),
    }
}

fn parse_bind_addresses(value: &Value) -> Result<Vec<SocketAddr>> {
    let items: Vec<&Value> = match value {
        Value::Str(_) => vec![value],
        Value::Array(items) => items.iter().collect(),
        other => {
            return Err(wrong_type(
                "bindAddresses",
                "a String or an Array of Strings",
                other,
            ))
        }
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Str(text) => parse_bind_address(text),
            other => Err(wrong_type("bindAddresses", "Strings", other)),
        })
        .collect()
}

/// `"127.0.0.1"`, `"127.0.0.1:5000"`, `"::1"` or `"[::1]:5000"`. Port 0 or none: any free port.
fn parse_bind_address(text: &str) -> Result<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 0));
    }
    Err(Error::invalid(format!(
        "config key 'bindAddresses': '{text}' is not an IP address or IP:port"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().expect("ip")).collect()
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|addr| addr.parse().expect("addr"))
            .collect()
    }

    #[test]
    fn a_host_with_a_lan_address_binds_the_wildcard_of_its_family_only() {
        let lan = ips(&["127.0.0.1", "::1", "192.168.1.20", "fe80::1"]);
        assert_eq!(default_bind_addresses(&lan), addrs(&["0.0.0.0:0"]));
        let dual = ips(&["127.0.0.1", "10.0.0.2", "2001:db8::2"]);
        assert_eq!(
            default_bind_addresses(&dual),
            addrs(&["0.0.0.0:0", "[::]:0"])
        );
        let v6_only = ips(&["::1", "2001:db8::2", "169.254.3.4"]);
        assert_eq!(default_bind_addresses(&v6_only), addrs(&["[::]:0"]));
    }

    #[test]
    fn an_offline_host_binds_loopback() {
        let offline = ips(&["127.0.0.1", "::1", "fe80::1"]);
        assert_eq!(default_bind_addresses(&offline), addrs(&["127.0.0.1:0"]));
        assert_eq!(default_bind_addresses(&ips(&["::1"])), addrs(&["[::1]:0"]));
        let network = PeerConfig::default().network(&offline);
        assert!(!network.mdns, "nothing to resolve .local names on");
    }

    #[test]
    fn unknown_interfaces_leave_the_choice_to_webrtc_rs() {
        assert_eq!(default_bind_addresses(&[]), addrs(&["0.0.0.0:0", "[::]:0"]));
    }

    #[test]
    fn mdns_follows_the_addresses_bound_unless_set() {
        let lan = ips(&["127.0.0.1", "192.168.1.20"]);
        assert!(PeerConfig::default().network(&lan).mdns);
        let loopback = PeerConfig {
            bind_addresses: addrs(&["127.0.0.1:0", "[::1]:0"]),
            ..PeerConfig::default()
        };
        assert!(!loopback.network(&lan).mdns);
        let forced = PeerConfig {
            mdns: Some(true),
            ..loopback
        };
        assert!(forced.network(&lan).mdns);
        let configured = PeerConfig {
            bind_addresses: addrs(&["10.1.2.3:5000"]),
            ..PeerConfig::default()
        };
        assert_eq!(
            configured.network(&lan).udp_addrs,
            addrs(&["10.1.2.3:5000"])
        );
    }
}
