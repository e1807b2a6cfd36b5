//! `mss probe`: tcp, path and reflect. Sockets live here and in mss-net; the path
//! search is the pure state machine `mss_rules::plpmtud`.

mod hops;
mod path;
mod reflect;
mod tcp;

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use mss_wire::tcp::{Packet, TcpOption};
use serde_json::{Value, json};

use crate::Failure;
use crate::cli::ProbeCommand;

pub(crate) fn run(command: &ProbeCommand, out: &mut impl Write) -> Result<ExitCode, Failure> {
    match command {
        ProbeCommand::Tcp(args) => tcp::run(args, out),
        ProbeCommand::Path(args) => path::run(args, out),
        ProbeCommand::Reflect(args) => reflect::run(args, out),
        ProbeCommand::Hops(args) => hops::run(args, out),
    }
}

/// Resolves `HOST:PORT` to its first address (of the preferred family if given).
fn resolve(target: &str, want_v6: Option<bool>) -> Result<SocketAddr, Failure> {
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| {
            Failure::Input(format!(
                "{target}: {e} (give HOST:PORT, IPv6 as [ADDR]:PORT)"
            ))
        })?
        .collect();
    addrs
        .iter()
        .find(|a| want_v6.is_none_or(|v6| a.is_ipv6() == v6))
        .or(addrs.first())
        .copied()
        .ok_or_else(|| Failure::Input(format!("{target}: no address")))
}

/// What a SYN carried, from its IP and TCP headers (TCP_SAVED_SYN's bytes): the
/// `mss probe reflect` answer, minus the client's address. `None` when the bytes
/// are not an IP packet with a TCP header.
pub(crate) fn describe_syn(bytes: &[u8]) -> Option<Value> {
    let (version, ttl, tcp_at) = match bytes.first()? >> 4 {
        4 => (4, *bytes.get(8)?, usize::from(bytes.first()? & 0x0f) * 4),
        6 => {
            let chain = mss_wire::ipv6::walk_extensions(*bytes.get(6)?, bytes.get(40..)?, 0);
            (6, *bytes.get(7)?, 40 + chain.offset)
        }
        _ => return None,
    };
    let segment = Packet::new_lax(bytes.get(tcp_at..)?).ok()?;
    let mut mss = None;
    let mut kinds = Vec::new();
    let (mut wscale, mut sack, mut ts) = (None, false, false);
    for item in segment.options() {
        match item.option {
            TcpOption::EndOfList | TcpOption::Nop => continue,
            TcpOption::Mss(v) => mss = Some(v),
            TcpOption::WindowScale(s) => wscale = Some(s),
            TcpOption::SackPermitted => sack = true,
            TcpOption::Timestamps { .. } => ts = true,
            _ => {}
        }
        kinds.push(bytes.get(tcp_at + 20 + item.offset).copied().unwrap_or(0));
    }
    Some(json!({
        "ip_version": version,
        "ttl": ttl,
        "syn_mss": mss,
        "window_scale": wscale,
        "sack_permitted": sack,
        "timestamps": ts,
        "option_kinds": kinds,
    }))
}

#[cfg(test)]
mod tests {
    use super::describe_syn;

    #[test]
    fn describes_an_ipv4_syn() {
        let mut syn = vec![
            0x45, 0, 0, 52, 0, 0, 0x40, 0, 63, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        syn.extend([
            0x9c, 0x40, 0x1b, 0xfb, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
        ]);
        syn.extend([2, 4, 0x05, 0x50, 1, 3, 3, 7, 4, 2, 0, 0]);
        let d = describe_syn(&syn).expect("a SYN");
        assert_eq!(d["syn_mss"], 1360);
        assert_eq!(d["ttl"], 63);
        assert_eq!(d["window_scale"], 7);
        assert_eq!(d["sack_permitted"], true);
        assert_eq!(d["option_kinds"], serde_json::json!([2, 3, 4]));
        assert!(describe_syn(&[0x45, 0]).is_none());
        assert!(describe_syn(&[]).is_none());
    }
}
