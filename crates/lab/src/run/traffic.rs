//! The lab's own client and server: real kernel TCP between two namespaces, each
//! socket's `getsockopt(TCP_MAXSEG)` read after the handshake and at the end, and
//! its `getsockopt(TCP_INFO)` at the end, before it closes. The sockets are mss's
//! own (threads that entered the namespaces), so both are read from the socket
//! itself.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrStorage, sockopt};
use nix::sys::time::TimeVal;

use crate::observed::{Connection, SocketView, TcpInfo};
use crate::spec::Family;

/// The port the server listens on (iperf3's, familiar in captures).
pub const SERVER_PORT: u16 = 5201;

/// One exchange: the client sends `up` bytes, the server answers with `down`.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// Client to server.
    pub up: u64,
    /// Server to client.
    pub down: u64,
}

/// Where and how to run the traffic.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Client namespace.
    pub client_ns: String,
    /// Server namespace.
    pub server_ns: String,
    /// Client's own address (the source it binds).
    pub client_addr: IpAddr,
    /// Server address.
    pub server_addr: IpAddr,
    /// The family.
    pub family: Family,
    /// The exchanges, one connection each, in order.
    pub exchanges: Vec<Exchange>,
    /// TCP_MAXSEG on the client socket before connecting.
    pub client_mss: Option<u32>,
    /// How long one connection may take.
    pub timeout: Duration,
}

/// Runs `f` on a thread that entered the namespace `ns` (setns changes only the
/// calling thread, so sockets it creates live there).
pub(super) fn in_namespace<F, R>(ns: &str, f: F) -> thread::JoinHandle<Result<R, String>>
where
    F: FnOnce() -> Result<R, String> + Send + 'static,
    R: Send + 'static,
{
    let path = format!("/run/netns/{ns}");
    thread::spawn(move || {
        let file = File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("setns {path}: {e}"))?;
        f()
    })
}

pub(super) fn maxseg(stream: &TcpStream) -> Result<u32, String> {
    socket::getsockopt(&stream.as_fd(), sockopt::TcpMaxSeg)
        .map_err(|e| format!("getsockopt(TCP_MAXSEG): {e}"))
}

/// The socket's TCP_INFO; `None` if the kernel would not give it.
pub(super) fn tcp_info(stream: &TcpStream) -> Option<TcpInfo> {
    mss_net::tcp_info(stream).ok().map(TcpInfo::from)
}

pub(super) fn read_exactly(stream: &mut TcpStream, want: u64) -> u64 {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got: u64 = 0;
    while got < want {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n as u64,
        }
    }
    got
}

pub(super) fn write_bytes(stream: &mut TcpStream, count: u64, byte: u8) -> bool {
    let chunk = vec![byte; 64 * 1024];
    let mut left = count;
    while left > 0 {
        let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        if stream.write_all(&chunk[..n]).is_err() {
            return false;
        }
        left -= n as u64;
    }
    true
}

/// Runs the exchanges and reports what each pair of sockets saw.
pub fn run(plan: &Plan) -> Result<Vec<Connection>, String> {
    let server_addr = SocketAddr::new(plan.server_addr, SERVER_PORT);
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let exchanges = plan.exchanges.clone();
    let linger = plan.timeout + Duration::from_secs(2);
    let server = in_namespace(&plan.server_ns.clone(), move || {
        let listener = match TcpListener::bind(server_addr) {
            Ok(listener) => listener,
            Err(e) => {
                let message = format!("bind {server_addr}: {e}");
                let _ = ready_tx.send(Err(message.clone()));
                return Err(message);
            }
        };
        let _ = ready_tx.send(Ok(()));
        let mut views = Vec::new();
        for exchange in exchanges {
            let (mut stream, _) = listener
                .accept()
                .map_err(|e| format!("accept on {server_addr}: {e}"))?;
            stream
                .set_read_timeout(Some(linger))
                .map_err(|e| e.to_string())?;
            stream
                .set_write_timeout(Some(linger))
                .map_err(|e| e.to_string())?;
            let start = maxseg(&stream)?;
            if read_exactly(&mut stream, exchange.up) >= exchange.up {
                write_bytes(&mut stream, exchange.down, b's');
            }
            // Wait for the client to finish reading and close, so the numbers
            // below are the final ones.
            let mut rest = [0u8; 4096];
            while matches!(stream.read(&mut rest), Ok(n) if n > 0) {}
            let end = maxseg(&stream)?;
            let info = tcp_info(&stream);
            views.push(SocketView {
                maxseg_start: start,
                maxseg_end: end,
                info,
            });
        }
        Ok(views)
    });
    match ready_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err("the lab server did not start listening within 10 s".into()),
    }
    let client_plan = plan.clone();
    let client = in_namespace(&plan.client_ns.clone(), move || {
        let mut results = Vec::new();
        for exchange in &client_plan.exchanges {
            results.push(client_connection(&client_plan, server_addr, *exchange)?);
        }
        Ok(results)
    });
    let clients = client
        .join()
        .map_err(|_| "the lab client thread panicked".to_string())??;
    let servers = server
        .join()
        .map_err(|_| "the lab server thread panicked".to_string())??;
    Ok(clients
        .into_iter()
        .zip(servers)
        .map(|((port, completed, client), server)| Connection {
            family: plan.family,
            client_port: port,
            server_port: SERVER_PORT,
            client_addr: plan.client_addr.to_string(),
            server_addr: plan.server_addr.to_string(),
            completed,
            client,
            server,
        })
        .collect())
}

/// One client connection: (local port, completed, what its socket reported).
fn client_connection(
    plan: &Plan,
    server: SocketAddr,
    exchange: Exchange,
) -> Result<(u16, bool, SocketView), String> {
    let mut stream = connect(
        plan.family,
        plan.client_mss,
        plan.timeout,
        SocketAddr::new(plan.client_addr, 0),
        server,
    )?;
    let local = stream.local_addr().map_err(|e| e.to_string())?;
    let start = maxseg(&stream)?;
    let deadline = Instant::now() + plan.timeout;
    stream
        .set_write_timeout(Some(plan.timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(plan.timeout))
        .map_err(|e| e.to_string())?;
    let mut completed = write_bytes(&mut stream, exchange.up, b'c');
    if completed {
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(100))))
            .map_err(|e| e.to_string())?;
        completed = read_exactly(&mut stream, exchange.down) >= exchange.down;
    }
    let end = maxseg(&stream)?;
    let info = tcp_info(&stream);
    if !completed {
        reset_on_close(&stream);
    }
    Ok((
        local.port(),
        completed,
        SocketView {
            maxseg_start: start,
            maxseg_end: end,
            info,
        },
    ))
}

/// A client socket of `family` bound to `local` (port 0: any) and connected to
/// `server`, with `TCP_MAXSEG` set first when given; connect() gives up after
/// `timeout` (Linux bounds a blocking connect() by SO_SNDTIMEO).
pub(crate) fn connect(
    family: Family,
    client_mss: Option<u32>,
    timeout: Duration,
    local: SocketAddr,
    server: SocketAddr,
) -> Result<TcpStream, String> {
    let family = match family {
        Family::Ipv4 => AddressFamily::Inet,
        Family::Ipv6 => AddressFamily::Inet6,
    };
    let fd: OwnedFd = socket::socket(family, SockType::Stream, SockFlag::empty(), None)
        .map_err(|e| format!("socket: {e}"))?;
    if let Some(mss) = client_mss {
        socket::setsockopt(&fd, sockopt::TcpMaxSeg, &mss)
            .map_err(|e| format!("setsockopt(TCP_MAXSEG, {mss}): {e}"))?;
    }
    let timeout = TimeVal::new(i64::try_from(timeout.as_secs()).unwrap_or(10), 0);
    socket::setsockopt(&fd, sockopt::SendTimeout, &timeout)
        .map_err(|e| format!("setsockopt(SO_SNDTIMEO): {e}"))?;
    socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(local))
        .map_err(|e| format!("bind {}: {e}", local.ip()))?;
    socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(server))
        .map_err(|e| format!("connect {local} to {server}: {e}"))?;
    Ok(TcpStream::from(fd))
}

/// A stalled connection is closed with a reset rather than a FIN queued behind
/// data that cannot get through, so the server stops waiting now.
pub(crate) fn reset_on_close(stream: &TcpStream) {
    let _ = socket::setsockopt(
        &stream.as_fd(),
        sockopt::Linger,
        &nix::libc::linger {
            l_onoff: 1,
            l_linger: 0,
        },
    );
}
