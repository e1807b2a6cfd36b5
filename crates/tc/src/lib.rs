//! mss's in-kernel MSS clamp: a tc classifier (bpf/clamp.bpf.c) that lowers the
//! MSS option of SYN and SYN-ACK segments by the rules of `mss-clamp`, attached
//! to an interface's clsact qdisc, and its loader.
//!
//! Once attached the kernel does the work: nothing of mss stays in the data path,
//! so there is no process to crash. The filter holds the program, and the
//! program its two maps, which are also pinned in the BPF filesystem under
//! `/sys/fs/bpf/mss/net<NETNS INODE>/<IFACE>/` (`MSS_CONFIG`, `MSS_COUNTERS`) so
//! that a later run finds them: [`set_targets`] changes the targets without a
//! reload, [`status`] reads targets and per-CPU counters, [`detach`] removes it.
//! [`attach`] loads the program and puts it in place of the one already there
//! (the filter sits at priority [`PRIORITY`], handle [`HANDLE`]), so attaching
//! again replaces and never stacks.
//!
//! The program is compiled by build.rs with clang's BPF target when clang and
//! libbpf's headers are present; without them this crate still builds and every
//! call answers [`Error::NotBuilt`] with what to install. The loader is aya (pure
//! Rust, no libbpf or libelf at build or run time); its build cost is measured in
//! this crate's Cargo.toml.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The program's name (its function in bpf/clamp.bpf.c): `tc filter show`
/// lists the filter by it.
pub const PROGRAM_NAME: &str = "mss_clamp";
/// The tc filter priority mss's filter takes on each hook.
pub const PRIORITY: u16 = 17;
/// The tc filter handle mss's filter takes.
pub const HANDLE: u32 = 1;
/// Where the maps are pinned: one directory per network namespace and interface.
pub const PIN_ROOT: &str = "/sys/fs/bpf/mss";

/// The targets per IP version and whether to insert: the offline clamp's own.
pub use mss_clamp::Targets;

/// The clsact hooks the program runs on.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Hooks {
    /// Packets arriving on the interface.
    pub ingress: bool,
    /// Packets leaving through it.
    pub egress: bool,
}

impl Hooks {
    /// As the config map keeps it: 1 ingress, 2 egress.
    pub fn bits(self) -> u8 {
        u8::from(self.ingress) | (u8::from(self.egress) << 1)
    }

    /// From the config map's byte.
    pub fn from_bits(bits: u8) -> Hooks {
        Hooks {
            ingress: bits & 1 != 0,
            egress: bits & 2 != 0,
        }
    }

    /// "in", "out" or "both" ("none" when neither).
    pub fn name(self) -> &'static str {
        match (self.ingress, self.egress) {
            (true, true) => "both",
            (true, false) => "in",
            (false, true) => "out",
            (false, false) => "none",
        }
    }
}

/// Where the program finds the IP header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// After an Ethernet header (and up to two VLAN tags): Ethernet, veth,
    /// bridges, loopback.
    Ethernet,
    /// At the start: devices without a link-layer header (tun, WireGuard, PPP).
    RawIp,
}

impl LinkKind {
    /// The kind for a link-layer type (ARPHRD_*, include/uapi/linux/if_arp.h), or
    /// `None` where the program would not know where IP starts.
    pub fn from_arphrd(link_type: u16) -> Option<LinkKind> {
        match link_type {
            // ARPHRD_ETHER, ARPHRD_LOOPBACK.
            1 | 772 => Some(LinkKind::Ethernet),
            // ARPHRD_PPP, ARPHRD_RAWIP, ARPHRD_NONE.
            512 | 519 | 65534 => Some(LinkKind::RawIp),
            _ => None,
        }
    }

    /// As the config map keeps it (bpf/clamp.bpf.c LINK_*).
    pub fn byte(self) -> u8 {
        match self {
            LinkKind::Ethernet => 0,
            LinkKind::RawIp => 1,
        }
    }
}

/// The program's counters (bpf/clamp.bpf.c `enum counter`, same order).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Counter {
    /// IPv4 SYNs whose MSS was lowered.
    LoweredV4,
    /// IPv6 SYNs whose MSS was lowered.
    LoweredV6,
    /// IPv4 SYNs given an MSS option.
    InsertedV4,
    /// IPv6 SYNs given an MSS option.
    InsertedV6,
    /// SYNs whose MSS was at or below the target.
    AlreadyLow,
    /// SYNs without an MSS option (inserting not asked for).
    NoMssOption,
    /// SYNs of an IP version without a target.
    NoTarget,
    /// IP fragments (the TCP header incomplete or elsewhere).
    Fragment,
    /// Packets shorter than their headers say.
    Truncated,
    /// Impossible lengths or offsets, or a broken IPv6 extension header chain.
    Malformed,
    /// SYNs with a malformed TCP option list.
    BadOptions,
    /// SYNs without an MSS option that carry data (no insertion).
    HasPayload,
    /// SYNs without an MSS option and no room to insert one.
    NoRoom,
    /// A kernel helper refused (the packet passed as it was).
    HelperFailed,
}

impl Counter {
    /// Every counter, in the program's order.
    pub const ALL: [Counter; 14] = [
        Counter::LoweredV4,
        Counter::LoweredV6,
        Counter::InsertedV4,
        Counter::InsertedV6,
        Counter::AlreadyLow,
        Counter::NoMssOption,
        Counter::NoTarget,
        Counter::Fragment,
        Counter::Truncated,
        Counter::Malformed,
        Counter::BadOptions,
        Counter::HasPayload,
        Counter::NoRoom,
        Counter::HelperFailed,
    ];

    /// A short name for reports and JSON (the offline clamp's names where they
    /// mean the same).
    pub fn name(self) -> &'static str {
        match self {
            Counter::LoweredV4 => "lowered_v4",
            Counter::LoweredV6 => "lowered_v6",
            Counter::InsertedV4 => "inserted_v4",
            Counter::InsertedV6 => "inserted_v6",
            Counter::AlreadyLow => "already_low",
            Counter::NoMssOption => "no_mss_option",
            Counter::NoTarget => "no_target",
            Counter::Fragment => "fragment",
            Counter::Truncated => "truncated",
            Counter::Malformed => "malformed",
            Counter::BadOptions => "bad_options",
            Counter::HasPayload => "has_payload",
            Counter::NoRoom => "no_room",
            Counter::HelperFailed => "helper_failed",
        }
    }
}

/// The upper bounds of the histogram of announced MSS values (bpf/clamp.bpf.c
/// `mss_bucket`): the buckets of `mss watch`'s SYN MSS histogram, the values
/// links and clamps produce.
pub const MSS_BOUNDS: [u16; 24] = [
    536, 1024, 1220, 1240, 1280, 1288, 1300, 1320, 1340, 1348, 1360, 1380, 1400, 1420, 1428, 1440,
    1448, 1452, 1460, 1500, 4000, 8960, 9000, 65495,
];

/// Slots per (IP version, SYN or SYN-ACK) in the histogram map: the bounds, one
/// above the last, one for SYNs without an MSS option.
pub const HISTOGRAM_SLOTS: u32 = 26;

/// Where an announced MSS fell in the histogram.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// At most this bound (and above the one before).
    AtMost(u16),
    /// Above the last bound.
    Above(u16),
    /// The SYN had no MSS option.
    NoOption,
}

/// One non-empty bucket of the announced-MSS histogram: what hosts announced in
/// the SYNs the program saw (with a well-formed option list, of an IP version
/// with a target), before any change.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// IPv6 (else IPv4).
    pub ipv6: bool,
    /// SYN-ACKs (else SYNs).
    pub syn_ack: bool,
    /// The bucket.
    pub bucket: Bucket,
    /// SYNs in it.
    pub count: u64,
}

/// The histogram map's key `key` as (IPv6, SYN-ACK, bucket); `None` past its end.
pub fn decode_seen_key(key: u32) -> Option<(bool, bool, Bucket)> {
    let group = key / HISTOGRAM_SLOTS;
    let slot = usize::try_from(key % HISTOGRAM_SLOTS).ok()?;
    if group > 3 {
        return None;
    }
    let last = MSS_BOUNDS[MSS_BOUNDS.len() - 1];
    let bucket = match MSS_BOUNDS.get(slot) {
        Some(&bound) => Bucket::AtMost(bound),
        None if slot == MSS_BOUNDS.len() => Bucket::Above(last),
        None => Bucket::NoOption,
    };
    Some((group >= 2, group % 2 == 1, bucket))
}

/// What is attached to an interface, read from the pinned maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The targets the program clamps to now.
    pub targets: Targets,
    /// Where it was attached.
    pub hooks: Hooks,
    /// Where it finds the IP header.
    pub link: Option<LinkKind>,
    /// Each counter summed over the CPUs, in [`Counter::ALL`] order.
    pub counters: Vec<(Counter, u64)>,
    /// The announced-MSS histogram's non-empty buckets, summed over the CPUs.
    pub seen: Vec<Seen>,
    /// The directory the maps are pinned in.
    pub pin_dir: PathBuf,
}

/// Why the clamp could not be attached, changed, read or removed.
#[derive(Debug)]
pub enum Error {
    /// This build has no program: clang (or libbpf's headers) was missing.
    NotBuilt,
    /// No interface of that name in this network namespace.
    NoInterface(String),
    /// The interface's link type is one the program cannot read.
    UnsupportedLink {
        /// The interface.
        interface: String,
        /// Its ARPHRD_* type.
        link_type: u16,
    },
    /// The kernel said EPERM: loading needs CAP_BPF (or CAP_SYS_ADMIN) and
    /// attaching CAP_NET_ADMIN.
    NotPermitted(String),
    /// The kernel has no BTF (/sys/kernel/btf/vmlinux).
    NoBtf,
    /// The clsact qdisc could not be added.
    NoClsact {
        /// The interface.
        interface: String,
        /// What the kernel said.
        error: io::Error,
    },
    /// The verifier refused the program; its log says why.
    Verifier {
        /// What the kernel said.
        error: String,
        /// The verifier's log (its last lines carry the reason).
        log: String,
    },
    /// Nothing of mss's is attached there (no pinned maps).
    NotAttached {
        /// The interface.
        interface: String,
        /// Where the maps were looked for.
        pin_dir: PathBuf,
    },
    /// Anything else, with what was being done.
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotBuilt => write!(
                f,
                "this mss was built without the tc clamp: clang with the BPF target and \
                 libbpf's headers were not found when it was compiled; apt-get install clang \
                 libbpf-dev and rebuild (cargo build) to get `mss clamp --tc`"
            ),
            Error::NoInterface(name) => write!(
                f,
                "no interface {name:?} in this network namespace (`ip link` lists them)"
            ),
            Error::UnsupportedLink {
                interface,
                link_type,
            } => write!(
                f,
                "{interface} has link type {link_type} (ARPHRD): the tc clamp reads Ethernet \
                 (veth, bridges) and devices without a link header (tun, WireGuard, PPP); use \
                 the nft clamp or `mss clamp --nfqueue` there"
            ),
            Error::NotPermitted(what) => write!(
                f,
                "{what}: not permitted; the tc clamp needs CAP_BPF and CAP_NET_ADMIN (run it \
                 as root)"
            ),
            Error::NoBtf => write!(
                f,
                "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): the tc clamp \
                 needs a kernel built with CONFIG_DEBUG_INFO_BTF; use the nft clamp or `mss \
                 clamp --nfqueue`"
            ),
            Error::NoClsact { interface, error } => write!(
                f,
                "cannot add the clsact qdisc to {interface}: {error} (a kernel without \
                 CONFIG_NET_SCH_INGRESS has none; use the nft clamp or `mss clamp --nfqueue`)"
            ),
            Error::Verifier { error, log } => {
                let reason: Vec<&str> = log
                    .lines()
                    .rev()
                    .filter(|l| !l.trim().is_empty())
                    .take(6)
                    .collect();
                let reason: Vec<&str> = reason.into_iter().rev().collect();
                write!(
                    f,
                    "the kernel's verifier refused the clamp program ({error}); its log \
                     ends:\n{}",
                    reason.join("\n")
                )
            }
            Error::NotAttached { interface, pin_dir } => write!(
                f,
                "no mss tc clamp on {interface} in this network namespace (nothing pinned at \
                 {}); attach one with `mss clamp --tc {interface} --mss N`",
                pin_dir.display()
            ),
            Error::Other(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for Error {}

/// The 8 bytes of `struct config` (bpf/clamp.bpf.c), in host byte order.
pub fn encode_config(targets: &Targets, link: LinkKind, hooks: Hooks) -> [u8; 8] {
    let [a, b] = targets.ipv4.unwrap_or(0).to_ne_bytes();
    let [c, d] = targets.ipv6.unwrap_or(0).to_ne_bytes();
    [
        a,
        b,
        c,
        d,
        u8::from(targets.insert),
        link.byte(),
        hooks.bits(),
        0,
    ]
}

/// [`encode_config`] read back (`None` for a link byte it never writes).
pub fn decode_config(bytes: [u8; 8]) -> (Targets, Option<LinkKind>, Hooks) {
    let [a, b, c, d, insert, link, hooks, _] = bytes;
    let nonzero = |v: u16| (v != 0).then_some(v);
    let targets = Targets {
        ipv4: nonzero(u16::from_ne_bytes([a, b])),
        ipv6: nonzero(u16::from_ne_bytes([c, d])),
        insert: insert != 0,
    };
    let link = match link {
        0 => Some(LinkKind::Ethernet),
        1 => Some(LinkKind::RawIp),
        _ => None,
    };
    (targets, link, Hooks::from_bits(hooks))
}

/// The pin directory for `interface` in the calling thread's network namespace
/// (the BPF filesystem is shared by all of them; an interface name is not).
pub fn pin_dir(interface: &str) -> Result<PathBuf, Error> {
    let netns = std::fs::metadata("/proc/thread-self/ns/net")
        .map_err(|e| Error::Other(format!("cannot read /proc/thread-self/ns/net: {e}")))?;
    Ok(Path::new(PIN_ROOT)
        .join(format!("net{}", netns.ino()))
        .join(interface))
}

#[cfg(mss_tc_bpf)]
mod loaded;

#[cfg(mss_tc_bpf)]
pub use loaded::{attach, detach, set_targets, status};

/// Whether this build carries the program.
pub const BUILT: bool = cfg!(mss_tc_bpf);

#[cfg(not(mss_tc_bpf))]
mod absent {
    use super::{Error, Hooks, Status, Targets};

    /// Loads the program and attaches it to `interface` (see the crate docs).
    pub fn attach(_interface: &str, _hooks: Hooks, _targets: &Targets) -> Result<Status, Error> {
        Err(Error::NotBuilt)
    }

    /// Changes the targets of the program attached to `interface`.
    pub fn set_targets(_interface: &str, _targets: &Targets) -> Result<Status, Error> {
        Err(Error::NotBuilt)
    }

    /// Targets and counters of the program attached to `interface`.
    pub fn status(_interface: &str) -> Result<Status, Error> {
        Err(Error::NotBuilt)
    }

    /// Removes mss's filters from `interface` and their pinned maps.
    pub fn detach(_interface: &str) -> Result<bool, Error> {
        Err(Error::NotBuilt)
    }
}

#[cfg(not(mss_tc_bpf))]
pub use absent::{attach, detach, set_targets, status};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips() {
        let targets = Targets {
            ipv4: Some(1360),
            ipv6: None,
            insert: true,
        };
        let hooks = Hooks {
            ingress: true,
            egress: false,
        };
        let bytes = encode_config(&targets, LinkKind::RawIp, hooks);
        assert_eq!(
            decode_config(bytes),
            (targets, Some(LinkKind::RawIp), hooks)
        );
    }

    #[test]
    fn histogram_keys_decode_as_the_program_writes_them() {
        assert_eq!(
            decode_seen_key(0),
            Some((false, false, Bucket::AtMost(536)))
        );
        assert_eq!(
            decode_seen_key(18),
            Some((false, false, Bucket::AtMost(1460)))
        );
        assert_eq!(
            decode_seen_key(24),
            Some((false, false, Bucket::Above(65495)))
        );
        assert_eq!(decode_seen_key(25), Some((false, false, Bucket::NoOption)));
        assert_eq!(
            decode_seen_key(26),
            Some((false, true, Bucket::AtMost(536)))
        );
        assert_eq!(
            decode_seen_key(52 + 15),
            Some((true, false, Bucket::AtMost(1440)))
        );
        assert_eq!(decode_seen_key(103), Some((true, true, Bucket::NoOption)));
        assert_eq!(decode_seen_key(104), None);
    }

    #[test]
    fn counter_names_are_distinct() {
        let mut names: Vec<&str> = Counter::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Counter::ALL.len());
    }
}
