//! The knobs that keep the server safe to expose publicly.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest text message accepted; an SDP blob is a few KiB.
    pub max_message_bytes: usize,
    pub max_lobby_peers: usize,
    pub max_lobbies: usize,
    pub max_connections: usize,
    /// Sustained messages per second per connection...
    pub messages_per_second: u32,
    /// ...with bursts up to this many (a connection set-up sends a burst of candidates).
    pub message_burst: u32,
    /// A connection that sends nothing (not even a ping) for this long is closed.
    pub idle_timeout: Duration,
    /// How long a sealed lobby stays open for the peers already in it.
    pub seal_grace: Duration,
    /// Messages queued for one client before it is considered stuck and cut off.
    pub outbox_capacity: usize,
    /// How long a player's seat waits for it to `resume` after its WebSocket dropped (zero:
    /// a drop is leaving). Meanwhile the others see no `peer_left`.
    pub resume_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            max_lobby_peers: 16,
            max_lobbies: 1_000,
            max_connections: 10_000,
            messages_per_second: 50,
            message_burst: 200,
            idle_timeout: Duration::from_secs(60),
            seal_grace: Duration::from_secs(10),
            outbox_capacity: 256,
            resume_grace: Duration::from_secs(30),
        }
    }
}
