//! `mss clamp --tc IFACE`: the in-kernel clamp (the mss-tc crate) attached,
//! changed, shown or removed, and what it says rendered.

use std::io::Write;
use std::process::ExitCode;

use mss_tc::{Bucket, Hooks, Seen, Status};
use serde_json::json;

use super::{Mode, Resolved};
use crate::Failure;
use crate::cli::ClampArgs;

/// What `--tc IFACE` was asked to do.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Action {
    /// Attach (or change the targets of) the clamp on these hooks.
    Attach(Hooks),
    /// Print targets and counters.
    Status,
    /// Remove it.
    Detach,
}

/// `--tc IFACE ...`: flags of the other modes are refused by name.
pub(crate) fn mode<'a>(
    args: &'a ClampArgs,
    interface: &'a str,
    given_live: Vec<&'static str>,
) -> Result<Mode<'a>, Failure> {
    if !given_live.is_empty() {
        return Err(Failure::Input(format!(
            "{} only apply to --nfqueue; --tc clamps in the kernel with no process to \
             tune",
            given_live.join(", ")
        )));
    }
    if args.force {
        return Err(Failure::Input(
            "--force is for clamping a capture file; --tc clamps live packets".into(),
        ));
    }
    if interface.is_empty() || interface.len() > 15 || interface.contains(['/', ' ']) {
        return Err(Failure::Input(format!(
            "--tc {interface:?}: not an interface name (`ip link` lists them)"
        )));
    }
    let action = if args.status {
        Action::Status
    } else if args.detach {
        Action::Detach
    } else {
        let hooks = match args.direction.as_deref().unwrap_or("both") {
            "in" => Hooks {
                ingress: true,
                egress: false,
            },
            "out" => Hooks {
                ingress: false,
                egress: true,
            },
            _ => Hooks {
                ingress: true,
                egress: true,
            },
        };
        Action::Attach(hooks)
    };
    if args.json && matches!(action, Action::Detach) {
        return Err(Failure::Input(
            "--detach prints one line; --json goes with --status or attaching".into(),
        ));
    }
    Ok(Mode::Tc(interface, action))
}

fn refused(error: mss_tc::Error) -> Failure {
    Failure::Input(format!("--tc: {error}"))
}

pub(crate) fn run(
    interface: &str,
    action: Action,
    resolved: Option<&Resolved>,
    args: &ClampArgs,
    out: &mut impl Write,
) -> Result<ExitCode, Failure> {
    match action {
        Action::Status => {
            let status = mss_tc::status(interface).map_err(refused)?;
            render(interface, &status, None, args.json, out)?;
        }
        Action::Detach => {
            if mss_tc::detach(interface).map_err(refused)? {
                writeln!(out, "mss clamp --tc {interface}: removed")?;
            } else {
                writeln!(
                    out,
                    "mss clamp --tc {interface}: nothing of mss's was there"
                )?;
            }
        }
        Action::Attach(hooks) => {
            let Some(resolved) = resolved else {
                return Err(Failure::Input("give --mss or --mtu".into()));
            };
            let targets = resolved.targets;
            // Attached on the same hooks already: only the targets change, in the
            // pinned map, with no reload. Anything else loads and replaces.
            let (status, how) = match mss_tc::status(interface) {
                Ok(status) if status.hooks == hooks => (
                    mss_tc::set_targets(interface, &targets).map_err(refused)?,
                    "targets changed (no reload)",
                ),
                Ok(_) => (
                    mss_tc::attach(interface, hooks, &targets).map_err(refused)?,
                    "replaced",
                ),
                Err(_) => (
                    mss_tc::attach(interface, hooks, &targets).map_err(refused)?,
                    "attached",
                ),
            };
            render(
                interface,
                &status,
                Some((how, &resolved.origin)),
                args.json,
                out,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn hooks_words(hooks: Hooks) -> &'static str {
    match (hooks.ingress, hooks.egress) {
        (true, true) => "ingress and egress",
        (true, false) => "ingress",
        (false, true) => "egress",
        (false, false) => "no hook",
    }
}

fn target_text(value: Option<u16>) -> String {
    value.map_or_else(|| "left alone".to_string(), |v| v.to_string())
}

fn render(
    interface: &str,
    status: &Status,
    change: Option<(&str, &str)>,
    as_json: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let targets = status.targets;
    if as_json {
        let counters: serde_json::Map<String, serde_json::Value> = status
            .counters
            .iter()
            .map(|(counter, value)| (counter.name().to_string(), json!(value)))
            .collect();
        let seen: Vec<serde_json::Value> = status
            .seen
            .iter()
            .map(|row| {
                json!({
                    "ip_version": if row.ipv6 { 6 } else { 4 },
                    "direction": if row.syn_ack { "syn_ack" } else { "syn" },
                    "le": match row.bucket {
                        Bucket::AtMost(bound) => json!(bound),
                        Bucket::Above(_) => json!("+Inf"),
                        Bucket::NoOption => json!("none"),
                    },
                    "count": row.count,
                })
            })
            .collect();
        let mut record = json!({
            "type": "tc_clamp",
            "interface": interface,
            "direction": status.hooks.name(),
            "targets": {"ipv4": targets.ipv4, "ipv6": targets.ipv6, "insert": targets.insert},
            "counters": counters,
            "syn_mss": seen,
            "pin_dir": status.pin_dir.display().to_string(),
        });
        if let (Some((how, origin)), Some(object)) = (change, record.as_object_mut()) {
            object.insert("action".into(), json!(how));
            object.insert("origin".into(), json!(origin));
        }
        writeln!(out, "{record}")?;
        return Ok(());
    }
    if let Some((how, origin)) = change {
        writeln!(
            out,
            "mss clamp --tc {interface}: {how}, on {} ({origin})",
            hooks_words(status.hooks)
        )?;
        writeln!(
            out,
            "It stays attached after mss exits: `mss clamp --tc {interface} --status` shows \
             its counters, `--detach` removes it."
        )?;
    } else {
        writeln!(
            out,
            "mss clamp --tc {interface}: on {} (tc filter pref {} handle {:#x}, {:?})",
            hooks_words(status.hooks),
            mss_tc::PRIORITY,
            mss_tc::HANDLE,
            mss_tc::PROGRAM_NAME
        )?;
    }
    writeln!(
        out,
        "targets: IPv4 {}, IPv6 {}, insert {}",
        target_text(targets.ipv4),
        target_text(targets.ipv6),
        if targets.insert { "yes" } else { "no" }
    )?;
    if change.is_none() {
        writeln!(out, "maps pinned at {}", status.pin_dir.display())?;
        let width = status
            .counters
            .iter()
            .map(|(counter, _)| counter.name().len())
            .max()
            .unwrap_or(0);
        for (counter, value) in &status.counters {
            writeln!(out, "  {:<width$}  {value}", counter.name())?;
        }
        render_seen(&status.seen, out)?;
    }
    Ok(())
}

/// The announced-MSS histogram, a line per IP version and SYN or SYN-ACK.
fn render_seen(seen: &[Seen], out: &mut impl Write) -> Result<(), Failure> {
    if seen.is_empty() {
        return Ok(());
    }
    writeln!(out, "MSS announced (before clamping), by bucket:")?;
    for (ipv6, syn_ack, name) in [
        (false, false, "IPv4 SYN"),
        (false, true, "IPv4 SYN-ACK"),
        (true, false, "IPv6 SYN"),
        (true, true, "IPv6 SYN-ACK"),
    ] {
        let buckets: Vec<String> = seen
            .iter()
            .filter(|row| row.ipv6 == ipv6 && row.syn_ack == syn_ack)
            .map(|row| match row.bucket {
                Bucket::AtMost(bound) => format!("<={bound} {}", row.count),
                Bucket::Above(bound) => format!(">{bound} {}", row.count),
                Bucket::NoOption => format!("none {}", row.count),
            })
            .collect();
        if !buckets.is_empty() {
            writeln!(out, "  {name:<12}  {}", buckets.join(", "))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The kernel's histogram has `mss watch`'s buckets, so the two read alike.
    #[test]
    fn histogram_bounds_are_mss_watchs() {
        let bounds: Vec<u32> = mss_tc::MSS_BOUNDS.iter().map(|&b| u32::from(b)).collect();
        assert_eq!(bounds, mss_analyze::watch::MSS_BUCKETS);
    }
}
