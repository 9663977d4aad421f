//! Structured logs: one `logfmt` line per event on stderr, easy to grep and to ingest.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes one event line: `ts=<unix ms> event=<event> key=value...`.
pub fn log_event(event: &str, fields: &[(&str, &str)]) {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    let mut line = format!("ts={millis} event={event}");
    for (key, value) in fields {
        if value.contains([' ', '"', '=']) || value.is_empty() {
            line.push_str(&format!(" {key}={value:?}"));
        } else {
            line.push_str(&format!(" {key}={value}"));
        }
    }
    // A log that cannot be written (stderr closed) is lost; serving goes on.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
