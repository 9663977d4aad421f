//! A game thread that polls in a loop lends its core to the network threads.
//!
//! The runtime's threads never preempt the game thread ([`crate::runtime`]): a woken worker runs
//! on an idle core, or when the running thread sleeps or its scheduler slice ends. A game sleeps
//! at the end of every frame, so its packets wait at most for the rest of that frame's work. A
//! loop that polls without ever sleeping (a script waiting for a channel to open, a tool
//! exchanging messages as fast as it can) on a machine with no idle core (one core, every core
//! busy, or a VM that packs threads onto few of its cores) would instead leave the worker a slice
//! (milliseconds) for each step it waits on: on one core an echo took 8 ms; with this, 50 µs.
//!
//! Such a loop polls the same connection again within microseconds, which no frame-paced game
//! does: once the polls have come within [`SPIN_GAP`] of each other [`SPIN_STREAK`] times in a
//! row, a poll yields the core first, so a waiting worker runs now; at most once every
//! [`YIELD_INTERVAL`], so that a loop of polls with nothing to wait for stays a loop of ~30 ns
//! calls rather than of system calls. A game that polls a connection twice in a frame (its own
//! call and the multiplayer peer's) never reaches the streak.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Polls closer together than this are a loop, not frames.
const SPIN_GAP: Duration = Duration::from_micros(100);

/// Close polls in a row before the next one yields.
const SPIN_STREAK: u32 = 2;

/// The shortest time between two yields of a loop: a worker waiting for the core waits at most
/// this long, where it waited a scheduler slice (milliseconds).
const YIELD_INTERVAL: Duration = Duration::from_micros(50);

/// One connection's (or channel's) record of its recent polls, kept on the game thread.
#[derive(Debug, Default)]
pub(crate) struct SpinWatch {
    last: Cell<Option<Instant>>,
    streak: Cell<u32>,
    last_yield: Cell<Option<Instant>>,
}

impl SpinWatch {
    /// Called at the start of each poll; yields the core when the polls have become a loop.
    pub(crate) fn on_poll(&self) {
        if self.should_yield(Instant::now()) {
            std::thread::yield_now();
        }
    }

    /// Records a poll at `now` and tells whether it should yield first.
    fn should_yield(&self, now: Instant) -> bool {
        let close = self
            .last
            .replace(Some(now))
            .is_some_and(|last| now.saturating_duration_since(last) < SPIN_GAP);
        let streak = if close {
            self.streak.get().saturating_add(1)
        } else {
            0
        };
        self.streak.set(streak);
        let due = self
            .last_yield
            .get()
            .is_none_or(|last| now.saturating_duration_since(last) >= YIELD_INTERVAL);
        let yields = streak > SPIN_STREAK && due;
        if yields {
            self.last_yield.set(Some(now));
        }
        yields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polls(watch: &SpinWatch, start: Instant, gaps: &[Duration]) -> Vec<bool> {
        let mut at = start;
        gaps.iter()
            .map(|gap| {
                at += *gap;
                watch.should_yield(at)
            })
            .collect()
    }

    #[test]
    fn a_loop_of_polls_yields_from_its_fourth_poll_on_once_per_interval() {
        let watch = SpinWatch::default();
        let step = Duration::from_micros(10);
        let yielded = polls(&watch, Instant::now(), &[step; 16]);
        let at: Vec<usize> = (0..yielded.len()).filter(|&poll| yielded[poll]).collect();
        // The fourth poll (index 3) yields, then every fifth poll: 50 µs apart.
        assert_eq!(at, [3, 8, 13]);
    }

    #[test]
    fn frame_paced_polls_never_yield_even_two_in_a_frame() {
        let watch = SpinWatch::default();
        let frame = Duration::from_micros(16_667);
        let twice_a_frame = [frame, Duration::from_micros(5)].repeat(20);
        assert!(polls(&watch, Instant::now(), &twice_a_frame)
            .iter()
            .all(|yielded| !yielded));
        let three_close_then_a_frame = [
            Duration::from_micros(5),
            Duration::from_micros(5),
            frame,
            Duration::from_micros(5),
        ];
        assert!(polls(
            &watch,
            Instant::now() + frame * 50,
            &three_close_then_a_frame
        )
        .iter()
        .all(|yielded| !yielded));
    }

    #[test]
    fn a_pause_ends_the_loop() {
        let watch = SpinWatch::default();
        let start = Instant::now();
        let mut gaps = vec![Duration::from_micros(1); 4];
        gaps.push(SPIN_GAP);
        gaps.extend([YIELD_INTERVAL; 2]);
        let yielded = polls(&watch, start, &gaps);
        assert!(yielded[3], "the loop yields before the pause");
        assert!(
            !yielded[4] && !yielded[5],
            "and not after it, until the polls are a loop again"
        );
    }
}
