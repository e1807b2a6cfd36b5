use super::*;

fn link(index: u32, name: &str, mtu: u32, kind: Option<&str>) -> Interface {
    Interface {
        index,
        name: name.into(),
        mtu,
        up: true,
        oper_state: "UP".into(),
        kind: kind.map(str::to_string),
        parent: None,
        offloads: None,
    }
}

fn item<'a>(items: &'a [Item], area: &str, subject: &str) -> &'a Item {
    items
        .iter()
        .find(|i| i.area == area && i.subject.starts_with(subject))
        .unwrap_or_else(|| panic!("no {area} item for {subject} in {items:#?}"))
}

#[test]
fn loopback_offloads_explain_the_64k_segments() {
    let mut lo = link(1, "lo", 65536, None);
    lo.offloads = Some(Offloads {
        tso: true,
        gso: true,
        gro: true,
        lro: false,
        tx_checksum: true,
    });
    let items = report(&Facts {
        interfaces: vec![lo],
        ..Facts::default()
    });
    let mtu = item(&items, "interface", "lo");
    assert!(
        mtu.meaning.contains("65495 (IPv4) and 65476 (IPv6)"),
        "{}",
        mtu.meaning
    );
    let offloads = item(&items, "offloads", "lo");
    assert_eq!(offloads.value, "tso, gso, gro, tx-checksum on");
    assert!(offloads.meaning.contains("segments up to 64 KB"));
    assert_eq!(
        offloads.fix.as_deref(),
        Some("to see what the wire carries: ethtool -K lo tso off gso off gro off tx off")
    );
}

#[test]
fn a_locked_route_mtu_and_a_learned_pmtu_give_their_mss() {
    let items = report(&Facts {
        routes: vec![Route {
            family: 4,
            destination: "10.9.0.0/16".into(),
            gateway: Some([10, 0, 0, 1].into()),
            device: Some("eth0".into()),
            table: 254,
            mtu: Some(1400),
            mtu_locked: true,
            advmss: Some(1300),
        }],
        learned: vec![LearnedPmtu {
            family: 4,
            destination: [10, 2, 2, 2].into(),
            gateway: None,
            device: Some("eth0".into()),
            mtu: 1400,
            expires_s: Some(598),
            mtu_locked: false,
        }],
        ..Facts::default()
    });
    let route = item(&items, "route", "10.9.0.0/16 via 10.0.0.1 dev eth0");
    assert_eq!(route.value, "mtu lock 1400 advmss 1300");
    assert!(route.meaning.contains("advertises 1360") && route.meaning.contains("locked"));
    assert!(route.meaning.contains("announce MSS 1300"));
    let learned = item(&items, "learned_pmtu", "10.2.2.2 dev eth0");
    assert_eq!(learned.value, "mtu 1400, expires in 598 s");
    assert!(
        learned
            .meaning
            .contains("sends at most 1360 (1348 with timestamps)")
    );
}

#[test]
fn a_one_way_clamp_and_an_orphaned_queue_are_warnings() {
    let ruleset = r#"{"nftables": [
      {"chain": {"family": "inet", "table": "c", "name": "f", "hook": "forward"}},
      {"rule": {"family": "inet", "table": "c", "chain": "f", "expr": [
        {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wg0"}},
        {"mangle": {"key": {"tcp option": {"name": "maxseg", "field": "size"}}, "value": 1380}}]}}]}"#;
    let saved = crate::iptables::parse_save(
        "iptables",
        "*mangle\n-A FORWARD -p tcp -j NFQUEUE --queue-num 7\nCOMMIT\n",
    );
    let (_, queue_rules) = clamps::iptables_clamps(&saved);
    let items = report(&Facts {
        interfaces: vec![
            link(1, "eth0", 1500, None),
            link(5, "wg0", 1420, Some("wireguard")),
        ],
        clamps: clamps::nft_clamps(ruleset).expect("parsed"),
        queue_rules,
        bound_queues: vec![3],
        ..Facts::default()
    });
    let clamp = item(&items, "clamp", "nft inet c f");
    assert_eq!(clamp.level, Level::Warning);
    assert!(
        clamp.meaning.contains("only SYNs leaving through wg0"),
        "{}",
        clamp.meaning
    );
    assert!(clamp.fix.as_deref().unwrap_or("").contains("iifname wg0"));
    assert!(!clamp.meaning.contains("more than these carry"));
    assert!(
        clamp
            .meaning
            .contains("SYNs leaving through wg0 (MTU 1420): 1380 / 1380 at most"),
        "{}",
        clamp.meaning
    );
    let queue = item(&items, "queue", "iptables -t mangle -A FORWARD");
    assert_eq!(queue.level, Level::Warning);
    assert!(
        queue.meaning.contains("no process reads queue 7"),
        "{}",
        queue.meaning
    );
    assert!(queue.meaning.contains("dropped"));
    // WireGuard over Ethernet: 1420 fits (1440 over IPv4).
    let tunnel = item(&items, "tunnel", "wg0");
    assert_eq!(tunnel.level, Level::Info, "{tunnel:?}");
}

#[test]
fn a_tunnel_mtu_above_what_its_encapsulation_leaves_is_a_warning() {
    let mut wg = link(5, "wg0", 1500, Some("wireguard"));
    wg.parent = Some(1);
    let items = report(&Facts {
        interfaces: vec![link(1, "eth0", 1500, None), wg],
        ..Facts::default()
    });
    let tunnel = item(&items, "tunnel", "wg0");
    assert_eq!(tunnel.level, Level::Warning);
    assert_eq!(tunnel.fix.as_deref(), Some("ip link set wg0 mtu 1440"));
}

#[test]
fn changed_sysctls_say_what_they_do() {
    let items = sysctl::items(&[
        ("net.ipv4.tcp_mtu_probing".into(), "1".into()),
        ("net.ipv4.tcp_min_snd_mss".into(), "48".into()),
        ("net.ipv4.tcp_timestamps".into(), "0".into()),
    ]);
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].value, "1 (default 0)");
    assert_eq!(items[0].level, Level::Note);
    assert!(items[0].meaning.contains("black hole"));
    assert_eq!(items[1].value, "48 (default)");
    assert_eq!(items[1].level, Level::Info);
    assert!(items[2].meaning.contains("1460 on Ethernet, not 1448"));
}
