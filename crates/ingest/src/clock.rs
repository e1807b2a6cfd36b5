//! Captures whose clocks disagree: several captures of the same traffic taken on
//! different hosts are often seconds or minutes apart, and merged by their own
//! timestamps the same connection would seem to happen twice, far apart.
//!
//! What does not depend on the clock matches them: a SYN's initial sequence
//! number with its destination port (a SYN-ACK's with its source port), which
//! survive address and port translation on the client's side. Each capture's
//! offset is the median of the time differences of the SYNs it shares with the
//! captures already placed (the first capture is the reference); it is applied
//! only from [`MIN_SKEW_NS`] up, since below that it is mostly the path's own
//! latency between the capture points, which the analysis wants to keep.
//! `--time-offset CAPTURE=SECONDS` gives it by hand instead.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use mss_capture::{Reader, Record};
use mss_wire::packet::{Link, Transport, decode};

/// Offsets below this are left alone (path latency, not a wrong clock).
pub const MIN_SKEW_NS: i64 = 1_000_000_000;
/// Records read from the start of each capture to find the SYNs.
const PREFIX_RECORDS: u64 = 2_000_000;
/// SYNs collected from a capture at most.
const MAX_SYNS: usize = 20_000;

/// A handshake segment, told apart by what a clock does not change.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SynKey {
    /// A SYN-ACK (else a SYN).
    syn_ack: bool,
    /// Its initial sequence number.
    isn: u32,
    /// The server's port: a SYN's destination, a SYN-ACK's source.
    server_port: u16,
}

/// How a capture's clock offset was found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OffsetBasis {
    /// From this many SYNs and SYN-ACKs it shares with the captures before it.
    Syns(usize),
    /// Given with `--time-offset`.
    Given,
}

/// A capture's clock against the first capture's.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ClockOffset {
    /// How far its clock is ahead (negative: behind), in ns; subtracted from its
    /// timestamps when `applied`.
    pub offset_ns: i64,
    /// How it was found.
    pub basis: OffsetBasis,
    /// Whether its timestamps are corrected by it.
    pub applied: bool,
}

/// The SYNs and SYN-ACKs at the start of a capture file, with their times.
/// Unreadable files give none (reading them for real reports why).
pub(crate) fn syns(path: &Path) -> HashMap<SynKey, u64> {
    let mut found = HashMap::new();
    let Ok(file) = File::open(path) else {
        return found;
    };
    // Compressed files are left out: the offset is for the file's own reading.
    let Ok(mut reader) = Reader::new(BufReader::with_capacity(1 << 16, file)) else {
        return found;
    };
    let mut records = 0;
    while let Ok(Some(record)) = reader.next_record() {
        records += 1;
        if records > PREFIX_RECORDS || found.len() >= MAX_SYNS {
            break;
        }
        if let Some((key, ts)) = syn_of(&record) {
            found.entry(key).or_insert(ts);
        }
    }
    found
}

fn syn_of(record: &Record<'_>) -> Option<(SynKey, u64)> {
    let link = Link::from_link_type(record.link_type.0)?;
    let packet = decode(link, record.data).ok()??;
    let Transport::Tcp(segment) = packet.transport else {
        return None;
    };
    let flags = segment.flags();
    let key = if flags.is_syn() {
        SynKey {
            syn_ack: false,
            isn: segment.seq_number(),
            server_port: segment.dst_port(),
        }
    } else if flags.is_syn_ack() {
        SynKey {
            syn_ack: true,
            isn: segment.seq_number(),
            server_port: segment.src_port(),
        }
    } else {
        return None;
    };
    Some((key, record.timestamp_ns))
}

/// Places each capture's clock against the first's from their SYNs: a capture
/// is matched against every capture placed so far (with the offsets found for
/// those), over and over until no more can be placed, so a capture that shares
/// SYNs only with a later one is placed through it. `given` offsets (by index)
/// are taken as they are. The first capture has no entry; a capture that shares
/// no SYN with any placed one gets `None`.
pub(crate) fn place(
    captures: &[HashMap<SynKey, u64>],
    given: &[Option<i64>],
) -> Vec<Option<ClockOffset>> {
    let mut placed: Vec<Option<ClockOffset>> = vec![None; captures.len()];
    // The offset each placed capture's timestamps carry; the first is the reference.
    let mut shift: Vec<Option<i64>> = vec![None; captures.len()];
    if let Some(first) = shift.first_mut() {
        *first = Some(given.first().copied().flatten().unwrap_or(0));
    }
    for (i, offset) in given.iter().enumerate().skip(1) {
        if let Some(offset_ns) = *offset {
            placed[i] = Some(ClockOffset {
                offset_ns,
                basis: OffsetBasis::Given,
                applied: true,
            });
            shift[i] = Some(offset_ns);
        }
    }
    loop {
        let mut progress = false;
        for i in 1..captures.len() {
            if shift[i].is_some() {
                continue;
            }
            let mut differences: Vec<i64> = Vec::new();
            for (j, earlier) in captures.iter().enumerate() {
                let Some(earlier_shift) = shift[j].filter(|_| j != i) else {
                    continue;
                };
                for (key, &ts) in &captures[i] {
                    if let Some(&then) = earlier.get(key) {
                        let difference =
                            i128::from(ts) - i128::from(then) + i128::from(earlier_shift);
                        differences.push(i64::try_from(difference).unwrap_or(0));
                    }
                }
            }
            if differences.is_empty() {
                continue;
            }
            differences.sort_unstable();
            let median = differences[differences.len() / 2];
            let applied = median.abs() >= MIN_SKEW_NS;
            placed[i] = Some(ClockOffset {
                offset_ns: median,
                basis: OffsetBasis::Syns(differences.len()),
                applied,
            });
            // What its timestamps carry once corrected (or not).
            shift[i] = Some(if applied { median } else { 0 });
            progress = true;
        }
        if !progress {
            return placed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syns(list: &[(u32, u64)]) -> HashMap<SynKey, u64> {
        list.iter()
            .map(|&(isn, ts)| {
                (
                    SynKey {
                        syn_ack: false,
                        isn,
                        server_port: 443,
                    },
                    ts,
                )
            })
            .collect()
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_clock_minutes_ahead_is_found_and_applied() {
        let first = syns(&[(1, 100 * S), (2, 101 * S), (3, 102 * S)]);
        // 93 s ahead, plus a millisecond of path, and one ISN that is not shared.
        let second = syns(&[
            (1, 193 * S + 1_000_000),
            (2, 194 * S + 1_000_000),
            (9, 5 * S),
        ]);
        let placed = place(&[first, second], &[]);
        let offset = placed[1].expect("placed");
        assert_eq!(offset.offset_ns, 93 * 1_000_000_000 + 1_000_000);
        assert_eq!(offset.basis, OffsetBasis::Syns(2));
        assert!(offset.applied);
    }

    #[test]
    fn path_latency_is_not_a_clock_error() {
        let first = syns(&[(1, 100 * S)]);
        let second = syns(&[(1, 100 * S + 30_000_000)]);
        let offset = place(&[first, second], &[])[1].expect("placed");
        assert_eq!(offset.offset_ns, 30_000_000);
        assert!(!offset.applied);
    }

    #[test]
    fn a_third_capture_is_placed_through_the_second() {
        // The third shares SYNs only with the second, which is 60 s ahead.
        let first = syns(&[(1, 100 * S)]);
        let second = syns(&[(1, 160 * S), (2, 170 * S)]);
        let third = syns(&[(2, 50 * S)]);
        let placed = place(&[first, second, third], &[]);
        // 50 s on its clock is 110 s on the first's: 60 s behind.
        assert_eq!(placed[2].expect("placed").offset_ns, -60 * 1_000_000_000);
    }

    #[test]
    fn a_capture_is_placed_through_a_later_one() {
        // The second shares nothing with the first; the third shares with both.
        let first = syns(&[(1, 100 * S)]);
        let second = syns(&[(2, 300 * S)]);
        let third = syns(&[(1, 130 * S), (2, 330 * S)]);
        let placed = place(&[first, second, third], &[]);
        assert_eq!(placed[2].expect("third").offset_ns, 30 * 1_000_000_000);
        // The third's 330 s is 300 s on the first's clock, the second's time for
        // the same SYN: the second's clock is right.
        assert_eq!(placed[1].expect("second").offset_ns, 0);
    }

    #[test]
    fn nothing_shared_places_nothing_and_given_wins() {
        let first = syns(&[(1, 100 * S)]);
        let second = syns(&[(2, 100 * S)]);
        assert_eq!(
            place(&[first.clone(), second.clone()], &[]),
            vec![None, None]
        );
        let placed = place(&[first, second], &[None, Some(-5_000_000_000)]);
        assert_eq!(
            placed[1],
            Some(ClockOffset {
                offset_ns: -5_000_000_000,
                basis: OffsetBasis::Given,
                applied: true
            })
        );
    }
}
