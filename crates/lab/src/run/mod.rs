//! Executing a [`Plan`]: the only part of the lab that touches the system. It runs
//! `ip`, `nft`, `iptables`, `ethtool` and `tcpdump`, and the traffic in-process.
//!
//! Cleanup is a shared [`Cleanup`] that knows every namespace (registered before it
//! is created) and every child process: the caller runs it after the run, and a
//! signal handler can run it from another thread at any moment. Deleting the
//! namespaces removes every interface, address, route and rule the run made.

mod capture;
mod checksums;
pub mod traffic;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::expect::Connection;
use crate::plan::{Cmd, NAMESPACE_PREFIX, Plan};
use crate::scenario::{Family, Scenario};
use crate::topology::Topology;

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
    topology: &Topology,
    plan: &Plan,
    out_dir: &Path,
    cleanup: &Mutex<Cleanup>,
    progress: &mut dyn FnMut(&str),
) -> Result<Observed, RunError> {
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
    let mut daemons = Vec::new();
    for daemon in &plan.daemons {
        progress(&format!("starting on {}: {}", daemon.node, daemon.cmd));
        let running = Daemon::start(&daemon.cmd, &daemon.ready)
            .map_err(|e| RunError(format!("on {}: {e}", daemon.node)))?;
        with_cleanup(cleanup, |c| c.children.push(running.pid()));
        daemons.push(running);
    }
    progress(&format!("capturing at {} points", plan.captures.len()));
    let mut captures = Vec::new();
    for capture in &plan.captures {
        let running = Capture::start(&capture.cmd, &out_dir.join(&capture.file))
            .map_err(|e| RunError(format!("capture at {}: {e}", capture.point)))?;
        with_cleanup(cleanup, |c| c.children.push(running.pid()));
        captures.push((capture.point.clone(), running));
    }
    let client = topology.index(scenario.client());
    let server = topology.index(scenario.server());
    let (Some(client), Some(server)) = (client, server) else {
        return Err(RunError(
            "traffic client or server not in the topology".into(),
        ));
    };
    let traffic = scenario.traffic.get_ref();
    let exchanges: Vec<traffic::Exchange> = match (traffic.bulk, traffic.short) {
        (Some(bulk), _) => vec![traffic::Exchange {
            up: bulk.up,
            down: bulk.down,
        }],
        (None, Some(short)) => (0..short.count)
            .map(|_| traffic::Exchange {
                up: short.up,
                down: short.down,
            })
            .collect(),
        (None, None) => Vec::new(),
    };
    let mut connections = Vec::new();
    for &family in &scenario.families {
        let (Some(c), Some(s)) = (topology.primary(client), topology.primary(server)) else {
            return Err(RunError("a traffic host has no interface".into()));
        };
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
            client_ns: plan.namespaces[client].clone(),
            server_ns: plan.namespaces[server].clone(),
            client_addr,
            server_addr,
            family,
            exchanges: exchanges.clone(),
            client_mss: traffic.client_mss,
            timeout: Duration::from_secs(scenario.timeout_s()),
        };
        connections.extend(traffic::run(&plan).map_err(RunError)?);
    }
    progress("stopping the captures");
    // A moment for the last packets in flight, then all stop together.
    std::thread::sleep(Duration::from_millis(300));
    for (_, capture) in &captures {
        capture.interrupt();
    }
    let files = captures
        .into_iter()
        .map(|(point, capture)| (point, capture.wait()))
        .collect();
    for daemon in daemons {
        daemon.stop();
    }
    Ok(Observed {
        connections,
        captures: files,
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
            let pid = name[NAMESPACE_PREFIX.len()..]
                .split('-')
                .next()
                .and_then(|p| p.parse::<u32>().ok());
            let alive = pid.is_some_and(|p| {
                std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|cmd| cmd.split('\0').any(|w| w == "lab"))
            });
            (name.to_string(), pid, alive)
        })
        .collect()
}

/// Deletes one leftover namespace (and stops what runs in it).
pub fn remove_namespace(name: &str) {
    delete_namespace(name);
}
