//! `mss lab` through the binary: every built-in scenario passes on this kernel,
//! its HTML report opens in headless Chromium, and it leaves nothing behind;
//! `--dry-run` touches nothing, an interrupted run removes its namespaces and
//! captures, `mss lab clean` removes those of a killed or kept one, and bad
//! scenario files are refused with the line.
//!
//! Each run gets a TMPDIR of its own, so a test sees exactly what the run left.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{TempDir, mss, netns_available, tshark_syn_checksums};

/// Namespaces whose names start with `prefix`.
fn namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// What is in a directory, by name.
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// `mss ARGS` with TMPDIR set to `tmp`; also returns the pid it ran as.
fn mss_in(tmp: &Path, args: &[&str]) -> (Output, u32) {
    let child = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(args)
        .env("TMPDIR", tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mss");
    let pid = child.id();
    (child.wait_with_output().expect("wait for mss"), pid)
}

/// Runs a built-in scenario with --json and --out and asserts every check passed,
/// that neither its namespaces nor its temporary files are left, and that its
/// HTML report opens in headless Chromium without console errors and draws every
/// segment of the first connection's time series.
fn scenario_passes(name: &str) {
    if !netns_available(name) {
        return;
    }
    let tmp = TempDir::new(&format!("lab-{name}"));
    let kept = TempDir::new(&format!("lab-{name}-out"));
    let dir = kept.0.join("run");
    let dir_arg = dir.to_string_lossy().into_owned();
    let (out, pid) = mss_in(&tmp.0, &["lab", "run", name, "--json", "--out", &dir_arg]);
    judge_run(name, &out, pid, &tmp.0);
    let report = dir.join("report.html");
    let page = support::browser::browse(&kept.0, &report, "test=open:1", None);
    assert_eq!(page.console_errors(), Vec::<&str>::new(), "{name}");
    let result = page.result();
    assert_eq!(result["errors"], serde_json::json!([]), "{name}: {result}");
    let traces = result["plot"]["traces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !traces.is_empty(),
        "{name}: connection 1 has no plot: {result}"
    );
    for trace in &traces {
        assert_eq!(trace["n"], trace["drawn"], "{name}: {result}");
    }
}

/// A run's `--json` result passed every check and left nothing behind.
fn judge_run(name: &str, out: &Output, pid: u32, tmp: &Path) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let result: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {stdout}\n{stderr}"));
    let failed: Vec<&serde_json::Value> = result["checks"]
        .as_array()
        .map(|c| c.iter().filter(|c| c["passed"] != true).collect())
        .unwrap_or_default();
    assert!(
        failed.is_empty() && result["passed"] == true && out.status.code() == Some(0),
        "{name}: exit {:?}, failed checks {failed:#?}\n{stderr}",
        out.status.code()
    );
    assert!(
        !result["connections"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "{name}: no connection ran"
    );
    assert_eq!(entries(tmp), Vec::<String>::new(), "{name}: left files");
    assert_eq!(
        namespaces(&format!("mss-lab-{pid}-")),
        Vec::<String>::new(),
        "{name}: left namespaces"
    );
}

/// The benchmark's scenario at 5 MB and 600 short connections: every connection
/// judged, all checks pass, nothing left.
#[test]
fn bench_scaled_down() {
    if !netns_available("bench") {
        return;
    }
    let tmp = TempDir::new("lab-bench");
    let file = TempDir::new("lab-bench-file");
    let path = file.0.join("bench.toml");
    std::fs::write(&path, mss_lab::bench_scenario(5, Some(600))).expect("write scenario");
    let (out, pid) = mss_in(
        &tmp.0,
        &["lab", "run", path.to_str().expect("utf-8"), "--json"],
    );
    judge_run("bench", &out, pid, &tmp.0);
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let connections = result["connections"].as_array().expect("connections");
    // 600 short, 2 bulk, and perhaps a top-up; a fifth or so over IPv6.
    assert!(
        (602..=606).contains(&connections.len()),
        "{}",
        connections.len()
    );
    let v6 = connections.iter().filter(|c| c["family"] == "ipv6").count();
    assert!((60..=200).contains(&v6), "{v6} over IPv6");
    let lowered = connections
        .iter()
        .filter(|c| {
            c["client"]["kernel"]["maxseg_end"]
                .as_u64()
                .is_some_and(|m| m < 1400)
        })
        .count();
    assert!(
        (30..=100).contains(&lowered),
        "{lowered} with a lowered MSS"
    );
}

macro_rules! builtin_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                scenario_passes($name);
            }
        )*

        #[test]
        fn every_builtin_scenario_has_a_test() {
            // bench records 300 MB: its test runs it scaled down (below).
            let tested = [$($name,)* "bench"];
            for (name, _) in mss_lab::BUILTIN {
                assert!(tested.contains(name), "built-in scenario {name} has no test in tests/lab.rs");
            }
        }
    };
}

builtin_tests! {
    baseline => "baseline",
    host_mtu => "host-mtu",
    clamp => "clamp",
    clamp_lower_host => "clamp-lower-host",
    asymmetric_clamp => "asymmetric-clamp",
    clamp_to_pmtu => "clamp-to-pmtu",
    clamp_mss => "clamp-mss",
    clamp_any => "clamp-any",
    clamp_chain => "clamp-chain",
    short_connections => "short-connections",
    pmtud => "pmtud",
    blackhole => "blackhole",
    blackhole_probing => "blackhole-probing",
    fragments => "fragments",
    gso => "gso",
    ipv6 => "ipv6",
    no_timestamps => "no-timestamps",
    min_mss => "min-mss",
    below_min_mss => "below-min-mss",
}

#[test]
fn a_failed_expectation_exits_1_and_says_what_was_seen() {
    if !netns_available("a_failed_expectation_exits_1_and_says_what_was_seen") {
        return;
    }
    let dir = TempDir::new("lab-fail");
    let file = dir.0.join("wrong.toml");
    let text = mss_lab::builtin("host-mtu")
        .expect("host-mtu")
        .replace("value = 1348", "value = 1300");
    std::fs::write(&file, text).expect("write scenario");
    let tmp = TempDir::new("lab-fail-tmp");
    let (out, _) = mss_in(&tmp.0, &["lab", "run", &file.to_string_lossy()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        entries(&tmp.0),
        Vec::<String>::new(),
        "a failed run left files"
    );
    assert!(
        stdout.contains("FAIL  effective_mss of client = 1300 -- port")
            && stdout.contains("kernel TCP_MAXSEG 1348"),
        "{stdout}"
    );
}

#[test]
fn dry_run_prints_the_commands_and_creates_nothing() {
    let out = mss(&["lab", "run", "clamp", "--dry-run"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ip netns add mss-lab-"), "{text}");
    assert!(
        text.contains("tcp option maxseg size > 1360 tcp option maxseg size set 1360"),
        "{text}"
    );
    assert!(text.contains("ip netns del mss-lab-"), "{text}");
    // The namespaces it names were never made.
    let prefix = text
        .lines()
        .find_map(|l| l.strip_prefix("ip netns add "))
        .and_then(|n| n.rsplit_once('-').map(|(p, _)| format!("{p}-")))
        .expect("a namespace name");
    assert!(namespaces(&prefix).is_empty());
}

/// Starts `mss lab run NAME` with TMPDIR `tmp` and waits until its namespaces
/// exist and its captures run; returns the child and its namespace prefix.
fn start_run(name: &str, tmp: &Path) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(["lab", "run", name])
        .env("TMPDIR", tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mss lab run");
    let prefix = format!("mss-lab-{}-", child.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    // The traffic starts after the captures are listening.
    while Instant::now() < deadline {
        let tcpdumps = namespaces(&prefix)
            .iter()
            .map(|ns| {
                Command::new("ip")
                    .args(["netns", "pids", ns])
                    .output()
                    .map(|o| !o.stdout.is_empty())
                    .unwrap_or(false)
            })
            .filter(|&running| running)
            .count();
        if tcpdumps >= 2 {
            return (child, prefix);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = mss_in(tmp, &["lab", "clean", "--run", &child.id().to_string()]);
    panic!("{name}: the lab did not come up within 20 s");
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "mss lab did not exit in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_interrupted_run_removes_its_namespaces_and_captures() {
    if !netns_available("an_interrupted_run_removes_its_namespaces_and_captures") {
        return;
    }
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        let tmp = TempDir::new("lab-interrupted");
        // blackhole-probing runs for several seconds: interrupted mid-traffic.
        let (mut child, prefix) = start_run("blackhole-probing", &tmp.0);
        let captures = format!("mss-lab-{}-blackhole-probing", child.id());
        assert_eq!(entries(&tmp.0), vec![captures.clone()], "{signal}: mid-run");
        // tcpdump opens its file a moment after it starts.
        let deadline = Instant::now() + Duration::from_secs(5);
        while entries(&tmp.0.join(&captures)).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !entries(&tmp.0.join(&captures)).is_empty(),
            "{signal}: no capture file mid-run"
        );
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        nix::sys::signal::kill(pid, signal).expect("signal");
        let status = wait_exit(&mut child, Duration::from_secs(20));
        assert_eq!(
            status.code(),
            Some(128 + signal as i32),
            "{signal}: exit status"
        );
        assert_eq!(namespaces(&prefix), Vec::<String>::new(), "{signal}");
        assert_eq!(
            entries(&tmp.0),
            Vec::<String>::new(),
            "{signal}: left files"
        );
    }
}

#[test]
fn clean_removes_the_namespaces_and_captures_of_a_killed_run() {
    if !netns_available("clean_removes_the_namespaces_and_captures_of_a_killed_run") {
        return;
    }
    let tmp = TempDir::new("lab-killed");
    let (mut child, prefix) = start_run("blackhole-probing", &tmp.0);
    let run = child.id().to_string();
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    assert!(
        !namespaces(&prefix).is_empty(),
        "SIGKILL leaves the namespaces"
    );
    let captures = tmp.0.join(format!("mss-lab-{run}-blackhole-probing"));
    assert!(captures.is_dir(), "SIGKILL leaves the captures");
    let (listed, _) = mss_in(&tmp.0, &["lab", "clean", "--dry-run", "--run", &run]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains(&format!("would remove {prefix}")),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("would remove {}", captures.display())),
        "{listed}"
    );
    assert!(
        !namespaces(&prefix).is_empty() && captures.is_dir(),
        "--dry-run removed something"
    );
    let (cleaned, _) = mss_in(&tmp.0, &["lab", "clean", "--run", &run]);
    let text = String::from_utf8_lossy(&cleaned.stdout);
    assert!(cleaned.status.success(), "{text}");
    assert!(
        text.contains(&format!("removed {}", captures.display())),
        "{text}"
    );
    assert_eq!(namespaces(&prefix), Vec::<String>::new());
    assert_eq!(entries(&tmp.0), Vec::<String>::new());
}

#[test]
fn a_kept_run_says_where_its_captures_are_and_clean_removes_them() {
    if !netns_available("a_kept_run_says_where_its_captures_are_and_clean_removes_them") {
        return;
    }
    let tmp = TempDir::new("lab-kept");
    let (out, pid) = mss_in(&tmp.0, &["lab", "run", "baseline", "--keep"]);
    let run = pid.to_string();
    let captures = tmp.0.join(format!("mss-lab-{run}-baseline"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("the captures in {}", captures.display()))
            && stdout.contains(&format!("Captures in {}", captures.display())),
        "{stderr}{stdout}"
    );
    assert!(
        entries(&captures).iter().any(|f| f.ends_with(".pcap")),
        "{:?}",
        entries(&captures)
    );
    let prefix = format!("mss-lab-{run}-");
    assert!(
        !namespaces(&prefix).is_empty(),
        "--keep keeps the namespaces"
    );
    let (cleaned, _) = mss_in(&tmp.0, &["lab", "clean", "--run", &run]);
    let text = String::from_utf8_lossy(&cleaned.stdout);
    assert!(
        text.contains(&format!("removed {}", captures.display())),
        "{text}"
    );
    assert_eq!(namespaces(&prefix), Vec::<String>::new());
    assert_eq!(entries(&tmp.0), Vec::<String>::new());
}

/// tests/probe.rs removes its kept labs namespace by namespace, as
/// `mss_lab::run::remove_namespace`: the captures go with the last one.
#[test]
fn removing_a_kept_runs_last_namespace_removes_its_captures() {
    if !netns_available("removing_a_kept_runs_last_namespace_removes_its_captures") {
        return;
    }
    // The library looks in this process's temporary directory, as the run did.
    let (out, pid) = mss_in(&std::env::temp_dir(), &["lab", "run", "baseline", "--keep"]);
    assert!(out.status.success());
    let captures = std::env::temp_dir().join(format!("mss-lab-{pid}-baseline"));
    assert!(captures.is_dir(), "--keep keeps {}", captures.display());
    let prefix = format!("mss-lab-{pid}-");
    let names = namespaces(&prefix);
    assert!(names.len() >= 2, "{names:?}");
    mss_lab::run::remove_namespace(&names[0]);
    assert!(
        captures.is_dir(),
        "removed while namespaces of the run remain"
    );
    for name in &names[1..] {
        mss_lab::run::remove_namespace(name);
    }
    assert!(!captures.exists(), "{} is left", captures.display());
}

#[test]
fn a_bad_scenario_file_is_refused_with_its_line() {
    let dir = TempDir::new("lab-bad");
    let file = dir.0.join("bad.toml");
    let text = mss_lab::builtin("clamp").expect("clamp").replace(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"sever\"]",
    );
    std::fs::write(&file, &text).expect("write");
    let lines: Vec<&str> = text.lines().collect();
    let typo = lines
        .iter()
        .position(|l| l.contains("\"sever\""))
        .expect("edited line")
        + 1;
    let header = lines[..typo]
        .iter()
        .rposition(|l| l.trim() == "[[link]]")
        .expect("[[link]] header")
        + 1;
    let out = mss(&["lab", "show", &file.to_string_lossy()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: line ", file.display()))
            && stderr.contains("no node called \"sever\""),
        "{stderr}"
    );
    let reported: usize = stderr
        .split("line ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .expect("a line number");
    // The error points into the [[link]] block that holds the typo.
    assert!(
        (header..=typo).contains(&reported),
        "line {reported} for a typo on line {typo} in the block at line {header}"
    );
    let unknown = mss(&["lab", "run", "no-such-scenario", "--dry-run"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("mss lab list"));
}

#[test]
fn show_draws_and_toml_round_trips() {
    let shown = mss(&["lab", "show", "pmtud"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("sends <= 1400"), "{text}");
    let toml = mss(&["lab", "show", "pmtud", "--toml"]);
    assert_eq!(
        String::from_utf8_lossy(&toml.stdout),
        mss_lab::builtin("pmtud").expect("pmtud")
    );
}

/// Client ports differ from run to run: `ADDR:PORT ->` becomes `ADDR:* ->`.
fn without_client_ports(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(" -> ") {
            Some((from, to)) if line.starts_with("ipv") => match from.rsplit_once(':') {
                Some((addr, _)) => format!("{addr}:* -> {to}"),
                None => line.to_string(),
            },
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn readme_lab_transcript_is_a_real_run() {
    if !netns_available("readme_lab_transcript_is_a_real_run") {
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let start = readme
        .find("```\n# mss lab run clamp\n")
        .expect("the README shows `# mss lab run clamp`")
        + "```\n# mss lab run clamp\n".len();
    let end = start + readme[start..].find("```").expect("closing fence");
    let tmp = TempDir::new("lab-readme");
    let (out, _) = mss_in(&tmp.0, &["lab", "run", "clamp"]);
    assert!(out.status.success());
    assert_eq!(entries(&tmp.0), Vec::<String>::new(), "the run left files");
    // A terminal shows the progress lines (stderr) first: the story is written at
    // the end.
    let real = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    if std::env::var_os("MSS_UPDATE_README").is_some() {
        let updated = format!("{}{real}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, updated).expect("write README.md");
        return;
    }
    assert_eq!(
        without_client_ports(&readme[start..end]),
        without_client_ports(&real),
        "README's `mss lab run clamp` differs from a real run; refresh with \
         MSS_UPDATE_README=1 cargo test --test lab readme"
    );
}

#[test]
fn without_root_it_refuses_says_why_and_leaves_nothing() {
    if !nix::unistd::geteuid().is_root() {
        // Not root already: the plain run must refuse.
        let out = mss(&["lab", "run", "clamp"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("needs root"));
        return;
    }
    // As root, drop to nobody (no capabilities) for the run, in a temporary
    // directory nobody may write to: a run that creates its directory before it
    // checks would leave one here.
    let tmp = TempDir::new("lab-nonroot");
    std::fs::set_permissions(&tmp.0, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .expect("chmod");
    let out_dir = tmp.0.join("out");
    let out_arg = out_dir.to_string_lossy();
    for args in [
        &["lab", "run", "clamp"][..],
        &["lab", "run", "clamp", "--out", &out_arg],
    ] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_mss"))
            .args(args)
            .env("TMPDIR", &tmp.0)
            .output()
            .expect("setpriv (util-linux)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("needs root") && stderr.contains("--dry-run"),
            "{stderr}"
        );
        assert_eq!(entries(&tmp.0), Vec::<String>::new(), "{args:?} left files");
    }
    // The dry run works without privileges.
    let dry = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_mss"))
        .args(["lab", "run", "clamp", "--dry-run"])
        .output()
        .expect("setpriv");
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
}

#[test]
fn mss_clamp_on_the_router_writes_checksums_tshark_accepts() {
    if !netns_available("mss_clamp_on_the_router_writes_checksums_tshark_accepts") {
        return;
    }
    let dir = TempDir::new("lab-clamp-mss");
    let out = mss(&["lab", "run", "clamp-mss", "--out", &dir.0.to_string_lossy()]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Behind the router (at the server) the client's SYNs carry the clamped values;
    // in front of it (at the client) the server's SYN-ACKs do. tshark, an
    // independent decoder, must find every checksum right: veth would have
    // accepted wrong ones.
    let at_server = tshark_syn_checksums(&dir.0.join("server-eth0.pcap"));
    let at_client = tshark_syn_checksums(&dir.0.join("client-eth0.pcap"));
    for (mss, good) in at_server.iter().chain(&at_client) {
        assert!(good, "a SYN with MSS {mss} has a wrong checksum");
    }
    for value in [1360, 1340] {
        assert!(at_server.iter().any(|(m, _)| *m == value), "{at_server:?}");
        assert!(at_client.iter().any(|(m, _)| *m == value), "{at_client:?}");
    }
    assert!(
        at_server
            .iter()
            .all(|(m, _)| [1360, 1340, 1460, 1440].contains(m))
    );
}

/// `--json` where a mode prints only text, and flags a dry run would ignore, are
/// refused by name rather than ignored.
#[test]
fn flags_a_mode_would_ignore_are_refused() {
    for (args, needle) in [
        (
            &["lab", "list", "--json"][..],
            "unexpected argument '--json'",
        ),
        (
            &["lab", "show", "clamp", "--json"][..],
            "unexpected argument '--json'",
        ),
        (
            &["lab", "clean", "--json"][..],
            "unexpected argument '--json'",
        ),
        (
            &["lab", "run", "clamp", "--dry-run", "--json"][..],
            "cannot be used with",
        ),
        (
            &["lab", "run", "clamp", "--dry-run", "--keep"][..],
            "cannot be used with",
        ),
    ] {
        let out = mss(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
