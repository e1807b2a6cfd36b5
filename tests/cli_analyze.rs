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

/// A connection of a made-up capture: client and server (IPv4), when it starts and
/// how long it lasts, each side's SYN MSS option, and the payload each side sends
/// in one segment (the capture keeps the headers only, as a snaplen would).
struct Made {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    start_s: u32,
    lasts_s: u32,
    mss: (Option<u16>, Option<u16>),
    payload: (u16, u16),
}

/// A packet of a made-up connection: time (µs), whether the client sent it, sequence
/// and acknowledgement numbers, TCP flags, MSS option, payload length.
type Step = (u64, bool, u32, u32, u8, Option<u16>, u32);

/// A pcap (Ethernet) of these connections, their packets in time order.
fn made_capture(connections: &[Made]) -> Vec<u8> {
    // (time in µs, frame, length on the wire)
    let mut packets: Vec<(u64, Vec<u8>, u32)> = Vec::new();
    for c in connections {
        let (cseq, sseq) = (1000u32, 5000u32);
        let (cdata, sdata) = (u32::from(c.payload.0), u32::from(c.payload.1));
        let t0 = u64::from(c.start_s) * 1_000_000;
        let end = u64::from(c.start_s + c.lasts_s) * 1_000_000;
        // Sequence numbers after the SYNs, and after the data.
        let (c1, s1) = (cseq + 1, sseq + 1);
        let (c2, s2) = (c1 + cdata, s1 + sdata);
        let steps: [Step; 9] = [
            (t0, true, cseq, 0, 0x02, c.mss.0, 0),
            (t0 + 100, false, sseq, c1, 0x12, c.mss.1, 0),
            (t0 + 200, true, c1, s1, 0x10, None, 0),
            (t0 + 300, true, c1, s1, 0x18, None, cdata),
            (t0 + 400, false, s1, c2, 0x18, None, sdata),
            (t0 + 500, true, c2, s2, 0x10, None, 0),
            (end, true, c2, s2, 0x11, None, 0),
            (end + 100, false, s2, c2 + 1, 0x11, None, 0),
            (end + 200, true, c2 + 1, s2 + 1, 0x10, None, 0),
        ];
        for (t, from_client, seq, ack, flags, mss, payload) in steps {
            let (src, dst) = if from_client {
                (c.client, c.server)
            } else {
                (c.server, c.client)
            };
            let options: Vec<u8> = mss.map_or_else(Vec::new, |m| {
                let [hi, lo] = m.to_be_bytes();
                vec![2, 4, hi, lo]
            });
            let tcp_len = 20 + options.len();
            let ip_len = 20 + tcp_len + payload as usize;
            let mut frame = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&u16::try_from(ip_len).unwrap_or(u16::MAX).to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
            ip.extend_from_slice(&src.0);
            ip.extend_from_slice(&dst.0);
            let sum: u32 = ip
                .chunks(2)
                .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
                .sum();
            let folded = (sum & 0xffff) + (sum >> 16);
            let check = !u16::try_from((folded & 0xffff) + (folded >> 16)).unwrap_or(0);
            ip[10..12].copy_from_slice(&check.to_be_bytes());
            frame.extend_from_slice(&ip);
            frame.extend_from_slice(&src.1.to_be_bytes());
            frame.extend_from_slice(&dst.1.to_be_bytes());
            frame.extend_from_slice(&seq.to_be_bytes());
            frame.extend_from_slice(&ack.to_be_bytes());
            let offset = u8::try_from(tcp_len / 4 * 16).unwrap_or(0);
            frame.extend_from_slice(&[offset, flags, 0xff, 0xff, 0, 0, 0, 0]);
            frame.extend_from_slice(&options);
            let wire = u32::try_from(14 + ip_len).unwrap_or(u32::MAX);
            packets.push((t, frame, wire));
        }
    }
    packets.sort_by_key(|p| p.0);
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    for word in [0u32, 0, 65535, 1] {
        pcap.extend_from_slice(&word.to_le_bytes());
    }
    for (t, frame, wire) in packets {
        for word in [
            u32::try_from(t / 1_000_000).unwrap_or(0),
            u32::try_from(t % 1_000_000).unwrap_or(0),
            u32::try_from(frame.len()).unwrap_or(0),
            wire,
        ] {
            pcap.extend_from_slice(&word.to_le_bytes());
        }
        pcap.extend_from_slice(&frame);
    }
    pcap
}

/// Six connections: #1 lasts longest (it ends last), #2 sends 65160-byte
/// super-segments both ways, #3's SYN has no MSS option, #5 sends a segment beyond
/// its MSS; two server networks, three server ports.
fn six_connections() -> Vec<Made> {
    let made = |i: u8, server: ([u8; 4], u16), start_s, lasts_s, mss, payload| Made {
        client: ([10, 1, 1, i], 40000 + u16::from(i)),
        server,
        start_s,
        lasts_s,
        mss,
        payload,
    };
    let web = [10, 2, 2, 2];
    vec![
        made(
            1,
            (web, 443),
            0,
            100,
            (Some(1460), Some(1460)),
            (1000, 1400),
        ),
        made(
            2,
            ([10, 2, 2, 3], 443),
            10,
            1,
            (Some(1460), Some(1460)),
            (65160, 65160),
        ),
        made(
            3,
            ([10, 3, 3, 3], 80),
            20,
            1,
            (None, Some(1460)),
            (500, 500),
        ),
        made(4, (web, 443), 30, 1, (Some(1360), Some(1460)), (1300, 1400)),
        made(5, (web, 8080), 40, 1, (Some(1460), Some(1460)), (2000, 100)),
        made(6, (web, 443), 50, 1, (Some(1400), Some(1460)), (100, 1000)),
    ]
}

/// The made-up capture of [`six_connections`], written to a file.
fn six_connections_file() -> (TempDir, String) {
    let dir = TempDir::new("six");
    let path = dir.0.join("six.pcap");
    std::fs::write(&path, made_capture(&six_connections())).unwrap_or_else(|e| panic!("{e}"));
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

/// The ids of the table's rows, in order.
fn table_ids(text: &str) -> Vec<u64> {
    text.lines()
        .skip_while(|l| !l.contains("client > server"))
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with("..."))
        .filter_map(|l| l.trim_start().strip_prefix('#'))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

fn text(args: &[&str]) -> String {
    support::mss_stdout(args)
}

/// The table lists connections by id, although #1 ends last (the CSV and JSON
/// records come in the order connections end).
#[test]
fn the_table_is_ordered_by_id() {
    let (_dir, path) = six_connections_file();
    let csv = text(&["analyze", &path, "--csv"]);
    let ended: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(ended, ["2", "3", "4", "5", "6", "1"], "{csv}");
    let report = text(&["analyze", &path]);
    assert_eq!(table_ids(&report), [1, 2, 3, 4, 5, 6], "{report}");
    // Two captures of the same connections: by id too.
    let two = text(&["analyze", CLIENT, SERVER]);
    assert_eq!(table_ids(&two), [1, 2], "{two}");
}

/// Each column is as wide as its widest value, two spaces at least between columns:
/// 65160-byte super-segments both ways do not run into the column before.
#[test]
fn columns_stay_apart_with_wide_values() {
    let (_dir, path) = six_connections_file();
    let report = text(&["analyze", &path]);
    let header = report
        .lines()
        .find(|l| l.contains("MSS c/s"))
        .unwrap_or_else(|| panic!("no header:\n{report}"));
    let row = report
        .lines()
        .find(|l| l.starts_with("#2 "))
        .unwrap_or_else(|| panic!("no #2:\n{report}"));
    assert!(
        row.ends_with("  1460/1460  1460/1460  65160/65160"),
        "{row}\n{report}"
    );
    // Every value of a column ends where its header ends.
    let last_three_ends = |line: &str| -> Vec<usize> {
        let bytes = line.as_bytes();
        let ends: Vec<usize> = (0..bytes.len())
            .filter(|&i| bytes[i] != b' ' && bytes.get(i + 1).is_none_or(|&b| b == b' '))
            .map(|i| i + 1)
            .collect();
        ends[ends.len().saturating_sub(3)..].to_vec()
    };
    let header_ends: Vec<usize> = header.match_indices("c/s").map(|(at, _)| at + 3).collect();
    for line in report.lines().filter(|l| l.starts_with('#')) {
        assert_eq!(last_three_ends(line), header_ends, "{line}\n{report}");
    }
    assert!(report.lines().all(|l| l.len() <= 80), "{report}");
}

/// `--limit N`: N rows, those with findings first, then a line for the rest and a
/// summary of every connection.
#[test]
fn limit_lists_some_and_summarises_all() {
    let (_dir, path) = six_connections_file();
    let report = text(&["analyze", &path, "--limit", "1"]);
    assert_eq!(table_ids(&report), [2], "{report}");
    for needle in [
        "... 5 more connections: --limit 0 lists them all, --json has every one",
        "Summary of all 6 connections",
        "client SYN MSS by server port",
        "    443   4: 1460 x2, 1360 x1, 1400 x1",
        "    80    1: none x1",
        "client SYN MSS by server network",
        "    10.2.2.0/24  5: 1460 x3, 1360 x1, 1400 x1",
        "findings by kind",
        "    segments_exceed_mss  3: #2 #4 #5",
        "    mss_missing          1: #3",
        "largest segments",
        "    #2  10.1.1.2:40002 > 10.2.2.3:443   max 65160/65160  eff 1460/1460",
        // The explanations and totals stay, for every connection.
        "client SYN without MSS option (#3)",
        "Totals",
        "  6 connections (6 with a complete handshake)",
    ] {
        assert!(report.contains(needle), "{needle:?} missing:\n{report}");
    }
    // The largest segments, largest first.
    let largest: Vec<u64> = report
        .lines()
        .skip_while(|l| !l.contains("largest segments"))
        .skip(1)
        .take_while(|l| l.starts_with("    #"))
        .filter_map(|l| {
            l.trim_start()
                .strip_prefix('#')?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(largest, [2, 5, 1, 4, 6], "{report}");
    // Four connections have findings: all four, then one other.
    let five = text(&["analyze", &path, "--limit", "5"]);
    assert_eq!(table_ids(&five), [1, 2, 3, 4, 5], "{five}");
    assert!(five.contains("... 1 more connection: "), "{five}");
    // Enough rows, or 0: everything, no summary.
    for limit in ["0", "6", "100"] {
        let all = text(&["analyze", &path, "--limit", limit]);
        assert_eq!(
            table_ids(&all),
            [1, 2, 3, 4, 5, 6],
            "--limit {limit}: {all}"
        );
        assert!(
            !all.contains("more connections") && !all.contains("Summary"),
            "{all}"
        );
    }
    // It shapes the report only.
    let json = mss(&["analyze", &path, "--json", "--limit", "1"]);
    assert_eq!(json.status.code(), Some(2));
}

#[test]
fn sort_orders_the_table() {
    let (_dir, path) = six_connections_file();
    for (key, ids) in [
        ("id", [1, 2, 3, 4, 5, 6]),
        // Each connection starts after the one before it.
        ("time", [1, 2, 3, 4, 5, 6]),
        // The largest segment of either side, largest first.
        ("max-segment", [2, 5, 1, 4, 6, 3]),
        // Most findings first, then by id.
        ("findings", [2, 3, 4, 5, 1, 6]),
    ] {
        let report = text(&["analyze", &path, "--sort", key]);
        assert_eq!(table_ids(&report), ids, "--sort {key}: {report}");
    }
    // With a limit, the rows with findings are taken in that order.
    let report = text(&["analyze", &path, "--sort", "max-segment", "--limit", "3"]);
    assert_eq!(table_ids(&report), [2, 5, 4], "{report}");
    let wrong = mss(&["analyze", &path, "--sort", "size"]);
    assert_eq!(wrong.status.code(), Some(2));
}

/// Piped, the report lists every connection (scripts read it); on a terminal, 50
/// rows and a summary.
#[test]
fn piped_output_lists_every_connection_a_terminal_fifty() {
    let many: Vec<Made> = (0..60u8)
        .map(|i| Made {
            client: ([10, 1, 1, i], 40000 + u16::from(i)),
            server: ([10, 2, 2, 2], 443),
            start_s: u32::from(i),
            lasts_s: 1,
            mss: (Some(1460), Some(1460)),
            payload: (if i == 59 { 3000 } else { 1000 }, 1000),
        })
        .collect();
    let dir = TempDir::new("sixty");
    let path = dir.0.join("sixty.pcap");
    std::fs::write(&path, made_capture(&many)).unwrap_or_else(|e| panic!("{e}"));
    let path = path.to_string_lossy().into_owned();
    let piped = text(&["analyze", &path]);
    assert_eq!(table_ids(&piped), (1..=60).collect::<Vec<u64>>(), "{piped}");
    assert!(!piped.contains("more connections"), "{piped}");
    // On a terminal (script(1) gives it one): #60 has a finding, so it is listed,
    // with the first 49 others.
    let command = format!("{} analyze --color never {path}", env!("CARGO_BIN_EXE_mss"));
    let on_tty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("this test needs script (util-linux): {e}"));
    let shown = String::from_utf8_lossy(&on_tty.stdout).replace('\r', "");
    let mut expected: Vec<u64> = (1..=49).collect();
    expected.push(60);
    assert_eq!(table_ids(&shown), expected, "{shown}");
    assert!(shown.contains("... 10 more connections"), "{shown}");
    assert!(shown.contains("Summary of all 60 connections"), "{shown}");
}
