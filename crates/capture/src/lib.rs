//! Streaming reader for pcap and pcapng captures.
//!
//! One pass, one buffer: [`Reader::next_record`] hands out each packet as a slice
//! borrowed from a read buffer (4 MiB, grown only for a larger record), so memory
//! does not depend on the capture's length and stdin works as well as a file.
//!
//! Supported: pcap in both byte orders with microsecond and nanosecond timestamps
//! (and the "modified" pcap with 24-byte record headers); pcapng with any number of
//! sections (each with its own byte order) and interfaces (each with its own link
//! type, snaplen and timestamp resolution and offset), with enhanced, simple and
//! obsolete packet blocks; every other block is skipped by its length.
//!
//! Errors carry the byte offset where they happened and the number of the packet
//! being read. A record cut off by the end of the input is
//! [`ErrorKind::TruncatedRecord`]: the records before it are good, so callers report
//! the results so far with a warning. A length field that cannot be right (larger
//! than [`MAX_RECORD_LEN`]) is an error, never an allocation of that size. No
//! input panics: every index is checked (`clippy::indexing_slicing` is denied).
//!
//! Written by hand rather than with `pcap-parser`: it needs exact offsets for every
//! error, per-interface timestamp handling in a streaming reader, and a plain
//! `read()` framer measured faster (13.7 GB/s against 11.3 GB/s on this machine); the
//! tests compare it with `pcap-parser` and with tshark.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::indexing_slicing)]

mod pcap;
mod pcapng;
mod rewrite;
mod source;

use core::fmt;
use std::io::{self, Read};

pub use rewrite::{Rewriter, Spot};
use source::Source;

/// The largest record (pcap packet or pcapng block) accepted: 16 MiB, as Wireshark's
/// pcapng reader. Anything larger is a corrupt length field.
pub const MAX_RECORD_LEN: u64 = 16 << 20;

/// How many warnings are kept; more are only counted.
const MAX_WARNINGS: usize = 100;

/// A link-layer header type (tcpdump.org "LINKTYPE_" values).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    /// A short name for messages, from the wire crate's table of the link types
    /// mss decodes (`mss_wire::packet::LINK_TYPES`); others by number.
    pub fn name(self) -> String {
        match mss_wire::packet::link_type_name(self.0) {
            Some(name) => name.to_string(),
            None => match OTHER_LINK_TYPES.iter().find(|(n, _)| *n == self.0) {
                Some((_, name)) => format!("link type {} ({name})", self.0),
                None => format!("link type {}", self.0),
            },
        }
    }

    /// Whether mss decodes it.
    pub fn is_decoded(self) -> bool {
        mss_wire::packet::link_type_name(self.0).is_some()
    }
}

/// Names of link types mss does not decode, for messages (tcpdump.org's LINKTYPE_
/// list): a user is told what the capture is, not only its number.
const OTHER_LINK_TYPES: &[(u16, &str)] = &[
    (3, "AX.25"),
    (6, "Token Ring"),
    (7, "ARCNET"),
    (8, "SLIP"),
    (10, "FDDI"),
    (11, "ATM RFC 1483"),
    (51, "PPPoE"),
    (100, "ATM RFC 1483"),
    (105, "IEEE 802.11"),
    (107, "Frame Relay"),
    (119, "802.11 with Prism header"),
    (122, "IP over Fibre Channel"),
    (127, "IEEE 802.11 with radiotap"),
    (138, "IP over IEEE 1394"),
    (139, "MTP2 with pseudo-header"),
    (140, "MTP2"),
    (141, "MTP3"),
    (142, "SCCP"),
    (143, "DOCSIS"),
    (144, "Linux IrDA"),
    (147, "USER0"),
    (148, "USER1"),
    (149, "USER2"),
    (150, "USER3"),
    (163, "802.11 with AVS header"),
    (165, "BACnet MS/TP"),
    (166, "PPP with pppd direction"),
    (169, "GPRS LLC"),
    (177, "Linux LAPD"),
    (187, "Bluetooth HCI H4"),
    (189, "Linux USB"),
    (192, "PPI"),
    (195, "IEEE 802.15.4"),
    (197, "Endace ERF"),
    (201, "Bluetooth HCI H4 with pseudo-header"),
    (204, "PPP with direction"),
    (215, "IEEE 802.15.4 without FCS"),
    (220, "Linux USB (memory-mapped)"),
    (227, "SocketCAN"),
    (231, "D-Bus"),
    (239, "NFLOG"),
    (240, "netANALYZER"),
    (249, "USBPcap"),
    (251, "Bluetooth LE link layer"),
    (253, "Linux netlink"),
    (254, "Bluetooth Linux monitor"),
    (256, "Bluetooth BR/EDR baseband"),
    (264, "Apple PKTAP"),
    (265, "EPON"),
    (273, "USB (Darwin)"),
    (277, "LoRaTap"),
    (278, "vsock"),
    (279, "Nordic BLE"),
    (281, "Event Tracing for Windows"),
];

/// The container format.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap.
    Pcap {
        /// Nanosecond timestamps (magic 0xa1b23c4d).
        nanosecond: bool,
        /// Written big-endian.
        big_endian: bool,
    },
    /// pcapng.
    PcapNg,
}

impl Format {
    /// Its name in reports: `pcap` or `pcapng`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap { .. } => "pcap",
            Format::PcapNg => "pcapng",
        }
    }
}

/// One captured packet, borrowed from the reader's buffer until the next call.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// 1-based packet number, as Wireshark and tshark count frames.
    pub number: u64,
    /// Byte offset of the record header (pcap) or block (pcapng) in the input.
    pub offset: u64,
    /// Byte offset of the first packet byte in the input.
    pub data_offset: u64,
    /// Capture time in nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Link-layer type of the packet's interface.
    pub link_type: LinkType,
    /// Interface index within its pcapng section (0 for pcap).
    pub interface: u32,
    /// The bytes captured (at most the snaplen).
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub original_len: u32,
}

/// What went wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Byte offset in the input.
    pub offset: u64,
    /// Number of the packet being read, if the error is about one.
    pub packet: Option<u64>,
    /// What happened.
    pub kind: ErrorKind,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Reading failed.
    Io(String),
    /// The input ended early below the capture format (a compressed file cut
    /// short): the records before it are complete.
    CutShort(String),
    /// The input is empty.
    Empty,
    /// The first bytes are not a pcap or pcapng magic number.
    NotACapture {
        /// The first four bytes.
        magic: [u8; 4],
    },
    /// The input ends inside the file or section header.
    TruncatedHeader {
        /// Bytes the header needs.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// The input ends inside a record: the records before it are complete.
    TruncatedRecord {
        /// Bytes the record needs.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// A record or block length that cannot be right.
    BadLength {
        /// The length found.
        length: u64,
        /// Why it is wrong.
        why: &'static str,
    },
}

impl Error {
    /// Whether the input simply ends inside a record (results so far are good).
    pub fn is_truncation(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::TruncatedRecord { .. } | ErrorKind::CutShort(_)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Io(message) => write!(f, "read error at byte {}: {message}", self.offset),
            ErrorKind::CutShort(message) => write!(f, "{message} (at byte {})", self.offset),
            ErrorKind::Empty => {
                f.write_str("the input is empty: expected a pcap or pcapng capture")
            }
            ErrorKind::NotACapture { magic } => write!(
                f,
                "not a pcap or pcapng capture: it starts with {:02x} {:02x} {:02x} {:02x} \
                 (pcap starts with d4 c3 b2 a1 or a1 b2 c3 d4, pcapng with 0a 0d 0d 0a); \
                 write captures with `tcpdump -w FILE` or save them from Wireshark as pcap or \
                 pcapng",
                magic[0], magic[1], magic[2], magic[3]
            ),
            ErrorKind::TruncatedHeader { needed, available } => write!(
                f,
                "the capture ends inside its header at byte {}: {needed} bytes needed, \
                 {available} present",
                self.offset
            ),
            ErrorKind::TruncatedRecord { needed, available } => {
                write!(f, "the capture ends inside ")?;
                match self.packet {
                    Some(n) => write!(f, "packet {n}")?,
                    None => write!(f, "a block")?,
                }
                write!(
                    f,
                    " (record at byte {}: {needed} bytes needed, {available} present); the \
                     file was cut short, e.g. copied while tcpdump was still writing",
                    self.offset
                )
            }
            ErrorKind::BadLength { length, why } => {
                write!(f, "corrupt capture at byte {}", self.offset)?;
                if let Some(n) = self.packet {
                    write!(f, " (packet {n})")?;
                }
                write!(
                    f,
                    ": length {length} {why}; the rest of the file cannot be read"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// Something odd that did not stop the reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Byte offset in the input.
    pub offset: u64,
    /// Packet number, if about a packet.
    pub packet: Option<u64>,
    /// What was odd.
    pub message: String,
}

enum State {
    Pcap(pcap::State),
    PcapNg(pcapng::State),
}

/// A streaming capture reader.
pub struct Reader<R> {
    source: Source<R>,
    state: State,
    format: Format,
    /// Packets returned so far.
    number: u64,
    done: bool,
    warnings: Vec<Warning>,
    more_warnings: u64,
}

impl<R> fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("format", &self.format)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl<R: Read + Send + 'static> Reader<R> {
    /// Like [`Reader::new`], but the reading (the copy out of the page cache) runs
    /// on a thread of its own, overlapping with the caller's work on the records.
    /// Records are the same, byte for byte.
    pub fn with_reader_thread(reader: R) -> Result<Reader<R>, Error> {
        let source = Source::threaded(reader, false).map_err(|e| io_error(&e, 0, None))?;
        Reader::from_source(source)
    }

    /// Like [`Reader::with_reader_thread`], for a source whose bytes come as they
    /// happen (a pipe from `tcpdump -U -w -`, a live capture): what each read
    /// returns is handed over at once, and [`Reader::record_ready`] tells, without
    /// waiting, whether the next record is all there.
    pub fn streaming(reader: R) -> Result<Reader<R>, Error> {
        let source = Source::threaded(reader, true).map_err(|e| io_error(&e, 0, None))?;
        Reader::from_source(source)
    }

    /// Whether [`Reader::next_record`] can return without waiting for input: the
    /// next record is whole in the buffer (with the pcapng blocks before it that are
    /// not packets), or the input ended or failed. Never blocks. (Always true for a
    /// reader that reads on the caller's thread.)
    pub fn record_ready(&mut self) -> bool {
        if self.done {
            return true;
        }
        let (mut at, header, length_at, big_endian, pcapng) = match &self.state {
            State::Pcap(s) => (s.pending, s.record_header_len, 8, s.big_endian, false),
            State::PcapNg(s) => (s.pending, 12, 4, s.big_endian, true),
        };
        // Blocks walked at most before saying yes (next_record then reads on).
        for _ in 0..64 {
            if !self.source.ready_for(at + header) {
                return false;
            }
            let head = self.source.slice(at, at + header);
            let (Some(&kind), Some(&length)) = (
                head.first_chunk::<4>(),
                head.get(length_at..).and_then(<[u8]>::first_chunk::<4>),
            ) else {
                // The input ended inside the header: next_record says so at once.
                return true;
            };
            let read = |bytes: [u8; 4]| {
                if big_endian {
                    u32::from_be_bytes(bytes)
                } else {
                    u32::from_le_bytes(bytes)
                }
            };
            let total = if pcapng {
                read(length) as usize
            } else {
                header.saturating_add(read(length) as usize)
            };
            if u64::try_from(total).map_or(true, |t| t > MAX_RECORD_LEN + 64) || total < header {
                // A corrupt length: next_record reports it without reading on.
                return true;
            }
            if !self.source.ready_for(at + total) {
                return false;
            }
            // pcapng: packet blocks (enhanced 6, simple 3, obsolete 2) are records;
            // other blocks are read past on the way to one.
            if !pcapng || matches!(read(kind), 2 | 3 | 6) {
                return true;
            }
            at += total;
        }
        true
    }
}

impl<R: Read> Reader<R> {
    /// Reads the file header and gets ready to read records.
    pub fn new(reader: R) -> Result<Reader<R>, Error> {
        Reader::from_source(Source::new(reader))
    }

    fn from_source(mut source: Source<R>) -> Result<Reader<R>, Error> {
        let available = source.fill(4).map_err(|e| io_error(&e, 0, None))?;
        if available == 0 {
            return Err(Error {
                offset: 0,
                packet: None,
                kind: ErrorKind::Empty,
            });
        }
        let mut magic = [0u8; 4];
        for (slot, byte) in magic.iter_mut().zip(source.peek(4)) {
            *slot = *byte;
        }
        if available < 4 {
            return Err(Error {
                offset: 0,
                packet: None,
                kind: ErrorKind::NotACapture { magic },
            });
        }
        let (state, format) = if magic == pcapng::SHB_MAGIC {
            (State::PcapNg(pcapng::State::default()), Format::PcapNg)
        } else if let Some(header) = pcap::detect(magic) {
            let state = pcap::read_header(&mut source, header)?;
            let format = Format::Pcap {
                nanosecond: header.nanosecond,
                big_endian: header.big_endian,
            };
            (State::Pcap(state), format)
        } else {
            return Err(Error {
                offset: 0,
                packet: None,
                kind: ErrorKind::NotACapture { magic },
            });
        };
        Ok(Reader {
            source,
            state,
            format,
            number: 0,
            done: false,
            warnings: Vec::new(),
            more_warnings: 0,
        })
    }

    /// The container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The link type of a pcap file; for pcapng, of the first interface seen so far.
    pub fn link_type(&self) -> Option<LinkType> {
        match &self.state {
            State::Pcap(s) => Some(s.link_type),
            State::PcapNg(s) => s.first_link_type(),
        }
    }

    /// The snaplen that applies to packets of `interface` (the pcap file header's,
    /// or the pcapng interface's), `None` when the capture sets none (0) or the
    /// interface is unknown. Readers such as libpcap cut longer packets to it.
    pub fn snaplen(&self, interface: u32) -> Option<u32> {
        let snaplen = match &self.state {
            State::Pcap(s) => Some(s.snaplen),
            State::PcapNg(s) => s.snaplen(interface),
        }?;
        (snaplen > 0).then_some(snaplen)
    }

    /// The name of a pcapng interface (its if_name option), if it has one.
    pub fn interface_name(&self, interface: u32) -> Option<&str> {
        match &self.state {
            State::Pcap(_) => None,
            State::PcapNg(s) => s.interface_name(interface),
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.source.offset()
    }

    /// Warnings so far (at most 100 kept) and how many more were only counted.
    pub fn warnings(&self) -> (&[Warning], u64) {
        (&self.warnings, self.more_warnings)
    }

    /// The next packet, `Ok(None)` at the end of the input. After an error, further
    /// calls return `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, Error> {
        if self.done {
            return Ok(None);
        }
        let next_number = self.number + 1;
        let found = match &mut self.state {
            State::Pcap(state) => pcap::next(&mut self.source, state, next_number),
            State::PcapNg(state) => pcapng::next(&mut self.source, state, next_number, &mut |w| {
                if self.warnings.len() < MAX_WARNINGS {
                    self.warnings.push(w);
                } else {
                    self.more_warnings += 1;
                }
            }),
        };
        match found {
            Ok(Some(located)) => {
                self.number = next_number;
                // The record stays in the buffer until the next call consumes it.
                match &mut self.state {
                    State::Pcap(s) => s.pending = located.total_len,
                    State::PcapNg(s) => s.pending = located.total_len,
                }
                Ok(Some(Record {
                    number: next_number,
                    offset: located.offset,
                    data_offset: located.offset + located.data_start as u64,
                    timestamp_ns: located.timestamp_ns,
                    link_type: located.link_type,
                    interface: located.interface,
                    data: self.source.slice(located.data_start, located.data_end),
                    original_len: located.original_len,
                }))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }
}

/// Where a record sits in the buffer once found.
pub(crate) struct Located {
    pub(crate) offset: u64,
    pub(crate) data_start: usize,
    pub(crate) data_end: usize,
    pub(crate) total_len: usize,
    pub(crate) timestamp_ns: u64,
    pub(crate) link_type: LinkType,
    pub(crate) interface: u32,
    pub(crate) original_len: u32,
}

pub(crate) fn io_error(e: &io::Error, offset: u64, packet: Option<u64>) -> Error {
    let kind = if e.kind() == io::ErrorKind::UnexpectedEof {
        ErrorKind::CutShort(e.to_string())
    } else {
        ErrorKind::Io(e.to_string())
    };
    Error {
        offset,
        packet,
        kind,
    }
}

/// Reads a u16 in the given byte order; callers checked the length (0 if not).
pub(crate) fn u16_at(data: &[u8], at: usize, big_endian: bool) -> u16 {
    let Some(Ok(bytes)) = data.get(at..at.saturating_add(2)).map(<[u8; 2]>::try_from) else {
        return 0;
    };
    if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    }
}

/// Reads a u32 in the given byte order; callers checked the length (0 if not).
pub(crate) fn u32_at(data: &[u8], at: usize, big_endian: bool) -> u32 {
    let Some(Ok(bytes)) = data.get(at..at.saturating_add(4)).map(<[u8; 4]>::try_from) else {
        return 0;
    };
    if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
