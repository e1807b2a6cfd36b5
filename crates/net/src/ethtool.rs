//! An interface's offload features through the ethtool generic netlink family
//! (Linux 5.6+), what `ethtool -k` reads: synchronous, in the calling thread's
//! network namespace, no privileges needed (FEATURES_GET is a read).
//!
//! Two requests on one NETLINK_GENERIC socket: the controller (`nlctrl`,
//! CTRL_CMD_GETFAMILY) gives the "ethtool" family's id, then
//! ETHTOOL_MSG_FEATURES_GET names the interface in its request header
//! (ETHTOOL_A_HEADER_DEV_NAME) and the reply's ETHTOOL_A_FEATURES_ACTIVE bitset
//! says which features are on now.
//!
//! The bitset is asked for in the verbose form (ETHTOOL_FLAG_COMPACT_BITSETS not
//! set), in which every bit comes with its name: the names are the kernel's
//! `netdev_features_strings`, stable and the ones `ethtool -k` prints, while the
//! bit numbers behind them (NETIF_F_*_BIT) are internal to the kernel and have
//! moved between versions. A compact bitset would need a second request, for the
//! ETH_SS_FEATURES string set, to name its bits; the verbose reply is a few KB
//! larger and takes one round trip.
//!
//! The ethtool attributes are built and read here with netlink-packet-core's
//! `Nla`/`DefaultNla`/`NlasIterator`: the `ethtool` crate only talks through its
//! async connection (netlink-proto, futures; tokio by default), which this
//! synchronous call does not want to pull in.

use std::fmt::Debug;
use std::io;

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NLA_F_NESTED, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
    NlasIterator, ParseableParametrized, parse_string, parse_u32,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_sys::protocols::NETLINK_GENERIC;
use netlink_sys::{Socket, SocketAddr};
use nix::libc;

/// Offloads of an interface that change what a capture shows, as active now.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Offloads {
    /// TCP segmentation offload: tx-tcp-segmentation or tx-tcp6-segmentation active.
    pub tso: bool,
    /// Generic segmentation offload: tx-generic-segmentation.
    pub gso: bool,
    /// Generic receive offload: rx-gro.
    pub gro: bool,
    /// Large receive offload: rx-lro.
    pub lro: bool,
    /// Transmit checksum offload: any of tx-checksum-ipv4, tx-checksum-ip-generic, tx-checksum-ipv6.
    pub tx_checksum: bool,
}

impl Offloads {
    /// The offloads among the names of active features.
    fn from_active<'a>(names: impl IntoIterator<Item = &'a str>) -> Offloads {
        let mut offloads = Offloads::default();
        for name in names {
            match name {
                "tx-tcp-segmentation" | "tx-tcp6-segmentation" => offloads.tso = true,
                "tx-generic-segmentation" => offloads.gso = true,
                "rx-gro" => offloads.gro = true,
                "rx-lro" => offloads.lro = true,
                "tx-checksum-ipv4" | "tx-checksum-ip-generic" | "tx-checksum-ipv6" => {
                    offloads.tx_checksum = true;
                }
                _ => {}
            }
        }
        offloads
    }
}

/// The offloads of `interface` (ETHTOOL_MSG_FEATURES_GET).
pub fn offloads(interface: &str) -> io::Result<Offloads> {
    if interface.is_empty() || interface.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{interface:?} is not an interface name"),
        ));
    }
    let socket = open()?;
    let family = ethtool_family(&socket)?;
    let active = features_active(&socket, family, interface)?;
    Ok(Offloads::from_active(active.iter().map(String::as_str)))
}

// include/uapi/linux/ethtool_netlink.h
const ETHTOOL_GENL_NAME: &str = "ethtool";
const ETHTOOL_GENL_VERSION: u8 = 1;
/// Both ETHTOOL_MSG_FEATURES_GET (to the kernel) and
/// ETHTOOL_MSG_FEATURES_GET_REPLY (from it).
const ETHTOOL_MSG_FEATURES_GET: u8 = 11;
const ETHTOOL_A_HEADER_DEV_NAME: u16 = 2;
const ETHTOOL_A_FEATURES_HEADER: u16 = 1;
const ETHTOOL_A_FEATURES_ACTIVE: u16 = 4;
const ETHTOOL_A_BITSET_NOMASK: u16 = 1;
const ETHTOOL_A_BITSET_BITS: u16 = 3;
const ETHTOOL_A_BITSET_VALUE: u16 = 4;
const ETHTOOL_A_BITSET_BITS_BIT: u16 = 1;
const ETHTOOL_A_BITSET_BIT_INDEX: u16 = 1;
const ETHTOOL_A_BITSET_BIT_NAME: u16 = 2;
const ETHTOOL_A_BITSET_BIT_VALUE: u16 = 3;

fn open() -> io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_GENERIC)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    Ok(socket)
}

/// The id the kernel gave the "ethtool" generic netlink family.
fn ethtool_family(socket: &Socket) -> io::Result<u16> {
    family_id(socket, ETHTOOL_GENL_NAME).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOENT) {
            no_ethtool_netlink()
        } else {
            io::Error::new(
                e.kind(),
                format!("generic netlink: cannot resolve the ethtool family: {e}"),
            )
        }
    })
}

/// What a kernel that does not know the "ethtool" family (ENOENT) gets.
fn no_ethtool_netlink() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "this kernel has no ethtool netlink interface (generic netlink family \
         \"ethtool\" not registered: it needs Linux 5.6 or later, built with \
         CONFIG_ETHTOOL_NETLINK)",
    )
}

/// The id of the generic netlink family `name` (CTRL_CMD_GETFAMILY); ENOENT
/// when the kernel has no such family.
fn family_id(socket: &Socket, name: &str) -> io::Result<u16> {
    let request = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(name.to_owned())],
    });
    let reply: GenlCtrl = transact(socket, request, 1)?;
    reply
        .nlas
        .iter()
        .find_map(|nla| match nla {
            GenlCtrlAttrs::FamilyId(id) => Some(*id),
            _ => None,
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("generic netlink: the controller's answer for {name:?} has no family id"),
            )
        })
}

/// The names of the features active on `interface`.
fn features_active(socket: &Socket, family: u16, interface: &str) -> io::Result<Vec<String>> {
    // ETHTOOL_A_FEATURES_HEADER { ETHTOOL_A_HEADER_DEV_NAME }, no
    // ETHTOOL_A_HEADER_FLAGS: verbose bitsets (see the module's comment).
    let mut name = interface.as_bytes().to_vec();
    name.push(0);
    let dev_name = DefaultNla::new(ETHTOOL_A_HEADER_DEV_NAME, name);
    let mut header = vec![0; dev_name.buffer_len()];
    dev_name.emit(&mut header);
    let request = GenlMessage::from_payload(EthtoolRequest {
        family,
        cmd: ETHTOOL_MSG_FEATURES_GET,
        attrs: vec![DefaultNla::new(
            ETHTOOL_A_FEATURES_HEADER | NLA_F_NESTED,
            header,
        )],
    });
    let reply: EthtoolReply = transact(socket, request, 2).map_err(|e| match e.raw_os_error() {
        Some(libc::ENODEV) => io::Error::new(
            io::ErrorKind::NotFound,
            format!("no network interface {interface:?} in this network namespace"),
        ),
        _ => io::Error::new(
            e.kind(),
            format!("ethtool netlink: cannot read the features of {interface:?}: {e}"),
        ),
    })?;
    let invalid = |e: DecodeError| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("ethtool netlink: features of {interface:?}: {e}"),
        )
    };
    if reply.cmd != ETHTOOL_MSG_FEATURES_GET {
        return Err(invalid(DecodeError::from(format!(
            "reply of type {} where FEATURES_GET_REPLY ({ETHTOOL_MSG_FEATURES_GET}) was expected",
            reply.cmd
        ))));
    }
    for attr in NlasIterator::new(&reply.attrs[..]) {
        let attr = attr.map_err(invalid)?;
        if attr.kind() == ETHTOOL_A_FEATURES_ACTIVE {
            return set_bits(attr.value()).map_err(invalid);
        }
    }
    Err(invalid(DecodeError::from("no ETHTOOL_A_FEATURES_ACTIVE")))
}

/// The names of the bits set in a verbose bitset (ETHTOOL_A_BITSET_*).
///
/// With ETHTOOL_A_BITSET_NOMASK (how the kernel sends FEATURES_ACTIVE) only the
/// set bits are listed; without it, the listed bits are the mask and those with
/// ETHTOOL_A_BITSET_BIT_VALUE are set.
fn set_bits(bitset: &[u8]) -> Result<Vec<String>, DecodeError> {
    let mut nomask = false;
    let mut bits = None;
    for attr in NlasIterator::new(bitset) {
        let attr = attr?;
        match attr.kind() {
            ETHTOOL_A_BITSET_NOMASK => nomask = true,
            ETHTOOL_A_BITSET_BITS => bits = Some(attr.value().to_vec()),
            ETHTOOL_A_BITSET_VALUE => {
                return Err(DecodeError::from(
                    "a compact bitset, which was not asked for",
                ));
            }
            _ => {}
        }
    }
    let mut names = Vec::new();
    for bit in NlasIterator::new(bits.unwrap_or_default().as_slice()) {
        let bit = bit?;
        if bit.kind() != ETHTOOL_A_BITSET_BITS_BIT {
            continue;
        }
        let (mut index, mut name, mut value) = (None, None, false);
        for attr in NlasIterator::new(bit.value()) {
            let attr = attr?;
            match attr.kind() {
                ETHTOOL_A_BITSET_BIT_INDEX => index = Some(parse_u32(attr.value())?),
                ETHTOOL_A_BITSET_BIT_NAME => name = Some(parse_string(attr.value())?),
                ETHTOOL_A_BITSET_BIT_VALUE => value = true,
                _ => {}
            }
        }
        if nomask || value {
            names.push(name.ok_or_else(|| {
                DecodeError::from(format!("bit {} without a name", index.unwrap_or(u32::MAX)))
            })?);
        }
    }
    Ok(names)
}

/// An ethtool request: its command and attributes, to the family id resolved.
#[derive(Debug)]
struct EthtoolRequest {
    family: u16,
    cmd: u8,
    attrs: Vec<DefaultNla>,
}

impl GenlFamily for EthtoolRequest {
    fn family_name() -> &'static str {
        ETHTOOL_GENL_NAME
    }
    fn family_id(&self) -> u16 {
        self.family
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        ETHTOOL_GENL_VERSION
    }
}

impl Emitable for EthtoolRequest {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer);
    }
}

/// An ethtool reply: its command and its attributes, unparsed.
#[derive(Debug)]
struct EthtoolReply {
    cmd: u8,
    attrs: Vec<u8>,
}

impl ParseableParametrized<[u8], GenlHeader> for EthtoolReply {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(EthtoolReply {
            cmd: header.cmd,
            attrs: buf.to_vec(),
        })
    }
}

/// Sends `request` and returns the payload of the answer with its sequence
/// number; a netlink error comes back as the io::Error of its errno.
fn transact<Request, Reply>(
    socket: &Socket,
    request: GenlMessage<Request>,
    sequence: u32,
) -> io::Result<Reply>
where
    Request: GenlFamily + Emitable + Debug,
    Reply: ParseableParametrized<[u8], GenlHeader> + Debug,
{
    let mut message = NetlinkMessage::from(request);
    message.header.flags = NLM_F_REQUEST;
    message.header.sequence_number = sequence;
    message.finalize();
    let mut out = vec![0; message.buffer_len()];
    message.serialize(&mut out);
    socket.send(&out, 0)?;
    let invalid = |e: DecodeError| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    loop {
        // The datagram's size first, so that no reply is cut short.
        let size = socket.recv(&mut &mut [0u8; 0][..], libc::MSG_PEEK | libc::MSG_TRUNC)?;
        let mut buf = vec![0u8; size];
        let got = socket.recv(&mut &mut buf[..], 0)?;
        buf.truncate(got);
        let mut at = 0;
        while at < buf.len() {
            let bytes = buf.get(at..).unwrap_or_default();
            let answer =
                NetlinkMessage::<GenlMessage<Reply>>::deserialize(bytes).map_err(invalid)?;
            let length = usize::try_from(answer.header.length).unwrap_or(0);
            if answer.header.sequence_number == sequence {
                match answer.payload {
                    NetlinkPayload::InnerMessage(reply) => return Ok(reply.payload),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    _ => {}
                }
            }
            if length == 0 {
                break;
            }
            at += length;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::fs::File;
    use std::path::Path;
    use std::process::{Command, Output};
    use std::thread;

    /// Whether namespace tests can run here (the convention of the workspace's
    /// tests/support: without root the test fails with the reason, unless
    /// MSS_SKIP_NETNS asks to skip, which is then printed).
    fn netns_available(test: &str) -> bool {
        if nix::unistd::geteuid().is_root() {
            for tool in ["ip", "ethtool"] {
                let found = std::env::var_os("PATH").is_some_and(|paths| {
                    std::env::split_paths(&paths).any(|p| p.join(tool).is_file())
                });
                assert!(
                    found,
                    "{test} needs `{tool}` (apt-get install iproute2 ethtool, or run \
                     scripts/test, which installs them)"
                );
            }
            return true;
        }
        if std::env::var_os("MSS_SKIP_NETNS").is_some() {
            eprintln!(
                "SKIPPED {test}: needs root (CAP_NET_ADMIN) for network namespaces; \
                 MSS_SKIP_NETNS is set"
            );
            return false;
        }
        panic!(
            "{test} needs root (CAP_NET_ADMIN) to create network namespaces; run the suite \
             as root (scripts/test), or set MSS_SKIP_NETNS=1 to skip these tests knowingly"
        );
    }

    fn run(program: &str, args: &[&str]) -> Output {
        let out = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A network namespace named for the test and this process, deleted on drop
    /// (with its veths), failed test or not.
    struct Netns {
        name: String,
    }

    impl Netns {
        fn new(test: &str) -> Netns {
            let name = format!("mss-ethtool-{test}-{}", std::process::id());
            // One left by an earlier process of the same id.
            if Path::new("/run/netns").join(&name).exists() {
                let _ = Command::new("ip").args(["netns", "del", &name]).output();
            }
            run("ip", &["netns", "add", &name]);
            Netns { name }
        }

        /// Runs a program inside the namespace, which must succeed.
        fn exec(&self, program: &str, args: &[&str]) -> String {
            let mut full = vec!["netns", "exec", self.name.as_str(), program];
            full.extend_from_slice(args);
            String::from_utf8_lossy(&run("ip", &full).stdout).into_owned()
        }

        /// [`offloads`] called from a thread inside the namespace.
        fn offloads(&self, interface: &str) -> io::Result<Offloads> {
            let path = format!("/run/netns/{}", self.name);
            let interface = interface.to_owned();
            thread::spawn(move || {
                let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .unwrap_or_else(|e| panic!("setns {path}: {e}"));
                offloads(&interface)
            })
            .join()
            .unwrap_or_else(|_| panic!("the thread in {} panicked", self.name))
        }

        /// What `ethtool -k` says of the same offloads, in the namespace.
        fn ethtool_k(&self, interface: &str) -> Offloads {
            let text = self.exec("ethtool", &["-k", interface]);
            let features: HashMap<&str, bool> = text
                .lines()
                .filter_map(|line| line.trim().split_once(": "))
                .map(|(name, state)| (name, state.starts_with("on")))
                .collect();
            // ethtool prints a feature under its old name where it has one
            // (tx-generic-segmentation as generic-segmentation-offload).
            let any = |names: &[&str]| {
                let known: Vec<bool> = names
                    .iter()
                    .filter_map(|n| features.get(n).copied())
                    .collect();
                assert!(
                    !known.is_empty(),
                    "none of {names:?} in `ethtool -k {interface}`:\n{text}"
                );
                known.contains(&true)
            };
            Offloads {
                tso: any(&["tx-tcp-segmentation", "tx-tcp6-segmentation"]),
                gso: any(&["generic-segmentation-offload", "tx-generic-segmentation"]),
                gro: any(&["generic-receive-offload", "rx-gro"]),
                lro: any(&["large-receive-offload", "rx-lro"]),
                tx_checksum: any(&[
                    "tx-checksum-ipv4",
                    "tx-checksum-ip-generic",
                    "tx-checksum-ipv6",
                ]),
            }
        }

        /// `offloads` and `ethtool -k` agree; the offloads.
        fn agreed(&self, interface: &str) -> Offloads {
            let ours = self
                .offloads(interface)
                .unwrap_or_else(|e| panic!("offloads({interface}) in {}: {e}", self.name));
            assert_eq!(
                ours,
                self.ethtool_k(interface),
                "{interface} in {}",
                self.name
            );
            ours
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .output();
        }
    }

    #[test]
    fn ethtool_lo_in_a_namespace_matches_ethtool_k() {
        if !netns_available("ethtool_lo_in_a_namespace_matches_ethtool_k") {
            return;
        }
        let ns = Netns::new("lo");
        let before = ns.agreed("lo");
        assert!(
            before.tso && before.gso && before.gro,
            "a new namespace's lo has TSO, GSO and GRO on: {before:?}"
        );
        ns.exec(
            "ethtool",
            &["-K", "lo", "tso", "off", "gso", "off", "gro", "off"],
        );
        let after = ns.agreed("lo");
        assert_eq!(
            after,
            Offloads {
                tso: false,
                gso: false,
                gro: false,
                ..before
            }
        );
    }

    #[test]
    fn ethtool_veth_with_features_toggled_matches_ethtool_k() {
        if !netns_available("ethtool_veth_with_features_toggled_matches_ethtool_k") {
            return;
        }
        let ns = Netns::new("veth");
        ns.exec(
            "ip",
            &[
                "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
            ],
        );
        let before = ns.agreed("veth0");
        assert_eq!(before, ns.agreed("veth1"));
        assert!(
            before.tso && before.gso && before.tx_checksum,
            "a new veth has TSO, GSO and checksum offload on: {before:?}"
        );
        // Checksum offload off on one end (TSO, which needs it, goes too) and GRO
        // on; on the other end only TSO off.
        ns.exec("ethtool", &["-K", "veth0", "tx", "off", "gro", "on"]);
        ns.exec("ethtool", &["-K", "veth1", "tso", "off"]);
        let veth0 = ns.agreed("veth0");
        assert!(!veth0.tx_checksum && !veth0.tso && veth0.gro, "{veth0:?}");
        let veth1 = ns.agreed("veth1");
        assert_eq!(
            veth1,
            Offloads {
                tso: false,
                ..before
            }
        );
    }

    #[test]
    fn ethtool_unknown_interface_is_not_found() {
        let name = "mss-no-such0";
        let e = offloads(name).expect_err("no such interface");
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains(name), "{e}");
        let e = offloads("lo\0").expect_err("a NUL in the name");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    }

    /// A family the kernel does not have answers ENOENT, which is how a kernel
    /// before 5.6 answers for "ethtool"; and "ethtool" is there on this one.
    #[test]
    fn ethtool_family_resolution() {
        let socket = open().expect("generic netlink socket");
        let e = family_id(&socket, "mss-no-such").expect_err("no such family");
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
        let e = no_ethtool_netlink();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        assert!(e.to_string().contains("Linux 5.6"), "{e}");
        let id = ethtool_family(&socket).expect("the ethtool family");
        assert!(id >= 16, "a dynamic family id above nlctrl's: {id}");
    }

    #[test]
    fn ethtool_verbose_bitsets_with_and_without_mask() {
        fn nla(kind: u16, value: Vec<u8>) -> Vec<u8> {
            let nla = DefaultNla::new(kind, value);
            let mut out = vec![0; nla.buffer_len()];
            nla.emit(&mut out);
            out
        }
        fn bit(index: u32, name: &str, value: bool) -> Vec<u8> {
            let mut attrs = nla(ETHTOOL_A_BITSET_BIT_INDEX, index.to_ne_bytes().to_vec());
            attrs.extend(nla(
                ETHTOOL_A_BITSET_BIT_NAME,
                format!("{name}\0").into_bytes(),
            ));
            if value {
                attrs.extend(nla(ETHTOOL_A_BITSET_BIT_VALUE, Vec::new()));
            }
            nla(ETHTOOL_A_BITSET_BITS_BIT | NLA_F_NESTED, attrs)
        }
        let bits = [
            bit(0, "tx-scatter-gather", false),
            bit(16, "tx-tcp-segmentation", true),
        ]
        .concat();
        let mut nomask = nla(ETHTOOL_A_BITSET_NOMASK, Vec::new());
        nomask.extend(nla(ETHTOOL_A_BITSET_BITS | NLA_F_NESTED, bits.clone()));
        assert_eq!(
            set_bits(&nomask).expect("parse"),
            ["tx-scatter-gather", "tx-tcp-segmentation"]
        );
        let masked = nla(ETHTOOL_A_BITSET_BITS | NLA_F_NESTED, bits);
        assert_eq!(set_bits(&masked).expect("parse"), ["tx-tcp-segmentation"]);
        assert_eq!(
            Offloads::from_active(["tx-tcp6-segmentation", "rx-gro", "tx-checksum-ipv6"]),
            Offloads {
                tso: true,
                gro: true,
                tx_checksum: true,
                ..Offloads::default()
            }
        );
        let compact = nla(ETHTOOL_A_BITSET_VALUE, vec![0; 8]);
        assert!(set_bits(&compact).is_err());
    }
}
