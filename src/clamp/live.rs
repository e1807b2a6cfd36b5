//! `mss clamp --nfqueue N`: clamps SYNs that iptables queues to userspace, one
//! thread per queue (`--queues`), verdicts sent in batches (mss_net::nfqueue).
//!
//! The kernel completes partial checksums before it queues a packet (without
//! NFQA_CFG_F_GSO, nfqnl_build_packet_message() calls skb_checksum_help()), so the
//! incremental checksum update of the clamp is right for every packet seen here.
//!
//! Fail-open (the default): installed rules carry `--queue-bypass`, so while no
//! mss listens SYNs pass unclamped; the queue is fail-open, so SYNs that do not
//! fit the kernel's queue pass unclamped too. The kernel counts neither, so mss
//! does: SYNs the rules queued (their iptables counters) minus SYNs that reached
//! mss and the ones still waiting, reported as "passed unclamped".
//! Fail-closed (`--fail-closed`): no bypass, no fail-open (the kernel drops what
//! does not fit, and counts it), and SYNs mss cannot parse are dropped rather than
//! passed: no SYN ever passes unclamped. On a clean stop (SIGINT, SIGTERM, SIGHUP,
//! an error) the installed rules are removed, so SYNs then pass unclamped; after a
//! crash or SIGKILL they stay and drop every SYN until mss runs again or
//! `mss clamp --remove-rules` removes them.

use std::io::{self, Write};
use std::ops::RangeInclusive;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use mss_clamp::{INSERT_ROOM, Outcome, Skip, clamp_ip};
use mss_net::nfqueue::{self, Queue, Received, Verdict};
use mss_rules::IpVersion;
use serde_json::json;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::Resolved;
use super::rules::{self, SavedRule};
use crate::Failure;
use crate::cli::ClampArgs;

/// Packets the kernel holds for us at most per queue (its default is 1024):
/// room for bursts while a thread is busy.
const QUEUE_MAXLEN: u32 = 8192;
/// The socket's receive buffer: a few thousand SYNs.
const RECEIVE_BUFFER: usize = 8 << 20;
/// Verdicts sent together at most.
const BATCH: usize = 64;

/// Counters shared by the queue threads.
#[derive(Default)]
struct Counters {
    syns: AtomicU64,
    lowered: AtomicU64,
    already_low: AtomicU64,
    inserted: AtomicU64,
    skipped: AtomicU64,
    /// SYNs mss could not parse, let through unclamped (fail-open) or dropped
    /// (fail-closed).
    unparsable: AtomicU64,
    other: AtomicU64,
    /// Receive buffer overruns (ENOBUFS): packets the kernel could not hand over.
    overruns: AtomicU64,
    /// Packets that reached mss (all verdicts given).
    received: AtomicU64,
    /// Verdict errors the kernel reported.
    verdict_errors: AtomicU64,
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Whether a SYN left as it was may carry or imply an MSS above the target: the
/// clamp could not read it (then nobody knows), or it has no option and the
/// default its receiver assumes (536 / 1220) is above the target.
fn unclamped(skip: Skip, version: Option<IpVersion>, resolved: &Resolved) -> bool {
    match skip {
        Skip::AlreadyLow { .. } | Skip::NotIp | Skip::NotTcp | Skip::NotSyn | Skip::NoTarget => {
            false
        }
        Skip::NoMssOption | Skip::HasPayload | Skip::NoRoom => version.is_none_or(|v| {
            let target = match v {
                IpVersion::V4 => resolved.v4(),
                IpVersion::V6 => resolved.v6(),
            };
            v.default_mss().get() > target
        }),
        Skip::Fragment
        | Skip::Truncated
        | Skip::Malformed
        | Skip::BadOptions
        | Skip::Tunneled
        | Skip::FrameCheck
        | Skip::UnsupportedLink => true,
    }
}

impl Counters {
    /// Counts a clamp outcome; returns the verdict.
    fn count(&self, outcome: Outcome, version: Option<IpVersion>, live: &Live) -> Verdict {
        let counter = match outcome {
            Outcome::Lowered { .. } => &self.lowered,
            Outcome::Inserted { .. } => &self.inserted,
            Outcome::Unchanged(Skip::AlreadyLow { .. }) => &self.already_low,
            Outcome::Unchanged(Skip::NotIp | Skip::NotTcp | Skip::NotSyn) => {
                bump(&self.other);
                return Verdict::Accept;
            }
            Outcome::Unchanged(skip) if unclamped(skip, version, &live.resolved) => {
                bump(&self.syns);
                bump(&self.unparsable);
                return if live.fail_closed {
                    Verdict::Drop
                } else {
                    Verdict::Accept
                };
            }
            Outcome::Unchanged(_) => &self.skipped,
        };
        bump(counter);
        bump(&self.syns);
        Verdict::Accept
    }
}

/// What every queue thread needs.
struct Live {
    resolved: Resolved,
    fail_closed: bool,
    counters: Counters,
}

/// The counters at one moment, with what the kernel and the rules say.
struct Snapshot {
    syns: u64,
    lowered: u64,
    already_low: u64,
    inserted: u64,
    skipped: u64,
    unparsable: u64,
    other: u64,
    overruns: u64,
    /// SYNs the rules queued that never reached mss and were not dropped by the
    /// kernel: passed unclamped (fail-open overflow). `None`: no rule to count.
    overflow_passed: Option<u64>,
    /// Packets the kernel dropped for a full queue or socket (fail-closed).
    kernel_dropped: u64,
    verdict_errors: u64,
}

/// Where the kernel's and the rules' counters started.
struct Baseline {
    queues: RangeInclusive<u16>,
    queued: Option<u64>,
    kernel_dropped: u64,
}

fn kernel_dropped(queues: &RangeInclusive<u16>) -> (u64, u64) {
    nfqueue::queue_stats()
        .iter()
        .filter(|s| queues.contains(&s.queue))
        .fold((0, 0), |(dropped, waiting), s| {
            (dropped + s.dropped + s.user_dropped, waiting + s.waiting)
        })
}

fn queued(queues: &RangeInclusive<u16>) -> Option<u64> {
    rules::saved_rules()
        .ok()
        .and_then(|saved| rules::queued_to(&saved, queues))
}

impl Baseline {
    fn take(queues: RangeInclusive<u16>) -> Baseline {
        let (dropped, _) = kernel_dropped(&queues);
        Baseline {
            queued: queued(&queues),
            kernel_dropped: dropped,
            queues,
        }
    }

    fn snapshot(&self, counters: &Counters, fail_closed: bool) -> Snapshot {
        let (dropped, waiting) = kernel_dropped(&self.queues);
        let kernel_dropped = dropped.saturating_sub(self.kernel_dropped);
        let received = get(&counters.received);
        let overflow_passed = match (queued(&self.queues), self.queued) {
            (Some(now), Some(then)) if !fail_closed => Some(
                now.saturating_sub(then)
                    .saturating_sub(received)
                    .saturating_sub(waiting)
                    .saturating_sub(kernel_dropped),
            ),
            (Some(_), _) if fail_closed => Some(0),
            _ => None,
        };
        Snapshot {
            syns: get(&counters.syns),
            lowered: get(&counters.lowered),
            already_low: get(&counters.already_low),
            inserted: get(&counters.inserted),
            skipped: get(&counters.skipped),
            unparsable: get(&counters.unparsable),
            other: get(&counters.other),
            overruns: get(&counters.overruns),
            overflow_passed,
            kernel_dropped,
            verdict_errors: get(&counters.verdict_errors),
        }
    }
}

impl Snapshot {
    fn line(&self, fail_closed: bool) -> String {
        let mut line = format!(
            "{} SYNs: {} lowered, {} already low, {} inserted, {} skipped; {} other packets",
            self.syns, self.lowered, self.already_low, self.inserted, self.skipped, self.other
        );
        if fail_closed {
            line.push_str(&format!(
                "; dropped (fail-closed): {} unparsable, {} by the kernel (queue full)",
                self.unparsable, self.kernel_dropped
            ));
        } else {
            line.push_str(&format!(
                "; passed unclamped: {} unparsable, {} queue overflow",
                self.unparsable,
                self.overflow_passed.map_or(
                    "unknown (no iptables rule counts for this queue)".into(),
                    |n| { n.to_string() }
                )
            ));
        }
        if self.overruns > 0 {
            line.push_str(&format!("; {} socket overruns", self.overruns));
        }
        if self.verdict_errors > 0 {
            line.push_str(&format!("; {} verdicts refused", self.verdict_errors));
        }
        line
    }

    fn json(&self, fail_closed: bool, last: bool) -> serde_json::Value {
        json!({
            "type": "clamp_stats",
            "final": last,
            "mode": if fail_closed { "fail_closed" } else { "fail_open" },
            "syns": self.syns,
            "lowered": self.lowered,
            "already_low": self.already_low,
            "inserted": self.inserted,
            "skipped": self.skipped,
            "unparsable": self.unparsable,
            "other": self.other,
            "passed_unclamped_overflow": if fail_closed { Some(0) } else { self.overflow_passed },
            "passed_unclamped_unparsable": if fail_closed { 0 } else { self.unparsable },
            "dropped_unparsable": if fail_closed { self.unparsable } else { 0 },
            "dropped_by_kernel": self.kernel_dropped,
            "socket_overruns": self.overruns,
            "verdicts_refused": self.verdict_errors,
        })
    }
}

/// Whether this process may administer the network (CAP_NET_ADMIN, bit 12 of
/// CapEff in /proc/self/status).
fn has_net_admin() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << 12) != 0)
}

/// The message for a refused bind.
fn bind_error(queue: u16, e: &io::Error) -> Failure {
    if e.kind() == io::ErrorKind::PermissionDenied {
        if !has_net_admin() {
            return Failure::Input(format!(
                "binding NFQUEUE queue {queue}: {e}: mss clamp --nfqueue needs CAP_NET_ADMIN \
                 (run it as root)"
            ));
        }
        // With the capability, EPERM means the queue is bound by another socket
        // (nfqnl_recv_config(): peer_portid differs).
        let owner = nfqueue::queue_stats()
            .into_iter()
            .find(|s| s.queue == queue)
            .and_then(|s| nfqueue::netlink_owner(s.peer_portid));
        let who = owner.map_or("another process".to_string(), |(pid, comm)| {
            format!("another process ({comm}, pid {pid})")
        });
        return Failure::Input(format!(
            "NFQUEUE queue {queue} is busy: {who} has it bound; stop it, or choose another \
             --nfqueue number"
        ));
    }
    Failure::Input(format!("binding NFQUEUE queue {queue}: {e}"))
}

/// Receives, clamps and answers packets of one queue until an error.
fn serve(mut queue: Queue, live: &Live) -> io::Result<()> {
    let mut scratch: Vec<u8> = Vec::with_capacity(65_536 + INSERT_ROOM);
    loop {
        let mut wait = true;
        while queue.pending() < BATCH {
            let (id, len) = match queue.receive(wait)? {
                Received::Packet(packet) => {
                    scratch.clear();
                    scratch.extend_from_slice(packet.payload);
                    (packet.id, packet.payload.len())
                }
                Received::Overrun => {
                    bump(&live.counters.overruns);
                    continue;
                }
                Received::Error(_) => {
                    bump(&live.counters.verdict_errors);
                    continue;
                }
                Received::Nothing if wait => continue,
                Received::Nothing => break,
            };
            wait = false;
            bump(&live.counters.received);
            let version = match scratch.first().map(|b| b >> 4) {
                Some(4) => Some(IpVersion::V4),
                Some(6) => Some(IpVersion::V6),
                _ => None,
            };
            scratch.resize(len + INSERT_ROOM, 0);
            let clamped = clamp_ip(&mut scratch, len, &live.resolved.targets);
            let verdict = live.counters.count(clamped.outcome, version, live);
            let payload = match clamped.outcome {
                Outcome::Lowered { .. } | Outcome::Inserted { .. } => Some(&scratch[..clamped.len]),
                Outcome::Unchanged(_) => None,
            };
            queue.verdict(id, verdict, payload)?;
        }
        queue.flush()?;
    }
}

/// What the rules look like before we start, and what to say about them.
fn stale_rules(
    saved: &[SavedRule],
    ours: &RangeInclusive<u16>,
) -> (Vec<SavedRule>, Vec<SavedRule>) {
    let bound: Vec<u16> = nfqueue::queue_stats().iter().map(|s| s.queue).collect();
    let tagged = saved.iter().filter(|r| r.tagged_queue().is_some());
    // Tagged rules for our queues, and tagged rules for queues nobody has bound.
    let (mine, others): (Vec<&SavedRule>, Vec<&SavedRule>) = tagged.partition(|r| {
        r.queues()
            .is_some_and(|q| q.start() <= ours.end() && ours.start() <= q.end())
    });
    let orphaned = others
        .into_iter()
        .filter(|r| {
            r.queues()
                .is_some_and(|q| !q.clone().any(|n| bound.contains(&n)))
        })
        .cloned()
        .collect();
    (mine.into_iter().cloned().collect(), orphaned)
}

/// `mss clamp --remove-rules`.
pub(crate) fn remove_rules(out: &mut impl Write) -> Result<ExitCode, Failure> {
    let saved = rules::saved_rules().map_err(Failure::Input)?;
    let tagged: Vec<&SavedRule> = saved
        .iter()
        .filter(|r| r.tagged_queue().is_some())
        .collect();
    if tagged.is_empty() {
        writeln!(
            out,
            "mss clamp: no rules tagged \"{}\" are in place",
            rules::TAG
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    for rule in tagged {
        rules::delete(rule).map_err(|e| Failure::Input(format!("removing a rule: {e}")))?;
        writeln!(out, "removed: {}", rule.shown())?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(
    first: u16,
    resolved: &Resolved,
    args: &ClampArgs,
    out: &mut impl Write,
) -> Result<ExitCode, Failure> {
    let count = args.queues.unwrap_or(1);
    let last = first.saturating_add(count.saturating_sub(1));
    let queues = first..=last;
    // Before anything changes: a signal from here on ends in the clean stop (rules
    // removed, summary printed), even one sent right after the first line.
    let signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Failure::Input(format!("cannot handle signals: {e}")))?;
    let mut notes = Vec::new();
    let bound = bind_queues(queues.clone(), args.fail_closed, &mut notes)?;
    let installed = set_up_rules(queues.clone(), args, &mut notes)?;
    let live = Arc::new(Live {
        resolved: Resolved {
            targets: resolved.targets,
            origin: resolved.origin.clone(),
        },
        fail_closed: args.fail_closed,
        counters: Counters::default(),
    });
    let baseline = Baseline::take(queues.clone());
    let errors = start_threads(queues.clone(), bound, &live)?;
    writeln!(out, "{}", first_line(&queues, resolved, args))?;
    out.flush()?;
    for note in &notes {
        let _ = writeln!(io::stderr(), "mss clamp: {note}");
    }
    supervise(signals, &live, &baseline, &installed, &errors, args, out)
}

/// Binds every queue (fail-open unless fail-closed), noting packets that were
/// queued while it was being set up.
fn bind_queues(
    queues: RangeInclusive<u16>,
    fail_closed: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<Queue>, Failure> {
    let mut bound = Vec::new();
    for number in queues.clone() {
        let queue =
            Queue::bind(number, QUEUE_MAXLEN, !fail_closed).map_err(|e| bind_error(number, &e))?;
        // Best effort: the default buffer still works, with more overruns.
        let _ = queue.set_receive_buffer(RECEIVE_BUFFER);
        bound.push(queue);
    }
    let early: u64 = bound.iter().map(Queue::early_packets).sum();
    if early > 0 {
        notes.push(format!(
            "{early} packets were queued while the queue was being set up: {}",
            if fail_closed {
                "dropped"
            } else {
                "passed unclamped"
            }
        ));
    }
    Ok(bound)
}

/// Reads the iptables rules; with `--install-rules` replaces stale ones and
/// installs this run's (returned), else notes what is already there.
fn set_up_rules(
    queues: RangeInclusive<u16>,
    args: &ClampArgs,
    notes: &mut Vec<String>,
) -> Result<Vec<SavedRule>, Failure> {
    let (first, last) = (*queues.start(), *queues.end());
    let fail_closed = args.fail_closed;
    // Without iptables (rules of the user's own, e.g. nft queue on kernels that
    // have it), the clamp still works; only stale rules and overflow go uncounted.
    let saved = match rules::saved_rules() {
        Ok(saved) => saved,
        Err(e) if !args.install_rules => {
            notes.push(format!(
                "cannot read the iptables rules ({e}): SYNs that pass unclamped when the \
                 queue overflows cannot be counted"
            ));
            Vec::new()
        }
        Err(e) => return Err(Failure::Input(e)),
    };
    let (mine, orphaned) = stale_rules(&saved, &queues);
    let mut installed: Vec<SavedRule> = Vec::new();
    if args.install_rules {
        for rule in mine.iter().chain(&orphaned) {
            rules::delete(rule)
                .map_err(|e| Failure::Input(format!("removing a stale rule: {e}")))?;
        }
        if !mine.is_empty() || !orphaned.is_empty() {
            notes.push(format!(
                "removed {} rules left by an earlier mss clamp that was killed before it \
                 could remove them",
                mine.len() + orphaned.len()
            ));
        }
        installed = rules::install_specs(queues.clone(), fail_closed);
        rules::install(&installed)
            .map_err(|e| Failure::Input(format!("installing the queue rules: {e}")))?;
    } else {
        if !mine.is_empty() {
            notes.push(format!(
                "adopting {} rules tagged \"{} {first}\" left by an earlier run: they feed \
                 this instance and stay when it exits (`mss clamp --remove-rules` removes \
                 them)",
                mine.len(),
                rules::TAG
            ));
        }
        if fail_closed {
            let feeding: Vec<&SavedRule> = saved
                .iter()
                .filter(|r| r.bypasses())
                .filter(|r| {
                    r.queues()
                        .is_some_and(|q| q.start() <= &last && &first <= q.end())
                })
                .collect();
            if let Some(rule) = feeding.first() {
                notes.push(format!(
                    "--fail-closed: the rule `{}` has --queue-bypass: while mss is not \
                     running, SYNs pass it unclamped",
                    rule.shown()
                ));
            }
        }
    }
    if !orphaned.is_empty() && !args.install_rules {
        notes.push(format!(
            "{} rules tagged \"{}\" send SYNs to queues no process has bound (left by a \
             killed mss clamp): those SYNs are dropped or pass unclamped; `mss clamp \
             --remove-rules` removes them",
            orphaned.len(),
            rules::TAG
        ));
    }
    Ok(installed)
}

/// A thread per queue; their errors come back on the returned channel.
fn start_threads(
    queues: RangeInclusive<u16>,
    bound: Vec<Queue>,
    live: &Arc<Live>,
) -> Result<mpsc::Receiver<(u16, io::Error)>, Failure> {
    let (errors_tx, errors) = mpsc::channel::<(u16, io::Error)>();
    for (number, queue) in queues.clone().zip(bound) {
        let live = Arc::clone(live);
        let errors = errors_tx.clone();
        std::thread::Builder::new()
            .name(format!("nfqueue-{number}"))
            .spawn(move || {
                if let Err(e) = serve(queue, &live) {
                    let _ = errors.send((number, e));
                }
            })
            .map_err(|e| Failure::Input(format!("cannot start a thread: {e}")))?;
    }
    Ok(errors)
}

/// The line that says the clamp runs: queues, targets and how SYNs reach it.
fn first_line(queues: &RangeInclusive<u16>, resolved: &Resolved, args: &ClampArgs) -> String {
    let (first, last) = (*queues.start(), *queues.end());
    let count = args.queues.unwrap_or(1);
    let fail_closed = args.fail_closed;
    let shown_queues = if count == 1 {
        String::new()
    } else {
        format!(" (queues {first}-{last}, a thread each)")
    };
    let mode = if fail_closed {
        "fail-closed"
    } else {
        "fail-open"
    };
    let rules_note = if args.install_rules {
        format!("; rules installed, {mode}")
    } else {
        let target = if count == 1 {
            format!("--queue-num {first}")
        } else {
            format!("--queue-balance {first}:{last} --queue-cpu-fanout")
        };
        format!(
            "; {mode}; queue SYNs to it with: iptables -t mangle -A FORWARD -p tcp \
             --tcp-flags SYN,RST SYN -j NFQUEUE {target}{}",
            if fail_closed { "" } else { " --queue-bypass" }
        )
    };
    format!(
        "mss clamp: queue {first}: IPv4 target {}, IPv6 target {} ({}){shown_queues}{rules_note}",
        resolved.v4(),
        resolved.v6(),
        resolved.origin
    )
}

/// Waits for a signal or a thread's error, printing counters on the way; then
/// removes the installed rules and prints the summary.
fn supervise(
    mut signals: Signals,
    live: &Live,
    baseline: &Baseline,
    installed: &[SavedRule],
    errors: &mpsc::Receiver<(u16, io::Error)>,
    args: &ClampArgs,
    out: &mut impl Write,
) -> Result<ExitCode, Failure> {
    let every = Some(args.stats_every.unwrap_or(10))
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    let mut next = every.map(|e| Instant::now() + e);
    let report = |out: &mut dyn Write, last: bool| -> io::Result<()> {
        let snapshot = baseline.snapshot(&live.counters, live.fail_closed);
        if args.json {
            writeln!(out, "{}", snapshot.json(live.fail_closed, last))
        } else {
            let prefix = if last { "stopped: " } else { "" };
            writeln!(
                out,
                "mss clamp: {prefix}{}",
                snapshot.line(live.fail_closed)
            )
        }
    };
    let outcome: Result<Option<i32>, Failure> = loop {
        if let Some(signal) = signals.pending().next() {
            break Ok(Some(signal));
        }
        match errors.recv_timeout(Duration::from_millis(100)) {
            Ok((queue, e)) => {
                break Err(Failure::Input(format!("queue {queue}: {e}")));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(None),
        }
        if let (Some(at), Some(every)) = (next, every) {
            if Instant::now() >= at {
                let _ = report(&mut io::stderr(), false);
                next = Some(at + every);
            }
        }
    };
    // The counters before the rules (and theirs) go.
    let mut stderr = io::stderr();
    let summary: &mut dyn Write = if args.json { out } else { &mut stderr };
    let _ = report(summary, true);
    let _ = summary.flush();
    for rule in installed {
        let _ = rules::delete(rule);
    }
    match outcome {
        Ok(Some(signal)) if signal == SIGHUP => Ok(ExitCode::from(
            u8::try_from(128 + signal).unwrap_or(u8::MAX),
        )),
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e),
    }
}
