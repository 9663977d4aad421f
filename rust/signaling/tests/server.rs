//! The signaling server over real WebSockets on 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{away_and_back, http_get, lobby_of, start, start_with, Client};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use webrtc_signaling::{Credentials, JoinSecret, Limits, Turn};

#[tokio::test]
async fn lobby_lifecycle_assigns_ids_and_announces_arrivals_and_departures() {
    let addr = start(Limits::default()).await;
    let mut host = Client::connect(addr).await;
    let joined = host.join("", false).await;
    assert_eq!(joined["type"], "joined");
    assert_eq!(joined["id"], 1, "the creator is the host");
    assert_eq!(joined["mesh"], false);
    let lobby = joined["lobby"].as_str().expect("name").to_owned();

    let mut second = Client::connect(addr).await;
    let joined = second.join(&lobby, true).await;
    assert_eq!(joined["id"], 2);
    assert_eq!(joined["mesh"], false, "joiners adopt the lobby's mode");
    assert_eq!(joined["peers"], json!([1]));
    assert_eq!(host.expect("peer_joined").await["id"], 2);

    second.close().await;
    assert_eq!(
        host.expect("peer_left").await["id"],
        2,
        "closing is leaving"
    );

    let mut unknown = Client::connect(addr).await;
    let refused = unknown.join("NOSUCH", true).await;
    assert_eq!(refused["type"], "error");
}

/// A player whose WebSocket breaks (no close frame) keeps its seat for the grace period: the
/// others see no `peer_left`, what they send it waits, and a new WebSocket presenting the
/// seat's resume token takes the seat back with that mail.
#[tokio::test]
async fn a_dropped_websocket_resumes_its_seat_with_what_waited_for_it() {
    let addr = start(Limits::default()).await;
    let mut host = Client::connect(addr).await;
    let lobby = host.join("", true).await["lobby"]
        .as_str()
        .expect("lobby")
        .to_owned();
    let mut player = Client::connect(addr).await;
    let joined = player.join(&lobby, true).await;
    let token = joined["resume"]
        .as_str()
        .expect("a resume token")
        .to_owned();
    assert_eq!(token.len(), 32, "128 random bits: {token}");
    host.expect("peer_joined").await;

    let mut back = away_and_back((&mut host, player), &lobby, &token, addr).await;
    back.send(json!({"type": "answer", "to": 1, "sdp": "back"}))
        .await;
    assert_eq!(
        host.expect("answer").await["from"],
        2,
        "the seat is the same player"
    );

    let mut thief = Client::connect(addr).await;
    thief
        .send(json!({"type": "resume", "token": "0".repeat(32)}))
        .await;
    assert!(thief.expect("error").await["message"]
        .as_str()
        .is_some_and(|m| m.contains("no seat to resume")));
}

/// A seat nobody resumes within the grace period is given up: the others get `peer_left` and
/// the token no longer works. A resume while the old connection still holds the seat (the
/// server has not noticed the drop yet) takes it over and ends the old connection.
#[tokio::test]
async fn a_seat_is_given_up_after_the_grace_period_and_can_be_taken_over_before() {
    let limits = Limits {
        resume_grace: Duration::from_millis(300),
        ..Limits::default()
    };
    let addr = start(limits).await;
    let (lobby, mut peers) = lobby_of(addr, 2, true).await;
    let mut third = Client::connect(addr).await;
    let token = third.join(&lobby, true).await["resume"]
        .as_str()
        .expect("token")
        .to_owned();
    for peer in &mut peers {
        peer.expect("peer_joined").await;
    }

    let mut newer = Client::connect(addr).await;
    newer.send(json!({"type": "resume", "token": &token})).await;
    newer.expect("resumed").await;
    assert_eq!(third.next().await, None, "the old connection lost the seat");
    for peer in &mut peers {
        assert_eq!(
            peer.drain(Duration::from_millis(100)).await,
            Vec::<Value>::new(),
            "a takeover is no departure"
        );
    }

    let dropped = std::time::Instant::now();
    drop(newer);
    for peer in &mut peers {
        assert_eq!(peer.expect("peer_left").await["id"], 3);
    }
    let given_up = dropped.elapsed();
    assert!(
        given_up >= Duration::from_millis(300),
        "gave up after {given_up:?}"
    );
    let mut late = Client::connect(addr).await;
    late.send(json!({"type": "resume", "token": token})).await;
    late.expect("error").await;
}

#[tokio::test]
async fn each_player_gets_turn_credentials_of_its_own_when_the_server_has_a_secret() {
    let turn = Turn::new(
        vec![
            "turn:10.0.0.1:3478".into(),
            "turns:turn.example:5349".into(),
        ],
        b"shared secret",
        Duration::from_secs(600),
    )
    .expect("turn");
    let credentials = Credentials {
        turn: Some(turn),
        join: None,
    };
    let addr = start_with(Limits::default(), credentials).await;
    let (lobby, _clients) = lobby_of(addr, 1, true).await;
    let mut second = Client::connect(addr).await;
    let joined = second.join(&lobby, true).await;
    let servers = joined["ice_servers"].as_array().expect("ice_servers");
    assert_eq!(servers.len(), 1, "{joined}");
    assert_eq!(
        servers[0]["urls"],
        json!(["turn:10.0.0.1:3478", "turns:turn.example:5349"])
    );
    let username = servers[0]["username"].as_str().expect("username");
    let (expiry, who) = username.split_once(':').expect("<expiry>:<who>");
    assert_eq!(who, format!("{lobby}-2"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let expiry: u64 = expiry.parse().expect("unix time");
    assert!(
        (now + 590..=now + 610).contains(&expiry),
        "expires {expiry}, now {now}"
    );
    assert!(!servers[0]["credential"].as_str().unwrap_or("").is_empty());

    let plain = start(Limits::default()).await;
    let mut client = Client::connect(plain).await;
    let joined = client.join("", true).await;
    assert!(
        joined.get("ice_servers").is_none(),
        "none without a secret: {joined}"
    );
}

#[tokio::test]
async fn with_a_join_secret_only_signed_unexpired_tokens_get_in() {
    let secret = JoinSecret::new(b"backend secret").expect("secret");
    let credentials = Credentials {
        turn: None,
        join: Some(secret.clone()),
    };
    let addr = start_with(Limits::default(), credentials).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let forged = JoinSecret::new(b"guessed")
        .expect("secret")
        .mint("p1", now + 60)
        .expect("token");
    for (token, why) in [
        (None, "needs a join token"),
        (Some("garbage".to_owned()), "malformed"),
        (Some(forged), "not signed"),
        (Some(secret.mint("p1", now - 1).expect("token")), "expired"),
    ] {
        let mut client = Client::connect(addr).await;
        let mut join = json!({"type": "join", "lobby": "", "mesh": true});
        if let Some(token) = &token {
            join["token"] = json!(token);
        }
        client.send(join).await;
        let refused = client.next().await.expect("answer");
        assert_eq!(refused["type"], "error", "{token:?}: {refused}");
        assert!(
            refused["message"].as_str().unwrap_or("").contains(why),
            "{token:?}: {refused}"
        );
    }
    let body = http_get(addr, "/health").await;
    assert!(
        body.contains("\"lobbies\":0"),
        "no refused join made a lobby: {body}"
    );

    let mut client = Client::connect(addr).await;
    let token = secret.mint("p1", now + 60).expect("token");
    client
        .send(json!({"type": "join", "lobby": "", "mesh": true, "token": token}))
        .await;
    assert_eq!(client.next().await.expect("answer")["type"], "joined");
}

/// `GET /metrics` in Prometheus' text format: checked by `promtool check metrics` (Debian's
/// `prometheus`, which `tests/run.sh` installs) and by the values it must show.
#[tokio::test]
async fn metrics_count_what_happened_and_pass_promtool() {
    let addr = start(Limits::default()).await;
    let (_, mut players) = lobby_of(addr, 2, true).await;
    players[1]
        .send(json!({"type": "offer", "to": 1, "sdp": "v=0"}))
        .await;
    players[0].expect("offer").await;
    players[1]
        .send(json!({"type": "offer", "to": 9, "sdp": "v=0"}))
        .await;
    players[1].expect("error").await;
    players[1].send_raw(Message::Text("{".into())).await;
    players[1].expect("error").await;

    let response = http_get(addr, "/metrics").await;
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    for line in [
        "signaling_connections 2",
        "signaling_lobbies 1",
        "signaling_players 2",
        "signaling_joins_total 2",
        "signaling_relayed_messages_total 1",
        "signaling_refused_messages_total{reason=\"lobby\"} 1",
        "signaling_refused_messages_total{reason=\"malformed\"} 1",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in\n{body}"
        );
    }

    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package) is installed");
    use std::io::Write as _;
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write");
    let checked = promtool.wait_with_output().expect("promtool ran");
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[tokio::test]
async fn relay_reaches_only_the_addressed_peer_of_the_same_lobby() {
    let addr = start(Limits::default()).await;
    let (_, mut a) = lobby_of(addr, 3, true).await;
    let (_, mut b) = lobby_of(addr, 2, true).await;

    a[0].send(json!({"type": "offer", "to": 3, "sdp": "v=0"}))
        .await;
    let offer = a[2].expect("offer").await;
    assert_eq!(offer["from"], 1);
    assert_eq!(offer["sdp"], "v=0");
    a[2].send(
        json!({"type": "candidate", "to": 1, "media": "0", "index": 0, "name": "candidate:1"}),
    )
    .await;
    let candidate = a[0].expect("candidate").await;
    assert_eq!(candidate["from"], 3);
    assert_eq!(candidate["name"], "candidate:1");

    // Peer 2 of the other lobby exists, but is out of reach.
    b[0].send(json!({"type": "answer", "to": 3, "sdp": "x"}))
        .await;
    assert_eq!(b[0].expect("error").await["type"], "error");
    a[0].send(json!({"type": "answer", "to": 1, "sdp": "x"}))
        .await;
    assert_eq!(
        a[0].expect("error").await["type"],
        "error",
        "no messages to oneself"
    );
    // Nothing leaked into the other lobby's peer 2 or this lobby's peer 2.
    b[1].send(json!({"type": "offer", "to": 1, "sdp": "probe"}))
        .await;
    assert_eq!(
        b[0].expect("offer").await["sdp"],
        "probe",
        "b[0] saw nothing before the probe"
    );
    a[0].send(json!({"type": "offer", "to": 2, "sdp": "probe"}))
        .await;
    assert_eq!(
        a[1].expect("offer").await["sdp"],
        "probe",
        "a[1] saw nothing before the probe"
    );
}

#[tokio::test]
async fn server_client_lobby_ends_when_its_host_leaves() {
    let addr = start(Limits::default()).await;
    let (_, mut peers) = lobby_of(addr, 3, false).await;
    let host = peers.remove(0);
    host.close().await;
    for peer in &mut peers {
        assert_eq!(peer.expect("peer_left").await["id"], 1);
        assert_eq!(
            peer.next().await,
            None,
            "clients are released with the host"
        );
    }
}

#[tokio::test]
async fn sealed_lobby_refuses_newcomers_then_closes() {
    let limits = Limits {
        seal_grace: Duration::from_millis(300),
        ..Limits::default()
    };
    let addr = start(limits).await;
    let (lobby, mut peers) = lobby_of(addr, 4, true).await;
    peers[1].send(json!({"type": "seal"})).await;
    assert_eq!(
        peers[1].expect("error").await["type"],
        "error",
        "only the host seals"
    );
    peers[0].send(json!({"type": "seal"})).await;
    for peer in &mut peers {
        peer.expect("sealed").await;
    }
    let mut fifth = Client::connect(addr).await;
    let refused = fifth.join(&lobby, true).await;
    assert_eq!(refused["type"], "error");
    assert!(
        refused["message"].as_str().unwrap_or("").contains("sealed"),
        "{refused}"
    );
    for peer in &mut peers {
        assert_eq!(
            peer.next().await,
            None,
            "connection closed after the grace period"
        );
    }
}

#[tokio::test]
async fn bad_messages_get_errors_and_never_disturb_others() {
    let limits = Limits {
        max_message_bytes: 1024,
        ..Limits::default()
    };
    let addr = start(limits).await;
    let (_, mut peers) = lobby_of(addr, 2, true).await;
    let bad: Vec<Message> = vec![
        Message::Text("{not json".into()),
        Message::Text(json!({"type": "teleport"}).to_string().into()),
        Message::Text(json!({"type": "offer", "to": "two"}).to_string().into()),
        Message::Text(
            json!({"type": "offer", "to": 2, "sdp": "x".repeat(2000)})
                .to_string()
                .into(),
        ),
        Message::Binary(vec![1, 2, 3].into()),
        Message::Text(json!({"type": "join"}).to_string().into()),
    ];
    for message in bad {
        peers[0].send_raw(message).await;
        assert_eq!(peers[0].expect("error").await["type"], "error");
    }
    peers[0]
        .send(json!({"type": "offer", "to": 2, "sdp": "still fine"}))
        .await;
    assert_eq!(peers[1].expect("offer").await["sdp"], "still fine");

    let mut stranger = Client::connect(addr).await;
    stranger
        .send(json!({"type": "offer", "to": 1, "sdp": "x"}))
        .await;
    assert!(stranger.expect("error").await["message"]
        .as_str()
        .unwrap_or("")
        .contains("join"));
}

#[tokio::test]
async fn lobby_size_lobby_count_and_rate_limits_hold() {
    let limits = Limits {
        max_lobby_peers: 2,
        max_lobbies: 2,
        messages_per_second: 5,
        message_burst: 5,
        ..Limits::default()
    };
    let addr = start(limits).await;
    let (lobby, mut peers) = lobby_of(addr, 2, true).await;
    let mut third = Client::connect(addr).await;
    assert!(third.join(&lobby, true).await["message"]
        .as_str()
        .unwrap_or("")
        .contains("full"));
    let mut other = Client::connect(addr).await;
    assert_eq!(other.join("", true).await["type"], "joined");
    let mut too_many = Client::connect(addr).await;
    assert!(too_many.join("", true).await["message"]
        .as_str()
        .unwrap_or("")
        .contains("lobbies"));

    for _ in 0..20 {
        peers[0]
            .send(json!({"type": "offer", "to": 2, "sdp": "spam"}))
            .await;
    }
    let quiet = Duration::from_millis(300);
    let refused = peers[0].drain(quiet).await;
    let delivered = peers[1].drain(quiet).await;
    assert!(refused
        .iter()
        .all(|m| m["message"].as_str().unwrap_or("").contains("rate limit")));
    assert_eq!(
        refused.len() + delivered.len(),
        20,
        "every message is delivered or refused"
    );
    assert!(
        refused.len() >= 10,
        "a 20-message burst over a 5-message budget: {} refused",
        refused.len()
    );
}

#[tokio::test]
async fn idle_connections_time_out_and_health_reports() {
    // No resume grace: the idle player's seat goes with its connection.
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        resume_grace: Duration::ZERO,
        ..Limits::default()
    };
    let addr = start(limits).await;
    let (_, mut peers) = lobby_of(addr, 2, true).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        peers[1].send(json!({"type": "ping"})).await;
    }
    assert_eq!(peers[0].next().await, None, "idle host is disconnected");
    peers[1].send(json!({"type": "ping"})).await;
    assert_eq!(
        peers[1].expect("peer_left").await["id"],
        1,
        "a client that keeps pinging outlives the idle one"
    );
    let body = http_get(addr, "/health").await;
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    drop(peers);
}

/// 1,000 connected clients (or `SIGNALING_LOAD_CLIENTS`) in lobbies of two, each relaying one
/// message. Ignored by default (it needs ~2,000 file descriptors); `tests/run.sh` runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn load_thousand_clients_relay_one_message_each() {
    let clients: usize = std::env::var("SIGNALING_LOAD_CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let pairs = clients / 2;
    let addr = start(Limits::default()).await;
    let started = std::time::Instant::now();
    let connecting: Vec<_> = (0..pairs)
        .map(|_| tokio::spawn(lobby_of(addr, 2, true)))
        .collect();
    let mut lobbies = Vec::new();
    for task in connecting {
        lobbies.push(task.await.expect("pair connected").1);
    }
    let connected = started.elapsed();
    let health = http_get(addr, "/health").await;
    assert!(
        health.contains(&format!("\"connections\":{}", pairs * 2)),
        "{health}"
    );
    let relays: Vec<_> = lobbies
        .into_iter()
        .map(|mut pair| {
            tokio::spawn(async move {
                pair[0]
                    .send(json!({"type": "offer", "to": 2, "sdp": "a"}))
                    .await;
                pair[1]
                    .send(json!({"type": "offer", "to": 1, "sdp": "b"}))
                    .await;
                usize::from(pair[1].expect("offer").await["sdp"] == "a")
                    + usize::from(pair[0].expect("offer").await["sdp"] == "b")
            })
        })
        .collect();
    let mut delivered = 0;
    for task in relays {
        delivered += task.await.expect("relayed");
    }
    eprintln!(
        "{} clients connected in {connected:?}; {delivered} relays delivered, {:?} in total",
        pairs * 2,
        started.elapsed()
    );
    assert_eq!(delivered, pairs * 2);
}

/// The binary itself: flags, the address it logs, `/health`, and a clean exit on SIGTERM.
#[tokio::test]
async fn binary_serves_on_the_logged_address_and_stops_on_sigterm() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let exe = env!("CARGO_BIN_EXE_webrtc-signaling");
    let bad = Command::new(exe)
        .args(["--port", "seventy"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2), "a bad flag is a usage error");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--port needs a number"));

    let mut server = Command::new(exe)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = server.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let listening = lines.next().expect("a first log line").expect("readable");
    let addr: SocketAddr = listening
        .split_whitespace()
        .find_map(|field| field.strip_prefix("address="))
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {listening}"));
    assert!(addr.ip().is_loopback(), "loopback by default");
    let body = http_get(addr, "/health").await;
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "graceful exit, got {status}");
}
