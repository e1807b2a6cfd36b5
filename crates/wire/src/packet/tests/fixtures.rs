//! Frames on the link types and in the tunnels added after Ethernet and GRE, each
//! built byte by byte from the layout its specification gives (or copied from a
//! real capture), with what mss must find in it and what tshark reads there. The
//! same frames go through tshark in `fixtures_agree_with_tshark` (ignored: it
//! needs tshark; `scripts/test` runs it).

use super::*;

/// A frame, what mss must find in it, and what tshark reads.
pub(super) struct Fixture {
    pub(super) what: &'static str,
    pub(super) link_type: u16,
    pub(super) frame: Vec<u8>,
    /// The SYN inside: (destination port, MSS); `None` when mss finds none.
    pub(super) syn: Option<(u16, u16)>,
    /// The innermost tunnel of the packet mss finds (`None` too when not IP).
    pub(super) tunnel: Option<Tunnel>,
    /// The MSS tshark reads in the frame (its innermost).
    pub(super) tshark: Option<u16>,
}

fn fixture(
    what: &'static str,
    link_type: u16,
    frame: Vec<u8>,
    syn: Option<(u16, u16)>,
    tunnel: Option<Tunnel>,
) -> Fixture {
    Fixture {
        what,
        link_type,
        frame,
        syn,
        tunnel,
        tshark: syn.map(|(_, mss)| mss),
    }
}

impl Fixture {
    /// Where tshark reads otherwise (the caller says why).
    fn tshark_reads(self, mss: Option<u16>) -> Fixture {
        Fixture {
            tshark: mss,
            ..self
        }
    }
}

pub(super) fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|d| match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        })
        .collect();
    digits
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair[1])
        .collect()
}

/// An outer IPv4 header (192.0.2.1 to 192.0.2.2, DF, TTL 63) around `payload`.
pub(super) fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 63, protocol, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    let total = u16::try_from(20 + payload.len()).unwrap_or(0);
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    [ip, payload.to_vec()].concat()
}

/// A UDP header (checksum 0: none, RFC 768) around `data`.
pub(super) fn udp(src: u16, dst: u16, data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + data.len()).unwrap_or(0);
    [
        src.to_be_bytes().to_vec(),
        dst.to_be_bytes().to_vec(),
        len.to_be_bytes().to_vec(),
        vec![0, 0],
        data.to_vec(),
    ]
    .concat()
}

/// Ethernet, IPv4, `protocol`, `payload`: how tunnels reach a capture.
fn over_ethernet(protocol: u8, payload: &[u8]) -> Vec<u8> {
    [ethernet_header(0x0800), ipv4(protocol, payload)].concat()
}

const SNAP_IPV4: [u8; 8] = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
const SNAP_IPV6: [u8; 8] = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd];

/// An 802.11 MAC header: frame control, duration, three addresses, sequence
/// control, the fourth address when To DS and From DS are both set, then `rest`
/// (QoS Control, HT Control).
fn wifi_header(control: [u8; 2], rest: &[u8]) -> Vec<u8> {
    let mut header = control.to_vec();
    header.extend_from_slice(&[0x2c, 0x00]);
    for address in 1..=3 {
        header.extend_from_slice(&[0x02, 0, 0, 0, 0, address]);
    }
    header.extend_from_slice(&[0x10, 0x00]);
    if control[1] & 0x03 == 0x03 {
        header.extend_from_slice(&[0x02, 0, 0, 0, 0, 4]);
    }
    header.extend_from_slice(rest);
    header
}

/// Radiotap with TSFT, Flags (`flags`) and Rate: 18 bytes.
fn radiotap_with_flags(flags: u8) -> Vec<u8> {
    let mut header = vec![0, 0, 18, 0, 0x07, 0, 0, 0];
    header.extend_from_slice(&0x0123_4567_89ab_cdef_u64.to_le_bytes());
    header.extend_from_slice(&[flags, 0x6c]);
    header
}

fn link_layers(v4: &[u8], v6: &[u8]) -> Vec<Fixture> {
    let with = |parts: &[&[u8]]| parts.concat();
    let data_frame = wifi_header([0x08, 0x02], &[]);
    let qos = |control: [u8; 2], qos: [u8; 2], extra: &[u8]| {
        wifi_header(control, &[&qos[..], extra].concat())
    };
    // An A-MSDU of one subframe: destination, source, length, LLC, packet.
    let subframe_len = u16::try_from(SNAP_IPV4.len() + v4.len()).unwrap_or(0);
    let amsdu_subframe = [
        &[0x02, 0, 0, 0, 0, 9, 0x02, 0, 0, 0, 0, 8][..],
        &subframe_len.to_be_bytes(),
        &SNAP_IPV4,
        v4,
    ]
    .concat();
    let ppi_common = {
        // Field type 2 (802.11-Common), 20 bytes: TSF, flags, rate, channel, FHSS,
        // signal, noise.
        let mut field = vec![2, 0, 20, 0];
        field.extend_from_slice(&[0; 8]);
        field.extend_from_slice(&[0, 0, 0x6c, 0, 0x85, 0x09, 0xa0, 0x00, 0, 0, 0xc4, 0xa6]);
        field
    };
    vec![
        fixture(
            "FDDI, asynchronous LLC frame, SNAP, IPv4",
            10,
            with(&[
                &[0x50],
                &[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2],
                &SNAP_IPV4,
                v4,
            ]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "FDDI station management frame: no IP",
            10,
            with(&[
                &[0x41],
                &[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2],
                &[0; 40],
            ]),
            None,
            None,
        ),
        fixture(
            "802.11 data from the DS, SNAP, IPv4",
            105,
            with(&[&data_frame, &SNAP_IPV4, v4]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "802.11 QoS data, four addresses (To DS and From DS), IPv6",
            105,
            with(&[&qos([0x88, 0x03], [0x05, 0x00], &[]), &SNAP_IPV6, v6]),
            Some((443, 1440)),
            None,
        ),
        fixture(
            "802.11 QoS data with the Order bit: HT Control follows (+HTC)",
            105,
            with(&[
                &qos([0x88, 0x81], [0x00, 0x00], &[0x0c, 0x00, 0x00, 0x80]),
                &SNAP_IPV4,
                v4,
            ]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "802.11 QoS data carrying an A-MSDU",
            105,
            with(&[&qos([0x88, 0x02], [0x80, 0x00], &[]), &amsdu_subframe]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "802.11 protected data: encrypted, not read",
            105,
            with(&[
                &wifi_header([0x08, 0x41], &[0x01, 0x00, 0x00, 0x20, 0, 0, 0, 0]),
                &[0x5a; 60],
            ]),
            None,
            None,
        ),
        fixture(
            "802.11 QoS Null: no data",
            105,
            qos([0xc8, 0x01], [0x00, 0x00], &[]),
            None,
            None,
        ),
        fixture(
            "802.11 beacon: management",
            105,
            with(&[&wifi_header([0x80, 0x00], &[]), &[0; 12]]),
            None,
            None,
        ),
        fixture(
            "radiotap, no fields, 802.11 data",
            127,
            with(&[&[0, 0, 8, 0, 0, 0, 0, 0], &data_frame, &SNAP_IPV4, v4]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "radiotap with TSFT and Flags saying FCS at the end",
            127,
            with(&[
                &radiotap_with_flags(0x10),
                &data_frame,
                &SNAP_IPV4,
                v4,
                &[0xde, 0xad, 0xbe, 0xef],
            ]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "radiotap Flags saying the 26-byte QoS header is padded to 28",
            127,
            with(&[
                &radiotap_with_flags(0x20),
                &qos([0x88, 0x02], [0x00, 0x00], &[0, 0]),
                &SNAP_IPV6,
                v6,
            ]),
            Some((443, 1440)),
            None,
        ),
        fixture(
            "radiotap with a second presence bitmap, Flags and Channel",
            127,
            with(&[
                &[0, 0, 18, 0, 0x0a, 0, 0, 0x80, 0, 0, 0, 0],
                &[0x00, 0x00, 0x85, 0x09, 0xa0, 0x00],
                &data_frame,
                &SNAP_IPV4,
                v4,
            ]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "PPI, no fields, 802.11 data",
            192,
            with(&[&[0, 0, 8, 0, 105, 0, 0, 0], &data_frame, &SNAP_IPV4, v4]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "PPI with an 802.11-Common field, 802.11 QoS data",
            192,
            with(&[
                &[0, 0, 32, 0, 105, 0, 0, 0],
                &ppi_common,
                &qos([0x88, 0x02], [0x00, 0x00], &[]),
                &SNAP_IPV6,
                v6,
            ]),
            Some((443, 1440)),
            None,
        ),
        fixture(
            "PPI, Ethernet",
            192,
            with(&[&[0, 0, 8, 0, 1, 0, 0, 0], &ethernet_header(0x0800), v4]),
            Some((80, 1460)),
            None,
        ),
    ]
}

fn ethertypes(v4: &[u8], v6: &[u8]) -> Vec<Fixture> {
    let with = |parts: &[&[u8]]| parts.concat();
    let customer = [0x02, 0, 0, 0, 0, 7, 0x02, 0, 0, 0, 0, 8];
    vec![
        fixture(
            "802.1ah: B-tag, I-TAG, customer header, IPv4",
            1,
            with(&[
                &ethernet_header(0x88a8),
                &[0x00, 0x64, 0x88, 0xe7],
                &[0x00, 0x01, 0x00, 0x00],
                &customer,
                &[0x08, 0x00],
                v4,
            ]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "802.1ah: I-TAG, customer header, 802.1Q, IPv6",
            1,
            with(&[
                &ethernet_header(0x88e7),
                &[0x00, 0x01, 0x00, 0x00],
                &customer,
                &[0x81, 0x00, 0x00, 0x0a, 0x86, 0xdd],
                v6,
            ]),
            Some((443, 1440)),
            None,
        ),
        fixture(
            "VN-Tag, IPv4",
            1,
            with(&[
                &ethernet_header(0x8926),
                &[0x80, 0x05, 0x00, 0x03, 0x08, 0x00],
                v4,
            ]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "FabricPath: outer switch addresses, FTag and TTL, classic frame, FCS",
            1,
            with(&[
                &[
                    0x02, 0x00, 0x0c, 0x00, 0x00, 0x01, 0x02, 0x00, 0x0d, 0x00, 0x00, 0x00,
                ],
                &[0x89, 0x03, 0x00, 0x5f],
                &ethernet_header(0x0800),
                v4,
                &[0xde, 0xad, 0xbe, 0xef],
            ]),
            Some((80, 1460)),
            None,
        ),
        fixture(
            "802.3 with LLC/SNAP, IEEE 802.1H bridge-tunnel OUI",
            1,
            with(&[
                &ethernet_header(u16::try_from(8 + v6.len()).unwrap_or(0)),
                &[0xaa, 0xaa, 0x03, 0x00, 0x00, 0xf8, 0x86, 0xdd],
                v6,
            ]),
            Some((443, 1440)),
            None,
        ),
    ]
}

fn gre_tunnels(v4: &[u8], v6: &[u8]) -> Vec<Fixture> {
    let with = |parts: &[&[u8]]| parts.concat();
    let mirrored_v4 = with(&[&ethernet_header(0x0800), v4]);
    let mirrored_v6 = with(&[&ethernet_header(0x86dd), v6]);
    vec![
        fixture(
            "ERSPAN type I: GRE without sequence number, no ERSPAN header",
            1,
            over_ethernet(47, &with(&[&[0x00, 0x00, 0x88, 0xbe], &mirrored_v4])),
            Some((80, 1460)),
            Some(Tunnel::Erspan),
        ),
        fixture(
            "ERSPAN type II: GRE with sequence number, 8-byte header",
            1,
            over_ethernet(
                47,
                &with(&[
                    &[0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 7],
                    &[0x10, 0x64, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05],
                    &mirrored_v6,
                ]),
            ),
            Some((443, 1440)),
            Some(Tunnel::Erspan),
        ),
        fixture(
            "ERSPAN type III, 12-byte header",
            1,
            over_ethernet(
                47,
                &with(&[
                    &[0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 7],
                    &[
                        0x20, 0x64, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78, 0, 0, 0x00, 0x06,
                    ],
                    &mirrored_v4,
                ]),
            ),
            Some((80, 1460)),
            Some(Tunnel::Erspan),
        ),
        fixture(
            "ERSPAN type III with the platform-specific subheader (O bit)",
            1,
            over_ethernet(
                47,
                &with(&[
                    &[0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 7],
                    &[
                        0x20, 0x64, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78, 0, 0, 0x00, 0x07,
                    ],
                    &[0x0c, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x2a],
                    &mirrored_v4,
                ]),
            ),
            Some((80, 1460)),
            Some(Tunnel::Erspan),
        ),
        // tshark hands frame type 2 (IP) to its data dissector.
        fixture(
            "ERSPAN type III, frame type 2: an IP packet, no Ethernet header",
            1,
            over_ethernet(
                47,
                &with(&[
                    &[0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 7],
                    &[
                        0x20, 0x64, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78, 0, 0, 0x08, 0x00,
                    ],
                    v4,
                ]),
            ),
            Some((80, 1460)),
            Some(Tunnel::Erspan),
        )
        .tshark_reads(None),
    ]
}

/// UDP tunnels. Each flow has ports of its own: tshark follows L2TP by
/// conversation, whatever the other port.
fn udp_tunnels(v4: &[u8], v6: &[u8]) -> Vec<Fixture> {
    let with = |parts: &[&[u8]]| parts.concat();
    let gtp = |flags: u8, extra: &[u8], packet: &[u8]| {
        let len = u16::try_from(extra.len() + packet.len()).unwrap_or(0);
        with(&[
            &[flags, 0xff],
            &len.to_be_bytes(),
            &[0, 0, 0, 1],
            extra,
            packet,
        ])
    };
    let l2tp_length = |header: &[u8], packet: &[u8]| {
        let mut message = with(&[header, packet]);
        let len = u16::try_from(message.len()).unwrap_or(0);
        message[2..4].copy_from_slice(&len.to_be_bytes());
        message
    };
    let ayiya = |next_header: u8, packet: &[u8]| {
        with(&[
            // Identity 2^4 = 16 bytes (an IPv6 address), signature 5 words (SHA-1),
            // shared-secret authentication, forward, next header, epoch.
            &[0x41, 0x52, 0x11, next_header, 0x5c, 0x00, 0x00, 0x00],
            &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            &[0x77; 20],
            packet,
        ])
    };
    let vxlan = with(&[&[0x08, 0, 0, 0, 0, 0, 1, 0], &ethernet_header(0x0800), v4]);
    vec![
        fixture(
            "GTP-U G-PDU, 8-byte header, IPv4",
            1,
            over_ethernet(17, &udp(2152, 2152, &gtp(0x30, &[], v4))),
            Some((80, 1460)),
            Some(Tunnel::Gtpu),
        ),
        fixture(
            "GTP-U G-PDU with a sequence number, from a dynamic port, IPv6",
            1,
            over_ethernet(17, &udp(40000, 2152, &gtp(0x32, &[0, 9, 0, 0], v6))),
            Some((443, 1440)),
            Some(Tunnel::Gtpu),
        ),
        fixture(
            "GTP-U G-PDU with a PDU session container extension header",
            1,
            over_ethernet(
                17,
                &udp(
                    2152,
                    2152,
                    &gtp(0x34, &[0, 0, 0, 0x85, 0x01, 0x10, 0x09, 0x00], v4),
                ),
            ),
            Some((80, 1460)),
            Some(Tunnel::Gtpu),
        ),
        fixture(
            "GTP-U echo request: no packet inside",
            1,
            over_ethernet(
                17,
                &udp(2152, 2152, &[0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]),
            ),
            None,
            None,
        ),
        fixture(
            "GRE in UDP, IPv4",
            1,
            over_ethernet(17, &udp(51000, 4754, &with(&[&[0, 0, 0x08, 0x00], v4]))),
            Some((80, 1460)),
            Some(Tunnel::GreInUdp),
        ),
        fixture(
            "GRE in UDP with a key, IPv6",
            1,
            over_ethernet(
                17,
                &udp(
                    51000,
                    4754,
                    &with(&[&[0x20, 0, 0x86, 0xdd, 0, 0, 0, 42], v6]),
                ),
            ),
            Some((443, 1440)),
            Some(Tunnel::GreInUdp),
        ),
        fixture(
            "Teredo from a server: IPv6 straight in UDP",
            1,
            over_ethernet(17, &udp(3544, 40000, v6)),
            Some((443, 1440)),
            Some(Tunnel::Teredo),
        ),
        fixture(
            "Teredo with an origin indication",
            1,
            over_ethernet(
                17,
                &udp(
                    3544,
                    40000,
                    &with(&[&[0, 0, 0x63, 0xbf, 0x3f, 0xff, 0xfd, 0xfe], v6]),
                ),
            ),
            Some((443, 1440)),
            Some(Tunnel::Teredo),
        ),
        fixture(
            "Teredo with an authentication indicator and an origin indication",
            1,
            over_ethernet(
                17,
                &udp(
                    40000,
                    3544,
                    &with(&[
                        &[0, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0],
                        &[0, 0, 0x63, 0xbf, 0x3f, 0xff, 0xfd, 0xfe],
                        v6,
                    ]),
                ),
            ),
            Some((443, 1440)),
            Some(Tunnel::Teredo),
        ),
        // tshark decodes port 3544 as Teredo whatever the lengths say.
        fixture(
            "UDP from port 3544 with bytes after the IPv6 packet: not Teredo",
            1,
            over_ethernet(17, &udp(3544, 40000, &with(&[v6, &[0; 4]]))),
            None,
            None,
        )
        .tshark_reads(Some(1440)),
        fixture(
            "L2TPv2 data message, PPP with address and control",
            1,
            over_ethernet(
                17,
                &udp(
                    1701,
                    1701,
                    &with(&[
                        &[0x00, 0x02, 0x12, 0x34, 0x00, 0x01, 0xff, 0x03, 0x00, 0x21],
                        v4,
                    ]),
                ),
            ),
            Some((80, 1460)),
            Some(Tunnel::L2tp),
        ),
        fixture(
            "L2TPv2 data message with length and sequence numbers, to the LNS",
            1,
            over_ethernet(
                17,
                &udp(
                    40000,
                    1701,
                    &l2tp_length(
                        &[
                            0x48, 0x02, 0, 0, 0x12, 0x34, 0x00, 0x01, 0, 3, 0, 2, 0xff, 0x03, 0x00,
                            0x57,
                        ],
                        v6,
                    ),
                ),
            ),
            Some((443, 1440)),
            Some(Tunnel::L2tp),
        ),
        fixture(
            "L2TPv2 data message with an offset, PPP without address and control",
            1,
            over_ethernet(
                17,
                &udp(
                    1701,
                    40000,
                    &with(&[
                        &[
                            0x02, 0x02, 0x12, 0x34, 0x00, 0x01, 0x00, 0x02, 0, 0, 0x00, 0x21,
                        ],
                        v4,
                    ]),
                ),
            ),
            Some((80, 1460)),
            Some(Tunnel::L2tp),
        ),
        fixture(
            "L2TPv2 control message (Hello): no packet inside",
            1,
            over_ethernet(
                17,
                &udp(
                    1701,
                    1701,
                    &[
                        0xc8, 0x02, 0x00, 0x14, 0x12, 0x34, 0x00, 0x00, 0, 1, 0, 1, 0x80, 0x08, 0,
                        0, 0, 0, 0, 6,
                    ],
                ),
            ),
            None,
            None,
        ),
        fixture(
            "AYIYA forwarding IPv6, to the server",
            1,
            over_ethernet(17, &udp(41000, 5072, &ayiya(41, v6))),
            Some((443, 1440)),
            Some(Tunnel::Ayiya),
        ),
        fixture(
            "AYIYA forwarding IPv4, from the server",
            1,
            over_ethernet(17, &udp(5072, 41000, &ayiya(4, v4))),
            Some((80, 1460)),
            Some(Tunnel::Ayiya),
        ),
        // VXLAN's source port is a flow hash (RFC 7348 section 5); tshark decodes
        // either port.
        fixture(
            "UDP from port 4789 to another: not VXLAN",
            1,
            over_ethernet(17, &udp(4789, 50000, &vxlan)),
            None,
            None,
        )
        .tshark_reads(Some(1460)),
    ]
}

/// Frames from real captures.
fn captured() -> Vec<Fixture> {
    vec![
        fixture(
            "NFLOG, IPv4 SYN (Linux 6.18, tcpdump -i nflog:5)",
            239,
            hex(
                "02000005080001000800030005000a0000000000080005000000000108000b00000000000800\
                 0e0000000000400009004500003cbb4e40004006816b7f0000017f00000193a6e921054f841f\
                 00000000a002fb90fe300000020405780402080ac2df5f45000000000103030a",
            ),
            Some((59681, 1400)),
            None,
        ),
        fixture(
            "NFLOG, IPv6 SYN (Linux 6.18, tcpdump -i nflog:5)",
            239,
            hex(
                "0a0000050800010086dd030005000a0000000000080005000000000108000b00000000000800\
                 0e0000000000540009006005329a00280640000000000000000000000000000000010000000000\
                 00000000000000000000018fa6c1c301b1a1aa00000000a002fc9400300000020404c4040208\
                 0aaabcb1ae000000000103030a",
            ),
            Some((49603, 1220)),
            None,
        ),
    ]
}

/// Every fixture.
pub(super) fn all() -> Vec<Fixture> {
    let v4 = syn_v4();
    let v6 = syn_v6();
    [
        link_layers(&v4, &v6),
        ethertypes(&v4, &v6),
        gre_tunnels(&v4, &v6),
        udp_tunnels(&v4, &v6),
        captured(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A pcap file (microsecond, little-endian) of `frames` on `link_type`.
fn pcap(link_type: u16, frames: &[&Fixture]) -> Vec<u8> {
    let mut file = Vec::new();
    file.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    file.extend_from_slice(&[2, 0, 4, 0]);
    file.extend_from_slice(&[0; 8]);
    file.extend_from_slice(&65535_u32.to_le_bytes());
    file.extend_from_slice(&u32::from(link_type).to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.frame.len()).unwrap_or(0);
        file.extend_from_slice(&u32::try_from(i).unwrap_or(0).to_le_bytes());
        file.extend_from_slice(&0_u32.to_le_bytes());
        file.extend_from_slice(&len.to_le_bytes());
        file.extend_from_slice(&len.to_le_bytes());
        file.extend_from_slice(&f.frame);
    }
    file
}

#[test]
fn fixtures_decode_as_expected() {
    for f in all() {
        let link = Link::from_link_type(f.link_type)
            .unwrap_or_else(|| panic!("{}: link type {}", f.what, f.link_type));
        assert_eq!(mss_of(link, &f.frame), f.syn, "{}", f.what);
        let tunnel = decode(link, &f.frame).ok().flatten().and_then(|p| p.tunnel);
        assert_eq!(tunnel, f.tunnel, "{}", f.what);
    }
}

/// Every fixture through tshark: the MSS it reads (its innermost) is the one the
/// fixture says, frame by frame.
#[test]
#[ignore = "needs tshark; scripts/test runs it"]
fn fixtures_agree_with_tshark() {
    let dir = std::env::temp_dir().join(format!("mss-wire-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let fixtures = all();
    let mut link_types: Vec<u16> = fixtures.iter().map(|f| f.link_type).collect();
    link_types.sort_unstable();
    link_types.dedup();
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for link_type in link_types {
        let frames: Vec<&Fixture> = fixtures
            .iter()
            .filter(|f| f.link_type == link_type)
            .collect();
        let path = dir.join(format!("link-{link_type}.pcap"));
        std::fs::write(&path, pcap(link_type, &frames))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let out = std::process::Command::new("tshark")
            .arg("-n")
            .arg("-r")
            .arg(&path)
            .args([
                "-T",
                "fields",
                "-e",
                "frame.number",
                "-e",
                "tcp.options.mss_val",
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run tshark: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        let read: Vec<Option<u16>> = text
            .lines()
            .map(|line| {
                let values = line.split('\t').nth(1).unwrap_or("");
                values
                    .split(',')
                    .rfind(|v| !v.is_empty())
                    .and_then(|v| v.parse().ok())
            })
            .collect();
        assert_eq!(
            read.len(),
            frames.len(),
            "tshark on {}: {text}",
            path.display()
        );
        for (f, theirs) in frames.iter().zip(read) {
            compared += 1;
            if theirs != f.tshark {
                disagreements.push(format!(
                    "{}: tshark reads {theirs:?}, the fixture says {:?}",
                    f.what, f.tshark
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(compared > 40, "{compared} frames compared");
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
