//! Verifying the TCP checksums in a capture: veth accepts wrong ones, so a clamp
//! (or anything else rewriting packets) is checked in the captures themselves.

use std::io;
use std::net::IpAddr;
use std::path::Path;

use mss_wire::checksum;
use mss_wire::packet::{Link, Transport, decode};

/// TCP checksums in a capture, verified: (right, wrong). Segments cut short by the
/// snap length, fragments and tunnelled packets cannot be checked and are not
/// counted.
pub fn tcp_checksums(path: &Path) -> io::Result<(u64, u64)> {
    let file = std::fs::File::open(path)?;
    let mut reader = mss_capture::Reader::new(file).map_err(|e| io::Error::other(e.to_string()))?;
    let (mut good, mut bad) = (0, 0);
    while let Ok(Some(record)) = reader.next_record() {
        let Some(link) = Link::from_link_type(record.link_type.0) else {
            continue;
        };
        let Ok(Some(packet)) = decode(link, record.data) else {
            continue;
        };
        if packet.truncated || packet.fragment.is_some() || packet.tunnel.is_some() {
            continue;
        }
        let Transport::Tcp(_) = packet.transport else {
            continue;
        };
        let start = packet.offset + packet.header_len as usize;
        let end = packet.offset + packet.ip_len as usize;
        let Some(segment) = record.data.get(start..end) else {
            continue;
        };
        let length = u32::try_from(end - start).unwrap_or(0);
        let pseudo = match (packet.src, packet.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => checksum::pseudo_header_v4(
                s.octets(),
                d.octets(),
                6,
                u16::try_from(length).unwrap_or(0),
            ),
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                checksum::pseudo_header_v6(s.octets(), d.octets(), 6, length)
            }
            _ => continue,
        };
        if checksum::verify(pseudo, segment) {
            good += 1;
        } else {
            bad += 1;
        }
    }
    Ok((good, bad))
}
