//! Routes webrtc-rs's `log` records to whoever hosts the core (Godot's output, in the plugin).
//!
//! Errors and warnings always pass; debug detail only when the host asks for it (Godot's
//! `--verbose`). The sink is a plain function so the core stays free of Godot types.

use std::panic::{self, PanicHookInfo};
use std::sync::{Once, RwLock};
use std::thread;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::runtime::THREAD_NAME;
use crate::sync::{read, write};

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
        let sink = *read(&SINK);
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
    static PANIC_HOOK: Once = Once::new();
    PANIC_HOOK.call_once(install_panic_hook);
    // Fails only if another logger was installed first; then that one keeps the records.
    let _ = log::set_logger(&BRIDGE);
    log::set_max_level(if verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Warn
    });
    *write(&SINK) = Some(sink);
}

/// Stops forwarding; records after this are dropped. Called before the host goes away.
pub fn uninstall() {
    *write(&SINK) = None;
}

/// A panic on a runtime thread has no Godot call above it to report it: Rust would print it to
/// stderr, which a game's players never see, and the task would end silently. It goes to the
/// sink as an error instead. Panics on other threads (the game's, where the binding reports
/// them) keep the hook they had.
fn install_panic_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let sink = *read(&SINK);
        match sink {
            Some(sink) if thread::current().name() == Some(THREAD_NAME) => {
                sink(Level::Error, &panic_report(info))
            }
            _ => previous(info),
        }
    }));
}

fn panic_report(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let place = info
        .location()
        .map(|location| format!(" at {}:{}", location.file(), location.line()))
        .unwrap_or_default();
    format!(
        "internal error: a Rust panic on a network thread{place}: {message}. Please report it; \
         the connection it served may stop responding"
    )
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

    use crate::sync::lock;
    use std::sync::Mutex;

    static REPORTED: Mutex<Vec<(Level, String)>> = Mutex::new(Vec::new());

    fn keep(level: Level, line: &str) {
        lock(&REPORTED).push((level, line.to_owned()));
    }

    #[test]
    fn a_panic_on_a_runtime_thread_reaches_the_sink() {
        install(keep, false);
        let outcome = thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(|| panic!("the driver fell over"))
            .expect("thread")
            .join();
        assert!(outcome.is_err(), "the thread panicked");
        let reported = lock(&REPORTED).clone();
        let panics: Vec<_> = reported
            .iter()
            .filter(|(_, line)| line.contains("the driver fell over"))
            .collect();
        assert_eq!(panics.len(), 1, "{reported:?}");
        let (level, line) = panics[0];
        assert_eq!(*level, Level::Error);
        assert!(
            line.contains("Rust panic on a network thread at "),
            "{line}"
        );
        assert!(line.contains("logging.rs"), "the location is given: {line}");
        uninstall();
    }
}
