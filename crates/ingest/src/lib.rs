//! From capture sources to the analyzer: each input (a capture file, standard input,
//! or any other [`Source`] of records, such as a live interface) is read and decoded
//! on a thread of its own, several inputs are merged by time, and the analyzer gets
//! every packet in order; finished connections come back as they finish.
//!
//! Each input has a thread that frames its records and decodes them (besides the
//! capture reader's thread, which copies the bytes in): the caller's thread receives
//! the packets decoded, in batches, and only analyses them. What a packet's analysis
//! needs of its bytes (the TCP header, for its options) travels with the batch.
//!
//! A thread that fails (a panic, a source that breaks off) is an error naming the
//! input, never an early end of input: results are not silently cut short.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod compressed;
mod decode;
mod live;
mod merge;

use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use mss_capture::{Format, LinkType, Reader, Record, Warning};

pub use clock::{ClockOffset, MIN_SKEW_NS, OffsetBasis};
pub use compressed::Compression;
use decode::{Batch, Message, decode_all};
pub use live::{CaptureCounters, Limits, Stopper};
pub use merge::{ReadError, Sink, Tick, read_all};

/// Where records come from: the seam between capture sources and the pipeline. A
/// capture file's [`Reader`] is one; a live interface is another.
pub trait Source: Send + 'static {
    /// The next record, `Ok(None)` at the end.
    fn next_record(&mut self) -> Result<Option<Record<'_>>, mss_capture::Error>;
    /// Bytes read so far (for progress).
    fn offset(&self) -> u64;
    /// Warnings so far, and how many more were only counted.
    fn warnings(&self) -> (&[Warning], u64);
    /// The name of one of its interfaces (a pcapng interface's if_name), if known.
    fn interface_name(&self, _interface: u32) -> Option<String> {
        None
    }
    /// Whether the next record can be had without waiting (a streaming source
    /// says no while its next record has not fully arrived). Never blocks.
    fn ready(&mut self) -> bool {
        true
    }
    /// For a live source: a time (ns since the epoch) before which every record
    /// has been returned, as of the last time [`Source::ready`] found nothing
    /// waiting. The merge of several live inputs goes on up to it without waiting
    /// for a silent input.
    fn settled_ns(&self) -> Option<u64> {
        None
    }
    /// The name of the interface with this index, for a live source on this host
    /// (a `-i any` capture's packets carry only the index).
    fn ifindex_name(&self, _ifindex: u32) -> Option<String> {
        None
    }
}

impl<R: Read + Send + 'static> Source for Reader<R> {
    fn next_record(&mut self) -> Result<Option<Record<'_>>, mss_capture::Error> {
        Reader::next_record(self)
    }
    fn offset(&self) -> u64 {
        Reader::offset(self)
    }
    fn warnings(&self) -> (&[Warning], u64) {
        Reader::warnings(self)
    }
    fn interface_name(&self, interface: u32) -> Option<String> {
        Reader::interface_name(self, interface).map(str::to_string)
    }
    fn ready(&mut self) -> bool {
        Reader::record_ready(self)
    }
}

/// Which records to keep (a capture filter): by link type, captured bytes and
/// length on the wire.
pub type Keep = Box<dyn FnMut(u16, &[u8], u32) -> bool + Send>;

/// A capture filter in tcpdump's language for records read from files, compiled
/// by libpcap for each link type met (a file may have several); the same packets
/// as `tcpdump -r FILE EXPRESSION`. Fails when the expression does not compile
/// (for Ethernet) or libpcap cannot be loaded.
pub fn filter(expression: &str) -> Result<Keep, mss_net::pcap::Error> {
    let expression = expression.to_string();
    let ethernet = mss_net::pcap::Filter::new(&expression, 1)?;
    let mut compiled: Vec<(u16, Option<mss_net::pcap::Filter>)> = vec![(1, Some(ethernet))];
    Ok(Box::new(move |link_type, data, original_len| {
        let at = match compiled.iter().position(|(l, _)| *l == link_type) {
            Some(at) => at,
            None => {
                // A link type the expression does not apply to keeps nothing, as
                // libpcap's compiler refuses it there.
                compiled.push((
                    link_type,
                    mss_net::pcap::Filter::new(&expression, link_type).ok(),
                ));
                compiled.len() - 1
            }
        };
        compiled
            .get(at)
            .and_then(|(_, f)| f.as_ref())
            .is_some_and(|f| f.matches(data, original_len))
    }))
}

/// The name that reads standard input.
pub const STDIN: &str = "-";

/// Why inputs could not be opened or read.
#[derive(Debug)]
pub enum Error {
    /// The file cannot be opened.
    Open {
        /// The input as shown.
        input: String,
        /// Why.
        source: io::Error,
    },
    /// It is not a capture mss reads (its header), or reading it failed at once.
    Capture {
        /// The input as shown.
        input: String,
        /// Why.
        source: mss_capture::Error,
    },
    /// Standard input given more than once.
    StdinTwice {
        /// How many times.
        times: usize,
    },
    /// One file under two names.
    SameFile {
        /// The first name.
        first: String,
        /// The second.
        second: String,
    },
    /// A live capture could not be opened.
    Live {
        /// The interface.
        interface: String,
        /// Why.
        source: mss_net::pcap::Error,
        /// The interfaces there are, when it is not one of them.
        interfaces: Vec<String>,
    },
    /// A thread could not be started.
    Thread {
        /// The input as shown.
        input: String,
        /// Why.
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Open { input, source } => write!(
                f,
                "cannot open {input}: {source}; give a pcap or pcapng file, or - for \
                 standard input"
            ),
            Error::Capture { input, source } => write!(f, "{input}: {source}"),
            Error::StdinTwice { times } => write!(
                f,
                "- (standard input) is given {times} times: it can be read only once; give \
                 it once, and the other captures as files"
            ),
            Error::SameFile { first, second } => write!(
                f,
                "{first} and {second} are the same file: give each capture once (several \
                 captures are several capture points of the same traffic)"
            ),
            Error::Thread { input, source } => write!(f, "{input}: {source}"),
            Error::Live {
                interface,
                source,
                interfaces,
            } => {
                write!(f, "cannot capture on {interface}: {source}")?;
                match source {
                    mss_net::pcap::Error::NoSuchInterface(_) if !interfaces.is_empty() => {
                        write!(f, "; the interfaces are {}", interfaces.join(", "))
                    }
                    mss_net::pcap::Error::Permission(_) => write!(
                        f,
                        "; capturing needs CAP_NET_RAW: run as root, or give the binary the \
                         capability (setcap cap_net_raw+ep $(command -v mss))"
                    ),
                    mss_net::pcap::Error::Down(_) => {
                        write!(f, "; bring it up first (ip link set {interface} up)")
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for Error {}

/// Places the inputs' clocks against the first's (see the `clock` module): from
/// the SYNs at the start of each file (standard input has none to offer), or as
/// given (`given[i]`: how far input `i`'s clock is ahead, in ns). Does nothing
/// for a single input without a given offset.
pub fn place_clocks(paths: &[PathBuf], inputs: &mut [Input], given: &[Option<i64>]) {
    if inputs.len() < 2 && given.iter().all(Option::is_none) {
        return;
    }
    let syns: Vec<_> = paths
        .iter()
        .map(|p| {
            if p == Path::new(STDIN) {
                Default::default()
            } else {
                clock::syns(p)
            }
        })
        .collect();
    let placed = clock::place(&syns, given);
    for (i, (input, clock)) in inputs.iter_mut().zip(placed).enumerate() {
        input.clock = match (i, given.first().copied().flatten()) {
            (0, Some(offset_ns)) => Some(ClockOffset {
                offset_ns,
                basis: OffsetBasis::Given,
                applied: true,
            }),
            _ => clock,
        };
    }
}

/// Refuses inputs that cannot be read as distinct capture points: standard input
/// twice (the second would find it empty) or one file under two names (every
/// connection would seem captured at two points).
pub fn check_distinct(paths: &[PathBuf]) -> Result<(), Error> {
    let times = paths.iter().filter(|p| *p == Path::new(STDIN)).count();
    if times > 1 {
        return Err(Error::StdinTwice { times });
    }
    let mut seen: Vec<((u64, u64), &Path)> = Vec::new();
    for path in paths.iter().filter(|p| *p != Path::new(STDIN)) {
        let Ok(meta) = std::fs::metadata(path) else {
            // Opening it says why.
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let id = (meta.dev(), meta.ino());
        if let Some((_, first)) = seen.iter().find(|(other, _)| *other == id) {
            return Err(Error::SameFile {
                first: first.to_string_lossy().into_owned(),
                second: path.to_string_lossy().into_owned(),
            });
        }
        seen.push((id, path));
    }
    Ok(())
}

/// What waiting for an input's next batch gave.
pub(crate) enum Waited {
    Batch(Batch),
    End,
    /// Nothing within the time given.
    Nothing,
}

/// One capture point being read.
#[derive(Debug)]
pub struct Input {
    /// Its name for messages: the path (lossily where not UTF-8), or "standard
    /// input".
    pub name: String,
    /// Batches from the input's thread, and the way back for the used ones.
    decoded: mpsc::Receiver<Message>,
    used: mpsc::Sender<Batch>,
    /// The thread, joined to learn why it ended without its totals.
    thread: Option<thread::JoinHandle<()>>,
    /// Its totals came: the input is read.
    ended: bool,
    /// Bytes read, as of the latest batch.
    offset: u64,
    /// Its size, for progress, when known.
    pub size: Option<u64>,
    /// Captured live from an interface (its name is the interface's).
    pub live: bool,
    /// A live capture's counters of packets received and dropped.
    pub capture_counters: Option<Arc<live::CaptureCounters>>,
    /// Nothing older than this (on the merged clock) is still to come from it, as
    /// far as its batches tell.
    watermark_ns: u64,
    /// Read as its bytes come (standard input, a pipe, a live source): batches go
    /// out as soon as no more records are waiting, and the analysis's clock moves
    /// on while it is silent, so finished connections come out promptly.
    pub streaming: bool,
    /// The container format.
    pub format: Format,
    /// How the file is compressed, if it is (read decompressed).
    pub compression: Option<Compression>,
    /// Compressed bytes consumed, for the progress through a compressed file.
    consumed: Option<Arc<AtomicU64>>,
    /// Its clock against the first input's ([`place_clocks`]).
    pub clock: Option<ClockOffset>,
    /// Its earliest and latest packet's time on its own clock, as read so far.
    raw_span: Option<(u64, u64)>,
    /// Link types seen (complete once read).
    pub link_types: BTreeSet<LinkType>,
    /// Records read (complete once read).
    pub packets: u64,
    warnings: Vec<Warning>,
    more_warnings: u64,
    /// The error that ended reading early, if any (a truncated last record, a
    /// corrupt length, a read error).
    pub error: Option<mss_capture::Error>,
    /// Interfaces found in the batches received, not yet given capture points.
    new_interfaces: Vec<decode::NewInterface>,
    /// The capture point of each of its interfaces, in the order they appeared.
    points: Vec<usize>,
}

impl Input {
    /// Opens a file, or standard input for `-`, and starts reading it. The name
    /// is shown lossily where it is not UTF-8.
    pub fn open(path: &Path) -> Result<Input, Error> {
        Input::open_filtered(path, None)
    }

    /// [`Input::open`], keeping only the records `keep` says (see [`filter`]).
    pub fn open_filtered(path: &Path, keep: Option<Keep>) -> Result<Input, Error> {
        let stdin = path == Path::new(STDIN);
        let name = if stdin {
            "standard input".to_string()
        } else {
            path.to_string_lossy().into_owned()
        };
        let (source, size, streaming): (Box<dyn Read + Send>, Option<u64>, bool) = if stdin {
            // Redirected from a file (`< trace.pcap`), standard input is read like
            // the file; from a pipe or a terminal it streams.
            let file = std::fs::metadata("/dev/stdin").ok().filter(|m| m.is_file());
            let size = file.as_ref().map(std::fs::Metadata::len);
            (Box::new(io::stdin()), size, file.is_none())
        } else {
            let file = File::open(path).map_err(|source| Error::Open {
                input: name.clone(),
                source,
            })?;
            let meta = file.metadata().ok();
            // A FIFO or a character device streams; a regular file is read whole.
            let regular = meta.as_ref().is_some_and(std::fs::Metadata::is_file);
            (Box::new(file), meta.map(|m| m.len()), !regular)
        };
        let opened = compressed::open(source).map_err(|source| Error::Open {
            input: name.clone(),
            source,
        })?;
        // The reading (and decompressing) runs on its own thread, overlapping with
        // the decoding.
        let reader = if streaming {
            Reader::streaming(opened.reader)
        } else {
            Reader::with_reader_thread(opened.reader)
        }
        .map_err(|source| Error::Capture {
            input: match opened.compression {
                Some(c) => format!("{name} ({} decompressed)", c.name()),
                None => name.clone(),
            },
            source,
        })?;
        let format = reader.format();
        let mut input = Input::start_filtered(name, reader, format, size, streaming, keep)?;
        input.compression = opened.compression;
        input.consumed = opened.consumed;
        Ok(input)
    }

    /// Starts reading any source on a thread of its own; `streaming` for one whose
    /// records come as they happen ([`Input::streaming`]).
    pub fn start(
        name: String,
        source: impl Source,
        format: Format,
        size: Option<u64>,
        streaming: bool,
    ) -> Result<Input, Error> {
        Input::start_filtered(name, source, format, size, streaming, None)
    }

    /// [`Input::start`], keeping only the records `keep` says.
    fn start_filtered(
        name: String,
        source: impl Source,
        format: Format,
        size: Option<u64>,
        streaming: bool,
        keep: Option<Keep>,
    ) -> Result<Input, Error> {
        let (decoded_tx, decoded) = mpsc::sync_channel(decode::BATCHES);
        let (used, used_rx) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("mss-decode".into())
            .spawn(move || decode_all(source, streaming, keep, &decoded_tx, &used_rx))
            .map_err(|source| Error::Thread {
                input: name.clone(),
                source,
            })?;
        Ok(Input {
            name,
            decoded,
            used,
            thread: Some(thread),
            ended: false,
            offset: 0,
            format,
            compression: None,
            consumed: None,
            clock: None,
            raw_span: None,
            size,
            live: false,
            capture_counters: None,
            watermark_ns: 0,
            streaming,
            link_types: BTreeSet::new(),
            packets: 0,
            warnings: Vec::new(),
            more_warnings: 0,
            error: None,
            new_interfaces: Vec::new(),
            points: Vec::new(),
        })
    }

    /// What is subtracted from its timestamps: its clock's offset, if applied.
    pub(crate) fn shift_ns(&self) -> i64 {
        self.clock.filter(|c| c.applied).map_or(0, |c| c.offset_ns)
    }

    /// Its earliest and latest packet's time on the corrected clock, once read.
    pub fn span_ns(&self) -> Option<(u64, u64)> {
        let shift = self.shift_ns().saturating_neg();
        self.raw_span.map(|(a, b)| {
            (
                a.saturating_add_signed(shift),
                b.saturating_add_signed(shift),
            )
        })
    }

    /// Bytes read so far, of the file as it is (compressed bytes for a
    /// compressed file), to set against [`Input::size`].
    pub fn offset(&self) -> u64 {
        self.consumed
            .as_ref()
            .map_or(self.offset, |c| c.load(Ordering::Relaxed))
    }

    /// The next batch, `Ok(None)` at the end of the input (its totals then taken
    /// in), or why the input's thread stopped without them.
    fn next_batch(&mut self) -> Result<Option<Batch>, merge::Stopped> {
        match self.next_batch_within(Duration::MAX)? {
            Waited::Batch(batch) => Ok(Some(batch)),
            Waited::End | Waited::Nothing => Ok(None),
        }
    }

    /// [`Input::next_batch`], waiting at most `wait`.
    fn next_batch_within(&mut self, wait: Duration) -> Result<Waited, merge::Stopped> {
        if self.ended {
            return Ok(Waited::End);
        }
        let received = if wait == Duration::MAX {
            self.decoded
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        } else {
            self.decoded.recv_timeout(wait)
        };
        match received {
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(Waited::Nothing),
            Ok(Message::Batch(mut batch)) => {
                self.offset = batch.offset;
                // Later batches hold nothing older than this one's latest record
                // (a live capture delivers in order), nor than what the source
                // said was settled.
                let latest = batch.span.map(|(_, last)| last);
                if let Some(settled) = latest.max(batch.settled_ns) {
                    let settled = settled.saturating_add_signed(self.shift_ns().saturating_neg());
                    self.watermark_ns = self.watermark_ns.max(settled);
                }
                self.new_interfaces.append(&mut batch.interfaces);
                if let Some((a, b)) = batch.span {
                    self.raw_span = Some(
                        self.raw_span
                            .map_or((a, b), |(first, last)| (first.min(a), last.max(b))),
                    );
                }
                Ok(Waited::Batch(batch))
            }
            Ok(Message::End(end)) => {
                self.packets = end.packets;
                self.link_types = end.link_types;
                self.warnings = end.warnings;
                self.more_warnings = end.more_warnings;
                self.error = end.error;
                self.ended = true;
                Ok(Waited::End)
            }
            // The thread sends its `End` last; without it, it failed.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let why = match self.thread.take().map(thread::JoinHandle::join) {
                    Some(Err(panic)) => {
                        let message = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "no message".into());
                        format!("its decoding thread panicked: {message}")
                    }
                    _ => "its decoding thread stopped before the end of the input".into(),
                };
                Err(merge::Stopped {
                    input: self.name.clone(),
                    why,
                })
            }
        }
    }

    /// What it is, for reports: `pcap`, `pcapng`, or `live` for an interface.
    pub fn kind(&self) -> &'static str {
        if self.live {
            "live"
        } else {
            self.format.name()
        }
    }

    /// Opens live captures on `interfaces` (libpcap, loaded now), each an input,
    /// keeping what `filter` (tcpdump's language) matches, until `limits` say
    /// stop; the [`Stopper`] ends them all from another thread (Ctrl-C).
    pub fn live(
        interfaces: &[String],
        filter: Option<&str>,
        options: &mss_net::pcap::Options,
        limits: Limits,
    ) -> Result<(Vec<Input>, Stopper), Error> {
        let limits = Arc::new(limits);
        let mut inputs = Vec::new();
        let mut breakers = Vec::new();
        for interface in interfaces {
            let failed = |source| {
                // Which interfaces there are, for a name that is not one of them.
                let interfaces = match &source {
                    mss_net::pcap::Error::NoSuchInterface(_) => {
                        mss_net::pcap::interfaces().unwrap_or_default()
                    }
                    _ => Vec::new(),
                };
                Error::Live {
                    interface: interface.clone(),
                    source,
                    interfaces,
                }
            };
            let mut capture = mss_net::pcap::Capture::open(interface, options).map_err(failed)?;
            if let Some(filter) = filter {
                capture.set_filter(filter).map_err(failed)?;
            }
            breakers.push(capture.breaker());
            let counters = Arc::new(live::CaptureCounters::default());
            let source = live::Live::new(capture, Arc::clone(&limits), Arc::clone(&counters));
            let format = Format::Pcap {
                nanosecond: true,
                big_endian: false,
            };
            let mut input = Input::start(interface.clone(), source, format, None, true)?;
            input.live = true;
            input.capture_counters = Some(counters);
            inputs.push(input);
        }
        Ok((inputs, live::stopper(limits, breakers)))
    }

    /// Gives the interfaces that appeared since the last call their capture points:
    /// its first interface is capture point `index` (the input's own index, so a
    /// capture of one interface is the point it always was), others the next free
    /// ones (`next_point`), named to the analyzer.
    fn place_interfaces(
        &mut self,
        index: usize,
        next_point: &mut usize,
        analyzer: &mut mss_analyze::Analyzer,
    ) {
        for new in self.new_interfaces.drain(..) {
            let point = if new.index == 0 {
                index
            } else {
                *next_point += 1;
                *next_point - 1
            };
            let at = usize::from(new.index);
            if self.points.len() <= at {
                self.points.resize(at + 1, index);
            }
            if let Some(slot) = self.points.get_mut(at) {
                *slot = point;
            }
            // A live input is one interface of this host: named by it, and all
            // live inputs are one host.
            let label = if self.live {
                new.label.or_else(|| Some(self.name.clone()))
            } else {
                new.label
            };
            analyzer.name_point(
                point,
                mss_analyze::PointName {
                    input: index,
                    host: if self.live { 0 } else { index },
                    interface: label.map(Arc::from),
                },
            );
        }
    }

    /// The capture point of one of its interfaces.
    #[inline]
    fn point(&self, index: usize, interface: u16) -> usize {
        self.points
            .get(usize::from(interface))
            .copied()
            .unwrap_or(index)
    }

    /// Hands a batch back to the input's thread for reuse.
    fn recycle(&self, mut batch: Batch) {
        batch.clear();
        let _ = self.used.send(batch);
    }

    /// Its name in messages about byte offsets: a compressed file's offsets are
    /// in the decompressed data.
    fn shown(&self) -> String {
        match self.compression {
            Some(c) => format!("{} ({} decompressed)", self.name, c.name()),
            None => self.name.clone(),
        }
    }

    /// The reader's warnings, formatted with this input's name.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .warnings
            .iter()
            .map(|w| format!("{}: byte {}: {}", self.shown(), w.offset, w.message))
            .collect();
        if self.more_warnings > 0 {
            out.push(format!(
                "{}: {} more warnings like these",
                self.name, self.more_warnings
            ));
        }
        if let Some(e) = &self.error {
            if e.is_truncation() {
                out.push(format!(
                    "{}: {e}; the results cover the {} packets before it",
                    self.shown(),
                    self.packets
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
