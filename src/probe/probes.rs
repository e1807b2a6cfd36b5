//! The probes of `mss probe path`: UDP datagrams, TCP SYNs or ICMP echo requests of
//! a chosen IP packet size and TTL, with DF set and the cached path MTU ignored
//! (IP_PMTUDISC_PROBE, as tracepath), and what came back for each.
//!
//! ICMP errors about a probe (time exceeded, too big, unreachable) arrive on the
//! socket's error queue (IP_RECVERR / IPV6_RECVERR), for UDP sockets and raw sockets
//! alike (`udp_err()`, `raw_err()` and `rawv6_err()` in the kernel queue them with
//! the quoted transport header as data). Each probe carries a token where the quote
//! keeps it: the first payload bytes of a UDP probe, the sequence number of a SYN,
//! the identifier and sequence number of an echo request. The target's own answer
//! to TCP and ICMP probes (SYN-ACK or reset, echo reply) arrives on the raw socket.

use std::collections::VecDeque;
use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mss_wire::icmp::Echo;
use mss_wire::syn::Syn;
use mss_wire::tcp::{self, Flags, TcpOption};
use nix::sys::socket::{
    self, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockProtocol, SockType,
    SockaddrStorage, sockopt,
};

use crate::Failure;
use crate::cli::ProbeMethod;

/// What came back for a probe.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// ICMP time exceeded from a router.
    TimeExceeded(IpAddr),
    /// ICMP too big with the next-hop MTU, from a router.
    TooBig(u32, IpAddr),
    /// The target answered: port unreachable to UDP, SYN-ACK or reset to TCP, echo
    /// reply to ICMP.
    Reached(IpAddr),
    /// Another ICMP unreachable: (address, type, code).
    Unreachable(IpAddr, u8, u8),
}

/// What `send` did with a probe.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Sent {
    /// On its way, with this id.
    Probe(u32),
    /// Refused here: larger than the MTU of the interface toward the target (the
    /// kernel's EMSGSIZE, with that MTU).
    TooBigHere(u32),
}

/// A probe sent: its id, the token the answers carry, and what matching the
/// target's own answer needs.
struct Flight {
    id: u32,
    token: u32,
    /// TCP: the SYN's source port and payload length (a reset acknowledges the
    /// payload, a SYN-ACK only the SYN).
    source_port: u16,
    payload: u32,
    sent_at: Instant,
}

/// Probes in flight remembered for late answers.
const FLIGHTS_KEPT: usize = 256;

/// The MSS our TCP probes announce (the usual Ethernet values; the probe is not a
/// real connection).
const SYN_MSS_V4: u16 = 1460;
const SYN_MSS_V6: u16 = 1440;

/// A socket that sends probes toward one target and reads their answers.
pub(super) struct Prober {
    fd: OwnedFd,
    method: ProbeMethod,
    target: SocketAddr,
    v6: bool,
    /// Our address toward the target (the TCP pseudo-header needs it).
    source: IpAddr,
    next_id: u32,
    /// Offsets TCP sequence numbers, so they do not start at 1.
    token_base: u32,
    /// ICMP echo identifier.
    ident: u16,
    flights: VecDeque<Flight>,
    /// Probes sent so far.
    pub(super) sent: u32,
}

/// IPv4 or IPv6 header bytes.
fn ip_header(v6: bool) -> u32 {
    if v6 { 40 } else { 20 }
}

impl Prober {
    /// A connected socket toward `target` (its port is used by UDP and TCP).
    pub(super) fn new(target: SocketAddr, method: ProbeMethod) -> Result<Prober, Failure> {
        let v6 = target.is_ipv6();
        let (fd, source) = super::with_usable_source(target, || Prober::open(target, method))?;
        let pid = std::process::id();
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Ok(Prober {
            fd,
            method,
            target,
            v6,
            source,
            next_id: 1,
            token_base: pid.rotate_left(16) ^ clock,
            ident: u16::try_from(pid & 0xffff).unwrap_or(0),
            flights: VecDeque::new(),
            sent: 0,
        })
    }

    /// A socket connected toward `target` for `method`, with the source address
    /// the kernel chose for it.
    fn open(target: SocketAddr, method: ProbeMethod) -> Result<(OwnedFd, IpAddr), Failure> {
        let v6 = target.is_ipv6();
        let family = if v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let fail =
            |what: &str, e: nix::Error| Failure::Input(format!("{}: {what}: {e}", target.ip()));
        let fd = match method {
            ProbeMethod::Udp => socket::socket(family, SockType::Datagram, SockFlag::empty(), None)
                .map_err(|e| fail("socket", e))?,
            ProbeMethod::Tcp | ProbeMethod::Icmp => {
                let protocol = match (method, v6) {
                    (ProbeMethod::Tcp, _) => SockProtocol::Tcp,
                    (_, false) => SockProtocol::Icmp,
                    (_, true) => SockProtocol::IcmpV6,
                };
                socket::socket(family, SockType::Raw, SockFlag::empty(), protocol).map_err(|e| {
                    if e == nix::Error::EPERM {
                        Failure::Input(format!(
                            "--method {}: sending raw {} probes needs CAP_NET_RAW: run \
                                 it as root (or setcap cap_net_raw+ep on the binary), or use \
                                 --method udp, which needs no privileges",
                            if method == ProbeMethod::Tcp {
                                "tcp"
                            } else {
                                "icmp"
                            },
                            if method == ProbeMethod::Tcp {
                                "TCP SYN"
                            } else {
                                "ICMP echo"
                            }
                        ))
                    } else {
                        fail("raw socket", e)
                    }
                })?
            }
        };
        // Raw sockets take no port in connect(); TCP's port goes into our header.
        let peer = match method {
            ProbeMethod::Udp => target,
            _ => SocketAddr::new(target.ip(), 0),
        };
        socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(peer))
            .map_err(|e| fail("no route (connect)", e))?;
        mss_net::set_pmtu_probe(&fd, v6)
            .map_err(|e| Failure::Input(format!("{}: IP_MTU_DISCOVER: {e}", target.ip())))?;
        let recverr = if v6 {
            socket::setsockopt(&fd, sockopt::Ipv6RecvErr, &true)
        } else {
            socket::setsockopt(&fd, sockopt::Ipv4RecvErr, &true)
        };
        recverr.map_err(|e| fail("IP_RECVERR", e))?;
        let local: SockaddrStorage =
            socket::getsockname(fd.as_raw_fd()).map_err(|e| fail("getsockname", e))?;
        let source = local
            .as_sockaddr_in()
            .map(|a| IpAddr::V4(a.ip()))
            .or_else(|| local.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())))
            .ok_or_else(|| Failure::Input(format!("{}: no local address", target.ip())))?;
        Ok((fd, source))
    }

    /// IP and transport header bytes of a probe: the smallest probe.
    pub(super) fn headers(&self) -> u32 {
        ip_header(self.v6)
            + match self.method {
                ProbeMethod::Udp | ProbeMethod::Icmp => 8,
                // Header and an MSS option.
                ProbeMethod::Tcp => 24,
            }
    }

    /// Sends a probe of `size` bytes (the whole IP packet) with `ttl`.
    pub(super) fn send(&mut self, size: u32, ttl: u8) -> Result<Sent, Failure> {
        let ttl_value = i32::from(ttl);
        let set = if self.v6 {
            socket::setsockopt(&self.fd, sockopt::Ipv6Ttl, &ttl_value)
        } else {
            socket::setsockopt(&self.fd, sockopt::Ipv4Ttl, &ttl_value)
        };
        set.map_err(|e| Failure::Input(format!("setting the TTL: {e}")))?;
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        // At least room for the token (UDP: 4 payload bytes).
        let payload = size.saturating_sub(self.headers()).max(4);
        let payload_len = usize::try_from(payload).unwrap_or(4);
        let (bytes, token, source_port) = match self.method {
            ProbeMethod::Udp => {
                let mut bytes = vec![0u8; payload_len];
                bytes[..4].copy_from_slice(&id.to_be_bytes());
                (bytes, id, 0)
            }
            ProbeMethod::Tcp => {
                let seq = self.token_base.wrapping_add(id.wrapping_mul(65_537));
                // A new source port per probe: the target never sees a SYN for a
                // connection it already answered.
                let source_port = 33_000 + u16::try_from(id % 28_000).unwrap_or(0);
                let mss = if self.v6 { SYN_MSS_V6 } else { SYN_MSS_V4 };
                let syn = Syn {
                    options: &[TcpOption::Mss(mss)],
                    payload_len,
                    ..Syn::new(source_port, self.target.port(), seq)
                };
                let segment = syn
                    .build(self.source, self.target.ip())
                    .map_err(|e| Failure::Input(format!("a TCP probe of {size} bytes: {e}")))?;
                (segment, seq, source_port)
            }
            ProbeMethod::Icmp => {
                let seq = u16::try_from(id & 0xffff).unwrap_or(0);
                let token = (u32::from(self.ident) << 16) | u32::from(seq);
                (
                    Echo::request(self.v6, self.ident, seq, payload_len),
                    token,
                    0,
                )
            }
        };
        // Bounded rate: at most 50 probes a second.
        std::thread::sleep(Duration::from_millis(20));
        // A pending error from an earlier answer (sk_err) fails the next send
        // without sending it (sock_error() in the send path): send again.
        for _ in 0..4 {
            match socket::send(self.fd.as_raw_fd(), &bytes, MsgFlags::empty()) {
                Ok(_) => {
                    self.sent += 1;
                    if self.flights.len() >= FLIGHTS_KEPT {
                        self.flights.pop_front();
                    }
                    self.flights.push_back(Flight {
                        id,
                        token,
                        source_port,
                        payload,
                        sent_at: Instant::now(),
                    });
                    return Ok(Sent::Probe(id));
                }
                Err(nix::Error::EMSGSIZE) => return Ok(Sent::TooBigHere(self.local_mtu())),
                Err(nix::Error::EPERM) => {
                    return Err(Failure::Input(format!(
                        "sending to {}: not permitted (a local firewall rule?)",
                        self.target.ip()
                    )));
                }
                Err(_) => {}
            }
        }
        Err(Failure::Input(format!(
            "sending to {}: the socket keeps failing; is there a route?",
            self.target.ip()
        )))
    }

    /// The MTU of the interface toward the target, after a local EMSGSIZE: the
    /// error queue says it (the socket's cached path MTU may already be lower).
    fn local_mtu(&mut self) -> u32 {
        let mut mtu = None;
        while let Some(error) = self.read_error() {
            if let Some(m) = error.local_mtu {
                mtu = Some(m);
            }
        }
        mtu.unwrap_or_else(|| mss_net::path_mtu(&self.fd, self.v6).unwrap_or(1280))
    }

    /// The MTU of the interface toward the target: a probe too big for any link
    /// fails locally with EMSGSIZE, and says it.
    pub(super) fn interface_mtu(&mut self) -> Result<u32, Failure> {
        Ok(match self.send(65_535, 1)? {
            Sent::TooBigHere(mtu) => mtu,
            // A 64 KiB link: as large as an IP packet gets.
            Sent::Probe(_) => 65_535,
        })
    }

    /// Waits up to `timeout` for an answer to one of the probes `wanted`; answers
    /// to others are dropped. Returns the probe's id, the answer and its round trip.
    pub(super) fn answer(
        &mut self,
        wanted: &[u32],
        timeout: Duration,
    ) -> Option<(u32, Answer, Duration)> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(error) = self.read_error() {
                if let (Some(answer), Some(flight)) = (error.answer, self.flight(error.token)) {
                    if wanted.contains(&flight.id) {
                        return Some((flight.id, answer, flight.sent_at.elapsed()));
                    }
                }
            }
            while let Some(token) = self.read_reply() {
                if let Some(flight) = self.flight(token) {
                    if wanted.contains(&flight.id) {
                        let answer = Answer::Reached(self.target.ip());
                        return Some((flight.id, answer, flight.sent_at.elapsed()));
                    }
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn flight(&self, token: u32) -> Option<&Flight> {
        self.flights.iter().rev().find(|f| f.token == token)
    }

    /// One message from the error queue.
    fn read_error(&self) -> Option<QueuedError> {
        let mut data = [0u8; 8];
        let (got, found) = {
            let mut iov = [IoSliceMut::new(&mut data)];
            let mut space = nix::cmsg_space!(nix::libc::sock_extended_err, nix::libc::sockaddr_in6);
            let msg = socket::recvmsg::<()>(
                self.fd.as_raw_fd(),
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
                found = Some((err, from));
            }
            (msg.bytes, found)
        };
        let (err, from) = found?;
        // Where the returned probe keeps the token: the UDP payload's first bytes,
        // the TCP sequence number, the ICMP echo identifier and sequence.
        let quoted = data.get(..got).unwrap_or_default();
        let token = match self.method {
            // Our own payload's first four bytes.
            ProbeMethod::Udp => quoted
                .first_chunk::<4>()
                .map_or(0, |b| u32::from_be_bytes(*b)),
            ProbeMethod::Tcp => tcp::quoted_seq(quoted).unwrap_or(0),
            ProbeMethod::Icmp => Echo::parse(quoted, self.v6).map_or(0, Echo::token),
        };
        Some(classify(&err, from, self.v6, token))
    }

    /// The token of a probe the target answered, from the raw socket's receive
    /// queue (TCP and ICMP probes); `None` when nothing (more) is queued.
    fn read_reply(&self) -> Option<u32> {
        if self.method == ProbeMethod::Udp {
            return None;
        }
        let mut buf = [0u8; 2048];
        loop {
            let n = socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT).ok()?;
            let Some(data) = buf.get(..n) else { continue };
            let Some(transport) = super::raw_transport(data, self.v6) else {
                continue;
            };
            let token = match self.method {
                ProbeMethod::Tcp => self.tcp_answer(transport),
                _ => self.echo_reply(transport),
            };
            if token.is_some() {
                return token;
            }
        }
    }

    /// A SYN-ACK (port open) or a reset (closed) from the target for one of our
    /// SYNs: its sequence number (the token).
    fn tcp_answer(&self, segment: &[u8]) -> Option<u32> {
        let segment = tcp::Packet::new_lax(segment).ok()?;
        let (to_port, ack) = (segment.dst_port(), segment.ack_number());
        if segment.src_port() != self.target.port() || !answers_a_syn(segment.flags()) {
            return None;
        }
        // A SYN-ACK acknowledges the SYN only; a reset also the payload
        // (tcp_v4_send_reset(): ack = seq + SYN + payload).
        self.flights
            .iter()
            .rev()
            .find(|f| {
                f.source_port == to_port
                    && (ack == f.token.wrapping_add(1)
                        || ack == f.token.wrapping_add(1).wrapping_add(f.payload))
            })
            .map(|f| f.token)
    }

    /// An echo reply with our identifier: its identifier and sequence (the token).
    fn echo_reply(&self, icmp: &[u8]) -> Option<u32> {
        Echo::parse(icmp, self.v6)
            .filter(|echo| echo.reply && echo.ident == self.ident)
            .map(Echo::token)
    }
}

/// A SYN-ACK (port open) or a reset with ACK (closed): either way the SYN arrived.
pub(super) fn answers_a_syn(flags: Flags) -> bool {
    flags.contains(Flags::SYN | Flags::ACK) || flags.contains(Flags::RST | Flags::ACK)
}

/// A message from the error queue: what it says and the token it quotes.
struct QueuedError {
    /// `None` for a local EMSGSIZE (the probe never left).
    answer: Option<Answer>,
    /// The MTU of a local EMSGSIZE.
    local_mtu: Option<u32>,
    token: u32,
}

/// SO_EE_ORIGIN_LOCAL (include/uapi/linux/errqueue.h).
const ORIGIN_LOCAL: u8 = 1;

fn classify(
    err: &nix::libc::sock_extended_err,
    from: Option<IpAddr>,
    v6: bool,
    token: u32,
) -> QueuedError {
    let addr = from.unwrap_or(if v6 {
        IpAddr::from([0u16; 8])
    } else {
        IpAddr::from([0u8; 4])
    });
    let too_big = err.ee_errno == u32::try_from(nix::libc::EMSGSIZE).unwrap_or(90);
    if too_big && err.ee_origin == ORIGIN_LOCAL {
        return QueuedError {
            answer: None,
            local_mtu: Some(err.ee_info),
            token,
        };
    }
    let answer = if too_big {
        Answer::TooBig(err.ee_info, addr)
    } else {
        // ICMP types and codes: RFC 792 (IPv4), RFC 4443 (IPv6).
        match (v6, err.ee_type, err.ee_code) {
            (false, 11, _) | (true, 3, _) => Answer::TimeExceeded(addr),
            (false, 3, 3) | (true, 1, 4) => Answer::Reached(addr),
            (_, t, c) => Answer::Unreachable(addr, t, c),
        }
    };
    QueuedError {
        answer: Some(answer),
        local_mtu: None,
        token,
    }
}
