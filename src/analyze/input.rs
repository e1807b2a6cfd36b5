//! Reading the captures: files or standard input, several merged by time, each
//! packet decoded and handed to the analyzer.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use mss_analyze::{Analyzer, ConnectionReport};
use mss_capture::{Format, LinkType, Reader, Record};
use mss_wire::packet::{Link, decode};

use crate::Failure;

/// One capture being read.
pub(crate) struct Input {
    pub(crate) name: String,
    reader: Reader<Box<dyn Read + Send>>,
    pub(crate) size: Option<u64>,
    pub(crate) format: Format,
    pub(crate) link_types: BTreeSet<LinkType>,
    pub(crate) packets: u64,
    /// The error that ended reading early, if any.
    pub(crate) error: Option<mss_capture::Error>,
}

impl Input {
    /// Opens a file, or standard input for `-`.
    pub(crate) fn open(name: &str) -> Result<Input, Failure> {
        let (source, size): (Box<dyn Read + Send>, Option<u64>) = if name == "-" {
            (Box::new(io::stdin()), None)
        } else {
            let file = File::open(name).map_err(|e| {
                Failure::Input(format!(
                    "cannot open {name}: {e}; give a pcap or pcapng file, or - for standard input"
                ))
            })?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        };
        let display = if name == "-" {
            "standard input".to_string()
        } else {
            name.to_string()
        };
        // The reading runs on its own thread, overlapping with the analysis.
        let reader = Reader::with_reader_thread(source)
            .map_err(|e| Failure::Input(format!("{display}: {e}")))?;
        Ok(Input {
            name: display,
            format: reader.format(),
            reader,
            size,
            link_types: BTreeSet::new(),
            packets: 0,
            error: None,
        })
    }

    /// Bytes read so far.
    fn offset(&self) -> u64 {
        self.reader.offset()
    }

    /// The reader's warnings, formatted with this input's name.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let (warnings, more) = self.reader.warnings();
        let mut out: Vec<String> = warnings
            .iter()
            .map(|w| format!("{}: byte {}: {}", self.name, w.offset, w.message))
            .collect();
        if more > 0 {
            out.push(format!("{}: {more} more warnings like these", self.name));
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

/// Hands one record to the analyzer.
fn feed(analyzer: &mut Analyzer, point: usize, record: &Record<'_>) {
    let Some(link) = Link::from_link_type(record.link_type.0) else {
        analyzer.on_unsupported_link(record.link_type.0);
        return;
    };
    match decode(link, record.data) {
        Ok(Some(packet)) => analyzer.on_packet(point, record.number, record.timestamp_ns, &packet),
        Ok(None) => analyzer.on_not_ip(),
        Err((offset, error)) => analyzer.on_undecodable(point, record.number, offset, &error),
    }
}

/// A copy of the next record of one input, for merging several by time.
struct Head {
    number: u64,
    timestamp_ns: u64,
    link_type: LinkType,
    data: Vec<u8>,
    original_len: u32,
    offset: u64,
}

/// Reads the next record of `input` into `head`; false at the end or on an error.
fn advance(input: &mut Input, head: &mut Head) -> bool {
    match input.reader.next_record() {
        Ok(Some(record)) => {
            input.packets += 1;
            input.link_types.insert(record.link_type);
            head.number = record.number;
            head.timestamp_ns = record.timestamp_ns;
            head.link_type = record.link_type;
            head.data.clear();
            head.data.extend_from_slice(record.data);
            head.original_len = record.original_len;
            head.offset = record.offset;
            true
        }
        Ok(None) => false,
        Err(e) => {
            input.error = Some(e);
            false
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
        // One input: no copies, records go straight from the read buffer.
        let mut last_link = None;
        loop {
            let record = match input.reader.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(e) => {
                    input.error = Some(e);
                    break;
                }
            };
            input.packets += 1;
            if last_link != Some(record.link_type) {
                last_link = Some(record.link_type);
                input.link_types.insert(record.link_type);
            }
            feed(analyzer, 0, &record);
            total_packets += 1;
            if total_packets % 65_536 == 0 {
                progress.tick(
                    input.reader.offset(),
                    total_packets,
                    analyzer.live_connections(),
                );
            }
            while let Some(report) = analyzer.poll_finished() {
                emit(report)?;
            }
        }
        progress.clear();
        return Ok(());
    }
    // Several inputs: merge by timestamp, one copied head per input.
    let mut heads: Vec<Option<Head>> = inputs
        .iter_mut()
        .map(|input| {
            let mut head = Head {
                number: 0,
                timestamp_ns: 0,
                link_type: LinkType(0),
                data: Vec::with_capacity(2048),
                original_len: 0,
                offset: 0,
            };
            advance(input, &mut head).then_some(head)
        })
        .collect();
    loop {
        let next = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|h| (h.timestamp_ns, i)))
            .min();
        let Some((_, point)) = next else { break };
        if let Some(head) = heads[point].as_ref() {
            let record = Record {
                number: head.number,
                offset: head.offset,
                data_offset: head.offset,
                timestamp_ns: head.timestamp_ns,
                link_type: head.link_type,
                interface: 0,
                data: &head.data,
                original_len: head.original_len,
            };
            feed(analyzer, point, &record);
        }
        total_packets += 1;
        if total_packets % 65_536 == 0 {
            let read = inputs.iter().map(Input::offset).sum();
            progress.tick(read, total_packets, analyzer.live_connections());
        }
        while let Some(report) = analyzer.poll_finished() {
            emit(report)?;
        }
        let more = match heads[point].as_mut() {
            Some(head) => advance(&mut inputs[point], head),
            None => false,
        };
        if !more {
            heads[point] = None;
        }
    }
    progress.clear();
    Ok(())
}
