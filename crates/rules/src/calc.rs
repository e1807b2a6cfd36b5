//! `mss calc` as data: from a link MTU, encapsulations and TCP options to every
//! number, the frame layout and a step-by-step explanation with sources. The binary
//! only renders this.

use crate::TCP_HEADER_LEN;
use crate::encap::{EncapStack, LayerUse, NotCarried, Part};
use crate::linux::{self, LinuxTunables};
use crate::options::SegmentOptions;
use crate::rfc::{self, IPV6_JUMBO_MSS, SendMssInputs};
use crate::units::{IpVersion, Mss, Mtu};

/// Ethernet II header: destination, source, EtherType (IEEE 802.3).
pub const ETHERNET_HEADER: u32 = 14;
/// Ethernet frame check sequence.
pub const ETHERNET_FCS: u32 = 4;

/// What to compute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalcRequest {
    /// The link MTU: the largest IP packet (or outermost encapsulated packet) the
    /// interface sends, Ethernet framing excluded.
    pub link_mtu: u32,
    /// Encapsulations, outermost first.
    pub encaps: EncapStack,
    /// TCP options on data segments.
    pub options: SegmentOptions,
    /// IPv4 option bytes on every segment (a multiple of 4, at most 40).
    pub ipv4_option_bytes: u32,
    /// IPv6 extension-header bytes on every segment (a multiple of 8).
    pub ipv6_ext_bytes: u32,
    /// The families to compute, in order.
    pub families: Vec<IpVersion>,
    /// Linux settings.
    pub tunables: LinuxTunables,
}

/// Why a request cannot be computed at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CalcError {
    /// The link MTU is below IPv4's 68.
    MtuTooSmall(u32),
    /// IPv4 options that are not a multiple of 4 or exceed 40 bytes.
    Ipv4Options(u32),
    /// IPv6 extension headers that are not a multiple of 8.
    Ipv6ExtHeaders(u32),
    /// An MSS of 0.
    ZeroMss,
}

impl core::fmt::Display for CalcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CalcError::MtuTooSmall(mtu) => write!(
                f,
                "MTU {mtu} is below 68, the smallest MTU IPv4 allows (RFC 791 section 3.2); \
                 give the link MTU in bytes, e.g. 1500"
            ),
            CalcError::Ipv4Options(n) => write!(
                f,
                "IPv4 options of {n} bytes are not possible: they come in 4-byte words, at \
                 most 40 (RFC 791 section 3.1)"
            ),
            CalcError::Ipv6ExtHeaders(n) => write!(
                f,
                "IPv6 extension headers of {n} bytes are not possible: each is a multiple \
                 of 8 bytes (RFC 8200 section 4)"
            ),
            CalcError::ZeroMss => f.write_str("an MSS of 0 is not a size (Linux ignores it)"),
        }
    }
}

impl std::error::Error for CalcError {}

/// One step of the explanation, with where the rule comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The step in plain words.
    pub text: String,
    /// RFC section or kernel function.
    pub source: &'static str,
}

/// The largest frame, part by part, in wire order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Every header, payload and trailer.
    pub parts: Vec<Part>,
    /// The whole Ethernet frame, FCS included.
    pub on_wire: u32,
}

/// The numbers for one IP version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyNumbers {
    /// The MTU left for the TCP/IP packet after the encapsulations.
    pub ip_mtu: u32,
    /// The MSS option value per RFC 6691.
    pub advertised_mss: Mss,
    /// The MSS option value Linux sends.
    pub linux_advertised_mss: Mss,
    /// RFC 9293 effective send MSS with the requested options, between two hosts on
    /// such links.
    pub effective_mss: u32,
    /// What Linux sends with those options (`mss_cache` minus SACK blocks).
    pub linux_effective_mss: u32,
    /// TCP option bytes on each data segment.
    pub option_bytes: u32,
    /// IPv4 option or IPv6 extension-header bytes on each segment.
    pub ip_option_bytes: u32,
    /// How each encapsulation used the MTU.
    pub layers: Vec<LayerUse>,
    /// The largest frame.
    pub frame: Frame,
}

/// The outcome for one IP version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyReport {
    /// IP version.
    pub version: IpVersion,
    /// The numbers, or why this version is not possible here.
    pub outcome: Result<FamilyNumbers, String>,
    /// Each step of the derivation.
    pub steps: Vec<Step>,
    /// Things worth knowing that a plain number hides.
    pub notes: Vec<String>,
}

/// The whole answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalcReport {
    /// The request it answers.
    pub request: CalcRequest,
    /// One per requested family.
    pub families: Vec<FamilyReport>,
}

impl CalcRequest {
    fn ip_option_bytes(&self, version: IpVersion) -> u32 {
        match version {
            IpVersion::V4 => self.ipv4_option_bytes,
            IpVersion::V6 => self.ipv6_ext_bytes,
        }
    }

    fn check(&self) -> Result<(), CalcError> {
        if self.link_mtu < IpVersion::V4.min_mtu() {
            return Err(CalcError::MtuTooSmall(self.link_mtu));
        }
        if self.ipv4_option_bytes % 4 != 0 || self.ipv4_option_bytes > 40 {
            return Err(CalcError::Ipv4Options(self.ipv4_option_bytes));
        }
        if self.ipv6_ext_bytes % 8 != 0 {
            return Err(CalcError::Ipv6ExtHeaders(self.ipv6_ext_bytes));
        }
        Ok(())
    }
}

/// Computes everything `mss calc --mtu` shows.
pub fn calculate(request: &CalcRequest) -> Result<CalcReport, CalcError> {
    request.check()?;
    let families = request
        .families
        .iter()
        .map(|&version| family(request, version))
        .collect();
    Ok(CalcReport {
        request: request.clone(),
        families,
    })
}

fn family(request: &CalcRequest, version: IpVersion) -> FamilyReport {
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    link_step(request, &mut steps);
    let (layers, ip_mtu, advertised) = match carried(request, version, &mut steps) {
        Ok(carried) => carried,
        Err(reason) => return not_possible(version, steps, reason),
    };
    let ip_option_bytes = request.ip_option_bytes(version);
    let option_bytes = request.options.total_bytes();
    let linux_advertised = linux::advertised_mss(version, Mtu(ip_mtu), None, &request.tunables);
    let effective = rfc::effective_send_mss(SendMssInputs {
        version,
        peer_mss: Some(advertised),
        path_mtu: Mtu(ip_mtu),
        tcp_option_bytes: option_bytes,
        ip_option_bytes,
    });
    let linux_effective = linux::send_mss(
        linux::SendInputs {
            version,
            peer_mss: Some(linux_advertised),
            path_mtu: Mtu(ip_mtu),
            user_mss: None,
            fixed_option_bytes: request.options.fixed_bytes(),
            ext_header_bytes: ip_option_bytes,
        },
        &request.tunables,
    )
    .saturating_sub(request.options.sack_bytes());

    steps.push(advertised_step(version, ip_mtu, advertised));
    steps.push(linux_advertised_step(
        version,
        ip_mtu,
        advertised,
        linux_advertised,
        &mut notes,
    ));
    steps.push(effective_step(
        request,
        version,
        advertised,
        effective,
        ip_option_bytes,
    ));
    if linux_effective != effective {
        let fits = ip_mtu.saturating_sub(version.fixed_overhead() + option_bytes + ip_option_bytes);
        let note = linux_differs(request, linux_effective, fits);
        notes.push(note.clone());
        steps.push(Step {
            text: note,
            source: "__tcp_mtu_to_mss(), net/ipv4/tcp_output.c",
        });
    }
    if request.options.md5 && request.options.timestamps {
        notes.push(
            "Linux never negotiates timestamps together with TCP-MD5 (tcp_syn_options()), so a \
             Linux sender's segments carry 20 option bytes, not 32"
                .to_string(),
        );
    }
    steps.extend(general_steps(version));

    let frame = frame(
        request,
        version,
        ip_mtu,
        effective,
        option_bytes,
        ip_option_bytes,
    );
    steps.push(frame_step(request, &frame));
    FamilyReport {
        version,
        outcome: Ok(FamilyNumbers {
            ip_mtu,
            advertised_mss: advertised,
            linux_advertised_mss: linux_advertised,
            effective_mss: effective,
            linux_effective_mss: linux_effective,
            option_bytes,
            ip_option_bytes,
            layers,
            frame,
        }),
        steps,
        notes,
    }
}

/// The layers the request's encapsulations take, the MTU left for the inner IP
/// packet and the MSS the RFC advertises on it; the steps of each layer are pushed.
/// An error says why the family cannot be carried.
fn carried(
    request: &CalcRequest,
    version: IpVersion,
    steps: &mut Vec<Step>,
) -> Result<(Vec<LayerUse>, u32, Mss), String> {
    let layers = request
        .encaps
        .walk(request.link_mtu, version)
        .map_err(|e| match e {
            NotCarried::WrongFamily { layer, carries } => {
                format!("{layer} carries only {carries}")
            }
            NotCarried::NoRoom { layer, available } => {
                format!("{layer} needs more than the {available} bytes left")
            }
        })?;
    for layer in layers.iter().filter(|l| !l.frame_only) {
        steps.push(layer_step(layer, version));
    }
    let ip_mtu = layers.last().map_or(request.link_mtu, |l| l.inner_mtu);
    let advertised = rfc::advertised_mss(version, Mtu(ip_mtu)).map_err(|e| match version {
        IpVersion::V6 => {
            format!("IPv6 needs an MTU of at least 1280 (RFC 8200 section 5); {ip_mtu} is left")
        }
        IpVersion::V4 => e.to_string(),
    })?;
    Ok((layers, ip_mtu, advertised))
}

/// Why Linux's segments differ from the RFC's arithmetic.
fn linux_differs(request: &CalcRequest, linux_effective: u32, fits: u32) -> String {
    if linux_effective > fits {
        format!(
            "Linux sends {linux_effective}-byte segments here, more than the {fits} that fit: \
             its send MSS never drops below tcp_min_snd_mss ({}) before options, so these \
             packets exceed the MTU",
            request.tunables.tcp_min_snd_mss
        )
    } else {
        format!(
            "Linux sends {linux_effective}-byte segments here (its floors differ from the RFC arithmetic)"
        )
    }
}

fn not_possible(version: IpVersion, steps: Vec<Step>, reason: String) -> FamilyReport {
    FamilyReport {
        version,
        outcome: Err(reason),
        steps,
        notes: Vec::new(),
    }
}

fn link_step(request: &CalcRequest, steps: &mut Vec<Step>) {
    use crate::encap::Encap;
    let on_link = request
        .encaps
        .layers()
        .iter()
        .take_while(|l| matches!(l, Encap::Vlan { .. } | Encap::VnTag));
    let tags: u32 = on_link
        .clone()
        .map(|l| match l {
            Encap::Vlan { tags } => u32::from(*tags),
            _ => 0,
        })
        .sum();
    let vn_tags = on_link.filter(|l| matches!(l, Encap::VnTag)).count();
    let mut text = format!(
        "The link carries packets of up to {} bytes (its MTU), not counting the \
         Ethernet header and FCS.",
        request.link_mtu
    );
    if tags > 0 {
        text.push_str(&format!(
            " The {tags} VLAN tag(s) on the link sit in the Ethernet header: they make \
             the frame {} bytes longer, not the MTU smaller. Only where a port passes no \
             frame above 1518 bytes does a tag cost MTU: then give --mtu {}.",
            4 * tags,
            request.link_mtu.saturating_sub(4 * tags)
        ));
    }
    if vn_tags > 0 {
        text.push_str(
            " The VN-Tag sits in the Ethernet header as well: 6 bytes more frame, no less \
             MTU.",
        );
    }
    steps.push(Step {
        text,
        source: "RFC 894; IEEE 802.1Q",
    });
}

fn layer_step(layer: &LayerUse, version: IpVersion) -> Step {
    let cost = layer.outer_mtu - layer.inner_mtu;
    let carried = layer.inner_mtu;
    let parts: Vec<String> = layer
        .encap
        .parts(carried, version)
        .iter()
        .map(|p| format!("{} {}", p.label, p.bytes))
        .collect();
    let mut text = format!(
        "{} takes {cost} bytes ({}), leaving {} for the packet inside.",
        layer.encap.describe(),
        parts.join(" + "),
        layer.inner_mtu
    );
    if matches!(
        layer.encap,
        crate::encap::Encap::Esp(_) | crate::encap::Encap::OpenVpn(_)
    ) {
        text.push_str(
            " The cipher pads to its block, so the overhead depends on the packet size: this \
             is the largest packet whose padded form still fits.",
        );
    }
    Step {
        text,
        source: source_of(&layer.encap),
    }
}

fn source_of(encap: &crate::encap::Encap) -> &'static str {
    use crate::encap::{Encap, IpInIp};
    match encap {
        Encap::Vlan { .. } => "IEEE 802.1Q, 802.1ad",
        Encap::Pppoe => "RFC 2516 section 4; RFC 1661",
        Encap::Mpls { .. } => "RFC 3032 section 2.1",
        Encap::Gre { .. } => "RFC 2784 section 2; RFC 2890 section 2",
        Encap::IpInIp(IpInIp::Ipip) => "RFC 2003 section 3",
        Encap::IpInIp(IpInIp::SixInFour) => "RFC 4213 section 3.5",
        Encap::IpInIp(_) => "RFC 2473 sections 3 and 4.1.1; ip6_tnl_link_config()",
        Encap::Vxlan { .. } => "RFC 7348 section 5",
        Encap::Geneve { .. } => "RFC 8926 section 3",
        Encap::Erspan { .. } => "draft-foschiano-erspan-03; Linux include/net/erspan.h",
        Encap::Pbb => "IEEE 802.1Q-2018 clause 9.7 (the 802.1ah I-TAG)",
        Encap::VnTag => "Cisco VN-Tag (the IEEE 802.1Qbh proposal)",
        Encap::GreInUdp { .. } => "RFC 8086 section 3; RFC 2890 section 2",
        Encap::Teredo => "RFC 4380 sections 5.1.1 and 5.1.2",
        Encap::Ayiya { .. } => "draft-massar-v6ops-ayiya-02; AICCU",
        Encap::Gtpu { .. } => "3GPP TS 29.281 section 5.1",
        Encap::L2tp { .. } => "RFC 2661 section 3.1; RFC 1662",
        Encap::WireGuard { .. } => "WireGuard whitepaper section 5.4.6",
        Encap::Esp(_) => "RFC 4303 sections 2 and 2.4",
        Encap::OpenVpn(_) => "OpenVPN data channel format (P_DATA_V2)",
    }
}

fn advertised_step(version: IpVersion, ip_mtu: u32, advertised: Mss) -> Step {
    let text = if version == IpVersion::V6 && advertised == IPV6_JUMBO_MSS {
        format!(
            "The MTU of {ip_mtu} leaves more than 65535 bytes after the headers, so the \
             MSS option says 65535, which for IPv6 means \"infinity: use path MTU discovery\"."
        )
    } else {
        let mtu = ip_mtu.min(version.max_packet());
        format!(
            "The MSS option announces the largest segment this host can receive: {mtu} - {} \
             ({version} header) - 20 (TCP header) = {advertised}. Options are not subtracted \
             here; each sender subtracts the ones it actually puts in a segment. It is also \
             the clamp target (adjust-mss, TCPMSS --set-mss) for {version} traffic through \
             this link; IPv6 needs its own target, 20 bytes below IPv4's.",
            version.header_len()
        )
    };
    Step {
        text,
        source: if advertised == IPV6_JUMBO_MSS {
            "RFC 2675 section 5"
        } else {
            "RFC 6691 section 2; RFC 9293 section 3.7.1"
        },
    }
}

fn linux_advertised_step(
    version: IpVersion,
    ip_mtu: u32,
    advertised: Mss,
    linux: Mss,
    notes: &mut Vec<String>,
) -> Step {
    let (rule, source) = match version {
        IpVersion::V4 => (
            "max(MTU - 40, net.ipv4.route.min_adv_mss = 256), at most 65495",
            "ipv4_default_advmss(), net/ipv4/route.c",
        ),
        IpVersion::V6 => (
            "max(MTU - 60, net.ipv6.route.min_adv_mss = 1220); above 65515 the SYN says 65534",
            "ip6_default_advmss(), net/ipv6/route.c",
        ),
    };
    let text = if linux == advertised {
        format!("Linux advertises the same {linux}: {rule}. TCP_MAXSEG can only lower it.")
    } else {
        let why = if u32::from(linux.get()) > ip_mtu.saturating_sub(version.fixed_overhead()) {
            "its floor is above what the MTU allows; its own sending is still limited by the MTU"
        } else {
            "the kernel caps the value"
        };
        let note = format!("Linux advertises {linux}, not {advertised}: {why}");
        notes.push(note);
        format!("Linux advertises {linux}, not {advertised}: {rule}; {why}.")
    };
    Step { text, source }
}

fn effective_step(
    request: &CalcRequest,
    version: IpVersion,
    advertised: Mss,
    effective: u32,
    ip_option_bytes: u32,
) -> Step {
    let parts = request.options.parts();
    let mut text = if parts.is_empty() {
        format!(
            "With no options on data segments a sender can fill the whole {advertised}. \
             Two Linux hosts negotiate timestamps by default and then send {} (see \
             --options ts).",
            u32::from(advertised.get()).saturating_sub(12)
        )
    } else {
        let listed: Vec<String> = parts.iter().map(|(n, b)| format!("{n} {b}")).collect();
        format!(
            "Each data segment carries {} option bytes ({}), so the payload is {advertised} \
             - {} = {}.",
            request.options.total_bytes(),
            listed.join(", "),
            request.options.total_bytes(),
            u32::from(advertised.get()).saturating_sub(request.options.total_bytes())
        )
    };
    if request.options.timestamps {
        let (with, without) = match version {
            IpVersion::V4 => (1448, 1460),
            IpVersion::V6 => (1428, 1440),
        };
        text.push_str(&format!(
            " Timestamps are 10 bytes padded to 12 and ride on every segment once \
             negotiated: this is why a 1500-byte link shows {with}, not {without}."
        ));
    }
    if request.options.sack_blocks > 0 {
        text.push_str(&format!(
            " SACK blocks appear only while the receiver reports holes; up to {} fit beside \
             the other options.",
            request.options.max_sack_blocks()
        ));
    }
    if ip_option_bytes > 0 {
        let what = match version {
            IpVersion::V4 => "IPv4 options",
            IpVersion::V6 => "IPv6 extension headers",
        };
        text.push_str(&format!(
            " The {ip_option_bytes} bytes of {what} come off as well: {effective}."
        ));
    }
    Step {
        text,
        source: "RFC 9293 section 3.7.1 (MUST-16): Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize",
    }
}

fn general_steps(version: IpVersion) -> Vec<Step> {
    let default = version.default_mss();
    let (basis, min) = match version {
        IpVersion::V4 => ("576 - 40", "576"),
        IpVersion::V6 => ("1280 - 60", "1280"),
    };
    vec![
        Step {
            text: "Each side announces what it can receive and sends at most what the other \
                   announced, minus options, and no more than its own MTU allows: when one \
                   host's MTU is smaller, both directions end up with the smaller value (MTU \
                   1400 against 1500, with timestamps: 1348 both ways)."
                .to_string(),
            source: "RFC 9293 section 3.7.1",
        },
        Step {
            text: format!(
                "If the peer's SYN carries no MSS option, a sender must assume {default} \
                 ({basis}: every {version} host accepts {min}-byte packets)."
            ),
            source: "RFC 9293 section 3.7.1 (MUST-15); RFC 1122 section 4.2.2.6",
        },
        Step {
            text: format!(
                "Linux refuses setsockopt(TCP_MAXSEG) outside {}..={} with EINVAL. 88 = \
                 (60 + 60 + 8) - (20 + 20): a maximal IP header, a maximal TCP header and the \
                 8 data bytes every IP fragment must carry, minus the fixed headers. It also \
                 never sends with an MSS below tcp_min_snd_mss = {} before options (36 payload \
                 bytes with timestamps).",
                linux::TCP_MIN_MSS,
                linux::TCP_MAXSEG_MAX,
                linux::TCP_MIN_SND_MSS
            ),
            source: "do_tcp_setsockopt(), TCP_MIN_MSS in include/net/tcp.h; __tcp_mtu_to_mss()",
        },
    ]
}

fn frame(
    request: &CalcRequest,
    version: IpVersion,
    ip_mtu: u32,
    payload: u32,
    option_bytes: u32,
    ip_option_bytes: u32,
) -> Frame {
    let mut inner = vec![Part {
        label: crate::encap::ip_label(version),
        bytes: version.header_len(),
        placement: crate::encap::Placement::Head,
    }];
    let mut push = |label: &'static str, bytes: u32| {
        if bytes > 0 {
            inner.push(Part {
                label,
                bytes,
                placement: crate::encap::Placement::Head,
            });
        }
    };
    push(
        match version {
            IpVersion::V4 => "IPv4 options",
            IpVersion::V6 => "IPv6 ext headers",
        },
        ip_option_bytes,
    );
    push("TCP", TCP_HEADER_LEN);
    push("TCP options", option_bytes);
    // The payload is the effective MSS, but never more than the MTU leaves (Linux
    // floors can exceed it; the frame shows what fits).
    let room = ip_mtu.saturating_sub(version.fixed_overhead() + option_bytes + ip_option_bytes);
    push("payload", payload.min(room));
    let mut parts = vec![Part {
        label: "Ethernet",
        bytes: ETHERNET_HEADER,
        placement: crate::encap::Placement::Head,
    }];
    parts.extend(request.encaps.frame_parts(inner, version));
    parts.push(Part {
        label: "FCS",
        bytes: ETHERNET_FCS,
        placement: crate::encap::Placement::Tail,
    });
    let on_wire = parts.iter().map(|p| p.bytes).sum();
    Frame { parts, on_wire }
}

fn frame_step(request: &CalcRequest, frame: &Frame) -> Step {
    Step {
        text: format!(
            "On Ethernet the largest frame is {} bytes: 14 header + {} + 4 FCS{} (plus 8 \
             bytes of preamble and a 12-byte gap on the wire itself).",
            frame.on_wire,
            frame.on_wire - ETHERNET_HEADER - ETHERNET_FCS,
            if frame.on_wire - ETHERNET_HEADER - ETHERNET_FCS != request.link_mtu {
                " (VLAN tags and padding granularity make this differ from the MTU)"
            } else {
                ""
            }
        ),
        source: "IEEE 802.3 clause 3",
    }
}

/// The reverse question for one family: which MTU does an MSS fit?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReverseFamily {
    /// IP version.
    pub version: IpVersion,
    /// The IP MTU on which a host advertises this MSS (at least the version's
    /// minimum).
    pub ip_mtu: u32,
    /// The link MTU needed outside the encapsulations.
    pub link_mtu: u32,
    /// Payload per segment with the requested options.
    pub effective_mss: u32,
    /// The largest frame.
    pub frame: Frame,
    /// Things to know.
    pub notes: Vec<String>,
}

/// Answers `mss calc --mss N`: the MTU (per family) on which a host announces `mss`,
/// and the link MTU that carries it through the encapsulations.
pub fn reverse(request: &CalcRequest, mss: Mss) -> Result<Vec<ReverseFamily>, CalcError> {
    if mss.get() == 0 {
        return Err(CalcError::ZeroMss);
    }
    let mut probe = request.clone();
    probe.link_mtu = IpVersion::V4.min_mtu();
    probe.check()?;
    let mut out = Vec::new();
    for &version in &request.families {
        let exact = u32::from(mss.get()) + version.fixed_overhead();
        let ip_mtu = rfc::mtu_for_mss(version, mss).get();
        let mut notes = Vec::new();
        if ip_mtu > exact {
            notes.push(format!(
                "an {version} link cannot be smaller than {ip_mtu} (its minimum); a host on \
                 such a link advertises {} and a clamp to {mss} is what produces {mss}",
                ip_mtu - version.fixed_overhead()
            ));
        }
        let linux_floor = match version {
            IpVersion::V4 => request.tunables.ipv4_min_adv_mss,
            IpVersion::V6 => request.tunables.ipv6_min_adv_mss,
        };
        if mss.get() < linux_floor {
            notes.push(format!(
                "Linux never advertises less than {linux_floor} from a route MTU \
                 (route.min_adv_mss); only TCP_MAXSEG or a clamp gives {mss}"
            ));
        }
        if version == IpVersion::V4 && exact > IpVersion::V4.max_packet() {
            notes.push("IPv4 packets cannot exceed 65535 bytes".to_string());
        }
        let link_mtu = request.encaps.link_mtu_for(ip_mtu, version);
        let ip_option_bytes = request.ip_option_bytes(version);
        let option_bytes = request.options.total_bytes();
        let effective = rfc::effective_send_mss(SendMssInputs {
            version,
            peer_mss: Some(mss),
            path_mtu: Mtu(ip_mtu),
            tcp_option_bytes: option_bytes,
            ip_option_bytes,
        });
        let mut with_link = request.clone();
        with_link.link_mtu = link_mtu;
        let frame = frame(
            &with_link,
            version,
            ip_mtu,
            effective,
            option_bytes,
            ip_option_bytes,
        );
        out.push(ReverseFamily {
            version,
            ip_mtu,
            link_mtu,
            effective_mss: effective,
            frame,
            notes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mtu: u32, encaps: &str, options: &str) -> CalcRequest {
        CalcRequest {
            link_mtu: mtu,
            encaps: encaps.parse().unwrap_or_default(),
            options: options.parse().unwrap_or_default(),
            ipv4_option_bytes: 0,
            ipv6_ext_bytes: 0,
            families: IpVersion::ALL.to_vec(),
            tunables: LinuxTunables::default(),
        }
    }

    fn numbers(report: &CalcReport, version: IpVersion) -> Option<&FamilyNumbers> {
        report
            .families
            .iter()
            .find(|f| f.version == version)
            .and_then(|f| f.outcome.as_ref().ok())
    }

    fn summary(
        mtu: u32,
        encaps: &str,
        options: &str,
        version: IpVersion,
    ) -> Option<(u32, u16, u16, u32)> {
        let report = calculate(&request(mtu, encaps, options)).ok()?;
        let n = numbers(&report, version)?;
        Some((
            n.ip_mtu,
            n.advertised_mss.get(),
            n.linux_advertised_mss.get(),
            n.effective_mss,
        ))
    }

    #[test]
    fn the_done_when_numbers() {
        use IpVersion::{V4, V6};
        // 1460/1440 on Ethernet; 1448/1428 with timestamps (RFC 6691, RFC 7323).
        assert_eq!(summary(1500, "", "", V4), Some((1500, 1460, 1460, 1460)));
        assert_eq!(summary(1500, "", "", V6), Some((1500, 1440, 1440, 1440)));
        assert_eq!(summary(1500, "", "ts", V4).map(|s| s.3), Some(1448));
        assert_eq!(summary(1500, "", "ts", V6).map(|s| s.3), Some(1428));
        // PPPoE (RFC 2516): 1452.
        assert_eq!(summary(1500, "pppoe", "", V4).map(|s| s.1), Some(1452));
        // WireGuard over IPv4: 1400 / 1380.
        assert_eq!(summary(1500, "wireguard", "", V4).map(|s| s.1), Some(1400));
        assert_eq!(summary(1500, "wireguard", "", V6).map(|s| s.1), Some(1380));
        // Jumbo 9000: 8960.
        assert_eq!(summary(9000, "", "", V4).map(|s| s.1), Some(8960));
        // RFC 879's 576: 536. RFC 8200's 1280: 1220.
        assert_eq!(summary(576, "", "", V4).map(|s| s.1), Some(536));
        assert_eq!(summary(1280, "", "", V6).map(|s| s.1), Some(1220));
        // Linux floors and caps: 256 at MTU 280, 65495 on a 65536 loopback.
        assert_eq!(summary(280, "", "", V4), Some((280, 240, 256, 240)));
        assert_eq!(summary(65_536, "", "", V4).map(|s| s.2), Some(65_495));
        // The JSON example: ip_mtu 1440, 1400, 1388 with timestamps.
        assert_eq!(
            summary(1500, "wireguard", "ts", V4),
            Some((1440, 1400, 1400, 1388))
        );
    }

    #[test]
    fn ipv6_below_1280_is_not_possible_not_an_error() {
        let report = calculate(&request(1000, "", "")).ok();
        let v6 = report
            .as_ref()
            .and_then(|r| r.families.iter().find(|f| f.version == IpVersion::V6));
        assert!(matches!(v6.map(|f| &f.outcome), Some(Err(reason)) if reason.contains("1280")));
        assert!(calculate(&request(67, "", "")).is_err());
    }

    #[test]
    fn frame_adds_up() {
        let report = calculate(&request(1500, "pppoe", "ts")).ok();
        let n = report.as_ref().and_then(|r| numbers(r, IpVersion::V4));
        let frame = n.map(|n| &n.frame);
        assert_eq!(frame.map(|f| f.on_wire), Some(1518));
        let labels: Vec<&str> = frame
            .map(|f| f.parts.iter().map(|p| p.label).collect())
            .unwrap_or_default();
        assert_eq!(
            labels,
            [
                "Ethernet",
                "PPPoE",
                "PPP",
                "IPv4",
                "TCP",
                "TCP options",
                "payload",
                "FCS"
            ]
        );
    }

    #[test]
    fn vlan_frame_is_longer() {
        let report = calculate(&request(1500, "vlan", "")).ok();
        let n = report.as_ref().and_then(|r| numbers(r, IpVersion::V4));
        assert_eq!(n.map(|n| (n.ip_mtu, n.frame.on_wire)), Some((1500, 1522)));
    }

    #[test]
    fn vntag_frame_is_longer() {
        let report = calculate(&request(1500, "vntag,vlan", "")).ok();
        let n = report.as_ref().and_then(|r| numbers(r, IpVersion::V4));
        assert_eq!(n.map(|n| (n.ip_mtu, n.frame.on_wire)), Some((1500, 1528)));
        let said = report.as_ref().map(|r| {
            r.families
                .iter()
                .flat_map(|f| &f.steps)
                .any(|s| s.text.contains("VN-Tag sits in the Ethernet header"))
        });
        assert_eq!(said, Some(true));
    }

    #[test]
    fn linux_floor_beyond_the_mtu_is_noted() {
        // MTU 68: the RFC gives 28 - 12 = 16 with timestamps; Linux sends 36.
        let report = calculate(&request(68, "", "ts")).ok();
        let family = report
            .as_ref()
            .and_then(|r| r.families.iter().find(|f| f.version == IpVersion::V4));
        let n = family.and_then(|f| f.outcome.as_ref().ok());
        assert_eq!(
            n.map(|n| (n.effective_mss, n.linux_effective_mss)),
            Some((16, 36))
        );
        assert!(family.is_some_and(|f| f.notes.iter().any(|n| n.contains("exceed the MTU"))));
    }

    #[test]
    fn reverse_mss() {
        let r = reverse(&request(1500, "", ""), Mss(1360)).unwrap_or_default();
        let mtus: Vec<u32> = r.iter().map(|f| f.ip_mtu).collect();
        assert_eq!(mtus, [1400, 1420]);
        let r = reverse(&request(1500, "pppoe", ""), Mss(1452)).unwrap_or_default();
        assert_eq!(r.first().map(|f| f.link_mtu), Some(1500));
        // IPv6 cannot go below 1280.
        let r = reverse(&request(1500, "", ""), Mss(536)).unwrap_or_default();
        assert_eq!(r.get(1).map(|f| f.ip_mtu), Some(1280));
        assert!(r.get(1).is_some_and(|f| !f.notes.is_empty()));
        assert!(reverse(&request(1500, "", ""), Mss(0)).is_err());
    }
}
