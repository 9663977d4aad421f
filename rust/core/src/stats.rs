//! `get_stats()`: what a game shows in its HUD (ping, traffic, how the peer is reached), taken
//! from webrtc-rs's W3C statistics report and reduced to the few figures a game uses.
//!
//! The binding turns [`ConnectionStats`] into a Dictionary; the shapes and names here are the
//! ones GDScript sees (W3C names in snake_case).

use rtc::peer_connection::transport::RTCIceCandidateType;
use webrtc::peer_connection::{RTCStatsReport, RTCStatsReportEntry};

use crate::options::UNSET;
use crate::state::ChannelState;

/// One connection's figures. Before the connection is built, everything is zero and empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionStats {
    /// The selected candidate pair's latest round trip, in seconds; 0.0 until measured.
    pub round_trip_time: f64,
    /// The transport's totals: every DTLS packet, handshake and SCTP control included.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub packets_sent: u64,
    pub packets_received: u64,
    /// The selected pair's ends, once ICE has selected one.
    pub local_candidate: Option<CandidateStats>,
    pub remote_candidate: Option<CandidateStats>,
    /// Every channel the game can still hold, in creation order.
    pub data_channels: Vec<ChannelStats>,
}

/// One end of the selected candidate pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateStats {
    /// `"host"`, `"srflx"`, `"prflx"` or `"relay"`.
    pub kind: &'static str,
    pub address: String,
    pub port: u16,
    /// `"udp"` or `"tcp"`.
    pub protocol: String,
}

/// One data channel, as the game knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStats {
    pub label: String,
    /// The SCTP stream id; 65535 until the transport assigns one, as `get_id()` reports it.
    pub id: i32,
    pub state: ChannelState,
    /// Payload bytes and whole messages, as the application sent and received them.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
    /// Bytes handed to `put_packet()` that the peer has not acknowledged yet.
    pub buffered_amount: u64,
}

/// What the connection itself knows of one of its channels.
pub(crate) struct ChannelSnapshot {
    pub label: String,
    pub id: Option<u16>,
    pub state: ChannelState,
    pub buffered_amount: u64,
}

/// Picks the selected pair and the channels' counters out of a webrtc-rs report.
pub(crate) fn collect(report: &RTCStatsReport, channels: Vec<ChannelSnapshot>) -> ConnectionStats {
    let mut stats = ConnectionStats::default();
    let mut selected_pair = None;
    if let Some(transport) = report.transport() {
        stats.bytes_sent = transport.bytes_sent;
        stats.bytes_received = transport.bytes_received;
        stats.packets_sent = transport.packets_sent;
        stats.packets_received = transport.packets_received;
        selected_pair = Some(transport.selected_candidate_pair_id.as_str());
    }
    let pair = report.candidate_pairs().find(|pair| {
        selected_pair.map_or(pair.nominated, |id| !id.is_empty() && pair.stats.id == id)
    });
    if let Some(pair) = pair {
        stats.round_trip_time = pair.current_round_trip_time.max(0.0);
        stats.local_candidate =
            candidate(report, "RTCLocalIceCandidate_", &pair.local_candidate_id);
        stats.remote_candidate =
            candidate(report, "RTCRemoteIceCandidate_", &pair.remote_candidate_id);
    }
    stats.data_channels = channels
        .into_iter()
        .map(|channel| {
            // A stream id freed by a closed channel can be reused; the newest entry is ours.
            let counters = channel.id.and_then(|id| {
                report
                    .data_channels()
                    .filter(|dc| dc.data_channel_identifier == id && dc.label == channel.label)
                    .last()
            });
            ChannelStats {
                id: channel.id.map_or(UNSET, i32::from),
                state: channel.state,
                bytes_sent: counters.map_or(0, |dc| dc.bytes_sent),
                bytes_received: counters.map_or(0, |dc| dc.bytes_received),
                messages_sent: counters.map_or(0, |dc| u64::from(dc.messages_sent)),
                messages_received: counters.map_or(0, |dc| u64::from(dc.messages_received)),
                buffered_amount: channel.buffered_amount,
                label: channel.label,
            }
        })
        .collect();
    stats
}

/// The candidate a pair names. webrtc-rs 0.21.1: the pair names it by the candidate's own id
/// while the report keys it with a type prefix (`RTCLocalIceCandidate_<id>`); both are tried.
/// Shown by `stats_show_the_pair_the_traffic_and_each_channel` in tests/stats.rs.
fn candidate(report: &RTCStatsReport, prefix: &str, id: &str) -> Option<CandidateStats> {
    let entry = report
        .get(id)
        .or_else(|| report.get(&format!("{prefix}{id}")))?;
    let found = match entry {
        RTCStatsReportEntry::LocalCandidate(found)
        | RTCStatsReportEntry::RemoteCandidate(found) => found,
        _ => return None,
    };
    let kind = match found.candidate_type {
        RTCIceCandidateType::Host => "host",
        RTCIceCandidateType::Srflx => "srflx",
        RTCIceCandidateType::Prflx => "prflx",
        RTCIceCandidateType::Relay => "relay",
        _ => return None,
    };
    Some(CandidateStats {
        kind,
        address: found.address.clone().unwrap_or_default(),
        port: found.port,
        protocol: found.protocol.clone(),
    })
}
