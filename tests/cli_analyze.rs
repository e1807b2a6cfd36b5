//! End-to-end tests of `mss analyze` on the shipped example captures (a clamp
//! recorded in network namespaces by scripts/record-example) and on broken inputs.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{TempDir, mss};

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/clamp-client.pcap");
const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/clamp-server.pcap");

fn json_lines(args: &[&str]) -> Vec<Value> {
    let out = mss(args);
    assert!(
        out.status.success(),
        "mss {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn connections(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l["type"] == "connection").collect()
}

#[test]
fn json_contract_on_the_clamp_example() {
    let lines = json_lines(&["analyze", CLIENT, SERVER, "--json"]);
    let conns = connections(&lines);
    assert_eq!(conns.len(), 2);
    assert_eq!(
        lines.last().map(|l| &l["type"]),
        Some(&Value::from("summary"))
    );
    for (conn, version, original, clamped, mss) in [
        (conns[0], 4, 1460, 1360, 1348),
        (conns[1], 6, 1440, 1340, 1328),
    ] {
        assert_eq!(conn["ip_version"], version);
        for role in ["client", "server"] {
            let e = &conn[role];
            for key in [
                "addr",
                "port",
                "syn_mss",
                "effective_send_mss",
                "handshake_send_mss",
                "max_segment",
                "data_segments",
            ] {
                assert!(e.get(key).is_some(), "{role}.{key} missing");
            }
            // syn_mss as seen nearest the endpoint: before the clamp.
            assert_eq!(e["syn_mss"], original);
            assert_eq!(e["effective_send_mss"], mss);
            assert_eq!(e["max_segment"], mss);
        }
        assert_eq!(conn["server"]["port"], 5201);
        let findings = conn["findings"].as_array().cloned().unwrap_or_default();
        assert_eq!(findings.len(), 2);
        for f in &findings {
            assert_eq!(f["kind"], "mss_rewritten");
            assert_eq!(
                (f["from"].as_u64(), f["to"].as_u64()),
                (Some(original), Some(clamped))
            );
            assert!(
                f["title"].is_string() && f["explanation"].is_string() && f["source"].is_string()
            );
        }
        let endpoints: Vec<&str> = findings
            .iter()
            .filter_map(|f| f["endpoint"].as_str())
            .collect();
        assert_eq!(endpoints, ["client", "server"]);
    }
    let summary = lines.last().cloned().unwrap_or_default();
    assert_eq!(summary["connections"], 2);
    assert_eq!(summary["findings"]["mss_rewritten"], 4);
    assert_eq!(summary["syn_mss"]["1460"], 2);
}

#[test]
fn one_capture_alone_sees_no_rewrite() {
    let lines = json_lines(&["analyze", CLIENT, "--json"]);
    for conn in connections(&lines) {
        assert_eq!(conn["findings"], Value::Array(vec![]), "{conn:#}");
        // At the client, the server's SYN-ACK already carries the clamped value.
        assert!(conn["server"]["syn_mss"] == 1360 || conn["server"]["syn_mss"] == 1340);
        assert_eq!(conn["points"][0]["position"], "at_client");
    }
}

#[test]
fn filters() {
    let count = |extra: &[&str]| {
        let mut args = vec!["analyze", CLIENT, "--json"];
        args.extend_from_slice(extra);
        connections(&json_lines(&args)).len()
    };
    assert_eq!(count(&["--port", "5201"]), 2);
    assert_eq!(count(&["--port", "9"]), 0);
    // The IPv6 client (examples/clamp.toml: the client's address on link 1).
    assert_eq!(count(&["--host", "fd00:81:1::1"]), 1);
    assert_eq!(count(&["--host", "10.81.2.2", "--host", "fd00:81:2::2"]), 2);
    assert_eq!(count(&["--connection", "2"]), 1);
}

#[test]
fn fail_on_sets_the_exit_status() {
    let status = |extra: &[&str]| {
        let mut args = vec!["analyze", CLIENT, SERVER, "--json"];
        args.extend_from_slice(extra);
        mss(&args).status.code()
    };
    assert_eq!(status(&["--fail-on", "mss_rewritten"]), Some(1));
    assert_eq!(status(&["--fail-on", "any"]), Some(1));
    assert_eq!(
        status(&["--fail-on", "icmp_too_big,pmtud_blackhole_suspected"]),
        Some(0)
    );
    let out = mss(&["analyze", CLIENT, "--fail-on", "blackhole"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"blackhole\"") && err.contains("pmtud_blackhole_suspected"),
        "{err}"
    );
}

#[test]
fn human_report_fits_80_columns() {
    let out = mss(&["analyze", CLIENT, SERVER, "--color", "never"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // Every line fits, except one that is nothing but an input's path (a clone can
    // live anywhere).
    let fits = |l: &str| l.len() <= 80 || (l.ends_with(".pcap") && !l.contains(", "));
    assert!(text.lines().all(fits), "{text}");
    // A long path puts the format on a line of its own rather than overflowing.
    let dir = TempDir::new(&"long-directory-name-".repeat(3));
    let long = dir.0.join("clamp-client-capture-with-a-long-name.pcap");
    std::fs::copy(CLIENT, &long).unwrap_or_else(|e| panic!("{e}"));
    let long_out = mss(&["analyze", &long.to_string_lossy(), "--color", "never"]);
    let long_text = String::from_utf8_lossy(&long_out.stdout);
    assert!(long_text.lines().all(fits), "{long_text}");
    assert!(
        long_text
            .lines()
            .any(|l| l.starts_with("  pcap, Ethernet, ") && l.ends_with(" packets")),
        "{long_text}"
    );
    for needle in [
        "MSS c/s",
        "1460/1460",
        "1348/1348",
        "rewritten(c:1460>1360)",
        "Findings",
        "Totals",
        "mss_rewritten 4",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    assert!(!text.contains('\u{1b}'), "no colour when asked not to");
    let colored = mss(&["analyze", CLIENT, SERVER, "--color", "always"]);
    assert!(String::from_utf8_lossy(&colored.stdout).contains("\u{1b}[1m"));
}

#[test]
fn csv_table() {
    let out = mss(&["analyze", CLIENT, SERVER, "--csv"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].starts_with("id,ip_version,client_addr,client_port,server_addr,server_port"));
    assert!(
        rows[1].contains(",1460,1460,")
            && rows[1].ends_with("mss_rewritten:client;mss_rewritten:server"),
        "{}",
        rows[1]
    );
}

#[test]
fn standard_input() {
    let bytes = std::fs::read(CLIENT).unwrap_or_default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(["analyze", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    child.stdin.take().map(|mut s| s.write_all(&bytes));
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("\"type\":\"connection\""))
            .count(),
        2
    );
    assert!(text.contains("\"name\":\"standard input\""));
}

/// A stream (standard input, still open): each connection's record comes out
/// within a second or so of its end, not when the input ends (`tcpdump -U -w - |
/// mss analyze --json -` is a live view).
#[test]
fn a_stream_gets_each_record_when_its_connection_ends() {
    let bytes = std::fs::read(CLIENT).unwrap_or_default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(["analyze", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    stdin.write_all(&bytes).unwrap_or_else(|e| panic!("{e}"));
    stdin.flush().unwrap_or_else(|e| panic!("{e}"));
    let lines = support::lines_of(child.stdout.take().unwrap_or_else(|| panic!("stdout")));
    // Both connections closed in the capture: out while the input is still open
    // (within about a second; the bound here leaves room for a loaded machine).
    let mut connections = 0;
    while connections < 2 {
        match lines.recv_timeout(std::time::Duration::from_secs(5)) {
            Ok(line) => {
                assert!(line.contains("\"type\":\"connection\""), "{line}");
                connections += 1;
            }
            Err(_) => panic!(
                "{connections} records within 5 s while the input was open; the stream \
                 waits for its end"
            ),
        }
    }
    drop(stdin);
    let summary = lines
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap_or_default();
    assert!(summary.contains("\"type\":\"summary\""), "{summary}");
    assert!(child.wait().is_ok_and(|s| s.success()));
}

/// The human report from a stream: a line for each connection as it ends, then
/// the report once the input ends.
#[test]
fn a_stream_shows_each_connection_as_it_ends_then_the_report() {
    let bytes = std::fs::read(CLIENT).unwrap_or_default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(["analyze", "-"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    stdin.write_all(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let lines = support::lines_of(child.stdout.take().unwrap_or_else(|| panic!("stdout")));
    for id in 1..=2 {
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("no line for connection #{id} while the input was open"));
        assert!(
            line.starts_with(&format!("#{id}  ")) && line.contains("MSS 14"),
            "{line}"
        );
    }
    drop(stdin);
    let rest: Vec<String> = lines.iter().collect();
    assert!(rest.iter().any(|l| l.starts_with("Totals")), "{rest:?}");
    assert!(child.wait().is_ok_and(|s| s.success()));
}

/// Offsets of the pcap records in a file: (record offset, captured length).
fn records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes([bytes[at + 8], bytes[at + 9], bytes[at + 10], bytes[at + 11]])
            as usize;
        out.push((at, len));
        at += 16 + len;
    }
    out
}

#[test]
fn truncated_capture_gives_results_so_far_and_a_warning() {
    let dir = TempDir::new("cut");
    let bytes = std::fs::read(CLIENT).unwrap_or_default();
    let recs = records(&bytes);
    let (at, _) = recs[40];
    let cut = dir.0.join("cut.pcap");
    std::fs::write(&cut, &bytes[..at + 30]).unwrap_or_else(|e| panic!("{e}"));
    let path = cut.to_string_lossy().to_string();
    let out = mss(&["analyze", &path, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("packet 41") && err.contains(&format!("byte {at}")),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"type\":\"connection\""));
    // The human report carries the warning too.
    let human = mss(&["analyze", &path]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("Warnings"));
}

#[test]
fn corrupt_record_length_is_an_error_with_the_offset() {
    let dir = TempDir::new("corrupt");
    let mut bytes = std::fs::read(CLIENT).unwrap_or_default();
    let (at, _) = records(&bytes)[10];
    bytes[at + 8..at + 12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let file = dir.0.join("corrupt.pcap");
    std::fs::write(&file, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let path = file.to_string_lossy().to_string();
    let out = mss(&["analyze", &path, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&path) && err.contains(&format!("byte {at}")) && err.contains("packet 11"),
        "{err}"
    );
    // The packets before it were analyzed.
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"type\":\"summary\""));
}

#[test]
fn unusable_inputs_exit_2_with_a_reason() {
    let dir = TempDir::new("bad");
    let text = dir.0.join("notes.txt");
    std::fs::write(&text, b"hello, not a capture\n").unwrap_or_else(|e| panic!("{e}"));
    let empty = dir.0.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap_or_else(|e| panic!("{e}"));
    for (file, needle) in [
        (
            text.to_string_lossy().to_string(),
            "not a pcap or pcapng capture",
        ),
        (empty.to_string_lossy().to_string(), "empty"),
        (
            "/nonexistent/x.pcap".to_string(),
            "cannot open /nonexistent/x.pcap",
        ),
    ] {
        let out = mss(&["analyze", &file]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{file}: {err}");
        assert!(out.stdout.is_empty());
    }
}

/// Regression: `analyze - -` read standard input once and then said "the input is
/// empty"; one file under two names counted as two capture points.
#[test]
fn an_input_given_twice_is_refused() {
    let out = mss(&["analyze", "-", "-"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("- (standard input) is given 2 times: it can be read only once"),
        "{err}"
    );
    let dir = TempDir::new("twice");
    let link = dir.0.join("same.pcap");
    std::os::unix::fs::symlink(CLIENT, &link).unwrap_or_else(|e| panic!("{e}"));
    let out = mss(&["analyze", CLIENT, &link.to_string_lossy()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{CLIENT} and {} are the same file",
            link.display()
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// Regression: `--connection 99` on a capture of two connections printed nothing
/// and said nothing.
#[test]
fn a_filter_that_selects_nothing_says_so() {
    for format in [&[][..], &["--json"][..], &["--csv"][..]] {
        let mut args = vec!["analyze", CLIENT, "--connection", "99", "--connection", "2"];
        args.extend(format);
        let out = mss(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        // Not an error: the exit status is what the run found (0 here).
        assert_eq!(out.status.code(), Some(0), "{format:?}: {err}");
        assert_eq!(
            err.trim(),
            "mss: warning: no connection #99 in the input (ids 1-2)",
            "{format:?}"
        );
    }
    let out = mss(&["analyze", CLIENT, "--port", "9", "--host", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "mss: warning: no connection matched --host 192.0.2.1 --port 9 (2 connections in the input)"
    );
    // A filter that selects something is quiet.
    let out = mss(&["analyze", CLIENT, "--connection", "1", "--port", "5201"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Regression: analyze took its paths as UTF-8 strings and refused names that
/// `mss clamp` (and the shell) accept.
#[test]
fn file_names_need_not_be_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("latin1");
    let name = dir.0.join(std::ffi::OsStr::from_bytes(b"caf\xe9.pcap"));
    std::fs::copy(CLIENT, &name).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_mss"))
        .arg("analyze")
        .arg(&name)
        .arg("--json")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("\"type\":\"connection\"").count(), 2, "{text}");
    // Named lossily where a name is shown.
    assert!(text.contains("caf\u{fffd}.pcap"), "{text}");
    let missing = dir.0.join(std::ffi::OsStr::from_bytes(b"gone\xe9.pcap"));
    let out = Command::new(env!("CARGO_BIN_EXE_mss"))
        .arg("analyze")
        .arg(&missing)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot open ")
            && String::from_utf8_lossy(&out.stderr).contains("gone\u{fffd}.pcap"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Regression: `--max-connections 0` was quietly taken as 1.
#[test]
fn max_connections_zero_is_refused() {
    let out = mss(&["analyze", CLIENT, "--max-connections", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'--max-connections <N>'")
            && err.contains("1 or more")
            && err.contains("\"0\""),
        "{err}"
    );
}

/// `--color` only colours the human report: with --json or --csv it is refused.
#[test]
fn color_with_json_or_csv_is_refused() {
    for format in ["--json", "--csv"] {
        let out = mss(&["analyze", CLIENT, format, "--color", "always"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("'{format}' cannot be used with '--color <WHEN>'")),
            "{err}"
        );
    }
}

/// gzip and zstd captures are read as they are, told by their first bytes (not
/// the name), through a pipe too; the records are the plain capture's.
#[test]
fn compressed_captures_give_the_same_records() {
    let dir = TempDir::new("compressed");
    let bytes = std::fs::read(CLIENT).unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let gz = gz.finish().unwrap_or_else(|e| panic!("{e}"));
    let zst = zstd::stream::encode_all(&bytes[..], 3).unwrap_or_else(|e| panic!("{e}"));
    let plain = json_lines(&["analyze", CLIENT, "--json"]);
    let records = |lines: &[Value]| -> Vec<Value> {
        connections(lines)
            .into_iter()
            .map(|r| {
                let mut r = r.clone();
                r["points"][0]["input"] = Value::Null;
                r
            })
            .collect()
    };
    for (name, data, compression) in [("capture-a", &gz, "gzip"), ("capture-b", &zst, "zstd")] {
        let path = dir.0.join(name);
        std::fs::write(&path, data).unwrap_or_else(|e| panic!("{e}"));
        let lines = json_lines(&["analyze", &path.to_string_lossy(), "--json"]);
        assert_eq!(records(&lines), records(&plain), "{compression}");
        let summary = lines.last().cloned().unwrap_or_default();
        assert_eq!(
            summary["inputs"][0]["compression"], compression,
            "{summary}"
        );
        assert_eq!(
            summary["packets"],
            plain.last().cloned().unwrap_or_default()["packets"]
        );
        // From standard input.
        let mut child = Command::new(env!("CARGO_BIN_EXE_mss"))
            .args(["analyze", "-", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
        let data = data.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        let _ = writer.join();
        assert!(out.status.success(), "{compression} from a pipe");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains("\"type\":\"connection\""))
                .count(),
            2
        );
    }
    assert_eq!(
        plain.last().cloned().unwrap_or_default()["inputs"][0]["compression"],
        Value::Null
    );
    // Cut short: the packets before the cut and a warning that says so.
    let cut = dir.0.join("cut");
    std::fs::write(&cut, &gz[..gz.len() * 3 / 4]).unwrap_or_else(|e| panic!("{e}"));
    let out = mss(&["analyze", &cut.to_string_lossy(), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gzip data ends early"), "{err}");
}

/// The words of a report, one space apart (its lines wrap by the paths' width).
fn words(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `bytes` (a little-endian pcap) with every record's time moved by `seconds`.
fn shifted(bytes: &[u8], seconds: i64) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (at, _) in records(bytes) {
        let sec = i64::from(u32::from_le_bytes([
            out[at],
            out[at + 1],
            out[at + 2],
            out[at + 3],
        ]));
        let moved = u32::try_from(sec + seconds).unwrap_or_else(|e| panic!("{e}"));
        out[at..at + 4].copy_from_slice(&moved.to_le_bytes());
    }
    out
}

/// The connection records without the capture files' names and the times (a
/// corrected clock is placed by the median of the SYNs' differences, which takes
/// the path's microseconds out too).
fn unnamed(lines: &[Value]) -> Vec<Value> {
    connections(lines)
        .into_iter()
        .map(|r| {
            let mut r = r.clone();
            for point in r["points"].as_array_mut().into_iter().flatten() {
                point["input"] = Value::Null;
            }
            for finding in r["findings"].as_array_mut().into_iter().flatten() {
                finding["between"] = Value::Null;
            }
            for key in ["first_time", "last_time", "duration_s"] {
                r[key] = Value::Null;
            }
            r
        })
        .collect()
}

/// Regression: a server capture whose clock was 93 s ahead made every connection
/// appear twice (once per capture) and hid the clamp between them.
#[test]
fn a_capture_whose_clock_is_off_is_placed_by_its_syns() {
    let dir = TempDir::new("clock");
    let server = std::fs::read(SERVER).unwrap_or_default();
    let late = dir.0.join("server-late.pcap");
    std::fs::write(&late, shifted(&server, 93)).unwrap_or_else(|e| panic!("{e}"));
    let late = late.to_string_lossy().to_string();
    let truth = json_lines(&["analyze", CLIENT, SERVER, "--json"]);
    let found = json_lines(&["analyze", CLIENT, &late, "--json"]);
    assert_eq!(unnamed(&found), unnamed(&truth));
    let inputs = &found.last().cloned().unwrap_or_default()["inputs"];
    assert_eq!(
        inputs[1]["clock_offset_s"].as_f64().map(f64::round),
        Some(93.0)
    );
    assert_eq!(inputs[1]["clock_corrected"], true);
    assert_eq!(inputs[0]["clock_corrected"], false);
    let out = mss(&["analyze", CLIENT, &late]);
    // Words only: the report wraps its lines by the width of the paths.
    let err = words(&out.stdout);
    assert!(
        err.contains("its clock is 93.") && err.contains("ahead of"),
        "{err}"
    );
    // Given by hand: the same.
    let given = json_lines(&[
        "analyze",
        CLIENT,
        &late,
        "--json",
        "--time-offset",
        &format!("{late}=93"),
    ]);
    assert_eq!(unnamed(&given), unnamed(&truth));
    // Captures of the same host agree within the path's latency: nothing moved.
    let same = &truth.last().cloned().unwrap_or_default()["inputs"];
    assert_eq!(same[1]["clock_corrected"], false);
    assert!(
        same[1]["clock_offset_s"]
            .as_f64()
            .is_some_and(|s| s.abs() < 0.01),
        "{same}"
    );
    // A capture that is not one of the inputs.
    let out = mss(&["analyze", CLIENT, "--time-offset", "other.pcap=3"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("other.pcap: not one of the captures given"),
        "{err}"
    );
    let out = mss(&["analyze", CLIENT, "--time-offset", "x"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn captures_that_share_no_time_are_said_to() {
    let dir = TempDir::new("apart");
    let server = std::fs::read(SERVER).unwrap_or_default();
    // A day apart and without a SYN in common (the other connections).
    let other = dir.0.join("other.pcap");
    let moved = shifted(&server, 86_400);
    std::fs::write(&other, &moved).unwrap_or_else(|e| panic!("{e}"));
    let other = other.to_string_lossy().to_string();
    let out = mss(&[
        "analyze",
        CLIENT,
        &other,
        "--time-offset",
        &format!("{other}=0"),
    ]);
    let text = words(&out.stdout);
    assert!(
        text.contains("shares no time with the other captures"),
        "{text}"
    );
}

/// A capture whose link type mss does not decode gives no "no connections" with
/// exit 0: it exits 2 naming the link type's number and name, and what to do.
#[test]
fn a_link_type_mss_does_not_decode_is_exit_2_with_its_name() {
    let dir = TempDir::new("linktype");
    let mut bytes = std::fs::read(CLIENT).unwrap_or_default();
    // The pcap header's link type: 147, LINKTYPE_USER0.
    bytes[20..24].copy_from_slice(&147u32.to_le_bytes());
    let file = dir.0.join("user0.pcap");
    std::fs::write(&file, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let path = file.to_string_lossy().to_string();
    let out = mss(&["analyze", &path]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("link type 147 (USER0)") && err.contains("Ethernet") && err.contains(&path),
        "{err}"
    );
    assert!(!err.contains("results above cover"), "{err}");
}
