//! Who sits where: lobbies, their seats and resume tokens, kept in this process or, with
//! `--redis`, in Redis for every instance to share (`broker.rs`).
//!
//! A change that others must hear of produces [`Notice`]s for the instances holding the seats
//! concerned. In this process they are handed back to the hub to apply; the Redis scripts
//! publish them to each instance's channel instead, and its subscriber applies them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::broker::Broker;
use crate::limits::Limits;
use crate::protocol::ServerMessage;
use crate::seats::{Admitted, Changed, JoinRefusal, Notice, Reclaimed, SealRefusal, Seating};

/// Where the lobbies are kept: in this process, or in Redis for every instance to share.
pub enum Directory {
    Local(Mutex<Lobbies>),
    Shared(Box<Broker>),
}

impl Directory {
    fn local(lobbies: &Mutex<Lobbies>) -> MutexGuard<'_, Lobbies> {
        lobbies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Gives a seat as `seating` asks, within `limits`.
    pub async fn join(
        &self,
        seating: &Seating<'_>,
        limits: &Limits,
    ) -> Result<Result<Changed<Admitted>, JoinRefusal>, String> {
        match self {
            Directory::Local(lobbies) => Ok(Self::local(lobbies).join(seating, limits)),
            Directory::Shared(broker) => broker
                .join(seating, limits)
                .await
                .map(|result| result.map(|admitted| (admitted, Vec::new()))),
        }
    }

    /// Routes `message` from seat `from` (0: the hub itself) to seat `to` of the same lobby;
    /// `Ok(false)` when there is no such seat.
    pub async fn relay(
        &self,
        lobby: &str,
        from: u32,
        to: u32,
        message: ServerMessage,
    ) -> Result<Changed<bool>, String> {
        match self {
            Directory::Local(lobbies) => Ok(Self::local(lobbies).relay(lobby, from, to, message)),
            Directory::Shared(broker) => broker
                .relay(lobby, from, to, message)
                .await
                .map(|found| (found, Vec::new())),
        }
    }

    /// Seals the lobby if `id` is its host; `Ok(false)` when it already was.
    pub async fn seal(
        &self,
        lobby: &str,
        id: u32,
        limits: &Limits,
    ) -> Result<Result<Changed<bool>, SealRefusal>, String> {
        match self {
            Directory::Local(lobbies) => Ok(Self::local(lobbies).seal(lobby, id)),
            Directory::Shared(broker) => broker
                .seal(lobby, id, limits)
                .await
                .map(|result| result.map(|sealed| (sealed, Vec::new()))),
        }
    }

    pub async fn close(&self, lobby: &str) -> Result<Vec<Notice>, String> {
        match self {
            Directory::Local(lobbies) => Ok(Self::local(lobbies).close(lobby)),
            Directory::Shared(broker) => broker.close(lobby).await.map(|()| Vec::new()),
        }
    }

    /// Gives up seat `id` if `holder` still holds it.
    pub async fn leave(&self, lobby: &str, id: u32, holder: &str) -> Result<Vec<Notice>, String> {
        match self {
            Directory::Local(lobbies) => Ok(Self::local(lobbies).leave(lobby, id, holder)),
            Directory::Shared(broker) => broker.leave(lobby, id, holder).await.map(|()| Vec::new()),
        }
    }

    /// Gives the seat of `token` to `holder`; `Ok(None)` when there is no such seat.
    pub async fn resume(
        &self,
        token: &str,
        holder: &str,
    ) -> Result<Option<Changed<Reclaimed>>, String> {
        match self {
            Directory::Local(lobbies) => Ok(Self::local(lobbies).resume(token, holder)),
            Directory::Shared(broker) => broker
                .resume(token, holder)
                .await
                .map(|found| found.map(|reclaimed| (reclaimed, Vec::new()))),
        }
    }

    /// Lobbies and seated players, across every instance.
    pub async fn counts(&self) -> Result<(usize, usize), String> {
        match self {
            Directory::Local(lobbies) => Ok(Self::local(lobbies).counts()),
            Directory::Shared(broker) => broker.counts().await,
        }
    }
}

struct Lobby {
    mesh: bool,
    sealed: bool,
    next_id: u32,
    /// Seat id → (holder, resume token).
    seats: BTreeMap<u32, (String, String)>,
}

/// The directory of a single instance.
#[derive(Default)]
pub struct Lobbies {
    lobbies: HashMap<String, Lobby>,
    /// Resume token → (lobby, id).
    tokens: HashMap<String, (String, u32)>,
}

impl Lobbies {
    fn join(
        &mut self,
        seating: &Seating<'_>,
        limits: &Limits,
    ) -> Result<Changed<Admitted>, JoinRefusal> {
        let &Seating {
            name,
            mesh,
            holder,
            token,
            fresh,
        } = seating;
        let name = if name.is_empty() {
            if self.lobbies.len() >= limits.max_lobbies {
                return Err(JoinRefusal::ServerFull);
            }
            if self.lobbies.contains_key(fresh) {
                return Err(JoinRefusal::NameTaken);
            }
            self.lobbies.insert(
                fresh.to_owned(),
                Lobby {
                    mesh,
                    sealed: false,
                    next_id: 1,
                    seats: BTreeMap::new(),
                },
            );
            fresh
        } else {
            name
        };
        let lobby = self.lobbies.get_mut(name).ok_or(JoinRefusal::NoSuchLobby)?;
        if lobby.sealed {
            return Err(JoinRefusal::Sealed);
        }
        if lobby.seats.len() >= limits.max_lobby_peers {
            return Err(JoinRefusal::LobbyFull);
        }
        let id = lobby.next_id;
        lobby.next_id += 1;
        let peers = lobby.seats.keys().copied().collect();
        lobby
            .seats
            .insert(id, (holder.to_owned(), token.to_owned()));
        self.tokens.insert(token.to_owned(), (name.to_owned(), id));
        let notice = Notice::Broadcast {
            lobby: name.to_owned(),
            except: id,
            message: ServerMessage::PeerJoined { id },
        };
        let admitted = Admitted {
            lobby: name.to_owned(),
            id,
            mesh: lobby.mesh,
            peers,
        };
        Ok((admitted, vec![notice]))
    }

    fn relay(&self, lobby: &str, from: u32, to: u32, message: ServerMessage) -> Changed<bool> {
        let seats = self.lobbies.get(lobby).map(|lobby| &lobby.seats);
        let known = |id| seats.is_some_and(|seats| seats.contains_key(&id));
        if to == from || !known(to) || (from != 0 && !known(from)) {
            return (false, Vec::new());
        }
        let notice = Notice::Deliver {
            lobby: lobby.to_owned(),
            id: to,
            message,
        };
        (true, vec![notice])
    }

    fn seal(&mut self, name: &str, id: u32) -> Result<Changed<bool>, SealRefusal> {
        let lobby = self.lobbies.get_mut(name).ok_or(SealRefusal::NoSuchLobby)?;
        if id != 1 {
            return Err(SealRefusal::NotHost);
        }
        if lobby.sealed {
            return Ok((false, Vec::new()));
        }
        lobby.sealed = true;
        let notice = Notice::Broadcast {
            lobby: name.to_owned(),
            except: 0,
            message: ServerMessage::Sealed,
        };
        Ok((true, vec![notice]))
    }

    fn close(&mut self, name: &str) -> Vec<Notice> {
        let Some(lobby) = self.lobbies.remove(name) else {
            return Vec::new();
        };
        for (_, token) in lobby.seats.values() {
            self.tokens.remove(token);
        }
        vec![Notice::Close {
            lobby: name.to_owned(),
        }]
    }

    fn leave(&mut self, name: &str, id: u32, holder: &str) -> Vec<Notice> {
        let Some(lobby) = self.lobbies.get_mut(name) else {
            return Vec::new();
        };
        if lobby
            .seats
            .get(&id)
            .is_none_or(|(held_by, _)| held_by != holder)
        {
            return Vec::new();
        }
        if let Some((_, token)) = lobby.seats.remove(&id) {
            self.tokens.remove(&token);
        }
        let mut notices = vec![Notice::Broadcast {
            lobby: name.to_owned(),
            except: 0,
            message: ServerMessage::PeerLeft { id },
        }];
        if lobby.seats.is_empty() || (!lobby.mesh && id == 1) {
            notices.extend(self.close(name));
        }
        notices
    }

    fn resume(&mut self, token: &str, holder: &str) -> Option<Changed<Reclaimed>> {
        let (name, id) = self.tokens.get(token)?.clone();
        let seat = self.lobbies.get_mut(&name)?.seats.get_mut(&id)?;
        let previous = std::mem::replace(&mut seat.0, holder.to_owned());
        let notice = Notice::Release {
            lobby: name.clone(),
            id,
            holder: holder.to_owned(),
        };
        let reclaimed = Reclaimed {
            lobby: name,
            id,
            previous,
        };
        Some((reclaimed, vec![notice]))
    }

    fn counts(&self) -> (usize, usize) {
        let players = self.lobbies.values().map(|lobby| lobby.seats.len()).sum();
        (self.lobbies.len(), players)
    }
}
