//! What a run observed: each connection as the kernels saw it, and what `mss
//! analyze` found in the captures. [`crate::run`] and the binary supply them;
//! [`crate::expect`] judges them.

use std::collections::HashMap;

use mss_analyze::record::ConnectionRecord;
use mss_analyze::report::Role;

use crate::spec::{Family, Place};

/// The TCP_INFO fields the lab reports (`struct tcp_info`), each `None` where the
/// kernel says 0, as `ss -ti` leaves such a field out.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TcpInfo {
    /// `tcpi_snd_mss` (`mss:` in `ss -ti`).
    pub snd_mss: Option<u32>,
    /// `tcpi_rcv_mss` (`rcvmss:`).
    pub rcv_mss: Option<u32>,
    /// `tcpi_advmss` (`advmss:`).
    pub advmss: Option<u32>,
    /// `tcpi_pmtu` (`pmtu:`).
    pub pmtu: Option<u32>,
    /// `tcpi_rtt`, the smoothed RTT, in milliseconds (`rtt:`).
    pub rtt_ms: Option<f64>,
}

impl From<mss_net::TcpInfo> for TcpInfo {
    fn from(info: mss_net::TcpInfo) -> TcpInfo {
        let given = |value: u32| (value != 0).then_some(value);
        TcpInfo {
            snd_mss: given(info.snd_mss),
            rcv_mss: given(info.rcv_mss),
            advmss: given(info.advmss),
            pmtu: given(info.pmtu),
            rtt_ms: given(info.rtt_us).map(|us| f64::from(us) / 1000.0),
        }
    }
}

/// What one socket reported.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SocketView {
    /// `getsockopt(TCP_MAXSEG)` right after connect / accept.
    pub maxseg_start: u32,
    /// `getsockopt(TCP_MAXSEG)` at the end.
    pub maxseg_end: u32,
    /// `getsockopt(TCP_INFO)` at the end, unless the kernel refused it. Read from
    /// the socket itself, so it is there also when the peer reset the connection
    /// (a stalled one), which `ss` no longer lists.
    pub info: Option<TcpInfo>,
}

/// One connection of the traffic, as the kernels saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Its family.
    pub family: Family,
    /// Client's port.
    pub client_port: u16,
    /// Server's port.
    pub server_port: u16,
    /// Client address.
    pub client_addr: String,
    /// Server address.
    pub server_addr: String,
    /// Whether all data got through in time.
    pub completed: bool,
    /// The client's socket.
    pub client: SocketView,
    /// The server's socket.
    pub server: SocketView,
}

/// The connections `mss analyze` found in one analysis: of one capture point
/// (`NODE-IFACE`) or of `all` of them together.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// One capture point, or all together.
    pub at: Place,
    /// Its connections, as `mss analyze --json` records them (docs/json.md).
    pub records: Vec<ConnectionRecord>,
    /// TCP checksums verified in this capture: (right, wrong); `None` for `all`.
    pub checksums: Option<(u64, u64)>,
    /// The first record of each (IP version, client port, server port), so that
    /// finding a connection's record stays cheap with many thousands.
    index: HashMap<(u8, u16, u16), usize>,
}

impl Analysis {
    /// An analysis of `records`, indexed by IP version and ports.
    pub fn new(at: Place, records: Vec<ConnectionRecord>, checksums: Option<(u64, u64)>) -> Self {
        let mut index = HashMap::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            index
                .entry((r.ip_version, r.client.port, r.server.port))
                .or_insert(i);
        }
        Analysis {
            at,
            records,
            checksums,
            index,
        }
    }

    /// The record of a connection, matched by ports and IP version (the first, if
    /// a four-tuple was used twice; the lab's own traffic never reuses one).
    pub fn record(&self, connection: &Connection) -> Option<&ConnectionRecord> {
        let version = match connection.family {
            Family::Ipv4 => 4,
            Family::Ipv6 => 6,
        };
        self.index
            .get(&(version, connection.client_port, connection.server_port))
            .map(|&i| &self.records[i])
    }
}

impl Connection {
    /// The socket of one end.
    pub fn socket(&self, role: Role) -> &SocketView {
        match role {
            Role::Client => &self.client,
            Role::Server => &self.server,
        }
    }
}
