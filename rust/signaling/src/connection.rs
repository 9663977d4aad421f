//! One client connection: reads its messages, enforces the per-connection limits, and writes
//! what the hub routes to it.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::hub::{Hub, Membership};
use crate::log::log_event;
use crate::metrics::Refusal;
use crate::protocol::{ClientMessage, ServerMessage};

/// Token bucket: `rate` messages per second sustained, bursts up to `burst`.
struct RateLimit {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl RateLimit {
    fn new(rate: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            last: Instant::now(),
        }
    }

    fn allow(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Serves one WebSocket until the client leaves, idles out, or its lobby closes.
pub async fn serve(socket: WebSocket, hub: Arc<Hub>) {
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut inbox) = mpsc::channel::<ServerMessage>(hub.limits.outbox_capacity);
    // Handed to the hub on join; afterwards the hub holds the only sender, so dropping it
    // (the lobby closed) ends this connection.
    let mut outbox = Some(outbox);
    let mut member: Option<Membership> = None;
    let mut rate = RateLimit::new(hub.limits.messages_per_second, hub.limits.message_burst);
    let idle = tokio::time::sleep(hub.limits.idle_timeout);
    tokio::pin!(idle);
    loop {
        let reply = tokio::select! {
            () = &mut idle => {
                log_event("idle_timeout", &[]);
                break;
            }
            incoming = stream.next() => {
                // Only what the client sends keeps it alive; traffic routed to it does not.
                idle.as_mut().reset(tokio::time::Instant::now() + hub.limits.idle_timeout);
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if rate.allow() {
                            handle_text(&hub, &mut member, &mut outbox, text.as_str())
                        } else {
                            Err((Refusal::RateLimit, "rate limit exceeded; message dropped".into()))
                        }
                        .err()
                        .map(|(why, message)| {
                            hub.metrics.refused(why);
                            ServerMessage::error(message)
                        })
                    }
                    Some(Ok(Message::Binary(_))) => {
                        hub.metrics.refused(Refusal::Malformed);
                        Some(ServerMessage::error("binary frames are not supported; send JSON text"))
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                }
            }
            routed = inbox.recv(), if member.is_some() => match routed {
                Some(message) => Some(message),
                // The hub dropped our outbox: the lobby was closed.
                None => break,
            },
        };
        if let Some(reply) = reply {
            if sink
                .send(Message::Text(reply.to_json().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    }
    if let Some(member) = member {
        hub.leave(&member);
    }
    let _ = sink.close().await;
}

/// Handles one text message; a refusal is answered with an `error` and counted.
fn handle_text(
    hub: &Arc<Hub>,
    member: &mut Option<Membership>,
    outbox: &mut Option<mpsc::Sender<ServerMessage>>,
    text: &str,
) -> Result<(), (Refusal, String)> {
    if text.len() > hub.limits.max_message_bytes {
        return Err((
            Refusal::Oversized,
            format!(
                "message of {} bytes exceeds the {}-byte limit",
                text.len(),
                hub.limits.max_message_bytes
            ),
        ));
    }
    let message = serde_json::from_str::<ClientMessage>(text)
        .map_err(|err| (Refusal::Malformed, format!("malformed message: {err}")))?;
    let order = |message: &str| Err((Refusal::Order, message.to_owned()));
    let lobby = |result: Result<(), String>| result.map_err(|err| (Refusal::Lobby, err));
    match (message, member.as_ref()) {
        (ClientMessage::Join { lobby, mesh, token }, None) => match outbox.clone() {
            Some(sender) => {
                hub.admit(token.as_deref())
                    .map_err(|err| (Refusal::Token, err))?;
                let joined = hub
                    .join(&lobby, mesh, sender)
                    .map_err(|err| (Refusal::Join, err))?;
                *member = Some(joined);
                *outbox = None;
                Ok(())
            }
            None => order("already in a lobby"),
        },
        (ClientMessage::Join { .. }, Some(_)) => order("already in a lobby"),
        (ClientMessage::Ping, _) => Ok(()),
        (_, None) => order("join a lobby first"),
        (ClientMessage::Seal, Some(me)) => lobby(hub.seal(me)),
        (ClientMessage::Offer { to, sdp }, Some(me)) => {
            lobby(hub.relay(me, to, ServerMessage::Offer { from: me.id, sdp }))
        }
        (ClientMessage::Answer { to, sdp }, Some(me)) => {
            lobby(hub.relay(me, to, ServerMessage::Answer { from: me.id, sdp }))
        }
        (
            ClientMessage::Candidate {
                to,
                media,
                index,
                name,
            },
            Some(me),
        ) => lobby(hub.relay(
            me,
            to,
            ServerMessage::Candidate {
                from: me.id,
                media,
                index,
                name,
            },
        )),
    }
}
