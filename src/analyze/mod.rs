//! `mss analyze`: read captures, run the analysis, render the connections.

mod csv;
pub(crate) mod html;
mod human;
mod json;
mod progress;
mod svg;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;

use mss_analyze::record::ConnectionRecord;
use mss_analyze::{Analyzer, Config, ConnectionReport, Summary};

use crate::Failure;
use crate::cli::AnalyzeArgs;
use mss_ingest::{Input, ReadError, Sink};
use progress::Progress;

/// Exit status when a `--fail-on` finding occurred.
const EXIT_FINDING: u8 = 1;

/// What the user asked to see.
struct Filter {
    hosts: Vec<std::net::IpAddr>,
    ports: Vec<u16>,
    ids: Vec<u64>,
}

impl Filter {
    fn keeps(&self, report: &ConnectionReport) -> bool {
        let ends = [&report.client, &report.server];
        (self.hosts.is_empty() || ends.iter().any(|e| self.hosts.contains(&e.addr)))
            && (self.ports.is_empty() || ends.iter().any(|e| self.ports.contains(&e.port)))
            && (self.ids.is_empty() || self.ids.contains(&report.id))
    }
}

/// What the analysis reported, to name the requested connections it did not
/// have (only the requested ids are remembered: memory stays bounded).
struct IdsSeen {
    range: Option<(u64, u64)>,
    reported: u64,
    shown: u64,
    /// Per `--connection` id, whether it was reported.
    requested: Vec<(u64, bool)>,
}

impl IdsSeen {
    fn new(filter: &Filter) -> IdsSeen {
        IdsSeen {
            range: None,
            reported: 0,
            shown: 0,
            requested: filter.ids.iter().map(|&id| (id, false)).collect(),
        }
    }

    fn see(&mut self, id: u64) {
        self.range = Some(match self.range {
            Some((low, high)) => (low.min(id), high.max(id)),
            None => (id, id),
        });
        self.reported += 1;
        for (wanted, found) in &mut self.requested {
            *found |= *wanted == id;
        }
    }

    /// One line per --connection id the input lacks; one for --host/--port
    /// filters that matched nothing.
    fn unmatched(&self, filter: &Filter) -> Vec<String> {
        let range = match self.range {
            Some((low, high)) if low == high => format!("only #{low}"),
            Some((low, high)) => format!("ids {low}-{high}"),
            None => "it has no TCP connections".to_string(),
        };
        let mut notes: Vec<String> = self
            .requested
            .iter()
            .filter(|(_, found)| !found)
            .map(|(id, _)| format!("no connection #{id} in the input ({range})"))
            .collect();
        let narrowed = !filter.hosts.is_empty() || !filter.ports.is_empty();
        if notes.is_empty() && narrowed && self.shown == 0 && self.reported > 0 {
            let mut given: Vec<String> =
                filter.hosts.iter().map(|h| format!("--host {h}")).collect();
            given.extend(filter.ports.iter().map(|p| format!("--port {p}")));
            notes.push(format!(
                "no connection matched {} ({} connections in the input)",
                given.join(" "),
                self.reported
            ));
        }
        notes
    }
}

/// How connections are printed.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Format {
    /// Collected, printed at the end as a table with explanations.
    Human,
    /// One JSON line each, as they finish.
    Json,
    /// The same, with each connection's time series (`--segments`).
    JsonSegments,
    /// Collected, written at the end as an HTML page.
    Html,
    /// One CSV row each, as they finish.
    Csv,
}

/// What travels to the output thread: connections to format there, or records the
/// analysis thread already formatted. Either way in the order they finished.
enum Batch {
    Reports(Vec<ConnectionReport>),
    Text(Vec<u8>),
    /// The input is silent: write out what is buffered.
    Flush,
}

/// Appends the records of `reports` to `text`.
fn format_records(
    format: Format,
    reports: &[ConnectionReport],
    names: &[String],
    text: &mut Vec<u8>,
) {
    for report in reports {
        match format {
            Format::Json => json::connection(text, report, names),
            Format::JsonSegments => json::connection_with_segments(text, report, names),
            // Writing into a Vec cannot fail.
            _ => {
                let _ = csv::row(text, report);
            }
        }
    }
}

/// Connections handed to the formatting thread at a time, and batches in flight.
const WRITER_BATCH: usize = 256;
const WRITER_QUEUE: usize = 16;
/// Once the input is read, the analysis thread formats one batch in this many
/// itself; it also builds every report, so the output thread takes the rest.
const SHARE_EVERY: usize = 4;

/// The connections of these captures analysed together, as the records `mss analyze
/// --json` prints for them, in the same order, with the same warnings on standard
/// error and the same error for an input that could not be read whole: for `mss
/// lab`, which judges them.
pub(crate) fn records(paths: &[PathBuf]) -> Result<Vec<ConnectionRecord>, Failure> {
    let mut inputs = open_inputs(paths, &[], None)?;
    let config = config(&inputs, LAB_MAX_CONNECTIONS, false);
    let mut analyzer = Analyzer::new(config);
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let mut reading = Reading {
        progress: Progress::new(&inputs, true),
        stopped: None,
    };
    let mut records = Vec::new();
    let mut emit = |report: ConnectionReport| -> io::Result<()> {
        records.push(ConnectionRecord::new(&report, &names));
        Ok(())
    };
    reading.read_to_end(&mut inputs, &mut analyzer, &mut emit)?;
    let summary = analyzer.summary();
    let ending = Ending {
        summary: &summary,
        inputs: &inputs,
        max_connections: config.max_connections,
        stopped: reading.stopped.take(),
    };
    for warning in ending.warnings() {
        let _ = writeln!(io::stderr(), "mss: warning: {warning}");
    }
    ending.fatal()?;
    Ok(records)
}

/// The HTML report of these captures analysed together, written to `dest` (a new
/// file): for `mss lab run --out DIR`, after [`records`] (which said the warnings
/// already; the lab's captures are small, so reading them again costs little).
pub(crate) fn html_file(paths: &[PathBuf], dest: &std::path::Path) -> Result<(), Failure> {
    let mut inputs = open_inputs(paths, &[], None)?;
    let config = config(&inputs, LAB_MAX_CONNECTIONS, true);
    let mut analyzer = Analyzer::new(config);
    let mut reading = Reading {
        progress: Progress::new(&inputs, true),
        stopped: None,
    };
    let mut keeper = html::Keeper::new(html::DEFAULT_PLOTS);
    let mut emit = |report: ConnectionReport| -> io::Result<()> {
        keeper.push(report);
        Ok(())
    };
    reading.read_to_end(&mut inputs, &mut analyzer, &mut emit)?;
    let reports = keeper.reports;
    let summary = analyzer.summary();
    let ending = Ending {
        summary: &summary,
        inputs: &inputs,
        max_connections: config.max_connections,
        stopped: reading.stopped.take(),
    };
    let warnings = ending.warnings();
    ending.fatal()?;
    let captures: Vec<html::Capture> = inputs.iter().map(html::Capture::of).collect();
    let mut file = crate::outfile::NewFile::create(dest, false).map_err(Failure::Input)?;
    let mut writer = io::BufWriter::new(file.file());
    html::write(
        &mut writer,
        &reports,
        &summary,
        &captures,
        &warnings,
        html::DEFAULT_PLOTS,
    )
    .and_then(|()| writer.flush())
    .map_err(|e| Failure::Input(format!("{}: {e}", dest.display())))?;
    drop(writer);
    file.persist().map_err(Failure::Input)
}

/// The connection limit of [`records`]: the lab's captures hold a few dozen.
const LAB_MAX_CONNECTIONS: usize = 500_000;

/// How long a closed connection of a streaming input is kept for late packets.
const STREAM_LINGER_NS: u64 = 500_000_000;

/// The analysis settings for these inputs.
fn config(inputs: &[Input], max_connections: usize, segments: bool) -> Config {
    Config {
        max_connections,
        segments,
        // Captures from several points are merged by time; keep closed connections
        // long enough for the other points' copies (and some clock skew).
        //
        // A stream (a pipe from tcpdump, live interfaces, which share the host's
        // clock) lingers briefly instead: a connection's record is out about a
        // second after its end. A packet later than that after the close (a last
        // ACK over a slower path) starts a connection of its own.
        linger_ns: match inputs {
            _ if !inputs.is_empty() && inputs.iter().all(|i| i.live) => STREAM_LINGER_NS,
            [_, _, ..] => 60_000_000_000,
            [input] if input.streaming => STREAM_LINGER_NS,
            _ => Config::default().linger_ns,
        },
        ..Config::default()
    }
}

/// Which connections are shown, and what the `--fail-on` check has seen.
struct Selection<'a> {
    filter: Filter,
    ids: IdsSeen,
    fail_on: Option<&'a crate::cli::FailOn>,
    failed_on: bool,
}

impl<'a> Selection<'a> {
    fn new(args: &'a AnalyzeArgs) -> Selection<'a> {
        let filter = Filter {
            hosts: args.host.clone(),
            ports: args.port.clone(),
            ids: args.connection.clone(),
        };
        Selection {
            ids: IdsSeen::new(&filter),
            filter,
            fail_on: args.fail_on.as_ref(),
            failed_on: false,
        }
    }

    /// Whether to show `report`; notes its id and its findings either way.
    fn keep(&mut self, report: &ConnectionReport) -> bool {
        self.ids.see(report.id);
        if !self.filter.keeps(report) {
            return false;
        }
        self.ids.shown += 1;
        if let Some(fail_on) = self.fail_on {
            self.failed_on |= report.findings.iter().any(|f| fail_on.matches(f.kind()));
        }
        true
    }
}

/// The reading: progress on the terminal, and an input whose thread failed (said
/// once the results so far are out, exit 2).
struct Reading {
    progress: Progress,
    stopped: Option<String>,
}

impl Reading {
    /// [`Reading::read_all`], then the connections still open: every report goes
    /// to `emit`.
    fn read_to_end(
        &mut self,
        inputs: &mut [Input],
        analyzer: &mut Analyzer,
        emit: &mut dyn Sink,
    ) -> io::Result<()> {
        self.read_all(inputs, analyzer, emit)?;
        analyzer.end();
        while let Some(report) = analyzer.poll_finished() {
            emit.connection(report)?;
        }
        Ok(())
    }

    /// Reads every input, handing finished connections to `emit`.
    fn read_all(
        &mut self,
        inputs: &mut [Input],
        analyzer: &mut Analyzer,
        emit: &mut dyn Sink,
    ) -> io::Result<()> {
        let progress = &mut self.progress;
        let read = mss_ingest::read_all(inputs, analyzer, &mut |tick| progress.tick(tick), emit);
        self.progress.clear();
        match read {
            Ok(()) => Ok(()),
            Err(ReadError::Emit(e)) => Err(e),
            Err(e @ ReadError::Input { .. }) => {
                self.stopped = Some(e.to_string());
                Ok(())
            }
        }
    }
}

/// Opens every capture (refusing the same one twice).
/// Opens the inputs and places their clocks (`offsets`: `--time-offset`).
pub(crate) fn open_inputs(
    paths: &[std::path::PathBuf],
    offsets: &[(std::path::PathBuf, i64)],
    filter: Option<&str>,
) -> Result<Vec<Input>, Failure> {
    let failed = |e: mss_ingest::Error| Failure::Input(e.to_string());
    mss_ingest::check_distinct(paths).map_err(failed)?;
    let mut given = vec![None; paths.len()];
    for (capture, offset) in offsets {
        let Some(i) = paths.iter().position(|p| p == capture) else {
            return Err(Failure::Input(format!(
                "--time-offset {}: not one of the captures given ({})",
                capture.display(),
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        given[i] = Some(*offset);
    }
    let mut inputs: Vec<Input> = paths
        .iter()
        .map(|path| {
            let keep = filter
                .map(mss_ingest::filter)
                .transpose()
                .map_err(|e| Failure::Input(e.to_string()))?;
            Input::open_filtered(path, keep).map_err(failed)
        })
        .collect::<Result<_, _>>()?;
    mss_ingest::place_clocks(paths, &mut inputs, &given);
    Ok(inputs)
}

/// The inputs the arguments name: live interfaces (`-i`), or capture files (`-r`,
/// or the arguments), with the capture filter the other words make (after `-i` or
/// `-r`). A live capture ends on Ctrl-C (or SIGTERM), its count or its duration.
fn inputs_of(args: &AnalyzeArgs) -> Result<Vec<Input>, Failure> {
    let words: Vec<String> = args
        .inputs
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let filter = (!args.interfaces.is_empty() || !args.read.is_empty())
        .then(|| words.join(" "))
        .filter(|f| !f.trim().is_empty());
    if !args.interfaces.is_empty() {
        let (inputs, stopper) = live_inputs(
            &args.interfaces,
            filter.as_deref(),
            args.count,
            args.duration,
            args.snaplen,
        )?;
        stop_on_signals(stopper)?;
        // Said once every interface is open: from here nothing is missed.
        let _ = writeln!(
            io::stderr(),
            "mss: capturing on {}; Ctrl-C ends the capture and prints the report",
            args.interfaces.join(", ")
        );
        return Ok(inputs);
    }
    let paths = if args.read.is_empty() {
        args.inputs.clone()
    } else {
        args.read.clone()
    };
    if paths.is_empty() {
        return Err(Failure::Input(
            "nothing to analyse: give capture files (- for standard input), or -i \
             INTERFACE to capture live"
                .to_string(),
        ));
    }
    open_inputs(&paths, &args.time_offset, filter.as_deref())
}

/// Opens live captures on `interfaces` (libpcap), with a filter in tcpdump's
/// language, ending after `count` packets or `duration` seconds if given, with
/// `snaplen` bytes of each packet (0: whole packets).
pub(crate) fn live_inputs(
    interfaces: &[String],
    filter: Option<&str>,
    count: Option<u64>,
    duration: Option<f64>,
    snaplen: u32,
) -> Result<(Vec<Input>, mss_ingest::Stopper), Failure> {
    let until = match duration {
        Some(s) if (0.0..1e9).contains(&s) => {
            Some(std::time::Instant::now() + std::time::Duration::from_secs_f64(s))
        }
        Some(s) => {
            return Err(Failure::Input(format!(
                "--duration {s}: give a number of seconds, 0 or more"
            )));
        }
        None => None,
    };
    let options = mss_net::pcap::Options {
        // 0: whole packets, libpcap's largest snaplen (the default's).
        snaplen: match snaplen {
            0 => mss_net::pcap::Options::default().snaplen,
            bytes => bytes,
        },
        ..mss_net::pcap::Options::default()
    };
    let limits = mss_ingest::Limits::new(count, until);
    Input::live(interfaces, filter, &options, limits).map_err(|e| Failure::Input(e.to_string()))
}

/// Ctrl-C (or SIGTERM, SIGHUP) ends the live captures: the analysis then reports
/// what it has. A second one ends mss at once.
pub(crate) fn stop_on_signals(stopper: mss_ingest::Stopper) -> Result<(), Failure> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Failure::Input(format!("cannot take Ctrl-C: {e}")))?;
    std::thread::Builder::new()
        .name("mss-signals".into())
        .spawn(move || {
            let mut seen = 0;
            for _ in signals.forever() {
                seen += 1;
                if seen > 1 {
                    std::process::exit(130);
                }
                stopper.stop();
            }
        })
        .map_err(|e| Failure::Input(format!("cannot take Ctrl-C: {e}")))?;
    Ok(())
}

pub(crate) fn run(args: &AnalyzeArgs, out: &mut (impl Write + Send)) -> Result<ExitCode, Failure> {
    if let Some(path) = args
        .html
        .as_deref()
        .filter(|p| *p != std::path::Path::new("-"))
    {
        // Before the analysis: a path that will not be written is said at once.
        crate::outfile::check(path, args.force).map_err(Failure::Input)?;
    }
    let mut inputs = inputs_of(args)?;
    let config = config(
        &inputs,
        args.max_connections,
        args.segments || args.html.is_some(),
    );
    let mut analyzer = Analyzer::new(config);
    let format = if args.html.is_some() {
        Format::Html
    } else if args.json && args.segments {
        Format::JsonSegments
    } else if args.json {
        Format::Json
    } else if args.csv {
        csv::header(out)?;
        Format::Csv
    } else {
        Format::Human
    };
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let mut selection = Selection::new(args);
    let mut reading = Reading {
        progress: Progress::new(&inputs, args.no_progress),
        stopped: None,
    };
    let mut shown: Vec<ConnectionReport> = Vec::new();
    let summary = if format == Format::Html {
        // Only the time series of connections that may be plotted are kept.
        let mut keeper = html::Keeper::new(args.plots);
        let mut emit = |report: ConnectionReport| -> io::Result<()> {
            if selection.keep(&report) {
                keeper.push(report);
            }
            Ok(())
        };
        reading.read_to_end(&mut inputs, &mut analyzer, &mut emit)?;
        shown = keeper.reports;
        analyzer.summary()
    } else if format == Format::Human {
        // From a stream or a live capture, a line for each connection as it
        // ends; the report follows at the end of the input (or Ctrl-C).
        let streaming = inputs.iter().any(|i| i.streaming);
        let mut emit = |report: ConnectionReport| -> io::Result<()> {
            if selection.keep(&report) {
                if streaming {
                    human::as_it_ends(&mut *out, &report)?;
                }
                shown.push(report);
            }
            Ok(())
        };
        reading.read_all(&mut inputs, &mut analyzer, &mut emit)?;
        let summary = analyzer.finish();
        while let Some(report) = analyzer.poll_finished() {
            emit(report)?;
        }
        if streaming && !shown.is_empty() {
            // The lines as they ended, then the report.
            writeln!(out)?;
        }
        summary
    } else {
        let mut job = Streaming {
            inputs: &mut inputs,
            analyzer: &mut analyzer,
            reading: &mut reading,
            selection: &mut selection,
        };
        job.run(format, &names, out)?
    };
    let ending = Ending {
        summary: &summary,
        inputs: &inputs,
        max_connections: config.max_connections,
        stopped: reading.stopped.take(),
    };
    ending.report(args, format, &selection, &mut shown, out)
}

/// JSON and CSV: records are formatted on a thread of their own while the analysis
/// goes on; finished connections travel to it in order, in batches so the two
/// threads hand over rarely. Once the input is read, the analysis thread is free: it
/// builds the remaining reports as it hands them on and formats one batch in
/// `SHARE_EVERY` itself. A capture shorter than the linger (most captures) finishes
/// all its connections at the end, and that burst then uses both cores.
struct Streaming<'r, 'a> {
    inputs: &'r mut [Input],
    analyzer: &'r mut Analyzer,
    reading: &'r mut Reading,
    selection: &'r mut Selection<'a>,
}

impl Streaming<'_, '_> {
    fn run(
        &mut self,
        format: Format,
        names: &[String],
        out: &mut (impl Write + Send),
    ) -> io::Result<Summary> {
        std::thread::scope(|scope| -> io::Result<Summary> {
            let (tx, rx) = mpsc::sync_channel::<Batch>(WRITER_QUEUE);
            let out = &mut *out;
            let writer = scope.spawn(move || -> io::Result<()> {
                let mut text = Vec::new();
                for batch in rx {
                    match batch {
                        Batch::Reports(reports) => {
                            text.clear();
                            format_records(format, &reports, names, &mut text);
                            out.write_all(&text)?;
                        }
                        Batch::Text(text) => out.write_all(&text)?,
                        Batch::Flush => out.flush()?,
                    }
                }
                Ok(())
            });
            let mut records = Records {
                batch: Vec::with_capacity(WRITER_BATCH),
                sent: 0,
                share: false,
                tx,
                selection: &mut *self.selection,
                format,
                names,
            };
            let read = self
                .reading
                .read_all(self.inputs, self.analyzer, &mut records);
            // Once the input is read, the analysis thread formats some batches.
            records.share = true;
            // The reports of the connections still open are built one by one as
            // they are taken, so the output thread starts on the first batch at once.
            self.analyzer.end();
            let mut drained = read;
            while let Some(report) = self.analyzer.poll_finished() {
                if drained.is_ok() {
                    if let Err(e) = records.connection(report) {
                        drained = Err(e);
                    }
                }
            }
            let mut drained = drained.map(|()| self.analyzer.summary());
            if drained.is_ok() {
                if let Err(e) = records.send_batch() {
                    drained = Err(e);
                }
            }
            drop(records);
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("output thread panicked")));
            // A write error (a closed pipe) is the real cause when both failed.
            written.and(drained)
        })
    }
}

/// The records of the connections shown, on their way to the output thread in
/// batches: a full batch goes at once, a partial one when the input falls silent
/// (a stream's records are out about a second after their connection's end).
struct Records<'s, 'a> {
    batch: Vec<ConnectionReport>,
    sent: usize,
    /// Set once the input is read: the analysis thread formats some batches.
    share: bool,
    tx: mpsc::SyncSender<Batch>,
    selection: &'s mut Selection<'a>,
    format: Format,
    names: &'s [String],
}

impl Records<'_, '_> {
    /// Sends the batch so far, if any.
    fn send_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(WRITER_BATCH));
        self.sent += 1;
        let message = if self.share && self.sent % SHARE_EVERY == 0 {
            let mut text = Vec::with_capacity(WRITER_BATCH * 1536);
            format_records(self.format, &full, self.names, &mut text);
            Batch::Text(text)
        } else {
            Batch::Reports(full)
        };
        // The writer only stops early on a write error, reported by the caller.
        self.tx
            .send(message)
            .map_err(|_| io::Error::other("output stopped"))
    }
}

impl Sink for Records<'_, '_> {
    fn connection(&mut self, report: ConnectionReport) -> io::Result<()> {
        if self.selection.keep(&report) {
            self.batch.push(report);
            if self.batch.len() == WRITER_BATCH {
                self.send_batch()?;
            }
        }
        Ok(())
    }

    fn idle(&mut self) -> io::Result<()> {
        self.send_batch()?;
        self.tx
            .send(Batch::Flush)
            .map_err(|_| io::Error::other("output stopped"))
    }
}

/// Writes the HTML report to `--html FILE` (a new file, named only once complete)
/// or to standard output for `-`, and says on standard error what it holds.
fn write_html(
    args: &AnalyzeArgs,
    reports: &[ConnectionReport],
    summary: &Summary,
    inputs: &[Input],
    warnings: &[String],
    out: &mut impl Write,
) -> Result<(), Failure> {
    let Some(path) = args.html.as_deref() else {
        return Ok(());
    };
    let captures: Vec<html::Capture> = inputs.iter().map(html::Capture::of).collect();
    let plots = html::plotted(reports, args.plots).len();
    if path == std::path::Path::new("-") {
        html::write(out, reports, summary, &captures, warnings, args.plots)?;
    } else {
        let mut file = crate::outfile::NewFile::create(path, args.force).map_err(Failure::Input)?;
        let mut writer = io::BufWriter::new(file.file());
        html::write(
            &mut writer,
            reports,
            summary,
            &captures,
            warnings,
            args.plots,
        )
        .and_then(|()| writer.flush())
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
        drop(writer);
        file.persist().map_err(Failure::Input)?;
    }
    let _ = writeln!(
        io::stderr(),
        "mss: wrote {}: {} connections, {plots} with plots",
        path.display(),
        reports.len()
    );
    Ok(())
}

/// What is said about the captures' clocks: an offset found and corrected, and
/// captures that share no time with any other (their clocks may differ by more
/// than their length, or they are not of the same traffic).
fn clock_warnings(inputs: &[Input]) -> Vec<String> {
    let mut warnings = Vec::new();
    let first = inputs.first().map_or("", |i| i.name.as_str());
    for (i, input) in inputs.iter().enumerate() {
        let Some(clock) = input.clock.filter(|c| c.applied) else {
            continue;
        };
        let seconds = clock.offset_ns as f64 / 1e9;
        let direction = if seconds < 0.0 { "behind" } else { "ahead of" };
        let how = match clock.basis {
            mss_ingest::OffsetBasis::Given => "as given with --time-offset".to_string(),
            mss_ingest::OffsetBasis::Syns(n) => format!(
                "the median over {n} SYNs and SYN-ACKs the captures share; --time-offset \
                 {}=SECONDS sets it by hand",
                input.name
            ),
        };
        // The first capture's own offset can only be given: against the others'.
        let whose = if i == 0 {
            "the other captures'".to_string()
        } else {
            format!("{first}'s")
        };
        warnings.push(format!(
            "{}: its clock is {:.3} s {direction} {whose} ({how}); its times are corrected",
            input.name,
            seconds.abs()
        ));
    }
    if inputs.len() > 1 {
        for (i, input) in inputs.iter().enumerate() {
            let Some((first_ns, last_ns)) = input.span_ns() else {
                continue;
            };
            let overlaps = inputs.iter().enumerate().any(|(j, other)| {
                j != i
                    && other
                        .span_ns()
                        .is_some_and(|(a, b)| a <= last_ns && first_ns <= b)
            });
            if !overlaps {
                warnings.push(format!(
                    "{}: shares no time with the other captures: if their clocks differ, \
                     give the offset with --time-offset {}=SECONDS; otherwise they are not \
                     of the same traffic and no connection is matched across them",
                    input.name, input.name
                ));
            }
        }
    }
    warnings
}

/// What is said once the connections are out: warnings, the report's end, errors.
struct Ending<'a> {
    summary: &'a Summary,
    inputs: &'a [Input],
    max_connections: usize,
    stopped: Option<String>,
}

impl Ending<'_> {
    /// The inputs' warnings and the connections reported early.
    fn warnings(&self) -> Vec<String> {
        let mut warnings: Vec<String> = self.inputs.iter().flat_map(Input::warnings).collect();
        for input in self.inputs {
            let Some(counters) = &input.capture_counters else {
                continue;
            };
            if counters.dropped() > 0 {
                warnings.push(format!(
                    "{}: the capture dropped {} of {} packets before mss read them (the \
                     kernel's buffer was full, or the interface dropped them): their \
                     connections may be incomplete; narrow the filter, or capture fewer \
                     interfaces at once",
                    input.name,
                    counters.dropped(),
                    counters.received()
                ));
            }
        }
        warnings.extend(clock_warnings(self.inputs));
        warnings.extend(self.length_warnings());
        if self.summary.evicted > 0 {
            warnings.push(format!(
                "{} connections were reported early (ending \"evicted\", half-open ones \
                 first) because more than {} were open at once; raise --max-connections to \
                 keep them whole",
                self.summary.evicted, self.max_connections
            ));
        }
        warnings
    }

    /// Packets whose IP length is more than their frame: malformed, named.
    fn length_warnings(&self) -> Option<String> {
        let summary = self.summary;
        if summary.length_beyond_frame == 0 {
            return None;
        }
        let examples: Vec<String> = summary
            .length_beyond_frame_examples
            .iter()
            .map(|&(input, number, offset, claimed, there)| {
                let name = self.inputs.get(input).map_or("?", |i| i.name.as_str());
                format!(
                    "{name} packet {number} (IP header at byte {offset} of the frame): IP \
                     length {claimed}, {there} bytes there"
                )
            })
            .collect();
        let more = summary.length_beyond_frame - examples.len() as u64;
        Some(format!(
            "{} packets claim an IP length beyond the end of their frame on the wire \
             (malformed, or the capture tool cut them without saying so): {}{}; mss used \
             the bytes the frames hold and took no segment size from the lengths",
            summary.length_beyond_frame,
            examples.join("; "),
            if more > 0 {
                format!("; {more} more")
            } else {
                String::new()
            }
        ))
    }

    /// Why nothing could be analysed, when no frame decoded to IP: every link type
    /// unsupported, or every frame undecodable.
    fn nothing_decoded(&self) -> Option<String> {
        let summary = self.summary;
        if summary.ip_packets > 0 || summary.not_ip > 0 || summary.packets == 0 {
            return None;
        }
        let unsupported: Vec<String> = self
            .inputs
            .iter()
            .flat_map(|i| {
                i.link_types
                    .iter()
                    .filter(|l| !l.is_decoded())
                    .map(move |l| format!("{}: {}", i.name, l.name()))
            })
            .collect();
        Some(if unsupported.is_empty() {
            format!(
                "none of the {} packets could be decoded (the first reasons are above); \
                 check that the file is a capture of IP traffic",
                summary.packets
            )
        } else {
            format!(
                "nothing could be analysed: {} is not a link type mss decodes (it decodes \
                 {}); re-capture on an Ethernet, cooked (-i any) or raw IP interface, or \
                 convert the file with editcap -T",
                unsupported.join(", "),
                mss_wire::packet::LINK_TYPES
                    .iter()
                    .map(|(_, _, name)| *name)
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// An error naming every input that could not be read to its end (a truncated
    /// last record is a warning instead).
    fn fatal(&self) -> Result<(), Failure> {
        let fatal: Vec<String> = self
            .inputs
            .iter()
            .filter_map(|i| {
                i.error
                    .as_ref()
                    .filter(|e| !e.is_truncation())
                    .map(|e| format!("{}: {e}", i.name))
            })
            .chain(self.stopped.clone())
            .collect();
        if let Some(nothing) = self.nothing_decoded().filter(|_| fatal.is_empty()) {
            return Err(Failure::Input(nothing));
        }
        if fatal.is_empty() {
            Ok(())
        } else {
            Err(Failure::Input(format!(
                "{}; the results above cover the packets before it",
                fatal.join("; ")
            )))
        }
    }

    fn report(
        self,
        args: &AnalyzeArgs,
        format: Format,
        selection: &Selection<'_>,
        shown: &mut [ConnectionReport],
        out: &mut impl Write,
    ) -> Result<ExitCode, Failure> {
        let summary = self.summary;
        let inputs = self.inputs;
        let warnings = self.warnings();
        // Said after the output: a filter that selects nothing is not an error (the
        // exit status stays), but the user should not have to guess why.
        for note in selection.ids.unmatched(&selection.filter) {
            let _ = writeln!(io::stderr(), "mss: warning: {note}");
        }
        match format {
            Format::Human => {
                let color = match args.color.as_str() {
                    "always" => true,
                    "never" => false,
                    _ => io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                };
                let view = human::View {
                    sort: args.sort,
                    limit: match args.limit {
                        Some(0) => None,
                        Some(n) => Some(n),
                        // A terminal gets a screenful; a pipe (a script) every row.
                        None if io::stdout().is_terminal() => Some(human::TERMINAL_ROWS),
                        None => None,
                    },
                };
                human::report(out, shown, summary, inputs, &warnings, color, &view)?;
            }
            Format::Json | Format::JsonSegments => json::summary(out, summary, inputs, &warnings)?,
            Format::Csv => {}
            Format::Html => write_html(args, shown, summary, inputs, &warnings, out)?,
        }
        out.flush()?;
        if format != Format::Human {
            for warning in &warnings {
                let _ = writeln!(io::stderr(), "mss: warning: {warning}");
            }
        }
        self.fatal()?;
        Ok(if selection.failed_on {
            ExitCode::from(EXIT_FINDING)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// Every connection of `inputs` analysed together with its time series, in the
/// order reported: for the renderers' tests.
#[cfg(test)]
pub(crate) fn reports_with_segments(inputs: &mut [Input]) -> Vec<ConnectionReport> {
    let mut analyzer = Analyzer::new(Config {
        segments: true,
        ..Config::default()
    });
    let mut reports = Vec::new();
    let read = mss_ingest::read_all(inputs, &mut analyzer, &mut |_| {}, &mut |r| {
        reports.push(r);
        Ok(())
    });
    assert!(read.is_ok(), "{read:?}");
    analyzer.finish();
    while let Some(report) = analyzer.poll_finished() {
        reports.push(report);
    }
    reports
}
