//! Command-line arguments: what the user typed, validated, before anything touches
//! the system.

use clap::{Args, Parser, Subcommand};
use mss_rules::{EncapStack, SegmentOptions};

/// TCP Maximum Segment Size and path MTU: compute, explain, fix.
#[derive(Debug, Parser)]
#[command(
    name = "mss",
    version,
    about = "TCP Maximum Segment Size and path MTU: compute, explain, fix",
    long_about = "mss makes the TCP Maximum Segment Size visible and predictable: what a \
                  host advertises for a link, what it really sends once options and \
                  tunnels take their share, and why.\n\n\
                  Exit status: 0 fine, 1 a check asked for failed, 2 usage or input error.",
    after_help = "Examples:\n  \
                  mss calc --mtu 1500 --encap wireguard --explain\n  \
                  mss analyze client.pcap router-out.pcap\n  \
                  mss clamp --mtu 1400 trace.pcap -o clamped.pcap\n  \
                  mss clamp --mss 1360 --emit mikrotik\n  \
                  mss probe path example.net\n  \
                  sudo mss lab run clamp\n\n\
                  `mss COMMAND --help` has more for each."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// MTU, encapsulations and TCP options in; advertised MSS, effective MSS and the
    /// frame layout out.
    #[command(
        long_about = "Computes, for IPv4 and IPv6, the MTU left for the TCP/IP packet after \
                      the encapsulations, the MSS a host advertises for it (RFC 6691 and \
                      what Linux puts in its SYN), the payload a sender really puts in each \
                      segment with the given TCP options (RFC 9293 section 3.7.1), and a \
                      byte-by-byte picture of the largest Ethernet frame.\n\n\
                      With --mss it answers the reverse question: which MTU (and which link \
                      MTU under the encapsulations) makes a host advertise that MSS.",
        after_help = "Examples:\n  \
                      mss calc --mtu 1500                    1460 / 1440, both families\n  \
                      mss calc --mtu 1500 --options ts       1448 / 1428: why not 1460\n  \
                      mss calc --mtu 1500 --encap pppoe      DSL: 1492 MTU, 1452 MSS\n  \
                      mss calc --mtu 1500 --encap wireguard  1400 / 1380 inside the tunnel\n  \
                      mss calc --mtu 1500 --encap vlan,pppoe,esp:aes-cbc:sha1:natt --explain\n  \
                      mss calc --mss 1360 --ipv6             which MTU advertises 1360\n  \
                      mss calc --list-encaps                 every encapsulation name\n\n\
                      The JSON schema is in docs/json.md."
    )]
    Calc(CalcArgs),
    /// Explain every TCP connection's MSS in packet captures: what each side
    /// announced, could send and did send, and why anything looks odd.
    #[command(
        long_about = "Reads pcap or pcapng captures (or - for standard input) and reports, for \
                      every TCP connection, the MSS each endpoint announced in its SYN, the \
                      effective send MSS each could use (RFC 9293 section 3.7.1 and Linux's \
                      rules, lowered by ICMP too-big messages), the segments it really sent, \
                      and findings: segments larger than the MSS and why (TSO/GSO at the \
                      sender, GRO/LRO at the receiver, or a real violation), missing or tiny \
                      MSS options, ICMP too-big, suspected path MTU black holes, IP fragments.\n\n\
                      Several captures of the same traffic at different points (e.g. both \
                      sides of a router) are matched connection by connection and ordered \
                      along the path by TTL; an MSS changed between them is reported as \
                      mss_rewritten (clamping). Captures must overlap in time. Each interface \
                      of a capture is a capture point too (a pcapng file of several \
                      interfaces, tcpdump -i any), and IP fragments are put together as the \
                      receiving kernel does before anything is measured.",
        after_help = "Examples:\n  \
                      mss analyze trace.pcap\n  \
                      tcpdump -i eth0 -w - | mss analyze -\n  \
                      mss analyze client-side.pcap router-out.pcap --json\n  \
                      mss analyze trace.pcapng --port 443 --csv > table.csv\n  \
                      mss analyze trace.pcap --fail-on pmtud_blackhole_suspected,mss_missing\n\n\
                      Exit status: 0 fine, 1 a finding named by --fail-on occurred, 2 unusable \
                      input. JSON and CSV schemas are in docs/json.md."
    )]
    Analyze(AnalyzeArgs),
    /// Reproduce MSS and path-MTU scenarios on the real Linux kernel, in network
    /// namespaces, and check what the kernels and `mss analyze` say.
    #[command(
        subcommand,
        long_about = "Builds hosts and routers as network namespaces joined by veth pairs, \
                      with the MTUs, clamps (nftables, iptables), ICMP filters and TCP \
                      settings of a scenario; runs real kernel TCP through them; captures \
                      with tcpdump at every interface; then tells the story: each SYN's MSS \
                      at each capture point, the effective MSS each kernel reports next to \
                      what `mss analyze` infers from the captures, the findings, and each \
                      expectation as passed or failed. Everything happens inside namespaces \
                      named mss-lab-PID-NODE, which are always removed (also on Ctrl-C); \
                      `mss lab clean` removes those of a killed run.\n\n\
                      Scenarios are TOML files (docs/lab.md); the built-in ones reproduce \
                      the classic cases. Running needs root; --dry-run does not.",
        after_help = "Examples:\n  \
                      mss lab list\n  \
                      mss lab show clamp\n  \
                      sudo mss lab run clamp --out captures/\n  \
                      mss lab show pmtud --toml > mine.toml   # edit, then:\n  \
                      sudo mss lab run mine.toml --json\n  \
                      mss lab run blackhole --dry-run\n\n\
                      Exit status (run): 0 every expectation holds, 1 one failed, 2 error."
    )]
    Lab(LabCommand),
    /// Clamp the MSS of TCP SYNs: in a capture file, live through NFQUEUE or in the
    /// kernel (tc eBPF), or as configuration for a router or firewall.
    #[command(
        long_about = "Lowers the MSS option of TCP SYN and SYN-ACK segments to a target, the \
                      way a router in front of a tunnel must: only ever lowering, with \
                      separate IPv4 and IPv6 targets, finding the option after unknown \
                      kinds, and updating the checksum incrementally (RFC 1624). \
                      Later fragments, truncated and malformed packets are left untouched \
                      and counted with the reason (a first fragment that holds the whole \
                      TCP header is clamped, as the kernel's clamps do).\n\n\
                      Targets: --mss (IPv4; IPv6 then gets 20 less unless --mss6 says \
                      otherwise), or --mtu (IPv4 MTU - 40, IPv6 MTU - 60), optionally with \
                      --encap for the MTU left inside tunnels.\n\n\
                      Offline: `mss clamp IN -o OUT` copies every byte of IN unchanged \
                      except the MSS options (and checksums) it lowers, into a new file \
                      (an existing one only with --force; `-` reads standard input, `-o -` \
                      writes standard output).\n\
                      Live: `mss clamp --nfqueue N` clamps SYNs that iptables queues to it; \
                      --install-rules adds those rules for forwarded and local SYNs in both \
                      families and removes them on exit. Fail-open by default (SYNs it \
                      cannot take pass unclamped, and are counted); --fail-closed never \
                      lets one pass.\n\
                      Kernel: `mss clamp --tc IFACE` attaches mss's eBPF program to the \
                      interface's clsact hooks (--direction in, out or both): the same \
                      rules, no process in the data path; it stays attached after mss \
                      exits, --status shows its counters, --detach removes it.\n\
                      Config: `--emit PLATFORM` prints the rules that do the same on that \
                      platform.",
        after_help = "Examples:\n  \
                      mss clamp --mtu 1400 trace.pcap -o clamped.pcap\n  \
                      mss clamp --mss 1360 --mss6 1340 trace.pcapng -o clamped.pcapng --json\n  \
                      tcpdump -i eth0 -w - | mss clamp --mss 1360 - -o - | tcpdump -r -\n  \
                      mss clamp --mtu 1500 --encap wireguard --emit nft\n  \
                      mss clamp --mss 1360 --emit mikrotik\n  \
                      sudo mss clamp --nfqueue 7 --mtu 1400 --install-rules\n  \
                      sudo mss clamp --remove-rules   (after a killed --install-rules run)\n  \
                      sudo mss clamp --tc eth0 --mtu 1400\n  \
                      sudo mss clamp --tc eth0 --status\n\n\
                      Exit status: 0 fine, 2 unusable input or arguments."
    )]
    Clamp(ClampArgs),
    /// Measure a live path: a TCP connection's MSS as the kernel sees it, the path
    /// MTU (also through ICMP black holes), and what reaches the other end.
    #[command(
        subcommand,
        long_about = "Probes what a path does now, for IPv4 and IPv6 (-4 / -6 choose, and \
                      refuse an address of the other family). It only ever sends to the \
                      target you name, at a bounded rate, and stops on its own.\n\n\
                      tcp: connect and report the kernel's view of the connection (own \
                      advertised MSS, send MSS, TCP_INFO), each number explained; with \
                      --reflector, compare the SYN that left with the SYN that arrived.\n\
                      path: the path MTU, hop by hop as each answers (probes with DF, as \
                      tracepath: UDP by default, --method tcp or icmp where UDP is \
                      filtered), and when oversized probes vanish without an ICMP too-big, a \
                      search for the largest size that gets through (RFC 4821/8899) and \
                      where ICMP is dropped. A target that never answers is reported as not \
                      reached, with what is known up to the last hop that answered.\n\
                      reflect: a small server that answers each connection with the SYN \
                      options it received.\n\
                      hops: where on the path the MSS option is rewritten (raw SYNs with \
                      increasing TTL); a clamp on the last router before the target is out \
                      of its sight: tcp --reflector sees it.",
        after_help = "Examples:\n  \
                      mss probe tcp example.net:443\n  \
                      mss probe tcp 192.0.2.10:5201 --mss 1200 --json\n  \
                      mss probe reflect --listen [::]:7171       (on the far end)\n  \
                      mss probe tcp far.example:7171 --reflector  (clamped on the way?)\n  \
                      mss probe path example.net\n  \
                      sudo mss probe path example.net:443 --method tcp  (UDP filtered)\n  \
                      sudo mss probe hops example.net:443         (where is it clamped?)\n\n\
                      Exit status: 0 fine, 2 unusable arguments or the target unreachable \
                      (not reached: no answer from it)."
    )]
    Probe(ProbeCommand),
    /// Every TCP socket of this host (or a network namespace) with its MSS, and why
    /// the send MSS is what it is, without a capture.
    #[command(
        long_about = "Lists the TCP sockets the kernel has, through sock_diag (what ss uses; \
                      no root needed but for --netns): for each, the send MSS (tcpi_snd_mss), \
                      the MSS it receives (tcpi_rcv_mss), the MSS it announced, the path MTU, \
                      and why the send MSS is what it is: the path MTU, the peer's MSS (below \
                      what the path allows: the peer's own link is smaller, or a clamp on \
                      the path), or half the peer's window (Linux's tcp_bound_to_half_wnd(): \
                      loopback's 32741).\n\n\
                      --watch SECONDS prints what changes, as it changes: a path MTU that \
                      drops on a running connection (an ICMP too-big), a new connection's \
                      MSS.",
        after_help = "Examples:\n  \
                      mss sockets\n  \
                      mss sockets --port 443 --json\n  \
                      sudo mss sockets --netns blue --state all\n  \
                      mss sockets --watch 1\n\n\
                      Exit status: 0 fine, 2 error."
    )]
    Sockets(SocketsArgs),
    /// Everything on this host (or a network namespace) that decides the MSS,
    /// each thing explained: interfaces, offloads, routes, learned path MTUs,
    /// clamps, sysctls, tunnels.
    #[command(
        long_about = "One report of what decides the TCP MSS here, read-only: interface MTUs \
                      and offloads (ethtool netlink: why captures show 64 KB segments), \
                      routes with an mtu or advmss (locked or not), the path MTUs the kernel \
                      learned from ICMP with their expiry, MSS clamps in nftables (nft -j) \
                      and iptables (iptables-save) with what they produce and whether they \
                      miss a direction, NFQUEUE rules without a process, the sysctls that \
                      matter against their defaults, and tunnels' MTUs against what their \
                      encapsulation leaves (mss calc). Reading the firewall rules needs \
                      root; what could not be read is said.",
        after_help = "Examples:\n  \
                      mss host\n  \
                      sudo mss host --netns blue --json\n\n\
                      Exit status: 0 fine, 2 error."
    )]
    Host(HostArgs),
    /// Watch interfaces live and keep rolling MSS statistics: a full-screen view on
    /// a terminal, findings as JSON Lines otherwise, Prometheus metrics with
    /// --metrics.
    #[command(
        long_about = "Captures on interfaces until stopped (like `mss analyze -i`) and keeps \
                      rolling state instead of a report: connections per minute, the SYN \
                      MSS distribution per interface and direction, effective send MSS, \
                      and findings by kind (MSS rewrites with from, to and the interfaces \
                      between, ICMP too-big with the MTU reported, black-hole suspicions, \
                      offload super-segments, missing or tiny MSS). Memory is bounded by \
                      the open connections.\n\n\
                      A connection is reported once its handshake is answered (so a clamp \
                      shows at once), again every --interim seconds while it has packets, \
                      and when it ends; each finding is counted once per connection.\n\n\
                      On a terminal it shows a live view (q quits). Otherwise, or with \
                      --json, each finding is a JSON Lines record the moment it is first \
                      seen (docs/json.md). --metrics ADDR:PORT serves the counters and \
                      histograms for Prometheus on /metrics (names in docs/watch.md; deploy/ \
                      has a systemd unit, scrape config, alert rules and a Grafana \
                      dashboard).",
        after_help = "Examples:\n  \
                      sudo mss watch -i eth0\n  \
                      sudo mss watch -i eth0 -i wg0 --metrics 0.0.0.0:9717 --json\n  \
                      sudo mss watch -i any port 443\n  \
                      mss watch -r trace.pcap --json       (a capture file, as if live)\n\n\
                      Exit status: 0 stopped (Ctrl-C, SIGTERM, q, --duration), 2 error."
    )]
    Watch(WatchArgs),
    /// Print the shell completion script for bash, zsh or fish (also elvish,
    /// powershell).
    #[command(
        long_about = "Prints a completion script for the shell, generated from mss's own \
                      option definitions. Put it where the shell looks (README, Install):\n\n  \
                      bash: ~/.local/share/bash-completion/completions/mss\n  \
                      zsh:  a directory in $fpath, as _mss\n  \
                      fish: ~/.config/fish/completions/mss.fish",
        after_help = "Examples:\n  \
                      mss completions bash > ~/.local/share/bash-completion/completions/mss\n  \
                      mss completions fish > ~/.config/fish/completions/mss.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a directory.
    #[command(hide = true)]
    Man(ManArgs),
}

/// `mss completions` arguments.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub(crate) shell: clap_complete::Shell,
}

/// `mss man` arguments.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write mss.1 and a page for every command (mss-calc.1, mss-lab-run.1, ...)
    /// into this directory instead of printing mss.1.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<std::path::PathBuf>,
}

/// `mss probe` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ProbeCommand {
    /// Connect and report the kernel's view of the connection's MSS.
    Tcp(ProbeTcpArgs),
    /// The path MTU to a host, hop by hop, through ICMP black holes too.
    Path(ProbePathArgs),
    /// Answer each connection with the SYN options that arrived (TCP_SAVED_SYN).
    Reflect(ProbeReflectArgs),
    /// Find the hop that rewrites the MSS: SYNs with increasing TTL, read back from
    /// the quotes in ICMP time exceeded (needs CAP_NET_RAW).
    Hops(ProbeHopsArgs),
}

/// `mss probe hops` arguments.
#[derive(Debug, Args)]
pub(crate) struct ProbeHopsArgs {
    /// HOST:PORT (IPv6 as `[ADDR]:PORT`); the port should be open or at least answer.
    #[arg(value_name = "HOST:PORT")]
    pub(crate) target: String,

    /// The MSS our SYNs announce (default: 1460 for IPv4, 1440 for IPv6).
    #[arg(long, value_name = "BYTES")]
    pub(crate) mss: Option<u16>,

    /// The most hops to walk (1 to 255).
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u8).range(1..))]
    pub(crate) max_hops: u8,

    #[command(flatten)]
    pub(crate) family: ProbeFamily,

    /// Print one JSON object at the end (instead of each hop as it is known).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `-4` / `-6`, shared by the probe subcommands.
#[derive(Debug, Args)]
pub(crate) struct ProbeFamily {
    /// Use IPv4 only: a name without an IPv4 address, or an IPv6 address, is refused.
    #[arg(short = '4', long, conflicts_with = "ipv6")]
    pub(crate) ipv4: bool,

    /// Use IPv6 only: a name without an IPv6 address, or an IPv4 address, is refused.
    #[arg(short = '6', long)]
    pub(crate) ipv6: bool,
}

/// `mss probe tcp` arguments.
#[derive(Debug, Args)]
pub(crate) struct ProbeTcpArgs {
    /// HOST:PORT (IPv6 as `[ADDR]:PORT`).
    #[arg(value_name = "HOST:PORT")]
    pub(crate) target: String,

    /// Set TCP_MAXSEG to this before connecting (Linux accepts 88 and more).
    #[arg(long, value_name = "BYTES")]
    pub(crate) mss: Option<u32>,

    /// The target runs `mss probe reflect`: also report the SYN MSS that arrived.
    #[arg(long)]
    pub(crate) reflector: bool,

    /// Seconds to wait for the connection (and the reflector's answer), 1 or more.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) timeout: u64,

    #[command(flatten)]
    pub(crate) family: ProbeFamily,

    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// How `mss probe path` probes (`--method`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ProbeMethod {
    /// UDP to a closed port, as tracepath and traceroute do; no privileges needed.
    Udp,
    /// TCP SYNs (padded to the probe size) to a port, as `traceroute -T`; the
    /// target's SYN-ACK or reset answers. Needs CAP_NET_RAW.
    Tcp,
    /// ICMP echo requests, as `traceroute -I`; the echo reply answers. Needs
    /// CAP_NET_RAW.
    Icmp,
}

/// `mss probe path` arguments.
#[derive(Debug, Args)]
pub(crate) struct ProbePathArgs {
    /// The host (name or address); HOST:PORT (IPv6 as `[ADDR]:PORT`) also sets the
    /// port.
    #[arg(value_name = "HOST")]
    pub(crate) host: String,

    /// What the probes are: udp (unprivileged), or tcp and icmp where UDP is filtered
    /// (raw sockets: root or CAP_NET_RAW).
    #[arg(long, value_name = "METHOD", value_enum, default_value_t = ProbeMethod::Udp)]
    pub(crate) method: ProbeMethod,

    /// Destination port: udp probes go to a closed port (default 33434), which
    /// answers with ICMP port unreachable; tcp probes to a port that answers the SYN
    /// (default 80; a closed port's reset answers too). Not for icmp.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) port: Option<u16>,

    /// The most hops to walk (1 to 255).
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u8).range(1..))]
    pub(crate) max_hops: u8,

    #[command(flatten)]
    pub(crate) family: ProbeFamily,

    /// Print one JSON object at the end (instead of each hop as it is known).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `mss probe reflect` arguments.
#[derive(Debug, Args)]
pub(crate) struct ProbeReflectArgs {
    /// ADDR:PORT to listen on.
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) listen: String,

    /// Connections served at once; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub(crate) max_clients: u64,

    /// Stop after answering this many connections (1 or more; without it, serve
    /// until interrupted).
    #[arg(long, value_name = "N", value_parser = parse_probe_count)]
    pub(crate) count: Option<u64>,

    /// Log as JSON Lines: the listening address, then each answer as sent.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--count N` of `mss probe reflect`: a whole number, 1 or more.
fn parse_probe_count(input: &str) -> Result<u64, String> {
    match input.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number of connections, 1 or more".into()),
    }
}

/// `mss clamp` arguments. Which combinations make sense is checked in
/// `clamp::Mode::from_args`, with a message for each that does not.
#[derive(Debug, Args)]
pub(crate) struct ClampArgs {
    /// A capture to clamp (pcap or pcapng; `-` reads standard input); the result
    /// goes to --output.
    #[arg(value_name = "CAPTURE")]
    pub(crate) input: Option<std::path::PathBuf>,

    /// Where the clamped capture goes: a new file (never the input; an existing
    /// file only with --force), or `-` for standard output.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<std::path::PathBuf>,

    /// With -o FILE: replace FILE if it exists (a regular file; devices, FIFOs and
    /// links are never written through).
    #[arg(long)]
    pub(crate) force: bool,

    /// IPv4 MSS target. IPv6 gets 20 less (same MTU) unless --mss6 is given.
    #[arg(long, value_name = "BYTES", value_parser = parse_mss, required_unless_present_any = ["mtu", "remove_rules", "status", "detach"])]
    pub(crate) mss: Option<u16>,

    /// IPv6 MSS target.
    #[arg(long, value_name = "BYTES", value_parser = parse_mss)]
    pub(crate) mss6: Option<u16>,

    /// Targets from this MTU: IPv4 MTU - 40, IPv6 MTU - 60.
    #[arg(long, value_name = "BYTES", value_parser = parse_mtu, conflicts_with = "mss")]
    pub(crate) mtu: Option<u32>,

    /// With --mtu: encapsulations under the TCP/IP packet (see `mss calc
    /// --list-encaps`); the targets come from the MTU left inside them.
    #[arg(long, value_name = "LIST", value_parser = parse_encaps)]
    pub(crate) encap: Option<EncapStack>,

    /// Also insert an MSS option into SYNs that have none (as Linux's TCPMSS does:
    /// at most 536 for IPv4, 1220 for IPv6).
    #[arg(long)]
    pub(crate) insert: bool,

    /// Print the summary as JSON (offline: one object; live: a JSON line per
    /// --stats-every interval and one at exit).
    #[arg(long)]
    pub(crate) json: bool,

    /// Clamp live: read SYNs from this NFQUEUE queue number (Linux, root).
    #[arg(long, value_name = "N")]
    pub(crate) nfqueue: Option<u16>,

    /// With --nfqueue: use N queues from --nfqueue on, one thread each (the rules
    /// spread SYNs over them with --queue-balance and --queue-cpu-fanout).
    #[arg(long, value_name = "N")]
    pub(crate) queues: Option<u16>,

    /// With --nfqueue: add the iptables/ip6tables rules that queue SYNs (forwarded
    /// and local, both families) and remove them on exit. Rules left by an
    /// instance that was killed are reported and replaced.
    #[arg(long)]
    pub(crate) install_rules: bool,

    /// With --nfqueue: never let a SYN pass unclamped. The kernel drops SYNs when
    /// the queue overflows, installed rules drop SYNs while no mss listens (no
    /// --queue-bypass), and SYNs mss cannot parse are dropped. Without it
    /// (fail-open) such SYNs pass unclamped and are counted. A clean stop removes
    /// installed rules (SYNs then pass unclamped); after a kill or crash they stay
    /// and drop every SYN until mss runs again or `mss clamp --remove-rules`.
    #[arg(long)]
    pub(crate) fail_closed: bool,

    /// With --nfqueue: print counters every this many seconds (default 10; 0: only
    /// at exit).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) stats_every: Option<u64>,

    /// Remove the NFQUEUE rules that `mss clamp --install-rules` added (tagged
    /// "mss clamp queue N"), e.g. after the process was killed, and exit.
    #[arg(long, conflicts_with_all = ["input", "output", "nfqueue", "emit"])]
    pub(crate) remove_rules: bool,

    /// Print the configuration that clamps the same way on a platform: nft,
    /// iptables, cisco, junos, mikrotik, openvpn, wireguard, pfsense, tc.
    #[arg(long, value_name = "PLATFORM", value_parser = ["nft", "iptables", "cisco", "junos", "mikrotik", "openvpn", "wireguard", "pfsense", "tc"])]
    pub(crate) emit: Option<String>,

    /// Clamp in the kernel: attach mss's tc eBPF program to this interface
    /// (clsact; root). It stays attached after mss exits; run again to change the
    /// targets (no reload) or the direction (replaced, never stacked).
    #[arg(long, value_name = "IFACE", conflicts_with_all = ["input", "output", "nfqueue", "emit", "remove_rules"])]
    pub(crate) tc: Option<String>,

    /// With --tc: the SYNs clamped: arriving on IFACE (in), leaving through it
    /// (out), or both (default; covers SYN and SYN-ACK through a tunnel).
    #[arg(long, value_name = "WHICH", value_parser = ["in", "out", "both"], requires = "tc")]
    pub(crate) direction: Option<String>,

    /// With --tc: print the targets and counters of the clamp on IFACE.
    #[arg(long, requires = "tc", conflicts_with_all = ["detach", "mss", "mtu", "direction", "insert"])]
    pub(crate) status: bool,

    /// With --tc: remove the clamp from IFACE (and its pinned maps).
    #[arg(long, requires = "tc", conflicts_with_all = ["mss", "mtu", "direction", "insert"])]
    pub(crate) detach: bool,
}

/// `mss lab` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum LabCommand {
    /// List the built-in scenarios.
    List,
    /// Draw a scenario's topology with MTUs, addresses and rules, and list its
    /// expectations.
    Show(LabShowArgs),
    /// Build the lab, run the traffic, capture at every point, analyze and check.
    Run(LabRunArgs),
    /// Remove what ended lab runs left: the namespaces and temporary capture
    /// directories of runs killed before they could clean up, or kept with --keep.
    Clean(LabCleanArgs),
}

/// `mss lab show` arguments.
#[derive(Debug, Args)]
pub(crate) struct LabShowArgs {
    /// A built-in scenario's name or a scenario file.
    #[arg(value_name = "NAME|FILE")]
    pub(crate) scenario: String,

    /// Print the scenario as a TOML file to copy and edit.
    #[arg(long)]
    pub(crate) toml: bool,
}

/// `mss lab run` arguments.
#[derive(Debug, Args)]
pub(crate) struct LabRunArgs {
    /// A built-in scenario's name or a scenario file.
    #[arg(value_name = "NAME|FILE")]
    pub(crate) scenario: String,

    /// Write the captures here as NODE-IFACE.pcap (created if needed; kept).
    /// Without it they go to a temporary directory, removed after the run.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<std::path::PathBuf>,

    /// Leave the namespaces (and the temporary captures) in place to explore with
    /// `ip netns exec`; `mss lab clean` removes them once this run has ended.
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) keep: bool,

    /// Print the result as one JSON object.
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) json: bool,

    /// Print the commands a run would execute, and run nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `mss lab clean` arguments.
#[derive(Debug, Args)]
pub(crate) struct LabCleanArgs {
    /// Also remove namespaces of runs still alive (e.g. kept with --keep).
    #[arg(long)]
    pub(crate) all: bool,

    /// Only list what would be removed.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Only what the run with this process id left (the number in
    /// `mss-lab-PID-...`).
    #[arg(long, value_name = "PID")]
    pub(crate) run: Option<u32>,
}

/// The order of `mss analyze`'s table (`--sort`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SortKey {
    /// Connection id: the order connections were first seen.
    Id,
    /// The time of the first packet.
    Time,
    /// The largest segment of either side, largest first.
    MaxSegment,
    /// The number of findings, most first.
    Findings,
}

/// `mss analyze` arguments.
#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// Capture files (pcap or pcapng); `-` reads standard input (once). With -i or
    /// -r, these words are a capture filter in tcpdump's syntax instead (`mss
    /// analyze -i eth0 host 10.1.2.3 and port 443`).
    #[arg(value_name = "CAPTURE")]
    pub(crate) inputs: Vec<std::path::PathBuf>,

    /// Capture live on this interface (repeatable; `any` for all): each interface
    /// is a capture point. Needs CAP_NET_RAW, and libpcap (it comes with tcpdump).
    /// Ctrl-C ends the capture and prints the report.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub(crate) interfaces: Vec<String>,

    /// Read this capture file (repeatable): as a CAPTURE argument, but the other
    /// words are then a filter.
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "interfaces"
    )]
    pub(crate) read: Vec<std::path::PathBuf>,

    /// Stop a live capture after this many packets (all interfaces together).
    #[arg(short = 'c', long, value_name = "COUNT", requires = "interfaces")]
    pub(crate) count: Option<u64>,

    /// Stop a live capture after this many seconds.
    #[arg(long, value_name = "SECONDS", requires = "interfaces")]
    pub(crate) duration: Option<f64>,

    /// Bytes captured of each packet live: the default, 256, holds every header
    /// the analysis reads (the lengths come from the IP headers); 0 for whole
    /// packets.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 256,
        requires = "interfaces"
    )]
    pub(crate) snaplen: u32,

    /// Print JSON Lines: one "connection" record per connection, then a "summary".
    #[arg(long, conflicts_with = "csv")]
    pub(crate) json: bool,

    /// Print the connection table as CSV.
    #[arg(long)]
    pub(crate) csv: bool,

    /// With --json: each connection record also holds its segment sizes over time
    /// per capture point and direction (the data behind the HTML report's plots;
    /// docs/json.md).
    #[arg(long, requires = "json")]
    pub(crate) segments: bool,

    /// Write the report as one self-contained HTML page to FILE (a new file; `-`
    /// for standard output): an overview, a connection table that sorts and
    /// filters, and plots of segment sizes over time. Opens in any current browser,
    /// also from a file:// URL, without network access.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["json", "csv"])]
    pub(crate) html: Option<std::path::PathBuf>,

    /// Connections the HTML report draws in full: those with findings first, then
    /// the others in id order. The rest are rows of its table only.
    #[arg(long, value_name = "N", default_value_t = crate::analyze::html::DEFAULT_PLOTS, requires = "html")]
    pub(crate) plots: usize,

    /// Replace the --html file if it exists (only a regular file is ever replaced).
    #[arg(long, requires = "html")]
    pub(crate) force: bool,

    /// Only connections with this address at either end (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub(crate) host: Vec<std::net::IpAddr>,

    /// Only connections with this port at either end (repeatable).
    #[arg(long, value_name = "PORT")]
    pub(crate) port: Vec<u16>,

    /// Only the connection with this id (the # column; repeatable). An id the input
    /// does not have is named in a warning on standard error; the exit status is
    /// not changed by it.
    #[arg(long, value_name = "ID")]
    pub(crate) connection: Vec<u64>,

    /// Exit with status 1 when a finding of one of these kinds occurs (comma-separated,
    /// or `any`). Kinds: mss_missing, mss_below_linux_min, mss_cut_off,
    /// segments_exceed_mss, mss_rewritten, icmp_too_big, pmtud_blackhole_suspected,
    /// ip_fragments, asymmetric_mss.
    #[arg(long, value_name = "KINDS", value_parser = parse_fail_on)]
    pub(crate) fail_on: Option<FailOn>,

    /// When to use colour in the report: auto (on a terminal, unless NO_COLOR is
    /// set), always, never. JSON and CSV have none.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"], conflicts_with_all = ["json", "csv", "html"])]
    pub(crate) color: String,

    /// Connections listed in the report's table at most: those with findings
    /// first, then the others, in the --sort order; the rest are summarised (MSS by
    /// server port and network, findings by kind, the largest segments). 0 lists
    /// them all. Default: 50 on a terminal, all when the output is piped.
    #[arg(long, value_name = "N", conflicts_with_all = ["json", "csv", "html"])]
    pub(crate) limit: Option<usize>,

    /// The order of the report's table: id (the order connections were first
    /// seen), time (first packet), max-segment (largest segment of either side,
    /// largest first), findings (most findings first).
    #[arg(long, value_name = "KEY", value_enum, default_value_t = SortKey::Id, conflicts_with_all = ["json", "csv", "html"])]
    pub(crate) sort: SortKey,

    /// Live connections kept in memory at most; beyond, half-open ones are reported
    /// early (marked evicted).
    #[arg(long, value_name = "N", default_value_t = 500_000, value_parser = parse_max_connections)]
    pub(crate) max_connections: usize,

    /// No progress bar on standard error.
    #[arg(long)]
    pub(crate) no_progress: bool,

    /// CAPTURE=SECONDS: that capture's clock is SECONDS ahead of the first
    /// capture's (negative: behind), and its times are corrected by it (repeatable).
    /// Without it, a capture whose clock is a second or more off is found and
    /// corrected from the SYNs the captures share.
    #[arg(long, value_name = "CAPTURE=SECONDS", value_parser = parse_time_offset)]
    pub(crate) time_offset: Vec<(std::path::PathBuf, i64)>,
}

/// `mss watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// A capture filter in tcpdump's syntax (`port 443`, `host 10.1.2.3`).
    #[arg(value_name = "FILTER")]
    pub(crate) filter: Vec<String>,

    /// Capture on this interface (repeatable; `any` for all): each interface is a
    /// capture point, so a clamp between two shows with both names. Needs
    /// CAP_NET_RAW, and libpcap (it comes with tcpdump).
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        required_unless_present = "read"
    )]
    pub(crate) interfaces: Vec<String>,

    /// Read this capture file instead (repeatable), as if it were live.
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "interfaces"
    )]
    pub(crate) read: Vec<std::path::PathBuf>,

    /// Serve Prometheus metrics on http://ADDR:PORT/metrics (9717 is mss's port;
    /// 0.0.0.0:9717 for every address).
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) metrics: Option<std::net::SocketAddr>,

    /// Findings as JSON Lines on standard output, also on a terminal.
    #[arg(long)]
    pub(crate) json: bool,

    /// Report open connections again after this many seconds with packets.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_interim)]
    pub(crate) interim: f64,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) duration: Option<f64>,

    /// Bytes captured of each packet: the default, 256, holds every header the
    /// analysis reads; 0 for whole packets.
    #[arg(long, value_name = "BYTES", default_value_t = 256)]
    pub(crate) snaplen: u32,

    /// Open connections kept in memory at most; beyond, half-open ones are given up
    /// first.
    #[arg(long, value_name = "N", default_value_t = 500_000, value_parser = parse_max_connections)]
    pub(crate) max_connections: usize,
}

fn parse_interim(input: &str) -> Result<f64, String> {
    parse_seconds(input, 1.0, 86_400.0)
}

/// Seconds from `min` to `max`.
fn parse_seconds(input: &str, min: f64, max: f64) -> Result<f64, String> {
    match input.trim().parse::<f64>() {
        Ok(s) if (min..=max).contains(&s) => Ok(s),
        _ => Err(format!(
            "expected seconds from {min} to {max}, got {input:?}"
        )),
    }
}

/// `mss host`.
#[derive(Debug, Args)]
pub(crate) struct HostArgs {
    /// In this network namespace (a name `ip netns list` shows; needs root).
    #[arg(long, value_name = "NAME")]
    pub(crate) netns: Option<String>,

    /// JSON Lines: one "host_item" record each.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `mss sockets`.
#[derive(Debug, Args)]
pub(crate) struct SocketsArgs {
    /// In this network namespace (a name `ip netns list` shows; needs root).
    #[arg(long, value_name = "NAME")]
    pub(crate) netns: Option<String>,

    /// Only sockets in these states, comma-separated (established, syn-sent,
    /// syn-recv, fin-wait-1, fin-wait-2, time-wait, close, close-wait, last-ack,
    /// listen, closing), or `all`. Default: all but listen.
    #[arg(long, value_name = "STATES", value_parser = parse_states)]
    pub(crate) state: Option<Vec<&'static str>>,

    /// Only sockets with this address at either end (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub(crate) host: Vec<std::net::IpAddr>,

    /// Only sockets with this port at either end (repeatable).
    #[arg(long, value_name = "PORT")]
    pub(crate) port: Vec<u16>,

    /// JSON Lines: one "socket" record each (with --watch, "change" records).
    #[arg(long)]
    pub(crate) json: bool,

    /// Look again every SECONDS and print what changed, until Ctrl-C.
    #[arg(long, value_name = "SECONDS", value_parser = parse_watch)]
    pub(crate) watch: Option<f64>,
}

/// The states `--state` accepts (`ss`'s names).
pub(crate) const SOCKET_STATES: [&str; 11] = [
    "established",
    "syn-sent",
    "syn-recv",
    "fin-wait-1",
    "fin-wait-2",
    "time-wait",
    "close",
    "close-wait",
    "last-ack",
    "listen",
    "closing",
];

fn parse_states(input: &str) -> Result<Vec<&'static str>, String> {
    if input.trim() == "all" {
        return Ok(SOCKET_STATES.to_vec());
    }
    input
        .split(',')
        .map(str::trim)
        .map(|item| {
            SOCKET_STATES
                .iter()
                .find(|s| **s == item)
                .copied()
                .ok_or_else(|| {
                    format!(
                        "unknown state {item:?}; accepted: all, {}",
                        SOCKET_STATES.join(", ")
                    )
                })
        })
        .collect()
}

fn parse_watch(input: &str) -> Result<f64, String> {
    parse_seconds(input, 0.1, 86_400.0)
}

/// `CAPTURE=SECONDS` of `--time-offset`: the path and the offset in ns.
fn parse_time_offset(input: &str) -> Result<(std::path::PathBuf, i64), String> {
    let wrong = || {
        format!(
            "expected CAPTURE=SECONDS, the capture as given and how far its clock is ahead \
             (e.g. server.pcap=93.5, or =-2 for behind), got {input:?}"
        )
    };
    let (path, seconds) = input.rsplit_once('=').ok_or_else(wrong)?;
    let seconds: f64 = seconds.trim().parse().map_err(|_| wrong())?;
    if path.is_empty() || !seconds.is_finite() || seconds.abs() > 1e9 {
        return Err(wrong());
    }
    // Within ±1e9 s: the product fits an i64 of ns.
    #[allow(clippy::cast_possible_truncation)]
    let ns = (seconds * 1e9).round() as i64;
    Ok((std::path::PathBuf::from(path), ns))
}

/// Finding kinds that make `mss analyze` exit 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FailOn {
    /// Any finding.
    Any,
    /// These kinds.
    Kinds(Vec<&'static str>),
}

impl FailOn {
    pub(crate) fn matches(&self, kind: &str) -> bool {
        match self {
            FailOn::Any => true,
            FailOn::Kinds(kinds) => kinds.contains(&kind),
        }
    }
}

fn parse_fail_on(input: &str) -> Result<FailOn, String> {
    if input.trim() == "any" {
        return Ok(FailOn::Any);
    }
    let mut kinds = Vec::new();
    for item in input.split(',').map(str::trim) {
        match mss_analyze::report::Finding::KINDS
            .iter()
            .find(|k| **k == item)
        {
            Some(kind) => kinds.push(*kind),
            None => {
                return Err(format!(
                    "unknown finding kind {item:?}; accepted: any, {}",
                    mss_analyze::report::Finding::KINDS.join(", ")
                ));
            }
        }
    }
    Ok(FailOn::Kinds(kinds))
}

/// `mss calc` arguments.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").args(["mtu", "mss", "list_encaps"]).required(true)))]
pub(crate) struct CalcArgs {
    /// Link MTU in bytes: the largest IP packet the interface sends (as `ip link`
    /// shows it), Ethernet header and FCS not included.
    #[arg(long, value_name = "BYTES", value_parser = parse_mtu)]
    pub(crate) mtu: Option<u32>,

    /// The reverse question: the MSS option value (e.g. a clamp's target) whose MTU
    /// you want.
    #[arg(long, value_name = "BYTES", conflicts_with = "mtu", value_parser = parse_mss)]
    pub(crate) mss: Option<u16>,

    /// Encapsulations between the link and the TCP/IP packet, outermost first,
    /// comma-separated (e.g. `pppoe,wireguard`). See --list-encaps.
    #[arg(long, value_name = "LIST", default_value = "none", value_parser = parse_encaps)]
    pub(crate) encap: EncapStack,

    /// TCP options on every data segment: ts, sack:N, md5, ao:MACLEN, or none.
    /// Two Linux hosts use timestamps by default.
    #[arg(long, value_name = "LIST", default_value = "none", value_parser = parse_options)]
    pub(crate) options: SegmentOptions,

    /// Bytes of IPv4 options on every segment (a multiple of 4, at most 40, and
    /// leaving room for data).
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 0,
        conflicts_with = "ipv6"
    )]
    pub(crate) ip_options: u32,

    /// Bytes of IPv6 extension headers on every segment (a multiple of 8, leaving
    /// room for data).
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 0,
        conflicts_with = "ipv4"
    )]
    pub(crate) ipv6_ext: u32,

    /// Only IPv4.
    #[arg(long, short = '4', conflicts_with = "ipv6")]
    pub(crate) ipv4: bool,

    /// Only IPv6.
    #[arg(long, short = '6')]
    pub(crate) ipv6: bool,

    /// Spell out every step with its RFC section or kernel function (--json always
    /// carries them).
    #[arg(long, conflicts_with = "mss")]
    pub(crate) explain: bool,

    /// Print one JSON object (schema: docs/json.md).
    #[arg(long)]
    pub(crate) json: bool,

    /// List the encapsulation names --encap accepts, one line each.
    #[arg(long, conflicts_with_all = ["encap", "options", "ip_options", "ipv6_ext", "ipv4", "ipv6", "explain"])]
    pub(crate) list_encaps: bool,
}

fn parse_max_connections(input: &str) -> Result<usize, String> {
    match input.trim().parse::<usize>() {
        Ok(0) | Err(_) => Err(format!(
            "expected how many connections to keep in memory, 1 or more (e.g. 100000), \
             got {input:?}"
        )),
        Ok(n) => Ok(n),
    }
}

fn parse_mtu(input: &str) -> Result<u32, String> {
    input.trim().parse::<u32>().map_err(|_| {
        format!(
            "expected the MTU as a whole number of bytes, 68 or more (e.g. 1500), got {input:?}"
        )
    })
}

fn parse_mss(input: &str) -> Result<u16, String> {
    match input.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "expected an MSS between 1 and 65535 bytes (e.g. 1360), got {input:?}"
        )),
        Ok(mss) => Ok(mss),
    }
}

fn parse_encaps(input: &str) -> Result<EncapStack, String> {
    input
        .parse()
        .map_err(|e: mss_rules::encap::EncapError| e.to_string())
}

fn parse_options(input: &str) -> Result<SegmentOptions, String> {
    input
        .parse()
        .map_err(|e: mss_rules::options::OptionsError| e.to_string())
}
