//! A read buffer that hands out borrowed slices of the input and knows the file
//! offset of every byte.

use std::io::{self, Read};

/// The buffer starts small (a short input never pays for a large one) and doubles
/// whenever it runs full, up to `READ_CAPACITY`: large reads keep a plain `read()`
/// loop at memory speed.
const INITIAL_CAPACITY: usize = 64 << 10;
const READ_CAPACITY: usize = 4 << 20;

/// Buffered input with absolute offsets.
#[derive(Debug)]
pub(crate) struct Source<R> {
    reader: R,
    buf: Vec<u8>,
    /// First unconsumed byte in `buf`.
    start: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(reader: R) -> Source<R> {
        Source {
            reader,
            buf: vec![0; INITIAL_CAPACITY],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    /// File offset of the next unconsumed byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes available without reading.
    #[inline]
    pub(crate) fn available(&self) -> usize {
        self.end - self.start
    }

    /// Makes at least `need` bytes available, reading as needed; returns how many are
    /// available (fewer than `need` only at the end of the input). `need` must have
    /// been bounded by the caller: the buffer grows to hold it.
    #[inline]
    pub(crate) fn fill(&mut self, need: usize) -> io::Result<usize> {
        if self.available() >= need || self.eof {
            return Ok(self.available());
        }
        self.refill(need)
    }

    /// The slow path of `fill`: make room and read.
    #[cold]
    #[inline(never)]
    fn refill(&mut self, need: usize) -> io::Result<usize> {
        if self.start + need > self.buf.len() {
            // Move what is left to the front; grow if one record is larger than the
            // buffer, or towards the read size once the buffer has run full.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            let wanted = need.max((self.buf.len() * 2).min(READ_CAPACITY));
            if wanted > self.buf.len() {
                self.buf.resize(wanted.next_power_of_two(), 0);
            }
        }
        while self.available() < need {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.available())
    }

    /// The next `len` available bytes, not consumed.
    #[inline]
    pub(crate) fn peek(&self, len: usize) -> &[u8] {
        &self.buf[self.start..self.start + len.min(self.available())]
    }

    /// Consumes `len` bytes (at most what is available).
    #[inline]
    pub(crate) fn consume(&mut self, len: usize) {
        let len = len.min(self.available());
        self.start += len;
        self.offset += len as u64;
    }

    /// Bytes `from..to` of the available data, where `from` and `to` count from the
    /// next unconsumed byte; used after `fill` made them available.
    #[inline]
    pub(crate) fn slice(&self, from: usize, to: usize) -> &[u8] {
        let to = to.min(self.available());
        &self.buf[self.start + from.min(to)..self.start + to]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns one byte per call, to exercise refills.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), out.first_mut()) {
                (Some((first, rest)), Some(slot)) => {
                    *slot = *first;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn fills_across_small_reads_and_tracks_offsets() {
        let data: Vec<u8> = (0..=255).collect();
        let mut source = Source::new(Trickle(&data));
        assert_eq!(source.fill(10).ok(), Some(10));
        assert_eq!(source.peek(3), &[0, 1, 2]);
        source.consume(5);
        assert_eq!(source.offset(), 5);
        assert_eq!(source.fill(100).ok(), Some(100));
        assert_eq!(source.slice(0, 2), &[5, 6]);
        source.consume(100);
        assert_eq!(source.fill(1000).ok(), Some(151));
        source.consume(151);
        assert_eq!(source.fill(1).ok(), Some(0));
        assert_eq!(source.offset(), 256);
    }
}
