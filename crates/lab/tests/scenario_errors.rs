//! Scenario mistakes: each must be a `ScenarioError` naming the problem, with
//! the 1-based line of the offending table.
//!
//! Where the line comes from:
//! - TOML syntax errors and serde errors (unknown field, wrong type, unknown
//!   variant): the line of the offending key or value itself;
//! - a serde "missing field" inside an array-of-tables element: that element's
//!   `[[...]]` header;
//! - checks on a `[[node]]`, `[[link]]`, `[[route]]`, `[[expect]]` element or the
//!   `[traffic]` table: the line of its header (`toml::Spanned` of a table starts
//!   at its `[[...]]` / `[...]` header); for `capture = [...]`, the line of the
//!   array.

use mss_analyze::report::Role;
use mss_lab::scenario::MAX_NODE_NAME;
use mss_lab::spec::{Expect, FINDING_KINDS, FindingKind, Place};
use mss_lab::{BUILTIN, Scenario, ScenarioError};

/// A valid scenario; the tests change one thing in it. Line numbers:
///  1 name, 2 title, 4 [[node]] client, 7 [[node]] router, 11 [[node]] server,
/// 14 [[link]] client-router, 17 [[link]] router-server, 20 [traffic].
const BASE: &str = r#"name = "t"
title = "t"

[[node]]
name = "client"

[[node]]
name = "router"
router = true

[[node]]
name = "server"

[[link]]
between = ["client", "router"]

[[link]]
between = ["router", "server"]

[traffic]
bulk = { up = 1, down = 1 }
"#;

/// 1-based line of the `nth` (1-based) line that equals `line` exactly.
#[track_caller]
fn line_no(text: &str, line: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| *l == line)
        .nth(nth - 1)
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("line {line:?} #{nth} not in\n{text}"))
}

#[track_caller]
fn err(text: &str) -> ScenarioError {
    match Scenario::parse(text) {
        Ok(_) => panic!("expected an error for\n{text}"),
        Err(e) => e,
    }
}

/// Checks the error's line and that its message contains every `needle`.
#[track_caller]
fn assert_err(text: &str, line: Option<usize>, needles: &[&str]) -> ScenarioError {
    let e = err(text);
    assert_eq!(e.line, line, "wrong line for {:?} in\n{text}", e.message);
    for needle in needles {
        assert!(
            e.message.contains(needle),
            "message {:?} does not contain {needle:?}",
            e.message
        );
    }
    // Display: "line N: message".
    match e.line {
        Some(n) => assert_eq!(e.to_string(), format!("line {n}: {}", e.message)),
        None => assert_eq!(e.to_string(), e.message),
    }
    e
}

/// BASE with `old` (which must be present) replaced by `new`.
#[track_caller]
fn with(old: &str, new: &str) -> String {
    assert!(BASE.contains(old), "{old:?} not in BASE");
    BASE.replacen(old, new, 1)
}

/// BASE plus text at the end.
fn plus(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn base_is_valid_and_its_lines_are_as_documented() {
    let s = Scenario::parse(BASE).expect("BASE parses");
    assert_eq!(s.traffic.client, "client");
    assert_eq!(s.traffic.server, "server");
    assert_eq!(line_no(BASE, "[[node]]", 1), 4);
    assert_eq!(line_no(BASE, "[[node]]", 2), 7);
    assert_eq!(line_no(BASE, "[[node]]", 3), 11);
    assert_eq!(line_no(BASE, "[[link]]", 1), 14);
    assert_eq!(line_no(BASE, "[[link]]", 2), 17);
    assert_eq!(line_no(BASE, "[traffic]", 1), 20);
}

#[test]
fn every_builtin_parses() {
    assert!(BUILTIN.len() >= 15);
    for (name, text) in BUILTIN {
        let s = Scenario::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.name, *name, "the file's name matches its built-in name");
        assert!(!s.title.is_empty(), "{name}: title");
        assert!(!s.expects.is_empty(), "{name}: has expectations");
        assert_eq!(mss_lab::builtin(name), Some(*text));
    }
    assert_eq!(mss_lab::builtin("no-such-scenario"), None);
    let mut names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), BUILTIN.len(), "names are unique");
}

// ---- TOML and serde errors: the line of the key or value ----

#[test]
fn toml_syntax_error() {
    let text = with("name = \"server\"", "name = \"server");
    assert_err(&text, Some(12), &["string"]);
    let text = with("router = true", "router true");
    assert_err(&text, Some(9), &[]);
    let text = with("[traffic]", "[traffic");
    let e = err(&text);
    assert_eq!(e.line, Some(20), "{e}");
}

#[test]
fn unknown_field_in_node() {
    let text = with("router = true", "router = true\nroutr = true");
    let line = line_no(&text, "routr = true", 1);
    assert_eq!(line, 10);
    assert_err(&text, Some(line), &["unknown field `routr`", "`router`"]);
}

#[test]
fn unknown_field_elsewhere() {
    // Top level.
    let text = with("title = \"t\"", "title = \"t\"\ntitel = \"x\"");
    assert_err(&text, Some(3), &["unknown field `titel`", "`title`"]);
    // [[link]].
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"server\"]\nmtu6 = 1400",
    );
    assert_err(&text, Some(19), &["unknown field `mtu6`", "`mtu`"]);
    // [traffic].
    let text = plus("timeout = 3\n");
    assert_err(&text, Some(22), &["unknown field `timeout`", "`timeout_s`"]);
    // An inline table inside a node.
    let text = with(
        "router = true",
        "router = true\nclamp = { method = \"nft\", mss = 1360, mss6 = 1340, to = \"server\" }",
    );
    assert_err(&text, Some(10), &["unknown field `to`", "`toward`"]);
    // [[expect]]: the line of its header (serde reads an expectation whole, then
    // by its `what`), and the keys it takes.
    let text = plus("\n[[expect]]\nwhat = \"completed\"\ncompleted = true\nfound = 1\n");
    assert_err(
        &text,
        Some(23),
        &[
            "expect: completed: unknown field `found`",
            "`family` or `completed`",
        ],
    );
}

#[test]
fn wrong_types_and_variants() {
    let text = with("router = true", "router = \"yes\"");
    assert_err(&text, Some(9), &["expected a boolean"]);
    let text = with("title = \"t\"", "title = \"t\"\nfamilies = [\"ipv5\"]");
    assert_err(
        &text,
        Some(3),
        &["unknown variant `ipv5`", "`ipv4`", "`ipv6`"],
    );
    let text = with(
        "router = true",
        "router = true\nclamp = { method = \"nftables\", mss = 1360, mss6 = 1340 }",
    );
    assert_err(
        &text,
        Some(10),
        &["`nftables`", "`nft`", "`nft-rtmtu`", "`iptables`"],
    );
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"server\"]\nmtus = [1500]",
    );
    assert_err(&text, Some(19), &["length 1", "length 2"]);
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\"]",
    );
    assert_err(&text, Some(18), &["length 1"]);
}

#[test]
fn missing_fields() {
    // In a [[node]]: the line of its header.
    let text = with("name = \"server\"", "router = false");
    assert_err(&text, Some(11), &["missing field `name`"]);
    // In a [[link]].
    let text = with("between = [\"router\", \"server\"]", "mtu = 1400");
    assert_err(&text, Some(17), &["missing field `between`"]);
    // Top level: the whole document, line 1.
    let text = BASE.replace("[traffic]\nbulk = { up = 1, down = 1 }\n", "");
    assert_err(&text, Some(1), &["missing field `traffic`"]);
    let text = with("title = \"t\"\n", "");
    assert_err(&text, Some(1), &["missing field `title`"]);
    // In an [[expect]].
    let text = plus("\n[[expect]]\nvalue = 1\n");
    assert_err(&text, Some(23), &["missing field `what`"]);
}

// ---- Checks on nodes: the line of the [[node]] header ----

#[test]
fn duplicate_node() {
    let text = with("name = \"server\"", "name = \"client\"");
    assert_err(&text, Some(11), &["\"client\"", "defined twice"]);
}

#[test]
fn node_name_too_long_or_uppercase() {
    let long = "a".repeat(MAX_NODE_NAME + 1);
    let text = BASE.replace("\"server\"", &format!("\"{long}\""));
    let e = assert_err(&text, Some(11), &[&long, "at most 12", "lowercase"]);
    assert!(e.message.contains("node name"), "{e}");
    // Exactly the maximum is fine.
    let ok = "a".repeat(MAX_NODE_NAME);
    Scenario::parse(&BASE.replace("\"server\"", &format!("\"{ok}\""))).expect("12 chars");
    let text = BASE.replace("\"router\"", "\"Router\"");
    assert_err(&text, Some(7), &["\"Router\"", "lowercase"]);
    let text = BASE.replace("\"router\"", "\"1router\"");
    assert_err(&text, Some(7), &["\"1router\"", "starting with a letter"]);
    let text = BASE.replace("\"router\"", "\"r_1\"");
    assert_err(&text, Some(7), &["\"r_1\""]);
    let text = BASE.replace("\"router\"", "\"\"");
    assert_err(&text, Some(7), &["node name \"\""]);
}

#[test]
fn clamp_on_a_non_router() {
    let text = with(
        "name = \"server\"",
        "name = \"server\"\nclamp = { method = \"nft\", mss = 1360, mss6 = 1340 }",
    );
    assert_err(
        &text,
        Some(11),
        &["node server", "clamp", "add `router = true`"],
    );
}

#[test]
fn clamp_nft_without_mss6() {
    let text = with(
        "router = true",
        "router = true\nclamp = { method = \"nft\", mss = 1360 }",
    );
    assert_err(&text, Some(7), &["node router", "`mss6`", "IPv6"]);
    let text = with(
        "router = true",
        "router = true\nclamp = { method = \"iptables\", mss6 = 1340 }",
    );
    assert_err(&text, Some(7), &["node router", "`mss`"]);
}

#[test]
fn clamp_method_is_named_as_written() {
    let text = with(
        "router = true",
        "router = true\nclamp = { method = \"nft\", mss = 1360 }",
    );
    assert_err(&text, Some(7), &["clamp method \"nft\""]);
}

#[test]
fn other_clamp_mistakes() {
    let text = with(
        "router = true",
        "router = true\nclamp = { method = \"nft-rtmtu\", mss = 1360 }",
    );
    assert_err(&text, Some(7), &["nft-rtmtu", "remove `mss`/`mss6`"]);
    let text = with(
        "router = true",
        "router = true\nclamp = { method = \"nft\", mss = 19, mss6 = 1340 }",
    );
    assert_err(&text, Some(7), &["clamp value 19 is not a usable MSS"]);
    let text = with(
        "router = true",
        "router = true\nclamp = { method = \"nft\", mss = 1360, mss6 = 1340, toward = \"nobody\" }",
    );
    assert_err(
        &text,
        Some(7),
        &["clamp.toward \"nobody\" is not a neighbour"],
    );
    // The lowest accepted value.
    let text = with(
        "router = true",
        "router = true\nclamp = { method = \"nft\", mss = 20, mss6 = 20, toward = \"server\" }",
    );
    Scenario::parse(&text).expect("20 is accepted, toward a neighbour");
}

#[test]
fn sysctl_outside_net_ipv4_and_ipv6() {
    let text = with(
        "name = \"client\"",
        "name = \"client\"\nsysctls = { \"kernel.panic\" = \"1\" }",
    );
    assert_err(
        &text,
        Some(4),
        &[
            "node client",
            "\"kernel.panic\"",
            "only net.ipv4.* and net.ipv6.*",
        ],
    );
    let text = with(
        "name = \"client\"",
        "name = \"client\"\nsysctls = { \"net.core.rmem_max\" = \"1\" }",
    );
    assert_err(&text, Some(4), &["\"net.core.rmem_max\""]);
    // `net.ipv4` without the dot is not the subtree.
    let text = with(
        "name = \"client\"",
        "name = \"client\"\nsysctls = { \"net.ipv4x.a\" = \"1\" }",
    );
    assert_err(&text, Some(4), &["\"net.ipv4x.a\""]);
    let text = with(
        "name = \"client\"",
        "name = \"client\"\nsysctls = { \"net.ipv4.a b\" = \"1\" }",
    );
    assert_err(&text, Some(4), &["bad sysctl name \"net.ipv4.a b\""]);
    let text = with(
        "name = \"client\"",
        "name = \"client\"\nsysctls = { \"net.ipv4.tcp_ecn\" = \"1\", \"net.ipv6.conf.all.mtu\" = \"1400\" }",
    );
    Scenario::parse(&text).expect("net.ipv4.* and net.ipv6.* are accepted");
}

#[test]
fn other_node_mistakes() {
    let text = with(
        "name = \"client\"",
        "name = \"client\"\ntcp_mtu_probing = 3",
    );
    assert_err(&text, Some(4), &["tcp_mtu_probing is 0, 1 or 2, not 3"]);
    let text = with(
        "name = \"client\"",
        "name = \"client\"\ndrop_icmp_too_big = true",
    );
    assert_err(
        &text,
        Some(4),
        &["node client: drop_icmp_too_big needs `router = true`"],
    );
    // A node without a link.
    let text = with("[[link]]\n", "[[node]]\nname = \"lonely\"\n\n[[link]]\n");
    let e = assert_err(&text, Some(14), &["node lonely has no link"]);
    assert_eq!(line_no(&text, "name = \"lonely\"", 1), 15, "{e}");
}

// ---- Checks on links: the line of the [[link]] header ----

#[test]
fn link_to_an_unknown_node() {
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"srv\"]",
    );
    assert_err(&text, Some(17), &["link: no node called \"srv\""]);
}

#[test]
fn tx_mtu_from_not_an_end_of_the_link() {
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"server\"]\ntx_mtu = { from = \"client\", mtu = 1400 }",
    );
    assert_err(
        &text,
        Some(17),
        &["tx_mtu.from \"client\" is not an end of this link"],
    );
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"server\"]\ntx_mtu = { from = \"router\", mtu = 67 }",
    );
    assert_err(&text, Some(17), &["tx_mtu 67 is not an MTU"]);
}

#[test]
fn other_link_mistakes() {
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"server\", \"server\"]",
    );
    assert_err(&text, Some(17), &["cannot link to itself"]);
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"server\"]\nmtu = 1500\nmtus = [1500, 1400]",
    );
    assert_err(&text, Some(17), &["`mtu` or `mtus`, not both"]);
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"server\"]\nmtus = [1500, 67]",
    );
    assert_err(&text, Some(17), &["MTU 67 is outside 68..=65535"]);
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"server\"]\nmtu = 65536",
    );
    assert_err(&text, Some(17), &["MTU 65536"]);
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"server\"]\nsubnet4 = \"10.0.0.0/16\"",
    );
    assert_err(&text, Some(17), &["subnet4 \"10.0.0.0/16\"", "/24"]);
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"server\"]\nsubnet6 = \"fd00::1/64\"",
    );
    assert_err(&text, Some(17), &["subnet6 \"fd00::1/64\"", "/64"]);
}

#[test]
fn duplicate_subnets_are_rejected() {
    let text = with(
        "between = [\"router\", \"server\"]",
        "between = [\"router\", \"server\"]\nsubnet4 = \"10.81.1.0/24\"",
    );
    assert_err(&text, Some(17), &["10.81.1.0/24"]);
}

// ---- Routes: the line of the [[route]] header ----

#[test]
fn route_via_a_non_neighbour() {
    let text = plus("\n[[route]]\nnode = \"client\"\nto = \"server\"\nvia = \"server\"\n");
    assert_err(
        &text,
        Some(23),
        &["route: server is not a neighbour of client"],
    );
}

#[test]
fn other_route_mistakes() {
    let text = plus("\n[[route]]\nnode = \"client\"\nto = \"srv\"\nvia = \"router\"\n");
    assert_err(&text, Some(23), &["route: no node called \"srv\""]);
    // A host as next hop toward another node: it would not forward.
    let text = with(
        "[traffic]",
        "[[node]]\nname = \"far\"\n\n[[link]]\nbetween = [\"server\", \"far\"]\n\n[traffic]\nclient = \"client\"\nserver = \"far\"",
    );
    let text = format!("{text}\n[[route]]\nnode = \"router\"\nto = \"far\"\nvia = \"server\"\n");
    let line = line_no(&text, "[[route]]", 1);
    assert_err(
        &text,
        Some(line),
        &["route: server is a host and does not forward; make it a router"],
    );
    // A host as next hop toward itself is fine.
    let text = plus("\n[[route]]\nnode = \"router\"\nto = \"server\"\nvia = \"server\"\n");
    Scenario::parse(&text).expect("via the destination host itself");
}

// ---- Traffic: the line of the [traffic] header ----

#[test]
fn traffic_with_both_bulk_and_short() {
    let text = plus("short = { count = 1, up = 1, down = 1 }\n");
    assert_err(&text, Some(20), &["exactly one of", "bulk", "short", "mix"]);
    let text = with("bulk = { up = 1, down = 1 }", "client_mss = 1000");
    assert_err(&text, Some(20), &["exactly one of"]);
}

#[test]
fn traffic_client_is_a_router() {
    let text = plus("client = \"router\"\n");
    assert_err(
        &text,
        Some(20),
        &["traffic.client: router is a router; traffic runs between hosts"],
    );
    let text = plus("server = \"router\"\n");
    assert_err(&text, Some(20), &["traffic.server: router is a router"]);
}

#[test]
fn other_traffic_mistakes() {
    let text = plus("client = \"nobody\"\n");
    assert_err(
        &text,
        Some(20),
        &["traffic.client: no node called \"nobody\""],
    );
    let text = plus("server = \"client\"\n");
    assert_err(&text, Some(20), &["client and server are the same node"]);
    let text = with(
        "bulk = { up = 1, down = 1 }",
        "short = { count = 0, up = 1, down = 1 }",
    );
    assert_err(
        &text,
        Some(20),
        &["traffic.short.count: between 1 and 1000"],
    );
    let text = with(
        "bulk = { up = 1, down = 1 }",
        "short = { count = 1001, up = 1, down = 1 }",
    );
    assert_err(&text, Some(20), &["between 1 and 1000"]);
    let text = plus("client_mss = 70000\n");
    assert_err(&text, Some(20), &["traffic.client_mss 70000 is not an MSS"]);
    let text = plus("client_mss = 0\n");
    assert_err(&text, Some(20), &["traffic.client_mss 0"]);
    let text = plus("timeout_s = 0\n");
    assert_err(&text, Some(20), &["traffic.timeout_s: between 1 and 600"]);
    let text = plus("timeout_s = 601\n");
    assert_err(&text, Some(20), &["traffic.timeout_s"]);
    // An inline traffic table: the line of the key.
    let text = with("[traffic]\nbulk = { up = 1, down = 1 }\n", "").replacen(
        "title = \"t\"\n",
        "title = \"t\"\ntraffic = { bulk = { up = 1, down = 1 }, client = \"router\" }\n",
        1,
    );
    assert_err(&text, Some(3), &["traffic.client: router is a router"]);
}

// ---- A mix: the line of the [traffic] header ----

/// BASE with both families and a valid mix in place of the bulk transfer, plus
/// `extra` keys in the mix table (`[traffic]` stays at line 20).
fn mix(extra: &str) -> String {
    with("bulk = { up = 1, down = 1 }\n", "").replacen(
        "title = \"t\"\n",
        "title = \"t\"\nfamilies = [\"ipv4\", \"ipv6\"]\n",
        1,
    ) + &format!("mix = {{ count = 100, up = [40, 1200], down = [[0, 1], [4096, 3]]{extra} }}\n")
}

#[test]
fn mix_is_valid_and_exclusive() {
    let text = mix(
        ", concurrency = 8, ipv6_percent = 20, lowered_mss = { percent = 10, \
                    values = [536, 1200] }, bulk = { count = 2, down = 1000000 }, \
                    fill_mb = 20, pace_mb_s = 200",
    );
    assert_eq!(line_no(&text, "[traffic]", 1), 21);
    let s = Scenario::parse(&text).expect("a full mix parses");
    assert!(matches!(s.traffic.load, mss_lab::scenario::Load::Mix(_)));
    let text = format!("{}bulk = {{ up = 1, down = 1 }}\n", mix(""));
    assert_err(&text, Some(21), &["exactly one of", "mix"]);
    let text = mix(", speed = 3");
    assert_err(&text, Some(22), &["unknown field `speed`", "`concurrency`"]);
}

#[test]
fn mix_numbers_out_of_range() {
    for (extra, needle) in [
        (", count = 0", "duplicate key"),
        (
            ", concurrency = 0",
            "traffic.mix.concurrency: between 1 and 256",
        ),
        (
            ", concurrency = 257",
            "traffic.mix.concurrency: between 1 and 256",
        ),
        (
            ", ipv6_percent = 101",
            "traffic.mix.ipv6_percent 101: 0 to 100",
        ),
        (
            ", lowered_mss = { percent = 101, values = [536] }",
            "traffic.mix.lowered_mss.percent 101",
        ),
        (
            ", lowered_mss = { percent = 10, values = [] }",
            "traffic.mix.lowered_mss.values: give at least one MSS",
        ),
        (
            ", lowered_mss = { percent = 10, values = [0] }",
            "traffic.mix.lowered_mss.values: 0 is not an MSS",
        ),
        (
            ", bulk = { count = 0, down = 1 }",
            "traffic.mix.bulk: count between 1 and 1000",
        ),
        (", bulk = { count = 1, down = 0 }", "down at least 1 byte"),
        (", fill_mb = 0", "traffic.mix.fill_mb: between 1 and 100000"),
        (
            ", pace_mb_s = 0",
            "traffic.mix.pace_mb_s: between 1 and 2000",
        ),
    ] {
        let text = mix(extra);
        if needle == "duplicate key" {
            // `count` twice is TOML's error, at the key.
            assert_err(&text, Some(22), &[needle]);
        } else {
            assert_err(&text, Some(21), &[needle]);
        }
    }
    let text = mix("").replace("count = 100", "count = 250001");
    assert_err(
        &text,
        Some(21),
        &["traffic.mix.count: between 1 and 250000"],
    );
}

#[test]
fn mix_sizes() {
    for (up, down, needle) in [
        (
            "[31, 100]",
            "[[1, 1]]",
            "traffic.mix.up = [31, 100]: give [min, max] with 32 <= min",
        ),
        ("[100, 40]", "[[1, 1]]", "32-byte header"),
        ("[40, 1048577]", "[[1, 1]]", "<= 1048576"),
        (
            "[40, 100]",
            "[]",
            "traffic.mix.down: give [bytes, weight] pairs",
        ),
        ("[40, 100]", "[[512, 0]]", "with some weight above 0"),
        (
            "[40, 100]",
            "[[2000000000, 1]]",
            "2000000000 bytes is more than",
        ),
    ] {
        let text = mix("")
            .replace("up = [40, 1200]", &format!("up = {up}"))
            .replace("down = [[0, 1], [4096, 3]]", &format!("down = {down}"));
        assert_err(&text, Some(21), &[needle]);
    }
    let text = mix("").replace("down = [[0, 1], [4096, 3]]", "down = 4096");
    assert_err(&text, Some(22), &["invalid type"]);
}

#[test]
fn mix_ipv6_share_needs_both_families() {
    let text = mix(", ipv6_percent = 20").replace(
        "families = [\"ipv4\", \"ipv6\"]\n",
        "families = [\"ipv6\"]\n",
    );
    assert_err(
        &text,
        Some(21),
        &["traffic.mix.ipv6_percent needs families = [\"ipv4\", \"ipv6\"]"],
    );
    // Without a share, one family takes every connection.
    let text = mix("").replace(
        "families = [\"ipv4\", \"ipv6\"]\n",
        "families = [\"ipv6\"]\n",
    );
    Scenario::parse(&text).expect("one family, no share");
}

// ---- Capture points: the line of `capture = [...]` ----

#[test]
fn capture_point_that_does_not_exist() {
    let text = with(
        "title = \"t\"",
        "title = \"t\"\ncapture = [\"client-eth0\", \"router-eth2\"]",
    );
    assert_err(
        &text,
        Some(3),
        &[
            "capture point \"router-eth2\" does not exist",
            "client-eth0, router-eth0, router-eth1, server-eth0",
        ],
    );
    // A multi-line array: the line where it starts.
    let text = with(
        "title = \"t\"",
        "title = \"t\"\ncapture = [\n  \"client-eth0\",\n  \"server-eth1\",\n]",
    );
    assert_err(&text, Some(3), &["\"server-eth1\""]);
}

// ---- Expectations: the line of the [[expect]] header ----

#[test]
fn expect_with_unknown_what() {
    let text = plus("\n[[expect]]\nwhat = \"mss\"\nvalue = 1\n");
    assert_err(
        &text,
        Some(23),
        &[
            "expect: mss: unknown variant `mss`",
            "`syn_mss`, `handshake_mss`, `effective_mss`, `finding`, `findings`, `completed`, \
             `checksums`",
        ],
    );
}

#[test]
fn expect_finding_with_unknown_kind() {
    let text = plus("\n[[expect]]\nwhat = \"finding\"\nkind = \"mss_changed\"\n");
    let e = assert_err(&text, Some(23), &["unknown finding kind \"mss_changed\""]);
    for kind in FINDING_KINDS {
        assert!(e.message.contains(kind), "{e} lists {kind}");
    }
    // In a findings list, with an endpoint suffix.
    let text = plus(
        "\n[[expect]]\nwhat = \"findings\"\nkinds = [\"mss_rewritten:client\", \"bogus:server\"]\n",
    );
    assert_err(&text, Some(23), &["unknown finding kind \"bogus\""]);
}

#[test]
fn expect_syn_mss_without_at() {
    let text = plus("\n[[expect]]\nwhat = \"syn_mss\"\nof = \"client\"\nvalue = 1460\n");
    assert_err(&text, Some(23), &["expect: syn_mss: missing field `at`"]);
}

#[test]
fn several_expectations_point_at_the_right_one() {
    let text = plus(
        "\n[[expect]]\nwhat = \"completed\"\ncompleted = true\n\
         \n[[expect]]\nwhat = \"effective_mss\"\nof = \"client\"\nvalue = 1448\n\
         \n[[expect]]\nwhat = \"effective_mss\"\nof = \"client\"\n",
    );
    let line = line_no(&text, "[[expect]]", 3);
    assert_eq!(line, 32);
    assert_err(
        &text,
        Some(line),
        &["expect: effective_mss: missing field `value`"],
    );
}

/// Each `[[expect]]` body with the words its error must contain; the line is always
/// the table's header, and every message starts with `expect: ` and the `what`.
const EXPECT_MISTAKES: &[(&str, &[&str])] = &[
    // Missing keys, variant by variant.
    ("value = 1", &["expect: missing field `what`"]),
    (
        "what = \"handshake_mss\"\nvalue = 1",
        &["expect: handshake_mss: missing field `of`"],
    ),
    (
        "what = \"syn_mss\"\nof = \"client\"\nat = \"client-eth0\"",
        &["expect: syn_mss: missing field `value`"],
    ),
    (
        "what = \"effective_mss\"\nvalue = 1348",
        &["expect: effective_mss: missing field `of`"],
    ),
    (
        "what = \"finding\"",
        &["expect: finding: missing field `kind`"],
    ),
    (
        "what = \"findings\"",
        &["expect: findings: missing field `kinds`"],
    ),
    (
        "what = \"completed\"",
        &["expect: completed: missing field `completed`"],
    ),
    // Keys a variant does not take: serde lists the ones it does.
    (
        "what = \"syn_mss\"\nof = \"client\"\nat = \"client-eth0\"\nvalue = 1\nkind = \"mss_missing\"",
        &[
            "expect: syn_mss: unknown field `kind`",
            "`of`, `at`, `family`, `value`",
        ],
    ),
    (
        "what = \"finding\"\nkind = \"mss_missing\"\nvalue = 3",
        &[
            "expect: finding: unknown field `value`",
            "`present`, `fields`",
        ],
    ),
    (
        "what = \"findings\"\nof = \"client\"\nkinds = []",
        &[
            "expect: findings: unknown field `of`",
            "`at`, `family`, `kinds`",
        ],
    ),
    (
        "what = \"completed\"\ncompleted = true\nat = \"all\"",
        &[
            "expect: completed: unknown field `at`",
            "`family` or `completed`",
        ],
    ),
    (
        "what = \"completed\"\ncompleted = true\nkinds = []",
        &["expect: completed: unknown field `kinds`"],
    ),
    (
        "what = \"checksums\"\nof = \"client\"",
        &["expect: checksums: unknown field `of`", "expected `at`"],
    ),
    (
        "what = \"checksums\"\nfamily = \"ipv4\"",
        &["expect: checksums: unknown field `family`"],
    ),
    // Values of the wrong kind.
    (
        "what = \"effective_mss\"\nof = \"peer\"\nvalue = 1",
        &[
            "expect: effective_mss: unknown variant `peer`",
            "`client` or `server`",
        ],
    ),
    (
        "what = \"effective_mss\"\nof = \"client\"\nvalue = \"1348\"",
        &["expect: effective_mss: invalid type: string \"1348\", expected u32"],
    ),
    (
        "what = \"effective_mss\"\nof = \"client\"\nvalue = -1",
        &["expect: effective_mss: invalid value: integer `-1`, expected u32"],
    ),
    (
        "what = \"effective_mss\"\nof = \"client\"\nfamily = \"ipv5\"\nvalue = 1",
        &[
            "expect: effective_mss: unknown variant `ipv5`",
            "`ipv4` or `ipv6`",
        ],
    ),
    (
        "what = \"completed\"\ncompleted = \"yes\"",
        &["expect: completed: invalid type: string \"yes\", expected a boolean"],
    ),
    (
        "what = \"finding\"\nkind = \"mss_missing\"\npresent = 0",
        &["expect: finding: invalid type: integer `0`, expected a boolean"],
    ),
    (
        "what = \"findings\"\nkinds = \"mss_missing\"",
        &["expect: findings: invalid type: string \"mss_missing\", expected a sequence"],
    ),
    (
        "what = 3",
        &["expect: invalid type: integer `3`", "variant identifier"],
    ),
    // Finding names.
    (
        "what = \"finding\"\nkind = \"mss_rewritten:client\"",
        &[
            "expect: finding: unknown finding kind \"mss_rewritten:client\"",
            "the kinds are mss_missing",
        ],
    ),
    (
        "what = \"findings\"\nkinds = [\"mss_rewritten:peer\"]",
        &[
            "expect: findings: \"mss_rewritten:peer\": the endpoint after ':' is client or \
             server, not \"peer\"",
        ],
    ),
    // What serde cannot know: the capture points of the run.
    (
        "what = \"syn_mss\"\nof = \"client\"\nat = \"client-eth9\"\nvalue = 1",
        &[
            "expect: at = \"client-eth9\" is not a capture point of this run",
            "\"all\" or one of client-eth0, router-eth0, router-eth1, server-eth0",
        ],
    ),
    (
        "what = \"checksums\"\nat = \"client-eth9\"",
        &["expect: at = \"client-eth9\" is not a capture point of this run"],
    ),
];

#[test]
fn other_expect_mistakes() {
    for (body, needles) in EXPECT_MISTAKES {
        let text = plus(&format!("\n[[expect]]\n{body}\n"));
        assert_err(&text, Some(23), needles);
    }
}

#[test]
fn expect_mistakes_are_placed_at_their_own_table() {
    // After two valid expectations, each mistake is reported at the third
    // table's header, not at the first (where the array of them starts).
    let valid = "\n[[expect]]\nwhat = \"completed\"\ncompleted = true\n\
                 \n[[expect]]\nwhat = \"checksums\"\n";
    for (body, needles) in EXPECT_MISTAKES {
        let text = plus(&format!("{valid}\n[[expect]]\n{body}\n"));
        assert_eq!(line_no(&text, "[[expect]]", 3), 30);
        assert_err(&text, Some(30), needles);
    }
}

#[test]
fn every_kind_of_expectation_parses() {
    let text = plus(
        "\n[[expect]]\nwhat = \"syn_mss\"\nof = \"server\"\nat = \"router-eth1\"\nfamily = \"ipv4\"\nvalue = 1460\n\
         \n[[expect]]\nwhat = \"handshake_mss\"\nof = \"client\"\nat = \"all\"\nvalue = 1448\n\
         \n[[expect]]\nwhat = \"effective_mss\"\nof = \"server\"\nvalue = 1448\n\
         \n[[expect]]\nwhat = \"finding\"\nkind = \"segments_exceed_mss\"\nof = \"client\"\n\
         present = false\nfields = { cause = \"gro_lro\", largest = 2896 }\n\
         \n[[expect]]\nwhat = \"findings\"\nat = \"server-eth0\"\nkinds = [\"asymmetric_mss\", \"icmp_too_big:client\"]\n\
         \n[[expect]]\nwhat = \"completed\"\nfamily = \"ipv6\"\ncompleted = false\n\
         \n[[expect]]\nwhat = \"checksums\"\nat = \"client-eth0\"\n",
    );
    let s = Scenario::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let whats: Vec<&str> = s.expects.iter().map(Expect::what).collect();
    assert_eq!(
        whats,
        [
            "syn_mss",
            "handshake_mss",
            "effective_mss",
            "finding",
            "findings",
            "completed",
            "checksums"
        ]
    );
    let fields = [
        ("cause".to_string(), toml::Value::from("gro_lro")),
        ("largest".to_string(), toml::Value::from(2896)),
    ];
    assert_eq!(
        s.expects[3],
        Expect::Finding {
            kind: FindingKind::named("segments_exceed_mss").expect("a kind"),
            of: Some(Role::Client),
            at: None,
            family: None,
            present: false,
            fields: Some(fields.into_iter().collect()),
        }
    );
    let Expect::Findings { at, kinds, .. } = &s.expects[4] else {
        panic!("findings");
    };
    assert_eq!(at, &Some(Place::Point("server-eth0".into())));
    assert_eq!(kinds[1].endpoint, Some(Role::Client));
    assert_eq!(kinds[1].to_string(), "icmp_too_big:client");
}

#[test]
fn expect_at_must_be_a_captured_point() {
    // The point exists but is not captured in this run.
    let text = with(
        "title = \"t\"",
        "title = \"t\"\ncapture = [\"client-eth0\"]",
    );
    let text = format!(
        "{text}\n[[expect]]\nwhat = \"syn_mss\"\nof = \"client\"\nat = \"server-eth0\"\nvalue = 1\n"
    );
    assert_err(
        &text,
        Some(24),
        &[
            "at = \"server-eth0\" is not a capture point of this run",
            "one of client-eth0",
        ],
    );
}

// ---- Whole-file checks ----

#[test]
fn scenario_name() {
    let text = with("name = \"t\"", "name = \"Clamp test\"");
    assert_err(&text, Some(1), &["name \"Clamp test\"", "lowercase"]);
    let long = "a".repeat(41);
    let text = with("name = \"t\"", &format!("name = \"{long}\""));
    assert_err(&text, Some(1), &["at most 40"]);
}

#[test]
fn scenario_name_error_points_at_the_name_line() {
    let text = format!(
        "# A comment first.\n\n{}",
        with("name = \"t\"", "name = \"Bad\"")
    );
    assert_err(&text, Some(3), &["name \"Bad\""]);
}

#[test]
fn empty_families_and_nodes() {
    let text = with("title = \"t\"", "title = \"t\"\nfamilies = []");
    assert_err(&text, None, &["families is empty"]);
    let text = "name = \"t\"\ntitle = \"t\"\nnode = []\nlink = []\n[traffic]\nbulk = { up = 1, down = 1 }\n";
    assert_err(text, None, &["no [[node]]"]);
}

#[test]
fn errors_are_reported_in_file_order_of_checks() {
    // Two mistakes: the node check runs before the link check.
    let text = with("name = \"server\"", "name = \"Server\"");
    let e = err(&text);
    assert_eq!(e.line, Some(11), "{e}");
}

#[test]
fn the_bench_scenario_scales_and_is_itself_at_300_mb() {
    assert_eq!(mss_lab::bench_scenario(300, None), BUILTIN_BENCH);
    let small = mss_lab::bench_scenario(20, Some(1500));
    let s = Scenario::parse(&small).expect("scaled bench parses");
    let mss_lab::scenario::Load::Mix(mix) = &s.traffic.load else {
        panic!("bench is a mix");
    };
    assert_eq!(mix.count, 1500);
    assert_eq!(mix.fill_mb, Some(20));
    let bulk = mix.bulk.expect("bulk alongside");
    assert_eq!((bulk.count, bulk.down), (2, 3_100_000));
    let mix_default = mss_lab::bench_scenario(20, None);
    assert!(mix_default.contains("\ncount = 2000\n"), "{mix_default}");
}

const BUILTIN_BENCH: &str = include_str!("../scenarios/bench.toml");
