//! TURN credentials minted for each player, so a game never ships its TURN password.
//!
//! The scheme coturn implements with `use-auth-secret` (the "TURN REST API"): the username is
//! `<expiry, unix seconds>:<who>`, the password is base64(HMAC-SHA1(shared secret, username)).
//! The TURN server recomputes the password from the secret it shares with us and refuses a
//! username whose time has passed, so a leaked credential is only good until it expires.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// Lifetime of minted credentials unless `--turn-ttl` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// One `iceServers` entry, in the shape `WebRTCPeerConnection.initialize()` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

/// The TURN servers and the secret shared with them.
#[derive(Clone)]
pub struct Turn {
    urls: Vec<String>,
    mac: HmacSha1,
    ttl: Duration,
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turn")
            .field("urls", &self.urls)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Turn {
    pub fn new(urls: Vec<String>, secret: &[u8], ttl: Duration) -> Result<Self, String> {
        if urls.is_empty() {
            return Err("TURN credentials need at least one --turn-url".to_owned());
        }
        if secret.is_empty() {
            return Err("the TURN secret is empty".to_owned());
        }
        let mac = HmacSha1::new_from_slice(secret).map_err(|err| format!("TURN secret: {err}"))?;
        Ok(Self { urls, mac, ttl })
    }

    /// When credentials minted at `now` expire, in unix seconds.
    pub fn expiry(&self, now: SystemTime) -> u64 {
        (now + self.ttl)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }

    /// Credentials for player `id` of `lobby`, valid until `now` + the lifetime.
    pub fn credentials(&self, lobby: &str, id: u32, now: SystemTime) -> IceServer {
        let username = format!("{}:{lobby}-{id}", self.expiry(now));
        IceServer {
            urls: self.urls.clone(),
            credential: self.password(&username),
            username,
        }
    }

    fn password(&self, username: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(username.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_base64_hmac_sha1_of_the_username() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        let turn = Turn::new(vec!["turn:t".into()], b"Jefe", DEFAULT_TTL).expect("turn");
        let digest = [
            0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
            0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79,
        ];
        assert_eq!(
            turn.password("what do ya want for nothing?"),
            STANDARD.encode(digest)
        );
    }

    #[test]
    fn the_username_names_the_expiry_and_the_player() {
        let turn = Turn::new(
            vec!["turn:10.0.0.1:3478".into()],
            b"secret",
            Duration::from_secs(60),
        )
        .expect("turn");
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let server = turn.credentials("ABCD", 3, now);
        assert_eq!(server.username, "1000060:ABCD-3");
        assert_eq!(server.urls, vec!["turn:10.0.0.1:3478"]);
        assert_eq!(server.credential, turn.password("1000060:ABCD-3"));
        assert_ne!(
            server.credential,
            turn.credentials("ABCD", 4, now).credential,
            "each player gets its own"
        );
    }

    #[test]
    fn incomplete_settings_are_refused() {
        assert!(Turn::new(vec![], b"secret", DEFAULT_TTL).is_err());
        assert!(Turn::new(vec!["turn:t".into()], b"", DEFAULT_TTL).is_err());
    }
}
