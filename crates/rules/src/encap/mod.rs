//! The encapsulation catalogue: what each tunnel, tag or framing adds in front of (and
//! behind) the inner IP packet, exactly.
//!
//! Every encapsulation describes only its bytes for a given carried packet
//! ([`Encap::parts`]); the largest packet it can carry in a given MTU is then found by
//! search ([`Encap::inner_mtu`]). This keeps ESP and OpenVPN exact: their padding
//! depends on the payload size, and a fixed overhead table is wrong for some sizes.

mod crypto;
mod parse;

pub use crypto::{Esp, EspCipher, EspMode, Integrity, OpenVpn, OpenVpnCipher, OpenVpnTransport};
pub use parse::{CatalogueEntry, EncapError, catalogue};

use crate::units::IpVersion;
use crypto::outer_ip_label;

/// Where a part of an encapsulation sits relative to the packet it carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// In front of the carried packet.
    Head,
    /// Right after the carried packet's own IP header (ESP transport mode).
    AfterIp,
    /// Behind the carried packet (padding, trailers, authentication tags).
    Tail,
}

/// One header, trailer or padding of an encapsulation, with its size.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// What it is ("outer IPv4", "UDP", "ESP padding", ...).
    pub label: &'static str,
    /// Its size in bytes.
    pub bytes: u32,
    /// Where it sits.
    pub placement: Placement,
}

impl Part {
    const fn head(label: &'static str, bytes: u32) -> Part {
        Part {
            label,
            bytes,
            placement: Placement::Head,
        }
    }
    const fn after_ip(label: &'static str, bytes: u32) -> Part {
        Part {
            label,
            bytes,
            placement: Placement::AfterIp,
        }
    }
    const fn tail(label: &'static str, bytes: u32) -> Part {
        Part {
            label,
            bytes,
            placement: Placement::Tail,
        }
    }
}

/// The IP-in-IP tunnel flavours.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IpInIp {
    /// IPv4 in IPv4 (RFC 2003, Linux `ipip`).
    Ipip,
    /// IPv6 in IPv4 (RFC 4213, Linux `sit`).
    SixInFour,
    /// IPv6 in IPv6 (RFC 2473, Linux `ip6tnl mode ip6ip6`).
    Ip6Ip6 {
        /// The 8-byte destination options header with the tunnel encapsulation limit
        /// that Linux adds by default (`encaplimit 4`, `ip6_tnl_link_config()`).
        encap_limit: bool,
    },
    /// IPv4 in IPv6 (RFC 2473, Linux `ip6tnl mode ipip6`).
    FourInSix {
        /// As for [`IpInIp::Ip6Ip6`].
        encap_limit: bool,
    },
}

/// The ERSPAN types (draft-foschiano-erspan-03; Linux `include/net/erspan.h`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErspanType {
    /// Type I: GRE without a sequence number, no ERSPAN header.
    I,
    /// Type II: GRE with a sequence number, an 8-byte ERSPAN header.
    II,
    /// Type III: GRE with a sequence number, a 12-byte ERSPAN header (without the
    /// optional 8-byte platform-specific subheader).
    III,
}

/// The tunnel encapsulation limit option in its destination options header
/// (RFC 2473 section 4.1.1): 8 bytes.
const ENCAP_LIMIT_BYTES: u32 = 8;
const UDP: u32 = 8;
const ETHERNET_HEADER: u32 = 14;

/// One layer of encapsulation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Encap {
    /// 802.1Q / 802.1ad tags, 4 bytes each.
    Vlan {
        /// Number of tags (2 for QinQ).
        tags: u8,
    },
    /// PPPoE session (RFC 2516): 6-byte PPPoE header and 2-byte PPP protocol.
    Pppoe,
    /// MPLS label stack (RFC 3032), 4 bytes per label.
    Mpls {
        /// Number of labels.
        labels: u8,
    },
    /// GRE (RFC 2784, RFC 2890).
    Gre {
        /// Outer IP version.
        outer: IpVersion,
        /// Key field present.
        key: bool,
        /// Sequence number present.
        seq: bool,
        /// Checksum present.
        csum: bool,
        /// Carries Ethernet (gretap) rather than IP.
        tap: bool,
    },
    /// IP in IP.
    IpInIp(IpInIp),
    /// VXLAN (RFC 7348).
    Vxlan {
        /// Outer IP version.
        outer: IpVersion,
    },
    /// Geneve (RFC 8926).
    Geneve {
        /// Outer IP version.
        outer: IpVersion,
        /// Option bytes (a multiple of 4, at most 252).
        option_bytes: u16,
    },
    /// ERSPAN: mirrored Ethernet frames in GRE.
    Erspan {
        /// Outer IP version.
        outer: IpVersion,
        /// Which header.
        kind: ErspanType,
    },
    /// GRE in UDP (RFC 8086): a GRE header right after UDP.
    GreInUdp {
        /// Outer IP version.
        outer: IpVersion,
        /// Key field present.
        key: bool,
        /// Sequence number present.
        seq: bool,
        /// Checksum present.
        csum: bool,
    },
    /// GTP-U (3GPP TS 29.281).
    Gtpu {
        /// Outer IP version.
        outer: IpVersion,
        /// Sequence / N-PDU / next-extension fields present (4 bytes).
        ext: bool,
    },
    /// L2TPv2 over UDP with PPP (RFC 2661).
    L2tp {
        /// Outer IP version.
        outer: IpVersion,
        /// Length field present (2 bytes).
        length: bool,
        /// Ns/Nr sequence fields present (4 bytes).
        sequence: bool,
    },
    /// Teredo: IPv6 in UDP over IPv4 (RFC 4380).
    Teredo,
    /// AYIYA (draft-massar-v6ops-ayiya-02) as AICCU sends it: an IPv6 address as the
    /// identity, a SHA-1 signature.
    Ayiya {
        /// Outer IP version.
        outer: IpVersion,
    },
    /// IEEE 802.1ah provider backbone bridging: the I-TAG and the customer's
    /// Ethernet header inside the backbone's frame.
    Pbb,
    /// Cisco VN-Tag: 6 bytes in the Ethernet header, like a VLAN tag.
    VnTag,
    /// WireGuard.
    WireGuard {
        /// Outer IP version.
        outer: IpVersion,
    },
    /// IPsec ESP.
    Esp(Esp),
    /// OpenVPN.
    OpenVpn(OpenVpn),
}

impl Encap {
    /// The bytes this layer adds around a carried packet of `carried_len` bytes whose
    /// IP header (the first one inside this layer) is of version `carried`.
    pub fn parts(&self, carried_len: u32, carried: IpVersion) -> Vec<Part> {
        match *self {
            Encap::Vlan { tags } => (0..tags)
                .map(|i| {
                    if tags > 1 && i == 0 {
                        Part::head("802.1ad S-tag", 4)
                    } else {
                        Part::head("802.1Q tag", 4)
                    }
                })
                .collect(),
            Encap::Pppoe => vec![Part::head("PPPoE", 6), Part::head("PPP", 2)],
            Encap::Mpls { labels } => vec![Part::head("MPLS labels", 4 * u32::from(labels))],
            Encap::Gre {
                outer,
                key,
                seq,
                csum,
                tap,
            } => {
                let gre = 4 + 4 * (u32::from(key) + u32::from(seq) + u32::from(csum));
                let mut parts = vec![
                    Part::head(outer_ip_label(outer), outer.header_len()),
                    Part::head("GRE", gre),
                ];
                if tap {
                    parts.push(Part::head("inner Ethernet", ETHERNET_HEADER));
                }
                parts
            }
            Encap::IpInIp(kind) => match kind {
                IpInIp::Ipip | IpInIp::SixInFour => vec![Part::head("outer IPv4", 20)],
                IpInIp::Ip6Ip6 { encap_limit } | IpInIp::FourInSix { encap_limit } => {
                    let mut parts = vec![Part::head("outer IPv6", 40)];
                    if encap_limit {
                        parts.push(Part::head("encap limit option", ENCAP_LIMIT_BYTES));
                    }
                    parts
                }
            },
            Encap::Vxlan { outer } => vec![
                Part::head(outer_ip_label(outer), outer.header_len()),
                Part::head("UDP", UDP),
                Part::head("VXLAN", 8),
                Part::head("inner Ethernet", ETHERNET_HEADER),
            ],
            Encap::Geneve {
                outer,
                option_bytes,
            } => {
                let mut parts = vec![
                    Part::head(outer_ip_label(outer), outer.header_len()),
                    Part::head("UDP", UDP),
                    Part::head("Geneve", 8),
                ];
                if option_bytes > 0 {
                    parts.push(Part::head("Geneve options", u32::from(option_bytes)));
                }
                parts.push(Part::head("inner Ethernet", ETHERNET_HEADER));
                parts
            }
            Encap::Erspan { outer, kind } => {
                let mut parts = vec![Part::head(outer_ip_label(outer), outer.header_len())];
                match kind {
                    ErspanType::I => parts.push(Part::head("GRE", 4)),
                    ErspanType::II => {
                        parts.push(Part::head("GRE with sequence number", 8));
                        parts.push(Part::head("ERSPAN type II", 8));
                    }
                    ErspanType::III => {
                        parts.push(Part::head("GRE with sequence number", 8));
                        parts.push(Part::head("ERSPAN type III", 12));
                    }
                }
                parts.push(Part::head("mirrored Ethernet", ETHERNET_HEADER));
                parts
            }
            Encap::GreInUdp {
                outer,
                key,
                seq,
                csum,
            } => vec![
                Part::head(outer_ip_label(outer), outer.header_len()),
                Part::head("UDP", UDP),
                Part::head(
                    "GRE",
                    4 + 4 * (u32::from(key) + u32::from(seq) + u32::from(csum)),
                ),
            ],
            Encap::Gtpu { outer, ext } => vec![
                Part::head(outer_ip_label(outer), outer.header_len()),
                Part::head("UDP", UDP),
                Part::head("GTP-U", if ext { 12 } else { 8 }),
            ],
            Encap::L2tp {
                outer,
                length,
                sequence,
            } => vec![
                Part::head(outer_ip_label(outer), outer.header_len()),
                Part::head("UDP", UDP),
                Part::head("L2TP", 6 + 2 * u32::from(length) + 4 * u32::from(sequence)),
                // Address/control 0xff03 and the protocol field (RFC 1662, RFC 1661).
                Part::head("PPP", 4),
            ],
            // Data packets carry neither the authentication nor the origin
            // indication (RFC 4380 section 5.1.1); those ride on qualification
            // and bubbles.
            Encap::Teredo => vec![Part::head("outer IPv4", 20), Part::head("UDP", UDP)],
            Encap::Ayiya { outer } => vec![
                Part::head(outer_ip_label(outer), outer.header_len()),
                Part::head("UDP", UDP),
                // Lengths, methods, operation, next header, epoch.
                Part::head("AYIYA", 8),
                Part::head("AYIYA identity", 16),
                Part::head("AYIYA signature", 20),
            ],
            Encap::Pbb => vec![
                Part::head("802.1ah I-TAG", 4),
                Part::head("customer Ethernet", ETHERNET_HEADER),
            ],
            Encap::VnTag => vec![Part::head("VN-Tag", 6)],
            Encap::WireGuard { outer } => vec![
                Part::head(outer_ip_label(outer), outer.header_len()),
                Part::head("UDP", UDP),
                // Type, reserved, receiver index, counter (WireGuard paper 5.4.6).
                Part::head("WireGuard", 16),
                // Padding to 16 never goes beyond the interface MTU
                // (`calculate_skb_padding()`), so a full-size packet carries none.
                Part::tail("Poly1305 tag", 16),
            ],
            Encap::Esp(esp) => esp.parts(carried_len, carried),
            Encap::OpenVpn(ovpn) => ovpn.parts(carried_len),
        }
    }

    /// Total bytes this layer adds to a carried packet of `carried_len` bytes.
    pub fn overhead(&self, carried_len: u32, carried: IpVersion) -> u32 {
        self.parts(carried_len, carried)
            .iter()
            .map(|p| p.bytes)
            .sum()
    }

    /// The size of the packet (or frame payload) after wrapping `carried_len` bytes.
    pub fn wrapped_len(&self, carried_len: u32, carried: IpVersion) -> u32 {
        carried_len.saturating_add(self.overhead(carried_len, carried))
    }

    /// The largest carried packet that fits in `outer_mtu` bytes once wrapped, or
    /// `None` if not even an empty one fits. Found by binary search over
    /// [`Encap::wrapped_len`], which never decreases as the packet grows.
    pub fn inner_mtu(&self, outer_mtu: u32, carried: IpVersion) -> Option<u32> {
        if self.wrapped_len(0, carried) > outer_mtu {
            return None;
        }
        let (mut fits, mut too_big) = (0u32, outer_mtu.saturating_add(1));
        while too_big - fits > 1 {
            let mid = fits + (too_big - fits) / 2;
            if self.wrapped_len(mid, carried) <= outer_mtu {
                fits = mid;
            } else {
                too_big = mid;
            }
        }
        Some(fits)
    }

    /// The IP version of the outer IP header this layer adds, if it adds one.
    pub fn outer_ip(&self) -> Option<IpVersion> {
        match *self {
            Encap::Vlan { .. } | Encap::Pppoe | Encap::Mpls { .. } | Encap::Pbb | Encap::VnTag => {
                None
            }
            Encap::Gre { outer, .. }
            | Encap::Vxlan { outer }
            | Encap::Geneve { outer, .. }
            | Encap::Erspan { outer, .. }
            | Encap::GreInUdp { outer, .. }
            | Encap::Gtpu { outer, .. }
            | Encap::L2tp { outer, .. }
            | Encap::Ayiya { outer }
            | Encap::WireGuard { outer } => Some(outer),
            Encap::Teredo => Some(IpVersion::V4),
            Encap::IpInIp(IpInIp::Ipip | IpInIp::SixInFour) => Some(IpVersion::V4),
            Encap::IpInIp(IpInIp::Ip6Ip6 { .. } | IpInIp::FourInSix { .. }) => Some(IpVersion::V6),
            Encap::Esp(esp) => match esp.mode {
                EspMode::Tunnel => Some(esp.outer),
                EspMode::Transport => None,
            },
            Encap::OpenVpn(ovpn) => Some(ovpn.outer),
        }
    }

    /// Whether the packet inside may be of IP version `inner`.
    pub fn carries(&self, inner: IpVersion) -> bool {
        match self {
            Encap::IpInIp(IpInIp::Ipip | IpInIp::FourInSix { .. }) => inner == IpVersion::V4,
            Encap::IpInIp(IpInIp::SixInFour | IpInIp::Ip6Ip6 { .. }) | Encap::Teredo => {
                inner == IpVersion::V6
            }
            _ => true,
        }
    }

    /// Whether this layer carries Ethernet frames (so a VLAN tag or PPPoE may follow).
    pub fn carries_ethernet(&self) -> bool {
        matches!(
            self,
            Encap::Vlan { .. }
                | Encap::Vxlan { .. }
                | Encap::Geneve { .. }
                | Encap::Gre { tap: true, .. }
                | Encap::Erspan { .. }
                | Encap::Pbb
                | Encap::VnTag
        )
    }

    /// Whether this layer must ride on Ethernet.
    fn needs_ethernet(&self) -> bool {
        matches!(
            self,
            Encap::Vlan { .. } | Encap::Pppoe | Encap::Pbb | Encap::VnTag
        )
    }

    /// Whether this layer, on the link itself, sits in the Ethernet header: it
    /// makes the frame longer and leaves the IP MTU alone.
    fn in_link_header(&self) -> bool {
        matches!(self, Encap::Vlan { .. } | Encap::VnTag)
    }

    /// ESP in transport mode: it protects the packet of the next IP header.
    fn is_transport(&self) -> bool {
        matches!(
            self,
            Encap::Esp(Esp {
                mode: EspMode::Transport,
                ..
            })
        )
    }

    /// One line on what this layer is, with its parameters.
    pub fn describe(&self) -> String {
        match *self {
            Encap::Vlan { tags: 1 } => "802.1Q VLAN tag (4 bytes)".to_string(),
            Encap::Vlan { tags } => format!(
                "{tags} stacked VLAN tags (802.1ad, {} bytes)",
                4 * u32::from(tags)
            ),
            Encap::Pppoe => {
                "PPPoE session, a 6-byte PPPoE header and the 2-byte PPP protocol (RFC 2516)"
                    .to_string()
            }
            Encap::Mpls { labels } => format!("MPLS, {labels} label(s) of 4 bytes (RFC 3032)"),
            Encap::Gre {
                outer,
                key,
                seq,
                csum,
                tap,
            } => {
                let mut extra = Vec::new();
                if key {
                    extra.push("key");
                }
                if seq {
                    extra.push("sequence");
                }
                if csum {
                    extra.push("checksum");
                }
                let extra = if extra.is_empty() {
                    String::new()
                } else {
                    format!(" with {}", extra.join(", "))
                };
                let what = if tap {
                    "GRE carrying Ethernet (gretap)"
                } else {
                    "GRE"
                };
                format!("{what} over {outer}{extra} (RFC 2784, RFC 2890)")
            }
            Encap::IpInIp(IpInIp::Ipip) => "IPv4 in IPv4 (RFC 2003)".to_string(),
            Encap::IpInIp(IpInIp::SixInFour) => "IPv6 in IPv4, Linux sit (RFC 4213)".to_string(),
            Encap::IpInIp(IpInIp::Ip6Ip6 { encap_limit }) => {
                format!("IPv6 in IPv6 (RFC 2473){}", limit_note(encap_limit))
            }
            Encap::IpInIp(IpInIp::FourInSix { encap_limit }) => {
                format!("IPv4 in IPv6 (RFC 2473){}", limit_note(encap_limit))
            }
            Encap::Vxlan { outer } => {
                format!("VXLAN over {outer}/UDP with the inner Ethernet header (RFC 7348)")
            }
            Encap::Geneve {
                outer,
                option_bytes,
            } => format!(
                "Geneve over {outer}/UDP, {option_bytes} option bytes, inner Ethernet (RFC 8926)"
            ),
            Encap::Erspan { outer, kind } => format!(
                "ERSPAN {} over {outer}: mirrored Ethernet frames in GRE{}",
                match kind {
                    ErspanType::I => "type I",
                    ErspanType::II => "type II",
                    ErspanType::III => "type III",
                },
                match kind {
                    ErspanType::I => " (draft-foschiano-erspan-03)",
                    ErspanType::II => " with an 8-byte ERSPAN header (draft-foschiano-erspan-03)",
                    ErspanType::III => {
                        " with a 12-byte ERSPAN header, without the optional platform \
                         subheader (draft-foschiano-erspan-03)"
                    }
                }
            ),
            Encap::GreInUdp {
                outer,
                key,
                seq,
                csum,
            } => {
                let extra: Vec<&str> = [(key, "key"), (seq, "sequence"), (csum, "checksum")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, name)| *name)
                    .collect();
                let extra = if extra.is_empty() {
                    String::new()
                } else {
                    format!(" with {}", extra.join(", "))
                };
                format!("GRE in UDP over {outer}{extra} (RFC 8086)")
            }
            Encap::Gtpu { outer, ext } => format!(
                "GTP-U over {outer}/UDP{} (3GPP TS 29.281)",
                if ext {
                    " with sequence/N-PDU/extension fields"
                } else {
                    ""
                }
            ),
            Encap::L2tp {
                outer,
                length,
                sequence,
            } => format!(
                "L2TPv2 over {outer}/UDP with PPP{}{} (RFC 2661)",
                if length { ", length field" } else { "" },
                if sequence { ", sequence numbers" } else { "" }
            ),
            Encap::Teredo => "Teredo: IPv6 in UDP over IPv4 (RFC 4380); clients use an MTU \
                 of 1280"
                .to_string(),
            Encap::Ayiya { outer } => format!(
                "AYIYA over {outer}/UDP with an IPv6 address as identity and a SHA-1 \
                 signature, as AICCU sends it (draft-massar-v6ops-ayiya-02)"
            ),
            Encap::Pbb => "802.1ah provider backbone bridging: the I-TAG and the customer's \
                 Ethernet header inside the backbone frame"
                .to_string(),
            Encap::VnTag => "Cisco VN-Tag (6 bytes in the Ethernet header)".to_string(),
            Encap::WireGuard { outer } => {
                format!(
                    "WireGuard over {outer}/UDP with a 16-byte header and a 16-byte Poly1305 tag"
                )
            }
            Encap::Esp(esp) => esp.describe(),
            Encap::OpenVpn(ovpn) => ovpn.describe(),
        }
    }
}

fn limit_note(encap_limit: bool) -> &'static str {
    if encap_limit {
        ", with the 8-byte encapsulation limit option Linux adds by default"
    } else {
        ""
    }
}

/// Why a family cannot be carried by a stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotCarried {
    /// A layer does not carry this IP version.
    WrongFamily {
        /// The layer's canonical name.
        layer: String,
        /// The family it does carry.
        carries: IpVersion,
    },
    /// The MTU is used up by the encapsulations.
    NoRoom {
        /// The layer that no longer fits.
        layer: String,
        /// What was left when it was reached.
        available: u32,
    },
}

impl core::fmt::Display for NotCarried {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NotCarried::WrongFamily { layer, carries } => {
                write!(f, "{layer} carries only {carries}")
            }
            NotCarried::NoRoom { layer, available } => {
                write!(f, "{layer} does not fit in the {available} bytes left")
            }
        }
    }
}

/// A stack of encapsulations, outermost first, as the user lists them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncapStack {
    layers: Vec<Encap>,
}

/// One layer's share of a stack for a concrete packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerUse {
    /// The layer.
    pub encap: Encap,
    /// The MTU available to this layer (the packet it produces may be this large).
    pub outer_mtu: u32,
    /// The largest packet it can carry.
    pub inner_mtu: u32,
    /// Whether it only grows the link-layer frame (a VLAN tag on the link itself).
    pub frame_only: bool,
}

impl EncapStack {
    /// A stack from layers, outermost first, checked for order.
    pub fn new(layers: Vec<Encap>) -> Result<EncapStack, EncapError> {
        let stack = EncapStack { layers };
        stack.check_order()?;
        Ok(stack)
    }

    /// The layers, outermost first.
    pub fn layers(&self) -> &[Encap] {
        &self.layers
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Leading VLAN tags (and VN-Tags) sit in the link's own Ethernet header: they
    /// make the frame longer but leave the IP MTU alone (IEEE 802.1Q allows
    /// 1522-byte frames).
    fn frame_only_prefix(&self) -> usize {
        self.layers
            .iter()
            .take_while(|l| l.in_link_header())
            .count()
    }

    /// The IP version of the first IP header inside layer `index`, for a TCP packet
    /// of version `inner` at the bottom.
    fn carried_family(&self, index: usize, inner: IpVersion) -> IpVersion {
        self.layers[index + 1..]
            .iter()
            .find_map(Encap::outer_ip)
            .unwrap_or(inner)
    }

    fn check_order(&self) -> Result<(), EncapError> {
        for (i, layer) in self.layers.iter().enumerate() {
            let previous = i.checked_sub(1).map(|p| &self.layers[p]);
            if layer.needs_ethernet() && !previous.is_none_or(Encap::carries_ethernet) {
                return Err(EncapError::Order(format!(
                    "{layer} needs an Ethernet frame under it, but {} carries IP: put it \
                     first or after vxlan, geneve, gretap, erspan, pbb, vntag or vlan",
                    previous.map(ToString::to_string).unwrap_or_default()
                )));
            }
            if layer.is_transport() {
                if let Some(next) = self.layers.get(i + 1) {
                    if next.outer_ip().is_none() {
                        return Err(EncapError::Order(format!(
                            "{layer} protects the packet of the next IP header, but {next} \
                             adds none: put the transport-mode ESP last or right before an \
                             IP tunnel (gre, ipip, vxlan, ...)"
                        )));
                    }
                }
            }
            if let Some(version) = self.layers[i + 1..].iter().find_map(Encap::outer_ip) {
                if !layer.carries(version) {
                    return Err(EncapError::Order(format!(
                        "{layer} carries only {}, but the next layer puts an {version} \
                         header inside it",
                        other(version)
                    )));
                }
            }
        }
        Ok(())
    }

    /// Works out, layer by layer from the link inwards, the MTU each layer leaves for
    /// a TCP packet of version `inner`.
    pub fn walk(&self, link_mtu: u32, inner: IpVersion) -> Result<Vec<LayerUse>, NotCarried> {
        let prefix = self.frame_only_prefix();
        let mut mtu = link_mtu;
        let mut uses = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let carried = self.carried_family(i, inner);
            if !layer.carries(carried) {
                return Err(NotCarried::WrongFamily {
                    layer: layer.to_string(),
                    carries: other(carried),
                });
            }
            if i < prefix {
                uses.push(LayerUse {
                    encap: *layer,
                    outer_mtu: mtu,
                    inner_mtu: mtu,
                    frame_only: true,
                });
                continue;
            }
            let inner_mtu = layer.inner_mtu(mtu, carried).ok_or(NotCarried::NoRoom {
                layer: layer.to_string(),
                available: mtu,
            })?;
            uses.push(LayerUse {
                encap: *layer,
                outer_mtu: mtu,
                inner_mtu,
                frame_only: false,
            });
            mtu = inner_mtu;
        }
        Ok(uses)
    }

    /// The MTU left for a TCP packet of version `inner` inside a link of `link_mtu`.
    pub fn inner_mtu(&self, link_mtu: u32, inner: IpVersion) -> Result<u32, NotCarried> {
        Ok(self
            .walk(link_mtu, inner)?
            .last()
            .map_or(link_mtu, |l| l.inner_mtu))
    }

    /// The link MTU needed to carry a TCP packet of `inner_len` bytes and version
    /// `inner` (the reverse of [`EncapStack::inner_mtu`]).
    pub fn link_mtu_for(&self, inner_len: u32, inner: IpVersion) -> u32 {
        let prefix = self.frame_only_prefix();
        self.layers
            .iter()
            .enumerate()
            .skip(prefix)
            .rev()
            .fold(inner_len, |len, (i, layer)| {
                layer.wrapped_len(len, self.carried_family(i, inner))
            })
    }

    /// Every part of every layer around an inner packet, in wire order. `inner` is
    /// the inner packet's own parts, its IP header first; its version is `version`.
    /// Parts a layer places [`Placement::AfterIp`] go right after the IP header of
    /// the packet that layer carries.
    pub fn frame_parts(&self, inner: Vec<Part>, version: IpVersion) -> Vec<Part> {
        let mut len: u32 = inner.iter().map(|p| p.bytes).sum();
        let mut parts = inner;
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let carried = self.carried_family(i, version);
            let layer_parts = layer.parts(len, carried);
            let placed = |placement| {
                layer_parts
                    .iter()
                    .filter(move |p: &&Part| p.placement == placement)
                    .copied()
            };
            // The carried packet starts with its IP header: parts[0].
            let at = parts.len().min(1);
            parts.splice(at..at, placed(Placement::AfterIp));
            parts.splice(0..0, placed(Placement::Head));
            parts.extend(placed(Placement::Tail));
            len = layer.wrapped_len(len, carried);
        }
        parts
    }
}

/// "IPv4" / "IPv6" as a header label.
pub const fn ip_label(version: IpVersion) -> &'static str {
    match version {
        IpVersion::V4 => "IPv4",
        IpVersion::V6 => "IPv6",
    }
}

const fn other(version: IpVersion) -> IpVersion {
    match version {
        IpVersion::V4 => IpVersion::V6,
        IpVersion::V6 => IpVersion::V4,
    }
}

#[cfg(test)]
mod tests;
