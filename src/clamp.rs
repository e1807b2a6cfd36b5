//! `mss clamp`: the targets from the arguments, then a capture file clamped into a
//! new one, live SYNs from NFQUEUE (clamp/live.rs), or configuration for a
//! platform (clamp/emit.rs). The clamp itself is the mss-clamp crate.

mod emit;
mod live;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::ExitCode;

use mss_capture::{Format, Reader};
use mss_clamp::{INSERT_ROOM, Outcome, Skip, Targets, clamp_frame};
use mss_rules::{IpVersion, Mtu};
use mss_wire::packet::Link;
use serde_json::json;

use crate::Failure;
use crate::cli::ClampArgs;

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
        let mut values = [0u16; 2];
        let mut inner = [0u32; 2];
        for (i, version) in [IpVersion::V4, IpVersion::V6].into_iter().enumerate() {
            let left = args
                .encap
                .inner_mtu(mtu, version)
                .map_err(|e| Failure::Input(format!("--encap {}: {e}", args.encap)))?;
            inner[i] = left;
            values[i] = mss_rules::clamp::target_for_mtu(version, Mtu(left))
                .map_err(|e| Failure::Input(format!("--mtu {mtu}: {e}")))?
                .get();
        }
        let origin = if args.encap.is_empty() {
            format!("--mtu {mtu}: MTU - 40 and MTU - 60")
        } else {
            format!(
                "--mtu {mtu} --encap {}: {} bytes left for IPv4, {} for IPv6",
                args.encap, inner[0], inner[1]
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

pub(crate) fn run(args: &ClampArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let resolved = resolve(args)?;
    if let Some(platform) = &args.emit {
        emit::emit(platform, &resolved, args, out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(queue) = args.nfqueue {
        return live::run(queue, &resolved, args, out);
    }
    let (Some(input), Some(output)) = (&args.input, &args.output) else {
        return Err(Failure::Input(
            "give the clamped capture's file with -o FILE (the input is never changed)".into(),
        ));
    };
    offline(input, output, &resolved, args.json, out)
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

/// Copies `n` bytes from `from` to `to`.
fn copy_exact(from: &mut impl Read, to: &mut impl Write, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut from.take(n), to)?;
    if copied == n {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the input changed while it was read",
        ))
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Clamps a capture file into a new one: the output is the input byte for byte
/// except the MSS values, TCP checksums (and, when inserting into pcap, the
/// lengths) of the SYNs clamped.
fn offline(
    input: &Path,
    output: &Path,
    resolved: &Resolved,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Failure> {
    let name = input.display().to_string();
    if same_file(input, output) {
        return Err(Failure::Input(format!(
            "{name}: the output is the input; mss never changes a file in place: give \
             another -o FILE"
        )));
    }
    let open = || File::open(input).map_err(|e| Failure::Input(format!("{name}: {e}")));
    let mut reader = Reader::new(open()?).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    let big_endian = match reader.format() {
        Format::Pcap { big_endian, .. } => Some(big_endian),
        Format::PcapNg => None,
    };
    // pcapng: lengths are rewritten in Enhanced Packet Blocks; a packet in another
    // block type (simple, obsolete) is only lowered, never grown.
    let blocks = open()?;
    let no_insert = Targets {
        insert: false,
        ..resolved.targets
    };
    // Plain files on both sides: std's io::copy between files uses
    // copy_file_range(2), so the unchanged spans never pass through user space.
    let mut source = open()?;
    let partial = output.with_extension("partial");
    let file = File::create(&partial)
        .map_err(|e| Failure::Input(format!("{}: {e}", partial.display())))?;
    let mut sink = file;
    let mut tally = Tally::default();
    let mut copied: u64 = 0;
    let mut scratch: Vec<u8> = Vec::with_capacity(65536 + INSERT_ROOM);
    let mut failure: Option<mss_capture::Error> = None;
    let result = (|| -> io::Result<()> {
        loop {
            let record = match reader.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            let Some(link) = Link::from_link_type(record.link_type.0) else {
                tally.add(Outcome::Unchanged(Skip::UnsupportedLink));
                continue;
            };
            scratch.clear();
            scratch.extend_from_slice(record.data);
            let len = scratch.len();
            scratch.resize(len + INSERT_ROOM, 0);
            // (block type, its byte order is little-endian) of a pcapng record.
            let mut epb_little = None;
            let mut targets = &resolved.targets;
            if resolved.targets.insert && big_endian.is_none() {
                let mut head = [0u8; 4];
                blocks.read_exact_at(&mut head, record.offset)?;
                epb_little = match head {
                    [6, 0, 0, 0] => Some(true),
                    [0, 0, 0, 6] => Some(false),
                    _ => None,
                };
                if epb_little.is_none() {
                    targets = &no_insert;
                }
            }
            let clamped = clamp_frame(&mut scratch, len, link, targets);
            tally.add(clamped.outcome);
            match clamped.outcome {
                Outcome::Lowered { .. } => {
                    copy_exact(&mut source, &mut sink, record.data_offset - copied)?;
                    sink.write_all(&scratch[..len])?;
                    source.seek(SeekFrom::Current(i64::try_from(len).unwrap_or(i64::MAX)))?;
                    copied = record.data_offset + len as u64;
                }
                Outcome::Inserted { .. } if big_endian.is_none() => {
                    // pcapng Enhanced Packet Block: type, total length, interface,
                    // timestamp (2 words), captured and original length, the data
                    // padded to 4 bytes, options, total length again. Four more data
                    // bytes keep the padding and grow both total lengths by 4.
                    let little = epb_little.unwrap_or(true);
                    let word = |v: u32| {
                        if little {
                            v.to_le_bytes()
                        } else {
                            v.to_be_bytes()
                        }
                    };
                    let mut total = [0u8; 4];
                    blocks.read_exact_at(&mut total, record.offset + 4)?;
                    let total = if little {
                        u32::from_le_bytes(total)
                    } else {
                        u32::from_be_bytes(total)
                    };
                    let block_end = record.offset + u64::from(total);
                    let grown = total.saturating_add(4);
                    copy_exact(&mut source, &mut sink, record.offset + 4 - copied)?;
                    sink.write_all(&word(grown))?;
                    source.seek(SeekFrom::Current(4))?;
                    copy_exact(&mut source, &mut sink, 12)?;
                    let captured = u32::try_from(clamped.len).unwrap_or(u32::MAX);
                    sink.write_all(&word(captured))?;
                    sink.write_all(&word(record.original_len.saturating_add(4)))?;
                    source.seek(SeekFrom::Current(8))?;
                    sink.write_all(&scratch[..clamped.len])?;
                    source.seek(SeekFrom::Current(i64::try_from(len).unwrap_or(i64::MAX)))?;
                    let rest = block_end.saturating_sub(4 + record.data_offset + len as u64);
                    copy_exact(&mut source, &mut sink, rest)?;
                    sink.write_all(&word(grown))?;
                    source.seek(SeekFrom::Current(4))?;
                    copied = block_end;
                }
                Outcome::Inserted { .. } => {
                    // pcap record header: ts_sec, ts_usec, incl_len, orig_len.
                    let lengths_at = record.offset + 8;
                    copy_exact(&mut source, &mut sink, lengths_at - copied)?;
                    let big = big_endian.unwrap_or(false);
                    for value in [clamped.len as u64, u64::from(record.original_len) + 4] {
                        let value = u32::try_from(value).unwrap_or(u32::MAX);
                        sink.write_all(&if big {
                            value.to_be_bytes()
                        } else {
                            value.to_le_bytes()
                        })?;
                    }
                    source.seek(SeekFrom::Current(8))?;
                    copy_exact(
                        &mut source,
                        &mut sink,
                        record.data_offset - (lengths_at + 8),
                    )?;
                    sink.write_all(&scratch[..clamped.len])?;
                    source.seek(SeekFrom::Current(i64::try_from(len).unwrap_or(i64::MAX)))?;
                    copied = record.data_offset + len as u64;
                }
                Outcome::Unchanged(_) => {}
            }
        }
        // The rest, whatever it is (a truncated last record included).
        io::copy(&mut source, &mut sink)?;
        sink.flush()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(Failure::Input(format!("{}: {e}", output.display())));
    }
    if let Some(e) = failure.as_ref().filter(|e| !e.is_truncation()) {
        let _ = std::fs::remove_file(&partial);
        return Err(Failure::Input(format!("{name}: {e}")));
    }
    std::fs::rename(&partial, output)
        .map_err(|e| Failure::Input(format!("{}: {e}", output.display())))?;
    let mut warnings: Vec<String> = reader
        .warnings()
        .0
        .iter()
        .map(|w| format!("{name}: {}", w.message))
        .collect();
    if let Some(e) = failure {
        warnings.push(format!(
            "{name}: {e}; the records before it were clamped and the rest copied as it was"
        ));
    }
    if json {
        let mut value = tally.json();
        value["type"] = json!("clamp_summary");
        value["input"] = json!(name);
        value["output"] = json!(output.display().to_string());
        value["targets"] = json!({"ipv4": resolved.v4(), "ipv6": resolved.v6(), "insert": resolved.targets.insert});
        value["warnings"] = json!(warnings);
        writeln!(out, "{value}")?;
    } else {
        writeln!(
            out,
            "mss clamp: IPv4 target {}, IPv6 target {} ({})",
            resolved.v4(),
            resolved.v6(),
            resolved.origin
        )?;
        writeln!(
            out,
            "{name} -> {}: {} packets, {} SYNs",
            output.display(),
            tally.packets,
            tally.syns()
        )?;
        for line in tally.lines() {
            writeln!(out, "{line}")?;
        }
        writeln!(
            out,
            "Every other byte was copied unchanged; checksums were updated incrementally \
             (RFC 1624)."
        )?;
    }
    for warning in &warnings {
        let _ = writeln!(io::stderr(), "mss: warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}
