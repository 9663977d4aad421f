//! Signaling and lobby server for Godot WebRTC games.
//!
//! Clients speak JSON over one WebSocket each (see [`protocol`]). The [`hub`] keeps lobbies
//! and routes offers, answers and candidates between peers of the same lobby; each
//! [`connection`] enforces the per-client [`limits`]. `GET /health` reports liveness.

pub mod broker;
pub mod connection;
pub mod directory;
pub mod hub;
pub mod limits;
pub mod log;
pub mod metrics;
pub mod protocol;
pub mod seats;
pub mod tls;
pub mod token;
pub mod turn;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::metrics::Gauges;

pub use hub::Hub;
pub use limits::Limits;
pub use token::JoinSecret;
pub use turn::Turn;

/// Frames above this are refused by the WebSocket layer itself (connection closed); smaller
/// oversized messages get an error reply from the hub.
const HARD_FRAME_LIMIT: usize = 1024 * 1024;
/// Read buffer per WebSocket. Signaling messages are a few KiB at most (larger ones are read
/// in several goes); the WebSocket layer's default of 128 KiB per connection was most of the
/// server's memory (PROFILES.md).
const READ_BUFFER: usize = 4 * 1024;

#[derive(Clone)]
struct AppState {
    hub: Arc<Hub>,
    connections: Arc<AtomicUsize>,
}

/// Decrements the connection count however the connection ends.
struct ConnectionSlot(Arc<AtomicUsize>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Secrets the server shares with others.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// With the TURN servers' secret, every `joined` carries TURN credentials for that player.
    pub turn: Option<Turn>,
    /// With the game backend's secret, `join` needs a token it signed.
    pub join: Option<JoinSecret>,
}

/// The server's routes for a single instance, its lobbies in memory.
pub fn router(limits: Limits, credentials: Credentials) -> Router {
    router_for(Hub::new(limits, credentials))
}

/// The server's routes over `hub`: the WebSocket at `/`, `/health` and `/metrics`.
pub fn router_for(hub: Arc<Hub>) -> Router {
    let state = AppState {
        hub,
        connections: Arc::new(AtomicUsize::new(0)),
    };
    Router::new()
        .route("/", get(upgrade))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    let count = state.connections.fetch_add(1, Ordering::AcqRel) + 1;
    let slot = ConnectionSlot(state.connections.clone());
    if count > state.hub.limits.max_connections {
        return (StatusCode::SERVICE_UNAVAILABLE, "server full").into_response();
    }
    let hub = state.hub.clone();
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        // Each message is flushed as it is sent; nothing waits to fill a write buffer.
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            connection::serve(socket, hub).await;
            drop(slot);
        })
}

async fn health(State(state): State<AppState>) -> Response {
    let connections = state.connections.load(Ordering::Acquire);
    match state.hub.counts().await {
        Ok((lobbies, _)) => Json(serde_json::json!({
            "status": "ok",
            "lobbies": lobbies,
            "connections": connections,
        }))
        .into_response(),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "error": err})),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let (lobbies, players) = match state.hub.counts().await {
        Ok(counts) => counts,
        Err(err) => return (StatusCode::SERVICE_UNAVAILABLE, err).into_response(),
    };
    let gauges = Gauges {
        connections: state.connections.load(Ordering::Acquire),
        lobbies,
        players,
    };
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.hub.metrics.render(&gauges),
    )
        .into_response()
}
