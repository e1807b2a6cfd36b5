//! `mss probe`: tcp, path and reflect. Sockets live here and in mss-net; the path
//! search is the pure state machine `mss_rules::plpmtud`.

mod hops;
mod path;
mod probes;
mod reflect;
mod tcp;

use std::io::Write;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use mss_wire::IpVersion;
use mss_wire::ipv4;
use mss_wire::syn::SynDescription;
use serde_json::{Value, json};

use crate::Failure;
use crate::cli::{ProbeCommand, ProbeFamily};

pub(crate) fn run(command: &ProbeCommand, out: &mut impl Write) -> Result<ExitCode, Failure> {
    match command {
        ProbeCommand::Tcp(args) => tcp::run(args, out),
        ProbeCommand::Path(args) => path::run(args, out),
        ProbeCommand::Reflect(args) => reflect::run(args, out),
        ProbeCommand::Hops(args) => hops::run(args, out),
    }
}

/// The address family `-4` / `-6` ask for: `Some(true)` IPv6, `Some(false)` IPv4.
fn wanted_family(family: &ProbeFamily) -> Option<bool> {
    if family.ipv6 {
        Some(true)
    } else if family.ipv4 {
        Some(false)
    } else {
        None
    }
}

/// `HOST:PORT`, `[ADDR]:PORT`, `[ADDR]`, `HOST` or a bare IPv6 address, split into
/// the host and the port if one was given. `what` names the form in messages.
fn split_target<'a>(target: &'a str, what: &str) -> Result<(&'a str, Option<u16>), Failure> {
    let (host, port) = if let Some(rest) = target.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(Failure::Input(format!(
                "\"{target}\": no closing ']'; give {what}"
            )));
        };
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => {
                    return Err(Failure::Input(format!(
                        "\"{target}\": expected ':PORT' after ']'; give {what}"
                    )));
                }
            },
        }
    } else {
        match target.split_once(':') {
            // One colon: HOST:PORT. More: a bare IPv6 address.
            Some((host, port)) if !port.contains(':') => (host, Some(port)),
            _ => (target, None),
        }
    };
    if host.is_empty() {
        return Err(Failure::Input(format!(
            "\"{target}\": no host; give {what}"
        )));
    }
    let port = match port {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => {
                return Err(Failure::Input(format!(
                    "\"{target}\": port \"{text}\" is not a port number (1 to 65535); give {what}"
                )));
            }
        },
    };
    Ok((host, port))
}

/// Resolves `host` to one address with `port`, of the family `-4`/`-6` ask for
/// (`want_v6`), refusing an address literal of the other family. `what` names the
/// form the subcommand takes, for the messages.
fn resolve(
    host: &str,
    port: u16,
    want_v6: Option<bool>,
    what: &str,
) -> Result<SocketAddr, Failure> {
    let flag = |v6: bool| {
        if v6 {
            "-6 asks for IPv6"
        } else {
            "-4 asks for IPv4"
        }
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        if let Some(v6) = want_v6.filter(|&v6| v6 != ip.is_ipv6()) {
            return Err(Failure::Input(format!(
                "{host} is an {} address; {}",
                if ip.is_ipv6() { "IPv6" } else { "IPv4" },
                flag(v6)
            )));
        }
        return Ok(SocketAddr::new(ip, port));
    }
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Failure::Input(format!("cannot resolve \"{host}\": {e}; give {what}")))?
        .collect();
    let Some(first) = addrs.first() else {
        return Err(Failure::Input(format!(
            "\"{host}\" has no address; give {what}"
        )));
    };
    match want_v6 {
        None => Ok(*first),
        Some(v6) => addrs
            .iter()
            .find(|a| a.is_ipv6() == v6)
            .copied()
            .ok_or_else(|| {
                Failure::Input(format!(
                    "\"{host}\" has no {} address (only {}); {}",
                    if v6 { "IPv6" } else { "IPv4" },
                    first.ip(),
                    flag(v6)
                ))
            }),
    }
}

/// `HOST:PORT` (IPv6 `[ADDR]:PORT`) of `probe tcp` and `probe hops`, resolved.
fn resolve_host_port(target: &str, family: &ProbeFamily) -> Result<SocketAddr, Failure> {
    const WHAT: &str = "HOST:PORT (IPv6 as [ADDR]:PORT), e.g. 192.0.2.1:443";
    let (host, port) = split_target(target, WHAT)?;
    let Some(port) = port else {
        return Err(Failure::Input(format!(
            "\"{target}\" has no port; give {WHAT}"
        )));
    };
    resolve(host, port, wanted_family(family), WHAT)
}

/// Probe counts and other plurals: "1 probe", "2 probes".
fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A datagram from a raw socket, without its IP header: IPv4 raw sockets deliver
/// the header, IPv6 ones (and ICMPv6 ones) start after it. `None` for IPv4 bytes
/// that are no IPv4 header.
fn raw_transport(data: &[u8], v6: bool) -> Option<&[u8]> {
    if v6 {
        Some(data)
    } else {
        let header_len = ipv4::Packet::new_checked(data).ok()?.header_len();
        data.get(header_len..)
    }
}

/// What a SYN carried (TCP_SAVED_SYN's bytes, described by the wire crate), as
/// the `mss probe reflect` answer has it, minus the client's address.
pub(crate) fn syn_json(syn: &SynDescription) -> Value {
    json!({
        "ip_version": match syn.version {
            IpVersion::V4 => 4,
            IpVersion::V6 => 6,
        },
        "ttl": syn.ttl,
        "syn_mss": syn.mss,
        "window_scale": syn.window_scale,
        "sack_permitted": syn.sack_permitted,
        "timestamps": syn.timestamps,
        "option_kinds": syn.option_kinds(),
    })
}

/// How long a probe waits for a tentative IPv6 address to become usable: DAD
/// takes one neighbour solicitation and a second (RFC 4862, `dad_transmits` 1,
/// `retrans_time_ms` 1000), plus the delay before it starts.
const DAD_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens a socket toward `target` with `open` (which also says the source address
/// the kernel picked), waiting for a usable source. A fresh IPv6 address is
/// tentative until duplicate address detection ends (about a second, RFC 4862):
/// the kernel then picks no source of it, and probes would leave from ::1 and
/// never come back, or from the link-local address, which no router forwards (RFC
/// 4291 section 2.5.6: the first router answers "beyond scope of source
/// address"). The wait is said on standard error; each try opens a new socket (a
/// connected socket keeps the source it got).
fn with_usable_source<T>(
    target: SocketAddr,
    mut open: impl FnMut() -> Result<(T, IpAddr), Failure>,
) -> Result<(T, IpAddr), Failure> {
    use std::net::Ipv6Addr;
    use std::time::{Duration, Instant};
    let link_local = |a: &Ipv6Addr| (a.segments()[0] & 0xffc0) == 0xfe80;
    let unusable = |source: &IpAddr| match (source, target.ip()) {
        (IpAddr::V6(s), IpAddr::V6(t)) => {
            (s.is_loopback() && !t.is_loopback()) || (link_local(s) && !link_local(&t))
        }
        _ => false,
    };
    let (mut socket, mut source) = open()?;
    if !unusable(&source) {
        return Ok((socket, source));
    }
    let _ = writeln!(
        std::io::stderr(),
        "mss: no usable IPv6 source address toward {} yet (the kernel picked {source}; a \
         new address is tentative during duplicate address detection): waiting up to {} s",
        target.ip(),
        DAD_WAIT.as_secs()
    );
    let deadline = Instant::now() + DAD_WAIT;
    while unusable(&source) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        (socket, source) = open()?;
    }
    if unusable(&source) {
        return Err(Failure::Input(format!(
            "{}: no usable IPv6 source address after {} s (the kernel picks {source}, which \
             no router forwards): the address toward it is still tentative, duplicate \
             address detection failed (ip -6 addr shows \"tentative\" or \"dadfailed\"), \
             or this host has no global address on that interface",
            target.ip(),
            DAD_WAIT.as_secs()
        )));
    }
    Ok((socket, source))
}

#[cfg(test)]
mod tests {
    use super::syn_json;

    /// The reflector's answer, field for field and in order, as clients read it.
    #[test]
    fn describes_an_ipv4_syn() {
        let mut syn = vec![
            0x45, 0, 0, 52, 0, 0, 0x40, 0, 63, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        syn.extend([
            0x9c, 0x40, 0x1b, 0xfb, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
        ]);
        syn.extend([2, 4, 0x05, 0x50, 1, 3, 3, 7, 4, 2, 0, 0]);
        let d = mss_wire::syn::describe(&syn).expect("a SYN");
        assert_eq!(
            syn_json(&d).to_string(),
            r#"{"ip_version":4,"ttl":63,"syn_mss":1360,"window_scale":7,"sack_permitted":true,"timestamps":false,"option_kinds":[2,3,4]}"#
        );
    }
}
