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
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_mss"))
        .args(["clamp", "--nfqueue", "3", "--mss", "1360"])
        .output()
        .expect("setpriv");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CAP_NET_ADMIN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
