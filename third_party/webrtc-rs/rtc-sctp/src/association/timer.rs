use std::time::{Duration, Instant};

// The delayed-SACK time and the RTO bounds below are the defaults of settings in `TimerConfig`
// instead of fixed values.
const ACK_INTERVAL: u64 = 200;
const MAX_INIT_RETRANS: usize = 8;
const PATH_MAX_RETRANS: usize = 5;
const NO_MAX_RETRANS: usize = usize::MAX;
const TIMER_COUNT: usize = 7;

#[derive(Debug, Copy, Clone)]
/// Retransmission limits and durations for the association's timers.
///
/// The `max_*_retrans` fields cap how many times the corresponding timer may fire before the
/// association is abandoned; the `*_ms` fields bound the retransmission timeout (RTO) and the
/// delay of a SACK. `Default` follows the RFC 9260 recommendations.
pub struct TimerConfig {
    /// How many times INIT may be retransmitted (T1-init) before the association fails.
    pub max_t1_init_retrans: usize,
    /// How many times COOKIE-ECHO may be retransmitted (T1-cookie).
    pub max_t1_cookie_retrans: usize,
    /// How many times SHUTDOWN may be retransmitted (T2-shutdown).
    pub max_t2_shutdown_retrans: usize,
    /// How many times a DATA chunk may be retransmitted on T3-rtx expiry.
    ///
    /// Defaults to unlimited, leaving reliability to the per-stream partial-reliability settings.
    pub max_t3_rtx_retrans: usize,
    /// How many times a RE-CONFIG chunk (stream reset) may be retransmitted.
    pub max_reconfig_retrans: usize,
    /// How many times a delayed SACK may be retransmitted.
    pub max_ack_retrans: usize,
    /// RTO before the first RTT measurement (RFC 9260 RTO.Initial), in milliseconds.
    pub rto_initial_ms: u64,
    /// Lower bound of the RTO (RTO.Min), in milliseconds.
    pub rto_min_ms: u64,
    /// Upper bound of the RTO and of its back-off (RTO.Max), in milliseconds.
    pub rto_max_ms: u64,
    /// How long a SACK for a single packet may be delayed (RFC 9260 §6.2 allows up to 500 ms;
    /// a second packet or a gap is acknowledged at once), in milliseconds.
    pub delayed_ack_ms: u64,
    /// Early retransmit (RFC 5827): with fewer than four DATA chunks outstanding and nothing new
    /// waiting to be sent, a chunk is fast-retransmitted after one miss indication fewer than
    /// there are chunks outstanding (at least one) instead of after three. A sparse stream (a few
    /// messages a second) seldom has the three later packets that fast retransmission needs, so
    /// without it every loss waits for the T3-rtx timer. Off by default.
    pub early_retransmit: bool,
    /// Tail-loss probe (the probe timeout of RFC 8985 §7, for SCTP): when DATA has been
    /// outstanding for two smoothed round trips (plus `delayed_ack_ms` when a single chunk is)
    /// with no SACK advancing the cumulative ack and no new DATA sent, the earliest outstanding
    /// chunk is sent once more, before the T3-rtx timer would fire and without what a timeout
    /// does (cwnd and the RTO are left alone). A message lost at the end of a burst, with nothing
    /// after it to report the loss, is then repaired about two round trips after it was sent
    /// instead of at the RTO. Off by default.
    pub tail_loss_probe: bool,
    /// Time-based loss detection (the idea of RACK, RFC 8985 §6, for SCTP): an outstanding chunk
    /// is taken as lost, and fast-retransmitted, once a SACK acknowledges a chunk sent more than a
    /// quarter of the smoothed round trip after it, however few miss indications it has
    /// collected. A sparse stream whose
    /// first SACK after a loss was itself lost then still repairs it on the next SACK instead of at
    /// the T3-rtx timer. Off by default.
    pub time_based_loss_detection: bool,
    /// Linear timeouts for thin streams (as Linux's `tcp_thin_linear_timeouts` does for TCP):
    /// when the T3-rtx timer expires with no more than [`THIN_STREAM_PACKETS`] full packets' worth
    /// of DATA outstanding, the RTO is not doubled for the first [`THIN_LINEAR_TIMEOUTS`] expiries
    /// in a row; after them it backs off as usual. A sparse stream has nothing but its
    /// retransmission in flight after a timeout, one packet per RTO, so a few losses in a row
    /// (Wi-Fi drops packets in runs) would otherwise stretch into seconds of 200, 400, 800,
    /// 1600 ms waits with the stream stalled behind them; a flow of one packet per RTO cannot
    /// congest the path. The linear expiries do not count towards `max_t3_rtx_retrans`, so the
    /// association gives up no sooner than with the doubling. Off by default.
    pub thin_stream_linear_timeouts: bool,
    /// The loss response of TCP Westwood+: after a fast retransmission or a T3-rtx timeout,
    /// ssthresh becomes the path's estimated bandwidth-delay product (the rate the peer
    /// acknowledges data at, sampled each round trip and smoothed, times the smallest RTT
    /// measured) instead of half of cwnd, bounded by half of cwnd below and cwnd above. A window
    /// the path carried without building a queue was not what caused the loss; on a radio link
    /// that drops 1 % of packets at random, halving on every loss holds a transfer at about
    /// 1.2 / sqrt(0.01) packets per round trip, whatever the link could carry. When this flow's
    /// own queue causes the loss, the round trip has grown past the smallest one and the
    /// product is below cwnd: the window comes down. Off by default.
    pub bandwidth_estimate_on_loss: bool,
    /// Asks the peer to acknowledge a stream's tail at once (RFC 7053's I bit): when the send
    /// queue is empty after a round of new DATA, the last chunk sent sets the I bit if it may be
    /// retransmitted. A peer delays the SACK for a lone packet (`delayed_ack_ms` here, 200 ms
    /// in many stacks), and for a sparse stream each message is such a packet, so the smoothed
    /// round trip it measures carries that delay and the tail-loss probe, at two of them, fires
    /// late. With the I bit the round trip is the path's, and the probe timeout leaves out the
    /// delayed-acknowledgement allowance while such a chunk is the only one outstanding. DATA
    /// that is never retransmitted (`max_retransmits` 0) keeps the delayed SACK, which can then
    /// ride with this side's next DATA. Off by default.
    pub immediate_sack_for_tail: bool,
    /// TCP Veno's loss differentiation (Fu and Liew, 2003; Linux's `tcp_veno`): a loss while this
    /// flow keeps fewer than [`RANDOM_LOSS_QUEUE_PACKETS`] full packets queued on the path is
    /// taken as a random loss, such as a radio link's, and ssthresh becomes four fifths of cwnd
    /// instead of half. The queue is the rate the peer acknowledges data at times how far the
    /// smoothed RTT stands above the smallest smoothed RTT seen; a loss with more queued is
    /// congestion and is answered as before (halving, or `bandwidth_estimate_on_loss`'s rule,
    /// which then starts from four fifths instead of half for a random loss). Halving on every
    /// random loss holds a transfer at Reno's 1.2 / sqrt(p) packets per round trip however
    /// empty the path is; a flow that fills a bottleneck's queue still halves. Off by default.
    pub random_loss_differentiation: bool,
}

/// The queue, in full packets, below which a loss counts as random under
/// [`TimerConfig::random_loss_differentiation`] (Veno's beta).
pub(crate) const RANDOM_LOSS_QUEUE_PACKETS: u64 = 3;

/// How many T3-rtx expiries in a row keep the RTO as it was under
/// [`TimerConfig::thin_stream_linear_timeouts`] (Linux's TCP_THIN_LINEAR_RETRIES).
pub(crate) const THIN_LINEAR_TIMEOUTS: usize = 6;

/// How many full packets' worth of DATA may be outstanding for a T3-rtx expiry to count as a thin
/// stream's under [`TimerConfig::thin_stream_linear_timeouts`]: Linux's rule for TCP is fewer than
/// four segments in flight. A game's 200-byte messages at 20 a second and 50 ms one way leave
/// six of them outstanding when the timer fires, just over one MTU.
pub(crate) const THIN_STREAM_PACKETS: usize = 3;

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            max_t1_init_retrans: MAX_INIT_RETRANS,
            max_t1_cookie_retrans: MAX_INIT_RETRANS,
            max_t2_shutdown_retrans: NO_MAX_RETRANS,
            max_t3_rtx_retrans: PATH_MAX_RETRANS,
            max_reconfig_retrans: PATH_MAX_RETRANS,
            max_ack_retrans: PATH_MAX_RETRANS,
            rto_initial_ms: RTO_INITIAL,
            rto_min_ms: RTO_MIN,
            rto_max_ms: RTO_MAX,
            delayed_ack_ms: ACK_INTERVAL,
            early_retransmit: false,
            tail_loss_probe: false,
            time_based_loss_detection: false,
            thin_stream_linear_timeouts: false,
            bandwidth_estimate_on_loss: false,
            immediate_sack_for_tail: false,
            random_loss_differentiation: false,
        }
    }
}

#[derive(Debug, Copy, Clone, Ord, PartialOrd, Eq, PartialEq)]
pub(crate) enum Timer {
    T1Init = 0,
    T1Cookie = 1,
    T2Shutdown = 2,
    T3RTX = 3,
    Reconfig = 4,
    Ack = 5,
    Probe = 6,
}

impl Timer {
    pub(crate) const VALUES: [Self; TIMER_COUNT] = [
        Timer::T1Init,
        Timer::T1Cookie,
        Timer::T2Shutdown,
        Timer::T3RTX,
        Timer::Reconfig,
        Timer::Ack,
        Timer::Probe,
    ];
}

/// A table of data associated with each distinct kind of `Timer`
#[derive(Debug, Copy, Clone)]
pub(crate) struct TimerTable {
    data: [Option<Instant>; TIMER_COUNT],
    retrans: [usize; TIMER_COUNT],
    /// Expiries in a row that did not count towards `max_retrans` (linear timeouts of a thin
    /// stream); reset with `retrans`.
    forgiven: [usize; TIMER_COUNT],
    max_retrans: [usize; TIMER_COUNT],
    shutdown_interval: Option<u64>,
    reconfig_interval: Option<u64>,
    rto_max: u64,
    delayed_ack: u64,
}

impl Default for TimerTable {
    fn default() -> Self {
        Self::new(TimerConfig::default())
    }
}

impl TimerTable {
    pub fn new(time_config: TimerConfig) -> Self {
        TimerTable {
            max_retrans: [
                time_config.max_t1_init_retrans,     //T1Init
                time_config.max_t1_cookie_retrans,   //T1Cookie
                time_config.max_t2_shutdown_retrans, //T2Shutdown
                time_config.max_t3_rtx_retrans,      //T3RTX
                time_config.max_reconfig_retrans,    //Reconfig
                time_config.max_ack_retrans,         //Ack
                NO_MAX_RETRANS,                      //Probe
            ],
            data: [None; TIMER_COUNT],
            retrans: [0; TIMER_COUNT],
            forgiven: [0; TIMER_COUNT],
            shutdown_interval: None,
            reconfig_interval: None,
            rto_max: time_config.rto_max_ms,
            delayed_ack: time_config.delayed_ack_ms,
        }
    }

    /// How long a SACK may wait for a second packet to acknowledge with it.
    pub fn delayed_ack(&self) -> u64 {
        self.delayed_ack
    }

    pub fn set(&mut self, timer: Timer, time: Option<Instant>) {
        self.data[timer as usize] = time;
    }

    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.data[timer as usize]
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.data.iter().filter_map(|&x| x).min()
    }

    fn control_interval(&mut self, timer: Timer) -> Option<&mut Option<u64>> {
        match timer {
            Timer::T2Shutdown => Some(&mut self.shutdown_interval),
            Timer::Reconfig => Some(&mut self.reconfig_interval),
            _ => None,
        }
    }

    pub fn start(&mut self, timer: Timer, now: Instant, interval: u64) {
        // T3 uses the destination's current RTO, which already includes backoff.
        // Successful DATA acknowledgments reset its error counter independently.
        let rto_max = self.rto_max;
        let interval = if let Some(current) = self.control_interval(timer) {
            // Seed T2/RECONFIG from the current DATA RTO, then double their own
            // interval on expiry. Rearming after serialization must neither
            // compound T3 backoff nor apply this control timer's backoff twice.
            // See RFC 9260 9.2 and RFC 6525 5.1.1.
            *current.get_or_insert(interval)
        } else if matches!(timer, Timer::Ack | Timer::T3RTX | Timer::Probe) {
            interval
        } else {
            calculate_next_timeout(interval, self.retrans[timer as usize], rto_max)
        };

        let time = now + Duration::from_millis(interval);
        self.data[timer as usize] = Some(time);
    }

    /// Start an idle timer without hiding an unhandled expiration. A due
    /// deadline stays armed until timeout processing consumes it, unless an
    /// explicit protocol restart first clears it (for T3, acknowledgment of
    /// the earliest outstanding TSN under RFC 9260 section 6.3.2 R3).
    pub fn start_if_idle(&mut self, timer: Timer, now: Instant, interval: u64) {
        if self.data[timer as usize].is_none() {
            self.start(timer, now, interval);
        }
    }

    pub fn stop(&mut self, timer: Timer) {
        self.data[timer as usize] = None;
        self.reset_retrans(timer);
        if let Some(interval) = self.control_interval(timer) {
            *interval = None;
        }
    }

    pub fn reset_retrans(&mut self, timer: Timer) {
        self.retrans[timer as usize] = 0;
        self.forgiven[timer as usize] = 0;
    }

    /// Takes the last expiry of `timer` off its count towards `max_retrans`.
    pub fn forgive_expiry(&mut self, timer: Timer) {
        self.retrans[timer as usize] = self.retrans[timer as usize].saturating_sub(1);
        self.forgiven[timer as usize] += 1;
    }

    /// How many expiries in a row of `timer` were forgiven.
    pub fn forgiven_expiries(&self, timer: Timer) -> usize {
        self.forgiven[timer as usize]
    }

    pub fn is_expired(&mut self, timer: Timer, after: Instant) -> (bool, bool, usize) {
        let expired = self.data[timer as usize].is_some_and(|x| x <= after);
        let mut failure = false;
        let rto_max = self.rto_max;
        if expired && let Some(interval) = self.control_interval(timer) {
            *interval = interval.map(|previous| calculate_next_timeout(previous, 1, rto_max));
        }
        if expired {
            self.retrans[timer as usize] += 1;
            if self.retrans[timer as usize] > self.max_retrans[timer as usize] {
                failure = true;
            }
        }

        (expired, failure, self.retrans[timer as usize])
    }
}

// RFC 9260 §16 recommends a one-second initial RTO.  This value is used by
// both T1-init and T1-cookie before an RTT measurement is available.
const RTO_INITIAL: u64 = 1000; // msec
const RTO_MIN: u64 = 1000; // msec
const RTO_MAX: u64 = 60000; // msec
const RTO_ALPHA: u64 = 1;
const RTO_BETA: u64 = 2;
const RTO_BASE: u64 = 8;

/// rtoManager manages Rtx timeout values.
/// This is an implementation of RFC 9260 sec 6.3.1.
#[derive(Debug)]
pub(crate) struct RtoManager {
    pub(crate) srtt: u64,
    pub(crate) rttvar: f64,
    pub(crate) rto: u64,
    pub(crate) no_update: bool,
    initial: u64,
    min: u64,
    max: u64,
}

impl Default for RtoManager {
    fn default() -> Self {
        Self::new(&TimerConfig::default())
    }
}

impl RtoManager {
    /// newRTOManager creates a new rtoManager with the RTO bounds of `config`.
    pub(crate) fn new(config: &TimerConfig) -> Self {
        RtoManager {
            srtt: 0,
            rttvar: 0.0,
            rto: config.rto_initial_ms,
            no_update: false,
            initial: config.rto_initial_ms,
            min: config.rto_min_ms,
            max: config.rto_max_ms.max(config.rto_min_ms),
        }
    }

    /// set_new_rtt takes a newly measured RTT then adjust the RTO in msec.
    pub(crate) fn set_new_rtt(&mut self, rtt: u64) -> u64 {
        if self.no_update {
            return self.srtt;
        }

        if self.srtt == 0 {
            // First measurement
            self.srtt = rtt;
            self.rttvar = rtt as f64 / 2.0;
        } else {
            // Subsequent rtt measurement
            self.rttvar = ((RTO_BASE - RTO_BETA) as f64 * self.rttvar
                + RTO_BETA as f64 * (self.srtt as i64 - rtt as i64).abs() as f64)
                / RTO_BASE as f64;
            self.srtt = ((RTO_BASE - RTO_ALPHA) * self.srtt + RTO_ALPHA * rtt) / RTO_BASE;
        }

        self.rto = (self.srtt + (4.0 * self.rttvar) as u64).clamp(self.min, self.max);

        self.srtt
    }

    /// get_rto simply returns the current RTO in msec.
    pub(crate) fn get_rto(&self) -> u64 {
        self.rto
    }

    /// RFC 9260 6.3.3 E2: retain backoff until a new RTT measurement updates RTO.
    pub(crate) fn backoff(&mut self) {
        if !self.no_update {
            self.rto = self.rto.saturating_mul(2).min(self.max);
        }
    }

    /// reset resets the RTO variables to the initial values.
    pub(crate) fn reset(&mut self) {
        if self.no_update {
            return;
        }

        self.srtt = 0;
        self.rttvar = 0.0;
        self.rto = self.initial;
    }

    /// set RTO value for testing
    pub(crate) fn set_rto(&mut self, rto: u64, no_update: bool) {
        self.rto = rto;
        self.no_update = no_update;
    }
}

fn calculate_next_timeout(rto: u64, n_rtos: usize, rto_max: u64) -> u64 {
    // RFC 4096 sec 6.3.3.  Handle T3-rtx Expiration
    //   E2)  For the destination address for which the timer expires, set RTO
    //        <- RTO * 2 ("back off the timer").  The maximum value discussed
    //        in rule C7 above (RTO.max) may be used to provide an upper bound
    //        to this doubling operation.
    if n_rtos < 31 {
        std::cmp::min(rto << n_rtos, rto_max)
    } else {
        rto_max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rto_backoff_respects_pinned_rto() {
        let mut rto = RtoManager::default();
        rto.set_rto(1000, true);
        rto.backoff();
        assert_eq!(1000, rto.get_rto());
        rto.set_rto(1000, false);
        rto.backoff();
        assert_eq!(2000, rto.get_rto());
        rto.set_rto(RTO_MAX - 1, false);
        rto.backoff();
        assert_eq!(RTO_MAX, rto.get_rto());
    }

    #[test]
    fn rto_manager_uses_rfc9260_initial_rto() {
        assert_eq!(RTO_INITIAL, 1000);
        assert_eq!(RtoManager::default().get_rto(), RTO_INITIAL);
    }

    #[test]
    fn t1_init_starts_at_initial_rto_before_an_rtt_is_measured() {
        let now = Instant::now();
        let mut timers = TimerTable::new(TimerConfig::default());

        timers.start(Timer::T1Init, now, RtoManager::default().get_rto());

        assert_eq!(timers.next_timeout(), Some(now + Duration::from_secs(1)));
    }

    #[test]
    fn control_backoff_uses_one_interval_until_stopped() {
        for timer in [Timer::T2Shutdown, Timer::Reconfig] {
            let mut timers = TimerTable::new(TimerConfig {
                max_reconfig_retrans: usize::MAX,
                ..TimerConfig::default()
            });
            let mut now = Instant::now();
            // A new procedure uses the current RTO, including previous DATA
            // backoff. Later DATA RTT updates/backoffs cannot compound it.
            timers.start(timer, now, 8000);
            assert_eq!(Some(now + Duration::from_secs(8)), timers.get(timer));
            for interval in [16, 32, 60, 60] {
                now = timers.get(timer).unwrap();
                assert_eq!((true, false), {
                    let (expired, failed, _) = timers.is_expired(timer, now);
                    (expired, failed)
                });
                timers.set(timer, None);
                for data_rto in [60_000, 1000] {
                    timers.start(timer, now, data_rto);
                    assert_eq!(Some(now + Duration::from_secs(interval)), timers.get(timer));
                }
            }
            timers.stop(timer);
            timers.start(timer, now, 3000);
            assert_eq!(Some(now + Duration::from_secs(3)), timers.get(timer));
            assert_eq!((false, false, 0), timers.is_expired(timer, now));
        }
    }

    #[test]
    fn configured_rto_bounds_and_delayed_ack_replace_the_defaults() {
        let config = TimerConfig {
            rto_initial_ms: 500,
            rto_min_ms: 200,
            rto_max_ms: 3000,
            delayed_ack_ms: 20,
            ..TimerConfig::default()
        };
        let mut rto = RtoManager::new(&config);
        assert_eq!(500, rto.get_rto());
        // 10 ms paths: srtt + 4 * rttvar = 30 ms, raised to the minimum.
        rto.set_new_rtt(10);
        assert_eq!(200, rto.get_rto());
        for _ in 0..8 {
            rto.backoff();
        }
        assert_eq!(3000, rto.get_rto());
        rto.reset();
        assert_eq!(500, rto.get_rto());

        let now = Instant::now();
        let mut timers = TimerTable::new(config);
        assert_eq!(20, timers.delayed_ack());
        // T1-init backs off from the initial RTO up to the configured maximum.
        for _ in 0..6 {
            timers.start(Timer::T1Init, now, 500);
            timers.is_expired(Timer::T1Init, now + Duration::from_secs(60));
        }
        timers.start(Timer::T1Init, now, 500);
        assert_eq!(
            Some(now + Duration::from_secs(3)),
            timers.get(Timer::T1Init)
        );
    }
}
