//! Load generator for signaling servers: many WebSocket clients in pairs, each pair joining a
//! lobby (a room) and then relaying messages back and forth, timed. Speaks our protocol or
//! matchbox_server's, so both face the same workload (`tests/bench/signaling.sh`).
//!
//! `load --protocol ours|matchbox --url WS_URL [--url WS_URL...] [--clients N] [--rounds N]
//! [--pid PID...]`: pair k's first client uses the first URL, its second the next one (round
//! robin), so with two URLs every relay crosses instances. Prints one `BENCH {json}` line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Barrier, Mutex, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connection attempts in flight at once, so the listen backlog is not what is measured.
const CONNECTING_AT_ONCE: usize = 256;
/// Bytes of padding in each relayed message, about an ICE candidate's size.
const PADDING: usize = 160;

#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    Ours,
    Matchbox,
}

struct Settings {
    protocol: Protocol,
    urls: Vec<String>,
    clients: usize,
    rounds: usize,
    pids: Vec<u32>,
}

fn settings() -> Result<Settings, String> {
    let mut settings = Settings {
        protocol: Protocol::Ours,
        urls: Vec::new(),
        clients: 10_000,
        rounds: 10,
        pids: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("bad number {value}"))
        };
        match flag.as_str() {
            "--protocol" => {
                settings.protocol = match value.as_str() {
                    "ours" => Protocol::Ours,
                    "matchbox" => Protocol::Matchbox,
                    other => return Err(format!("unknown protocol {other}")),
                }
            }
            "--url" => settings.urls.push(value),
            "--clients" => settings.clients = number()? & !1,
            "--rounds" => settings.rounds = number()?,
            "--pid" => settings.pids.push(number()? as u32),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if settings.urls.is_empty() || settings.clients == 0 {
        return Err("needs --url and at least 2 --clients".to_owned());
    }
    Ok(settings)
}

/// Resident memory of the servers, in KiB.
fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .sum()
}

struct Shared {
    start: Instant,
    connecting: Semaphore,
    joined: Barrier,
    relaying: Barrier,
    join_done: Mutex<Option<Instant>>,
    latencies: Mutex<Vec<u64>>,
    relayed: AtomicU64,
    failures: AtomicU64,
}

impl Shared {
    fn now_micros(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// A message body carrying when it was sent.
    fn stamp(&self) -> String {
        format!("{} {}", self.now_micros(), "x".repeat(PADDING))
    }

    async fn received(&self, body: &str) {
        let sent = body
            .split(' ')
            .next()
            .and_then(|sent| sent.parse::<u64>().ok());
        if let Some(sent) = sent {
            self.latencies
                .lock()
                .await
                .push(self.now_micros().saturating_sub(sent));
            self.relayed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn connect(shared: &Shared, url: &str) -> Result<Socket, String> {
    let _permit = shared
        .connecting
        .acquire()
        .await
        .map_err(|err| err.to_string())?;
    connect_async(url)
        .await
        .map(|(socket, _)| socket)
        .map_err(|err| format!("connect {url}: {err}"))
}

async fn send(socket: &mut Socket, message: Value) -> Result<(), String> {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .map_err(|err| err.to_string())
}

/// The next JSON message.
async fn next(socket: &mut Socket) -> Result<Value, String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return serde_json::from_str(&text).map_err(|err| err.to_string())
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(other) => return Err(format!("connection ended: {other:?}")),
            Err(_) => return Err("nothing for 60 s".to_owned()),
        }
    }
}

/// The next message of `kind` (ours: `type`; matchbox: the enum tag), skipping others.
async fn next_of(socket: &mut Socket, protocol: Protocol, kind: &str) -> Result<Value, String> {
    loop {
        let message = next(socket).await?;
        match protocol {
            Protocol::Ours if message["type"] == kind => return Ok(message),
            Protocol::Ours if message["type"] == "error" => {
                return Err(format!("server error: {message}"))
            }
            Protocol::Matchbox if message.get(kind).is_some() => return Ok(message[kind].clone()),
            _ => continue,
        }
    }
}

/// The first client of a pair: creates the lobby, waits for its partner, then starts each
/// round trip.
async fn host(
    shared: Arc<Shared>,
    protocol: Protocol,
    url: String,
    room: usize,
    rounds: usize,
    name: oneshot::Sender<String>,
) -> Result<(), String> {
    let (mut socket, partner) = match protocol {
        Protocol::Ours => {
            let mut socket = connect(&shared, &url).await?;
            send(&mut socket, json!({"type": "join"})).await?;
            let joined = next_of(&mut socket, protocol, "joined").await?;
            let _ = name.send(joined["lobby"].as_str().unwrap_or_default().to_owned());
            next_of(&mut socket, protocol, "peer_joined").await?;
            (socket, json!(2))
        }
        Protocol::Matchbox => {
            let mut socket = connect(&shared, &format!("{url}/room{room}")).await?;
            next_of(&mut socket, protocol, "IdAssigned").await?;
            let _ = name.send(format!("room{room}"));
            let partner = next_of(&mut socket, protocol, "NewPeer").await?;
            (socket, partner)
        }
    };
    joined(&shared).await;
    for _ in 0..rounds {
        let body = shared.stamp();
        let request = match protocol {
            Protocol::Ours => json!({"type": "offer", "to": partner, "sdp": body}),
            Protocol::Matchbox => json!({"Signal": {"receiver": partner, "data": body}}),
        };
        send(&mut socket, request).await?;
        let reply = match protocol {
            Protocol::Ours => next_of(&mut socket, protocol, "answer").await?["sdp"].clone(),
            Protocol::Matchbox => next_of(&mut socket, protocol, "Signal").await?["data"].clone(),
        };
        shared.received(reply.as_str().unwrap_or_default()).await;
    }
    shared.relaying.wait().await;
    let _ = socket.close(None).await;
    Ok(())
}

/// The second client of a pair: joins its partner's lobby and answers each message.
async fn guest(
    shared: Arc<Shared>,
    protocol: Protocol,
    url: String,
    rounds: usize,
    name: oneshot::Receiver<String>,
) -> Result<(), String> {
    let name = name.await.map_err(|_| "the host never got a lobby")?;
    let mut socket = match protocol {
        Protocol::Ours => {
            let mut socket = connect(&shared, &url).await?;
            send(&mut socket, json!({"type": "join", "lobby": name})).await?;
            next_of(&mut socket, protocol, "joined").await?;
            socket
        }
        Protocol::Matchbox => {
            let mut socket = connect(&shared, &format!("{url}/{name}")).await?;
            next_of(&mut socket, protocol, "IdAssigned").await?;
            socket
        }
    };
    joined(&shared).await;
    for _ in 0..rounds {
        let (sender, body) = match protocol {
            Protocol::Ours => {
                let offer = next_of(&mut socket, protocol, "offer").await?;
                (offer["from"].clone(), offer["sdp"].clone())
            }
            Protocol::Matchbox => {
                let signal = next_of(&mut socket, protocol, "Signal").await?;
                (signal["sender"].clone(), signal["data"].clone())
            }
        };
        shared.received(body.as_str().unwrap_or_default()).await;
        let body = shared.stamp();
        let reply = match protocol {
            Protocol::Ours => json!({"type": "answer", "to": sender, "sdp": body}),
            Protocol::Matchbox => json!({"Signal": {"receiver": sender, "data": body}}),
        };
        send(&mut socket, reply).await?;
    }
    shared.relaying.wait().await;
    let _ = socket.close(None).await;
    Ok(())
}

/// Waits until every client has joined; the last one notes when that was.
async fn joined(shared: &Shared) {
    if shared.joined.wait().await.is_leader() {
        *shared.join_done.lock().await = Some(Instant::now());
    }
}

fn percentile(sorted: &[u64], fraction: f64) -> f64 {
    let index = ((sorted.len().saturating_sub(1)) as f64 * fraction).round() as usize;
    sorted
        .get(index)
        .map_or(f64::NAN, |micros| *micros as f64 / 1000.0)
}

#[tokio::main]
async fn main() {
    let settings = match settings() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("load: {message}");
            std::process::exit(2);
        }
    };
    let rss_before = rss_kib(&settings.pids);
    let shared = Arc::new(Shared {
        start: Instant::now(),
        connecting: Semaphore::new(CONNECTING_AT_ONCE),
        joined: Barrier::new(settings.clients),
        relaying: Barrier::new(settings.clients),
        join_done: Mutex::new(None),
        latencies: Mutex::new(Vec::new()),
        relayed: AtomicU64::new(0),
        failures: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    for pair in 0..settings.clients / 2 {
        let url = |offset: usize| settings.urls[(2 * pair + offset) % settings.urls.len()].clone();
        let (tell, told) = oneshot::channel();
        for task in [
            tokio::spawn(host(
                Arc::clone(&shared),
                settings.protocol,
                url(0),
                pair,
                settings.rounds,
                tell,
            )),
            tokio::spawn(guest(
                Arc::clone(&shared),
                settings.protocol,
                url(1),
                settings.rounds,
                told,
            )),
        ] {
            let shared = Arc::clone(&shared);
            tasks.push(tokio::spawn(async move {
                if let Ok(Err(err)) | Err(err) = task.await.map_err(|err| err.to_string()) {
                    if shared.failures.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("load: a client failed: {err}");
                    }
                }
            }));
        }
    }
    // Measured once everyone has joined, before the relaying is over.
    let rss_joined = loop {
        if shared.join_done.lock().await.is_some() {
            break rss_kib(&settings.pids);
        }
        if shared.failures.load(Ordering::Relaxed) > 0 {
            break 0;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let everyone = async {
        for task in tasks {
            let _ = task.await;
        }
    };
    // A client that failed before joining holds the others at the barrier forever.
    if tokio::time::timeout(Duration::from_secs(300), everyone)
        .await
        .is_err()
    {
        eprintln!(
            "load: gave up after 300 s with {} failed clients",
            shared.failures.load(Ordering::Relaxed)
        );
        std::process::exit(1);
    }
    let finished = Instant::now();
    let failures = shared.failures.load(Ordering::Relaxed);
    let join_done = shared.join_done.lock().await.unwrap_or(finished);
    let join_seconds = join_done.duration_since(shared.start).as_secs_f64();
    let relay_seconds = finished.duration_since(join_done).as_secs_f64();
    let mut latencies = shared.latencies.lock().await.clone();
    latencies.sort_unstable();
    let relayed = shared.relayed.load(Ordering::Relaxed);
    let report = json!({
        "protocol": if settings.protocol == Protocol::Ours { "ours" } else { "matchbox" },
        "instances": settings.urls.len(),
        "clients": settings.clients,
        "failures": failures,
        "joins_per_s": settings.clients as f64 / join_seconds,
        "relayed": relayed,
        "relayed_per_s": relayed as f64 / relay_seconds,
        "latency_ms_p50": percentile(&latencies, 0.5),
        "latency_ms_p99": percentile(&latencies, 0.99),
        "rss_kib_per_connection": rss_joined.saturating_sub(rss_before) as f64 / settings.clients as f64,
        "servers_rss_mib": rss_joined as f64 / 1024.0,
    });
    println!("BENCH {report}");
    if failures > 0 {
        std::process::exit(1);
    }
}
