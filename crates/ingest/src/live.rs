//! Live capture as an input: an interface read through libpcap ([`mss_net::pcap`]),
//! as a [`Source`] of records like a file's, streaming.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use mss_capture::{LinkType, Record, Warning};
use mss_net::pcap::{Breaker, Capture, Next};

use crate::Source;

/// When live captures stop, shared by all the interfaces of one run.
#[derive(Debug, Default)]
pub struct Limits {
    /// Packets to take in all (`-c`), if limited.
    pub count: Option<u64>,
    /// When to stop (`--duration`), if ever.
    pub until: Option<Instant>,
    /// Packets taken so far, all interfaces together.
    taken: AtomicU64,
    /// Set to stop (Ctrl-C, or the count reached).
    stopped: AtomicBool,
}

impl Limits {
    /// Limits of a run: `count` packets, until `until`.
    pub fn new(count: Option<u64>, until: Option<Instant>) -> Limits {
        Limits {
            count,
            until,
            ..Limits::default()
        }
    }

    /// Whether the run is over.
    fn over(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
            || self.until.is_some_and(|until| Instant::now() >= until)
            || self
                .count
                .is_some_and(|count| self.taken.load(Ordering::Relaxed) >= count)
    }

    /// Takes one packet, if the count allows.
    fn take(&self) -> bool {
        let Some(count) = self.count else {
            return true;
        };
        self.taken.fetch_add(1, Ordering::Relaxed) < count
    }
}

/// Stops the live inputs of a run from another thread (a signal).
#[derive(Clone, Debug)]
pub struct Stopper {
    limits: Arc<Limits>,
    breakers: Vec<Breaker>,
}

impl Stopper {
    /// Ends every live input: each ends its input as if it were the end of a file,
    /// and the analysis reports what it has.
    pub fn stop(&self) {
        self.limits.stopped.store(true, Ordering::Relaxed);
        for breaker in &self.breakers {
            breaker.stop();
        }
    }
}

/// What the kernel did with an interface's packets (`pcap_stats`), kept current
/// by its capture thread: read it from any thread.
#[derive(Debug, Default)]
pub struct CaptureCounters {
    received: AtomicU64,
    dropped: AtomicU64,
    /// libpcap's 32-bit counters as last read, to add their increase.
    last: std::sync::Mutex<mss_net::pcap::Stats>,
}

impl CaptureCounters {
    /// Packets the capture received (those its filter kept).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Packets dropped: no room in the capture buffer (the reader too slow), or
    /// by the interface.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Adds the increase since the last reading (the counters wrap at 2^32).
    fn update(&self, now: mss_net::pcap::Stats) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let received = now.received.wrapping_sub(last.received);
        let dropped = now
            .dropped
            .wrapping_sub(last.dropped)
            .wrapping_add(now.interface_dropped.wrapping_sub(last.interface_dropped));
        self.received
            .fetch_add(u64::from(received), Ordering::Relaxed);
        self.dropped
            .fetch_add(u64::from(dropped), Ordering::Relaxed);
        *last = now;
    }
}

/// How far behind the wall clock a packet's capture time may be when it becomes
/// readable: in immediate mode libpcap reads a TPACKET_V2 ring, where each
/// packet is visible as soon as the kernel has stamped and copied it.
const SETTLE_MARGIN_NS: u64 = 5_000_000;

/// The wall clock, ns since the epoch.
fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Packets between two readings of the capture's counters (and at every silent
/// moment).
const COUNTERS_EVERY: u64 = 4096;

/// One interface's capture as a source of records.
#[derive(Debug)]
pub(crate) struct Live {
    capture: Capture,
    link_type: LinkType,
    limits: Arc<Limits>,
    number: u64,
    /// The next packet's time and length on the wire, its bytes in `bytes`: copied
    /// out of libpcap's buffer (the record borrows them), taken ahead by
    /// [`Source::ready`] or when the next record is asked for.
    stash: Option<(u64, u32)>,
    bytes: Vec<u8>,
    /// libpcap's failure, said as the input's error.
    failed: Option<String>,
    done: bool,
    /// Wall time, less a margin, when libpcap last had nothing waiting.
    settled: Option<u64>,
    counters: Arc<CaptureCounters>,
}

impl Live {
    pub(crate) fn new(
        capture: Capture,
        limits: Arc<Limits>,
        counters: Arc<CaptureCounters>,
    ) -> Live {
        Live {
            counters,
            link_type: LinkType(capture.link_type()),
            capture,
            limits,
            number: 0,
            stash: None,
            bytes: Vec::new(),
            failed: None,
            done: false,
            settled: None,
        }
    }

    /// Waits (at most 20 ms) for a packet and copies it to the stash; false when
    /// none came.
    fn fetch(&mut self) -> bool {
        if self.done || self.limits.over() {
            if !self.done {
                self.read_counters();
            }
            self.done = true;
            return true;
        }
        if self.number % COUNTERS_EVERY == COUNTERS_EVERY - 1 {
            self.read_counters();
        }
        match self.capture.next_packet() {
            Next::Packet(packet) => {
                if !self.limits.take() {
                    self.done = true;
                    return true;
                }
                self.bytes.clear();
                self.bytes.extend_from_slice(packet.data);
                self.stash = Some((packet.timestamp_ns, packet.original_len));
                true
            }
            Next::Timeout => {
                self.read_counters();
                self.settled = Some(wall_ns().saturating_sub(SETTLE_MARGIN_NS));
                false
            }
            Next::Stopped => {
                self.read_counters();
                self.done = true;
                true
            }
            Next::Failed(why) => {
                self.failed = Some(why);
                self.done = true;
                true
            }
        }
    }
}

impl Live {
    fn read_counters(&self) {
        if let Some(stats) = self.capture.stats() {
            self.counters.update(stats);
        }
    }
}

impl Source for Live {
    fn next_record(&mut self) -> Result<Option<Record<'_>>, mss_capture::Error> {
        while self.stash.is_none() && !self.done {
            self.fetch();
        }
        if let Some(why) = self.failed.take() {
            return Err(mss_capture::Error {
                offset: 0,
                packet: Some(self.number + 1),
                kind: mss_capture::ErrorKind::Io(why),
            });
        }
        let Some((timestamp_ns, original_len)) = self.stash.take() else {
            return Ok(None);
        };
        self.number += 1;
        Ok(Some(Record {
            number: self.number,
            offset: 0,
            data_offset: 0,
            timestamp_ns,
            link_type: self.link_type,
            interface: 0,
            data: &self.bytes,
            original_len,
        }))
    }

    fn offset(&self) -> u64 {
        0
    }

    fn warnings(&self) -> (&[Warning], u64) {
        (&[], 0)
    }

    /// Waits up to 20 ms for the next packet ([`Capture::next_packet`]'s wait): a
    /// silent interface is not ready, and the batch so far goes out.
    fn ready(&mut self) -> bool {
        self.stash.is_some() || self.done || self.fetch()
    }

    fn settled_ns(&self) -> Option<u64> {
        self.settled
    }

    fn ifindex_name(&self, ifindex: u32) -> Option<String> {
        mss_net::pcap::interface_name(ifindex)
    }
}

/// The stopper of a run's live inputs.
pub(crate) fn stopper(limits: Arc<Limits>, breakers: Vec<Breaker>) -> Stopper {
    Stopper { limits, breakers }
}
