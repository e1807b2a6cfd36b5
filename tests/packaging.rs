//! What a user installs besides the binary: shell completions (`mss completions`),
//! manual pages (`mss man`) and the Debian package (scripts/deb). The commands are
//! read from `mss --help`, so a new command that the completions or pages miss
//! fails here.

mod support;

use std::path::Path;
use std::process::Command;

use support::{TempDir, mss};

/// The subcommands `mss [PATH...] --help` lists (without `help`).
fn subcommands(path: &[&str]) -> Vec<String> {
    let mut args = path.to_vec();
    args.push("--help");
    let out = mss(&args);
    assert!(out.status.success(), "mss {args:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let section = text
        .split_once("Commands:\n")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no Commands: in mss {args:?}:\n{text}"));
    section
        .lines()
        .take_while(|l| !l.is_empty())
        // Entries are indented two spaces; their wrapped descriptions more.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

fn help_has_no_commands(path: &[&str]) -> bool {
    let mut args = path.to_vec();
    args.push("--help");
    !String::from_utf8_lossy(&mss(&args).stdout).contains("Commands:")
}

/// `subcommands` of a command that may have none.
fn subcommands_or_none(path: &[&str]) -> Vec<String> {
    if help_has_no_commands(path) {
        Vec::new()
    } else {
        subcommands(path)
    }
}

/// Every command path: ["calc"], ["lab"], ["lab", "run"], ...
fn all_paths() -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for top in subcommands(&[]) {
        paths.push(vec![top.clone()]);
        for sub in subcommands_or_none(&[&top]) {
            paths.push(vec![top.clone(), sub]);
        }
    }
    assert!(
        paths.iter().any(|p| p == &["lab", "run"]) && paths.iter().any(|p| p == &["calc"]),
        "{paths:?}"
    );
    paths
}

fn completions(shell: &str) -> String {
    let out = mss(&["completions", shell]);
    assert!(
        out.status.success(),
        "{shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn completions_name_every_command() {
    let paths = all_paths();
    let bash = completions("bash");
    let zsh = completions("zsh");
    let fish = completions("fish");
    for path in &paths {
        let name = path.last().map_or("", String::as_str);
        // Each generator's own way of offering a subcommand.
        let bash_case = format!("mss__subcmd__{}", path.join("__subcmd__"));
        assert!(bash.contains(&bash_case), "bash lacks {path:?}");
        assert!(zsh.contains(&format!("'{name}:")), "zsh lacks {path:?}");
        assert!(
            fish.contains(&format!("-a \"{name}\"")),
            "fish lacks {path:?}"
        );
    }
    // Options too: a flag of a nested command.
    for script in [&bash, &zsh, &fish] {
        assert!(script.contains("ipv6-ext") && script.contains("dry-run"));
    }
    let unknown = mss(&["completions", "tcsh"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("[possible values: bash"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

/// The bash script parses and completes: `mss la<TAB>`, `mss lab r<TAB>`,
/// `mss calc --ipv6-<TAB>`.
#[test]
fn bash_completion_completes() {
    let dir = TempDir::new("bash-completion");
    let script = dir.0.join("mss.bash");
    std::fs::write(&script, completions("bash")).expect("write");
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            r#"set -e; source "$1"
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=();
  _mss mss "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; echo "${COMPREPLY[*]}"; }
complete_words mss la
complete_words mss lab r
complete_words mss calc --ipv6-"#,
        )
        .arg("bash")
        .arg(&script)
        .output()
        .expect("bash");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["lab", "run", "--ipv6-ext"],
        "{text}"
    );
}

/// Renders a page with groff, which warns (-ww) about anything malformed, and
/// returns the text a reader sees.
fn render(page: &Path) -> String {
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-rLL=200n", "-rHY=0"])
        .arg(page)
        .env("GROFF_NO_SGR", "1")
        .output()
        .unwrap_or_else(|e| panic!("groff (apt-get install groff-base): {e}"));
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.trim().is_empty(),
        "{}: {warnings}",
        page.display()
    );
    // Bold and underline are overstrikes without SGR: keep the letters.
    let mut text = String::new();
    let mut chars = String::from_utf8_lossy(&out.stdout)
        .chars()
        .collect::<Vec<_>>();
    chars.push(' ');
    let mut i = 0;
    while i + 1 < chars.len() {
        if chars[i + 1] == '\u{8}' {
            i += 2;
            continue;
        }
        text.push(chars[i]);
        i += 1;
    }
    text
}

#[test]
fn man_page_renders_with_every_command_and_the_exit_status() {
    let paths = all_paths();
    let out = mss(&["man"]);
    assert!(out.status.success());
    let dir = TempDir::new("man");
    let page = dir.0.join("mss.1");
    std::fs::write(&page, &out.stdout).expect("write");
    let text = render(&page);
    for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "SUBCOMMANDS", "EXAMPLES"] {
        assert!(
            text.contains(&format!("\n{section}\n")),
            "no {section}:\n{text}"
        );
    }
    assert!(text.contains("\nEXIT STATUS\n"), "{text}");
    for status in ["0", "1", "2"] {
        assert!(
            text.contains(&format!("\n       {status}      ")),
            "exit status {status}:\n{text}"
        );
    }
    for path in &paths {
        let name = format!("mss-{}(1)", path.join("-"));
        assert!(text.contains(&name), "mss(1) does not name {name}:\n{text}");
    }

    // One page per command, each rendering, each naming itself.
    let pages = dir.0.join("man1");
    let written = mss(&["man", "--dir", &pages.to_string_lossy()]);
    assert!(written.status.success());
    let mut expected: Vec<String> = paths
        .iter()
        .map(|p| format!("mss-{}.1", p.join("-")))
        .collect();
    expected.push("mss.1".into());
    expected.sort();
    let mut found: Vec<String> = std::fs::read_dir(&pages)
        .expect("man1")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, expected);
    let run = render(&pages.join("mss-lab-run.1"));
    assert!(
        run.contains("mss-lab-run - Build the lab") && run.contains("--keep"),
        "{run}"
    );
    assert!(
        run.contains("\nEXIT STATUS\n") && run.contains("mss(1)"),
        "{run}"
    );
    // `man` finds the pages the way an installed system does.
    if Command::new("man").arg("--version").output().is_ok() {
        let shown = Command::new("man")
            .args(["-M", &dir.0.to_string_lossy(), "mss-calc"])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man");
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(text.contains("--ipv6-ext"), "man -M DIR mss-calc:\n{text}");
    }
}

/// scripts/deb on the test binary (a release build takes minutes; the layout
/// does not depend on it): the package holds the binary, every page gzipped in
/// /usr/share/man/man1 and the completions where bash, zsh and fish look.
#[test]
fn debian_package_holds_binary_pages_and_completions() {
    let dir = TempDir::new("deb");
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/deb"))
        .args(["--binary", env!("CARGO_BIN_EXE_mss"), "--out"])
        .arg(&dir.0)
        .output()
        .expect("scripts/deb");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let deb = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let file = Path::new(&deb)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert!(
        file.starts_with(&format!("mss_{}_", env!("CARGO_PKG_VERSION"))) && file.ends_with(".deb"),
        "{deb}"
    );
    let listing = Command::new("dpkg-deb")
        .args(["-c", &deb])
        .output()
        .expect("dpkg-deb (apt-get install dpkg)");
    let listing = String::from_utf8_lossy(&listing.stdout);
    let files: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    let mut wanted = vec![
        "./usr/bin/mss".to_string(),
        "./usr/share/bash-completion/completions/mss".to_string(),
        "./usr/share/zsh/vendor-completions/_mss".to_string(),
        "./usr/share/fish/vendor_completions.d/mss.fish".to_string(),
        "./usr/share/doc/mss/copyright".to_string(),
        "./usr/share/man/man1/mss.1.gz".to_string(),
    ];
    wanted.extend(
        all_paths()
            .iter()
            .map(|p| format!("./usr/share/man/man1/mss-{}.1.gz", p.join("-"))),
    );
    for path in &wanted {
        assert!(files.contains(&path.as_str()), "{path} missing:\n{listing}");
    }
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("-rwxr-xr-x root/root") && l.ends_with("./usr/bin/mss")),
        "{listing}"
    );
    let control = Command::new("dpkg-deb")
        .args(["-f", &deb, "Package", "Version", "Depends"])
        .output()
        .expect("dpkg-deb -f");
    let control = String::from_utf8_lossy(&control.stdout);
    assert!(
        control.contains("Package: mss")
            && control.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION")))
            && control.contains("libc6"),
        "{control}"
    );
}
