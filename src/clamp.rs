//! `mss clamp`: the targets from the arguments, then a capture file clamped into a
//! new one, live SYNs from NFQUEUE (clamp/live.rs), or configuration for a
//! platform (clamp/emit.rs). The clamp itself is the mss-clamp crate.

mod emit;
mod live;
mod rules;
mod tc;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use mss_capture::Rewriter;
use mss_clamp::{INSERT_ROOM, Outcome, Skip, Targets, clamp_frame};
use mss_rules::{IpVersion, Mtu};
use mss_wire::packet::Link;
use serde_json::json;

use crate::Failure;
use crate::cli::ClampArgs;
use crate::outfile::{self, NewFile};

/// The targets and where they came from, in words.
pub(crate) struct Resolved {
    pub(crate) targets: Targets,
    pub(crate) origin: String,
}

impl Resolved {
    pub(crate) fn v4(&self) -> u16 {
        self.targets.ipv4.unwrap_or(0)
    }
    pub(crate) fn v6(&self) -> u16 {
        self.targets.ipv6.unwrap_or(0)
    }
}

pub(crate) fn resolve(args: &ClampArgs) -> Result<Resolved, Failure> {
    if let Some(mtu) = args.mtu {
        let encap = args.encap.clone().unwrap_or_default();
        let mut values = [0u16; 2];
        let mut inner = [0u32; 2];
        for (i, version) in [IpVersion::V4, IpVersion::V6].into_iter().enumerate() {
            let left = encap
                .inner_mtu(mtu, version)
                .map_err(|e| Failure::Input(format!("--encap {encap}: {e}")))?;
            inner[i] = left;
            values[i] = mss_rules::clamp::target_for_mtu(version, Mtu(left))
                .map_err(|e| Failure::Input(format!("--mtu {mtu}: {e}")))?
                .get();
        }
        let origin = if encap.is_empty() {
            format!("--mtu {mtu}: MTU - 40 and MTU - 60")
        } else {
            format!(
                "--mtu {mtu} --encap {encap}: {} bytes left for IPv4, {} for IPv6",
                inner[0], inner[1]
            )
        };
        return Ok(Resolved {
            targets: Targets {
                ipv4: Some(values[0]),
                ipv6: Some(values[1]),
                insert: args.insert,
            },
            origin,
        });
    }
    let v4 = args
        .mss
        .ok_or_else(|| Failure::Input("give --mss or --mtu".into()))?;
    let (v6, origin) = match args.mss6 {
        Some(v6) => (v6, format!("--mss {v4} --mss6 {v6}")),
        None => (
            // The same MTU carries 20 fewer bytes of TCP data in IPv6.
            v4.saturating_sub(20).max(1),
            format!("--mss {v4}; IPv6 20 less for the same MTU (--mss6 to choose)"),
        ),
    };
    Ok(Resolved {
        targets: Targets {
            ipv4: Some(v4),
            ipv6: Some(v6),
            insert: args.insert,
        },
        origin,
    })
}

/// What `mss clamp` was asked to do, once the arguments make sense together.
#[derive(Debug)]
enum Mode<'a> {
    /// Print a platform's configuration.
    Emit(&'a str),
    /// Clamp SYNs from NFQUEUE.
    Live(u16),
    /// Remove the queue rules of earlier runs.
    RemoveRules,
    /// Clamp a capture into a new one.
    Offline { input: &'a Path, output: &'a Path },
    /// Attach, inspect or remove the in-kernel clamp on an interface.
    Tc(&'a str, tc::Action),
}

/// How standard output is named in messages.
const STDOUT: &str = "standard output";

/// `-` as a path: standard input or output.
fn is_dash(path: &Path) -> bool {
    path.as_os_str() == "-"
}

impl<'a> Mode<'a> {
    /// Validates the combination of arguments: every flag given must be one the
    /// mode uses, so nothing the user typed is silently ignored.
    fn from_args(args: &'a ClampArgs) -> Result<Mode<'a>, Failure> {
        let refuse = |message: String| Err(Failure::Input(message));
        if args.encap.is_some() && args.mtu.is_none() {
            return refuse(
                "--encap needs --mtu: the targets come from the MTU left inside the \
                 encapsulations (with --mss, give the target itself)"
                    .into(),
            );
        }
        if args.mss6.is_some() && args.mss.is_none() {
            return refuse(
                "--mss6 goes with --mss (with --mtu both targets follow from it)".into(),
            );
        }
        // Flags that only the live clamp uses.
        let live_only = [
            ("--queues", args.queues.is_some()),
            ("--install-rules", args.install_rules),
            ("--fail-closed", args.fail_closed),
            ("--stats-every", args.stats_every.is_some()),
        ];
        let given_live: Vec<&str> = live_only
            .iter()
            .filter(|(_, given)| *given)
            .map(|(name, _)| *name)
            .collect();
        if args.tc.is_none() && (args.direction.is_some() || args.status || args.detach) {
            return refuse(
                "--direction, --status and --detach go with --tc IFACE (the clamp in the \
                 kernel)"
                    .into(),
            );
        }
        if args.remove_rules {
            return Ok(Mode::RemoveRules);
        }
        if let Some(platform) = args.emit.as_deref() {
            return Self::emit(args, platform, given_live);
        }
        if let Some(interface) = args.tc.as_deref() {
            return tc::mode(args, interface, given_live);
        }
        if let Some(queue) = args.nfqueue {
            return Self::live(args, queue);
        }
        if !given_live.is_empty() {
            return refuse(format!(
                "{} only apply to live clamping: add --nfqueue N",
                given_live.join(", ")
            ));
        }
        let Some(input) = args.input.as_deref() else {
            return refuse(
                "give a capture to clamp (or - for standard input) with -o FILE, or \
                 --nfqueue N to clamp live, or --emit PLATFORM for configuration"
                    .into(),
            );
        };
        let Some(output) = args.output.as_deref() else {
            return refuse(
                "give the clamped capture's file with -o FILE (or -o - for standard \
                 output); the input is never changed"
                    .into(),
            );
        };
        if args.force && is_dash(output) {
            return refuse(
                "--force replaces an existing file; -o - writes to standard output".into(),
            );
        }
        Ok(Mode::Offline { input, output })
    }

    /// `--emit PLATFORM`: nothing else may be given.
    fn emit(
        args: &'a ClampArgs,
        platform: &'a str,
        given_live: Vec<&'static str>,
    ) -> Result<Mode<'a>, Failure> {
        let mut unused = given_live;
        for (name, given) in [
            ("CAPTURE", args.input.is_some()),
            ("-o", args.output.is_some()),
            ("--force", args.force),
            ("--json", args.json),
            ("--insert", args.insert),
        ] {
            if given {
                unused.push(name);
            }
        }
        if !unused.is_empty() {
            return Err(Failure::Input(format!(
                "--emit prints the platform's own configuration and nothing else; it \
                     does not use {} (those are for clamping a capture or --nfqueue; \
                     whether a platform inserts a missing option is its own rule, see the \
                     comments in the output)",
                unused.join(", ")
            )));
        }
        Ok(Mode::Emit(platform))
    }

    /// `--nfqueue N [--queues K]`: no files, and queue numbers that exist.
    fn live(args: &'a ClampArgs, queue: u16) -> Result<Mode<'a>, Failure> {
        let refuse = |message: String| Err(Failure::Input(message));
        for (name, given) in [
            ("CAPTURE", args.input.is_some()),
            ("-o", args.output.is_some()),
            ("--force", args.force),
        ] {
            if given {
                return refuse(format!(
                    "{name} is for clamping a capture file; --nfqueue clamps live packets"
                ));
            }
        }
        if args.queues == Some(0) {
            return refuse("--queues 0: give at least 1".into());
        }
        let last = u32::from(queue) + u32::from(args.queues.unwrap_or(1)) - 1;
        if last > u32::from(u16::MAX) {
            return refuse(format!(
                "--nfqueue {queue} --queues {}: queue numbers end at 65535",
                args.queues.unwrap_or(1)
            ));
        }
        Ok(Mode::Live(queue))
    }
}

/// Warnings about targets that no path needs and that work against the hosts:
/// below what Linux sends at least, or below the MSS every host must accept.
fn target_warnings(resolved: &Resolved) -> Vec<String> {
    let mut warnings = Vec::new();
    for (family, value, version, why) in [
        (
            "IPv4",
            resolved.v4(),
            IpVersion::V4,
            "the MSS every IPv4 host must accept (RFC 9293 section 3.7.1)",
        ),
        (
            "IPv6",
            resolved.v6(),
            IpVersion::V6,
            "what the IPv6 minimum MTU of 1280 carries (RFC 8200 section 5)",
        ),
    ] {
        let default = version.default_mss().get();
        if value == 0 {
            continue;
        }
        let floor = mss_rules::linux::TCP_MIN_SND_MSS;
        if value < floor {
            warnings.push(format!(
                "{family} target {value} is below {floor}, the least Linux sends \
                 (net.ipv4.tcp_min_snd_mss): Linux peers will send segments larger than \
                 the clamp says, and other stacks may refuse the connection; no path \
                 needs this"
            ));
        } else if value < default {
            warnings.push(format!(
                "{family} target {value} is below {default}, {why}: no working path needs \
                 a smaller MSS, and segments this small cost throughput"
            ));
        }
    }
    warnings
}

pub(crate) fn run(args: &ClampArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let mode = Mode::from_args(args)?;
    if let Mode::RemoveRules = mode {
        return live::remove_rules(out);
    }
    if let Mode::Tc(interface, action @ (tc::Action::Status | tc::Action::Detach)) = mode {
        return tc::run(interface, action, None, args, out);
    }
    let resolved = resolve(args)?;
    for warning in target_warnings(&resolved) {
        let _ = writeln!(io::stderr(), "mss: warning: {warning}");
    }
    match mode {
        Mode::Emit(platform) => {
            emit::emit(platform, &resolved, args, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Mode::Live(queue) => live::run(queue, &resolved, args, out),
        Mode::Offline { input, output } => offline(input, output, args, &resolved, out),
        Mode::Tc(interface, action) => tc::run(interface, action, Some(&resolved), args, out),
        Mode::RemoveRules => Ok(ExitCode::SUCCESS),
    }
}

/// Counts of what the clamp did, by kind.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) packets: u64,
    pub(crate) lowered: BTreeMap<(u8, u16, u16), u64>,
    /// By value (the version is not reported for packets left alone).
    pub(crate) already_low: BTreeMap<u16, u64>,
    pub(crate) inserted: BTreeMap<(u8, u16), u64>,
    pub(crate) skipped: BTreeMap<&'static str, u64>,
}

fn version_number(version: IpVersion) -> u8 {
    match version {
        IpVersion::V4 => 4,
        IpVersion::V6 => 6,
    }
}

impl Tally {
    pub(crate) fn add(&mut self, outcome: Outcome) {
        self.packets += 1;
        match outcome {
            Outcome::Lowered { version, from, to } => {
                *self
                    .lowered
                    .entry((version_number(version), from, to))
                    .or_default() += 1;
            }
            Outcome::Inserted { version, value } => {
                *self
                    .inserted
                    .entry((version_number(version), value))
                    .or_default() += 1;
            }
            Outcome::Unchanged(Skip::AlreadyLow { mss }) => {
                *self.already_low.entry(mss).or_default() += 1;
            }
            Outcome::Unchanged(Skip::NotIp | Skip::NotTcp | Skip::NotSyn) => {}
            Outcome::Unchanged(skip) => *self.skipped.entry(skip.name()).or_default() += 1,
        }
    }

    fn total<K>(map: &BTreeMap<K, u64>) -> u64 {
        map.values().sum()
    }

    pub(crate) fn syns(&self) -> u64 {
        Self::total(&self.lowered)
            + Self::total(&self.already_low)
            + Self::total(&self.inserted)
            + Self::total(&self.skipped)
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let lowered: Vec<String> = self
            .lowered
            .iter()
            .map(|((v, from, to), n)| format!("IPv{v} {from} -> {to} x{n}"))
            .collect();
        lines.push(format!(
            "  lowered      {:>8}  {}",
            Self::total(&self.lowered),
            lowered.join(", ")
        ));
        let low: Vec<String> = self
            .already_low
            .iter()
            .map(|(mss, n)| format!("{mss} x{n}"))
            .collect();
        lines.push(format!(
            "  already low  {:>8}  {}",
            Self::total(&self.already_low),
            low.join(", ")
        ));
        let inserted: Vec<String> = self
            .inserted
            .iter()
            .map(|((v, value), n)| format!("IPv{v} {value} x{n}"))
            .collect();
        lines.push(format!(
            "  inserted     {:>8}  {}",
            Self::total(&self.inserted),
            inserted.join(", ")
        ));
        let skipped: Vec<String> = self
            .skipped
            .iter()
            .map(|(reason, n)| format!("{reason} x{n}"))
            .collect();
        lines.push(format!(
            "  skipped      {:>8}  {}",
            Self::total(&self.skipped),
            skipped.join(", ")
        ));
        lines.iter().map(|l| l.trim_end().to_string()).collect()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        let lowered: Vec<serde_json::Value> = self
            .lowered
            .iter()
            .map(|((v, from, to), n)| json!({"ip_version": v, "from": from, "to": to, "count": n}))
            .collect();
        let already: Vec<serde_json::Value> = self
            .already_low
            .iter()
            .map(|(mss, n)| json!({"mss": mss, "count": n}))
            .collect();
        let inserted: Vec<serde_json::Value> = self
            .inserted
            .iter()
            .map(|((v, value), n)| json!({"ip_version": v, "value": value, "count": n}))
            .collect();
        json!({
            "packets": self.packets,
            "syns": self.syns(),
            "lowered": Self::total(&self.lowered),
            "already_low": Self::total(&self.already_low),
            "inserted": Self::total(&self.inserted),
            "skipped": Self::total(&self.skipped),
            "lowered_by_value": lowered,
            "already_low_by_value": already,
            "inserted_by_value": inserted,
            "skipped_by_reason": self.skipped,
        })
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Where the clamped capture goes.
enum Sink {
    File(NewFile),
    Stdout(File),
}

impl Sink {
    fn open(output: &Path, force: bool) -> Result<Sink, Failure> {
        if is_dash(output) {
            outfile::stdout_for_capture().map(Sink::Stdout)
        } else {
            NewFile::create(output, force).map(Sink::File)
        }
        .map_err(Failure::Input)
    }

    fn writer(&mut self) -> &mut File {
        match self {
            Sink::File(file) => file.file(),
            Sink::Stdout(file) => file,
        }
    }
}

/// Clamps a capture into a new one (streaming, so pipes work): the output is the
/// input byte for byte except the MSS values, TCP checksums (and, when inserting,
/// the lengths) of the SYNs clamped.
fn offline(
    input: &Path,
    output: &Path,
    args: &ClampArgs,
    resolved: &Resolved,
    out: &mut impl Write,
) -> Result<ExitCode, Failure> {
    let name = if is_dash(input) {
        "standard input".to_string()
    } else {
        input.display().to_string()
    };
    let shown_output = if is_dash(output) {
        STDOUT.to_string()
    } else {
        output.display().to_string()
    };
    if !is_dash(input) && !is_dash(output) && same_file(input, output) {
        return Err(Failure::Input(format!(
            "{name}: the output is the input; mss never changes a file in place: give \
             another -o FILE"
        )));
    }
    let source: Box<dyn Read> = if is_dash(input) {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(input).map_err(|e| Failure::Input(format!("{name}: {e}")))?)
    };
    let mut sink = Sink::open(output, args.force)?;
    let written = {
        let writer = io::BufWriter::with_capacity(1 << 20, sink.writer());
        clamp_stream(source, writer, &name, &shown_output, resolved)?
    };
    if let Sink::File(file) = sink {
        file.persist().map_err(Failure::Input)?;
    }
    let Written { tally, warnings } = written;
    // With the capture on standard output, the summary goes to standard error.
    let mut stderr = io::stderr();
    let summary: &mut dyn Write = if is_dash(output) { &mut stderr } else { out };
    if args.json {
        let mut value = tally.json();
        value["type"] = json!("clamp_summary");
        value["input"] = json!(if is_dash(input) {
            "-".to_string()
        } else {
            name.clone()
        });
        value["output"] = json!(if is_dash(output) {
            "-".to_string()
        } else {
            shown_output.clone()
        });
        value["targets"] = json!({"ipv4": resolved.v4(), "ipv6": resolved.v6(), "insert": resolved.targets.insert});
        value["warnings"] = json!(warnings);
        writeln!(summary, "{value}")?;
    } else {
        writeln!(
            summary,
            "mss clamp: IPv4 target {}, IPv6 target {} ({})",
            resolved.v4(),
            resolved.v6(),
            resolved.origin
        )?;
        writeln!(
            summary,
            "{name} -> {shown_output}: {} packets, {} SYNs",
            tally.packets,
            tally.syns()
        )?;
        for line in tally.lines() {
            writeln!(summary, "{line}")?;
        }
        writeln!(
            summary,
            "Every other byte was copied unchanged; checksums were updated incrementally \
             (RFC 1624)."
        )?;
    }
    summary.flush()?;
    for warning in &warnings {
        let _ = writeln!(io::stderr(), "mss: warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

/// What a clamped stream produced besides the bytes.
struct Written {
    tally: Tally,
    warnings: Vec<String>,
}

/// The clamp over one capture stream.
fn clamp_stream(
    source: Box<dyn Read>,
    sink: impl Write,
    name: &str,
    shown_output: &str,
    resolved: &Resolved,
) -> Result<Written, Failure> {
    let mut rewriter =
        Rewriter::new(source, sink).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    let write_error = |e: io::Error| Failure::Input(format!("{shown_output}: cannot write: {e}"));
    let no_insert = Targets {
        insert: false,
        ..resolved.targets
    };
    let mut tally = Tally::default();
    let mut scratch: Vec<u8> = Vec::with_capacity(65536 + INSERT_ROOM);
    let mut failure: Option<mss_capture::Error> = None;
    loop {
        let (spot, link) = match rewriter.next_record() {
            Ok(Some(record)) => {
                let Some(link) = Link::from_link_type(record.link_type.0) else {
                    tally.add(Outcome::Unchanged(Skip::UnsupportedLink));
                    continue;
                };
                scratch.clear();
                scratch.extend_from_slice(record.data);
                (record.spot(), link)
            }
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let len = scratch.len();
        scratch.resize(len + INSERT_ROOM, 0);
        // A packet grows only where the container can say so.
        let targets = if resolved.targets.insert && rewriter.can_grow(spot, INSERT_ROOM) {
            &resolved.targets
        } else {
            &no_insert
        };
        let clamped = clamp_frame(&mut scratch, len, link, targets);
        tally.add(clamped.outcome);
        if !matches!(clamped.outcome, Outcome::Unchanged(_)) {
            rewriter
                .replace(spot, &scratch[..clamped.len])
                .map_err(write_error)?;
        }
    }
    if let Some(e) = failure.as_ref().filter(|e| !e.is_truncation()) {
        let what = if shown_output == STDOUT {
            "the capture on standard output stops before it".to_string()
        } else {
            format!("nothing was written to {shown_output}")
        };
        return Err(Failure::Input(format!("{name}: {e}; {what}")));
    }
    let mut warnings: Vec<String> = rewriter
        .warnings()
        .0
        .iter()
        .map(|w| format!("{name}: {}", w.message))
        .collect();
    rewriter.finish().map_err(write_error)?;
    if let Some(e) = failure {
        warnings.push(format!(
            "{name}: {e}; the records before it were clamped and the rest copied as it was"
        ));
    }
    Ok(Written { tally, warnings })
}
