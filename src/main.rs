//! `mss`: the command-line tool. Parse, dispatch, render; the work is in the
//! library crates.

#![forbid(unsafe_code)]

mod analyze;
mod calc;
mod clamp;
mod cli;
mod generate;
mod host;
mod lab;
mod netns;
mod outfile;
mod probe;
mod render;
mod sockets;
mod watch;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

/// Exit status for usage and input errors (clap uses the same for bad arguments).
const EXIT_ERROR: u8 = 2;

/// Why a command could not do its job.
#[derive(Debug)]
enum Failure {
    /// Writing the output failed.
    Io(io::Error),
    /// The input cannot be worked with; the message says what was wrong and what is
    /// accepted.
    Input(String),
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        Failure::Io(err)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io(err) => write!(f, "cannot write output: {err}"),
            Failure::Input(message) => f.write_str(message),
        }
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // `mss ... | head` is not an error.
        Err(Failure::Io(err)) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = writeln!(io::stderr(), "mss: {failure}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: cli::Cli) -> Result<ExitCode, Failure> {
    // Large writes: JSON Lines for millions of connections. Not locked here: analyze
    // writes from a thread of its own.
    let mut out = io::BufWriter::with_capacity(1 << 20, io::stdout());
    let code = match cli.command {
        cli::Command::Calc(args) => calc::run(&args, &mut out)?,
        cli::Command::Analyze(args) => analyze::run(&args, &mut out)?,
        cli::Command::Lab(command) => lab::run(&command, &mut out)?,
        cli::Command::Clamp(args) => clamp::run(&args, &mut out)?,
        cli::Command::Probe(command) => probe::run(&command, &mut out)?,
        cli::Command::Watch(args) => watch::run(&args, &mut out)?,
        cli::Command::Sockets(args) => sockets::run(&args, &mut out)?,
        cli::Command::Host(args) => host::run(&args, &mut out)?,
        cli::Command::Completions(args) => generate::completions(&args, &mut out)?,
        cli::Command::Man(args) => generate::man(&args, &mut out)?,
    };
    out.flush()?;
    Ok(code)
}
