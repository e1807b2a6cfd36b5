//! `mss analyze`: read captures, run the analysis, render the connections.

mod csv;
mod human;
mod input;
mod json;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use mss_analyze::{Analyzer, Config, ConnectionReport};

use crate::Failure;
use crate::cli::AnalyzeArgs;
use input::{Input, Progress};

/// Exit status when a `--fail-on` finding occurred.
const EXIT_FINDING: u8 = 1;

/// What the user asked to see.
struct Filter {
    hosts: Vec<std::net::IpAddr>,
    ports: Vec<u16>,
    ids: Vec<u64>,
}

impl Filter {
    fn keeps(&self, report: &ConnectionReport) -> bool {
        let ends = [&report.client, &report.server];
        (self.hosts.is_empty() || ends.iter().any(|e| self.hosts.contains(&e.addr)))
            && (self.ports.is_empty() || ends.iter().any(|e| self.ports.contains(&e.port)))
            && (self.ids.is_empty() || self.ids.contains(&report.id))
    }
}

/// Where connections go as they finish.
enum Output {
    /// Collected, printed at the end as a table with explanations.
    Human(Vec<ConnectionReport>),
    /// One JSON line each, as they finish.
    Json,
    /// One CSV row each, as they finish.
    Csv,
}

pub(crate) fn run(args: &AnalyzeArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let mut inputs = args
        .inputs
        .iter()
        .map(|name| Input::open(name))
        .collect::<Result<Vec<Input>, Failure>>()?;
    let config = Config {
        max_connections: args.max_connections.max(1),
        // Captures from several points are merged by time; keep closed connections
        // long enough for the other points' copies (and some clock skew).
        linger_ns: if inputs.len() > 1 {
            60_000_000_000
        } else {
            Config::default().linger_ns
        },
        ..Config::default()
    };
    let mut analyzer = Analyzer::new(config);
    let filter = Filter {
        hosts: args.host.clone(),
        ports: args.port.clone(),
        ids: args.connection.clone(),
    };
    let mut output = if args.json {
        Output::Json
    } else if args.csv {
        csv::header(out)?;
        Output::Csv
    } else {
        Output::Human(Vec::new())
    };
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let mut failed_on = false;
    let mut progress = Progress::new(&inputs, args.no_progress);
    let mut emit = |report: ConnectionReport| -> io::Result<()> {
        if !filter.keeps(&report) {
            return Ok(());
        }
        if let Some(fail_on) = &args.fail_on {
            failed_on |= report.findings.iter().any(|f| fail_on.matches(f.kind()));
        }
        match &mut output {
            Output::Human(all) => all.push(report),
            Output::Json => json::connection(out, &report, &names)?,
            Output::Csv => csv::row(out, &report)?,
        }
        Ok(())
    };
    input::read_all(&mut inputs, &mut analyzer, &mut progress, &mut emit)?;
    let summary = analyzer.finish();
    while let Some(report) = analyzer.poll_finished() {
        emit(report)?;
    }
    let mut warnings: Vec<String> = inputs.iter().flat_map(Input::warnings).collect();
    if summary.evicted > 0 {
        warnings.push(format!(
            "{} connections were reported early (ending \"evicted\", half-open ones first) \
             because more than {} were open at once; raise --max-connections to keep them \
             whole",
            summary.evicted, config.max_connections
        ));
    }
    let fatal: Vec<String> = inputs
        .iter()
        .filter_map(|i| {
            i.error
                .as_ref()
                .filter(|e| !e.is_truncation())
                .map(|e| format!("{}: {e}", i.name))
        })
        .collect();
    match &output {
        Output::Human(reports) => {
            let color = match args.color.as_str() {
                "always" => true,
                "never" => false,
                _ => io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            human::report(out, reports, &summary, &inputs, &warnings, color)?;
        }
        Output::Json => json::summary(out, &summary, &inputs, &warnings)?,
        Output::Csv => {}
    }
    out.flush()?;
    if !matches!(output, Output::Human(_)) {
        for warning in &warnings {
            let _ = writeln!(io::stderr(), "mss: warning: {warning}");
        }
    }
    if !fatal.is_empty() {
        return Err(Failure::Input(format!(
            "{}; the results above cover the packets before it",
            fatal.join("; ")
        )));
    }
    Ok(if failed_on {
        ExitCode::from(EXIT_FINDING)
    } else {
        ExitCode::SUCCESS
    })
}
