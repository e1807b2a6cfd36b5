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
            probes: 0,
        }
    }

    /// The largest size confirmed so far.
    pub fn confirmed(&self) -> u32 {
        self.low
    }

    /// The probe timeout, doubled after each loss of the same size: the retries
    /// then span more than a second, so a peer's ICMP rate limit (Linux: one per
    /// second per destination after a burst of six) cannot pass for a too-big path.
    fn timeout(&self) -> u64 {
        let base = self
            .srtt
            .map_or(INITIAL_TIMEOUT_MS, |rtt| (3 * rtt).max(MIN_TIMEOUT_MS));
        base << self.losses.min(4)
    }

    /// Whether the base size got through (if not, the path carries less than the
    /// assumed minimum and [`Action::Done`]'s value is not confirmed).
    pub fn base_confirmed(&self) -> bool {
        self.base
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
            self.losses += 1;
            if self.losses >= MAX_ATTEMPTS {
                self.losses = 0;
                if self.base {
                    self.high = self.high.min(size);
                } else {
                    // Not even the base gets through: give up.
                    self.high = self.low + 1;
                }
            }
        }
        if self.high <= self.low + 1 {
            return Action::Done { mtu: self.low };
        }
        let size = if self.losses > 0 {
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
        self.last_size = size;
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

    /// Runs a search to the end; returns (mtu found, probes, elapsed ms).
    fn run(path: &Path, min: u32, max: u32) -> (u32, u32, u64) {
        let mut search = Search::new(min, max);
        let mut now = 0;
        let mut sent = 0;
        loop {
            match search.poll(now) {
                Action::Done { mtu } => return (mtu, search.probes, now),
                Action::Wait { until } => now = until,
                Action::Send { id, size } => {
                    sent += 1;
                    assert!(sent < 100, "the search does not end");
                    assert!(
                        (min..=max).contains(&size),
                        "probe {size} outside {min}..={max}"
                    );
                    if sent <= path.lose {
                        continue;
                    }
                    if size <= path.mtu {
                        now += path.rtt;
                        search.on_ack(id, now);
                    } else if path.icmp {
                        now += path.rtt / 2;
                        search.on_too_big(id, path.mtu);
                    }
                }
            }
        }
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
            // 10 halvings over 924 sizes, each failure confirmed three times.
            assert!(probes <= 40, "mtu {mtu}: {probes} probes");
            // Seconds, not minutes: 1.4 s per size found too big (three probes,
            // timeouts of 200, 400, 800 ms).
            assert!(elapsed < 20_000, "mtu {mtu}: {elapsed} ms");
        }
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
