//! pcapng (draft-ietf-opsawg-pcapng): sections, interfaces and packet blocks.

use std::io::Read;

use crate::source::Source;
use crate::{
    Error, ErrorKind, LinkType, Located, MAX_RECORD_LEN, Warning, io_error, u16_at, u32_at,
};

/// Section Header Block type, the same in both byte orders.
pub(crate) const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

const BLOCK_IDB: u32 = 1;
const BLOCK_OPB: u32 = 2;
const BLOCK_SPB: u32 = 3;
const BLOCK_EPB: u32 = 6;
const BLOCK_SHB: u32 = 0x0a0d_0d0a;

const OPTION_END: u16 = 0;
/// if_name: the interface's name on the capturing host, as UTF-8.
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// Block type and total length, before the body.
const BLOCK_HEADER: usize = 8;
/// The smallest block: header and the trailing length.
const MIN_BLOCK: usize = 12;

#[derive(Clone, Debug)]
struct Interface {
    link_type: LinkType,
    snaplen: u32,
    /// Timestamp units per second (if_tsresol; default microseconds).
    units_per_second: u64,
    /// Seconds to add to every timestamp (if_tsoffset).
    offset_seconds: i64,
    /// if_name, if given (at most 64 bytes kept).
    name: Option<String>,
}

/// The reader's state for a pcapng file.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) big_endian: bool,
    in_section: bool,
    interfaces: Vec<Interface>,
    first_link_type: Option<LinkType>,
    /// Bytes of the previous block still to consume.
    pub(crate) pending: usize,
}

impl State {
    pub(crate) fn first_link_type(&self) -> Option<LinkType> {
        self.first_link_type
    }

    /// The snaplen of an interface of the current section (0: none given).
    pub(crate) fn snaplen(&self, interface: u32) -> Option<u32> {
        let index = usize::try_from(interface).ok()?;
        self.interfaces.get(index).map(|i| i.snaplen)
    }

    /// The name (if_name) of an interface of the current section, if it has one.
    pub(crate) fn interface_name(&self, interface: u32) -> Option<&str> {
        let index = usize::try_from(interface).ok()?;
        self.interfaces.get(index)?.name.as_deref()
    }
}

fn error(offset: u64, number: u64, kind: ErrorKind) -> Error {
    Error {
        offset,
        packet: Some(number),
        kind,
    }
}

fn truncated(offset: u64, number: u64, needed: usize, available: usize) -> Error {
    error(
        offset,
        number,
        ErrorKind::TruncatedRecord {
            needed: needed as u64,
            available: available as u64,
        },
    )
}

/// Finds the next packet block, reading section and interface blocks on the way and
/// skipping every other block.
pub(crate) fn next<R: Read>(
    source: &mut Source<R>,
    state: &mut State,
    number: u64,
    warn: &mut dyn FnMut(Warning),
) -> Result<Option<Located>, Error> {
    source.consume(state.pending);
    state.pending = 0;
    loop {
        let offset = source.offset();
        let available = source
            .fill(MIN_BLOCK)
            .map_err(|e| io_error(&e, offset, Some(number)))?;
        if available == 0 {
            return Ok(None);
        }
        if available < MIN_BLOCK {
            return Err(truncated(offset, number, MIN_BLOCK, available));
        }
        let head = source.peek(MIN_BLOCK);
        if head.first_chunk() == Some(&SHB_MAGIC) {
            start_section(head, state).map_err(|e| error(offset, number, e))?;
        }
        let big_endian = state.big_endian;
        let block_type = u32_at(head, 0, big_endian);
        let block_len = u64::from(u32_at(head, 4, big_endian));
        check_block_len(block_len).map_err(|e| error(offset, number, e))?;
        let total = usize::try_from(block_len).unwrap_or(usize::MAX);
        let available = source
            .fill(total)
            .map_err(|e| io_error(&e, offset, Some(number)))?;
        if available < total {
            return Err(truncated(offset, number, total, available));
        }
        let block = source.slice(0, total);
        let trailing = u64::from(u32_at(block, total - 4, big_endian));
        if trailing != block_len {
            return Err(error(
                offset,
                number,
                ErrorKind::BadLength {
                    length: trailing,
                    why: "at the end of the block differs from the length at its start",
                },
            ));
        }
        let body = block.get(BLOCK_HEADER..total - 4).unwrap_or_default();
        let mut warning = |message: String| {
            warn(Warning {
                offset,
                packet: None,
                message,
            })
        };
        let found = match block_type {
            BLOCK_SHB => None,
            BLOCK_IDB => {
                match interface(body, big_endian) {
                    Ok(iface) => {
                        state.first_link_type.get_or_insert(iface.link_type);
                        state.interfaces.push(iface);
                    }
                    Err(message) => warning(message),
                }
                None
            }
            BLOCK_EPB | BLOCK_OPB => packet_block(
                block_type,
                body,
                big_endian,
                state,
                offset,
                number,
                &mut warning,
            )?,
            BLOCK_SPB => simple_packet(body, big_endian, state, offset, &mut warning),
            _ => None,
        };
        if let Some(mut located) = found {
            located.total_len = total;
            return Ok(Some(located));
        }
        source.consume(total);
    }
}

/// A Section Header Block begins: the byte-order magic right after the length
/// decides how to read the section, the SHB's own length included.
fn start_section(head: &[u8], state: &mut State) -> Result<(), ErrorKind> {
    state.big_endian = match head.get(8..12) {
        Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
        Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
        _ => {
            return Err(ErrorKind::BadLength {
                length: u64::from(u32_at(head, 8, false)),
                why: "is not the section header's byte-order magic 0x1a2b3c4d",
            });
        }
    };
    state.in_section = true;
    state.interfaces.clear();
    Ok(())
}

/// A block length that can be right: at least 12, a multiple of 4, at most 16 MiB.
fn check_block_len(block_len: u64) -> Result<(), ErrorKind> {
    if block_len < MIN_BLOCK as u64 || block_len % 4 != 0 {
        return Err(ErrorKind::BadLength {
            length: block_len,
            why: "is not a pcapng block length (at least 12 and a multiple of 4)",
        });
    }
    if block_len > MAX_RECORD_LEN {
        return Err(ErrorKind::BadLength {
            length: block_len,
            why: "is larger than any pcapng block can be (16 MiB)",
        });
    }
    Ok(())
}

/// An Interface Description Block.
fn interface(body: &[u8], big_endian: bool) -> Result<Interface, String> {
    if body.len() < 8 {
        return Err("interface description block too short; interface ignored".to_string());
    }
    let mut iface = Interface {
        link_type: LinkType(u16_at(body, 0, big_endian)),
        snaplen: u32_at(body, 4, big_endian),
        units_per_second: 1_000_000,
        offset_seconds: 0,
        name: None,
    };
    let mut options = body.get(8..).unwrap_or_default();
    while options.len() >= 4 {
        let code = u16_at(options, 0, big_endian);
        let len = usize::from(u16_at(options, 2, big_endian));
        let padded = len.div_ceil(4) * 4;
        let Some(value) = options.get(4..4 + len) else {
            break;
        };
        match (code, value) {
            (OPTION_END, _) => break,
            (IF_TSRESOL, [resolution]) => {
                let units = if resolution & 0x80 != 0 {
                    1u64.checked_shl(u32::from(resolution & 0x7f))
                        .filter(|_| resolution & 0x7f < 64)
                } else {
                    10u64.checked_pow(u32::from(*resolution))
                };
                match units {
                    Some(units) => iface.units_per_second = units,
                    None => {
                        return Err(format!(
                            "interface timestamp resolution {resolution:#04x} is not usable"
                        ));
                    }
                }
            }
            (IF_NAME, name) => {
                let name = String::from_utf8_lossy(name);
                let name: String = name.trim_end_matches('\0').chars().take(64).collect();
                iface.name = (!name.is_empty()).then_some(name);
            }
            (IF_TSOFFSET, [a, b, c, d, e, f, g, h]) => {
                let bytes = [*a, *b, *c, *d, *e, *f, *g, *h];
                iface.offset_seconds = if big_endian {
                    i64::from_be_bytes(bytes)
                } else {
                    i64::from_le_bytes(bytes)
                };
            }
            _ => {}
        }
        options = options.get(4 + padded..).unwrap_or_default();
    }
    Ok(iface)
}

fn timestamp_ns(iface: &Interface, high: u32, low: u32) -> u64 {
    let units = (u128::from(high) << 32) | u128::from(low);
    let ns = units * 1_000_000_000 / u128::from(iface.units_per_second.max(1));
    let offset = i128::from(iface.offset_seconds) * 1_000_000_000;
    u64::try_from((i128::try_from(ns).unwrap_or(i128::MAX) + offset).max(0)).unwrap_or(u64::MAX)
}

/// An Enhanced (6) or obsolete (2) Packet Block.
fn packet_block(
    block_type: u32,
    body: &[u8],
    big_endian: bool,
    state: &State,
    offset: u64,
    number: u64,
    warning: &mut dyn FnMut(String),
) -> Result<Option<Located>, Error> {
    const FIXED: usize = 20;
    if body.len() < FIXED {
        warning("packet block too short for its fixed fields; skipped".to_string());
        return Ok(None);
    }
    let interface = if block_type == BLOCK_EPB {
        u32_at(body, 0, big_endian)
    } else {
        u32::from(u16_at(body, 0, big_endian))
    };
    let high = u32_at(body, 4, big_endian);
    let low = u32_at(body, 8, big_endian);
    let captured = u32_at(body, 12, big_endian);
    let original_len = u32_at(body, 16, big_endian);
    let captured_len = usize::try_from(captured).unwrap_or(usize::MAX);
    if captured_len > body.len() - FIXED {
        return Err(error(
            offset,
            number,
            ErrorKind::BadLength {
                length: u64::from(captured),
                why: "(captured length) is larger than its packet block",
            },
        ));
    }
    let Some(iface) = usize::try_from(interface)
        .ok()
        .and_then(|i| state.interfaces.get(i))
    else {
        warning(format!(
            "packet block for interface {interface}, which the section does not describe; skipped"
        ));
        return Ok(None);
    };
    let data_start = BLOCK_HEADER + FIXED;
    Ok(Some(Located {
        offset,
        data_start,
        data_end: data_start + captured_len,
        total_len: 0,
        timestamp_ns: timestamp_ns(iface, high, low),
        link_type: iface.link_type,
        interface,
        original_len,
    }))
}

/// A Simple Packet Block: interface 0, no timestamp, captured length implied.
fn simple_packet(
    body: &[u8],
    big_endian: bool,
    state: &State,
    offset: u64,
    warning: &mut dyn FnMut(String),
) -> Option<Located> {
    if body.len() < 4 {
        warning("simple packet block too short; skipped".to_string());
        return None;
    }
    let Some(iface) = state.interfaces.first() else {
        warning("simple packet block before any interface description; skipped".to_string());
        return None;
    };
    let original_len = u32_at(body, 0, big_endian);
    let mut captured = (body.len() - 4).min(usize::try_from(original_len).unwrap_or(usize::MAX));
    if iface.snaplen > 0 {
        captured = captured.min(usize::try_from(iface.snaplen).unwrap_or(usize::MAX));
    }
    let data_start = BLOCK_HEADER + 4;
    Some(Located {
        offset,
        data_start,
        data_end: data_start + captured,
        total_len: 0,
        timestamp_ns: 0,
        link_type: iface.link_type,
        interface: 0,
        original_len,
    })
}
