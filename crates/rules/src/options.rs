//! TCP options carried on data segments and the bytes they cost.
//!
//! The TCP header has 40 bytes of option space (data offset is 4 bits of 32-bit
//! words: 60 - 20, RFC 9293 section 3.1). Sizes here are as stacks lay them out,
//! padded with NOPs to 4-byte boundaries.

use core::fmt;
use core::str::FromStr;

/// Option space in a TCP header (RFC 9293 section 3.1).
pub const MAX_OPTION_BYTES: u32 = 40;

/// Timestamps option: 10 bytes, padded with two NOPs to 12 (RFC 7323 section 3.2,
/// Appendix A; Linux `TCPOLEN_TSTAMP_ALIGNED`).
pub const TIMESTAMPS_BYTES: u32 = 12;

/// SACK option base: kind and length, padded with two NOPs to 4 (RFC 2018 section 3;
/// Linux `TCPOLEN_SACK_BASE_ALIGNED`).
pub const SACK_BASE_BYTES: u32 = 4;

/// One SACK block: left and right edge, 8 bytes (RFC 2018 section 3).
pub const SACK_BLOCK_BYTES: u32 = 8;

/// TCP-MD5 signature option: 18 bytes padded to 20 (RFC 2385 section 3.0; Linux
/// `TCPOLEN_MD5SIG_ALIGNED`).
pub const MD5_BYTES: u32 = 20;

/// Default TCP-AO MAC length: 12 bytes, HMAC-SHA-1-96 and AES-128-CMAC-96 (RFC 5926
/// section 3.1).
pub const AO_DEFAULT_MAC_LEN: u8 = 12;

/// The options a sender puts on its data segments.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Timestamps negotiated: on every segment.
    pub timestamps: bool,
    /// SACK blocks in this segment (0 to 4).
    pub sack_blocks: u8,
    /// TCP-MD5 signature on every segment.
    pub md5: bool,
    /// TCP-AO with this MAC length, on every segment.
    pub ao_mac_len: Option<u8>,
}

impl SegmentOptions {
    /// Bytes of timestamps, MD5 and AO: the options on *every* segment, which Linux
    /// takes off its cached send MSS (`tp->tcp_header_len - sizeof(struct tcphdr)`).
    pub fn fixed_bytes(&self) -> u32 {
        let ts = if self.timestamps { TIMESTAMPS_BYTES } else { 0 };
        let md5 = if self.md5 { MD5_BYTES } else { 0 };
        ts + md5 + self.ao_mac_len.map_or(0, ao_bytes)
    }

    /// Bytes of the SACK option with its blocks (0 without blocks).
    pub fn sack_bytes(&self) -> u32 {
        sack_bytes(self.sack_blocks)
    }

    /// All option bytes on the segment.
    pub fn total_bytes(&self) -> u32 {
        self.fixed_bytes() + self.sack_bytes()
    }

    /// How many SACK blocks fit beside the fixed options: 4 alone, 3 with timestamps,
    /// 2 with MD5 (Linux `tcp_established_options()`).
    pub fn max_sack_blocks(&self) -> u8 {
        let room = MAX_OPTION_BYTES.saturating_sub(self.fixed_bytes());
        let blocks = room.saturating_sub(SACK_BASE_BYTES) / SACK_BLOCK_BYTES;
        u8::try_from(blocks.min(4)).unwrap_or(4)
    }

    /// Checks that the options fit in 40 bytes and the combination is possible.
    pub fn check(&self) -> Result<(), OptionsError> {
        if self.md5 && self.ao_mac_len.is_some() {
            // RFC 5925 section 2.2: TCP-AO and TCP-MD5 must not be used on the same
            // connection.
            return Err(OptionsError::Md5WithAo);
        }
        if let Some(mac) = self.ao_mac_len {
            if mac == 0 || ao_bytes(mac) > MAX_OPTION_BYTES {
                return Err(OptionsError::AoMacLen(mac));
            }
        }
        if self.sack_blocks > 4 || self.total_bytes() > MAX_OPTION_BYTES {
            return Err(OptionsError::TooLarge {
                bytes: self.total_bytes(),
                max_sack_blocks: self.max_sack_blocks(),
            });
        }
        Ok(())
    }

    /// Each option with its size, in the order they are listed.
    pub fn parts(&self) -> Vec<(&'static str, u32)> {
        let mut parts = Vec::new();
        if self.timestamps {
            parts.push(("timestamps", TIMESTAMPS_BYTES));
        }
        if self.sack_blocks > 0 {
            parts.push(("SACK", self.sack_bytes()));
        }
        if self.md5 {
            parts.push(("TCP-MD5", MD5_BYTES));
        }
        if let Some(mac) = self.ao_mac_len {
            parts.push(("TCP-AO", ao_bytes(mac)));
        }
        parts
    }
}

/// The SACK option with `blocks` blocks, aligned: `4 + 8n` (0 for no blocks).
pub fn sack_bytes(blocks: u8) -> u32 {
    if blocks == 0 {
        0
    } else {
        SACK_BASE_BYTES + SACK_BLOCK_BYTES * u32::from(blocks)
    }
}

/// The TCP-AO option with a `mac_len`-byte MAC: kind, length, KeyID, RNextKeyID and
/// the MAC (RFC 5925 section 2.2), padded to 4: `round_up(mac_len + 4, 4)`.
pub fn ao_bytes(mac_len: u8) -> u32 {
    (u32::from(mac_len) + 4).div_ceil(4) * 4
}

/// Why an option list is not possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsError {
    /// The list could not be read.
    Parse {
        /// The whole input.
        input: String,
        /// The part that was wrong.
        item: String,
    },
    /// More than 40 bytes.
    TooLarge {
        /// Bytes the combination needs.
        bytes: u32,
        /// SACK blocks that would fit with the other options.
        max_sack_blocks: u8,
    },
    /// TCP-MD5 and TCP-AO together.
    Md5WithAo,
    /// A TCP-AO MAC length that does not fit.
    AoMacLen(u8),
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionsError::Parse { input, item } => write!(
                f,
                "cannot read option {item:?} in {input:?}: expected a comma-separated list \
                 of ts, sack, sack:N (N = 1..4 blocks), md5, ao, ao:MACLEN, or none"
            ),
            OptionsError::TooLarge {
                bytes,
                max_sack_blocks,
            } => write!(
                f,
                "these options need {bytes} bytes but a TCP header has room for \
                 {MAX_OPTION_BYTES} (with the other options, at most {max_sack_blocks} \
                 SACK blocks fit)"
            ),
            OptionsError::Md5WithAo => f.write_str(
                "md5 and ao cannot be combined: RFC 5925 section 2.2 forbids TCP-MD5 and \
                 TCP-AO on the same connection",
            ),
            OptionsError::AoMacLen(mac) => write!(
                f,
                "a TCP-AO MAC of {mac} bytes does not fit: use 1..36 (12 and 16 are common)"
            ),
        }
    }
}

impl std::error::Error for OptionsError {}

impl FromStr for SegmentOptions {
    type Err = OptionsError;

    /// Reads `ts,sack:2,md5,ao:16` (or `none`, or the empty string).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let parse_error = |item: &str| OptionsError::Parse {
            input: input.to_string(),
            item: item.to_string(),
        };
        let mut options = SegmentOptions::default();
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed == "none" {
            return Ok(options);
        }
        for item in trimmed.split(',') {
            let item = item.trim();
            let (name, value) = match item.split_once(':') {
                Some((name, value)) => (name, Some(value)),
                None => (item, None),
            };
            match (name, value) {
                ("ts" | "timestamps", None) => options.timestamps = true,
                ("sack", None) => options.sack_blocks = 1,
                ("sack", Some(n)) => {
                    options.sack_blocks = match n.parse::<u8>() {
                        Ok(n @ 1..=4) => n,
                        _ => return Err(parse_error(item)),
                    }
                }
                ("md5", None) => options.md5 = true,
                ("ao", None) => options.ao_mac_len = Some(AO_DEFAULT_MAC_LEN),
                ("ao", Some(n)) => {
                    options.ao_mac_len = Some(n.parse::<u8>().map_err(|_| parse_error(item))?)
                }
                _ => return Err(parse_error(item)),
            }
        }
        options.check()?;
        Ok(options)
    }
}

impl fmt::Display for SegmentOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        if self.timestamps {
            items.push("ts".to_string());
        }
        if self.sack_blocks > 0 {
            items.push(format!("sack:{}", self.sack_blocks));
        }
        if self.md5 {
            items.push("md5".to_string());
        }
        if let Some(mac) = self.ao_mac_len {
            items.push(format!("ao:{mac}"));
        }
        if items.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&items.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<SegmentOptions, OptionsError> {
        s.parse()
    }

    #[test]
    fn sizes() {
        assert_eq!(parse("ts").map(|o| o.total_bytes()), Ok(12));
        assert_eq!(parse("sack:2").map(|o| o.total_bytes()), Ok(20));
        assert_eq!(parse("md5").map(|o| o.total_bytes()), Ok(20));
        // RFC 5925: MAC 12 -> 16, MAC 16 -> 20.
        assert_eq!(parse("ao").map(|o| o.total_bytes()), Ok(16));
        assert_eq!(parse("ao:16").map(|o| o.total_bytes()), Ok(20));
        assert_eq!(parse("ts,sack:3").map(|o| o.total_bytes()), Ok(40));
        assert_eq!(parse("none").map(|o| o.total_bytes()), Ok(0));
        assert_eq!(parse("").map(|o| o.total_bytes()), Ok(0));
    }

    #[test]
    fn sack_budget() {
        assert!(parse("ts,sack:4").is_err());
        assert!(parse("sack:4").is_ok());
        assert!(parse("md5,sack:3").is_err());
        assert_eq!(parse("md5").map(|o| o.max_sack_blocks()), Ok(2));
        assert_eq!(parse("ts").map(|o| o.max_sack_blocks()), Ok(3));
        assert_eq!(parse("").map(|o| o.max_sack_blocks()), Ok(4));
    }

    #[test]
    fn bad_input_is_quoted() {
        let err = parse("ts,sak")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("\"sak\""), "{err}");
        assert!(err.contains("\"ts,sak\""), "{err}");
        assert!(parse("sack:0").is_err());
        assert!(parse("sack:5").is_err());
        assert!(parse("md5,ao").is_err());
        assert!(parse("ao:37").is_err());
        assert!(parse("ao:36").is_ok());
    }

    #[test]
    fn display_round_trips() {
        for s in ["ts", "ts,sack:2", "md5", "ao:16", "none"] {
            assert_eq!(parse(s).map(|o| o.to_string()).as_deref(), Ok(s));
        }
    }
}
