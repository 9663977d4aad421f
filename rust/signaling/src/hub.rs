//! Lobby state: who is in which lobby, and the one place where messages are routed.
//!
//! Every connection owns a bounded outbox; the hub only ever `try_send`s into it, so a slow or
//! stuck client is cut off instead of slowing anyone else down.

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

struct Lobby {
    mesh: bool,
    sealed: bool,
    next_id: u32,
    peers: BTreeMap<u32, Outbox>,
}

/// Where a connection currently is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub lobby: String,
    pub id: u32,
}

pub struct Hub {
    pub limits: Limits,
    pub metrics: Metrics,
    credentials: Credentials,
    lobbies: Mutex<HashMap<String, Lobby>>,
    names: RandomState,
    name_counter: AtomicU64,
}

impl Hub {
    pub fn new(limits: Limits, credentials: Credentials) -> Arc<Self> {
        Arc::new(Self {
            limits,
            metrics: Metrics::default(),
            credentials,
            lobbies: Mutex::new(HashMap::new()),
            names: RandomState::new(),
            name_counter: AtomicU64::new(0),
        })
    }

    fn lobbies(&self) -> MutexGuard<'_, HashMap<String, Lobby>> {
        self.lobbies
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
        self.lobbies().len()
    }

    pub fn player_count(&self) -> usize {
        self.lobbies().values().map(|lobby| lobby.peers.len()).sum()
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
        let mut lobbies = self.lobbies();
        let name = if lobby.is_empty() {
            if lobbies.len() >= self.limits.max_lobbies {
                return Err(format!(
                    "the server is full ({} lobbies); try again later",
                    self.limits.max_lobbies
                ));
            }
            let name = self.fresh_name(&lobbies);
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
        let joined = ServerMessage::Joined {
            lobby: name.clone(),
            id,
            mesh: entry.mesh,
            peers,
            ice_servers,
        };
        if outbox.try_send(joined).is_err() {
            return Err("connection closed while joining".to_owned());
        }
        for peer in entry.peers.values() {
            let _ = peer.try_send(ServerMessage::PeerJoined { id });
        }
        entry.peers.insert(id, outbox);
        self.metrics.joined();
        log_event("join", &[("lobby", &name), ("peer", &id.to_string())]);
        Ok(Membership { lobby: name, id })
    }

    /// Delivers a relayed message to `to`, who must share the sender's lobby.
    pub fn relay(&self, from: &Membership, to: u32, message: ServerMessage) -> Result<(), String> {
        let lobbies = self.lobbies();
        let target = lobbies
            .get(&from.lobby)
            .and_then(|lobby| lobby.peers.get(&to))
            .filter(|_| to != from.id)
            .ok_or_else(|| format!("peer {to} is not in your lobby"))?;
        target
            .try_send(message)
            .map_err(|_| format!("peer {to} is not keeping up; message dropped"))?;
        self.metrics.relayed();
        Ok(())
    }

    /// Host only: refuse further joins and close the lobby after the grace period.
    pub fn seal(self: &Arc<Self>, member: &Membership) -> Result<(), String> {
        {
            let mut lobbies = self.lobbies();
            let lobby = lobbies
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
                let _ = peer.try_send(ServerMessage::Sealed);
            }
        }
        log_event("seal", &[("lobby", &member.lobby)]);
        let hub = Arc::clone(self);
        let name = member.lobby.clone();
        tokio::spawn(async move {
            tokio::time::sleep(hub.limits.seal_grace).await;
            // Dropping the outboxes ends every member's connection.
            if hub.lobbies().remove(&name).is_some() {
                log_event("lobby_closed", &[("lobby", &name), ("reason", "sealed")]);
            }
        });
        Ok(())
    }

    /// Removes a departed peer and tells the others. A server/client lobby ends with its host.
    pub fn leave(&self, member: &Membership) {
        let mut lobbies = self.lobbies();
        let Some(lobby) = lobbies.get_mut(&member.lobby) else {
            return;
        };
        if lobby.peers.remove(&member.id).is_none() {
            return;
        }
        for peer in lobby.peers.values() {
            let _ = peer.try_send(ServerMessage::PeerLeft { id: member.id });
        }
        log_event(
            "leave",
            &[("lobby", &member.lobby), ("peer", &member.id.to_string())],
        );
        let host_left = !lobby.mesh && member.id == 1;
        if lobby.peers.is_empty() || host_left {
            lobbies.remove(&member.lobby);
            log_event(
                "lobby_closed",
                &[("lobby", &member.lobby), ("reason", "empty or host left")],
            );
        }
    }
}
