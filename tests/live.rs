//! `mss analyze -i`: live capture through libpcap on a router in network
//! namespaces whose nftables clamp lowers the MSS of forwarded SYNs. Capturing on
//! both of the router's interfaces at once, mss sees each SYN as it came in and as
//! it went out, and locates the rewrite between the two; the connection's record
//! is out while the capture still runs; Ctrl-C ends the capture with the summary.
//! The kernel's own TCP_MAXSEG is the reference.

mod support;

use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Routed, netns_available};

#[test]
fn a_live_capture_on_both_router_interfaces_locates_the_clamp() {
    if !netns_available("a_live_capture_on_both_router_interfaces_locates_the_clamp") {
        return;
    }
    let lab = Routed::new("live", 85, 1500);
    lab.nft(
        "add table inet mss_live; add chain inet mss_live forward { type filter hook \
         forward priority mangle; }; add rule inet mss_live forward tcp flags syn tcp \
         option maxseg size set 1300",
    );
    let router = &lab.router;

    let mut mss = router
        .command(env!("CARGO_BIN_EXE_mss"))
        .args(["analyze", "-i", "vr1", "-i", "vr2", "--json", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mss");
    let lines = support::lines_of(mss.stdout.take().expect("stdout"));
    // The traffic starts once mss says both interfaces are open.
    let said = support::lines_of(mss.stderr.take().expect("stderr"));
    let first = said
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("mss said nothing within 30 s"));
    assert!(first.contains("capturing on vr1, vr2"), "{first}");

    let at: IpAddr = "10.85.2.1".parse().expect("address");
    let (client_mss, server_mss) = lab.transfer(at, 100_000, || {});
    assert_eq!(
        (client_mss, server_mss),
        (1288, 1288),
        "the kernels under the clamp"
    );

    // The record comes while the capture still runs.
    let record = lines
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("no record within 5 s of the connection's end"));
    let conn: serde_json::Value = serde_json::from_str(&record).expect("JSON");
    assert_eq!(conn["type"], "connection", "{record}");
    assert_eq!(conn["client"]["effective_send_mss"], 1288, "{record}");
    assert_eq!(conn["server"]["effective_send_mss"], 1288, "{record}");
    let rewritten: Vec<&serde_json::Value> = conn["findings"]
        .as_array()
        .map(|f| f.iter().filter(|f| f["kind"] == "mss_rewritten").collect())
        .unwrap_or_default();
    assert_eq!(rewritten.len(), 2, "{record}");
    let client_rewrite = rewritten
        .iter()
        .find(|f| f["endpoint"] == "client")
        .expect("the client's SYN rewritten");
    assert_eq!(client_rewrite["from"], 1460);
    assert_eq!(client_rewrite["to"], 1300);
    assert_eq!(client_rewrite["between"], serde_json::json!(["vr1", "vr2"]));
    let explanation = client_rewrite["explanation"].as_str().unwrap_or_default();
    assert!(
        explanation.contains("at vr1 and 1300 at vr2: the host that captured both"),
        "{explanation}"
    );

    // Ctrl-C: the summary, and a clean exit.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(mss.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let summary = lines
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no summary after Ctrl-C"));
    assert!(summary.contains("\"type\":\"summary\""), "{summary}");
    assert!(summary.contains("\"format\":\"live\""), "{summary}");
    let status = mss.wait().expect("wait");
    let rest: Vec<String> = said.try_iter().collect();
    assert!(status.success(), "{status:?}: {rest:?}");
}

/// Errors a user meets first: an interface that does not exist (the list of
/// those that do), a filter that does not compile (libpcap's message).
#[test]
fn live_capture_errors_say_what_to_do() {
    // Without root, libpcap refuses before it looks at the interface.
    if !netns_available("live_capture_errors_say_what_to_do") {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(["analyze", "-i", "mss-nonexistent0", "--duration", "1"])
        .output()
        .expect("run mss");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mss-nonexistent0")
            && err.contains("the interfaces are")
            && err.contains("lo"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(["analyze", "-i", "lo", "--duration", "1", "tcp", "port"])
        .output()
        .expect("run mss");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tcp port") && err.contains("syntax error"),
        "{err}"
    );
}
