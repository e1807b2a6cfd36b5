//! Zero-copy typed views over IPv4, IPv6 and TCP bytes, and the Internet checksum:
//! where mss reads and writes packet bytes.
//!
//! Each header type is a `Packet<T: AsRef<[u8]>>` over borrowed (or owned) bytes:
//! with `T: AsMut<[u8]>` the same type writes in place. Field offsets are named
//! ranges; nothing is copied or allocated.
//!
//! - [`ipv4`], [`ipv6`] (extension headers), [`tcp`] (options, the strict MSS walk
//!   and its in-place rewrite), [`icmp`] (errors and the packets they quote),
//!   [`checksum`] (RFC 1071, RFC 1624).
//! - [`packet`]: the lax decoder from a captured frame to its innermost IP packet
//!   (link layers, tunnels), for analysis.
//! - [`strict`]: the strict one, for edits in place: offsets that are safe to
//!   write at, or why not; inserting an MSS option as `xt_TCPMSS` does.
//! - [`reassembly`]: IPv4 and IPv6 fragments put back together, as Linux does.
//! - [`syn`]: building a SYN to send from a raw socket, and describing one that
//!   arrived.
//!
//! # Panic contract
//!
//! Parsing untrusted input never panics, never loops without end and never reads
//! past the bytes given:
//! - `new_checked` (and, for TCP, `new_lax`) validate lengths first; once they
//!   succeed, every field an accessor reads is there.
//! - `new_unchecked` skips validation: accessors then read bytes that are not there
//!   as zero, and setters leave them unwritten.
//! - Nothing panics either way: every index is checked (`clippy::indexing_slicing`
//!   is denied in this crate). A check that fails takes a cold branch (to zeros or
//!   an empty slice) rather than selecting an address, which would hold back every
//!   load behind it: measured, `mss analyze` and the clamp run as fast as they did
//!   with panicking indexing.
//! - Walks over options and extension headers advance on every step and stop at the
//!   end of the captured bytes; unknown option kinds and extension headers are data,
//!   not errors.
//!
//! # Strict and lax
//!
//! A capture cut by its snaplen is still evidence. [`tcp::Packet::new_lax`] needs only
//! the fixed TCP header and reports an option cut off by the capture as
//! [`tcp::TcpOption::Cut`] ("unknown"), never as "absent". Code that rewrites packets
//! uses [`tcp::Packet::new_checked`], which needs the whole header.
//!
//! ```
//! use mss_wire::tcp::{MssOption, Packet};
//! // A SYN with MSS 1460, cut by the snaplen right after its fixed header.
//! let mut syn = [0u8; 24];
//! syn[12] = 0x60; // data offset: 6 words
//! syn[13] = 0x02; // SYN
//! syn[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
//! assert_eq!(Packet::new_lax(&syn[..]).map(|p| p.mss_option()), Ok(MssOption::Known(Some(1460))));
//! assert_eq!(Packet::new_lax(&syn[..22]).map(|p| p.mss_option()), Ok(MssOption::Unknown));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::indexing_slicing)]

pub mod checksum;
mod error;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod packet;
pub mod reassembly;
pub mod strict;
pub mod syn;
pub mod tcp;

pub use error::{Error, Layer};

/// The IP version of a packet. (mss-rules has the same two values for its
/// formulas; this crate depends on nothing.)
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// IPv4 (RFC 791).
    V4,
    /// IPv6 (RFC 8200).
    V6,
}

/// The `N` bytes at `at`, if all are there. One bounds check, which the optimizer
/// folds away where a view has checked the length before. (`at` is an offset into,
/// or just past, a slice: `at + N` cannot overflow.)
#[inline]
fn array<const N: usize>(data: &[u8], at: usize) -> Option<&[u8; N]> {
    data.get(at..at + N).and_then(|bytes| bytes.try_into().ok())
}

/// The first `N` bytes (a fixed header), or `N` zeros when fewer are there (only
/// after `new_unchecked`). The views read their fixed fields from here: one bounds
/// check, which the optimizer shares between the accessors of one view.
#[inline]
fn fixed<const N: usize>(data: &[u8]) -> &[u8; N] {
    match data.first_chunk() {
        Some(header) => header,
        None => zeros(),
    }
}

/// `N` zeros, on a cold path: the length check becomes a branch the CPU predicts
/// and looks past, where a select of the address would hold back every load of a
/// field until the length is compared.
#[cold]
fn zeros<const N: usize>() -> &'static [u8; N] {
    &[0; N]
}

/// `data[range]`, or nothing when the range is not all there. The miss is a cold
/// branch: `get(..).unwrap_or_default()` would select the slice's address, and
/// every load through it would wait for the length compare.
#[inline]
fn slice(data: &[u8], range: core::ops::Range<usize>) -> &[u8] {
    match data.get(range) {
        Some(part) => part,
        None => empty(),
    }
}

/// [`slice`], writable.
#[inline]
fn slice_mut(data: &mut [u8], range: core::ops::Range<usize>) -> &mut [u8] {
    match data.get_mut(range) {
        Some(part) => part,
        None => empty_mut(),
    }
}

/// `data[from..]`, or nothing, as [`slice`].
#[inline]
fn tail(data: &[u8], from: usize) -> &[u8] {
    match data.get(from..) {
        Some(part) => part,
        None => empty(),
    }
}

/// [`tail`], writable.
#[inline]
fn tail_mut(data: &mut [u8], from: usize) -> &mut [u8] {
    match data.get_mut(from..) {
        Some(part) => part,
        None => empty_mut(),
    }
}

#[cold]
fn empty<'a>() -> &'a [u8] {
    &[]
}

#[cold]
fn empty_mut<'a>() -> &'a mut [u8] {
    &mut []
}

/// [`array`], writable.
#[inline]
fn array_mut<const N: usize>(data: &mut [u8], at: usize) -> Option<&mut [u8; N]> {
    data.get_mut(at..at + N)
        .and_then(|bytes| bytes.try_into().ok())
}

/// Reads a big-endian u16 at `at`; 0 when the bytes end before it (the views
/// check lengths first, so that only happens after `new_unchecked`).
#[inline]
fn be16(data: &[u8], at: usize) -> u16 {
    array(data, at).map_or(0, |bytes| u16::from_be_bytes(*bytes))
}

/// Reads a big-endian u32 at `at`; 0 when the bytes end before it.
#[inline]
fn be32(data: &[u8], at: usize) -> u32 {
    array(data, at).map_or(0, |bytes| u32::from_be_bytes(*bytes))
}

/// Reads the byte at `at`; 0 when the bytes end before it.
#[inline]
fn byte(data: &[u8], at: usize) -> u8 {
    data.get(at).copied().unwrap_or(0)
}

/// Writes a big-endian u16 at `at`; nothing when the bytes end before its end.
#[inline]
fn set_be16(data: &mut [u8], at: usize, value: u16) {
    if let Some(bytes) = array_mut(data, at) {
        *bytes = value.to_be_bytes();
    }
}

/// Writes a big-endian u32 at `at`; nothing when the bytes end before its end.
#[inline]
fn set_be32(data: &mut [u8], at: usize, value: u32) {
    if let Some(bytes) = array_mut(data, at) {
        *bytes = value.to_be_bytes();
    }
}

/// Writes the byte at `at`; nothing when the bytes end before it.
#[inline]
fn set_byte(data: &mut [u8], at: usize, value: u8) {
    if let Some(slot) = data.get_mut(at) {
        *slot = value;
    }
}
