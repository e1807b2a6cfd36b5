//! `mss watch`: live capture into rolling state ([`mss_analyze::watch`]), shown
//! on a terminal, written as JSON Lines of findings, and served to Prometheus.
//!
//! Threads: the analysis reads the inputs on one; the live view (on a terminal)
//! draws on the main thread once a second; the metrics endpoint answers on its
//! own. They share the rolling state behind a mutex, held only to update or read
//! counters.

mod metrics;
mod view;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mss_analyze::record::FindingEvent;
use mss_analyze::watch::Watch;
use mss_analyze::{Analyzer, Config, ConnectionReport};
use mss_ingest::{CaptureCounters, Input, ReadError, Sink};

use crate::Failure;
use crate::cli::WatchArgs;

/// What the threads share.
#[derive(Debug)]
pub(crate) struct State {
    /// The rolling state.
    watch: Watch,
    /// Each live interface's capture counters.
    captures: Vec<(String, Arc<CaptureCounters>)>,
    /// The inputs, as named.
    inputs: Vec<String>,
    /// The inputs are read to their end (a file), or the capture stopped.
    ended: bool,
}

/// How long a closed connection waits for late packets before its final report
/// (as `mss analyze` on a stream).
const LINGER_NS: u64 = 500_000_000;

/// Takes each report into the rolling state; writes the new findings as JSON Lines
/// when there is no live view.
struct Watching<'a, W: Write> {
    state: &'a Mutex<State>,
    names: &'a [String],
    json: Option<&'a mut W>,
    /// Set by the live view's q: stop reading (a file; a live capture is stopped
    /// through its Stopper).
    quit: &'a AtomicBool,
}

impl<W: Write> Watching<'_, W> {
    fn take(&mut self, report: &ConnectionReport, last: bool) -> io::Result<()> {
        if self.quit.load(Ordering::Relaxed) {
            return Err(io::Error::other(Quit));
        }
        let events = {
            let Ok(mut state) = self.state.lock() else {
                return Err(io::Error::other("the live view failed"));
            };
            state.watch.observe(report, last)
        };
        if let Some(out) = self.json.as_deref_mut() {
            if events.is_empty() {
                return Ok(());
            }
            for event in &events {
                let record =
                    FindingEvent::new(&event.finding, report, self.names, &event.interface);
                serde_json::to_writer(&mut *out, &record).map_err(io::Error::other)?;
                out.write_all(b"\n")?;
            }
            // Findings are rare and wanted at once.
            out.flush()?;
        }
        Ok(())
    }
}

impl<W: Write> Sink for Watching<'_, W> {
    fn connection(&mut self, report: ConnectionReport) -> io::Result<()> {
        self.take(&report, true)
    }

    fn interim(&mut self, report: ConnectionReport) -> io::Result<()> {
        self.take(&report, false)
    }
}

/// The live view's q, as an error that ends the reading.
#[derive(Debug)]
struct Quit;

impl std::fmt::Display for Quit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("quit")
    }
}

impl std::error::Error for Quit {}

pub(crate) fn run(args: &WatchArgs, out: &mut (impl Write + Send)) -> Result<ExitCode, Failure> {
    let filter = Some(args.filter.join(" ")).filter(|f| !f.trim().is_empty());
    let (mut inputs, stopper) = if args.interfaces.is_empty() {
        let inputs = crate::analyze::open_inputs(&args.read, &[], filter.as_deref())?;
        (inputs, None)
    } else {
        let (inputs, stopper) = crate::analyze::live_inputs(
            &args.interfaces,
            filter.as_deref(),
            None,
            args.duration,
            args.snaplen,
        )?;
        (inputs, Some(stopper))
    };
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let state = Arc::new(Mutex::new(State {
        watch: Watch::new(names.clone()),
        captures: inputs
            .iter()
            .filter_map(|i| Some((i.name.clone(), Arc::clone(i.capture_counters.as_ref()?))))
            .collect(),
        inputs: names.clone(),
        ended: false,
    }));
    let server = match args.metrics {
        Some(addr) => Some(Arc::new(tiny_http::Server::http(addr).map_err(|e| {
            Failure::Input(format!(
                "--metrics {addr}: cannot listen there: {e}; give a free port of an \
                 address of this host (0.0.0.0:9717 for every address)"
            ))
        })?)),
        None => None,
    };
    let view = !args.json && io::stdout().is_terminal();
    let quit = Arc::new(AtomicBool::new(false));
    if view {
        // The view quits on a signal too (SIGHUP: its terminal is gone).
        quit_on_signals(Arc::clone(&quit))?;
    } else if let Some(stopper) = &stopper {
        crate::analyze::stop_on_signals(stopper.clone())?;
    }
    if !view {
        // The address bound (a port 0 becomes the one the kernel chose).
        let metrics = server
            .as_ref()
            .and_then(|server| server.server_addr().to_ip())
            .map(|addr| format!("; metrics on http://{addr}/metrics"))
            .unwrap_or_default();
        let stop = if stopper.is_some() {
            "; Ctrl-C stops"
        } else {
            ""
        };
        let _ = writeln!(
            io::stderr(),
            "mss: watching {}{metrics}{stop}",
            names.join(", ")
        );
    }
    let config = Config {
        max_connections: args.max_connections,
        linger_ns: LINGER_NS,
        // From 1 to 86400 s (checked by the parser): well within a u64 of ns.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        interim_every_ns: Some((args.interim * 1e9) as u64),
        ..Config::default()
    };
    let mut analyzer = Analyzer::new(config);
    let read = std::thread::scope(|scope| -> Result<Result<(), ReadError>, Failure> {
        let metrics = server.as_ref().map(|server| {
            let registry = metrics::registry(Arc::clone(&state));
            let server = Arc::clone(server);
            scope.spawn(move || metrics::serve(&server, &registry))
        });
        let json = (!view).then_some(&mut *out);
        let (state_ref, names_ref, quit_ref) = (&state, &names, &*quit);
        let (inputs, analyzer) = (&mut inputs, &mut analyzer);
        let analysis = scope.spawn(move || {
            let mut sink = Watching {
                state: state_ref,
                names: names_ref,
                json,
                quit: quit_ref,
            };
            let read = watch_all(inputs, analyzer, &mut sink);
            if let Ok(mut state) = state_ref.lock() {
                state.ended = true;
            }
            read
        });
        let shown = if view {
            view::run(&state, &quit, stopper.as_ref())
        } else {
            Ok(())
        };
        let read = analysis
            .join()
            .unwrap_or_else(|_| Err(ReadError::Emit(io::Error::other("analysis panicked"))));
        if !view && stopper.is_none() && server.is_some() && read.is_ok() {
            // Files read, the metrics stay for a scraper until told to stop.
            let _ = writeln!(
                io::stderr(),
                "mss: the input is read; the metrics stay served until Ctrl-C"
            );
            wait_for_stop()?;
        }
        if let Some(server) = &server {
            server.unblock();
        }
        if let Some(metrics) = metrics {
            let _ = metrics.join();
        }
        shown?;
        Ok(read)
    })?;
    match read {
        Ok(()) => {}
        Err(ReadError::Emit(e)) if e.get_ref().is_some_and(|e| e.is::<Quit>()) => {}
        Err(ReadError::Emit(e)) => return Err(Failure::Io(e)),
        Err(e @ ReadError::Input { .. }) => return Err(Failure::Input(e.to_string())),
    }
    let state = state
        .lock()
        .map_err(|_| Failure::Input("the live view failed".into()))?;
    let _ = writeln!(io::stderr(), "mss: {}", ending(&state));
    for input in &inputs {
        for warning in input.warnings() {
            let _ = writeln!(io::stderr(), "mss: warning: {warning}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, SIGTERM or SIGHUP set `quit` (the live view looks at it every second).
fn quit_on_signals(quit: Arc<AtomicBool>) -> Result<(), Failure> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Failure::Input(format!("cannot take Ctrl-C: {e}")))?;
    std::thread::Builder::new()
        .name("mss-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                quit.store(true, Ordering::Relaxed);
            }
        })
        .map_err(|e| Failure::Input(format!("cannot take Ctrl-C: {e}")))?;
    Ok(())
}

/// Waits for Ctrl-C, SIGTERM or SIGHUP.
fn wait_for_stop() -> Result<(), Failure> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Failure::Input(format!("cannot take Ctrl-C: {e}")))?;
    let _ = signals.forever().next();
    Ok(())
}

/// Reads every input into the sink, then finishes the connections still open.
fn watch_all(
    inputs: &mut [Input],
    analyzer: &mut Analyzer,
    sink: &mut dyn Sink,
) -> Result<(), ReadError> {
    mss_ingest::read_all(inputs, analyzer, &mut |_| {}, sink)?;
    analyzer.end();
    while let Some(report) = analyzer.poll_finished() {
        sink.connection(report).map_err(ReadError::Emit)?;
    }
    Ok(())
}

/// The line said when the watch ends: connections, findings, drops.
fn ending(state: &State) -> String {
    let totals = &state.watch.totals;
    let mut kinds: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for ((_, kind), n) in &totals.findings {
        *kinds.entry(kind).or_default() += n;
    }
    let findings: u64 = kinds.values().sum();
    let listed = kinds
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let dropped: u64 = state.captures.iter().map(|(_, c)| c.dropped()).sum();
    let received: u64 = state.captures.iter().map(|(_, c)| c.received()).sum();
    let drops = if state.captures.is_empty() {
        String::new()
    } else {
        format!("; {received} packets received, {dropped} dropped by the capture")
    };
    format!(
        "watched {} connections on {}: {findings} findings{}{drops}",
        totals.ended,
        state.inputs.join(", "),
        if listed.is_empty() {
            String::new()
        } else {
            format!(" ({listed})")
        },
    )
}
