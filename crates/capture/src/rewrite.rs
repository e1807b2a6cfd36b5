//! Rewriting a capture as it streams: every byte of the input reaches the output
//! unchanged, in order, except the packets the caller replaces. Works on pipes (one
//! pass, no seeking), so `tcpdump -w - | mss clamp ... - -o - | tcpdump -r -` works.
//!
//! A replacement has the packet's length, or is longer where the container can say
//! so: a pcap record (its captured and original lengths grow) or a pcapng Enhanced
//! Packet Block (captured and original lengths, the padding and both copies of the
//! block's total length follow). Simple and obsolete pcapng packet blocks carry no
//! captured length of their own and are only ever replaced with the same length.
//!
//! How: the reader reads through a tee that keeps every byte it read in a spool;
//! bytes before the current record are written out as they become final, and a
//! replaced record's bytes are skipped in the spool and written anew.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;

use crate::{Error, Format, Reader, Record, Warning};

/// Unwritten spool bytes before the current record that trigger a write.
const WRITE_AT: u64 = 256 << 10;
/// Written bytes at the spool's front that trigger compaction.
const COMPACT_AT: usize = 1 << 20;

/// Where a packet sits in the input: a [`Record`]'s position, kept after the
/// reader has moved on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Spot {
    /// Byte offset of the record header (pcap) or block (pcapng).
    pub offset: u64,
    /// Byte offset of the first packet byte.
    pub data_offset: u64,
    /// Captured bytes.
    pub len: usize,
    /// Length on the wire.
    pub original_len: u32,
    /// The interface it was captured on (pcapng; 0 for pcap).
    pub interface: u32,
}

impl Record<'_> {
    /// This record's position, to replace it through a [`Rewriter`].
    pub fn spot(&self) -> Spot {
        Spot {
            offset: self.offset,
            data_offset: self.data_offset,
            len: self.data.len(),
            original_len: self.original_len,
            interface: self.interface,
        }
    }
}

/// The bytes the reader has read and the output has not yet received.
struct Spool<R> {
    inner: R,
    bytes: Vec<u8>,
    /// `bytes[head..]` are not yet written or skipped.
    head: usize,
    /// Input offset of `bytes[head]`.
    at: u64,
}

impl<R> Spool<R> {
    /// The spool bytes from input offset `from` to `to`.
    fn span(&self, from: u64, to: u64) -> io::Result<&[u8]> {
        let start = from
            .checked_sub(self.at)
            .and_then(|d| usize::try_from(d).ok())
            .and_then(|d| d.checked_add(self.head));
        let end = to
            .checked_sub(self.at)
            .and_then(|d| usize::try_from(d).ok())
            .and_then(|d| d.checked_add(self.head));
        match (start, end) {
            (Some(start), Some(end)) => self.bytes.get(start..end).ok_or_else(out_of_spool),
            _ => Err(out_of_spool()),
        }
    }

    /// Forgets the bytes before input offset `to` (written or replaced).
    fn consume(&mut self, to: u64) {
        let n = to
            .saturating_sub(self.at)
            .min(u64::try_from(self.bytes.len() - self.head).unwrap_or(u64::MAX));
        self.head += usize::try_from(n).unwrap_or(0);
        self.at += n;
        if self.head >= COMPACT_AT {
            self.bytes.drain(..self.head);
            self.head = 0;
        }
    }
}

fn out_of_spool() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "a replacement refers to input bytes already written",
    )
}

/// The reader's side of the spool.
struct Tee<R>(Rc<RefCell<Spool<R>>>);

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut spool = self.0.borrow_mut();
        let n = spool.inner.read(buf)?;
        spool
            .bytes
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// A capture copied from `R` to `W` with some packets replaced.
pub struct Rewriter<R, W> {
    reader: Reader<Tee<R>>,
    spool: Rc<RefCell<Spool<R>>>,
    out: W,
}

impl<R, W> std::fmt::Debug for Rewriter<R, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewriter")
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

/// Rounds up to the pcapng 32-bit boundary.
fn padded(len: usize) -> usize {
    len.div_ceil(4) * 4
}

impl<R: Read, W: Write> Rewriter<R, W> {
    /// Reads the capture's header (nothing is written yet).
    pub fn new(input: R, out: W) -> Result<Rewriter<R, W>, Error> {
        let spool = Rc::new(RefCell::new(Spool {
            inner: input,
            bytes: Vec::new(),
            head: 0,
            at: 0,
        }));
        let reader = Reader::new(Tee(Rc::clone(&spool)))?;
        Ok(Rewriter { reader, spool, out })
    }

    /// The container format.
    pub fn format(&self) -> Format {
        self.reader.format()
    }

    /// The reader's warnings so far.
    pub fn warnings(&self) -> (&[Warning], u64) {
        self.reader.warnings()
    }

    /// The next packet, as [`Reader::next_record`]; the bytes before it are final
    /// and may be written out now.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, Error> {
        let at = self.spool.borrow().at;
        let record = self.reader.next_record()?;
        if let Some(record) = &record {
            if record.offset.saturating_sub(at) >= WRITE_AT {
                copy_through(&self.spool, &mut self.out, record.offset)
                    .map_err(|e| crate::io_error(&e, record.offset, Some(record.number)))?;
            }
        }
        Ok(record)
    }

    /// Whether the packet at `spot` may be replaced by one `by` bytes longer: a
    /// pcap record or a pcapng Enhanced Packet Block, still within the snaplen
    /// (readers cut a packet to it).
    pub fn can_grow(&self, spot: Spot, by: usize) -> bool {
        let fits = self.reader.snaplen(spot.interface).is_none_or(|snaplen| {
            u64::try_from(spot.len + by).is_ok_and(|len| len <= u64::from(snaplen))
        });
        fits && match self.reader.format() {
            Format::Pcap { .. } => true,
            Format::PcapNg => self.block_order(spot).is_some(),
        }
    }

    /// The byte order of the Enhanced Packet Block at `spot` (`Some(true)` little
    /// endian), `None` for other blocks.
    fn block_order(&self, spot: Spot) -> Option<bool> {
        let spool = self.spool.borrow();
        match spool.span(spot.offset, spot.offset + 4).ok()? {
            [6, 0, 0, 0] => Some(true),
            [0, 0, 0, 6] => Some(false),
            _ => None,
        }
    }

    /// Replaces the packet at `spot` (the latest record, or one after the last
    /// replaced) with `data`: as long as it was, or longer where
    /// [`Rewriter::can_grow`] says so (the caller asks; only the container's
    /// kind is checked here). Shorter data, or longer where the container cannot
    /// say so, is refused with [`io::ErrorKind::InvalidInput`].
    pub fn replace(&mut self, spot: Spot, data: &[u8]) -> io::Result<()> {
        if data.len() == spot.len {
            self.write_through(spot.data_offset)?;
            self.out.write_all(data)?;
            self.spool
                .borrow_mut()
                .consume(spot.data_offset + spot.len as u64);
            return Ok(());
        }
        let refuse = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what));
        if data.len() < spot.len {
            return refuse("a replacement packet may not be shorter");
        }
        let grown = data.len() - spot.len;
        let captured = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too long"))?;
        let original = spot
            .original_len
            .saturating_add(u32::try_from(grown).unwrap_or(u32::MAX));
        match self.reader.format() {
            Format::Pcap { big_endian, .. } => {
                let word = |v: u32| {
                    if big_endian {
                        v.to_be_bytes()
                    } else {
                        v.to_le_bytes()
                    }
                };
                // Record header: seconds, fraction, captured length, original
                // length (the "modified" format adds fields after these).
                self.write_through(spot.offset + 8)?;
                self.out.write_all(&word(captured))?;
                self.out.write_all(&word(original))?;
                self.skip_to(spot.offset + 16);
                self.write_through(spot.data_offset)?;
                self.out.write_all(data)?;
                self.skip_to(spot.data_offset + spot.len as u64);
                Ok(())
            }
            Format::PcapNg => {
                let Some(little) = self.block_order(spot) else {
                    return refuse("only an Enhanced Packet Block can grow");
                };
                let read_word = |bytes: &[u8]| -> Option<u32> {
                    let bytes: [u8; 4] = bytes.try_into().ok()?;
                    Some(if little {
                        u32::from_le_bytes(bytes)
                    } else {
                        u32::from_be_bytes(bytes)
                    })
                };
                let word = |v: u32| {
                    if little {
                        v.to_le_bytes()
                    } else {
                        v.to_be_bytes()
                    }
                };
                let total = {
                    let spool = self.spool.borrow();
                    read_word(spool.span(spot.offset + 4, spot.offset + 8)?)
                        .ok_or_else(out_of_spool)?
                };
                let extra = padded(data.len()) - padded(spot.len);
                let new_total = total.saturating_add(u32::try_from(extra).unwrap_or(u32::MAX));
                let block_end = spot.offset + u64::from(total);
                // Type, total length, interface, timestamp (two words), captured
                // and original length, the data padded to 32 bits, options, and
                // the total length again.
                self.write_through(spot.offset + 4)?;
                self.out.write_all(&word(new_total))?;
                self.skip_to(spot.offset + 8);
                self.write_through(spot.offset + 20)?;
                self.out.write_all(&word(captured))?;
                self.out.write_all(&word(original))?;
                self.skip_to(spot.data_offset);
                self.out.write_all(data)?;
                let padding = padded(data.len()) - data.len();
                self.out
                    .write_all([0u8; 3].get(..padding.min(3)).unwrap_or_default())?;
                self.skip_to(spot.data_offset + padded(spot.len) as u64);
                self.write_through(block_end.saturating_sub(4))?;
                self.out.write_all(&word(new_total))?;
                self.skip_to(block_end);
                Ok(())
            }
        }
    }

    /// Writes the input through to offset `to`.
    fn write_through(&mut self, to: u64) -> io::Result<()> {
        copy_through(&self.spool, &mut self.out, to)
    }

    /// Drops the input bytes before `to` (they were replaced).
    fn skip_to(&mut self, to: u64) {
        self.spool.borrow_mut().consume(to);
    }

    /// Writes everything not yet written, including input the reader never
    /// reached (after a truncated or unreadable record), and hands back the
    /// output, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        let end = {
            let spool = self.spool.borrow();
            spool.at + (spool.bytes.len() - spool.head) as u64
        };
        self.write_through(end)?;
        {
            let mut spool = self.spool.borrow_mut();
            io::copy(&mut spool.inner, &mut self.out)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes the spool's bytes up to input offset `to`.
fn copy_through<R, W: Write>(spool: &RefCell<Spool<R>>, out: &mut W, to: u64) -> io::Result<()> {
    let mut spool = spool.borrow_mut();
    if to <= spool.at {
        return Ok(());
    }
    let from = spool.at;
    out.write_all(spool.span(from, to)?)?;
    spool.consume(to);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn pcap(big_endian: bool, packets: &[&[u8]]) -> Vec<u8> {
        let word = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut file = word(0xa1b2_c3d4).to_vec();
        file.extend(if big_endian {
            [0, 2, 0, 4]
        } else {
            [2, 0, 4, 0]
        });
        file.extend([0u8; 8]);
        file.extend(word(65535));
        file.extend(word(1));
        for (i, p) in packets.iter().enumerate() {
            file.extend(word(u32::try_from(i).unwrap_or(0)));
            file.extend(word(0));
            file.extend(word(u32::try_from(p.len()).unwrap_or(0)));
            file.extend(word(u32::try_from(p.len()).unwrap_or(0) + 10));
            file.extend_from_slice(p);
        }
        file
    }

    /// Replaces packet `which` with `with` and returns the output.
    fn rewrite(input: &[u8], which: u64, with: &[u8]) -> Vec<u8> {
        let mut rewriter = Rewriter::new(input, Vec::new()).expect("header");
        while let Some(record) = rewriter.next_record().expect("record") {
            if record.number == which {
                let spot = record.spot();
                rewriter.replace(spot, with).expect("replace");
            }
        }
        rewriter.finish().expect("finish")
    }

    #[test]
    fn unchanged_copy_is_identical() {
        let input = pcap(false, &[b"abc", b"defgh", b""]);
        assert_eq!(rewrite(&input, 0, b""), input);
    }

    #[test]
    fn same_length_replacement_changes_only_those_bytes() {
        let input = pcap(true, &[b"abc", b"defgh", b"ij"]);
        let output = rewrite(&input, 2, b"DEFGH");
        let mut expected = input.clone();
        let at = 24 + 16 + 3 + 16;
        expected[at..at + 5].copy_from_slice(b"DEFGH");
        assert_eq!(output, expected);
    }

    #[test]
    fn pcap_records_grow_with_their_lengths() {
        for big_endian in [false, true] {
            let input = pcap(big_endian, &[b"abc", b"defgh", b"ij"]);
            let output = rewrite(&input, 2, b"defghXYZW");
            assert_eq!(output, pcap(big_endian, &[b"abc", b"defghXYZW", b"ij"]));
        }
    }

    fn pcapng_epb(little: bool, data: &[u8], options: &[u8]) -> Vec<u8> {
        let word = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let len = |n: usize| u32::try_from(n).unwrap_or(0);
        let total = 32 + padded(data.len()) + options.len();
        let mut block = word(6).to_vec();
        block.extend(word(len(total)));
        block.extend(word(0));
        block.extend(word(0));
        block.extend(word(7));
        block.extend(word(len(data.len())));
        block.extend(word(len(data.len()) + 10));
        block.extend_from_slice(data);
        block.extend(vec![0u8; padded(data.len()) - data.len()]);
        block.extend_from_slice(options);
        block.extend(word(len(total)));
        block
    }

    fn pcapng(little: bool, packets: &[&[u8]]) -> Vec<u8> {
        let word = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let mut file = word(0x0a0d_0d0a).to_vec();
        file.extend(word(28));
        file.extend(word(0x1a2b_3c4d));
        file.extend(if little { [1, 0, 0, 0] } else { [0, 1, 0, 0] });
        file.extend([0xff; 8]);
        file.extend(word(28));
        // Interface description: Ethernet, snaplen 65535.
        file.extend(word(1));
        file.extend(word(20));
        file.extend(if little { [1, 0, 0, 0] } else { [0, 1, 0, 0] });
        file.extend(word(65535));
        file.extend(word(20));
        // An option (comment "hi") on every packet, which must survive.
        let options = {
            let mut o = Vec::new();
            o.extend(if little { [1, 0, 2, 0] } else { [0, 1, 0, 2] });
            o.extend(b"hi\0\0");
            o.extend([0u8; 4]);
            o
        };
        for p in packets {
            file.extend(pcapng_epb(little, p, &options));
        }
        file
    }

    #[test]
    fn pcapng_enhanced_packet_blocks_grow_with_padding_and_totals() {
        for little in [true, false] {
            for (old, new) in [
                (&b"abcd"[..], &b"abcdWXYZ"[..]),
                (b"abc", b"abcdefg"),
                (b"ab", b"abcde"),
            ] {
                let input = pcapng(little, &[b"first", old, b"last"]);
                let output = rewrite(&input, 2, new);
                assert_eq!(output, pcapng(little, &[b"first", new, b"last"]));
                // And the reader agrees.
                let mut reader = Reader::new(&output[..]).expect("header");
                let mut seen = Vec::new();
                while let Some(r) = reader.next_record().expect("record") {
                    seen.push((r.data.to_vec(), r.original_len));
                }
                let want_len = u32::try_from(new.len()).unwrap_or(0) + 10;
                assert_eq!(seen[1], (new.to_vec(), want_len));
            }
        }
    }

    #[test]
    fn growth_stays_within_the_snaplen() {
        let mut input = pcap(false, &[b"abc"]);
        // snaplen 5: "abc" may grow by 2, not by 3.
        input[16..20].copy_from_slice(&5u32.to_le_bytes());
        let mut rewriter = Rewriter::new(&input[..], Vec::new()).expect("header");
        let record = rewriter.next_record().expect("ok").expect("a record");
        let spot = record.spot();
        assert!(rewriter.can_grow(spot, 2));
        assert!(!rewriter.can_grow(spot, 3));
    }

    #[test]
    fn shorter_replacements_are_refused() {
        let input = pcap(false, &[b"abc"]);
        let mut rewriter = Rewriter::new(&input[..], Vec::new()).expect("header");
        let record = rewriter.next_record().expect("ok").expect("a record");
        let spot = record.spot();
        let err = rewriter.replace(spot, b"ab").expect_err("shorter");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_truncated_tail_is_copied_as_it_was() {
        let mut input = pcap(false, &[b"abc", b"defgh"]);
        input.truncate(input.len() - 2);
        let mut rewriter = Rewriter::new(&input[..], Vec::new()).expect("header");
        let mut got = 0;
        loop {
            match rewriter.next_record() {
                Ok(Some(_)) => got += 1,
                Ok(None) => break,
                Err(e) => {
                    assert!(e.is_truncation(), "{e}");
                    break;
                }
            }
        }
        assert_eq!(got, 1);
        assert_eq!(rewriter.finish().expect("finish"), input);
    }

    #[test]
    fn large_inputs_stream_through_the_spool() {
        let big = vec![0x5au8; 3000];
        let packets: Vec<&[u8]> = (0..2000).map(|_| &big[..]).collect();
        let input = pcap(false, &packets);
        let mut replaced = big.clone();
        replaced[0] = 1;
        let output = rewrite(&input, 1500, &replaced);
        assert_eq!(output.len(), input.len());
        let differs: Vec<usize> = (0..input.len())
            .filter(|&i| input[i] != output[i])
            .collect();
        assert_eq!(differs.len(), 1);
    }
}
