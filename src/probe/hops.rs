//! `mss probe hops HOST:PORT`: where on the path the MSS option changes, the way
//! tracebox does. SYNs with increasing TTL (hop limit) leave through a raw socket;
//! each router where one expires answers ICMP time exceeded quoting the SYN as it
//! arrived there (RFC 1812 section 4.3.2.3: as much as fits in 576 bytes; RFC 4884;
//! IPv6 as much as fits in 1280), so the quotes show the MSS option hop by hop. The
//! first hop whose quote shows a new value is where it was rewritten: by that
//! router's predecessor on the way, or by a box between them.
//!
//! Needs CAP_NET_RAW. The target's SYN-ACK ends the walk; our kernel answers it
//! with a reset, as no socket owns the port.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mss_wire::icmp::{self, ErrorKind};
use mss_wire::syn::{self, Syn};
use mss_wire::tcp::{self, TcpOption};
use nix::sys::socket::{
    self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrStorage, sockopt,
};
use nix::sys::time::TimeVal;
use serde_json::json;

use crate::Failure;
use crate::cli::ProbeHopsArgs;

/// What one TTL showed.
struct Hop {
    ttl: u8,
    addr: Option<IpAddr>,
    /// The MSS option in the quoted SYN; `None` when the quote was too short to
    /// hold the TCP options (or had none).
    mss: Option<u16>,
    quoted_options: bool,
    reached: bool,
}

/// Our SYN: MSS, SACK-permitted, timestamps, window scale, as a Linux client's.
fn syn(src: IpAddr, dst: SocketAddr, sport: u16, seq: u32, mss: u16) -> Result<Vec<u8>, Failure> {
    let options = [
        TcpOption::Mss(mss),
        TcpOption::SackPermitted,
        TcpOption::Timestamps { tsval: 1, tsecr: 0 },
        TcpOption::Nop,
        TcpOption::WindowScale(7),
    ];
    let syn = Syn {
        options: &options,
        ..Syn::new(sport, dst.port(), seq)
    };
    syn.build(src, dst.ip())
        .map_err(|e| Failure::Input(format!("a SYN to {dst}: {e}")))
}

fn raw(family: AddressFamily, protocol: SockProtocol) -> Result<OwnedFd, Failure> {
    socket::socket(family, SockType::Raw, SockFlag::empty(), protocol).map_err(|e| {
        if e == nix::Error::EPERM {
            Failure::Input(
                "mss probe hops sends raw SYNs and needs CAP_NET_RAW: run it as root (or \
                 setcap cap_net_raw+ep on the binary); `mss probe path` and `mss probe tcp \
                 --reflector` need no privileges"
                    .into(),
            )
        } else {
            Failure::Input(format!("raw socket: {e}"))
        }
    })
}

/// Seconds one probe waits for its answer.
const PROBE_WAIT: Duration = Duration::from_millis(900);
/// Silent hops in a row that end the walk.
const SILENT_HOPS_TO_STOP: u8 = 5;

/// What one hop's line says.
fn describe(hop: &Hop) -> String {
    let addr = hop.addr.map_or("*".to_string(), |a| a.to_string());
    let what = if hop.reached {
        "reached (the target answered the SYN)".to_string()
    } else if hop.addr.is_none() {
        "no answer".into()
    } else if !hop.quoted_options {
        "quote too short to show the options".into()
    } else {
        match hop.mss {
            Some(mss) => format!("MSS {mss} arrived here"),
            None => "no MSS option arrived here".into(),
        }
    };
    format!("  {:>2}  {addr:<28} {what}", hop.ttl)
}

/// A hop where the MSS quoted back differs from the one before (or from what
/// was sent).
struct Rewrite {
    hop: u8,
    addr: Option<IpAddr>,
    from: u16,
    to: u16,
    /// The hop that last showed `from` (0: this host, which sent it).
    after: u8,
}

/// The rewrites along the hops: each hop whose quote shows a value different
/// from the last one seen (starting with what was sent).
fn rewrites(hops: &[Hop], own_mss: u16) -> Vec<Rewrite> {
    let mut found = Vec::new();
    let mut last = own_mss;
    let mut last_seen = 0;
    for hop in hops {
        if let (Some(mss), true) = (hop.mss, hop.quoted_options) {
            if mss != last {
                found.push(Rewrite {
                    hop: hop.ttl,
                    addr: hop.addr,
                    from: last,
                    to: mss,
                    after: last_seen,
                });
                last = mss;
            }
            last_seen = hop.ttl;
        }
    }
    found
}

/// The sockets of a walk: raw TCP out (and SYN-ACKs in), raw ICMP in.
struct Probe {
    target: SocketAddr,
    v6: bool,
    src: IpAddr,
    sender: OwnedFd,
    listener: OwnedFd,
    sport: u16,
    own_mss: u16,
}

impl Probe {
    fn new(args: &ProbeHopsArgs) -> Result<Probe, Failure> {
        let target = super::resolve_host_port(&args.target, &args.family)?;
        let v6 = target.is_ipv6();
        let family = if v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        // Our source address toward the target, for the TCP checksum.
        let ((), src) = super::with_usable_source(target, || {
            let src = UdpSocket::bind(if v6 { "[::]:0" } else { "0.0.0.0:0" })
                .and_then(|s| s.connect(target).and_then(|()| s.local_addr()))
                .map_err(|e| Failure::Input(format!("{target}: no route: {e}")))?
                .ip();
            Ok(((), src))
        })?;
        let sender = raw(family, SockProtocol::Tcp)?;
        let listener = raw(
            family,
            if v6 {
                SockProtocol::IcmpV6
            } else {
                SockProtocol::Icmp
            },
        )?;
        socket::setsockopt(&listener, sockopt::ReceiveTimeout, &TimeVal::new(0, 50_000))
            .map_err(|e| Failure::Input(format!("SO_RCVTIMEO: {e}")))?;
        // SYN-ACKs arrive on the raw TCP socket.
        socket::setsockopt(&sender, sockopt::ReceiveTimeout, &TimeVal::new(0, 1_000))
            .map_err(|e| Failure::Input(format!("SO_RCVTIMEO: {e}")))?;
        let sport = 40_000 + u16::try_from(std::process::id() % 20_000).unwrap_or(0);
        let own_mss = args.mss.unwrap_or(if v6 { 1440 } else { 1460 });
        Ok(Probe {
            target,
            v6,
            src,
            sender,
            listener,
            sport,
            own_mss,
        })
    }

    /// Walks the hops from TTL 1, each line written by `line` as it is known.
    fn walk(
        &self,
        max_hops: u8,
        line: &mut dyn FnMut(&str) -> Result<(), Failure>,
    ) -> Result<Vec<Hop>, Failure> {
        let Probe {
            target,
            v6,
            src,
            ref sender,
            ref listener,
            sport,
            own_mss,
        } = *self;
        let to = SockaddrStorage::from(SocketAddr::new(target.ip(), 0));
        let mut hops: Vec<Hop> = Vec::new();
        let mut silent = 0;
        'ttl: for ttl in 1..=max_hops {
            // Bounded: silent hops in a row end the walk.
            if silent >= SILENT_HOPS_TO_STOP {
                break;
            }
            let ttl_value = i32::from(ttl);
            let set = if v6 {
                socket::setsockopt(&sender, sockopt::Ipv6Ttl, &ttl_value)
            } else {
                socket::setsockopt(&sender, sockopt::Ipv4Ttl, &ttl_value)
            };
            set.map_err(|e| Failure::Input(format!("TTL: {e}")))?;
            // Sequence numbers of this TTL's SYNs: a late answer to the first still
            // counts while the second waits.
            let mut sent = Vec::new();
            for attempt in 0..2u32 {
                let seq = 0x6d73_7300 + u32::from(ttl) * 4 + attempt;
                sent.push(seq);
                let segment = syn(src, target, sport, seq, own_mss)?;
                socket::sendto(sender.as_raw_fd(), &segment, &to, MsgFlags::empty())
                    .map_err(|e| Failure::Input(format!("sending to {target}: {e}")))?;
                // Bounded rate: one probe at a time.
                let deadline = Instant::now() + PROBE_WAIT;
                while Instant::now() < deadline {
                    if let Some(hop) = read_icmp(listener, v6, sport, target.port(), &sent, ttl) {
                        line(&describe(&hop))?;
                        hops.push(hop);
                        silent = 0;
                        continue 'ttl;
                    }
                    if got_syn_ack(sender, v6, sport, target.port(), &sent) {
                        let hop = Hop {
                            ttl,
                            addr: Some(target.ip()),
                            mss: None,
                            quoted_options: false,
                            reached: true,
                        };
                        line(&describe(&hop))?;
                        hops.push(hop);
                        break 'ttl;
                    }
                }
            }
            let hop = Hop {
                ttl,
                addr: None,
                mss: None,
                quoted_options: false,
                reached: false,
            };
            line(&describe(&hop))?;
            hops.push(hop);
            silent += 1;
        }
        Ok(hops)
    }
}

pub(crate) fn run(args: &ProbeHopsArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let probe = Probe::new(args)?;
    let (target, own_mss) = (probe.target, probe.own_mss);
    let started = Instant::now();
    let json_only = args.json;
    let mut line = |text: &str| -> Result<(), Failure> {
        if !json_only {
            writeln!(out, "{text}")?;
            // Each hop shows as soon as it is known.
            out.flush()?;
        }
        Ok(())
    };
    line(&format!(
        "mss probe hops {target}: SYNs with MSS {own_mss}, TTL 1 and up"
    ))?;
    let hops = probe.walk(args.max_hops, &mut line)?;
    let rewrites = rewrites(&hops, own_mss);
    let reached = hops.iter().any(|h| h.reached);
    // The last hop whose quote showed the options: a rewrite after it (in the
    // last router, or a box right before the target) is out of sight, as no
    // router after it quotes the SYN.
    let last_checked = hops
        .iter()
        .rev()
        .find(|h| h.quoted_options)
        .map(|h| (h.ttl, h.addr, h.mss));
    let code = if reached {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_ERROR)
    };
    if args.json {
        let list: Vec<serde_json::Value> = hops
            .iter()
            .map(|h| {
                json!({
                    "hop": h.ttl,
                    "addr": h.addr.map(|a| a.to_string()),
                    "mss": h.mss,
                    "options_quoted": h.quoted_options,
                    "reached": h.reached,
                })
            })
            .collect();
        let rewrites: Vec<serde_json::Value> = rewrites
            .iter()
            .map(|r| {
                json!({
                    "hop": r.hop,
                    "addr": r.addr.map(|a| a.to_string()),
                    "from": r.from,
                    "to": r.to,
                    "after_hop": r.after,
                })
            })
            .collect();
        let value = json!({
            "type": "probe_hops",
            "target": target.to_string(),
            "syn_mss_sent": own_mss,
            "reached": reached,
            "hops": list,
            "rewrites": rewrites,
            "last_hop_checked": last_checked.map(|(ttl, ..)| ttl),
            "seconds": started.elapsed().as_secs_f64(),
        });
        writeln!(out, "{value}")?;
        return Ok(code);
    }
    let summary = summary(target, &hops, &rewrites, last_checked, args.max_hops);
    for text in summary {
        for wrapped in crate::render::wrap(&text, "", "  ") {
            writeln!(out, "{wrapped}")?;
        }
    }
    Ok(code)
}

/// The closing sentences: rewrites, how far the SYN was seen, what cannot be.
fn summary(
    target: SocketAddr,
    hops: &[Hop],
    rewrites: &[Rewrite],
    last_checked: Option<(u8, Option<IpAddr>, Option<u16>)>,
    max_hops: u8,
) -> Vec<String> {
    let mut summary = Vec::new();
    for r in rewrites {
        let after = if r.after == 0 {
            "this host".to_string()
        } else {
            format!("hop {}", r.after)
        };
        let unseen = if r.hop > r.after + 1 {
            let (first, last) = (r.after + 1, r.hop - 1);
            let stretch = if first == last {
                format!("hop {first}")
            } else {
                format!("hops {first} to {last}")
            };
            format!(
                "; {stretch} showed no options (silent, or quoting too little), so it \
                 happened somewhere after {after}"
            )
        } else {
            String::new()
        };
        summary.push(format!(
            "Rewritten {} -> {} between {after} and hop {} ({}){unseen}.",
            r.from,
            r.to,
            r.hop,
            r.addr.map_or("?".to_string(), |a| a.to_string())
        ));
    }
    let seen_to = match last_checked {
        Some((ttl, addr, mss)) => format!(
            "hop {ttl}{}, where {}",
            addr.map_or(String::new(), |a| format!(" ({a})")),
            mss.map_or("no MSS option arrived".to_string(), |m| format!(
                "MSS {m} arrived"
            ))
        ),
        None => "no hop (none quoted the SYN's options)".into(),
    };
    if hops.iter().any(|h| h.reached) {
        if rewrites.is_empty() {
            summary.push(format!(
                "No hop that quoted the options saw the MSS changed, up to {seen_to}."
            ));
        }
        summary.push(format!(
            "Not visible this way: a rewrite after hop {}, by the last router before the \
             target or a box right in front of it, as no router after it quotes the SYN. \
             `mss probe tcp {target} --reflector` (with `mss probe reflect` on the \
             target) sees the SYN as it arrived.",
            last_checked.map_or(0, |(ttl, ..)| ttl)
        ));
    } else {
        summary.push(format!(
            "Target {target} not reached: no SYN-ACK or reset came back within {} hops. \
             Seen up to {seen_to}; what happens to the MSS beyond it is not known.",
            hops.last().map_or(max_hops, |h| h.ttl)
        ));
    }
    summary
}

/// A time exceeded for one of our SYNs with these `seqs`, parsed into a hop.
fn read_icmp(fd: &OwnedFd, v6: bool, sport: u16, dport: u16, seqs: &[u32], ttl: u8) -> Option<Hop> {
    let mut buf = [0u8; 2048];
    let (n, from) = socket::recvfrom::<SockaddrStorage>(fd.as_fd().as_raw_fd(), &mut buf).ok()?;
    let message = super::raw_transport(buf.get(..n)?, v6)?;
    let parsed = if v6 {
        icmp::parse_v6(message)?
    } else {
        icmp::parse_v4(message)?
    };
    if parsed.kind != ErrorKind::TimeExceeded {
        return None;
    }
    let quoted = parsed.quoted?;
    if quoted.src_port != Some(sport) || quoted.dst_port != Some(dport) {
        return None;
    }
    if quoted.tcp_seq.is_some_and(|s| !seqs.contains(&s)) {
        return None;
    }
    let addr = from.and_then(|f| {
        f.as_sockaddr_in()
            .map(|a| IpAddr::V4(a.ip()))
            .or_else(|| f.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())))
    });
    let described = icmp::quote(message).and_then(syn::describe);
    Some(Hop {
        ttl,
        addr,
        mss: described.and_then(|d| d.mss),
        quoted_options: described.is_some(),
        reached: false,
    })
}

/// Whether the target answered our SYN (SYN-ACK or RST) on the raw TCP socket.
fn got_syn_ack(fd: &OwnedFd, v6: bool, sport: u16, dport: u16, seqs: &[u32]) -> bool {
    let mut buf = [0u8; 2048];
    while let Ok(n) = socket::recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
        let Some(segment) = buf
            .get(..n)
            .and_then(|data| super::raw_transport(data, v6))
            .and_then(|data| tcp::Packet::new_lax(data).ok())
        else {
            continue;
        };
        let ack = segment.ack_number();
        if segment.src_port() == dport
            && segment.dst_port() == sport
            && super::probes::answers_a_syn(segment.flags())
            && seqs.iter().any(|s| ack == s.wrapping_add(1))
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(ttl: u8, mss: Option<u16>, quoted: bool) -> Hop {
        Hop {
            ttl,
            addr: Some(std::net::IpAddr::from([10, 0, ttl, 1])),
            mss,
            quoted_options: quoted,
            reached: false,
        }
    }

    /// A silent hop between the last old value and the first new one is named:
    /// the rewrite may be there.
    #[test]
    fn a_rewrite_after_a_silent_hop_names_the_unseen_stretch() {
        let hops = [
            hop(1, Some(1460), true),
            hop(2, None, false),
            hop(3, None, false),
            hop(4, Some(1360), true),
        ];
        let found = rewrites(&hops, 1460);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].after, found[0].hop), (1, 4));
        let target: SocketAddr = "10.0.9.9:80".parse().expect("address");
        let text = summary(target, &hops, &found, Some((4, None, Some(1360))), 30).join(" ");
        assert!(
            text.contains(
                "Rewritten 1460 -> 1360 between hop 1 and hop 4 (10.0.4.1); hops 2 to 3 \
                 showed no options"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_rewrite_at_the_first_hop_is_after_this_host() {
        let hops = [hop(1, Some(1300), true)];
        let found = rewrites(&hops, 1460);
        assert_eq!((found[0].after, found[0].hop, found[0].from), (0, 1, 1460));
    }
}
