//! `mss lab` through the binary: every built-in scenario passes on this kernel,
//! `--dry-run` touches nothing, an interrupted run removes its namespaces, `mss lab
//! clean` removes those of a killed one, and bad scenario files are refused with
//! the line.

mod support;

use std::process::{Command, Stdio};
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

/// Runs a built-in scenario with --json and asserts every check passed.
fn scenario_passes(name: &str) {
    if !netns_available(name) {
        return;
    }
    let out = mss(&["lab", "run", name, "--json"]);
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
            let tested = [$($name),*];
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
    clamp_chain => "clamp-chain",
    short_connections => "short-connections",
    pmtud => "pmtud",
    blackhole => "blackhole",
    blackhole_probing => "blackhole-probing",
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
    let out = mss(&["lab", "run", &file.to_string_lossy()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
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

/// Starts `mss lab run NAME` and waits until its namespaces exist and its captures
/// run; returns the child and its namespace prefix.
fn start_run(name: &str) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(["lab", "run", name])
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
    let _ = mss(&["lab", "clean"]);
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
fn an_interrupted_run_removes_its_namespaces() {
    if !netns_available("an_interrupted_run_removes_its_namespaces") {
        return;
    }
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
    ] {
        // blackhole-probing runs for several seconds: interrupted mid-traffic.
        let (mut child, prefix) = start_run("blackhole-probing");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        nix::sys::signal::kill(pid, signal).expect("signal");
        let status = wait_exit(&mut child, Duration::from_secs(20));
        assert_eq!(
            status.code(),
            Some(128 + signal as i32),
            "{signal}: exit status"
        );
        assert_eq!(namespaces(&prefix), Vec::<String>::new(), "{signal}");
    }
}

#[test]
fn clean_removes_the_namespaces_of_a_killed_run() {
    if !netns_available("clean_removes_the_namespaces_of_a_killed_run") {
        return;
    }
    let (mut child, prefix) = start_run("blackhole-probing");
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    assert!(
        !namespaces(&prefix).is_empty(),
        "SIGKILL leaves the namespaces"
    );
    let listed = mss(&["lab", "clean", "--dry-run"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(&format!("would remove {prefix}")),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );
    assert!(
        !namespaces(&prefix).is_empty(),
        "--dry-run removed something"
    );
    let cleaned = mss(&["lab", "clean"]);
    assert!(cleaned.status.success());
    assert_eq!(namespaces(&prefix), Vec::<String>::new());
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
    let out = mss(&["lab", "run", "clamp"]);
    assert!(out.status.success());
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
fn without_root_it_refuses_and_says_why() {
    if !nix::unistd::geteuid().is_root() {
        // Not root already: the plain run must refuse.
        let out = mss(&["lab", "run", "clamp"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("needs root"));
        return;
    }
    // As root, drop to nobody (no capabilities) for the run.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_mss"))
        .args(["lab", "run", "clamp"])
        .output()
        .expect("setpriv (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("needs root") && stderr.contains("--dry-run"),
        "{stderr}"
    );
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
