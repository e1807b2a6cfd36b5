//! `mss analyze --html` in a real browser: headless Chromium loads the report from
//! a file:// URL without console errors, draws the plots (the SVG holds as many
//! segments as the JSON's time series), and the page's own test hook
//! (`#test=filter:WORDS;kind:KIND;open:ID`) filters the table and opens a
//! connection, writing what the page then shows into `#test-result`.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::browser::browse;
use support::{TempDir, mss};

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/clamp-client.pcap");
const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/clamp-server.pcap");

/// `mss analyze ARGS --html FILE`, checked to succeed.
fn report(tmp: &Path, name: &str, args: &[&str]) -> PathBuf {
    let file = tmp.join(name);
    let file_arg = file.to_string_lossy().into_owned();
    let mut all = vec!["analyze"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--html", &file_arg]);
    let out = mss(&all);
    assert!(
        out.status.success(),
        "mss {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}

#[test]
fn the_clamp_example_opens_filters_and_plots_every_segment() {
    let tmp = TempDir::new("html-clamp");
    let file = report(&tmp.0, "clamp.html", &[CLIENT, SERVER]);
    let html = std::fs::read_to_string(&file).expect("read the report");
    // Self-contained: nothing is fetched.
    for outside in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!html.contains(outside), "{outside} in the report");
    }
    // The path: two capture points, the four rewrites between them.
    assert!(html.contains("class=\"path\""), "no path diagram");
    assert!(html.contains("data-points=\"2\" data-rewrites=\"4\""));

    // The time series the plot draws, from the JSON.
    let lines = support::mss_json_lines(&["analyze", CLIENT, SERVER, "--json", "--segments"]);
    let first = lines
        .iter()
        .find(|l| l["type"] == "connection" && l["id"] == 1)
        .expect("connection 1");
    let traces = first["segments"].as_array().expect("segments");
    assert_eq!(traces.len(), 4, "two directions at two capture points");

    let page = browse(&tmp.0, &file, "test=open:1", None);
    assert_eq!(page.console_errors(), Vec::<&str>::new());
    let result = page.result();
    assert_eq!(result["errors"], Value::Array(Vec::new()));
    assert_eq!(result["opened"], true);
    assert_eq!(result["matching"], 2);
    let plot = &result["plot"];
    assert_eq!(plot["connection"], 1);
    let drawn = plot["traces"].as_array().expect("traces drawn");
    assert_eq!(drawn.len(), traces.len());
    for (trace, shown) in traces.iter().zip(drawn) {
        let points = trace["points"].as_array().expect("points");
        assert_eq!(shown["point"], trace["point"]);
        assert_eq!(shown["sender"], trace["sender"]);
        assert_eq!(shown["n"], points.len());
        // One stroke per segment in the SVG path.
        assert_eq!(shown["drawn"], points.len());
        let segments: u64 = points.iter().filter_map(|p| p["count"].as_u64()).sum();
        let role = trace["sender"].as_str().unwrap_or("");
        assert_eq!(Some(segments), first[role]["data_segments"].as_u64());
    }
    // Announced MSS at each capture point (the clamp's gap) and the send MSS.
    assert!(plot["levels"].as_u64() >= Some(4), "{plot}");
    assert!(plot["width"].as_f64() > Some(300.0), "{plot}");

    // Filters: a port, an address, a finding kind.
    for (fragment, matching) in [
        ("test=filter:5201", 2),
        ("test=filter:fd00:81:1", 1),
        ("test=filter:10.81.1.1", 1),
        ("test=filter:9", 0),
        ("test=kind:mss_rewritten", 2),
        ("test=kind:icmp_too_big", 0),
        ("test=filter:10.81;kind:-;open:2", 0),
    ] {
        let result = browse(&tmp.0, &file, fragment, None).result();
        assert_eq!(result["matching"], matching, "{fragment}: {result}");
        assert_eq!(result["rows_in_dom"], matching, "{fragment}: {result}");
        assert_eq!(result["errors"], Value::Array(Vec::new()), "{fragment}");
    }

    // Zoomed into the second half of the time axis: only the segments of that
    // half are in view, every one of them still drawn, and the axis starts there;
    // zoomed out again, all are in view.
    let whole = browse(&tmp.0, &file, "test=open:1", None).result();
    let total = whole["plot"]["segments_in_view"].as_u64().expect("in view");
    let drawn: u64 = whole["plot"]["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .filter_map(|t| t["drawn"].as_u64())
        .sum();
    assert_eq!(total, drawn, "unzoomed, every segment is in view: {whole}");
    let half = browse(&tmp.0, &file, "test=open:1;zoom:0.5-1", None).result();
    assert_eq!(half["errors"], Value::Array(Vec::new()), "{half}");
    let in_view = half["plot"]["segments_in_view"].as_u64().expect("in view");
    assert!(
        in_view > 0 && in_view < total,
        "{in_view} of {total}: {half}"
    );
    assert_eq!(half["plot"]["traces"], whole["plot"]["traces"], "{half}");
    let ticks = half["plot"]["ticks"].as_array().expect("ticks");
    assert!(ticks.len() >= 3, "{half}");
    assert_ne!(
        ticks[0], whole["plot"]["ticks"][0],
        "the axis starts later: {half}"
    );
    let back = browse(&tmp.0, &file, "test=open:1;zoom:0.5-1;zoom:0-1", None).result();
    assert_eq!(back["plot"]["segments_in_view"], total, "{back}");
    assert_eq!(back["plot"]["ticks"], whole["plot"]["ticks"], "{back}");

    // A screenshot of the connection's plot at the top of the page.
    let png = tmp.0.join("clamp.png");
    browse(&tmp.0, &file, "show:1", Some(&png));
    let bytes = std::fs::read(&png).expect("screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "{} bytes: an empty page?",
        bytes.len()
    );
}

/// A capture of `n` short IPv4 connections (SYN with MSS 1460, SYN-ACK with MSS
/// 1400 for every seventh, else 1460, one data segment), as raw IP (link type 101).
fn many_connections(path: &Path, n: u32) {
    fn packet(
        out: &mut Vec<u8>,
        ts_us: u64,
        (src, dst): ([u8; 4], [u8; 4]),
        ports: (u16, u16),
        flags: u8,
        mss: Option<u16>,
        payload: u16,
    ) {
        let options = if mss.is_some() { 4 } else { 0 };
        let total = 20 + 20 + options + payload;
        let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&ports.0.to_be_bytes());
        tcp.extend_from_slice(&ports.1.to_be_bytes());
        tcp.extend_from_slice(&1000u32.to_be_bytes());
        tcp.extend_from_slice(&0u32.to_be_bytes());
        tcp.push(u8::try_from((20 + options) / 4 * 16).unwrap_or(0x50));
        tcp.push(flags);
        tcp.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        if let Some(mss) = mss {
            tcp.extend_from_slice(&[2, 4]);
            tcp.extend_from_slice(&mss.to_be_bytes());
        }
        let len = u32::from(total);
        out.extend_from_slice(&u32::try_from(ts_us / 1_000_000).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&u32::try_from(ts_us % 1_000_000).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&ip);
        out.extend_from_slice(&tcp);
        out.resize(out.len() + usize::from(payload), 0);
    }
    let mut out = Vec::with_capacity(n as usize * 250);
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    for i in 0..n {
        let [_, a, b, c] = i.to_be_bytes();
        let client = [10, a, b, c];
        let server = [192, 0, 2, u8::try_from(i % 200).unwrap_or(0) + 1];
        let port = u16::try_from(1024 + i % 60_000).unwrap_or(1024);
        let server_port = if i % 2 == 0 { 443 } else { 80 };
        let t = 1_700_000_000_000_000 + u64::from(i) * 100;
        let server_mss = if i % 7 == 0 { 1400 } else { 1460 };
        packet(
            &mut out,
            t,
            (client, server),
            (port, server_port),
            0x02,
            Some(1460),
            0,
        );
        packet(
            &mut out,
            t + 10,
            (server, client),
            (server_port, port),
            0x12,
            Some(server_mss),
            0,
        );
        packet(
            &mut out,
            t + 20,
            (client, server),
            (port, server_port),
            0x18,
            None,
            100,
        );
    }
    std::fs::write(path, out).expect("write the capture");
}

#[test]
fn a_hundred_thousand_connections_stay_fast() {
    let tmp = TempDir::new("html-many");
    let capture = tmp.0.join("many.pcap");
    let n = 100_000;
    many_connections(&capture, n);
    let file = report(&tmp.0, "many.html", &[&capture.to_string_lossy()]);
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    // About 100 bytes a row, and at most 200 plots.
    assert!(size < 20_000_000, "{size} bytes");
    let started = Instant::now();
    let page = browse(&tmp.0, &file, "test=filter:443", None);
    let took = started.elapsed();
    assert_eq!(page.console_errors(), Vec::<&str>::new());
    let result = page.result();
    assert_eq!(result["errors"], Value::Array(Vec::new()));
    assert_eq!(result["matching"], n / 2);
    // Only the rows in view are in the DOM.
    let in_dom = result["rows_in_dom"].as_u64().unwrap_or(0);
    assert!((10..=60).contains(&in_dom), "{in_dom} rows in the DOM");
    assert!(took < Duration::from_secs(30), "{took:?}");
    // A port and an address together.
    let result = browse(&tmp.0, &file, "test=filter:80 192.0.2.200", None).result();
    assert_eq!(result["matching"], n / 200);
    let result = browse(&tmp.0, &file, "test=open:99999", None).result();
    assert_eq!(result["opened"], true);
    // Sorting: a column once ascending, again descending.
    let result = browse(&tmp.0, &file, "test=sort:id", None).result();
    assert_eq!(result["first_ids"], serde_json::json!([1, 2, 3, 4, 5]));
    let result = browse(&tmp.0, &file, "test=sort:id;sort:id;filter:443", None).result();
    let last = u64::from(n) - 1;
    assert_eq!(result["first_ids"][0], last, "{result}");
}

#[test]
fn an_existing_file_is_kept_unless_forced_and_dash_is_standard_output() {
    let tmp = TempDir::new("html-force");
    let file = tmp.0.join("r.html");
    std::fs::write(&file, "mine").expect("write");
    let file_arg = file.to_string_lossy().into_owned();
    let out = mss(&["analyze", CLIENT, "--html", &file_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exists; give --force"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).ok().as_deref(), Some("mine"));
    let out = mss(&["analyze", CLIENT, "--html", &file_arg, "--force"]);
    assert!(out.status.success());
    assert!(
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .starts_with("<!DOCTYPE html>")
    );
    let out = mss(&["analyze", CLIENT, "--html", "-"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("<!DOCTYPE html>"));
    // A missing directory and a directory are refused before any work.
    let missing = tmp.0.join("no/such/dir/r.html");
    let out = mss(&["analyze", CLIENT, "--html", &missing.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let out = mss(&["analyze", CLIENT, "--html", &tmp.0.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
    // --segments belongs to --json.
    let out = mss(&["analyze", CLIENT, "--segments"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The benchmark capture (about 30,000 connections), when it is there: the
/// report stays small and the page is interactive within seconds.
#[test]
#[ignore = "needs the benchmark capture (/var/tmp/mssb/mss-bench.pcap or MSS_BENCH_CAPTURE)"]
fn the_benchmark_capture_opens_within_seconds() {
    let capture = std::env::var("MSS_BENCH_CAPTURE")
        .unwrap_or_else(|_| "/var/tmp/mssb/mss-bench.pcap".to_string());
    let tmp = TempDir::new("html-bench");
    let file = report(&tmp.0, "bench.html", &[&capture]);
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    assert!(size < 30_000_000, "{size} bytes");
    let started = Instant::now();
    let page = browse(&tmp.0, &file, "test=kind:*;open:1", None);
    let took = started.elapsed();
    assert_eq!(page.console_errors(), Vec::<&str>::new());
    let result = page.result();
    assert_eq!(result["errors"], Value::Array(Vec::new()));
    assert_eq!(result["opened"], true);
    assert!(took < Duration::from_secs(20), "{took:?}");
    eprintln!("{size} bytes, opened in {took:?}: {result}");
}

/// `mss lab run clamp --out DIR` writes DIR/report.html: the four capture points
/// in path order with the clamp between the router's interfaces, and the plot of
/// the connection with a trace per point and direction.
#[test]
fn a_lab_run_writes_a_report_that_opens() {
    if !support::netns_available("a_lab_run_writes_a_report_that_opens") {
        return;
    }
    let tmp = TempDir::new("html-lab");
    let dir = tmp.0.join("run");
    let dir_arg = dir.to_string_lossy().into_owned();
    let out = mss(&["lab", "run", "clamp", "--out", &dir_arg]);
    assert!(
        out.status.success(),
        "mss lab run clamp: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.join("report.html");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("Report in {}", file.display()))
    );
    let html = std::fs::read_to_string(&file).expect("report.html");
    assert!(
        html.contains("data-points=\"4\""),
        "four capture points in the path"
    );
    let page = browse(&tmp.0, &file, "test=kind:mss_rewritten;open:1", None);
    assert_eq!(page.console_errors(), Vec::<&str>::new());
    let result = page.result();
    assert_eq!(result["errors"], Value::Array(Vec::new()));
    assert!(result["matching"].as_u64() >= Some(1), "{result}");
    let traces = result["plot"]["traces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(traces.len(), 8, "two directions at four points: {result}");
    for trace in &traces {
        assert!(trace["n"].as_u64() > Some(0));
        assert_eq!(trace["n"], trace["drawn"]);
    }
}
