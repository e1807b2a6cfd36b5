//! Rules as `iptables-save` prints them (with `-c`, their counters too): the
//! words of each, split as the shell would, and what mss asks of them.

use std::ops::RangeInclusive;

/// The comment every rule `mss clamp --install-rules` adds carries, followed by
/// the queue number.
pub const TAG: &str = "mss clamp queue";

/// One rule as `iptables-save -c` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedRule {
    /// `iptables` or `ip6tables`.
    pub tool: &'static str,
    pub table: String,
    pub chain: String,
    /// Everything after `-A CHAIN`, split as the shell would.
    pub spec: Vec<String>,
    /// Packets that matched.
    pub packets: u64,
}

impl SavedRule {
    /// The NFQUEUE queues this rule sends to (`--queue-num N`, `--queue-balance
    /// A:B`, or queue 0), `None` for other targets.
    pub fn queues(&self) -> Option<RangeInclusive<u16>> {
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
    pub fn tagged_queue(&self) -> Option<u16> {
        let comment = self
            .spec
            .windows(2)
            .find(|w| w[0] == "--comment")
            .map(|w| w[1].as_str())?;
        comment.strip_prefix(TAG)?.trim().parse().ok()
    }

    /// Whether it lets packets pass when no process listens.
    pub fn bypasses(&self) -> bool {
        self.spec.iter().any(|a| a == "--queue-bypass")
    }

    /// The command line that shows it (for messages).
    pub fn shown(&self) -> String {
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
}

/// Splits a line of `iptables-save` output into words: double quotes group, a
/// backslash escapes the next character.
pub fn split_words(line: &str) -> Vec<String> {
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
pub fn parse_save(tool: &'static str, text: &str) -> Vec<SavedRule> {
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
