//! `GET /metrics`: what the server is doing, in Prometheus' text format, for a studio's
//! monitoring to scrape.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the Redis round-trip histogram's buckets, in seconds.
const ROUND_TRIP_BUCKETS: [f64; 9] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5];

/// Why a client's message was refused (each refusal is one `error` reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over the per-connection message rate.
    RateLimit,
    /// Over the message size limit.
    Oversized,
    /// Not JSON of a known message, or a binary frame.
    Malformed,
    /// A missing, malformed, forged or expired join token.
    Token,
    /// The lobby does not exist, is full or sealed, or the lobby limit is reached.
    Join,
    /// Relay to a peer not in the sender's lobby, or a seal by someone not the host.
    Lobby,
    /// A message out of order (anything but `join` before joining, a second `join`).
    Order,
    /// A `resume` whose seat is gone (unknown token, grace period over, lobby closed).
    Resume,
}

impl Refusal {
    const ALL: [Refusal; 8] = [
        Refusal::RateLimit,
        Refusal::Oversized,
        Refusal::Malformed,
        Refusal::Token,
        Refusal::Join,
        Refusal::Lobby,
        Refusal::Order,
        Refusal::Resume,
    ];

    fn label(self) -> &'static str {
        match self {
            Refusal::RateLimit => "rate_limit",
            Refusal::Oversized => "oversized",
            Refusal::Malformed => "malformed",
            Refusal::Token => "token",
            Refusal::Join => "join",
            Refusal::Lobby => "lobby",
            Refusal::Order => "order",
            Refusal::Resume => "resume",
        }
    }
}

/// The counters; gauges (connections, lobbies, players) are read when rendering.
#[derive(Debug, Default)]
pub struct Metrics {
    joins: AtomicU64,
    resumes: AtomicU64,
    relayed: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
    /// Redis calls by bucket (the last one: above every bound), and their total in µs.
    round_trips: [AtomicU64; ROUND_TRIP_BUCKETS.len() + 1],
    round_trip_micros: AtomicU64,
}

/// The gauges at the moment of a scrape.
pub struct Gauges {
    pub connections: usize,
    pub lobbies: usize,
    pub players: usize,
}

impl Metrics {
    pub fn joined(&self) {
        self.joins.fetch_add(1, Ordering::Relaxed);
    }

    pub fn resumed(&self) {
        self.resumes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn relayed(&self) {
        self.relayed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn redis_round_trip(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = ROUND_TRIP_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(ROUND_TRIP_BUCKETS.len());
        self.round_trips[bucket].fetch_add(1, Ordering::Relaxed);
        self.round_trip_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn refused(&self, why: Refusal) {
        self.refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let plain = |value: usize| vec![(String::new(), value as u64)];
        metric(
            "signaling_connections",
            "gauge",
            "Open WebSocket connections.",
            &plain(gauges.connections),
        );
        metric(
            "signaling_lobbies",
            "gauge",
            "Lobbies that exist.",
            &plain(gauges.lobbies),
        );
        metric(
            "signaling_players",
            "gauge",
            "Players in a lobby.",
            &plain(gauges.players),
        );
        metric(
            "signaling_joins_total",
            "counter",
            "Successful joins.",
            &[(String::new(), self.joins.load(Ordering::Relaxed))],
        );
        metric(
            "signaling_resumes_total",
            "counter",
            "Seats taken back by a new WebSocket after the old one dropped.",
            &[(String::new(), self.resumes.load(Ordering::Relaxed))],
        );
        metric(
            "signaling_relayed_messages_total",
            "counter",
            "Offers, answers and candidates relayed between players.",
            &[(String::new(), self.relayed.load(Ordering::Relaxed))],
        );
        let refused: Vec<(String, u64)> = Refusal::ALL
            .iter()
            .map(|why| {
                (
                    format!("{{reason=\"{}\"}}", why.label()),
                    self.refused[*why as usize].load(Ordering::Relaxed),
                )
            })
            .collect();
        metric(
            "signaling_refused_messages_total",
            "counter",
            "Client messages answered with an error, by reason.",
            &refused,
        );
        let mut cumulative = 0;
        let mut buckets: Vec<(String, u64)> = Vec::new();
        for (i, count) in self.round_trips.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let bound = ROUND_TRIP_BUCKETS
                .get(i)
                .map_or("+Inf".to_owned(), |bound| bound.to_string());
            buckets.push((format!("_bucket{{le=\"{bound}\"}}"), cumulative));
        }
        let micros = self.round_trip_micros.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP signaling_redis_round_trip_seconds Time of each Redis call (with --redis)."
        );
        let _ = writeln!(out, "# TYPE signaling_redis_round_trip_seconds histogram");
        for (suffix, value) in buckets {
            let _ = writeln!(out, "signaling_redis_round_trip_seconds{suffix} {value}");
        }
        let _ = writeln!(
            out,
            "signaling_redis_round_trip_seconds_sum {}",
            micros as f64 / 1e6
        );
        let _ = writeln!(out, "signaling_redis_round_trip_seconds_count {cumulative}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_render_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.joined();
        metrics.resumed();
        metrics.relayed();
        metrics.relayed();
        metrics.refused(Refusal::Token);
        metrics.redis_round_trip(Duration::from_micros(1500));
        let text = metrics.render(&Gauges {
            connections: 3,
            lobbies: 1,
            players: 2,
        });
        for line in [
            "# TYPE signaling_connections gauge",
            "signaling_connections 3",
            "signaling_players 2",
            "signaling_joins_total 1",
            "signaling_resumes_total 1",
            "signaling_relayed_messages_total 2",
            "signaling_refused_messages_total{reason=\"token\"} 1",
            "signaling_refused_messages_total{reason=\"join\"} 0",
            "signaling_redis_round_trip_seconds_bucket{le=\"0.001\"} 0",
            "signaling_redis_round_trip_seconds_bucket{le=\"0.002\"} 1",
            "signaling_redis_round_trip_seconds_bucket{le=\"+Inf\"} 1",
            "signaling_redis_round_trip_seconds_count 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
