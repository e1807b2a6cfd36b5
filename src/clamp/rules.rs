//! The iptables/ip6tables rules that feed NFQUEUE, read from `iptables-save -c`:
//! the ones `mss clamp --install-rules` adds (tagged with the comment "mss clamp
//! queue N", so a later run finds those of a killed one), and the packet counters
//! of every NFQUEUE rule, which tell how many SYNs were queued to us.
//!
//! This kernel has no nft `queue` statement (CONFIG_NFT_QUEUE), so the rules are
//! iptables ones (iptables-nft on Debian), in the mangle table.

use std::ops::RangeInclusive;
use std::process::Command;

/// The two tools, one per family.
pub(crate) const TOOLS: [&str; 2] = ["iptables", "ip6tables"];

pub(crate) use mss_host::iptables::{SavedRule, TAG, parse_save};

/// Deletes a rule.
pub(crate) fn delete(rule: &SavedRule) -> Result<(), String> {
    let mut args = vec!["-t".to_string(), rule.table.clone(), "-D".into()];
    args.push(rule.chain.clone());
    args.extend(rule.spec.iter().cloned());
    run(rule.tool, &args)
}

/// Every rule of both families with its counters; an error names the tool.
pub(crate) fn saved_rules() -> Result<Vec<SavedRule>, String> {
    let mut rules = Vec::new();
    for tool in TOOLS {
        let save = format!("{tool}-save");
        let out = Command::new(&save)
            .arg("-c")
            .output()
            .map_err(|e| format!("cannot run {save}: {e} (apt-get install iptables)"))?;
        if !out.status.success() {
            return Err(format!(
                "{save} -c failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        rules.extend(parse_save(tool, &String::from_utf8_lossy(&out.stdout)));
    }
    Ok(rules)
}

/// Runs `tool args`; an error quotes the command and what it said.
pub(crate) fn run(tool: &str, args: &[String]) -> Result<(), String> {
    let out = Command::new(tool)
        .args(args)
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

/// The rules `--install-rules` adds: forwarded and locally sent SYNs (and
/// SYN-ACKs), both families, to `queues`; `--queue-bypass` unless fail-closed.
pub(crate) fn install_specs(queues: RangeInclusive<u16>, fail_closed: bool) -> Vec<SavedRule> {
    let mut rules = Vec::new();
    for tool in TOOLS {
        for chain in ["FORWARD", "OUTPUT"] {
            let mut spec: Vec<String> = [
                "-p",
                "tcp",
                "-m",
                "tcp",
                "--tcp-flags",
                "SYN,RST",
                "SYN",
                "-m",
                "comment",
                "--comment",
            ]
            .map(String::from)
            .to_vec();
            spec.push(format!("{TAG} {}", queues.start()));
            spec.extend(["-j", "NFQUEUE"].map(String::from));
            if queues.start() == queues.end() {
                spec.extend(["--queue-num".to_string(), queues.start().to_string()]);
            } else {
                spec.extend([
                    "--queue-balance".to_string(),
                    format!("{}:{}", queues.start(), queues.end()),
                ]);
                // Each CPU's packets to one queue: a flow stays on one thread.
                spec.push("--queue-cpu-fanout".into());
            }
            if !fail_closed {
                spec.push("--queue-bypass".into());
            }
            rules.push(SavedRule {
                tool,
                table: "mangle".into(),
                chain: chain.into(),
                spec,
                packets: 0,
            });
        }
    }
    rules
}

/// Inserts the rules; on a failure, removes those already in.
pub(crate) fn install(rules: &[SavedRule]) -> Result<(), String> {
    for (i, rule) in rules.iter().enumerate() {
        let mut args = vec!["-t".to_string(), rule.table.clone(), "-I".into()];
        args.push(rule.chain.clone());
        args.extend(rule.spec.iter().cloned());
        if let Err(e) = run(rule.tool, &args) {
            for done in &rules[..i] {
                let _ = delete(done);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Packets the NFQUEUE rules sent to `queues` so far (their counters), `None`
/// when no rule sends there (the counters cannot tell).
pub(crate) fn queued_to(rules: &[SavedRule], queues: &RangeInclusive<u16>) -> Option<u64> {
    let mut found = false;
    let mut total = 0u64;
    for rule in rules {
        if let Some(range) = rule.queues() {
            if range.start() <= queues.end() && queues.start() <= range.end() {
                found = true;
                total = total.saturating_add(rule.packets);
            }
        }
    }
    found.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAVE: &str = "# Generated by iptables-save v1.8.9 (nf_tables)\n\
        *mangle\n\
        :PREROUTING ACCEPT [0:0]\n\
        [12:720] -A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -m comment --comment \"mss clamp queue 7\" -j NFQUEUE --queue-num 7 --queue-bypass\n\
        [3:180] -A OUTPUT -p tcp -m tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-balance 8:9\n\
        [5:1] -A OUTPUT -j NFQUEUE\n\
        [1:1] -A OUTPUT -m comment --comment \"say \\\"hi\\\"\" -j ACCEPT\n\
        COMMIT\n\
        *filter\n\
        [9:9] -A INPUT -j DROP\n\
        COMMIT\n";

    #[test]
    fn iptables_save_lines_parse_with_counters_tags_and_queues() {
        let rules = parse_save("iptables", SAVE);
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[0].table, "mangle");
        assert_eq!(rules[0].chain, "FORWARD");
        assert_eq!(rules[0].packets, 12);
        assert_eq!(rules[0].tagged_queue(), Some(7));
        assert!(rules[0].bypasses());
        assert_eq!(rules[0].queues(), Some(7..=7));
        assert_eq!(rules[1].queues(), Some(8..=9));
        assert_eq!(rules[1].tagged_queue(), None);
        assert_eq!(rules[2].queues(), Some(0..=0), "no option: queue 0");
        assert_eq!(rules[3].spec[3], "say \"hi\"");
        assert_eq!(rules[3].queues(), None);
        assert_eq!(rules[4].table, "filter");
        assert_eq!(queued_to(&rules, &(7..=7)), Some(12));
        assert_eq!(queued_to(&rules, &(7..=8)), Some(15));
        assert_eq!(queued_to(&rules, &(20..=20)), None);
    }

    #[test]
    fn installed_specs_are_tagged_and_read_back_the_same() {
        for (queues, fail_closed) in [(7..=7, false), (7..=9, true)] {
            let specs = install_specs(queues.clone(), fail_closed);
            assert_eq!(specs.len(), 4);
            for spec in &specs {
                assert_eq!(spec.tagged_queue(), Some(*queues.start()));
                assert_eq!(spec.queues(), Some(queues.clone()));
                assert_eq!(spec.bypasses(), !fail_closed);
                // What iptables-save prints parses back to the same rule.
                let line = format!(
                    "[0:0] {}",
                    &spec.shown()[spec.shown().find("-A").unwrap_or(0)..]
                );
                let back = parse_save(spec.tool, &format!("*mangle\n{line}\n"));
                assert_eq!(back.first(), Some(spec), "{line}");
            }
        }
    }
}
