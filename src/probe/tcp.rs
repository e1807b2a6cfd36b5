//! `mss probe tcp HOST:PORT`: connect, and report the kernel's view of the
//! connection's MSS, each number explained.

use mss_rules::linux::SendMssBound;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::Duration;

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrStorage, sockopt};
use nix::sys::time::TimeVal;
use serde_json::{Value, json};

use super::reflect::REQUEST;
use crate::Failure;
use crate::cli::ProbeTcpArgs;

/// TCPI_OPT_TIMESTAMPS in tcpi_options.
const OPT_TIMESTAMPS: u8 = 1;

fn connect(to: SocketAddr, mss: Option<u32>, timeout: Duration) -> Result<TcpStream, Failure> {
    let family = if to.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let fail = |what: &str, e: nix::Error| Failure::Input(format!("{to}: {what}: {e}"));
    let fd: OwnedFd = socket::socket(family, SockType::Stream, SockFlag::empty(), None)
        .map_err(|e| fail("socket", e))?;
    if let Some(mss) = mss {
        socket::setsockopt(&fd, sockopt::TcpMaxSeg, &mss).map_err(|e| {
            Failure::Input(format!(
                "--mss {mss}: setsockopt(TCP_MAXSEG): {e} (Linux accepts 88 to 32767)"
            ))
        })?;
    }
    // A blocking connect() gives up after SO_SNDTIMEO on Linux.
    let seconds = i64::try_from(timeout.as_secs()).unwrap_or(5).max(1);
    socket::setsockopt(&fd, sockopt::SendTimeout, &TimeVal::new(seconds, 0))
        .map_err(|e| fail("SO_SNDTIMEO", e))?;
    socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(to)).map_err(|e| {
        Failure::Input(match e {
            // What a blocking connect() says when SO_SNDTIMEO runs out.
            nix::Error::EINPROGRESS | nix::Error::EAGAIN => format!(
                "{to}: no answer within {} s (no SYN-ACK or reset came back: the host is \
                 down, or a firewall drops the SYN); --timeout waits longer",
                timeout.as_secs()
            ),
            nix::Error::ECONNREFUSED => {
                format!(
                    "{to}: connection refused (nothing listens on port {})",
                    to.port()
                )
            }
            e => format!("{to}: cannot connect: {e}"),
        })
    })?;
    Ok(TcpStream::from(fd))
}

/// Asks a reflector what SYN it received.
fn ask_reflector(stream: &mut TcpStream, timeout: Duration) -> Result<Value, Failure> {
    let fail = |e: std::io::Error| Failure::Input(format!("reflector: {e}"));
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.write_all(REQUEST.as_bytes()).map_err(fail)?;
    let mut line = String::new();
    BufReader::new(std::io::Read::take(&mut *stream, 4096))
        .read_line(&mut line)
        .map_err(fail)?;
    serde_json::from_str(line.trim()).map_err(|_| {
        Failure::Input(format!(
            "the target did not answer as `mss probe reflect` does (got {:?}); run it there, \
             or drop --reflector",
            line.chars().take(80).collect::<String>()
        ))
    })
}

pub(crate) fn run(args: &ProbeTcpArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let to = super::resolve_host_port(&args.target, &args.family)?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let mut stream = connect(to, args.mss, timeout)?;
    let from = stream
        .local_addr()
        .map_err(|e| Failure::Input(format!("{to}: {e}")))?;
    let maxseg: u32 = socket::getsockopt(&stream.as_fd(), sockopt::TcpMaxSeg)
        .map_err(|e| Failure::Input(format!("getsockopt(TCP_MAXSEG): {e}")))?;
    let info = mss_net::tcp_info(&stream)
        .map_err(|e| Failure::Input(format!("getsockopt(TCP_INFO): {e}")))?;
    let reflected = if args.reflector {
        Some(ask_reflector(&mut stream, timeout)?)
    } else {
        None
    };
    let v6 = to.is_ipv6();
    let headers = if v6 { 60 } else { 40 };
    let timestamps = info.options & OPT_TIMESTAMPS != 0;
    // Once timestamps are agreed, Linux takes their 12 bytes off tp->advmss
    // (tcp_rcv_synsent_state_process()): the SYN itself said 12 more.
    let syn_mss = info.advmss + if timestamps { 12 } else { 0 };
    let options_bytes = if timestamps { 12 } else { 0 };
    let bound = mss_rules::linux::send_mss_bound(
        info.pmtu,
        info.snd_mss,
        info.snd_wnd,
        headers,
        options_bytes,
        args.mss,
    );
    let received = reflected
        .as_ref()
        .and_then(|r| r["syn_mss"].as_u64())
        .and_then(|v| u32::try_from(v).ok());
    if args.json {
        let value = json!({
            "type": "probe_tcp",
            "target": to.to_string(),
            "local": from.to_string(),
            "ip_version": if v6 { 6 } else { 4 },
            "maxseg": maxseg,
            "snd_mss": info.snd_mss,
            "rcv_mss": info.rcv_mss,
            "advmss": info.advmss,
            "pmtu": info.pmtu,
            "snd_wnd": info.snd_wnd,
            "snd_mss_bound": bound.name(),
            "rtt_ms": f64::from(info.rtt_us) / 1000.0,
            "timestamps": timestamps,
            "syn_mss": syn_mss,
            "syn_mss_sent": reflected.as_ref().map(|_| syn_mss),
            "syn_mss_received": received,
            "reflected": reflected,
        });
        writeln!(out, "{value}")?;
        return Ok(ExitCode::SUCCESS);
    }
    human(
        out,
        args,
        &Seen {
            to,
            from,
            maxseg,
            info,
            headers,
            timestamps,
            syn_mss,
            options_bytes,
            bound,
            received,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

/// What the probe learned, for the report in words.
struct Seen {
    to: SocketAddr,
    from: SocketAddr,
    maxseg: u32,
    info: mss_net::TcpInfo,
    headers: u32,
    timestamps: bool,
    syn_mss: u32,
    options_bytes: u32,
    bound: SendMssBound,
    received: Option<u32>,
}

/// The report in words: each figure with where it comes from.
fn human(out: &mut impl Write, args: &ProbeTcpArgs, seen: &Seen) -> Result<(), Failure> {
    let Seen {
        to,
        from,
        maxseg,
        ref info,
        headers,
        timestamps,
        syn_mss,
        options_bytes,
        bound,
        received,
    } = *seen;
    writeln!(out, "mss probe tcp {to} (from {from})")?;
    let mut row = |label: &str, value: String, why: String| -> std::io::Result<()> {
        writeln!(out, "  {label:<26} {value:>9}")?;
        for line in crate::render::wrap(&why, "      ", "      ") {
            writeln!(out, "{line}")?;
        }
        Ok(())
    };
    row(
        "advertised MSS (our SYN)",
        syn_mss.to_string(),
        match args.mss {
            Some(mss) => format!("TCP_MAXSEG {mss} set before connect (or route MTU - {headers})"),
            None => format!(
                "the route's MTU {} - {headers} (IP + TCP headers){}",
                syn_mss + headers,
                if timestamps {
                    "; tcpi_advmss shows 12 less once timestamps are on"
                } else {
                    ""
                }
            ),
        },
    )?;
    let ts_note = if timestamps {
        format!(" - {options_bytes} bytes of timestamps")
    } else {
        " (no timestamps)".to_string()
    };
    let path_allows = info.pmtu.saturating_sub(headers + options_bytes);
    row(
        "send MSS now",
        info.snd_mss.to_string(),
        match bound {
            SendMssBound::Path => format!(
                "tcpi_snd_mss (TCP_MAXSEG {maxseg}): the path MTU {} - {headers} (IP + TCP \
                 headers){ts_note}; the peer's MSS is no smaller",
                info.pmtu
            ),
            SendMssBound::HalfWindow => format!(
                "tcpi_snd_mss (TCP_MAXSEG {maxseg}): the path allows {} - {headers}{ts_note} \
                 = {path_allows}, but Linux sends at most half the largest window the peer \
                 has advertised (tcp_bound_to_half_wnd() in include/net/tcp.h): its window \
                 is {} bytes (tcpi_snd_wnd), half of it {}",
                info.pmtu,
                info.snd_wnd,
                info.snd_wnd / 2
            ),
            SendMssBound::Peer => format!(
                "tcpi_snd_mss (TCP_MAXSEG {maxseg}): below what the path allows ({} - \
                 {headers}{ts_note} = {path_allows}), so the smaller MSS is the {}: {}{ts_note}",
                info.pmtu,
                if args.mss.is_some() {
                    "peer's (its SYN-ACK) or our --mss"
                } else {
                    "peer's (its SYN-ACK)"
                },
                info.snd_mss + options_bytes
            ),
        },
    )?;
    row(
        "peer's send MSS (guess)",
        info.rcv_mss.to_string(),
        "tcpi_rcv_mss: the kernel's estimate until full segments arrive".into(),
    )?;
    row(
        "path MTU",
        info.pmtu.to_string(),
        "tcpi_pmtu: lowered by ICMP too-big, or by MTU probing".into(),
    )?;
    row(
        "RTT",
        format!("{:.2}", f64::from(info.rtt_us) / 1000.0),
        "ms, smoothed (tcpi_rtt)".into(),
    )?;
    if let Some(received) = received {
        let sent = syn_mss;
        row(
            "SYN MSS sent / received",
            format!("{sent}/{received}"),
            if received < sent {
                format!("clamped on the path from {sent} to {received}")
            } else if received == sent {
                "arrived unchanged: nothing on the path rewrote it".into()
            } else {
                format!("raised on the path from {sent} to {received} (a broken clamp)")
            },
        )?;
    }
    Ok(())
}
