//! `mss clamp --nfqueue N`: clamps SYNs that iptables queues to userspace. This
//! kernel has no nft `queue` statement, so the rules are iptables/ip6tables
//! `-j NFQUEUE` in the mangle table (forwarded and locally sent SYNs).
//!
//! The kernel completes partial checksums before it queues a packet (without
//! NFQA_CFG_F_GSO, nfqnl_build_packet_message() calls skb_checksum_help()), so the
//! incremental checksum update of the clamp is right for every packet seen here.
//!
//! Fail-open by default: the rules carry `--queue-bypass`, so while no mss listens
//! (killed, not started yet) SYNs pass unclamped instead of being dropped;
//! `--fail-closed` drops them. On SIGINT/SIGTERM/SIGHUP, on an error, and at a
//! normal end the rules it installed are removed.

use std::io::{self, Write};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mss_clamp::{INSERT_ROOM, Outcome, Skip, clamp_ip};

use super::Resolved;
use crate::Failure;
use crate::cli::ClampArgs;

/// Counters shared with the statistics and signal threads.
#[derive(Default)]
struct Counters {
    syns: AtomicU64,
    lowered: AtomicU64,
    already_low: AtomicU64,
    inserted: AtomicU64,
    skipped: AtomicU64,
    other: AtomicU64,
}

impl Counters {
    fn count(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Lowered { .. } => &self.lowered,
            Outcome::Inserted { .. } => &self.inserted,
            Outcome::Unchanged(Skip::AlreadyLow { .. }) => &self.already_low,
            Outcome::Unchanged(Skip::NotIp | Skip::NotTcp | Skip::NotSyn) => {
                self.other.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Outcome::Unchanged(_) => &self.skipped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.syns.fetch_add(1, Ordering::Relaxed);
    }

    fn line(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{} SYNs: {} lowered, {} already low, {} inserted, {} skipped; {} other packets",
            get(&self.syns),
            get(&self.lowered),
            get(&self.already_low),
            get(&self.inserted),
            get(&self.skipped),
            get(&self.other)
        )
    }
}

/// The iptables rules that queue SYNs to us; removed once.
struct Rules {
    specs: Vec<(&'static str, Vec<String>)>,
}

impl Rules {
    fn new(queue: u16, fail_closed: bool) -> Rules {
        let mut specs = Vec::new();
        for tool in ["iptables", "ip6tables"] {
            for chain in ["FORWARD", "OUTPUT"] {
                let mut spec: Vec<String> = [
                    "-t",
                    "mangle",
                    "CHAIN",
                    chain,
                    "-p",
                    "tcp",
                    "--tcp-flags",
                    "SYN,RST",
                    "SYN",
                    "-m",
                    "comment",
                    "--comment",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                spec.push(format!("mss clamp queue {queue}"));
                spec.extend(["-j", "NFQUEUE", "--queue-num"].map(String::from));
                spec.push(queue.to_string());
                if !fail_closed {
                    spec.push("--queue-bypass".into());
                }
                specs.push((tool, spec));
            }
        }
        Rules { specs }
    }

    fn run(tool: &str, action: &str, spec: &[String]) -> Result<(), String> {
        let args: Vec<&str> = spec
            .iter()
            .map(|s| if s == "CHAIN" { action } else { s.as_str() })
            .collect();
        let out = Command::new(tool)
            .args(&args)
            .output()
            .map_err(|e| format!("cannot run {tool}: {e} (apt-get install iptables)"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn install(&self) -> Result<(), String> {
        for (i, (tool, spec)) in self.specs.iter().enumerate() {
            if let Err(e) = Self::run(tool, "-I", spec) {
                for (tool, spec) in &self.specs[..i] {
                    let _ = Self::run(tool, "-D", spec);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn remove(&self) {
        for (tool, spec) in &self.specs {
            let _ = Self::run(tool, "-D", spec);
        }
    }
}

/// Removes the rules when dropped (an error, a normal end).
struct Installed(Arc<Mutex<Option<Rules>>>);

impl Drop for Installed {
    fn drop(&mut self) {
        let rules = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(rules) = rules {
            rules.remove();
        }
    }
}

pub(crate) fn run(
    queue_num: u16,
    resolved: &Resolved,
    args: &ClampArgs,
    out: &mut impl Write,
) -> Result<ExitCode, Failure> {
    let denied = |what: &str, e: io::Error| {
        if e.kind() == io::ErrorKind::PermissionDenied {
            Failure::Input(format!(
                "{what}: {e}: mss clamp --nfqueue needs CAP_NET_ADMIN (run it as root)"
            ))
        } else {
            Failure::Input(format!("{what}: {e}"))
        }
    };
    let mut queue = nfq::Queue::open().map_err(|e| denied("opening NFQUEUE", e))?;
    queue
        .bind(queue_num)
        .map_err(|e| denied(&format!("binding queue {queue_num}"), e))?;
    // Accept rather than drop when the kernel's queue overflows.
    let _ = queue.set_fail_open(queue_num, true);
    // SYNs are small; the whole packet is needed to rewrite it.
    let _ = queue.set_copy_range(queue_num, u16::MAX);
    let counters = Arc::new(Counters::default());
    let rules = Arc::new(Mutex::new(None::<Rules>));
    let _installed = Installed(Arc::clone(&rules));
    if args.install_rules {
        let new = Rules::new(queue_num, args.fail_closed);
        new.install()
            .map_err(|e| Failure::Input(format!("installing the queue rules: {e}")))?;
        *rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(new);
    }
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| Failure::Input(format!("cannot handle signals: {e}")))?;
        let rules = Arc::clone(&rules);
        let counters = Arc::clone(&counters);
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let taken = rules
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                if let Some(rules) = taken {
                    rules.remove();
                }
                let _ = writeln!(io::stderr(), "mss clamp: stopped: {}", counters.line());
                std::process::exit(if signal == SIGINT || signal == SIGTERM {
                    0
                } else {
                    128 + signal
                });
            }
        });
    }
    if args.stats_every > 0 {
        let counters = Arc::clone(&counters);
        let every = Duration::from_secs(args.stats_every);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(every);
                let _ = writeln!(io::stderr(), "mss clamp: {}", counters.line());
            }
        });
    }
    writeln!(
        out,
        "mss clamp: queue {queue_num}: IPv4 target {}, IPv6 target {} ({}){}",
        resolved.v4(),
        resolved.v6(),
        resolved.origin,
        if args.install_rules {
            if args.fail_closed {
                "; rules installed, fail-closed"
            } else {
                "; rules installed, fail-open"
            }
        } else {
            "; queue SYNs to it with iptables -j NFQUEUE --queue-num N --queue-bypass"
        }
    )?;
    out.flush()?;
    let mut scratch: Vec<u8> = Vec::with_capacity(1600);
    loop {
        let mut msg = queue
            .recv()
            .map_err(|e| Failure::Input(format!("receiving from queue {queue_num}: {e}")))?;
        let payload = msg.get_payload();
        let len = payload.len();
        scratch.clear();
        scratch.extend_from_slice(payload);
        scratch.resize(len + INSERT_ROOM, 0);
        let clamped = clamp_ip(&mut scratch, len, &resolved.targets);
        counters.count(clamped.outcome);
        match clamped.outcome {
            Outcome::Lowered { .. } => msg.get_payload_mut().copy_from_slice(&scratch[..len]),
            Outcome::Inserted { .. } => msg.set_payload(&scratch[..clamped.len]),
            Outcome::Unchanged(_) => {}
        }
        msg.set_verdict(nfq::Verdict::Accept);
        queue
            .verdict(msg)
            .map_err(|e| Failure::Input(format!("verdict on queue {queue_num}: {e}")))?;
    }
}
