use super::*;
use proptest::prelude::*;

fn stack(s: &str) -> EncapStack {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn inner(s: &str, mtu: u32, v: IpVersion) -> u32 {
    stack(s)
        .inner_mtu(mtu, v)
        .unwrap_or_else(|e| panic!("{s:?} at {mtu}: {e}"))
}

const V4: IpVersion = IpVersion::V4;
const V6: IpVersion = IpVersion::V6;

#[test]
fn fixed_overheads_at_1500() {
    // DOMAIN.md section 7 and the sources cited in the catalogue.
    let cases = [
        ("pppoe", 1492),
        ("mpls", 1496),
        ("mpls:2", 1492),
        ("gre", 1476),
        ("gre:key", 1472),
        ("gre:key:seq", 1468),
        ("gre:v6", 1456),
        ("gretap", 1462),
        ("ipip", 1480),
        ("4in6", 1452),
        ("4in6:noencaplimit", 1460),
        ("vxlan", 1450),
        ("vxlan:v6", 1430),
        ("geneve", 1450),
        ("geneve:8", 1442),
        // draft-foschiano-erspan-03: GRE 4 or 8, ERSPAN 0, 8 or 12, Ethernet 14.
        ("erspan:1", 1462),
        ("erspan", 1450),
        ("erspan:3", 1446),
        ("erspan:v6", 1430),
        // RFC 8086: UDP 8 + GRE 4 (+4 per option).
        ("greudp", 1468),
        ("greudp:key:seq", 1460),
        ("greudp:v6", 1448),
        // The I-TAG and the customer's Ethernet header.
        ("pbb", 1482),
        // UDP 8 + AYIYA 8 + identity 16 + SHA-1 signature 20.
        ("ayiya", 1428),
        ("ayiya:v6", 1408),
        ("gtpu", 1464),
        ("gtpu:ext", 1460),
        ("l2tp", 1462),
        ("l2tp:len:seq", 1456),
        ("wireguard", 1440),
        ("wireguard6", 1420),
        ("openvpn", 1448),
    ];
    for (name, expected) in cases {
        assert_eq!(inner(name, 1500, V4), expected, "{name}");
    }
    assert_eq!(inner("6in4", 1500, V6), 1480);
    // RFC 4380: IPv4 20 + UDP 8; the IPv6 packet inside.
    assert_eq!(inner("teredo", 1500, V6), 1472);
    assert_eq!(inner("ip6ip6", 1500, V6), 1452);
}

#[test]
fn vlan_on_the_link_leaves_the_mtu() {
    assert_eq!(inner("vlan", 1500, V4), 1500);
    assert_eq!(inner("qinq", 1500, V4), 1500);
    // Inside a tunnel's inner Ethernet header it takes 4 bytes.
    assert_eq!(inner("vxlan,vlan", 1500, V4), 1446);
    // A VN-Tag is a tag in the Ethernet header too: 6 bytes.
    assert_eq!(inner("vntag", 1500, V4), 1500);
    assert_eq!(inner("vlan,vntag", 1500, V4), 1500);
    assert_eq!(inner("vxlan,vntag", 1500, V4), 1444);
    // 802.1ah takes its share of the backbone's MTU, a B-tag before it none.
    assert_eq!(inner("vlan,pbb,vlan", 1500, V4), 1478);
}

#[test]
fn esp_known_values() {
    // Tunnel, AES-GCM-16: 20 + 8 + 8 + pad(P+2 to 4) + 16.
    assert_eq!(inner("esp", 1500, V4), 1446);
    // Tunnel, AES-CBC + HMAC-SHA1-96: the well-known 1438.
    assert_eq!(inner("esp:aes-cbc:sha1", 1500, V4), 1438);
    // With NAT-T: 8 more bytes, rounded to the 16-byte block.
    assert_eq!(inner("esp:aes-cbc:sha1:natt", 1500, V4), 1422);
    // Transport mode pads only the part after the IPv4 header.
    assert_eq!(inner("esp:transport:aes-cbc:sha1", 1500, V4), 1458);
    // The block makes the answer move in steps of 16.
    assert_eq!(inner("esp:aes-cbc:sha1", 1501, V4), 1438);
    assert_eq!(inner("esp:aes-cbc:sha1", 1516, V4), 1454);
}

#[test]
fn esp_transport_takes_no_outer_version() {
    // Transport mode has no outer header to be IPv6; the name it prints (without
    // one) must parse back to the same stack.
    let err = "esp:transport:v6"
        .parse::<EncapStack>()
        .expect_err("transport with v6");
    assert!(err.to_string().contains("tunnel mode"), "{err}");
    let stack: EncapStack = "esp:transport:v4".parse().expect("v4 is the default");
    assert_eq!(stack.to_string().parse::<EncapStack>().ok(), Some(stack));
}

/// An independent statement of RFC 4303's size: outer header, ESP header, IV, the
/// payload with trailer padded to the block, ICV.
fn esp_tunnel_size(payload: u32, iv: u32, block: u32, icv: u32, outer: u32) -> u32 {
    outer + 8 + iv + (payload + 2).div_ceil(block) * block + icv
}

proptest! {
    #[test]
    fn esp_tunnel_is_exact(mtu in 200u32..20_000, cipher in 0usize..4) {
        let (name, iv, block, icv) = [
            ("esp:aes-cbc:sha1", 16, 16, 12),
            ("esp:aes-gcm", 8, 4, 16),
            ("esp:3des:sha256", 8, 8, 16),
            ("esp:null:sha512", 0, 4, 32),
        ][cipher];
        let got = inner(name, mtu, V4);
        prop_assert!(esp_tunnel_size(got, iv, block, icv, 20) <= mtu);
        prop_assert!(esp_tunnel_size(got + 1, iv, block, icv, 20) > mtu);
    }

    #[test]
    fn inner_mtu_is_the_largest_that_fits(mtu in 0u32..70_000, which in 0usize..8) {
        let name = ["pppoe", "esp:aes-cbc:sha1:natt", "openvpn:aes-cbc", "wireguard",
                    "vxlan,vlan", "esp:transport:aes-cbc,gre", "gre:key:v6", "mpls:3"][which];
        let s = stack(name);
        if let Ok(m) = s.inner_mtu(mtu, V4) {
            prop_assert!(s.link_mtu_for(m, V4) <= mtu);
            prop_assert!(s.link_mtu_for(m + 1, V4) > mtu);
        }
    }

    #[test]
    fn inner_mtu_is_monotone(mtu in 0u32..20_000, which in 0usize..4) {
        let name = ["esp:aes-cbc:sha1", "openvpn:aes-cbc:sha512", "esp:transport:3des", "l2tp:seq"][which];
        let s = stack(name);
        let a = s.inner_mtu(mtu, V4).unwrap_or(0);
        let b = s.inner_mtu(mtu + 1, V4).unwrap_or(0);
        prop_assert!(a <= b);
    }

    #[test]
    fn names_round_trip(which in 0usize..CATALOGUE_SAMPLES.len()) {
        let s = stack(CATALOGUE_SAMPLES[which]);
        let again: EncapStack = s.to_string().parse().map_err(|e: EncapError| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(s, again);
    }
}

const CATALOGUE_SAMPLES: &[&str] = &[
    "vlan:3",
    "qinq,pppoe",
    "mpls:2",
    "gre:key:seq:csum:v6",
    "gretap:v6",
    "ipip",
    "6in4",
    "ip6ip6:noencaplimit",
    "4in6",
    "vxlan:v6",
    "geneve:12:v6",
    "erspan:1:v6",
    "erspan",
    "erspan:3",
    "greudp:key:csum:v6",
    "pbb",
    "vntag",
    "teredo",
    "ayiya:v6",
    "gtpu:ext",
    "l2tp:len:seq:v6",
    "wireguard",
    "wireguard6",
    "esp:transport:aes-cbc:sha384:natt",
    "esp:tunnel:chacha20-poly1305:v6",
    "openvpn:tcp:aes-cbc:sha256:comp:v6",
    "openvpn:udp:chacha20-poly1305",
];

#[test]
fn openvpn_values() {
    // AEAD over UDP/IPv4: 20 + 8 + 4 + 4 + 16 = 52.
    assert_eq!(inner("openvpn", 1500, V4), 1448);
    // CBC + SHA1 HMAC: 20 + 8 + 4 + 20 + 16, then packet id + payload + PKCS#7 to 16.
    assert_eq!(inner("openvpn:aes-cbc", 1500, V4), 1419);
    assert_eq!(inner("openvpn:comp", 1500, V4), 1447);
}

#[test]
fn families_a_tunnel_cannot_carry() {
    let ipip = stack("ipip");
    assert!(matches!(
        ipip.inner_mtu(1500, V6),
        Err(NotCarried::WrongFamily { .. })
    ));
    let sit = stack("6in4");
    assert!(sit.inner_mtu(1500, V4).is_err());
    let teredo = stack("teredo");
    assert!(matches!(
        teredo.inner_mtu(1500, V4),
        Err(NotCarried::WrongFamily { .. })
    ));
    // Teredo's outer header is IPv4: a layer that carries only IPv6 cannot be
    // under it.
    assert!("ip6ip6,teredo".parse::<EncapStack>().is_err());
}

#[test]
fn no_room_is_reported() {
    assert!(matches!(
        stack("esp").inner_mtu(40, V4),
        Err(NotCarried::NoRoom { .. })
    ));
}

#[test]
fn order_is_checked() {
    for bad in [
        "gre,vlan",
        "gre,pppoe",
        "6in4,gre",
        "ipip,wireguard6",
        "esp:transport,mpls",
        "gre,pbb",
        "greudp,vntag",
        "wireguard,pbb",
    ] {
        let result: Result<EncapStack, _> = bad.parse();
        assert!(
            matches!(result, Err(EncapError::Order(_))),
            "{bad}: {result:?}"
        );
    }
    for good in [
        "vlan,pppoe",
        "6in4,gre:v6",
        "esp:transport,gre",
        "vxlan,vlan,pppoe",
        "vlan,pbb,vlan,pppoe",
        "erspan,vlan",
        "pbb,vntag",
        "greudp:v6,gre",
        "esp:transport,teredo",
    ] {
        assert!(good.parse::<EncapStack>().is_ok(), "{good}");
    }
}

#[test]
fn errors_quote_and_suggest() {
    let err = "pppoe,wiregaurd"
        .parse::<EncapStack>()
        .err()
        .map(|e| e.to_string());
    let err = err.unwrap_or_default();
    assert!(err.contains("\"wiregaurd\""), "{err}");
    assert!(err.contains("did you mean \"wireguard\""), "{err}");
    let err = "gre:kye"
        .parse::<EncapStack>()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("\"kye\"") && err.contains("gre[:key]"),
        "{err}"
    );
    let err = "esp:aes-gcm:sha1"
        .parse::<EncapStack>()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("AEAD"), "{err}");
    assert!("geneve:6".parse::<EncapStack>().is_err());
    assert!("mpls:0".parse::<EncapStack>().is_err());
    assert!("pppoe,,gre".parse::<EncapStack>().is_err());
}

#[test]
fn frame_parts_order_transport_esp_inside_gre() {
    let s = stack("esp:transport:aes-cbc:sha1,gre");
    let inner_parts = vec![
        Part::head("IPv4", 20),
        Part::head("TCP", 20),
        Part::head("payload", 100),
    ];
    let parts = s.frame_parts(inner_parts, V4);
    let labels: Vec<&str> = parts.iter().map(|p| p.label).collect();
    assert_eq!(
        labels,
        [
            "outer IPv4",
            "ESP",
            "ESP IV",
            "GRE",
            "IPv4",
            "TCP",
            "payload",
            "ESP padding",
            "ESP trailer",
            "ESP ICV"
        ]
    );
    // GRE 4 + IPv4 20 + TCP 20 + payload 100 = 144; +2 trailer -> pad to 160: 14.
    let padding = parts
        .iter()
        .find(|p| p.label == "ESP padding")
        .map(|p| p.bytes);
    assert_eq!(padding, Some(14));
}

#[test]
fn erspan_and_greudp_parts() {
    let labels = |s: &str| -> Vec<&'static str> {
        stack(s)
            .frame_parts(vec![Part::head("IPv4", 20)], V4)
            .iter()
            .map(|p| p.label)
            .collect()
    };
    assert_eq!(
        labels("erspan:3"),
        [
            "outer IPv4",
            "GRE with sequence number",
            "ERSPAN type III",
            "mirrored Ethernet",
            "IPv4"
        ]
    );
    assert_eq!(
        labels("erspan:1"),
        ["outer IPv4", "GRE", "mirrored Ethernet", "IPv4"]
    );
    assert_eq!(labels("greudp:key"), ["outer IPv4", "UDP", "GRE", "IPv4"]);
    assert!("erspan:4".parse::<EncapStack>().is_err());
    assert!("teredo:v6".parse::<EncapStack>().is_err());
}

#[test]
fn catalogue_names_all_parse() {
    for entry in catalogue() {
        let name = entry.syntax.split(['[', ':']).next().unwrap_or_default();
        assert!(name.parse::<Encap>().is_ok(), "{name}");
        assert!(entry.summary.len() < 80, "{}", entry.syntax);
    }
}

/// Regression: `vlan:5` said "\"5\" is not a parameter it takes" without the range.
#[test]
fn numbers_out_of_range_say_the_range() {
    for (input, range) in [
        ("vlan:5", "vlan[:N] takes N from 1 to 4"),
        ("mpls:0", "mpls[:N] takes N from 1 to 16"),
        ("geneve:400", "from 0 to 252"),
    ] {
        let err = input.parse::<EncapStack>().expect_err(input).to_string();
        assert!(err.contains(range), "{input}: {err}");
        assert!(err.contains("out of range"), "{input}: {err}");
    }
    // Words that are no parameter still say so.
    let err = "vlan:x".parse::<EncapStack>().expect_err("x").to_string();
    assert!(err.contains("is not a parameter it takes"), "{err}");
}
