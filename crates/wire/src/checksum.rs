//! The Internet checksum: full computation (RFC 1071) and incremental update
//! (RFC 1624).

/// Adds `data` as big-endian 16-bit words into a 64-bit accumulator (RFC 1071
/// section 4.1), an odd trailing byte padded with zero. Carries are folded later by
/// [`fold`]; 64 bits cannot overflow for any input that fits in memory.
pub fn sum(data: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(8);
    for chunk in &mut words {
        if let &[a, b, c, d, e, f, g, h] = chunk {
            // Four 16-bit words at a time; each addend is below 2^16.
            acc += u64::from(u16::from_be_bytes([a, b]))
                + u64::from(u16::from_be_bytes([c, d]))
                + u64::from(u16::from_be_bytes([e, f]))
                + u64::from(u16::from_be_bytes([g, h]));
        }
    }
    let mut rest = words.remainder().chunks_exact(2);
    for pair in &mut rest {
        if let &[a, b] = pair {
            acc += u64::from(u16::from_be_bytes([a, b]));
        }
    }
    if let [last] = rest.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    acc
}

/// Folds carries into 16 bits (end-around carry).
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves at most 16 bits.
    u16::try_from(acc).unwrap_or(u16::MAX)
}

/// The checksum to store for `data` (with its checksum field zeroed): the ones'
/// complement of the ones' complement sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// The IPv4 pseudo-header sum for TCP/UDP (RFC 9293 section 3.1).
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, length: u16) -> u64 {
    sum(&src) + sum(&dst) + u64::from(protocol) + u64::from(length)
}

/// The IPv6 pseudo-header sum for upper layers (RFC 8200 section 8.1).
pub fn pseudo_header_v6(src: [u8; 16], dst: [u8; 16], next_header: u8, length: u32) -> u64 {
    sum(&src)
        + sum(&dst)
        + u64::from(length >> 16)
        + u64::from(length & 0xffff)
        + u64::from(next_header)
}

/// Whether `data` (checksum field included) plus `pseudo` sums to all ones, i.e. the
/// stored checksum is correct.
pub fn verify(pseudo: u64, data: &[u8]) -> bool {
    fold(pseudo + sum(data)) == 0xffff
}

/// Updates a stored checksum `hc` after one 16-bit word changes from `old` to `new`,
/// without touching the rest of the data (RFC 1624 section 3, equation 3):
/// `HC' = ~(~HC + ~m + m')`. Equation 3 avoids the `-0` result of RFC 1141's form.
pub fn update(hc: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!hc) + u64::from(!old) + u64::from(new))
}

/// [`update`] for a 32-bit field (two words).
pub fn update_u32(hc: u16, old: u32, new: u32) -> u16 {
    let [o0, o1, o2, o3] = old.to_be_bytes();
    let [n0, n1, n2, n3] = new.to_be_bytes();
    let hc = update(
        hc,
        u16::from_be_bytes([o0, o1]),
        u16::from_be_bytes([n0, n1]),
    );
    update(
        hc,
        u16::from_be_bytes([o2, o3]),
        u16::from_be_bytes([n2, n3]),
    )
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn ipv4_header_from_seed() {
        // Seed 003, frame 16: ICMP frag-needed from 10.0.0.1 to 10.0.0.10, header
        // checksum 0xa7ba.
        let header = [
            0x45, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0xff, 0x01, 0xa7, 0xba, 10, 0, 0, 1,
            10, 0, 0, 10,
        ];
        assert!(verify(0, &header));
        let mut zeroed = header;
        zeroed[10] = 0;
        zeroed[11] = 0;
        assert_eq!(checksum(&zeroed), 0xa7ba);
    }

    #[test]
    fn odd_length() {
        assert_eq!(fold(sum(&[0xab])), 0xab00);
        assert_eq!(fold(sum(&[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    proptest! {
        /// RFC 1624: the incremental update equals a full recompute, for any data
        /// and any changed word.
        #[test]
        fn incremental_equals_full(
            words in proptest::collection::vec(any::<u16>(), 1..100),
            index in any::<prop::sample::Index>(),
            new in any::<u16>(),
        ) {
            let mut data: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
            let at = index.index(words.len()) * 2;
            let before = checksum(&data);
            let old = u16::from_be_bytes([data[at], data[at + 1]]);
            data[at..at + 2].copy_from_slice(&new.to_be_bytes());
            // All-zero data is the one case where the two forms of zero differ
            // (RFC 1624 section 3); no real header sums to zero.
            prop_assume!(data.iter().any(|&b| b != 0));
            let full = checksum(&data);
            let incremental = update(before, old, new);
            prop_assert_eq!(incremental, full);
            let mut stored = data.clone();
            stored.extend_from_slice(&incremental.to_be_bytes());
            prop_assert!(verify(0, &stored));
        }

        #[test]
        fn fast_sum_matches_word_by_word(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut acc: u64 = 0;
            for pair in data.chunks(2) {
                let hi = pair[0];
                let lo = pair.get(1).copied().unwrap_or(0);
                acc += u64::from(u16::from_be_bytes([hi, lo]));
            }
            prop_assert_eq!(fold(sum(&data)), fold(acc));
        }
    }
}
