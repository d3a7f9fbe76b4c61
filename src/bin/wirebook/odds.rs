//! `wirebook odds`: a live odds board (best price per outcome and which book
//! has it, recent edge alerts), or JSON lines.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wirebook::client::{OddsEvent, ParlayClient};
use wirebook::odds::{EdgeAlert, Quote};

fn point(q: &Quote) -> String {
    q.key.point.map_or(String::new(), |p| {
        let units = p.units();
        let sign = if units < 0 { "-" } else { "" };
        let abs = units.unsigned_abs();
        format!(
            " {sign}{}.{}",
            abs / 100_000_000,
            (abs % 100_000_000) / 10_000_000
        )
    })
}

fn quote_json(q: &Quote) -> String {
    let mut s = String::from("{\"event_id\":");
    wirebook::encode::push_json_str(&mut s, &q.key.event_id);
    s.push_str(",\"bookmaker\":");
    wirebook::encode::push_json_str(&mut s, &q.key.bookmaker);
    s.push_str(",\"market_key\":");
    wirebook::encode::push_json_str(&mut s, &q.key.market_key);
    s.push_str(",\"outcome\":");
    wirebook::encode::push_json_str(&mut s, &q.key.outcome);
    if let Some(p) = q.key.point {
        s.push_str(&format!(",\"point\":{}", p.units() as f64 / 1e8));
    }
    s.push_str(&format!(
        ",\"price_american\":{},\"implied\":{}}}",
        q.price.get(),
        q.price.implied()
    ));
    s
}

fn alert_json(a: &EdgeAlert) -> String {
    let mut s = String::from("{\"alert\":{\"event_id\":");
    wirebook::encode::push_json_str(&mut s, &a.key.event_id);
    s.push_str(",\"bookmaker\":");
    wirebook::encode::push_json_str(&mut s, &a.key.bookmaker);
    s.push_str(",\"market_key\":");
    wirebook::encode::push_json_str(&mut s, &a.key.market_key);
    s.push_str(",\"outcome\":");
    wirebook::encode::push_json_str(&mut s, &a.key.outcome);
    s.push_str(&format!(
        ",\"old\":{},\"new\":{},\"moved\":{:.4},\"elapsed_ms\":{}}}}}",
        a.old.get(),
        a.new.get(),
        a.moved(),
        a.elapsed
            .map_or("null".to_owned(), |d| d.as_millis().to_string())
    ));
    s
}

fn connected_json(s: &wirebook::client::ParlaySession) -> String {
    let mut out = String::from("{\"connected\":{\"sport_key\":");
    wirebook::encode::push_json_str(&mut out, &s.sport_key);
    out.push_str(",\"tier\":");
    wirebook::encode::push_json_str(&mut out, &s.tier);
    let coalesce_ms = s.coalesce_window.map_or(0, |d| d.as_millis());
    out.push_str(&format!(",\"coalesce_ms\":{coalesce_ms}}}}}"));
    out
}

/// Runs until Ctrl-C or the end: JSON lines (`{"best":...}` after each
/// update, `{"alert":...}` per alert), or a board redrawn each second.
pub fn run(
    client: &ParlayClient,
    json: bool,
    end: Option<Instant>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut events = client.events();
    let mut alerts: VecDeque<EdgeAlert> = VecDeque::new();
    let mut next_draw = Instant::now();
    let tty = std::io::stdout().is_terminal();
    let stdout = std::io::stdout();
    // What happened before this stream existed: the session and the first board.
    if json {
        let mut out = stdout.lock();
        if let Some(s) = client.session() {
            let _ = writeln!(out, "{}", connected_json(&s));
        }
        for q in client.best_all() {
            if writeln!(out, "{{\"best\":{}}}", quote_json(&q)).is_err() {
                return Ok(());
            }
        }
    }
    while !stop.load(Ordering::SeqCst) && end.is_none_or(|e| Instant::now() < e) {
        let Some(event) = events.recv_timeout(Duration::from_millis(100)) else {
            if let Some(e) = client.error() {
                return Err(e.to_string());
            }
            if !json && Instant::now() >= next_draw {
                next_draw = Instant::now() + Duration::from_secs(1);
                draw(client, &alerts, tty);
            }
            continue;
        };
        let mut out = stdout.lock();
        match event {
            OddsEvent::Stopped { error: Some(e) } => return Err(e.to_string()),
            OddsEvent::Alert(a) => {
                if json && writeln!(out, "{}", alert_json(&a)).is_err() {
                    return Ok(());
                }
                alerts.push_front(a);
                alerts.truncate(10);
            }
            OddsEvent::InitialState { .. } | OddsEvent::Update { .. } if json => {
                for q in client.best_all() {
                    if writeln!(out, "{{\"best\":{}}}", quote_json(&q)).is_err() {
                        return Ok(());
                    }
                }
            }
            OddsEvent::Connected(s) if json => {
                let _ = writeln!(out, "{}", connected_json(&s));
            }
            _ => {}
        }
    }
    Ok(())
}

fn draw(client: &ParlayClient, alerts: &VecDeque<EdgeAlert>, tty: bool) {
    let mut s = String::new();
    if tty {
        s.push_str("\x1b[2J\x1b[H");
    }
    if let Some(session) = client.session() {
        s.push_str(&format!(
            "wirebook odds: {} (tier {}, {}), {} quotes, {} updates\n\n",
            session.sport_key,
            session.tier,
            session.push_mode.unwrap_or_default(),
            client.counters().quotes,
            client.counters().updates
        ));
    }
    s.push_str(&format!(
        "{:<48} {:<14} {:<26} {:>6} {:>8}  {}\n",
        "event", "market", "outcome", "best", "implied", "book"
    ));
    for q in client.best_all() {
        s.push_str(&format!(
            "{:<48} {:<14} {:<26} {:>6} {:>8.4}  {}\n",
            q.key.event_id,
            q.key.market_key,
            format!("{}{}", q.key.outcome, point(&q)),
            q.price.to_string(),
            q.price.implied_f64(),
            q.key.bookmaker
        ));
    }
    if !alerts.is_empty() {
        s.push_str("\nrecent edge alerts:\n");
        for a in alerts {
            s.push_str(&format!(
                "  {} {} {} {}: {} -> {} ({:+.1} pts{})\n",
                a.key.bookmaker,
                a.key.event_id,
                a.key.market_key,
                a.key.outcome,
                a.old,
                a.new,
                a.moved() * 100.0,
                a.elapsed
                    .map_or(String::new(), |d| format!(" in {:.1}s", d.as_secs_f64()))
            ));
        }
    }
    say!("{s}");
}
