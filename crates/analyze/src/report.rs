//! What the analysis concludes about each connection: plain data for renderers.

use core::net::IpAddr;
use serde::{Deserialize, Serialize};

use mss_rules::IpVersion;
use mss_wire::packet::Tunnel;

/// Which endpoint a finding is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The endpoint that sent the first SYN.
    Client,
    /// The other endpoint.
    Server,
}

impl Role {
    /// "client" or "server".
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }

    /// The other role.
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// How the client and server roles were decided.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleEvidence {
    /// The client sent a SYN that was captured.
    Syn,
    /// Only the SYN-ACK was captured: its sender is the server.
    SynAck,
    /// No handshake captured; the endpoint with a port below 1024 (the other's being
    /// 1024 or above) is taken as the server.
    WellKnownPort,
    /// No handshake captured; the sender of the first packet seen is taken as the
    /// client.
    FirstPacket,
}

impl RoleEvidence {
    /// Name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            RoleEvidence::Syn => "syn",
            RoleEvidence::SynAck => "syn_ack",
            RoleEvidence::WellKnownPort => "well_known_port",
            RoleEvidence::FirstPacket => "first_packet",
        }
    }
}

/// What a SYN said about its MSS option.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MssSeen {
    /// The option's value.
    Value(u16),
    /// The SYN was captured whole and carries no MSS option.
    Absent,
    /// The capture cut the SYN (snaplen) before the option list could be read, or the
    /// option list was malformed: unknown, not absent.
    Unknown,
    /// No SYN from this endpoint was captured.
    NotCaptured,
}

impl MssSeen {
    /// The value, if one was seen.
    pub fn value(self) -> Option<u16> {
        match self {
            MssSeen::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the option was seen, in the record's words.
    pub fn state(self) -> MssState {
        match self {
            MssSeen::Value(_) => MssState::Present,
            MssSeen::Absent => MssState::Absent,
            MssSeen::Unknown => MssState::Unknown,
            MssSeen::NotCaptured => MssState::NotCaptured,
        }
    }
}

/// [`MssSeen`] as the JSON record states it: `syn_mss_state`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MssState {
    /// A value (in `syn_mss`).
    Present,
    /// Captured whole, without the option.
    Absent,
    /// Cut off or malformed.
    Unknown,
    /// No SYN of this endpoint was captured.
    NotCaptured,
}

impl MssState {
    /// The name, a JSON contract.
    pub fn name(self) -> &'static str {
        match self {
            MssState::Present => "present",
            MssState::Absent => "absent",
            MssState::Unknown => "unknown",
            MssState::NotCaptured => "not_captured",
        }
    }
}

/// [`MssSeen`] as two keys of an endpoint record (flattened into it): `syn_mss`,
/// the value or null, and `syn_mss_state`.
#[derive(Serialize, Deserialize)]
struct MssSeenKeys {
    syn_mss: Option<u16>,
    syn_mss_state: MssState,
}

impl Serialize for MssSeen {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MssSeenKeys {
            syn_mss: self.value(),
            syn_mss_state: self.state(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MssSeen {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<MssSeen, D::Error> {
        let keys = MssSeenKeys::deserialize(deserializer)?;
        match (keys.syn_mss_state, keys.syn_mss) {
            (MssState::Present, Some(value)) => Ok(MssSeen::Value(value)),
            (MssState::Present, None) => Err(serde::de::Error::custom(
                "syn_mss_state is \"present\" but syn_mss is null",
            )),
            (MssState::Absent, _) => Ok(MssSeen::Absent),
            (MssState::Unknown, _) => Ok(MssSeen::Unknown),
            (MssState::NotCaptured, _) => Ok(MssSeen::NotCaptured),
        }
    }
}

/// The options of a SYN or SYN-ACK.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynOptions {
    /// Window scale shift.
    pub window_scale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Timestamps.
    pub timestamps: bool,
    /// TCP-MD5 signature.
    pub md5: bool,
    /// TCP-AO, with its MAC length.
    pub ao_mac_len: Option<u8>,
    /// Multipath TCP.
    pub mptcp: bool,
    /// TCP Fast Open cookie (or cookie request).
    pub fast_open: bool,
    /// Other option kinds, in order of appearance.
    pub unknown_kinds: Vec<u8>,
}

/// One endpoint of a connection (also as the JSON record writes it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointReport {
    /// Address.
    pub addr: IpAddr,
    /// Port.
    pub port: u16,
    /// The MSS option in this endpoint's SYN or SYN-ACK, at the capture point nearest
    /// to it (in JSON: `syn_mss` and `syn_mss_state`).
    #[serde(flatten)]
    pub syn_mss: MssSeen,
    /// The other options of that SYN.
    pub syn_options: Option<SynOptions>,
    /// TTL or hop limit of its packets at the capture point nearest to it.
    pub ttl: Option<u8>,
    /// The send MSS the handshake gives it: RFC 9293's effective MSS with the options
    /// its data segments carry (what Linux's `getsockopt(TCP_MAXSEG)` reports).
    pub handshake_send_mss: Option<u32>,
    /// The send MSS in force at the end of the connection (lowered by ICMP too-big
    /// messages that reached it).
    pub effective_send_mss: Option<u32>,
    /// What `effective_send_mss` rests on.
    pub effective_basis: Option<EffectiveBasis>,
    /// TCP option bytes on its data segments (timestamps 12, MD5 20, ...).
    pub data_option_bytes: u32,
    /// Largest payload it sent in one captured packet.
    pub max_segment: Option<u32>,
    /// The most common payload size among its full-size segments.
    pub typical_segment: Option<u32>,
    /// Packets with payload it sent.
    pub data_segments: u64,
    /// Payload bytes it sent (retransmissions included).
    pub data_bytes: u64,
    /// Data segments that repeated sequence space already sent.
    pub retransmissions: u64,
}

/// The evidence behind an effective send MSS.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectiveBasis {
    /// The handshake: the peer's MSS option (or the default), the endpoint's own
    /// option as the evidence of its MTU, the options on its data segments.
    Handshake,
    /// An ICMP too-big message that reached it lowered the path MTU.
    IcmpTooBig,
    /// Its bulk data: it kept filling segments of one size that differs from the
    /// handshake's value, so that is its MSS in force: smaller (a path MTU lowered
    /// by a message this capture did not see, a clamp on the other side of the
    /// capture point), larger but within the peer's MSS (a stack announcing less
    /// than its MTU carries), or the only evidence (no handshake captured).
    Segments,
    /// After a black hole it got through with smaller segments (MTU probing).
    Probing,
}

impl EffectiveBasis {
    /// Name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            EffectiveBasis::Handshake => "handshake",
            EffectiveBasis::IcmpTooBig => "icmp_too_big",
            EffectiveBasis::Segments => "segments",
            EffectiveBasis::Probing => "probing",
        }
    }
}

/// Why segments larger than the MSS appear in the capture.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OversizeCause {
    /// Captured at the sender before TCP segmentation offload split the
    /// super-segment (TSO in the NIC, GSO in the kernel).
    TsoGso,
    /// Captured at the receiver (or a forwarding host) after receive offload merged
    /// segments (GRO in the kernel, LRO in the NIC), or on a virtual link that passes
    /// super-segments whole.
    GroLro,
    /// No offload explains it: the packet went out as one packet.
    Violation,
    /// Linux's floor: it never sends less than `tcp_min_snd_mss` (48) bytes of TCP
    /// payload and options per segment, even to a peer that announced less.
    LinuxMinSndMss,
}

impl OversizeCause {
    /// Name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            OversizeCause::TsoGso => "tso_gso",
            OversizeCause::GroLro => "gro_lro",
            OversizeCause::Violation => "violation",
            OversizeCause::LinuxMinSndMss => "linux_min_snd_mss",
        }
    }
}

/// Something worth explaining.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A SYN or SYN-ACK without MSS option: the peer must assume 536 / 1220.
    MssMissing {
        /// The endpoint whose SYN lacks it.
        endpoint: Role,
        /// The default its peer assumes.
        default: u16,
    },
    /// An MSS option below Linux's TCP_MIN_MSS of 88.
    MssBelowLinuxMin {
        /// The endpoint that announced it.
        endpoint: Role,
        /// The value.
        mss: u16,
    },
    /// The capture cut the SYN before its options: the MSS is unknown.
    MssCutOff {
        /// The endpoint whose SYN was cut.
        endpoint: Role,
    },
    /// Segments larger than the effective send MSS.
    SegmentsExceedMss {
        /// The sender.
        endpoint: Role,
        /// Why.
        cause: OversizeCause,
        /// How many.
        count: u64,
        /// The largest payload.
        largest: u32,
        /// The sender's handshake send MSS (segments are judged against what the
        /// peer's option allows, which is at least this).
        mss: u32,
    },
    /// The MSS option changed between two capture points: a middlebox clamped it.
    MssRewritten {
        /// The endpoint whose SYN was rewritten.
        endpoint: Role,
        /// The value before.
        from: u16,
        /// The value after.
        to: u16,
        /// The capture point (input index) where it was still `from`.
        before: usize,
        /// The capture point where it was `to`.
        after: usize,
    },
    /// ICMP "fragmentation needed" / ICMPv6 "packet too big" for this flow.
    IcmpTooBig {
        /// The endpoint whose packet was too big (the sender the message is for).
        endpoint: Role,
        /// The MTU the message announced (0 from pre-RFC 1191 routers).
        mtu: u32,
        /// The size of the packet that did not fit.
        size: u32,
        /// How many such messages.
        count: u32,
        /// Whether the sender's later segments fit the announced MTU.
        shrank: Option<bool>,
    },
    /// Full-size segments retransmitted again and again without an ICMP message:
    /// a path MTU black hole.
    PmtudBlackholeSuspected {
        /// The sender.
        endpoint: Role,
        /// IP packet size that kept disappearing.
        size: u32,
        /// Its TCP payload.
        segment: u32,
        /// Transmissions of that segment.
        transmissions: u32,
        /// The smaller segment size that got through afterwards, if any.
        recovered_with: Option<u32>,
    },
    /// IP fragments carrying TCP.
    IpFragments {
        /// The sender.
        endpoint: Role,
        /// Fragments captured.
        count: u32,
        /// Datagrams given up with fragments missing.
        incomplete: u32,
        /// The largest of those, as far as known (the data length its last fragment
        /// gave, else the end of the data seen), in bytes of IP payload.
        incomplete_len: u32,
    },
    /// The two directions send with different effective MSS.
    AsymmetricMss {
        /// The client's effective send MSS.
        client: u32,
        /// The server's.
        server: u32,
    },
}

impl Finding {
    /// The kind's name, a JSON contract.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::MssMissing { .. } => "mss_missing",
            Finding::MssBelowLinuxMin { .. } => "mss_below_linux_min",
            Finding::MssCutOff { .. } => "mss_cut_off",
            Finding::SegmentsExceedMss { .. } => "segments_exceed_mss",
            Finding::MssRewritten { .. } => "mss_rewritten",
            Finding::IcmpTooBig { .. } => "icmp_too_big",
            Finding::PmtudBlackholeSuspected { .. } => "pmtud_blackhole_suspected",
            Finding::IpFragments { .. } => "ip_fragments",
            Finding::AsymmetricMss { .. } => "asymmetric_mss",
        }
    }

    /// All kinds, for `--fail-on` validation and documentation.
    pub const KINDS: [&'static str; 9] = [
        "mss_missing",
        "mss_below_linux_min",
        "mss_cut_off",
        "segments_exceed_mss",
        "mss_rewritten",
        "icmp_too_big",
        "pmtud_blackhole_suspected",
        "ip_fragments",
        "asymmetric_mss",
    ];

    /// The endpoint it is about, if one.
    pub fn endpoint(&self) -> Option<Role> {
        match *self {
            Finding::MssMissing { endpoint, .. }
            | Finding::MssBelowLinuxMin { endpoint, .. }
            | Finding::MssCutOff { endpoint }
            | Finding::SegmentsExceedMss { endpoint, .. }
            | Finding::MssRewritten { endpoint, .. }
            | Finding::IcmpTooBig { endpoint, .. }
            | Finding::PmtudBlackholeSuspected { endpoint, .. }
            | Finding::IpFragments { endpoint, .. } => Some(endpoint),
            Finding::AsymmetricMss { .. } => None,
        }
    }
}

/// How far a connection's handshake got in the capture.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handshake {
    /// SYN, SYN-ACK and the client's ACK.
    Complete,
    /// SYN and SYN-ACK.
    SynAck,
    /// Only a SYN (no answer captured).
    SynOnly,
    /// The connection was already open when the capture started.
    NotCaptured,
}

impl Handshake {
    /// Name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Handshake::Complete => "complete",
            Handshake::SynAck => "syn_ack",
            Handshake::SynOnly => "syn_only",
            Handshake::NotCaptured => "not_captured",
        }
    }
}

/// How a connection ended in the capture.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// FIN from both sides.
    Closed,
    /// A reset.
    Reset,
    /// Still open when the capture ended (or idle past the timeout).
    Open,
    /// Dropped early to bound memory (too many live connections).
    Evicted,
}

impl Ending {
    /// Name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Ending::Closed => "closed",
            Ending::Reset => "reset",
            Ending::Open => "open",
            Ending::Evicted => "evicted",
        }
    }
}

/// Where a capture point sits relative to the endpoints, for one connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// On the client's host (or its link): the client's TTL is still at its initial
    /// value, or the handshake timing says so.
    AtClient,
    /// On the server's host (or its link).
    AtServer,
    /// On the path between, where both directions' TTLs have been decremented.
    Between,
    /// No evidence.
    Unknown,
}

impl Position {
    /// Name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Position::AtClient => "at_client",
            Position::AtServer => "at_server",
            Position::Between => "between",
            Position::Unknown => "unknown",
        }
    }
}

/// A capture point that saw the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointSeen {
    /// Capture point index: the input's index for an input's first interface.
    pub point: usize,
    /// The input it is in.
    pub input: usize,
    /// Which host captured it (points of one host share it: the interfaces of one
    /// file, or of one live capture).
    pub host: usize,
    /// Its interface, when the capture names it (several interfaces in one input).
    pub interface: Option<std::sync::Arc<str>>,
    /// Where it sits.
    pub position: Position,
    /// Packets of this connection it captured.
    pub packets: u64,
    /// The MSS option of the client's SYN and of the server's SYN-ACK as this
    /// point saw them (a clamp between two points shows as a difference).
    pub syn_mss: [MssSeen; 2],
}

/// Everything about one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionReport {
    /// Sequential id in the order connections were first seen.
    pub id: u64,
    /// IP version.
    pub ip_version: IpVersion,
    /// The endpoint that opened the connection.
    pub client: EndpointReport,
    /// The endpoint that accepted it.
    pub server: EndpointReport,
    /// How the roles were decided.
    pub roles: RoleEvidence,
    /// Handshake state.
    pub handshake: Handshake,
    /// How it ended.
    pub ending: Ending,
    /// First packet's time, ns since the epoch.
    pub first_ns: u64,
    /// Last packet's time.
    pub last_ns: u64,
    /// Packet number (in its capture) of the first packet.
    pub first_packet: u64,
    /// Capture points that saw it, nearest to the client first where known.
    pub points: Vec<PointSeen>,
    /// A tunnel it was carried in.
    pub tunnel: Option<Tunnel>,
    /// What is worth explaining.
    pub findings: Vec<Finding>,
    /// Its segment sizes over time, one trace per capture point and direction
    /// (client first at each point), when [`crate::Config::segments`] asked for
    /// them; empty otherwise.
    pub segments: Vec<crate::series::Trace>,
}

impl ConnectionReport {
    /// A capture point's name for messages: its input's name from `names` (by input
    /// index), and its interface where the capture names one ("a.pcapng (eth1)").
    pub fn point_name(&self, point: usize, names: &[String]) -> Option<String> {
        let seen = self.points.iter().find(|p| p.point == point);
        let input = seen.map_or(point, |p| p.input);
        let name = names.get(input)?;
        Some(match seen.and_then(|p| p.interface.as_deref()) {
            // A live input is named by its interface already.
            Some(interface) if interface != name => format!("{name} ({interface})"),
            _ => name.clone(),
        })
    }

    /// The endpoint with a role.
    pub fn endpoint(&self, role: Role) -> &EndpointReport {
        match role {
            Role::Client => &self.client,
            Role::Server => &self.server,
        }
    }
}
