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
//!   succeed, no accessor of that value panics.
//! - `new_unchecked` skips validation: accessors may then panic on short input.
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

pub mod checksum;
mod error;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod packet;
pub mod tcp;

pub use error::{Error, Layer};

/// Reads a big-endian u16 at `at`; callers have checked the length.
fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

/// Reads a big-endian u32 at `at`; callers have checked the length.
fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

fn set_be16(data: &mut [u8], at: usize, value: u16) {
    data[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

fn set_be32(data: &mut [u8], at: usize, value: u32) {
    data[at..at + 4].copy_from_slice(&value.to_be_bytes());
}
