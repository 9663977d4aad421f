//! One client connection: reads its messages, enforces the per-connection limits, and writes
//! what the hub routes to it.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::hub::{Hub, Inbox, Membership};
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

/// Why a connection ended, which decides what happens to its seat.
enum Ending {
    /// The client closed the WebSocket: it left.
    Left,
    /// The connection broke or went silent: the seat waits for a `resume`.
    Dropped,
    /// The hub let go of us (the lobby closed, or a new connection resumed the seat).
    Released,
}

/// Serves one WebSocket until the client leaves, drops, idles out, or its lobby closes.
pub async fn serve(socket: WebSocket, hub: Arc<Hub>) {
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut inbox) = mpsc::channel::<ServerMessage>(hub.limits.outbox_capacity);
    // Handed to the hub on join; afterwards the hub holds the only sender, so dropping it
    // (the lobby closed) ends this connection. A resume brings the seat's inbox instead.
    let mut outbox = Some(outbox);
    let mut member: Option<Membership> = None;
    let mut rate = RateLimit::new(hub.limits.messages_per_second, hub.limits.message_burst);
    let idle = tokio::time::sleep(hub.limits.idle_timeout);
    tokio::pin!(idle);
    let ending = loop {
        let reply = tokio::select! {
            () = &mut idle => {
                log_event("idle_timeout", &[]);
                break Ending::Dropped;
            }
            incoming = stream.next() => {
                // Only what the client sends keeps it alive; traffic routed to it does not.
                idle.as_mut().reset(tokio::time::Instant::now() + hub.limits.idle_timeout);
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if rate.allow() {
                            handle_text(&hub, &mut member, &mut outbox, &mut inbox, text.as_str())
                                .await
                        } else {
                            Err((Refusal::RateLimit, "rate limit exceeded; message dropped".into()))
                        }
                        .unwrap_or_else(|(why, message)| {
                            hub.metrics.refused(why);
                            Some(ServerMessage::error(message))
                        })
                    }
                    Some(Ok(Message::Binary(_))) => {
                        hub.metrics.refused(Refusal::Malformed);
                        Some(ServerMessage::error("binary frames are not supported; send JSON text"))
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_))) => break Ending::Left,
                    Some(Err(_)) | None => break Ending::Dropped,
                }
            }
            routed = inbox.recv(), if member.is_some() => match routed {
                Some(message) => Some(message),
                None => break Ending::Released,
            },
        };
        if let Some(reply) = reply {
            if sink
                .send(Message::Text(reply.to_json().into()))
                .await
                .is_err()
            {
                break Ending::Dropped;
            }
        }
    };
    if let Some(member) = member {
        match ending {
            Ending::Dropped => hub.detach(&member, inbox).await,
            Ending::Left | Ending::Released => hub.leave(&member).await,
        }
    }
    let _ = sink.close().await;
}

/// Handles one text message: the reply to send, if any; a refusal is answered with an
/// `error` and counted.
async fn handle_text(
    hub: &Arc<Hub>,
    member: &mut Option<Membership>,
    outbox: &mut Option<mpsc::Sender<ServerMessage>>,
    inbox: &mut Inbox,
    text: &str,
) -> Result<Option<ServerMessage>, (Refusal, String)> {
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
    let lobby =
        |result: Result<(), String>| result.map(|()| None).map_err(|err| (Refusal::Lobby, err));
    match (message, member.as_ref()) {
        (ClientMessage::Join { lobby, mesh, token }, None) => match outbox.clone() {
            Some(sender) => {
                hub.admit(token.as_deref())
                    .map_err(|err| (Refusal::Token, err))?;
                let joined = hub
                    .join(&lobby, mesh, sender)
                    .await
                    .map_err(|err| (Refusal::Join, err))?;
                *member = Some(joined);
                *outbox = None;
                Ok(None)
            }
            None => order("already in a lobby"),
        },
        (ClientMessage::Resume { token }, None) => {
            let (resumed, seat_inbox) = hub
                .resume(&token)
                .await
                .map_err(|err| (Refusal::Resume, err))?;
            let reply = ServerMessage::Resumed {
                lobby: resumed.lobby.clone(),
                id: resumed.id,
            };
            *member = Some(resumed);
            *inbox = seat_inbox;
            *outbox = None;
            Ok(Some(reply))
        }
        (ClientMessage::Join { .. } | ClientMessage::Resume { .. }, Some(_)) => {
            order("already in a lobby")
        }
        (ClientMessage::Ping, _) => Ok(None),
        (_, None) => order("join a lobby first"),
        (ClientMessage::Seal, Some(me)) => lobby(hub.seal(me).await),
        (ClientMessage::Offer { to, sdp }, Some(me)) => lobby(
            hub.relay(me, to, ServerMessage::Offer { from: me.id, sdp })
                .await,
        ),
        (ClientMessage::Answer { to, sdp }, Some(me)) => lobby(
            hub.relay(me, to, ServerMessage::Answer { from: me.id, sdp })
                .await,
        ),
        (
            ClientMessage::Candidate {
                to,
                media,
                index,
                name,
            },
            Some(me),
        ) => {
            let candidate = ServerMessage::Candidate {
                from: me.id,
                media,
                index,
                name,
            };
            lobby(hub.relay(me, to, candidate).await)
        }
    }
}
