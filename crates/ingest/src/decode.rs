//! An input's thread: records framed and decoded into batches of owned packets,
//! and back into the analyzer on the caller's thread.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::mpsc;

use mss_analyze::Analyzer;
use mss_capture::{LinkType, Warning};
use mss_wire::packet::{Fragment, IpPacket, Link, Transport, Tunnel, decode};
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
}

/// An `IpPacket` without borrows, and compact: what it carries is told by
/// `Carried`, which points into the batch for the rest (a batch is written by one
/// thread and read by another, so its size counts).
struct Packet {
    offset: usize,
    tunnel: Option<Tunnel>,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_len: u32,
    header_len: u32,
    ident: u32,
    dont_fragment: bool,
    fragment: Option<Fragment>,
    protocol: u8,
    truncated: bool,
    carried: Carried,
}

/// `Transport`, owned.
#[derive(Copy, Clone)]
enum Carried {
    /// TCP, its header at `start..end` in the batch's bytes.
    Tcp {
        start: usize,
        end: usize,
    },
    TcpTruncated,
    /// An ICMP error, at this index in the batch's messages.
    IcmpError(usize),
    LaterFragment,
    Other,
}

/// One record decoded.
pub(crate) struct Event {
    number: u64,
    pub(crate) timestamp_ns: u64,
    found: Found,
}

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
}

impl Batch {
    pub(crate) fn new() -> Batch {
        Batch {
            events: Vec::with_capacity(BATCH),
            bytes: Vec::with_capacity(BATCH * 64),
            icmp: Vec::new(),
            offset: 0,
            span: None,
        }
    }

    /// Empties it for reuse.
    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.bytes.clear();
        self.icmp.clear();
        self.span = None;
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
/// then the totals. Stops early if the analysis thread is gone.
pub(crate) fn decode_all(
    mut reader: impl Source,
    decoded: &mpsc::SyncSender<Message>,
    used: &mpsc::Receiver<Batch>,
) {
    let mut packets: u64 = 0;
    let mut link_types = BTreeSet::new();
    let mut last_link = None;
    let mut error = None;
    let mut batch = Batch::new();
    loop {
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        packets += 1;
        if last_link != Some(record.link_type) {
            last_link = Some(record.link_type);
            link_types.insert(record.link_type);
        }
        let found = match Link::from_link_type(record.link_type.0) {
            None => Found::Unsupported(record.link_type.0),
            Some(link) => match decode(link, record.data) {
                Ok(Some(packet)) => owned(&packet, &mut batch),
                Ok(None) => Found::NotIp,
                Err((offset, error)) => Found::Undecodable(offset, error),
            },
        };
        let ts = record.timestamp_ns;
        batch.span = Some(batch.span.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
        batch.events.push(Event {
            number: record.number,
            timestamp_ns: ts,
            found,
        });
        if batch.events.len() == BATCH {
            batch.offset = reader.offset();
            let next = used.try_recv().unwrap_or_else(|_| Batch::new());
            if decoded
                .send(Message::Batch(std::mem::replace(&mut batch, next)))
                .is_err()
            {
                return;
            }
        }
    }
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

/// A decoded packet without borrows: a TCP header is copied to the batch's bytes
/// (the whole segment when the IP length does not bound it, as the analysis then
/// measures the payload captured), an ICMP message to its messages.
fn owned(packet: &IpPacket<'_>, batch: &mut Batch) -> Found {
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
            Carried::Tcp {
                start,
                end: batch.bytes.len(),
            }
        }
        Transport::TcpTruncated => Carried::TcpTruncated,
        Transport::IcmpError(message) => {
            batch.icmp.push(message);
            Carried::IcmpError(batch.icmp.len() - 1)
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
        ip_len: packet.ip_len,
        header_len: packet.header_len,
        ident: packet.ident,
        dont_fragment: packet.dont_fragment,
        fragment: packet.fragment,
        protocol: packet.protocol,
        truncated: packet.truncated,
        carried,
    })
}

/// Hands one decoded record to the analyzer, at time `ts` (its own, or corrected
/// for its capture's clock).
#[inline]
pub(crate) fn feed(analyzer: &mut Analyzer, point: usize, ts: u64, event: &Event, batch: &Batch) {
    match &event.found {
        Found::Packet(p) => {
            let transport = match p.carried {
                Carried::Tcp { start, end } => {
                    Transport::Tcp(tcp::Packet::new_unchecked(&batch.bytes[start..end]))
                }
                Carried::TcpTruncated => Transport::TcpTruncated,
                Carried::IcmpError(i) => match batch.icmp.get(i) {
                    Some(message) => Transport::IcmpError(*message),
                    None => Transport::Other,
                },
                Carried::LaterFragment => Transport::LaterFragment,
                Carried::Other => Transport::Other,
            };
            let packet = IpPacket {
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
                protocol: p.protocol,
                truncated: p.truncated,
                transport,
            };
            analyzer.on_packet(point, event.number, ts, &packet);
        }
        Found::NotIp => analyzer.on_not_ip(),
        Found::Unsupported(link_type) => analyzer.on_unsupported_link(*link_type),
        Found::Undecodable(offset, error) => {
            analyzer.on_undecodable(point, event.number, *offset, error);
        }
    }
}
