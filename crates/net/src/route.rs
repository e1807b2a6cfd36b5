//! The host state that decides a TCP MSS, read through rtnetlink (NETLINK_ROUTE)
//! in the calling thread's network namespace: the interfaces and their MTUs, the
//! routes that set an MTU or an advertised MSS, and the path MTUs the kernel has
//! learned from ICMP (what `ip link`, `ip route show table all` and `ip route show
//! cache` print).
//!
//! Synchronous: one netlink socket per dump, read in the calling thread. The
//! requests are built and the attributes parsed by netlink-packet-route; each
//! attribute is parsed on its own, so one the crate cannot parse (a newer kernel's
//! link data, say) costs that attribute, not the interface or the route.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use netlink_packet_core::{
    Emitable, ErrorBuffer, ErrorMessage, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR,
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NlaBuffer, NlasIterator, Parseable,
    ParseableParametrized, parse_string,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkHeader, LinkInfo, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteLwEnCapType, RouteMessage,
    RouteMetric,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};
use nix::libc;

/// A network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Its interface index.
    pub index: u32,
    /// Its name (IFLA_IFNAME).
    pub name: String,
    /// Its MTU (IFLA_MTU).
    pub mtu: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Operational state as `ip link` names it: "UP", "DOWN", "UNKNOWN",
    /// "LOWERLAYERDOWN", ...
    pub oper_state: String,
    /// IFLA_INFO_KIND: "veth", "wireguard", "gre", "gretap", "ip6gre", "vxlan",
    /// "ipip", "sit", "ip6tnl", "xfrm", "vti", "dummy", "bridge", ... (None for
    /// physical NICs and lo).
    pub kind: Option<String>,
    /// IFLA_LINK: the interface it sits on (a tunnel's underlay device, a VLAN's
    /// parent), if any. For a veth end, its peer's index (which may be in another
    /// namespace).
    pub parent: Option<u32>,
    /// The link-layer type (ARPHRD_*, include/uapi/linux/if_arp.h): 1 Ethernet
    /// (veth too), 65534 none (tun, WireGuard), 772 loopback, ...
    pub link_type: u16,
}

/// A route with an MTU or advertised-MSS metric (others are not returned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// 4 or 6.
    pub family: u8,
    /// "default" or "10.1.0.0/16" or "fd00::/64" or a host address.
    pub destination: String,
    /// The next hop (RTA_GATEWAY); None for a multipath route.
    pub gateway: Option<IpAddr>,
    /// The output interface's name (RTA_OIF); None for a multipath route.
    pub device: Option<String>,
    /// Routing table number (254 main).
    pub table: u32,
    /// RTAX_MTU.
    pub mtu: Option<u32>,
    /// `mtu lock`: PMTU discovery will not lower it (RTAX_LOCK bit for RTAX_MTU).
    pub mtu_locked: bool,
    /// RTAX_ADVMSS: the MSS announced in SYNs sent over this route.
    pub advmss: Option<u32>,
}

/// A path MTU the kernel learned (what `ip route show cache` / `ip -6 route show
/// cache` lists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PmtuException {
    /// 4 or 6.
    pub family: u8,
    /// The host the path leads to.
    pub destination: IpAddr,
    /// The next hop, if the path has one.
    pub gateway: Option<IpAddr>,
    /// The output interface's name.
    pub device: Option<String>,
    /// The learned path MTU.
    pub mtu: u32,
    /// Seconds until it expires, if the kernel says (RTA_CACHEINFO's
    /// `rta_expires`, which the kernel gives in clock ticks, USER_HZ, 100 a
    /// second: converted here as `ip` does, "expires 598sec").
    pub expires_s: Option<u32>,
    /// The MTU is locked (a route's `mtu lock`, or a learned MTU below
    /// `min_pmtu`).
    pub mtu_locked: bool,
}

/// RTAX_MTU (include/uapi/linux/rtnetlink.h): the bit `1 << RTAX_MTU` of
/// RTAX_LOCK says the MTU is locked.
const RTAX_MTU: u32 = 2;
/// IFLA_LINKINFO and, nested in it, IFLA_INFO_KIND (include/uapi/linux/if_link.h).
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;

/// Every interface of the calling thread's network namespace.
pub fn links() -> io::Result<Vec<Link>> {
    let request = RouteNetlinkMessage::GetLink(LinkMessage::default());
    let header_len = LinkHeader::default().buffer_len();
    let mut links = Vec::new();
    dump(request, |message_type, payload| {
        if message_type != libc::RTM_NEWLINK {
            return;
        }
        let Ok(header) = LinkHeader::parse(payload) else {
            return;
        };
        let mut link = Link {
            index: header.index,
            name: String::new(),
            mtu: 0,
            up: header.flags.contains(LinkFlags::Up),
            oper_state: "UNKNOWN".to_string(),
            kind: None,
            parent: None,
            link_type: u16::from(header.link_layer_type),
        };
        for nla in NlasIterator::new(payload.get(header_len..).unwrap_or_default()).flatten() {
            match LinkAttribute::parse_with_param(&nla, header.interface_family) {
                Ok(LinkAttribute::IfName(name)) => link.name = name,
                Ok(LinkAttribute::Mtu(mtu)) => link.mtu = mtu,
                Ok(LinkAttribute::Link(parent)) => link.parent = Some(parent),
                Ok(LinkAttribute::OperState(state)) => link.oper_state = state.to_string(),
                Ok(LinkAttribute::LinkInfo(infos)) => {
                    link.kind = infos.iter().find_map(|info| match info {
                        LinkInfo::Kind(kind) => Some(kind.to_string()),
                        _ => None,
                    });
                }
                // Data of a kind this crate parses wrongly or not yet: the kind
                // itself is a plain string nested in IFLA_LINKINFO.
                Err(_) if nla.kind() == IFLA_LINKINFO => link.kind = info_kind(&nla),
                _ => {}
            }
        }
        links.push(link);
    })?;
    Ok(links)
}

/// IFLA_INFO_KIND inside an IFLA_LINKINFO attribute.
fn info_kind(linkinfo: &NlaBuffer<&[u8]>) -> Option<String> {
    NlasIterator::new(linkinfo.value())
        .flatten()
        .find(|nla| nla.kind() == IFLA_INFO_KIND)
        .and_then(|nla| parse_string(nla.value()).ok())
}

/// Routes of every table in both families that carry an MTU or advmss metric.
pub fn routes() -> io::Result<Vec<Route>> {
    let names = link_names()?;
    let mut routes = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        for entry in route_dump(family, false)? {
            if entry.cloned || (entry.mtu.is_none() && entry.advmss.is_none()) {
                continue;
            }
            let destination = match entry.destination {
                None if entry.prefix_length == 0 => "default".to_string(),
                None => format!("?/{}", entry.prefix_length),
                Some(address) if entry.prefix_length == full_length(address) => address.to_string(),
                Some(address) => format!("{address}/{}", entry.prefix_length),
            };
            routes.push(Route {
                family: entry.family,
                destination,
                gateway: entry.gateway,
                device: entry.oif.map(|index| name_of(&names, index)),
                table: entry.table,
                mtu: entry.mtu,
                mtu_locked: entry.mtu_locked,
                advmss: entry.advmss,
            });
        }
    }
    Ok(routes)
}

/// Learned PMTU exceptions of both families.
pub fn pmtu_exceptions() -> io::Result<Vec<PmtuException>> {
    let names = link_names()?;
    let ticks = clock_ticks_per_second();
    let mut exceptions = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        for entry in route_dump(family, true)? {
            // Exceptions that only record a redirect have no MTU.
            let (true, Some(destination), Some(mtu)) = (entry.cloned, entry.destination, entry.mtu)
            else {
                continue;
            };
            exceptions.push(PmtuException {
                family: entry.family,
                destination,
                gateway: entry.gateway,
                device: entry.oif.map(|index| name_of(&names, index)),
                mtu,
                expires_s: expires_seconds(entry.expires, ticks),
                mtu_locked: entry.mtu_locked,
            });
        }
    }
    Ok(exceptions)
}

/// `rta_expires` (clock ticks; negative once past, 0 for none) in whole
/// seconds, as `ip` prints it.
fn expires_seconds(expires: Option<u32>, ticks_per_second: u32) -> Option<u32> {
    let ticks = expires?;
    if ticks == 0 {
        return None;
    }
    // The kernel writes a signed long into the __u32: past expiries wrap.
    let ticks = i32::from_ne_bytes(ticks.to_ne_bytes());
    Some(u32::try_from(ticks / i32::try_from(ticks_per_second).unwrap_or(100)).unwrap_or(0))
}

/// USER_HZ, the unit of the kernel's `clock_t` values (100 on every Linux but
/// alpha); iproute2 asks sysconf the same way.
fn clock_ticks_per_second() -> u32 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|ticks| u32::try_from(ticks).ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

/// Interface names by index, for the routes' RTA_OIF.
fn link_names() -> io::Result<HashMap<u32, String>> {
    Ok(links()?
        .into_iter()
        .map(|link| (link.index, link.name))
        .collect())
}

/// An interface's name, or `if<index>` as `ip` writes one it cannot name.
fn name_of(names: &HashMap<u32, String>, index: u32) -> String {
    names
        .get(&index)
        .cloned()
        .unwrap_or_else(|| format!("if{index}"))
}

/// 32 or 128.
fn full_length(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// What mss needs of one RTM_NEWROUTE.
#[derive(Debug, Default)]
struct RouteEntry {
    family: u8,
    prefix_length: u8,
    destination: Option<IpAddr>,
    gateway: Option<IpAddr>,
    oif: Option<u32>,
    table: u32,
    cloned: bool,
    mtu: Option<u32>,
    mtu_locked: bool,
    advmss: Option<u32>,
    expires: Option<u32>,
}

/// RTM_GETROUTE dump of one family, every table; `cloned` asks for the learned
/// exceptions (rtm_flags RTM_F_CLONED, as `ip route show cache` does; IPv4
/// exceptions are dumped since Linux 5.3, IPv6 ones long before). Either way the
/// callers sort the answers by the RTM_F_CLONED flag of each: an older kernel
/// answers the request with its routes, and a plain dump may carry exceptions.
fn route_dump(family: AddressFamily, cloned: bool) -> io::Result<Vec<RouteEntry>> {
    let mut message = RouteMessage::default();
    message.header.address_family = family;
    if cloned {
        message.header.flags = RouteFlags::Cloned;
    }
    let header_len = RouteHeader::default().buffer_len();
    let mut entries = Vec::new();
    dump(
        RouteNetlinkMessage::GetRoute(message),
        |message_type, payload| {
            if message_type != libc::RTM_NEWROUTE {
                return;
            }
            let Ok(header) = RouteHeader::parse(payload) else {
                return;
            };
            let mut entry = RouteEntry {
                family: match header.address_family {
                    AddressFamily::Inet => 4,
                    AddressFamily::Inet6 => 6,
                    _ => return,
                },
                prefix_length: header.destination_prefix_length,
                table: u32::from(header.table),
                cloned: header.flags.contains(RouteFlags::Cloned),
                ..RouteEntry::default()
            };
            let mut lock = 0;
            let param = (header.address_family, header.kind, RouteLwEnCapType::None);
            for nla in NlasIterator::new(payload.get(header_len..).unwrap_or_default()).flatten() {
                match RouteAttribute::parse_with_param(&nla, param) {
                    Ok(RouteAttribute::Destination(address)) => entry.destination = ip(&address),
                    Ok(RouteAttribute::Gateway(address)) => entry.gateway = ip(&address),
                    Ok(RouteAttribute::Oif(index)) => entry.oif = Some(index),
                    // RTA_TABLE: the table number in full (rtm_table stops at 255).
                    Ok(RouteAttribute::Table(table)) => entry.table = table,
                    Ok(RouteAttribute::CacheInfo(info)) => entry.expires = Some(info.expires),
                    Ok(RouteAttribute::Metrics(metrics)) => {
                        for metric in metrics {
                            match metric {
                                RouteMetric::Mtu(mtu) => entry.mtu = Some(mtu),
                                RouteMetric::Advmss(advmss) => entry.advmss = Some(advmss),
                                RouteMetric::Lock(bits) => lock = bits,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            entry.mtu_locked = entry.mtu.is_some() && lock & (1 << RTAX_MTU) != 0;
            entries.push(entry);
        },
    )?;
    Ok(entries)
}

/// An IPv4 or IPv6 route address.
fn ip(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// Sends `request` as a dump on a new NETLINK_ROUTE socket and hands each
/// answer's type and payload to `each`, until the kernel says it is done.
fn dump(request: RouteNetlinkMessage, mut each: impl FnMut(u16, &[u8])) -> io::Result<()> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = 1;
    let mut request = NetlinkMessage::new(header, request.into());
    request.finalize();
    let mut out = vec![0; request.buffer_len()];
    request.serialize(&mut out);
    socket.send(&out, 0)?;
    let invalid = |e: netlink_packet_core::DecodeError| {
        io::Error::new(io::ErrorKind::InvalidData, format!("rtnetlink: {e}"))
    };
    // Big enough for any one message of a dump (the kernel sizes its dump
    // messages to at most 32 KiB, or a page if larger).
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let size = socket.recv(&mut &mut buf[..], 0)?;
        let mut at = 0;
        while at < size {
            let message = NetlinkBuffer::new_checked(buf.get(at..size).unwrap_or_default())
                .map_err(invalid)?;
            let length = usize::try_from(message.length()).unwrap_or(0);
            match message.message_type() {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR => {
                    let payload = message.payload();
                    let error =
                        ErrorMessage::parse(&ErrorBuffer::new_checked(&payload).map_err(invalid)?)
                            .map_err(invalid)?;
                    if error.code.is_some() {
                        return Err(error.to_io());
                    }
                }
                message_type => each(message_type, message.payload()),
            }
            if length == 0 {
                break;
            }
            // Messages are 4-byte aligned in a datagram.
            at += (length + 3) & !3;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    static COUNTER: AtomicUsize = AtomicUsize::new(0);

    /// Whether namespace tests can run: as root yes; otherwise the test fails
    /// with the reason, unless MSS_SKIP_NETNS asks to skip it.
    fn netns_available(test: &str) -> bool {
        if nix::unistd::geteuid().is_root() {
            return true;
        }
        if std::env::var_os("MSS_SKIP_NETNS").is_some() {
            eprintln!(
                "SKIPPED {test}: needs root (CAP_NET_ADMIN) for network namespaces; MSS_SKIP_NETNS is set"
            );
            return false;
        }
        panic!(
            "{test} needs root (CAP_NET_ADMIN) to create network namespaces; run the tests as \
             root, or set MSS_SKIP_NETNS=1 to skip these tests knowingly"
        );
    }

    /// Runs `ip ARGS...`, panicking with its error output if it fails.
    fn ip(args: &[&str]) -> Vec<u8> {
        let out = Command::new("ip")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ip (iproute2): {e}"));
        assert!(
            out.status.success(),
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// A network namespace of its own, deleted on drop (its interfaces, and
    /// their routes and exceptions, with it).
    struct Netns {
        name: String,
    }

    impl Netns {
        fn new(tag: &str) -> Netns {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("mss-route-{tag}-{}-{n}", std::process::id());
            ip(&["netns", "add", &name]);
            let ns = Netns { name };
            ns.ip(&["link", "set", "lo", "up"]);
            ns
        }

        /// `ip -n NAME ARGS...`
        fn ip(&self, args: &[&str]) -> Vec<u8> {
            let mut full = vec!["-n", self.name.as_str()];
            full.extend_from_slice(args);
            ip(&full)
        }

        /// `ip -n NAME -j ARGS...` parsed.
        fn ip_json(&self, args: &[&str]) -> Vec<serde_json::Value> {
            let mut full = vec!["-j"];
            full.extend_from_slice(args);
            let out = self.ip(&full);
            serde_json::from_slice(&out).unwrap_or_else(|e| {
                panic!("ip -j {args:?}: {e}: {}", String::from_utf8_lossy(&out))
            })
        }

        fn sysctl(&self, key_value: &str) {
            ip(&["netns", "exec", &self.name, "sysctl", "-qw", key_value]);
        }

        /// Runs `f` on a thread that has entered this namespace (setns changes
        /// the calling thread only) and returns what it returns.
        fn run<F, R>(&self, f: F) -> R
        where
            F: FnOnce() -> R + Send + 'static,
            R: Send + 'static,
        {
            let path = format!("/run/netns/{}", self.name);
            thread::spawn(move || {
                let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .unwrap_or_else(|e| panic!("setns {path}: {e}"));
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .status();
        }
    }

    fn str_field<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a str> {
        value.get(key).and_then(serde_json::Value::as_str)
    }

    fn u32_field(value: &serde_json::Value, key: &str) -> Option<u32> {
        value
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    }

    /// lo, a veth pair at MTU 1400 (one end up, one down) and a dummy: every
    /// field as `ip -j -d link show` has it.
    #[test]
    fn links_match_ip_link() {
        if !netns_available("links_match_ip_link") {
            return;
        }
        let ns = Netns::new("links");
        ns.ip(&[
            "link", "add", "va", "mtu", "1400", "type", "veth", "peer", "name", "vb", "mtu", "1400",
        ]);
        ns.ip(&["link", "set", "va", "up"]);
        // A dummy; where the kernel has no dummy driver (CONFIG_DUMMY off, no
        // modules), an ifb, the other kind of device with nothing under it.
        let kind = if Command::new("ip")
            .args([
                "-n", &ns.name, "link", "add", "d0", "mtu", "9000", "type", "dummy",
            ])
            .output()
            .is_ok_and(|out| out.status.success())
        {
            "dummy"
        } else {
            eprintln!("no dummy driver in this kernel: an ifb instead");
            ns.ip(&["link", "add", "d0", "mtu", "9000", "type", "ifb"]);
            "ifb"
        };
        ns.ip(&["link", "set", "d0", "up"]);
        let links = ns.run(links).expect("links");
        let shown = ns.ip_json(&["-d", "link", "show"]);
        assert_eq!(links.len(), shown.len(), "{links:?}\n{shown:?}");
        let index_of = |name: &str| {
            links
                .iter()
                .find(|l| l.name == name)
                .map(|l| l.index)
                .unwrap_or_else(|| panic!("no {name} in {links:?}"))
        };
        for entry in &shown {
            let index = u32_field(entry, "ifindex").expect("ifindex");
            let link = links
                .iter()
                .find(|l| l.index == index)
                .unwrap_or_else(|| panic!("{entry} not in {links:?}"));
            let flags: Vec<&str> = entry
                .get("flags")
                .and_then(serde_json::Value::as_array)
                .map(|f| f.iter().filter_map(serde_json::Value::as_str).collect())
                .unwrap_or_default();
            let parent = str_field(entry, "link")
                .map(index_of)
                .or_else(|| u32_field(entry, "link_index"));
            let kind = entry
                .get("linkinfo")
                .and_then(|info| str_field(info, "info_kind"))
                .map(str::to_string);
            let expected = Link {
                index,
                name: str_field(entry, "ifname").expect("ifname").to_string(),
                mtu: u32_field(entry, "mtu").expect("mtu"),
                up: flags.contains(&"UP"),
                oper_state: str_field(entry, "operstate")
                    .expect("operstate")
                    .to_string(),
                kind,
                parent,
                link_type: match str_field(entry, "link_type") {
                    Some("ether") => 1,
                    Some("loopback") => 772,
                    Some("none") => 65534,
                    _ => link.link_type,
                },
            };
            assert_eq!(*link, expected, "ip says {entry}");
        }
        let by_name = |name: &str| {
            links
                .iter()
                .find(|l| l.name == name)
                .cloned()
                .unwrap_or_else(|| panic!("no {name}"))
        };
        let lo = by_name("lo");
        assert_eq!(
            (lo.mtu, lo.up, lo.oper_state.as_str(), lo.kind, lo.parent),
            (65536, true, "UNKNOWN", None, None)
        );
        let (va, vb) = (by_name("va"), by_name("vb"));
        assert_eq!((va.mtu, vb.mtu), (1400, 1400));
        assert_eq!(
            (va.kind.as_deref(), vb.kind.as_deref()),
            (Some("veth"), Some("veth"))
        );
        assert_eq!((va.parent, vb.parent), (Some(vb.index), Some(va.index)));
        // va is up but its peer is not: no carrier.
        assert_eq!((va.up, va.oper_state.as_str()), (true, "LOWERLAYERDOWN"));
        assert_eq!((vb.up, vb.oper_state.as_str()), (false, "DOWN"));
        let d0 = by_name("d0");
        assert_eq!(
            (d0.mtu, d0.up, d0.kind.as_deref(), d0.parent),
            (9000, true, Some(kind), None)
        );
    }

    /// Routes with `mtu lock` and advmss, an IPv6 MTU, another table: each field;
    /// routes without those metrics left out.
    #[test]
    fn routes_with_metrics() {
        if !netns_available("routes_with_metrics") {
            return;
        }
        let ns = Netns::new("routes");
        ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d1"]);
        ns.ip(&["link", "set", "d1", "up"]);
        ns.ip(&["link", "set", "d0", "up"]);
        ns.ip(&["addr", "add", "10.8.0.1/24", "dev", "d0"]);
        ns.ip(&["addr", "add", "fd00:8::1/64", "dev", "d0", "nodad"]);
        ns.ip(&[
            "route",
            "add",
            "10.9.0.0/16",
            "via",
            "10.8.0.2",
            "mtu",
            "lock",
            "1400",
            "advmss",
            "1300",
        ]);
        ns.ip(&[
            "-6",
            "route",
            "add",
            "fd00:9::/64",
            "via",
            "fd00:8::2",
            "mtu",
            "1300",
        ]);
        ns.ip(&[
            "route",
            "add",
            "10.10.0.0/24",
            "dev",
            "d0",
            "table",
            "100",
            "mtu",
            "1280",
        ]);
        ns.ip(&["route", "add", "10.11.0.0/24", "via", "10.8.0.2"]);
        ns.ip(&["route", "add", "10.12.0.7", "dev", "d0", "advmss", "1200"]);
        let mut routes = ns.run(routes).expect("routes");
        routes.sort_by(|a, b| a.destination.cmp(&b.destination));
        let d0 = Some("d0".to_string());
        assert_eq!(
            routes,
            vec![
                Route {
                    family: 4,
                    destination: "10.10.0.0/24".to_string(),
                    gateway: None,
                    device: d0.clone(),
                    table: 100,
                    mtu: Some(1280),
                    mtu_locked: false,
                    advmss: None,
                },
                Route {
                    family: 4,
                    destination: "10.12.0.7".to_string(),
                    gateway: None,
                    device: d0.clone(),
                    table: 254,
                    mtu: None,
                    mtu_locked: false,
                    advmss: Some(1200),
                },
                Route {
                    family: 4,
                    destination: "10.9.0.0/16".to_string(),
                    gateway: Some(IpAddr::V4(Ipv4Addr::new(10, 8, 0, 2))),
                    device: d0.clone(),
                    table: 254,
                    mtu: Some(1400),
                    mtu_locked: true,
                    advmss: Some(1300),
                },
                Route {
                    family: 6,
                    destination: "fd00:9::/64".to_string(),
                    gateway: Some(IpAddr::V6(Ipv6Addr::new(0xfd00, 8, 0, 0, 0, 0, 0, 2))),
                    device: d0,
                    table: 254,
                    mtu: Some(1300),
                    mtu_locked: false,
                    advmss: None,
                },
            ]
        );
    }

    /// client - router - server, the router's link towards the server at MTU
    /// 1400: a TCP connection of full-size segments from the client makes the
    /// router answer with ICMP frag-needed (IPv4) and packet-too-big (IPv6), and
    /// the client learns both path MTUs, as `ip route show cache` lists them.
    #[test]
    fn learned_path_mtus() {
        if !netns_available("learned_path_mtus") {
            return;
        }
        let (client, router, server) = (
            Netns::new("client"),
            Netns::new("router"),
            Netns::new("server"),
        );
        client.ip(&[
            "link",
            "add",
            "c0",
            "type",
            "veth",
            "peer",
            "name",
            "r0",
            "netns",
            &router.name,
        ]);
        // The server's end stays at 1500, so it announces MSS 1460 and the
        // client's segments are too big for the router's 1400-byte link.
        router.ip(&[
            "link",
            "add",
            "r1",
            "mtu",
            "1400",
            "type",
            "veth",
            "peer",
            "name",
            "s0",
            "netns",
            &server.name,
        ]);
        for (ns, dev, v4, v6) in [
            (&client, "c0", "10.1.0.1/24", "fd01::1/64"),
            (&router, "r0", "10.1.0.2/24", "fd01::2/64"),
            (&router, "r1", "10.2.0.1/24", "fd02::1/64"),
            (&server, "s0", "10.2.0.2/24", "fd02::2/64"),
        ] {
            ns.ip(&["addr", "add", v4, "dev", dev]);
            ns.ip(&["addr", "add", v6, "dev", dev, "nodad"]);
            ns.ip(&["link", "set", dev, "up"]);
        }
        client.ip(&["route", "add", "default", "via", "10.1.0.2"]);
        client.ip(&["-6", "route", "add", "default", "via", "fd01::2"]);
        server.ip(&["route", "add", "default", "via", "10.2.0.1"]);
        server.ip(&["-6", "route", "add", "default", "via", "fd02::1"]);
        router.sysctl("net.ipv4.ip_forward=1");
        router.sysctl("net.ipv6.conf.all.forwarding=1");

        let v4 = IpAddr::V4(Ipv4Addr::new(10, 2, 0, 2));
        let v6 = IpAddr::V6(Ipv6Addr::new(0xfd02, 0, 0, 0, 0, 0, 0, 2));
        for to in [v4, v6] {
            let address = SocketAddr::new(to, 5000);
            let listener = server
                .run(move || TcpListener::bind(address))
                .expect("listen");
            let receiver = thread::spawn(move || {
                let (mut stream, _) = listener.accept().expect("accept");
                let mut sink = Vec::new();
                stream.read_to_end(&mut sink).expect("read");
                sink.len()
            });
            client.run(move || {
                let mut stream = TcpStream::connect(address).expect("connect");
                stream.write_all(&[0x55; 100_000]).expect("write");
                stream.shutdown(Shutdown::Write).expect("shutdown");
                let mut rest = Vec::new();
                stream.read_to_end(&mut rest).expect("read");
            });
            assert_eq!(receiver.join().expect("receiver"), 100_000);
        }

        let exceptions = client.run(pmtu_exceptions).expect("pmtu_exceptions");
        let c0 = Some("c0".to_string());
        for (family, to, gateway, show) in [
            (4, v4, "10.1.0.2", &["route", "show", "cache"][..]),
            (6, v6, "fd01::2", &["-6", "route", "show", "cache"][..]),
        ] {
            let found = exceptions
                .iter()
                .find(|e| e.destination == to)
                .unwrap_or_else(|| panic!("no exception for {to} in {exceptions:?}"));
            let gateway: IpAddr = gateway.parse().expect("address");
            assert_eq!(
                (
                    found.family,
                    found.gateway,
                    &found.device,
                    found.mtu,
                    found.mtu_locked
                ),
                (family, Some(gateway), &c0, 1400, false),
                "{found:?}"
            );
            let expires = found.expires_s.expect("an expiry");
            assert!(expires > 0 && expires <= 600, "{found:?}");

            let listed = client.ip_json(show);
            let entry = listed
                .iter()
                .find(|e| str_field(e, "dst") == Some(&to.to_string()))
                .unwrap_or_else(|| panic!("ip route show cache has no {to}: {listed:?}"));
            assert_eq!(
                str_field(entry, "gateway"),
                Some(gateway.to_string().as_str())
            );
            assert_eq!(str_field(entry, "dev"), Some("c0"));
            let mtu = entry
                .get("metrics")
                .and_then(serde_json::Value::as_array)
                .and_then(|m| m.iter().find_map(|m| u32_field(m, "mtu")));
            assert_eq!(mtu, Some(found.mtu), "{entry}");
            // ip ran a moment later: its count may be a second lower.
            let shown = u32_field(entry, "expires").expect("expires");
            assert!(
                shown <= expires && expires - shown <= 2,
                "ip says expires {shown}, we {expires}"
            );
        }
        assert_eq!(exceptions.len(), 2, "{exceptions:?}");
        // Not routes: they have no MTU metric of their own.
        assert!(client.run(routes).expect("routes").is_empty());
    }

    #[test]
    fn expiry_in_clock_ticks() {
        assert_eq!(expires_seconds(None, 100), None);
        assert_eq!(expires_seconds(Some(0), 100), None);
        assert_eq!(expires_seconds(Some(59_876), 100), Some(598));
        // Past, not yet collected: the kernel's negative count.
        assert_eq!(expires_seconds(Some(u32::MAX - 99), 100), Some(0));
    }
}
