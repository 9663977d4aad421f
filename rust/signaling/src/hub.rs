//! Lobby state: who is in which lobby, and the one place where messages are routed.
//!
//! Every seat in a lobby owns a bounded outbox; the hub only ever `try_send`s into it, so a slow
//! or stuck client is cut off instead of slowing anyone else down. A seat outlives its WebSocket
//! for the resume grace period: the outbox's receiving end is parked here, what is routed to the
//! player waits in it, and a new connection presenting the seat's resume token takes it back.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::limits::Limits;
use crate::log::log_event;
use crate::metrics::Metrics;
use crate::protocol::ServerMessage;
use crate::Credentials;

/// Messages waiting to be written to one client.
pub type Outbox = mpsc::Sender<ServerMessage>;

/// What a connection reads its routed messages from.
pub type Inbox = mpsc::Receiver<ServerMessage>;

struct Lobby {
    mesh: bool,
    sealed: bool,
    next_id: u32,
    peers: BTreeMap<u32, Seat>,
}

/// One player's place in a lobby.
struct Seat {
    outbox: Outbox,
    /// Presented in `resume` to take the seat back after the WebSocket dropped.
    resume: String,
    /// Which connection holds the seat; a connection that lost it changes nothing by leaving.
    session: u64,
    /// The outbox's receiving end while no connection holds the seat.
    parked: Option<Inbox>,
}

/// Where a connection currently is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub lobby: String,
    pub id: u32,
    session: u64,
}

#[derive(Default)]
struct State {
    lobbies: HashMap<String, Lobby>,
    /// Resume token → (lobby, id) of its seat.
    seats: HashMap<String, (String, u32)>,
}

impl State {
    /// Removes a seat and its resume token; the other players hear `peer_left`, and the lobby
    /// closes when it is empty or, server/client, its host left.
    fn remove_seat(&mut self, lobby_name: &str, id: u32) {
        let Some(lobby) = self.lobbies.get_mut(lobby_name) else {
            return;
        };
        let Some(seat) = lobby.peers.remove(&id) else {
            return;
        };
        self.seats.remove(&seat.resume);
        for peer in lobby.peers.values() {
            let _ = peer.outbox.try_send(ServerMessage::PeerLeft { id });
        }
        log_event("leave", &[("lobby", lobby_name), ("peer", &id.to_string())]);
        let host_left = !lobby.mesh && id == 1;
        if lobby.peers.is_empty() || host_left {
            self.close_lobby(lobby_name, "empty or host left");
        }
    }

    /// Drops a lobby; dropping the outboxes ends every member's connection.
    fn close_lobby(&mut self, name: &str, reason: &str) {
        if let Some(lobby) = self.lobbies.remove(name) {
            for seat in lobby.peers.values() {
                self.seats.remove(&seat.resume);
            }
            log_event("lobby_closed", &[("lobby", name), ("reason", reason)]);
        }
    }
}

pub struct Hub {
    pub limits: Limits,
    pub metrics: Metrics,
    credentials: Credentials,
    state: Mutex<State>,
    names: RandomState,
    name_counter: AtomicU64,
    sessions: AtomicU64,
}

impl Hub {
    pub fn new(limits: Limits, credentials: Credentials) -> Arc<Self> {
        Arc::new(Self {
            limits,
            metrics: Metrics::default(),
            credentials,
            state: Mutex::default(),
            names: RandomState::new(),
            name_counter: AtomicU64::new(0),
            sessions: AtomicU64::new(1),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a `join` with `token` may go ahead: always without a join secret.
    pub fn admit(&self, token: Option<&str>) -> Result<(), String> {
        let Some(secret) = &self.credentials.join else {
            return Ok(());
        };
        let token = token.ok_or("this server needs a join token")?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let subject = secret.check(token, now)?;
        log_event("admit", &[("subject", subject)]);
        Ok(())
    }

    pub fn lobby_count(&self) -> usize {
        self.state().lobbies.len()
    }

    pub fn player_count(&self) -> usize {
        self.state()
            .lobbies
            .values()
            .map(|lobby| lobby.peers.len())
            .sum()
    }

    /// A fresh six-character lobby name.
    fn fresh_name(&self, taken: &HashMap<String, Lobby>) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        loop {
            let mut bits = self
                .names
                .hash_one(self.name_counter.fetch_add(1, Ordering::Relaxed));
            let name: String = (0..6)
                .map(|_| {
                    let c = ALPHABET[(bits % ALPHABET.len() as u64) as usize] as char;
                    bits /= ALPHABET.len() as u64;
                    c
                })
                .collect();
            if !taken.contains_key(&name) {
                return name;
            }
        }
    }

    /// Joins (or creates, when `lobby` is empty) a lobby and announces the newcomer.
    pub fn join(&self, lobby: &str, mesh: bool, outbox: Outbox) -> Result<Membership, String> {
        let mut state = self.state();
        let state = &mut *state;
        let lobbies = &mut state.lobbies;
        let name = if lobby.is_empty() {
            if lobbies.len() >= self.limits.max_lobbies {
                return Err(format!(
                    "the server is full ({} lobbies); try again later",
                    self.limits.max_lobbies
                ));
            }
            let name = self.fresh_name(lobbies);
            lobbies.insert(
                name.clone(),
                Lobby {
                    mesh,
                    sealed: false,
                    next_id: 1,
                    peers: BTreeMap::new(),
                },
            );
            name
        } else {
            lobby.to_owned()
        };
        let Some(entry) = lobbies.get_mut(&name) else {
            return Err(format!("no lobby named '{name}'"));
        };
        if entry.sealed {
            return Err(format!("lobby '{name}' is sealed and takes no new players"));
        }
        if entry.peers.len() >= self.limits.max_lobby_peers {
            return Err(format!(
                "lobby '{name}' is full ({} players)",
                self.limits.max_lobby_peers
            ));
        }
        let id = entry.next_id;
        entry.next_id += 1;
        let peers: Vec<u32> = entry.peers.keys().copied().collect();
        let ice_servers = self
            .credentials
            .turn
            .iter()
            .map(|turn| turn.credentials(&name, id, SystemTime::now()))
            .collect();
        let resume = resume_token()?;
        let joined = ServerMessage::Joined {
            lobby: name.clone(),
            id,
            mesh: entry.mesh,
            peers,
            ice_servers,
            resume: resume.clone(),
        };
        if outbox.try_send(joined).is_err() {
            return Err("connection closed while joining".to_owned());
        }
        for peer in entry.peers.values() {
            let _ = peer.outbox.try_send(ServerMessage::PeerJoined { id });
        }
        let session = self.sessions.fetch_add(1, Ordering::Relaxed);
        entry.peers.insert(
            id,
            Seat {
                outbox,
                resume: resume.clone(),
                session,
                parked: None,
            },
        );
        state.seats.insert(resume, (name.clone(), id));
        self.metrics.joined();
        log_event("join", &[("lobby", &name), ("peer", &id.to_string())]);
        Ok(Membership {
            lobby: name,
            id,
            session,
        })
    }

    /// Gives the seat whose resume token is `token` to a new connection, with the messages
    /// that waited for it. Its old connection, if the server has not noticed it is gone yet,
    /// loses the seat and ends.
    pub fn resume(&self, token: &str) -> Result<(Membership, Inbox), String> {
        let mut state = self.state();
        let (lobby_name, id) = state
            .seats
            .get(token)
            .cloned()
            .ok_or("no seat to resume: the grace period is over or the lobby closed")?;
        let seat = state
            .lobbies
            .get_mut(&lobby_name)
            .and_then(|lobby| lobby.peers.get_mut(&id))
            .ok_or("no seat to resume: the lobby closed")?;
        let inbox = match seat.parked.take() {
            Some(inbox) => inbox,
            None => {
                let (outbox, inbox) = mpsc::channel(self.limits.outbox_capacity);
                seat.outbox = outbox;
                inbox
            }
        };
        seat.session = self.sessions.fetch_add(1, Ordering::Relaxed);
        self.metrics.resumed();
        log_event(
            "resume",
            &[("lobby", &lobby_name), ("peer", &id.to_string())],
        );
        Ok((
            Membership {
                lobby: lobby_name,
                id,
                session: seat.session,
            },
            inbox,
        ))
    }

    /// The member's WebSocket dropped: its seat waits `resume_grace` for it, keeping what is
    /// routed to it in `inbox`; then it is given up as if the player had left.
    pub fn detach(self: &Arc<Self>, member: &Membership, inbox: Inbox) {
        if self.limits.resume_grace.is_zero() {
            return self.leave(member);
        }
        {
            let mut state = self.state();
            let Some(seat) = state
                .lobbies
                .get_mut(&member.lobby)
                .and_then(|lobby| lobby.peers.get_mut(&member.id))
                .filter(|seat| seat.session == member.session)
            else {
                return;
            };
            seat.parked = Some(inbox);
        }
        log_event(
            "detach",
            &[("lobby", &member.lobby), ("peer", &member.id.to_string())],
        );
        let hub = Arc::clone(self);
        let member = member.clone();
        tokio::spawn(async move {
            tokio::time::sleep(hub.limits.resume_grace).await;
            hub.leave(&member);
        });
    }

    /// Delivers a relayed message to `to`, who must share the sender's lobby.
    pub fn relay(&self, from: &Membership, to: u32, message: ServerMessage) -> Result<(), String> {
        let state = self.state();
        let target = state
            .lobbies
            .get(&from.lobby)
            .and_then(|lobby| lobby.peers.get(&to))
            .filter(|_| to != from.id)
            .ok_or_else(|| format!("peer {to} is not in your lobby"))?;
        target
            .outbox
            .try_send(message)
            .map_err(|_| format!("peer {to} is not keeping up; message dropped"))?;
        self.metrics.relayed();
        Ok(())
    }

    /// Host only: refuse further joins and close the lobby after the grace period.
    pub fn seal(self: &Arc<Self>, member: &Membership) -> Result<(), String> {
        {
            let mut state = self.state();
            let lobby = state
                .lobbies
                .get_mut(&member.lobby)
                .ok_or_else(|| "your lobby no longer exists".to_owned())?;
            if member.id != 1 {
                return Err("only the lobby's host (id 1) can seal it".to_owned());
            }
            if lobby.sealed {
                return Ok(());
            }
            lobby.sealed = true;
            for peer in lobby.peers.values() {
                let _ = peer.outbox.try_send(ServerMessage::Sealed);
            }
        }
        log_event("seal", &[("lobby", &member.lobby)]);
        let hub = Arc::clone(self);
        let name = member.lobby.clone();
        tokio::spawn(async move {
            tokio::time::sleep(hub.limits.seal_grace).await;
            hub.state().close_lobby(&name, "sealed");
        });
        Ok(())
    }

    /// Gives up the member's seat and tells the others, unless another connection resumed it.
    pub fn leave(&self, member: &Membership) {
        let mut state = self.state();
        let holds_seat = state
            .lobbies
            .get(&member.lobby)
            .and_then(|lobby| lobby.peers.get(&member.id))
            .is_some_and(|seat| seat.session == member.session);
        if holds_seat {
            state.remove_seat(&member.lobby, member.id);
        }
    }
}

/// 128 random bits, hex: a seat's resume token.
fn resume_token() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|err| format!("no randomness for a resume token: {err}"))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}
