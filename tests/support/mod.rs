//! Test support: network namespaces that clean up after themselves, and running the
//! `mss` binary.
//!
//! Every namespace gets a name unique to this process and test (tests run in
//! parallel), only addresses inside namespaces the test made are used, and `Drop`
//! deletes the namespace, which also removes its veth ends and stops any process
//! still using it from reaching anything outside.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub(crate) mod browser;
pub(crate) mod kept;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Runs the `mss` binary under test.
pub(crate) fn mss(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run mss: {e}"))
}

/// `mss ... --json` parsed.
pub(crate) fn mss_json(args: &[&str]) -> serde_json::Value {
    let out = mss(args);
    assert!(
        out.status.success(),
        "mss {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "mss {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// What `mss ...` prints on standard output (it must succeed).
pub(crate) fn mss_stdout(args: &[&str]) -> String {
    let out = mss(args);
    assert!(
        out.status.success(),
        "mss {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `mss ...` printing JSON Lines, parsed line by line (it must succeed).
pub(crate) fn mss_json_lines(args: &[&str]) -> Vec<serde_json::Value> {
    mss_stdout(args)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("mss {args:?}: not JSON ({e}): {l}"))
        })
        .collect()
}

/// Whether namespace tests can run here. Without root they cannot: the test fails
/// with the reason, unless MSS_SKIP_NETNS=1 asks to skip, which is then printed.
pub(crate) fn netns_available(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        for tool in ["ip", "tcpdump", "tshark"] {
            if which(tool).is_none() {
                panic!(
                    "{test} needs `{tool}` (apt-get install iproute2 tcpdump tshark, or run scripts/test, which installs them)"
                );
            }
        }
        return true;
    }
    if std::env::var_os("MSS_SKIP_NETNS").is_some() {
        eprintln!(
            "SKIPPED {test}: needs root (CAP_NET_ADMIN) for network namespaces; MSS_SKIP_NETNS is set"
        );
        return false;
    }
    panic!(
        "{test} needs root (CAP_NET_ADMIN) to create network namespaces; run the suite as \
         root (scripts/test), or set MSS_SKIP_NETNS=1 to skip these tests knowingly"
    );
}

pub(crate) fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// Runs a command and panics with its output if it fails.
pub(crate) fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A network namespace, deleted on drop.
pub(crate) struct Netns {
    pub(crate) name: String,
}

impl Netns {
    /// Creates `mss-<tag>-<pid>-<n>` with its loopback up.
    pub(crate) fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("mss-{tag}-{}-{n}", std::process::id());
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ARGS...`
    pub(crate) fn ip(&self, args: &[&str]) -> Output {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// `sysctl -w KEY=VALUE` inside the namespace.
    pub(crate) fn sysctl(&self, key_value: &str) {
        run(
            "ip",
            &["netns", "exec", &self.name, "sysctl", "-qw", key_value],
        );
    }

    /// A command that runs inside the namespace.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs `f` on a thread that has entered this namespace: sockets it creates live
    /// there. (setns(CLONE_NEWNET) changes only the calling thread.)
    pub(crate) fn enter<F, R>(&self, f: F) -> thread::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.name);
        thread::spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("setns {path}: {e}"));
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Connects two namespaces with a veth pair `dev_a`/`dev_b`, both at `mtu`, with the
/// given IPv4 and IPv6 addresses (prefix lengths included).
pub(crate) fn veth(a: &Netns, dev_a: &str, b: &Netns, dev_b: &str, mtu: u32) {
    a.ip(&[
        "link", "add", dev_a, "type", "veth", "peer", "name", dev_b, "netns", &b.name,
    ]);
    let mtu = mtu.to_string();
    a.ip(&["link", "set", dev_a, "mtu", &mtu, "up"]);
    b.ip(&["link", "set", dev_b, "mtu", &mtu, "up"]);
}

/// A client and a server on either side of a forwarding router: client `vc`
/// 10.N.1.1/24 to router `vr1` 10.N.1.2; router `vr2` 10.N.2.2/24 to server `vs`
/// 10.N.2.1 (`N` the test's own subnet); every link at 1500 but `vr2`-`vs` at
/// `far_mtu`; default routes through the router.
pub(crate) struct Routed {
    pub(crate) client: Netns,
    pub(crate) router: Netns,
    pub(crate) server: Netns,
}

impl Routed {
    pub(crate) fn new(tag: &str, subnet: u8, far_mtu: u32) -> Routed {
        let client = Netns::new(&format!("{tag}-c"));
        let router = Netns::new(&format!("{tag}-r"));
        let server = Netns::new(&format!("{tag}-s"));
        veth(&client, "vc", &router, "vr1", 1500);
        veth(&router, "vr2", &server, "vs", far_mtu);
        let net = |side: u8, host: u8| format!("10.{subnet}.{side}.{host}");
        client.ip(&["addr", "add", &format!("{}/24", net(1, 1)), "dev", "vc"]);
        router.ip(&["addr", "add", &format!("{}/24", net(1, 2)), "dev", "vr1"]);
        router.ip(&["addr", "add", &format!("{}/24", net(2, 2)), "dev", "vr2"]);
        server.ip(&["addr", "add", &format!("{}/24", net(2, 1)), "dev", "vs"]);
        client.ip(&["route", "add", "default", "via", &net(1, 2)]);
        server.ip(&["route", "add", "default", "via", &net(2, 2)]);
        router.sysctl("net.ipv4.ip_forward=1");
        Routed {
            client,
            router,
            server,
        }
    }

    /// One connection from the client to `at` (a server address, any free port)
    /// that sends `bytes`; `hold` runs while it is still open. Returns both
    /// kernels' TCP_MAXSEG (client, server).
    pub(crate) fn transfer(
        &self,
        at: std::net::IpAddr,
        bytes: usize,
        hold: impl FnOnce(),
    ) -> (u32, u32) {
        use nix::sys::socket::{getsockopt, sockopt::TcpMaxSeg};
        use std::io::{Read, Write};
        use std::net::{SocketAddr, TcpListener, TcpStream};
        use std::os::fd::AsFd;
        let (port_tx, port_rx) = mpsc::channel();
        let listener = self.server.enter(move || {
            let listener = TcpListener::bind(SocketAddr::new(at, 0)).expect("bind");
            port_tx
                .send(listener.local_addr().expect("address").port())
                .expect("port");
            let (mut stream, _) = listener.accept().expect("accept");
            let mut sink = Vec::new();
            stream.read_to_end(&mut sink).expect("read");
            getsockopt(&stream.as_fd(), TcpMaxSeg).expect("TCP_MAXSEG")
        });
        let port = port_rx.recv_timeout(Duration::from_secs(10)).expect("port");
        let (open_tx, open_rx) = mpsc::channel();
        let (close_tx, close_rx) = mpsc::channel::<()>();
        let sender = self.client.enter(move || {
            let mut stream =
                TcpStream::connect_timeout(&SocketAddr::new(at, port), Duration::from_secs(10))
                    .expect("connect");
            stream.write_all(&vec![0x42; bytes]).expect("write");
            let _ = open_tx.send(());
            let _ = close_rx.recv_timeout(Duration::from_secs(60));
            let mss = getsockopt(&stream.as_fd(), TcpMaxSeg).expect("TCP_MAXSEG");
            stream.shutdown(std::net::Shutdown::Both).expect("shutdown");
            mss
        });
        open_rx.recv_timeout(Duration::from_secs(10)).expect("open");
        hold();
        let _ = close_tx.send(());
        let client_mss = sender.join().expect("client");
        let server_mss = listener.join().expect("server");
        (client_mss, server_mss)
    }

    /// Runs an nft script in the router; it must succeed.
    pub(crate) fn nft(&self, script: &str) {
        let out = self
            .router
            .command("nft")
            .arg(script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run nft: {e}"));
        assert!(
            out.status.success(),
            "nft {script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A tcpdump running in a namespace, writing a pcap; it stops after `count` packets
/// or when dropped (then it is killed).
pub(crate) struct Capture {
    child: Child,
    pub(crate) file: PathBuf,
}

impl Capture {
    /// Starts tcpdump and waits until it is listening.
    pub(crate) fn start(
        ns: &Netns,
        interface: &str,
        count: usize,
        filter: &str,
        file: &Path,
    ) -> Capture {
        let count = count.to_string();
        let mut child = ns
            .command("tcpdump")
            .args([
                "-i", interface, "-Z", "root", "-nn", "-U", "-c", &count, "-w",
            ])
            .arg(file)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tcpdump: {e}"));
        let stderr = child
            .stderr
            .take()
            .unwrap_or_else(|| panic!("tcpdump without stderr"));
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("tcpdump did not start listening within 10 s"));
        Capture {
            child,
            file: file.to_path_buf(),
        }
    }

    /// Waits up to `timeout` for tcpdump to exit on its own (its packet count
    /// reached), then kills it; returns whether it finished on its own.
    pub(crate) fn finish(mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Capture {
    /// Stops tcpdump with SIGINT (it flushes and exits) after a short pause for the
    /// last packets in flight; returns the file.
    pub(crate) fn stop(mut self) -> PathBuf {
        thread::sleep(Duration::from_millis(300));
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGINT,
            );
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.file.clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// tshark's reading of the SYN and SYN-ACK MSS options in a capture, as
/// (ip version, is SYN-ACK, MSS).
pub(crate) fn tshark_syn_mss(file: &Path) -> Vec<(u8, bool, u16)> {
    let out = run(
        "tshark",
        &[
            "-r",
            &file.to_string_lossy(),
            "-Y",
            "tcp.flags.syn == 1",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "tcp.flags.ack",
            "-e",
            "tcp.options.mss_val",
            "-E",
            "separator=,",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            // tshark fills ipv6.src only for IPv6 packets.
            let version = if fields.get(1).is_some_and(|f| !f.is_empty()) {
                6
            } else {
                4
            };
            let ack = matches!(fields.get(2).copied(), Some("1" | "True" | "true"));
            let mss = fields.get(3)?.parse().ok()?;
            Some((version, ack, mss))
        })
        .collect()
}

/// tshark's reading of every SYN and SYN-ACK in a capture, checksums verified:
/// (MSS, checksum right). An independent check: veth accepts wrong checksums.
pub(crate) fn tshark_syn_checksums(file: &Path) -> Vec<(u16, bool)> {
    let out = run(
        "tshark",
        &[
            "-r",
            &file.to_string_lossy(),
            "-o",
            "tcp.check_checksum:TRUE",
            "-Y",
            "tcp.flags.syn == 1",
            "-T",
            "fields",
            "-e",
            "tcp.options.mss_val",
            "-e",
            "tcp.checksum.status",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (mss, status) = l.split_once('\t')?;
            // tcp.checksum.status: 1 good, 0 bad, 2 unverified.
            Some((mss.parse().ok()?, status.trim() == "1"))
        })
        .collect()
}

/// A fresh directory for one test's files, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mss-test-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // MSS_KEEP_FILES=1 keeps the captures of a failing test for a look.
        if std::env::var_os("MSS_KEEP_FILES").is_some() {
            eprintln!("kept {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The tcpdump corpus's directory and its files, sorted, for the tests that compare mss with tshark
/// on it: `../shared/corpus/tcpdump` beside the workspace, or `MSS_CORPUS`. Fails,
/// saying what to do, when the corpus or tshark is missing (these tests are
/// `#[ignore]`d in a plain `cargo test`; `scripts/test` runs them when the corpus is
/// there).
pub(crate) fn corpus_files() -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::var_os("MSS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/tcpdump"));
    assert!(
        dir.is_dir(),
        "the tcpdump corpus is not at ../shared/corpus/tcpdump: set MSS_CORPUS to its directory"
    );
    let tshark = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        tshark,
        "this test needs tshark (apt-get install tshark, or run scripts/test, which installs it)"
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    (dir, files)
}

/// The lines a child writes (its standard output or error), as they come, read on
/// a thread of their own: a test waits for them with `recv_timeout`.
pub(crate) fn lines_of(from: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    lines
}
