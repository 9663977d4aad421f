//! The per-channel count of bytes sent but not yet released by SCTP, shareable across threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A channel's outstanding send bytes (see [`RTCDataChannel::outstanding_bytes`]), readable
/// without access to the peer connection.
///
/// The connection updates it as messages are sent and SCTP releases them; a clone obtained
/// from [`RTCDataChannel::outstanding_bytes_counter`] sees every update at once. An
/// application that runs the connection on one thread can so let another thread — a game or
/// UI thread pacing its sends — read the figure without waiting for the thread that owns the
/// connection. After the channel is gone the counter keeps its last value.
///
/// [`RTCDataChannel::outstanding_bytes`]: crate::data_channel::RTCDataChannel::outstanding_bytes
/// [`RTCDataChannel::outstanding_bytes_counter`]: crate::data_channel::RTCDataChannel::outstanding_bytes_counter
#[derive(Debug, Clone, Default)]
pub struct OutstandingBytes(Arc<AtomicUsize>);

impl OutstandingBytes {
    /// The bytes outstanding now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn add(&self, n_bytes: usize) {
        self.0.fetch_add(n_bytes, Ordering::AcqRel);
    }

    /// Subtracts `n_bytes`, stopping at zero.
    pub(crate) fn release(&self, n_bytes: usize) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                Some(now.saturating_sub(n_bytes))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_sees_every_update_and_release_stops_at_zero() {
        let counter = OutstandingBytes::default();
        let reader = counter.clone();
        counter.add(1200);
        assert_eq!(reader.get(), 1200);
        counter.release(200);
        assert_eq!(reader.get(), 1000);
        counter.release(5000);
        assert_eq!(reader.get(), 0);
    }
}
