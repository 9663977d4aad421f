//! `webrtc-signaling [--host ADDR] [--port N] [--max-lobby-size N] [--max-lobbies N]
//! [--idle-timeout SECS] [--seal-grace SECS] [--resume-grace SECS] [--turn-url URL]...
//! [--turn-secret-file PATH] [--turn-ttl SECS] [--join-secret-file PATH]
//! [--tls-cert PATH --tls-key PATH] [--redis URL]`: serves lobbies on a WebSocket at `/`. With
//! a TURN secret, every player gets TURN credentials of its own in its `joined` message
//! (`turn.rs`); with a join secret, `join` needs a token signed with it (`token.rs`); with a
//! certificate and key, it serves `wss://` (`tls.rs`); with a Redis URL, it shares its lobbies
//! with every instance on that Redis (`broker.rs`).
//!
//! `webrtc-signaling mint-token --join-secret-file PATH [--subject NAME] [--ttl SECS]` prints
//! a join token, as a game's backend would make one.

use std::process::ExitCode;
use std::time::Duration;

use axum::serve::Listener;
use axum::Router;
use webrtc_signaling::log::log_event;
use webrtc_signaling::tls::{self, TlsListener};
use webrtc_signaling::turn::DEFAULT_TTL;
use webrtc_signaling::{router_for, Credentials, Hub, JoinSecret, Limits, Turn};

/// How long open connections get to finish after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

struct Options {
    host: String,
    port: u16,
    limits: Limits,
    credentials: Credentials,
    /// Certificate chain and private key, both PEM, for `wss://`.
    tls: Option<(String, String)>,
    /// Lobbies shared with every instance on this Redis.
    redis: Option<String>,
}

/// The contents of a secret file, without its trailing newline.
fn read_secret(path: &str, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|secret| secret.trim().to_owned())
        .map_err(|err| format!("cannot read the {what} secret {path}: {err}"))
}

/// `mint-token`: prints a join token for `--subject` (default "player"), valid `--ttl` seconds.
fn mint_token(mut args: impl Iterator<Item = String>) -> Result<String, String> {
    let (mut secret, mut subject, mut ttl) = (None, "player".to_owned(), 3600u64);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--join-secret-file" => secret = Some(read_secret(&value, "join")?),
            "--subject" => subject = value,
            "--ttl" => {
                ttl = value
                    .parse()
                    .map_err(|_| format!("--ttl needs a number, got '{value}'"))?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let secret = secret.ok_or("mint-token needs --join-secret-file")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    JoinSecret::new(secret.as_bytes())?.mint(&subject, now + ttl)
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        host: "127.0.0.1".to_owned(),
        port: 9080,
        limits: Limits::default(),
        credentials: Credentials::default(),
        tls: None,
        redis: None,
    };
    let (mut tls_cert, mut tls_key) = (None, None);
    let (mut turn_urls, mut turn_secret, mut turn_ttl) = (Vec::new(), None, DEFAULT_TTL);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag} needs a number, got '{value}'"))
        };
        match flag.as_str() {
            "--host" => options.host = value.clone(),
            "--port" => {
                options.port = u16::try_from(number()?).map_err(|_| format!("bad port {value}"))?
            }
            "--max-lobby-size" => options.limits.max_lobby_peers = number()? as usize,
            "--max-lobbies" => options.limits.max_lobbies = number()? as usize,
            "--idle-timeout" => options.limits.idle_timeout = Duration::from_secs(number()?),
            "--seal-grace" => options.limits.seal_grace = Duration::from_secs(number()?),
            "--resume-grace" => options.limits.resume_grace = Duration::from_secs(number()?),
            "--turn-url" => turn_urls.push(value.clone()),
            "--turn-secret-file" => turn_secret = Some(read_secret(&value, "TURN")?),
            "--join-secret-file" => {
                let secret = read_secret(&value, "join")?;
                options.credentials.join = Some(JoinSecret::new(secret.as_bytes())?);
            }
            "--turn-ttl" => turn_ttl = Duration::from_secs(number()?),
            "--redis" => options.redis = Some(value.clone()),
            "--tls-cert" => tls_cert = Some(value.clone()),
            "--tls-key" => tls_key = Some(value.clone()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    options.credentials.turn = match turn_secret {
        Some(secret) => Some(Turn::new(turn_urls, secret.as_bytes(), turn_ttl)?),
        None if turn_urls.is_empty() => None,
        None => return Err("--turn-url needs --turn-secret-file".to_owned()),
    };
    options.tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".to_owned()),
    };
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("mint-token") {
        args.next();
        return match mint_token(args) {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("webrtc-signaling mint-token: {message}");
                ExitCode::from(2)
            }
        };
    }
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("webrtc-signaling: {message}");
            }
            eprintln!(
                "usage: webrtc-signaling [--host ADDR] [--port N] [--max-lobby-size N] \
                 [--max-lobbies N] [--idle-timeout SECS] [--seal-grace SECS] [--resume-grace SECS] \
                 [--turn-url URL]... [--turn-secret-file PATH] [--turn-ttl SECS] \
                 [--join-secret-file PATH] [--tls-cert PATH --tls-key PATH] [--redis URL]\n       \
                 webrtc-signaling mint-token --join-secret-file PATH [--subject NAME] [--ttl SECS]"
            );
            return ExitCode::from(2);
        }
    };
    let tls = match &options.tls {
        Some((cert, key)) => match tls::server_config(cert, key) {
            Ok(config) => Some(config),
            Err(message) => {
                eprintln!("webrtc-signaling: {message}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let address = format!("{}:{}", options.host, options.port);
    let listener = match tokio::net::TcpListener::bind(&address).await {
        Ok(listener) => listener,
        Err(err) => {
            log_event(
                "bind_failed",
                &[("address", &address), ("error", &err.to_string())],
            );
            return ExitCode::FAILURE;
        }
    };
    let bound = listener
        .local_addr()
        .map_or(address, |addr| addr.to_string());
    let hub = match &options.redis {
        Some(url) => match Hub::shared(options.limits, options.credentials, url).await {
            Ok(hub) => hub,
            Err(message) => {
                eprintln!("webrtc-signaling: {message}");
                return ExitCode::FAILURE;
            }
        },
        None => Hub::new(options.limits, options.credentials),
    };
    let app = router_for(hub);
    match tls {
        Some(config) => match TlsListener::new(listener, config) {
            Ok(listener) => serve(listener, app, &format!("wss://{bound}")).await,
            Err(err) => {
                log_event("bind_failed", &[("error", &err.to_string())]);
                ExitCode::FAILURE
            }
        },
        None => serve(listener, app, &format!("ws://{bound}")).await,
    }
}

/// Serves `app` on `listener` until SIGINT or SIGTERM.
async fn serve<L>(listener: L, app: Router, url: &str) -> ExitCode
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    let address = url.split_once("://").map_or(url, |(_, address)| address);
    log_event("listening", &[("address", address), ("url", url)]);
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        wait_for_signal().await;
        log_event("shutdown", &[]);
        let _ = stopping.send(true);
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown);
    // Open WebSockets would hold a graceful shutdown forever; give them a moment, then go.
    let deadline = async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                log_event("server_error", &[("error", &err.to_string())]);
                ExitCode::FAILURE
            }
        },
        () = deadline => ExitCode::SUCCESS,
    }
}

/// SIGINT or SIGTERM.
async fn wait_for_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
