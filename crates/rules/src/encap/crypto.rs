//! IPsec ESP and OpenVPN: encapsulations whose size depends on the payload, because
//! ciphers pad to their block size.

use crate::units::IpVersion;

use super::Part;

/// ESP mode (RFC 4303 section 3.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EspMode {
    /// A new outer IP header; the whole inner packet is encrypted.
    Tunnel,
    /// The packet's own IP header stays in front; only its payload is encrypted.
    Transport,
}

/// ESP encryption transform.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EspCipher {
    /// AES-GCM with a 16-, 12- or 8-byte ICV (RFC 4106): 8-byte IV, 4-byte alignment.
    AesGcm {
        /// ICV length in bytes.
        icv: u8,
    },
    /// AES-CBC (RFC 3602): 16-byte IV, 16-byte blocks.
    AesCbc,
    /// AES-CTR (RFC 3686): 8-byte IV, 4-byte alignment.
    AesCtr,
    /// ChaCha20-Poly1305 (RFC 7634): 8-byte IV, 16-byte tag, 4-byte alignment.
    ChaCha20Poly1305,
    /// 3DES-CBC (RFC 2451): 8-byte IV, 8-byte blocks.
    TripleDes,
    /// NULL encryption (RFC 2410): no IV, 4-byte alignment, integrity only.
    Null,
}

impl EspCipher {
    /// Initialization vector bytes sent in each packet.
    pub const fn iv_len(self) -> u32 {
        match self {
            EspCipher::AesCbc => 16,
            EspCipher::AesGcm { .. }
            | EspCipher::AesCtr
            | EspCipher::ChaCha20Poly1305
            | EspCipher::TripleDes => 8,
            EspCipher::Null => 0,
        }
    }

    /// The multiple the encrypted part (payload, padding, 2-byte trailer) is padded
    /// to: the cipher block, and at least 4 (RFC 4303 section 2.4).
    pub const fn block(self) -> u32 {
        match self {
            EspCipher::AesCbc => 16,
            EspCipher::TripleDes => 8,
            _ => 4,
        }
    }

    /// The ICV of an AEAD cipher, `None` for ciphers that need a separate integrity
    /// algorithm.
    pub const fn aead_icv(self) -> Option<u32> {
        match self {
            EspCipher::AesGcm { icv } => Some(icv as u32),
            EspCipher::ChaCha20Poly1305 => Some(16),
            _ => None,
        }
    }

    /// Canonical name.
    pub const fn name(self) -> &'static str {
        match self {
            EspCipher::AesGcm { icv: 8 } => "aes-gcm8",
            EspCipher::AesGcm { icv: 12 } => "aes-gcm12",
            EspCipher::AesGcm { .. } => "aes-gcm",
            EspCipher::AesCbc => "aes-cbc",
            EspCipher::AesCtr => "aes-ctr",
            EspCipher::ChaCha20Poly1305 => "chacha20-poly1305",
            EspCipher::TripleDes => "3des",
            EspCipher::Null => "null",
        }
    }
}

/// Integrity algorithm for non-AEAD ESP and OpenVPN CBC, with its truncated ICV or
/// full HMAC length.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Integrity {
    /// HMAC-MD5-96 (RFC 2403): 12.
    Md5,
    /// HMAC-SHA1-96 (RFC 2404): 12 in ESP; OpenVPN sends the full 20.
    Sha1,
    /// HMAC-SHA-256-128 (RFC 4868): 16 in ESP; OpenVPN 32.
    Sha256,
    /// HMAC-SHA-384-192 (RFC 4868): 24 in ESP; OpenVPN 48.
    Sha384,
    /// HMAC-SHA-512-256 (RFC 4868): 32 in ESP; OpenVPN 64.
    Sha512,
    /// AES-XCBC-MAC-96 (RFC 3566): 12.
    Xcbc,
}

impl Integrity {
    /// Truncated ICV in ESP.
    pub const fn esp_icv(self) -> u32 {
        match self {
            Integrity::Md5 | Integrity::Sha1 | Integrity::Xcbc => 12,
            Integrity::Sha256 => 16,
            Integrity::Sha384 => 24,
            Integrity::Sha512 => 32,
        }
    }

    /// Untruncated HMAC, as OpenVPN's `--auth` sends it.
    pub const fn full_len(self) -> u32 {
        match self {
            Integrity::Md5 => 16,
            Integrity::Sha1 => 20,
            Integrity::Sha256 => 32,
            Integrity::Sha384 => 48,
            Integrity::Sha512 => 64,
            Integrity::Xcbc => 16,
        }
    }

    /// Canonical name.
    pub const fn name(self) -> &'static str {
        match self {
            Integrity::Md5 => "md5",
            Integrity::Sha1 => "sha1",
            Integrity::Sha256 => "sha256",
            Integrity::Sha384 => "sha384",
            Integrity::Sha512 => "sha512",
            Integrity::Xcbc => "xcbc",
        }
    }
}

/// An ESP security association's shape.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Esp {
    /// Tunnel or transport.
    pub mode: EspMode,
    /// Encryption.
    pub cipher: EspCipher,
    /// Integrity (`None` only with an AEAD cipher).
    pub integrity: Option<Integrity>,
    /// UDP encapsulation for NAT traversal (RFC 3948): 8 more bytes.
    pub nat_t: bool,
    /// Outer IP version in tunnel mode.
    pub outer: IpVersion,
}

/// ESP header: SPI and sequence number (RFC 4303 section 2).
const ESP_HEADER: u32 = 8;
/// ESP trailer: pad length and next header (RFC 4303 section 2.4-2.6).
const ESP_TRAILER: u32 = 2;
/// UDP header.
const UDP: u32 = 8;

impl Esp {
    fn icv(&self) -> u32 {
        self.cipher
            .aead_icv()
            .or(self.integrity.map(Integrity::esp_icv))
            .unwrap_or(0)
    }

    /// The bytes ESP adds around a carried IP packet of `carried_len` bytes whose own
    /// header is `carried`'s. RFC 4303 section 2.4: the encrypted part (payload,
    /// padding, the 2-byte trailer) is padded up to the cipher's block (at least 4).
    pub(super) fn parts(&self, carried_len: u32, carried: IpVersion) -> Vec<Part> {
        let block = self.cipher.block();
        // Tunnel mode encrypts the whole inner packet; transport mode only what
        // follows the packet's own IP header.
        let encrypted = match self.mode {
            EspMode::Tunnel => carried_len,
            EspMode::Transport => carried_len.saturating_sub(carried.header_len()),
        };
        let padding = (encrypted + ESP_TRAILER).div_ceil(block) * block - encrypted - ESP_TRAILER;
        let mut parts = Vec::new();
        if self.mode == EspMode::Tunnel {
            parts.push(Part::head(
                outer_ip_label(self.outer),
                self.outer.header_len(),
            ));
        }
        let position = match self.mode {
            EspMode::Tunnel => Part::head,
            EspMode::Transport => Part::after_ip,
        };
        if self.nat_t {
            parts.push(position("UDP (NAT-T)", UDP));
        }
        parts.push(position("ESP", ESP_HEADER));
        if self.cipher.iv_len() > 0 {
            parts.push(position("ESP IV", self.cipher.iv_len()));
        }
        if padding > 0 {
            parts.push(Part::tail("ESP padding", padding));
        }
        parts.push(Part::tail("ESP trailer", ESP_TRAILER));
        if self.icv() > 0 {
            parts.push(Part::tail("ESP ICV", self.icv()));
        }
        parts
    }

    /// One line on what it is.
    pub fn describe(&self) -> String {
        let mode = match self.mode {
            EspMode::Tunnel => format!("tunnel mode over {}", self.outer),
            EspMode::Transport => "transport mode".to_string(),
        };
        let integrity = match (self.cipher.aead_icv(), self.integrity) {
            (Some(icv), _) => format!("{icv}-byte AEAD ICV"),
            (None, Some(i)) => format!("{} ({}-byte ICV)", i.name(), i.esp_icv()),
            (None, None) => "no integrity".to_string(),
        };
        let nat = if self.nat_t { ", NAT-T UDP" } else { "" };
        format!(
            "IPsec ESP {mode}, {} ({}-byte IV, {}-byte blocks), {integrity}{nat}",
            self.cipher.name(),
            self.cipher.iv_len(),
            self.cipher.block()
        )
    }
}

/// OpenVPN's transport.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpenVpnTransport {
    /// UDP (the default).
    Udp,
    /// TCP: every packet carries a 2-byte length prefix in a TCP byte stream.
    Tcp,
}

/// OpenVPN data-channel cipher.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpenVpnCipher {
    /// AES-GCM (the default `--data-ciphers` since 2.5).
    AesGcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
    /// AES-CBC with an HMAC (`--auth`), the pre-2.4 default.
    AesCbc(Integrity),
}

/// An OpenVPN tunnel in `dev tun` mode with `P_DATA_V2` packets.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct OpenVpn {
    /// UDP or TCP.
    pub transport: OpenVpnTransport,
    /// Cipher.
    pub cipher: OpenVpnCipher,
    /// A compression framing byte is present (`compress` / `comp-lzo` configured,
    /// even when compression is off).
    pub compression_byte: bool,
    /// Outer IP version.
    pub outer: IpVersion,
}

/// `P_DATA_V2`: 1 byte opcode/key id and a 3-byte peer id.
const OPENVPN_OPCODE: u32 = 4;
/// The packet ID (replay protection), 4 bytes.
const OPENVPN_PACKET_ID: u32 = 4;
/// Outer TCP header when the transport is TCP: 20 plus 12 of timestamps (Linux
/// default); an approximation, since TCP mode carries a byte stream.
const OPENVPN_TCP_HEADER: u32 = 20;
const OPENVPN_TCP_TIMESTAMPS: u32 = 12;

impl OpenVpn {
    /// The bytes OpenVPN adds around a carried packet of `carried_len` bytes
    /// (OpenVPN's data channel: `doc/` "Data channel packet format"; AEAD since 2.4,
    /// CBC+HMAC with PKCS#7 padding before).
    pub(super) fn parts(&self, carried_len: u32) -> Vec<Part> {
        let mut parts = vec![Part::head(
            outer_ip_label(self.outer),
            self.outer.header_len(),
        )];
        match self.transport {
            OpenVpnTransport::Udp => parts.push(Part::head("UDP", UDP)),
            OpenVpnTransport::Tcp => {
                parts.push(Part::head("TCP", OPENVPN_TCP_HEADER));
                parts.push(Part::head("TCP timestamps", OPENVPN_TCP_TIMESTAMPS));
                parts.push(Part::head("OpenVPN length", 2));
            }
        }
        parts.push(Part::head("OpenVPN opcode+peer", OPENVPN_OPCODE));
        let comp = u32::from(self.compression_byte);
        match self.cipher {
            OpenVpnCipher::AesGcm | OpenVpnCipher::ChaCha20Poly1305 => {
                parts.push(Part::head("OpenVPN packet ID", OPENVPN_PACKET_ID));
                parts.push(Part::head("AEAD tag", 16));
            }
            OpenVpnCipher::AesCbc(integrity) => {
                parts.push(Part::head("HMAC", integrity.full_len()));
                parts.push(Part::head("CBC IV", 16));
                parts.push(Part::head("OpenVPN packet ID", OPENVPN_PACKET_ID));
                // PKCS#7 always adds 1..=16 bytes to reach the 16-byte block.
                let plain = OPENVPN_PACKET_ID + comp + carried_len;
                let padding = (plain + 1).div_ceil(16) * 16 - plain;
                parts.push(Part::tail("PKCS#7 padding", padding));
            }
        }
        if comp > 0 {
            parts.push(Part::head("compression byte", comp));
        }
        parts
    }

    /// One line on what it is.
    pub fn describe(&self) -> String {
        let transport = match self.transport {
            OpenVpnTransport::Udp => "UDP",
            OpenVpnTransport::Tcp => "TCP (one tunnel packet per outer segment assumed)",
        };
        let cipher = match self.cipher {
            OpenVpnCipher::AesGcm => "AES-GCM".to_string(),
            OpenVpnCipher::ChaCha20Poly1305 => "ChaCha20-Poly1305".to_string(),
            OpenVpnCipher::AesCbc(i) => format!("AES-CBC + HMAC-{}", i.name().to_uppercase()),
        };
        let comp = if self.compression_byte {
            ", compression framing byte"
        } else {
            ""
        };
        format!(
            "OpenVPN tun over {transport}/{}, {cipher}, P_DATA_V2{comp}",
            self.outer
        )
    }
}

/// "outer IPv4" / "outer IPv6".
pub(super) const fn outer_ip_label(version: IpVersion) -> &'static str {
    match version {
        IpVersion::V4 => "outer IPv4",
        IpVersion::V6 => "outer IPv6",
    }
}
