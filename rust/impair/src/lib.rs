//! A userspace UDP impairment relay: this machine's kernel has no `netem`, so the tests put
//! this between two peers instead.
//!
//! The relay owns two sockets. Peer A is told (through rewritten ICE candidates) that B lives at
//! [`Relay::endpoint_for_a`], and B that A lives at [`Relay::endpoint_for_b`]. Each side's real
//! address is learned from the first packet it sends, so neither needs configuring. Every packet
//! then goes through one [`Impairment`] decision (drop, duplicate, delay, reorder, rate limit)
//! and a scheduler thread sends it when it is due, from the socket the receiver expects.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What happens to packets on both directions of the path.
#[derive(Debug, Clone, PartialEq)]
pub struct Impairment {
    /// Fraction of packets dropped, 0.0 to 1.0.
    pub loss: f64,
    /// Losses in runs, as Wi-Fi drops packets: with `Some((shortest, longest))` a loss starts a
    /// run of `shortest..=longest` consecutive losses (uniformly), and runs start just often
    /// enough that `loss` stays the fraction dropped over time. A simple Gilbert–Elliott
    /// channel whose bad state lasts a known number of packets.
    pub burst: Option<(u32, u32)>,
    /// Base one-way delay.
    pub delay: Duration,
    /// Uniform jitter added to the delay, ±this much. Order is kept (as a router queue
    /// would); only `reorder` lets a packet overtake.
    pub jitter: Duration,
    /// Fraction of packets sent at once, overtaking the ones still delayed.
    pub reorder: f64,
    /// Fraction of packets sent twice.
    pub duplicate: f64,
    /// Bandwidth cap per direction in bytes per second; a queue of more than one second of
    /// traffic drops the newest packet, as a router's tail drop does.
    pub rate: Option<u64>,
    /// Drops everything, as a path that went dead.
    pub silent: bool,
    /// Losses placed exactly where a DTLS handshake is fragile, in datagrams from A.
    pub handshake_drops_from_a: HandshakeDrops,
    /// The same for datagrams from B.
    pub handshake_drops_from_b: HandshakeDrops,
}

/// How many of the first datagrams carrying a DTLS record of each kind to drop, before any
/// random decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandshakeDrops {
    /// Datagrams with a ChangeCipherSpec record: the flights that finish a handshake.
    pub change_cipher_spec: u32,
    /// Datagrams with a ServerHello: the server's main flight.
    pub server_hello: u32,
}

impl Default for Impairment {
    fn default() -> Self {
        Self {
            loss: 0.0,
            burst: None,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            reorder: 0.0,
            duplicate: 0.0,
            rate: None,
            silent: false,
            handshake_drops_from_a: HandshakeDrops::default(),
            handshake_drops_from_b: HandshakeDrops::default(),
        }
    }
}

/// Packet counts since the relay started, over both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    /// Of `received`, the packets from A and from B: with bulk data flowing one way, the
    /// other count is the receiver's acknowledgements.
    pub received_from_a: u64,
    pub received_from_b: u64,
    /// Of `received`, the STUN messages (first byte 0-3, RFC 7983): ICE's checks and their
    /// answers, which a connection keeps sending once it is up.
    pub stun: u64,
    pub sent: u64,
    pub lost: u64,
    pub silenced: u64,
    pub tail_dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Packets that arrived before the other side's address was known.
    pub unroutable: u64,
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "received={} from_a={} from_b={} stun={} sent={} lost={} silenced={} tail_dropped={} duplicated={} reordered={} unroutable={}",
            self.received,
            self.received_from_a,
            self.received_from_b,
            self.stun,
            self.sent,
            self.lost,
            self.silenced,
            self.tail_dropped,
            self.duplicated,
            self.reordered,
            self.unroutable
        )
    }
}

/// The two directions: packets from A (arriving on the socket facing A) and from B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum From {
    A = 0,
    B = 1,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Scheduled {
    due: Instant,
    seq: u64,
    from: From,
    data: Vec<u8>,
}

struct State {
    impairment: Impairment,
    stats: Stats,
    /// Learned real addresses of A and B.
    peers: [Option<SocketAddr>; 2],
    queue: BinaryHeap<Reverse<Scheduled>>,
    /// Latest due time per direction, so jitter never reorders on its own.
    last_due: [Instant; 2],
    /// When each direction's capped link is next free.
    link_free: [Instant; 2],
    seq: u64,
    rng: Rng,
    /// Losses left in the current run, per direction (`Impairment::burst`).
    burst_left: [u32; 2],
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    stop: AtomicBool,
    /// `sockets[From::A]` faces A (A sends to it), `sockets[From::B]` faces B.
    sockets: [UdpSocket; 2],
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running relay; dropping it stops its threads.
pub struct Relay {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Binds two sockets on `ip` (port 0) and starts relaying. `seed` makes the random
    /// decisions repeatable.
    pub fn start(ip: std::net::IpAddr, impairment: Impairment, seed: u64) -> io::Result<Self> {
        let facing_a = bind(ip)?;
        let facing_b = bind(ip)?;
        let now = Instant::now();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                impairment,
                stats: Stats::default(),
                peers: [None, None],
                queue: BinaryHeap::new(),
                last_due: [now; 2],
                link_free: [now; 2],
                seq: 0,
                rng: Rng::new(seed),
                burst_left: [0; 2],
            }),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            sockets: [facing_a, facing_b],
        });
        let mut threads = Vec::new();
        for from in [From::A, From::B] {
            let shared = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("impair-recv-{from:?}"))
                    .spawn(move || receive(&shared, from))?,
            );
        }
        let scheduler = shared.clone();
        threads.push(
            std::thread::Builder::new()
                .name("impair-send".into())
                .spawn(move || send(&scheduler))?,
        );
        Ok(Self { shared, threads })
    }

    /// Where A must send to reach B: give this address to A in B's candidates.
    pub fn endpoint_for_a(&self) -> io::Result<SocketAddr> {
        self.shared.sockets[From::A as usize].local_addr()
    }

    /// Where B must send to reach A: give this address to B in A's candidates.
    pub fn endpoint_for_b(&self) -> io::Result<SocketAddr> {
        self.shared.sockets[From::B as usize].local_addr()
    }

    pub fn set_impairment(&self, impairment: Impairment) {
        self.shared.lock().impairment = impairment;
    }

    pub fn impairment(&self) -> Impairment {
        self.shared.lock().impairment.clone()
    }

    /// Makes the path drop everything (`true`) or carry traffic again.
    pub fn set_silent(&self, silent: bool) {
        self.shared.lock().impairment.silent = silent;
    }

    pub fn stats(&self) -> Stats {
        self.shared.lock().stats
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A relay socket with room for bursts: packets the kernel drops before the relay sees them
/// would be loss nobody asked for and no counter shows.
fn bind(ip: std::net::IpAddr) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address((ip, 0).into()),
        socket2::Type::DGRAM,
        None,
    )?;
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.bind(&std::net::SocketAddr::from((ip, 0)).into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(Duration::from_millis(50)))?;
    Ok(socket)
}

/// Reads one socket and schedules what the impairment lets through.
fn receive(shared: &Shared, from: From) {
    let socket = &shared.sockets[from as usize];
    let mut buf = vec![0u8; 65_536];
    while !shared.stop.load(Ordering::Acquire) {
        let (len, src) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => continue,
        };
        let mut state = shared.lock();
        state.stats.received += 1;
        match from {
            From::A => state.stats.received_from_a += 1,
            From::B => state.stats.received_from_b += 1,
        }
        if buf[..len].first().is_some_and(|&first| first < 4) {
            state.stats.stun += 1;
        }
        state.peers[from as usize] = Some(src);
        if schedule(&mut state, from, &buf[..len]) {
            shared.wake.notify_one();
        }
    }
}

/// Applies the impairment to one packet; returns whether anything was queued.
fn schedule(state: &mut State, from: From, data: &[u8]) -> bool {
    let imp = state.impairment.clone();
    if imp.silent {
        state.stats.silenced += 1;
        return false;
    }
    let other = match from {
        From::A => From::B,
        From::B => From::A,
    };
    if state.peers[other as usize].is_none() {
        state.stats.unroutable += 1;
        return false;
    }
    let drops = match from {
        From::A => &mut state.impairment.handshake_drops_from_a,
        From::B => &mut state.impairment.handshake_drops_from_b,
    };
    for (left, record) in [
        (&mut drops.change_cipher_spec, DtlsRecord::ChangeCipherSpec),
        (&mut drops.server_hello, DtlsRecord::ServerHello),
    ] {
        if *left > 0 && carries(data, record) {
            *left -= 1;
            state.stats.lost += 1;
            return false;
        }
    }
    if lose(state, &imp, from as usize) {
        state.stats.lost += 1;
        return false;
    }
    let copies = if state.rng.chance(imp.duplicate) {
        state.stats.duplicated += 1;
        2
    } else {
        1
    };
    let now = Instant::now();
    let dir = from as usize;
    let mut queued = false;
    for _ in 0..copies {
        let mut due = if state.rng.chance(imp.reorder) {
            state.stats.reordered += 1;
            now
        } else {
            let spread = imp.jitter.as_secs_f64() * (2.0 * state.rng.unit() - 1.0);
            let delay = (imp.delay.as_secs_f64() + spread).max(0.0);
            let due = (now + Duration::from_secs_f64(delay)).max(state.last_due[dir]);
            state.last_due[dir] = due;
            due
        };
        if let Some(rate) = imp.rate.filter(|rate| *rate > 0) {
            let free = state.link_free[dir].max(now);
            if free.duration_since(now) > Duration::from_secs(1) {
                state.stats.tail_dropped += 1;
                continue;
            }
            let on_wire = Duration::from_secs_f64(data.len() as f64 / rate as f64);
            state.link_free[dir] = free + on_wire;
            due = due.max(state.link_free[dir]);
        }
        state.seq += 1;
        let seq = state.seq;
        state.queue.push(Reverse(Scheduled {
            due,
            seq,
            from,
            data: data.to_vec(),
        }));
        queued = true;
    }
    queued
}

/// The DTLS records a [`HandshakeDrops`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DtlsRecord {
    ChangeCipherSpec,
    ServerHello,
}

/// Whether `data` is a DTLS datagram (RFC 7983: first byte 20 to 63) with a `record` among its
/// records: content type 20, or a plaintext handshake record (22, epoch 0) of message type 2.
fn carries(data: &[u8], record: DtlsRecord) -> bool {
    const HEADER: usize = 13;
    if !matches!(data.first(), Some(20..=63)) {
        return false;
    }
    let mut rest = data;
    while rest.len() >= HEADER {
        let found = match record {
            DtlsRecord::ChangeCipherSpec => rest[0] == 20,
            DtlsRecord::ServerHello => {
                rest[0] == 22 && rest[3..5] == [0, 0] && rest.get(HEADER) == Some(&2)
            }
        };
        if found {
            return true;
        }
        let body = usize::from(u16::from_be_bytes([rest[11], rest[12]]));
        rest = rest.get(HEADER + body..).unwrap_or_default();
    }
    false
}

/// Sends queued packets when they are due, out of the socket facing their receiver.
fn send(shared: &Shared) {
    let mut state = shared.lock();
    while !shared.stop.load(Ordering::Acquire) {
        let now = Instant::now();
        let next_due = state.queue.peek().map(|Reverse(next)| next.due);
        match next_due {
            Some(due) if due <= now => {
                let Some(Reverse(packet)) = state.queue.pop() else {
                    continue;
                };
                let (out, to) = match packet.from {
                    From::A => (From::B, state.peers[From::B as usize]),
                    From::B => (From::A, state.peers[From::A as usize]),
                };
                if let Some(to) = to {
                    if shared.sockets[out as usize]
                        .send_to(&packet.data, to)
                        .is_ok()
                    {
                        state.stats.sent += 1;
                    }
                }
            }
            Some(due) => {
                state = shared
                    .wake
                    .wait_timeout(state, due - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            None => {
                state = shared
                    .wake
                    .wait_timeout(state, Duration::from_millis(100))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }
}

/// xorshift64*: small, seedable, good enough to pick which packets to drop.
/// The random loss decision for one packet of direction `dir`.
fn lose(state: &mut State, imp: &Impairment, dir: usize) -> bool {
    let Some((shortest, longest)) = imp.burst else {
        return state.rng.chance(imp.loss);
    };
    if state.burst_left[dir] > 0 {
        state.burst_left[dir] -= 1;
        return true;
    }
    // A run of mean length L starting with probability q per delivered-or-starting packet
    // drops the fraction qL / (1 - q + qL); solved for q so that it equals `loss`.
    let mean = f64::from(shortest + longest) / 2.0;
    let start = imp.loss / (mean * (1.0 - imp.loss) + imp.loss);
    if !state.rng.chance(start) {
        return false;
    }
    let span = u64::from(longest.saturating_sub(shortest)) + 1;
    let length = shortest + (state.rng.next() % span) as u32;
    state.burst_left[dir] = length.saturating_sub(1);
    true
}

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, probability: f64) -> bool {
        probability > 0.0 && self.unit() < probability
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn socket() -> UdpSocket {
        let socket = UdpSocket::bind((LOCAL, 0)).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        socket
    }

    /// A and B say hello through the relay so it learns both addresses.
    fn introduce(relay: &Relay, a: &UdpSocket, b: &UdpSocket) {
        let for_a = relay.endpoint_for_a().expect("addr");
        let for_b = relay.endpoint_for_b().expect("addr");
        b.send_to(b"hello", for_b).expect("send");
        // B's hello is unroutable (A is unknown yet) but teaches the relay where B is.
        let deadline = Instant::now() + Duration::from_secs(5);
        while relay.stats().unroutable == 0 {
            assert!(Instant::now() < deadline, "relay never saw B");
            std::thread::yield_now();
        }
        a.send_to(b"hello", for_a).expect("send");
        let mut buf = [0u8; 16];
        let (len, from) = b.recv_from(&mut buf).expect("B hears A");
        assert_eq!(&buf[..len], b"hello");
        assert_eq!(from, for_b, "B sees A at the address it was given");
    }

    #[test]
    fn relays_both_ways_from_the_advertised_addresses() {
        let relay = Relay::start(LOCAL, Impairment::default(), 1).expect("relay");
        let (a, b) = (socket(), socket());
        introduce(&relay, &a, &b);
        b.send_to(b"reply", relay.endpoint_for_b().expect("addr"))
            .expect("send");
        let mut buf = [0u8; 16];
        let (len, from) = a.recv_from(&mut buf).expect("A hears B");
        assert_eq!(&buf[..len], b"reply");
        assert_eq!(from, relay.endpoint_for_a().expect("addr"));
    }

    #[test]
    fn loss_is_close_to_the_asked_rate_and_silence_drops_everything() {
        let relay = Relay::start(LOCAL, Impairment::default(), 7).expect("relay");
        let (a, b) = (socket(), socket());
        introduce(&relay, &a, &b);
        relay.set_impairment(Impairment {
            loss: 0.2,
            ..Impairment::default()
        });
        let before = relay.stats();
        for _ in 0..2000 {
            a.send_to(&[0u8; 8], relay.endpoint_for_a().expect("addr"))
                .expect("send");
        }
        // Count at the relay: B's socket may drop a burst of its own accord.
        let deadline = Instant::now() + Duration::from_secs(10);
        let done = |stats: Stats| stats.sent + stats.lost - before.sent - before.lost;
        while done(relay.stats()) < 2000 {
            assert!(
                Instant::now() < deadline,
                "relay handled {} of 2000",
                done(relay.stats())
            );
            std::thread::yield_now();
        }
        let stats = relay.stats();
        let lost = stats.lost - before.lost;
        assert!((300..500).contains(&lost), "lost {lost} of 2000 at 20 %");
        assert_eq!(
            stats.received - before.received,
            2000,
            "every packet was received"
        );
        let mut buf = [0u8; 16];
        while b.recv_from(&mut buf).is_ok() {}

        relay.set_silent(true);
        a.send_to(b"x", relay.endpoint_for_a().expect("addr"))
            .expect("send");
        assert!(
            b.recv_from(&mut buf).is_err(),
            "a silent path delivers nothing"
        );
        assert_eq!(relay.stats().silenced, 1);
    }

    #[test]
    fn delay_holds_packets_and_reorder_lets_some_overtake() {
        let relay = Relay::start(LOCAL, Impairment::default(), 3).expect("relay");
        let (a, b) = (socket(), socket());
        introduce(&relay, &a, &b);
        relay.set_impairment(Impairment {
            delay: Duration::from_millis(40),
            reorder: 0.3,
            ..Impairment::default()
        });
        let start = Instant::now();
        for n in 0u16..50 {
            a.send_to(&n.to_be_bytes(), relay.endpoint_for_a().expect("addr"))
                .expect("send");
        }
        let mut order = Vec::new();
        let mut buf = [0u8; 16];
        while order.len() < 50 {
            let (len, _) = b.recv_from(&mut buf).expect("every packet arrives");
            assert_eq!(len, 2);
            order.push(u16::from_be_bytes([buf[0], buf[1]]));
        }
        assert!(start.elapsed() >= Duration::from_millis(40));
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>(), "nothing lost");
        assert_ne!(order, sorted, "some packets overtook");
        assert!(relay.stats().reordered > 0);
    }

    #[test]
    fn rate_cap_paces_a_burst() {
        let relay = Relay::start(LOCAL, Impairment::default(), 5).expect("relay");
        let (a, b) = (socket(), socket());
        introduce(&relay, &a, &b);
        relay.set_impairment(Impairment {
            rate: Some(100_000),
            ..Impairment::default()
        });
        let start = Instant::now();
        for _ in 0..20 {
            a.send_to(&[0u8; 1000], relay.endpoint_for_a().expect("addr"))
                .expect("send");
        }
        let mut buf = [0u8; 2048];
        for _ in 0..20 {
            b.recv_from(&mut buf).expect("arrives");
        }
        // 20 kB at 100 kB/s takes 200 ms on the wire.
        assert!(start.elapsed() >= Duration::from_millis(190));
    }

    #[test]
    fn drops_exactly_the_handshake_datagrams_asked_for() {
        let header = |content: u8, len: u8| [content, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, len];
        let handshake = [&header(22, 1)[..], &[0xaa]].concat();
        let server_hello = [&header(22, 1)[..], &[2]].concat();
        let finishing = [&handshake[..], &header(20, 1), &[1]].concat();
        assert!(carries(&finishing, DtlsRecord::ChangeCipherSpec));
        assert!(!carries(&handshake, DtlsRecord::ChangeCipherSpec));
        assert!(carries(&server_hello, DtlsRecord::ServerHello));
        assert!(!carries(&handshake, DtlsRecord::ServerHello));
        assert!(!carries(&finishing, DtlsRecord::ServerHello));
        assert!(
            !carries(&finishing[..20], DtlsRecord::ChangeCipherSpec),
            "a truncated record"
        );
        assert!(
            !carries(&[0, 1, 0, 0], DtlsRecord::ChangeCipherSpec),
            "STUN"
        );

        let relay = Relay::start(LOCAL, Impairment::default(), 9).expect("relay");
        let (a, b) = (socket(), socket());
        introduce(&relay, &a, &b);
        relay.set_impairment(Impairment {
            handshake_drops_from_a: HandshakeDrops {
                change_cipher_spec: 1,
                server_hello: 1,
            },
            ..Impairment::default()
        });
        let to_b = relay.endpoint_for_a().expect("addr");
        for datagram in [
            &finishing,
            &server_hello,
            &handshake,
            &finishing,
            &server_hello,
        ] {
            a.send_to(datagram, to_b).expect("send");
        }
        let mut buf = [0u8; 64];
        for expected in [&handshake, &finishing, &server_hello] {
            let (len, _) = b.recv_from(&mut buf).expect("arrives");
            assert_eq!(&buf[..len], &expected[..]);
        }
        assert_eq!(relay.stats().lost, 2, "only the first of each kind");
        b.send_to(&finishing, relay.endpoint_for_b().expect("addr"))
            .expect("send");
        let (len, _) = a
            .recv_from(&mut buf)
            .expect("the other direction is untouched");
        assert_eq!(&buf[..len], &finishing[..]);
    }

    #[test]
    fn burst_losses_come_in_runs_of_the_given_lengths_at_the_given_rate() {
        let now = Instant::now();
        let mut state = State {
            impairment: Impairment::default(),
            stats: Stats::default(),
            peers: [None, None],
            queue: BinaryHeap::new(),
            last_due: [now; 2],
            link_free: [now; 2],
            seq: 0,
            rng: Rng::new(7),
            burst_left: [0; 2],
        };
        let imp = Impairment {
            loss: 0.03,
            burst: Some((2, 5)),
            ..Impairment::default()
        };
        let (mut lost, mut run, mut runs) = (0u32, 0u32, Vec::new());
        let packets = 200_000;
        for _ in 0..packets {
            if lose(&mut state, &imp, 0) {
                lost += 1;
                run += 1;
            } else if run > 0 {
                runs.push(run);
                run = 0;
            }
        }
        let fraction = f64::from(lost) / f64::from(packets);
        assert!((0.027..0.033).contains(&fraction), "lost {fraction}");
        // Two runs can follow each other without a delivered packet between them.
        assert!(runs.iter().all(|&r| r >= 2), "a loss on its own: {runs:?}");
        let short = runs.iter().filter(|&&r| r <= 5).count();
        assert!(
            short * 100 >= runs.len() * 95,
            "runs longer than 5: {short} of {}",
            runs.len()
        );
    }
}
