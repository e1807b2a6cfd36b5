//! `mss lab`: list, show, run and clean scenarios. The scenario logic is in the
//! mss-lab crate; here are the terminal, the files, the signals, and the call into
//! `mss analyze` for each capture.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use mss_lab::expect::{self, Outcome};
use mss_lab::observed::{Analysis, Connection, SocketView};
use mss_lab::run::{self as lab_run, Cleanup, with_cleanup};
use mss_lab::scenario::Load;
use mss_lab::spec::{Family, Place};
use mss_lab::{BUILTIN, Plan, Scenario};
use serde_json::{Value, json};

use crate::Failure;
use crate::cli::{LabCleanArgs, LabCommand, LabRunArgs, LabShowArgs};
use crate::render::wrap;

/// Exit status when an expectation failed.
const EXIT_EXPECTATION: u8 = 1;

pub(crate) fn run(command: &LabCommand, out: &mut impl Write) -> Result<ExitCode, Failure> {
    match command {
        LabCommand::List => list(out),
        LabCommand::Show(args) => show(args, out),
        LabCommand::Run(args) => run_scenario(args, out),
        LabCommand::Clean(args) => clean(args, out),
    }
}

/// A scenario by built-in name or file: (scenario, its text, where it came from).
fn load(name: &str) -> Result<(Scenario, String, String), Failure> {
    if let Some(text) = mss_lab::builtin(name) {
        let scenario = Scenario::parse(text).map_err(|e| {
            Failure::Input(format!(
                "built-in scenario {name} is invalid: {e} (a bug in mss)"
            ))
        })?;
        return Ok((scenario, text.to_string(), format!("built-in {name}")));
    }
    let path = Path::new(name);
    if !path.exists() {
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        return Err(Failure::Input(format!(
            "no built-in scenario or file called {name:?}; the built-in ones are {} \
             (`mss lab list`)",
            names.join(", ")
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("{name}: cannot read: {e}")))?;
    let scenario = Scenario::parse(&text).map_err(|e| {
        Failure::Input(format!(
            "{name}: {e}\n(the format: docs/lab.md; a model: `mss lab show baseline --toml`)"
        ))
    })?;
    Ok((scenario, text, name.to_string()))
}

fn list(out: &mut impl Write) -> Result<ExitCode, Failure> {
    writeln!(out, "{:<18} {:<9} WHAT IT SHOWS", "SCENARIO", "FAMILIES")?;
    for (name, text) in BUILTIN {
        let (title, families) = match Scenario::parse(text) {
            Ok(s) => (
                s.title.clone(),
                s.families
                    .iter()
                    .map(|f| if *f == Family::Ipv4 { "4" } else { "6" })
                    .collect::<Vec<_>>()
                    .join("+"),
            ),
            Err(e) => (format!("invalid: {e}"), String::new()),
        };
        let lines = wrap(&title, "", &" ".repeat(29));
        writeln!(
            out,
            "{name:<18} {:<9} {}",
            format!("ipv{families}"),
            lines.join("\n")
        )?;
    }
    writeln!(
        out,
        "\n`mss lab show NAME` draws one; `sudo mss lab run NAME` runs it."
    )?;
    Ok(ExitCode::SUCCESS)
}

fn show(args: &LabShowArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let (scenario, text, _) = load(&args.scenario)?;
    if args.toml {
        out.write_all(text.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{}: {}\n", scenario.name, scenario.title)?;
    for paragraph in scenario.description.split("\n\n") {
        for line in wrap(paragraph, "", "") {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out)?;
    out.write_all(mss_lab::draw::draw(&scenario).as_bytes())?;
    writeln!(out)?;
    for line in wrap(&traffic_words(&scenario), "Traffic: ", "         ") {
        writeln!(out, "{line}")?;
    }
    for line in wrap(
        &scenario.capture_points.join(", "),
        "Captures: ",
        "          ",
    ) {
        writeln!(out, "{line}")?;
    }
    if !scenario.expects.is_empty() {
        writeln!(out, "Expectations:")?;
        for e in &scenario.expects {
            writeln!(out, "  {}", expect::describe(e))?;
        }
        writeln!(
            out,
            "  and, always: the kernel's TCP_MAXSEG equals mss analyze's effective MSS"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn bytes_words(n: u64) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{} MB", n / 1_000_000)
    } else if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

fn traffic_words(scenario: &Scenario) -> String {
    let t = &scenario.traffic;
    let families: Vec<&str> = scenario.families.iter().map(|f| f.name()).collect();
    let what = match &t.load {
        Load::Bulk(b) => format!(
            "one connection, {} up then {} down",
            bytes_words(b.up),
            bytes_words(b.down)
        ),
        Load::Short(s) => format!(
            "{} connections of {} up and {} down",
            s.count,
            bytes_words(s.up),
            bytes_words(s.down)
        ),
        Load::Mix(m) => mix_words(m),
    };
    let mut words = format!(
        "{} -> {} port {}, {what}, over {}",
        t.client,
        t.server,
        lab_run::traffic::SERVER_PORT,
        families.join(" and ")
    );
    if let Some(mss) = t.client_mss {
        words.push_str(&format!("; client TCP_MAXSEG {mss}"));
    }
    words
}

/// A mix in words: what `mss lab show` and `--dry-run` say it does.
fn mix_words(m: &mss_lab::spec::Mix) -> String {
    let sizes: Vec<String> = m
        .down
        .iter()
        .map(|[bytes, weight]| format!("{} x{weight}", bytes_words(*bytes)))
        .collect();
    let last_port = lab_run::mix::ports(usize::try_from(m.count).unwrap_or(0) + 1004).1;
    let ports = if last_port > lab_run::traffic::SERVER_PORT {
        format!(" (server ports up to {last_port})")
    } else {
        String::new()
    };
    let mut words = format!(
        "{} short connections, {} at once{ports}, each {} to {} bytes up and back one \
         of {} (by weight)",
        m.count,
        m.concurrency,
        m.up[0],
        m.up[1],
        sizes.join(", ")
    );
    if let Some(p) = m.ipv6_percent {
        words.push_str(&format!("; {p}% over IPv6"));
    }
    if let Some(l) = &m.lowered_mss {
        let values: Vec<String> = l.values.iter().map(ToString::to_string).collect();
        words.push_str(&format!(
            "; {}% with client TCP_MAXSEG {}",
            l.percent,
            values.join(" or ")
        ));
    }
    let paced = m
        .pace_mb_s
        .map_or(String::new(), |r| format!(", paced at {r} MB/s"));
    if let Some(b) = m.bulk {
        words.push_str(&format!(
            "; alongside, {} bulk transfers of {} down{paced}",
            b.count,
            bytes_words(b.down)
        ));
    }
    if let Some(mb) = m.fill_mb {
        words.push_str(&format!(
            "; then bulk transfers{paced} until the first capture holds {mb} MB"
        ));
    }
    words
}

/// The Debian package that provides a program the lab runs.
fn package(program: &str) -> &'static str {
    match program {
        "ip" => "iproute2",
        "nft" => "nftables",
        "iptables" | "ip6tables" => "iptables",
        "ethtool" => "ethtool",
        "tcpdump" => "tcpdump",
        "sysctl" => "procps",
        _ => "the package that provides it",
    }
}

fn find_program(program: &str) -> bool {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    dirs.iter().any(|d| d.join(program).is_file())
}

/// Refuses a run that cannot work here, naming what to do.
fn preflight(plan: &Plan) -> Result<(), Failure> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Failure::Input(
            "mss lab run needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network \
             namespaces: run it with sudo. `mss lab run NAME --dry-run` shows what it would do."
                .into(),
        ));
    }
    let missing: Vec<String> = plan
        .programs()
        .into_iter()
        .filter(|p| !find_program(p))
        .map(|p| format!("`{p}` (apt-get install {})", package(p)))
        .collect();
    if !missing.is_empty() {
        return Err(Failure::Input(format!(
            "mss lab run needs {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// On SIGINT, SIGTERM or SIGHUP a thread of its own removes the lab (and the
/// temporary capture directory, if there is one) and exits.
/// (Handlers, not a blocked signal mask: children would inherit the mask, and
/// tcpdump must still stop on SIGINT.)
fn on_signal_clean_up(
    cleanup: Arc<Mutex<Cleanup>>,
    temporary: Option<PathBuf>,
) -> Result<(), Failure> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Failure::Input(format!("cannot handle signals: {e}")))?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let name = match signal {
                SIGINT => "SIGINT",
                SIGTERM => "SIGTERM",
                _ => "SIGHUP",
            };
            let what = match &temporary {
                Some(dir) => format!("namespaces and {}", dir.display()),
                None => "namespaces".into(),
            };
            let _ = writeln!(io::stderr(), "\nmss lab: {name}: removing the lab's {what}");
            // The children are stopped first: nothing writes into the directory
            // once it goes.
            with_cleanup(&cleanup, Cleanup::run);
            if let Some(dir) = &temporary {
                if let Err(e) = lab_run::remove_directory(dir) {
                    let _ = writeln!(
                        io::stderr(),
                        "mss lab: cannot remove {}: {e} (`mss lab clean` tries again)",
                        dir.display()
                    );
                }
            }
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}

/// The output directory: given with --out (kept), or temporary (removed when this
/// value is dropped, on every path out of the run, unless --keep).
struct OutDir {
    path: PathBuf,
    temporary: bool,
    keep: bool,
}

impl OutDir {
    /// Where the captures go; nothing is created yet.
    fn choose(args: &LabRunArgs, name: &str) -> OutDir {
        match &args.out {
            Some(dir) => OutDir {
                path: dir.clone(),
                temporary: false,
                keep: true,
            },
            None => OutDir {
                path: lab_run::temporary_directory(&std::env::temp_dir(), std::process::id(), name),
                temporary: true,
                keep: args.keep,
            },
        }
    }

    /// The directory the signal handler removes, if any.
    fn removed_on_signal(&self) -> Option<PathBuf> {
        (!self.keep).then(|| self.path.clone())
    }

    fn create(&self) -> Result<(), Failure> {
        std::fs::create_dir_all(&self.path).map_err(|e| {
            Failure::Input(format!(
                "{}: cannot create the capture directory: {e}{}",
                self.path.display(),
                if self.temporary {
                    " (set TMPDIR to a writable directory, or give --out DIR)"
                } else {
                    " (give --out a directory you can write)"
                }
            ))
        })
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = lab_run::remove_directory(&self.path);
        }
    }
}

fn dry_run(plan: &Plan, scenario: &Scenario, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "# mss lab run {} (dry run): build", scenario.name)?;
    for cmd in &plan.setup {
        writeln!(out, "{cmd}")?;
    }
    for daemon in &plan.daemons {
        writeln!(
            out,
            "# on {} (until it prints \"{}\"; SIGTERM at the end)",
            daemon.node, daemon.ready
        )?;
        writeln!(out, "{} &", daemon.cmd)?;
    }
    writeln!(out, "# capture (each until the traffic ends, then SIGINT)")?;
    for capture in &plan.captures {
        writeln!(out, "{} &", capture.cmd)?;
    }
    writeln!(
        out,
        "# traffic (in mss itself): {}",
        traffic_words(scenario)
    )?;
    writeln!(
        out,
        "# then: getsockopt(TCP_MAXSEG) and getsockopt(TCP_INFO) for each socket, \
         `mss analyze --json` on each capture and on all together"
    )?;
    writeln!(out, "# teardown")?;
    for cmd in &plan.teardown {
        writeln!(out, "{cmd}")?;
    }
    Ok(())
}

fn run_scenario(args: &LabRunArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let (scenario, _, source) = load(&args.scenario)?;
    let prefix = format!("{}{}", mss_lab::plan::NAMESPACE_PREFIX, std::process::id());
    if args.dry_run {
        let dir = args
            .out
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "OUT".into());
        let plan = Plan::new(&scenario, &prefix, &dir);
        dry_run(&plan, &scenario, out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let dir = OutDir::choose(args, &scenario.name);
    let plan = Plan::new(&scenario, &prefix, &dir.path.display().to_string());
    // Refused runs leave nothing behind: the checks come before anything is made.
    preflight(&plan)?;
    let cleanup = Cleanup::shared();
    on_signal_clean_up(Arc::clone(&cleanup), dir.removed_on_signal())?;
    dir.create()?;
    let mut progress = |line: &str| {
        let _ = writeln!(io::stderr(), "mss lab: {line}");
    };
    progress(&format!("{} ({source})", scenario.name));
    let observed = lab_run::run(&scenario, &plan, &dir.path, &cleanup, &mut progress);
    if args.keep {
        with_cleanup(&cleanup, Cleanup::disarm);
        progress(&format!(
            "kept the namespaces {} (`ip netns exec NAME ...`) and the captures in {}; \
             `mss lab clean` removes {} once this run has ended",
            plan.namespaces.join(", "),
            dir.path.display(),
            if dir.temporary {
                "both"
            } else {
                "the namespaces"
            }
        ));
    } else {
        with_cleanup(&cleanup, Cleanup::run);
    }
    let observed = observed.map_err(|e| Failure::Input(format!("lab run failed: {e}")))?;
    progress("analyzing the captures");
    let mut analyses = Vec::new();
    let files: Vec<PathBuf> = observed.captures.iter().map(|(_, p)| p.clone()).collect();
    for (point, file) in observed.captures.iter().zip(&files) {
        analyses.push(Analysis::new(
            Place::Point(point.0.clone()),
            crate::analyze::records(std::slice::from_ref(file))?,
            Some(
                lab_run::tcp_checksums(&point.1)
                    .map_err(|e| Failure::Input(format!("{}: {e}", point.1.display())))?,
            ),
        ));
    }
    if !files.is_empty() {
        analyses.push(Analysis::new(
            Place::All,
            crate::analyze::records(&files)?,
            None,
        ));
    }
    let outcomes = expect::evaluate(&scenario, &observed.connections, &analyses);
    let passed = outcomes.iter().all(|o| o.passed);
    // With --out, the captures analysed together as a page to look at.
    let html = match (&args.out, files.is_empty()) {
        (Some(_), false) => {
            let page = dir.path.join("report.html");
            crate::analyze::html_file(&files, &page)?;
            Some(page)
        }
        _ => None,
    };
    if args.json {
        let value = json_result(
            &scenario,
            &observed,
            &analyses,
            &outcomes,
            &dir,
            html.as_deref(),
        );
        writeln!(out, "{value}")?;
    } else {
        story(
            out,
            &scenario,
            &observed.connections,
            &analyses,
            &outcomes,
            &observed.captures,
        )?;
        if dir.keep {
            writeln!(out, "Captures in {}", dir.path.display())?;
            if let Some(page) = &html {
                writeln!(out, "Report in {}", page.display())?;
            }
        } else {
            writeln!(out, "(captures were temporary; keep them with --out DIR)")?;
        }
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_EXPECTATION)
    })
}

/// A number the analysis may not know: `-` then.
fn number(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The human story of a run, as seed 003 tells it by hand.
fn story(
    out: &mut impl Write,
    scenario: &Scenario,
    connections: &[Connection],
    analyses: &[Analysis],
    outcomes: &[Outcome],
    captures: &[(String, PathBuf)],
) -> io::Result<()> {
    writeln!(out, "{}: {}", scenario.name, scenario.title)?;
    if connections.len() > STORY_CONNECTIONS {
        summary_story(out, connections, analyses)?;
        return verdicts(out, outcomes);
    }
    let width = captures
        .iter()
        .map(|(p, _)| p.len())
        .max()
        .unwrap_or(10)
        .max(22);
    for connection in connections {
        connection_story(out, connection, analyses, width)?;
    }
    verdicts(out, outcomes)
}

/// One line of a connection's table: a label and the client's and server's values.
fn row(
    out: &mut impl Write,
    width: usize,
    label: &dyn std::fmt::Display,
    client: &dyn std::fmt::Display,
    server: &dyn std::fmt::Display,
) -> io::Result<()> {
    writeln!(out, "  {label:<width$}  {client:>11}  {server:>11}")
}

/// One connection: the SYN MSS at each point, the kernel's and mss's send MSS,
/// TCP_INFO and the findings.
fn connection_story(
    out: &mut impl Write,
    connection: &Connection,
    analyses: &[Analysis],
    width: usize,
) -> io::Result<()> {
    writeln!(out)?;
    let addr = |a: &str, p: u16| {
        if a.contains(':') {
            format!("[{a}]:{p}")
        } else {
            format!("{a}:{p}")
        }
    };
    writeln!(
        out,
        "{} {} -> {}{}",
        connection.family.name(),
        addr(&connection.client_addr, connection.client_port),
        addr(&connection.server_addr, connection.server_port),
        if connection.completed {
            ""
        } else {
            "  (stalled: data not through in time)"
        }
    )?;
    row(out, width, &"SYN MSS seen at", &"client SYN", &"SYN-ACK")?;
    for analysis in analyses.iter().filter(|a| a.at != Place::All) {
        match analysis.record(connection) {
            Some(r) => row(
                out,
                width,
                &analysis.at,
                &number(r.client.syn_mss.value()),
                &number(r.server.syn_mss.value()),
            )?,
            None => row(out, width, &analysis.at, &"-", &"-")?,
        }
    }
    row(out, width, &"effective send MSS", &"client", &"server")?;
    row(
        out,
        width,
        &"kernel, handshake",
        &connection.client.maxseg_start,
        &connection.server.maxseg_start,
    )?;
    row(
        out,
        width,
        &"kernel, at the end",
        &connection.client.maxseg_end,
        &connection.server.maxseg_end,
    )?;
    // All captures together first, then each point in path order.
    let order = analyses
        .iter()
        .filter(|a| a.at == Place::All)
        .chain(analyses.iter().filter(|a| a.at != Place::All));
    for analysis in order {
        if let Some(r) = analysis.record(connection) {
            let label = if analysis.at == Place::All {
                "mss analyze, all".to_string()
            } else {
                format!("  at {}", analysis.at)
            };
            row(
                out,
                width,
                &label,
                &number(r.client.effective_send_mss),
                &number(r.server.effective_send_mss),
            )?;
        }
    }
    tcp_info_and_findings(out, connection, analyses)
}

/// What TCP_INFO said at the end, and the findings of all captures together.
fn tcp_info_and_findings(
    out: &mut impl Write,
    connection: &Connection,
    analyses: &[Analysis],
) -> io::Result<()> {
    let info = |view: &SocketView| match view.info {
        Some(i) => format!(
            "snd_mss {} rcv_mss {} advmss {} pmtu {}",
            i.snd_mss.map_or("-".into(), |v| v.to_string()),
            i.rcv_mss.map_or("-".into(), |v| v.to_string()),
            i.advmss.map_or("-".into(), |v| v.to_string()),
            i.pmtu.map_or("-".into(), |v| v.to_string())
        ),
        None => "not available".into(),
    };
    writeln!(out, "  TCP_INFO client: {}", info(&connection.client))?;
    writeln!(out, "  TCP_INFO server: {}", info(&connection.server))?;
    if let Some(r) = analyses
        .iter()
        .find(|a| a.at == Place::All)
        .and_then(|a| a.record(connection))
    {
        if r.findings.is_empty() {
            writeln!(out, "  findings (all captures): none")?;
        } else {
            writeln!(out, "  findings (all captures):")?;
            for f in &r.findings {
                for line in wrap(&f.title, "    - ", "      ") {
                    writeln!(out, "{line}")?;
                }
            }
        }
    }
    Ok(())
}

/// Runs with more connections than this are told in counts, not one by one.
const STORY_CONNECTIONS: usize = 40;

/// `value x count, ...`, most frequent first.
fn tally<T: Ord + std::fmt::Display>(values: impl Iterator<Item = T>) -> String {
    let mut counts: std::collections::BTreeMap<T, usize> = std::collections::BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut counts: Vec<(T, usize)> = counts.into_iter().collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(v, n)| format!("{v} x {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Many connections, in counts: families, completed, the kernel's send MSS, how
/// many each analysis saw, their findings.
fn summary_story(
    out: &mut impl Write,
    connections: &[Connection],
    analyses: &[Analysis],
) -> io::Result<()> {
    let v6 = connections
        .iter()
        .filter(|c| c.family == Family::Ipv6)
        .count();
    let completed = connections.iter().filter(|c| c.completed).count();
    writeln!(
        out,
        "\n{} connections ({} ipv4, {v6} ipv6), {completed} completed",
        connections.len(),
        connections.len() - v6
    )?;
    let lines = [
        (
            "client TCP_MAXSEG at the end: ",
            tally(connections.iter().map(|c| c.client.maxseg_end)),
        ),
        (
            "server TCP_MAXSEG at the end: ",
            tally(connections.iter().map(|c| c.server.maxseg_end)),
        ),
    ];
    for (label, text) in lines {
        for line in wrap(&text, &format!("  {label}"), "    ") {
            writeln!(out, "{line}")?;
        }
    }
    for analysis in analyses {
        let seen: Vec<_> = connections
            .iter()
            .filter_map(|c| analysis.record(c))
            .collect();
        let findings = tally(seen.iter().flat_map(|r| expect::finding_names(r)));
        let text = format!(
            "{} of the connections, {} records in all; findings: {findings}",
            seen.len(),
            analysis.records.len()
        );
        for line in wrap(
            &text,
            &format!("  mss analyze at {}: ", analysis.at),
            "    ",
        ) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// The verdict on each expectation and on the agreement, and the count.
fn verdicts(out: &mut impl Write, outcomes: &[Outcome]) -> io::Result<()> {
    writeln!(out, "\nExpectations")?;
    for o in outcomes.iter().filter(|o| o.declared) {
        let mark = if o.passed { "ok  " } else { "FAIL" };
        let mut text = o.check.clone();
        if !o.passed {
            text.push_str(&format!(" -- {}", o.seen));
        }
        for line in wrap(&text, &format!("  {mark}  "), "        ") {
            writeln!(out, "{line}")?;
        }
    }
    let agreement: Vec<&Outcome> = outcomes.iter().filter(|o| !o.declared).collect();
    let disagreeing: Vec<&&Outcome> = agreement.iter().filter(|o| !o.passed).collect();
    if disagreeing.is_empty() {
        let unknown = agreement
            .iter()
            .filter(|o| o.seen == expect::UNKNOWN)
            .count();
        let text = format!(
            "kernel TCP_MAXSEG = mss analyze's effective MSS at every capture point and \
             all together, both ends ({} checks{})",
            agreement.len(),
            if unknown > 0 {
                format!("; {unknown} where a point saw nothing from that end and could not tell")
            } else {
                String::new()
            }
        );
        for line in wrap(&text, "  ok    ", "        ") {
            writeln!(out, "{line}")?;
        }
    } else {
        for o in disagreeing.iter().take(expect::MAX_FAILURES_SHOWN) {
            for line in wrap(&o.check, "  FAIL  ", "        ") {
                writeln!(out, "{line}")?;
            }
        }
        if disagreeing.len() > expect::MAX_FAILURES_SHOWN {
            writeln!(
                out,
                "  FAIL  and {} more disagreements (all of them: --json)",
                disagreeing.len() - expect::MAX_FAILURES_SHOWN
            )?;
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    writeln!(
        out,
        "{}",
        if failed == 0 {
            format!("All {} checks passed.", outcomes.len())
        } else {
            format!("{failed} of {} checks FAILED.", outcomes.len())
        }
    )?;
    Ok(())
}

fn json_result(
    scenario: &Scenario,
    observed: &lab_run::Observed,
    analyses: &[Analysis],
    outcomes: &[Outcome],
    dir: &OutDir,
    html: Option<&std::path::Path>,
) -> Value {
    let socket = |v: &SocketView| {
        json!({
            "maxseg_start": v.maxseg_start,
            "maxseg_end": v.maxseg_end,
            "snd_mss": v.info.and_then(|i| i.snd_mss),
            "rcv_mss": v.info.and_then(|i| i.rcv_mss),
            "advmss": v.info.and_then(|i| i.advmss),
            "pmtu": v.info.and_then(|i| i.pmtu),
            "rtt_ms": v.info.and_then(|i| i.rtt_ms),
        })
    };
    let connections: Vec<Value> = observed
        .connections
        .iter()
        .map(|c| {
            let analysis: serde_json::Map<String, Value> = analyses
                .iter()
                .map(|a| {
                    let record = a.record(c).map(serde_json::to_value);
                    (a.at.to_string(), record.and_then(Result::ok).unwrap_or(Value::Null))
                })
                .collect();
            json!({
                "family": c.family.name(),
                "client": {"addr": c.client_addr, "port": c.client_port, "kernel": socket(&c.client)},
                "server": {"addr": c.server_addr, "port": c.server_port, "kernel": socket(&c.server)},
                "completed": c.completed,
                "analysis": analysis,
            })
        })
        .collect();
    let checks: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            json!({
                "check": o.check,
                "declared": o.declared,
                "passed": o.passed,
                "seen": o.seen,
            })
        })
        .collect();
    let kept = dir.keep;
    json!({
        "type": "lab_run",
        "scenario": scenario.name,
        "title": scenario.title,
        "passed": outcomes.iter().all(|o| o.passed),
        "connections": connections,
        "checks": checks,
        "captures": observed.captures.iter().map(|(point, path)| json!({
            "point": point,
            "file": if kept { Value::from(path.display().to_string()) } else { Value::Null },
        })).collect::<Vec<_>>(),
        "report": html.map(|p| p.display().to_string()),
    })
}

fn clean(args: &LabCleanArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    if !args.dry_run && !nix::unistd::geteuid().is_root() {
        return Err(Failure::Input(
            "mss lab clean needs root to delete network namespaces: run it with sudo".into(),
        ));
    }
    // Listed first: removing a run's last namespace also removes its directory.
    let this_run = |pid: Option<u32>| args.run.is_none_or(|run| pid == Some(run));
    let directories: Vec<lab_run::LeftoverDirectory> =
        lab_run::leftover_directories(&std::env::temp_dir())
            .into_iter()
            .filter(|d| this_run(d.pid))
            .collect();
    let leftovers: Vec<(String, Option<u32>, bool)> = lab_run::leftovers()
        .into_iter()
        .filter(|(_, pid, _)| this_run(*pid))
        .collect();
    let mut removed = 0;
    for (name, pid, alive) in &leftovers {
        if *alive && !args.all {
            writeln!(
                out,
                "kept    {name} (run {} is still alive; --all removes it anyway)",
                pid.map_or("?".into(), |p| p.to_string())
            )?;
            continue;
        }
        if args.dry_run {
            writeln!(out, "would remove {name}")?;
        } else {
            lab_run::remove_namespace(name);
            writeln!(out, "removed {name}")?;
            removed += 1;
        }
    }
    if leftovers.is_empty() {
        writeln!(out, "no lab namespaces left")?;
    } else if !args.dry_run {
        writeln!(out, "{removed} namespaces removed")?;
    }
    clean_directories(args, &directories, out)?;
    Ok(ExitCode::SUCCESS)
}

/// The temporary capture directories of runs that ended (kept with --keep, or left
/// by a killed run): removed when they hold only captures.
fn clean_directories(
    args: &LabCleanArgs,
    directories: &[lab_run::LeftoverDirectory],
    out: &mut impl Write,
) -> Result<(), Failure> {
    let mut removed = 0;
    for dir in directories {
        let path = dir.path.display();
        if dir.alive {
            writeln!(
                out,
                "kept    {path} (run {} is still alive)",
                dir.pid.map_or("?".into(), |p| p.to_string())
            )?;
        } else if !dir.foreign.is_empty() {
            writeln!(
                out,
                "kept    {path}: it holds more than captures ({}); remove it yourself",
                dir.foreign.join(", ")
            )?;
        } else if args.dry_run {
            writeln!(out, "would remove {path}")?;
        } else {
            lab_run::remove_directory(&dir.path)
                .map_err(|e| Failure::Input(format!("{path}: cannot remove: {e}")))?;
            writeln!(out, "removed {path}")?;
            removed += 1;
        }
    }
    if removed > 0 {
        writeln!(out, "{removed} capture directories removed")?;
    }
    Ok(())
}
