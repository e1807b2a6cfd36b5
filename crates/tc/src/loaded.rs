//! The loader, in builds that carry the program: aya loads it, attaches it to
//! the clsact hooks through netlink, and reads and writes its pinned maps.

use std::io;
use std::path::Path;

use aya::maps::{Array, Map, MapData, PerCpuArray};
use aya::programs::tc::{self, NlOptions, SchedClassifierLink, TcAttachOptions};
use aya::programs::{ProgramError, SchedClassifier, TcAttachType};
use aya::{EbpfLoader, include_bytes_aligned};

use super::{
    Counter, Error, HANDLE, HISTOGRAM_SLOTS, Hooks, LinkKind, PRIORITY, PROGRAM_NAME, Seen, Status,
    Targets, decode_config, decode_seen_key, encode_config, pin_dir,
};

/// The program, compiled by build.rs.
static OBJECT: &[u8] = include_bytes_aligned!(concat!(env!("OUT_DIR"), "/clamp.bpf.o"));

const CONFIG_MAP: &str = "MSS_CONFIG";
const COUNTERS_MAP: &str = "MSS_COUNTERS";
const SEEN_MAP: &str = "MSS_SEEN";

/// EPERM anywhere in an error's chain.
fn permission(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && io.raw_os_error() == Some(nix::libc::EPERM)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// An aya error as ours: EPERM as [`Error::NotPermitted`], else the whole chain.
fn failed(what: &str, error: impl std::error::Error + 'static) -> Error {
    if permission(&error) {
        return Error::NotPermitted(what.to_string());
    }
    let mut text = format!("{what}: {error}");
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    Error::Other(text)
}

/// The interface's link kind, by its ARPHRD type over rtnetlink.
fn link_kind(interface: &str) -> Result<LinkKind, Error> {
    let links = mss_net::route::links()
        .map_err(|e| Error::Other(format!("cannot list interfaces over rtnetlink: {e}")))?;
    let link = links
        .iter()
        .find(|l| l.name == interface)
        .ok_or_else(|| Error::NoInterface(interface.to_string()))?;
    LinkKind::from_arphrd(link.link_type).ok_or(Error::UnsupportedLink {
        interface: interface.to_string(),
        link_type: link.link_type,
    })
}

/// Mounts the BPF filesystem at /sys/fs/bpf unless it is there (systemd mounts
/// it at boot; minimal systems and containers may not), then makes `dir`.
fn prepare_pin_dir(dir: &Path) -> Result<(), Error> {
    let root = Path::new("/sys/fs/bpf");
    let mounted = nix::sys::statfs::statfs(root)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::BPF_FS_MAGIC);
    if !mounted {
        nix::mount::mount(
            Some("bpf"),
            root,
            Some("bpf"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| match e {
            nix::errno::Errno::EPERM => {
                Error::NotPermitted("mounting the BPF filesystem at /sys/fs/bpf".to_string())
            }
            e => Error::Other(format!(
                "cannot mount the BPF filesystem at /sys/fs/bpf: {e} (mount -t bpf bpf \
                 /sys/fs/bpf)"
            )),
        })?;
    }
    std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => {
            Error::NotPermitted(format!("creating {}", dir.display()))
        }
        _ => Error::Other(format!("cannot create {}: {e}", dir.display())),
    })
}

fn attach_type(ingress: bool) -> TcAttachType {
    if ingress {
        TcAttachType::Ingress
    } else {
        TcAttachType::Egress
    }
}

/// Loads the program and attaches it to `interface` on `hooks` with `targets`,
/// in place of mss's filter already there (same priority and handle: replaced
/// in one netlink request, never stacked); a hook not asked for loses mss's
/// filter. The maps are pinned (and kept, counters too, from an earlier
/// attachment). Refuses without CAP_BPF/CAP_NET_ADMIN, on a kernel without BTF or
/// clsact, and where the verifier refuses (with its log).
pub fn attach(interface: &str, hooks: Hooks, targets: &Targets) -> Result<Status, Error> {
    let link = link_kind(interface)?;
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(Error::NoBtf);
    }
    let dir = pin_dir(interface)?;
    prepare_pin_dir(&dir)?;
    stale(&dir)?;
    // Pins this call creates go again if it fails (a program the verifier
    // refuses, a hook that cannot be attached); an attachment already there
    // keeps its own.
    let fresh = !dir.join(CONFIG_MAP).exists();
    let result = load_and_attach(interface, link, hooks, targets, &dir);
    if result.is_err() && fresh {
        let _ = remove_pins(&dir);
        remove_dirs(&dir);
    }
    result
}

fn load_and_attach(
    interface: &str,
    link: LinkKind,
    hooks: Hooks,
    targets: &Targets,
    dir: &Path,
) -> Result<Status, Error> {
    let mut ebpf = EbpfLoader::new()
        .map_pin_path(dir)
        .load(OBJECT)
        .map_err(|e| match e {
            aya::EbpfError::ProgramError(ProgramError::LoadError {
                io_error,
                verifier_log,
            }) => verifier(io_error, verifier_log.to_string()),
            e => failed("loading the clamp program", e),
        })?;
    write_config(&mut ebpf, targets, link, hooks)?;
    let program: &mut SchedClassifier = ebpf
        .program_mut(PROGRAM_NAME)
        .ok_or_else(|| Error::Other(format!("the object has no program {PROGRAM_NAME}")))?
        .try_into()
        .map_err(|e| failed("the clamp program", e))?;
    program.load().map_err(|e| match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => verifier(io_error, verifier_log.to_string()),
        e => failed("loading the clamp program", e),
    })?;
    if let Err(error) = tc::qdisc_add_clsact(interface)
        && error.kind() != io::ErrorKind::AlreadyExists
    {
        if error.raw_os_error() == Some(nix::libc::EPERM) {
            return Err(Error::NotPermitted(format!(
                "adding the clsact qdisc to {interface}"
            )));
        }
        return Err(Error::NoClsact {
            interface: interface.to_string(),
            error,
        });
    }
    for (wanted, ingress) in [(hooks.ingress, true), (hooks.egress, false)] {
        let hook = attach_type(ingress);
        if wanted {
            let options = TcAttachOptions::Netlink(NlOptions {
                priority: PRIORITY,
                handle: HANDLE,
            });
            let id = match program.attach_with_options(interface, hook, options) {
                Ok(id) => id,
                Err(ProgramError::TcError(tc::TcError::NetlinkError { io_error }))
                    if io_error.raw_os_error() == Some(nix::libc::EEXIST) =>
                {
                    // mss's filter is there: the same request without "create
                    // exclusively" swaps its program for this one.
                    let existing = SchedClassifierLink::attached(interface, hook, PRIORITY, HANDLE)
                        .map_err(|e| failed("finding mss's filter", e))?;
                    program
                        .attach_to_link(existing)
                        .map_err(|e| failed("replacing mss's filter", e))?
                }
                Err(e) => return Err(failed(&format!("attaching to {interface} {hook:?}"), e)),
            };
            let link = program
                .take_link(id)
                .map_err(|e| failed("taking the filter's link", e))?;
            // The filter stays after mss exits: the kernel does the work. Dropping
            // the link would detach it.
            std::mem::forget(link);
        } else {
            remove_filter(interface, hook)?;
        }
    }
    read_status(dir)
}

fn verifier(io_error: io::Error, log: String) -> Error {
    if io_error.raw_os_error() == Some(nix::libc::EPERM) {
        return Error::NotPermitted("loading the clamp program".to_string());
    }
    Error::Verifier {
        error: io_error.to_string(),
        log,
    }
}

/// Removes mss's filter (by program name) from one hook; none there is fine.
fn remove_filter(interface: &str, hook: TcAttachType) -> Result<(), Error> {
    match tc::qdisc_detach_program(interface, hook, PROGRAM_NAME) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        // No clsact qdisc: no filter either.
        Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => Ok(()),
        Err(e) if e.raw_os_error() == Some(nix::libc::EPERM) => Err(Error::NotPermitted(format!(
            "removing mss's filter from {interface}"
        ))),
        Err(e) => Err(Error::Other(format!(
            "cannot remove mss's filter from {interface} {hook:?}: {e}"
        ))),
    }
}

fn write_config(
    ebpf: &mut aya::Ebpf,
    targets: &Targets,
    link: LinkKind,
    hooks: Hooks,
) -> Result<(), Error> {
    let map = ebpf
        .map_mut(CONFIG_MAP)
        .ok_or_else(|| Error::Other(format!("the object has no map {CONFIG_MAP}")))?;
    let mut config: Array<&mut MapData, [u8; 8]> =
        Array::try_from(map).map_err(|e| failed("the config map", e))?;
    config
        .set(0, encode_config(targets, link, hooks), 0)
        .map_err(|e| failed("writing the targets", e))
}

fn pinned(dir: &Path, name: &str, interface: &str) -> Result<MapData, Error> {
    let path = dir.join(name);
    if !path.exists() {
        return Err(Error::NotAttached {
            interface: interface.to_string(),
            pin_dir: dir.to_path_buf(),
        });
    }
    MapData::from_pin(&path).map_err(|e| failed(&format!("opening {}", path.display()), e))
}

fn read_status(dir: &Path) -> Result<Status, Error> {
    let interface = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let config: Array<MapData, [u8; 8]> =
        Array::try_from(Map::Array(pinned(dir, CONFIG_MAP, &interface)?))
            .map_err(|e| failed("the config map", e))?;
    let bytes = config
        .get(&0, 0)
        .map_err(|e| failed("reading the targets", e))?;
    let (targets, link, hooks) = decode_config(bytes);
    let counters: PerCpuArray<MapData, u64> =
        PerCpuArray::try_from(Map::PerCpuArray(pinned(dir, COUNTERS_MAP, &interface)?))
            .map_err(|e| failed("the counter map", e))?;
    let mut sums = Vec::with_capacity(Counter::ALL.len());
    for (index, counter) in (0u32..).zip(Counter::ALL) {
        let values = counters
            .get(&index, 0)
            .map_err(|e| failed("reading the counters", e))?;
        sums.push((counter, values.iter().sum()));
    }
    let mut seen = Vec::new();
    // Absent where an older mss attached the program.
    if dir.join(SEEN_MAP).exists() {
        let histogram: PerCpuArray<MapData, u64> =
            PerCpuArray::try_from(Map::PerCpuArray(pinned(dir, SEEN_MAP, &interface)?))
                .map_err(|e| failed("the histogram map", e))?;
        for key in 0..4 * HISTOGRAM_SLOTS {
            let Some((ipv6, syn_ack, bucket)) = decode_seen_key(key) else {
                continue;
            };
            let count: u64 = histogram
                .get(&key, 0)
                .map_err(|e| failed("reading the histogram", e))?
                .iter()
                .sum();
            if count > 0 {
                seen.push(Seen {
                    ipv6,
                    syn_ack,
                    bucket,
                    count,
                });
            }
        }
    }
    Ok(Status {
        targets,
        hooks,
        link,
        counters: sums,
        seen,
        pin_dir: dir.to_path_buf(),
    })
}

/// Whether a loaded program still uses the config map pinned in `dir`. Pins
/// outlive what they belong to: when a network namespace is deleted its
/// interfaces and their filters go, and with them the program, but the pins
/// stay, and a later namespace may get the same inode number. Such pins are
/// stale, and are removed.
fn stale(dir: &Path) -> Result<bool, Error> {
    let path = dir.join(CONFIG_MAP);
    if !path.exists() {
        return Ok(false);
    }
    let map =
        MapData::from_pin(&path).map_err(|e| failed(&format!("opening {}", path.display()), e))?;
    let id = map
        .info()
        .map_err(|e| failed("reading the config map's id", e))?
        .id();
    for program in aya::programs::loaded_programs() {
        let program = program.map_err(|e| failed("listing loaded BPF programs", e))?;
        if program.name_as_str() != Some(PROGRAM_NAME) {
            continue;
        }
        if let Ok(Some(maps)) = program.map_ids()
            && maps.contains(&id)
        {
            return Ok(false);
        }
    }
    remove_pins(dir)?;
    Ok(true)
}

fn remove_pins(dir: &Path) -> Result<(), Error> {
    for name in [CONFIG_MAP, COUNTERS_MAP, SEEN_MAP] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_file(&path)
                .map_err(|e| Error::Other(format!("cannot remove {}: {e}", path.display())))?;
        }
    }
    Ok(())
}

/// Targets and counters of mss's clamp on `interface`, from its pinned maps.
pub fn status(interface: &str) -> Result<Status, Error> {
    let dir = pin_dir(interface)?;
    stale(&dir)?;
    read_status(&dir)
}

/// Changes the targets of mss's clamp on `interface` in its pinned map: the
/// next SYN is clamped to them, with no reload.
pub fn set_targets(interface: &str, targets: &Targets) -> Result<Status, Error> {
    let dir = pin_dir(interface)?;
    stale(&dir)?;
    let mut config: Array<MapData, [u8; 8]> =
        Array::try_from(Map::Array(pinned(&dir, CONFIG_MAP, interface)?))
            .map_err(|e| failed("the config map", e))?;
    let (_, link, hooks) = decode_config(
        config
            .get(&0, 0)
            .map_err(|e| failed("reading the targets", e))?,
    );
    let link = link.unwrap_or(LinkKind::Ethernet);
    config
        .set(0, encode_config(targets, link, hooks), 0)
        .map_err(|e| failed("writing the targets", e))?;
    read_status(&dir)
}

/// Removes mss's filters from both hooks of `interface` and its pinned maps (the
/// clsact qdisc stays: other filters may use it). Returns whether anything of
/// mss's was there.
pub fn detach(interface: &str) -> Result<bool, Error> {
    if !mss_net::route::links()
        .map_err(|e| Error::Other(format!("cannot list interfaces over rtnetlink: {e}")))?
        .iter()
        .any(|l| l.name == interface)
    {
        return Err(Error::NoInterface(interface.to_string()));
    }
    let dir = pin_dir(interface)?;
    let mut found = dir.exists();
    for ingress in [true, false] {
        let hook = attach_type(ingress);
        // Whether a filter was there: detaching one that is not says NotFound.
        match tc::qdisc_detach_program(interface, hook, PROGRAM_NAME) {
            Ok(()) => found = true,
            Err(_) => remove_filter(interface, hook)?,
        }
    }
    remove_pins(&dir)?;
    remove_dirs(&dir);
    Ok(found)
}

/// Removes an interface's pin directory and its namespace's, where empty.
fn remove_dirs(dir: &Path) {
    if dir.exists() {
        let _ = std::fs::remove_dir(dir);
        if let Some(parent) = dir.parent() {
            // Empty once the namespace's last interface is detached.
            let _ = std::fs::remove_dir(parent);
        }
    }
}
