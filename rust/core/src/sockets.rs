//! webrtc-rs's tokio runtime, tuned for game traffic: bigger UDP buffers, one datagram per
//! receive, the driver's sleeps timed by [`crate::timers`], and a watch over the DTLS handshake
//! ([`crate::last_flight`]). Each is a workaround for webrtc-rs 0.21.1, done where webrtc-rs lets
//! a runtime decide; the figures behind each are in `tests/bench/results/PROFILES.md`
//! ("Sockets, timers and set-up").
//!
//! - webrtc-rs 0.21.1: SCTP lets its whole receive window be in flight, and on a fast path the
//!   window lands in the receiving socket at once; with the kernel's default buffer the tail of
//!   such a burst was dropped and waited for a retransmission timer. Sockets ask for 4 MiB (the
//!   kernel caps it at `net.core.rmem_max`/`wmem_max`). Shown by the loopback throughput
//!   benchmark.
//! - webrtc-rs 0.21.1: with UDP GRO its driver takes in far more datagrams per round than its
//!   SCTP layer passes on to the channels; the rest is parked and only resumes with the next
//!   datagram, so a full window stalled until a retransmission. One datagram per receive keeps a
//!   round small enough that nothing parks. Shown by `receives_carry_one_datagram_each` and the
//!   1 KiB throughput benchmark.
//! - webrtc-rs 0.21.1: rtc-dtls neither answers the peer's repeated handshake flight nor keeps
//!   its own retransmission timer once one arrives, so one lost datagram could stall a handshake
//!   for good. Each socket shows its datagrams to a [`LastFlight`], which holds such repeats back
//!   from the stack and resends our flight in their place; once the handshake is over this costs
//!   one atomic load per datagram. Shown by `lost_handshake_flights_are_sent_again_and_the_channel_opens`
//!   and `every_connection_opens_through_heavy_loss` in `tests/impaired.rs`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::last_flight::{dtls_payload, Flight, LastFlight, Verdict};
use crate::sync::lock;
use crate::timers::SetupWindow;
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime,
    TokioRuntime, Transmit,
};

/// Requested send and receive buffer per UDP socket.
const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// The runtime a peer connection is built with; `setup` is that connection's own window, and
/// `on_panic` what the connection does when one of its tasks panics.
pub(crate) fn webrtc_runtime(setup: Arc<SetupWindow>, on_panic: OnPanic) -> Arc<dyn Runtime> {
    Arc::new(TunedRuntime {
        tokio: TokioRuntime,
        setup,
        on_panic,
    })
}

/// What a connection does when one of its network tasks panics: tokio would end the task and
/// keep its worker, and the connection would wait for ever on a driver that is gone.
#[derive(Clone)]
pub(crate) struct OnPanic(Arc<dyn Fn() + Send + Sync>);

impl OnPanic {
    pub(crate) fn new(react: impl Fn() + Send + Sync + 'static) -> Self {
        Self(Arc::new(react))
    }
}

impl std::fmt::Debug for OnPanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnPanic")
    }
}

/// One of a connection's tasks; a panic in it ends the task and is handed to [`OnPanic`] (the
/// panic hook in [`crate::logging`] has reported it by then). After each poll it answers the
/// [`crate::doorbell`]: these tasks are what keeps a worker at work, so a game's sends meanwhile
/// reach their sender tasks without a bell.
struct Contained {
    task: BoxFuture<'static, ()>,
    on_panic: OnPanic,
}

impl Future for Contained {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let poll = panic::catch_unwind(AssertUnwindSafe(|| this.task.as_mut().poll(cx)));
        if let Some(doorbell) = crate::runtime::doorbell() {
            doorbell.answer();
        }
        match poll {
            Ok(poll) => poll,
            Err(_) => {
                (this.on_panic.0)();
                Poll::Ready(())
            }
        }
    }
}

/// Delegates to [`TokioRuntime`], adjusting sockets and timers as the module docs explain.
#[derive(Debug)]
struct TunedRuntime {
    tokio: TokioRuntime,
    setup: Arc<SetupWindow>,
    on_panic: OnPanic,
}

impl TunedRuntime {
    fn contain(&self, task: BoxFuture<'static, ()>) -> BoxFuture<'static, ()> {
        Box::pin(Contained {
            task,
            on_panic: self.on_panic.clone(),
        })
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Runtime for TunedRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) -> Box<dyn JoinHandle> {
        self.tokio.spawn(self.contain(future))
    }

    fn spawn_reactor(
        &self,
        pool_size: usize,
        future: BoxFuture<'static, ()>,
    ) -> Box<dyn JoinHandle> {
        self.tokio.spawn_reactor(pool_size, self.contain(future))
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
/// its [`HandshakeWatch`] and marking its connection busy while DTLS datagrams move. Only DTLS
/// (direct or in TURN ChannelData) carries what SCTP times: webrtc-rs 0.21.1's ICE agent keeps
/// sending STUN consent checks on an idle connection, and those leave its timers on the shared
/// grid (figures in PROFILES.md, "Sockets, timers and set-up").
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
            if dtls_payload(transmit.contents).is_some() {
                self.traffic.mark_busy();
            }
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
            let received = bufs.iter().zip(meta.iter()).take(count);
            if received
                .map(|(buf, meta)| buf.get(..meta.len).unwrap_or_default())
                .any(|datagram| dtls_payload(datagram).is_some())
            {
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
        let mut state = lock(&self.state);
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
            on_panic: OnPanic::new(|| {}),
        };
        let wrapped = runtime.wrap_udp_socket(socket).expect("wrap");
        assert_eq!(wrapped.max_gro_segments(), 1);
    }

    #[test]
    fn a_panicking_task_hands_the_panic_to_its_connection_and_spares_the_runtime() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _entered = runtime.enter();
        let failed = Arc::new(tokio::sync::Notify::new());
        let tuned = TunedRuntime {
            tokio: TokioRuntime,
            setup: Arc::default(),
            on_panic: OnPanic::new({
                let failed = Arc::clone(&failed);
                move || failed.notify_one()
            }),
        };
        let _task = tuned.spawn(Box::pin(async { panic!("a driver bug") }));
        let ran = Arc::new(tokio::sync::Notify::new());
        let _after = tuned.spawn(Box::pin({
            let ran = Arc::clone(&ran);
            async move { ran.notify_one() }
        }));
        runtime.block_on(async {
            let deadline = std::time::Duration::from_secs(5);
            tokio::time::timeout(deadline, failed.notified())
                .await
                .expect("the connection heard of the panic");
            tokio::time::timeout(deadline, ran.notified())
                .await
                .expect("the runtime still runs other tasks");
        });
    }

    /// A connected window, a wrapped socket using it, and a plain socket to talk to.
    struct Busy {
        runtime: tokio::runtime::Runtime,
        setup: Arc<SetupWindow>,
        wrapped: Arc<dyn AsyncUdpSocket>,
        theirs: std::net::UdpSocket,
    }

    impl Busy {
        fn new() -> Self {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let setup = Arc::new(SetupWindow::default());
            setup.mark_connected();
            let ours = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            ours.set_nonblocking(true).expect("nonblocking");
            let wrapped = {
                let _entered = runtime.enter();
                let tuned = TunedRuntime {
                    tokio: TokioRuntime,
                    setup: Arc::clone(&setup),
                    on_panic: OnPanic::new(|| {}),
                };
                tuned.wrap_udp_socket(ours).expect("wrap")
            };
            let theirs = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            Self {
                runtime,
                setup,
                wrapped,
                theirs,
            }
        }

        fn send(&self, contents: &[u8]) {
            let transmit = Transmit {
                destination: self.theirs.local_addr().expect("address"),
                ecn: None,
                contents,
                segment_size: None,
                src_ip: None,
            };
            self.runtime
                .block_on(std::future::poll_fn(|cx| {
                    self.wrapped.poll_send(cx, &transmit)
                }))
                .expect("sent");
        }

        fn receive(&self, contents: &[u8]) {
            let ours = self.wrapped.local_addr().expect("address");
            self.theirs.send_to(contents, ours).expect("sent to us");
            let mut buf = [0u8; 64];
            let received = self.runtime.block_on(std::future::poll_fn(|cx| {
                let mut bufs = [io::IoSliceMut::new(&mut buf)];
                let mut meta = [RecvMeta::default()];
                self.wrapped.poll_recv(cx, &mut bufs, &mut meta)
            }));
            assert_eq!(received.expect("received"), 1);
        }

        /// Whether a 200 ms timer started now fires exactly (busy) or on the grid (idle).
        fn is_busy(&self) -> bool {
            let (now, timer) = (Instant::now(), Duration::from_millis(200));
            self.setup.deadline(now, timer) == now + timer
        }
    }

    const STUN_BINDING: &[u8] = &[
        0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];
    const DTLS_RECORD: &[u8] = &[23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 7, 0, 3, 1, 2, 3];

    #[test]
    fn keepalives_leave_a_connection_idle_and_dtls_makes_it_busy() {
        let idle = Busy::new();
        idle.send(STUN_BINDING);
        idle.receive(STUN_BINDING);
        assert!(
            !idle.is_busy(),
            "STUN each way leaves the timers on the grid"
        );

        let sent = Busy::new();
        sent.send(DTLS_RECORD);
        assert!(sent.is_busy(), "DTLS sent makes the timers exact");

        let received = Busy::new();
        received.receive(STUN_BINDING);
        received.receive(DTLS_RECORD);
        assert!(received.is_busy(), "DTLS received makes the timers exact");
    }
}
