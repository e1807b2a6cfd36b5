//! `expect::evaluate` on synthetic observations, and the kernel's TCP_INFO as the
//! lab reports it.

use mss_analyze::record::{ConnectionRecord, FindingFields, FindingRecord, RecordType};
use mss_analyze::report::{
    EffectiveBasis, Ending, EndpointReport, Handshake, MssSeen, Role, RoleEvidence,
};
use mss_lab::Scenario;
use mss_lab::expect::{Outcome, UNKNOWN, describe, evaluate, finding_names};
use mss_lab::observed::{Analysis, Connection, SocketView, TcpInfo};
use mss_lab::spec::{Family, Place};

const NODES: &str = r#"name = "t"
title = "t"
families = ["ipv4", "ipv6"]

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

/// A scenario with the given `[[expect]]` tables.
fn scenario(expects: &str) -> Scenario {
    let text = format!("{NODES}{expects}");
    Scenario::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A connection whose sockets ended at `client_mss` / `server_mss` (and started
/// at the same values).
fn conn(family: Family, port: u16, client_mss: u32, server_mss: u32) -> Connection {
    let view = |mss| SocketView {
        maxseg_start: mss,
        maxseg_end: mss,
        info: None,
    };
    Connection {
        family,
        client_port: port,
        server_port: 5201,
        client_addr: "10.81.1.1".into(),
        server_addr: "10.81.2.2".into(),
        completed: true,
        client: view(client_mss),
        server: view(server_mss),
    }
}

/// An endpoint with the numbers `evaluate` reads: its SYN's MSS option (absent
/// when `None`), its handshake and effective send MSS.
fn endpoint(
    port: u16,
    syn_mss: Option<u16>,
    handshake: Option<u32>,
    effective: Option<u32>,
) -> EndpointReport {
    EndpointReport {
        addr: "10.81.1.1".parse().expect("an address"),
        port,
        syn_mss: syn_mss.map_or(MssSeen::Absent, MssSeen::Value),
        syn_options: None,
        ttl: None,
        handshake_send_mss: handshake,
        effective_send_mss: effective,
        effective_basis: Some(EffectiveBasis::Handshake),
        data_option_bytes: 0,
        max_segment: None,
        typical_segment: None,
        data_segments: 0,
        data_bytes: 0,
        retransmissions: 0,
    }
}

/// An endpoint's SYN MSS, handshake and effective send MSS.
type Numbers = (Option<u16>, Option<u32>, Option<u32>);

/// A connection record for `connection`, with both endpoints' numbers.
fn record(
    connection: &Connection,
    client: Numbers,
    server: Numbers,
    findings: Vec<FindingRecord>,
) -> ConnectionRecord {
    ConnectionRecord {
        record_type: RecordType::Connection,
        id: 1,
        ip_version: match connection.family {
            Family::Ipv4 => 4,
            Family::Ipv6 => 6,
        },
        client: endpoint(connection.client_port, client.0, client.1, client.2),
        server: endpoint(connection.server_port, server.0, server.1, server.2),
        roles: RoleEvidence::Syn,
        handshake: Handshake::Complete,
        ending: Ending::Closed,
        first_time: "2026-01-01T00:00:00.000000Z".into(),
        last_time: "2026-01-01T00:00:01.000000Z".into(),
        duration_s: 1.0,
        first_packet: 1,
        points: Vec::new(),
        tunnel: None,
        findings,
        segments: None,
    }
}

/// A record in which both sides agree with the kernel: SYN MSS 1460 each way,
/// handshake/effective equal to the sockets' values.
fn agreeing(connection: &Connection, findings: Vec<FindingRecord>) -> ConnectionRecord {
    let c = Some(connection.client.maxseg_end);
    let s = Some(connection.server.maxseg_end);
    record(connection, (Some(1460), c, c), (Some(1460), s, s), findings)
}

fn analysis(at: &str, records: Vec<ConnectionRecord>) -> Analysis {
    let at = if at == "all" {
        Place::All
    } else {
        Place::Point(at.into())
    };
    Analysis::new(at, records, None)
}

fn declared(outcomes: &[Outcome]) -> Vec<&Outcome> {
    outcomes.iter().filter(|o| o.declared).collect()
}

fn agreement(outcomes: &[Outcome]) -> Vec<&Outcome> {
    outcomes.iter().filter(|o| !o.declared).collect()
}

/// The one declared outcome.
#[track_caller]
fn only(outcomes: &[Outcome]) -> &Outcome {
    let d = declared(outcomes);
    assert_eq!(d.len(), 1, "{outcomes:#?}");
    d[0]
}

/// A finding with these fields (and placeholder words).
fn finding(fields: FindingFields) -> FindingRecord {
    FindingRecord {
        finding: fields,
        title: "...".into(),
        explanation: "...".into(),
        fix: None,
        source: "...".into(),
    }
}

fn mss_rewritten(endpoint: Role) -> FindingRecord {
    finding(FindingFields::MssRewritten {
        endpoint: Some(endpoint),
        from: 1460,
        to: 1360,
        between: [
            Some("client-eth0.pcap".into()),
            Some("server-eth0.pcap".into()),
        ],
        between_index: [0, 1],
    })
}

fn icmp_too_big(shrank: Option<bool>) -> FindingRecord {
    finding(FindingFields::IcmpTooBig {
        endpoint: Some(Role::Client),
        mtu: 1400,
        size: 1500,
        count: 1,
        shrank,
    })
}

// ---- syn_mss ----

#[test]
fn syn_mss_pass_and_fail() {
    let c = conn(Family::Ipv4, 40000, 1448, 1448);
    let analyses = [analysis("client-eth0", vec![agreeing(&c, vec![])])];
    let pass = scenario(
        "\n[[expect]]\nwhat = \"syn_mss\"\nof = \"client\"\nat = \"client-eth0\"\nvalue = 1460\n",
    );
    let out = evaluate(&pass, std::slice::from_ref(&c), &analyses);
    let o = only(&out);
    assert!(o.passed, "{o:?}");
    assert_eq!(o.seen, "1460");
    assert_eq!(o.check, "syn_mss of client at client-eth0 = 1460");

    let fail = scenario(
        "\n[[expect]]\nwhat = \"syn_mss\"\nof = \"server\"\nat = \"client-eth0\"\nvalue = 1360\n",
    );
    let out = evaluate(&fail, std::slice::from_ref(&c), &analyses);
    let o = only(&out);
    assert!(!o.passed);
    assert_eq!(o.seen, "port 40000: syn_mss 1460");
}

#[test]
fn syn_mss_absent_is_none() {
    let c = conn(Family::Ipv4, 40000, 1448, 1448);
    let r = record(
        &c,
        (None, Some(1448), Some(1448)),
        (Some(1460), Some(1448), Some(1448)),
        vec![],
    );
    let s = scenario(
        "\n[[expect]]\nwhat = \"syn_mss\"\nof = \"client\"\nat = \"client-eth0\"\nvalue = 1460\n",
    );
    let out = evaluate(&s, &[c], &[analysis("client-eth0", vec![r])]);
    let o = only(&out);
    assert!(!o.passed);
    assert_eq!(o.seen, "port 40000: syn_mss none");
}

// ---- effective_mss / handshake_mss ----

#[test]
fn effective_mss_pass() {
    let c = conn(Family::Ipv4, 40000, 1348, 1348);
    let s = scenario("\n[[expect]]\nwhat = \"effective_mss\"\nof = \"client\"\nvalue = 1348\n");
    let out = evaluate(
        &s,
        std::slice::from_ref(&c),
        &[analysis("all", vec![agreeing(&c, vec![])])],
    );
    let o = only(&out);
    assert!(o.passed, "{o:?}");
    assert_eq!(o.seen, "kernel 1348, analysis 1348");
    assert_eq!(o.check, "effective_mss of client = 1348");
    assert!(agreement(&out).iter().all(|o| o.passed));
}

#[test]
fn effective_mss_kernel_mismatch_fails() {
    // The analysis says 1348 as expected, but the kernel ended at 1448.
    let c = conn(Family::Ipv4, 40000, 1448, 1348);
    let r = record(
        &c,
        (Some(1460), Some(1348), Some(1348)),
        (Some(1360), Some(1348), Some(1348)),
        vec![],
    );
    let s = scenario("\n[[expect]]\nwhat = \"effective_mss\"\nof = \"client\"\nvalue = 1348\n");
    let out = evaluate(&s, &[c], &[analysis("all", vec![r])]);
    let o = only(&out);
    assert!(!o.passed);
    assert_eq!(o.seen, "port 40000: kernel TCP_MAXSEG 1448");
    // The agreement check catches the same disagreement for the client.
    let client_check = agreement(&out)
        .into_iter()
        .find(|o| o.check.contains(" client "))
        .expect("client agreement check");
    assert!(!client_check.passed);
    assert_eq!(client_check.seen, "analysis says 1348, kernel 1448");
}

#[test]
fn effective_mss_analysis_mismatch_fails() {
    let c = conn(Family::Ipv4, 40000, 1348, 1348);
    let r = record(
        &c,
        (Some(1460), Some(1448), Some(1448)),
        (Some(1460), Some(1348), Some(1348)),
        vec![],
    );
    let s = scenario("\n[[expect]]\nwhat = \"effective_mss\"\nof = \"client\"\nvalue = 1348\n");
    let out = evaluate(&s, &[c], &[analysis("all", vec![r])]);
    let o = only(&out);
    assert!(!o.passed);
    assert_eq!(o.seen, "port 40000: mss analyze effective_send_mss 1448");
}

#[test]
fn effective_mss_both_wrong_lists_both() {
    let c = conn(Family::Ipv4, 40000, 1448, 1448);
    let s = scenario("\n[[expect]]\nwhat = \"effective_mss\"\nof = \"server\"\nvalue = 1348\n");
    let out = evaluate(
        &s,
        std::slice::from_ref(&c),
        &[analysis("all", vec![agreeing(&c, vec![])])],
    );
    let o = only(&out);
    assert!(!o.passed);
    assert_eq!(
        o.seen,
        "port 40000: kernel TCP_MAXSEG 1448; port 40000: mss analyze effective_send_mss 1448"
    );
}

#[test]
fn effective_mss_null_analysis_fails_a_declared_check() {
    // A declared expectation needs the number: unknown is a failure there (while
    // the implicit agreement check lets it pass).
    let c = conn(Family::Ipv4, 40000, 1348, 1348);
    let r = record(
        &c,
        (Some(1460), Some(1348), None),
        (Some(1460), Some(1348), Some(1348)),
        vec![],
    );
    let s = scenario("\n[[expect]]\nwhat = \"effective_mss\"\nof = \"client\"\nvalue = 1348\n");
    let out = evaluate(&s, &[c], &[analysis("all", vec![r])]);
    let o = only(&out);
    assert!(!o.passed);
    assert_eq!(o.seen, "port 40000: mss analyze effective_send_mss none");
    assert!(agreement(&out).iter().all(|o| o.passed));
}

#[test]
fn handshake_mss_uses_the_start_values() {
    let mut c = conn(Family::Ipv4, 40000, 1348, 1448);
    c.client.maxseg_start = 1448;
    let r = record(
        &c,
        (Some(1460), Some(1448), Some(1348)),
        (Some(1460), Some(1448), Some(1448)),
        vec![],
    );
    let s = scenario(
        "\n[[expect]]\nwhat = \"handshake_mss\"\nof = \"client\"\nvalue = 1448\n\
         \n[[expect]]\nwhat = \"effective_mss\"\nof = \"client\"\nvalue = 1348\n\
         \n[[expect]]\nwhat = \"handshake_mss\"\nof = \"client\"\nvalue = 1348\n",
    );
    let out = evaluate(&s, &[c], &[analysis("all", vec![r])]);
    let d = declared(&out);
    assert_eq!(d.len(), 3);
    assert!(d[0].passed, "{:?}", d[0]);
    assert_eq!(d[0].seen, "kernel 1448, analysis 1448");
    assert!(d[1].passed, "{:?}", d[1]);
    assert!(!d[2].passed);
    assert_eq!(
        d[2].seen,
        "port 40000: kernel TCP_MAXSEG 1448; port 40000: mss analyze handshake_send_mss 1448"
    );
}

// ---- finding ----

fn rewritten_both(c: &Connection) -> Vec<Analysis> {
    vec![analysis(
        "all",
        vec![agreeing(
            c,
            vec![mss_rewritten(Role::Client), mss_rewritten(Role::Server)],
        )],
    )]
}

#[test]
fn finding_present_with_fields() {
    let c = conn(Family::Ipv4, 40000, 1348, 1348);
    let s = scenario(
        "\n[[expect]]\nwhat = \"finding\"\nkind = \"mss_rewritten\"\nof = \"client\"\n\
         fields = { from = 1460, to = 1360 }\n",
    );
    let out = evaluate(&s, std::slice::from_ref(&c), &rewritten_both(&c));
    let o = only(&out);
    assert!(o.passed, "{o:?}");
    assert_eq!(
        o.check,
        "finding mss_rewritten of client with from=1460, to=1360"
    );
    // Arrays compare element by element.
    let s = scenario(
        "\n[[expect]]\nwhat = \"finding\"\nkind = \"mss_rewritten\"\n\
         fields = { between_index = [0, 1], fix = false }\n",
    );
    let out = evaluate(&s, std::slice::from_ref(&c), &rewritten_both(&c));
    // `fix` is null in the record, not false.
    assert!(!only(&out).passed);
    let s = scenario(
        "\n[[expect]]\nwhat = \"finding\"\nkind = \"mss_rewritten\"\n\
         fields = { between_index = [0, 1], between = [\"client-eth0.pcap\", \"server-eth0.pcap\"] }\n",
    );
    let out = evaluate(&s, std::slice::from_ref(&c), &rewritten_both(&c));
    assert!(only(&out).passed);
}

#[test]
fn finding_with_wrong_fields_fails_and_shows_the_finding() {
    let c = conn(Family::Ipv4, 40000, 1348, 1348);
    let s = scenario(
        "\n[[expect]]\nwhat = \"finding\"\nkind = \"mss_rewritten\"\nof = \"client\"\n\
         fields = { from = 1460, to = 1300 }\n",
    );
    let out = evaluate(&s, std::slice::from_ref(&c), &rewritten_both(&c));
    let o = only(&out);
    assert!(!o.passed);
    assert!(
        o.seen
            .starts_with("port 40000: findings [mss_rewritten:client, mss_rewritten:server] ("),
        "{}",
        o.seen
    );
    assert!(o.seen.contains("\"to\":1360"), "{}", o.seen);
}

#[test]
fn finding_of_an_endpoint() {
    let c = conn(Family::Ipv4, 40000, 1448, 1348);
    let analyses = vec![analysis(
        "all",
        vec![agreeing(&c, vec![mss_rewritten(Role::Client)])],
    )];
    let s = scenario(
        "\n[[expect]]\nwhat = \"finding\"\nkind = \"mss_rewritten\"\nof = \"server\"\n\
         \n[[expect]]\nwhat = \"finding\"\nkind = \"mss_rewritten\"\nof = \"server\"\npresent = false\n\
         \n[[expect]]\nwhat = \"finding\"\nkind = \"mss_rewritten\"\n",
    );
    let out = evaluate(&s, &[c], &analyses);
    let d = declared(&out);
    assert!(!d[0].passed);
    assert_eq!(d[0].seen, "port 40000: findings [mss_rewritten:client]");
    assert!(d[1].passed, "{:?}", d[1]);
    assert_eq!(d[1].check, "finding mss_rewritten of server is absent");
    // Without `of`, any endpoint.
    assert!(d[2].passed, "{:?}", d[2]);
}

#[test]
fn finding_absent() {
    let c = conn(Family::Ipv4, 40000, 1448, 1448);
    let s = scenario(
        "\n[[expect]]\nwhat = \"finding\"\nkind = \"icmp_too_big\"\npresent = false\n\
         \n[[expect]]\nwhat = \"finding\"\nkind = \"icmp_too_big\"\n",
    );
    let out = evaluate(
        &s,
        std::slice::from_ref(&c),
        &[analysis("all", vec![agreeing(&c, vec![])])],
    );
    let d = declared(&out);
    assert!(d[0].passed);
    assert!(!d[1].passed);
    assert_eq!(d[1].seen, "port 40000: findings []");
    // present = false fails when it is there.
    let r = agreeing(&c, vec![icmp_too_big(Some(true))]);
    let s = scenario(
        "\n[[expect]]\nwhat = \"finding\"\nkind = \"icmp_too_big\"\npresent = false\n\
         \n[[expect]]\nwhat = \"finding\"\nkind = \"icmp_too_big\"\nof = \"client\"\n\
         fields = { mtu = 1400, shrank = true }\n",
    );
    let out = evaluate(&s, &[c], &[analysis("all", vec![r])]);
    let d = declared(&out);
    assert!(!d[0].passed);
    assert_eq!(d[0].seen, "port 40000: findings [icmp_too_big:client]");
    assert!(d[1].passed, "{:?}", d[1]);
}

#[test]
fn finding_field_types_must_match() {
    let c = conn(Family::Ipv4, 40000, 1448, 1448);
    let r = agreeing(&c, vec![icmp_too_big(None)]);
    for (fields, passes) in [
        ("{ mtu = 1400 }", true),
        ("{ mtu = \"1400\" }", false),
        ("{ mtu = 1400.0 }", true),
        ("{ shrank = false }", false),
        ("{ missing = 1 }", false),
    ] {
        let s = scenario(&format!(
            "\n[[expect]]\nwhat = \"finding\"\nkind = \"icmp_too_big\"\nfields = {fields}\n"
        ));
        let out = evaluate(
            &s,
            std::slice::from_ref(&c),
            &[analysis("all", vec![r.clone()])],
        );
        assert_eq!(only(&out).passed, passes, "fields = {fields}");
    }
}

// ---- findings (exact list) ----

#[test]
fn findings_exact_list() {
    let c = conn(Family::Ipv4, 40000, 1348, 1348);
    let analyses = rewritten_both(&c);
    let cases: &[(&str, bool)] = &[
        ("[\"mss_rewritten:client\", \"mss_rewritten:server\"]", true),
        // Order does not matter.
        ("[\"mss_rewritten:server\", \"mss_rewritten:client\"]", true),
        ("[\"mss_rewritten:client\"]", false),
        (
            "[\"mss_rewritten:client\", \"mss_rewritten:server\", \"asymmetric_mss\"]",
            false,
        ),
        ("[\"mss_rewritten\", \"mss_rewritten\"]", false),
        ("[]", false),
    ];
    for (kinds, passes) in cases {
        let s = scenario(&format!(
            "\n[[expect]]\nwhat = \"findings\"\nkinds = {kinds}\n"
        ));
        let out = evaluate(&s, std::slice::from_ref(&c), &analyses);
        let o = only(&out);
        assert_eq!(o.passed, *passes, "kinds = {kinds}: {o:?}");
        if !passes {
            assert_eq!(
                o.seen,
                "port 40000: findings [mss_rewritten:client, mss_rewritten:server]"
            );
        }
    }
    // A finding about the connection (endpoint null) is named by kind alone.
    let r = agreeing(
        &c,
        vec![finding(FindingFields::AsymmetricMss {
            endpoint: None,
            client: 1448,
            server: 1348,
        })],
    );
    let s = scenario("\n[[expect]]\nwhat = \"findings\"\nkinds = [\"asymmetric_mss\"]\n");
    let out = evaluate(
        &s,
        std::slice::from_ref(&c),
        &[analysis("all", vec![r.clone()])],
    );
    assert!(only(&out).passed);
    assert_eq!(finding_names(&r), ["asymmetric_mss"]);
    // An empty list when there are none.
    let s = scenario("\n[[expect]]\nwhat = \"findings\"\nkinds = []\n");
    let out = evaluate(
        &s,
        std::slice::from_ref(&c),
        &[analysis("all", vec![agreeing(&c, vec![])])],
    );
    let o = only(&out);
    assert!(o.passed);
    assert_eq!(o.check, "findings = []");
}

#[test]
fn finding_names_of_records() {
    let c = conn(Family::Ipv4, 40000, 1348, 1348);
    assert_eq!(
        finding_names(&agreeing(
            &c,
            vec![mss_rewritten(Role::Server), mss_rewritten(Role::Client)]
        )),
        ["mss_rewritten:server", "mss_rewritten:client"]
    );
    assert!(finding_names(&agreeing(&c, vec![])).is_empty());
}

// ---- completed ----

#[test]
fn completed_true_and_false() {
    let mut stalled = conn(Family::Ipv4, 40000, 1448, 1448);
    stalled.completed = false;
    let ok = conn(Family::Ipv6, 40001, 1428, 1428);
    let s = scenario(
        "\n[[expect]]\nwhat = \"completed\"\ncompleted = true\n\
         \n[[expect]]\nwhat = \"completed\"\ncompleted = false\n\
         \n[[expect]]\nwhat = \"completed\"\nfamily = \"ipv6\"\ncompleted = true\n",
    );
    // No analysis is needed for `completed`.
    let out = evaluate(&s, &[stalled, ok], &[]);
    assert!(agreement(&out).is_empty());
    let d = declared(&out);
    assert!(!d[0].passed);
    assert_eq!(d[0].seen, "port 40000: stalled");
    assert!(!d[1].passed);
    assert_eq!(d[1].seen, "port 40001: completed");
    assert!(d[2].passed, "{:?}", d[2]);
    assert_eq!(d[2].check, "completed (ipv6) = true");
}

// ---- family filter and missing connections ----

#[test]
fn family_filter() {
    let v4 = conn(Family::Ipv4, 40000, 1348, 1348);
    let v6 = conn(Family::Ipv6, 40000, 1328, 1328);
    let analyses = [analysis(
        "all",
        vec![agreeing(&v4, vec![]), agreeing(&v6, vec![])],
    )];
    let s = scenario(
        "\n[[expect]]\nwhat = \"effective_mss\"\nof = \"client\"\nfamily = \"ipv4\"\nvalue = 1348\n\
         \n[[expect]]\nwhat = \"effective_mss\"\nof = \"client\"\nfamily = \"ipv6\"\nvalue = 1328\n\
         \n[[expect]]\nwhat = \"effective_mss\"\nof = \"client\"\nvalue = 1348\n",
    );
    let out = evaluate(&s, &[v4.clone(), v6], &analyses);
    let d = declared(&out);
    assert!(d[0].passed, "{:?}", d[0]);
    assert!(d[1].passed, "{:?}", d[1]);
    // No family: every connection must match, and the IPv6 one does not.
    assert!(!d[2].passed);
    assert_eq!(
        d[2].seen,
        "port 40000: kernel TCP_MAXSEG 1328; port 40000: mss analyze effective_send_mss 1328"
    );
    // Same ports, both families: each record is matched by its IP version.
    assert_eq!(agreement(&out).len(), 4);
    assert!(agreement(&out).iter().all(|o| o.passed));
    // Only IPv4 ran: an IPv6 expectation fails.
    let s = scenario("\n[[expect]]\nwhat = \"completed\"\nfamily = \"ipv6\"\ncompleted = true\n");
    let out = evaluate(&s, &[v4], &analyses);
    let o = only(&out);
    assert!(!o.passed);
    assert_eq!(o.seen, "no connection of that family ran");
}

#[test]
fn connection_missing_at_a_point() {
    let c = conn(Family::Ipv4, 40000, 1448, 1448);
    let other = conn(Family::Ipv4, 40001, 1448, 1448);
    let analyses = [
        analysis("client-eth0", vec![agreeing(&other, vec![])]),
        analysis("all", vec![agreeing(&c, vec![])]),
    ];
    let s = scenario(
        "\n[[expect]]\nwhat = \"syn_mss\"\nof = \"client\"\nat = \"client-eth0\"\nvalue = 1460\n\
         \n[[expect]]\nwhat = \"findings\"\nat = \"server-eth0\"\nkinds = []\n\
         \n[[expect]]\nwhat = \"findings\"\nkinds = []\n",
    );
    let out = evaluate(&s, &[c], &analyses);
    let d = declared(&out);
    assert!(!d[0].passed);
    assert_eq!(
        d[0].seen,
        "connection from port 40000 not seen at client-eth0"
    );
    // No analysis at all for that point.
    assert!(!d[1].passed);
    assert_eq!(
        d[1].seen,
        "connection from port 40000 not seen at server-eth0"
    );
    assert!(d[2].passed, "{:?}", d[2]);
}

#[test]
fn records_match_by_version_and_ports() {
    let c = conn(Family::Ipv4, 40000, 1448, 1448);
    let good = agreeing(&c, vec![]);
    let mut v6 = good.clone();
    v6.ip_version = 6;
    let mut other_server = good.clone();
    other_server.server.port = 5202;
    let mut other_client = good.clone();
    other_client.client.port = 40001;
    let a = analysis("all", vec![v6, other_server, other_client]);
    assert_eq!(a.record(&c), None);
    let a = analysis("all", vec![good.clone()]);
    assert_eq!(a.record(&c), Some(&good));
}

// ---- The implicit kernel/analysis agreement ----

#[test]
fn agreement_checks_every_point_and_both_endpoints() {
    let c = conn(Family::Ipv4, 40000, 1448, 1348);
    let analyses = [
        analysis("client-eth0", vec![agreeing(&c, vec![])]),
        analysis("server-eth0", vec![agreeing(&c, vec![])]),
        analysis("all", vec![agreeing(&c, vec![])]),
        // A point that did not see the connection adds nothing.
        analysis("router-eth0", vec![]),
    ];
    let s = scenario("");
    let out = evaluate(&s, std::slice::from_ref(&c), &analyses);
    assert!(declared(&out).is_empty());
    let checks: Vec<&str> = out.iter().map(|o| o.check.as_str()).collect();
    assert_eq!(
        checks,
        [
            "ipv4 client effective MSS: kernel 1448, mss analyze at client-eth0 1448",
            "ipv4 server effective MSS: kernel 1348, mss analyze at client-eth0 1348",
            "ipv4 client effective MSS: kernel 1448, mss analyze at server-eth0 1448",
            "ipv4 server effective MSS: kernel 1348, mss analyze at server-eth0 1348",
            "ipv4 client effective MSS: kernel 1448, mss analyze at all 1448",
            "ipv4 server effective MSS: kernel 1348, mss analyze at all 1348",
        ]
    );
    assert!(
        out.iter()
            .all(|o| o.passed && o.seen.is_empty() && !o.declared)
    );
}

#[test]
fn agreement_null_is_unknown_not_a_failure() {
    let c = conn(Family::Ipv6, 40000, 1428, 1428);
    let r = record(
        &c,
        (Some(1440), Some(1428), None),
        (Some(1440), Some(1428), None),
        vec![],
    );
    let out = evaluate(&scenario(""), &[c], &[analysis("client-eth0", vec![r])]);
    assert_eq!(out.len(), 2);
    for o in &out {
        assert!(o.passed, "{o:?}");
        assert_eq!(o.seen, UNKNOWN);
        assert!(
            o.check.ends_with("mss analyze at client-eth0 none"),
            "{}",
            o.check
        );
        assert!(o.check.starts_with("ipv6 "), "{}", o.check);
    }
}

#[test]
fn agreement_different_number_is_a_failure() {
    let c = conn(Family::Ipv4, 40000, 1348, 1448);
    let r = record(
        &c,
        (Some(1460), Some(1448), Some(1448)),
        (Some(1460), Some(1448), Some(1448)),
        vec![],
    );
    let out = evaluate(&scenario(""), &[c], &[analysis("all", vec![r])]);
    let client = &out[0];
    assert!(!client.passed);
    assert_eq!(client.seen, "analysis says 1448, kernel 1348");
    assert_eq!(
        client.check,
        "ipv4 client effective MSS: kernel 1348, mss analyze at all 1448"
    );
    assert!(out[1].passed, "{:?}", out[1]);
}

// ---- describe ----

#[test]
fn descriptions() {
    let s = scenario(
        "\n[[expect]]\nwhat = \"syn_mss\"\nof = \"client\"\nat = \"client-eth0\"\nfamily = \"ipv6\"\nvalue = 1440\n\
         \n[[expect]]\nwhat = \"findings\"\nat = \"server-eth0\"\nkinds = [\"icmp_too_big:client\", \"asymmetric_mss\"]\n\
         \n[[expect]]\nwhat = \"finding\"\nkind = \"icmp_too_big\"\nof = \"client\"\nfields = { mtu = 1400, shrank = true, between = [\"a\", \"b\"] }\n\
         \n[[expect]]\nwhat = \"completed\"\ncompleted = false\n",
    );
    let texts: Vec<String> = s.expects.iter().map(describe).collect();
    assert_eq!(
        texts,
        [
            "syn_mss of client at client-eth0 (ipv6) = 1440",
            "findings at server-eth0 = [icmp_too_big:client, asymmetric_mss]",
            "finding icmp_too_big of client with between=[\"a\", \"b\"], mtu=1400, shrank=true",
            "completed = false",
        ]
    );
}

// ---- TCP_INFO as the lab reports it ----

#[test]
fn tcp_info_keeps_what_the_kernel_gives() {
    let kernel = mss_net::TcpInfo {
        state: 1,
        snd_mss: 1348,
        rcv_mss: 1348,
        advmss: 1448,
        pmtu: 1500,
        rtt_us: 191,
        rttvar_us: 95,
        ..mss_net::TcpInfo::default()
    };
    assert_eq!(
        TcpInfo::from(kernel),
        TcpInfo {
            snd_mss: Some(1348),
            rcv_mss: Some(1348),
            advmss: Some(1448),
            pmtu: Some(1500),
            rtt_ms: Some(0.191),
        }
    );
}

#[test]
fn tcp_info_zero_is_not_known() {
    // As `ss -ti` leaves out a field the kernel reports as 0 (a socket that never
    // measured an RTT, say).
    assert_eq!(
        TcpInfo::from(mss_net::TcpInfo::default()),
        TcpInfo::default()
    );
    let info = TcpInfo::from(mss_net::TcpInfo {
        snd_mss: 524,
        rcv_mss: 88,
        advmss: 1448,
        ..mss_net::TcpInfo::default()
    });
    assert_eq!(info.snd_mss, Some(524));
    assert_eq!(info.rcv_mss, Some(88));
    assert_eq!(info.pmtu, None);
    assert_eq!(info.rtt_ms, None);
}
