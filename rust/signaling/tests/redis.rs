//! Signaling instances sharing their lobbies through a real Redis (Debian's `redis-server`,
//! started here on a unix socket of its own): players on different instances meet, limits are
//! global, a seat resumes on another instance, a dead instance's players leave.

mod common;

use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{away_and_back, http_get, serve, Client};
use serde_json::{json, Value};
use webrtc_signaling::broker::{HEARTBEAT, INSTANCE_TTL};
use webrtc_signaling::{router_for, Credentials, Hub, Limits};

/// A redis-server of this test's own, without persistence, listening on a unix socket only
/// (no TCP port, so none has to be picked and handed over); killed when dropped.
struct Redis {
    process: Child,
    socket: PathBuf,
    url: String,
}

impl Redis {
    fn start() -> Self {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let socket = std::env::temp_dir().join(format!(
            "webrtc-signaling-redis-{}-{}.sock",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        Self {
            process: Self::serve(&socket),
            url: format!("redis+unix://{}", socket.display()),
            socket,
        }
    }

    /// Kills the server and starts a new one on the same socket: everything stored is gone.
    fn restart(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        self.process = Self::serve(&self.socket);
    }

    fn serve(socket: &Path) -> Child {
        let _ = std::fs::remove_file(socket);
        let process = Command::new("redis-server")
            .args(["--port", "0", "--unixsocketperm", "700", "--unixsocket"])
            .arg(socket)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server) runs");
        let started = Instant::now();
        while UnixStream::connect(socket).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    /// One more instance on this Redis, served on a free port.
    async fn instance(&self, limits: Limits) -> SocketAddr {
        let hub = Hub::shared(limits, Credentials::default(), &self.url)
            .await
            .expect("the instance reaches Redis");
        serve(router_for(hub)).await
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn lobby_name(joined: &Value) -> String {
    joined["lobby"].as_str().expect("a lobby name").to_owned()
}

#[tokio::test]
async fn players_on_two_instances_meet_relay_and_share_the_limits() {
    let redis = Redis::start();
    let limits = Limits {
        max_lobbies: 1,
        max_lobby_peers: 3,
        ..Limits::default()
    };
    let (a, b) = (
        redis.instance(limits.clone()).await,
        redis.instance(limits).await,
    );
    let mut host = Client::connect(a).await;
    let lobby = lobby_name(&host.join("", true).await);
    let mut guest = Client::connect(b).await;
    let joined = guest.join(&lobby, true).await;
    assert_eq!(
        (joined["id"].as_u64(), &joined["peers"]),
        (Some(2), &json!([1]))
    );
    assert_eq!(
        host.expect("peer_joined").await["id"],
        2,
        "across instances"
    );

    host.send(json!({"type": "offer", "to": 2, "sdp": "from a"}))
        .await;
    let offer = guest.expect("offer").await;
    assert_eq!(
        (offer["from"].as_u64(), offer["sdp"].as_str()),
        (Some(1), Some("from a"))
    );
    guest
        .send(json!({"type": "answer", "to": 1, "sdp": "from b"}))
        .await;
    assert_eq!(host.expect("answer").await["sdp"], "from b");
    guest
        .send(json!({"type": "offer", "to": 7, "sdp": "x"}))
        .await;
    assert!(guest.expect("error").await["message"]
        .as_str()
        .is_some_and(|m| m.contains("not in your lobby")));

    let mut other = Client::connect(b).await;
    assert!(
        other.join("", true).await["message"]
            .as_str()
            .is_some_and(|m| m.contains("server is full (1 lobbies)")),
        "the lobby count is global"
    );
    let mut third = Client::connect(a).await;
    assert_eq!(third.join(&lobby, true).await["id"], 3);
    for earlier in [&mut host, &mut guest] {
        assert_eq!(earlier.expect("peer_joined").await["id"], 3);
    }
    let mut fourth = Client::connect(b).await;
    assert!(
        fourth.join(&lobby, true).await["message"]
            .as_str()
            .is_some_and(|m| m.contains("is full (3 players)")),
        "the lobby size is global"
    );

    let metrics = http_get(b, "/metrics").await;
    for line in ["signaling_lobbies 1", "signaling_players 3"] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    let calls = metrics
        .lines()
        .find_map(|l| l.strip_prefix("signaling_redis_round_trip_seconds_count "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("the round-trip count");
    assert!(calls >= 4, "{calls} Redis calls timed");

    guest.close().await;
    assert_eq!(host.expect("peer_left").await["id"], 2);
}

/// The player's WebSocket to instance B breaks; what the host sends it meanwhile waits on B;
/// the player comes back through instance A, and B passes the mail on.
#[tokio::test]
async fn a_seat_resumes_on_another_instance_with_what_waited_for_it() {
    let redis = Redis::start();
    let (a, b) = (
        redis.instance(Limits::default()).await,
        redis.instance(Limits::default()).await,
    );
    let mut host = Client::connect(a).await;
    let lobby = lobby_name(&host.join("", true).await);
    let mut player = Client::connect(b).await;
    let token = player.join(&lobby, true).await["resume"]
        .as_str()
        .expect("token")
        .to_owned();
    host.expect("peer_joined").await;
    let mut back = away_and_back((&mut host, player), &lobby, &token, a).await;
    back.send(json!({"type": "answer", "to": 1, "sdp": "back"}))
        .await;
    assert_eq!(host.expect("answer").await["from"], 2);
}

/// Instance B is killed (SIGKILL: no goodbye). Its key in Redis expires, and instance A gives
/// its player's seat up once the resume grace has passed too: the host gets `peer_left`.
#[tokio::test]
async fn a_dead_instance_s_players_leave_their_lobbies() {
    let redis = Redis::start();
    let grace = Duration::from_secs(1);
    let spawn = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_webrtc-signaling"))
            .args(["--port", "0", "--redis", &redis.url])
            .args(["--resume-grace", &grace.as_secs().to_string()])
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.contains("event=listening").then(|| {
                    line.split_whitespace()
                        .find_map(|field| field.strip_prefix("address="))
                        .and_then(|addr| addr.parse::<SocketAddr>().ok())
                })?
            })
            .expect("the instance says where it listens");
        std::thread::spawn(move || lines.for_each(drop));
        (child, addr)
    };
    let (mut a, a_addr) = spawn();
    let (mut b, b_addr) = spawn();
    let mut host = Client::connect(a_addr).await;
    let lobby = lobby_name(&host.join("", true).await);
    let mut player = Client::connect(b_addr).await;
    assert_eq!(player.join(&lobby, true).await["id"], 2);
    host.expect("peer_joined").await;

    b.kill().expect("kill instance B");
    let killed = Instant::now();
    let limit = INSTANCE_TTL + grace + 2 * HEARTBEAT + Duration::from_secs(2);
    let left = tokio::time::timeout(limit, async {
        loop {
            host.send(json!({"type": "ping"})).await;
            if let Some(message) = host.drain(Duration::from_millis(200)).await.pop() {
                return message;
            }
        }
    })
    .await
    .expect("the dead instance's player left in time");
    assert_eq!(
        (left["type"].as_str(), left["id"].as_u64()),
        (Some("peer_left"), Some(2))
    );
    println!(
        "FIGURE players of a killed instance left their lobbies after {:.1} s (key lifetime {:?}, grace {grace:?})",
        killed.elapsed().as_secs_f64(),
        INSTANCE_TTL
    );
    let _ = b.wait();
    let _ = a.kill();
    let _ = a.wait();
}

/// Redis restarts (its lobbies are lost with it): the instances reconnect, commands and their
/// subscriptions both, and players on different instances meet again.
#[tokio::test]
async fn instances_carry_on_after_redis_restarts() {
    let mut redis = Redis::start();
    let (a, b) = (
        redis.instance(Limits::default()).await,
        redis.instance(Limits::default()).await,
    );
    redis.restart();
    let restarted = Instant::now();
    loop {
        assert!(
            restarted.elapsed() < Duration::from_secs(20),
            "players on two instances never met again after Redis restarted"
        );
        let mut host = Client::connect(a).await;
        let joined = host.join("", true).await;
        if joined["type"] != "joined" {
            continue;
        }
        let mut guest = Client::connect(b).await;
        if guest.join(&lobby_name(&joined), true).await["type"] != "joined" {
            continue;
        }
        // The guest's arrival reaches the host only through instance A's subscription.
        if host
            .drain(Duration::from_millis(500))
            .await
            .iter()
            .any(|message| message["type"] == "peer_joined")
        {
            println!(
                "FIGURE instances routed across each other again {:.1} s after Redis restarted",
                restarted.elapsed().as_secs_f64()
            );
            break;
        }
    }
}
