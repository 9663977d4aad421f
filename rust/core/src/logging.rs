//! Routes webrtc-rs's `log` records to whoever hosts the core (Godot's output, in the plugin).
//!
//! Errors and warnings always pass; debug detail only when the host asks for it (Godot's
//! `--verbose`). The sink is a plain function so the core stays free of Godot types.

use std::sync::RwLock;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Receives one formatted line per record.
pub type Sink = fn(Level, &str);

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// webrtc-rs warnings that every healthy connection produces; shown as debug detail instead,
/// so a game's output only carries warnings that mean something.
const ROUTINE_WARNINGS: &[&str] = &[
    "please set explicitly server_name",
    "pingAllCandidates called with no candidate pairs",
    // The answerer's connectivity checks can arrive before its answer does (trickle ICE).
    "password is empty",
    // Writes queued for a remote that has just gone away, during teardown.
    "invalid remote address",
    // TLS extensions other stacks offer in their ClientHello (session tickets, encrypt-then-MAC).
    "Unsupported Extension Type",
    // An SCTP INIT that overtook our own DTLS completion; the peer retransmits it.
    "refusing first packet due to empty server_config",
    // A late connectivity-check answer from a candidate pair ICE has already dropped.
    "no such remote",
    // A check that reached a socket before its candidate was registered, or after it was gone.
    "not a valid local candidate",
    // Either of the two above, repeated by the connection's packet handler.
    "handle_read got error: unhandled STUN packet",
];

/// webrtc-rs errors that are routine: aiortc and others close with an SCTP ABORT, which
/// webrtc-rs reports as an inbound error, and a stray STUN packet is reported twice.
const ROUTINE_ERRORS: &[&str] = &[
    "abort chunk",
    // webrtc-rs repeats each stray STUN packet above as a failed read.
    "handle_read error: unhandled STUN packet",
];

/// The level a record is shown at.
fn shown_level(level: Level, message: &str) -> Level {
    let routine = match level {
        Level::Warn => ROUTINE_WARNINGS,
        Level::Error => ROUTINE_ERRORS,
        _ => &[],
    };
    if routine.iter().any(|pattern| message.contains(pattern)) {
        Level::Debug
    } else {
        level
    }
}

struct Bridge;

static BRIDGE: Bridge = Bridge;

impl Log for Bridge {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let sink = *SINK.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sink) = sink {
            let message = format!("[{}] {}", record.target(), record.args());
            let level = shown_level(record.level(), &message);
            if level <= log::max_level() {
                sink(level, &message);
            }
        }
    }

    fn flush(&self) {}
}

/// Starts forwarding records to `sink`; `verbose` adds debug records.
pub fn install(sink: Sink, verbose: bool) {
    // Fails only if another logger was installed first; then that one keeps the records.
    let _ = log::set_logger(&BRIDGE);
    log::set_max_level(if verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Warn
    });
    *SINK
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(sink);
}

/// Stops forwarding; records after this are dropped. Called before the host goes away.
pub fn uninstall() {
    *SINK
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routine_warnings_become_debug_detail() {
        let routine =
            "[rtc_ice::agent] [controlled]: pingAllCandidates called with no candidate pairs.";
        assert_eq!(shown_level(Level::Warn, routine), Level::Debug);
        assert_eq!(
            shown_level(Level::Warn, "[rtc_dtls] handshake failed"),
            Level::Warn
        );
        assert_eq!(shown_level(Level::Error, routine), Level::Error);
        let abort =
            "[rtc_sctp::association] handle_inbound got err: abort chunk, with following errors: ";
        assert_eq!(shown_level(Level::Error, abort), Level::Debug);
        assert_eq!(shown_level(Level::Warn, abort), Level::Warn);
    }
}
