//! End-to-end tests of `mss calc`: the numbers, the JSON contract, the text a person
//! reads, and the errors.

mod support;

use serde_json::Value;
use support::{mss, mss_json};

fn family(json: &Value, version: u64) -> &Value {
    json["families"]
        .as_array()
        .and_then(|families| families.iter().find(|f| f["ip_version"] == version))
        .unwrap_or_else(|| panic!("no IPv{version} in {json}"))
}

fn stdout(args: &[&str]) -> String {
    support::mss_stdout(args)
}

/// Runs a command that must fail with exit status 2 and returns its stderr.
fn usage_error(args: &[&str]) -> String {
    let out = mss(args);
    assert_eq!(out.status.code(), Some(2), "mss {args:?} should exit 2");
    assert!(out.stdout.is_empty(), "nothing on stdout for an error");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn json_contract_keys() {
    // The example of the contract: WireGuard over IPv4 with timestamps.
    let json = mss_json(&[
        "calc",
        "--mtu",
        "1500",
        "--encap",
        "wireguard",
        "--options",
        "ts",
        "--json",
    ]);
    let v4 = family(&json, 4);
    assert_eq!(v4["ip_mtu"], 1440);
    assert_eq!(v4["advertised_mss"], 1400);
    assert_eq!(v4["linux_advertised_mss"], 1400);
    assert_eq!(v4["effective_mss"], 1388);
    assert_eq!(v4["possible"], true);
    assert_eq!(v4["frame"]["on_wire"], 1518);
    let v6 = family(&json, 6);
    assert_eq!(v6["advertised_mss"], 1380);
    assert_eq!(v6["effective_mss"], 1368);
    assert_eq!(json["link_mtu"], 1500);
    assert_eq!(json["request"]["encap"], "wireguard");
}

#[test]
fn the_numbers_from_the_issue() {
    let cases: &[(&[&str], u64, &str, u64)] = &[
        (&["--mtu", "1500"], 4, "advertised_mss", 1460),
        (&["--mtu", "1500"], 6, "advertised_mss", 1440),
        (
            &["--mtu", "1500", "--options", "ts"],
            4,
            "effective_mss",
            1448,
        ),
        (
            &["--mtu", "1500", "--options", "ts"],
            6,
            "effective_mss",
            1428,
        ),
        (
            &["--mtu", "1500", "--encap", "pppoe"],
            4,
            "advertised_mss",
            1452,
        ),
        (&["--mtu", "9000"], 4, "advertised_mss", 8960),
        (&["--mtu", "576"], 4, "advertised_mss", 536),
        (&["--mtu", "1280"], 6, "advertised_mss", 1220),
        (&["--mtu", "280"], 4, "linux_advertised_mss", 256),
        (&["--mtu", "65536"], 4, "linux_advertised_mss", 65495),
    ];
    for (args, version, key, expected) in cases {
        let mut full = vec!["calc", "--json"];
        full.extend_from_slice(args);
        let json = mss_json(&full);
        assert_eq!(
            family(&json, *version)[*key],
            *expected,
            "{args:?} IPv{version} {key}"
        );
    }
}

#[test]
fn ipv6_too_small_is_not_possible_with_a_reason() {
    let json = mss_json(&["calc", "--mtu", "1000", "--json"]);
    let v6 = family(&json, 6);
    assert_eq!(v6["possible"], false);
    assert!(v6["reason"].as_str().is_some_and(|r| r.contains("1280")));
    assert!(v6["advertised_mss"].is_null());
    let text = stdout(&["calc", "--mtu", "1000"]);
    assert!(
        text.contains("IPv6  not possible: IPv6 needs an MTU of at least 1280"),
        "{text}"
    );
}

#[test]
fn text_report_reads_like_the_seed_pictures() {
    let text = stdout(&["calc", "--mtu", "1500", "--encap", "pppoe", "-4"]);
    let expected = "\
IPv4
  IP MTU for TCP/IP        1492   1500 - 8 pppoe
  advertised MSS           1452   1492 - 20 IPv4 - 20 TCP (RFC 6691)
  Linux advertises         1452   the same
  effective send MSS       1452   no options on data segments (RFC 9293 3.7.1)
  largest frame:
    Ethernet  PPPoE  PPP  IPv4  TCP  payload  FCS
          14      6    2    20   20     1452    4  = 1518 bytes on the wire
";
    assert!(text.contains(expected), "{text}");
    assert!(!text.contains("IPv6"), "-4 shows only IPv4");
    assert!(text.lines().all(|l| l.len() <= 80), "80 columns:\n{text}");
}

#[test]
fn explain_cites_sources() {
    let text = stdout(&["calc", "--mtu", "1500", "--options", "ts", "--explain"]);
    // Steps are wrapped at 80 columns: search the text as one line.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "why a 1500-byte link shows 1448, not 1460",
        "1348 both ways",
        "536",
        "(60 + 60 + 8) - (20 + 20)",
        "[RFC 6691 section 2",
        "[ipv4_default_advmss()",
        "MUST-16",
    ] {
        assert!(flat.contains(needle), "missing {needle:?}:\n{text}");
    }
    assert!(text.lines().all(|l| l.len() <= 80));
}

#[test]
fn reverse_question() {
    let json = mss_json(&["calc", "--mss", "1360", "--json"]);
    assert_eq!(family(&json, 4)["ip_mtu"], 1400);
    assert_eq!(family(&json, 6)["ip_mtu"], 1420);
    let json = mss_json(&["calc", "--mss", "1452", "--encap", "pppoe", "--json", "-4"]);
    assert_eq!(family(&json, 4)["link_mtu"], 1500);
    let text = stdout(&["calc", "--mss", "1360"]);
    assert!(text.contains("1360 + 20 TCP + 20 IPv4"), "{text}");
}

#[test]
fn list_encaps_names_every_one() {
    let text = stdout(&["calc", "--list-encaps"]);
    for name in [
        "pppoe",
        "vlan",
        "mpls",
        "gre",
        "ipip",
        "6in4",
        "ip6ip6",
        "vxlan",
        "geneve",
        "gtpu",
        "l2tp",
        "wireguard",
        "wireguard6",
        "esp",
        "openvpn",
    ] {
        assert!(
            text.contains(&format!("\n  {name}")),
            "{name} missing:\n{text}"
        );
    }
    let json = mss_json(&["calc", "--list-encaps", "--json"]);
    assert!(json.as_array().is_some_and(|a| a.len() >= 15));
}

#[test]
fn errors_quote_the_input_and_exit_2() {
    let err = usage_error(&["calc", "--mtu", "60"]);
    assert!(err.contains("MTU 60 is below 68"), "{err}");
    let err = usage_error(&["calc", "--mtu", "big"]);
    assert!(err.contains("\"big\""), "{err}");
    let err = usage_error(&["calc", "--mtu", "1500", "--encap", "pppoe,wiregaurd"]);
    assert!(
        err.contains("\"wiregaurd\"") && err.contains("did you mean \"wireguard\""),
        "{err}"
    );
    let err = usage_error(&["calc", "--mtu", "1500", "--encap", "pppoe,,gre"]);
    assert!(err.contains("empty item"), "{err}");
    let err = usage_error(&["calc", "--mtu", "1500", "--options", "ts,sack:4"]);
    assert!(err.contains("48 bytes") && err.contains("40"), "{err}");
    let err = usage_error(&["calc", "--mtu", "1500", "--options", "timestmps"]);
    assert!(
        err.contains("\"timestmps\"") && err.contains("ts, sack"),
        "{err}"
    );
    let err = usage_error(&["calc", "--mtu", "1500", "--ip-options", "6"]);
    assert!(err.contains("4-byte words"), "{err}");
    let err = usage_error(&["calc", "--mtu", "1500", "--encap", "gre,vlan"]);
    assert!(err.contains("Ethernet"), "{err}");
    let err = usage_error(&["calc"]);
    assert!(err.contains("--mtu"), "{err}");
    let err = usage_error(&["calc", "--mss", "0"]);
    assert!(err.contains("between 1 and 65535"), "{err}");
}

#[test]
fn help_is_written_for_people() {
    let text = stdout(&["calc", "--help"]);
    assert!(text.contains("Examples:"));
    assert!(text.contains("--list-encaps"));
    assert!(text.contains("docs/json.md"));
}

/// Regression: `--ipv6-ext 100000` printed an effective MSS of 0 and exited 0.
#[test]
fn header_bytes_that_leave_no_room_for_data_are_refused_with_the_range() {
    let err = usage_error(&["calc", "--mtu", "1500", "--ipv6-ext", "100000"]);
    assert!(
        err.contains("--ipv6-ext 100000")
            && err.contains("1500-byte IPv6 packet")
            && err.contains("give 0 to 1432 (a multiple of 8)"),
        "{err}"
    );
    // The largest value in that range still leaves a byte of data (8 here).
    let ok = family(
        &mss_json(&["calc", "--mtu", "1500", "--ipv6-ext", "1432", "--json"]),
        6,
    )["effective_mss"]
        .clone();
    assert_eq!(ok, 8);
    // With timestamps the range shrinks by their 12 bytes.
    let err = usage_error(&[
        "calc",
        "--mtu",
        "1500",
        "-6",
        "--options",
        "ts",
        "--ipv6-ext",
        "1432",
    ]);
    assert!(
        err.contains("12 bytes of TCP options") && err.contains("give 0 to 1424"),
        "{err}"
    );
    // The reverse question too: which MTU gives MSS 1360, with headers of 100000?
    let err = usage_error(&["calc", "--mss", "1360", "-6", "--ipv6-ext", "100000"]);
    assert!(
        err.contains("1420-byte IPv6 packet") && err.contains("give 0 to 1352"),
        "{err}"
    );
    // IPv4 options are at most 40 anyway; on the smallest link 24 is the most.
    let err = usage_error(&["calc", "--mtu", "68", "-4", "--ip-options", "40"]);
    assert!(
        err.contains("--ip-options 40") && err.contains("give 0 to 24 (a multiple of 4)"),
        "{err}"
    );
    let err = usage_error(&["calc", "--mtu", "68", "-4", "--options", "md5,ts"]);
    assert!(
        err.contains("32 bytes of TCP options leave no room for data"),
        "{err}"
    );
}

/// Flags a mode does not use are refused, not ignored.
#[test]
fn flags_the_mode_would_ignore_are_refused() {
    for (args, needle) in [
        (
            &["calc", "--mtu", "1500", "-6", "--ip-options", "8"][..],
            ("'--ip-options <BYTES>'", "'--ipv6'"),
        ),
        (
            &["calc", "--mtu", "1500", "-4", "--ipv6-ext", "8"][..],
            ("'--ipv6-ext <BYTES>'", "'--ipv4'"),
        ),
        (
            &["calc", "--mss", "1360", "--explain"][..],
            ("'--mss <BYTES>'", "'--explain'"),
        ),
        (
            &["calc", "--list-encaps", "--encap", "pppoe"][..],
            ("'--list-encaps'", "'--encap <LIST>'"),
        ),
        (
            &["calc", "--list-encaps", "--options", "ts"][..],
            ("'--list-encaps'", "'--options <LIST>'"),
        ),
        (
            &["calc", "--list-encaps", "-6"][..],
            ("'--list-encaps'", "'--ipv6'"),
        ),
        (
            &["calc", "--list-encaps", "--explain"][..],
            ("'--list-encaps'", "'--explain'"),
        ),
    ] {
        // clap names the two in the order they were typed.
        let (one, other) = needle;
        let err = usage_error(args);
        assert!(
            err.contains("cannot be used with") && err.contains(one) && err.contains(other),
            "{args:?}: {err}"
        );
    }
    // --json is honoured by --list-encaps (list_encaps_names_every_one) and the
    // family flags still combine with their own header bytes.
    let v4 = mss_json(&["calc", "--mtu", "1500", "-4", "--ip-options", "8", "--json"]);
    assert_eq!(family(&v4, 4)["effective_mss"], 1452);
}
