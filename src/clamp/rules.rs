//! The iptables/ip6tables rules that feed NFQUEUE, read from `iptables-save -c`:
//! the ones `mss clamp --install-rules` adds (tagged with the comment "mss clamp
//! queue N", so a later run finds those of a killed one), and the packet counters
//! of every NFQUEUE rule, which tell how many SYNs were queued to us.
//!
//! This kernel has no nft `queue` statement (CONFIG_NFT_QUEUE), so the rules are
//! iptables ones (iptables-nft on Debian), in the mangle table.

use std::ops::RangeInclusive;
use std::process::Command;

/// The comment every installed rule carries, followed by the queue number.
pub(crate) const TAG: &str = "mss clamp queue";

/// The two tools, one per family.
pub(crate) const TOOLS: [&str; 2] = ["iptables", "ip6tables"];

/// One rule as `iptables-save -c` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SavedRule {
    /// `iptables` or `ip6tables`.
    pub(crate) tool: &'static str,
    pub(crate) table: String,
    pub(crate) chain: String,
    /// Everything after `-A CHAIN`, split as the shell would.
    pub(crate) spec: Vec<String>,
    /// Packets that matched.
    pub(crate) packets: u64,
}

impl SavedRule {
    /// The NFQUEUE queues this rule sends to (`--queue-num N`, `--queue-balance
    /// A:B`, or queue 0), `None` for other targets.
    pub(crate) fn queues(&self) -> Option<RangeInclusive<u16>> {
        let target = self
            .spec
            .windows(2)
            .find(|w| w[0] == "-j")
            .map(|w| w[1].as_str());
        if target != Some("NFQUEUE") {
            return None;
        }
        let value = |flag: &str| {
            self.spec
                .windows(2)
                .find(|w| w[0] == flag)
                .map(|w| w[1].clone())
        };
        if let Some(balance) = value("--queue-balance") {
            let (a, b) = balance.split_once(':')?;
            return Some(a.parse().ok()?..=b.parse().ok()?);
        }
        let num = value("--queue-num").map_or(Some(0), |n| n.parse().ok())?;
        Some(num..=num)
    }

    /// The queue number in an "mss clamp queue N" comment.
    pub(crate) fn tagged_queue(&self) -> Option<u16> {
        let comment = self
            .spec
            .windows(2)
            .find(|w| w[0] == "--comment")
            .map(|w| w[1].as_str())?;
        comment.strip_prefix(TAG)?.trim().parse().ok()
    }

    /// Whether it lets packets pass when no process listens.
    pub(crate) fn bypasses(&self) -> bool {
        self.spec.iter().any(|a| a == "--queue-bypass")
    }

    /// The command line that shows it (for messages).
    pub(crate) fn shown(&self) -> String {
        format!(
            "{} -t {} -A {} {}",
            self.tool,
            self.table,
            self.chain,
            self.spec
                .iter()
                .map(|a| if a.contains(' ') {
                    format!("\"{a}\"")
                } else {
                    a.clone()
                })
                .collect::<Vec<_>>()
                .join(" ")
        )
    }

    /// Deletes it.
    pub(crate) fn delete(&self) -> Result<(), String> {
        let mut args = vec!["-t".to_string(), self.table.clone(), "-D".into()];
        args.push(self.chain.clone());
        args.extend(self.spec.iter().cloned());
        run(self.tool, &args)
    }
}

/// Splits a line of `iptables-save` output into words: double quotes group, a
/// backslash escapes the next character.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
                in_word = true;
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Parses `iptables-save -c` output.
pub(crate) fn parse_save(tool: &'static str, text: &str) -> Vec<SavedRule> {
    let mut table = String::new();
    let mut rules = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('*') {
            table = name.trim().to_string();
            continue;
        }
        let (packets, rest) = match line.strip_prefix('[') {
            Some(counted) => {
                let Some((counters, rest)) = counted.split_once(']') else {
                    continue;
                };
                let packets = counters
                    .split(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                (packets, rest)
            }
            None => (0, line),
        };
        let words = split_words(rest);
        let [flag, chain, spec @ ..] = words.as_slice() else {
            continue;
        };
        if flag != "-A" {
            continue;
        }
        rules.push(SavedRule {
            tool,
            table: table.clone(),
            chain: chain.clone(),
            spec: spec.to_vec(),
            packets,
        });
    }
    rules
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
                let _ = done.delete();
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
