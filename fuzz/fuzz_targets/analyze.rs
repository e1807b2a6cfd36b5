//! The analyzer over arbitrary packet sequences: TCP segments between a few
//! endpoints (both families, any flags, sequence numbers, options, payload sizes,
//! TTLs and capture points, times that jump back and forth), IP fragments, and raw
//! frames, fed through the wire decoder as `mss analyze` does. No panic; every
//! packet counted once; every connection reported once, with an id of its own; no
//! report of a connection seen at one capture point claims a send MSS above what
//! the peer announced (or Linux's floor of 48 where the peer announced less,
//! `tcp_min_snd_mss`; an announced 0 counts as absent, as Linux ignores it).
//! Open connections are reported too (`mss watch`'s interim reports), never after
//! their final report, and `mss watch`'s rolling state takes every report and
//! keeps nothing of a connection once it has ended.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use mss_analyze::watch::Watch;
use mss_analyze::{Analyzer, Config, ConnectionReport};
use mss_wire::packet::{Link, decode};

/// Reads bytes off the front of the fuzz input.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([
            self.u8()?,
            self.u8()?,
            self.u8()?,
            self.u8()?,
        ]))
    }
}

/// One IP packet (TCP, or a fragment of one) from the next fuzz bytes.
fn packet(b: &mut Bytes<'_>) -> Option<Vec<u8>> {
    let shape = b.u8()?;
    let v6 = shape & 1 != 0;
    // Two hosts per family; which one sends.
    let forward = shape & 2 != 0;
    let (sport, dport): (u16, u16) = if forward {
        (40_000, 443)
    } else {
        (443, 40_000)
    };
    let port_jitter = u16::from(shape >> 6);
    let flags = b.u8()?;
    let seq = b.u32()?;
    let ack = b.u32()?;
    let ttl = b.u8()?;
    let payload = usize::from(b.u16()? % 3000);
    // Options: an MSS, maybe timestamps and a window scale, or raw bytes.
    let mut options = Vec::new();
    let kind = b.u8()?;
    if kind & 1 != 0 {
        let mss = b.u16()?;
        options.extend([2, 4]);
        options.extend(mss.to_be_bytes());
    }
    if kind & 2 != 0 {
        options.extend([1, 1, 8, 10]);
        options.extend(b.u32()?.to_be_bytes());
        options.extend(0u32.to_be_bytes());
    }
    if kind & 4 != 0 {
        options.extend([1, 3, 3, 7]);
    }
    if kind & 8 != 0 {
        for _ in 0..(kind >> 4) {
            options.push(b.u8()?);
        }
    }
    while options.len() % 4 != 0 {
        options.push(0);
    }
    options.truncate(40);
    let mut tcp = Vec::with_capacity(20 + options.len() + payload);
    tcp.extend((sport + port_jitter).to_be_bytes());
    tcp.extend(dport.to_be_bytes());
    tcp.extend(seq.to_be_bytes());
    tcp.extend(ack.to_be_bytes());
    tcp.push(u8::try_from((20 + options.len()) / 4).unwrap_or(15) << 4);
    tcp.push(flags);
    tcp.extend(64_240u16.to_be_bytes());
    tcp.extend([0, 0, 0, 0]);
    tcp.extend(&options);
    tcp.resize(tcp.len() + payload, 0x61);
    // Fragments: offset in 8-byte units and more-fragments, now and then.
    let fragment = if kind & 0x80 != 0 { b.u16()? } else { 0 };
    let mut ip = if v6 {
        let mut h = vec![0x60, 0, 0, 0];
        let extra = if fragment != 0 { 8 } else { 0 };
        h.extend(
            u16::try_from(tcp.len() + extra)
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        h.push(if fragment != 0 { 44 } else { 6 });
        h.push(ttl);
        let (a, z) = if forward { (1, 2) } else { (2, 1) };
        h.extend([0xfd, 0, 0, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, a]);
        h.extend([0xfd, 0, 0, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, z]);
        if fragment != 0 {
            h.extend([6, 0]);
            h.extend((fragment & 0xfff9).to_be_bytes());
            h.extend(7u32.to_be_bytes());
        }
        h
    } else {
        let mut h = vec![0x45, 0];
        h.extend(
            u16::try_from(20 + tcp.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        h.extend(b.u16().unwrap_or(1).to_be_bytes());
        h.extend((fragment & 0x3fff).to_be_bytes());
        h.push(ttl);
        h.push(6);
        h.extend([0, 0]);
        let (a, z) = if forward { (1, 2) } else { (2, 1) };
        h.extend([10, 81, 0, a, 10, 81, 0, z]);
        h
    };
    ip.extend(tcp);
    Some(ip)
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let mut analyzer = Analyzer::new(Config {
        max_connections: 8,
        idle_timeout_ns: 30_000_000_000,
        linger_ns: 2_000_000_000,
        // Open connections reported too, as for `mss watch`, whose rolling state
        // takes every report.
        interim_every_ns: Some(5_000_000_000),
        // The time series too, for `mss analyze --html` and `--segments`.
        segments: true,
    });
    let mut watch = Watch::new(Vec::new());
    let mut interim_ids: BTreeSet<u64> = BTreeSet::new();
    let mut ts: u64 = 1_700_000_000_000_000_000;
    let mut fed = 0u64;
    let mut reports: Vec<ConnectionReport> = Vec::new();
    while let Some(step) = b.u8() {
        // Time goes on by up to ~65 s, or back a little (merged captures).
        let delta = u64::from(b.u16().unwrap_or(0)) * 1_000_000;
        ts = if step & 0x80 != 0 {
            ts.saturating_sub(delta / 64)
        } else {
            ts + delta
        };
        let point = usize::from(step & 3);
        let frame = if step & 0x40 != 0 {
            // A raw frame of arbitrary bytes.
            let len = usize::from(b.u8().unwrap_or(0));
            let take = len.min(b.0.len());
            let (frame, rest) = b.0.split_at(take);
            b.0 = rest;
            frame.to_vec()
        } else {
            match packet(&mut b) {
                Some(p) => p,
                None => break,
            }
        };
        fed += 1;
        match decode(Link::Raw, &frame) {
            Ok(Some(packet)) => analyzer.on_packet(point, fed, ts, &packet),
            Ok(None) => analyzer.on_not_ip(),
            Err((offset, error)) => analyzer.on_undecodable(point, fed, offset, &error),
        }
        while let Some(report) = analyzer.poll_interim() {
            assert!(
                !reports.iter().any(|r| r.id == report.id),
                "#{}: an interim report after the final one",
                report.id
            );
            interim_ids.insert(report.id);
            watch.observe(&report, false);
        }
        while let Some(report) = analyzer.poll_finished() {
            watch.observe(&report, true);
            reports.push(report);
        }
    }
    analyzer.end();
    while let Some(report) = analyzer.poll_finished() {
        watch.observe(&report, true);
        reports.push(report);
    }
    assert_eq!(watch.open_connections(), 0, "the rolling state forgets ended connections");
    assert_eq!(watch.totals.ended, reports.len() as u64);
    let summary = analyzer.summary();
    assert_eq!(summary.packets, fed, "every packet counted once");
    assert_eq!(analyzer.live_connections(), 0);
    let ids: BTreeSet<u64> = reports.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), reports.len(), "each connection reported once");
    assert!(interim_ids.is_subset(&ids), "every connection reported open also ends");
    // The MSS bound where one capture point saw the connection: with several, a
    // SYN may differ between them in ways the report states only partly (an option
    // removed on the way is not a finding yet).
    for report in reports.iter().filter(|r| r.points.len() == 1) {
        for (me, peer) in [
            (&report.client, &report.server),
            (&report.server, &report.client),
        ] {
            // An MSS of 0 is ignored, as Linux does (tcp_parse_options()): the
            // default applies, as if absent.
            let announced = peer.syn_mss.value().filter(|&v| v != 0);
            if let (Some(send), Some(announced)) = (me.handshake_send_mss, announced) {
                assert!(
                    send <= u32::from(announced).max(48),
                    "#{}: send MSS {send} above the peer's {announced}: {report:#?}",
                    report.id
                );
            }
        }
    }
});
