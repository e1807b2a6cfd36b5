//! `mss probe path HOST`: the path MTU hop by hop, unprivileged, as tracepath does
//! (UDP probes with DF set via IP_PMTUDISC_PROBE, answers read from the socket's
//! error queue with IP_RECVERR), and through ICMP black holes: when oversized
//! probes vanish without a "too big" while small ones are answered, the largest
//! size that gets through is searched for (`mss_rules::plpmtud`, RFC 4821/8899),
//! and the hop after which ICMP goes missing is named.
//!
//! Every probe goes to the named host's closed UDP port (33434 by default); the
//! host answers "port unreachable", routers on the way "time exceeded" or "too
//! big". One probe is in flight at a time.

use std::io::{IoSliceMut, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mss_rules::plpmtud::{Action, Search};
use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, sockopt};
use serde_json::json;

use crate::Failure;
use crate::cli::ProbePathArgs;

/// What came back for a probe.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Answer {
    /// ICMP time exceeded from a router.
    TimeExceeded(IpAddr),
    /// ICMP too big (or a local EMSGSIZE, without an address) with the MTU.
    TooBig(u32, Option<IpAddr>),
    /// Port unreachable from the destination: it got there.
    Reached(IpAddr),
    /// Another unreachable: (address, type, code).
    Unreachable(IpAddr, u8, u8),
    /// Nothing within the timeout.
    Silence,
}

struct Prober {
    socket: UdpSocket,
    v6: bool,
    next_id: u32,
    started: Instant,
    sent: u32,
}

/// IP and UDP header bytes before the probe's payload.
fn headers(v6: bool) -> u32 {
    if v6 { 48 } else { 28 }
}

impl Prober {
    fn new(target: SocketAddr) -> Result<Prober, Failure> {
        let v6 = target.is_ipv6();
        let bind: SocketAddr = if v6 {
            "[::]:0".parse().unwrap_or(target)
        } else {
            "0.0.0.0:0".parse().unwrap_or(target)
        };
        let fail = |what: &str, e: std::io::Error| Failure::Input(format!("{target}: {what}: {e}"));
        let socket = UdpSocket::bind(bind).map_err(|e| fail("bind", e))?;
        socket.connect(target).map_err(|e| fail("connect", e))?;
        mss_net::set_pmtu_probe(&socket, v6).map_err(|e| fail("IP_MTU_DISCOVER", e))?;
        let recverr = if v6 {
            socket::setsockopt(&socket.as_fd(), sockopt::Ipv6RecvErr, &true)
        } else {
            socket::setsockopt(&socket.as_fd(), sockopt::Ipv4RecvErr, &true)
        };
        recverr.map_err(|e| fail("IP_RECVERR", e.into()))?;
        Ok(Prober {
            socket,
            v6,
            next_id: 1,
            started: Instant::now(),
            sent: 0,
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Sends a probe of `size` bytes (IP packet) with `ttl`; returns its id, or the
    /// MTU when the local interface refuses it.
    fn send(&mut self, size: u32, ttl: u8) -> Result<Result<u32, u32>, Failure> {
        let ttl = i32::from(ttl);
        let set = if self.v6 {
            socket::setsockopt(&self.socket.as_fd(), sockopt::Ipv6Ttl, &ttl)
        } else {
            socket::setsockopt(&self.socket.as_fd(), sockopt::Ipv4Ttl, &ttl)
        };
        set.map_err(|e| Failure::Input(format!("setting the TTL: {e}")))?;
        let id = self.next_id;
        self.next_id += 1;
        let len = usize::try_from(size.saturating_sub(headers(self.v6)).max(8)).unwrap_or(8);
        let mut payload = vec![0u8; len];
        payload[..4].copy_from_slice(&id.to_be_bytes());
        // Bounded rate: at most 50 probes a second.
        std::thread::sleep(Duration::from_millis(20));
        self.sent += 1;
        match self.socket.send(&payload) {
            Ok(_) => Ok(Ok(id)),
            Err(e) if e.raw_os_error() == Some(nix::libc::EMSGSIZE) => {
                // The local error carries the device MTU.
                let mut mtu = None;
                while let Some((_, answer)) = self.read_error() {
                    if let Answer::TooBig(m, None) = answer {
                        mtu = Some(m);
                    }
                }
                Ok(Err(mtu.unwrap_or_else(|| {
                    mss_net::path_mtu(&self.socket, self.v6).unwrap_or(1280)
                })))
            }
            // ECONNREFUSED and friends report an earlier probe's answer; the error
            // queue holds the details.
            Err(_) => Ok(Ok(id)),
        }
    }

    /// Reads the error queue until the answer to `id` or `timeout`.
    fn answer(&self, id: u32, timeout: Duration) -> Answer {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some((for_id, answer)) = self.read_error() {
                if for_id == id {
                    return answer;
                }
            }
            if Instant::now() >= deadline {
                return Answer::Silence;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// One message from the error queue: (probe id, answer).
    fn read_error(&self) -> Option<(u32, Answer)> {
        let mut data = [0u8; 8];
        let found = {
            let mut iov = [IoSliceMut::new(&mut data)];
            let mut space = nix::cmsg_space!(nix::libc::sock_extended_err, nix::libc::sockaddr_in6);
            let msg = socket::recvmsg::<()>(
                self.socket.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
            )
            .ok()?;
            let mut found = None;
            for cmsg in msg.cmsgs().ok()? {
                let (err, from) = match cmsg {
                    ControlMessageOwned::Ipv4RecvErr(err, addr) => (
                        err,
                        addr.map(|a| IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes())),
                    ),
                    ControlMessageOwned::Ipv6RecvErr(err, addr) => {
                        (err, addr.map(|a| IpAddr::from(a.sin6_addr.s6_addr)))
                    }
                    _ => continue,
                };
                found = Some(classify(&err, from, self.v6));
            }
            found
        };
        let id = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        found.map(|answer| (id, answer))
    }

    /// The MTU of the interface toward the target: a probe too big for any link
    /// fails locally with EMSGSIZE, and the error queue says the device's MTU
    /// (the socket's cached path MTU may already be lower).
    fn interface_mtu(&mut self) -> u32 {
        if let Ok(Err(mtu)) = self.send(65535, 1) {
            return mtu;
        }
        mss_net::path_mtu(&self.socket, self.v6).unwrap_or(1500)
    }
}

/// SO_EE_ORIGIN_LOCAL.
const ORIGIN_LOCAL: u8 = 1;

fn classify(err: &nix::libc::sock_extended_err, from: Option<IpAddr>, v6: bool) -> Answer {
    let addr = from.unwrap_or(if v6 {
        IpAddr::from([0u16; 8])
    } else {
        IpAddr::from([0u8; 4])
    });
    if err.ee_errno == u32::try_from(nix::libc::EMSGSIZE).unwrap_or(90) {
        let local = err.ee_origin == ORIGIN_LOCAL;
        return Answer::TooBig(err.ee_info, (!local).then_some(addr));
    }
    match (v6, err.ee_type, err.ee_code) {
        (false, 11, _) | (true, 3, _) => Answer::TimeExceeded(addr),
        (false, 3, 3) | (true, 1, 4) => Answer::Reached(addr),
        (_, t, c) => Answer::Unreachable(addr, t, c),
    }
}

/// One line of the hop list.
struct Hop {
    ttl: u8,
    addr: Option<IpAddr>,
    /// The size probes had when this hop answered.
    mtu: u32,
    /// An MTU this hop reported in an ICMP too-big.
    reported_mtu: Option<u32>,
    reached: bool,
}

impl Hop {
    /// A hop that answered probes of `mtu` bytes from `addr` (`None`: silent).
    fn at(ttl: u8, addr: Option<IpAddr>, mtu: u32) -> Hop {
        Hop {
            ttl,
            addr,
            mtu,
            reported_mtu: None,
            reached: false,
        }
    }
}

/// Probe timeout: generous before the first answer, then a few RTTs.
fn timeout(rtt: Option<Duration>) -> Duration {
    rtt.map_or(Duration::from_millis(1000), |r| {
        (r * 4).max(Duration::from_millis(300))
    })
}

pub(crate) fn run(args: &ProbePathArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let target = super::resolve(
        &format!("{}:{}", bracket(&args.host), args.port),
        Some(args.ipv6),
    )?;
    let mut prober = Prober::new(target)?;
    let v6 = prober.v6;
    let floor = if v6 { 1280 } else { 576 };
    let mut size = prober.interface_mtu().min(65535);
    let mut hops: Vec<Hop> = Vec::new();
    let mut rtt: Option<Duration> = None;
    let mut method = "icmp";
    let mut blackhole_after: Option<(u8, Option<IpAddr>)> = None;
    let mut reached = false;
    let mut search_probes = 0;
    'hops: for ttl in 1..=args.max_hops {
        let mut silences = 0;
        loop {
            let sent_at = Instant::now();
            let id = match prober.send(size, ttl)? {
                Ok(id) => id,
                Err(mtu) => {
                    size = mtu.min(size.saturating_sub(1)).max(floor);
                    continue;
                }
            };
            let answer = prober.answer(id, timeout(rtt));
            if !matches!(answer, Answer::Silence) {
                let sample = sent_at.elapsed();
                rtt = Some(rtt.map_or(sample, |r| (r * 7 + sample) / 8));
            }
            match answer {
                Answer::TimeExceeded(addr) => {
                    hops.push(Hop::at(ttl, Some(addr), size));
                    continue 'hops;
                }
                Answer::TooBig(mtu, from) => {
                    if let Some(from) = from {
                        // Noted on the hop that sent it (it is before this TTL).
                        match hops.iter_mut().rev().find(|h| h.addr == Some(from)) {
                            Some(hop) => hop.reported_mtu = Some(mtu),
                            None => hops.push(Hop {
                                reported_mtu: Some(mtu),
                                ..Hop::at(ttl.saturating_sub(1).max(1), Some(from), size)
                            }),
                        }
                    }
                    let next = if mtu >= floor.min(68) && mtu < size {
                        mtu
                    } else {
                        size - 1
                    };
                    size = next.max(floor.min(size));
                    if size <= 68 {
                        break 'hops;
                    }
                }
                Answer::Reached(addr) => {
                    hops.push(Hop {
                        reached: true,
                        ..Hop::at(ttl, Some(addr), size)
                    });
                    reached = true;
                    break 'hops;
                }
                Answer::Unreachable(addr, _, _) => {
                    hops.push(Hop::at(ttl, Some(addr), size));
                    break 'hops;
                }
                Answer::Silence => {
                    silences += 1;
                    if silences < 2 {
                        continue;
                    }
                    if size <= floor {
                        // Nothing answers at this TTL at all: a silent hop.
                        hops.push(Hop::at(ttl, None, size));
                        continue 'hops;
                    }
                    // Does a small probe get an answer here? Then the big ones vanish
                    // without a "too big": a black hole after the previous hop.
                    let Ok(small) = prober.send(floor, ttl)? else {
                        continue 'hops;
                    };
                    match prober.answer(small, timeout(rtt)) {
                        Answer::Silence => {
                            hops.push(Hop::at(ttl, None, size));
                            continue 'hops;
                        }
                        _ => {
                            blackhole_after =
                                Some((ttl.saturating_sub(1), hops.last().and_then(|h| h.addr)));
                            let (found, probes) = search(&mut prober, floor, size - 1)?;
                            search_probes = probes;
                            method = "search";
                            size = found;
                            // Walk on with the size that gets through.
                            silences = 0;
                        }
                    }
                }
            }
        }
    }
    let path_mtu = size;
    let elapsed = prober.started.elapsed();
    if args.json {
        let hop_list: Vec<serde_json::Value> = hops
            .iter()
            .map(|h| {
                json!({
                    "hop": h.ttl,
                    "addr": h.addr.map(|a| a.to_string()),
                    "mtu": h.mtu,
                    "reported_mtu": h.reported_mtu,
                    "reached": h.reached,
                })
            })
            .collect();
        let value = json!({
            "type": "probe_path",
            "target": target.ip().to_string(),
            "ip_version": if v6 { 6 } else { 4 },
            "path_mtu": path_mtu,
            "method": method,
            "reached": reached,
            "icmp_dropped_after_hop": blackhole_after.map(|(h, _)| h),
            "icmp_dropped_after_addr": blackhole_after.and_then(|(_, a)| a).map(|a| a.to_string()),
            "hops": hop_list,
            "probes": prober.sent,
            "search_probes": search_probes,
            "seconds": elapsed.as_secs_f64(),
        });
        writeln!(out, "{value}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "mss probe path {} (UDP port {})",
        target.ip(),
        args.port
    )?;
    for hop in &hops {
        let addr = hop.addr.map_or("*".to_string(), |a| a.to_string());
        let mut note = String::new();
        if let Some(mtu) = hop.reported_mtu {
            note = format!("  too big: next hop {mtu}");
        }
        if hop.reached {
            note = "  reached".into();
        }
        writeln!(
            out,
            "  {:>2}  {addr:<28} probes of {}{note}",
            hop.ttl, hop.mtu
        )?;
    }
    let how = match (method, blackhole_after) {
        ("search", Some((hop, addr))) => format!(
            "found by search: probes above it vanish after hop {hop}{} and no ICMP \
             \"too big\" comes back (dropped: a PMTUD black hole)",
            addr.map_or(String::new(), |a| format!(" ({a})"))
        ),
        _ if hops.iter().any(|h| h.reported_mtu.is_some()) => "from ICMP too big".into(),
        _ => "nothing smaller than the first link on the way".into(),
    };
    let summary = format!(
        "path MTU {path_mtu}: {how}; TCP MSS {} ({} with timestamps). {} probes, {:.1} s.",
        path_mtu.saturating_sub(if v6 { 60 } else { 40 }),
        path_mtu.saturating_sub(if v6 { 72 } else { 52 }),
        prober.sent,
        elapsed.as_secs_f64()
    );
    for line in crate::render::wrap(&summary, "", "  ") {
        writeln!(out, "{line}")?;
    }
    if !reached {
        writeln!(
            out,
            "(the host did not answer within {} hops)",
            args.max_hops
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The search to the destination (full TTL): port unreachable acknowledges a size.
fn search(prober: &mut Prober, floor: u32, max: u32) -> Result<(u32, u32), Failure> {
    let mut search = Search::new(floor, max);
    // (id on the wire, the search's id) of the probe in flight.
    let mut in_flight: Option<(u32, u32)> = None;
    let started = prober.now_ms();
    loop {
        let now = prober.now_ms();
        if now.saturating_sub(started) > 60_000 {
            // Bounded: a minute at most, then what is confirmed.
            return Ok((search.confirmed(), search.probes));
        }
        match search.poll(now) {
            Action::Done { mtu } => return Ok((mtu, search.probes)),
            Action::Send { id, size } => match prober.send(size, 64)? {
                Ok(probe) => in_flight = Some((probe, id)),
                Err(mtu) => search.on_too_big(id, mtu),
            },
            Action::Wait { until } => {
                let wait = Duration::from_millis(until.saturating_sub(now));
                let Some((probe, id)) = in_flight.take() else {
                    std::thread::sleep(wait.min(Duration::from_millis(50)));
                    continue;
                };
                match prober.answer(probe, wait) {
                    Answer::Reached(_) => search.on_ack(id, prober.now_ms()),
                    Answer::TooBig(mtu, _) => search.on_too_big(id, mtu),
                    // Silence: the search times it out at `until`.
                    _ => {}
                }
            }
        }
    }
}

/// `[addr]` for an IPv6 literal, the name otherwise.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}
