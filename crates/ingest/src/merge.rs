//! Feeding the analyzer from several inputs in time order.

use std::io;
use std::time::{Duration, Instant};

use mss_analyze::{Analyzer, ConnectionReport};

use crate::decode::{Batch, feed};
use crate::{Input, Waited};

/// An input's thread stopped without finishing: which input, and why.
#[derive(Debug)]
pub(crate) struct Stopped {
    pub(crate) input: String,
    pub(crate) why: String,
}

/// Progress, every 65,536 packets.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Tick {
    /// Bytes read from all inputs.
    pub read_bytes: u64,
    /// Packets analysed.
    pub packets: u64,
    /// Connections open now.
    pub live_connections: usize,
}

/// Where the merge is in one input: its current batch and the next record in it.
struct Cursor {
    batch: Option<Batch>,
    at: usize,
}

/// What an input has next, as far as can be known without waiting.
enum Peeked {
    /// A record at this time.
    At(u64),
    /// Nothing yet (a live input that is silent).
    Nothing,
    /// The input is read.
    End,
}

impl Cursor {
    /// The timestamp of the input's next record, loading batches as needed and
    /// waiting at most `wait` for one (`Duration::MAX`: until it comes).
    fn peek_within(&mut self, input: &mut Input, wait: Duration) -> Result<Peeked, Stopped> {
        loop {
            if let Some(batch) = &self.batch {
                if let Some(event) = batch.events.get(self.at) {
                    return Ok(Peeked::At(
                        event
                            .timestamp_ns
                            .saturating_add_signed(input.shift_ns().saturating_neg()),
                    ));
                }
            }
            if let Some(done) = self.batch.take() {
                input.recycle(done);
            }
            self.at = 0;
            match input.next_batch_within(wait)? {
                Waited::Batch(batch) => self.batch = Some(batch),
                Waited::End => return Ok(Peeked::End),
                Waited::Nothing => return Ok(Peeked::Nothing),
            }
        }
    }
}

/// Where [`read_all`] hands finished connections.
pub trait Sink {
    /// A connection finished.
    fn connection(&mut self, report: ConnectionReport) -> io::Result<()>;
    /// A connection still open, as far as it got ([`mss_analyze::Config::interim_every_ns`]).
    fn interim(&mut self, report: ConnectionReport) -> io::Result<()> {
        let _ = report;
        Ok(())
    }
    /// A streaming input has nothing new for now: write out what is waiting.
    fn idle(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<F: FnMut(ConnectionReport) -> io::Result<()>> Sink for F {
    fn connection(&mut self, report: ConnectionReport) -> io::Result<()> {
        self(report)
    }
}

/// Hands `emit` the connections reported since the last call: interim reports of
/// open ones, then the finished ones.
fn drain(analyzer: &mut Analyzer, emit: &mut dyn Sink) -> Result<(), ReadError> {
    while let Some(report) = analyzer.poll_interim() {
        emit.interim(report).map_err(ReadError::Emit)?;
    }
    while let Some(report) = analyzer.poll_finished() {
        emit.connection(report).map_err(ReadError::Emit)?;
    }
    Ok(())
}

/// How long a streaming input may stay silent before the connections that ended
/// meanwhile are reported: with the analysis's linger for streams, a connection's
/// record is out about a second after its end.
const IDLE_TICK: Duration = Duration::from_millis(200);

/// How late a live input's packet may reach the merge after its capture time
/// when the input says nothing of how far it is settled (a stalled thread): the
/// merge waits no longer for it.
const LIVE_LAG_NS: u64 = 400_000_000;
/// How long the merge of live inputs sleeps when nothing can go yet.
const LIVE_POLL: Duration = Duration::from_millis(20);
/// How long it waits for a busy input's next batch before looking again.
const LIVE_WAIT: Duration = Duration::from_millis(5);

/// Why [`read_all`] stopped before the end of the inputs.
#[derive(Debug)]
pub enum ReadError {
    /// `emit` failed (a closed pipe, say).
    Emit(io::Error),
    /// An input's thread failed: the results so far are not the whole input.
    Input {
        /// The input, as shown.
        input: String,
        /// What happened.
        why: String,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Emit(e) => write!(f, "{e}"),
            ReadError::Input { input, why } => write!(
                f,
                "{input}: {why}; the results so far do not cover the whole input"
            ),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<Stopped> for ReadError {
    fn from(stopped: Stopped) -> ReadError {
        ReadError::Input {
            input: stopped.input,
            why: stopped.why,
        }
    }
}

/// Reads every input to its end (or first error in its records, which the input
/// keeps), feeding the analyzer in time order (the earliest first; the first input
/// first among equal ones), and passes each finished connection to `emit` as soon
/// as it is done. `progress` hears every 65,536 packets.
///
/// A single streaming input (a pipe, a live source) that falls silent moves the
/// analysis's clock on by the time that passed, so connections that ended are
/// reported (and `emit` told it is idle) without waiting for more packets.
pub fn read_all(
    inputs: &mut [Input],
    analyzer: &mut Analyzer,
    progress: &mut dyn FnMut(Tick),
    emit: &mut dyn Sink,
) -> Result<(), ReadError> {
    let mut total_packets: u64 = 0;
    let mut next_point = inputs.len();
    if let [input] = inputs {
        // One input: its batches in order.
        let shift = input.shift_ns().saturating_neg();
        let mut last: Option<(u64, Instant)> = None;
        loop {
            let batch = if input.streaming {
                let batch = match input.next_batch_within(IDLE_TICK)? {
                    Waited::Batch(batch) if !batch.events.is_empty() => Some(batch),
                    // A live source's word that it is silent.
                    Waited::Batch(empty) => {
                        input.recycle(empty);
                        None
                    }
                    Waited::End => break,
                    Waited::Nothing => None,
                };
                match batch {
                    Some(batch) => batch,
                    None => {
                        // Capture time goes on as the wall clock does.
                        if let Some((ts, at)) = last {
                            let passed = u64::try_from(at.elapsed().as_nanos()).unwrap_or(u64::MAX);
                            analyzer.advance(ts.saturating_add(passed));
                        }
                        drain(analyzer, emit)?;
                        emit.idle().map_err(ReadError::Emit)?;
                        continue;
                    }
                }
            } else {
                match input.next_batch()? {
                    Some(batch) => batch,
                    None => break,
                }
            };
            input.place_interfaces(0, &mut next_point, analyzer);
            for event in &batch.events {
                let ts = event.timestamp_ns.saturating_add_signed(shift);
                feed(analyzer, input.point(0, event.interface), ts, event, &batch);
                total_packets += 1;
                if total_packets % 65_536 == 0 {
                    progress(Tick {
                        read_bytes: input.offset(),
                        packets: total_packets,
                        live_connections: analyzer.live_connections(),
                    });
                }
            }
            if input.streaming {
                if let Some(event) = batch.events.last() {
                    last = Some((
                        event.timestamp_ns.saturating_add_signed(shift),
                        Instant::now(),
                    ));
                }
            }
            input.recycle(batch);
            // Connections that finished during the batch, in the order they did.
            drain(analyzer, emit)?;
        }
        return Ok(());
    }
    let mut cursors: Vec<Cursor> = inputs
        .iter()
        .map(|_| Cursor { batch: None, at: 0 })
        .collect();
    // Live inputs (all of them, on the wall clock) are merged without waiting for
    // a silent one: each says up to when it is settled, and one that says nothing
    // for LIVE_LAG is taken to have nothing older.
    let live = inputs.iter().all(|i| i.live);
    loop {
        let mut next: Option<(u64, usize)> = None;
        let mut silent: Vec<usize> = Vec::new();
        for (index, (cursor, input)) in cursors.iter_mut().zip(inputs.iter_mut()).enumerate() {
            let wait = if live { Duration::ZERO } else { Duration::MAX };
            match cursor.peek_within(input, wait)? {
                Peeked::At(ts) => {
                    input.place_interfaces(index, &mut next_point, analyzer);
                    if next.is_none_or(|(best, _)| ts < best) {
                        next = Some((ts, index));
                    }
                }
                Peeked::Nothing => silent.push(index),
                Peeked::End => {}
            }
        }
        if !silent.is_empty() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            let bound = now.saturating_sub(LIVE_LAG_NS);
            // A silent input not settled up to the next record may still have an
            // older one on its way.
            let behind = silent.iter().copied().find(|&i| {
                let settled = inputs.get(i).map_or(u64::MAX, |input| input.watermark_ns);
                next.is_none_or(|(ts, _)| settled < ts)
            });
            match (next, behind) {
                (Some((ts, _)), Some(wait_for)) if ts >= bound => {
                    // Busy inputs send a batch every few ms: wait for this one.
                    if let (Some(cursor), Some(input)) =
                        (cursors.get_mut(wait_for), inputs.get_mut(wait_for))
                    {
                        cursor.peek_within(input, LIVE_WAIT)?;
                    }
                    continue;
                }
                (None, _) => {
                    // Every input still open is silent: time moves on as far as
                    // all are settled, finished connections go out, and the inputs
                    // get a moment.
                    let settled = silent
                        .iter()
                        .filter_map(|&i| inputs.get(i).map(|input| input.watermark_ns))
                        .min()
                        .unwrap_or(0);
                    analyzer.advance(bound.max(settled));
                    drain(analyzer, emit)?;
                    emit.idle().map_err(ReadError::Emit)?;
                    std::thread::sleep(LIVE_POLL);
                    continue;
                }
                _ => {}
            }
        }
        let Some((_, index)) = next else { break };
        let (Some(cursor), Some(input)) = (cursors.get_mut(index), inputs.get(index)) else {
            break;
        };
        if let Some(batch) = &cursor.batch {
            if let Some(event) = batch.events.get(cursor.at) {
                let ts = event
                    .timestamp_ns
                    .saturating_add_signed(input.shift_ns().saturating_neg());
                feed(
                    analyzer,
                    input.point(index, event.interface),
                    ts,
                    event,
                    batch,
                );
            }
        }
        cursor.at += 1;
        total_packets += 1;
        if total_packets % 65_536 == 0 {
            progress(Tick {
                read_bytes: inputs.iter().map(Input::offset).sum(),
                packets: total_packets,
                live_connections: analyzer.live_connections(),
            });
        }
        drain(analyzer, emit)?;
    }
    Ok(())
}
