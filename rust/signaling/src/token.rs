//! Join tokens: with `--join-secret-file`, a `join` must carry a token that the game's backend
//! signed with the same secret, so only players the backend let in reach a lobby.
//!
//! A token is `<expiry>.<subject>.<signature>`: `expiry` in unix seconds, `subject` whatever
//! the backend names the player by (1–64 of `A-Z a-z 0-9 _ -`), and `signature` the unpadded
//! base64url of HMAC-SHA1(secret, "<expiry>.<subject>"). `webrtc-signaling mint-token` makes one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The secret shared with the game's backend.
#[derive(Clone)]
pub struct JoinSecret {
    mac: HmacSha1,
}

impl std::fmt::Debug for JoinSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JoinSecret")
    }
}

impl JoinSecret {
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        if secret.is_empty() {
            return Err("the join secret is empty".to_owned());
        }
        let mac = HmacSha1::new_from_slice(secret).map_err(|err| format!("join secret: {err}"))?;
        Ok(Self { mac })
    }

    /// A token for `subject` that expires at `expiry` (unix seconds).
    pub fn mint(&self, subject: &str, expiry: u64) -> Result<String, String> {
        check_subject(subject)?;
        let signed = format!("{expiry}.{subject}");
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        Ok(format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        ))
    }

    /// The token's subject, if it is well formed, signed with our secret and not expired at
    /// `now` (unix seconds); otherwise why not.
    pub fn check<'a>(&self, token: &'a str, now: u64) -> Result<&'a str, String> {
        let malformed = || "the join token is malformed".to_owned();
        let (signed, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
        let (expiry, subject) = signed.split_once('.').ok_or_else(malformed)?;
        let expiry: u64 = expiry.parse().map_err(|_| malformed())?;
        check_subject(subject).map_err(|_| malformed())?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed())?;
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| "the join token is not signed with this server's secret".to_owned())?;
        if expiry <= now {
            return Err("the join token has expired".to_owned());
        }
        Ok(subject)
    }
}

fn check_subject(subject: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if (1..=64).contains(&subject.len()) && subject.chars().all(allowed) {
        Ok(())
    } else {
        Err(format!(
            "a token subject is 1-64 of A-Z a-z 0-9 _ -, got '{subject}'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_checks_until_it_expires() {
        let secret = JoinSecret::new(b"backend secret").expect("secret");
        let token = secret.mint("player_42", 1_000).expect("token");
        assert!(token.starts_with("1000.player_42."), "{token}");
        assert_eq!(secret.check(&token, 999), Ok("player_42"));
        assert_eq!(
            secret.check(&token, 1_000),
            Err("the join token has expired".to_owned())
        );
    }

    #[test]
    fn forged_altered_and_malformed_tokens_are_refused() {
        let secret = JoinSecret::new(b"backend secret").expect("secret");
        let other = JoinSecret::new(b"another secret").expect("secret");
        let forged = other.mint("player_42", 1_000).expect("token");
        assert!(secret.check(&forged, 0).unwrap_err().contains("not signed"));
        let token = secret.mint("player_42", 1_000).expect("token");
        let longer = token.replacen("1000.", "9000.", 1);
        assert!(secret.check(&longer, 0).unwrap_err().contains("not signed"));
        for bad in [
            "",
            "x",
            "1000.player",
            "a.b.c",
            "1000.bad subject.AAAA",
            "1000.p.!!",
        ] {
            assert!(secret.check(bad, 0).is_err(), "{bad:?} accepted");
        }
        assert!(secret.mint("has.dot", 1).is_err());
        assert!(JoinSecret::new(b"").is_err());
    }
}
