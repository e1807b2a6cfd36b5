//! Text layout shared by the commands: frame diagrams and wrapped paragraphs, sized
//! for an 80-column terminal.

use mss_rules::encap::Part;

/// Width the text output is laid out for.
pub(crate) const WIDTH: usize = 80;

/// A frame as a two-row table (names over byte counts), wrapped onto several rows
/// when it is wider than the terminal, ending with the total:
///
/// ```text
///     Ethernet  PPPoE  PPP  IPv4  TCP  payload  FCS
///           14      6    2    20   20     1452    4  = 1518 bytes on the wire
/// ```
pub(crate) fn frame_table(parts: &[Part], on_wire: u32, indent: &str) -> Vec<String> {
    let cells: Vec<(String, String)> = parts
        .iter()
        .map(|p| (p.label.to_string(), p.bytes.to_string()))
        .collect();
    let total = format!("  = {on_wire} bytes on the wire");
    let mut lines = Vec::new();
    let mut row: Vec<&(String, String)> = Vec::new();
    let mut row_width = indent.len();
    for (i, cell) in cells.iter().enumerate() {
        let cell_width = cell.0.len().max(cell.1.len()) + 2;
        let last = i + 1 == cells.len();
        let needed = cell_width + if last { total.len() } else { 0 };
        if !row.is_empty() && row_width + needed > WIDTH {
            push_rows(&mut lines, &row, indent, None);
            row.clear();
            row_width = indent.len();
        }
        row.push(cell);
        row_width += cell_width;
    }
    push_rows(&mut lines, &row, indent, Some(&total));
    lines
}

fn push_rows(lines: &mut Vec<String>, row: &[&(String, String)], indent: &str, end: Option<&str>) {
    let mut names = String::from(indent);
    let mut bytes = String::from(indent);
    for (i, (name, count)) in row.iter().enumerate() {
        let width = name.len().max(count.len());
        let gap = if i == 0 { "" } else { "  " };
        names.push_str(&format!("{gap}{name:>width$}"));
        bytes.push_str(&format!("{gap}{count:>width$}"));
    }
    if let Some(end) = end {
        bytes.push_str(end);
    }
    lines.push(names.trim_end().to_string());
    lines.push(bytes);
}

/// Wraps `text` to the terminal width, the first line after `first`, the others
/// after `rest` (both are indentation or a bullet of the same width).
pub(crate) fn wrap(text: &str, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::from(first);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.len() + 1 + word.len() > WIDTH {
            lines.push(line);
            line = String::from(rest);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use mss_rules::encap::Placement;

    fn part(label: &'static str, bytes: u32) -> Part {
        Part {
            label,
            bytes,
            placement: Placement::Head,
        }
    }

    #[test]
    fn table_fits_and_wraps() {
        let parts: Vec<Part> = (0..20).map(|i| part("outer IPv4", 20 + i)).collect();
        let lines = frame_table(&parts, 9999, "    ");
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| l.len() <= WIDTH), "{lines:#?}");
        assert!(
            lines
                .last()
                .is_some_and(|l| l.ends_with("= 9999 bytes on the wire"))
        );
    }

    #[test]
    fn wrap_respects_width() {
        let text = "word ".repeat(60);
        let lines = wrap(&text, "  1. ", "     ");
        assert!(lines.iter().all(|l| l.len() <= WIDTH));
        assert!(lines[0].starts_with("  1. word"));
        assert!(lines[1].starts_with("     word"));
    }
}

/// A time in nanoseconds since the Unix epoch as RFC 3339 UTC with microseconds
/// (`2026-11-30T17:15:41.837876Z`).
#[cfg(test)]
pub(crate) fn rfc3339(ns: u64) -> String {
    let mut out = Vec::with_capacity(27);
    rfc3339_into(&mut out, ns);
    String::from_utf8(out).unwrap_or_default()
}

/// An RFC 3339 time appended to a buffer, digit by digit (it runs twice per connection
/// of a JSON report). Civil date from days: H. Hinnant's algorithm.
pub(crate) fn rfc3339_into(out: &mut Vec<u8>, ns: u64) {
    mss_analyze::record::rfc3339_into(out, ns);
}

#[cfg(test)]
mod time_tests {
    use super::rfc3339;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            rfc3339(1_796_060_141_837_876_000),
            "2026-11-30T17:35:41.837876Z"
        );
    }
}
