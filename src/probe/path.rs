//! `mss probe path HOST`: the path MTU hop by hop, as tracepath does (probes with
//! DF set via IP_PMTUDISC_PROBE, answers from the socket's error queue), and
//! through ICMP black holes: when oversized probes vanish without a "too big" while
//! small ones are answered, the largest size that gets through is searched for
//! (`mss_rules::plpmtud`, RFC 4821/8899) with probes that expire at the hop that
//! answered the small ones. Its time exceeded confirms each size, so the search
//! rests on answers up to there even when the target never answers; the walk then
//! goes on with the size found, so the routers after the black hole report their
//! own MTUs. The black-holed link is named between the hops around it.
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
    too_big: Vec<TooBig>,
}

/// An ICMP too-big that came back: from whom, for which probe.
#[derive(Copy, Clone, Debug)]
struct TooBig {
    /// The TTL of the probe it was about.
    ttl: u8,
    from: IpAddr,
    mtu: u32,
    probe_size: u32,
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
        self.too_big.push(TooBig {
            ttl,
            from,
            mtu,
            probe_size: size,
        });
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
    /// Only the small probes were answered (time exceeded, or the target): full-size
    /// ones vanish.
    SmallOnly(Answer),
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
            return Ok(match answer {
                Answer::TimeExceeded(_) | Answer::Reached(_) => TtlResult::SmallOnly(answer),
                // A too-big or an unreachable: the walk takes it as it comes.
                Answer::TooBig(..) | Answer::Unreachable(..) => TtlResult::Full(answer),
            });
        }
    }
    Ok(TtlResult::Silent)
}

/// A link that drops probes above `mtu` without an ICMP too-big: a PMTUD black
/// hole. It lies after the last hop that answered full-size probes and before the
/// hop that answered the search.
#[derive(Copy, Clone, Debug)]
struct BlackHole {
    /// The last hop that answered full-size probes (0: this host) and its address.
    after: (u8, Option<IpAddr>),
    /// The hop whose answers the search counted (its time exceeded, or the target).
    before: (u8, Option<IpAddr>),
    /// The largest size that crossed it.
    mtu: u32,
    /// Probes the search took.
    probes: u32,
}

/// What the hop-by-hop walk found.
struct Walk {
    /// The size that got through last: the path MTU when the target was reached.
    size: u32,
    /// The last change of `size` came from a search (not from an ICMP too-big).
    found_by_search: bool,
    /// Every black hole the walk crossed, in path order.
    black_holes: Vec<BlackHole>,
    reached: bool,
    ended_by_silence: bool,
}

impl Walk {
    fn search_probes(&self) -> u32 {
        self.black_holes.iter().map(|b| b.probes).sum()
    }
}

/// "hop 2 (10.0.0.1)", "hop 3", or "this host" for hop 0.
fn hop_name(hop: u8, addr: Option<IpAddr>) -> String {
    match (hop, addr) {
        (0, _) => "this host".to_string(),
        (hop, Some(addr)) => format!("hop {hop} ({addr})"),
        (hop, None) => format!("hop {hop}"),
    }
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
        black_holes: Vec::new(),
        reached: false,
        ended_by_silence: false,
    };
    let mut silent_in_a_row = 0;
    'hops: for ttl in 1..=max_hops {
        loop {
            let answer = match probe_ttl(prober, ttl, walk.size, floor, &mut rtt)? {
                TtlResult::TooBigHere(mtu) => {
                    walk.size = mtu.min(walk.size.saturating_sub(1)).max(floor);
                    continue;
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
                TtlResult::SmallOnly(small) => {
                    silent_in_a_row = 0;
                    cross_black_hole(prober, report, &mut walk, ttl, (floor, rtt), small)?
                }
                TtlResult::Full(answer) => {
                    silent_in_a_row = 0;
                    answer
                }
            };
            match answer {
                Answer::TimeExceeded(addr) => {
                    report.hop(Hop::at(ttl, Some(addr), walk.size))?;
                    continue 'hops;
                }
                Answer::TooBig(mtu, from) => {
                    report.too_big(ttl, from, mtu, walk.size)?;
                    walk.found_by_search = false;
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
    Ok(walk)
}

/// Full-size probes vanished at hop `ttl` while a small one was answered (`small`):
/// they vanish without a "too big" on a link after the last hop that answered
/// them, a black hole. Its MTU is searched for with probes that expire at this
/// hop, whose time exceeded (or the target's answer) confirms each size: evidence
/// up to here, whether or not the target ever answers. The walk then goes on with
/// that size, so later routers report their own. Returns the answer that names
/// this hop at the size found.
fn cross_black_hole<W: Write>(
    prober: &mut Prober,
    report: &mut Report<'_, W>,
    walk: &mut Walk,
    ttl: u8,
    (floor, rtt): (u32, Option<Duration>),
    small: Answer,
) -> Result<Answer, Failure> {
    let after = report
        .hops
        .iter()
        .rev()
        .find(|h| h.addr.is_some() && h.mtu >= walk.size)
        .map_or((0, None), |h| (h.ttl, h.addr));
    // The full size is searched too: the full-size probes may have
    // met a rate limit on the answers (Linux: one ICMP error a
    // second after a burst of six) rather than a small link.
    let (found, probes, answer) = search(prober, report, ttl, (floor, rtt), walk.size)?;
    // Nothing answered the search: the small probe's answer is what
    // confirmed its base.
    let answer = answer.unwrap_or(small);
    if found < walk.size {
        let addr = match answer {
            Answer::Reached(a) | Answer::TimeExceeded(a) => Some(a),
            _ => None,
        };
        walk.black_holes.push(BlackHole {
            after,
            before: (ttl, addr),
            mtu: found,
            probes,
        });
        walk.found_by_search = true;
        walk.size = found;
        let said = format!(
            "probes above {found} vanish after {}, and no ICMP too big comes \
             back (a black hole); {found} gets through (searched, {})",
            hop_name(after.0, after.1),
            super::plural(probes, "probe")
        );
        for line in crate::render::wrap(&said, "      ", "        ") {
            report.line(&line)?;
        }
    }
    Ok(answer)
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
        let first_hole = walk.black_holes.first();
        let addr = |a: Option<IpAddr>| a.map(|a| a.to_string());
        let holes: Vec<Value> = walk
            .black_holes
            .iter()
            .map(|b| {
                json!({
                    "after_hop": b.after.0,
                    "after_addr": addr(b.after.1),
                    "before_hop": b.before.0,
                    "before_addr": addr(b.before.1),
                    "mtu": b.mtu,
                    "probes": b.probes,
                })
            })
            .collect();
        let too_big: Vec<Value> = report
            .too_big
            .iter()
            .map(|t| {
                json!({
                    "ttl": t.ttl,
                    "addr": t.from.to_string(),
                    "mtu": t.mtu,
                    "probe_size": t.probe_size,
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
            "icmp_dropped_after_hop": first_hole.map(|b| b.after.0),
            "icmp_dropped_after_addr": first_hole.and_then(|b| b.after.1).map(|a| a.to_string()),
            "black_holes": holes,
            "hops": hop_list,
            "too_big": too_big,
            "probes": self.probes,
            "search_probes": walk.search_probes(),
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
        let holes = self.black_holes_said();
        if walk.reached {
            let how = if walk.found_by_search {
                "found by search".to_string()
            } else if let Some(last) = report.too_big.iter().rev().find(|t| t.mtu == walk.size) {
                let hop = report.hops.iter().rev().find(|h| h.addr == Some(last.from));
                format!(
                    "from ICMP too big, sent by {}",
                    hop.map_or(last.from.to_string(), |h| hop_name(h.ttl, h.addr))
                )
            } else if walk.size < first_link {
                "from ICMP too big".to_string()
            } else {
                "nothing smaller than the first link on the way".to_string()
            };
            format!(
                "path MTU {}: {how}; TCP MSS {} ({} with timestamps).{holes} {probes}",
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
                "target {} not reached: {why}. {known}{holes}{hint} {probes}",
                target.ip()
            )
        }
    }

    /// One sentence per black hole crossed (with a leading space), or nothing.
    fn black_holes_said(&self) -> String {
        self.walk
            .black_holes
            .iter()
            .map(|b| {
                let (after, before) = (
                    hop_name(b.after.0, b.after.1),
                    hop_name(b.before.0, b.before.1),
                );
                let sender = if b.after.0 == 0 {
                    "the first link carries less than this host's interface".to_string()
                } else if b.before.0 > b.after.0 + 1 {
                    format!(
                        "no hop from {} to {} sends one (a PMTUD black hole)",
                        b.after.0,
                        b.before.0 - 1
                    )
                } else {
                    format!("hop {} sends none (a PMTUD black hole)", b.after.0)
                };
                format!(
                    " Probes above {} vanish between {after} and {before} with no ICMP \
                     \"too big\": {sender}; the search took {}.",
                    b.mtu,
                    super::plural(b.probes, "probe")
                )
            })
            .collect()
    }
}

/// The search for the largest size that crosses a black hole (from `floor`, which
/// the walk's small probes just got across, `rtt` away), with probes that expire
/// at hop `ttl`: each one that gets there is confirmed by that hop's time
/// exceeded (or the target's answer, if it is the target). Every too-big it
/// receives is reported and used. Returns the size found, the probes taken and
/// the last answer that confirmed a size (`None`: nothing answered).
fn search<W: Write>(
    prober: &mut Prober,
    report: &mut Report<'_, W>,
    ttl: u8,
    (floor, rtt): (u32, Option<Duration>),
    max: u32,
) -> Result<(u32, u32, Option<Answer>), Failure> {
    // The walk's small probes just got `floor` across at this TTL.
    let rtt_ms = rtt.map_or(0, |r| u64::try_from(r.as_millis()).unwrap_or(u64::MAX));
    let mut search = Search::from_confirmed(floor, max, rtt_ms);
    let mut answered_by = None;
    // (id on the wire, the search's id, size) of the probe in flight.
    let mut in_flight: Option<(u32, u32, u32)> = None;
    let started = Instant::now();
    let now_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    loop {
        let now = now_ms();
        if now > 60_000 {
            // Bounded: a minute at most, then what is confirmed.
            return Ok((search.confirmed(), search.probes, answered_by));
        }
        match search.poll(now) {
            Action::Done { mtu } => return Ok((mtu, search.probes, answered_by)),
            Action::Send { id, size } => match prober.send(size, ttl)? {
                Sent::Probe(probe) => in_flight = Some((probe, id, size)),
                Sent::TooBigHere(mtu) => search.on_too_big(id, mtu),
            },
            Action::Wait { until } => {
                let wait = Duration::from_millis(until.saturating_sub(now));
                let Some((probe, id, size)) = in_flight.take() else {
                    std::thread::sleep(wait.min(Duration::from_millis(50)));
                    continue;
                };
                match prober.answer(&[probe], wait) {
                    Some((_, answer @ (Answer::Reached(_) | Answer::TimeExceeded(_)), _)) => {
                        answered_by = Some(answer);
                        search.on_ack(id, now_ms());
                    }
                    Some((_, Answer::TooBig(mtu, from), _)) => {
                        report.too_big(ttl, from, mtu, size)?;
                        search.on_too_big(id, mtu);
                    }
                    // Silence: the search times it out at `until`.
                    _ => {}
                }
            }
        }
    }
}
