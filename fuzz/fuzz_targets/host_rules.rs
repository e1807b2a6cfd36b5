//! `mss host`'s readers of firewall rules over arbitrary text: `iptables-save`
//! output (quotes, escapes, counters) and `nft -j list ruleset` JSON, then the
//! report built from what they found. No panic; every rule parsed keeps its
//! clamp found by iptables names its value in the rule it shows, and every item
//! of the report says what it means.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mss_host::clamps::{Target, iptables_clamps, nft_clamps};
use mss_host::iptables::parse_save;
use mss_host::{Facts, report};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let rules = parse_save("iptables", &text);
    for rule in &rules {
        let _ = rule.shown();
        let _ = rule.queues();
    }
    let (mut clamps, queue_rules) = iptables_clamps(&rules);
    for clamp in &clamps {
        if let Target::Fixed(v) = clamp.target {
            assert!(
                clamp.rule.contains(&v.to_string()),
                "{clamp:?}: the value is in the rule"
            );
        }
    }
    if let Ok(found) = nft_clamps(&text) {
        clamps.extend(found);
    }
    let items = report(&Facts {
        clamps,
        queue_rules,
        ..Facts::default()
    });
    for item in items {
        assert!(!item.meaning.is_empty(), "{item:?}");
    }
});
