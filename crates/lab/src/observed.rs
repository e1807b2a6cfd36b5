//! What a run observed: each connection as the kernels saw it, and what `mss
//! analyze` found in the captures. [`crate::run`] and the binary supply them;
//! [`crate::expect`] judges them.

use mss_analyze::record::ConnectionRecord;
use mss_analyze::report::Role;

use crate::spec::{Family, Place};

/// TCP_INFO fields as `ss -ti` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TcpInfo {
    /// `mss:` (tcpi_snd_mss).
    pub snd_mss: Option<u32>,
    /// `rcvmss:` (tcpi_rcv_mss).
    pub rcv_mss: Option<u32>,
    /// `advmss:` (tcpi_advmss).
    pub advmss: Option<u32>,
    /// `pmtu:` (tcpi_pmtu).
    pub pmtu: Option<u32>,
    /// `rtt:` smoothed RTT in milliseconds.
    pub rtt_ms: Option<f64>,
}

impl TcpInfo {
    /// Reads the fields from `ss -tin` output (the first socket in it: its state
    /// line and the indented lines after it).
    pub fn from_ss(text: &str) -> TcpInfo {
        let mut info = TcpInfo::default();
        let first: Vec<&str> = text
            .lines()
            .enumerate()
            .take_while(|(i, line)| *i == 0 || line.starts_with(char::is_whitespace))
            .map(|(_, line)| line)
            .collect();
        for word in first.iter().flat_map(|line| line.split_whitespace()) {
            let Some((key, value)) = word.split_once(':') else {
                continue;
            };
            let number = || value.parse::<u32>().ok();
            match key {
                "mss" if info.snd_mss.is_none() => info.snd_mss = number(),
                "rcvmss" if info.rcv_mss.is_none() => info.rcv_mss = number(),
                "advmss" if info.advmss.is_none() => info.advmss = number(),
                "pmtu" if info.pmtu.is_none() => info.pmtu = number(),
                "rtt" if info.rtt_ms.is_none() => {
                    info.rtt_ms = value.split('/').next().and_then(|v| v.parse().ok());
                }
                _ => {}
            }
        }
        info
    }
}

/// What one socket reported.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SocketView {
    /// `getsockopt(TCP_MAXSEG)` right after connect / accept.
    pub maxseg_start: u32,
    /// `getsockopt(TCP_MAXSEG)` at the end.
    pub maxseg_end: u32,
    /// TCP_INFO at the end, when `ss` found the socket.
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
}

impl Analysis {
    /// The record of a connection, matched by ports and IP version.
    pub fn record(&self, connection: &Connection) -> Option<&ConnectionRecord> {
        let version = match connection.family {
            Family::Ipv4 => 4,
            Family::Ipv6 => 6,
        };
        self.records.iter().find(|r| {
            r.ip_version == version
                && r.client.port == connection.client_port
                && r.server.port == connection.server_port
        })
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
