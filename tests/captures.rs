//! The real captures checked into tests/captures/: lab scenarios recorded on the
//! kernel by `scripts/record-captures` (each capture point of a run, headers only),
//! so that a fresh clone tests real captures with nothing else.
//!
//! 1. What `mss analyze --json` says of each capture point alone and of all points
//!    of a run together is exactly what was recorded beside them (`*.jsonl`): a
//!    change in any figure shows up here as a diff. `MSS_UPDATE_CAPTURES=1`
//!    rewrites those files after a deliberate change (review the diff).
//! 2. tshark, an independent decoder, reads the same captures: every connection's
//!    SYN MSS (value or absent) and largest segment per direction (from the IP
//!    length, as both compute it) must be what mss reports. It needs tshark
//!    (`scripts/test` installs it).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use mss_analyze::record::{ConnectionRecord, SummaryRecord};
use mss_analyze::report::MssSeen;
use support::which;

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captures")
}

/// The recorded runs: (scenario, its captures in name order).
fn runs() -> Vec<(String, Vec<PathBuf>)> {
    let mut runs = Vec::new();
    let entries = std::fs::read_dir(captures()).expect("tests/captures");
    for entry in entries {
        let dir = entry.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        let mut pcaps: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("scenario directory")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
            .collect();
        pcaps.sort();
        assert!(
            !pcaps.is_empty(),
            "{}: no captures (scripts/record-captures records them)",
            dir.display()
        );
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        runs.push((name, pcaps));
    }
    runs.sort();
    assert!(
        runs.len() >= 6,
        "tests/captures holds {} recorded runs; scripts/record-captures records them",
        runs.len()
    );
    runs
}

/// `mss analyze FILES --json`, run from the repository so that the inputs are named
/// as in the recorded output.
fn analyze(files: &[&Path]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let relative: Vec<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(root)
                .unwrap_or(f)
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_mss"))
        .current_dir(root)
        .args(["analyze", "--json", "--no-progress"])
        .args(&relative)
        .output()
        .expect("run mss");
    assert!(
        out.status.success(),
        "mss analyze {relative:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Compares `got` with the recorded file, or rewrites it when asked to.
fn same_as_recorded(recorded: &Path, got: &str, problems: &mut Vec<String>) {
    if std::env::var_os("MSS_UPDATE_CAPTURES").is_some() {
        std::fs::write(recorded, got).expect("write the recorded output");
        return;
    }
    let want = std::fs::read_to_string(recorded).unwrap_or_default();
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        problems.push(format!(
            "{}: differs from line {}:\n  recorded: {}\n  now:      {}",
            recorded.display(),
            line + 1,
            want.lines().nth(line).unwrap_or("(nothing)"),
            got.lines().nth(line).unwrap_or("(nothing)")
        ));
    }
}

#[test]
fn analyses_are_what_was_recorded() {
    let mut problems = Vec::new();
    for (name, pcaps) in runs() {
        let dir = captures().join(&name);
        for pcap in &pcaps {
            let got = analyze(&[pcap.as_path()]);
            assert!(
                got.contains("\"type\":\"connection\""),
                "{}",
                pcap.display()
            );
            same_as_recorded(&pcap.with_extension("jsonl"), &got, &mut problems);
        }
        let all: Vec<&Path> = pcaps.iter().map(PathBuf::as_path).collect();
        let got = analyze(&all);
        // Every record reads back into its type and writes out the same.
        for line in got.lines() {
            let again = if line.starts_with(r#"{"type":"summary""#) {
                serde_json::to_string(&serde_json::from_str::<SummaryRecord>(line).expect(line))
            } else {
                serde_json::to_string(&serde_json::from_str::<ConnectionRecord>(line).expect(line))
            };
            assert_eq!(again.expect("serialize"), line);
        }
        same_as_recorded(&dir.join("all-points.jsonl"), &got, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "{} outputs changed (MSS_UPDATE_CAPTURES=1 cargo test --test captures rewrites \
         them after a deliberate change):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// One direction of a connection: (source address, source port, destination port).
type Direction = (String, u16, u16);

/// What tshark read of one direction.
#[derive(Debug, Default)]
struct Seen {
    /// The MSS of its first SYN: `Some(None)` for a SYN without the option.
    syn_mss: Option<Option<u16>>,
    /// Largest TCP payload, from the IP length.
    max_len: u32,
}

fn tshark(pcap: &Path) -> BTreeMap<Direction, Seen> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args([
            "-Y",
            "tcp && !icmp && !icmpv6",
            "-T",
            "fields",
            "-E",
            "separator=;",
        ])
        .args([
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
        ])
        .args([
            "-e",
            "tcp.flags.syn",
            "-e",
            "tcp.options.mss_val",
            "-e",
            "tcp.len",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark -r {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen: BTreeMap<Direction, Seen> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split(';').collect();
        let [v4, v6, sport, dport, syn, mss, len] = f[..] else {
            panic!("{}: tshark printed {line:?}", pcap.display());
        };
        let addr = if v4.is_empty() { v6 } else { v4 };
        let number = |s: &str| s.parse::<u32>().unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let port = |s: &str| u16::try_from(number(s)).expect("port");
        let entry = seen
            .entry((addr.to_string(), port(sport), port(dport)))
            .or_default();
        if (syn == "1" || syn == "True") && entry.syn_mss.is_none() {
            entry.syn_mss = Some(if mss.is_empty() {
                None
            } else {
                Some(u16::try_from(number(mss)).expect("MSS"))
            });
        }
        entry.max_len = entry.max_len.max(number(len));
    }
    seen
}

#[test]
fn tshark_reads_the_same_syn_mss_and_largest_segments() {
    assert!(
        which("tshark").is_some(),
        "this test compares with tshark: apt-get install tshark (scripts/test installs it)"
    );
    let mut compared = 0;
    let mut problems = Vec::new();
    for (_, pcaps) in runs() {
        for pcap in &pcaps {
            let theirs = tshark(pcap);
            let text = analyze(&[pcap.as_path()]);
            // The last line is the summary.
            for line in text
                .lines()
                .filter(|l| l.starts_with(r#"{"type":"connection""#))
            {
                let record: ConnectionRecord = serde_json::from_str(line).expect("a record");
                for (me, peer) in [
                    (&record.client, &record.server),
                    (&record.server, &record.client),
                ] {
                    let key = (me.addr.to_string(), me.port, peer.port);
                    let Some(seen) = theirs.get(&key) else {
                        // A point on one direction of an asymmetric path.
                        if me.syn_mss != MssSeen::NotCaptured || me.data_segments > 0 {
                            problems.push(format!(
                                "{}: tshark saw nothing from {key:?}, mss did",
                                pcap.display()
                            ));
                        }
                        continue;
                    };
                    let ours_syn = match me.syn_mss {
                        MssSeen::Value(v) => Some(Some(v)),
                        MssSeen::Absent => Some(None),
                        MssSeen::Unknown | MssSeen::NotCaptured => None,
                    };
                    if ours_syn != seen.syn_mss {
                        problems.push(format!(
                            "{}: {key:?} SYN MSS: mss {ours_syn:?}, tshark {:?}",
                            pcap.display(),
                            seen.syn_mss
                        ));
                    }
                    let ours_max = me.max_segment.unwrap_or(0);
                    if ours_max != seen.max_len {
                        problems.push(format!(
                            "{}: {key:?} largest segment: mss {ours_max}, tshark {}",
                            pcap.display(),
                            seen.max_len
                        ));
                    }
                    compared += 1;
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(compared >= 20, "only {compared} directions compared");
}

/// The server's capture of the `fragments` run (the router fragments every
/// full-size packet of the client) with one later fragment taken out: that
/// datagram is given up as incomplete and told, never counted as a segment of the
/// first fragment's size; the rest still reassemble.
#[test]
fn a_missing_fragment_makes_an_incomplete_datagram_not_a_segment() {
    assert!(
        which("tshark").is_some() && which("editcap").is_some(),
        "this test needs tshark and editcap: apt-get install tshark (scripts/test installs it)"
    );
    let whole = captures().join("fragments/server-eth0.pcap");
    let later = Command::new("tshark")
        .args(["-r"])
        .arg(&whole)
        .args([
            "-Y",
            "ip.frag_offset > 0",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .output()
        .expect("run tshark");
    let later = String::from_utf8_lossy(&later.stdout);
    let frame = later
        .lines()
        .nth(3)
        .expect("later fragments in the capture");
    let dir = std::env::temp_dir().join(format!("mss-lost-fragment-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let cut = dir.join("lost-fragment.pcap");
    let status = Command::new("editcap")
        .arg(&whole)
        .arg(&cut)
        .arg(frame)
        .status()
        .expect("run editcap");
    assert!(status.success());
    let parse = |text: &str| {
        let mut lines: Vec<&str> = text.lines().collect();
        let summary: SummaryRecord =
            serde_json::from_str(lines.pop().expect("summary")).expect("summary record");
        let conns: Vec<ConnectionRecord> = lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("connection record"))
            .collect();
        (conns, summary)
    };
    let (before, before_summary) = parse(&analyze(&[whole.as_path()]));
    let (after, after_summary) = parse(&analyze(&[cut.as_path()]));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(before_summary.incomplete_datagrams, 0);
    assert_eq!(after_summary.incomplete_datagrams, 1);
    assert_eq!(after_summary.reassembled + 1, before_summary.reassembled);
    let (client_before, client_after) = (&before[0].client, &after[0].client);
    assert_eq!(client_after.max_segment, client_before.max_segment);
    assert_eq!(client_after.data_segments + 1, client_before.data_segments);
    let incomplete = after[0]
        .findings
        .iter()
        .find_map(|f| match f.finding {
            mss_analyze::record::FindingFields::IpFragments {
                incomplete,
                incomplete_len,
                ..
            } => Some((incomplete, incomplete_len)),
            _ => None,
        })
        .expect("an ip_fragments finding");
    assert_eq!(incomplete.0, 1);
    assert!(incomplete.1 >= 900, "{incomplete:?}");
}
