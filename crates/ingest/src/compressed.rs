//! Compressed captures, read as they are: gzip (`tcpdump -w - | gzip`, what
//! tshark also reads) and zstd, told by their magic numbers rather than the file's
//! name, decompressed while streaming (the capture reader's thread does it, so it
//! overlaps with decoding and analysis, and memory stays bounded).
//!
//! gzip through flate2 (pure Rust, miniz_oxide), about 380 MB/s of output on this
//! project's 2-core machine; zstd through the `zstd` crate (the reference C
//! library, built by the C compiler Rust comes with, legacy formats off: 16 s of
//! build on 2 cores), 4.1 GB/s. The pure-Rust ruzstd (2.6 GB/s) was measured
//! too, but it keeps the last window of a frame (megabytes) until the frame ends,
//! so a file cut short would lose its last packets without a way to get them;
//! the C library hands out everything it decoded, then says the frame is
//! incomplete. Both decoders read several members or frames in a row.

use std::io::{self, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// How a capture is compressed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (RFC 1952), several members in a row included.
    Gzip,
    /// Zstandard (RFC 8878), several frames in a row included.
    Zstd,
}

impl Compression {
    /// `gzip` or `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression whose magic number starts `head`, if any.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        match head {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// Counts the bytes read through it, for progress through a compressed file,
/// and notes when they end.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
    ended: Arc<AtomicBool>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        if n == 0 && !buf.is_empty() {
            self.ended.store(true, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// A decoder whose error, once the compressed bytes have run out, says that the
/// file was cut short (an `UnexpectedEof`, which the capture reader reports as a
/// truncation: the packets before it are good).
struct Decoded<D> {
    decoder: D,
    compression: Compression,
    read: Arc<AtomicU64>,
    ended: Arc<AtomicBool>,
}

impl<D: Read> Read for Decoded<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.decoder.read(buf).map_err(|e| {
            if self.ended.load(Ordering::Relaxed) {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the {} data ends early: the file was cut short after {} compressed \
                         bytes ({e})",
                        self.compression.name(),
                        self.read.load(Ordering::Relaxed)
                    ),
                )
            } else {
                e
            }
        })
    }
}

/// A source that is read decompressed.
pub(crate) struct Opened {
    /// The bytes of the capture itself.
    pub(crate) reader: Box<dyn Read + Send>,
    /// Its compression, if it has one.
    pub(crate) compression: Option<Compression>,
    /// Compressed bytes consumed so far (for a compressed source).
    pub(crate) consumed: Option<Arc<AtomicU64>>,
}

/// Looks at the first bytes of `source` and, if they are a gzip or zstd magic
/// number, decompresses it as it is read.
pub(crate) fn open(source: Box<dyn Read + Send>) -> io::Result<Opened> {
    let consumed = Arc::new(AtomicU64::new(0));
    let ended = Arc::new(AtomicBool::new(false));
    let mut counting = Counting {
        inner: source,
        read: Arc::clone(&consumed),
        ended: Arc::clone(&ended),
    };
    // The first four bytes (a pipe may give them in pieces), put back in front.
    let mut head = Vec::with_capacity(4);
    while head.len() < 4 {
        let mut byte = [0u8; 4];
        let want = byte.get_mut(..4 - head.len()).unwrap_or_default();
        let n = match counting.read(want) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        head.extend_from_slice(want.get(..n).unwrap_or_default());
    }
    let compression = Compression::detect(&head);
    let buffered = BufReader::with_capacity(1 << 16, io::Cursor::new(head).chain(counting));
    let decoded = |decoder: Box<dyn Read + Send>, compression| -> Box<dyn Read + Send> {
        Box::new(Decoded {
            decoder,
            compression,
            read: Arc::clone(&consumed),
            ended: Arc::clone(&ended),
        })
    };
    let reader: Box<dyn Read + Send> = match compression {
        None => Box::new(buffered),
        Some(c @ Compression::Gzip) => {
            decoded(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)), c)
        }
        Some(c @ Compression::Zstd) => decoded(
            Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
            c,
        ),
    };
    Ok(Opened {
        reader,
        compression,
        consumed: compression.map(|_| consumed),
    })
}
