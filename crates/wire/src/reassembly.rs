//! IP fragment reassembly (RFC 791 section 3.2, RFC 8200 section 4.5) as Linux does
//! it, for captured packets: `net/ipv4/ip_fragment.c`, `net/ipv6/reassembly.c` and
//! `net/ipv4/inet_fragment.c` (`inet_frag_queue_insert`).
//!
//! - A datagram is keyed by source, destination and identification (and protocol,
//!   for IPv4), within a caller's context (a capture point: the same fragment
//!   seen on two interfaces is two datagrams).
//! - Overlapping fragments discard the whole datagram (RFC 5722 for IPv6; Linux
//!   does the same for IPv4 since 4.19, CVE-2018-5391); an exact duplicate, one that
//!   lies within what is already there, is dropped alone.
//! - A last fragment that disagrees with what is known of the end, data beyond a
//!   known end, an empty fragment, and a datagram over 65535 bytes discard it too
//!   (`ip_frag_queue`, `ip_frag_reasm`); an IPv6 fragment that is not the last and
//!   not a multiple of 8 bytes long is dropped alone (`ip6_frag_queue`), an IPv4 one
//!   trimmed to a multiple of 8.
//! - An IPv6 atomic fragment (offset 0, no more fragments) is a whole packet (RFC
//!   6946), as is anything that is not a fragment.
//! - A datagram not complete within the timeout of its first fragment's arrival
//!   (`ipfrag_time`, 30 s; `ip6frag_time`, 60 s) is given up, reported as
//!   [`Incomplete`]. Memory is bounded like `ipfrag_high_thresh` (4 MiB): beyond it
//!   the oldest datagrams are given up (the kernel refuses new fragments instead; for
//!   a capture, the newest traffic is the one still worth reading).
//!
//! Time is the packets' own (capture time): nothing here reads a clock. A capture cut
//! by its snaplen still reassembles: the datagram's length comes from the IP
//! lengths, and its bytes are those captured, up to the first one that is not.

use std::collections::HashMap;

use core::net::IpAddr;

use crate::{byte, ipv4, ipv6, set_byte, slice};

/// `ipfrag_time`: how long Linux waits for an IPv4 datagram's fragments.
pub const IPV4_TIMEOUT_NS: u64 = 30 * 1_000_000_000;
/// `ip6frag_time` (`IPV6_FRAG_TIMEOUT`): the same for IPv6.
pub const IPV6_TIMEOUT_NS: u64 = 60 * 1_000_000_000;
/// `ipfrag_high_thresh`'s default: bytes held for datagrams not yet complete.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// What a held fragment costs besides its bytes (its record and bookkeeping).
const PIECE_COST: usize = 64;
/// The largest datagram: IPv4 total length, IPv6 payload length (without jumbograms).
const MAX_DATAGRAM: u32 = 65535;

/// How long to wait and how much to hold.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wait for an IPv4 datagram's fragments this long after its first arrives.
    pub timeout_v4_ns: u64,
    /// The same for IPv6.
    pub timeout_v6_ns: u64,
    /// Bytes held at most.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_v4_ns: IPV4_TIMEOUT_NS,
            timeout_v6_ns: IPV6_TIMEOUT_NS,
            max_bytes: MAX_BYTES,
        }
    }
}

/// What became of a packet given to [`Reassembler::push`].
#[derive(Debug, PartialEq, Eq)]
pub enum Push<T> {
    /// Not a fragment (or an IPv6 atomic fragment): a whole packet as it is.
    Whole,
    /// A fragment, held until its datagram is complete.
    Held,
    /// A fragment whose bytes are already held: dropped.
    Duplicate,
    /// The fragment completed its datagram.
    Complete(Reassembled<T>),
    /// The fragment was dropped, and with it the fragments of its datagram held
    /// so far when [`Discarded::fragments`] is more than 1.
    Discarded(Discarded),
}

/// A datagram put together.
#[derive(Debug, PartialEq, Eq)]
pub struct Reassembled<T> {
    /// The caller's tag, as given with its first fragment pushed.
    pub tag: T,
    /// The IP packet: the first fragment's header with the lengths of the whole and
    /// without fragmentation (IPv4: MF and offset cleared, checksum recomputed;
    /// IPv6: the Fragment header taken out), then the data, as far as it was captured.
    pub packet: Vec<u8>,
    /// Fragments it was made of.
    pub fragments: u16,
    /// When its first fragment arrived.
    pub first_ns: u64,
}

/// Why fragments were dropped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DiscardReason {
    /// Overlapping another fragment's data (RFC 5722).
    Overlap,
    /// A last fragment with a different end, or data past the known end.
    BadEnd,
    /// A fragment with no data.
    Empty,
    /// Reassembled, it would exceed 65535 bytes.
    Oversized,
    /// An IPv6 fragment, not the last, whose length is not a multiple of 8.
    Unaligned,
}

impl DiscardReason {
    /// A short name for counters and messages.
    pub fn name(self) -> &'static str {
        match self {
            DiscardReason::Overlap => "overlap",
            DiscardReason::BadEnd => "bad_end",
            DiscardReason::Empty => "empty",
            DiscardReason::Oversized => "oversized",
            DiscardReason::Unaligned => "unaligned",
        }
    }
}

/// Fragments dropped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Discarded {
    /// Why.
    pub reason: DiscardReason,
    /// How many, this one included.
    pub fragments: u16,
}

/// Why a datagram was given up before it was complete.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GaveUp {
    /// Its time ran out.
    Timeout,
    /// Memory ran short and it was the oldest.
    Evicted,
    /// The input ended.
    EndOfInput,
}

/// A datagram given up with fragments missing.
#[derive(Debug, PartialEq, Eq)]
pub struct Incomplete<T> {
    /// The caller's tag of its first fragment pushed.
    pub tag: T,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Fragments that arrived.
    pub fragments: u16,
    /// Data bytes they carry.
    pub bytes: u32,
    /// The datagram's data length, if its last fragment arrived; else the end of the
    /// data known so far.
    pub len: u32,
    /// Whether the last fragment arrived (`len` is then the whole).
    pub last_seen: bool,
    /// The first fragment as an IP packet (header and captured data, lengths as it
    /// was sent), if it arrived: where the transport header is.
    pub first: Option<Vec<u8>>,
    /// When its first fragment arrived.
    pub first_ns: u64,
    /// Why it was given up.
    pub reason: GaveUp,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    context: u32,
    src: IpAddr,
    dst: IpAddr,
    ident: u32,
    /// IPv4's protocol (part of its key, RFC 791); 0 for IPv6.
    protocol: u8,
}

/// One fragment's data.
#[derive(Debug)]
struct Piece {
    offset: u32,
    end: u32,
    /// The bytes captured: `end - offset` of them, or fewer when the capture cut it.
    data: Vec<u8>,
}

/// The first fragment's unfragmentable part.
#[derive(Debug)]
struct First {
    /// IPv4 header with options; IPv6 header and extension headers before the
    /// Fragment header.
    header: Vec<u8>,
    /// The first fragment as captured (for [`Incomplete::first`]).
    packet: Vec<u8>,
    /// IPv6: where the byte that names the Fragment header is, and what follows it.
    named: Option<(usize, u8)>,
}

/// A datagram being put together.
#[derive(Debug)]
struct Train<T> {
    tag: T,
    first_ns: u64,
    deadline: u64,
    first: Option<First>,
    /// Sorted by offset, never overlapping.
    pieces: Vec<Piece>,
    /// The data's end as known: the last fragment's end once it arrived.
    len: u32,
    last_in: bool,
    /// Data bytes held (by the IP lengths).
    meat: u32,
    fragments: u16,
    held: usize,
}

/// What a fragment says about itself.
struct Parsed<'a> {
    key: Key,
    v6: bool,
    offset: u32,
    end: u32,
    more: bool,
    data: &'a [u8],
    /// For the first fragment: the unfragmentable part's length, and for IPv6 the
    /// byte naming the Fragment header and the protocol after it.
    header_len: usize,
    named: Option<(usize, u8)>,
}

/// Reassembles the fragments of any number of datagrams; `T` is a caller's tag kept
/// with each datagram (where its fragments were found, say).
#[derive(Debug)]
pub struct Reassembler<T> {
    limits: Limits,
    trains: HashMap<Key, Train<T>>,
    held: usize,
    /// The earliest deadline of a datagram held (`u64::MAX` when none is).
    next_deadline: u64,
    given_up: Vec<Incomplete<T>>,
}

impl<T: Copy> Default for Reassembler<T> {
    fn default() -> Self {
        Reassembler::new(Limits::default())
    }
}

impl<T: Copy> Reassembler<T> {
    /// A reassembler holding nothing.
    pub fn new(limits: Limits) -> Reassembler<T> {
        Reassembler {
            limits,
            trains: HashMap::new(),
            held: 0,
            next_deadline: u64::MAX,
            given_up: Vec::new(),
        }
    }

    /// Datagrams held now.
    pub fn len(&self) -> usize {
        self.trains.len()
    }

    /// Whether no datagram is held.
    pub fn is_empty(&self) -> bool {
        self.trains.is_empty()
    }

    /// Bytes held now.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// An IP packet (from its IP header, as captured) that arrived at `now_ns`, in
    /// `context`: a fragment is held until its datagram is complete.
    pub fn push(&mut self, now_ns: u64, context: u32, ip: &[u8], tag: T) -> Push<T> {
        let Some(fragment) = parse(context, ip) else {
            return Push::Whole;
        };
        let fragment = match fragment {
            Ok(fragment) => fragment,
            Err(reason) => {
                return Push::Discarded(Discarded {
                    reason,
                    fragments: 1,
                });
            }
        };
        self.expire(now_ns);
        let cost = fragment.data.len() + PIECE_COST + ip.len().min(fragment.header_len);
        self.make_room(cost);
        let timeout = if fragment.v6 {
            self.limits.timeout_v6_ns
        } else {
            self.limits.timeout_v4_ns
        };
        let train = self.trains.entry(fragment.key).or_insert_with(|| Train {
            tag,
            first_ns: now_ns,
            deadline: now_ns.saturating_add(timeout),
            first: None,
            pieces: Vec::new(),
            len: 0,
            last_in: false,
            meat: 0,
            fragments: 0,
            held: 0,
        });
        self.next_deadline = self.next_deadline.min(train.deadline);
        let outcome = train.insert(&fragment, ip);
        let (before, after) = (train.held, train.held + cost);
        match outcome {
            Insert::Held => {
                train.held = after;
                self.held += after - before;
                if train.is_complete() {
                    let train = self.remove(fragment.key);
                    return match train.reassemble() {
                        Ok(packet) => Push::Complete(Reassembled {
                            tag: train.tag,
                            packet,
                            fragments: train.fragments,
                            first_ns: train.first_ns,
                        }),
                        Err(reason) => Push::Discarded(Discarded {
                            reason,
                            fragments: train.fragments,
                        }),
                    };
                }
                Push::Held
            }
            Insert::Duplicate => Push::Duplicate,
            Insert::Discard(reason) => {
                let train = self.remove(fragment.key);
                Push::Discarded(Discarded {
                    reason,
                    fragments: train.fragments.saturating_add(1),
                })
            }
        }
    }

    /// Gives up the datagrams whose time ran out by `now_ns`; take them with
    /// [`Reassembler::take_given_up`]. Costs one compare while none is due.
    #[inline]
    pub fn expire(&mut self, now_ns: u64) {
        if now_ns >= self.next_deadline {
            self.expire_due(now_ns);
        }
    }

    #[cold]
    fn expire_due(&mut self, now_ns: u64) {
        let mut due: Vec<(u64, Key)> = self
            .trains
            .iter()
            .filter(|(_, t)| t.deadline <= now_ns)
            .map(|(k, t)| (t.first_ns, *k))
            .collect();
        due.sort_unstable_by_key(|&(first, _)| first);
        for (_, key) in due {
            self.give_up(key, GaveUp::Timeout);
        }
    }

    /// Gives up every datagram still held (the input ended).
    pub fn finish(&mut self) {
        let mut rest: Vec<(u64, Key)> = self.trains.iter().map(|(k, t)| (t.first_ns, *k)).collect();
        rest.sort_unstable_by_key(|&(first, _)| first);
        for (_, key) in rest {
            self.give_up(key, GaveUp::EndOfInput);
        }
    }

    /// The datagrams given up since the last call, oldest first.
    pub fn take_given_up(&mut self) -> Vec<Incomplete<T>> {
        std::mem::take(&mut self.given_up)
    }

    /// Whether datagrams were given up and not yet taken.
    pub fn has_given_up(&self) -> bool {
        !self.given_up.is_empty()
    }

    /// Gives up the oldest datagrams until `cost` more bytes fit.
    fn make_room(&mut self, cost: usize) {
        while self.held + cost > self.limits.max_bytes && !self.trains.is_empty() {
            let oldest = self
                .trains
                .iter()
                .min_by_key(|(_, t)| t.first_ns)
                .map(|(k, _)| *k);
            match oldest {
                Some(key) => self.give_up(key, GaveUp::Evicted),
                None => break,
            }
        }
    }

    fn give_up(&mut self, key: Key, reason: GaveUp) {
        let train = self.remove(key);
        let first = train.first.map(|f| f.packet);
        self.given_up.push(Incomplete {
            tag: train.tag,
            src: key.src,
            dst: key.dst,
            fragments: train.fragments,
            bytes: train.meat,
            len: train.len,
            last_seen: train.last_in,
            first,
            first_ns: train.first_ns,
            reason,
        });
    }

    /// Takes a datagram out, keeping the byte count and the next deadline right.
    fn remove(&mut self, key: Key) -> Train<T> {
        let train = self
            .trains
            .remove(&key)
            .unwrap_or_else(|| unreachable!("a datagram removed is one held"));
        self.held -= train.held;
        if train.deadline <= self.next_deadline {
            self.next_deadline = self
                .trains
                .values()
                .map(|t| t.deadline)
                .min()
                .unwrap_or(u64::MAX);
        }
        train
    }
}

enum Insert {
    Held,
    Duplicate,
    Discard(DiscardReason),
}

impl<T> Train<T> {
    /// `ip_frag_queue` / `ip6_frag_queue` and `inet_frag_queue_insert`.
    fn insert(&mut self, f: &Parsed<'_>, ip: &[u8]) -> Insert {
        if f.more {
            if f.end > self.len {
                // Data past the last fragment's end: corrupt.
                if self.last_in {
                    return Insert::Discard(DiscardReason::BadEnd);
                }
                self.len = f.end;
            }
        } else {
            if f.end < self.len || (self.last_in && f.end != self.len) {
                return Insert::Discard(DiscardReason::BadEnd);
            }
            self.last_in = true;
            self.len = f.end;
        }
        if f.end == f.offset {
            return Insert::Discard(DiscardReason::Empty);
        }
        let at = self.pieces.partition_point(|p| p.offset < f.offset);
        let overlaps = |p: &Piece| p.offset < f.end && f.offset < p.end;
        let before = at.checked_sub(1).and_then(|i| self.pieces.get(i));
        if before.is_some_and(overlaps) || self.pieces.get(at).is_some_and(overlaps) {
            return if self.within_run(f.offset, f.end) {
                Insert::Duplicate
            } else {
                Insert::Discard(DiscardReason::Overlap)
            };
        }
        let data_len = usize::try_from(f.end - f.offset).unwrap_or(usize::MAX);
        self.pieces.insert(
            at,
            Piece {
                offset: f.offset,
                end: f.end,
                data: f.data.get(..data_len).unwrap_or(f.data).to_vec(),
            },
        );
        self.meat += f.end - f.offset;
        self.fragments = self.fragments.saturating_add(1);
        if f.offset == 0 {
            self.first = Some(First {
                header: slice(ip, 0..f.header_len).to_vec(),
                packet: ip.to_vec(),
                named: f.named,
            });
        }
        Insert::Held
    }

    /// Whether `offset..end` lies within data already held without a gap (a
    /// duplicate, not an overlap).
    fn within_run(&self, offset: u32, end: u32) -> bool {
        let mut run: Option<(u32, u32)> = None;
        for p in &self.pieces {
            run = match run {
                Some((start, run_end)) if run_end == p.offset => Some((start, p.end)),
                _ => Some((p.offset, p.end)),
            };
            if let Some((start, run_end)) = run {
                if start <= offset && end <= run_end {
                    return true;
                }
            }
        }
        false
    }

    fn is_complete(&self) -> bool {
        self.last_in && self.first.is_some() && self.meat == self.len
    }

    /// The datagram: the first fragment's header, lengths set for the whole, then
    /// the data as far as it was captured.
    fn reassemble(&self) -> Result<Vec<u8>, DiscardReason> {
        let first = self
            .first
            .as_ref()
            .unwrap_or_else(|| unreachable!("complete datagrams have a first fragment"));
        let header_len = u32::try_from(first.header.len()).unwrap_or(u32::MAX);
        let mut packet = Vec::with_capacity(
            first.header.len() + self.pieces.iter().map(|p| p.data.len()).sum::<usize>(),
        );
        packet.extend_from_slice(&first.header);
        for piece in &self.pieces {
            packet.extend_from_slice(&piece.data);
            if piece.data.len() < usize::try_from(piece.end - piece.offset).unwrap_or(usize::MAX) {
                // Cut by the capture: what follows would be misplaced.
                break;
            }
        }
        match first.named {
            None => {
                let total = header_len + self.len;
                let total = u16::try_from(total)
                    .ok()
                    .filter(|&t| u32::from(t) <= MAX_DATAGRAM)
                    .ok_or(DiscardReason::Oversized)?;
                let mut ip = ipv4::Packet::new_unchecked(&mut packet[..]);
                ip.set_total_len(total);
                ip.set_whole();
                ip.fill_checksum();
            }
            Some((named_at, next)) => {
                let payload = (header_len - 40) + self.len;
                let payload = u16::try_from(payload).map_err(|_| DiscardReason::Oversized)?;
                let mut ip = ipv6::Packet::new_unchecked(&mut packet[..]);
                ip.set_payload_len(payload);
                set_byte(&mut packet, named_at, next);
            }
        }
        Ok(packet)
    }
}

/// A packet's fragment facts, `None` if it is not a fragment, `Err` for one that
/// is dropped on its own.
fn parse(context: u32, ip: &[u8]) -> Option<Result<Parsed<'_>, DiscardReason>> {
    match ip.first().map(|b| b >> 4) {
        Some(4) => parse_v4(context, ip),
        Some(6) => parse_v6(context, ip),
        _ => None,
    }
}

fn parse_v4(context: u32, ip: &[u8]) -> Option<Result<Parsed<'_>, DiscardReason>> {
    let packet = ipv4::Packet::new_checked(ip).ok()?;
    if !packet.is_fragment() || packet.total_len() == 0 {
        return None;
    }
    let header_len = packet.header_len();
    let offset = u32::from(packet.frag_offset());
    let mut end = offset + u32::try_from(packet.payload_len()).unwrap_or(u32::MAX);
    let more = packet.more_frags();
    if more {
        // Not the last: whole 8-byte units only (ip_frag_queue trims the rest).
        end &= !7;
    }
    if end + u32::try_from(header_len).unwrap_or(60) > MAX_DATAGRAM {
        return Some(Err(DiscardReason::Oversized));
    }
    Some(Ok(Parsed {
        key: Key {
            context,
            src: IpAddr::V4(packet.src_addr()),
            dst: IpAddr::V4(packet.dst_addr()),
            ident: u32::from(packet.ident()),
            protocol: packet.protocol(),
        },
        v6: false,
        offset,
        end: end.max(offset),
        more,
        data: slice(
            ip,
            header_len..ip.len().min(usize::from(packet.total_len())),
        ),
        header_len,
        named: None,
    }))
}

fn parse_v6(context: u32, ip: &[u8]) -> Option<Result<Parsed<'_>, DiscardReason>> {
    let packet = ipv6::Packet::new_checked(ip).ok()?;
    let chain = packet.extensions();
    let fragment = chain.fragment?;
    if fragment.offset == 0 && !fragment.more {
        // An atomic fragment: a whole packet (RFC 6946).
        return None;
    }
    let declared = usize::from(packet.payload_len());
    let data_at = fragment.header_at + 8;
    if declared == 0 || declared < data_at {
        return None;
    }
    let offset = u32::from(fragment.offset);
    let end = offset + u32::try_from(declared - data_at).unwrap_or(u32::MAX);
    if fragment.more && end & 7 != 0 {
        return Some(Err(DiscardReason::Unaligned));
    }
    if end > MAX_DATAGRAM {
        return Some(Err(DiscardReason::Oversized));
    }
    let next = byte(ip, ipv6::HEADER_LEN + fragment.header_at);
    let data_end = ip.len().min(ipv6::HEADER_LEN + declared);
    Some(Ok(Parsed {
        key: Key {
            context,
            src: IpAddr::V6(packet.src_addr()),
            dst: IpAddr::V6(packet.dst_addr()),
            ident: fragment.ident,
            protocol: 0,
        },
        v6: true,
        offset,
        end,
        more: fragment.more,
        data: slice(ip, ipv6::HEADER_LEN + data_at..data_end),
        header_len: ipv6::HEADER_LEN + fragment.header_at,
        named: Some((fragment.named_at, next)),
    }))
}

#[cfg(test)]
// Test packets are built with small lengths and offsets: the casts cannot truncate.
#[allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
mod tests;
