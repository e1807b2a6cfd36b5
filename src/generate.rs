//! `mss completions` and `mss man`: shell completions and manual pages generated
//! from the clap definitions in cli.rs, so they always list the real commands and
//! options.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use roff::{Roff, bold, roman};

use crate::Failure;
use crate::cli::{Cli, CompletionsArgs, ManArgs};

pub(crate) fn completions(
    args: &CompletionsArgs,
    out: &mut impl Write,
) -> Result<ExitCode, Failure> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "mss", out);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn man(args: &ManArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let mut root = Cli::command().disable_help_subcommand(true);
    // Gives every subcommand its page name: mss-lab-run.
    root.build();
    let Some(dir) = &args.dir else {
        page(&root, &pages(&root), out)?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Input(format!("{}: cannot create: {e}", dir.display())))?;
    let names = pages(&root);
    for command in commands(&root) {
        let file = dir.join(format!("{}.1", page_name(command)));
        write_page(command, &names, &file)?;
    }
    writeln!(
        out,
        "{} manual pages in {} (man searches share/man/man1 beside each PATH \
         directory and in `manpath`; or `man -M DIR/.. mss`)",
        names.len(),
        dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn write_page(command: &clap::Command, names: &[String], file: &Path) -> Result<(), Failure> {
    let cannot =
        |e: std::io::Error| Failure::Input(format!("{}: cannot write: {e}", file.display()));
    let mut text = Vec::new();
    page(command, names, &mut text)?;
    std::fs::write(file, text).map_err(cannot)
}

/// The command and every visible subcommand, depth first.
fn commands(command: &clap::Command) -> Vec<&clap::Command> {
    let mut all = vec![command];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        all.extend(commands(sub));
    }
    all
}

fn page_name(command: &clap::Command) -> &str {
    command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
}

/// Every page's name.
fn pages(root: &clap::Command) -> Vec<String> {
    commands(root)
        .into_iter()
        .map(|c| page_name(c).to_string())
        .collect()
}

/// One page: clap_mangen's sections, then the examples, the exit status and the
/// other pages.
fn page(command: &clap::Command, names: &[String], out: &mut impl Write) -> Result<(), Failure> {
    let name = page_name(command).to_string();
    let man = clap_mangen::Man::new(command.clone())
        .title(name.to_uppercase())
        .manual("mss manual")
        .source(format!("mss {}", env!("CARGO_PKG_VERSION")));
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if command.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(out)?;
    }
    let mut roff = Roff::new();
    // The help's examples, line for line (clap_mangen would fill them into one
    // paragraph under "EXTRA").
    if let Some(after) = command
        .get_after_long_help()
        .or_else(|| command.get_after_help())
    {
        let text = after.to_string();
        let (title, body) = match text.strip_prefix("Examples:") {
            Some(rest) => ("EXAMPLES", rest.trim_start_matches('\n')),
            None => ("NOTES", text.as_str()),
        };
        roff.control("SH", [title]).control("nf", []);
        for line in body.lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
    }
    roff.control("SH", ["EXIT STATUS"]);
    for (status, meaning) in EXIT_STATUS {
        roff.control("TP", [])
            .text([roman(status)])
            .text([roman(meaning)]);
    }
    let see_also: Vec<String> = names
        .iter()
        .filter(|other| **other != name)
        .cloned()
        .collect();
    roff.control("SH", ["SEE ALSO"]);
    for (i, other) in see_also.iter().enumerate() {
        let comma = if i + 1 < see_also.len() { "," } else { "" };
        roff.text([bold(other.as_str()), roman(format!("(1){comma}"))]);
    }
    roff.to_writer(out)?;
    if command.get_version().is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

/// The exit status every command follows (DESIGN: 0, 1, 2).
const EXIT_STATUS: [(&str, &str); 3] = [
    ("0", "Fine: the command did what was asked."),
    (
        "1",
        "The command ran and found what it was asked to fail on: a finding named by \
         --fail-on (mss analyze), or a lab scenario's expectation that did not hold \
         (mss lab run).",
    ),
    (
        "2",
        "A usage or input error; the message on standard error says what was wrong and \
         what is accepted.",
    ),
];
