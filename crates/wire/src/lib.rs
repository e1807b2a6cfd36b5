//! Zero-copy typed views over IPv4, IPv6 and TCP bytes, and the Internet checksum.
//!
//! Each header type is a `Packet<T: AsRef<[u8]>>` over borrowed (or owned) bytes:
//! with `T: AsMut<[u8]>` the same type writes in place. Field offsets are named
//! ranges; nothing is copied or allocated.
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
//!   is denied in this crate), and the checks on fixed fields are ones the optimizer
//!   can share or fold away (measured: `mss analyze` runs the same instruction count
//!   as with panicking indexing).
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
pub mod tcp;

pub use error::{Error, Layer};

/// The `N` bytes at `at`, if all are there. One bounds check, which the optimizer
/// folds away where a view has checked the length before.
#[inline]
fn array<const N: usize>(data: &[u8], at: usize) -> Option<&[u8; N]> {
    data.get(at..at.saturating_add(N))
        .and_then(|bytes| bytes.try_into().ok())
}

/// The first `N` bytes (a fixed header), or `N` zeros when fewer are there (only
/// after `new_unchecked`). The views read their fixed fields from here: one bounds
/// check, which the optimizer shares between the accessors of one view.
#[inline]
fn fixed<const N: usize>(data: &[u8]) -> &[u8; N] {
    data.first_chunk().unwrap_or(&[0; N])
}

/// [`array`], writable.
#[inline]
fn array_mut<const N: usize>(data: &mut [u8], at: usize) -> Option<&mut [u8; N]> {
    data.get_mut(at..at.saturating_add(N))
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
