//! webrtc-rs's tokio runtime, tuned for game traffic: bigger UDP buffers, one datagram per
//! receive, coalesced timers, quick timers while a connection sets up, and a watch over the
//! DTLS handshake ([`crate::last_flight`]).
//!
//! Five measured problems, each fixed where webrtc-rs lets a runtime decide:
//! - **Socket buffers.** SCTP lets up to its receive window be in flight, and on a fast path a
//!   whole window lands in the receiving socket at once. Linux's default buffer (208 KiB)
//!   dropped the tail of such bursts and SCTP only recovered on its one-second retransmission
//!   timer: 16 KiB messages crawled at ~5 MB/s on loopback; with 4 MiB buffers they move at
//!   ~60 MB/s. The kernel caps the request at `net.core.rmem_max`/`wmem_max`.
//! - **Receive batching.** With UDP GRO the driver of webrtc-rs 0.21.1 takes in up to 64
//!   receives of up to 64 coalesced datagrams before it hands messages on, but its SCTP layer
//!   passes at most 256 messages per round to the channels and parks the rest. A parked stream
//!   only resumes when the next datagram arrives, and once parked data fills the receive window
//!   a chunk is dropped and waits for the one-second retransmission timer: 1 KiB messages
//!   stalled for ~1 s several times per 64 MiB (17 MB/s median). One datagram per receive keeps
//!   a round at most 65 datagrams, so messages of 1 KiB and up never park; it also shrinks the
//!   driver's two receive buffers from 96 KiB to 2 KB per connection.
//! - **Idle wake-ups.** A connected peer's driver wakes every 200 ms for ICE (a fixed interval
//!   in webrtc-rs) plus its other timers, each at its own moment. Once a connection is up, its
//!   timers of 20 ms or more end on a shared 200 ms grid instead, so idle connections wake
//!   together, the worker threads park once for all of them, and the ICE tick runs every 400 ms:
//!   64 idle peers went from ~3.0 % to ~0.8 % of a core. Nothing fires early and nothing more
//!   than 200 ms late. Only idle connections are coalesced: for a second after a datagram was
//!   sent or received timers stay exact, so SCTP's 20 ms delayed acknowledgement and its
//!   retransmission timer (200 ms minimum, [`crate::config`]) repair losses on time. Before the
//!   connection is up timers stay exact too, so no handshake retransmission waits for the grid.
//! - **Set-up steps waiting for a timer.** webrtc-rs leaves some set-up work queued until its
//!   driver next handles a timeout: the first connectivity check after a remote candidate
//!   arrives, the DTLS ClientHello once ICE connects, the SCTP INIT once DTLS is done. Each
//!   waited for the next ICE tick (5 ms while connecting, 200 ms after). While a connection's
//!   [`SetupWindow`] is open its driver wakes at least every millisecond, which handles the
//!   queued step at once: loopback `new()` to channel open went from ~14.5 to ~9 ms. The window
//!   closes 20 ms after the connection is up, or a second after the last set-up step (a
//!   description applied, ICE connected), so a connection that never comes up costs no more.
//! - **Handshakes stalled by one loss.** rtc-dtls neither answers the peer's repeated flight nor
//!   keeps its own retransmission timer once one arrives: 14 of 144 opens through 10 % loss
//!   never completed. Each socket shows its datagrams to a [`LastFlight`], which holds such
//!   repeats (and duplicates) back from the stack and resends our flight in its place; none of
//!   720 opens through 10 % loss failed since. Once the handshake is over this costs one atomic
//!   load per datagram.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

use crate::last_flight::{Flight, LastFlight, Verdict};
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime,
    TokioRuntime, Transmit,
};

/// Requested send and receive buffer per UDP socket.
const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// Timers shorter than this keep their exact deadline.
const COALESCE_FROM: Duration = Duration::from_millis(20);

/// Longer timers end on a multiple of this, counted from [`GRID_EPOCH`].
const TIMER_GRID: Duration = Duration::from_millis(200);

/// The origin of the timer grid, shared by every connection of the process.
static GRID_EPOCH: Lazy<Instant> = Lazy::new(Instant::now);

/// How often a setting-up connection's driver wakes at least.
const SETUP_TICK: Duration = Duration::from_millis(1);

/// How long after its last datagram a connection still counts as busy (exact timers).
const BUSY_FOR: Duration = Duration::from_secs(1);

/// The runtime a peer connection is built with; `setup` is that connection's own window.
pub(crate) fn webrtc_runtime(setup: Arc<SetupWindow>) -> Arc<dyn Runtime> {
    Arc::new(TunedRuntime {
        tokio: TokioRuntime,
        setup,
    })
}

/// One connection's set-up and traffic, as its timers see it: a span during which they tick
/// every [`SETUP_TICK`], opened when a set-up step starts; whether the connection has come up;
/// and until when it is busy (only an idle connection that is up has its timers coalesced).
#[derive(Debug, Default)]
pub(crate) struct SetupWindow {
    /// End of the window, in nanoseconds after [`GRID_EPOCH`]; 0 is closed.
    until: AtomicU64,
    connected: AtomicBool,
    /// [`BUSY_FOR`] after the last datagram, in nanoseconds after [`GRID_EPOCH`].
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

    /// A datagram was sent or received: timers stay exact for [`BUSY_FOR`].
    fn mark_busy(&self) {
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
    fn deadline(&self, now: Instant, duration: Duration) -> Instant {
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

/// Delegates to [`TokioRuntime`], adjusting sockets and timers as the module docs explain.
#[derive(Debug)]
struct TunedRuntime {
    tokio: TokioRuntime,
    setup: Arc<SetupWindow>,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Runtime for TunedRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) -> Box<dyn JoinHandle> {
        self.tokio.spawn(future)
    }

    fn spawn_reactor(
        &self,
        pool_size: usize,
        future: BoxFuture<'static, ()>,
    ) -> Box<dyn JoinHandle> {
        self.tokio.spawn_reactor(pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let tuned = socket2::SockRef::from(&socket);
        // Best effort: a smaller buffer still works, only more slowly under bursts.
        if let Err(err) = tuned.set_recv_buffer_size(SOCKET_BUFFER_BYTES) {
            log::debug!("cannot enlarge the UDP receive buffer: {err}");
        }
        if let Err(err) = tuned.set_send_buffer_size(SOCKET_BUFFER_BYTES) {
            log::debug!("cannot enlarge the UDP send buffer: {err}");
        }
        // The same socket under a second descriptor: the wrapped one is moved away below, GRO
        // can only be switched off after the wrapper switched it on, and the handshake watch
        // resends through it.
        let same_socket = socket.try_clone()?;
        let inner = self.tokio.wrap_udp_socket(socket)?;
        let gro_segments = if inner.max_gro_segments() > 1 && disable_gro(&same_socket) {
            1
        } else {
            inner.max_gro_segments()
        };
        Ok(Arc::new(TunedSocket {
            inner,
            gro_segments,
            handshake: HandshakeWatch::new(same_socket),
            traffic: Arc::clone(&self.setup),
        }))
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.tokio.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> BoxFuture<'a, io::Result<Arc<dyn AsyncTcpStream>>> {
        self.tokio.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(crate::resolver::resolve(host))
    }

    fn now(&self) -> Instant {
        self.tokio.now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let deadline = self.setup.deadline(Instant::now(), duration);
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.tokio.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.tokio.block_on(future);
    }

    fn yield_now(&self) -> BoxFuture<'static, ()> {
        self.tokio.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio (tuned sockets and timers)"
    }
}

/// Turns UDP GRO off. Returns whether it is off, so a socket it stays on for keeps the
/// coalescing buffers it needs.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn disable_gro(socket: &std::net::UdpSocket) -> bool {
    use std::os::fd::AsRawFd;
    let off: libc::c_int = 0;
    // SAFETY: the descriptor is open for the duration of the call, and the option value is a
    // c_int whose size is passed with it.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            libc::UDP_GRO,
            std::ptr::from_ref(&off).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    result == 0
}

/// quinn-udp leaves Windows' receive coalescing (URO) off unless asked (it misbehaved, quinn
/// issue 2041), so each receive already carries one datagram.
#[cfg(windows)]
fn disable_gro(_socket: &std::net::UdpSocket) -> bool {
    true
}

#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
fn disable_gro(_socket: &std::net::UdpSocket) -> bool {
    false
}

/// The wrapped socket, reporting the GRO it was left with, showing handshake datagrams to
/// its [`HandshakeWatch`] and marking its connection busy while datagrams move.
#[derive(Debug)]
struct TunedSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    gro_segments: usize,
    handshake: HandshakeWatch,
    traffic: Arc<SetupWindow>,
}

impl AsyncUdpSocket for TunedSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        let result = self.inner.poll_send(cx, transmit);
        if matches!(result, Poll::Ready(Ok(_))) {
            self.traffic.mark_busy();
            self.handshake.on_send(transmit);
        }
        result
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        loop {
            let count = match self.inner.poll_recv(cx, bufs, meta) {
                Poll::Ready(Ok(count)) => count,
                other => return other,
            };
            if count > 0 {
                self.traffic.mark_busy();
            }
            let kept = self.handshake.on_receive(bufs, meta, count);
            // A batch made only of held-back repeats is not an answer: receive again.
            if kept > 0 || count == 0 {
                return Poll::Ready(Ok(kept));
            }
        }
    }

    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        self.gro_segments
    }
}

/// One socket's [`LastFlight`] and the descriptor it resends through. Both are dropped when the
/// handshake is over, after which a datagram costs one atomic load here.
#[derive(Debug)]
struct HandshakeWatch {
    finished: AtomicBool,
    state: Mutex<Option<(LastFlight, std::net::UdpSocket)>>,
}

impl HandshakeWatch {
    fn new(socket: std::net::UdpSocket) -> Self {
        Self {
            finished: AtomicBool::new(false),
            state: Mutex::new(Some((LastFlight::default(), socket))),
        }
    }

    /// Runs `step` while the handshake is on, and ends the watch once it is over.
    fn watch<T>(
        &self,
        idle: T,
        step: impl FnOnce(&mut LastFlight, &std::net::UdpSocket) -> T,
    ) -> T {
        if self.finished.load(Ordering::Acquire) {
            return idle;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((flight, socket)) = state.as_mut() else {
            return idle;
        };
        let result = step(flight, socket);
        if flight.is_finished() {
            *state = None;
            self.finished.store(true, Ordering::Release);
        }
        result
    }

    fn on_send(&self, transmit: &Transmit<'_>) {
        let segment = transmit.segment_size.unwrap_or(transmit.contents.len());
        self.watch((), |flight, _| {
            for datagram in transmit.contents.chunks(segment.max(1)) {
                flight.on_send(transmit.destination, datagram);
            }
        });
    }

    /// Shows the watch the first `count` received messages and returns how many are left for
    /// the stack. webrtc-rs receives one datagram per call, so every datagram the watch holds
    /// can be held back; in a longer batch only the last one can without moving the others,
    /// and earlier ones are delivered (as they would be without the watch).
    fn on_receive(&self, bufs: &[io::IoSliceMut<'_>], meta: &[RecvMeta], count: usize) -> usize {
        self.watch(count, |flight, socket| {
            let now = Instant::now();
            let mut kept = count;
            for (index, (buf, meta)) in bufs.iter().zip(meta).take(count).enumerate() {
                let received = buf.get(..meta.len).unwrap_or_default();
                // With GRO left on, one message holds several datagrams: watch, never hold.
                let single = meta.stride >= meta.len;
                for datagram in received.chunks(meta.stride.max(1)) {
                    let hold = match flight.on_receive(now, datagram) {
                        Verdict::Deliver => false,
                        Verdict::Hold => true,
                        Verdict::Answer(ours) => {
                            resend(socket, ours);
                            true
                        }
                    };
                    if hold && single && index + 1 == count {
                        kept -= 1;
                    }
                }
            }
            kept
        })
    }
}

/// Sends our flight again, best effort like the datagrams it replaces.
fn resend(socket: &std::net::UdpSocket, flight: &Flight) {
    for (to, bytes) in flight {
        if let Err(err) = socket.send_to(bytes, to) {
            log::debug!("resending a handshake datagram to {to} failed: {err}");
        }
    }
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

    #[test]
    fn receives_carry_one_datagram_each() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_nonblocking(true).expect("nonblocking");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _entered = runtime.enter();
        let runtime = TunedRuntime {
            tokio: TokioRuntime,
            setup: Arc::default(),
        };
        let wrapped = runtime.wrap_udp_socket(socket).expect("wrap");
        assert_eq!(wrapped.max_gro_segments(), 1);
    }
}
