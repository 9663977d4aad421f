//! When a connection's driver timers fire: quick while it sets up, exact while it has traffic,
//! and on one shared grid once it is up and idle. webrtc-rs asks its runtime for every sleep,
//! and [`crate::sockets`] routes them here. The figures behind each rule are in
//! `tests/bench/results/PROFILES.md` ("Sockets, timers and set-up").
//!
//! - webrtc-rs 0.21.1: a connected driver wakes for each of its timers (ICE's consent checks
//!   and SCTP's) at its own moment, so idle connections woke the worker threads one after
//!   another. Once a connection is up and idle, its timers of 20 ms or more end on a grid shared
//!   by the whole process, so idle connections wake together; nothing fires early. A connection
//!   that sent or received DTLS (which carries SCTP) in the last second keeps exact timers, so
//!   SCTP's delayed acknowledgement and retransmission timer repair losses on time, and so does
//!   one that is not up yet. ICE's keepalives (STUN) leave an idle connection idle.
//! - webrtc-rs 0.21.1: some set-up steps stay queued until the driver next handles a timeout
//!   (the first connectivity check after a remote candidate, the DTLS ClientHello once ICE
//!   connects, the SCTP INIT once DTLS is done), i.e. the next ICE tick. While a connection's
//!   [`SetupWindow`] is open its driver wakes at least every millisecond, which runs each step
//!   at once. The window closes shortly after the connection is up, or a second after the last
//!   set-up step, so a connection that never comes up costs no more.
//!
//! Shown by the tests below, the idle-CPU and time-to-open benchmarks, and the loss tests.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

/// Timers shorter than this keep their exact deadline.
const COALESCE_FROM: Duration = Duration::from_millis(20);

/// Longer timers end on a multiple of this, counted from [`GRID_EPOCH`].
const TIMER_GRID: Duration = Duration::from_millis(200);

/// The origin of the timer grid, shared by every connection of the process.
static GRID_EPOCH: Lazy<Instant> = Lazy::new(Instant::now);

/// How often a setting-up connection's driver wakes at least.
const SETUP_TICK: Duration = Duration::from_millis(1);

/// How long after its last DTLS datagram a connection still counts as busy (exact timers).
const BUSY_FOR: Duration = Duration::from_secs(1);

/// One connection's set-up and traffic, as its timers see it: a span during which they tick
/// every [`SETUP_TICK`], opened when a set-up step starts; whether the connection has come up;
/// and until when it is busy (only an idle connection that is up has its timers coalesced).
#[derive(Debug, Default)]
pub(crate) struct SetupWindow {
    /// End of the window, in nanoseconds after [`GRID_EPOCH`]; 0 is closed.
    until: AtomicU64,
    connected: AtomicBool,
    /// [`BUSY_FOR`] after the last DTLS datagram, in nanoseconds after [`GRID_EPOCH`].
    busy_until: AtomicU64,
}

impl SetupWindow {
    /// Keeps the window open for `span` from now (replacing any earlier end).
    pub(crate) fn open_for(&self, span: Duration) {
        self.until
            .store(nanos_since_epoch(Instant::now() + span), Ordering::Release);
    }

    pub(crate) fn close(&self) {
        self.until.store(0, Ordering::Release);
    }

    /// The connection is up: from now on its long timers may move onto the grid.
    pub(crate) fn mark_connected(&self) {
        self.connected.store(true, Ordering::Release);
    }

    fn is_open(&self) -> bool {
        nanos_since_epoch(Instant::now()) < self.until.load(Ordering::Acquire)
    }

    /// A DTLS datagram was sent or received: timers stay exact for [`BUSY_FOR`].
    pub(crate) fn mark_busy(&self) {
        self.busy_until.store(
            nanos_since_epoch(Instant::now() + BUSY_FOR),
            Ordering::Relaxed,
        );
    }

    fn is_busy(&self, now: Instant) -> bool {
        nanos_since_epoch(now) < self.busy_until.load(Ordering::Relaxed)
    }

    /// When this connection's timer of `duration`, started at `now`, fires: within
    /// [`SETUP_TICK`] while the window is open, on the shared grid once the connection is up
    /// and idle, exactly otherwise.
    pub(crate) fn deadline(&self, now: Instant, duration: Duration) -> Instant {
        if self.is_open() {
            now + duration.min(SETUP_TICK)
        } else if self.connected.load(Ordering::Acquire) && !self.is_busy(now) {
            coalesced_deadline(now, duration)
        } else {
            now + duration
        }
    }
}

fn nanos_since_epoch(at: Instant) -> u64 {
    at.checked_duration_since(*GRID_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    })
}

/// When a timer of `duration` started at `now` fires: exactly at `now + duration` when it is
/// short, otherwise at the next [`TIMER_GRID`] boundary at or after that instant.
fn coalesced_deadline(now: Instant, duration: Duration) -> Instant {
    let deadline = now + duration;
    if duration < COALESCE_FROM {
        return deadline;
    }
    let epoch = *GRID_EPOCH;
    let Some(since) = deadline.checked_duration_since(epoch) else {
        return deadline;
    };
    let grid = TIMER_GRID.as_nanos();
    let slots = since.as_nanos().div_ceil(grid);
    let rounded = u64::try_from(slots * grid).map(Duration::from_nanos);
    rounded.map_or(deadline, |offset| epoch + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_timers_keep_their_deadline() {
        let now = Instant::now();
        for ms in [0, 1, 5, 19] {
            let duration = Duration::from_millis(ms);
            assert_eq!(coalesced_deadline(now, duration), now + duration);
        }
    }

    #[test]
    fn long_timers_end_on_the_shared_grid_never_early() {
        let epoch = *GRID_EPOCH;
        for (start_ms, duration_ms) in [(0, 200), (3, 200), (250, 37), (999, 1000), (7, 20)] {
            let now = epoch + Duration::from_millis(start_ms);
            let duration = Duration::from_millis(duration_ms);
            let deadline = coalesced_deadline(now, duration);
            let offset = deadline.duration_since(epoch);
            assert_eq!(
                offset.as_nanos() % TIMER_GRID.as_nanos(),
                0,
                "{deadline:?} off grid"
            );
            assert!(deadline >= now + duration, "fired early");
            assert!(
                deadline < now + duration + TIMER_GRID,
                "late by a grid step or more"
            );
        }
    }

    #[test]
    fn timers_started_apart_fire_together() {
        let epoch = *GRID_EPOCH;
        let tick = Duration::from_millis(200);
        let a = coalesced_deadline(epoch + Duration::from_millis(1010), tick);
        let b = coalesced_deadline(epoch + Duration::from_millis(1090), tick);
        assert_eq!(a, b);
    }

    #[test]
    fn a_setup_window_opens_for_its_span_and_closes() {
        let window = SetupWindow::default();
        assert!(!window.is_open(), "closed until opened");
        window.open_for(Duration::from_secs(60));
        assert!(window.is_open());
        window.close();
        assert!(!window.is_open());
        window.open_for(Duration::ZERO);
        assert!(!window.is_open(), "an elapsed span is closed");
    }

    #[test]
    fn a_busy_connection_keeps_exact_timers_until_it_has_been_idle_for_a_while() {
        let window = SetupWindow::default();
        window.mark_connected();
        let ack_delay = Duration::from_millis(20);
        window.mark_busy();
        let now = Instant::now();
        assert_eq!(
            window.deadline(now, ack_delay),
            now + ack_delay,
            "busy: exact"
        );
        let later = now + BUSY_FOR + Duration::from_millis(1);
        assert_eq!(
            window.deadline(later, ack_delay),
            coalesced_deadline(later, ack_delay),
            "idle: on the grid"
        );
    }

    #[test]
    fn timers_stay_exact_until_the_connection_is_up_then_join_the_grid() {
        let setup = SetupWindow::default();
        let now = *GRID_EPOCH + Duration::from_millis(1010);
        let second = Duration::from_secs(1);
        assert_eq!(
            setup.deadline(now, second),
            now + second,
            "handshake timers are exact"
        );
        setup.open_for(Duration::from_secs(60));
        assert_eq!(
            setup.deadline(now, second),
            now + SETUP_TICK,
            "quick while setting up"
        );
        setup.close();
        setup.mark_connected();
        assert_eq!(setup.deadline(now, second), coalesced_deadline(now, second));
        assert_ne!(
            setup.deadline(now, second),
            now + second,
            "on the grid once connected"
        );
    }
}
