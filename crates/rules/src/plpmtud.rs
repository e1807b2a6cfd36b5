//! The path MTU search of `mss probe path` when ICMP does not tell (Packetization
//! Layer PMTUD, RFC 4821 and, for datagrams, RFC 8899): probes of chosen sizes,
//! acknowledged or lost, narrow the interval until the largest size that gets
//! through is known. A pure state machine in the style of quinn's MTU discovery:
//! time and events in, the next probe out; the caller owns the socket and the clock.
//!
//! - One probe in flight at a time. The first probe is the upper bound (the common
//!   case: nothing smaller on the path), then the interval is halved.
//! - A size counts as too big only after [`MAX_ATTEMPTS`] losses in a row (RFC 8899
//!   section 5.1.2 MAX_PROBES): one loss may be congestion or an ICMP rate limit.
//!   Then a probe of the confirmed size checks that the path still answers: the
//!   answers a search counts on (ICMP time exceeded, port unreachable) are rate
//!   limited by routers and hosts (Linux: a burst of six, then one a second per
//!   destination, `inet_peer_xrlim_allow()`), so three silent probes may be three
//!   refused answers. If the check is not answered either, the losses prove
//!   nothing: the search pauses for a second and tries the size again.
//! - An ICMP too-big with a next-hop MTU (when one does arrive) jumps straight to it.
//! - A probe is lost when no acknowledgement comes within the probe timeout: three
//!   times the smoothed RTT of the acknowledgements so far, at least
//!   [`MIN_TIMEOUT_MS`], [`INITIAL_TIMEOUT_MS`] before the first one, doubled for
//!   each retry of the same size.

/// Losses in a row before a size is declared too big (RFC 8899 MAX_PROBES = 3).
pub const MAX_ATTEMPTS: u8 = 3;
/// Probe timeout before any RTT is known (RFC 8899 suggests 15 s for the
/// PROBE_TIMER; a path tool can afford to be quicker and retry).
pub const INITIAL_TIMEOUT_MS: u64 = 1000;
/// The shortest probe timeout.
pub const MIN_TIMEOUT_MS: u64 = 200;
/// The pause after a check of the confirmed size went unanswered: long enough for
/// a rate limiter of one answer a second to have one again.
pub const RATE_LIMIT_PAUSE_MS: u64 = 1000;

/// What the caller should do next.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a probe of this many bytes (the whole IP packet) and report what
    /// happens to it with its id.
    Send {
        /// Probe id, echoed in [`Search::on_ack`] / [`Search::on_too_big`].
        id: u32,
        /// IP packet size.
        size: u32,
    },
    /// Nothing to send before this time (ms): call [`Search::poll`] again then, or
    /// earlier when an event arrives.
    Wait {
        /// Time in milliseconds, on the caller's clock.
        until: u64,
    },
    /// The search is over.
    Done {
        /// The largest size that got through.
        mtu: u32,
    },
}

/// The search's state.
#[derive(Clone, Debug)]
pub struct Search {
    /// Largest size known to get through.
    low: u32,
    /// Smallest size known not to (or one above the upper bound).
    high: u32,
    /// The probe in flight: (id, size, sent at).
    in_flight: Option<(u32, u32, u64)>,
    next_id: u32,
    losses: u8,
    srtt: Option<u64>,
    /// The size of the last probe sent (retried after a loss).
    last_size: u32,
    /// Probe the top of the interval next (after the base, and after an ICMP
    /// too-big).
    try_top: bool,
    /// Whether the base size (`min`) was acknowledged; it is probed first, which
    /// also measures the RTT the loss timeouts need (RFC 8899 BASE state).
    base: bool,
    /// A size lost [`MAX_ATTEMPTS`] times whose verdict waits for a check that the
    /// path still answers probes of the confirmed size.
    suspect: Option<u32>,
    /// Whether the probe in flight is that check.
    checking: bool,
    /// The next probe repeats the last size (after a loss).
    retry: bool,
    /// Checks lost in a row: the path stopped answering.
    stalls: u8,
    /// No probe before this time (after a lost check).
    not_before: u64,
    /// Probes sent so far.
    pub probes: u32,
}

impl Search {
    /// A search for the largest size in `min..=max` that gets through; `min` is
    /// assumed to (576 for IPv4, 1280 for IPv6, or a size already confirmed).
    pub fn new(min: u32, max: u32) -> Search {
        Search {
            low: min,
            high: max.max(min) + 1,
            in_flight: None,
            next_id: 1,
            losses: 0,
            srtt: None,
            last_size: 0,
            try_top: true,
            base: false,
            suspect: None,
            checking: false,
            retry: false,
            stalls: 0,
            not_before: 0,
            probes: 0,
        }
    }

    /// A search whose base `min` is already known to get through, with answers
    /// `rtt_ms` away (the probes that showed it measured that): it starts at the
    /// top.
    pub fn from_confirmed(min: u32, max: u32, rtt_ms: u64) -> Search {
        Search {
            base: true,
            srtt: Some(rtt_ms),
            ..Search::new(min, max)
        }
    }

    /// The largest size confirmed so far.
    pub fn confirmed(&self) -> u32 {
        self.low
    }

    /// The probe timeout, doubled after each loss of the same size, and after the
    /// first loss at least [`RATE_LIMIT_PAUSE_MS`]: the first and the last
    /// attempt are then more than a second apart, so a peer's ICMP rate limit
    /// (Linux: one per second per destination after a burst of six) has an answer
    /// for one of them and cannot pass for a too-big size.
    fn timeout(&self) -> u64 {
        let base = self
            .srtt
            .map_or(INITIAL_TIMEOUT_MS, |rtt| (3 * rtt).max(MIN_TIMEOUT_MS));
        match self.losses {
            0 => base,
            1 => (base * 2).max(RATE_LIMIT_PAUSE_MS),
            n => base << n.min(4),
        }
    }

    /// Whether the base size got through (if not, the path carries less than the
    /// assumed minimum and [`Action::Done`]'s value is not confirmed).
    pub fn base_confirmed(&self) -> bool {
        self.base
    }

    /// Whether the search ended because the path stopped answering even probes
    /// of the confirmed size ([`MAX_ATTEMPTS`] checks lost): its result is then
    /// the largest size confirmed before, and sizes above it are not known to be
    /// too big.
    pub fn stalled(&self) -> bool {
        self.stalls >= MAX_ATTEMPTS
    }

    fn next_size(&self) -> u32 {
        if !self.base {
            self.low
        } else if self.try_top {
            // Optimistic: most paths carry the full size, and an ICMP too-big names
            // the size to confirm.
            self.high - 1
        } else {
            self.low + (self.high - self.low) / 2
        }
    }

    /// What to do at time `now` (ms).
    pub fn poll(&mut self, now: u64) -> Action {
        if let Some((_, size, sent)) = self.in_flight {
            let deadline = sent + self.timeout();
            if now < deadline {
                return Action::Wait { until: deadline };
            }
            // Lost.
            self.in_flight = None;
            if self.checking {
                // Not even the confirmed size is answered: the losses of the
                // suspect size were the path's silence, not its size. Try it
                // again once a rate limiter has an answer to give.
                self.checking = false;
                self.stalls += 1;
                self.losses = 0;
                if let Some(suspect) = self.suspect.take() {
                    self.last_size = suspect;
                }
                if self.stalled() {
                    return Action::Done { mtu: self.low };
                }
                // Retry the suspect size after the pause, counting afresh.
                self.not_before = now + RATE_LIMIT_PAUSE_MS;
                self.retry = true;
            } else {
                self.losses += 1;
                if self.losses >= MAX_ATTEMPTS {
                    self.losses = 0;
                    if self.base {
                        // Too big, unless the path has gone quiet: check first.
                        self.suspect = Some(size);
                    } else {
                        // Not even the base gets through: give up.
                        self.high = self.low + 1;
                    }
                } else {
                    self.retry = true;
                }
            }
        }
        if self.high <= self.low + 1 {
            return Action::Done { mtu: self.low };
        }
        if now < self.not_before {
            return Action::Wait {
                until: self.not_before,
            };
        }
        let size = if self.suspect.is_some() {
            self.checking = true;
            self.low
        } else if std::mem::take(&mut self.retry) {
            // Retry the size that was lost.
            self.last_size
        } else {
            let size = self.next_size();
            if self.base {
                self.try_top = false;
            }
            size
        };
        let id = self.next_id;
        self.next_id += 1;
        self.probes += 1;
        self.in_flight = Some((id, size, now));
        if !self.checking {
            self.last_size = size;
        }
        Action::Send { id, size }
    }

    /// Probe `id` was acknowledged at `now`.
    pub fn on_ack(&mut self, id: u32, now: u64) {
        let Some((flying, size, sent)) = self.in_flight else {
            return;
        };
        if flying != id {
            return;
        }
        self.in_flight = None;
        self.losses = 0;
        self.stalls = 0;
        self.retry = false;
        if std::mem::take(&mut self.checking) {
            // The path answers: the suspect size is too big.
            if let Some(suspect) = self.suspect.take() {
                self.high = self.high.min(suspect);
            }
        }
        self.base = true;
        self.low = self.low.max(size);
        let rtt = now.saturating_sub(sent);
        self.srtt = Some(self.srtt.map_or(rtt, |s| (7 * s + rtt) / 8));
    }

    /// An ICMP too-big for probe `id` said the next hop carries `mtu`.
    pub fn on_too_big(&mut self, id: u32, mtu: u32) {
        let Some((flying, size, _)) = self.in_flight else {
            return;
        };
        if flying != id {
            return;
        }
        self.in_flight = None;
        self.losses = 0;
        self.retry = false;
        self.checking = false;
        self.suspect = None;
        // The MTU it reports bounds the whole path: jump to it, also when it is
        // the size already confirmed (then the search is over; stepping down a
        // byte per probe from the refused size would take a hundred probes). A
        // router may report an MTU at or above the size it refused, or below one
        // that got through (a broken one): then only the size itself is known to
        // be too big.
        let bound = if mtu >= self.low && mtu < size {
            mtu + 1
        } else {
            size
        };
        self.high = self.high.min(bound).max(self.low + 1);
        self.try_top = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated path: packets up to `mtu` get through and are acknowledged
    /// after `rtt` ms; bigger ones are answered with ICMP too-big (if `icmp`) or
    /// vanish. `lose` drops the first N probes whatever their size.
    struct Path {
        mtu: u32,
        icmp: bool,
        rtt: u64,
        lose: u32,
    }

    impl Path {
        /// A path of `mtu` whose routers answer with ICMP too-big, 10 ms away.
        fn answering(mtu: u32) -> Path {
            Path {
                mtu,
                icmp: true,
                rtt: 10,
                lose: 0,
            }
        }
    }

    /// What a simulated path does with a probe.
    enum Reply {
        /// Acknowledged after this many ms.
        Ack(u64),
        /// Answered with an ICMP too-big naming this MTU, after this many ms.
        TooBig(u32, u64),
        Lost,
    }

    /// Runs a search from `min` to `max` to the end over a path that answers each
    /// probe (its number from 1, its size, the time) with `reply`; returns (mtu
    /// found, probes, elapsed ms).
    fn drive(min: u32, max: u32, mut reply: impl FnMut(u32, u32, u64) -> Reply) -> (u32, u32, u64) {
        let mut search = Search::new(min, max);
        let (mut now, mut sent) = (0, 0);
        loop {
            match search.poll(now) {
                Action::Done { mtu } => return (mtu, search.probes, now),
                Action::Wait { until } => now = until,
                Action::Send { id, size } => {
                    sent += 1;
                    assert!(sent < 200, "the search does not end");
                    assert!(
                        (min..=max).contains(&size),
                        "probe {size} outside {min}..={max}"
                    );
                    match reply(sent, size, now) {
                        Reply::Ack(after) => {
                            now += after;
                            search.on_ack(id, now);
                        }
                        Reply::TooBig(mtu, after) => {
                            now += after;
                            search.on_too_big(id, mtu);
                        }
                        Reply::Lost => {}
                    }
                }
            }
        }
    }

    /// Runs a search to the end over `path`; returns (mtu found, probes, elapsed ms).
    fn run(path: &Path, min: u32, max: u32) -> (u32, u32, u64) {
        drive(min, max, |sent, size, _| {
            if sent <= path.lose {
                Reply::Lost
            } else if size <= path.mtu {
                Reply::Ack(path.rtt)
            } else if path.icmp {
                Reply::TooBig(path.mtu, path.rtt / 2)
            } else {
                Reply::Lost
            }
        })
    }

    #[test]
    fn finds_the_exact_mtu_by_searching_when_icmp_is_dropped() {
        for mtu in [576, 1000, 1280, 1399, 1400, 1420, 1492, 1499, 1500] {
            let (found, probes, elapsed) = run(
                &Path {
                    mtu,
                    icmp: false,
                    rtt: 10,
                    lose: 0,
                },
                576,
                1500,
            );
            assert_eq!(found, mtu);
            // 10 halvings over 924 sizes, each failure confirmed by three losses
            // and a check that the path still answers.
            assert!(probes <= 45, "mtu {mtu}: {probes} probes");
            // Seconds, not minutes: 2 s per size found too big (three probes,
            // timeouts of 200, 1000, 800 ms).
            assert!(elapsed < 25_000, "mtu {mtu}: {elapsed} ms");
        }
    }

    /// Runs a search over a path whose answers are rate limited as Linux limits
    /// ICMP errors per destination (`inet_peer_xrlim_allow()`: a burst of
    /// `burst`, then one per `every` ms); sizes above `mtu` vanish. Returns
    /// (mtu found, probes, elapsed ms).
    fn run_rate_limited(mtu: u32, min: u32, max: u32, burst: u64, every: u64) -> (u32, u32, u64) {
        // Tokens in ms of credit, as the kernel keeps them.
        let (mut tokens, mut last) = (burst * every, 0u64);
        drive(min, max, |_, size, now| {
            if size > mtu {
                return Reply::Lost;
            }
            tokens = (tokens + (now - last)).min(burst * every);
            last = now;
            if tokens >= every {
                tokens -= every;
                Reply::Ack(1)
            } else {
                Reply::Lost
            }
        })
    }

    #[test]
    fn a_rate_limited_answer_is_not_taken_for_a_too_big_size() {
        // IPv4 time exceeded and port unreachable: six, then one a second.
        for mtu in [576, 1000, 1280, 1400, 1480, 1499, 1500] {
            let (found, probes, elapsed) = run_rate_limited(mtu, 576, 1500, 6, 1000);
            assert_eq!(found, mtu, "{probes} probes, {elapsed} ms");
            assert!(elapsed < 30_000, "mtu {mtu}: {elapsed} ms");
        }
        // IPv6 toward a /64: four a second.
        for mtu in [1280, 1400, 1480, 1500] {
            let (found, probes, elapsed) = run_rate_limited(mtu, 1280, 1500, 6, 250);
            assert_eq!(found, mtu, "{probes} probes, {elapsed} ms");
            assert!(probes <= 40, "mtu {mtu}: {probes} probes");
        }
    }

    #[test]
    fn a_search_from_a_confirmed_base_starts_at_the_top() {
        let mut search = Search::from_confirmed(576, 1500, 1);
        let Action::Send { id, size } = search.poll(0) else {
            panic!("a probe")
        };
        assert_eq!(size, 1500);
        search.on_ack(id, 1);
        assert_eq!(search.poll(1), Action::Done { mtu: 1500 });
        assert_eq!(search.probes, 1);
    }

    #[test]
    fn a_path_that_goes_quiet_stalls_the_search_at_what_was_confirmed() {
        let mut search = Search::new(1280, 1500);
        let Action::Send { id, size } = search.poll(0) else {
            panic!("the base first")
        };
        assert_eq!(size, 1280);
        search.on_ack(id, 1);
        // Nothing answers from now on.
        let (mut now, mut probes) = (1, 0);
        let mtu = loop {
            match search.poll(now) {
                Action::Done { mtu } => break mtu,
                Action::Wait { until } => now = until,
                Action::Send { .. } => probes += 1,
            }
            assert!(probes < 30, "it ends");
        };
        assert_eq!(mtu, 1280);
        assert!(search.stalled());
        // Silence is not an MTU: 1500 was never found too big.
        assert!(probes > MAX_ATTEMPTS as u32);
    }

    #[test]
    fn icmp_too_big_goes_straight_to_the_mtu() {
        let (found, probes, _) = run(&Path::answering(1400), 1280, 1500);
        // The base, the top (too big), then 1400 itself.
        assert_eq!((found, probes), (1400, 3));
    }

    #[test]
    fn a_too_big_naming_the_confirmed_size_ends_the_search() {
        // IPv6 at its minimum: the base 1280 gets through, the top is refused
        // with "MTU 1280".
        for (mtu, min) in [(1280, 1280), (576, 576), (1400, 1400)] {
            let (found, probes, _) = run(&Path::answering(mtu), min, 1500);
            assert_eq!((found, probes), (mtu, 2), "path MTU {mtu}");
        }
    }

    #[test]
    fn every_icmp_path_takes_at_most_three_probes() {
        for mtu in (1280..=1500).step_by(7) {
            let (found, probes, _) = run(&Path::answering(mtu), 1280, 1500);
            assert_eq!(found, mtu);
            assert!(probes <= 3, "path MTU {mtu}: {probes} probes");
        }
    }

    #[test]
    fn a_clean_path_takes_one_probe() {
        let (found, probes, _) = run(
            &Path {
                mtu: 9000,
                icmp: false,
                rtt: 1,
                lose: 0,
            },
            1280,
            1500,
        );
        assert_eq!((found, probes), (1500, 2));
    }

    #[test]
    fn two_random_losses_do_not_lower_the_result() {
        let (found, _, _) = run(
            &Path {
                mtu: 1500,
                icmp: false,
                rtt: 5,
                lose: 2,
            },
            1280,
            1500,
        );
        assert_eq!(found, 1500);
    }

    #[test]
    fn a_lying_icmp_cannot_raise_or_stall_it() {
        // A too-big that names an MTU above the refused size.
        let mut search = Search::new(1280, 1500);
        let Action::Send { id: base, .. } = search.poll(0) else {
            panic!("the base first")
        };
        search.on_ack(base, 1);
        let Action::Send { id, size } = search.poll(1) else {
            panic!("then the top")
        };
        search.on_too_big(id, 9000);
        assert_eq!(size, 1500);
        let (mut now, mut probes) = (0, 0);
        loop {
            match search.poll(now) {
                Action::Done { mtu } => {
                    assert!(mtu < 1500);
                    break;
                }
                Action::Wait { until } => now = until,
                Action::Send { id, size } => {
                    probes += 1;
                    assert!(probes < 60);
                    if size <= 1450 {
                        search.on_ack(id, now + 1);
                    }
                }
            }
        }
    }
}
