//! The traffic of a [`Load::Mix`](crate::scenario::Load::Mix): many short
//! connections at once, of mixed sizes and families, some with a lowered client
//! MSS, bulk transfers alongside, then bulk transfers topping the capture up to
//! a size. Every connection is judged like the lab's others: each socket's
//! `getsockopt(TCP_MAXSEG)` after the handshake and at the end, and its TCP_INFO.
//!
//! Each connection has a four-tuple of its own ([`ports`]), so its record in a
//! capture is found without ambiguity. A request starts with a [`HEADER`]-byte
//! header (the connection's number, its request and response sizes, a pacing
//! rate): the server answers each as it asks, closes its side first (so TIME_WAIT
//! stays on the server), and reads the client's close.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use super::traffic::{
    SERVER_PORT, connect, in_namespace, maxseg, read_exactly, reset_on_close, tcp_info, write_bytes,
};
use crate::observed::{Connection, SocketView};
use crate::spec::{Family, Mix};

/// Bytes of the header each request starts with: four little-endian `u64`s, the
/// connection's number, its request bytes, its response bytes and the pacing rate
/// of the response in bytes per second (0: unpaced).
pub const HEADER: u64 = 32;

/// Client ports each server port takes: 1024 to 65535.
const PORTS_PER_SERVER_PORT: usize = 65536 - 1024;

/// Top-up transfers at most, after the short connections and the bulk ones.
const MAX_FILLS: usize = 4;

/// Capture bytes per byte of a bulk transfer's payload: 1448-byte segments in
/// 1514-byte frames with a 16-byte pcap record header, and an ACK (66 + 16) for
/// every two segments.
const BULK_OVERHEAD: f64 = (1514.0 + 16.0 + (66.0 + 16.0) / 2.0) / 1448.0;

/// The client and server ports of connection `i` (0-based, in plan order): client
/// ports 1024 to 65535, then the next server port.
pub fn ports(i: usize) -> (u16, u16) {
    let client = 1024 + i % PORTS_PER_SERVER_PORT;
    let server = usize::from(SERVER_PORT) + i / PORTS_PER_SERVER_PORT;
    (
        u16::try_from(client).unwrap_or(u16::MAX),
        u16::try_from(server).unwrap_or(u16::MAX),
    )
}

/// One connection to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    /// Its family.
    pub family: Family,
    /// Request bytes (header included).
    pub up: u64,
    /// Response bytes.
    pub down: u64,
    /// TCP_MAXSEG on the client socket before it connects.
    pub client_mss: Option<u32>,
    /// SO_MAX_PACING_RATE of the server's socket, bytes per second.
    pub pace: Option<u64>,
}

/// SplitMix64: a small deterministic generator, so a scenario makes the same
/// connections every time.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the bias of a modulo is negligible here.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `percent` times in a hundred.
    fn percent(&mut self, percent: u8) -> bool {
        self.below(100) < u64::from(percent)
    }
}

/// The short connections of a mix and then its bulk transfers, the same every
/// time for the same mix. `client_mss` applies to every connection that is not
/// one of the lowered ones.
pub fn plan(mix: &Mix, families: &[Family], client_mss: Option<u32>) -> Vec<Planned> {
    let mut rng = SplitMix(0x006d_7373_5f6d_6978);
    let both = families.contains(&Family::Ipv4) && families.contains(&Family::Ipv6);
    let only = families.first().copied().unwrap_or(Family::Ipv4);
    let ipv6_percent = mix.ipv6_percent.unwrap_or(50);
    let total_weight: u64 = mix.down.iter().map(|[_, w]| *w).sum();
    let pace = mix.pace_mb_s.map(|mb| mb * 1_000_000);
    let mut planned = Vec::with_capacity(usize::try_from(mix.count).unwrap_or(0));
    for _ in 0..mix.count {
        let family = if !both {
            only
        } else if rng.percent(ipv6_percent) {
            Family::Ipv6
        } else {
            Family::Ipv4
        };
        let [min, max] = mix.up;
        let up = min + rng.below(max - min + 1);
        let mut pick = rng.below(total_weight);
        let mut down = 0;
        for [bytes, weight] in &mix.down {
            if pick < *weight {
                down = *bytes;
                break;
            }
            pick -= weight;
        }
        let lowered = mix.lowered_mss.as_ref().and_then(|l| {
            let chosen = rng.percent(l.percent);
            let value = l.values[usize::try_from(rng.below(l.values.len() as u64)).ok()?];
            chosen.then_some(value)
        });
        planned.push(Planned {
            family,
            up,
            down,
            client_mss: lowered.or(client_mss),
            pace: None,
        });
    }
    if let Some(bulk) = mix.bulk {
        for j in 0..bulk.count {
            let j = usize::try_from(j).unwrap_or(0);
            planned.push(Planned {
                family: families
                    .get(j % families.len().max(1))
                    .copied()
                    .unwrap_or(only),
                up: HEADER,
                down: bulk.down,
                client_mss,
                pace,
            });
        }
    }
    planned
}

/// Where and how to run a mix.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Client namespace.
    pub client_ns: String,
    /// Server namespace.
    pub server_ns: String,
    /// The client's and the server's address in each family the mix uses.
    pub addresses: Vec<(Family, IpAddr, IpAddr)>,
    /// The connections: the short ones, then the bulk ones ([`plan`]).
    pub planned: Vec<Planned>,
    /// How many of `planned` are short connections (the rest are bulk).
    pub short: usize,
    /// Short connections at once.
    pub concurrency: usize,
    /// Top-up: the capture file to watch and its target size in bytes.
    pub fill: Option<(PathBuf, u64)>,
    /// Pacing of the top-up transfers, bytes per second.
    pub pace: Option<u64>,
    /// How long one connection may take.
    pub timeout: Duration,
}

impl Plan {
    fn address(&self, family: Family) -> Result<(IpAddr, IpAddr), String> {
        self.addresses
            .iter()
            .find(|(f, _, _)| *f == family)
            .map(|(_, c, s)| (*c, *s))
            .ok_or_else(|| format!("no {} address for the traffic", family.name()))
    }
}

/// What the server's socket of each connection reported, by number.
type ServerViews = Arc<Mutex<HashMap<u64, SocketView>>>;

/// Runs the mix; every connection as the kernels saw it, in plan order (the
/// top-up transfers last). `progress` hears a line per stage.
pub fn run(plan: &Plan, progress: &mut dyn FnMut(&str)) -> Result<Vec<Connection>, String> {
    let connections = plan.planned.len() + MAX_FILLS;
    let server_ports = connections.div_ceil(PORTS_PER_SERVER_PORT);
    let views: ServerViews = Arc::new(Mutex::new(HashMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let listen: Vec<SocketAddr> = plan
        .addresses
        .iter()
        .flat_map(|(_, _, server)| {
            (0..server_ports).map(move |k| {
                let port = usize::from(SERVER_PORT) + k;
                SocketAddr::new(*server, u16::try_from(port).unwrap_or(u16::MAX))
            })
        })
        .collect();
    let threads = plan.concurrency + 3;
    let linger = plan.timeout + Duration::from_secs(2);
    let server = {
        let (views, stop) = (Arc::clone(&views), Arc::clone(&stop));
        in_namespace(&plan.server_ns, move || {
            serve(&listen, threads, linger, &views, &stop, &ready_tx)
        })
    };
    match ready_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err("the lab server did not start listening within 10 s".into()),
    }
    let started = Instant::now();
    let client = {
        let plan = plan.clone();
        let stop = Arc::clone(&stop);
        in_namespace(&plan.client_ns.clone(), move || clients(&plan, &stop))
    };
    let client = client
        .join()
        .map_err(|_| "the lab client thread panicked".to_string());
    progress(&format!(
        "{} short and {} bulk connections in {:.1} s",
        plan.short,
        plan.planned.len() - plan.short,
        started.elapsed().as_secs_f64()
    ));
    let mut results = client.and_then(|r| r);
    if let Ok(done) = &mut results {
        if let Some((file, target)) = &plan.fill {
            let fill = {
                let (plan, file, target, first) = (plan.clone(), file.clone(), *target, done.len());
                in_namespace(&plan.client_ns.clone(), move || {
                    top_up(&plan, &file, target, first)
                })
            };
            match fill.join() {
                Ok(Ok(more)) => {
                    progress(&format!(
                        "{} top-up transfer{} toward {} MB",
                        more.len(),
                        if more.len() == 1 { "" } else { "s" },
                        target / 1_000_000
                    ));
                    done.extend(more);
                }
                Ok(Err(e)) => results = Err(e),
                Err(_) => results = Err("the lab top-up thread panicked".into()),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    server
        .join()
        .map_err(|_| "the lab server thread panicked".to_string())??;
    let results = results?;
    let views = views.lock().map_err(|_| "server views poisoned")?;
    Ok(results
        .into_iter()
        .map(
            |(i, family, (client_addr, server_addr), completed, client)| {
                let (client_port, server_port) = ports(i);
                Connection {
                    family,
                    client_port,
                    server_port,
                    client_addr: client_addr.to_string(),
                    server_addr: server_addr.to_string(),
                    completed,
                    client,
                    server: views.get(&(i as u64)).copied().unwrap_or_default(),
                }
            },
        )
        .collect())
}

/// One client connection's outcome: number, family, (client, server) address,
/// completed, its socket's view.
type ClientResult = (usize, Family, (IpAddr, IpAddr), bool, SocketView);

/// The short connections (`concurrency` at once) and the bulk ones (two at a
/// time) together; their outcomes in plan order.
fn clients(plan: &Plan, stop: &AtomicBool) -> Result<Vec<ClientResult>, String> {
    let next_short = AtomicUsize::new(0);
    let next_bulk = AtomicUsize::new(plan.short);
    let results = Mutex::new(Vec::with_capacity(plan.planned.len()));
    let failure = Mutex::new(None::<String>);
    let work = |next: &AtomicUsize, end: usize| {
        while !stop.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= end {
                break;
            }
            match connect_one(plan, i, plan.planned[i]) {
                Ok(result) => {
                    if let Ok(mut r) = results.lock() {
                        r.push(result);
                    }
                }
                Err(e) => {
                    if let Ok(mut f) = failure.lock() {
                        f.get_or_insert(e);
                    }
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    };
    thread::scope(|scope| {
        for _ in 0..plan.concurrency {
            scope.spawn(|| work(&next_short, plan.short));
        }
        for _ in 0..2 {
            scope.spawn(|| work(&next_bulk, plan.planned.len()));
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut results = results
        .into_inner()
        .map_err(|_| "client results poisoned")?;
    results.sort_by_key(|r| r.0);
    Ok(results)
}

/// After the rest: bulk transfers until the capture `file` holds about `target`
/// bytes (98 % is enough), at most [`MAX_FILLS`] of them, numbered from `first`.
fn top_up(
    plan: &Plan,
    file: &PathBuf,
    target: u64,
    first: usize,
) -> Result<Vec<ClientResult>, String> {
    let family = plan.addresses.first().map_or(Family::Ipv4, |a| a.0);
    let mut done = Vec::new();
    for k in 0..MAX_FILLS {
        // tcpdump writes what it has seen: let it catch up.
        thread::sleep(Duration::from_millis(500));
        let have = std::fs::metadata(file)
            .map_err(|e| format!("{}: {e}", file.display()))?
            .len();
        if have * 100 >= target * 98 {
            break;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let down = ((target - have) as f64 / BULK_OVERHEAD) as u64;
        let planned = Planned {
            family,
            up: HEADER,
            down: down.max(1),
            client_mss: None,
            pace: plan.pace,
        };
        done.push(connect_one(plan, first + k, planned)?);
    }
    Ok(done)
}

/// One client connection: connect from its own port, send the request, read the
/// response to its end.
fn connect_one(plan: &Plan, i: usize, planned: Planned) -> Result<ClientResult, String> {
    let (client_addr, server_addr) = plan.address(planned.family)?;
    let (client_port, server_port) = ports(i);
    let server = SocketAddr::new(server_addr, server_port);
    let local = SocketAddr::new(client_addr, client_port);
    let mut stream = connect(
        planned.family,
        planned.client_mss,
        plan.timeout,
        local,
        server,
    )?;
    let start = maxseg(&stream)?;
    let deadline = Instant::now() + plan.timeout;
    stream
        .set_read_timeout(Some(plan.timeout))
        .map_err(|e| e.to_string())?;
    let mut header = Vec::with_capacity(32);
    for value in [
        i as u64,
        planned.up.max(HEADER),
        planned.down,
        planned.pace.unwrap_or(0),
    ] {
        header.extend_from_slice(&value.to_le_bytes());
    }
    let mut completed = stream.write_all(&header).is_ok()
        && write_bytes(&mut stream, planned.up.saturating_sub(HEADER), b'c');
    if completed {
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(100))))
            .map_err(|e| e.to_string())?;
        // The whole response, then the server's FIN.
        completed = read_exactly(&mut stream, planned.down) >= planned.down
            && matches!(stream.read(&mut [0u8; 1]), Ok(0));
    }
    let end = maxseg(&stream)?;
    let info = tcp_info(&stream);
    if !completed {
        reset_on_close(&stream);
    }
    Ok((
        i,
        planned.family,
        (client_addr, server_addr),
        completed,
        SocketView {
            maxseg_start: start,
            maxseg_end: end,
            info,
        },
    ))
}

/// The server: listeners on every address and port, `threads` threads taking
/// connections from whichever is ready, until `stop`.
fn serve(
    listen: &[SocketAddr],
    threads: usize,
    linger: Duration,
    views: &ServerViews,
    stop: &AtomicBool,
    ready: &mpsc::Sender<Result<(), String>>,
) -> Result<(), String> {
    let mut listeners = Vec::new();
    for addr in listen {
        let listener = TcpListener::bind(addr).and_then(|l| {
            l.set_nonblocking(true)?;
            Ok(l)
        });
        match listener {
            Ok(l) => listeners.push(l),
            Err(e) => {
                let message = format!("bind {addr}: {e}");
                let _ = ready.send(Err(message.clone()));
                return Err(message);
            }
        }
    }
    let _ = ready.send(Ok(()));
    let listeners = &listeners;
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some(stream) = accept_any(listeners) else {
                        continue;
                    };
                    if let Some((i, view)) = answer(stream, linger) {
                        if let Ok(mut v) = views.lock() {
                            v.insert(i, view);
                        }
                    }
                }
            });
        }
    });
    Ok(())
}

/// A connection from whichever listener has one, waiting at most 100 ms.
fn accept_any(listeners: &[TcpListener]) -> Option<TcpStream> {
    use nix::poll::{PollFd, PollFlags, poll};
    let mut fds: Vec<PollFd<'_>> = listeners
        .iter()
        .map(|l| PollFd::new(l.as_fd(), PollFlags::POLLIN))
        .collect();
    if poll(&mut fds, 100u16).ok()? <= 0 {
        return None;
    }
    let ready: Vec<usize> = fds
        .iter()
        .enumerate()
        .filter(|(_, f)| f.any().unwrap_or(false))
        .map(|(i, _)| i)
        .collect();
    // Another thread may have taken it first: then there is nothing here.
    ready.into_iter().find_map(|i| {
        let (stream, _) = listeners[i].accept().ok()?;
        stream.set_nonblocking(false).ok()?;
        Some(stream)
    })
}

/// Serves one connection: its header, the rest of the request, the response;
/// then the server closes first. Returns the connection's number and what its
/// socket reported.
fn answer(mut stream: TcpStream, linger: Duration) -> Option<(u64, SocketView)> {
    stream.set_read_timeout(Some(linger)).ok()?;
    stream.set_write_timeout(Some(linger)).ok()?;
    let start = maxseg(&stream).ok()?;
    let mut header = [0u8; 32];
    stream.read_exact(&mut header).ok()?;
    let field = |k: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&header[k * 8..k * 8 + 8]);
        u64::from_le_bytes(bytes)
    };
    let (i, up, down, pace) = (field(0), field(1), field(2), field(3));
    if read_exactly(&mut stream, up.saturating_sub(HEADER)) >= up.saturating_sub(HEADER) {
        if pace > 0 {
            let _ = mss_net::set_max_pacing_rate(&stream, pace);
        }
        write_bytes(&mut stream, down, b's');
    }
    let view = SocketView {
        maxseg_start: start,
        maxseg_end: maxseg(&stream).ok()?,
        info: tcp_info(&stream),
    };
    let _ = stream.shutdown(Shutdown::Write);
    // The client's FIN (or a timeout).
    let mut rest = [0u8; 4096];
    while matches!(stream.read(&mut rest), Ok(n) if n > 0) {}
    Some((i, view))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{LoweredMss, MixBulk};

    fn mix() -> Mix {
        Mix {
            count: 10_000,
            concurrency: 4,
            up: [40, 1200],
            down: vec![[0, 1], [64, 2], [4096, 1]],
            ipv6_percent: Some(20),
            lowered_mss: Some(LoweredMss {
                percent: 10,
                values: vec![536, 1200],
            }),
            bulk: Some(MixBulk {
                count: 3,
                down: 1_000_000,
            }),
            fill_mb: None,
            pace_mb_s: Some(200),
        }
    }

    #[test]
    fn a_mix_plans_its_shares_and_the_same_every_time() {
        let families = [Family::Ipv4, Family::Ipv6];
        let planned = plan(&mix(), &families, None);
        assert_eq!(planned, plan(&mix(), &families, None));
        assert_eq!(planned.len(), 10_003);
        let (short, bulk) = planned.split_at(10_000);
        let share = |f: &dyn Fn(&Planned) -> bool| short.iter().filter(|p| f(p)).count();
        assert!((1700..2300).contains(&share(&|p| p.family == Family::Ipv6)));
        assert!((800..1200).contains(&share(&|p| p.client_mss.is_some())));
        assert!((2300..2700).contains(&share(&|p| p.down == 4096)));
        assert!(
            short
                .iter()
                .all(|p| (40..=1200).contains(&p.up) && p.pace.is_none())
        );
        assert!(short.iter().all(|p| [0, 64, 4096].contains(&p.down)));
        assert!(
            short
                .iter()
                .filter_map(|p| p.client_mss)
                .all(|m| m == 536 || m == 1200)
        );
        assert!(
            bulk.iter()
                .all(|p| p.down == 1_000_000 && p.pace == Some(200_000_000))
        );
        assert_eq!(bulk[0].family, Family::Ipv4);
        assert_eq!(bulk[1].family, Family::Ipv6);
        // One family only: every connection in it.
        let planned = plan(&mix(), &[Family::Ipv6], Some(1000));
        assert!(planned.iter().all(|p| p.family == Family::Ipv6));
        assert!(planned[10_000..].iter().all(|p| p.client_mss == Some(1000)));
    }

    #[test]
    fn every_connection_has_ports_of_its_own() {
        assert_eq!(ports(0), (1024, SERVER_PORT));
        assert_eq!(ports(64_511), (65_535, SERVER_PORT));
        assert_eq!(ports(64_512), (1024, SERVER_PORT + 1));
        let last = crate::scenario::MAX_MIX_CONNECTIONS as usize + 1000 + MAX_FILLS - 1;
        assert_eq!(ports(last).1, SERVER_PORT + 3);
    }
}
