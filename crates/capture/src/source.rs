//! A read buffer that hands out borrowed slices of the input and knows the file
//! offset of every byte.
//!
//! Two ways to feed it. Direct: `read()` into the buffer on the caller's thread.
//! Threaded: a reader thread fills large chunks while the caller works on the
//! previous one, so the copy out of the page cache (about a fifth of the time of an
//! analysis) overlaps with the work; chunks have head room in front, so a record
//! that spans two chunks needs only its tail copied, not the chunk.

use std::io::{self, Read};
use std::sync::mpsc::{self, TryRecvError};
use std::thread;

/// The buffer starts small (a short input never pays for a large one) and doubles
/// whenever it runs full, up to `READ_CAPACITY`: large reads keep a plain `read()`
/// loop at memory speed.
const INITIAL_CAPACITY: usize = 64 << 10;
const READ_CAPACITY: usize = 4 << 20;

/// Head room in front of each threaded chunk for the tail of the previous one: a
/// record up to this size spans chunks with one small copy.
const HEAD_ROOM: usize = 256 << 10;
/// Bytes a reader thread reads into each chunk.
const CHUNK: usize = 2 << 20;
/// Chunks in flight between the reader thread and the caller.
const CHUNKS: usize = 3;

/// A chunk read by the thread: data in `buf[HEAD_ROOM..HEAD_ROOM + len]`.
struct Chunk {
    buf: Vec<u8>,
    len: usize,
}

/// Where the bytes come from.
enum Feed<R> {
    Direct(R),
    Threaded {
        full: mpsc::Receiver<io::Result<Chunk>>,
        empty: mpsc::Sender<Vec<u8>>,
    },
}

/// Buffered input with absolute offsets.
pub(crate) struct Source<R> {
    feed: Feed<R>,
    buf: Vec<u8>,
    /// `buf` came from the threaded feed's pool and must go back to it (the reader
    /// thread only ever has the pool's buffers to fill).
    pooled: bool,
    /// First unconsumed byte in `buf`.
    start: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
    /// An error from the reading thread taken while looking ahead
    /// ([`Source::ready_for`]), for the next read to return.
    failed: Option<io::Error>,
}

impl<R> core::fmt::Debug for Source<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Source")
            .field("offset", &self.offset)
            .field("available", &(self.end - self.start))
            .field("threaded", &matches!(self.feed, Feed::Threaded { .. }))
            .finish()
    }
}

impl<R: Read + Send + 'static> Source<R> {
    /// A source whose reading happens on a thread of its own. The thread ends at the
    /// end of the input, on an error, or when the source is dropped (after its
    /// current `read()` returns). Fails only if the thread cannot be started.
    ///
    /// `eager`: hand over what each `read()` returns at once, for a pipe or a live
    /// source whose bytes come as they happen; otherwise chunks are filled whole
    /// (a file reads at memory speed in large chunks).
    pub(crate) fn threaded(mut reader: R, eager: bool) -> io::Result<Source<R>> {
        let (full_tx, full) = mpsc::sync_channel::<io::Result<Chunk>>(CHUNKS - 1);
        let (empty, empty_rx) = mpsc::channel::<Vec<u8>>();
        for _ in 0..CHUNKS {
            // Never fails: the receiver is alive until the thread starts.
            let _ = empty.send(vec![0; HEAD_ROOM + CHUNK]);
        }
        thread::Builder::new()
            .name("mss-capture-read".into())
            .spawn(move || {
                while let Ok(mut buf) = empty_rx.recv() {
                    let mut len = 0;
                    let mut eof = false;
                    while len < CHUNK {
                        let Some(space) = buf.get_mut(HEAD_ROOM + len..) else {
                            break;
                        };
                        match reader.read(space) {
                            Ok(0) => {
                                eof = true;
                                break;
                            }
                            Ok(n) => {
                                len += n;
                                if eager {
                                    break;
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                // What was read before the error comes first.
                                if len > 0 {
                                    let _ = full_tx.send(Ok(Chunk { buf, len }));
                                }
                                let _ = full_tx.send(Err(e));
                                return;
                            }
                        }
                    }
                    if full_tx.send(Ok(Chunk { buf, len })).is_err() {
                        return;
                    }
                    if eof {
                        // The end, said explicitly: a thread that is just gone
                        // (a panicking reader) is then an error, not the end.
                        if len > 0 {
                            let _ = full_tx.send(Ok(Chunk {
                                buf: Vec::new(),
                                len: 0,
                            }));
                        }
                        return;
                    }
                }
            })?;
        Ok(Source::new_with(Feed::Threaded { full, empty }))
    }
}

impl<R: Read> Source<R> {
    pub(crate) fn new(reader: R) -> Source<R> {
        Source::new_with(Feed::Direct(reader))
    }

    fn new_with(feed: Feed<R>) -> Source<R> {
        let initial = match feed {
            Feed::Direct(_) => INITIAL_CAPACITY,
            Feed::Threaded { .. } => 0,
        };
        Source {
            feed,
            buf: vec![0; initial],
            pooled: false,
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            failed: None,
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
        match &mut self.feed {
            Feed::Direct(_) => self.refill_direct(need),
            Feed::Threaded { .. } => self.refill_threaded(need),
        }
    }

    fn refill_direct(&mut self, need: usize) -> io::Result<usize> {
        let Feed::Direct(reader) = &mut self.feed else {
            return Ok(self.available());
        };
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
        while self.end - self.start < need {
            let Some(space) = self.buf.get_mut(self.end..) else {
                break;
            };
            match reader.read(space) {
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

    fn refill_threaded(&mut self, need: usize) -> io::Result<usize> {
        while self.end - self.start < need && !self.eof {
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            let Feed::Threaded { full, .. } = &self.feed else {
                break;
            };
            match full.recv() {
                Ok(Ok(chunk)) => self.take(chunk),
                Ok(Err(e)) => return Err(e),
                // Gone without saying the end: it failed.
                Err(_) => return Err(self.thread_gone()),
            }
        }
        Ok(self.available())
    }

    /// Whether `need` bytes are there (or the input ended, or failed) without
    /// waiting: takes in what the reading thread has ready, never blocks. A direct
    /// source says yes (it reads on the caller's thread, from a file).
    pub(crate) fn ready_for(&mut self, need: usize) -> bool {
        loop {
            if self.end - self.start >= need || self.eof || self.failed.is_some() {
                return true;
            }
            let Feed::Threaded { full, .. } = &self.feed else {
                return true;
            };
            match full.try_recv() {
                Ok(Ok(chunk)) => self.take(chunk),
                Ok(Err(e)) => self.failed = Some(e),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => {
                    let e = self.thread_gone();
                    self.failed = Some(e);
                }
            }
        }
    }

    /// The reading thread ended without saying the end: an error, never the end.
    fn thread_gone(&mut self) -> io::Error {
        self.eof = true;
        io::Error::other("the capture's reading thread stopped before the end of the input")
    }

    /// Adds a chunk from the reading thread after the unread bytes.
    fn take(&mut self, chunk: Chunk) {
        let Feed::Threaded { empty, .. } = &self.feed else {
            return;
        };
        if chunk.len == 0 {
            self.eof = true;
            let _ = empty.send(chunk.buf);
            return;
        }
        let tail = self.end - self.start;
        if tail <= HEAD_ROOM {
            // The usual case: the unread tail goes into the new chunk's head room.
            let mut next = chunk.buf;
            if let (Some(to), Some(from)) = (
                next.get_mut(HEAD_ROOM - tail..HEAD_ROOM),
                self.buf.get(self.start..self.end),
            ) {
                to.copy_from_slice(from);
            }
            let old = std::mem::replace(&mut self.buf, next);
            self.start = HEAD_ROOM - tail;
            self.end = HEAD_ROOM + chunk.len;
            if std::mem::replace(&mut self.pooled, true) {
                // A buffer grown for a large record is replaced by a new one.
                let back = if old.len() == HEAD_ROOM + CHUNK {
                    old
                } else {
                    vec![0; HEAD_ROOM + CHUNK]
                };
                let _ = empty.send(back);
            }
        } else {
            // A record larger than the head room: append to the current buffer.
            self.buf.copy_within(self.start..self.end, 0);
            self.end = tail;
            self.start = 0;
            self.buf.truncate(tail);
            self.buf.extend_from_slice(
                chunk
                    .buf
                    .get(HEAD_ROOM..HEAD_ROOM + chunk.len)
                    .unwrap_or_default(),
            );
            self.end = self.buf.len();
            let _ = empty.send(chunk.buf);
        }
    }

    /// The next `len` available bytes, not consumed.
    #[inline]
    pub(crate) fn peek(&self, len: usize) -> &[u8] {
        self.buf
            .get(self.start..self.start + len.min(self.available()))
            .unwrap_or_default()
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
        self.buf
            .get(self.start + from.min(to)..self.start + to)
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
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

    /// The threaded feed returns the same bytes as reading directly, across chunk
    /// boundaries and for records larger than the head room.
    #[test]
    fn threaded_matches_direct() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12_345))
            .map(|i| u8::try_from(i % 251).unwrap_or(0))
            .collect();
        for step in [7usize, 4096, HEAD_ROOM + 1000, CHUNK + 3, 1] {
            let mut direct = Source::new(io::Cursor::new(data.clone()));
            let mut threaded = Source::threaded(io::Cursor::new(data.clone()), false)
                .unwrap_or_else(|e| panic!("{e}"));
            loop {
                let a = direct.fill(step).unwrap_or(0);
                let b = threaded.fill(step).unwrap_or(0);
                assert_eq!(a.min(step), b.min(step), "step {step}");
                assert_eq!(
                    direct.peek(step),
                    threaded.peek(step),
                    "step {step} at {}",
                    direct.offset()
                );
                if a == 0 {
                    break;
                }
                direct.consume(step);
                threaded.consume(step);
                assert_eq!(direct.offset(), threaded.offset());
            }
            assert_eq!(threaded.offset(), data.len() as u64);
        }
    }

    /// Records larger than the head room, many times over: the pool of chunks
    /// must never run dry (that would stall the reader thread).
    #[test]
    fn threaded_survives_repeated_large_records() {
        let data: Vec<u8> = (0..(12 * CHUNK))
            .map(|i| u8::try_from(i % 253).unwrap_or(0))
            .collect();
        let mut threaded = Source::threaded(io::Cursor::new(data.clone()), false)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut at = 0usize;
        let mut big = true;
        while at < data.len() {
            let step = if big { HEAD_ROOM * 3 } else { 100 };
            big = !big;
            let got = threaded.fill(step).unwrap_or(0);
            let want = step.min(data.len() - at);
            assert!(got >= want);
            assert_eq!(threaded.peek(want), &data[at..at + want]);
            threaded.consume(want);
            at += want;
        }
        assert_eq!(threaded.fill(1).unwrap_or(9), 0);
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

    /// A reader that panics after some bytes, as a broken device or a bug in a
    /// custom `Read` would.
    struct Panics(usize);

    impl Read for Panics {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                panic!("the reader broke");
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }

    /// Regression: a reading thread that died was taken for the end of the input.
    #[test]
    fn a_reading_thread_that_dies_is_an_error_not_the_end() {
        let mut threaded =
            Source::threaded(Panics(3 * CHUNK), false).unwrap_or_else(|e| panic!("{e}"));
        let mut result = Ok(0);
        for _ in 0..10 {
            result = threaded.fill(CHUNK);
            match &result {
                Ok(n) if *n > 0 => threaded.consume(*n),
                _ => break,
            }
        }
        let err = result.expect_err("the thread died");
        assert!(err.to_string().contains("stopped before the end"), "{err}");
    }
}
