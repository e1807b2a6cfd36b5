//! Verifying the TCP checksums in a capture: veth accepts wrong ones, so a clamp
//! (or anything else rewriting packets) is checked in the captures themselves.

use std::io;
use std::net::IpAddr;
use std::path::Path;

use mss_wire::checksum;
use mss_wire::packet::{Link, Transport, decode};

/// TCP checksums in a capture, verified: (right, wrong). Segments cut short by the
/// snap length, fragments and tunnelled packets cannot be checked and are not
/// counted. A capture that cannot be read to its end (cut off, corrupt) is an
/// error naming where, not a count of what came before.
pub fn tcp_checksums(path: &Path) -> io::Result<(u64, u64)> {
    let file = std::fs::File::open(path)?;
    let mut reader = mss_capture::Reader::new(file).map_err(|e| io::Error::other(e.to_string()))?;
    let (mut good, mut bad) = (0, 0);
    loop {
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(e) => return Err(io::Error::other(e.to_string())),
        };
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
        let start = packet.offset as usize + packet.header_len as usize;
        let end = packet.offset as usize + packet.ip_len as usize;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: reader errors ended the count silently, as if the capture ended.
    #[test]
    fn a_capture_that_breaks_off_is_an_error() {
        let dir = std::env::temp_dir().join(format!("mss-checksums-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("cut.pcap");
        // A pcap header and one record header that promises 60 bytes, then 10.
        let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        file.extend([0u8; 8]);
        file.extend(65535u32.to_le_bytes());
        file.extend(1u32.to_le_bytes());
        file.extend([0u8; 8]);
        file.extend(60u32.to_le_bytes());
        file.extend(60u32.to_le_bytes());
        file.extend([0u8; 10]);
        std::fs::write(&path, &file).expect("write");
        let err = tcp_checksums(&path).expect_err("cut off");
        assert!(err.to_string().contains("packet 1"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
