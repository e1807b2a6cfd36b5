//! `mss probe path HOST`: the path MTU hop by hop, as tracepath does (probes with
//! DF set via IP_PMTUDISC_PROBE, answers from the socket's error queue), and
//! through ICMP black holes: when oversized probes vanish without a "too big" while
//! small ones are answered, the largest size that gets through is searched for
//! (`mss_rules::plpmtud`, RFC 4821/8899), and the hop after which ICMP goes
//! missing is named.
//!
//! The probes are UDP to a closed port (unprivileged), or where UDP is filtered
//! TCP SYNs or ICMP echo requests (`probes`). Each hop is printed as soon as it is
//! known. One probe is in flight at a time, at most 50 a second. A path MTU is only
//! ever concluded from an answer: when the target stays silent, what is known ends
//! at the last hop that answered.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mss_rules::plpmtud::{Action, Search};
use serde_json::{Value, json};

use super::probes::{Answer, Prober, Sent};
use crate::Failure;
use crate::cli::{ProbeMethod, ProbePathArgs};

/// Silent hops in a row that end the walk (a silent target behind them).
const SILENT_HOPS_TO_STOP: u8 = 5;
/// The longest wait for one probe.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// One line of the hop list.
struct Hop {
    ttl: u8,
    addr: Option<IpAddr>,
    /// The size of the probe this hop answered (for a silent hop: the size tried).
    mtu: u32,
    /// An MTU this hop reported in an ICMP too-big.
    reported_mtu: Option<u32>,
    reached: bool,
}

impl Hop {
    /// A hop that answered probes of `mtu` bytes from `addr` (`None`: silent).
    fn at(ttl: u8, addr: Option<IpAddr>, mtu: u32) -> Hop {
        Hop {
            ttl,
            addr,
            mtu,
            reported_mtu: None,
            reached: false,
        }
    }
}

/// Probe timeout: generous before the first answer, then a few RTTs.
fn timeout(rtt: Option<Duration>) -> Duration {
    rtt.map_or(Duration::from_millis(1000), |r| {
        (r * 4).max(Duration::from_millis(300))
    })
}

/// Prints hops as they are found (text), or collects them for one JSON object.
struct Report<'a, W: Write> {
    out: &'a mut W,
    json: bool,
    hops: Vec<Hop>,
    too_big: Vec<Value>,
}

impl<W: Write> Report<'_, W> {
    fn line(&mut self, text: &str) -> Result<(), Failure> {
        if !self.json {
            writeln!(self.out, "{text}")?;
            // As tracepath: each hop shows as soon as it is known.
            self.out.flush()?;
        }
        Ok(())
    }

    fn hop(&mut self, hop: Hop) -> Result<(), Failure> {
        let addr = hop.addr.map_or("*".to_string(), |a| a.to_string());
        let note = if hop.reached {
            "  reached"
        } else if hop.addr.is_none() {
            "  no answer"
        } else {
            ""
        };
        let line = format!("  {:>2}  {addr:<28} probes of {}{note}", hop.ttl, hop.mtu);
        self.line(&line)?;
        self.hops.push(hop);
        Ok(())
    }

    /// A too-big from `from`: noted on the hop that sent it.
    fn too_big(&mut self, ttl: u8, from: IpAddr, mtu: u32, size: u32) -> Result<(), Failure> {
        if let Some(hop) = self.hops.iter_mut().rev().find(|h| h.addr == Some(from)) {
            hop.reported_mtu = Some(mtu);
        }
        self.too_big.push(json!({
            "ttl": ttl,
            "addr": from.to_string(),
            "mtu": mtu,
            "probe_size": size,
        }));
        self.line(&format!(
            "      {from} says too big for probes of {size}: its next hop carries {mtu}"
        ))
    }
}

/// The target and port `probe path` was given: HOST, HOST:PORT or `[ADDR]:PORT`.
fn target(args: &ProbePathArgs) -> Result<SocketAddr, Failure> {
    const WHAT: &str = "a host name or address (e.g. 192.0.2.1 or 2001:db8::1), optionally \
                        HOST:PORT (IPv6 as [ADDR]:PORT)";
    let (host, port_in_host) = super::split_target(&args.host, WHAT)?;
    let port = match (args.method, port_in_host, args.port) {
        (_, Some(a), Some(b)) if a != b => {
            return Err(Failure::Input(format!(
                "\"{}\" says port {a} and --port says {b}; give one",
                args.host
            )));
        }
        (ProbeMethod::Icmp, Some(p), _) | (ProbeMethod::Icmp, None, Some(p)) => {
            return Err(Failure::Input(format!(
                "port {p}: ICMP echo probes have no port; drop it, or use --method udp or tcp"
            )));
        }
        (ProbeMethod::Icmp, None, None) => 0,
        (_, Some(p), _) | (_, None, Some(p)) => p,
        (ProbeMethod::Udp, None, None) => 33_434,
        (ProbeMethod::Tcp, None, None) => 80,
    };
    super::resolve(host, port, super::wanted_family(&args.family), WHAT)
}

/// What one TTL gave.
enum TtlResult {
    /// An answer to a probe of full size.
    Full(Answer),
    /// Only the small probes were answered: full-size ones vanish.
    SmallOnly,
    /// The interface toward the target refused the size: its MTU.
    TooBigHere(u32),
    Silent,
}

/// Probes one TTL: two probes of `size`, then (when `size` is above `floor`) two
/// of `floor`, each waiting longer than the one before. An answer to any of them
/// counts, however late within the hop's time: on a fresh path the first answers
/// wait for neighbour discovery and ICMP rate limits on the way back (a hop that
/// answers late is not a silent hop, as tracepath also retries).
fn probe_ttl(
    prober: &mut Prober,
    ttl: u8,
    size: u32,
    floor: u32,
    rtt: &mut Option<Duration>,
) -> Result<TtlResult, Failure> {
    let sizes: &[bool] = if size > floor {
        &[false, false, true, true]
    } else {
        &[false, false, false]
    };
    let (mut full, mut small) = (Vec::new(), Vec::new());
    for (attempt, &is_small) in sizes.iter().enumerate() {
        let id = match prober.send(if is_small { floor } else { size }, ttl)? {
            Sent::Probe(id) => id,
            Sent::TooBigHere(mtu) => return Ok(TtlResult::TooBigHere(mtu)),
        };
        if is_small { &mut small } else { &mut full }.push(id);
        let wait = (timeout(*rtt) * (1 << attempt.min(2))).min(MAX_WAIT);
        let wanted: Vec<u32> = full.iter().chain(&small).copied().collect();
        if let Some((id, answer, sample)) = prober.answer(&wanted, wait) {
            *rtt = Some(rtt.map_or(sample, |r| (r * 7 + sample) / 8));
            if full.contains(&id) {
                return Ok(TtlResult::Full(answer));
            }
            // A full-size answer may be queued right behind this one.
            if let Some((_, answer, _)) = prober.answer(&full, Duration::from_millis(50)) {
                return Ok(TtlResult::Full(answer));
            }
            return Ok(TtlResult::SmallOnly);
        }
    }
    Ok(TtlResult::Silent)
}

/// What the hop-by-hop walk found.
struct Walk {
    /// The size that got through last: the path MTU when the target was reached.
    size: u32,
    found_by_search: bool,
    /// The hop (and its address) after which big probes vanished without ICMP.
    blackhole_after: Option<(u8, Option<IpAddr>)>,
    reached: bool,
    search_probes: u32,
    ended_by_silence: bool,
}

/// Walks the path hop by hop from `first_link` bytes down, printing each hop.
fn walk<W: Write>(
    prober: &mut Prober,
    report: &mut Report<'_, W>,
    first_link: u32,
    floor: u32,
    max_hops: u8,
) -> Result<Walk, Failure> {
    let mut rtt: Option<Duration> = None;
    let mut walk = Walk {
        size: first_link,
        found_by_search: false,
        blackhole_after: None,
        reached: false,
        search_probes: 0,
        ended_by_silence: false,
    };
    let mut silent_in_a_row = 0;
    'hops: for ttl in 1..=max_hops {
        loop {
            match probe_ttl(prober, ttl, walk.size, floor, &mut rtt)? {
                TtlResult::TooBigHere(mtu) => {
                    walk.size = mtu.min(walk.size.saturating_sub(1)).max(floor);
                }
                TtlResult::Silent => {
                    report.hop(Hop::at(ttl, None, walk.size))?;
                    silent_in_a_row += 1;
                    if silent_in_a_row >= SILENT_HOPS_TO_STOP {
                        walk.ended_by_silence = true;
                        break 'hops;
                    }
                    continue 'hops;
                }
                TtlResult::SmallOnly => {
                    // The big ones vanish without a "too big": a black hole after the
                    // previous hop. Search to the target for what gets through.
                    walk.blackhole_after = Some((
                        ttl.saturating_sub(1),
                        report.hops.last().and_then(|h| h.addr),
                    ));
                    let (found, probes) = search(prober, floor, walk.size - 1)?;
                    walk.search_probes += probes;
                    walk.found_by_search = true;
                    walk.size = found;
                    // Walk on with the walk.size that gets through.
                }
                TtlResult::Full(answer) => {
                    silent_in_a_row = 0;
                    match answer {
                        Answer::TimeExceeded(addr) => {
                            report.hop(Hop::at(ttl, Some(addr), walk.size))?;
                            continue 'hops;
                        }
                        Answer::TooBig(mtu, from) => {
                            report.too_big(ttl, from, mtu, walk.size)?;
                            let next = if mtu >= 68 && mtu < walk.size {
                                mtu
                            } else {
                                walk.size - 1
                            };
                            walk.size = next.max(floor.min(walk.size));
                            if walk.size <= 68 {
                                break 'hops;
                            }
                        }
                        Answer::Reached(addr) => {
                            report.hop(Hop {
                                reached: true,
                                ..Hop::at(ttl, Some(addr), walk.size)
                            })?;
                            walk.reached = true;
                            break 'hops;
                        }
                        Answer::Unreachable(addr, kind, code) => {
                            report.hop(Hop::at(ttl, Some(addr), walk.size))?;
                            report.line(&format!(
                                "      {addr} says unreachable (ICMP type {kind} code {code})"
                            ))?;
                            break 'hops;
                        }
                    }
                }
            }
        }
    }
    Ok(walk)
}

pub(crate) fn run(args: &ProbePathArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let target = target(args)?;
    let mut prober = Prober::new(target, args.method)?;
    let started = Instant::now();
    let v6 = target.is_ipv6();
    // The smallest MTU every link must carry (RFC 791: 576 to be reassembled; RFC
    // 8200 section 5: 1280), where probing starts when big probes vanish.
    let floor = if v6 { 1280 } else { 576 };
    let first_link = prober.interface_mtu()?.min(65_535);
    let mut report = Report {
        out,
        json: args.json,
        hops: Vec::new(),
        too_big: Vec::new(),
    };
    let how_probed = match args.method {
        ProbeMethod::Udp => format!("UDP to port {}", target.port()),
        ProbeMethod::Tcp => format!("TCP SYNs to port {}", target.port()),
        ProbeMethod::Icmp => "ICMP echo".to_string(),
    };
    report.line(&format!(
        "mss probe path {} ({how_probed}, first link {first_link})",
        target.ip()
    ))?;
    let walk = walk(&mut prober, &mut report, first_link, floor, args.max_hops)?;
    let elapsed = started.elapsed();
    let code = if walk.reached {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_ERROR)
    };
    let ended = Ended {
        args,
        target,
        first_link,
        walk,
        probes: prober.sent,
        elapsed,
    };
    if args.json {
        let value = ended.json(&report);
        writeln!(report.out, "{value}")?;
        return Ok(code);
    }
    for line in crate::render::wrap(&ended.summary(&report), "", "  ") {
        writeln!(report.out, "{line}")?;
    }
    Ok(code)
}

/// A finished walk, for the closing summary.
struct Ended<'a> {
    args: &'a ProbePathArgs,
    target: SocketAddr,
    first_link: u32,
    walk: Walk,
    probes: u32,
    elapsed: Duration,
}

impl Ended<'_> {
    /// The last hop that answered: (hop, address, probe size, reported MTU).
    fn last_answer<W: Write>(
        report: &Report<'_, W>,
    ) -> Option<(u8, Option<IpAddr>, u32, Option<u32>)> {
        report
            .hops
            .iter()
            .rev()
            .find(|h| h.addr.is_some())
            .map(|h| (h.ttl, h.addr, h.mtu, h.reported_mtu))
    }

    fn method(&self) -> &'static str {
        if self.walk.found_by_search {
            "search"
        } else {
            "icmp"
        }
    }

    /// The `--json` result.
    fn json<W: Write>(&self, report: &Report<'_, W>) -> Value {
        let walk = &self.walk;
        let (args, target, first_link) = (self.args, self.target, self.first_link);
        let v6 = target.is_ipv6();
        let last_answer = Self::last_answer(report);
        let hop_list: Vec<Value> = report
            .hops
            .iter()
            .map(|h| {
                json!({
                    "hop": h.ttl,
                    "addr": h.addr.map(|a| a.to_string()),
                    "mtu": h.mtu,
                    "reported_mtu": h.reported_mtu,
                    "reached": h.reached,
                })
            })
            .collect();
        json!({
            "type": "probe_path",
            "target": target.ip().to_string(),
            "ip_version": if v6 { 6 } else { 4 },
            "probe_method": format!("{:?}", args.method).to_lowercase(),
            "port": (args.method != ProbeMethod::Icmp).then_some(target.port()),
            "reached": walk.reached,
            "path_mtu": walk.reached.then_some(walk.size),
            "method": walk.reached.then_some(self.method()),
            "first_link_mtu": first_link,
            "last_answering_hop": last_answer.map(|(ttl, ..)| ttl),
            "last_answering_addr": last_answer.and_then(|(_, a, ..)| a).map(|a| a.to_string()),
            "mtu_to_last_answering_hop": last_answer.map(|(_, _, mtu, _)| mtu),
            "icmp_dropped_after_hop": walk.blackhole_after.map(|(h, _)| h),
            "icmp_dropped_after_addr": walk.blackhole_after.and_then(|(_, a)| a).map(|a| a.to_string()),
            "hops": hop_list,
            "too_big": report.too_big,
            "probes": self.probes,
            "search_probes": walk.search_probes,
            "seconds": self.elapsed.as_secs_f64(),
        })
    }

    /// The closing summary in words.
    fn summary<W: Write>(&self, report: &Report<'_, W>) -> String {
        let walk = &self.walk;
        let (args, target, first_link) = (self.args, self.target, self.first_link);
        let v6 = target.is_ipv6();
        let last_answer = Self::last_answer(report);
        let probes = format!(
            "{}, {:.1} s.",
            super::plural(self.probes, "probe"),
            self.elapsed.as_secs_f64()
        );
        if walk.reached {
            let how = match walk.blackhole_after {
                Some((hop, addr)) if walk.found_by_search => format!(
                    "found by search: probes above it vanish after hop {hop}{} and no ICMP \
                     \"too big\" comes back (dropped: a PMTUD black hole)",
                    addr.map_or(String::new(), |a| format!(" ({a})"))
                ),
                _ if !report.too_big.is_empty() => "from ICMP too big".into(),
                _ => "nothing smaller than the first link on the way".into(),
            };
            format!(
                "path MTU {}: {how}; TCP MSS {} ({} with timestamps). {probes}",
                walk.size,
                walk.size.saturating_sub(if v6 { 60 } else { 40 }),
                walk.size.saturating_sub(if v6 { 72 } else { 52 }),
            )
        } else {
            let why = if walk.ended_by_silence {
                format!("{SILENT_HOPS_TO_STOP} silent hops in a row ended the walk")
            } else if report.hops.last().is_some_and(|h| h.addr.is_some()) {
                "an ICMP unreachable ended the walk".to_string()
            } else {
                format!("no answer within {} hops", args.max_hops)
            };
            let known = match last_answer {
                Some((ttl, addr, mtu, reported)) => format!(
                    "Known: probes of {mtu} bytes reach hop {ttl}{}{}; beyond it nothing is \
                     known (silence is not an MTU), so there is no path MTU to report.",
                    addr.map_or(String::new(), |a| format!(" ({a})")),
                    reported.map_or(String::new(), |r| format!(
                        ", and that hop said its next link carries {r}"
                    )),
                ),
                None => format!(
                    "Nothing answered, so the path MTU is unknown (the first link carries \
                     {first_link})."
                ),
            };
            let hint = match args.method {
                ProbeMethod::Udp => " If UDP is filtered on the way, try --method tcp or icmp.",
                _ => "",
            };
            format!(
                "target {} not reached: {why}. {known}{hint} {probes}",
                target.ip()
            )
        }
    }
}

/// The search to the destination (full TTL): the target's answer acknowledges a
/// size.
fn search(prober: &mut Prober, floor: u32, max: u32) -> Result<(u32, u32), Failure> {
    let mut search = Search::new(floor, max);
    // (id on the wire, the search's id) of the probe in flight.
    let mut in_flight: Option<(u32, u32)> = None;
    let started = Instant::now();
    let now_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    loop {
        let now = now_ms();
        if now > 60_000 {
            // Bounded: a minute at most, then what is confirmed.
            return Ok((search.confirmed(), search.probes));
        }
        match search.poll(now) {
            Action::Done { mtu } => return Ok((mtu, search.probes)),
            Action::Send { id, size } => match prober.send(size, 64)? {
                Sent::Probe(probe) => in_flight = Some((probe, id)),
                Sent::TooBigHere(mtu) => search.on_too_big(id, mtu),
            },
            Action::Wait { until } => {
                let wait = Duration::from_millis(until.saturating_sub(now));
                let Some((probe, id)) = in_flight.take() else {
                    std::thread::sleep(wait.min(Duration::from_millis(50)));
                    continue;
                };
                match prober.answer(&[probe], wait) {
                    Some((_, Answer::Reached(_), _)) => search.on_ack(id, now_ms()),
                    Some((_, Answer::TooBig(mtu, _), _)) => search.on_too_big(id, mtu),
                    // Silence: the search times it out at `until`.
                    _ => {}
                }
            }
        }
    }
}
