//! Routes webrtc-rs's `log` records to whoever hosts the core (Godot's output, in the plugin).
//!
//! Errors and warnings always pass; debug detail only when the host asks for it (Godot's
//! `--verbose`). The sink is a plain function so the core stays free of Godot types.

use std::sync::RwLock;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Receives one formatted line per record.
pub type Sink = fn(Level, &str);

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

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
            sink(
                record.level(),
                &format!("[{}] {}", record.target(), record.args()),
            );
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
