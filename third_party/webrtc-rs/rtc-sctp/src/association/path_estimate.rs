use std::time::{Duration, Instant};

/// Shortest interval over which one delivery-rate sample is taken: shorter ones, at a few
/// milliseconds of round trip, would measure how SACKs bunch up rather than the path.
const MIN_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

/// The path's bandwidth-delay product as TCP Westwood+ estimates it: the rate at which the peer
/// acknowledges data, sampled once per round trip (at least [`MIN_SAMPLE_INTERVAL`]) and
/// smoothed by two low-pass filters of gain 1/8, times the smallest round trip measured.
///
/// After a loss, a window no larger than this product did not queue at a bottleneck (the loss
/// was not caused by this flow's own queue, as with the random losses of a radio link), while a
/// window well above it did; `Association::ssthresh_after_loss` reduces to it instead of
/// halving blindly.
///
/// It also estimates how many bytes this flow keeps queued on the path, as TCP Veno does: the
/// rate times how far the smoothed round trip stands above the smallest smoothed round trip
/// seen. Jitter moves single RTT samples by as much as a queue would, but hardly their smoothed
/// value; a queue this flow builds delays every packet and moves it.
#[derive(Debug, Default, Clone)]
pub(crate) struct PathEstimate {
    min_rtt: Option<Duration>,
    min_srtt: Option<Duration>,
    sample_start: Option<Instant>,
    sample_bytes: u64,
    /// First filter stage, bytes per second.
    raw_rate: f64,
    /// Second filter stage, bytes per second: the estimate.
    rate: f64,
}

impl PathEstimate {
    /// Takes an RTT measured on a chunk sent once (Karn's rule) and the smoothed RTT it gave.
    pub(crate) fn on_rtt(&mut self, rtt: Duration, srtt: Duration) {
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |min| min.min(rtt)));
        self.min_srtt = Some(self.min_srtt.map_or(srtt, |min| min.min(srtt)));
    }

    /// Counts `bytes` newly acknowledged by a SACK at `now`; `srtt` sets the sample interval.
    pub(crate) fn on_acked(&mut self, now: Instant, bytes: u64, srtt: Duration) {
        let Some(start) = self.sample_start else {
            self.sample_start = Some(now);
            return;
        };
        self.sample_bytes += bytes;
        let elapsed = now.saturating_duration_since(start);
        if elapsed < srtt.max(MIN_SAMPLE_INTERVAL) {
            return;
        }
        let sample = self.sample_bytes as f64 / elapsed.as_secs_f64();
        if self.rate == 0.0 {
            self.raw_rate = sample;
            self.rate = sample;
        } else {
            self.raw_rate = (7.0 * self.raw_rate + sample) / 8.0;
            self.rate = (7.0 * self.rate + self.raw_rate) / 8.0;
        }
        self.sample_start = Some(now);
        self.sample_bytes = 0;
    }

    /// The estimated bandwidth-delay product in bytes, once a rate and an RTT were measured.
    pub(crate) fn bandwidth_delay_product(&self) -> Option<u64> {
        let min_rtt = self.min_rtt?;
        (self.rate > 0.0).then(|| (self.rate * min_rtt.as_secs_f64()) as u64)
    }

    /// The bytes this flow keeps queued on the path while the smoothed RTT is `srtt`, once a
    /// rate and an RTT were measured (TCP Veno's backlog).
    pub(crate) fn queued_bytes(&self, srtt: Duration) -> Option<u64> {
        let base = self.min_srtt?;
        (self.rate > 0.0).then(|| (self.rate * srtt.saturating_sub(base).as_secs_f64()) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTT: Duration = Duration::from_millis(20);

    /// Acknowledges `rate` bytes a second in SACKs every 2 ms for `seconds`.
    fn feed(estimate: &mut PathEstimate, start: Instant, rate: u64, seconds: u64) -> Instant {
        let mut now = start;
        for _ in 0..seconds * 500 {
            now += Duration::from_millis(2);
            estimate.on_acked(now, rate / 500, RTT);
        }
        now
    }

    #[test]
    fn nothing_is_estimated_before_a_rate_and_an_rtt() {
        let mut estimate = PathEstimate::default();
        assert_eq!(estimate.bandwidth_delay_product(), None);
        feed(&mut estimate, Instant::now(), 1_000_000, 1);
        assert_eq!(estimate.bandwidth_delay_product(), None, "no RTT yet");
        let mut estimate = PathEstimate::default();
        estimate.on_rtt(RTT, RTT);
        assert_eq!(estimate.bandwidth_delay_product(), None, "no rate yet");
    }

    #[test]
    fn a_steady_rate_times_the_smallest_rtt() {
        let mut estimate = PathEstimate::default();
        estimate.on_rtt(Duration::from_millis(35), Duration::from_millis(35));
        estimate.on_rtt(RTT, RTT);
        estimate.on_rtt(Duration::from_millis(28), Duration::from_millis(28));
        feed(&mut estimate, Instant::now(), 1_000_000, 5);
        let bdp = estimate.bandwidth_delay_product().expect("estimated");
        assert!((19_000..=21_000).contains(&bdp), "{bdp} bytes");
    }

    #[test]
    fn the_estimate_follows_a_falling_rate_within_seconds() {
        let mut estimate = PathEstimate::default();
        estimate.on_rtt(RTT, RTT);
        let now = feed(&mut estimate, Instant::now(), 4_000_000, 5);
        let before = estimate.bandwidth_delay_product().expect("estimated");
        assert!((76_000..=84_000).contains(&before), "{before} bytes");
        let now = feed(&mut estimate, now, 1_000_000, 1);
        let after_one = estimate.bandwidth_delay_product().expect("estimated");
        assert!(after_one < before * 3 / 4, "{after_one} of {before} bytes");
        feed(&mut estimate, now, 1_000_000, 4);
        let after_five = estimate.bandwidth_delay_product().expect("estimated");
        assert!(
            (19_000..=22_000).contains(&after_five),
            "{after_five} bytes"
        );
    }

    #[test]
    fn the_queue_is_the_rate_times_the_smoothed_rtt_above_its_smallest() {
        let mut estimate = PathEstimate::default();
        assert_eq!(estimate.queued_bytes(RTT), None, "nothing measured");
        // Samples jittered by ±10 ms around a steady 30 ms: the smoothed RTT stays within a few.
        estimate.on_rtt(Duration::from_millis(20), Duration::from_millis(29));
        estimate.on_rtt(Duration::from_millis(40), Duration::from_millis(31));
        feed(&mut estimate, Instant::now(), 1_000_000, 5);
        let steady = estimate
            .queued_bytes(Duration::from_millis(30))
            .expect("estimated");
        assert!(
            steady <= 1_100,
            "{steady} bytes queued at a steady round trip"
        );
        // A queue of this flow's own: every packet 20 ms later.
        let queued = estimate
            .queued_bytes(Duration::from_millis(49))
            .expect("estimated");
        assert!((19_000..=21_000).contains(&queued), "{queued} bytes queued");
    }
}
