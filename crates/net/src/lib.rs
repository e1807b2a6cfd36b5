//! The Linux socket options mss needs that nix does not wrap (TCP_INFO,
//! TCP_SAVE_SYN / TCP_SAVED_SYN, IP_MTU_DISCOVER / IPV6_MTU_DISCOVER and IPV6_MTU),
//! and an NFQUEUE client ([`nfqueue`], safe code over nix's netlink socket).
//! The only crate of mss with `unsafe`: each block is one `getsockopt` or
//! `setsockopt` call on a borrowed, open descriptor with a buffer of the size
//! passed, and says so.
//!
//! Written by hand: nix (0.32) and socket2 wrap none of these on Linux.

#![deny(missing_docs)]

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use nix::libc;

pub mod ethtool;
pub mod nfqueue;
pub mod pcap;
pub mod route;
pub mod sockdiag;

/// The TCP_INFO fields mss reports (`struct tcp_info`, include/uapi/linux/tcp.h).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// `tcpi_state` (1 = ESTABLISHED).
    pub state: u8,
    /// `tcpi_options`: TCPI_OPT_TIMESTAMPS (1), SACK (2), WSCALE (4), ECN (8).
    pub options: u8,
    /// `tcpi_snd_mss`: the MSS the socket sends with now (options excluded).
    pub snd_mss: u32,
    /// `tcpi_rcv_mss`: the kernel's estimate of the peer's send MSS.
    pub rcv_mss: u32,
    /// `tcpi_advmss`: the MSS this socket advertised in its SYN.
    pub advmss: u32,
    /// `tcpi_pmtu`: the path MTU the socket uses.
    pub pmtu: u32,
    /// `tcpi_rtt`: smoothed round-trip time, microseconds.
    pub rtt_us: u32,
    /// `tcpi_rttvar`: its variation, microseconds.
    pub rttvar_us: u32,
    /// `tcpi_total_retrans`.
    pub total_retrans: u32,
    /// `tcpi_snd_wnd` (Linux 5.4+; 0 before): the peer's receive window now, in
    /// bytes (scaled). Linux sends at most half the largest window the peer has
    /// advertised (`tcp_bound_to_half_wnd()`), which can keep the send MSS below
    /// what the MTU allows.
    pub snd_wnd: u32,
}

/// `getsockopt(fd, level, name)` into `value`; returns the length the kernel wrote.
fn get<T>(
    fd: impl AsFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &mut T,
) -> io::Result<usize> {
    let mut len = libc::socklen_t::try_from(size_of::<T>()).unwrap_or(0);
    #[allow(unsafe_code)]
    // SAFETY: the descriptor is borrowed (open for the call); `value` is a valid,
    // writable `T` of `len` bytes, and the kernel writes at most `len` bytes and
    // updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            (value as *mut T).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(usize::try_from(len).unwrap_or(0))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `getsockopt` into a byte buffer; returns the bytes the kernel wrote.
fn get_bytes(
    fd: impl AsFd,
    level: libc::c_int,
    name: libc::c_int,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut len = libc::socklen_t::try_from(buf.len()).unwrap_or(0);
    #[allow(unsafe_code)]
    // SAFETY: as in `get`: `buf` is writable for `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            buf.as_mut_ptr().cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(usize::try_from(len).unwrap_or(0).min(buf.len()))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `setsockopt(fd, level, name, &int)`.
fn set_int(
    fd: impl AsFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(size_of::<libc::c_int>()).unwrap_or(0);
    #[allow(unsafe_code)]
    // SAFETY: the descriptor is borrowed; `value` lives for the call and is `len`
    // bytes long; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast::<libc::c_void>(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// TCP_INFO of a TCP socket.
pub fn tcp_info(fd: impl AsFd) -> io::Result<TcpInfo> {
    // SAFETY of the zeroed value: `tcp_info` is plain integers, all-zero is valid.
    let mut raw: libc::tcp_info = zeroed_tcp_info();
    get(fd, libc::IPPROTO_TCP, libc::TCP_INFO, &mut raw)?;
    Ok(TcpInfo {
        state: raw.tcpi_state,
        options: raw.tcpi_options,
        snd_mss: raw.tcpi_snd_mss,
        rcv_mss: raw.tcpi_rcv_mss,
        advmss: raw.tcpi_advmss,
        pmtu: raw.tcpi_pmtu,
        rtt_us: raw.tcpi_rtt,
        rttvar_us: raw.tcpi_rttvar,
        total_retrans: raw.tcpi_total_retrans,
        snd_wnd: raw.tcpi_snd_wnd,
    })
}

impl TcpInfo {
    /// The fields of a `struct tcp_info` as the kernel wrote it (sock_diag's
    /// INET_DIAG_INFO attribute): fields beyond `bytes` (an older kernel's shorter
    /// struct) are 0.
    pub fn from_bytes(bytes: &[u8]) -> TcpInfo {
        let u8_at = |offset: usize| bytes.get(offset).copied().unwrap_or(0);
        let u32_at = |offset: usize| {
            bytes
                .get(offset..offset + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, u32::from_ne_bytes)
        };
        use std::mem::offset_of;
        type T = libc::tcp_info;
        TcpInfo {
            state: u8_at(offset_of!(T, tcpi_state)),
            options: u8_at(offset_of!(T, tcpi_options)),
            snd_mss: u32_at(offset_of!(T, tcpi_snd_mss)),
            rcv_mss: u32_at(offset_of!(T, tcpi_rcv_mss)),
            advmss: u32_at(offset_of!(T, tcpi_advmss)),
            pmtu: u32_at(offset_of!(T, tcpi_pmtu)),
            rtt_us: u32_at(offset_of!(T, tcpi_rtt)),
            rttvar_us: u32_at(offset_of!(T, tcpi_rttvar)),
            total_retrans: u32_at(offset_of!(T, tcpi_total_retrans)),
            snd_wnd: u32_at(offset_of!(T, tcpi_snd_wnd)),
        }
    }
}

fn zeroed_tcp_info() -> libc::tcp_info {
    #[allow(unsafe_code)]
    // SAFETY: `tcp_info` is a C struct of integers only; the all-zero bit
    // pattern is a valid value of it.
    unsafe {
        std::mem::zeroed()
    }
}

/// Makes a listening socket keep each incoming SYN's IP and TCP headers
/// (TCP_SAVE_SYN, Linux 4.2+), for [`saved_syn`] on the accepted socket.
pub fn set_save_syn(fd: impl AsFd) -> io::Result<()> {
    set_int(fd, libc::IPPROTO_TCP, libc::TCP_SAVE_SYN, 1)
}

/// The SYN an accepted socket was opened by (its IP and TCP headers, options
/// included), as it arrived; once per socket (TCP_SAVED_SYN).
pub fn saved_syn(fd: impl AsFd) -> io::Result<Vec<u8>> {
    // IPv6 with extension headers (up to a few hundred bytes) plus 60 of TCP.
    let mut buf = vec![0u8; 1024];
    let len = get_bytes(fd, libc::IPPROTO_TCP, libc::TCP_SAVED_SYN, &mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

/// Caps the rate a TCP socket sends at, in bytes per second (SO_MAX_PACING_RATE,
/// Linux 3.13+; paced by the fq qdisc or, since Linux 4.13, by TCP itself). Rates
/// above `i32::MAX` are capped there.
pub fn set_max_pacing_rate(fd: impl AsFd, bytes_per_second: u64) -> io::Result<()> {
    let rate = libc::c_int::try_from(bytes_per_second).unwrap_or(libc::c_int::MAX);
    set_int(fd, libc::SOL_SOCKET, libc::SO_MAX_PACING_RATE, rate)
}

/// IP_MTU_DISCOVER / IPV6_MTU_DISCOVER = PMTUDISC_PROBE: DF set, the cached path
/// MTU ignored, so probes of any size up to the interface MTU go out (tracepath's
/// mode).
pub fn set_pmtu_probe(fd: impl AsFd, ipv6: bool) -> io::Result<()> {
    if ipv6 {
        set_int(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_PROBE,
        )
    } else {
        set_int(
            fd,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_PROBE,
        )
    }
}

/// The path MTU the kernel has for a connected socket's destination (IP_MTU /
/// IPV6_MTU).
pub fn path_mtu(fd: impl AsFd, ipv6: bool) -> io::Result<u32> {
    let mut value: libc::c_int = 0;
    if ipv6 {
        get(fd, libc::IPPROTO_IPV6, libc::IPV6_MTU, &mut value)?;
    } else {
        get(fd, libc::IPPROTO_IP, libc::IP_MTU, &mut value)?;
    }
    Ok(u32::try_from(value).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn loopback_tcp_info_and_saved_syn() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        set_save_syn(&listener).expect("TCP_SAVE_SYN");
        let addr = listener.local_addr().expect("addr");
        let mut client = TcpStream::connect(addr).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        client.write_all(b"x").expect("write");
        let mut byte = [0u8; 1];
        server.read_exact(&mut byte).expect("read");
        let info = tcp_info(&client).expect("TCP_INFO");
        assert_eq!(info.state, 1, "established");
        assert!(
            info.snd_mss > 0 && info.advmss > 0 && info.pmtu >= 1280,
            "{info:?}"
        );
        let syn = saved_syn(&server).expect("TCP_SAVED_SYN");
        // IPv4 header then a TCP header with SYN set and options.
        assert_eq!(syn[0] >> 4, 4);
        let ihl = usize::from(syn[0] & 0x0f) * 4;
        assert_eq!(syn[ihl + 13] & 0x02, 0x02, "SYN flag");
        assert!(syn.len() > ihl + 20, "options saved");
        // Once per socket.
        assert!(saved_syn(&server).map(|s| s.is_empty()).unwrap_or(true));
    }

    #[test]
    fn udp_probe_mode_and_path_mtu() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.connect("127.0.0.1:9").expect("connect");
        set_pmtu_probe(&socket, false).expect("IP_MTU_DISCOVER");
        let mtu = path_mtu(&socket, false).expect("IP_MTU");
        assert!(mtu >= 1280, "loopback MTU {mtu}");
    }
}
