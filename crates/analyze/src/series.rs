//! The segment sizes of a connection over time, per capture point and direction:
//! what a plot of it needs ([`crate::Config::segments`], off by default).
//!
//! Memory is bounded per direction and capture point: every data segment is kept
//! until [`MAX_POINTS`] are; beyond, segments are summed up per time bucket (the
//! smallest and largest payload, how many, how many were retransmissions or larger
//! than the send MSS), and the buckets double in width whenever their number
//! reaches the cap again. A spike stays visible as a bucket's maximum.

use serde::{Deserialize, Serialize};

use crate::report::Role;

/// Entries kept per direction and capture point at most: beyond, the entries are
/// time buckets, at most this many and at least half as many.
pub const MAX_POINTS: usize = 1024;

/// Events kept per direction and capture point at most (the rest are counted).
pub const MAX_EVENTS: usize = 64;

/// Data segments sent in one direction, as one capture point saw them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The capture point (the input's index for an input's first interface).
    pub point: usize,
    /// The sender.
    pub sender: Role,
    /// The width of the time buckets in ns: 0 while every data segment is an
    /// entry of its own.
    pub bucket_ns: u64,
    /// The segments (or buckets), in the order captured.
    pub points: Vec<SeriesPoint>,
    /// What else happened to the sender, in the order captured.
    pub events: Vec<SeriesEvent>,
    /// Events not kept beyond [`MAX_EVENTS`].
    pub events_dropped: u32,
}

/// One data segment, or the data segments of one time bucket.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Time since the connection's first packet, ns (a bucket's start).
    pub t_ns: u64,
    /// The smallest TCP payload, bytes.
    pub min: u32,
    /// The largest TCP payload, bytes.
    pub max: u32,
    /// Data segments in it (1 for a single segment).
    pub count: u32,
    /// Of these, retransmissions (sequence space sent before).
    pub retransmissions: u32,
    /// Of these, larger than the send MSS the peer's option allows: super-segments
    /// of TSO/GSO or GRO/LRO, or violations (the connection's findings say which).
    pub oversize: u32,
}

/// Something that changed the sender's segment size, or explains a change.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeriesEvent {
    /// An ICMP too-big message for one of its packets.
    IcmpTooBig {
        /// Time since the connection's first packet, ns.
        t_ns: u64,
        /// The MTU it announced (0 from pre-RFC 1191 routers).
        mtu: u32,
        /// The size of the packet that did not fit.
        size: u32,
    },
    /// A bulk sender went on with full segments of another size (a lowered path
    /// MTU, an MTU-probing step, a clamp).
    SizeStep {
        /// Time since the connection's first packet, ns (when the new size was
        /// established).
        t_ns: u64,
        /// The previous bulk segment size.
        from: u32,
        /// The new one.
        to: u32,
    },
}

impl SeriesEvent {
    /// When it happened, ns since the connection's first packet.
    pub fn t_ns(&self) -> u64 {
        match *self {
            SeriesEvent::IcmpTooBig { t_ns, .. } | SeriesEvent::SizeStep { t_ns, .. } => t_ns,
        }
    }
}

/// The time series of one direction at one capture point, being collected.
#[derive(Clone, Debug, Default)]
pub(crate) struct Collector {
    pub(crate) bucket_ns: u64,
    pub(crate) points: Vec<SeriesPoint>,
    pub(crate) events: Vec<SeriesEvent>,
    pub(crate) events_dropped: u32,
}

impl Collector {
    /// A data segment of `payload` bytes at `t_ns`.
    pub(crate) fn segment(
        &mut self,
        t_ns: u64,
        payload: u32,
        retransmission: bool,
        oversize: bool,
    ) {
        // Full, and the segment starts an entry of its own: coarser buckets first,
        // so the entries never outgrow their first allocation.
        if self.points.len() >= MAX_POINTS && self.bucket_of_last() != Some(self.start(t_ns)) {
            self.coarsen();
        }
        let entry = SeriesPoint {
            t_ns: self.start(t_ns),
            min: payload,
            max: payload,
            count: 1,
            retransmissions: u32::from(retransmission),
            oversize: u32::from(oversize),
        };
        match self.points.last_mut() {
            Some(last) if self.bucket_ns > 0 && last.t_ns == entry.t_ns => merge(last, &entry),
            _ => self.points.push(entry),
        }
    }

    /// Where the entry of a segment at `t_ns` starts: its bucket, or itself.
    fn start(&self, t_ns: u64) -> u64 {
        if self.bucket_ns > 0 {
            t_ns - t_ns % self.bucket_ns
        } else {
            t_ns
        }
    }

    /// The last entry's bucket start, when there are buckets.
    fn bucket_of_last(&self) -> Option<u64> {
        self.points
            .last()
            .filter(|_| self.bucket_ns > 0)
            .map(|last| last.t_ns)
    }

    /// Doubles the buckets' width (at least) until at most half the cap remain.
    fn coarsen(&mut self) {
        let (Some(first), Some(last)) = (self.points.first(), self.points.last()) else {
            return;
        };
        let span = last.t_ns.saturating_sub(first.t_ns);
        let even = span / (MAX_POINTS as u64 / 2) + 1;
        self.bucket_ns = self.bucket_ns.saturating_mul(2).max(even).max(1);
        loop {
            let width = self.bucket_ns;
            let mut merged: Vec<SeriesPoint> = Vec::with_capacity(MAX_POINTS);
            for point in &self.points {
                let start = point.t_ns - point.t_ns % width;
                match merged.last_mut() {
                    Some(last) if last.t_ns == start => merge(last, point),
                    _ => merged.push(SeriesPoint {
                        t_ns: start,
                        ..*point
                    }),
                }
            }
            self.points = merged;
            if self.points.len() <= MAX_POINTS / 2 || width == u64::MAX {
                return;
            }
            self.bucket_ns = width.saturating_mul(2);
        }
    }

    /// An event, kept if there is room.
    pub(crate) fn event(&mut self, event: SeriesEvent) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(event);
        } else {
            self.events_dropped = self.events_dropped.saturating_add(1);
        }
    }

    /// The finished trace.
    pub(crate) fn trace(&self, point: usize, sender: Role) -> Trace {
        Trace {
            point,
            sender,
            bucket_ns: self.bucket_ns,
            points: self.points.clone(),
            events: self.events.clone(),
            events_dropped: self.events_dropped,
        }
    }
}

fn merge(into: &mut SeriesPoint, other: &SeriesPoint) {
    into.min = into.min.min(other.min);
    into.max = into.max.max(other.max);
    into.count = into.count.saturating_add(other.count);
    into.retransmissions = into.retransmissions.saturating_add(other.retransmissions);
    into.oversize = into.oversize.saturating_add(other.oversize);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_segment_is_kept_up_to_the_cap() {
        let mut c = Collector::default();
        for i in 0..MAX_POINTS as u64 {
            c.segment(i * 1000, 1448, false, false);
        }
        assert_eq!(c.points.len(), MAX_POINTS);
        assert_eq!(c.bucket_ns, 0);
        assert_eq!(c.points.capacity(), MAX_POINTS);
    }

    #[test]
    fn beyond_the_cap_buckets_keep_spikes_and_counts() {
        let mut c = Collector::default();
        let n = 100_000u64;
        for i in 0..n {
            let payload = if i == 54_321 { 65_160 } else { 1448 };
            c.segment(i * 1000, payload, i % 1000 == 0, payload > 1448);
        }
        assert!(c.points.len() <= MAX_POINTS && c.points.len() >= MAX_POINTS / 4);
        assert!(c.points.capacity() <= MAX_POINTS, "{}", c.points.capacity());
        assert!(c.bucket_ns > 0);
        let total: u64 = c.points.iter().map(|p| u64::from(p.count)).sum();
        assert_eq!(total, n);
        assert_eq!(c.points.iter().map(|p| p.max).max(), Some(65_160));
        assert_eq!(c.points.iter().map(|p| p.oversize).sum::<u32>(), 1);
        assert_eq!(c.points.iter().map(|p| p.retransmissions).sum::<u32>(), 100);
        assert!(c.points.windows(2).all(|w| w[0].t_ns < w[1].t_ns));
    }

    /// docs/json.md promises at most 32 KiB per direction and capture point.
    #[test]
    fn a_full_trace_is_at_most_32_kib() {
        assert!(core::mem::size_of::<SeriesPoint>() * MAX_POINTS <= 32 * 1024);
    }

    #[test]
    fn events_are_bounded() {
        let mut c = Collector::default();
        for i in 0..100 {
            c.event(SeriesEvent::IcmpTooBig {
                t_ns: i,
                mtu: 1400,
                size: 1500,
            });
        }
        assert_eq!(c.events.len(), MAX_EVENTS);
        assert_eq!(c.events_dropped as usize, 100 - MAX_EVENTS);
    }
}
