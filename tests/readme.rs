//! The README shows real output: every example that starts with `$ mss` is run and
//! must print exactly what the README shows. Blocks after an `<!-- abridged -->`
//! marker are trimmed on purpose and only checked to run successfully.
//!
//! After a deliberate change of output, refresh the README with
//! `MSS_UPDATE_README=1 cargo test --test readme`, then read the diff.

mod support;

use support::mss;

/// A fenced block that starts with `$ mss`: its command line and output lines.
struct Example {
    /// Index of the `$ mss` line in the README's lines.
    command_line: usize,
    /// Index of the closing fence.
    end: usize,
    command: String,
    abridged: bool,
}

fn examples(lines: &[&str]) -> Vec<Example> {
    let mut out = Vec::new();
    let mut abridged = false;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].contains("<!-- abridged -->") {
            abridged = true;
        }
        if lines[i].trim_start().starts_with("```") {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && !lines[end].trim_start().starts_with("```") {
                end += 1;
            }
            if let Some(command) = lines.get(start).and_then(|l| l.strip_prefix("$ mss ")) {
                out.push(Example {
                    command_line: start,
                    end,
                    command: command.to_string(),
                    abridged,
                });
            }
            abridged = false;
            i = end;
        }
        i += 1;
    }
    out
}

/// What the example's command prints (stdout then stderr), with `| head -N` applied.
fn real_output(command: &str) -> (bool, String) {
    let (command, head) = match command.split_once(" | head -") {
        Some((command, n)) => (command, n.trim().parse::<usize>().ok()),
        None => (command, None),
    };
    let args: Vec<&str> = command.split_whitespace().collect();
    let out = mss(&args);
    // Examples that write a file (`mss clamp IN -o FILE`) leave nothing behind.
    if let Some(i) = args.iter().position(|a| *a == "-o") {
        if let Some(file) = args.get(i + 1) {
            let _ = std::fs::remove_file(file);
        }
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if let Some(n) = head {
        text = text.lines().take(n).collect::<Vec<_>>().join("\n");
    }
    (out.status.success(), text.trim_end().to_string())
}

#[test]
fn readme_examples_are_real_output() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let lines: Vec<&str> = readme.lines().collect();
    let examples = examples(&lines);
    assert!(examples.len() >= 5, "README examples not found");
    let update = std::env::var_os("MSS_UPDATE_README").is_some();
    let mut rewritten: Vec<String> = Vec::new();
    let mut copied = 0;
    for example in &examples {
        let (success, text) = real_output(&example.command);
        if example.abridged {
            assert!(success, "README example `mss {}` fails", example.command);
            continue;
        }
        let shown = lines[example.command_line + 1..example.end].join("\n");
        if update {
            rewritten.extend(
                lines[copied..=example.command_line]
                    .iter()
                    .map(|l| l.to_string()),
            );
            rewritten.extend(text.lines().map(str::to_string));
            copied = example.end;
        } else {
            assert_eq!(
                text,
                shown.trim_end(),
                "README example `mss {}` no longer matches the real output; run \
                 MSS_UPDATE_README=1 cargo test --test readme",
                example.command
            );
        }
    }
    if update {
        rewritten.extend(lines[copied..].iter().map(|l| l.to_string()));
        std::fs::write(path, rewritten.join("\n") + "\n").expect("write README.md");
    }
}
