//! A minimal NFQUEUE client (nfnetlink_queue, include/uapi/linux/netfilter/
//! nfnetlink_queue.h): bind a queue, receive packets, give verdicts, in batches.
//!
//! Written here rather than with the `nfq` crate because the live clamp needs what
//! that crate hides: the socket (for SO_RCVBUFFORCE), the errno of a refused bind
//! (EPERM means "no CAP_NET_ADMIN" or "queue bound by another process"), socket
//! overruns (ENOBUFS), and verdicts for many packets in one `sendto`: nfnetlink
//! processes every message in a buffer (`netlink_rcv_skb()`), so a batch of
//! verdicts costs one system call instead of one each. All of it is safe code over
//! nix's netlink socket.
//!
//! Wire format: each message is an `nlmsghdr` (host byte order), an `nfgenmsg`
//! (family, version, queue number in network order) and attributes (`nlattr`:
//! length and type in host order, payload padded to 4 bytes, values mostly in
//! network order).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{
    self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, sockopt,
};

/// `NFNL_SUBSYS_QUEUE` (include/uapi/linux/netfilter/nfnetlink.h).
const SUBSYS_QUEUE: u16 = 3;
/// Message types within the subsystem.
const MSG_PACKET: u16 = 0;
const MSG_VERDICT: u16 = 1;
const MSG_CONFIG: u16 = 2;
/// `NLMSG_ERROR`, `NLMSG_DONE`, `NLMSG_OVERRUN`.
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_MIN_TYPE: u16 = 0x10;
/// `NLM_F_REQUEST`, `NLM_F_ACK`.
const F_REQUEST: u16 = 1;
const F_ACK: u16 = 4;
/// Header sizes.
const NLMSG_HDRLEN: usize = 16;
const NFGEN_HDRLEN: usize = 4;
const NLA_HDRLEN: usize = 4;
/// `nlattr` type bits that are flags, not the type.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// Config attributes (`enum nfqnl_attr_config`).
const CFG_CMD: u16 = 1;
const CFG_PARAMS: u16 = 2;
const CFG_QUEUE_MAXLEN: u16 = 3;
const CFG_MASK: u16 = 4;
const CFG_FLAGS: u16 = 5;
/// `NFQNL_CFG_CMD_BIND`, `NFQNL_CFG_CMD_UNBIND`.
const CMD_BIND: u8 = 1;
const CMD_UNBIND: u8 = 2;
/// `NFQNL_COPY_PACKET`.
const COPY_PACKET: u8 = 2;
/// `NFQA_CFG_F_FAIL_OPEN`: accept, rather than drop, what does not fit the queue.
const FLAG_FAIL_OPEN: u32 = 1;

/// Packet attributes (`enum nfqnl_attr_type`).
const ATTR_PACKET_HDR: u16 = 1;
const ATTR_VERDICT_HDR: u16 = 2;
const ATTR_PAYLOAD: u16 = 10;

/// Largest message the kernel sends: a full 64 KiB packet plus metadata.
const RECV_BUFFER: usize = 65_536 + 8192;

/// What happens to a queued packet (`NF_DROP`, `NF_ACCEPT`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Drop it.
    Drop,
    /// Let it go on (possibly changed).
    Accept,
}

impl Verdict {
    fn code(self) -> u32 {
        match self {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
        }
    }
}

/// One queued packet, borrowed from the receive buffer.
#[derive(Debug)]
pub struct Packet<'a> {
    /// The kernel's id, to give the verdict for.
    pub id: u32,
    /// The IP packet (as much as the copy range allowed).
    pub payload: &'a [u8],
}

/// What one receive returned.
#[derive(Debug)]
pub enum Received<'a> {
    /// A packet to give a verdict on.
    Packet(Packet<'a>),
    /// The socket's receive buffer ran full and the kernel could not deliver some
    /// packets (ENOBUFS): with fail-open they passed, otherwise they were dropped.
    Overrun,
    /// The kernel reported an error for an earlier request (errno).
    Error(i32),
    /// Nothing waiting (non-blocking receive only).
    Nothing,
}

/// An NFQUEUE netlink socket bound to one queue.
#[derive(Debug)]
pub struct Queue {
    fd: OwnedFd,
    queue: u16,
    recv: Vec<u8>,
    /// Verdicts not yet sent.
    batch: Vec<u8>,
    batched: usize,
    seq: u32,
    /// The verdict for packets that arrive while the queue is being set up.
    early_verdict: Verdict,
    /// How many did.
    early: u64,
}

fn message_type(msg: u16) -> u16 {
    (SUBSYS_QUEUE << 8) | msg
}

/// Appends an `nlattr` with `value`, padded to 4 bytes.
fn put_attr(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(NLA_HDRLEN + value.len()).unwrap_or(u16::MAX);
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// Starts a message: `nlmsghdr` (length patched by [`finish_message`]) and
/// `nfgenmsg` for `queue`.
fn start_message(buf: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, queue: u16) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&message_type(kind).to_ne_bytes());
    buf.extend_from_slice(&(F_REQUEST | flags).to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: AF_UNSPEC, NFNETLINK_V0, the queue number (network order).
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(&queue.to_be_bytes());
    start
}

fn finish_message(buf: &mut [u8], start: usize) {
    let len = u32::try_from(buf.len() - start).unwrap_or(u32::MAX);
    if let Some(field) = buf.get_mut(start..start + 4) {
        field.copy_from_slice(&len.to_ne_bytes());
    }
}

/// Appends a verdict message for packet `id`.
fn put_verdict(buf: &mut Vec<u8>, queue: u16, id: u32, verdict: Verdict, payload: Option<&[u8]>) {
    let start = start_message(buf, MSG_VERDICT, 0, 0, queue);
    // struct nfqnl_msg_verdict_hdr: verdict, id (network order).
    let mut header = [0u8; 8];
    header[..4].copy_from_slice(&verdict.code().to_be_bytes());
    header[4..].copy_from_slice(&id.to_be_bytes());
    put_attr(buf, ATTR_VERDICT_HDR, &header);
    if let Some(payload) = payload {
        put_attr(buf, ATTR_PAYLOAD, payload);
    }
    finish_message(buf, start);
}

fn u16_ne(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_ne(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// The attributes of a message body, as (type, value).
fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16_ne(data, 0)?);
        let kind = u16_ne(data, 2)? & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > data.len() {
            return None;
        }
        let value = data.get(NLA_HDRLEN..len)?;
        data = data.get(len.next_multiple_of(4).min(data.len())..)?;
        Some((kind, value))
    })
}

impl Queue {
    /// Opens a socket and binds `queue`: whole packets copied, `queue_maxlen`
    /// packets waiting at most, fail-open or not. A refused bind is EPERM both
    /// without CAP_NET_ADMIN and when another socket has the queue.
    pub fn bind(queue: u16, queue_maxlen: u32, fail_open: bool) -> io::Result<Queue> {
        let fd = socket::socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )?;
        socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        let mut queue = Queue {
            fd,
            queue,
            recv: vec![0u8; RECV_BUFFER],
            batch: Vec::with_capacity(64 << 10),
            batched: 0,
            seq: 0,
            early_verdict: if fail_open {
                Verdict::Accept
            } else {
                Verdict::Drop
            },
            early: 0,
        };
        // Bind, then the copy mode (whole packets: a changed packet replaces the
        // original, so all of it must be here), the queue length and the flags.
        queue.config(|buf| put_attr(buf, CFG_CMD, &[CMD_BIND, 0, 0, 0]))?;
        let mut params = 65_535u32.to_be_bytes().to_vec();
        params.push(COPY_PACKET);
        queue.config(|buf| put_attr(buf, CFG_PARAMS, &params))?;
        queue.config(|buf| put_attr(buf, CFG_QUEUE_MAXLEN, &queue_maxlen.to_be_bytes()))?;
        let flags = if fail_open { FLAG_FAIL_OPEN } else { 0 };
        queue.config(|buf| {
            put_attr(buf, CFG_FLAGS, &flags.to_be_bytes());
            put_attr(buf, CFG_MASK, &FLAG_FAIL_OPEN.to_be_bytes());
        })?;
        queue.flush()?;
        Ok(queue)
    }

    /// Packets that arrived while the queue was being set up (before whole
    /// packets were copied): accepted unclamped when fail-open, else dropped.
    pub fn early_packets(&self) -> u64 {
        self.early
    }

    /// Sends one config message and waits for its acknowledgement.
    fn config(&mut self, attrs: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut buf = Vec::with_capacity(64);
        let start = start_message(&mut buf, MSG_CONFIG, F_ACK, seq, self.queue);
        attrs(&mut buf);
        finish_message(&mut buf, start);
        self.send(&buf)?;
        loop {
            let n = socket::recv(self.fd.as_raw_fd(), &mut self.recv, MsgFlags::empty())?;
            let data = self.recv.get(..n).unwrap_or_default();
            let mut at = 0;
            while let Some(len) = u32_ne(data, at).and_then(|l| usize::try_from(l).ok()) {
                if len < NLMSG_HDRLEN || at + len > data.len() {
                    break;
                }
                let kind = u16_ne(data, at + 4).unwrap_or(0);
                let reply_to = u32_ne(data, at + 8).unwrap_or(0);
                if kind == message_type(MSG_PACKET) {
                    // Queued before the copy mode was set: not clamped, decided now.
                    let body = data.get(at + NLMSG_HDRLEN + NFGEN_HDRLEN..at + len);
                    let id = attributes(body.unwrap_or_default())
                        .find(|(attr, _)| *attr == ATTR_PACKET_HDR)
                        .and_then(|(_, v)| v.get(..4)?.try_into().ok())
                        .map(u32::from_be_bytes);
                    if let Some(id) = id {
                        self.early += 1;
                        put_verdict(&mut self.batch, self.queue, id, self.early_verdict, None);
                    }
                }
                if kind == NLMSG_ERROR && reply_to == seq {
                    let errno = u32_ne(data, at + NLMSG_HDRLEN)
                        .map(|e| i32::from_ne_bytes(e.to_ne_bytes()))
                        .unwrap_or(0);
                    return if errno == 0 {
                        Ok(())
                    } else {
                        Err(io::Error::from_raw_os_error(errno.saturating_neg()))
                    };
                }
                at += len.next_multiple_of(4);
            }
        }
    }

    fn send(&self, buf: &[u8]) -> io::Result<()> {
        socket::sendto(
            self.fd.as_raw_fd(),
            buf,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        Ok(())
    }

    /// Asks for a receive buffer of `bytes` (SO_RCVBUFFORCE, beyond
    /// net.core.rmem_max; needs CAP_NET_ADMIN, which binding a queue needs too).
    pub fn set_receive_buffer(&self, bytes: usize) -> io::Result<()> {
        socket::setsockopt(&self.fd, sockopt::RcvBufForce, &bytes)?;
        Ok(())
    }

    /// Receives the next message: blocking, or not (`wait` false).
    pub fn receive(&mut self, wait: bool) -> io::Result<Received<'_>> {
        let flags = if wait {
            MsgFlags::empty()
        } else {
            MsgFlags::MSG_DONTWAIT
        };
        let n = match socket::recv(self.fd.as_raw_fd(), &mut self.recv, flags) {
            Ok(n) => n,
            Err(nix::Error::ENOBUFS) => return Ok(Received::Overrun),
            Err(nix::Error::EAGAIN) if !wait => return Ok(Received::Nothing),
            Err(nix::Error::EINTR) => return Ok(Received::Nothing),
            Err(e) => return Err(e.into()),
        };
        let data = self.recv.get(..n).unwrap_or_default();
        // One packet per message; a message per receive (nfqnl_enqueue_packet()
        // unicasts each packet on its own).
        let Some(len) = u32_ne(data, 0).and_then(|l| usize::try_from(l).ok()) else {
            return Ok(Received::Nothing);
        };
        let kind = u16_ne(data, 4).unwrap_or(0);
        let body = data
            .get(NLMSG_HDRLEN..len.min(data.len()))
            .unwrap_or_default();
        if kind == NLMSG_ERROR {
            let errno = u32_ne(body, 0)
                .map(|e| i32::from_ne_bytes(e.to_ne_bytes()))
                .unwrap_or(0);
            return Ok(if errno == 0 {
                Received::Nothing
            } else {
                Received::Error(errno.saturating_neg())
            });
        }
        if kind == NLMSG_DONE || kind < NLMSG_MIN_TYPE || kind != message_type(MSG_PACKET) {
            return Ok(Received::Nothing);
        }
        let mut id = None;
        let mut payload: &[u8] = &[];
        for (attr, value) in attributes(body.get(NFGEN_HDRLEN..).unwrap_or_default()) {
            match attr {
                // struct nfqnl_msg_packet_hdr: packet_id (network order), ...
                ATTR_PACKET_HDR => {
                    id = value
                        .get(..4)
                        .and_then(|b| b.try_into().ok())
                        .map(u32::from_be_bytes);
                }
                ATTR_PAYLOAD => payload = value,
                _ => {}
            }
        }
        Ok(match id {
            Some(id) => Received::Packet(Packet { id, payload }),
            None => Received::Nothing,
        })
    }

    /// Adds a verdict to the batch; `payload` replaces the packet's bytes.
    /// [`Queue::flush`] sends the batch (it flushes by itself when it grows large).
    pub fn verdict(&mut self, id: u32, verdict: Verdict, payload: Option<&[u8]>) -> io::Result<()> {
        put_verdict(&mut self.batch, self.queue, id, verdict, payload);
        self.batched += 1;
        if self.batch.len() >= 48 << 10 {
            self.flush()?;
        }
        Ok(())
    }

    /// Verdicts waiting in the batch.
    pub fn pending(&self) -> usize {
        self.batched
    }

    /// Sends the batched verdicts in one system call.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let result = self.send(&self.batch);
        self.batch.clear();
        self.batched = 0;
        result
    }

    /// Unbinds the queue (the kernel also does when the socket closes).
    pub fn unbind(mut self) -> io::Result<()> {
        self.flush()?;
        self.config(|buf| put_attr(buf, CFG_CMD, &[CMD_UNBIND, 0, 0, 0]))
    }
}

impl AsFd for Queue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// One line of /proc/net/netfilter/nfnetlink_queue (`seq_show()` in
/// net/netfilter/nfnetlink_queue.c).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Queue number.
    pub queue: u16,
    /// Netlink port id of the socket bound to it.
    pub peer_portid: u32,
    /// Packets waiting for a verdict now.
    pub waiting: u64,
    /// Packets dropped because the queue was full (without fail-open).
    pub dropped: u64,
    /// Packets dropped because the socket could not take them (without fail-open).
    pub user_dropped: u64,
    /// The last packet id handed out.
    pub id_sequence: u64,
}

/// Parses /proc/net/netfilter/nfnetlink_queue.
pub fn parse_queue_stats(text: &str) -> Vec<QueueStats> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
            Some(QueueStats {
                queue: f.first()?.parse().ok()?,
                peer_portid: f.get(1)?.parse().ok()?,
                waiting: n(2)?,
                dropped: n(5)?,
                user_dropped: n(6)?,
                id_sequence: n(7)?,
            })
        })
        .collect()
}

/// The queues bound now, from /proc/net/netfilter/nfnetlink_queue (empty when
/// the module is not loaded).
pub fn queue_stats() -> Vec<QueueStats> {
    std::fs::read_to_string("/proc/net/netfilter/nfnetlink_queue")
        .map(|text| parse_queue_stats(&text))
        .unwrap_or_default()
}

/// The process that owns the netlink socket with `portid` (NETLINK_NETFILTER), as
/// (pid, command name): from /proc/net/netlink's inode, then the process whose
/// descriptors include that socket.
pub fn netlink_owner(portid: u32) -> Option<(u32, String)> {
    let table = std::fs::read_to_string("/proc/net/netlink").ok()?;
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    let inode = table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let protocol = f.get(1)?.parse::<u32>().ok()?;
        let pid = f.get(2)?.parse::<u32>().ok()?;
        (protocol == 12 && pid == portid).then(|| f.get(9).map(|s| (*s).to_string()))?
    })?;
    let wanted = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str()) {
                let comm = std::fs::read_to_string(entry.path().join("comm"))
                    .map(|c| c.trim().to_string())
                    .unwrap_or_default();
                return Some((pid, comm));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_queue_lines_parse() {
        let text = "    7  12345     3 2 65535     5     6       99  1\n\
                    8 0 0 2 65535 0 0 0 1\n\
                    garbage\n";
        let stats = parse_queue_stats(text);
        assert_eq!(stats.len(), 2);
        assert_eq!(
            stats[0],
            QueueStats {
                queue: 7,
                peer_portid: 12345,
                waiting: 3,
                dropped: 5,
                user_dropped: 6,
                id_sequence: 99
            }
        );
    }

    #[test]
    fn attributes_walk_stops_at_bad_lengths() {
        let mut buf = Vec::new();
        put_attr(&mut buf, ATTR_PACKET_HDR, &[0, 0, 0, 9, 8, 0, 1]);
        put_attr(&mut buf, ATTR_PAYLOAD, b"abcde");
        let found: Vec<(u16, Vec<u8>)> = attributes(&buf).map(|(k, v)| (k, v.to_vec())).collect();
        assert_eq!(
            found,
            [
                (ATTR_PACKET_HDR, vec![0, 0, 0, 9, 8, 0, 1]),
                (ATTR_PAYLOAD, b"abcde".to_vec())
            ]
        );
        // A length below the header, or past the end, ends the walk.
        assert_eq!(attributes(&[2, 0, 1, 0]).count(), 0);
        assert_eq!(attributes(&[200, 0, 1, 0, 0]).count(), 0);
        assert_eq!(attributes(&[]).count(), 0);
    }

    #[test]
    fn verdict_messages_are_laid_out_as_the_kernel_reads_them() {
        let mut buf = Vec::new();
        let start = start_message(&mut buf, MSG_VERDICT, 0, 0, 7);
        put_attr(&mut buf, ATTR_VERDICT_HDR, &[0, 0, 0, 1, 0, 0, 0, 42]);
        put_attr(&mut buf, ATTR_PAYLOAD, &[0x45, 0, 0]);
        finish_message(&mut buf, start);
        assert_eq!(u32_ne(&buf, 0), Some(u32::try_from(buf.len()).unwrap_or(0)));
        assert_eq!(u16_ne(&buf, 4), Some(0x0301));
        assert_eq!(&buf[16..20], &[0, 0, 0, 7]);
        assert_eq!(buf.len() % 4, 0);
    }
}
