//! What one capture point saw one endpoint send.

use mss_wire::icmp;
use mss_wire::tcp::{self, MssOption, TcpOption};

use crate::report::{MssSeen, SynOptions};
use crate::series::{Collector, SeriesEvent};

/// `a` before `b` in sequence space (RFC 9293 section 3.4, modulo 2^32).
pub(crate) fn seq_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

/// `a` at or before `b`.
pub(crate) fn seq_le(a: u32, b: u32) -> bool {
    a == b || seq_lt(a, b)
}

/// A SYN or SYN-ACK as captured.
#[derive(Clone, Debug)]
pub(crate) struct SynSeen {
    pub(crate) mss: MssSeen,
    pub(crate) options: SynOptions,
    pub(crate) ttl: u8,
}

impl SynSeen {
    pub(crate) fn read(ttl: u8, segment: &tcp::Packet<&[u8]>) -> SynSeen {
        let mut options = SynOptions::default();
        for item in segment.options() {
            match item.option {
                TcpOption::WindowScale(shift) => options.window_scale = Some(shift),
                TcpOption::SackPermitted => options.sack_permitted = true,
                TcpOption::Timestamps { .. } => options.timestamps = true,
                TcpOption::Md5(_) => options.md5 = true,
                TcpOption::Ao { mac, .. } => options.ao_mac_len = u8::try_from(mac.len()).ok(),
                TcpOption::Mptcp(_) => options.mptcp = true,
                TcpOption::FastOpen(_) => options.fast_open = true,
                TcpOption::Unknown { kind, .. } | TcpOption::BadLength { kind, .. }
                    if options.unknown_kinds.len() < 8 =>
                {
                    options.unknown_kinds.push(kind);
                }
                _ => {}
            }
        }
        let mss = match segment.mss_option() {
            MssOption::Known(Some(v)) => MssSeen::Value(v),
            MssOption::Known(None) => MssSeen::Absent,
            MssOption::Unknown => MssSeen::Unknown,
        };
        SynSeen { mss, options, ttl }
    }
}

/// The most frequent values among a stream, in bounded memory: the SpaceSaving
/// algorithm (Metwally et al., 2005) with a handful of counters.
#[derive(Clone, Debug, Default)]
pub(crate) struct TopSizes {
    counters: [(u32, u32); 4],
}

impl TopSizes {
    pub(crate) fn add(&mut self, size: u32) {
        if let Some(slot) = self.counters.iter_mut().find(|c| c.0 == size && c.1 > 0) {
            slot.1 = slot.1.saturating_add(1);
            return;
        }
        // Replace the least counted value, inheriting its count (SpaceSaving).
        if let Some(least) = self.counters.iter_mut().min_by_key(|c| c.1) {
            *least = (size, least.1.saturating_add(1));
        }
    }

    /// The most frequent size among those at least `floor`.
    pub(crate) fn mode_at_least(&self, floor: u32) -> Option<u32> {
        self.counters
            .iter()
            .filter(|c| c.1 > 0 && c.0 >= floor)
            .max_by_key(|c| (c.1, c.0))
            .map(|c| c.0)
    }
}

/// An ICMP too-big message addressed to this endpoint for this flow.
#[derive(Copy, Clone, Debug)]
pub(crate) struct TooBig {
    pub(crate) mtu: u32,
    pub(crate) size: u32,
}

/// Non-SYN segments per endpoint whose options are walked for timestamps, MD5, AO.
const OPTION_CHECKS: u8 = 4;

/// Full-size segments without PSH that establish a bulk sender's segment size.
const BULK_EVIDENCE: u32 = 8;

/// A segment retransmitted at full size, candidate for a black hole.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct Stall {
    pub(crate) seq: u32,
    pub(crate) payload: u32,
    pub(crate) ip_len: u32,
    pub(crate) transmissions: u32,
    /// A smaller segment starting at the same sequence number was sent later.
    pub(crate) smaller_after: Option<u32>,
    /// The peer acknowledged it.
    pub(crate) acked: bool,
}

/// Evidence about segments larger than the effective MSS.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct Oversize {
    pub(crate) count: u64,
    pub(crate) largest: u32,
    /// IPv4 identification of the last oversize packet and its payload, to compare
    /// with the next packet's: a sender numbers segments, so a jump of one means
    /// the packet went out whole, a jump of k means k segments on the wire.
    pub(crate) pending_id: Option<(u16, u32)>,
    pub(crate) sent_whole: u32,
    pub(crate) sent_split: u32,
}

/// What few connections need: evidence of oversize segments, ICMP too-big messages,
/// stalled retransmissions and fragments. Allocated on first use, so the state of
/// an ordinary connection stays small.
#[derive(Clone, Debug, Default)]
pub(crate) struct Unusual {
    pub(crate) oversize: Oversize,
    pub(crate) too_big: Vec<TooBig>,
    /// Too-big messages received (all, not only the first 16 kept).
    pub(crate) too_big_count: u32,
    /// Largest IP packet with data it sent since the latest too-big message. A
    /// sender that keeps sending packets too big draws a message for each, so this
    /// stays above the MTU only if it never adapted.
    pub(crate) after_too_big_max: Option<u32>,
    pub(crate) stall: Option<Stall>,
    pub(crate) worst_stall: Option<Stall>,
    pub(crate) fragments: u32,
    /// Its datagrams given up with fragments missing, and the largest one's length
    /// as known.
    pub(crate) incomplete: u32,
    pub(crate) incomplete_len: u32,
}

/// What one capture point saw one endpoint send.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sent {
    pub(crate) syn: Option<SynSeen>,
    pub(crate) packets: u64,
    pub(crate) ttl: Option<u8>,
    /// IP header bytes beyond the fixed header on its data segments.
    pub(crate) ip_extra: u32,
    pub(crate) data_segments: u64,
    pub(crate) data_bytes: u64,
    pub(crate) max_payload: u32,
    pub(crate) sizes: TopSizes,
    /// The current run of data segments without PSH of one size: a bulk sender
    /// fills segments to its MSS and sets PSH only now and then, while an
    /// application's small writes each end with PSH.
    pub(crate) run: (u32, u32),
    /// The size of the latest run that reached `BULK_EVIDENCE` segments.
    pub(crate) last_bulk: Option<u32>,
    pub(crate) retransmissions: u64,
    /// Sequence number after the highest byte sent.
    pub(crate) next_seq: Option<u32>,
    /// Highest acknowledgment it sent (for the peer's data).
    pub(crate) max_ack: Option<u32>,
    pub(crate) fin: bool,
    pub(crate) rst: bool,
    /// Timestamps option seen on its non-SYN segments.
    pub(crate) ts_on_data: bool,
    /// MD5 option seen on its non-SYN segments.
    pub(crate) md5_on_data: bool,
    /// TCP-AO option bytes seen on its non-SYN segments.
    pub(crate) ao_on_data: Option<u32>,
    /// Non-SYN segments whose options were walked.
    pub(crate) options_checked: u8,
    pub(crate) unusual: Option<Box<Unusual>>,
    /// The segment sizes over time, when asked for ([`crate::Config::segments`]).
    pub(crate) series: Option<Box<Collector>>,
}

/// The per-segment facts `Sent::on_segment` needs.
pub(crate) struct Segment {
    /// Time since the connection's first packet (for the time series).
    pub(crate) t_ns: u64,
    pub(crate) ttl: u8,
    pub(crate) ip_id: Option<u16>,
    pub(crate) ip_len: u32,
    pub(crate) ip_extra: u32,
    pub(crate) seq: u32,
    pub(crate) payload: u32,
    pub(crate) ack: Option<u32>,
    pub(crate) syn: bool,
    pub(crate) fin: bool,
    pub(crate) rst: bool,
    pub(crate) psh: bool,
}

impl Sent {
    /// Records a segment this endpoint sent. `limit` is its effective send MSS for a
    /// segment with these options, if known.
    pub(crate) fn on_segment(&mut self, s: &Segment, limit: Option<u32>) {
        self.packets += 1;
        if self.ttl.is_none_or(|t| s.ttl > t) {
            self.ttl = Some(s.ttl);
        }
        if let Some(unusual) = self.unusual.as_deref_mut() {
            let oversize = &mut unusual.oversize;
            if let (Some((id, payload)), Some(next)) = (oversize.pending_id.take(), s.ip_id) {
                match next.wrapping_sub(id) {
                    1 => oversize.sent_whole += 1,
                    d if d > 1 && u32::from(d) <= payload => oversize.sent_split += 1,
                    _ => {}
                }
            }
            if unusual.too_big_count > 0 && s.payload > 0 {
                unusual.after_too_big_max =
                    Some(unusual.after_too_big_max.unwrap_or(0).max(s.ip_len));
            }
        }
        if s.rst {
            self.rst = true;
        }
        if s.fin {
            self.fin = true;
        }
        let consumed = s.payload + u32::from(s.syn) + u32::from(s.fin);
        let end = s.seq.wrapping_add(consumed);
        if s.payload > 0 {
            self.on_data(s, end, limit);
        }
        if consumed > 0 && self.next_seq.is_none_or(|n| seq_lt(n, end)) {
            self.next_seq = Some(end);
        }
    }

    /// The rarely needed state, allocated now if it was not.
    fn unusual(&mut self) -> &mut Unusual {
        self.unusual.get_or_insert_with(Box::default)
    }

    fn on_data(&mut self, s: &Segment, end: u32, limit: Option<u32>) {
        self.data_segments += 1;
        self.data_bytes += u64::from(s.payload);
        self.ip_extra = self.ip_extra.max(s.ip_extra);
        self.max_payload = self.max_payload.max(s.payload);
        self.sizes.add(s.payload);
        if !s.psh {
            if self.run.0 == s.payload {
                self.run.1 += 1;
            } else {
                self.run = (s.payload, 1);
            }
            if self.run.1 >= BULK_EVIDENCE {
                if let (Some(series), Some(from)) = (self.series.as_deref_mut(), self.last_bulk) {
                    if from != s.payload {
                        series.event(SeriesEvent::SizeStep {
                            t_ns: s.t_ns,
                            from,
                            to: s.payload,
                        });
                    }
                }
                self.last_bulk = Some(s.payload);
            }
        }
        let retransmission = self
            .next_seq
            .is_some_and(|n| seq_lt(s.seq, n) && seq_le(end, n));
        if retransmission {
            self.retransmissions += 1;
        }
        // SYNs carrying data (Fast Open) are not full-size segments in a black hole.
        let tracking = retransmission || self.unusual.as_ref().is_some_and(|u| u.stall.is_some());
        if tracking && !s.syn {
            self.track_stall(s, retransmission);
        }
        let oversize = limit.filter(|&limit| s.payload > limit);
        if let Some(limit) = oversize {
            let oversize = &mut self.unusual().oversize;
            oversize.count += 1;
            oversize.largest = oversize.largest.max(s.payload);
            oversize.pending_id = s.ip_id.map(|id| (id, s.payload.div_ceil(limit.max(1))));
        }
        if let Some(series) = self.series.as_deref_mut() {
            series.segment(s.t_ns, s.payload, retransmission, oversize.is_some());
        }
    }

    /// Follows full-size segments sent again and again (PMTUD black holes).
    fn track_stall(&mut self, s: &Segment, retransmission: bool) {
        let max_payload = self.max_payload;
        let unusual = self.unusual();
        if let Some(stall) = unusual.stall.as_mut() {
            if s.seq == stall.seq {
                if s.payload >= stall.payload {
                    stall.transmissions += 1;
                } else if stall.smaller_after.is_none() {
                    stall.smaller_after = Some(s.payload);
                }
                unusual.remember_worst();
                return;
            }
        }
        // A new candidate: only segments as large as the largest sent so far.
        if retransmission && s.payload + 64 >= max_payload {
            unusual.remember_worst();
            unusual.stall = Some(Stall {
                seq: s.seq,
                payload: s.payload,
                ip_len: s.ip_len,
                transmissions: 2,
                smaller_after: None,
                acked: false,
            });
        }
    }

    /// The peer acknowledged up to `ack`.
    pub(crate) fn on_peer_ack(&mut self, ack: u32) {
        let Some(unusual) = self.unusual.as_deref_mut() else {
            return;
        };
        if let Some(stall) = unusual.stall.as_mut() {
            if !stall.acked && seq_le(stall.seq.wrapping_add(1), ack) {
                stall.acked = true;
                unusual.remember_worst();
            }
        }
    }

    /// An ICMP too-big message for this endpoint's packet.
    pub(crate) fn on_too_big(&mut self, t_ns: u64, message: &icmp::ErrorMessage, size: u32) {
        if let Some(series) = self.series.as_deref_mut() {
            series.event(SeriesEvent::IcmpTooBig {
                t_ns,
                mtu: message.mtu.unwrap_or(0),
                size,
            });
        }
        let unusual = self.unusual();
        unusual.too_big_count += 1;
        unusual.after_too_big_max = None;
        if unusual.too_big.len() < 16 {
            unusual.too_big.push(TooBig {
                mtu: message.mtu.unwrap_or(0),
                size,
            });
        }
    }

    /// Records the first SYN (or SYN-ACK) it sent.
    pub(crate) fn on_syn(&mut self, syn: SynSeen) {
        if self.syn.is_none() {
            self.syn = Some(syn);
        }
    }

    /// TCP options on a non-SYN segment. Timestamps, MD5 and AO are negotiated for
    /// the whole connection, so the first few segments tell; later ones are not
    /// walked (this runs for every packet of a capture).
    pub(crate) fn on_options(&mut self, segment: &tcp::Packet<&[u8]>) {
        if self.options_checked >= OPTION_CHECKS {
            return;
        }
        self.options_checked += 1;
        for item in segment.options() {
            match item.option {
                TcpOption::Timestamps { .. } => self.ts_on_data = true,
                TcpOption::Md5(_) => self.md5_on_data = true,
                TcpOption::Ao { mac, .. } => {
                    let bytes =
                        mss_rules::options::ao_bytes(u8::try_from(mac.len()).unwrap_or(u8::MAX));
                    self.ao_on_data = Some(bytes);
                }
                _ => {}
            }
        }
    }

    /// The segment size a bulk sender was filling most recently, if the evidence is
    /// strong: a run of at least `BULK_EVIDENCE` segments without PSH of that exact
    /// size. That is its send MSS in force at the end, whatever the handshake said (a
    /// path MTU lowered by an ICMP message this capture did not see, a clamp on the
    /// other side of the capture point, MTU probing).
    pub(crate) fn bulk_segment(&self) -> Option<u32> {
        self.last_bulk
    }

    /// The stall worth reporting, if any.
    pub(crate) fn stall(&self) -> Option<Stall> {
        let unusual = self.unusual.as_deref()?;
        match (unusual.worst_stall, unusual.stall) {
            (Some(w), Some(c)) if c.transmissions >= w.transmissions => Some(c),
            (Some(w), _) => Some(w),
            (None, c) => c,
        }
    }

    /// Evidence of oversize segments (all zero when there were none).
    pub(crate) fn oversize(&self) -> Oversize {
        self.unusual
            .as_deref()
            .map(|u| u.oversize)
            .unwrap_or_default()
    }

    /// ICMP too-big messages for its packets (the first 16) and their count.
    pub(crate) fn too_big(&self) -> (&[TooBig], u32) {
        self.unusual
            .as_deref()
            .map_or((&[], 0), |u| (&u.too_big, u.too_big_count))
    }

    /// Largest packet it sent since the latest too-big message.
    pub(crate) fn after_too_big_max(&self) -> Option<u32> {
        self.unusual.as_deref().and_then(|u| u.after_too_big_max)
    }

    /// IP fragments of its segments.
    pub(crate) fn fragments(&self) -> u32 {
        self.unusual.as_deref().map_or(0, |u| u.fragments)
    }

    /// Counts IP fragments of its segments.
    pub(crate) fn on_fragments(&mut self, count: u16) {
        self.unusual().fragments += u32::from(count);
    }

    /// Its datagrams given up with fragments missing: how many, and the largest
    /// one's length as known.
    pub(crate) fn incomplete(&self) -> (u32, u32) {
        self.unusual
            .as_deref()
            .map_or((0, 0), |u| (u.incomplete, u.incomplete_len))
    }

    /// A datagram of its given up with fragments missing, whose first fragment was
    /// counted as the packet it is.
    pub(crate) fn on_incomplete(&mut self, train: crate::FragmentTrain) {
        let unusual = self.unusual();
        unusual.fragments += u32::from(train.fragments.saturating_sub(1));
        unusual.incomplete += 1;
        unusual.incomplete_len = unusual.incomplete_len.max(train.len);
    }
}

impl Unusual {
    fn remember_worst(&mut self) {
        if let Some(stall) = self.stall {
            if self
                .worst_stall
                .is_none_or(|w| stall.transmissions > w.transmissions)
            {
                self.worst_stall = Some(stall);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_comparisons_wrap() {
        assert!(seq_lt(1, 2));
        assert!(seq_lt(0xffff_fff0, 5));
        assert!(!seq_lt(5, 0xffff_fff0));
        assert!(seq_le(7, 7));
    }

    #[test]
    fn top_sizes_finds_the_mode() {
        let mut top = TopSizes::default();
        for _ in 0..100 {
            top.add(1448);
        }
        for size in 1..50 {
            top.add(size);
        }
        assert_eq!(top.mode_at_least(1000), Some(1448));
        assert_eq!(top.mode_at_least(2000), None);
    }
}

/// One end of a connection, in its flow key's order: `A` is the endpoint with the
/// lower (address, port). Which one is the client is found out later.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Side {
    A = 0,
    B = 1,
}

impl Side {
    /// The other end.
    #[inline]
    pub(crate) fn peer(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// One value per [`Side`], indexed by it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pair<T>([T; 2]);

impl<T> Pair<T> {
    /// Both values, `A`'s first.
    pub(crate) fn iter(&self) -> core::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T> core::ops::Index<Side> for Pair<T> {
    type Output = T;
    #[inline]
    fn index(&self, side: Side) -> &T {
        // In bounds by construction (0 or 1): compiled without a check or a branch.
        &self.0[side as usize]
    }
}

impl<T> core::ops::IndexMut<Side> for Pair<T> {
    #[inline]
    fn index_mut(&mut self, side: Side) -> &mut T {
        &mut self.0[side as usize]
    }
}
