//! `mss clamp --nfqueue` on a router in the lab, under a SYN flood (hping3) and
//! under faults: a stopped clamp, a killed one, a queue already taken. The server
//! counts, in the kernel, every SYN that arrives and every one whose MSS is above
//! the target (`iptables -m tcpmss`), so "no unclamped SYN passes" is checked
//! where it matters, independently of mss's own counters.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::time::Duration;

use support::kept::KeptLab;
use support::netns_available;

const SERVER: &str = "10.81.2.2";

/// Needs hping3 (scripts/test installs it).
fn flood_tools(test: &str) -> bool {
    if !netns_available(test) {
        return false;
    }
    let found = Command::new("hping3").arg("--version").output().is_ok();
    assert!(
        found,
        "{test} needs hping3 (apt-get install hping3, or run scripts/test, which installs it)"
    );
    true
}

/// The server counts SYNs: all of them, and those with an MSS above `target`.
fn count_syns_at_server(lab: &KeptLab, target: u16) {
    let above = format!("{}:65535", target + 1);
    for rule in [
        vec![
            "-A", "INPUT", "-p", "tcp", "--syn", "-m", "tcpmss", "--mss", &above, "-j", "DROP",
        ],
        vec!["-A", "INPUT", "-p", "tcp", "--syn", "-j", "DROP"],
    ] {
        let out = lab.run("server", "iptables", &rule);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// (SYNs above the target, all SYNs) that reached the server so far.
fn syns_at_server(lab: &KeptLab) -> (u64, u64) {
    let out = lab.run("server", "iptables", &["-L", "INPUT", "-v", "-x", "-n"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("DROP"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(counts.len(), 2, "{text}");
    (counts[0], counts[0] + counts[1])
}

/// Starts `mss clamp` on the router and waits for its first line.
fn start_clamp(lab: &KeptLab, args: &[&str]) -> (Child, String) {
    let mut all = vec!["clamp", "--mss", "1300", "--stats-every", "0", "--json"];
    all.extend_from_slice(args);
    let mut child = lab.spawn("router", &all);
    let mut line = String::new();
    let stdout = child.stdout.as_mut().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    (child, line)
}

fn signal(child: &Child, signal: nix::sys::signal::Signal) {
    // `ip netns exec` execs mss: the child's pid is mss's.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, signal).expect("kill");
}

/// Stops the clamp with SIGINT; returns its final counters (JSON).
fn stop_clamp(child: Child) -> serde_json::Value {
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default().to_string();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// hping3 SYNs with MSS 1460 at the server for `seconds`; the clamp is stopped
/// (SIGSTOP) for the middle second, so its queue overflows for sure.
fn flood_with_a_stall(lab: &KeptLab, clamp: &Child, seconds: u64) {
    let mut hping = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns("client"),
            "timeout",
            &seconds.to_string(),
        ])
        .args([
            "hping3",
            "-S",
            "--flood",
            "--tcp-mss",
            "1460",
            "-p",
            "5201",
            SERVER,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("hping3");
    std::thread::sleep(Duration::from_secs(1));
    signal(clamp, nix::sys::signal::Signal::SIGSTOP);
    std::thread::sleep(Duration::from_secs(1));
    signal(clamp, nix::sys::signal::Signal::SIGCONT);
    let _ = hping.wait();
    // The last verdicts.
    std::thread::sleep(Duration::from_millis(500));
}

fn tagged_rules(lab: &KeptLab) -> usize {
    ["iptables-save", "ip6tables-save"]
        .iter()
        .map(|tool| {
            let out = lab.run("router", tool, &["-t", "mangle"]);
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains("mss clamp queue"))
                .count()
        })
        .sum()
}

/// Regression: --fail-closed set the queue fail-open, and 5,146 SYNs with MSS 1460
/// reached the server in 10 s of flood while mss's counters said all were lowered.
#[test]
fn fail_closed_lets_no_unclamped_syn_through_a_flood() {
    if !flood_tools("fail_closed_lets_no_unclamped_syn_through_a_flood") {
        return;
    }
    let lab = KeptLab::start("baseline");
    count_syns_at_server(&lab, 1300);
    let (clamp, line) = start_clamp(
        &lab,
        &["--nfqueue", "7", "--install-rules", "--fail-closed"],
    );
    assert!(line.contains("rules installed, fail-closed"), "{line}");
    flood_with_a_stall(&lab, &clamp, 4);
    let stats = stop_clamp(clamp);
    let (unclamped, total) = syns_at_server(&lab);
    assert!(
        total > 10_000,
        "the flood reached the server: {total} SYNs; {stats}"
    );
    assert_eq!(
        unclamped, 0,
        "SYNs above 1300 reached the server; mss said {stats}"
    );
    assert_eq!(stats["mode"], "fail_closed");
    assert_eq!(stats["passed_unclamped_overflow"], 0);
    // The stall overflowed the queue: the kernel dropped, and mss says so.
    assert!(
        stats["dropped_by_kernel"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    assert_eq!(stats["lowered"].as_u64(), Some(total), "{stats}");
    assert_eq!(tagged_rules(&lab), 0, "a clean stop removes the rules");
}

/// Regression: fail-open let SYNs pass unclamped when the queue overflowed and
/// nothing counted them (the kernel does not).
#[test]
fn fail_open_counts_every_syn_that_passed_unclamped() {
    if !flood_tools("fail_open_counts_every_syn_that_passed_unclamped") {
        return;
    }
    let lab = KeptLab::start("baseline");
    count_syns_at_server(&lab, 1300);
    let (clamp, line) = start_clamp(&lab, &["--nfqueue", "7", "--install-rules"]);
    assert!(line.contains("rules installed, fail-open"), "{line}");
    flood_with_a_stall(&lab, &clamp, 4);
    let stats = stop_clamp(clamp);
    let (unclamped, total) = syns_at_server(&lab);
    assert!(unclamped > 0, "the stall let SYNs pass: {stats}");
    // Exactly what the server saw: rule counters minus what reached mss.
    assert_eq!(
        stats["passed_unclamped_overflow"].as_u64(),
        Some(unclamped),
        "{stats}"
    );
    assert_eq!(
        stats["lowered"].as_u64(),
        Some(total - unclamped),
        "{stats}"
    );
}

/// Regression: after SIGKILL and a restart there were 4 stale NFQUEUE rules next
/// to the 4 new ones; the clean exit removed only its own.
#[test]
fn rules_left_by_a_killed_clamp_are_found_and_removed() {
    if !netns_available("rules_left_by_a_killed_clamp_are_found_and_removed") {
        return;
    }
    let lab = KeptLab::start("baseline");
    let (clamp, _) = start_clamp(&lab, &["--nfqueue", "7", "--install-rules"]);
    signal(&clamp, nix::sys::signal::Signal::SIGKILL);
    let _ = clamp.wait_with_output();
    assert_eq!(tagged_rules(&lab), 4, "SIGKILL leaves the rules");
    let (clamp, _) = start_clamp(&lab, &["--nfqueue", "7", "--install-rules"]);
    assert_eq!(tagged_rules(&lab), 4, "replaced, not stacked");
    signal(&clamp, nix::sys::signal::Signal::SIGINT);
    let out = clamp.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("removed 4 rules left by an earlier mss clamp"),
        "{err}"
    );
    assert_eq!(tagged_rules(&lab), 0, "a clean exit removes them");
    // And by hand.
    let (clamp, _) = start_clamp(
        &lab,
        &["--nfqueue", "8", "--install-rules", "--fail-closed"],
    );
    signal(&clamp, nix::sys::signal::Signal::SIGKILL);
    let _ = clamp.wait_with_output();
    assert_eq!(tagged_rules(&lab), 4);
    // Without --install-rules, a run on another queue warns about them.
    let (clamp, line) = start_clamp(&lab, &["--nfqueue", "9"]);
    assert!(
        line.contains("--queue-num 9"),
        "the hint names the queue: {line}"
    );
    signal(&clamp, nix::sys::signal::Signal::SIGINT);
    let out = clamp.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`mss clamp --remove-rules` removes them"),
        "{err}"
    );
    let out = lab.mss("router", &["clamp", "--remove-rules"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("removed:")
            .count(),
        4
    );
    assert_eq!(tagged_rules(&lab), 0);
}

/// Regression: a queue bound by another process said "needs CAP_NET_ADMIN (run it
/// as root)" to root.
#[test]
fn a_busy_queue_is_named_as_busy() {
    if !netns_available("a_busy_queue_is_named_as_busy") {
        return;
    }
    let lab = KeptLab::start("baseline");
    let (first, _) = start_clamp(&lab, &["--nfqueue", "11"]);
    let second = lab.mss("router", &["clamp", "--mss", "1300", "--nfqueue", "11"]);
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("queue 11 is busy") && err.contains(&format!("pid {}", first.id())),
        "{err}"
    );
    let _ = stop_clamp(first);
}

/// Sends one SYN from the client to SERVER:6000 with these TCP options, through a
/// raw socket (python3: the kernel adds the IP header; the TCP checksum is ours).
fn send_crafted_syn(lab: &KeptLab, sport: u16, options: &[u8]) {
    let script = format!(
        r#"
import socket, struct
src, dst = "10.81.1.1", "{SERVER}"
opts = bytes({options:?})
hdr = struct.pack("!HHIIBBHHH", {sport}, 6000, 1, 0, ((20 + len(opts)) // 4) << 4, 0x02, 64240, 0, 0) + opts
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
data = pseudo + hdr
s = sum((data[i] << 8) + data[i + 1] for i in range(0, len(data), 2))
while s >> 16: s = (s & 0xffff) + (s >> 16)
hdr = hdr[:16] + struct.pack("!H", ~s & 0xffff) + hdr[18:]
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
sock.sendto(hdr, (dst, 0))
"#
    );
    let out = lab.run("client", "python3", &["-c", &script]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (MSS values, checksum right) of each SYN to port 6000 in a capture, by tshark.
fn syns_to_6000(file: &std::path::Path) -> Vec<(String, bool)> {
    let out = Command::new("tshark")
        .args([
            "-r",
            &file.to_string_lossy(),
            "-o",
            "tcp.check_checksum:TRUE",
        ])
        .args([
            "-Y",
            "tcp.flags.syn == 1 && tcp.dstport == 6000",
            "-T",
            "fields",
        ])
        .args(["-e", "tcp.options.mss_val", "-e", "tcp.checksum.status"])
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (mss, status) = l.split_once('\t')?;
            Some((mss.to_string(), status.trim() == "1"))
        })
        .collect()
}

/// mss is right where the kernel's clamps are not (measured on 6.18): an MSS
/// option at an odd offset (after three NOPs) keeps a right checksum, and with two
/// MSS options both are lowered (Linux's receiver uses the last one). The kernel's
/// own clamps are run on the same SYNs and what they did is printed beside.
#[test]
fn odd_offsets_and_two_mss_options_are_clamped_right() {
    if !netns_available("odd_offsets_and_two_mss_options_are_clamped_right") {
        return;
    }
    let lab = KeptLab::start("baseline");
    let dir = std::env::temp_dir().join(format!("mss-test-crafted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let odd = [1u8, 1, 1, 2, 4, 0x05, 0xb4, 0];
    let two = [2u8, 4, 0x05, 0xb4, 2, 4, 0x05, 0xb4];
    let nft = |args: &[&str]| {
        let out = lab.run("router", "nft", args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let xt = |action: &str| {
        let out = lab.run(
            "router",
            "iptables",
            &[
                "-t",
                "mangle",
                action,
                "FORWARD",
                "-p",
                "tcp",
                "--tcp-flags",
                "SYN,RST",
                "SYN",
            ]
            .iter()
            .chain(&["-j", "TCPMSS", "--set-mss", "1300"])
            .copied()
            .collect::<Vec<_>>(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for (sport, method) in [(41_000u16, "mss"), (42_000, "nft"), (43_000, "xt_TCPMSS")] {
        let mut clamp = None;
        match method {
            "mss" => {
                let (child, _) = start_clamp(&lab, &["--nfqueue", "7", "--install-rules"]);
                clamp = Some(child);
            }
            "nft" => {
                nft(&["add", "table", "inet", "crafted"]);
                nft(&[
                    "add",
                    "chain",
                    "inet",
                    "crafted",
                    "clamp_syn",
                    "{ type filter hook forward priority mangle; }",
                ]);
                nft(&[
                    "add",
                    "rule",
                    "inet",
                    "crafted",
                    "clamp_syn",
                    "tcp",
                    "flags",
                    "syn",
                    "tcp",
                    "option",
                    "maxseg",
                    "size",
                    "set",
                    "1300",
                ]);
            }
            _ => xt("-A"),
        }
        let file = dir.join(format!("{method}.pcap"));
        let mut tcpdump = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.ns("server"),
                "tcpdump",
                "-i",
                "eth0",
                "-U",
                // Each packet at once: otherwise tcpdump hands them over a ring
                // block at a time, up to a second late, and the SIGINT below loses
                // them.
                "--immediate-mode",
                "-w",
            ])
            .arg(&file)
            .args(["tcp", "dst", "port", "6000"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tcpdump");
        std::thread::sleep(Duration::from_millis(700));
        send_crafted_syn(&lab, sport, &odd);
        send_crafted_syn(&lab, sport + 1, &two);
        std::thread::sleep(Duration::from_millis(500));
        signal(&tcpdump, nix::sys::signal::Signal::SIGINT);
        let _ = tcpdump.wait();
        match method {
            "mss" => {
                let _ = stop_clamp(clamp.take().expect("clamp"));
            }
            "nft" => nft(&["delete", "table", "inet", "crafted"]),
            _ => xt("-D"),
        }
        let syns = syns_to_6000(&file);
        eprintln!("{method}: odd offset, then two MSS options, at the server: {syns:?}");
        assert_eq!(syns.len(), 2, "{method}: both SYNs reached the server");
        if method == "mss" {
            assert_eq!(syns[0], ("1300".to_string(), true), "odd offset");
            assert_eq!(syns[1], ("1300,1300".to_string(), true), "two MSS options");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
