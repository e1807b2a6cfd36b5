//! The progress line of `mss analyze` on a terminal; the reading itself is the
//! mss-ingest crate.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use mss_ingest::{Input, Tick};

/// A progress line on standard error for large inputs, when it is a terminal.
pub(crate) struct Progress {
    enabled: bool,
    total: Option<u64>,
    last: Instant,
    shown: bool,
}

impl Progress {
    pub(crate) fn new(inputs: &[Input], disabled: bool) -> Progress {
        let total: Option<u64> = inputs.iter().map(|i| i.size).sum();
        let large = total.is_none_or(|t| t >= 64 << 20);
        Progress {
            enabled: !disabled && large && io::stderr().is_terminal(),
            total,
            last: Instant::now(),
            shown: false,
        }
    }

    pub(crate) fn tick(&mut self, tick: Tick) {
        let Tick {
            read_bytes: read,
            packets,
            live_connections: live,
        } = tick;
        if !self.enabled || self.last.elapsed() < Duration::from_millis(250) {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let percent = self
            .total
            .filter(|&t| t > 0)
            .map(|t| format!("{:>3}% ", read.saturating_mul(100) / t))
            .unwrap_or_default();
        let _ = write!(
            io::stderr(),
            "\rmss: {percent}{} MB read, {packets} packets, {live} open connections   ",
            read >> 20
        );
    }

    pub(crate) fn clear(&mut self) {
        if self.shown {
            let _ = write!(io::stderr(), "\r{:79}\r", "");
        }
    }
}
