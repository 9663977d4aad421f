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
use crate::value::{entries, Value};

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
    /// `bindAddresses`: where ICE may open sockets. Empty means every interface.
    pub bind_addresses: Vec<SocketAddr>,
    /// `mdns`: resolve browsers' `.local` host candidates over multicast DNS.
    /// `None` means the default: on, unless every bind address is loopback.
    pub mdns: Option<bool>,
    /// `maxMessageSize`: the largest message this connection sends or accepts, in bytes.
    pub max_message_size: usize,
    /// Keys that were ignored, reported in verbose output.
    pub ignored_keys: Vec<String>,
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
            ignored_keys: Vec::new(),
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
                other => config.ignored_keys.push(other.to_owned()),
            }
        }
        Ok(config)
    }

    /// Whether mDNS queries for `.local` candidates are allowed.
    pub fn mdns_enabled(&self) -> bool {
        self.mdns.unwrap_or_else(|| {
            self.bind_addresses.is_empty()
                || !self
                    .bind_addresses
                    .iter()
                    .all(|addr| addr.ip().is_loopback())
        })
    }

    /// The addresses handed to webrtc-rs to bind UDP sockets on.
    pub(crate) fn udp_addrs(&self) -> Vec<SocketAddr> {
        if self.bind_addresses.is_empty() {
            vec![
                SocketAddr::from(([0, 0, 0, 0], 0)),
                SocketAddr::from(([0u16; 8], 0)),
            ]
        } else {
            self.bind_addresses.clone()
        }
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

    pub(crate) fn setting_engine(&self) -> SettingEngine {
        let mdns = if self.mdns_enabled() {
            MulticastDnsMode::QueryOnly
        } else {
            MulticastDnsMode::Disabled
        };
        let loopback = self
            .bind_addresses
            .iter()
            .any(|addr| addr.ip().is_loopback());
        SettingEngineBuilder::new()
            // A peer-reflexive pair is found when the remote's checks arrive before its trickled
            // candidates, which is the normal order with trickle ICE. webrtc-rs then waits a full
            // second before accepting it; a check that succeeded is proof enough.
            .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
            .with_host_acceptance_min_wait(Some(Duration::ZERO))
            // The agent only acts on its timer tick, and set-up waits for a few ticks: the
            // 200 ms default made loopback open in ~450 ms, 20 ms ticks in ~48 ms, 5 ms ticks
            // in ~9-19 ms. 280 attempts keep the default 1.4 s budget per candidate pair. The
            // tick only runs while checking: idle CPU of connected peers did not change.
            .with_ice_connection_attempts(Some(Duration::from_millis(5)), Some(280))
            // A silent path is reported DISCONNECTED after 3 s and FAILED 5 s later.
            .with_ice_timeouts(
                Some(Duration::from_secs(3)),
                Some(Duration::from_secs(5)),
                Some(Duration::from_secs(1)),
            )
            .with_multicast_dns_mode(mdns)
            .with_include_loopback_candidate(loopback)
            .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(self.max_message_size as u32))
            .build()
    }
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
    let Value::Int(size) = value else {
        return Err(wrong_type("maxMessageSize", "an int", value));
    };
    usize::try_from(*size)
        .ok()
        .filter(|size| (1..=MAX_MESSAGE_SIZE_LIMIT).contains(size))
        .ok_or_else(|| {
            Error::invalid(format!(
                "config key 'maxMessageSize' must be between 1 and {MAX_MESSAGE_SIZE_LIMIT} bytes, got {size}"
            ))
        })
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
