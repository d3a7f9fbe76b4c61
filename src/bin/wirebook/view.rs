//! The live terminal view (ratatui): the depth ladder of one book, the list
//! of books with state and seq, counters and receive-to-publish latency.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use wirebook::client::{ClientCounters, ParsecClient};
use wirebook::latency::{LatencyReport, Stage};
use wirebook::sim::Simulator;
use wirebook::{BookSnapshot, BookState};

const LADDER: usize = 10;

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1}us")
    } else {
        format!("{:.2}ms", us / 1000.0)
    }
}

/// One line per stage: `parse p50 .. p99 ..`.
pub fn stages_text(r: &LatencyReport) -> Vec<String> {
    Stage::ALL
        .iter()
        .map(|&s| {
            let l = r.get(s);
            format!(
                "{:<20} p50 {:>9} p90 {:>9} p99 {:>9} p99.9 {:>9} max {:>9} (n={})",
                s.name(),
                micros(l.p50),
                micros(l.p90),
                micros(l.p99),
                micros(l.p999),
                micros(l.max),
                l.count
            )
        })
        .collect()
}

fn counters_text(c: &ClientCounters) -> String {
    counters_lines(c).join(" ")
}

/// The counters in four lines that fit the live view's 78 columns with
/// counts of up to 12 digits.
fn counters_lines(c: &ClientCounters) -> [String; 4] {
    let s = &c.store;
    [
        format!(
            "frames {} snapshots {} deltas {}",
            c.frames, s.snapshots, s.deltas
        ),
        format!(
            "gaps {} resyncs {} (retries {})",
            s.gaps, s.resyncs, s.resync_retries
        ),
        format!(
            "duplicates {} malformed {} crossed {}",
            s.duplicates, s.parse_errors, s.crossed
        ),
        format!(
            "reconnects {} rate-limited {}",
            c.reconnects, c.rate_limited
        ),
    ]
}

/// The simulator's lines of the live view (78 columns with 12-digit counts).
fn simulator_lines(s: &wirebook::sim::SimStats) -> [String; 2] {
    [
        format!("simulator: deltas {} snapshots {}", s.deltas, s.snapshots),
        format!(
            "simulator: resyncs {} faults {}",
            s.resyncs,
            s.faults.iter().sum::<u64>()
        ),
    ]
}

/// One short line per stage (for the live view): `parse p50 .. p99 .. max ..`.
fn stages_lines_short(r: &LatencyReport) -> Vec<String> {
    Stage::ALL
        .iter()
        .map(|&s| {
            let l = r.get(s);
            format!(
                "{:<19} p50 {:>7} p99 {:>7} p99.9 {:>7} max {:>7}",
                s.name(),
                micros(l.p50),
                micros(l.p99),
                micros(l.p999),
                micros(l.max)
            )
        })
        .collect()
}

/// One plain line: for logs and pipes.
pub fn summary_line(client: &ParsecClient, elapsed: Duration) -> String {
    let books = client.books();
    let fresh = books
        .iter()
        .filter(|b| b.snapshot(0).state == BookState::Fresh)
        .count();
    let c = client.counters();
    let l = client.latency().get(Stage::Total);
    format!(
        "t={:.0}s state={:?} books={} fresh={} frames={} gaps={} resyncs={} duplicates={} malformed={} reconnects={} p50={} p99={} max={}",
        elapsed.as_secs_f64(),
        c.state,
        books.len(),
        fresh,
        c.frames,
        c.store.gaps,
        c.store.resyncs,
        c.store.duplicates,
        c.store.parse_errors,
        c.reconnects,
        micros(l.p50),
        micros(l.p99),
        micros(l.max)
    )
}

/// The summary printed at the end of a run.
pub fn final_summary(client: &ParsecClient, elapsed: Duration) -> String {
    let c = client.counters();
    let report = client.latency();
    let mut out = format!(
        "wirebook: ran {:.1}s, {} connection(s)\n  {}\n  latency by stage:",
        elapsed.as_secs_f64(),
        c.connections,
        counters_text(&c)
    );
    for line in stages_text(&report) {
        out.push_str("\n    ");
        out.push_str(&line);
    }
    out
}

fn state_color(s: BookState) -> Color {
    match s {
        BookState::Fresh => Color::Green,
        BookState::Stale => Color::Yellow,
        BookState::Resyncing => Color::Magenta,
        _ => Color::Red,
    }
}

/// Runs the full-screen view until `q`, Esc, Ctrl-C, `stop` or `end`.
pub fn live(
    client: &ParsecClient,
    sim: Option<&Simulator>,
    title: &str,
    end: Option<Instant>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let mut table = TableState::default().with_selected(Some(0));
    let mut snap = BookSnapshot::with_depth(LADDER);
    let result = (|| -> std::io::Result<()> {
        while !stop.load(Ordering::SeqCst)
            && end.is_none_or(|e| Instant::now() < e)
            && client.error().is_none()
        {
            let books = client.books();
            terminal.draw(|f| draw(f, client, sim, title, &books, &mut table, &mut snap))?;
            if event::poll(Duration::from_millis(100))? {
                if let Event::Key(k) = event::read()? {
                    if k.kind != KeyEventKind::Press {
                        continue;
                    }
                    match k.code {
                        KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                            return Ok(())
                        }
                        KeyCode::Down | KeyCode::Char('j') => table.select_next(),
                        KeyCode::Up | KeyCode::Char('k') => table.select_previous(),
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    })();
    ratatui::try_restore()?;
    result
}

fn draw(
    f: &mut Frame<'_>,
    client: &ParsecClient,
    sim: Option<&Simulator>,
    title: &str,
    books: &[wirebook::BookReader],
    table: &mut TableState,
    snap: &mut BookSnapshot,
) {
    let c = client.counters();
    let mut foot_lines = vec![Line::from(format!(
        "connection: {:?}, {} opened",
        c.state, c.connections
    ))];
    foot_lines.extend(counters_lines(&c).into_iter().map(Line::from));
    foot_lines.extend(
        stages_lines_short(&client.latency())
            .into_iter()
            .map(Line::from),
    );
    if let Some(sim) = sim {
        foot_lines.extend(simulator_lines(&sim.stats()).into_iter().map(Line::from));
    }
    // Every footer line shows (two more rows for the border); the books
    // keep at least 8 rows, the footer giving way on a short terminal.
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(8),
        Constraint::Length(foot_lines.len() as u16 + 2),
    ])
    .areas(f.area());
    // The ladder's first line takes up to 38 columns (a long state and a
    // 16-digit seq), its levels 34; the list takes the rest.
    let [list, ladder] =
        Layout::horizontal([Constraint::Min(40), Constraint::Length(40)]).areas(body);
    f.render_widget(
        Paragraph::new(vec![
            Line::styled(title.to_owned(), Style::new().add_modifier(Modifier::BOLD)),
            Line::from("q quit   up/down select a book"),
        ]),
        head,
    );
    let rows = books.iter().map(|b| {
        let s = b.snapshot(1);
        let px = |l: Option<wirebook::Level>| {
            l.map_or("-".to_owned(), |l| format!("{} x {}", l.price, l.size))
        };
        Row::new(vec![
            b.parsec_id().to_owned(),
            b.outcome().to_owned(),
            s.state.as_str().to_owned(),
            s.seq.to_string(),
            px(s.best_bid()),
            px(s.best_ask()),
        ])
        .style(Style::new().fg(state_color(s.state)))
    });
    let widths = [
        // Book, side, state and seq fit 80 columns (the simulator's seqs
        // have 16 digits); the best prices share what a wider one leaves.
        Constraint::Min(8),
        Constraint::Length(4),
        Constraint::Length(11),
        Constraint::Length(16),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ];
    let t = Table::new(rows, widths)
        .header(
            Row::new(vec!["book", "side", "state", "seq", "best bid", "best ask"])
                .style(Style::new().add_modifier(Modifier::BOLD)),
        )
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(format!(" books ({}) ", books.len())));
    f.render_stateful_widget(t, list, table);

    let selected = table
        .selected()
        .unwrap_or(0)
        .min(books.len().saturating_sub(1));
    let mut lines = Vec::new();
    let name = if let Some(b) = books.get(selected) {
        b.read_into(LADDER, snap);
        // State and seq on a line of their own: in the title a long state
        // and a 16-digit seq would not fit.
        lines.push(Line::from(format!(
            "{} seq {}",
            snap.state.as_str(),
            snap.seq
        )));
        for l in snap.asks.iter().rev() {
            lines.push(Line::styled(
                format!(
                    "            {:>8}  {:>12}",
                    l.price.to_string(),
                    l.size.to_string()
                ),
                Style::new().fg(Color::Red),
            ));
        }
        lines.push(Line::from("  ------------------------------"));
        for l in &snap.bids {
            lines.push(Line::styled(
                format!("{:>12}  {:>8}", l.size.to_string(), l.price.to_string()),
                Style::new().fg(Color::Green),
            ));
        }
        format!(" {} {} ", b.parsec_id(), b.outcome())
    } else {
        " no book ".to_owned()
    };
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(name)),
        ladder,
    );

    f.render_widget(
        Paragraph::new(foot_lines).block(Block::bordered().title(" counters ")),
        foot,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use wirebook::client::{ClientConfig, Subscription};
    use wirebook::sim::SimConfig;

    /// The footer holds every line it is given on an 80-column terminal of
    /// ordinary height: the counters (reconnects included), every latency
    /// stage and the simulator's line. It used to be 3 rows high and cut
    /// all but the first stage.
    #[test]
    fn the_footer_shows_every_counter_and_stage_in_80_columns() {
        let sim = Simulator::start(SimConfig::default()).unwrap();
        let config = ClientConfig::new(sim.url(), "pk_view_test")
            .subscribe(Subscription::new("sim:0").outcome("yes").depth(10));
        let client = ParsecClient::connect(config).unwrap();
        let books = client.books();
        let mut terminal = Terminal::new(TestBackend::new(80, 40)).unwrap();
        let (mut table, mut snap) = (TableState::default(), BookSnapshot::with_depth(LADDER));
        terminal
            .draw(|f| {
                draw(
                    f,
                    &client,
                    Some(&sim),
                    "test",
                    &books,
                    &mut table,
                    &mut snap,
                )
            })
            .unwrap();
        let buffer = terminal.backend().buffer();
        let rows: Vec<String> = (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect()
            })
            .collect();
        let screen = rows.join("\n");
        for want in ["reconnects", "rate-limited", "simulator:", "books"] {
            assert!(screen.contains(want), "{want:?} not shown:\n{screen}");
        }
        for stage in Stage::ALL {
            assert!(
                rows.iter().any(|r| r.contains(stage.name())),
                "stage {} not shown:\n{screen}",
                stage.name()
            );
        }
        // The selected book's state and full seq (as drawn).
        let line = format!("{} seq {}", snap.state.as_str(), snap.seq);
        assert!(screen.contains(&line), "{line:?} not shown:\n{screen}");
    }

    /// Every footer line fits the 78 columns inside an 80-column border with
    /// counts of a long run (12 digits) and a long latency.
    #[test]
    fn footer_lines_fit_80_columns_with_large_counts() {
        let mut c = ClientCounters::default();
        let big = 999_999_999_999;
        (c.frames, c.reconnects, c.rate_limited) = (big, big, big);
        let s = &mut c.store;
        (s.snapshots, s.deltas, s.gaps, s.resyncs) = (big, big, big, big);
        (s.resync_retries, s.duplicates, s.parse_errors, s.crossed) = (big, big, big, big);
        let mut sim = wirebook::sim::SimStats::default();
        (sim.deltas, sim.snapshots, sim.resyncs) = (big, big, big);
        sim.faults.iter_mut().for_each(|f| *f = big / 10);
        let mut lines = counters_lines(&c).to_vec();
        lines.extend(simulator_lines(&sim));
        lines.extend(stages_lines_short(&LatencyReport::default()));
        for line in &lines {
            assert!(line.chars().count() <= 78, "{} columns: {line}", line.len());
        }
        assert!(lines
            .iter()
            .any(|l| l.contains("rate-limited 999999999999")));
    }
}
