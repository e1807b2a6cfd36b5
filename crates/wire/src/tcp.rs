//! TCP header view (RFC 9293 section 3.1) and option walk: the lax one of
//! analysis ([`Packet::options`]) and the strict one of the clamp
//! ([`Packet::mss_options`]), with the in-place rewrite of an MSS value
//! ([`Packet::set_mss`]).

use crate::checksum;
use crate::error::{Error, Layer};
use crate::{be16, be32, byte, set_be16, set_be32, set_byte, slice, slice_mut, tail};

mod field {
    use core::ops::Range;
    pub(crate) const SRC_PORT: Range<usize> = 0..2;
    pub(crate) const DST_PORT: Range<usize> = 2..4;
    pub(crate) const SEQ: Range<usize> = 4..8;
    pub(crate) const ACK: Range<usize> = 8..12;
    pub(crate) const OFFSET_FLAGS: Range<usize> = 12..14;
    pub(crate) const WINDOW: Range<usize> = 14..16;
    pub(crate) const CHECKSUM: Range<usize> = 16..18;
    pub(crate) const URGENT: Range<usize> = 18..20;
}

/// The fixed TCP header length.
pub const HEADER_LEN: usize = 20;
/// The largest TCP header: data offset 15 words.
pub const MAX_HEADER_LEN: usize = 60;

/// The most MSS options [`Packet::mss_options`] accepts in one segment. A stack
/// sends one; a few repeats (a middlebox that appended its own) are still found and
/// rewritten together; more make the list too strange to edit.
pub const MAX_MSS_OPTIONS: usize = 4;

/// Option kinds (IANA "TCP Option Kind Numbers").
pub mod kind {
    /// End of option list (RFC 9293).
    pub const END: u8 = 0;
    /// No-operation (RFC 9293).
    pub const NOP: u8 = 1;
    /// Maximum segment size (RFC 9293 section 3.2).
    pub const MSS: u8 = 2;
    /// Window scale (RFC 7323 section 2).
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted (RFC 2018).
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK (RFC 2018).
    pub const SACK: u8 = 5;
    /// Timestamps (RFC 7323 section 3).
    pub const TIMESTAMPS: u8 = 8;
    /// TCP-MD5 signature (RFC 2385).
    pub const MD5: u8 = 19;
    /// TCP authentication option (RFC 5925).
    pub const AO: u8 = 29;
    /// Multipath TCP (RFC 8684).
    pub const MPTCP: u8 = 30;
    /// TCP Fast Open cookie (RFC 7413).
    pub const FAST_OPEN: u8 = 34;
    /// Experimental (RFC 6994); Fast Open used ExID 0xF989 here before kind 34.
    pub const EXPERIMENT_1: u8 = 253;
    /// Experimental (RFC 6994).
    pub const EXPERIMENT_2: u8 = 254;
}

/// The Fast Open experiment ID used with kinds 253/254 (RFC 7413 section 4.1.1).
const FAST_OPEN_EXID: [u8; 2] = [0xf9, 0x89];

/// TCP control flags.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// FIN.
    pub const FIN: Flags = Flags(0x001);
    /// SYN.
    pub const SYN: Flags = Flags(0x002);
    /// RST.
    pub const RST: Flags = Flags(0x004);
    /// PSH.
    pub const PSH: Flags = Flags(0x008);
    /// ACK.
    pub const ACK: Flags = Flags(0x010);
    /// URG.
    pub const URG: Flags = Flags(0x020);
    /// ECE (RFC 3168).
    pub const ECE: Flags = Flags(0x040);
    /// CWR (RFC 3168).
    pub const CWR: Flags = Flags(0x080);
    /// AE, formerly NS (RFC 9768).
    pub const AE: Flags = Flags(0x100);

    /// Whether every flag in `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// A SYN without ACK.
    pub const fn is_syn(self) -> bool {
        self.contains(Flags::SYN) && !self.contains(Flags::ACK)
    }

    /// A SYN with ACK.
    pub const fn is_syn_ack(self) -> bool {
        self.contains(Flags::SYN) && self.contains(Flags::ACK)
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The sequence number of a TCP header of which only the first 8 bytes may be
/// there: all an ICMP error is sure to quote of the packet it is about (RFC 792),
/// and what a socket's error queue hands back of a raw probe. `None` when fewer
/// than 8 bytes are there.
pub fn quoted_seq(start: &[u8]) -> Option<u32> {
    let first = start.first_chunk::<8>()?;
    Some(be32(first, field::SEQ.start))
}

/// A read (and, with mutable bytes, write) view of a TCP segment.
///
/// Two ways in: [`Packet::new_checked`] (strict) needs the whole header, options
/// included; [`Packet::new_lax`] needs only the fixed 20 bytes, for captures cut by
/// their snaplen, and then [`Packet::options`] walks what was captured and reports an
/// option cut off as [`TcpOption::Cut`], not as absent. After either succeeds every
/// fixed field reads what the bytes hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps bytes without checking them; accessors read missing bytes as zero.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps bytes whose full header (options included) is present.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_lax(buffer)?;
        let available = packet.buffer.as_ref().len();
        if available < packet.header_len() {
            return Err(Error::Truncated {
                layer: Layer::Tcp,
                needed: packet.header_len(),
                available,
            });
        }
        Ok(packet)
    }

    /// Wraps bytes of which at least the fixed 20-byte header is present and whose
    /// data offset is valid (5 to 15 words).
    pub fn new_lax(buffer: T) -> Result<Packet<T>, Error> {
        let data = buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated {
                layer: Layer::Tcp,
                needed: HEADER_LEN,
                available: data.len(),
            });
        }
        let packet = Packet { buffer };
        if packet.header_len() < HEADER_LEN {
            return Err(Error::Malformed {
                layer: Layer::Tcp,
                offset: field::OFFSET_FLAGS.start,
                what: "data offset below 5 words",
            });
        }
        Ok(packet)
    }

    /// The fixed header (zeros where bytes are missing after `new_unchecked`).
    #[inline]
    fn fixed(&self) -> &[u8; HEADER_LEN] {
        crate::fixed(self.buffer.as_ref())
    }

    /// The underlying bytes.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.fixed(), field::SRC_PORT.start)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.fixed(), field::DST_PORT.start)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        be32(self.fixed(), field::SEQ.start)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        be32(self.fixed(), field::ACK.start)
    }

    /// Header length in bytes from the data offset, options included.
    pub fn header_len(&self) -> usize {
        usize::from(byte(self.fixed(), field::OFFSET_FLAGS.start) >> 4) * 4
    }

    /// Control flags.
    pub fn flags(&self) -> Flags {
        Flags(be16(self.fixed(), field::OFFSET_FLAGS.start) & 0x01ff)
    }

    /// Window (unscaled).
    pub fn window(&self) -> u16 {
        be16(self.fixed(), field::WINDOW.start)
    }

    /// Checksum as stored.
    pub fn checksum(&self) -> u16 {
        be16(self.fixed(), field::CHECKSUM.start)
    }

    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        be16(self.fixed(), field::URGENT.start)
    }

    /// Whether the whole header, options included, is present.
    pub fn is_header_complete(&self) -> bool {
        self.buffer.as_ref().len() >= self.header_len()
    }

    /// The option bytes present (all of them after [`Packet::new_checked`]).
    pub fn option_bytes(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        slice(data, HEADER_LEN..self.header_len().min(data.len()))
    }

    /// Walks the options.
    pub fn options(&self) -> Options<'_> {
        Options::new(
            self.option_bytes(),
            self.header_len().saturating_sub(HEADER_LEN),
        )
    }

    /// The MSS option: `Known(Some(v))`, `Known(None)` when the option area was
    /// fully captured and carries none, `Unknown` when the capture was cut before the
    /// walk could tell, or an option was malformed before an MSS was found.
    pub fn mss_option(&self) -> MssOption {
        let mut complete = true;
        for item in self.options() {
            match item.option {
                TcpOption::Mss(value) => return MssOption::Known(Some(value)),
                TcpOption::Cut { .. } | TcpOption::Malformed { .. } => complete = false,
                _ => {}
            }
        }
        if complete && self.is_header_complete() {
            MssOption::Known(None)
        } else {
            MssOption::Unknown
        }
    }

    /// Every MSS option, from a strict walk of the whole option list, for code that
    /// rewrites them ([`Packet::set_mss`]). The walk stops at End of Option List and
    /// steps over unknown kinds by their length byte. An error for a list that
    /// cannot be trusted with an edit: the header cut short, a kind without its
    /// length byte, a length below 2 or running past the header, an MSS option whose
    /// length is not 4, or more than [`MAX_MSS_OPTIONS`] of them. (The lax
    /// [`Packet::options`] walk reads on past what this one refuses.)
    pub fn mss_options(&self) -> Result<MssOptions, Error> {
        if !self.is_header_complete() {
            return Err(Error::Truncated {
                layer: Layer::Tcp,
                needed: self.header_len(),
                available: self.buffer.as_ref().len(),
            });
        }
        MssOptions::find(self.option_bytes())
    }

    /// The value of an MSS option found by [`Packet::mss_options`].
    pub fn mss_value(&self, field: MssField) -> u16 {
        be16(self.buffer.as_ref(), field.offset())
    }

    /// The payload bytes present after the header.
    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        tail(data, self.header_len())
    }

    /// Whether the stored checksum is right for this segment, given the IP
    /// pseudo-header sum (which includes the segment length). Only meaningful when
    /// the whole segment is present.
    pub fn verify_checksum(&self, pseudo_header: u64) -> bool {
        checksum::verify(pseudo_header, self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, port: u16) {
        set_be16(self.buffer.as_mut(), field::SRC_PORT.start, port);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        set_be16(self.buffer.as_mut(), field::DST_PORT.start, port);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, value: u32) {
        set_be32(self.buffer.as_mut(), field::SEQ.start, value);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, value: u32) {
        set_be32(self.buffer.as_mut(), field::ACK.start, value);
    }

    /// Sets the header length in bytes (a multiple of 4, 20 to 60).
    pub fn set_header_len(&mut self, len: usize) {
        let words = u8::try_from(len / 4).unwrap_or(15).min(15);
        let data = self.buffer.as_mut();
        let old = byte(data, field::OFFSET_FLAGS.start);
        set_byte(data, field::OFFSET_FLAGS.start, (old & 0x0f) | (words << 4));
    }

    /// Sets the control flags.
    pub fn set_flags(&mut self, flags: Flags) {
        let data = self.buffer.as_mut();
        let offset = byte(data, field::OFFSET_FLAGS.start) & 0xf0;
        let value = (u16::from(offset) << 8) | (flags.0 & 0x01ff);
        set_be16(data, field::OFFSET_FLAGS.start, value);
    }

    /// Sets the window.
    pub fn set_window(&mut self, value: u16) {
        set_be16(self.buffer.as_mut(), field::WINDOW.start, value);
    }

    /// Sets the stored checksum.
    pub fn set_checksum(&mut self, value: u16) {
        set_be16(self.buffer.as_mut(), field::CHECKSUM.start, value);
    }

    /// Recomputes the checksum over the whole segment with `pseudo_header`.
    pub fn fill_checksum(&mut self, pseudo_header: u64) {
        self.set_checksum(0);
        let value = !checksum::fold(pseudo_header + checksum::sum(self.buffer.as_ref()));
        self.set_checksum(value);
    }

    /// The option bytes present, writable.
    pub fn option_bytes_mut(&mut self) -> &mut [u8] {
        let end = self.header_len().min(self.buffer.as_ref().len());
        slice_mut(self.buffer.as_mut(), HEADER_LEN..end)
    }

    /// Inserts the 4-byte `option` at the start of the option list: the bytes from
    /// the options up to `used` move 4 bytes on (the buffer holds `used + 4`, the
    /// caller has checked that and the room in the header), the data offset grows
    /// by a word, and the checksum is updated for the option's words, the data
    /// offset and a pseudo-header length going from `segment_len` to
    /// `segment_len + 4` (RFC 1624; 32 bits wide, as IPv6 has it, RFC 8200 section
    /// 8.1). 4-byte moves keep the words aligned, so the moved words need no update.
    pub(crate) fn insert_option(&mut self, option: [u8; 4], used: usize, segment_len: usize) {
        let header_len = self.header_len();
        let data = self.buffer.as_mut();
        let Some(moved) = data.get_mut(HEADER_LEN..used.saturating_add(4)) else {
            return;
        };
        let end = moved.len().saturating_sub(4);
        moved.copy_within(..end, 4);
        if let Some(slot) = moved.first_chunk_mut() {
            *slot = option;
        }
        let [kind, length, high, low] = option;
        let mut sum = be16(data, field::CHECKSUM.start);
        // The option's two words were not summed before...
        sum = checksum::update(sum, 0, u16::from_be_bytes([kind, length]));
        sum = checksum::update(sum, 0, u16::from_be_bytes([high, low]));
        // ...the data offset shares its word with the flags...
        let old_word = be16(data, field::OFFSET_FLAGS.start);
        self.set_header_len(header_len + 4);
        let data = self.buffer.as_mut();
        sum = checksum::update(sum, old_word, be16(data, field::OFFSET_FLAGS.start));
        // ...and the pseudo-header holds the segment's length.
        sum = checksum::update_u32(
            sum,
            u32::try_from(segment_len).unwrap_or(0),
            u32::try_from(segment_len + 4).unwrap_or(0),
        );
        set_be16(data, field::CHECKSUM.start, sum);
    }

    /// Sets the MSS option `field` (found by [`Packet::mss_options`] on this
    /// segment) to `value` and updates the checksum for the 16-bit words that
    /// changed (RFC 1624 equation 3), without summing the segment: a checksum that
    /// was right stays right, and one that was wrong (or left partial by checksum
    /// offload) stays exactly as wrong. The value may straddle two words (an MSS
    /// option after an odd-length one); words are counted from the header's start,
    /// as the pseudo-header before it has an even length.
    pub fn set_mss(&mut self, field: MssField, value: u16) {
        let at = field.offset();
        let data = self.buffer.as_mut();
        // One word when the value is aligned, two when it straddles.
        let (first, second) = (at & !1, (at + 1) & !1);
        let words = if first == second { 1 } else { 2 };
        let before = [be16(data, first), be16(data, second)];
        set_be16(data, at, value);
        let mut sum = be16(data, field::CHECKSUM.start);
        for (word, old) in [first, second].into_iter().zip(before).take(words) {
            sum = checksum::update(sum, old, be16(data, word));
        }
        set_be16(data, field::CHECKSUM.start, sum);
    }
}

/// An MSS option found by [`Packet::mss_options`]: where its value sits, for
/// [`Packet::mss_value`] and [`Packet::set_mss`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct MssField {
    /// Offset of the value from the start of the TCP header (below 60).
    offset: u8,
}

impl MssField {
    /// Offset of the value (after kind and length) from the start of the TCP
    /// header.
    pub fn offset(self) -> usize {
        usize::from(self.offset)
    }
}

/// The MSS options of a segment, in order: at most [`MAX_MSS_OPTIONS`], no
/// allocation.
///
/// The offsets are packed into one integer, a byte each, not kept in an array: on
/// the clamp's path for every SYN they then stay in a register, where an array
/// written a byte at a time and copied whole stalls the CPU's store-to-load
/// forwarding (measured: about 2 ns more per SYN).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MssOptions {
    offsets: u32,
    count: u8,
}

impl MssOptions {
    /// The strict walk of [`Packet::mss_options`] over `options`, the whole option
    /// area of a TCP header (what follows its fixed 20 bytes).
    pub fn find(options: &[u8]) -> Result<MssOptions, Error> {
        let malformed = |at: usize, what| Error::Malformed {
            layer: Layer::Tcp,
            offset: HEADER_LEN + at,
            what,
        };
        let mut found = MssOptions::default();
        let mut at = 0;
        while let Some(&kind_byte) = options.get(at) {
            match kind_byte {
                kind::END => break,
                kind::NOP => at += 1,
                kind_byte => {
                    let Some(&length) = options.get(at + 1) else {
                        return Err(malformed(at, "option kind without its length"));
                    };
                    let length = usize::from(length);
                    if length < 2 || at + length > options.len() {
                        return Err(malformed(
                            at + 1,
                            "option length below 2 or past the header",
                        ));
                    }
                    if kind_byte == kind::MSS {
                        if length != 4 {
                            return Err(malformed(at + 1, "MSS option length is not 4"));
                        }
                        if usize::from(found.count) == MAX_MSS_OPTIONS {
                            return Err(malformed(at, "more MSS options than a stack sends"));
                        }
                        // Below 60: the option lies inside the header.
                        let offset = u32::try_from(HEADER_LEN + at + 2).unwrap_or(0xff);
                        found.offsets |= offset << (8 * u32::from(found.count));
                        found.count += 1;
                    }
                    at += length;
                }
            }
        }
        Ok(found)
    }

    /// The options found, in order.
    pub fn iter(self) -> impl Iterator<Item = MssField> {
        (0..u32::from(self.count)).map(move |i| MssField {
            offset: u8::try_from((self.offsets >> (8 * i)) & 0xff).unwrap_or(u8::MAX),
        })
    }

    /// How many there are.
    pub fn len(self) -> usize {
        usize::from(self.count)
    }

    /// Whether the segment has no MSS option.
    pub fn is_empty(self) -> bool {
        self.count == 0
    }
}

/// What a segment says about its MSS option.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MssOption {
    /// The option area was read: the value, or `None` for no MSS option.
    Known(Option<u16>),
    /// The capture (or a malformed option) hides whether there is one.
    Unknown,
}

/// One TCP option. Unknown kinds are data, not errors; a wrong length for a known
/// kind is reported and skipped by its length byte.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    /// End of option list; the walk stops.
    EndOfList,
    /// No-operation padding.
    Nop,
    /// Maximum segment size.
    Mss(u16),
    /// Window scale shift count.
    WindowScale(u8),
    /// SACK permitted.
    SackPermitted,
    /// SACK blocks (raw, a multiple of 8 bytes).
    Sack(&'a [u8]),
    /// Timestamps.
    Timestamps {
        /// TSval.
        tsval: u32,
        /// TSecr.
        tsecr: u32,
    },
    /// TCP-MD5 signature (16 bytes).
    Md5(&'a [u8]),
    /// TCP-AO.
    Ao {
        /// KeyID.
        key_id: u8,
        /// RNextKeyID.
        rnext_key_id: u8,
        /// The MAC.
        mac: &'a [u8],
    },
    /// Multipath TCP (subtype in the high nibble of the first byte).
    Mptcp(&'a [u8]),
    /// Fast Open cookie (kind 34, or 254 with ExID 0xF989).
    FastOpen(&'a [u8]),
    /// Any other kind.
    Unknown {
        /// The kind.
        kind: u8,
        /// Its data (after kind and length).
        data: &'a [u8],
    },
    /// A known kind with a length it cannot have; skipped by that length.
    BadLength {
        /// The kind.
        kind: u8,
        /// The length byte.
        length: u8,
    },
    /// The captured bytes end inside this option; what it holds is unknown. The
    /// walk stops.
    Cut {
        /// The kind, if that byte was captured.
        kind: Option<u8>,
    },
    /// A length of 0 or 1, or an option running past the header: the list cannot be
    /// walked further. The walk stops.
    Malformed {
        /// The kind.
        kind: u8,
        /// The length byte, if present.
        length: Option<u8>,
    },
}

/// An option with its offset from the start of the option area.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct OptionItem<'a> {
    /// Offset of the kind byte from the start of the options.
    pub offset: usize,
    /// The option.
    pub option: TcpOption<'a>,
}

/// Iterator over TCP options. It never stops at an unknown kind, never loops (every
/// step advances at least one byte; lengths of 0 or 1 end the walk) and never reads
/// past the bytes it was given.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    data: &'a [u8],
    declared_len: usize,
    pos: usize,
    done: bool,
}

impl<'a> Options<'a> {
    /// Walks `data`, the captured part of an option area that is `declared_len` bytes
    /// long according to the data offset.
    pub fn new(data: &'a [u8], declared_len: usize) -> Options<'a> {
        Options {
            data,
            declared_len: declared_len.max(data.len()),
            pos: 0,
            done: false,
        }
    }

    fn stop(&mut self, offset: usize, option: TcpOption<'a>) -> Option<OptionItem<'a>> {
        self.done = true;
        Some(OptionItem { offset, option })
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = OptionItem<'a>;

    fn next(&mut self) -> Option<OptionItem<'a>> {
        if self.done || self.pos >= self.declared_len {
            return None;
        }
        let at = self.pos;
        let Some(&kind_byte) = self.data.get(at) else {
            // Declared but not captured: a kind byte is missing.
            self.done = true;
            return Some(OptionItem {
                offset: at,
                option: TcpOption::Cut { kind: None },
            });
        };
        match kind_byte {
            kind::END => return self.stop(at, TcpOption::EndOfList),
            kind::NOP => {
                self.pos += 1;
                return Some(OptionItem {
                    offset: at,
                    option: TcpOption::Nop,
                });
            }
            _ => {}
        }
        let Some(&length) = self.data.get(at + 1) else {
            let option = if at + 1 < self.declared_len {
                TcpOption::Cut {
                    kind: Some(kind_byte),
                }
            } else {
                TcpOption::Malformed {
                    kind: kind_byte,
                    length: None,
                }
            };
            return self.stop(at, option);
        };
        let len = usize::from(length);
        if len < 2 || at + len > self.declared_len {
            return self.stop(
                at,
                TcpOption::Malformed {
                    kind: kind_byte,
                    length: Some(length),
                },
            );
        }
        let Some(body) = self.data.get(at + 2..at + len) else {
            return self.stop(
                at,
                TcpOption::Cut {
                    kind: Some(kind_byte),
                },
            );
        };
        self.pos = at + len;
        let bad = TcpOption::BadLength {
            kind: kind_byte,
            length,
        };
        let option = match (kind_byte, body) {
            (kind::MSS, [a, b]) => TcpOption::Mss(u16::from_be_bytes([*a, *b])),
            (kind::WINDOW_SCALE, [shift]) => TcpOption::WindowScale(*shift),
            (kind::SACK_PERMITTED, []) => TcpOption::SackPermitted,
            (kind::SACK, blocks) if !blocks.is_empty() && blocks.len() % 8 == 0 => {
                TcpOption::Sack(blocks)
            }
            (kind::TIMESTAMPS, [a, b, c, d, e, f, g, h]) => TcpOption::Timestamps {
                tsval: u32::from_be_bytes([*a, *b, *c, *d]),
                tsecr: u32::from_be_bytes([*e, *f, *g, *h]),
            },
            (kind::MD5, digest) if digest.len() == 16 => TcpOption::Md5(digest),
            (kind::AO, [key_id, rnext_key_id, mac @ ..]) => TcpOption::Ao {
                key_id: *key_id,
                rnext_key_id: *rnext_key_id,
                mac,
            },
            (kind::MPTCP, data) if !data.is_empty() => TcpOption::Mptcp(data),
            (kind::FAST_OPEN, cookie) => TcpOption::FastOpen(cookie),
            (kind::EXPERIMENT_1 | kind::EXPERIMENT_2, [x0, x1, cookie @ ..])
                if [*x0, *x1] == FAST_OPEN_EXID =>
            {
                TcpOption::FastOpen(cookie)
            }
            (
                kind::MSS
                | kind::WINDOW_SCALE
                | kind::SACK_PERMITTED
                | kind::SACK
                | kind::TIMESTAMPS
                | kind::MD5
                | kind::AO
                | kind::MPTCP,
                _,
            ) => bad,
            (kind, data) => TcpOption::Unknown { kind, data },
        };
        Some(OptionItem { offset: at, option })
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Seed 003 frame 1: SYN 58154 -> 5201 with mss 1460, sackOK, TS, nop, wscale 7.
    fn syn() -> Vec<u8> {
        let mut s = vec![
            0xe3, 0x2a, 0x14, 0x51, 0x17, 0x36, 0xbd, 0xd5, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0,
            0x36, 0x1a, 0, 0,
        ];
        s.extend_from_slice(&[2, 4, 0x05, 0xb4, 4, 2, 8, 10]);
        s.extend_from_slice(&[0xa3, 0x1e, 0x92, 0x3b, 0, 0, 0, 0, 1, 3, 3, 7]);
        s
    }

    fn kinds(bytes: &[u8]) -> Vec<TcpOption<'_>> {
        Packet::new_lax(bytes)
            .map(|p| {
                let declared = p.header_len() - HEADER_LEN;
                Options::new(
                    &bytes[HEADER_LEN..bytes.len().min(HEADER_LEN + declared)],
                    declared,
                )
                .map(|i| i.option)
                .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_quote_of_eight_bytes_holds_the_sequence_number() {
        let quote = [0x9c, 0x40, 0, 80, 0x6d, 0x73, 0x73, 0x04];
        assert_eq!(quoted_seq(&quote), Some(0x6d73_7304));
        assert_eq!(quoted_seq(&quote[..7]), None);
    }

    #[test]
    fn seed_syn() {
        let bytes = syn();
        let p = Packet::new_checked(&bytes[..]);
        let p = p.as_ref().ok();
        assert_eq!(p.map(Packet::src_port), Some(58154));
        assert_eq!(p.map(Packet::dst_port), Some(5201));
        assert_eq!(p.map(Packet::seq_number), Some(389_463_509));
        assert_eq!(p.map(|p| p.flags().is_syn()), Some(true));
        assert_eq!(p.map(Packet::window), Some(64240));
        assert_eq!(
            p.map(Packet::mss_option),
            Some(MssOption::Known(Some(1460)))
        );
        assert_eq!(
            kinds(&bytes),
            [
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamps {
                    tsval: 2_736_689_723,
                    tsecr: 0
                },
                TcpOption::Nop,
                TcpOption::WindowScale(7)
            ]
        );
    }

    #[test]
    fn unknown_kind_before_mss_does_not_hide_it() {
        // MPTCP MP_CAPABLE (kind 30, len 4) and an unknown kind 99 before the MSS: a
        // walker that stops at the first unknown kind loses the MSS.
        let mut s = syn()[..20].to_vec();
        s[12] = 0x80;
        s.extend_from_slice(&[30, 4, 0x00, 0x81, 99, 3, 0xaa, 2, 4, 0x05, 0x78, 0]);
        let p = Packet::new_checked(&s[..]);
        assert_eq!(p.map(|p| p.mss_option()), Ok(MssOption::Known(Some(1400))));
    }

    #[test]
    fn zero_and_one_lengths_end_the_walk() {
        for bad_len in [0u8, 1] {
            let mut s = syn()[..20].to_vec();
            s[12] = 0x60;
            s.extend_from_slice(&[77, bad_len, 2, 4]);
            let all = kinds(&s);
            assert_eq!(
                all,
                [TcpOption::Malformed {
                    kind: 77,
                    length: Some(bad_len)
                }]
            );
            assert_eq!(
                Packet::new_checked(&s[..]).map(|p| p.mss_option()),
                Ok(MssOption::Unknown)
            );
        }
    }

    #[test]
    fn snaplen_cut_is_unknown_not_absent() {
        let bytes = syn();
        for cut in HEADER_LEN..bytes.len() {
            let p = Packet::new_lax(&bytes[..cut]);
            let expected = if cut >= HEADER_LEN + 4 {
                MssOption::Known(Some(1460))
            } else {
                MssOption::Unknown
            };
            assert_eq!(p.map(|p| p.mss_option()), Ok(expected), "cut at {cut}");
        }
        // No MSS option, header complete: known absent.
        let mut no_mss = syn()[..20].to_vec();
        no_mss[12] = 0x60;
        no_mss.extend_from_slice(&[1, 1, 4, 2]);
        assert_eq!(
            Packet::new_checked(&no_mss[..]).map(|p| p.mss_option()),
            Ok(MssOption::Known(None))
        );
        // Same, cut: unknown.
        assert_eq!(
            Packet::new_lax(&no_mss[..22]).map(|p| p.mss_option()),
            Ok(MssOption::Unknown)
        );
    }

    #[test]
    fn known_kind_with_wrong_length_is_skipped() {
        let mut s = syn()[..20].to_vec();
        s[12] = 0x80;
        s.extend_from_slice(&[2, 3, 5, 1, 2, 4, 5, 0xb4, 0, 0, 0, 0]);
        let all = kinds(&s);
        assert_eq!(all[0], TcpOption::BadLength { kind: 2, length: 3 });
        assert!(all.contains(&TcpOption::Mss(1460)));
    }

    #[test]
    fn fast_open_both_forms() {
        let mut s = syn()[..20].to_vec();
        s[12] = 0x80;
        s.extend_from_slice(&[34, 4, 0xab, 0xcd, 254, 6, 0xf9, 0x89, 0x11, 0x22, 0, 0]);
        let all = kinds(&s);
        assert_eq!(all[0], TcpOption::FastOpen(&[0xab, 0xcd]));
        assert_eq!(all[1], TcpOption::FastOpen(&[0x11, 0x22]));
    }

    #[test]
    fn prefixes_below_20_are_truncated() {
        let bytes = syn();
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_lax(&bytes[..len]).err(),
                Some(Error::Truncated {
                    layer: Layer::Tcp,
                    needed: 20,
                    available: len
                })
            );
        }
        for len in HEADER_LEN..bytes.len() {
            assert_eq!(
                Packet::new_checked(&bytes[..len]).err(),
                Some(Error::Truncated {
                    layer: Layer::Tcp,
                    needed: 40,
                    available: len
                })
            );
        }
    }

    #[test]
    fn writes_in_place() {
        let mut bytes = syn();
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.set_flags(Flags::SYN | Flags::ACK);
        p.set_src_port(1);
        assert_eq!(p.flags(), Flags(0x012));
        assert_eq!(p.header_len(), 40);
        assert_eq!(p.src_port(), 1);
        p.set_header_len(24);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.flags(), Flags(0x012));
    }
}
