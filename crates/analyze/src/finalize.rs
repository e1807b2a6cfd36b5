//! From what was seen to what it means: roles, capture positions, effective MSS per
//! endpoint, and the findings.

use mss_rules::{IpVersion, Mss, Mtu, linux, rfc};

use crate::conn::{Connection, PointState};
use crate::report::{
    ConnectionReport, EffectiveBasis, Ending, EndpointReport, Finding, Handshake, MssSeen,
    OversizeCause, PointSeen, Position, Role, RoleEvidence,
};
use crate::series::Trace;
use crate::side::{Sent, Side, SynSeen, TooBig};

/// TTLs (hop limits) operating systems start with: a packet that still carries one
/// was captured on its sender's host or link.
const INITIAL_TTLS: [u8; 4] = [64, 128, 255, 32];

/// Segments smaller than this fraction of the largest are not "full size" when
/// picking the typical segment.
const FULL_SIZE_FRACTION: u32 = 2;

/// The datagram every IPv4 host must accept (RFC 791 section 3.1, RFC 1122 section
/// 3.3.3): a path that drops only larger packets is a black hole, one that drops a
/// packet this small is broken in another way.
const MIN_DATAGRAM_V4: u32 = 576;

/// Retransmissions of one full-size segment that make a black hole suspect.
const BLACKHOLE_TRANSMISSIONS: u32 = 3;

/// Builds the report of a finished connection.
pub(crate) fn report(
    conn: &Connection,
    ending: Ending,
    names: &[Option<crate::PointName>],
) -> ConnectionReport {
    let (client, roles) = roles(conn);
    let server = client.peer();
    let side_of = |role: Role| if role == Role::Client { client } else { server };
    let points: Vec<(usize, &PointState)> = conn.points.iter().collect();
    let positions: Vec<PointSeen> = points
        .iter()
        .map(|&(point, state)| PointSeen {
            point,
            input: names
                .get(point)
                .and_then(Option::as_ref)
                .map_or(point, |n| n.input),
            host: names
                .get(point)
                .and_then(Option::as_ref)
                .map_or(point, |n| n.host),
            interface: names
                .get(point)
                .and_then(Option::as_ref)
                .and_then(|n| n.interface.clone()),
            position: position(state, client),
            packets: state.packets,
            syn_mss: [client, server].map(|side| {
                state.sides[side]
                    .syn
                    .as_ref()
                    .map_or(MssSeen::NotCaptured, |syn| syn.mss)
            }),
        })
        .collect();
    let mut findings = Vec::new();
    // Client first, then server (the order their findings are pushed in).
    let [client_report, server_report] = [Role::Client, Role::Server].map(|role| {
        endpoint(
            conn,
            &points,
            &positions,
            side_of(role),
            role,
            &mut findings,
        )
    });
    rewrites(&points, client, &mut findings);
    // Differing directions are worth a finding of their own unless an ICMP message
    // or MTU probing (reported already) explains the lower one.
    let explained = |e: &EndpointReport| {
        matches!(
            e.effective_basis,
            Some(EffectiveBasis::IcmpTooBig | EffectiveBasis::Probing)
        )
    };
    if let (Some(c), Some(s)) = (
        client_report.effective_send_mss,
        server_report.effective_send_mss,
    ) {
        let both_sent = client_report.data_segments > 0 && server_report.data_segments > 0;
        let lower = if c < s {
            &client_report
        } else {
            &server_report
        };
        if c != s && both_sent && !explained(lower) {
            findings.push(Finding::AsymmetricMss {
                client: c,
                server: s,
            });
        }
    }
    findings.sort_by_key(|f| (f.endpoint(), f.kind()));
    let mut sorted_points = positions;
    // Nearest the client first: by the client's TTL, highest first.
    sorted_points.sort_by_key(|p| {
        let ttl = conn
            .points
            .get(p.point)
            .and_then(|s| s.sides[client].ttl)
            .unwrap_or(0);
        (core::cmp::Reverse(ttl), p.point)
    });
    let segments = if conn.series {
        series(&sorted_points, conn, client)
    } else {
        Vec::new()
    };
    ConnectionReport {
        id: conn.id,
        ip_version: conn.version,
        client: client_report,
        server: server_report,
        roles,
        handshake: handshake(&points, client),
        ending: match ending {
            Ending::Open if conn.reset => Ending::Reset,
            Ending::Open if conn.closed_ns.is_some() => Ending::Closed,
            other => other,
        },
        first_ns: conn.first_ns,
        last_ns: conn.last_ns,
        first_packet: conn.first_packet,
        points: sorted_points,
        tunnel: conn.tunnel,
        findings,
        segments,
    }
}

/// The time series per capture point (nearest the client first) and direction
/// (the client's first).
fn series(points: &[PointSeen], conn: &Connection, client: Side) -> Vec<Trace> {
    let mut traces = Vec::new();
    for seen in points {
        let Some(state) = conn.points.get(seen.point) else {
            continue;
        };
        for (side, role) in [(client, Role::Client), (client.peer(), Role::Server)] {
            if let Some(collector) = state.sides[side].series.as_deref() {
                if !collector.points.is_empty() || !collector.events.is_empty() {
                    traces.push(collector.trace(seen.point, role));
                }
            }
        }
    }
    traces
}

/// The client's side and the evidence.
fn roles(conn: &Connection) -> (Side, RoleEvidence) {
    if let Some(known) = conn.client {
        return known;
    }
    let port = |side: Side| conn.key.endpoint(side).1;
    match (port(Side::A) < 1024, port(Side::B) < 1024) {
        (true, false) => (Side::B, RoleEvidence::WellKnownPort),
        (false, true) => (Side::A, RoleEvidence::WellKnownPort),
        _ => (conn.first_sender, RoleEvidence::FirstPacket),
    }
}

fn handshake(points: &[(usize, &PointState)], client: Side) -> Handshake {
    let syn = points.iter().any(|(_, p)| p.sides[client].syn.is_some());
    let syn_ack = points
        .iter()
        .any(|(_, p)| p.sides[client.peer()].syn.is_some());
    let ack = points.iter().any(|(_, p)| p.ack_ts.is_some());
    match (syn, syn_ack, ack) {
        (true, true, true) => Handshake::Complete,
        (_, true, _) => Handshake::SynAck,
        (true, false, _) => Handshake::SynOnly,
        _ => Handshake::NotCaptured,
    }
}

fn is_initial(ttl: Option<u8>) -> bool {
    ttl.is_some_and(|t| INITIAL_TTLS.contains(&t))
}

/// Where a capture point sits: by the TTLs (a sender's packets keep their initial
/// TTL until the first router), else by the handshake timing (near the client the
/// SYN-ACK comes a round trip after the SYN and the ACK right after it; near the
/// server the other way round).
fn position(state: &PointState, client: Side) -> Position {
    let client_ttl = state.sides[client].ttl;
    let server_ttl = state.sides[client.peer()].ttl;
    match (is_initial(client_ttl), is_initial(server_ttl)) {
        (true, false) if server_ttl.is_some() => return Position::AtClient,
        (false, true) if client_ttl.is_some() => return Position::AtServer,
        (false, false) if client_ttl.is_some() && server_ttl.is_some() => return Position::Between,
        _ => {}
    }
    match (state.syn_ts, state.syn_ack_ts, state.ack_ts) {
        (Some(syn), Some(syn_ack), Some(ack)) if syn_ack >= syn && ack >= syn_ack => {
            if syn_ack - syn >= ack - syn_ack {
                Position::AtClient
            } else {
                Position::AtServer
            }
        }
        _ => match (is_initial(client_ttl), is_initial(server_ttl)) {
            (true, false) => Position::AtClient,
            (false, true) => Position::AtServer,
            _ => Position::Unknown,
        },
    }
}

/// The point nearest to `side`: where its packets have the highest TTL.
fn nearest<'a>(
    points: &[(usize, &'a PointState)],
    side: Side,
    want: impl Fn(&Sent) -> bool,
) -> Option<(usize, &'a PointState)> {
    points
        .iter()
        .filter(|(_, p)| want(&p.sides[side]))
        .max_by_key(|(i, p)| (p.sides[side].ttl.unwrap_or(0), core::cmp::Reverse(*i)))
        .copied()
}

/// Option bytes on every data segment of `side`: timestamps when both SYNs
/// negotiated them (or, without the handshake, when its data carries them), MD5,
/// AO.
fn data_option_bytes(state: &PointState, side: Side) -> u32 {
    let own = &state.sides[side];
    let peer = &state.sides[side.peer()];
    let timestamps = match (&own.syn, &peer.syn) {
        (Some(a), Some(b)) => a.options.timestamps && b.options.timestamps,
        _ => own.ts_on_data,
    };
    let md5 = own.md5_on_data || own.syn.as_ref().is_some_and(|s| s.options.md5);
    let ao = own.ao_on_data.or_else(|| {
        own.syn
            .as_ref()
            .and_then(|s| s.options.ao_mac_len)
            .map(mss_rules::options::ao_bytes)
    });
    u32::from(timestamps) * mss_rules::options::TIMESTAMPS_BYTES
        + u32::from(md5) * mss_rules::options::MD5_BYTES
        + ao.unwrap_or(0)
}

/// What the capture points saw of one endpoint, from where each thing is seen best.
struct View<'a> {
    side: Side,
    /// The point nearest the endpoint that saw it send anything.
    near: Option<(usize, &'a PointState)>,
    /// Where its sending is judged: `near`, else where its SYN was seen.
    stats_point: Option<(usize, &'a PointState)>,
    /// Its own SYN, captured nearest to it.
    own_syn: Option<&'a SynSeen>,
    /// What it received: the peer's SYN as captured nearest to this endpoint
    /// (after any clamp on the way), by the SYN's TTL.
    received: Option<&'a SynSeen>,
    /// Option bytes on its data segments.
    option_bytes: u32,
    /// IP option / extension header bytes on its data segments.
    ip_extra: u32,
    /// ICMP too-big messages about its packets, at every point.
    too_big: Vec<TooBig>,
}

impl<'a> View<'a> {
    fn new(points: &[(usize, &'a PointState)], side: Side) -> View<'a> {
        let near = nearest(points, side, |s| s.packets > 0);
        let near_syn = nearest(points, side, |s| s.syn.is_some());
        // The peer's SYN loses a TTL at every router on its way here: where it was
        // captured with the lowest TTL is nearest this endpoint, also on an
        // asymmetric path, where this endpoint's own packets pass other points.
        let received = points
            .iter()
            .filter_map(|(i, p)| Some((*i, p.sides[side.peer()].syn.as_ref()?, p)))
            .min_by_key(|(i, syn, p)| {
                (
                    syn.ttl,
                    core::cmp::Reverse(p.sides[side].ttl.unwrap_or(0)),
                    *i,
                )
            })
            .map(|(_, syn, _)| syn);
        let stats_point = near.or(near_syn);
        View {
            side,
            near,
            stats_point,
            own_syn: near_syn.and_then(|(_, p)| p.sides[side].syn.as_ref()),
            received,
            option_bytes: stats_point.map_or(0, |(_, p)| data_option_bytes(p, side)),
            ip_extra: stats_point.map_or(0, |(_, p)| p.sides[side].ip_extra),
            too_big: points
                .iter()
                .flat_map(|(_, p)| p.sides[side].too_big().0.iter().copied())
                .collect(),
        }
    }

    /// What it sent, where that is judged.
    fn stats(&self) -> Option<&'a Sent> {
        self.stats_point.map(|(_, p)| &p.sides[self.side])
    }

    /// The peer's MSS option as it reached this endpoint: a value (0 counts as
    /// absent, which Linux's rules handle), absent (`Some(None)`), or not known.
    fn peer_option(&self) -> Option<Option<Mss>> {
        self.received.and_then(|s| match s.mss {
            MssSeen::Value(v) => Some(Some(Mss(v))),
            MssSeen::Absent => Some(None),
            MssSeen::Unknown | MssSeen::NotCaptured => None,
        })
    }

    /// Linux's send MSS on a path of this MTU, for the peer's option as received
    /// and the options and IP extras its segments carry.
    fn linux_send_mss(&self, version: IpVersion, peer: Option<Mss>, path_mtu: Mtu) -> u32 {
        linux::send_mss(
            linux::SendInputs {
                version,
                peer_mss: peer,
                path_mtu,
                user_mss: None,
                fixed_option_bytes: self.option_bytes,
                ext_header_bytes: self.ip_extra,
            },
            &linux::LinuxTunables::default(),
        )
    }
}

/// The send MSS the handshake allows: Linux's rule with the endpoint's own MSS
/// option standing for its MTU (MTU - 40 / MTU - 60). When nothing this endpoint
/// sent was captured (a capture point on one direction of an asymmetric path, or a
/// filter), its own MTU and options are unknown, and so is what it sends: unknown,
/// not the peer's bound.
fn handshake_send_mss(version: IpVersion, view: &View<'_>) -> Option<u32> {
    // Nothing it sent was seen.
    view.stats_point?;
    let peer = view.peer_option()?;
    let own_mss = view
        .own_syn
        .and_then(|s| s.mss.value())
        .filter(|&v| v != 0)
        .map(u32::from);
    // Without an own option the MTU is unknown: the peer's MSS bounds it, unless
    // that is an IPv6 peer's 65535, "no limit" (RFC 2675 section 5, RFC 6691
    // section 5.3): then nothing known bounds it.
    let unlimited = version == IpVersion::V6 && peer.is_some_and(|m| m.get() == 65_535);
    let path_mtu = match own_mss {
        Some(own) => Mtu(own + version.fixed_overhead()),
        None if unlimited => return None,
        None => Mtu(u32::MAX),
    };
    Some(view.linux_send_mss(version, peer, path_mtu))
}

/// The send MSS in effect at the end and what it rests on: the handshake's, lowered
/// by ICMP too-big messages, then by what its segments show (after a black hole,
/// where MTU probing ended; else its bulk segment size).
fn effective_send_mss(
    version: IpVersion,
    view: &View<'_>,
    handshake: Option<u32>,
) -> Option<(u32, EffectiveBasis)> {
    /// Lowers the effective MSS to `candidate` if that is lower.
    fn lower(effective: &mut Option<(u32, EffectiveBasis)>, candidate: u32, basis: EffectiveBasis) {
        if effective.is_none_or(|(mss, _)| candidate < mss) {
            *effective = Some((candidate, basis));
        }
    }
    let mut effective = handshake.map(|mss| (mss, EffectiveBasis::Handshake));
    if handshake.is_some() {
        let peer = view.peer_option().flatten();
        for t in view.too_big.iter().filter(|t| t.mtu > 0) {
            let mss = view.linux_send_mss(version, peer, linux::learned_pmtu(version, t.mtu));
            lower(&mut effective, mss, EffectiveBasis::IcmpTooBig);
        }
    }
    let stats = view.stats();
    let recovered = stats
        .and_then(Sent::stall)
        .and_then(|s| s.smaller_after)
        .filter(|_| view.too_big.is_empty() && handshake.is_some());
    let bulk = stats.and_then(Sent::bulk_segment).filter(|&bulk| {
        // Without a handshake, only sizes that fit an Ethernet MTU: a capture at a
        // sender with segmentation offload shows super-segments.
        handshake.is_some()
            || bulk + version.fixed_overhead() + view.ip_extra + view.option_bytes <= 1500
    });
    match (recovered, bulk) {
        // After a black hole, MTU probing may have searched back up since the first
        // smaller segments: the latest bulk run tells where it ended (never above
        // what the handshake and ICMP allow).
        (Some(recovered), latest) => {
            let ceiling = effective.map_or(u32::MAX, |(mss, _)| mss);
            let end = latest.unwrap_or(recovered).min(ceiling);
            effective = Some((end, EffectiveBasis::Probing));
        }
        (None, Some(bulk)) => {
            // Its bulk segments are the evidence: below the handshake's value (a
            // path MTU or clamp the handshake did not show) or above it, up to what
            // the peer allows (a stack announcing less than its MTU carries).
            let peer_allows = view.peer_option().map(|peer| {
                rfc::effective_send_mss(rfc::SendMssInputs {
                    version,
                    peer_mss: peer.filter(|m| m.get() != 0),
                    path_mtu: Mtu(u32::MAX),
                    tcp_option_bytes: view.option_bytes,
                    ip_option_bytes: view.ip_extra,
                })
            });
            let raises = effective.is_some_and(|(mss, _)| bulk > mss)
                && peer_allows.is_some_and(|allowed| bulk <= allowed);
            if raises {
                effective = Some((bulk, EffectiveBasis::Segments));
            } else {
                lower(&mut effective, bulk, EffectiveBasis::Segments);
            }
        }
        (None, None) => {}
    }
    effective
}

/// Findings about an endpoint's SYN MSS option.
fn syn_findings(version: IpVersion, role: Role, syn_mss: MssSeen, findings: &mut Vec<Finding>) {
    match syn_mss {
        MssSeen::Absent => findings.push(Finding::MssMissing {
            endpoint: role,
            default: version.default_mss().get(),
        }),
        MssSeen::Unknown => findings.push(Finding::MssCutOff { endpoint: role }),
        MssSeen::Value(v) if v != 0 && v < linux::TCP_MIN_MSS => {
            findings.push(Finding::MssBelowLinuxMin {
                endpoint: role,
                mss: v,
            });
        }
        _ => {}
    }
}

/// Findings about what an endpoint sent: segments above its MSS, IP fragments, a
/// suspected black hole.
fn sending_findings(
    version: IpVersion,
    points: &[(usize, &PointState)],
    positions: &[PointSeen],
    view: &View<'_>,
    (role, handshake): (Role, Option<u32>),
    findings: &mut Vec<Finding>,
) {
    let Some((point, state)) = view.stats_point else {
        return;
    };
    let sent = &state.sides[view.side];
    if sent.oversize().count > 0 {
        let position = positions
            .iter()
            .find(|p| p.point == point)
            .map_or(Position::Unknown, |p| p.position);
        findings.push(Finding::SegmentsExceedMss {
            endpoint: role,
            cause: oversize_cause(sent, position, role, view.option_bytes),
            count: sent.oversize().count,
            largest: sent.oversize().largest,
            mss: handshake.unwrap_or(0),
        });
    }
    let fragments: u32 = points
        .iter()
        .map(|(_, p)| p.sides[view.side].fragments())
        .max()
        .unwrap_or(0);
    if fragments > 0 {
        let (incomplete, incomplete_len) = points
            .iter()
            .map(|(_, p)| p.sides[view.side].incomplete())
            .max()
            .unwrap_or((0, 0));
        findings.push(Finding::IpFragments {
            endpoint: role,
            count: fragments,
            incomplete,
            incomplete_len,
        });
    }
    if !view.too_big.is_empty() {
        return;
    }
    if let Some(stall) = sent.stall() {
        // Every path carries 576-byte IPv4 and 1280-byte IPv6 packets (RFC 791,
        // RFC 8200): smaller ones that vanish are lost, not too big.
        let suspect = stall.transmissions >= BLACKHOLE_TRANSMISSIONS
            && stall.ip_len > version.min_mtu().max(MIN_DATAGRAM_V4)
            && (!stall.acked || stall.smaller_after.is_some());
        if suspect {
            findings.push(Finding::PmtudBlackholeSuspected {
                endpoint: role,
                size: stall.ip_len,
                segment: stall.payload,
                transmissions: stall.transmissions,
                recovered_with: stall.smaller_after,
            });
        }
    }
}

/// `icmp_too_big`: the smallest MTU reported, and whether the sender adapted.
fn too_big_finding(
    points: &[(usize, &PointState)],
    view: &View<'_>,
    role: Role,
    findings: &mut Vec<Finding>,
) {
    let Some(first) = view.too_big.first() else {
        return;
    };
    let mtu = view
        .too_big
        .iter()
        .map(|t| t.mtu)
        .filter(|&m| m > 0)
        .min()
        .unwrap_or(first.mtu);
    // Judged where the messages were captured nearest the sender.
    let near_messages =
        nearest(points, view.side, |s| s.too_big().1 > 0).map(|(_, p)| &p.sides[view.side]);
    let shrank = near_messages
        .and_then(Sent::after_too_big_max)
        .map(|largest| mtu > 0 && largest <= mtu);
    findings.push(Finding::IcmpTooBig {
        endpoint: role,
        mtu,
        size: first.size,
        count: near_messages.map_or(0, |s| s.too_big().1),
        shrank,
    });
}

/// One endpoint's report, and its findings pushed onto `findings`.
fn endpoint(
    conn: &Connection,
    points: &[(usize, &PointState)],
    positions: &[PointSeen],
    side: Side,
    role: Role,
    findings: &mut Vec<Finding>,
) -> EndpointReport {
    let version = conn.version;
    let (addr, port) = conn.key.endpoint(side);
    let view = View::new(points, side);
    let handshake_send_mss = handshake_send_mss(version, &view);
    let effective = effective_send_mss(version, &view, handshake_send_mss);
    let syn_mss = view.own_syn.map_or(MssSeen::NotCaptured, |s| s.mss);
    syn_findings(version, role, syn_mss, findings);
    sending_findings(
        version,
        points,
        positions,
        &view,
        (role, handshake_send_mss),
        findings,
    );
    too_big_finding(points, &view, role, findings);
    let stats = view.stats();
    let max_segment = stats.filter(|s| s.data_segments > 0).map(|s| s.max_payload);
    let typical_segment =
        stats.and_then(|s| s.sizes.mode_at_least(s.max_payload / FULL_SIZE_FRACTION));
    EndpointReport {
        addr,
        port,
        syn_mss,
        syn_options: view.own_syn.map(|s| s.options.clone()),
        ttl: view.near.and_then(|(_, p)| p.sides[side].ttl),
        handshake_send_mss,
        effective_send_mss: effective.map(|(mss, _)| mss),
        effective_basis: effective.map(|(_, basis)| basis),
        data_option_bytes: view.option_bytes,
        max_segment,
        typical_segment: typical_segment.filter(|_| max_segment.is_some()),
        data_segments: stats.map_or(0, |s| s.data_segments),
        data_bytes: stats.map_or(0, |s| s.data_bytes),
        retransmissions: stats.map_or(0, |s| s.retransmissions),
    }
}

/// Why a sender's segments exceed its MSS.
fn oversize_cause(sent: &Sent, position: Position, sender: Role, options: u32) -> OversizeCause {
    let oversize = sent.oversize();
    // A peer announced less than Linux's floor: __tcp_mtu_to_mss()
    // never go below tcp_min_snd_mss (48) bytes of payload and options
    // (CVE-2019-11479's fix), so 48 - options it is.
    if oversize.largest + options <= u32::from(linux::TCP_MIN_SND_MSS) {
        return OversizeCause::LinuxMinSndMss;
    }
    // IPv4 identification: a sender numbers every segment it puts on the wire; a
    // jump of one after an oversize packet means it left as one packet.
    if oversize.sent_whole > oversize.sent_split {
        return OversizeCause::Violation;
    }
    let at_sender = match (position, sender) {
        (Position::AtClient, Role::Client) | (Position::AtServer, Role::Server) => true,
        (Position::AtClient, Role::Server)
        | (Position::AtServer, Role::Client)
        | (Position::Between, _) => false,
        (Position::Unknown, _) => is_initial(sent.ttl),
    };
    if at_sender {
        OversizeCause::TsoGso
    } else {
        OversizeCause::GroLro
    }
}

/// `mss_rewritten`: the same SYN with a different MSS at two capture points, in path
/// order (highest TTL of the sender first).
fn rewrites(points: &[(usize, &PointState)], client: Side, findings: &mut Vec<Finding>) {
    // It takes two points (most connections are seen at one).
    if points.len() < 2 {
        return;
    }
    for (side, role) in [(client, Role::Client), (client.peer(), Role::Server)] {
        let mut seen: Vec<(u8, usize, u16)> = points
            .iter()
            .filter_map(|(i, p)| {
                let syn = p.sides[side].syn.as_ref()?;
                Some((syn.ttl, *i, syn.mss.value()?))
            })
            .collect();
        seen.sort_by_key(|&(ttl, point, _)| (core::cmp::Reverse(ttl), point));
        for pair in seen.windows(2) {
            let ((_, before, from), (_, after, to)) = (pair[0], pair[1]);
            if from != to {
                findings.push(Finding::MssRewritten {
                    endpoint: role,
                    from,
                    to,
                    before,
                    after,
                });
            }
        }
    }
}
