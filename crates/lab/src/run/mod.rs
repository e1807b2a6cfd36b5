//! Executing a [`Plan`]: the only part of the lab that touches the system. It runs
//! `ip`, `nft`, `iptables`, `ethtool` and `tcpdump`, and the traffic in-process.
//!
//! Cleanup is a shared [`Cleanup`] that knows every namespace (registered before it
//! is created) and every child process: the caller runs it after the run, and a
//! signal handler can run it from another thread at any moment. Deleting the
//! namespaces removes every interface, address, route and rule the run made.

mod capture;
mod checksums;
pub mod mix;
pub mod traffic;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::observed::Connection;
use crate::plan::{Cmd, NAMESPACE_PREFIX, Plan};
use crate::scenario::{Load, Scenario};
use crate::spec::Family;

pub use capture::{Capture, Daemon};
pub use checksums::tcp_checksums;

/// What a failed step was and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

/// Everything a run must undo.
#[derive(Debug, Default)]
pub struct Cleanup {
    namespaces: Vec<String>,
    children: Vec<u32>,
    done: bool,
}

impl Cleanup {
    /// A shared, empty cleanup list.
    pub fn shared() -> Arc<Mutex<Cleanup>> {
        Arc::new(Mutex::new(Cleanup::default()))
    }

    /// Stops the child processes and deletes the namespaces; runs once.
    pub fn run(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        for &pid in &self.children {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for ns in self.namespaces.iter().rev() {
            delete_namespace(ns);
        }
    }

    /// Forgets everything: the caller keeps the lab running (`--keep`).
    pub fn disarm(&mut self) {
        self.done = true;
    }
}

/// Runs a closure on the shared cleanup list, even if another thread panicked
/// while holding it.
pub fn with_cleanup<R>(cleanup: &Mutex<Cleanup>, f: impl FnOnce(&mut Cleanup) -> R) -> R {
    let mut guard = cleanup
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut guard)
}

/// Kills what still runs in a namespace, then deletes it.
fn delete_namespace(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stderr(Stdio::null())
        .status();
}

/// Runs one command; an error quotes the command and its output.
pub fn execute(cmd: &Cmd) -> Result<(), RunError> {
    let (program, args) = cmd
        .argv
        .split_first()
        .ok_or_else(|| RunError("empty command".into()))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RunError(format!("cannot run `{cmd}`: {e}")))?;
    if let (Some(text), Some(mut stdin)) = (&cmd.stdin, child.stdin.take()) {
        use std::io::Write;
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| RunError(format!("`{cmd}`: writing its input: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RunError(format!("`{cmd}`: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(RunError(format!(
            "`{cmd}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Observed {
    /// Every connection, IPv4 ones first.
    pub connections: Vec<Connection>,
    /// Capture files by point, in plan order.
    pub captures: Vec<(String, PathBuf)>,
}

/// Builds the lab, captures, runs the traffic once per family and stops the
/// captures. Teardown is left to `cleanup` (the caller decides: now, or never with
/// `--keep`). `progress` hears one line per stage.
pub fn run(
    scenario: &Scenario,
    plan: &Plan,
    out_dir: &Path,
    cleanup: &Mutex<Cleanup>,
    progress: &mut dyn FnMut(&str),
) -> Result<Observed, RunError> {
    build(plan, cleanup, progress)?;
    let daemons = start_daemons(plan, cleanup, progress)?;
    let captures = start_captures(plan, out_dir, cleanup, progress)?;
    let connections = match &scenario.traffic.load {
        Load::Mix(mix) => run_mix(scenario, mix, plan, out_dir, progress),
        _ => run_traffic(scenario, plan, progress),
    }?;
    progress("stopping the captures");
    // A moment for the last packets in flight, then all stop together. A mix's
    // captures are not in immediate mode: tcpdump hands over its last block after
    // its 1 s timeout.
    let linger = if matches!(scenario.traffic.load, Load::Mix(_)) {
        1500
    } else {
        300
    };
    std::thread::sleep(Duration::from_millis(linger));
    for (_, capture) in &captures {
        capture.interrupt();
    }
    let mut files = Vec::new();
    for (point, capture) in captures {
        let (file, said) = capture.wait();
        // Said only when the kernel dropped packets: the capture then misses them.
        let dropped = said.iter().filter(|l| {
            l.strip_suffix(" packets dropped by kernel")
                .and_then(|n| n.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        });
        for line in dropped {
            progress(&format!("tcpdump at {point}: {line}"));
        }
        files.push((point, file));
    }
    for daemon in daemons {
        daemon.stop();
    }
    Ok(Observed {
        connections,
        captures: files,
    })
}

/// The namespaces (registered for cleanup before they exist) and everything in
/// them.
fn build(
    plan: &Plan,
    cleanup: &Mutex<Cleanup>,
    progress: &mut dyn FnMut(&str),
) -> Result<(), RunError> {
    with_cleanup(cleanup, |c| {
        c.namespaces.extend(plan.namespaces.iter().cloned());
    });
    progress(&format!(
        "building {} namespaces ({} commands)",
        plan.namespaces.len(),
        plan.setup.len()
    ));
    for cmd in &plan.setup {
        execute(cmd)?;
    }
    // Neighbour discovery and the routes settle (DAD is off).
    std::thread::sleep(Duration::from_millis(200));
    Ok(())
}

/// The plan's daemons, each running once it said it is ready.
fn start_daemons(
    plan: &Plan,
    cleanup: &Mutex<Cleanup>,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Daemon>, RunError> {
    let mut daemons = Vec::new();
    for daemon in &plan.daemons {
        progress(&format!("starting on {}: {}", daemon.node, daemon.cmd));
        let running = Daemon::start(&daemon.cmd, &daemon.ready)
            .map_err(|e| RunError(format!("on {}: {e}", daemon.node)))?;
        with_cleanup(cleanup, |c| c.children.push(running.pid()));
        daemons.push(running);
    }
    Ok(daemons)
}

/// A tcpdump at every capture point, by point.
fn start_captures(
    plan: &Plan,
    out_dir: &Path,
    cleanup: &Mutex<Cleanup>,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<(String, Capture)>, RunError> {
    progress(&format!("capturing at {} points", plan.captures.len()));
    let mut captures = Vec::new();
    for capture in &plan.captures {
        let running = Capture::start(&capture.cmd, &out_dir.join(&capture.file))
            .map_err(|e| RunError(format!("capture at {}: {e}", capture.point)))?;
        with_cleanup(cleanup, |c| c.children.push(running.pid()));
        captures.push((capture.point.clone(), running));
    }
    Ok(captures)
}

/// A traffic host's namespace and first interface.
type Host<'a> = (&'a str, &'a crate::topology::Iface);

/// The traffic client's and server's namespaces and first interfaces.
fn traffic_hosts<'a>(
    scenario: &'a Scenario,
    plan: &'a Plan,
) -> Result<(Host<'a>, Host<'a>), RunError> {
    let topology = &scenario.topology;
    let traffic = &scenario.traffic;
    let (Some(client), Some(server)) = (
        topology.index(&traffic.client),
        topology.index(&traffic.server),
    ) else {
        return Err(RunError(
            "traffic client or server not in the topology".into(),
        ));
    };
    let (Some(c), Some(s)) = (topology.primary(client), topology.primary(server)) else {
        return Err(RunError("a traffic host has no interface".into()));
    };
    Ok((
        (plan.namespaces[client].as_str(), c),
        (plan.namespaces[server].as_str(), s),
    ))
}

/// A mix: its connections over the families at once, and the top-up watching
/// the first capture point's file.
fn run_mix(
    scenario: &Scenario,
    mix: &crate::spec::Mix,
    plan: &Plan,
    out_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Connection>, RunError> {
    let ((client_ns, c), (server_ns, s)) = traffic_hosts(scenario, plan)?;
    let addresses = scenario
        .families
        .iter()
        .map(|&family| match family {
            Family::Ipv4 => (family, IpAddr::from(c.v4), IpAddr::from(s.v4)),
            Family::Ipv6 => (family, IpAddr::from(c.v6), IpAddr::from(s.v6)),
        })
        .collect();
    let traffic = &scenario.traffic;
    let planned = mix::plan(mix, &scenario.families, traffic.client_mss);
    let fill = mix
        .fill_mb
        .zip(plan.captures.first())
        .map(|(mb, capture)| (out_dir.join(&capture.file), mb * 1_000_000));
    let short = usize::try_from(mix.count).unwrap_or(usize::MAX);
    progress(&format!(
        "{} short connections, {} at once, {} bulk alongside{}",
        short,
        mix.concurrency,
        planned.len() - short,
        fill.as_ref().map_or(String::new(), |(file, bytes)| format!(
            ", then topped up until {} holds {} MB",
            file.file_name()
                .map_or(String::new(), |f| f.to_string_lossy().into_owned()),
            bytes / 1_000_000
        ))
    ));
    let mix_plan = mix::Plan {
        client_ns: client_ns.to_string(),
        server_ns: server_ns.to_string(),
        addresses,
        planned,
        short,
        concurrency: usize::try_from(mix.concurrency).unwrap_or(1),
        fill,
        pace: mix.pace_mb_s.map(|mb| mb * 1_000_000),
        timeout: Duration::from_secs(traffic.timeout_s),
    };
    mix::run(&mix_plan, progress).map_err(RunError)
}

/// The scenario's connections, family by family, between the traffic hosts'
/// first addresses.
fn run_traffic(
    scenario: &Scenario,
    plan: &Plan,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Connection>, RunError> {
    let traffic = &scenario.traffic;
    let ((client_ns, c), (server_ns, s)) = traffic_hosts(scenario, plan)?;
    let exchanges: Vec<traffic::Exchange> = match traffic.load {
        Load::Bulk(bulk) => vec![traffic::Exchange {
            up: bulk.up,
            down: bulk.down,
        }],
        Load::Short(short) => (0..short.count)
            .map(|_| traffic::Exchange {
                up: short.up,
                down: short.down,
            })
            .collect(),
        Load::Mix(_) => return Err(RunError("a mix runs in run_mix".into())),
    };
    let mut connections = Vec::new();
    for &family in &scenario.families {
        let (client_addr, server_addr): (IpAddr, IpAddr) = match family {
            Family::Ipv4 => (c.v4.into(), s.v4.into()),
            Family::Ipv6 => (c.v6.into(), s.v6.into()),
        };
        progress(&format!(
            "{}: {} connection{} {client_addr} -> {server_addr}",
            family.name(),
            exchanges.len(),
            if exchanges.len() == 1 { "" } else { "s" }
        ));
        let plan = traffic::Plan {
            client_ns: client_ns.to_string(),
            server_ns: server_ns.to_string(),
            client_addr,
            server_addr,
            family,
            exchanges: exchanges.clone(),
            client_mss: traffic.client_mss,
            timeout: Duration::from_secs(traffic.timeout_s),
        };
        connections.extend(traffic::run(&plan).map_err(RunError)?);
    }
    Ok(connections)
}

/// The pid of the run that made a namespace or directory called
/// `mss-lab-PID-...`.
fn run_pid(name: &str) -> Option<u32> {
    name.strip_prefix(NAMESPACE_PREFIX)?
        .split('-')
        .next()
        .and_then(|p| p.parse::<u32>().ok())
}

/// Whether the `mss lab` process with this pid still runs.
fn run_alive(pid: Option<u32>) -> bool {
    pid.is_some_and(|p| {
        std::fs::read_to_string(format!("/proc/{p}/cmdline"))
            .is_ok_and(|cmd| cmd.split('\0').any(|w| w == "lab"))
    })
}

/// Namespaces left by lab runs, as (name, pid of the run, whether that run is still
/// alive).
pub fn leftovers() -> Vec<(String, Option<u32>, bool)> {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.starts_with(NAMESPACE_PREFIX))
        .map(|name| {
            let pid = run_pid(name);
            (name.to_string(), pid, run_alive(pid))
        })
        .collect()
}

/// Deletes one leftover namespace (and stops what runs in it). Once no namespace
/// of its run is left and that run has ended, the run's temporary capture
/// directory (kept with `--keep`) goes too: see [`leftover_directories`].
pub fn remove_namespace(name: &str) {
    delete_namespace(name);
    let Some(pid) = run_pid(name) else {
        return;
    };
    if run_alive(Some(pid)) {
        return;
    }
    let run = format!("{NAMESPACE_PREFIX}{pid}-");
    if leftovers()
        .iter()
        .any(|(other, _, _)| other.starts_with(&run))
    {
        return;
    }
    for dir in leftover_directories(&std::env::temp_dir()) {
        if dir.pid == Some(pid) && dir.removable() {
            let _ = remove_directory(&dir.path);
        }
    }
}

/// Where a run without `--out` writes its captures: `TMP/mss-lab-PID-SCENARIO`
/// (the namespaces are `mss-lab-PID-NODE`).
pub fn temporary_directory(tmp: &Path, pid: u32, scenario: &str) -> PathBuf {
    tmp.join(format!("{NAMESPACE_PREFIX}{pid}-{scenario}"))
}

/// A temporary capture directory a lab run left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftoverDirectory {
    /// The directory.
    pub path: PathBuf,
    /// The pid of the run that made it.
    pub pid: Option<u32>,
    /// Whether that run is still alive.
    pub alive: bool,
    /// Entries that are not capture files (`*.pcap`): someone put them there.
    pub foreign: Vec<String>,
}

impl LeftoverDirectory {
    /// Whether it can go: its run has ended and it holds only captures.
    pub fn removable(&self) -> bool {
        !self.alive && self.foreign.is_empty()
    }
}

/// The directories named like [`temporary_directory`] in `tmp`, with what is in
/// them.
pub fn leftover_directories(tmp: &Path) -> Vec<LeftoverDirectory> {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return Vec::new();
    };
    let mut found: Vec<LeftoverDirectory> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let pid = Some(run_pid(&name)?);
            let foreign = std::fs::read_dir(e.path())
                .map(|inside| {
                    inside
                        .filter_map(Result::ok)
                        .filter(|f| {
                            !(f.file_type().is_ok_and(|t| t.is_file())
                                && f.path().extension().is_some_and(|x| x == "pcap"))
                        })
                        .map(|f| f.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_else(|e| vec![format!("(cannot list: {e})")]);
            Some(LeftoverDirectory {
                path: e.path(),
                pid,
                alive: run_alive(pid),
                foreign,
            })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Removes a run's capture directory and the captures in it.
pub fn remove_directory(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that cannot be alive: above any pid_max.
    const ENDED: u32 = u32::MAX;

    #[test]
    fn leftover_directories_are_the_runs_ones_and_only_captures_go() {
        let tmp = std::env::temp_dir().join(format!("mss-lab-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let captures = temporary_directory(&tmp, ENDED, "clamp-chain");
        let mixed = temporary_directory(&tmp, ENDED - 1, "clamp");
        let other = tmp.join("mss-lab-notapid-clamp");
        for dir in [&captures, &mixed, &other] {
            std::fs::create_dir_all(dir).expect("mkdir");
            std::fs::write(dir.join("client-eth0.pcap"), b"").expect("write");
        }
        std::fs::write(mixed.join("notes.txt"), b"mine").expect("write");

        let found = leftover_directories(&tmp);
        assert_eq!(
            found,
            vec![
                LeftoverDirectory {
                    path: mixed.clone(),
                    pid: Some(ENDED - 1),
                    alive: false,
                    foreign: vec!["notes.txt".into()],
                },
                LeftoverDirectory {
                    path: captures.clone(),
                    pid: Some(ENDED),
                    alive: false,
                    foreign: Vec::new(),
                },
            ]
        );
        assert!(found[1].removable() && !found[0].removable());
        remove_directory(&captures).expect("remove");
        assert!(!captures.exists());
        // Gone already is not an error: a signal and the normal path may race.
        remove_directory(&captures).expect("remove again");
        std::fs::remove_dir_all(&tmp).expect("clean up");
    }
}
