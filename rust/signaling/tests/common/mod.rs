//! What the signaling tests share: a server on 127.0.0.1, a WebSocket client speaking the
//! protocol, a plain HTTP GET.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};
use webrtc_signaling::{router, router_for, Credentials, Hub, Limits};

pub const WAIT: Duration = Duration::from_secs(5);

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn start(limits: Limits) -> SocketAddr {
    start_with(limits, Credentials::default()).await
}

/// A server on a free loopback port. Its lobbies are kept in the process, or, when
/// `SIGNALING_TEST_REDIS` names a Redis (`redis+unix:///path`), in that Redis: the test
/// command runs the behaviour suite (`tests/server.rs`) both ways, so the rules the in-process
/// directory and the Redis scripts each implement are held to the same cases. Each server
/// gets a database of its own, so limits counted across a store see only its test's lobbies.
pub async fn start_with(limits: Limits, credentials: Credentials) -> SocketAddr {
    match std::env::var("SIGNALING_TEST_REDIS") {
        Ok(url) => {
            static DATABASES: AtomicUsize = AtomicUsize::new(0);
            let url = format!("{url}?db={}", DATABASES.fetch_add(1, Ordering::Relaxed));
            let hub = Hub::shared(limits, credentials, &url)
                .await
                .expect("the test's Redis answers");
            serve(router_for(hub)).await
        }
        Err(_) => serve(router(limits, credentials)).await,
    }
}

/// Serves `app` on a free loopback port, in the background.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

pub struct Client {
    pub socket: Socket,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let (socket, _) = connect_async(format!("ws://{addr}/"))
            .await
            .expect("connect");
        Self { socket }
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// Leaves: closes the WebSocket with a close frame.
    pub async fn close(mut self) {
        self.socket.close(None).await.expect("close");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("send");
    }

    /// The next JSON message, or `None` when the server closed the connection.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("server answered in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).expect("server sends JSON"))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    }

    /// Every message that arrives until `quiet` passes without one.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut messages = Vec::new();
        while let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(quiet, self.socket.next()).await
        {
            messages.push(serde_json::from_str(&text).expect("server sends JSON"));
        }
        messages
    }

    pub async fn expect(&mut self, kind: &str) -> Value {
        let message = self.next().await.expect("connection open");
        assert_eq!(message["type"], kind, "unexpected message {message}");
        message
    }

    pub async fn join(&mut self, lobby: &str, mesh: bool) -> Value {
        self.send(json!({"type": "join", "lobby": lobby, "mesh": mesh}))
            .await;
        self.next().await.expect("join answered")
    }
}

pub async fn lobby_of(addr: SocketAddr, size: usize, mesh: bool) -> (String, Vec<Client>) {
    let mut host = Client::connect(addr).await;
    let joined = host.join("", mesh).await;
    let lobby = joined["lobby"].as_str().expect("lobby name").to_owned();
    let mut clients = vec![host];
    for _ in 1..size {
        let mut client = Client::connect(addr).await;
        assert_eq!(client.join(&lobby, true).await["type"], "joined");
        for other in &mut clients {
            other.expect("peer_joined").await;
        }
        clients.push(client);
    }
    (lobby, clients)
}

pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("request");
    let mut body = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut body))
        .await
        .expect("response in time")
        .expect("read");
    body
}

/// `player` (seat 2 of `host`'s `lobby`) drops without a close frame; an offer the host sends
/// meanwhile waits for it, and nobody hears of a departure. A new WebSocket through `through`
/// resumes the seat with `token`, gets `resumed` and the offer, and is returned.
pub async fn away_and_back(
    (host, player): (&mut Client, Client),
    lobby: &str,
    token: &str,
    through: SocketAddr,
) -> Client {
    drop(player);
    host.send(json!({"type": "offer", "to": 2, "sdp": "while away"}))
        .await;
    assert_eq!(
        host.drain(Duration::from_millis(300)).await,
        Vec::<Value>::new(),
        "no peer_left and no error while the seat waits"
    );
    let mut back = Client::connect(through).await;
    back.send(json!({"type": "resume", "token": token})).await;
    let resumed = back.expect("resumed").await;
    assert_eq!(
        (resumed["lobby"].as_str(), resumed["id"].as_u64()),
        (Some(lobby), Some(2))
    );
    let waited = back.expect("offer").await;
    assert_eq!(
        (waited["from"].as_u64(), waited["sdp"].as_str()),
        (Some(1), Some("while away"))
    );
    back
}
