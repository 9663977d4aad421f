//! The Godot-free core of the plugin.
//!
//! How the pieces fit:
//! - [`runtime`]: one shared tokio runtime (one or two workers) runs every connection; `sockets`
//!   gives webrtc-rs that runtime with its sockets tuned for game traffic, `timers` decides when
//!   the driver's sleeps end, and `last_flight` answers repeated DTLS handshake flights that
//!   rtc-dtls leaves unanswered. Its threads never preempt the game's; `spin` lends them the
//!   core when the game polls in a loop; `send_buffers` takes the game's large sends back to it,
//!   and `doorbell` wakes the sender tasks without the game thread touching the runtime's locks.
//! - [`peer::Peer`] and [`channel::Channel`] mirror Godot's `WebRTCPeerConnection` and
//!   `WebRTCDataChannel` virtuals with synchronous methods. Network threads never call them
//!   back: they update lock-free [`state`] cells and push [`peer::PeerEvent`]s, which the game
//!   thread drains in `poll()`.
//! - [`config`] and [`options`] validate the user's dictionaries (as [`value::Value`] trees)
//!   and hold every Godot naming quirk; [`candidate`] does the same for candidate strings.
//! - [`stats`] reduces webrtc-rs's statistics report to what `get_stats()` returns.
//! - [`logging`] forwards webrtc-rs's log records, and panics on network threads, to the host.
//!
//! Workarounds for webrtc-rs itself are marked `webrtc-rs 0.21.1:` with why and the test that
//! shows them, and listed in `third_party/webrtc-rs/PATCHES.md` beside the patches.
//!
//! Every fallible call returns [`Error`], which the binding maps to a Godot `Error` code.

mod candidate;
pub mod channel;
pub mod config;
mod doorbell;
pub mod error;
mod last_flight;
pub mod logging;
pub mod options;
pub mod peer;
mod ports;
mod resolver;
pub mod runtime;
mod send_buffers;
mod sockets;
mod spin;
pub mod state;
pub mod stats;
mod sync;
mod timers;
pub mod value;

pub use channel::{Channel, ChannelInfo, WriteMode};
pub use config::PeerConfig;
pub use error::{Error, Result};
pub use options::ChannelOptions;
pub use peer::{Peer, PeerEvent, SdpKind};
pub use state::{ChannelState, ConnectionState, GatheringState, SignalingState};
pub use stats::{CandidateStats, ChannelStats, ConnectionStats};
pub use value::Value;

/// Log levels as the [`logging`] sink receives them.
pub use log::Level as LogLevel;
