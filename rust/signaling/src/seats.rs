//! The words both lobby stores speak (the in-process one in `directory.rs`, the Redis one in
//! `broker.rs`): what a join asks for and gets, why a change is refused, and the notices a
//! change produces for the instances holding the seats concerned.

use serde::{Deserialize, Serialize};

use crate::protocol::ServerMessage;

/// What an instance must do for seats it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// Hand `message` to seat `id`.
    Deliver {
        lobby: String,
        id: u32,
        message: ServerMessage,
    },
    /// Hand `message` to every seat of the lobby but `except` (0: none).
    Broadcast {
        lobby: String,
        except: u32,
        message: ServerMessage,
    },
    /// The lobby is gone: end its seats' connections.
    Close { lobby: String },
    /// Seat `id` was resumed by `holder`: let go of it, passing on what waited for it.
    Release {
        lobby: String,
        id: u32,
        holder: String,
    },
}

/// What a `join` asks for.
#[derive(Debug, Clone, Copy)]
pub struct Seating<'a> {
    /// The lobby to join; empty to create one called `fresh`.
    pub name: &'a str,
    pub mesh: bool,
    /// Who will hold the seat (`"<instance>:<session>"`).
    pub holder: &'a str,
    /// The seat's resume token.
    pub token: &'a str,
    pub fresh: &'a str,
}

/// A seat given by `join`.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub lobby: String,
    pub id: u32,
    pub mesh: bool,
    /// The seats already taken, in id order.
    pub peers: Vec<u32>,
}

/// A seat taken back by `resume`, and who held it.
#[derive(Debug, Clone)]
pub struct Reclaimed {
    pub lobby: String,
    pub id: u32,
    pub previous: String,
}

/// Why a join was refused, worded by the hub with the limits it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefusal {
    /// The lobby count limit is reached.
    ServerFull,
    /// The fresh name is taken; try another.
    NameTaken,
    NoSuchLobby,
    Sealed,
    LobbyFull,
}

/// Why a seal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealRefusal {
    NoSuchLobby,
    NotHost,
}

/// The result of a directory change and the notices it produced.
pub type Changed<T> = (T, Vec<Notice>);
