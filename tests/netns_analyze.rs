//! `mss analyze` against the real kernel: connections across a client — router —
//! server topology in network namespaces, captured at both ends. For every scenario
//! the effective send MSS mss infers from the captures must equal what each sending
//! socket reports (getsockopt(TCP_MAXSEG)), and the findings must be exactly the
//! expected ones.

mod support;

use std::time::Duration;

use support::lab::{Lab, Spec, analyze, finding_kinds, transfer};
use support::netns_available;

const MB: usize = 1 << 20;

/// Builds the lab, transfers, captures at both ends; returns the transfer and the
/// analysis of the client's capture, the server's capture, and both together.
fn scenario(tag: &str, spec: &Spec, v6: bool, maxseg: Option<u32>, timeout: Duration) -> Run {
    scenario_sized(tag, spec, v6, maxseg, timeout, MB)
}

fn scenario_sized(
    tag: &str,
    spec: &Spec,
    v6: bool,
    maxseg: Option<u32>,
    timeout: Duration,
    up: usize,
) -> Run {
    let lab = Lab::build(tag, spec);
    let (client_cap, server_cap) = lab.capture();
    let transfer = transfer(&lab, v6, up, 256 * 1024, maxseg, timeout);
    let client_file = client_cap.stop();
    let server_file = server_cap.stop();
    let at_client = analyze(std::slice::from_ref(&client_file), transfer.client_port).0;
    let at_server = analyze(std::slice::from_ref(&server_file), transfer.client_port).0;
    let both = analyze(&[client_file, server_file], transfer.client_port).0;
    Run {
        lab,
        transfer,
        at_client,
        at_server,
        both,
    }
}

struct Run {
    #[allow(dead_code)]
    lab: Lab,
    transfer: support::lab::Transfer,
    at_client: serde_json::Value,
    at_server: serde_json::Value,
    both: serde_json::Value,
}

impl Run {
    /// effective_send_mss of both endpoints in every analysis equals the sockets'
    /// TCP_MAXSEG at the end.
    fn assert_effective_matches_kernel(&self, what: &str) {
        for (name, record) in [
            ("client capture", &self.at_client),
            ("server capture", &self.at_server),
            ("both captures", &self.both),
        ] {
            let client = record["client"]["effective_send_mss"].as_u64();
            let server = record["server"]["effective_send_mss"].as_u64();
            assert_eq!(
                (client, server),
                (
                    Some(u64::from(self.transfer.client_mss_end)),
                    Some(u64::from(self.transfer.server_mss_end))
                ),
                "{what}, {name}: effective_send_mss (client, server) vs TCP_MAXSEG; transfer {:?}\n{record:#}",
                self.transfer
            );
        }
    }

    fn assert_findings(&self, client_capture: &[&str], server_capture: &[&str], both: &[&str]) {
        for (name, record, expected) in [
            ("client capture", &self.at_client, client_capture),
            ("server capture", &self.at_server, server_capture),
            ("both captures", &self.both, both),
        ] {
            let mut got = finding_kinds(record);
            got.sort();
            let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
            want.sort();
            assert_eq!(got, want, "{name}: findings\n{record:#}");
        }
    }
}

const T: Duration = Duration::from_secs(10);

#[test]
fn baseline_ipv4_and_ipv6() {
    if !netns_available("baseline_ipv4_and_ipv6") {
        return;
    }
    for (v6, mss) in [(false, 1448), (true, 1428)] {
        let run = scenario("an-base", &Spec::default(), v6, None, T);
        assert_eq!(run.transfer.client_mss_end, mss, "kernel, v6={v6}");
        run.assert_effective_matches_kernel(&format!("baseline v6={v6}"));
        run.assert_findings(&[], &[], &[]);
        assert_eq!(
            run.at_client["client"]["syn_mss"],
            if v6 { 1440 } else { 1460 }
        );
        assert_eq!(run.at_client["client"]["max_segment"], mss);
    }
}

#[test]
fn smaller_host_mtu_wins_both_ways() {
    if !netns_available("smaller_host_mtu_wins_both_ways") {
        return;
    }
    let spec = Spec {
        client_mtu: 1400,
        ..Spec::default()
    };
    let run = scenario("an-hmtu", &spec, false, None, T);
    assert_eq!(
        (run.transfer.client_mss_end, run.transfer.server_mss_end),
        (1348, 1348)
    );
    run.assert_effective_matches_kernel("host MTU 1400");
    run.assert_findings(&[], &[], &[]);
    assert_eq!(
        (
            run.both["client"]["syn_mss"].as_u64(),
            run.both["server"]["syn_mss"].as_u64()
        ),
        (Some(1360), Some(1460))
    );
}

#[test]
fn clamp_is_seen_between_the_captures() {
    if !netns_available("clamp_is_seen_between_the_captures") {
        return;
    }
    for (v6, target, mss) in [(false, 1360u64, 1348), (true, 1340, 1328)] {
        let spec = Spec {
            clamp: Some((1360, 1340)),
            ..Spec::default()
        };
        let run = scenario("an-clamp", &spec, v6, None, T);
        assert_eq!(run.transfer.client_mss_end, mss, "kernel v6={v6}");
        run.assert_effective_matches_kernel(&format!("clamp v6={v6}"));
        // One capture cannot see a rewrite; both together show it in both
        // directions.
        run.assert_findings(&[], &[], &["mss_rewritten:client", "mss_rewritten:server"]);
        let rewrites: Vec<(u64, u64, String)> = run.both["findings"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|f| {
                        (
                            f["from"].as_u64().unwrap_or(0),
                            f["to"].as_u64().unwrap_or(0),
                            f["between"][0]
                                .as_str()
                                .unwrap_or("")
                                .rsplit('/')
                                .next()
                                .unwrap_or("")
                                .to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let original = if v6 { 1440 } else { 1460 };
        assert!(
            rewrites.contains(&(original, target, "client.pcap".to_string())),
            "{rewrites:?}"
        );
        assert!(
            rewrites.contains(&(original, target, "server.pcap".to_string())),
            "{rewrites:?}"
        );
        // syn_mss is as seen nearest each endpoint: the unclamped value.
        assert_eq!(run.both["client"]["syn_mss"], original);
        assert_eq!(run.both["server"]["syn_mss"], original);
    }
}

#[test]
fn timestamps_off_gives_the_full_1460() {
    if !netns_available("timestamps_off_gives_the_full_1460") {
        return;
    }
    let spec = Spec {
        client_sysctls: vec!["net.ipv4.tcp_timestamps=0"],
        ..Spec::default()
    };
    let run = scenario("an-nots", &spec, false, None, T);
    assert_eq!(run.transfer.client_mss_end, 1460);
    run.assert_effective_matches_kernel("no timestamps");
    run.assert_findings(&[], &[], &[]);
}

#[test]
fn tcp_maxseg_88() {
    if !netns_available("tcp_maxseg_88") {
        return;
    }
    let run = scenario("an-min", &Spec::default(), false, Some(88), T);
    assert_eq!(
        (run.transfer.client_mss_end, run.transfer.server_mss_end),
        (76, 76)
    );
    run.assert_effective_matches_kernel("TCP_MAXSEG 88");
    run.assert_findings(&[], &[], &[]);
    assert_eq!(run.at_client["client"]["syn_mss"], 88);
}

#[test]
fn icmp_too_big_lowers_the_client() {
    if !netns_available("icmp_too_big_lowers_the_client") {
        return;
    }
    // IPv4 "fragmentation needed" and IPv6 "packet too big", next-hop MTU 1400.
    for (v6, before, after, size) in [(false, 1448, 1348, 1500), (true, 1428, 1328, 1500)] {
        let spec = Spec {
            router_mtu_to_server: Some(1400),
            ..Spec::default()
        };
        let run = scenario("an-pmtud", &spec, v6, None, T);
        assert!(run.transfer.completed);
        assert_eq!(
            (run.transfer.client_mss_start, run.transfer.client_mss_end),
            (before, after),
            "kernel v6={v6}"
        );
        run.assert_effective_matches_kernel(&format!("PMTUD v6={v6}"));
        // The ICMP message is captured at the client only; at the server, the
        // client's smaller segments are the only evidence, and the directions differ.
        run.assert_findings(
            &["icmp_too_big:client"],
            &["asymmetric_mss"],
            &["icmp_too_big:client"],
        );
        assert_eq!(run.at_server["client"]["effective_basis"], "segments");
        assert_eq!(run.at_client["client"]["effective_basis"], "icmp_too_big");
        let finding = &run.at_client["findings"][0];
        assert_eq!(
            (
                finding["mtu"].as_u64(),
                finding["size"].as_u64(),
                finding["shrank"].as_bool()
            ),
            (Some(1400), Some(size), Some(true)),
            "v6={v6}"
        );
    }
}

#[test]
fn black_hole_stalls_without_probing() {
    if !netns_available("black_hole_stalls_without_probing") {
        return;
    }
    let spec = Spec {
        router_mtu_to_server: Some(1400),
        drop_icmp: true,
        ..Spec::default()
    };
    let run = scenario("an-bh", &spec, false, None, Duration::from_secs(4));
    assert!(
        !run.transfer.completed,
        "the transfer should stall in a black hole"
    );
    assert_eq!(run.transfer.client_mss_end, 1448);
    assert_eq!(run.at_client["client"]["effective_send_mss"], 1448);
    let blackhole: Vec<&serde_json::Value> = run.at_client["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter(|f| f["kind"] == "pmtud_blackhole_suspected")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(blackhole.len(), 1, "{:#}", run.at_client);
    assert_eq!(
        (
            blackhole[0]["size"].as_u64(),
            blackhole[0]["recovered_with"].as_u64()
        ),
        (Some(1500), None)
    );
    assert_eq!(
        finding_kinds(&run.at_client),
        ["pmtud_blackhole_suspected:client"]
    );
}

#[test]
fn black_hole_recovers_with_mtu_probing() {
    if !netns_available("black_hole_recovers_with_mtu_probing") {
        return;
    }
    let spec = Spec {
        router_mtu_to_server: Some(1400),
        drop_icmp: true,
        client_sysctls: vec!["net.ipv4.tcp_mtu_probing=1"],
        ..Spec::default()
    };
    // Enough data for the probing search to settle well before the end: the last
    // long run of segments shows the MSS it settled on.
    let run = scenario_sized(
        "an-bhp",
        &spec,
        false,
        None,
        Duration::from_secs(30),
        8 * MB,
    );
    assert!(
        run.transfer.completed,
        "tcp_mtu_probing should get the data through: {:?}",
        run.transfer
    );
    let kinds = finding_kinds(&run.at_client);
    assert_eq!(
        kinds,
        ["pmtud_blackhole_suspected:client"],
        "{:#}",
        run.at_client
    );
    let finding = &run.at_client["findings"][0];
    assert!(
        finding["recovered_with"].as_u64().is_some_and(|s| s < 1348),
        "{finding:#}"
    );
    // The kernel's MSS after probing is what mss infers from the recovery.
    assert_eq!(
        run.at_client["client"]["effective_send_mss"].as_u64(),
        Some(u64::from(run.transfer.client_mss_end))
    );
}

#[test]
fn offloads_on_show_super_segments_at_both_ends() {
    if !netns_available("offloads_on_show_super_segments_at_both_ends") {
        return;
    }
    let spec = Spec {
        offloads: true,
        ..Spec::default()
    };
    let run = scenario("an-gso", &spec, false, None, T);
    run.assert_effective_matches_kernel("offloads on");
    let causes = |record: &serde_json::Value| -> Vec<String> {
        record["findings"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|f| {
                        format!(
                            "{}:{}",
                            f["endpoint"].as_str().unwrap_or("?"),
                            f["cause"].as_str().unwrap_or("?")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Each sender's super-segments: TSO/GSO where it sends, GRO/LRO (or veth
    // passing them whole) where the other end receives.
    assert_eq!(
        causes(&run.at_client),
        ["client:tso_gso", "server:gro_lro"],
        "{:#}",
        run.at_client
    );
    assert_eq!(
        causes(&run.at_server),
        ["client:gro_lro", "server:tso_gso"],
        "{:#}",
        run.at_server
    );
}
