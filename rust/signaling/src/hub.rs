//! The seats this instance's connections hold, and the one place where messages reach them.
//!
//! Who sits in which lobby is the [`Directory`]'s business (this process's memory, or Redis
//! shared by every instance); what its changes mean for the seats held here arrives as
//! [`Notice`]s, applied in [`Hub::apply`]. Every seat owns a bounded outbox; the hub only ever
//! `try_send`s into it, so a slow or stuck client is cut off instead of slowing anyone else
//! down. A seat outlives its WebSocket for the resume grace period: the outbox's receiving end
//! is parked here, what is routed to the player waits in it, and a new connection presenting
//! the seat's resume token takes it back, on this instance or another.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::broker::{Broker, HEARTBEAT};
use crate::directory::{Directory, Lobbies};
use crate::limits::Limits;
use crate::log::log_event;
use crate::metrics::Metrics;
use crate::protocol::ServerMessage;
use crate::seats::{JoinRefusal, Notice, SealRefusal, Seating};
use crate::Credentials;

/// Messages waiting to be written to one client.
pub type Outbox = mpsc::Sender<ServerMessage>;
/// What a connection reads its routed messages from.
pub type Inbox = mpsc::Receiver<ServerMessage>;

/// A seat held by a connection of this instance.
struct Seat {
    outbox: Outbox,
    /// `"<instance>:<session>"`: which connection holds the seat; one that lost it changes
    /// nothing by leaving.
    holder: String,
    /// The outbox's receiving end while no connection holds the seat.
    parked: Option<Inbox>,
}

/// Where a connection currently is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub lobby: String,
    pub id: u32,
    holder: String,
}

pub struct Hub {
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    credentials: Credentials,
    directory: Directory,
    instance: String,
    /// Lobby → seat id → the seat, for seats held here.
    seats: Mutex<HashMap<String, BTreeMap<u32, Seat>>>,
    names: RandomState,
    name_counter: AtomicU64,
    sessions: AtomicU64,
}

impl Hub {
    /// A hub whose lobbies live in this process.
    pub fn new(limits: Limits, credentials: Credentials) -> Arc<Self> {
        let directory = Directory::Local(Mutex::new(Lobbies::default()));
        Self::with_directory(
            limits,
            credentials,
            directory,
            "local".to_owned(),
            Arc::default(),
        )
    }

    /// A hub sharing its lobbies with every instance on the Redis at `url`: it subscribes to
    /// its notices, keeps itself known as alive and gives up the seats of instances that died.
    pub async fn shared(
        limits: Limits,
        credentials: Credentials,
        url: &str,
    ) -> Result<Arc<Self>, String> {
        let instance = random_hex::<8>()?;
        let metrics = Arc::<Metrics>::default();
        let (broker, subscription) = Broker::connect(url, &instance, Arc::clone(&metrics)).await?;
        let hub = Self::with_directory(
            limits,
            credentials,
            Directory::Shared(Box::new(broker)),
            instance.clone(),
            metrics,
        );
        log_event("redis_connected", &[("instance", &instance)]);
        let receiver = Arc::clone(&hub);
        tokio::spawn(async move {
            let mut subscription = Some(subscription);
            loop {
                if let Some(pubsub) = subscription.take() {
                    let applier = Arc::clone(&receiver);
                    Broker::notices(pubsub, move |notice| {
                        applier.apply(notice);
                    })
                    .await;
                    // What was published for us meanwhile is lost: pub/sub keeps nothing.
                    log_event("redis_subscription_lost", &[]);
                }
                tokio::time::sleep(HEARTBEAT).await;
                if let Directory::Shared(broker) = &receiver.directory {
                    match broker.subscribe().await {
                        Ok(pubsub) => {
                            log_event("redis_subscribed", &[]);
                            subscription = Some(pubsub);
                        }
                        Err(err) => log_event("redis_unavailable", &[("error", &err)]),
                    }
                }
            }
        });
        let keeper = Arc::clone(&hub);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(HEARTBEAT);
            loop {
                ticks.tick().await;
                if let Directory::Shared(broker) = &keeper.directory {
                    let renewed = broker.heartbeat().await;
                    let reaped = broker.reap(keeper.limits.resume_grace).await;
                    if let Err(err) = renewed.and(reaped.map(|_| ())) {
                        log_event("redis_unavailable", &[("error", &err)]);
                    }
                }
            }
        });
        Ok(hub)
    }

    fn with_directory(
        limits: Limits,
        credentials: Credentials,
        directory: Directory,
        instance: String,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            limits,
            metrics,
            credentials,
            directory,
            instance,
            seats: Mutex::default(),
            names: RandomState::new(),
            name_counter: AtomicU64::new(0),
            sessions: AtomicU64::new(1),
        })
    }

    fn seats(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<u32, Seat>>> {
        self.seats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A holder name for a new connection's seat.
    fn new_holder(&self) -> String {
        let session = self.sessions.fetch_add(1, Ordering::Relaxed);
        format!("{}:{session}", self.instance)
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

    /// Lobbies and seated players, across every instance.
    pub async fn counts(&self) -> Result<(usize, usize), String> {
        self.directory.counts().await
    }

    /// A fresh six-character lobby name.
    fn fresh_name(&self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut bits = self
            .names
            .hash_one(self.name_counter.fetch_add(1, Ordering::Relaxed));
        (0..6)
            .map(|_| {
                let c = ALPHABET[(bits % ALPHABET.len() as u64) as usize] as char;
                bits /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    /// Joins (or creates, when `lobby` is empty) a lobby and announces the newcomer.
    pub async fn join(
        self: &Arc<Self>,
        lobby: &str,
        mesh: bool,
        outbox: Outbox,
    ) -> Result<Membership, String> {
        let holder = self.new_holder();
        let token = random_hex::<16>()?;
        let (admitted, notices) = loop {
            let fresh = self.fresh_name();
            let seating = Seating {
                name: lobby,
                mesh,
                holder: &holder,
                token: &token,
                fresh: &fresh,
            };
            let joined = self.directory.join(&seating, &self.limits).await?;
            match joined {
                Ok(changed) => break changed,
                Err(JoinRefusal::NameTaken) => continue,
                Err(refusal) => return Err(self.join_refusal(refusal, lobby)),
            }
        };
        let now = SystemTime::now();
        let ice_servers = self
            .credentials
            .turn
            .iter()
            .map(|turn| turn.credentials(&admitted.lobby, admitted.id, now))
            .collect();
        let member = Membership {
            lobby: admitted.lobby.clone(),
            id: admitted.id,
            holder,
        };
        let joined = ServerMessage::Joined {
            lobby: admitted.lobby.clone(),
            id: admitted.id,
            mesh: admitted.mesh,
            peers: admitted.peers,
            ice_servers,
            resume: token,
        };
        if outbox.try_send(joined).is_err() {
            self.leave(&member).await;
            return Err("connection closed while joining".to_owned());
        }
        self.seats()
            .entry(member.lobby.clone())
            .or_default()
            .insert(
                member.id,
                Seat {
                    outbox,
                    holder: member.holder.clone(),
                    parked: None,
                },
            );
        self.apply_all(notices);
        self.metrics.joined();
        // When minted TURN credentials stop working: what a player who waited that long sees.
        let turn_expires = self
            .credentials
            .turn
            .as_ref()
            .map(|turn| turn.expiry(now).to_string());
        let peer = member.id.to_string();
        let mut fields = vec![("lobby", member.lobby.as_str()), ("peer", peer.as_str())];
        fields.extend(
            turn_expires
                .as_deref()
                .map(|expires| ("turn_expires", expires)),
        );
        log_event("join", &fields);
        Ok(member)
    }

    fn join_refusal(&self, refusal: JoinRefusal, lobby: &str) -> String {
        match refusal {
            JoinRefusal::ServerFull | JoinRefusal::NameTaken => format!(
                "the server is full ({} lobbies); try again later",
                self.limits.max_lobbies
            ),
            JoinRefusal::NoSuchLobby => format!("no lobby named '{lobby}'"),
            JoinRefusal::Sealed => format!("lobby '{lobby}' is sealed and takes no new players"),
            JoinRefusal::LobbyFull => format!(
                "lobby '{lobby}' is full ({} players)",
                self.limits.max_lobby_peers
            ),
        }
    }

    /// Gives the seat whose resume token is `token` to a new connection, with the messages
    /// that waited for it. Whichever connection held it before loses it and ends; on another
    /// instance, that one passes on what waited.
    pub async fn resume(self: &Arc<Self>, token: &str) -> Result<(Membership, Inbox), String> {
        let holder = self.new_holder();
        let (reclaimed, notices) = self
            .directory
            .resume(token, &holder)
            .await?
            .ok_or("no seat to resume: the grace period is over or the lobby closed")?;
        let inbox = {
            let mut seats = self.seats();
            let seat = seats
                .get_mut(&reclaimed.lobby)
                .and_then(|lobby| lobby.get_mut(&reclaimed.id))
                .filter(|seat| seat.holder == reclaimed.previous);
            match seat {
                Some(seat) => {
                    seat.holder = holder.clone();
                    seat.parked.take().unwrap_or_else(|| {
                        let (outbox, inbox) = mpsc::channel(self.limits.outbox_capacity);
                        seat.outbox = outbox;
                        inbox
                    })
                }
                None => {
                    let (outbox, inbox) = mpsc::channel(self.limits.outbox_capacity);
                    seats.entry(reclaimed.lobby.clone()).or_default().insert(
                        reclaimed.id,
                        Seat {
                            outbox,
                            holder: holder.clone(),
                            parked: None,
                        },
                    );
                    inbox
                }
            }
        };
        self.apply_all(notices);
        self.metrics.resumed();
        log_event(
            "resume",
            &[
                ("lobby", &reclaimed.lobby),
                ("peer", &reclaimed.id.to_string()),
            ],
        );
        let member = Membership {
            lobby: reclaimed.lobby,
            id: reclaimed.id,
            holder,
        };
        Ok((member, inbox))
    }

    /// The member's WebSocket dropped: its seat waits `resume_grace` for it, keeping what is
    /// routed to it in `inbox`; then it is given up as if the player had left.
    pub async fn detach(self: &Arc<Self>, member: &Membership, inbox: Inbox) {
        if self.limits.resume_grace.is_zero() {
            return self.leave(member).await;
        }
        {
            let mut seats = self.seats();
            let Some(seat) = seats
                .get_mut(&member.lobby)
                .and_then(|lobby| lobby.get_mut(&member.id))
                .filter(|seat| seat.holder == member.holder)
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
            hub.leave(&member).await;
        });
    }

    /// Delivers a relayed message to `to`, who must share the sender's lobby.
    pub async fn relay(
        self: &Arc<Self>,
        from: &Membership,
        to: u32,
        message: ServerMessage,
    ) -> Result<(), String> {
        let (found, notices) = self
            .directory
            .relay(&from.lobby, from.id, to, message)
            .await?;
        if !found {
            return Err(format!("peer {to} is not in your lobby"));
        }
        if !notices.into_iter().all(|notice| self.apply(notice)) {
            return Err(format!("peer {to} is not keeping up; message dropped"));
        }
        self.metrics.relayed();
        Ok(())
    }

    /// Host only: refuse further joins and close the lobby after the grace period.
    pub async fn seal(self: &Arc<Self>, member: &Membership) -> Result<(), String> {
        let sealed = self
            .directory
            .seal(&member.lobby, member.id, &self.limits)
            .await?;
        let (newly, notices) = sealed.map_err(|refusal| match refusal {
            SealRefusal::NoSuchLobby => "your lobby no longer exists".to_owned(),
            SealRefusal::NotHost => "only the lobby's host (id 1) can seal it".to_owned(),
        })?;
        self.apply_all(notices);
        if !newly {
            return Ok(());
        }
        log_event("seal", &[("lobby", &member.lobby)]);
        let hub = Arc::clone(self);
        let name = member.lobby.clone();
        tokio::spawn(async move {
            tokio::time::sleep(hub.limits.seal_grace).await;
            match hub.directory.close(&name).await {
                Ok(notices) => {
                    hub.apply_all(notices);
                    log_event("lobby_closed", &[("lobby", &name), ("reason", "sealed")]);
                }
                Err(err) => log_event("close_failed", &[("lobby", &name), ("error", &err)]),
            }
        });
        Ok(())
    }

    /// Gives up the member's seat and tells the others, unless another connection resumed it.
    pub async fn leave(self: &Arc<Self>, member: &Membership) {
        {
            let mut seats = self.seats();
            if let Some(lobby) = seats.get_mut(&member.lobby) {
                if lobby
                    .get(&member.id)
                    .is_some_and(|seat| seat.holder == member.holder)
                {
                    lobby.remove(&member.id);
                }
                if lobby.is_empty() {
                    seats.remove(&member.lobby);
                }
            }
        }
        match self
            .directory
            .leave(&member.lobby, member.id, &member.holder)
            .await
        {
            Ok(notices) => {
                if !notices.is_empty() {
                    log_event(
                        "leave",
                        &[("lobby", &member.lobby), ("peer", &member.id.to_string())],
                    );
                }
                self.apply_all(notices);
            }
            Err(err) => log_event("leave_failed", &[("error", &err)]),
        }
    }

    fn apply_all(self: &Arc<Self>, notices: Vec<Notice>) {
        for notice in notices {
            self.apply(notice);
        }
    }

    /// Carries out a notice for the seats held here; false when a delivery found its seat's
    /// outbox full.
    pub fn apply(self: &Arc<Self>, notice: Notice) -> bool {
        let mut seats = self.seats();
        match notice {
            Notice::Deliver { lobby, id, message } => seats
                .get(&lobby)
                .and_then(|lobby| lobby.get(&id))
                .is_none_or(|seat| seat.outbox.try_send(message).is_ok()),
            Notice::Broadcast {
                lobby,
                except,
                message,
            } => {
                for (_, seat) in seats
                    .get(&lobby)
                    .into_iter()
                    .flatten()
                    .filter(|(id, _)| **id != except)
                {
                    let _ = seat.outbox.try_send(message.clone());
                }
                true
            }
            Notice::Close { lobby } => {
                // Dropping the outboxes ends every member's connection.
                seats.remove(&lobby);
                true
            }
            Notice::Release { lobby, id, holder } => {
                let Some(members) = seats.get_mut(&lobby) else {
                    return true;
                };
                if members.get(&id).is_none_or(|seat| seat.holder == holder) {
                    return true;
                }
                let released = members.remove(&id);
                drop(seats);
                if let Some(mut waiting) = released.and_then(|seat| seat.parked) {
                    self.pass_on(lobby, id, &mut waiting);
                }
                true
            }
        }
    }

    /// Sends what waited for a seat to the instance that resumed it, in order.
    fn pass_on(self: &Arc<Self>, lobby: String, id: u32, waiting: &mut Inbox) {
        let mut messages = Vec::new();
        while let Ok(message) = waiting.try_recv() {
            messages.push(message);
        }
        if messages.is_empty() {
            return;
        }
        let hub = Arc::clone(self);
        tokio::spawn(async move {
            for message in messages {
                if let Err(err) = hub.directory.relay(&lobby, 0, id, message).await {
                    log_event("pass_on_failed", &[("error", &err)]);
                }
            }
        });
    }
}

/// `N` random bytes, hex: instance names and resume tokens.
fn random_hex<const N: usize>() -> Result<String, String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| format!("no randomness: {err}"))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}
