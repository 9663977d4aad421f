//! The JSON messages clients and server exchange, one per WebSocket text frame.
//!
//! Client → server: `join`, `resume` (a new WebSocket taking back its seat), `offer` /
//! `answer` / `candidate` (addressed with `to`), `seal`, `ping` (a keep-alive with no reply).
//! Server → client: `joined`, `resumed`, `peer_joined`, `peer_left`, relayed `offer` /
//! `answer` / `candidate` (stamped with `from`), `sealed`, `error`.

use serde::{Deserialize, Serialize};

use crate::turn::IceServer;

/// What a client may send.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Join the named lobby, or create a new one when `lobby` is empty or absent.
    Join {
        #[serde(default)]
        lobby: String,
        /// Mesh (every peer connects to every peer) or server/client (everyone to the host).
        #[serde(default = "default_mesh")]
        mesh: bool,
        /// Required when the server has a join secret (see `token.rs`).
        #[serde(default)]
        token: Option<String>,
    },
    /// Instead of `join` on a new WebSocket: take back the seat `joined` gave with `resume`,
    /// within the server's resume grace period after the old WebSocket dropped.
    Resume {
        token: String,
    },
    Offer {
        to: u32,
        sdp: String,
    },
    Answer {
        to: u32,
        sdp: String,
    },
    Candidate {
        to: u32,
        media: String,
        index: i32,
        name: String,
    },
    /// Host only: no more joins; the lobby closes after the grace period.
    Seal,
    /// Keeps a quiet connection from timing out; clients whose WebSocket API cannot send
    /// protocol pings (Godot's `WebSocketPeer` before 4.4) need it.
    Ping,
}

fn default_mesh() -> bool {
    true
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Joined {
        lobby: String,
        id: u32,
        mesh: bool,
        /// Peers already in the lobby.
        peers: Vec<u32>,
        /// TURN credentials minted for this player (`--turn-url`, `--turn-secret-file`), for
        /// every `initialize()` of its connections; absent when the server mints none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
        /// The seat's resume token, for `resume` after a dropped WebSocket.
        resume: String,
    },
    /// The seat is back; what was routed to it meanwhile follows.
    Resumed {
        lobby: String,
        id: u32,
    },
    PeerJoined {
        id: u32,
    },
    PeerLeft {
        id: u32,
    },
    Offer {
        from: u32,
        sdp: String,
    },
    Answer {
        from: u32,
        sdp: String,
    },
    Candidate {
        from: u32,
        media: String,
        index: i32,
        name: String,
    },
    Sealed,
    Error {
        message: String,
    },
}

impl ServerMessage {
    pub fn error(message: impl Into<String>) -> Self {
        Self::Error {
            message: message.into(),
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail; fall back to a fixed error just in case.
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"type":"error","message":"internal"}"#.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_defaults_to_a_new_mesh_lobby() {
        let parsed: ClientMessage = serde_json::from_str(r#"{"type":"join"}"#).expect("valid");
        assert_eq!(
            parsed,
            ClientMessage::Join {
                lobby: String::new(),
                mesh: true,
                token: None
            }
        );
    }

    #[test]
    fn wrong_types_and_missing_fields_are_refused() {
        for bad in [
            r#"{"type":"offer","to":-1,"sdp":"x"}"#,
            r#"{"type":"candidate","to":2,"media":"0","name":"c"}"#,
            r#"{"sdp":"x"}"#,
        ] {
            assert!(serde_json::from_str::<ClientMessage>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_messages_are_tagged_snake_case() {
        let json = ServerMessage::PeerLeft { id: 3 }.to_json();
        assert_eq!(json, r#"{"type":"peer_left","id":3}"#);
    }
}
