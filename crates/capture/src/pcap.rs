//! Classic pcap (tcpdump.org "pcap savefile format", draft-ietf-opsawg-pcap).

use std::io::Read;

use crate::source::Source;
use crate::{Error, ErrorKind, LinkType, Located, MAX_RECORD_LEN, io_error, u32_at};

const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
/// Kuznetsov's "modified" pcap adds ifindex, protocol, packet type and padding.
const MODIFIED_RECORD_HEADER_LEN: usize = 24;
/// libpcap's largest snaplen for most link types (`MAXIMUM_SNAPLEN`).
const MAXIMUM_SNAPLEN: u64 = 262_144;

/// What the magic number says.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Header {
    pub(crate) big_endian: bool,
    pub(crate) nanosecond: bool,
    modified: bool,
}

/// Recognises the four pcap magic numbers in either byte order.
pub(crate) fn detect(magic: [u8; 4]) -> Option<Header> {
    let header = |big_endian, nanosecond, modified| {
        Some(Header {
            big_endian,
            nanosecond,
            modified,
        })
    };
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => header(false, false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => header(true, false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => header(false, true, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => header(true, true, false),
        [0x34, 0xcd, 0xb2, 0xa1] => header(false, false, true),
        [0xa1, 0xb2, 0xcd, 0x34] => header(true, false, true),
        _ => None,
    }
}

/// The reader's state for a pcap file.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) big_endian: bool,
    nanosecond: bool,
    pub(crate) record_header_len: usize,
    pub(crate) link_type: LinkType,
    /// Largest record length accepted.
    limit: u64,
    /// The file header's snaplen.
    pub(crate) snaplen: u32,
    /// Bytes of the previous record still to consume.
    pub(crate) pending: usize,
}

/// Reads the 24-byte file header.
pub(crate) fn read_header<R: Read>(source: &mut Source<R>, header: Header) -> Result<State, Error> {
    let available = source
        .fill(FILE_HEADER_LEN)
        .map_err(|e| io_error(&e, 0, None))?;
    if available < FILE_HEADER_LEN {
        return Err(Error {
            offset: 0,
            packet: None,
            kind: ErrorKind::TruncatedHeader {
                needed: FILE_HEADER_LEN as u64,
                available: available as u64,
            },
        });
    }
    let bytes = source.peek(FILE_HEADER_LEN);
    let snaplen = u64::from(u32_at(bytes, 16, header.big_endian));
    // The low 16 bits are the link type; the high bits carry FCS information.
    let link_type =
        LinkType(u16::try_from(u32_at(bytes, 20, header.big_endian) & 0xffff).unwrap_or(0));
    source.consume(FILE_HEADER_LEN);
    Ok(State {
        big_endian: header.big_endian,
        nanosecond: header.nanosecond,
        record_header_len: if header.modified {
            MODIFIED_RECORD_HEADER_LEN
        } else {
            RECORD_HEADER_LEN
        },
        link_type,
        limit: snaplen.clamp(MAXIMUM_SNAPLEN, MAX_RECORD_LEN),
        snaplen: u32::try_from(snaplen).unwrap_or(u32::MAX),
        pending: 0,
    })
}

/// Finds the next record.
pub(crate) fn next<R: Read>(
    source: &mut Source<R>,
    state: &mut State,
    number: u64,
) -> Result<Option<Located>, Error> {
    source.consume(state.pending);
    state.pending = 0;
    let offset = source.offset();
    let header_len = state.record_header_len;
    let available = source
        .fill(header_len)
        .map_err(|e| io_error(&e, offset, Some(number)))?;
    if available == 0 {
        return Ok(None);
    }
    if available < header_len {
        return Err(truncated(offset, number, header_len, available));
    }
    // The four fields, read from a fixed-size copy: one length check, not sixteen
    // (this runs for every packet).
    let Some(&fields) = source.peek(header_len).first_chunk::<RECORD_HEADER_LEN>() else {
        return Err(truncated(offset, number, header_len, available));
    };
    let field = |at: usize| u32_at(&fields, at, state.big_endian);
    let seconds = u64::from(field(0));
    let fraction = u64::from(field(4));
    let captured = u64::from(field(8));
    let original_len = field(12);
    if captured > state.limit {
        return Err(Error {
            offset,
            packet: Some(number),
            kind: ErrorKind::BadLength {
                length: captured,
                why: "is larger than any captured packet can be",
            },
        });
    }
    // `captured <= limit <= 16 MiB` fits in usize.
    let total = header_len + usize::try_from(captured).unwrap_or(usize::MAX);
    let available = source
        .fill(total)
        .map_err(|e| io_error(&e, offset, Some(number)))?;
    if available < total {
        return Err(truncated(offset, number, total, available));
    }
    let timestamp_ns = seconds * 1_000_000_000
        + if state.nanosecond {
            fraction
        } else {
            fraction * 1000
        };
    Ok(Some(Located {
        offset,
        data_start: header_len,
        data_end: total,
        total_len: total,
        timestamp_ns,
        link_type: state.link_type,
        interface: 0,
        original_len,
    }))
}

fn truncated(offset: u64, number: u64, needed: usize, available: usize) -> Error {
    Error {
        offset,
        packet: Some(number),
        kind: ErrorKind::TruncatedRecord {
            needed: needed as u64,
            available: available as u64,
        },
    }
}
