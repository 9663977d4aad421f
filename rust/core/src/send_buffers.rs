//! Buffers for the game's large sends, which go back to the game thread that allocated them.
//!
//! `put_packet()` copies the message into memory the game thread allocates, so it comes from
//! the allocator's pool for that thread (glibc's main arena, which the engine uses too). Freeing
//! memory takes the lock of the pool it came from. When the network thread freed the game's
//! messages once the peer had acknowledged them, the engine's own allocations on the game thread
//! waited for that lock, for milliseconds when the network thread lost its core while holding
//! it (PROFILES.md, "Allocator locks on the game thread").
//!
//! So a message over [`LENT_ABOVE`] bytes travels in a buffer the game thread keeps: the
//! channel's sender task copies it into memory of its own for webrtc-rs, which holds that until
//! the peer acknowledges it, and gives the game's buffer back for the next send. Smaller
//! messages do not need this: glibc frees them across threads through per-thread caches,
//! without the lock.

use std::sync::{Arc, Mutex};

use crate::sync::lock;

/// Messages larger than this are sent through a [`SendBuffers`] buffer (glibc's per-thread
/// cache takes freed blocks up to 1032 bytes).
pub(crate) const LENT_ABOVE: usize = 1024;

/// The game thread keeps at most this many bytes of buffers for later sends; it frees the rest
/// itself.
const SPARE_MAX_BYTES: usize = 1024 * 1024;

/// Buffers the sender task has finished with, on their way back to the game thread.
#[derive(Default)]
pub(crate) struct Returned(Mutex<Vec<Vec<u8>>>);

impl Returned {
    /// Called by the sender task once it no longer needs `buffer`.
    pub(crate) fn give_back(&self, buffer: Vec<u8>) {
        lock(&self.0).push(buffer);
    }
}

/// The game thread's side: buffers to fill for the next large sends.
#[derive(Default)]
pub(crate) struct SendBuffers {
    spare: Vec<Vec<u8>>,
    returned: Arc<Returned>,
}

impl SendBuffers {
    /// Where the sender task gives buffers back.
    pub(crate) fn returns(&self) -> Arc<Returned> {
        self.returned.clone()
    }

    /// A buffer holding a copy of `data`: one given back if one is large enough, else a new one.
    pub(crate) fn filled(&mut self, data: &[u8]) -> Vec<u8> {
        let fitting = |spare: &[Vec<u8>]| {
            spare
                .iter()
                .rposition(|buffer| buffer.capacity() >= data.len())
        };
        let mut fits = fitting(&self.spare);
        if fits.is_none() {
            // None of the spares is large enough: free them here, and take those given back
            // since. Swapping keeps both lists' storage, so neither thread grows a list the
            // other allocated once they have settled.
            self.spare.clear();
            std::mem::swap(&mut self.spare, &mut lock(&self.returned.0));
            self.trim();
            fits = fitting(&self.spare);
        }
        let mut buffer = match fits {
            Some(fits) => self.spare.swap_remove(fits),
            None => Vec::with_capacity(data.len()),
        };
        buffer.clear();
        buffer.extend_from_slice(data);
        buffer
    }

    /// Buffers held for later sends, here and on their way back.
    pub(crate) fn held(&self) -> usize {
        self.spare.len() + lock(&self.returned.0).len()
    }

    /// Frees, here on the game thread, what is over [`SPARE_MAX_BYTES`].
    fn trim(&mut self) {
        let mut kept = 0;
        self.spare.retain(|buffer| {
            kept += buffer.capacity();
            kept <= SPARE_MAX_BYTES
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_carries_the_next_send() {
        let mut buffers = SendBuffers::default();
        let first = buffers.filled(&[1; 2000]);
        let address = first.as_ptr();
        buffers.returns().give_back(first);

        let second = buffers.filled(&[2; 1500]);
        assert_eq!(
            second.as_ptr(),
            address,
            "the same memory, not a new allocation"
        );
        assert_eq!(second, vec![2; 1500], "holding only the new message");
    }

    #[test]
    fn a_buffer_too_small_is_not_used() {
        let mut buffers = SendBuffers::default();
        buffers.returns().give_back(Vec::with_capacity(1500));
        buffers.returns().give_back(Vec::with_capacity(5000));
        let sent = buffers.filled(&[3; 4000]);
        assert_eq!((sent.len(), sent.capacity()), (4000, 5000));
        let small = buffers.filled(&[4; 1200]);
        assert_eq!(
            small.capacity(),
            1500,
            "the small one carries a small message"
        );
    }

    #[test]
    fn spares_too_small_do_not_hold_back_the_buffers_given_back() {
        let mut buffers = SendBuffers::default();
        buffers.returns().give_back(Vec::with_capacity(1500));
        buffers.returns().give_back(Vec::with_capacity(1500));
        let _ = buffers.filled(&[5; 1100]);
        for _ in 0..10 {
            let large = buffers.filled(&[6; 16 * 1024]);
            buffers.returns().give_back(large);
        }
        assert_eq!(
            buffers.held(),
            1,
            "one 16 KiB buffer, reused; the small one freed"
        );
    }

    #[test]
    fn the_game_thread_keeps_at_most_a_mebibyte_of_spares() {
        let mut buffers = SendBuffers::default();
        for _ in 0..100 {
            buffers.returns().give_back(Vec::with_capacity(16 * 1024));
        }
        let sent = buffers.filled(&[5; 16 * 1024]);
        let kept: usize = buffers.spare.iter().map(Vec::capacity).sum();
        assert_eq!(
            kept + sent.capacity(),
            SPARE_MAX_BYTES,
            "64 buffers of 16 KiB kept, the other 36 freed"
        );
        assert!(lock(&buffers.returned.0).is_empty());
    }
}
