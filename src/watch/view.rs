//! The live view of `mss watch` on a terminal (ratatui): redrawn every second
//! from the rolling state; q, Esc or Ctrl-C stop the watch.

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mss_analyze::watch::Direction;
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Sparkline, Table};

use super::State;

/// How often the view is redrawn (and keys are looked for in between).
const REDRAW: Duration = Duration::from_millis(1000);

/// Runs the view until q, Esc or Ctrl-C, a signal (`quit` set), or a terminal
/// that has gone away; then stops the watch.
pub(super) fn run(
    state: &Mutex<State>,
    quit: &AtomicBool,
    stopper: Option<&mss_ingest::Stopper>,
) -> io::Result<()> {
    let result = ratatui::try_init().and_then(|mut terminal| {
        let shown = show(&mut terminal, state, quit);
        ratatui::restore();
        shown
    });
    // However the view ended, the watch ends with it.
    quit.store(true, Ordering::Relaxed);
    if let Some(stopper) = stopper {
        stopper.stop();
    }
    result
}

/// Draws and reads keys until the user or a signal quits; an error (the terminal
/// closed) ends it too.
fn show(
    terminal: &mut ratatui::DefaultTerminal,
    state: &Mutex<State>,
    quit: &AtomicBool,
) -> io::Result<()> {
    while !quit.load(Ordering::Relaxed) {
        terminal.draw(|frame| {
            if let Ok(state) = state.lock() {
                draw(frame, &state);
            }
        })?;
        if !keys_waiting(REDRAW)? {
            continue;
        }
        if let Event::Key(key) = event::read()? {
            let ctrl_c =
                key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
            let stop = matches!(key.code, KeyCode::Char('q') | KeyCode::Esc) || ctrl_c;
            if key.kind == KeyEventKind::Press && stop {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Whether input from the terminal waits, after at most `wait`. Asked of the
/// terminal itself first: crossterm's own wait spins without end on a terminal
/// that has hung up (reads of 0 bytes), where this one says it is gone.
fn keys_waiting(wait: Duration) -> io::Result<bool> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let stdin = io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    let millis = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    match poll(&mut fds, PollTimeout::from(millis)) {
        Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(false),
        Ok(_) => {}
        Err(e) => return Err(e.into()),
    }
    let revents = fds[0].revents().unwrap_or(PollFlags::empty());
    if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the terminal has gone away",
        ));
    }
    event::poll(Duration::ZERO)
}

/// Capture time as `HH:MM:SS` UTC.
fn clock(ns: u64) -> String {
    let seconds = ns / 1_000_000_000;
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn block(title: &str) -> Block<'_> {
    Block::default()
        .borders(Borders::ALL)
        .title(format!(" {title} "))
}

fn draw(frame: &mut Frame<'_>, state: &State) {
    let watch = &state.watch;
    let totals = &watch.totals;
    let [header, rate, middle, rewrites, recent] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(5),
        Constraint::Min(6),
        Constraint::Length(6),
        Constraint::Min(5),
    ])
    .areas(frame.area());
    let dropped: u64 = state.captures.iter().map(|(_, c)| c.dropped()).sum();
    let status = if state.ended {
        "input ended; q quits"
    } else {
        "q quits"
    };
    let title = format!(
        "mss watch  {}  {} UTC  {} open  {} ended  {} dropped  {status}",
        state.inputs.join(", "),
        clock(watch.now_ns()),
        watch.open_connections(),
        totals.ended,
        dropped,
    );
    frame.render_widget(
        Paragraph::new(title).style(Style::default().add_modifier(Modifier::BOLD)),
        header,
    );

    let minutes = watch.per_minute();
    let latest = minutes.last().map_or(0, |&(_, n)| n);
    let counts: Vec<u64> = minutes.iter().map(|&(_, n)| n).collect();
    frame.render_widget(
        Sparkline::default()
            .block(block(&format!(
                "Connections per minute, last {} min (this minute: {latest})",
                minutes.len()
            )))
            .data(&counts),
        rate,
    );

    let [syns, findings] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(middle);
    frame.render_widget(syn_table(state), syns);
    frame.render_widget(findings_table(state), findings);
    frame.render_widget(rewrites_table(state), rewrites);
    frame.render_widget(recent_list(state, recent.height), recent);
}

/// SYN MSS per interface and direction: the most common values with counts.
fn syn_table(state: &State) -> Table<'static> {
    let mut rows = Vec::new();
    let mut groups: std::collections::BTreeMap<(&str, Direction), Vec<(u16, u64)>> =
        std::collections::BTreeMap::new();
    for ((interface, direction, mss), n) in state.watch.syn_values() {
        groups
            .entry((interface, *direction))
            .or_default()
            .push((*mss, *n));
    }
    // As wide as the widest interface name (a file's path, say), within reason.
    let width = groups
        .keys()
        .map(|(interface, _)| interface.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(9, 40);
    let width = u16::try_from(width + 1).unwrap_or(41);
    for ((interface, direction), mut values) in groups {
        values.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let total: u64 = values.iter().map(|v| v.1).sum();
        let top = values
            .iter()
            .take(4)
            .map(|(mss, n)| format!("{mss} ×{n}"))
            .collect::<Vec<_>>()
            .join("  ");
        rows.push(Row::new([
            interface.to_string(),
            direction.name().to_string(),
            total.to_string(),
            top,
        ]));
    }
    Table::new(
        rows,
        [
            Constraint::Length(width),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Min(20),
        ],
    )
    .header(Row::new(["interface", "dir", "SYNs", "MSS values"]).style(bold()))
    .block(block("SYN MSS by interface"))
}

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

/// Findings by kind (all interfaces), then ICMP too-big by MTU.
fn findings_table(state: &State) -> Table<'static> {
    let totals = &state.watch.totals;
    let mut kinds: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for ((_, kind), n) in &totals.findings {
        *kinds.entry(kind).or_default() += n;
    }
    let mut rows: Vec<Row<'static>> = kinds
        .iter()
        .map(|(kind, n)| Row::new([kind.to_string(), n.to_string()]))
        .collect();
    for ((interface, mtu), n) in &totals.icmp_too_big {
        rows.push(Row::new([
            format!("  too big, MTU {mtu} ({interface})"),
            format!("{n} msgs"),
        ]));
    }
    Table::new(rows, [Constraint::Min(24), Constraint::Length(10)])
        .header(Row::new(["finding", "count"]).style(bold()))
        .block(block("Findings"))
}

/// MSS rewrites: where, which SYN, from and to.
fn rewrites_table(state: &State) -> Table<'static> {
    let rows: Vec<Row<'static>> = state
        .watch
        .totals
        .rewrites
        .iter()
        .map(|(r, n)| {
            Row::new([
                format!("{} → {}", r.from_interface, r.to_interface),
                r.direction.name().to_string(),
                format!("{} → {}", r.from, r.to),
                n.to_string(),
            ])
        })
        .collect();
    Table::new(
        rows,
        [
            Constraint::Min(20),
            Constraint::Length(8),
            Constraint::Length(16),
            Constraint::Length(8),
        ],
    )
    .header(Row::new(["between", "dir", "MSS", "SYNs"]).style(bold()))
    .block(block("MSS rewrites (clamps)"))
}

/// The latest findings, newest first.
fn recent_list(state: &State, height: u16) -> Paragraph<'static> {
    let lines: Vec<Line<'static>> = state
        .watch
        .recent()
        .rev()
        .take(usize::from(height.saturating_sub(2)))
        .map(|e| {
            Line::from(format!(
                "{}  #{:<6} {} → {}  {}  {}",
                clock(e.time_ns),
                e.connection,
                e.ends[0],
                e.ends[1],
                e.interface,
                e.title
            ))
        })
        .collect();
    Paragraph::new(lines).block(block("Latest findings"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_utc_time_of_day() {
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(
            clock((86_400 + 3 * 3600 + 4 * 60 + 5) * 1_000_000_000),
            "03:04:05"
        );
    }
}
