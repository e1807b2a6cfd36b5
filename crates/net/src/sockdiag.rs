//! Every TCP socket of this network namespace, with its TCP_INFO, through
//! NETLINK_SOCK_DIAG (`inet_diag`, what `ss` uses): no root needed, and no
//! socket of its own to open.

use std::io;
use std::net::{IpAddr, SocketAddr};

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, SocketId, StateFlags, nlas::Nla,
};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

use crate::TcpInfo;

/// One TCP socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSocket {
    /// Its own address.
    pub local: SocketAddr,
    /// The peer's (unspecified for a listening socket).
    pub peer: SocketAddr,
    /// TCP state, as `tcpi_state` numbers it (1 ESTABLISHED ... 10 LISTEN, 12
    /// NEW_SYN_RECV).
    pub state: u8,
    /// Its owner's user id.
    pub uid: u32,
    /// Its inode (0 for sockets not yet accepted, and TIME_WAIT).
    pub inode: u32,
    /// TCP_INFO, when the kernel gave it (not for TIME_WAIT or request sockets).
    pub info: Option<TcpInfo>,
}

/// The name of a TCP state, as `ss` writes it.
pub fn state_name(state: u8) -> &'static str {
    match state {
        1 => "established",
        2 => "syn-sent",
        3 => "syn-recv",
        4 => "fin-wait-1",
        5 => "fin-wait-2",
        6 => "time-wait",
        7 => "close",
        8 => "close-wait",
        9 => "last-ack",
        10 => "listen",
        11 => "closing",
        12 => "syn-recv",
        _ => "unknown",
    }
}

/// Every TCP socket of both families in the calling thread's network namespace.
pub fn tcp_sockets() -> io::Result<Vec<TcpSocket>> {
    let mut all = dump(AF_INET)?;
    all.extend(dump(AF_INET6)?);
    Ok(all)
}

/// The sockets of one family.
fn dump(family: u8) -> io::Result<Vec<TcpSocket>> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut request = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::INFO,
            states: StateFlags::all(),
            socket_id: if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            },
        })
        .into(),
    );
    request.finalize();
    let mut out = vec![0; request.buffer_len()];
    request.serialize(&mut out);
    socket.send(&out, 0)?;
    let mut sockets = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let size = socket.recv(&mut &mut buf[..], 0)?;
        let mut at = 0;
        while at < size {
            let bytes = buf.get(at..size).unwrap_or_default();
            let message = NetlinkMessage::<SockDiagMessage>::deserialize(bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let length = usize::try_from(message.header.length).unwrap_or(0);
            match message.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                    let id = &response.header.socket_id;
                    let info = response.nlas.iter().find_map(|nla| match nla {
                        Nla::TcpInfo(bytes) => Some(TcpInfo::from_bytes(bytes)),
                        _ => None,
                    });
                    sockets.push(TcpSocket {
                        local: SocketAddr::new(unmapped(id.source_address), id.source_port),
                        peer: SocketAddr::new(
                            unmapped(id.destination_address),
                            id.destination_port,
                        ),
                        state: response.header.state,
                        uid: response.header.uid,
                        inode: response.header.inode,
                        info,
                    });
                }
                NetlinkPayload::Done(_) => return Ok(sockets),
                NetlinkPayload::Error(e) => {
                    return Err(io::Error::other(format!("sock_diag: {e}")));
                }
                _ => {}
            }
            if length == 0 {
                break;
            }
            at += length;
        }
    }
}

/// The address itself, for an IPv4-mapped IPv6 one (`::ffff:10.0.0.1`).
fn unmapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// A loopback connection: sock_diag's TCP_INFO of both ends equals what
    /// getsockopt says of the same sockets.
    #[test]
    fn sock_diag_agrees_with_getsockopt() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let to = listener.local_addr().expect("address");
        let client = TcpStream::connect(to).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let sockets = tcp_sockets().expect("sock_diag");
        for stream in [&client, &server] {
            let local = stream.local_addr().expect("local");
            let peer = stream.peer_addr().expect("peer");
            let found = sockets
                .iter()
                .find(|s| s.local == local && s.peer == peer)
                .unwrap_or_else(|| panic!("{local} > {peer} not in {sockets:?}"));
            assert_eq!(found.state, 1, "established");
            let diag = found.info.expect("TCP_INFO");
            let direct = crate::tcp_info(stream).expect("getsockopt");
            assert_eq!(
                (
                    diag.snd_mss,
                    diag.rcv_mss,
                    diag.advmss,
                    diag.pmtu,
                    diag.options
                ),
                (
                    direct.snd_mss,
                    direct.rcv_mss,
                    direct.advmss,
                    direct.pmtu,
                    direct.options
                )
            );
            assert!(diag.pmtu >= 1280, "{diag:?}");
        }
        let listening = sockets
            .iter()
            .find(|s| s.local == to && s.state == 10)
            .expect("the listener");
        assert_eq!(state_name(listening.state), "listen");
    }
}
