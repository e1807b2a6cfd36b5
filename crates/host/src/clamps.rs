//! MSS clamps configured on a host: nftables rules that set `tcp option maxseg
//! size` (read from `nft -j list ruleset`, nftables' stable JSON interface) and
//! iptables/ip6tables `TCPMSS` rules (from `iptables-save`), plus NFQUEUE rules,
//! whose clamp is a process.

use serde_json::Value;

use crate::iptables::SavedRule;

/// What a clamp sets the MSS to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A fixed value.
    Fixed(u16),
    /// The route's MTU less 40 (IPv6 60): nft `rt mtu`, iptables
    /// `--clamp-mss-to-pmtu`.
    RouteMtu,
}

/// One clamp rule.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Clamp {
    /// `nft`, `iptables` or `ip6tables`.
    pub tool: String,
    /// The families it applies to: `ip`, `ip6`, `inet` (both), as nft names them.
    pub family: String,
    /// Table and chain.
    pub table: String,
    pub chain: String,
    /// The chain's hook (`forward`, `output`, `postrouting`), where known.
    pub hook: Option<String>,
    /// What it sets.
    pub target: Target,
    /// Output interfaces it is limited to (`oifname`, `-o`).
    pub out_interfaces: Vec<String>,
    /// Input interfaces it is limited to (`iifname`, `-i`).
    pub in_interfaces: Vec<String>,
    /// The rule as the tool shows it, for messages.
    pub rule: String,
}

/// An NFQUEUE rule: packets go to a process, which may not be there.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueueRule {
    pub tool: String,
    /// The queues it sends to.
    pub queues: (u16, u16),
    /// Whether packets pass when no process reads the queue (`--queue-bypass`).
    pub bypass: bool,
    pub rule: String,
}

/// The clamps in `nft -j list ruleset` output, or why it could not be read.
pub fn nft_clamps(json: &str) -> Result<Vec<Clamp>, String> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("nft -j list ruleset: not JSON: {e}"))?;
    let items = value["nftables"]
        .as_array()
        .ok_or("nft -j list ruleset: no \"nftables\" array")?;
    let mut hooks = std::collections::HashMap::new();
    for item in items {
        let chain = &item["chain"];
        if let (Some(family), Some(table), Some(name)) = (
            chain["family"].as_str(),
            chain["table"].as_str(),
            chain["name"].as_str(),
        ) {
            if let Some(hook) = chain["hook"].as_str() {
                hooks.insert((family, table, name), hook.to_string());
            }
        }
    }
    let mut clamps = Vec::new();
    for item in items {
        let rule = &item["rule"];
        let (Some(family), Some(table), Some(chain), Some(exprs)) = (
            rule["family"].as_str(),
            rule["table"].as_str(),
            rule["chain"].as_str(),
            rule["expr"].as_array(),
        ) else {
            continue;
        };
        let mut target = None;
        let mut out_interfaces = Vec::new();
        let mut in_interfaces = Vec::new();
        for expr in exprs {
            let mangle = &expr["mangle"];
            if mangle["key"]["tcp option"]["name"] == "maxseg" {
                target = match &mangle["value"] {
                    Value::Number(n) => n
                        .as_u64()
                        .and_then(|v| u16::try_from(v).ok())
                        .map(Target::Fixed),
                    v if v["rt"]["key"] == "mtu" => Some(Target::RouteMtu),
                    _ => None,
                };
            }
            let matched = &expr["match"];
            if matched["op"] == "==" || matched["op"] == "in" {
                let names = || -> Vec<String> {
                    match &matched["right"] {
                        Value::String(s) => vec![s.clone()],
                        Value::Object(set) => set
                            .get("set")
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(|v| v.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        _ => Vec::new(),
                    }
                };
                match matched["left"]["meta"]["key"].as_str() {
                    Some("oifname" | "oif") => out_interfaces.extend(names()),
                    Some("iifname" | "iif") => in_interfaces.extend(names()),
                    _ => {}
                }
            }
        }
        if let Some(target) = target {
            clamps.push(Clamp {
                tool: "nft".into(),
                family: family.into(),
                table: table.into(),
                chain: chain.into(),
                hook: hooks.get(&(family, table, chain)).cloned(),
                target,
                rule: format!(
                    "nft {family} {table} {chain}: {}",
                    describe(&out_interfaces, &in_interfaces, target)
                ),
                out_interfaces,
                in_interfaces,
            });
        }
    }
    Ok(clamps)
}

fn describe(out: &[String], r#in: &[String], target: Target) -> String {
    let mut words = Vec::new();
    if !r#in.is_empty() {
        words.push(format!("iifname {}", r#in.join(",")));
    }
    if !out.is_empty() {
        words.push(format!("oifname {}", out.join(",")));
    }
    words.push(match target {
        Target::Fixed(v) => format!("tcp option maxseg size set {v}"),
        Target::RouteMtu => "tcp option maxseg size set rt mtu".into(),
    });
    words.join(" ")
}

/// The TCPMSS clamps and NFQUEUE rules among iptables-save rules.
pub fn iptables_clamps(rules: &[SavedRule]) -> (Vec<Clamp>, Vec<QueueRule>) {
    let mut clamps = Vec::new();
    let mut queues = Vec::new();
    for rule in rules {
        let value = |flag: &str| {
            rule.spec
                .windows(2)
                .find(|w| w[0] == flag)
                .map(|w| w[1].clone())
        };
        if let Some(range) = rule.queues() {
            queues.push(QueueRule {
                tool: rule.tool.to_string(),
                queues: (*range.start(), *range.end()),
                bypass: rule.bypasses(),
                rule: rule.shown(),
            });
            continue;
        }
        if value("-j").as_deref() != Some("TCPMSS") {
            continue;
        }
        let target = if rule.spec.iter().any(|w| w == "--clamp-mss-to-pmtu") {
            Target::RouteMtu
        } else {
            match value("--set-mss").and_then(|v| v.parse().ok()) {
                Some(v) => Target::Fixed(v),
                None => continue,
            }
        };
        let hook = match rule.chain.as_str() {
            "FORWARD" => Some("forward"),
            "OUTPUT" => Some("output"),
            "POSTROUTING" => Some("postrouting"),
            "PREROUTING" => Some("prerouting"),
            "INPUT" => Some("input"),
            _ => None,
        };
        clamps.push(Clamp {
            tool: rule.tool.to_string(),
            family: if rule.tool == "ip6tables" {
                "ip6"
            } else {
                "ip"
            }
            .into(),
            table: rule.table.clone(),
            chain: rule.chain.clone(),
            hook: hook.map(str::to_string),
            target,
            out_interfaces: value("-o").into_iter().collect(),
            in_interfaces: value("-i").into_iter().collect(),
            rule: rule.shown(),
        });
    }
    (clamps, queues)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULESET: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
      {"table": {"family": "inet", "name": "c", "handle": 1}},
      {"chain": {"family": "inet", "table": "c", "name": "forward", "handle": 1,
                 "type": "filter", "hook": "forward", "prio": -150, "policy": "accept"}},
      {"rule": {"family": "inet", "table": "c", "chain": "forward", "handle": 2, "expr": [
        {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wg0"}},
        {"match": {"op": "in", "left": {"payload": {"protocol": "tcp", "field": "flags"}}, "right": "syn"}},
        {"mangle": {"key": {"tcp option": {"name": "maxseg", "field": "size"}}, "value": 1300}}]}},
      {"rule": {"family": "inet", "table": "c", "chain": "forward", "handle": 3, "expr": [
        {"match": {"op": "in", "left": {"payload": {"protocol": "tcp", "field": "flags"}}, "right": "syn"}},
        {"mangle": {"key": {"tcp option": {"name": "maxseg", "field": "size"}}, "value": {"rt": {"key": "mtu"}}}}]}},
      {"rule": {"family": "inet", "table": "c", "chain": "forward", "handle": 4, "expr": [
        {"accept": null}]}}]}"#;

    #[test]
    fn nft_rules_that_set_the_mss_are_found_with_their_interfaces() {
        let clamps = nft_clamps(RULESET).expect("parsed");
        assert_eq!(clamps.len(), 2);
        assert_eq!(clamps[0].target, Target::Fixed(1300));
        assert_eq!(clamps[0].out_interfaces, ["wg0"]);
        assert_eq!(clamps[0].hook.as_deref(), Some("forward"));
        assert_eq!(clamps[1].target, Target::RouteMtu);
        assert!(clamps[1].out_interfaces.is_empty());
        assert!(nft_clamps("not json").is_err());
    }

    #[test]
    fn iptables_tcpmss_and_nfqueue_rules_are_found() {
        let text = "*mangle\n:FORWARD ACCEPT [0:0]\n\
            -A FORWARD -o wg0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1360\n\
            -A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n\
            -A FORWARD -p tcp -j NFQUEUE --queue-num 7\nCOMMIT\n";
        let rules = crate::iptables::parse_save("iptables", text);
        let (clamps, queues) = iptables_clamps(&rules);
        assert_eq!(clamps.len(), 2);
        assert_eq!(clamps[0].target, Target::Fixed(1360));
        assert_eq!(clamps[0].out_interfaces, ["wg0"]);
        assert_eq!(clamps[0].hook.as_deref(), Some("forward"));
        assert_eq!(clamps[1].target, Target::RouteMtu);
        assert_eq!(queues.len(), 1);
        assert_eq!(queues[0].queues, (7, 7));
        assert!(!queues[0].bypass);
    }
}
