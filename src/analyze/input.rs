//! Reading the captures: files or standard input, several merged by time, each
//! packet decoded and handed to the analyzer.
//!
//! Each input has a thread of its own that frames its records and decodes them
//! (besides the capture reader's thread, which copies the bytes in): the analysis
//! thread receives the packets decoded, in batches, and only analyses them. What a
//! packet's analysis needs of its bytes (the TCP header, for its options) travels
//! with the batch.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mss_analyze::{Analyzer, ConnectionReport};
use mss_capture::{Format, LinkType, Reader, Warning};
use mss_wire::packet::{Fragment, IpPacket, Link, Transport, Tunnel, decode};
use mss_wire::{icmp, tcp};

use crate::Failure;

/// Records decoded per batch, and batches in flight from a decoding thread.
const BATCH: usize = 512;
const BATCHES: usize = 8;

/// What one record turned out to be, owned (no borrow of the read buffer).
enum Found {
    Packet(Packet),
    NotIp,
    Unsupported(u16),
    Undecodable(usize, mss_wire::Error),
}

/// An `IpPacket` without borrows, and compact: what it carries is told by
/// `Carried`, which points into the batch for the rest (a batch is written by one
/// thread and read by another, so its size counts).
struct Packet {
    offset: usize,
    tunnel: Option<Tunnel>,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_len: u32,
    header_len: u32,
    ident: u32,
    dont_fragment: bool,
    fragment: Option<Fragment>,
    protocol: u8,
    truncated: bool,
    carried: Carried,
}

/// `Transport`, owned.
#[derive(Copy, Clone)]
enum Carried {
    /// TCP, its header at `start..end` in the batch's bytes.
    Tcp {
        start: usize,
        end: usize,
    },
    TcpTruncated,
    /// An ICMP error, at this index in the batch's messages.
    IcmpError(usize),
    LaterFragment,
    Other,
}

/// One record decoded.
struct Event {
    number: u64,
    timestamp_ns: u64,
    found: Found,
}

/// Records decoded by an input's thread, in order.
struct Batch {
    events: Vec<Event>,
    /// The TCP headers of the batch's segments.
    bytes: Vec<u8>,
    /// Its ICMP error messages.
    icmp: Vec<icmp::ErrorMessage>,
    /// Bytes of the input read once the batch was full.
    offset: u64,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            events: Vec::with_capacity(BATCH),
            bytes: Vec::with_capacity(BATCH * 64),
            icmp: Vec::new(),
            offset: 0,
        }
    }
}

/// What an input's thread reports once it has read its input.
struct End {
    packets: u64,
    link_types: BTreeSet<LinkType>,
    warnings: Vec<Warning>,
    more_warnings: u64,
    error: Option<mss_capture::Error>,
}

enum Message {
    Batch(Batch),
    End(End),
}

/// The name that reads standard input.
pub(crate) const STDIN: &str = "-";

/// Refuses inputs that cannot be read as distinct capture points: standard input
/// twice (the second would find it empty) or one file under two names (every
/// connection would seem captured at two points).
pub(crate) fn check_distinct(paths: &[PathBuf]) -> Result<(), Failure> {
    let stdin = paths.iter().filter(|p| *p == Path::new(STDIN)).count();
    if stdin > 1 {
        return Err(Failure::Input(format!(
            "- (standard input) is given {stdin} times: it can be read only once; give it \
             once, and the other captures as files"
        )));
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
            return Err(Failure::Input(format!(
                "{} and {} are the same file: give each capture once (several captures \
                 are several capture points of the same traffic)",
                first.to_string_lossy(),
                path.to_string_lossy()
            )));
        }
        seen.push((id, path));
    }
    Ok(())
}

/// One capture being read.
pub(crate) struct Input {
    pub(crate) name: String,
    /// Batches from the input's thread, and the way back for the used ones.
    decoded: mpsc::Receiver<Message>,
    used: mpsc::Sender<Batch>,
    /// Bytes read, as of the latest batch.
    offset: u64,
    pub(crate) size: Option<u64>,
    pub(crate) format: Format,
    pub(crate) link_types: BTreeSet<LinkType>,
    pub(crate) packets: u64,
    warnings: Vec<Warning>,
    more_warnings: u64,
    /// The error that ended reading early, if any.
    pub(crate) error: Option<mss_capture::Error>,
}

impl Input {
    /// Opens a file, or standard input for `-`, and starts reading it. The name
    /// is shown lossily where it is not UTF-8.
    pub(crate) fn open(path: &Path) -> Result<Input, Failure> {
        let stdin = path == Path::new(STDIN);
        let display = if stdin {
            "standard input".to_string()
        } else {
            path.to_string_lossy().into_owned()
        };
        let (source, size): (Box<dyn Read + Send>, Option<u64>) = if stdin {
            (Box::new(io::stdin()), None)
        } else {
            let file = File::open(path).map_err(|e| {
                Failure::Input(format!(
                    "cannot open {display}: {e}; give a pcap or pcapng file, or - for standard input"
                ))
            })?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        };
        // The reading runs on its own thread, overlapping with the decoding.
        let reader = Reader::with_reader_thread(source)
            .map_err(|e| Failure::Input(format!("{display}: {e}")))?;
        let format = reader.format();
        let (decoded_tx, decoded) = mpsc::sync_channel(BATCHES);
        let (used, used_rx) = mpsc::channel();
        thread::Builder::new()
            .name("mss-decode".into())
            .spawn(move || decode_all(reader, &decoded_tx, &used_rx))
            .map_err(|e| Failure::Input(format!("{display}: {e}")))?;
        Ok(Input {
            name: display,
            decoded,
            used,
            offset: 0,
            format,
            size,
            link_types: BTreeSet::new(),
            packets: 0,
            warnings: Vec::new(),
            more_warnings: 0,
            error: None,
        })
    }

    /// Bytes read so far.
    fn offset(&self) -> u64 {
        self.offset
    }

    /// The next batch, or `None` at the end of the input (its totals then taken in).
    fn next_batch(&mut self) -> Option<Batch> {
        match self.decoded.recv() {
            Ok(Message::Batch(batch)) => {
                self.offset = batch.offset;
                Some(batch)
            }
            Ok(Message::End(end)) => {
                self.packets = end.packets;
                self.link_types = end.link_types;
                self.warnings = end.warnings;
                self.more_warnings = end.more_warnings;
                self.error = end.error;
                None
            }
            // The thread never ends without its `End`.
            Err(_) => None,
        }
    }

    /// Hands a batch back to the input's thread for reuse.
    fn recycle(&self, mut batch: Batch) {
        batch.events.clear();
        batch.bytes.clear();
        batch.icmp.clear();
        let _ = self.used.send(batch);
    }

    /// The reader's warnings, formatted with this input's name.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .warnings
            .iter()
            .map(|w| format!("{}: byte {}: {}", self.name, w.offset, w.message))
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
                    self.name, self.packets
                ));
            }
        }
        out
    }
}

/// An input's thread: frames and decodes every record, sending them in batches,
/// then the totals. Stops early if the analysis thread is gone.
fn decode_all(
    mut reader: Reader<Box<dyn Read + Send>>,
    decoded: &mpsc::SyncSender<Message>,
    used: &mpsc::Receiver<Batch>,
) {
    let mut packets: u64 = 0;
    let mut link_types = BTreeSet::new();
    let mut last_link = None;
    let mut error = None;
    let mut batch = Batch::new();
    loop {
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        packets += 1;
        if last_link != Some(record.link_type) {
            last_link = Some(record.link_type);
            link_types.insert(record.link_type);
        }
        let found = match Link::from_link_type(record.link_type.0) {
            None => Found::Unsupported(record.link_type.0),
            Some(link) => match decode(link, record.data) {
                Ok(Some(packet)) => owned(&packet, &mut batch),
                Ok(None) => Found::NotIp,
                Err((offset, error)) => Found::Undecodable(offset, error),
            },
        };
        batch.events.push(Event {
            number: record.number,
            timestamp_ns: record.timestamp_ns,
            found,
        });
        if batch.events.len() == BATCH {
            batch.offset = reader.offset();
            let next = used.try_recv().unwrap_or_else(|_| Batch::new());
            if decoded
                .send(Message::Batch(std::mem::replace(&mut batch, next)))
                .is_err()
            {
                return;
            }
        }
    }
    batch.offset = reader.offset();
    if !batch.events.is_empty() && decoded.send(Message::Batch(batch)).is_err() {
        return;
    }
    let (warnings, more_warnings) = reader.warnings();
    let _ = decoded.send(Message::End(End {
        packets,
        link_types,
        warnings: warnings.to_vec(),
        more_warnings,
        error,
    }));
}

/// A decoded packet without borrows: a TCP header is copied to the batch's bytes
/// (the whole segment when the IP length does not bound it, as the analysis then
/// measures the payload captured), an ICMP message to its messages.
fn owned(packet: &IpPacket<'_>, batch: &mut Batch) -> Found {
    let carried = match packet.transport {
        Transport::Tcp(segment) => {
            let header_len = segment.header_len();
            let data = segment.into_inner();
            let keep = if packet.ip_len == 0 {
                data.len()
            } else {
                data.len().min(header_len)
            };
            let start = batch.bytes.len();
            batch.bytes.extend_from_slice(&data[..keep]);
            Carried::Tcp {
                start,
                end: batch.bytes.len(),
            }
        }
        Transport::TcpTruncated => Carried::TcpTruncated,
        Transport::IcmpError(message) => {
            batch.icmp.push(message);
            Carried::IcmpError(batch.icmp.len() - 1)
        }
        Transport::LaterFragment => Carried::LaterFragment,
        Transport::Other => Carried::Other,
    };
    Found::Packet(Packet {
        offset: packet.offset,
        tunnel: packet.tunnel,
        src: packet.src,
        dst: packet.dst,
        ttl: packet.ttl,
        ip_len: packet.ip_len,
        header_len: packet.header_len,
        ident: packet.ident,
        dont_fragment: packet.dont_fragment,
        fragment: packet.fragment,
        protocol: packet.protocol,
        truncated: packet.truncated,
        carried,
    })
}

/// Hands one decoded record to the analyzer.
#[inline]
fn feed(analyzer: &mut Analyzer, point: usize, event: &Event, batch: &Batch) {
    match &event.found {
        Found::Packet(p) => {
            let transport = match p.carried {
                Carried::Tcp { start, end } => {
                    Transport::Tcp(tcp::Packet::new_unchecked(&batch.bytes[start..end]))
                }
                Carried::TcpTruncated => Transport::TcpTruncated,
                Carried::IcmpError(i) => match batch.icmp.get(i) {
                    Some(message) => Transport::IcmpError(*message),
                    None => Transport::Other,
                },
                Carried::LaterFragment => Transport::LaterFragment,
                Carried::Other => Transport::Other,
            };
            let packet = IpPacket {
                offset: p.offset,
                tunnel: p.tunnel,
                src: p.src,
                dst: p.dst,
                ttl: p.ttl,
                ip_len: p.ip_len,
                header_len: p.header_len,
                ident: p.ident,
                dont_fragment: p.dont_fragment,
                fragment: p.fragment,
                protocol: p.protocol,
                truncated: p.truncated,
                transport,
            };
            analyzer.on_packet(point, event.number, event.timestamp_ns, &packet);
        }
        Found::NotIp => analyzer.on_not_ip(),
        Found::Unsupported(link_type) => analyzer.on_unsupported_link(*link_type),
        Found::Undecodable(offset, error) => {
            analyzer.on_undecodable(point, event.number, *offset, error);
        }
    }
}

/// Where the merge is in one input: its current batch and the next record in it.
struct Cursor {
    batch: Option<Batch>,
    at: usize,
}

impl Cursor {
    /// The timestamp of the input's next record, loading batches as needed; `None`
    /// once the input is read.
    fn peek(&mut self, input: &mut Input) -> Option<u64> {
        loop {
            if let Some(batch) = &self.batch {
                if let Some(event) = batch.events.get(self.at) {
                    return Some(event.timestamp_ns);
                }
            }
            if let Some(done) = self.batch.take() {
                input.recycle(done);
            }
            self.at = 0;
            self.batch = Some(input.next_batch()?);
        }
    }
}

/// A progress line on standard error for large inputs, when it is a terminal.
pub(crate) struct Progress {
    enabled: bool,
    total: Option<u64>,
    last: Instant,
    shown: bool,
}

impl Progress {
    pub(crate) fn new(inputs: &[Input], disabled: bool) -> Progress {
        let total: Option<u64> = inputs.iter().map(|i| i.size).sum();
        let large = total.is_none_or(|t| t >= 64 << 20);
        Progress {
            enabled: !disabled && large && io::stderr().is_terminal(),
            total,
            last: Instant::now(),
            shown: false,
        }
    }

    fn tick(&mut self, read: u64, packets: u64, live: usize) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(250) {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let percent = self
            .total
            .filter(|&t| t > 0)
            .map(|t| format!("{:>3}% ", read.saturating_mul(100) / t))
            .unwrap_or_default();
        let _ = write!(
            io::stderr(),
            "\rmss: {percent}{} MB read, {packets} packets, {live} open connections   ",
            read >> 20
        );
    }

    fn clear(&mut self) {
        if self.shown {
            let _ = write!(io::stderr(), "\r{:79}\r", "");
        }
    }
}

/// Reads every input to its end (or first error), feeding the analyzer in time
/// order, and passes each finished connection to `emit` as soon as it is done.
pub(crate) fn read_all(
    inputs: &mut [Input],
    analyzer: &mut Analyzer,
    progress: &mut Progress,
    emit: &mut dyn FnMut(ConnectionReport) -> io::Result<()>,
) -> io::Result<()> {
    let mut total_packets: u64 = 0;
    if let [input] = inputs {
        // One input: its batches in order.
        while let Some(batch) = input.next_batch() {
            for event in &batch.events {
                feed(analyzer, 0, event, &batch);
                total_packets += 1;
                if total_packets % 65_536 == 0 {
                    progress.tick(input.offset(), total_packets, analyzer.live_connections());
                }
            }
            input.recycle(batch);
            // Connections that finished during the batch, in the order they did.
            while let Some(report) = analyzer.poll_finished() {
                emit(report)?;
            }
        }
        progress.clear();
        return Ok(());
    }
    // Several inputs: merge by timestamp (the earliest first; the first input
    // first among equal ones).
    let mut cursors: Vec<Cursor> = inputs
        .iter()
        .map(|_| Cursor { batch: None, at: 0 })
        .collect();
    loop {
        let mut next: Option<(u64, usize)> = None;
        for (point, (cursor, input)) in cursors.iter_mut().zip(inputs.iter_mut()).enumerate() {
            if let Some(ts) = cursor.peek(input) {
                if next.is_none_or(|(best, _)| ts < best) {
                    next = Some((ts, point));
                }
            }
        }
        let Some((_, point)) = next else { break };
        let cursor = &mut cursors[point];
        if let Some(batch) = &cursor.batch {
            if let Some(event) = batch.events.get(cursor.at) {
                feed(analyzer, point, event, batch);
            }
        }
        cursor.at += 1;
        total_packets += 1;
        if total_packets % 65_536 == 0 {
            let read = inputs.iter().map(Input::offset).sum();
            progress.tick(read, total_packets, analyzer.live_connections());
        }
        while let Some(report) = analyzer.poll_finished() {
            emit(report)?;
        }
    }
    progress.clear();
    Ok(())
}
