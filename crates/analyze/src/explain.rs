//! Each finding in plain words: what happened, why, where the rule comes from, and
//! what to do.

use crate::report::{ConnectionReport, EffectiveBasis, Finding, MssSeen, OversizeCause, Role};

/// A finding explained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// One line.
    pub title: String,
    /// What happened and why.
    pub text: String,
    /// RFC section, kernel function or document behind it.
    pub source: &'static str,
    /// What to do, when something should be done.
    pub fix: Option<String>,
}

fn syn_name(role: Role) -> &'static str {
    match role {
        Role::Client => "SYN",
        Role::Server => "SYN-ACK",
    }
}

/// Explains `finding`, which belongs to `conn`.
pub fn explain(finding: &Finding, conn: &ConnectionReport) -> Explanation {
    match *finding {
        Finding::MssMissing { endpoint, default } => mss_missing(endpoint, default),
        Finding::MssBelowLinuxMin { endpoint, mss } => below_linux_min(endpoint, mss),
        Finding::MssCutOff { endpoint } => cut_off(endpoint),
        Finding::SegmentsExceedMss {
            endpoint,
            cause,
            count,
            largest,
            mss,
        } => oversize(endpoint, cause, count, largest, mss),
        Finding::MssRewritten {
            endpoint,
            from,
            to,
            before,
            after,
        } => rewritten(conn, endpoint, from, to, before, after),
        Finding::IcmpTooBig {
            endpoint,
            mtu,
            size,
            count,
            shrank,
        } => too_big(conn, endpoint, mtu, size, count, shrank),
        Finding::PmtudBlackholeSuspected {
            endpoint,
            size,
            segment,
            transmissions,
            recovered_with,
        } => blackhole(endpoint, size, segment, transmissions, recovered_with),
        Finding::IpFragments {
            endpoint,
            count,
            incomplete,
            incomplete_len,
        } => fragments(endpoint, count, incomplete, incomplete_len),
        Finding::AsymmetricMss { client, server } => asymmetric(conn, client, server),
    }
}

/// `mss_missing`.
fn mss_missing(endpoint: Role, default: u16) -> Explanation {
    Explanation {
        title: format!(
            "{} {} without MSS option",
            endpoint.name(),
            syn_name(endpoint)
        ),
        text: format!(
            "The {}'s {} carries no MSS option, so the {} must assume {default} bytes \
             (RFC 9293: 536 for IPv4, 1220 for IPv6) and never sends larger segments, \
             however large the path's MTU.",
            endpoint.name(),
            syn_name(endpoint),
            endpoint.peer().name()
        ),
        source: "RFC 9293 section 3.7.1 (MUST-15)",
        fix: Some(
            "Every common stack sends an MSS option: look for a firewall or a broken \
             clamp that strips TCP options between the hosts."
                .to_string(),
        ),
    }
}

/// `mss_below_linux_min`.
fn below_linux_min(endpoint: Role, mss: u16) -> Explanation {
    Explanation {
        title: format!("{} announced MSS {mss}, below Linux's 88", endpoint.name()),
        text: format!(
            "The {} announced an MSS of {mss}. Linux accepts it from a peer but never \
             sends segments smaller than tcp_min_snd_mss (48) minus options, and its own \
             TCP_MAXSEG refuses values below TCP_MIN_MSS = 88 = (60 + 60 + 8) - (20 + \
             20): a maximal IP and TCP header plus the 8 bytes every fragment carries, \
             minus the fixed headers.",
            endpoint.name()
        ),
        source: "include/net/tcp.h TCP_MIN_MSS; net.ipv4.tcp_min_snd_mss (CVE-2019-11479)",
        fix: Some(
            "A Linux host does not announce this by itself: look for a clamp set to a \
             tiny value or a non-Linux stack."
                .to_string(),
        ),
    }
}

/// `mss_cut_off`.
fn cut_off(endpoint: Role) -> Explanation {
    Explanation {
        title: format!(
            "{} {} cut by the snaplen",
            endpoint.name(),
            syn_name(endpoint)
        ),
        text: format!(
            "The capture cut the {}'s {} before its TCP options were complete: its MSS \
             is unknown, not absent.",
            endpoint.name(),
            syn_name(endpoint)
        ),
        source: "pcap snaplen",
        fix: Some(
            "Capture with the full packet (tcpdump -s 0, the default of current tcpdump)."
                .to_string(),
        ),
    }
}

/// `pmtud_blackhole_suspected`.
fn blackhole(
    endpoint: Role,
    size: u32,
    segment: u32,
    transmissions: u32,
    recovered_with: Option<u32>,
) -> Explanation {
    let outcome = match recovered_with {
        Some(smaller) => format!(
            " It then got through with {smaller}-byte segments: the sender searched \
             for a size that fits (Linux tcp_mtu_probing, PLPMTUD per RFC 4821)."
        ),
        None => " The connection stalled.".to_string(),
    };
    Explanation {
        title: format!(
            "{} stalled on {size}-byte packets: PMTU black hole suspected",
            endpoint.name()
        ),
        text: format!(
            "The {} sent the same {segment}-byte segment ({size}-byte IP packet) \
             {transmissions} times without acknowledgment, and no ICMP too-big \
             message reached the capture: packets of that size are dropped silently \
             on the path, so path MTU discovery cannot work.{outcome}",
            endpoint.name()
        ),
        source: "RFC 2923 section 2.1; RFC 4821; RFC 8899",
        fix: Some(format!(
            "Let ICMP 'fragmentation needed' (IPv4 type 3 code 4) and ICMPv6 'packet \
             too big' (type 2) through every firewall on the path; or clamp the MSS on \
             the router before the small link (mss calc --mtu <link MTU> gives the \
             value); or set net.ipv4.tcp_mtu_probing=1 on the {}.",
            endpoint.name()
        )),
    }
}

/// `ip_fragments`.
fn fragments(endpoint: Role, count: u32, incomplete: u32, incomplete_len: u32) -> Explanation {
    let mut text = format!(
        "The {}'s TCP segments were fragmented at the IP layer: a packet was larger than \
         a link's MTU and did not have Don't Fragment set (or IPv6 fragmented at the \
         source). The fragments were put back together as the receiver does, and the \
         segments are counted at their whole size. Every lost fragment loses the whole \
         segment.",
        endpoint.name()
    );
    if incomplete > 0 {
        text.push_str(&format!(
            " {incomplete} of its datagrams never came together (a fragment is missing \
             from the capture; the largest had at least {incomplete_len} bytes of IP \
             payload): their segments are not counted."
        ));
    }
    Explanation {
        title: format!(
            "{count} IP fragments of the {}'s TCP segments",
            endpoint.name()
        ),
        text,
        source: "RFC 8900; RFC 1191",
        fix: Some(
            "Lower the MSS to fit the smallest MTU (clamp it), and keep DF set so PMTUD works."
                .to_string(),
        ),
    }
}

/// `asymmetric_mss`.
fn asymmetric(conn: &ConnectionReport, client: u32, server: u32) -> Explanation {
    let lower = if client < server {
        Role::Client
    } else {
        Role::Server
    };
    let lower_end = conn.endpoint(lower);
    let why = match (lower_end.effective_basis, lower_end.handshake_send_mss) {
        (Some(EffectiveBasis::Segments), Some(handshake)) => format!(
            " The {} kept sending {}-byte segments although its handshake allows {handshake}: \
                 its send MSS was lowered after the handshake, by an ICMP too-big message \
                 this capture did not see or by a clamp or MTU on the far side of this \
                 capture point.",
            lower.name(),
            lower_end.effective_send_mss.unwrap_or(0)
        ),
        _ => match (conn.client.syn_mss, conn.server.syn_mss) {
            (MssSeen::Value(c), MssSeen::Value(s)) if c != s => format!(
                " The SYNs differ: the client announced {c}, the server {s}; each side \
                     sends at most what the other announced, and at most what its own MTU \
                     allows. When only the hosts' MTUs differ, both directions end up with \
                     the smaller value; different values mean one side's limit is hidden \
                     from the other (a clamp on one path, TCP_MAXSEG on one host, or a path \
                     MTU learned one way)."
            ),
            _ => " Each side sends at most what the other announced, and at most what its \
                      own MTU or learned path MTU allows."
                .to_string(),
        },
    };
    Explanation {
        title: format!("client sends {client}, server sends {server}"),
        text: format!("The two directions use different effective MSS.{why}"),
        source: "RFC 9293 section 3.7.1",
        fix: None,
    }
}

fn oversize(
    endpoint: Role,
    cause: OversizeCause,
    count: u64,
    largest: u32,
    mss: u32,
) -> Explanation {
    let ratio = if mss > 0 {
        format!(" = {:.1} x the MSS", f64::from(largest) / f64::from(mss))
    } else {
        String::new()
    };
    let head = format!(
        "{count} segments from the {} exceed its effective MSS of {mss} (largest {largest} \
         bytes{ratio}).",
        endpoint.name()
    );
    let (why, fix, source) = match cause {
        OversizeCause::TsoGso => (
            " The capture was taken at the sender, before segmentation offload: the kernel \
             hands the NIC (TSO) or its own GSO layer super-segments that are cut into \
             MSS-sized packets after tcpdump saw them. On the wire no packet was larger than \
             the MSS.",
            "To see wire sizes, capture with offloads off on the sender's interface: \
             ethtool -K IFACE tso off gso off.",
            "Linux Documentation/networking/segmentation-offloads.rst (TSO, GSO)",
        ),
        OversizeCause::GroLro => (
            " The capture was taken where receive offload merges consecutive segments (GRO \
             in the kernel, LRO in the NIC: at the receiver or a forwarding host), or on a \
             virtual link such as veth that passes the sender's super-segments whole. The \
             segments were MSS-sized on the wire.",
            "To see wire sizes, capture with ethtool -K IFACE gro off lro off on the \
             capturing interface (and tso off gso off on the sender over veth).",
            "Linux Documentation/networking/segmentation-offloads.rst (GRO)",
        ),
        OversizeCause::LinuxMinSndMss => (
            " The MSS the sender received is so small that Linux's floor applies: it never \
             puts less than net.ipv4.tcp_min_snd_mss (48) bytes of TCP payload and options \
             in a segment, whatever the peer announced (the fix for CVE-2019-11479, which \
             used tiny MSS values to exhaust resources). An MSS this small usually comes from \
             a misconfigured clamp.",
            "Find what lowers the MSS that far (a clamp set to a tiny value, a broken \
             middlebox) and fix it; no real path needs an MSS below 536 (IPv4) or 1220 \
             (IPv6).",
            "Linux net/ipv4/tcp_output.c __tcp_mtu_to_mss(), sysctl tcp_min_snd_mss",
        ),
        OversizeCause::Violation => (
            " The IPv4 identification numbers show these packets left the sender whole: no \
             offload explains them. The sender puts more into a segment than the MSS it \
             received allows.",
            "Check the sender's stack and any device that rewrites segments; compare with \
             the MSS option the sender received.",
            "RFC 9293 section 3.7.1 (MUST-16)",
        ),
    };
    Explanation {
        title: format!(
            "{} segments exceed the MSS ({})",
            endpoint.name(),
            match cause {
                OversizeCause::TsoGso => "TSO/GSO at the sender",
                OversizeCause::GroLro => "GRO/LRO at the receiver",
                OversizeCause::Violation => "no offload explains it",
                OversizeCause::LinuxMinSndMss => "Linux's 48-byte floor",
            }
        ),
        text: format!("{head}{why}"),
        source,
        fix: Some(fix.to_string()),
    }
}

fn rewritten(
    conn: &ConnectionReport,
    endpoint: Role,
    from: u16,
    to: u16,
    before: usize,
    after: usize,
) -> Explanation {
    let other_rewritten = conn
        .findings
        .iter()
        .any(|f| matches!(f, Finding::MssRewritten { endpoint: e, .. } if *e == endpoint.peer()));
    let direction = if to < from { "lowered" } else { "raised" };
    let seen = |point: usize| conn.points.iter().find(|p| p.point == point);
    let one_host = match (seen(before), seen(after)) {
        (Some(a), Some(b)) => a.host == b.host,
        _ => false,
    };
    // Two interfaces of one capture are named by interface; captures by number.
    let at = |point: usize| match seen(point) {
        Some(p) => match (p.interface.as_deref(), one_host) {
            (Some(interface), true) => interface.to_string(),
            (None, true) => "its first interface".to_string(),
            (Some(interface), false) => format!("capture {} ({interface})", p.input + 1),
            (None, false) => format!("capture {}", p.input + 1),
        },
        None => format!("capture {}", point + 1),
    };
    let device = if one_host {
        "the host that captured both, forwarding between these two interfaces,"
    } else {
        "a device between the two"
    };
    let mut text = format!(
        "The {}'s {} carried MSS {from} at {} and {to} at {}: {device} {direction} it \
         (MSS clamping).",
        endpoint.name(),
        syn_name(endpoint),
        at(before),
        at(after)
    );
    if let Some(mss) = conn.endpoint(endpoint.peer()).effective_send_mss {
        text.push_str(&format!(
            " The {} received {to} and sends at most {mss} bytes per segment.",
            endpoint.peer().name()
        ));
    }
    if to > from {
        text.push_str(
            " A clamp must only ever lower the MSS; raising it makes the peer send segments \
             the host said it cannot take (a MikroTik change-mss rule without a tcp-mss range \
             match does this).",
        );
    } else if !other_rewritten {
        text.push_str(&format!(
            " The {}'s {} was not rewritten in this capture: the clamp acts on one direction \
             only, or the return path avoids it (asymmetric routing). That is enough when the \
             clamped side's peer is the one that sends too much, but not in general.",
            endpoint.peer().name(),
            syn_name(endpoint.peer())
        ));
    }
    Explanation {
        title: format!("{} MSS rewritten {from} -> {to}", endpoint.name()),
        text,
        source: "RFC 9293 section 3.7.1; Linux xt_TCPMSS, nftables tcp option maxseg",
        fix: (to > from).then(|| {
            "Fix the clamp so it only lowers (add a range match such as tcp-mss=N-65535)."
                .to_string()
        }),
    }
}

fn too_big(
    conn: &ConnectionReport,
    endpoint: Role,
    mtu: u32,
    size: u32,
    count: u32,
    shrank: Option<bool>,
) -> Explanation {
    let what = if conn.ip_version == mss_rules::IpVersion::V6 {
        "ICMPv6 packet too big"
    } else {
        "ICMP fragmentation needed"
    };
    let mtu_text = if mtu == 0 {
        "without a next-hop MTU (a router older than RFC 1191)".to_string()
    } else {
        format!("announcing a next-hop MTU of {mtu}")
    };
    let outcome = match shrank {
        Some(true) => format!(
            " The {} then sent packets that fit: path MTU discovery works.",
            endpoint.name()
        ),
        Some(false) => format!(
            " The {} kept sending larger packets: the message did not take effect where \
             this capture was taken (it may not reach the sender).",
            endpoint.name()
        ),
        None => format!(" The {} sent no more data afterwards.", endpoint.name()),
    };
    let fix = match shrank {
        Some(true) => (mtu > 0).then(|| {
            format!(
                "Nothing is broken, but every new connection loses its first full-size \
                 packet: clamping the MSS to {} (IPv4) on the router before the smaller link \
                 avoids it.",
                mtu.saturating_sub(40)
            )
        }),
        _ => Some(
            "Make sure ICMP type 3 code 4 (ICMPv6 type 2) reaches the sender, or clamp the \
             MSS on the router."
                .to_string(),
        ),
    };
    Explanation {
        title: format!(
            "{count} x {what} for the {}'s {size}-byte packets",
            endpoint.name()
        ),
        text: format!(
            "A router answered {count} of the {}'s {size}-byte packets with {what}, \
             {mtu_text}.{outcome}",
            endpoint.name()
        ),
        source: "RFC 1191; RFC 8201; Linux __ip_rt_update_pmtu()",
        fix,
    }
}
