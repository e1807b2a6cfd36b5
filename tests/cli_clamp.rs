//! `mss clamp` through the binary: offline clamping checked byte by byte and by
//! tshark, insertion, refusals, and `--emit` output that nftables and iptables
//! accept (loaded inside a throwaway network namespace).

mod support;

use std::path::Path;
use std::process::Command;

use support::{Netns, TempDir, mss, netns_available, tshark_syn_checksums};

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/clamp-client.pcap");

#[test]
fn offline_clamp_changes_only_mss_and_checksums() {
    let dir = TempDir::new("clamp-offline");
    let output = dir.0.join("out.pcap");
    let out = mss(&[
        "clamp",
        "--mss",
        "1200",
        CLIENT,
        "-o",
        &output.to_string_lossy(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(summary["type"], "clamp_summary");
    let input_syns = tshark_syn_checksums(Path::new(CLIENT));
    assert!(input_syns.len() >= 4, "{input_syns:?}");
    assert_eq!(summary["syns"], input_syns.len());
    assert_eq!(
        summary["lowered"],
        input_syns.len(),
        "every SYN is above 1200"
    );
    assert_eq!(summary["targets"]["ipv6"], 1180, "IPv6 gets 20 less");
    let before = std::fs::read(CLIENT).expect("input");
    let after = std::fs::read(&output).expect("output");
    assert_eq!(before.len(), after.len());
    let changed: Vec<usize> = (0..before.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    // Two MSS bytes and at most two checksum bytes per SYN.
    assert!(
        !changed.is_empty() && changed.len() <= input_syns.len() * 4,
        "{} bytes changed",
        changed.len()
    );
    // The lab records with checksum offload off: every checksum was right before
    // and must be right after, as tshark sees it.
    let syns = tshark_syn_checksums(&output);
    assert_eq!(syns.len(), input_syns.len(), "{syns:?}");
    for (mss, good) in &syns {
        assert!([1200, 1180].contains(mss), "{syns:?}");
        assert!(good, "MSS {mss}: tshark says the checksum is wrong");
    }
    // The input is untouched.
    assert_eq!(std::fs::read(CLIENT).expect("input"), before);
}

#[test]
fn offline_clamp_only_lowers() {
    let dir = TempDir::new("clamp-lower");
    let output = dir.0.join("out.pcap");
    let out = mss(&[
        "clamp",
        "--mtu",
        "1400",
        CLIENT,
        "-o",
        &output.to_string_lossy(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("IPv4 target 1360, IPv6 target 1340"),
        "{text}"
    );
    // The client's SYNs (1460, 1440) are lowered; the server's SYN-ACKs were
    // clamped on the way already (1360, 1340) and stay.
    let input = tshark_syn_checksums(Path::new(CLIENT));
    let low = input.iter().filter(|(m, _)| *m <= 1360).count();
    assert!(text.contains("IPv4 1460 -> 1360 x1"), "{text}");
    assert!(text.contains("IPv6 1440 -> 1340"), "{text}");
    assert!(text.contains(&format!("already low  {low:>8}")), "{text}");
    let syns = tshark_syn_checksums(&output);
    assert!(
        syns.iter().all(|(m, s)| [1360, 1340].contains(m) && *s),
        "{syns:?}"
    );
}

#[test]
fn pcapng_is_clamped_too() {
    let dir = TempDir::new("clamp-ng");
    let ng = dir.0.join("in.pcapng");
    let status = Command::new("editcap")
        .args(["-F", "pcapng", CLIENT, &ng.to_string_lossy()])
        .status()
        .expect("editcap (tshark's package)");
    assert!(status.success());
    let output = dir.0.join("out.pcapng");
    let out = mss(&[
        "clamp",
        "--mss",
        "1300",
        &ng.to_string_lossy(),
        "-o",
        &output.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let syns = tshark_syn_checksums(&output);
    assert_eq!(syns.len(), tshark_syn_checksums(Path::new(CLIENT)).len());
    assert!(
        syns.iter().all(|(m, s)| [1300, 1280].contains(m) && *s),
        "{syns:?}"
    );
    // --insert grows the record: pcapng's Enhanced Packet Block lengths follow.
    let nomss = syn_without_mss(&dir.0);
    let nomss_ng = dir.0.join("nomss.pcapng");
    let status = Command::new("editcap")
        .args([
            "-F",
            "pcapng",
            &nomss.to_string_lossy(),
            &nomss_ng.to_string_lossy(),
        ])
        .status()
        .expect("editcap");
    assert!(status.success());
    let grown = dir.0.join("grown.pcapng");
    let out = mss(&[
        "clamp",
        "--mss",
        "1360",
        "--insert",
        &nomss_ng.to_string_lossy(),
        "-o",
        &grown.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tshark_syn_checksums(&grown), vec![(536, true)]);
    assert_eq!(
        std::fs::metadata(&grown).expect("out").len(),
        std::fs::metadata(&nomss_ng).expect("in").len() + 4
    );
    // Wireshark's own reader accepts the rewritten blocks.
    let check = Command::new("capinfos")
        .arg(&grown)
        .output()
        .expect("capinfos");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn the_input_is_never_the_output() {
    let dir = TempDir::new("clamp-same");
    let copy = dir.0.join("c.pcap");
    std::fs::copy(CLIENT, &copy).expect("copy");
    let before = std::fs::read(&copy).expect("read");
    let out = mss(&[
        "clamp",
        "--mss",
        "1300",
        &copy.to_string_lossy(),
        "-o",
        &copy.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never changes a file in place"));
    assert_eq!(std::fs::read(&copy).expect("read"), before);
    let missing = mss(&["clamp", "--mss", "1300", &copy.to_string_lossy()]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_truncated_capture_is_clamped_so_far_and_copied_whole() {
    let dir = TempDir::new("clamp-trunc");
    let cut = dir.0.join("cut.pcap");
    let bytes = std::fs::read(CLIENT).expect("read");
    std::fs::write(&cut, &bytes[..bytes.len() - 30]).expect("write");
    let output = dir.0.join("out.pcap");
    let out = mss(&[
        "clamp",
        "--mss",
        "1300",
        &cut.to_string_lossy(),
        "-o",
        &output.to_string_lossy(),
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("cut.pcap"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::metadata(&output).expect("out").len(),
        (bytes.len() - 30) as u64
    );
}

/// A SYN without MSS option, in a one-packet pcap, to insert into.
fn syn_without_mss(dir: &Path) -> std::path::PathBuf {
    let mut ip = vec![
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let hc = mss_wire::checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&hc.to_be_bytes());
    let mut tcp = vec![
        0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
    ];
    let pseudo = mss_wire::checksum::pseudo_header_v4([10, 0, 0, 1], [10, 0, 0, 2], 6, 20);
    let cs = !mss_wire::checksum::fold(pseudo + mss_wire::checksum::sum(&tcp));
    tcp[16..18].copy_from_slice(&cs.to_be_bytes());
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    frame.extend(ip);
    frame.extend(tcp);
    let mut file = Vec::new();
    file.extend(0xa1b2_c3d4u32.to_le_bytes());
    file.extend(2u16.to_le_bytes());
    file.extend(4u16.to_le_bytes());
    file.extend([0u8; 8]);
    file.extend(65535u32.to_le_bytes());
    file.extend(1u32.to_le_bytes());
    file.extend(1_700_000_000u32.to_le_bytes());
    file.extend(0u32.to_le_bytes());
    file.extend(
        u32::try_from(frame.len())
            .expect("frame length")
            .to_le_bytes(),
    );
    file.extend(
        u32::try_from(frame.len())
            .expect("frame length")
            .to_le_bytes(),
    );
    file.extend(&frame);
    let path = dir.join("nomss.pcap");
    std::fs::write(&path, file).expect("write");
    path
}

#[test]
fn insert_adds_the_option_as_xt_tcpmss_does() {
    let dir = TempDir::new("clamp-insert");
    let input = syn_without_mss(&dir.0);
    let output = dir.0.join("out.pcap");
    let plain = mss(&[
        "clamp",
        "--mss",
        "1360",
        &input.to_string_lossy(),
        "-o",
        &output.to_string_lossy(),
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&plain.stdout).expect("JSON");
    assert_eq!(summary["skipped_by_reason"]["no_mss_option"], 1);
    let out = mss(&[
        "clamp",
        "--mss",
        "1360",
        "--insert",
        &input.to_string_lossy(),
        "-o",
        &output.to_string_lossy(),
        "--force",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(summary["inserted"], 1);
    // At most the default the peer would assume anyway: 536 for IPv4.
    assert_eq!(summary["inserted_by_value"][0]["value"], 536);
    let syns = tshark_syn_checksums(&output);
    assert_eq!(syns, vec![(536, true)]);
    assert_eq!(
        std::fs::metadata(&output).expect("out").len(),
        std::fs::metadata(&input).expect("in").len() + 4
    );
}

#[test]
fn emit_prints_each_platform_with_both_families() {
    for (platform, must) in [
        ("nft", vec!["maxseg size > 1360", "maxseg size set 1340"]),
        (
            "iptables",
            vec![
                "--mss 1361:65535 -j TCPMSS --set-mss 1360",
                "ip6tables",
                "--set-mss 1340",
            ],
        ),
        (
            "cisco",
            vec!["ip tcp adjust-mss 1360", "ipv6 tcp adjust-mss 1340"],
        ),
        (
            "junos",
            vec!["family inet tcp-mss 1360", "family inet6 tcp-mss 1340"],
        ),
        (
            "mikrotik",
            vec![
                "tcp-mss=1361-65535",
                "new-mss=1360",
                "/ipv6 firewall mangle",
                "new-mss=1340",
            ],
        ),
        ("wireguard", vec!["MTU = 1400", "set rt mtu"]),
        ("tc", vec!["mss clamp --tc eth0 --mss 1360 --mss6 1340"]),
        (
            "pfsense",
            vec![
                "MSS = 1400",
                "inet all max-mss 1360",
                "inet6 all max-mss 1340",
            ],
        ),
    ] {
        let out = mss(&["clamp", "--mtu", "1400", "--emit", platform]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{platform}");
        for needle in must {
            assert!(
                text.contains(needle),
                "{platform}: no {needle:?} in\n{text}"
            );
        }
    }
    let openvpn = mss(&["clamp", "--mtu", "1500", "--emit", "openvpn"]);
    assert!(String::from_utf8_lossy(&openvpn.stdout).contains("mssfix 1500 mtu"));
    let refused = mss(&["clamp", "--mss", "1360", "--emit", "openvpn"]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn emitted_nft_and_iptables_rules_load() {
    if !netns_available("emitted_nft_and_iptables_rules_load") {
        return;
    }
    let ns = Netns::new("clamp-emit");
    let nft = mss(&["clamp", "--mtu", "1400", "--emit", "nft"]);
    let mut child = ns
        .command("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &nft.stdout).expect("write");
    assert!(
        child.wait().expect("nft").success(),
        "nft rejected:\n{}",
        String::from_utf8_lossy(&nft.stdout)
    );
    let iptables = mss(&["clamp", "--mtu", "1400", "--emit", "iptables"]);
    for line in String::from_utf8_lossy(&iptables.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        let status = ns
            .command(words[0])
            .args(&words[1..])
            .status()
            .expect("iptables");
        assert!(status.success(), "rejected: {line}");
    }
    let listed = ns
        .command("iptables")
        .args(["-t", "mangle", "-S"])
        .output()
        .expect("list");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("--set-mss 1360"));
}

#[test]
fn nfqueue_without_privileges_says_what_it_needs() {
    // As root, drop to nobody; otherwise this process has no privileges already.
    let out = if nix::unistd::geteuid().is_root() {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_mss"))
            .args(["clamp", "--nfqueue", "3", "--mss", "1360"])
            .output()
            .expect("setpriv")
    } else {
        mss(&["clamp", "--nfqueue", "3", "--mss", "1360"])
    };
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CAP_NET_ADMIN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `mss ARGS` with `stdin` as standard input; returns (status, stdout, stderr).
fn mss_with_stdin(args: &[&str], stdin: &[u8]) -> (Option<i32>, Vec<u8>, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mss");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Regression: `-o PATH` replaced whatever PATH was (a device node became a 76 KB
/// regular file, a symlink to /proc/self/fd/1 was written through, a FIFO's
/// reader got nothing and hung).
#[test]
fn output_is_only_ever_a_new_regular_file() {
    let dir = TempDir::new("clamp-targets");
    let node = dir.0.join("mynull");
    let made = Command::new("mknod")
        .args([&node.to_string_lossy(), "c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    let link = dir.0.join("out");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).expect("symlink");
    let fifo = dir.0.join("fifo");
    let fifo_made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let mut targets = vec![(link.clone(), "is a symbolic link")];
    if made {
        targets.push((node.clone(), "is a character device"));
    }
    if fifo_made {
        targets.push((fifo.clone(), "is a FIFO"));
    }
    targets.push((dir.0.clone(), "is a directory"));
    for (target, why) in &targets {
        for force in [false, true] {
            let mut args = vec!["clamp", "--mss", "1300", CLIENT, "-o"];
            let shown = target.to_string_lossy();
            args.push(&shown);
            if force {
                args.push("--force");
            }
            let out = mss(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{shown}: {err}");
            assert!(err.contains(why) && err.contains(&*shown), "{err}");
        }
    }
    // Nothing changed: still a device, a link, a FIFO.
    let kind = |p: &Path| std::fs::symlink_metadata(p).expect("meta").file_type();
    assert!(kind(&link).is_symlink());
    if made {
        use std::os::unix::fs::FileTypeExt;
        assert!(kind(&node).is_char_device());
    }
    if fifo_made {
        use std::os::unix::fs::FileTypeExt;
        assert!(kind(&fifo).is_fifo());
    }
    // An existing regular file needs --force, and is then replaced whole.
    let existing = dir.0.join("old.pcap");
    std::fs::write(&existing, b"old").expect("write");
    let shown = existing.to_string_lossy();
    let out = mss(&["clamp", "--mss", "1300", CLIENT, "-o", &shown]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists; give --force"));
    assert_eq!(std::fs::read(&existing).expect("read"), b"old");
    let out = mss(&["clamp", "--mss", "1300", CLIENT, "-o", &shown, "--force"]);
    assert!(out.status.success());
    assert_eq!(tshark_syn_checksums(&existing).len(), 4);
    // No temporary file is left beside it, on success or on error.
    let bad = dir.0.join("bad.pcap");
    std::fs::write(&bad, b"not a capture at all").expect("write");
    let out = mss(&[
        "clamp",
        "--mss",
        "1300",
        &bad.to_string_lossy(),
        "-o",
        &dir.0.join("x.pcap").to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let mut names: Vec<String> = std::fs::read_dir(&dir.0)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["bad.pcap", "fifo", "mynull", "old.pcap", "out"]
            .iter()
            .filter(|n| (**n != "mynull" || made) && (**n != "fifo" || fifo_made))
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    );
}

/// `tcpdump -w - | mss clamp ... - -o - | tcpdump -r -`: standard input and
/// output, streaming, the summary on standard error.
#[test]
fn standard_input_to_standard_output() {
    let input = std::fs::read(CLIENT).expect("input");
    let dir = TempDir::new("clamp-pipe");
    let file_out = dir.0.join("file.pcap");
    let out = mss(&[
        "clamp",
        "--mss",
        "1300",
        CLIENT,
        "-o",
        &file_out.to_string_lossy(),
    ]);
    assert!(out.status.success());
    let (code, piped, stderr) = mss_with_stdin(&["clamp", "--mss", "1300", "-", "-o", "-"], &input);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        piped,
        std::fs::read(&file_out).expect("file"),
        "same bytes as the file"
    );
    assert!(
        stderr.contains("standard input -> standard output: 120 packets, 4 SYNs"),
        "{stderr}"
    );
    let (code, piped_json, stderr) = mss_with_stdin(
        &["clamp", "--mss", "1300", "-", "-o", "-", "--json"],
        &input,
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(piped_json, piped);
    let summary: serde_json::Value = serde_json::from_str(stderr.trim()).expect("JSON on stderr");
    assert_eq!(summary["input"], "-");
    assert_eq!(summary["lowered"], 4);
    // tcpdump reads the stream.
    let pipe = dir.0.join("piped.pcap");
    std::fs::write(&pipe, &piped).expect("write");
    assert_eq!(
        tshark_syn_checksums(&pipe)
            .iter()
            .filter(|(m, ok)| [1300, 1280].contains(m) && *ok)
            .count(),
        4
    );
    // A corrupt record length in the stream: exit 2, and the message says the
    // output stops short (what was written is written).
    let mut corrupt = input.clone();
    let first_len = u32::from_le_bytes(corrupt[32..36].try_into().expect("4 bytes"));
    let second = 24 + 16 + usize::try_from(first_len).expect("len");
    corrupt[second + 8..second + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let (code, _, stderr) = mss_with_stdin(&["clamp", "--mss", "1300", "-", "-o", "-"], &corrupt);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("standard input")
            && stderr.contains("packet 2")
            && stderr.contains("the capture on standard output stops before it"),
        "{stderr}"
    );
    // A second `-` makes no sense for the output of a file input with --force.
    let out = mss(&["clamp", "--mss", "1300", CLIENT, "-o", "-", "--force"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Regression: flags the mode does not use were silently ignored.
#[test]
fn flags_a_mode_does_not_use_are_refused() {
    for (args, says) in [
        (
            &[
                "clamp",
                "--mss",
                "1360",
                "--encap",
                "wireguard",
                "--emit",
                "nft",
            ][..],
            "--encap needs --mtu",
        ),
        (
            &[
                "clamp",
                "--mss",
                "1360",
                "--emit",
                "nft",
                CLIENT,
                "-o",
                "/tmp/never.pcap",
            ][..],
            "does not use CAPTURE, -o",
        ),
        (
            &["clamp", "--mss", "1360", "--emit", "nft", "--install-rules"][..],
            "does not use --install-rules",
        ),
        (
            &["clamp", "--mss", "1360", "--emit", "nft", "--json"][..],
            "does not use --json",
        ),
        (
            &["clamp", "--mss", "1360", "--emit", "cisco", "--insert"][..],
            "does not use --insert",
        ),
        (
            &[
                "clamp",
                "--mss",
                "1360",
                CLIENT,
                "-o",
                "/tmp/never.pcap",
                "--stats-every",
                "5",
            ][..],
            "only apply to live clamping",
        ),
        (
            &[
                "clamp",
                "--mss",
                "1360",
                CLIENT,
                "-o",
                "/tmp/never.pcap",
                "--fail-closed",
            ][..],
            "only apply to live clamping",
        ),
        (
            &["clamp", "--mss", "1360", "--nfqueue", "7", "--queues", "0"][..],
            "--queues 0",
        ),
        (
            &["clamp", "--mss6", "1340", "--mtu", "1400", "--emit", "nft"][..],
            "--mss6 goes with --mss",
        ),
        (
            &["clamp", "--tc", "eth0", "--mss", "1360", "--queues", "2"][..],
            "only apply to --nfqueue",
        ),
        (
            &["clamp", "--tc", "eth0", "--mss", "1360", "--nfqueue", "7"][..],
            "cannot be used with",
        ),
        (
            &["clamp", "--tc", "eth0", "--status", "--mss", "1360"][..],
            "cannot be used with",
        ),
        (&["clamp", "--status"][..], "--tc <IFACE>"),
        (
            &[
                "clamp",
                "--mss",
                "1360",
                "--direction",
                "in",
                "--emit",
                "nft",
            ][..],
            "go with --tc IFACE",
        ),
        (
            &[
                "clamp",
                "--mss",
                "1360",
                CLIENT,
                "-o",
                "/tmp/never.pcap",
                "--direction",
                "out",
            ][..],
            "go with --tc IFACE",
        ),
        (
            &["clamp", "--tc", "a/b", "--mss", "1360"][..],
            "not an interface name",
        ),
        (
            &["clamp", "--tc", "eth0", "--detach", "--json"][..],
            "--detach prints one line",
        ),
    ] {
        let out = mss(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(!Path::new("/tmp/never.pcap").exists());
    // Below what any path needs: a warning, and the clamp still does as told.
    let out = mss(&["clamp", "--mss", "1", "--emit", "nft"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("IPv4 target 1 is below 48"), "{err}");
    // Regression: a lost line continuation ran the words apart with spaces.
    assert!(!err.contains("  "), "{err}");
    let out = mss(&["clamp", "--mss", "500", "--mss6", "1200", "--emit", "nft"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("IPv4 target 500 is below 536"), "{err}");
    assert!(err.contains("IPv6 target 1200 is below 1220"), "{err}");
    assert!(!err.contains("  "), "{err}");
    let out = mss(&["clamp", "--mss", "1360", "--emit", "nft"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
