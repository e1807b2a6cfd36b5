//! `mss sockets`: every TCP socket's MSS from the kernel (sock_diag), each send
//! MSS explained by the bound that holds it (Linux's `tcp_sync_mss()`).

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use mss_net::TcpInfo;
use mss_net::sockdiag::{TcpSocket, state_name};
use mss_rules::linux::{SendMssBound, send_mss_bound};
use serde_json::json;

use crate::Failure;
use crate::cli::SocketsArgs;

/// `tcpi_options` bit: timestamps negotiated (include/uapi/linux/tcp.h).
const TCPI_OPT_TIMESTAMPS: u8 = 1;
/// The timestamp option as every segment carries it, aligned (TCPOLEN_TSTAMP_ALIGNED).
const TIMESTAMPS_BYTES: u32 = 12;

/// What the numbers of one socket mean.
struct Explained {
    /// IP and TCP headers: 40, IPv6 60.
    headers: u32,
    /// Options on every segment: 12 with timestamps.
    options: u32,
    /// The MSS option of its own SYN (tcpi_advmss is it less the options).
    announced: u32,
    bound: SendMssBound,
    /// One or two sentences.
    why: String,
}

/// Path MTUs the kernel learned from ICMP, by destination: (MTU, seconds left).
type Learned = HashMap<std::net::IpAddr, (u32, Option<u32>)>;

fn explain(socket: &TcpSocket, info: &TcpInfo, learned: &Learned) -> Explained {
    let headers = if socket.local.is_ipv4() { 40 } else { 60 };
    let options = if info.options & TCPI_OPT_TIMESTAMPS != 0 {
        TIMESTAMPS_BYTES
    } else {
        0
    };
    // Linux takes the timestamps off tp->advmss once they are agreed
    // (tcp_rcv_synsent_state_process(), tcp_openreq_init_rwin()).
    let announced = info.advmss + options;
    let bound = send_mss_bound(
        info.pmtu,
        info.snd_mss,
        info.snd_wnd,
        headers,
        options,
        None,
    );
    let path_allows = info.pmtu.saturating_sub(headers + options);
    let ts = if options > 0 {
        format!(" - {options} (timestamps)")
    } else {
        String::new()
    };
    let own_low = announced + headers < info.pmtu;
    let mut why = match bound {
        SendMssBound::Path => format!(
            "the path MTU: {} - {headers} (IP and TCP headers){ts} = {path_allows}; the \
             peer's MSS is no smaller",
            info.pmtu
        ),
        SendMssBound::HalfWindow => format!(
            "half the peer's window: the path allows {} - {headers}{ts} = {path_allows}, but \
             Linux sends at most half the largest window the peer advertised \
             (tcp_bound_to_half_wnd(), include/net/tcp.h): its window is {} bytes now",
            info.pmtu, info.snd_wnd
        ),
        SendMssBound::Peer => format!(
            "the peer's MSS: the path allows {} - {headers}{ts} = {path_allows}, the peer \
             announced {}{}: its own link, or a path MTU it learned, is smaller, or a router \
             on the path clamps the MSS (capture both sides with mss analyze to see where)",
            info.pmtu,
            info.snd_mss + options,
            if options > 0 {
                format!(", {} after {options} bytes of timestamps", info.snd_mss)
            } else {
                String::new()
            }
        ),
    };
    if let Some(&(mtu, expires)) = learned.get(&socket.peer.ip()) {
        if mtu == info.pmtu {
            why.push_str(&format!(
                "; the path MTU {mtu} was learned from an ICMP too-big{}",
                expires.map_or(String::new(), |s| format!(" and expires in {s} s"))
            ));
        }
    }
    if own_low && bound != SendMssBound::HalfWindow {
        why.push_str(&format!(
            "; this socket announced {announced}, less than its path MTU allows ({}): \
             TCP_MAXSEG, or a route's advmss, lowered it",
            info.pmtu.saturating_sub(headers)
        ));
    }
    Explained {
        headers,
        options,
        announced,
        bound,
        why,
    }
}

/// The sockets of this namespace or of `netns`, with the path MTUs it learned.
fn sockets(netns: Option<&str>) -> Result<(Vec<TcpSocket>, Learned), Failure> {
    crate::netns::run_in(netns, || {
        let sockets = mss_net::sockdiag::tcp_sockets()
            .map_err(|e| Failure::Input(format!("sock_diag: {e}")))?;
        // Without them the explanations only lose a detail.
        let learned = mss_net::route::pmtu_exceptions()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.destination, (e.mtu, e.expires_s)))
            .collect();
        Ok((sockets, learned))
    })
}

/// Whether the filters keep `socket`.
fn keeps(args: &SocketsArgs, socket: &TcpSocket) -> bool {
    let state = state_name(socket.state);
    let states_ok = match &args.state {
        Some(states) => states.contains(&state),
        None => state != "listen",
    };
    let ends = [socket.local, socket.peer];
    states_ok
        && (args.host.is_empty() || ends.iter().any(|e| args.host.contains(&e.ip())))
        && (args.port.is_empty() || ends.iter().any(|e| args.port.contains(&e.port())))
}

/// A socket as a JSON record.
fn record(socket: &TcpSocket, learned: &Learned) -> serde_json::Value {
    let mut value = json!({
        "type": "socket",
        "local": socket.local.to_string(),
        "peer": socket.peer.to_string(),
        "ip_version": if socket.local.is_ipv4() { 4 } else { 6 },
        "state": state_name(socket.state),
        "uid": socket.uid,
        "inode": socket.inode,
    });
    if let (Some(info), Some(map)) = (socket.info, value.as_object_mut()) {
        let explained = explain(socket, &info, learned);
        for (key, v) in [
            ("send_mss", json!(info.snd_mss)),
            ("recv_mss", json!(info.rcv_mss)),
            ("advmss", json!(info.advmss)),
            ("announced_mss", json!(explained.announced)),
            ("pmtu", json!(info.pmtu)),
            ("timestamps", json!(explained.options > 0)),
            ("option_bytes", json!(explained.options)),
            ("header_bytes", json!(explained.headers)),
            ("peer_window", json!(info.snd_wnd)),
            ("rtt_ms", json!(f64::from(info.rtt_us) / 1000.0)),
            ("retransmits", json!(info.total_retrans)),
            ("send_mss_bound", json!(explained.bound.name())),
            ("explanation", json!(explained.why)),
        ] {
            map.insert(key.to_string(), v);
        }
    }
    value
}

/// One socket as lines of the table: the numbers, then why.
fn lines(out: &mut impl Write, socket: &TcpSocket, learned: &Learned) -> std::io::Result<()> {
    let ends = format!("{} > {}", socket.local, socket.peer);
    let state = state_name(socket.state);
    let Some(info) = socket.info else {
        return writeln!(out, "{ends:<48} {state:<12} (no TCP_INFO in this state)");
    };
    let explained = explain(socket, &info, learned);
    writeln!(
        out,
        "{ends:<48} {state:<12} {:>6} {:>6} {:>6} {:>6}",
        info.snd_mss, info.rcv_mss, explained.announced, info.pmtu
    )?;
    if state != "listen" {
        let why = format!("send MSS {}: {}", info.snd_mss, explained.why);
        for line in crate::render::wrap(&why, "    ", "    ") {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

pub(crate) fn run(args: &SocketsArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let (now, learned) = sockets(args.netns.as_deref())?;
    let now: Vec<TcpSocket> = now.into_iter().filter(|s| keeps(args, s)).collect();
    let Some(seconds) = args.watch else {
        if args.json {
            for socket in &now {
                serde_json::to_writer(&mut *out, &record(socket, &learned))
                    .map_err(std::io::Error::other)?;
                writeln!(out)?;
            }
        } else {
            writeln!(
                out,
                "{:<48} {:<12} {:>6} {:>6} {:>6} {:>6}",
                "local > peer", "state", "send", "recv", "adv", "pmtu"
            )?;
            for socket in &now {
                lines(out, socket, &learned)?;
            }
            if now.is_empty() {
                writeln!(out, "(no TCP sockets match)")?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    watch(args, out, (now, learned), Duration::from_secs_f64(seconds))
}

/// What is compared between two looks at a socket.
fn numbers(socket: &TcpSocket) -> Option<(u32, u32, u32, u32)> {
    socket
        .info
        .map(|i| (i.snd_mss, i.pmtu, i.advmss, i.rcv_mss))
}

/// `--watch`: the sockets now, then every change, until Ctrl-C.
fn watch(
    args: &SocketsArgs,
    out: &mut impl Write,
    first: (Vec<TcpSocket>, Learned),
    every: Duration,
) -> Result<ExitCode, Failure> {
    let mut seen: HashMap<(SocketAddr, SocketAddr), TcpSocket> = HashMap::new();
    let report = |out: &mut dyn Write,
                  what: &str,
                  before: Option<&TcpSocket>,
                  socket: &TcpSocket,
                  learned: &Learned|
     -> std::io::Result<()> {
        if args.json {
            let mut value = record(socket, learned);
            if let Some(map) = value.as_object_mut() {
                map.insert("type".into(), json!("change"));
                map.insert("change".into(), json!(what));
                map.insert("time".into(), json!(clock_now()));
                if let Some(info) = before.and_then(|b| b.info) {
                    map.insert(
                        "before".into(),
                        json!({"send_mss": info.snd_mss, "pmtu": info.pmtu,
                               "advmss": info.advmss, "recv_mss": info.rcv_mss}),
                    );
                }
            }
            serde_json::to_writer(&mut *out, &value).map_err(std::io::Error::other)?;
            writeln!(out)?;
        } else {
            let numbers = |s: &TcpSocket| {
                s.info.map_or_else(
                    || state_name(s.state).to_string(),
                    |i| format!("send MSS {}, path MTU {}", i.snd_mss, i.pmtu),
                )
            };
            let change = match before {
                Some(b) => format!("{} -> {}", numbers(b), numbers(socket)),
                None => numbers(socket),
            };
            writeln!(
                out,
                "{} {what} {} > {}: {change}",
                clock_now(),
                socket.local,
                socket.peer
            )?;
            if let Some(info) = socket.info {
                for line in
                    crate::render::wrap(&explain(socket, &info, learned).why, "    ", "    ")
                {
                    writeln!(out, "{line}")?;
                }
            }
        }
        out.flush()
    };
    let (first, learned) = first;
    for socket in first {
        report(out, "open", None, &socket, &learned)?;
        seen.insert((socket.local, socket.peer), socket);
    }
    loop {
        std::thread::sleep(every);
        let (now, learned) = sockets(args.netns.as_deref())?;
        let now: Vec<TcpSocket> = now.into_iter().filter(|s| keeps(args, s)).collect();
        let mut next = HashMap::with_capacity(now.len());
        for socket in now {
            let key = (socket.local, socket.peer);
            match seen.get(&key) {
                None => report(out, "new", None, &socket, &learned)?,
                Some(before) if numbers(before) != numbers(&socket) => {
                    report(out, "changed", Some(before), &socket, &learned)?;
                }
                Some(_) => {}
            }
            next.insert(key, socket);
        }
        seen = next;
    }
}

/// The wall clock as `HH:MM:SS` UTC, for --watch lines.
fn clock_now() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60
    )
}
