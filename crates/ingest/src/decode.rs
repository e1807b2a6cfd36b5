//! An input's thread: records framed and decoded into batches of owned packets,
//! and back into the analyzer on the caller's thread.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::mpsc;

use mss_analyze::{Analyzer, FragmentTrain};
use mss_capture::{LinkType, Record, Warning};
use mss_wire::packet::{Fragment, IpPacket, Link, Transport, Tunnel, decode};
use mss_wire::reassembly::{Discarded, Incomplete, Push, Reassembled, Reassembler};
use mss_wire::{icmp, tcp};

use crate::Source;

/// Records decoded per batch, and batches in flight from a decoding thread.
const BATCH: usize = 512;
pub(crate) const BATCHES: usize = 8;

/// What one record turned out to be, owned (no borrow of the read buffer).
enum Found {
    Packet(Packet),
    NotIp,
    Unsupported(u16),
    Undecodable(usize, mss_wire::Error),
    /// An IP fragment, held until its datagram is complete.
    FragmentHeld,
    /// IP fragments dropped (overlapping, inconsistent, ...).
    FragmentsDiscarded(Discarded),
    /// A datagram given up with fragments missing (not a record of its own: it
    /// travels with the record at which it was given up).
    Incomplete(Box<(Option<Packet>, FragmentTrain)>),
}

/// An `IpPacket` without borrows, and compact: what it carries is told by
/// `Carried`, which points into the batch for the rest (a batch is written by one
/// thread and read by another, so its size counts).
struct Packet {
    /// Frames are at most 16 MiB (`mss_capture::MAX_RECORD_LEN`).
    offset: u32,
    tunnel: Option<Tunnel>,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_len: u32,
    header_len: u32,
    ident: u32,
    dont_fragment: bool,
    fragment: Option<Fragment>,
    fragments: u16,
    protocol: u8,
    truncated: bool,
    carried: Carried,
    /// The IP length it claimed, when that is more than the frame had on the wire
    /// (its `ip_len` is then what was there).
    claimed_len: Option<NonZeroU32>,
}

/// `Transport`, owned.
#[derive(Copy, Clone)]
enum Carried {
    /// TCP, its header at `start..end` in the batch's bytes.
    Tcp {
        start: u32,
        end: u32,
    },
    TcpTruncated,
    /// An ICMP error, at this index in the batch's messages.
    IcmpError(u32),
    LaterFragment,
    Other,
}

/// One record decoded.
pub(crate) struct Event {
    number: u64,
    pub(crate) timestamp_ns: u64,
    /// Which of its input's capture points (interfaces) it was captured at.
    pub(crate) interface: u16,
    found: Found,
}

/// An interface of an input: the pcapng interface, and the interface index a Linux
/// cooked v2 header (`tcpdump -i any`) carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct InterfaceKey {
    id: u32,
    ifindex: Option<u32>,
}

/// A capture point found in an input, by its order of appearance there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewInterface {
    pub(crate) index: u16,
    /// How it is named: the pcapng interface's name, or the interface index.
    pub(crate) label: Option<String>,
}

/// Interfaces beyond this many in one input share the last one's point.
const MAX_INTERFACES: usize = 256;

/// The interfaces of one input, in the order they appeared.
#[derive(Default)]
struct Interfaces {
    seen: Vec<InterfaceKey>,
    /// The latest record's: most records are on the same interface as the last.
    last: Option<(InterfaceKey, u16)>,
}

impl Interfaces {
    /// The record's interface index within the input, and whether it is new.
    #[inline]
    fn of(&mut self, record: &Record<'_>) -> (InterfaceKey, u16, bool) {
        let ifindex = (record.link_type.0 == SLL2)
            .then(|| record.data.get(4..8))
            .flatten()
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes);
        let key = InterfaceKey {
            id: record.interface,
            ifindex,
        };
        if let Some((last, index)) = self.last {
            if last == key {
                return (key, index, false);
            }
        }
        let (index, new) = match self.seen.iter().position(|k| *k == key) {
            Some(i) => (i, false),
            None if self.seen.len() < MAX_INTERFACES => {
                self.seen.push(key);
                (self.seen.len() - 1, true)
            }
            None => (MAX_INTERFACES - 1, false),
        };
        let index = u16::try_from(index).unwrap_or(u16::MAX);
        self.last = Some((key, index));
        (key, index, new)
    }
}

/// LINKTYPE_LINUX_SLL2: its header has the interface index at bytes 4..8.
const SLL2: u16 = 276;

/// Records decoded by an input's thread, in order.
pub(crate) struct Batch {
    pub(crate) events: Vec<Event>,
    /// The TCP headers of the batch's segments.
    bytes: Vec<u8>,
    /// Its ICMP error messages.
    icmp: Vec<icmp::ErrorMessage>,
    /// Bytes of the input read once the batch was full.
    pub(crate) offset: u64,
    /// The earliest and latest timestamp in it (they need not be in order).
    pub(crate) span: Option<(u64, u64)>,
    /// Interfaces that appeared first in it.
    pub(crate) interfaces: Vec<NewInterface>,
    /// What a live source said was settled when the batch went ([`Source::settled_ns`]).
    pub(crate) settled_ns: Option<u64>,
}

impl Batch {
    pub(crate) fn new() -> Batch {
        Batch {
            events: Vec::with_capacity(BATCH),
            bytes: Vec::with_capacity(BATCH * 64),
            icmp: Vec::new(),
            offset: 0,
            span: None,
            interfaces: Vec::new(),
            settled_ns: None,
        }
    }

    /// Empties it for reuse.
    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.bytes.clear();
        self.icmp.clear();
        self.span = None;
        self.interfaces.clear();
        self.settled_ns = None;
    }
}

/// What an input's thread reports once it has read its input.
pub(crate) struct End {
    pub(crate) packets: u64,
    pub(crate) link_types: BTreeSet<LinkType>,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) more_warnings: u64,
    pub(crate) error: Option<mss_capture::Error>,
}

pub(crate) enum Message {
    Batch(Batch),
    End(End),
}

/// An input's thread: frames and decodes every record, sending them in batches,
/// then the totals. Stops early if the analysis thread is gone. A `streaming`
/// source's batch also goes out whenever its next record has not arrived yet.
pub(crate) fn decode_all(
    mut reader: impl Source,
    streaming: bool,
    mut keep: Option<crate::Keep>,
    decoded: &mpsc::SyncSender<Message>,
    used: &mpsc::Receiver<Batch>,
) {
    let mut packets: u64 = 0;
    let mut link_types = BTreeSet::new();
    let mut last_link = None;
    let mut error = None;
    let mut batch = Batch::new();
    let mut interfaces = Interfaces::default();
    let mut fragments: Reassembler<Tag> = Reassembler::default();
    let mut last = 0;
    let mut heard: Option<u64> = None;
    loop {
        // A stream's batch goes as soon as nothing more is waiting; a live
        // source's silence goes too, as an empty batch saying how far it is
        // settled, so the merge of several need not wait for it.
        if streaming && !reader.ready() {
            let settled = reader.settled_ns();
            let news = settled.is_some() && settled != heard;
            if !batch.events.is_empty() || news {
                batch.settled_ns = settled;
                heard = settled;
                if !send(&mut batch, reader.offset(), decoded, used) {
                    return;
                }
            }
        }
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        if let Some(keep) = keep.as_mut() {
            if !keep(record.link_type.0, record.data, record.original_len) {
                continue;
            }
        }
        packets += 1;
        if last_link != Some(record.link_type) {
            last_link = Some(record.link_type);
            link_types.insert(record.link_type);
        }
        let (key, interface, new) = interfaces.of(&record);
        let ts = record.timestamp_ns;
        let number = record.number;
        let found = found(&record, interface, &mut fragments, &mut batch);
        if new {
            let label = match key.ifindex.and_then(|i| reader.ifindex_name(i)) {
                // A live `-i any` capture: the interface's own name.
                Some(name) => Some(name),
                None => interface_label(key, reader.interface_name(key.id)),
            };
            batch.interfaces.push(NewInterface {
                index: interface,
                label,
            });
        }
        batch.span = Some(batch.span.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
        batch.events.push(Event {
            number,
            timestamp_ns: ts,
            interface,
            found,
        });
        fragments.expire(ts);
        if fragments.has_given_up() {
            given_up(&mut fragments, ts, &mut batch);
        }
        last = ts;
        if batch.events.len() >= BATCH && !send(&mut batch, reader.offset(), decoded, used) {
            return;
        }
    }
    // Datagrams still waiting for fragments are given up at the end.
    fragments.finish();
    given_up(&mut fragments, last, &mut batch);
    batch.offset = reader.offset();
    if !batch.events.is_empty() && decoded.send(Message::Batch(batch)).is_err() {
        return;
    }
    let (warnings, more_warnings) = reader.warnings();
    let _ = decoded.send(Message::End(End {
        packets,
        link_types,
        warnings: warnings.to_vec(),
        more_warnings,
        error,
    }));
}

/// Hands the batch to the analysis (with the input's offset) and takes an empty
/// one; false when the analysis is gone.
fn send(
    batch: &mut Batch,
    offset: u64,
    decoded: &mpsc::SyncSender<Message>,
    used: &mpsc::Receiver<Batch>,
) -> bool {
    batch.offset = offset;
    let next = used.try_recv().unwrap_or_else(|_| Batch::new());
    decoded
        .send(Message::Batch(std::mem::replace(batch, next)))
        .is_ok()
}

/// What a record is: decoded, its fragments put together.
#[inline]
fn found(
    record: &Record<'_>,
    interface: u16,
    fragments: &mut Reassembler<Tag>,
    batch: &mut Batch,
) -> Found {
    let Some(link) = Link::from_link_type(record.link_type.0) else {
        return Found::Unsupported(record.link_type.0);
    };
    match decode(link, record.data) {
        Ok(Some(packet)) if needs_reassembly(&packet) => {
            let ip = record
                .data
                .get(packet.offset as usize..)
                .unwrap_or_default();
            let tag = (
                packet.tunnel,
                packet.offset as usize,
                interface,
                record.number,
            );
            pushed(fragments, record.timestamp_ns, ip, tag, &packet, batch)
        }
        Ok(Some(packet)) => {
            let wire_len = record.data.len().max(record.original_len as usize);
            owned(&packet, Some(wire_len), batch)
        }
        Ok(None) => Found::NotIp,
        Err((offset, error)) => Found::Undecodable(offset, error),
    }
}

/// What the reassembly keeps with a datagram: the tunnel its fragments were in,
/// their IP header's offset in the frame, their interface, and the packet number
/// of the first fragment that arrived.
type Tag = (Option<Tunnel>, usize, u16, u64);

/// Whether a packet is a fragment to put together first: an IPv6 atomic fragment
/// (RFC 6946) is a whole packet, and so is everything the decoder found unfragmented.
#[inline]
fn needs_reassembly(packet: &IpPacket<'_>) -> bool {
    packet.fragment.is_some_and(|f| f.more || f.offset != 0)
}

/// How an interface is named in reports: its pcapng name, the interface index of
/// a Linux cooked v2 header, or both ("any" says nothing, so it is left out).
fn interface_label(key: InterfaceKey, name: Option<String>) -> Option<String> {
    let name = name.filter(|n| n != "any");
    match (name, key.ifindex) {
        (Some(name), Some(ifindex)) => Some(format!("{name} ifindex {ifindex}")),
        (Some(name), None) => Some(name),
        (None, Some(ifindex)) => Some(format!("ifindex {ifindex}")),
        (None, None) if key.id > 0 => Some(format!("interface {}", key.id)),
        (None, None) => None,
    }
}

/// A fragment pushed to the reassembly: what it amounts to for now.
fn pushed(
    fragments: &mut Reassembler<Tag>,
    ts: u64,
    ip: &[u8],
    tag: Tag,
    packet: &IpPacket<'_>,
    batch: &mut Batch,
) -> Found {
    match fragments.push(ts, u32::from(tag.2), ip, tag) {
        Push::Whole => owned(packet, None, batch),
        Push::Held | Push::Duplicate => Found::FragmentHeld,
        Push::Discarded(discarded) => Found::FragmentsDiscarded(discarded),
        Push::Complete(whole) => reassembled(fragments, ts, &whole, batch),
    }
}

/// A datagram put together from fragments, decoded as the packet it is (tunnels
/// inside it followed). A fragment found inside (a fragmented packet carried in a
/// tunnel whose own packets were fragmented too) goes to the reassembly in turn.
fn reassembled(
    fragments: &mut Reassembler<Tag>,
    ts: u64,
    whole: &Reassembled<Tag>,
    batch: &mut Batch,
) -> Found {
    let (tunnel, offset, interface, number) = whole.tag;
    match decode(Link::Raw, &whole.packet) {
        Ok(Some(mut packet)) => {
            packet.fragments = whole.fragments;
            packet.tunnel = packet.tunnel.or(tunnel);
            if needs_reassembly(&packet) {
                let ip = whole
                    .packet
                    .get(packet.offset as usize..)
                    .unwrap_or_default();
                let tag = (packet.tunnel, offset, interface, number);
                return pushed(fragments, ts, ip, tag, &packet, batch);
            }
            packet.offset = packet
                .offset
                .saturating_add(u32::try_from(offset).unwrap_or(u32::MAX));
            owned(&packet, None, batch)
        }
        Ok(None) => Found::NotIp,
        Err((at, error)) => Found::Undecodable(offset + at, error),
    }
}

/// Datagrams given up since the last call, as events at this record (`ts`), which
/// carry the number and time of their first fragment.
fn given_up(fragments: &mut Reassembler<Tag>, ts: u64, batch: &mut Batch) {
    for incomplete in fragments.take_given_up() {
        let Incomplete {
            tag: (tunnel, _, interface, first_number),
            first,
            ..
        } = &incomplete;
        let first = first.as_deref().and_then(|ip| match decode(Link::Raw, ip) {
            Ok(Some(mut packet)) => {
                packet.tunnel = packet.tunnel.or(*tunnel);
                match owned(&packet, None, batch) {
                    Found::Packet(p) => Some(p),
                    _ => None,
                }
            }
            _ => None,
        });
        let train = FragmentTrain {
            fragments: incomplete.fragments,
            len: incomplete.len,
            first_ns: incomplete.first_ns,
        };
        batch.events.push(Event {
            number: *first_number,
            timestamp_ns: ts,
            interface: *interface,
            found: Found::Incomplete(Box::new((first, train))),
        });
    }
}

/// A decoded packet without borrows: a TCP header is copied to the batch's bytes
/// (the whole segment when the IP length does not bound it, as the analysis then
/// measures the payload captured), an ICMP message to its messages.
///
/// `wire_len`: the frame's length on the wire, when the packet is in it as captured:
/// an IP length beyond it is a lie (a malformed or fuzzed packet), replaced by what
/// the frame really holds, the claim kept in `claimed_len`.
fn owned(packet: &IpPacket<'_>, wire_len: Option<usize>, batch: &mut Batch) -> Found {
    let mut ip_len = packet.ip_len;
    let mut claimed_len = None;
    if let Some(wire_len) = wire_len {
        let there = wire_len.saturating_sub(packet.offset as usize);
        if ip_len != 0 && usize::try_from(ip_len).is_ok_and(|len| len > there) {
            claimed_len = NonZeroU32::new(ip_len);
            ip_len = u32::try_from(there).unwrap_or(u32::MAX);
        }
    }
    let carried = match packet.transport {
        Transport::Tcp(segment) => {
            let header_len = segment.header_len();
            let data = segment.into_inner();
            let keep = if packet.ip_len == 0 {
                data.len()
            } else {
                data.len().min(header_len)
            };
            let start = batch.bytes.len();
            batch.bytes.extend_from_slice(&data[..keep]);
            // A batch holds 512 headers (or segments of at most 16 MiB, when the
            // IP length does not bound them): far below 4 GiB.
            Carried::Tcp {
                start: u32::try_from(start).unwrap_or(u32::MAX),
                end: u32::try_from(batch.bytes.len()).unwrap_or(u32::MAX),
            }
        }
        Transport::TcpTruncated => Carried::TcpTruncated,
        Transport::IcmpError(message) => {
            batch.icmp.push(message);
            Carried::IcmpError(u32::try_from(batch.icmp.len() - 1).unwrap_or(u32::MAX))
        }
        Transport::LaterFragment => Carried::LaterFragment,
        Transport::Other => Carried::Other,
    };
    Found::Packet(Packet {
        offset: packet.offset,
        tunnel: packet.tunnel,
        src: packet.src,
        dst: packet.dst,
        ttl: packet.ttl,
        ip_len,
        header_len: packet.header_len,
        ident: packet.ident,
        dont_fragment: packet.dont_fragment,
        fragment: packet.fragment,
        fragments: packet.fragments,
        protocol: packet.protocol,
        truncated: packet.truncated && claimed_len.is_none(),
        carried,
        claimed_len,
    })
}

/// Hands one decoded record to the analyzer, captured at `point`, at time `ts` (its
/// own, or corrected for its capture's clock).
#[inline]
pub(crate) fn feed(analyzer: &mut Analyzer, point: usize, ts: u64, event: &Event, batch: &Batch) {
    match &event.found {
        Found::Packet(p) => {
            let packet = borrowed(p, batch);
            if let Some(claimed) = p.claimed_len {
                analyzer.on_length_beyond_frame(
                    point,
                    event.number,
                    packet.offset as usize,
                    claimed.get(),
                    p.ip_len,
                );
            }
            analyzer.on_packet(point, event.number, ts, &packet);
        }
        Found::NotIp => analyzer.on_not_ip(),
        Found::Unsupported(link_type) => analyzer.on_unsupported_link(*link_type),
        Found::Undecodable(offset, error) => {
            analyzer.on_undecodable(point, event.number, *offset, error);
        }
        Found::FragmentHeld => analyzer.on_fragment_held(),
        Found::FragmentsDiscarded(discarded) => {
            analyzer.on_fragments_discarded(discarded.reason.name(), discarded.fragments);
        }
        Found::Incomplete(incomplete) => {
            let (first, train) = &**incomplete;
            let first = first.as_ref().map(|p| borrowed(p, batch));
            analyzer.on_incomplete_datagram(
                point,
                event.number,
                train.first_ns,
                first.as_ref(),
                *train,
            );
        }
    }
}

/// The packet again, borrowing its TCP header from the batch.
fn borrowed<'a>(p: &Packet, batch: &'a Batch) -> IpPacket<'a> {
    let transport = match p.carried {
        Carried::Tcp { start, end } => Transport::Tcp(tcp::Packet::new_unchecked(
            batch
                .bytes
                .get(start as usize..end as usize)
                .unwrap_or_default(),
        )),
        Carried::TcpTruncated => Transport::TcpTruncated,
        Carried::IcmpError(i) => match batch.icmp.get(i as usize) {
            Some(message) => Transport::IcmpError(*message),
            None => Transport::Other,
        },
        Carried::LaterFragment => Transport::LaterFragment,
        Carried::Other => Transport::Other,
    };
    IpPacket {
        offset: p.offset,
        tunnel: p.tunnel,
        src: p.src,
        dst: p.dst,
        ttl: p.ttl,
        ip_len: p.ip_len,
        header_len: p.header_len,
        ident: p.ident,
        dont_fragment: p.dont_fragment,
        fragment: p.fragment,
        fragments: p.fragments,
        protocol: p.protocol,
        truncated: p.truncated,
        transport,
    }
}
