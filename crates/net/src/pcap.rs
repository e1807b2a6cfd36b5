//! Live capture through libpcap, loaded at run time.
//!
//! libpcap knows every link type, uses the kernel's memory-mapped TPACKET_V3 ring
//! and compiles tcpdump's filter language; it is what tcpdump uses, so a capture
//! here sees what tcpdump would. It is loaded with `dlopen` (the `libloading`
//! crate) when a capture or a filter is asked for, not linked: the default build
//! needs no libpcap-dev, and a machine with tcpdump has the library
//! (`libpcap.so.0.8`, Debian's libpcap0.8). When it is missing, the error says how
//! to install it.
//!
//! Every `unsafe` block is one call into libpcap with the handle this module
//! opened (never closed before its last user is gone) and buffers of the sizes
//! libpcap documents (pcap(3PCAP)); each says so.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::fmt;
use std::ptr::NonNull;
use std::sync::{Arc, OnceLock};

/// `PCAP_ERRBUF_SIZE`.
const ERRBUF_SIZE: usize = 256;
/// `PCAP_ERROR_BREAK`: `pcap_breakloop` was called.
const ERROR_BREAK: c_int = -2;
/// `PCAP_ERROR_NO_SUCH_DEVICE`, `PCAP_ERROR_PERM_DENIED`, `PCAP_ERROR_IFACE_NOT_UP`.
const ERROR_NO_SUCH_DEVICE: c_int = -5;
const ERROR_PERM_DENIED: c_int = -8;
const ERROR_IFACE_NOT_UP: c_int = -9;
/// `PCAP_NETMASK_UNKNOWN`.
const NETMASK_UNKNOWN: u32 = 0xffff_ffff;
/// `PCAP_TSTAMP_PRECISION_NANO`.
const TSTAMP_PRECISION_NANO: c_int = 1;
/// LINKTYPE_LINUX_SLL2: for `any`, the cooked header that names the interface.
const LINKTYPE_LINUX_SLL2: c_int = 276;

/// The shared object names tried, newest first.
const NAMES: [&str; 3] = ["libpcap.so.1", "libpcap.so.0.8", "libpcap.so"];

/// `struct bpf_program`.
#[repr(C)]
struct BpfProgram {
    len: c_uint,
    insns: *mut c_void,
}

/// `struct pcap_pkthdr` on Linux: a `struct timeval` (two longs), then the
/// captured and original lengths.
#[repr(C)]
struct PktHdr {
    sec: std::ffi::c_long,
    frac: std::ffi::c_long,
    caplen: u32,
    len: u32,
}

/// `struct pcap_stat`.
#[repr(C)]
#[derive(Default)]
struct PcapStat {
    recv: c_uint,
    drop: c_uint,
    ifdrop: c_uint,
}

/// `pcap_if_t`.
#[repr(C)]
struct PcapIf {
    next: *mut PcapIf,
    name: *mut c_char,
    description: *mut c_char,
    addresses: *mut c_void,
    flags: u32,
}

type Pcap = c_void;

/// The libpcap functions used, resolved once.
struct Api {
    create: unsafe extern "C" fn(*const c_char, *mut c_char) -> *mut Pcap,
    set_snaplen: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    set_promisc: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    set_timeout: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    set_immediate_mode: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    set_buffer_size: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    set_tstamp_precision: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    activate: unsafe extern "C" fn(*mut Pcap) -> c_int,
    geterr: unsafe extern "C" fn(*mut Pcap) -> *const c_char,
    statustostr: unsafe extern "C" fn(c_int) -> *const c_char,
    datalink: unsafe extern "C" fn(*mut Pcap) -> c_int,
    set_datalink: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    compile: unsafe extern "C" fn(*mut Pcap, *mut BpfProgram, *const c_char, c_int, u32) -> c_int,
    setfilter: unsafe extern "C" fn(*mut Pcap, *mut BpfProgram) -> c_int,
    freecode: unsafe extern "C" fn(*mut BpfProgram),
    next_ex: unsafe extern "C" fn(*mut Pcap, *mut *mut PktHdr, *mut *const u8) -> c_int,
    breakloop: unsafe extern "C" fn(*mut Pcap),
    stats: unsafe extern "C" fn(*mut Pcap, *mut PcapStat) -> c_int,
    close: unsafe extern "C" fn(*mut Pcap),
    open_dead: unsafe extern "C" fn(c_int, c_int) -> *mut Pcap,
    offline_filter: unsafe extern "C" fn(*const BpfProgram, *const PktHdr, *const u8) -> c_int,
    findalldevs: unsafe extern "C" fn(*mut *mut PcapIf, *mut c_char) -> c_int,
    setnonblock: unsafe extern "C" fn(*mut Pcap, c_int, *mut c_char) -> c_int,
    get_selectable_fd: unsafe extern "C" fn(*mut Pcap) -> c_int,
    freealldevs: unsafe extern "C" fn(*mut PcapIf),
    /// Kept loaded for the process's life: the functions above point into it.
    _library: libloading::Library,
}

// SAFETY: the functions are plain C entry points of a loaded library, callable
// from any thread (libpcap's handles are used by one thread at a time here, and
// pcap_breakloop is documented as callable from another thread).
unsafe impl Send for Api {}
// SAFETY: as above; the struct is read-only after loading.
unsafe impl Sync for Api {}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("libpcap")
    }
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

/// libpcap, loaded on first use.
fn api() -> Result<&'static Api, Error> {
    API.get_or_init(load)
        .as_ref()
        .map_err(|why| Error::Library(why.clone()))
}

fn load() -> Result<Api, String> {
    let mut tried = Vec::new();
    for name in NAMES {
        // SAFETY: loading libpcap runs its initialisers, which have no
        // preconditions; nothing else is loaded under these names.
        match unsafe { libloading::Library::new(name) } {
            Ok(library) => return resolve(library).map_err(|e| format!("{name}: {e}")),
            Err(e) => tried.push(format!("{name}: {e}")),
        }
    }
    Err(tried.join("; "))
}

fn resolve(library: libloading::Library) -> Result<Api, libloading::Error> {
    macro_rules! sym {
        ($name:literal) => {
            // SAFETY: the symbol is libpcap's function of that name, whose C
            // signature (pcap(3PCAP)) is the field's type.
            *unsafe { library.get(concat!($name, "\0").as_bytes())? }
        };
    }
    Ok(Api {
        create: sym!("pcap_create"),
        set_snaplen: sym!("pcap_set_snaplen"),
        set_promisc: sym!("pcap_set_promisc"),
        set_timeout: sym!("pcap_set_timeout"),
        set_immediate_mode: sym!("pcap_set_immediate_mode"),
        set_buffer_size: sym!("pcap_set_buffer_size"),
        set_tstamp_precision: sym!("pcap_set_tstamp_precision"),
        activate: sym!("pcap_activate"),
        geterr: sym!("pcap_geterr"),
        statustostr: sym!("pcap_statustostr"),
        datalink: sym!("pcap_datalink"),
        set_datalink: sym!("pcap_set_datalink"),
        compile: sym!("pcap_compile"),
        setfilter: sym!("pcap_setfilter"),
        freecode: sym!("pcap_freecode"),
        next_ex: sym!("pcap_next_ex"),
        breakloop: sym!("pcap_breakloop"),
        stats: sym!("pcap_stats"),
        close: sym!("pcap_close"),
        open_dead: sym!("pcap_open_dead"),
        offline_filter: sym!("pcap_offline_filter"),
        findalldevs: sym!("pcap_findalldevs"),
        setnonblock: sym!("pcap_setnonblock"),
        get_selectable_fd: sym!("pcap_get_selectable_fd"),
        freealldevs: sym!("pcap_freealldevs"),
        _library: library,
    })
}

/// Why a capture could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// libpcap could not be loaded.
    Library(String),
    /// No interface of that name.
    NoSuchInterface(String),
    /// Capturing needs CAP_NET_RAW (and CAP_NET_ADMIN for some options).
    Permission(String),
    /// The interface is down.
    Down(String),
    /// The filter does not compile: libpcap's message.
    Filter(String),
    /// Anything else libpcap said.
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Library(why) => write!(
                f,
                "cannot load libpcap ({why}); install it with apt-get install libpcap0.8 \
                 (it comes with tcpdump)"
            ),
            Error::NoSuchInterface(why)
            | Error::Permission(why)
            | Error::Down(why)
            | Error::Filter(why)
            | Error::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

/// A copy of a C string libpcap returned (null: empty).
fn text(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: libpcap returns NUL-terminated strings that stay valid until the
    // next call on the same handle; this copies it at once.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

/// An open handle, closed when the last of the capture and its breakers is gone.
#[derive(Debug)]
struct Handle {
    api: &'static Api,
    pcap: NonNull<Pcap>,
}

// SAFETY: a pcap_t may move between threads; it is used by one thread at a time
// (the capture's owner), besides pcap_breakloop, which libpcap allows from any
// thread.
unsafe impl Send for Handle {}
// SAFETY: as above: the only call shared between threads is pcap_breakloop.
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is open and this is its last user.
        unsafe { (self.api.close)(self.pcap.as_ptr()) }
    }
}

impl Handle {
    fn error(&self) -> String {
        // SAFETY: the handle is open.
        text(unsafe { (self.api.geterr)(self.pcap.as_ptr()) })
    }
}

/// How to open a live capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Bytes captured of each packet.
    pub snaplen: u32,
    /// The kernel's buffer, in bytes.
    pub buffer_bytes: u32,
    /// Put the interface in promiscuous mode.
    pub promiscuous: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            snaplen: 262_144,
            buffer_bytes: 32 << 20,
            promiscuous: false,
        }
    }
}

/// A packet as libpcap delivered it; valid until the next call on the capture.
#[derive(Debug)]
pub struct Packet<'a> {
    /// Capture time, ns since the epoch.
    pub timestamp_ns: u64,
    /// Its length on the wire.
    pub original_len: u32,
    /// The bytes captured.
    pub data: &'a [u8],
}

/// What waiting for a packet gave.
#[derive(Debug)]
pub enum Next<'a> {
    /// A packet.
    Packet(Packet<'a>),
    /// None within the wait (20 ms).
    Timeout,
    /// [`Breaker::stop`] was called.
    Stopped,
    /// libpcap failed (the interface went away, say).
    Failed(String),
}

/// Counters of a capture (`pcap_stats`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets the filter accepted.
    pub received: u32,
    /// Dropped by the kernel for lack of buffer space.
    pub dropped: u32,
    /// Dropped by the interface or its driver.
    pub interface_dropped: u32,
}

/// A live capture on one interface.
#[derive(Debug)]
pub struct Capture {
    handle: Arc<Handle>,
    link_type: u16,
    /// The descriptor to wait on: the handle is non-blocking and the wait is
    /// ours (with TPACKET_V3, libpcap's own wait ignores its timeout and blocks
    /// until a packet comes, so a silent interface would never say so).
    fd: c_int,
}

/// How long [`Capture::next_packet`] waits for a packet.
/// How long [`Capture::next_packet`] waits: a silent interface says so 50 times a
/// second (a merge of several live captures goes on as far as each is settled).
const WAIT_MS: u16 = 20;

/// Stops a capture's wait from another thread (Ctrl-C, a duration ran out).
#[derive(Clone, Debug)]
pub struct Breaker(Arc<Handle>);

impl Breaker {
    /// Makes the capture's next (or current) wait return [`Next::Stopped`].
    pub fn stop(&self) {
        // SAFETY: the handle is open (this holds a reference); pcap_breakloop may
        // be called from another thread than the one capturing.
        unsafe { (self.0.api.breakloop)(self.0.pcap.as_ptr()) }
    }
}

impl Capture {
    /// Opens `interface` (`any` for all of them) with nanosecond timestamps and
    /// immediate delivery; on `any`, the Linux cooked v2 header, which names each
    /// packet's interface.
    pub fn open(interface: &str, options: &Options) -> Result<Capture, Error> {
        let api = api()?;
        let name = CString::new(interface)
            .map_err(|_| Error::NoSuchInterface(format!("{interface:?}: not an interface name")))?;
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        // SAFETY: a NUL-terminated name and an error buffer of PCAP_ERRBUF_SIZE.
        let raw = unsafe { (api.create)(name.as_ptr(), errbuf.as_mut_ptr()) };
        let Some(pcap) = NonNull::new(raw) else {
            return Err(Error::Other(text(errbuf.as_ptr())));
        };
        let handle = Handle { api, pcap };
        let p = handle.pcap.as_ptr();
        let clamp = |v: u32| c_int::try_from(v).unwrap_or(c_int::MAX);
        // SAFETY: setters on a created, not yet activated handle; each only
        // records the value (their errors are only for an activated handle).
        unsafe {
            (api.set_snaplen)(p, clamp(options.snaplen));
            (api.set_promisc)(p, c_int::from(options.promiscuous));
            (api.set_timeout)(p, 100);
            (api.set_immediate_mode)(p, 1);
            (api.set_buffer_size)(p, clamp(options.buffer_bytes));
            (api.set_tstamp_precision)(p, TSTAMP_PRECISION_NANO);
        }
        // SAFETY: the handle is created and configured.
        let status = unsafe { (api.activate)(p) };
        if status < 0 {
            let detail = handle.error();
            // SAFETY: a status code; libpcap returns a static string.
            let what = text(unsafe { (api.statustostr)(status) });
            let said = if detail.is_empty() { what } else { detail };
            return Err(match status {
                ERROR_NO_SUCH_DEVICE => Error::NoSuchInterface(said),
                ERROR_PERM_DENIED => Error::Permission(said),
                ERROR_IFACE_NOT_UP => Error::Down(said),
                _ => Error::Other(said),
            });
        }
        if interface == "any" {
            // Best effort: an older libpcap stays with cooked v1.
            // SAFETY: the handle is activated.
            let _ = unsafe { (api.set_datalink)(p, LINKTYPE_LINUX_SLL2) };
        }
        // SAFETY: the handle is activated.
        let link = unsafe { (api.datalink)(p) };
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        // SAFETY: an activated handle and an error buffer of PCAP_ERRBUF_SIZE.
        if unsafe { (api.setnonblock)(p, 1, errbuf.as_mut_ptr()) } < 0 {
            return Err(Error::Other(text(errbuf.as_ptr())));
        }
        // SAFETY: an activated handle.
        let fd = unsafe { (api.get_selectable_fd)(p) };
        if fd < 0 {
            return Err(Error::Other(format!(
                "{interface}: libpcap has no descriptor to wait on"
            )));
        }
        Ok(Capture {
            link_type: u16::try_from(link).unwrap_or(u16::MAX),
            handle: Arc::new(handle),
            fd,
        })
    }

    /// The capture's LINKTYPE_ value.
    pub fn link_type(&self) -> u16 {
        self.link_type
    }

    /// Keeps only the packets `expression` (tcpdump's filter language) matches.
    pub fn set_filter(&mut self, expression: &str) -> Result<(), Error> {
        let api = self.handle.api;
        let p = self.handle.pcap.as_ptr();
        let mut program = compile(api, p, expression).map_err(|_| {
            Error::Filter(format!("filter {expression:?}: {}", self.handle.error()))
        })?;
        // SAFETY: an activated handle and a program compiled for it.
        let status = unsafe { (api.setfilter)(p, &mut program) };
        // SAFETY: the program was compiled by pcap_compile and is freed once.
        unsafe { (api.freecode)(&mut program) };
        if status < 0 {
            return Err(Error::Filter(format!(
                "filter {expression:?}: {}",
                self.handle.error()
            )));
        }
        Ok(())
    }

    /// Something to stop the capture's wait with, from another thread.
    pub fn breaker(&self) -> Breaker {
        Breaker(Arc::clone(&self.handle))
    }

    /// The next packet, waiting at most 20 ms.
    pub fn next_packet(&mut self) -> Next<'_> {
        let mut header: *mut PktHdr = std::ptr::null_mut();
        let mut data: *const u8 = std::ptr::null();
        let mut status = 0;
        for attempt in 0..2 {
            // SAFETY: an activated handle and two out-pointers; what they are set
            // to stays valid until the next call on the handle, which needs `&mut
            // self`.
            status = unsafe {
                (self.handle.api.next_ex)(self.handle.pcap.as_ptr(), &mut header, &mut data)
            };
            if status != 0 || attempt == 1 {
                break;
            }
            // Nothing yet: wait for the descriptor, at most WAIT_MS.
            // SAFETY: the handle's descriptor, open as long as the handle is.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
            let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(WAIT_MS)) {
                Ok(0) => return Next::Timeout,
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Next::Failed(e.to_string()),
            }
        }
        match status {
            1 if !header.is_null() && !data.is_null() => {
                // SAFETY: libpcap set both: a header, and `caplen` bytes of data.
                let header = unsafe { &*header };
                let len = usize::try_from(header.caplen).unwrap_or(0);
                // SAFETY: as above: `caplen` bytes at `data`.
                let bytes = unsafe { std::slice::from_raw_parts(data, len) };
                let seconds = u64::try_from(header.sec).unwrap_or(0);
                let nanos = u64::try_from(header.frac).unwrap_or(0);
                Next::Packet(Packet {
                    timestamp_ns: seconds.saturating_mul(1_000_000_000).saturating_add(nanos),
                    original_len: header.len,
                    data: bytes,
                })
            }
            0 | 1 => Next::Timeout,
            ERROR_BREAK => Next::Stopped,
            _ => Next::Failed(self.handle.error()),
        }
    }

    /// The capture's counters so far.
    pub fn stats(&self) -> Option<Stats> {
        let mut stat = PcapStat::default();
        // SAFETY: an activated handle and a struct pcap_stat to fill.
        let status = unsafe { (self.handle.api.stats)(self.handle.pcap.as_ptr(), &mut stat) };
        (status == 0).then_some(Stats {
            received: stat.recv,
            dropped: stat.drop,
            interface_dropped: stat.ifdrop,
        })
    }
}

/// Compiles a filter for a handle (`pcap_compile`); the error is in the handle.
fn compile(api: &Api, p: *mut Pcap, expression: &str) -> Result<BpfProgram, ()> {
    let expression = CString::new(expression).map_err(|_| ())?;
    let mut program = BpfProgram {
        len: 0,
        insns: std::ptr::null_mut(),
    };
    // SAFETY: a handle (live or dead), a program to fill and a NUL-terminated
    // expression; optimised, netmask unknown (only `ip broadcast` needs it).
    let status = unsafe { (api.compile)(p, &mut program, expression.as_ptr(), 1, NETMASK_UNKNOWN) };
    if status < 0 { Err(()) } else { Ok(program) }
}

/// A filter compiled for a link type, applied to packets read from files
/// (`pcap_offline_filter`): the same language and result as on a live capture.
#[derive(Debug)]
pub struct Filter {
    handle: Handle,
    program: BpfProgram,
}

// SAFETY: the dead handle and the program are only used through `&self` calls
// that read them (pcap_offline_filter does not write either).
unsafe impl Send for Filter {}

impl Drop for Filter {
    fn drop(&mut self) {
        // SAFETY: compiled by pcap_compile, freed once; the handle closes after.
        unsafe { (self.handle.api.freecode)(&mut self.program) }
    }
}

impl fmt::Debug for BpfProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bpf_program({} instructions)", self.len)
    }
}

impl Filter {
    /// Compiles `expression` for packets of `link_type`.
    pub fn new(expression: &str, link_type: u16) -> Result<Filter, Error> {
        let api = api()?;
        // SAFETY: a link type and the snaplen the program may assume.
        let raw = unsafe { (api.open_dead)(c_int::from(link_type), 262_144) };
        let pcap = NonNull::new(raw)
            .ok_or_else(|| Error::Other(format!("link type {link_type}: libpcap has no handle")))?;
        let handle = Handle { api, pcap };
        let program = compile(api, pcap.as_ptr(), expression)
            .map_err(|_| Error::Filter(format!("filter {expression:?}: {}", handle.error())))?;
        Ok(Filter { handle, program })
    }

    /// Whether the filter keeps a packet of `original_len` bytes of which `data`
    /// was captured.
    pub fn matches(&self, data: &[u8], original_len: u32) -> bool {
        let header = PktHdr {
            sec: 0,
            frac: 0,
            caplen: u32::try_from(data.len()).unwrap_or(u32::MAX),
            len: original_len,
        };
        // SAFETY: a compiled program, a header whose caplen is the data's length,
        // and the data.
        unsafe { (self.handle.api.offline_filter)(&self.program, &header, data.as_ptr()) != 0 }
    }
}

/// The name of this network namespace's interface `ifindex` (what a `-i any`
/// capture's cooked header names), if there is one.
pub fn interface_name(ifindex: u32) -> Option<String> {
    nix::net::if_::if_nameindex()
        .ok()?
        .iter()
        .find(|i| i.index() == ifindex)
        .map(|i| i.name().to_string_lossy().into_owned())
}

/// The interfaces libpcap can capture on (for the error about one that is not).
pub fn interfaces() -> Result<Vec<String>, Error> {
    let api = api()?;
    let mut list: *mut PcapIf = std::ptr::null_mut();
    let mut errbuf = [0 as c_char; ERRBUF_SIZE];
    // SAFETY: an out-pointer for the list and an error buffer of PCAP_ERRBUF_SIZE.
    if unsafe { (api.findalldevs)(&mut list, errbuf.as_mut_ptr()) } < 0 {
        return Err(Error::Other(text(errbuf.as_ptr())));
    }
    let mut names = Vec::new();
    let mut at = list;
    while !at.is_null() {
        // SAFETY: a node of the list pcap_findalldevs made, not yet freed.
        let node = unsafe { &*at };
        names.push(text(node.name));
        at = node.next;
    }
    if !list.is_null() {
        // SAFETY: the list pcap_findalldevs made, freed once.
        unsafe { (api.freealldevs)(list) };
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The filter language, on packets read from a file: libpcap is on every
    /// machine with tcpdump (the tests' machines install it).
    #[test]
    fn filters_compile_and_match_like_tcpdump() {
        let filter = Filter::new("tcp port 80", 1).unwrap_or_else(|e| panic!("{e}"));
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&[
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        frame.extend_from_slice(&[
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        assert!(filter.matches(&frame, 54));
        let other = Filter::new("udp", 1).unwrap_or_else(|e| panic!("{e}"));
        assert!(!other.matches(&frame, 54));
        match Filter::new("tcp port", 1) {
            Err(Error::Filter(message)) => assert!(message.contains("syntax"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_interface_is_said_and_the_interfaces_are_listed() {
        match Capture::open("mss-no-such-interface", &Options::default()) {
            Err(Error::NoSuchInterface(_) | Error::Permission(_) | Error::Other(_)) => {}
            other => panic!("{other:?}"),
        }
        let names = interfaces().unwrap_or_else(|e| panic!("{e}"));
        assert!(names.iter().any(|n| n == "lo" || n == "any"), "{names:?}");
    }
}
