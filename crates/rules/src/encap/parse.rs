//! Reading and writing encapsulation names: `pppoe`, `mpls:2`, `gre:key:v6`,
//! `esp:transport:aes-cbc:sha1:natt`, ...

use core::fmt;
use core::str::FromStr;

use super::crypto::{Esp, EspCipher, EspMode, Integrity, OpenVpn, OpenVpnCipher, OpenVpnTransport};
use super::{Encap, EncapStack, ErspanType, IpInIp};
use crate::units::IpVersion;

/// A catalogue line: the syntax and what it is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// Name with its parameters, as typed.
    pub syntax: &'static str,
    /// One line on what it is and what it costs.
    pub summary: &'static str,
}

const CATALOGUE: &[CatalogueEntry] = &[
    CatalogueEntry {
        syntax: "vlan[:N]",
        summary: "802.1Q tag, 4 bytes each; on the link it lengthens the frame, not the IP MTU",
    },
    CatalogueEntry {
        syntax: "qinq",
        summary: "802.1ad S-tag + 802.1Q C-tag (vlan:2), 8 bytes",
    },
    CatalogueEntry {
        syntax: "pppoe",
        summary: "PPPoE session: 6-byte header + 2-byte PPP protocol = 8 (DSL's 1492)",
    },
    CatalogueEntry {
        syntax: "mpls[:N]",
        summary: "MPLS label stack, 4 bytes per label (RFC 3032)",
    },
    CatalogueEntry {
        syntax: "gre[:key][:seq][:csum][:v6]",
        summary: "GRE: outer IP + 4, +4 each for key, sequence, checksum (24 over IPv4)",
    },
    CatalogueEntry {
        syntax: "gretap[:key][:seq][:csum][:v6]",
        summary: "GRE carrying Ethernet: gre + 14-byte inner Ethernet header (38)",
    },
    CatalogueEntry {
        syntax: "ipip",
        summary: "IPv4 in IPv4 (RFC 2003): 20; carries only IPv4",
    },
    CatalogueEntry {
        syntax: "6in4",
        summary: "IPv6 in IPv4, Linux sit, 6to4 (RFC 4213): 20; carries only IPv6",
    },
    CatalogueEntry {
        syntax: "ip6ip6[:noencaplimit]",
        summary: "IPv6 in IPv6 (RFC 2473): 40 + 8 encap-limit option Linux adds = 48",
    },
    CatalogueEntry {
        syntax: "4in6[:noencaplimit]",
        summary: "IPv4 in IPv6 (RFC 2473, ip6tnl ipip6): 40 + 8 encap-limit option = 48",
    },
    CatalogueEntry {
        syntax: "vxlan[:v6]",
        summary: "VXLAN: outer IP + UDP 8 + VXLAN 8 + inner Ethernet 14 = 50 (70 over IPv6)",
    },
    CatalogueEntry {
        syntax: "geneve[:OPTBYTES][:v6]",
        summary: "Geneve (RFC 8926): 50 + option bytes (a multiple of 4, up to 252)",
    },
    CatalogueEntry {
        syntax: "erspan[:TYPE][:v6]",
        summary: "ERSPAN mirror in GRE: type 2 (default) 50 over IPv4, type 1 38, type 3 54",
    },
    CatalogueEntry {
        syntax: "pbb",
        summary: "802.1ah MAC-in-MAC: I-TAG 4 + customer Ethernet 14 = 18 of the backbone MTU",
    },
    CatalogueEntry {
        syntax: "vntag",
        summary: "Cisco VN-Tag, 6 bytes; on the link it lengthens the frame, like vlan",
    },
    CatalogueEntry {
        syntax: "greudp[:key][:seq][:csum][:v6]",
        summary: "GRE-in-UDP (RFC 8086): IP + UDP 8 + GRE 4 = 32; +4 each key, seq, csum",
    },
    CatalogueEntry {
        syntax: "gtpu[:ext][:v6]",
        summary: "GTP-U: outer IP + UDP 8 + GTP 8 = 36; ext adds sequence/N-PDU/next-ext (40)",
    },
    CatalogueEntry {
        syntax: "l2tp[:len][:seq][:v6]",
        summary: "L2TPv2/UDP with PPP: IP + UDP 8 + L2TP 6 + PPP 4 = 38; len +2, seq +4",
    },
    CatalogueEntry {
        syntax: "teredo",
        summary: "Teredo (RFC 4380): IPv4 20 + UDP 8 = 28; carries only IPv6",
    },
    CatalogueEntry {
        syntax: "ayiya[:v6]",
        summary: "AYIYA as AICCU sends it: IP + UDP 8 + 8 + identity 16 + SHA-1 20 = 72",
    },
    CatalogueEntry {
        syntax: "wireguard[:v6]",
        summary: "WireGuard over IPv4: IP 20 + UDP 8 + header 16 + tag 16 = 60",
    },
    CatalogueEntry {
        syntax: "wireguard6",
        summary: "WireGuard over IPv6: 80 (why wg's default MTU is 1420)",
    },
    CatalogueEntry {
        syntax: "esp[:MODE][:CIPHER][:AUTH][:natt][:v6]",
        summary: "IPsec ESP with the cipher's real padding; MODE tunnel|transport",
    },
    CatalogueEntry {
        syntax: "openvpn[:udp|:tcp][:CIPHER][:AUTH][:comp][:v6]",
        summary: "OpenVPN tun, P_DATA_V2; AEAD (aes-gcm) 52 over UDP/IPv4, CBC padded",
    },
];

/// The names `--encap` accepts, each with one line on what it is.
pub fn catalogue() -> &'static [CatalogueEntry] {
    CATALOGUE
}

/// Accepted ESP ciphers, for messages.
const ESP_CIPHERS: &str =
    "aes-gcm, aes-gcm12, aes-gcm8, aes-cbc, aes-ctr, chacha20-poly1305, 3des, null";
/// Accepted integrity algorithms, for messages.
const INTEGRITIES: &str = "sha1, sha256, sha384, sha512, md5, xcbc";

/// Why an encapsulation list was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncapError {
    /// The name is not in the catalogue.
    Unknown {
        /// What was typed.
        name: String,
        /// The closest catalogue name, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A parameter the encapsulation does not take.
    Param {
        /// The whole item as typed.
        item: String,
        /// The parameter.
        param: String,
        /// What this encapsulation accepts.
        accepted: String,
    },
    /// A number outside what the encapsulation takes (`vlan:5`).
    OutOfRange {
        /// The item as typed.
        item: String,
        /// The number given.
        value: String,
        /// The smallest and largest accepted.
        min: u16,
        /// The largest accepted.
        max: u16,
        /// What this encapsulation accepts.
        accepted: String,
    },
    /// An empty item in the list (`pppoe,,gre`).
    Empty {
        /// The whole list.
        input: String,
    },
    /// Layers that cannot be stacked in this order.
    Order(String),
}

impl fmt::Display for EncapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncapError::Unknown { name, suggestion } => {
                write!(f, "unknown encapsulation {name:?}")?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean {s:?}?)")?;
                }
                f.write_str("; `mss calc --list-encaps` lists them all")
            }
            EncapError::Param {
                item,
                param,
                accepted,
            } => write!(
                f,
                "encapsulation {item:?}: {param:?} is not a parameter it takes; accepted: {accepted}"
            ),
            EncapError::OutOfRange {
                item,
                value,
                min,
                max,
                accepted,
            } => write!(
                f,
                "encapsulation {item:?}: N = {value} is out of range; {accepted} takes N \
                 from {min} to {max}"
            ),
            EncapError::Empty { input } => {
                write!(f, "empty item in encapsulation list {input:?}")
            }
            EncapError::Order(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for EncapError {}

/// The parameters after the name, consumed one by one.
struct Params<'a> {
    item: &'a str,
    rest: Vec<&'a str>,
    accepted: &'static str,
}

impl<'a> Params<'a> {
    fn flag(&mut self, name: &str) -> bool {
        if let Some(i) = self.rest.iter().position(|p| *p == name) {
            self.rest.remove(i);
            true
        } else {
            false
        }
    }

    fn outer(&mut self) -> IpVersion {
        let v6 = self.flag("v6");
        let v4 = self.flag("v4");
        if v6 && !v4 {
            IpVersion::V6
        } else {
            IpVersion::V4
        }
    }

    /// A numeric parameter within `range`, or `default` when absent.
    fn number(
        &mut self,
        range: core::ops::RangeInclusive<u16>,
        default: u16,
    ) -> Result<u16, EncapError> {
        let Some(i) = self
            .rest
            .iter()
            .position(|p| p.chars().all(|c| c.is_ascii_digit()))
        else {
            return Ok(default);
        };
        let raw = self.rest.remove(i);
        match raw.parse::<u16>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(EncapError::OutOfRange {
                item: self.item.to_string(),
                value: raw.to_string(),
                min: *range.start(),
                max: *range.end(),
                accepted: self.accepted.to_string(),
            }),
        }
    }

    fn error(&self, param: &str) -> EncapError {
        EncapError::Param {
            item: self.item.to_string(),
            param: param.to_string(),
            accepted: self.accepted.to_string(),
        }
    }

    /// Fails on anything not consumed.
    fn done(self) -> Result<(), EncapError> {
        match self.rest.first() {
            Some(p) => Err(self.error(p)),
            None => Ok(()),
        }
    }
}

fn esp_cipher(name: &str) -> Option<EspCipher> {
    Some(match name {
        "aes-gcm" | "aes-gcm16" | "aesgcm" => EspCipher::AesGcm { icv: 16 },
        "aes-gcm12" => EspCipher::AesGcm { icv: 12 },
        "aes-gcm8" => EspCipher::AesGcm { icv: 8 },
        "aes-cbc" | "aes" => EspCipher::AesCbc,
        "aes-ctr" => EspCipher::AesCtr,
        "chacha20-poly1305" | "chacha20" | "chacha" => EspCipher::ChaCha20Poly1305,
        "3des" => EspCipher::TripleDes,
        "null" => EspCipher::Null,
        _ => return None,
    })
}

fn integrity(name: &str) -> Option<Integrity> {
    Some(match name {
        "md5" => Integrity::Md5,
        "sha1" => Integrity::Sha1,
        "sha256" => Integrity::Sha256,
        "sha384" => Integrity::Sha384,
        "sha512" => Integrity::Sha512,
        "xcbc" => Integrity::Xcbc,
        _ => return None,
    })
}

fn take<T>(params: &mut Params<'_>, parse: fn(&str) -> Option<T>) -> Option<T> {
    let i = params.rest.iter().position(|p| parse(p).is_some())?;
    parse(params.rest.remove(i))
}

impl FromStr for Encap {
    type Err = EncapError;

    fn from_str(item: &str) -> Result<Encap, EncapError> {
        let item = item.trim();
        let mut tokens = item.split(':');
        let name = tokens.next().unwrap_or_default().to_ascii_lowercase();
        let lower: Vec<String> = tokens.map(str::to_ascii_lowercase).collect();
        let entry = CATALOGUE
            .iter()
            .find(|e| e.syntax.split(['[', ':']).next() == Some(name.as_str()));
        let accepted = entry.map_or("", |e| e.syntax);
        let mut p = Params {
            item,
            rest: lower.iter().map(String::as_str).collect(),
            accepted,
        };
        let encap = match name.as_str() {
            "vlan" | "dot1q" => Encap::Vlan {
                tags: u8::try_from(p.number(1..=4, 1)?).unwrap_or(1),
            },
            "qinq" => Encap::Vlan { tags: 2 },
            "pppoe" => Encap::Pppoe,
            "mpls" => Encap::Mpls {
                labels: u8::try_from(p.number(1..=16, 1)?).unwrap_or(1),
            },
            "gre" | "gretap" => Encap::Gre {
                key: p.flag("key"),
                seq: p.flag("seq"),
                csum: p.flag("csum"),
                outer: p.outer(),
                tap: name == "gretap",
            },
            "ipip" => Encap::IpInIp(IpInIp::Ipip),
            "6in4" | "sit" | "6to4" => Encap::IpInIp(IpInIp::SixInFour),
            "ip6ip6" => Encap::IpInIp(IpInIp::Ip6Ip6 {
                encap_limit: !p.flag("noencaplimit"),
            }),
            "4in6" | "ipip6" => Encap::IpInIp(IpInIp::FourInSix {
                encap_limit: !p.flag("noencaplimit"),
            }),
            "vxlan" => Encap::Vxlan { outer: p.outer() },
            "geneve" => {
                let option_bytes = p.number(0..=252, 0)?;
                if option_bytes % 4 != 0 {
                    return Err(p.error(&option_bytes.to_string()));
                }
                Encap::Geneve {
                    option_bytes,
                    outer: p.outer(),
                }
            }
            "erspan" => {
                let kind = match p.number(1..=3, 2)? {
                    1 => ErspanType::I,
                    3 => ErspanType::III,
                    _ => ErspanType::II,
                };
                Encap::Erspan {
                    kind,
                    outer: p.outer(),
                }
            }
            "pbb" | "802.1ah" | "macinmac" => Encap::Pbb,
            "vntag" | "vn-tag" => Encap::VnTag,
            "greudp" | "gre-udp" | "gre-in-udp" => Encap::GreInUdp {
                key: p.flag("key"),
                seq: p.flag("seq"),
                csum: p.flag("csum"),
                outer: p.outer(),
            },
            "teredo" => Encap::Teredo,
            "ayiya" => Encap::Ayiya { outer: p.outer() },
            "gtpu" | "gtp" => Encap::Gtpu {
                ext: p.flag("ext"),
                outer: p.outer(),
            },
            "l2tp" => Encap::L2tp {
                length: p.flag("len"),
                sequence: p.flag("seq"),
                outer: p.outer(),
            },
            "wireguard" | "wg" => Encap::WireGuard { outer: p.outer() },
            "wireguard6" | "wg6" => Encap::WireGuard {
                outer: IpVersion::V6,
            },
            "esp" | "ipsec" => parse_esp(&mut p)?,
            "openvpn" | "ovpn" => parse_openvpn(&mut p)?,
            _ => {
                return Err(EncapError::Unknown {
                    suggestion: suggest(&name),
                    name,
                });
            }
        };
        p.done()?;
        Ok(encap)
    }
}

fn parse_esp(p: &mut Params<'_>) -> Result<Encap, EncapError> {
    let mode = if p.flag("transport") {
        EspMode::Transport
    } else {
        p.flag("tunnel");
        EspMode::Tunnel
    };
    let cipher = take(p, esp_cipher).unwrap_or(EspCipher::AesGcm { icv: 16 });
    let auth = take(p, integrity);
    let integrity = match (cipher.aead_icv(), auth) {
        (Some(_), Some(a)) => {
            return Err(EncapError::Param {
                item: p.item.to_string(),
                param: a.name().to_string(),
                accepted: format!(
                    "no integrity algorithm with {}: it is an AEAD cipher with its own ICV \
                     (ciphers: {ESP_CIPHERS}; integrity for the others: {INTEGRITIES})",
                    cipher.name()
                ),
            });
        }
        (Some(_), None) => None,
        (None, auth) => Some(auth.unwrap_or(Integrity::Sha256)),
    };
    let nat_t = p.flag("natt") || p.flag("nat-t");
    let outer = p.outer();
    if mode == EspMode::Transport && outer == IpVersion::V6 {
        // Transport mode adds no IP header: the packet's own carries ESP.
        return Err(EncapError::Param {
            item: p.item.to_string(),
            param: "v6".into(),
            accepted: "v6 only with tunnel mode: transport mode adds no outer IP header \
                       (ESP goes into the packet's own)"
                .into(),
        });
    }
    if let Some(extra) = p.rest.first() {
        return Err(EncapError::Param {
            item: p.item.to_string(),
            param: (*extra).to_string(),
            accepted: format!(
                "tunnel|transport, a cipher ({ESP_CIPHERS}), integrity ({INTEGRITIES}), natt, v6"
            ),
        });
    }
    Ok(Encap::Esp(Esp {
        mode,
        cipher,
        integrity,
        nat_t,
        outer,
    }))
}

fn parse_openvpn(p: &mut Params<'_>) -> Result<Encap, EncapError> {
    let transport = if p.flag("tcp") {
        OpenVpnTransport::Tcp
    } else {
        p.flag("udp");
        OpenVpnTransport::Udp
    };
    let cipher = if p.flag("aes-cbc") || p.flag("cbc") {
        OpenVpnCipher::AesCbc(take(p, integrity).unwrap_or(Integrity::Sha1))
    } else if p.flag("chacha20-poly1305") || p.flag("chacha20") {
        OpenVpnCipher::ChaCha20Poly1305
    } else {
        p.flag("aes-gcm");
        OpenVpnCipher::AesGcm
    };
    let compression_byte = p.flag("comp");
    let outer = p.outer();
    if let Some(extra) = p.rest.first() {
        return Err(EncapError::Param {
            item: p.item.to_string(),
            param: (*extra).to_string(),
            accepted: format!(
                "udp|tcp, aes-gcm|chacha20-poly1305|aes-cbc, with aes-cbc an --auth \
                 digest ({INTEGRITIES}), comp, v6"
            ),
        });
    }
    Ok(Encap::OpenVpn(OpenVpn {
        transport,
        cipher,
        compression_byte,
        outer,
    }))
}

/// The catalogue name closest to `name` by edit distance, if it is close.
fn suggest(name: &str) -> Option<&'static str> {
    CATALOGUE
        .iter()
        .filter_map(|e| e.syntax.split(['[', ':']).next())
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes; names are short ASCII.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

impl fmt::Display for Encap {
    /// The canonical name, which parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v6 = |outer: IpVersion| if outer == IpVersion::V6 { ":v6" } else { "" };
        let on = |flag: bool, name: &'static str| if flag { name } else { "" };
        match *self {
            Encap::Vlan { tags: 1 } => f.write_str("vlan"),
            Encap::Vlan { tags } => write!(f, "vlan:{tags}"),
            Encap::Pppoe => f.write_str("pppoe"),
            Encap::Mpls { labels: 1 } => f.write_str("mpls"),
            Encap::Mpls { labels } => write!(f, "mpls:{labels}"),
            Encap::Gre {
                outer,
                key,
                seq,
                csum,
                tap,
            } => write!(
                f,
                "{}{}{}{}{}",
                if tap { "gretap" } else { "gre" },
                on(key, ":key"),
                on(seq, ":seq"),
                on(csum, ":csum"),
                v6(outer)
            ),
            Encap::IpInIp(IpInIp::Ipip) => f.write_str("ipip"),
            Encap::IpInIp(IpInIp::SixInFour) => f.write_str("6in4"),
            Encap::IpInIp(IpInIp::Ip6Ip6 { encap_limit }) => {
                write!(f, "ip6ip6{}", on(!encap_limit, ":noencaplimit"))
            }
            Encap::IpInIp(IpInIp::FourInSix { encap_limit }) => {
                write!(f, "4in6{}", on(!encap_limit, ":noencaplimit"))
            }
            Encap::Vxlan { outer } => write!(f, "vxlan{}", v6(outer)),
            Encap::Geneve {
                outer,
                option_bytes,
            } => {
                f.write_str("geneve")?;
                if option_bytes > 0 {
                    write!(f, ":{option_bytes}")?;
                }
                f.write_str(v6(outer))
            }
            Encap::Erspan { outer, kind } => {
                f.write_str(match kind {
                    ErspanType::I => "erspan:1",
                    ErspanType::II => "erspan",
                    ErspanType::III => "erspan:3",
                })?;
                f.write_str(v6(outer))
            }
            Encap::Pbb => f.write_str("pbb"),
            Encap::VnTag => f.write_str("vntag"),
            Encap::GreInUdp {
                outer,
                key,
                seq,
                csum,
            } => write!(
                f,
                "greudp{}{}{}{}",
                on(key, ":key"),
                on(seq, ":seq"),
                on(csum, ":csum"),
                v6(outer)
            ),
            Encap::Teredo => f.write_str("teredo"),
            Encap::Ayiya { outer } => write!(f, "ayiya{}", v6(outer)),
            Encap::Gtpu { outer, ext } => write!(f, "gtpu{}{}", on(ext, ":ext"), v6(outer)),
            Encap::L2tp {
                outer,
                length,
                sequence,
            } => write!(
                f,
                "l2tp{}{}{}",
                on(length, ":len"),
                on(sequence, ":seq"),
                v6(outer)
            ),
            Encap::WireGuard {
                outer: IpVersion::V4,
            } => f.write_str("wireguard"),
            Encap::WireGuard {
                outer: IpVersion::V6,
            } => f.write_str("wireguard6"),
            Encap::Esp(esp) => {
                let mode = match esp.mode {
                    EspMode::Tunnel => "tunnel",
                    EspMode::Transport => "transport",
                };
                write!(f, "esp:{mode}:{}", esp.cipher.name())?;
                if let Some(i) = esp.integrity {
                    write!(f, ":{}", i.name())?;
                }
                write!(f, "{}", on(esp.nat_t, ":natt"))?;
                if esp.mode == EspMode::Tunnel {
                    f.write_str(v6(esp.outer))?;
                }
                Ok(())
            }
            Encap::OpenVpn(o) => {
                let transport = match o.transport {
                    OpenVpnTransport::Udp => "udp",
                    OpenVpnTransport::Tcp => "tcp",
                };
                let cipher = match o.cipher {
                    OpenVpnCipher::AesGcm => "aes-gcm".to_string(),
                    OpenVpnCipher::ChaCha20Poly1305 => "chacha20-poly1305".to_string(),
                    OpenVpnCipher::AesCbc(i) => format!("aes-cbc:{}", i.name()),
                };
                write!(
                    f,
                    "openvpn:{transport}:{cipher}{}{}",
                    on(o.compression_byte, ":comp"),
                    v6(o.outer)
                )
            }
        }
    }
}

impl FromStr for EncapStack {
    type Err = EncapError;

    /// Reads a comma-separated list, outermost first (`pppoe,wireguard`); the empty
    /// string and `none` are the empty stack.
    fn from_str(input: &str) -> Result<EncapStack, EncapError> {
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed == "none" {
            return Ok(EncapStack::default());
        }
        let layers = trimmed
            .split(',')
            .map(|item| {
                if item.trim().is_empty() {
                    Err(EncapError::Empty {
                        input: input.to_string(),
                    })
                } else {
                    item.parse()
                }
            })
            .collect::<Result<Vec<Encap>, EncapError>>()?;
        EncapStack::new(layers)
    }
}

impl fmt::Display for EncapStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.layers.is_empty() {
            return f.write_str("none");
        }
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{layer}")?;
        }
        Ok(())
    }
}
