//! `mss watch`: findings as JSON Lines and metrics from a capture file, the live
//! view in a real terminal (tmux), the shipped alert rules under promtool, and a
//! real Prometheus server scraping `mss watch` on a router in network namespaces
//! while an nftables clamp is switched on: the rewrite, the SYN MSS histogram and
//! the alert arrive through Prometheus's query API.

mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Netns, Routed, TempDir, netns_available, which};

const MSS: &str = env!("CARGO_BIN_EXE_mss");

/// A tool the test cannot do without: scripts/test installs it.
fn needs(test: &str, tool: &str, package: &str) -> PathBuf {
    which(tool).unwrap_or_else(|| {
        panic!(
            "{test} needs `{tool}` (apt-get install {package}, or run scripts/test, which \
             installs it)"
        )
    })
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Kills a child process when dropped (a failed assertion leaves none behind).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends SIGINT to a child.
fn interrupt(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
}

/// A plain HTTP/1.0 GET; the body.
fn http_get(addr: SocketAddr, target: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("not HTTP: {response}")))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(std::io::Error::other(format!("{head}\n{body}")));
    }
    Ok(body.to_string())
}

/// The value of a sample line `name{labels} value` of a metrics text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn findings_and_metrics_from_a_capture_file() {
    let mut mss = Killed(
        Command::new(MSS)
            .args(["watch", "--json", "--metrics", "127.0.0.1:0"])
            .args([
                "-r",
                "examples/clamp-client.pcap",
                "-r",
                "examples/clamp-server.pcap",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mss"),
    );
    let lines = support::lines_of(mss.0.stdout.take().expect("stdout"));
    let said = support::lines_of(mss.0.stderr.take().expect("stderr"));
    let first = said
        .recv_timeout(Duration::from_secs(30))
        .expect("mss says where the metrics are");
    let url = first
        .split("metrics on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no metrics address in {first:?}"));
    let addr: SocketAddr = url.parse().expect("an address");
    // Each rewrite once: both SYNs of both connections (IPv4 and IPv6).
    let mut findings = Vec::new();
    for _ in 0..4 {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a finding record");
        findings.push(serde_json::from_str::<serde_json::Value>(&line).expect("JSON"));
    }
    let summary: Vec<(String, u64, u64, String)> = findings
        .iter()
        .map(|f| {
            assert_eq!(f["type"], "finding", "{f}");
            assert_eq!(f["kind"], "mss_rewritten", "{f}");
            assert!(f["title"].as_str().is_some_and(|t| t.contains("rewritten")));
            (
                f["endpoint"].as_str().unwrap_or("").to_string(),
                f["from"].as_u64().unwrap_or(0),
                f["to"].as_u64().unwrap_or(0),
                f["client"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("client".into(), 1460, 1360, "10.81.1.1:47215".into()),
            ("server".into(), 1460, 1360, "10.81.1.1:47215".into()),
            ("client".into(), 1440, 1340, "[fd00:81:1::1]:39165".into()),
            ("server".into(), 1440, 1340, "[fd00:81:1::1]:39165".into()),
        ]
    );
    // The file is read; the metrics stay until Ctrl-C.
    let read = said
        .recv_timeout(Duration::from_secs(30))
        .expect("mss says the input is read");
    assert!(read.contains("metrics stay served"), "{read}");
    let text = http_get(addr, "/metrics").expect("GET /metrics");
    let client = "examples/clamp-client.pcap";
    let server = "examples/clamp-server.pcap";
    let expect = [
        (
            format!(
                "mss_rewrites_total{{from_interface=\"{client}\",to_interface=\"{server}\",direction=\"syn\",from=\"1460\",to=\"1360\"}}"
            ),
            1.0,
        ),
        (
            format!(
                "mss_rewrites_total{{from_interface=\"{server}\",to_interface=\"{client}\",direction=\"syn_ack\",from=\"1440\",to=\"1340\"}}"
            ),
            1.0,
        ),
        (
            format!("mss_findings_total{{interface=\"{client}\",kind=\"mss_rewritten\"}}"),
            4.0,
        ),
        // Every kind from 0.
        (
            format!(
                "mss_findings_total{{interface=\"{client}\",kind=\"pmtud_blackhole_suspected\"}}"
            ),
            0.0,
        ),
        (
            format!("mss_connections_total{{interface=\"{server}\",ip_version=\"6\"}}"),
            1.0,
        ),
        // The server side saw the clamped SYNs: 1360 and 1340, both at or below 1360.
        (
            format!(
                "mss_syn_mss_bytes_bucket{{interface=\"{server}\",direction=\"syn\",le=\"1340\"}}"
            ),
            1.0,
        ),
        (
            format!(
                "mss_syn_mss_bytes_bucket{{interface=\"{server}\",direction=\"syn\",le=\"1360\"}}"
            ),
            2.0,
        ),
        (
            format!("mss_syn_mss_bytes_sum{{interface=\"{server}\",direction=\"syn\"}}"),
            2700.0,
        ),
        // 1348 and 1328 each way, seen at both points.
        (
            format!("mss_effective_send_mss_bytes_sum{{interface=\"{client}\",role=\"client\"}}"),
            2676.0,
        ),
        ("mss_open_connections".to_string(), 0.0),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, &series), Some(value), "{series} in\n{text}");
    }
    // OpenMetrics for a scraper that asks for it.
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text; version=1.0.0\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(
        response.contains("Content-Type: application/openmetrics-text"),
        "{response}"
    );
    assert!(response.trim_end().ends_with("# EOF"), "{response}");
    interrupt(&mss.0);
    let status = mss.0.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    let last: Vec<String> = said.iter().collect();
    assert!(
        last.iter()
            .any(|l| l.contains("watched 2 connections") && l.contains("mss_rewritten 4")),
        "{last:?}"
    );
}

/// A tmux server of the test's own (its own socket), running one command in a
/// window of the given size; killed when dropped.
struct Tmux {
    tmux: PathBuf,
    socket: String,
}

impl Tmux {
    fn start(test: &str, tag: &str, size: (u16, u16), script: &str) -> Tmux {
        let tmux = Tmux {
            tmux: needs(test, "tmux", "tmux"),
            socket: format!("mss-test-{tag}-{}", std::process::id()),
        };
        let (width, height) = (size.0.to_string(), size.1.to_string());
        let started = tmux.run(&[
            "new-session",
            "-d",
            "-x",
            &width,
            "-y",
            &height,
            "sh",
            "-c",
            script,
        ]);
        assert!(
            started.status.success(),
            "{}",
            String::from_utf8_lossy(&started.stderr)
        );
        tmux
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.tmux)
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// The window's text now.
    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// The window's text once `ready` says it is, within 30 s.
    fn wait_for(&self, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "the view never drew:\n{screen}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn the_live_view_draws_in_a_terminal() {
    let dir = TempDir::new("watch-view");
    let exited = dir.0.join("exited");
    let script = format!(
        "cd '{}' && '{MSS}' watch -r examples/clamp-client.pcap -r \
         examples/clamp-server.pcap; echo $? > '{}'; sleep 60",
        env!("CARGO_MANIFEST_DIR"),
        exited.display()
    );
    let tmux = Tmux::start(
        "the_live_view_draws_in_a_terminal",
        "view",
        (160, 45),
        &script,
    );
    let screen = tmux.wait_for(|s| s.contains("input ended") && s.contains("1460 → 1360"));
    for expected in [
        "mss watch",
        "SYN MSS by interface",
        "MSS rewrites (clamps)",
        "examples/clamp-client.pcap → examples/clamp-server.pcap",
        "mss_rewritten",
        "Latest findings",
        "client MSS rewritten 1440 -> 1340",
    ] {
        assert!(screen.contains(expected), "{expected:?} not on\n{screen}");
    }
    // The SYN MSS table: the client side saw 1460 and 1440 in SYNs.
    assert!(
        screen.lines().any(|l| l.contains("clamp-client.pcap")
            && l.contains("syn ")
            && l.contains("1440 ×1")),
        "{screen}"
    );
    tmux.run(&["send-keys", "q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !exited.exists() {
        assert!(Instant::now() < deadline, "q did not end mss watch");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = std::fs::read_to_string(&exited).expect("exit status");
    assert_eq!(status.trim(), "0");
    // The terminal is given back: the shell's screen, not the view.
    let after = tmux.screen();
    assert!(!after.contains("SYN MSS by interface"), "{after}");
}

#[test]
fn the_shipped_alert_rules_pass_promtool() {
    let promtool = needs(
        "the_shipped_alert_rules_pass_promtool",
        "promtool",
        "prometheus",
    );
    let dir = repo("deploy/prometheus");
    for args in [
        &["check", "config", "prometheus.yml"][..],
        &["check", "rules", "mss-alerts.yml"],
        &["test", "rules", "mss-alerts.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The dashboard is JSON whose queries use only metrics mss serves.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("deploy/grafana/mss-dashboard.json")).expect("read"),
    )
    .expect("the dashboard is JSON");
    let text = dashboard.to_string();
    for metric in [
        "mss_syn_mss_bytes_bucket",
        "mss_rewrites_total",
        "mss_findings_total",
        "mss_icmp_too_big_total",
        "mss_capture_dropped_packets_total",
    ] {
        assert!(text.contains(metric), "the dashboard lacks {metric}");
    }
}

/// Percent-encodes a query for a URL.
fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The results of an instant query to Prometheus, run in `ns`.
fn query(ns: &Netns, promql: &str) -> Vec<serde_json::Value> {
    let target = format!("/api/v1/query?query={}", encode(promql));
    let body = ns
        .enter(move || http_get("127.0.0.1:9090".parse().expect("address"), &target))
        .join()
        .expect("query thread");
    match body {
        Ok(body) => {
            let value: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            value["data"]["result"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
        Err(_) => Vec::new(),
    }
}

/// The value of a one-result query, once it has one.
fn value_of(result: &[serde_json::Value]) -> Option<f64> {
    result.first()?["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_scrapes_a_clamp_switched_on_in_a_lab() {
    const TEST: &str = "prometheus_scrapes_a_clamp_switched_on_in_a_lab";
    if !netns_available(TEST) {
        return;
    }
    let prometheus = needs(TEST, "prometheus", "prometheus");
    let lab = Routed::new("watch", 86, 1500);
    let router = &lab.router;

    // mss watch on both router interfaces, Prometheus beside it (ports of the
    // router's own namespace: nothing else listens there).
    let mut mss = Killed(
        router
            .command(MSS)
            .args([
                "watch",
                "-i",
                "vr1",
                "-i",
                "vr2",
                "--metrics",
                "127.0.0.1:9717",
                "--json",
                "--interim",
                "1",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mss"),
    );
    let findings = support::lines_of(mss.0.stdout.take().expect("stdout"));
    let said = support::lines_of(mss.0.stderr.take().expect("stderr"));
    let first = said
        .recv_timeout(Duration::from_secs(30))
        .expect("mss says it watches");
    assert!(first.contains("watching vr1, vr2"), "{first}");

    let dir = TempDir::new("watch-prometheus");
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: mss\n    static_configs:\n      - targets: \
             ['127.0.0.1:9717']\n",
            repo("deploy/prometheus/mss-alerts.yml").display()
        ),
    )
    .expect("write the config");
    let _prometheus = Killed(
        router
            .command(&prometheus.to_string_lossy())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .args(["--web.listen-address=127.0.0.1:9090", "--log.level=warn"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while query(router, "up{job=\"mss\"} == 1").is_empty() {
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped mss watch"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    let at: IpAddr = "10.86.2.1".parse().expect("address");
    // No clamp yet: the kernels' 1448.
    assert_eq!(lab.transfer(at, 20_000, || {}), (1448, 1448));
    // The clamp goes on.
    lab.nft(
        "add table inet mss_watch; add chain inet mss_watch forward { type filter hook \
         forward priority mangle; }; add rule inet mss_watch forward tcp flags syn tcp \
         option maxseg size set 1300",
    );
    // The rewrite is reported while the connection is still open.
    let mut seen_open = None;
    let clamped = lab.transfer(at, 20_000, || {
        // Other findings may come first (the client's super-segments cross the
        // veth whole: TSO/GSO at the sender).
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen_open.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match findings.recv_timeout(left) {
                Ok(line) if line.contains("\"mss_rewritten\"") => seen_open = Some(line),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    assert_eq!(clamped, (1288, 1288), "the kernels under the clamp");
    let line = seen_open.expect("no finding while the clamped connection was open");
    let finding: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(finding["kind"], "mss_rewritten", "{line}");
    assert_eq!(finding["endpoint"], "client", "{line}");
    assert_eq!(
        (finding["from"].as_u64(), finding["to"].as_u64()),
        (Some(1460), Some(1300))
    );
    assert_eq!(
        finding["between"],
        serde_json::json!(["vr1", "vr2"]),
        "{line}"
    );
    assert_eq!(finding["interface"], "vr1", "{line}");
    // Another one: the counter grows, which the alert sees.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(lab.transfer(at, 20_000, || {}), (1288, 1288));

    let rewrites = "mss_rewrites_total{job=\"mss\",from_interface=\"vr1\",to_interface=\"vr2\",\
                    direction=\"syn\",from=\"1460\",to=\"1300\"}";
    let checks: [(&str, f64); 5] = [
        (rewrites, 2.0),
        // Three SYNs left the client with 1460; two reached the server with 1300.
        (
            "mss_syn_mss_bytes_count{interface=\"vr1\",direction=\"syn\"}",
            3.0,
        ),
        (
            // OpenMetrics (what Prometheus asks for) writes the bound as 1300.0.
            "mss_syn_mss_bytes_bucket{interface=\"vr2\",direction=\"syn\",le=~\"1300(\\\\.0)?\"}",
            2.0,
        ),
        // The SYN-ACKs too (`tcp flags syn` matches them): two rewrites each.
        (
            "mss_findings_total{interface=\"vr1\",kind=\"mss_rewritten\"}",
            4.0,
        ),
        (
            "mss_rewrites_total{from_interface=\"vr2\",to_interface=\"vr1\",\
             direction=\"syn_ack\",from=\"1460\",to=\"1300\"}",
            2.0,
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    for (promql, want) in checks {
        loop {
            let got = value_of(&query(router, promql));
            if got == Some(want) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{promql}: {got:?}, expected {want}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    // The shipped alert rule fires: 1300 is not among the expected clamps.
    let alert = "ALERTS{alertname=\"MssRewrittenUnexpected\",alertstate=\"firing\",to=\"1300\"}";
    loop {
        if !query(router, alert).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{alert} never fired");
        std::thread::sleep(Duration::from_millis(500));
    }
    // The capture dropped nothing.
    assert_eq!(
        value_of(&query(router, "sum(mss_capture_dropped_packets_total)")),
        Some(0.0)
    );

    interrupt(&mss.0);
    let status = mss.0.wait().expect("wait");
    let rest: Vec<String> = said.iter().collect();
    assert!(status.success(), "{status:?}: {rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("watched 3 connections on vr1, vr2")),
        "{rest:?}"
    );
}

/// A terminal that goes away (the window closed: SIGHUP, then a dead tty) ends the
/// view and mss with it, instead of leaving it spinning.
#[test]
fn the_live_view_ends_with_its_terminal() {
    let dir = TempDir::new("watch-hangup");
    let pid_file = dir.0.join("pid");
    let script = format!(
        "echo $$ > '{}'; cd '{}' && exec '{MSS}' watch -r examples/clamp-client.pcap",
        pid_file.display(),
        env!("CARGO_MANIFEST_DIR"),
    );
    let tmux = Tmux::start(
        "the_live_view_ends_with_its_terminal",
        "hup",
        (120, 40),
        &script,
    );
    tmux.wait_for(|s| s.contains("input ended"));
    let pid = std::fs::read_to_string(&pid_file).expect("pid");
    let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
    assert!(proc_dir.exists(), "mss runs");
    drop(tmux);
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_dir.exists() {
        // A zombie is gone for this purpose: it spins no more.
        let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        if state.split_whitespace().nth(2) == Some("Z") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mss watch still runs 10 s after its terminal went away"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
