//! `mss probe` in the lab: the path MTU of a 1400-byte router link found from ICMP
//! and, with ICMP dropped, by search; the reflector showing a clamp rewrite; and
//! `probe tcp` matching the kernel numbers the lab itself reports.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{mss, netns_available};

/// A built-in scenario kept running (`mss lab run NAME --keep`); its namespaces
/// are deleted on drop.
struct KeptLab {
    prefix: String,
}

impl KeptLab {
    fn start(name: &str) -> KeptLab {
        let child = Command::new(env!("CARGO_BIN_EXE_mss"))
            .args(["lab", "run", name, "--keep"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mss lab run --keep");
        let prefix = format!("mss-lab-{}-", child.id());
        let output = child.wait_with_output().expect("wait");
        let lab = KeptLab { prefix };
        assert!(output.status.code().is_some(), "{name}: the run ended");
        lab
    }

    fn ns(&self, node: &str) -> String {
        format!("{}{node}", self.prefix)
    }

    /// `mss ARGS` inside a node's namespace.
    fn mss(&self, node: &str, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(node), env!("CARGO_BIN_EXE_mss")])
            .args(args)
            .output()
            .expect("ip netns exec mss")
    }

    fn spawn(&self, node: &str, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(node), env!("CARGO_BIN_EXE_mss")])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn in namespace")
    }
}

impl Drop for KeptLab {
    fn drop(&mut self) {
        // What `mss lab clean` does, for this lab's namespaces only.
        for (name, _, _) in mss_lab::run::leftovers() {
            if name.starts_with(&self.prefix) {
                mss_lab::run::remove_namespace(&name);
            }
        }
    }
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn path_mtu_from_icmp_at_the_right_hop() {
    if !netns_available("path_mtu_from_icmp_at_the_right_hop") {
        return;
    }
    let lab = KeptLab::start("pmtud");
    for (target, router) in [("10.81.2.2", "10.81.1.2"), ("fd00:81:2::2", "fd00:81:1::2")] {
        let result = json(&lab.mss("client", &["probe", "path", target, "--json"]));
        assert_eq!(result["path_mtu"], 1400, "{result:#}");
        assert_eq!(result["method"], "icmp", "{result:#}");
        assert_eq!(result["reached"], true);
        let hops = result["hops"].as_array().expect("hops");
        assert_eq!(hops[0]["addr"], router, "{result:#}");
        assert_eq!(hops[0]["reported_mtu"], 1400, "the router at hop 1 said so");
        assert_eq!(hops.last().expect("a hop")["addr"], target);
    }
}

#[test]
fn path_mtu_through_a_black_hole_by_search() {
    if !netns_available("path_mtu_through_a_black_hole_by_search") {
        return;
    }
    let lab = KeptLab::start("blackhole");
    for (target, router) in [("10.81.2.2", "10.81.1.2"), ("fd00:81:2::2", "fd00:81:1::2")] {
        let started = Instant::now();
        let result = json(&lab.mss("client", &["probe", "path", target, "--json"]));
        assert_eq!(result["path_mtu"], 1400, "{result:#}");
        assert_eq!(result["method"], "search", "{result:#}");
        assert_eq!(result["icmp_dropped_after_hop"], 1, "{result:#}");
        assert_eq!(result["icmp_dropped_after_addr"], router, "{result:#}");
        // Seconds, not minutes.
        assert!(started.elapsed() < Duration::from_secs(30), "{result:#}");
    }
}

#[test]
fn reflector_shows_the_clamp_and_probe_tcp_the_kernel_view() {
    if !netns_available("reflector_shows_the_clamp_and_probe_tcp_the_kernel_view") {
        return;
    }
    let lab = KeptLab::start("clamp");
    for (listen, target, sent, received, snd) in [
        ("10.81.2.2:7171", "10.81.2.2:7171", 1460, 1360, 1348),
        (
            "[fd00:81:2::2]:7171",
            "[fd00:81:2::2]:7171",
            1440,
            1340,
            1328,
        ),
    ] {
        let mut reflector = lab.spawn(
            "server",
            &["probe", "reflect", "--listen", listen, "--count", "1"],
        );
        // Wait for its "listening" line.
        let mut line = String::new();
        let stdout = reflector.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("line");
        assert!(line.contains("listening"), "{line}");
        let result = json(&lab.mss("client", &["probe", "tcp", target, "--reflector", "--json"]));
        assert_eq!(result["syn_mss_sent"], sent, "{result:#}");
        assert_eq!(result["syn_mss_received"], received, "{result:#}");
        assert_eq!(result["snd_mss"], snd, "{result:#}");
        assert_eq!(result["maxseg"], snd, "{result:#}");
        assert_eq!(result["pmtu"], 1500, "{result:#}");
        let status = reflector.wait().expect("reflector ends after --count 1");
        assert!(status.success());
    }
    // The human report says it in words.
    let mut reflector = lab.spawn(
        "server",
        &[
            "probe",
            "reflect",
            "--listen",
            "10.81.2.2:7172",
            "--count",
            "1",
        ],
    );
    let mut line = String::new();
    let stdout = reflector.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("line");
    let out = lab.mss("client", &["probe", "tcp", "10.81.2.2:7172", "--reflector"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("clamped on the path from 1460 to 1360"),
        "{text}"
    );
    let _ = reflector.wait();
    // Without root in the reflector's way: a plain port is refused cleanly.
    let refused = mss(&["probe", "tcp", "127.0.0.1:1", "--timeout", "1"]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn hops_names_where_the_mss_is_rewritten() {
    if !netns_available("hops_names_where_the_mss_is_rewritten") {
        return;
    }
    let lab = KeptLab::start("clamp-chain");
    for (target, r2, sent, clamped) in [
        ("10.81.3.2:5201", "10.81.2.2", 1460, 1360),
        ("[fd00:81:3::2]:5201", "fd00:81:2::2", 1440, 1340),
    ] {
        let result = json(&lab.mss("client", &["probe", "hops", target, "--json"]));
        assert_eq!(result["reached"], true, "{result:#}");
        let rewrites = result["rewrites"].as_array().expect("rewrites");
        assert_eq!(rewrites.len(), 1, "{result:#}");
        // r1 clamps; r2 (hop 2) is the first to quote the new value.
        assert_eq!(rewrites[0]["hop"], 2, "{result:#}");
        assert_eq!(rewrites[0]["addr"], r2, "{result:#}");
        assert_eq!(rewrites[0]["from"], sent);
        assert_eq!(rewrites[0]["to"], clamped);
        assert_eq!(result["hops"][0]["mss"], sent, "hop 1 saw it unchanged");
    }
}

#[test]
fn hops_without_cap_net_raw_says_so() {
    if !nix::unistd::geteuid().is_root() {
        let out = mss(&["probe", "hops", "127.0.0.1:9"]);
        assert_eq!(out.status.code(), Some(2));
        return;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_mss"))
        .args(["probe", "hops", "127.0.0.1:9"])
        .output()
        .expect("setpriv");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CAP_NET_RAW"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
