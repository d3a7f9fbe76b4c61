//! `watch --json`: one JSON object per line per book change.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wirebook::client::ParsecClient;
use wirebook::{BookSnapshot, Level};

/// `{"parsec_id":..,"outcome":..,"seq":..,"state":..,"bids":[[price,size],..],"asks":[..]}`,
/// prices and sizes as exact decimal numbers.
pub fn book_line(out: &mut String, parsec_id: &str, outcome: &str, snap: &BookSnapshot) {
    out.clear();
    out.push_str("{\"parsec_id\":");
    wirebook::encode::push_json_str(out, parsec_id);
    out.push_str(",\"outcome\":");
    wirebook::encode::push_json_str(out, outcome);
    let _ = write!(
        out,
        ",\"seq\":{},\"state\":\"{}\"",
        snap.seq,
        snap.state.as_str()
    );
    levels(out, "bids", &snap.bids);
    levels(out, "asks", &snap.asks);
    out.push('}');
}

fn levels(out: &mut String, name: &str, levels: &[Level]) {
    let _ = write!(out, ",\"{name}\":[");
    for (i, l) in levels.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(out, "{sep}[{},{}]", l.price, l.size);
    }
    out.push(']');
}

/// Prints a line whenever a book's published version moves (changes between
/// two looks, a millisecond apart, are seen as one), until the end.
pub fn stream(
    client: &ParsecClient,
    depth: usize,
    end: Option<Instant>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let readers = client.books();
    let mut seen = vec![0u64; readers.len()];
    let mut snap = BookSnapshot::with_depth(depth);
    let mut line = String::new();
    let stdout = std::io::stdout();
    let mut next_latency = Instant::now() + Duration::from_secs(1);
    while !stop.load(Ordering::SeqCst) && end.is_none_or(|e| Instant::now() < e) {
        if let Some(e) = client.error() {
            return Err(e.to_string());
        }
        let mut wrote = false;
        let mut out = stdout.lock();
        for (r, last) in readers.iter().zip(seen.iter_mut()) {
            if r.version() == *last {
                continue;
            }
            r.read_into(depth, &mut snap);
            *last = snap.version;
            book_line(&mut line, r.parsec_id(), r.outcome(), &snap);
            // A closed pipe (`| head`) ends the run quietly.
            if writeln!(out, "{line}").is_err() {
                return Ok(());
            }
            wrote = true;
        }
        if Instant::now() >= next_latency {
            next_latency += Duration::from_secs(1);
            // Latency differs from run to run: a line of its own.
            if writeln!(out, "{{\"latency\":{}}}", client.latency().to_json()).is_err() {
                return Ok(());
            }
            wrote = true;
        }
        if wrote && out.flush().is_err() {
            return Ok(());
        }
        drop(out);
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wirebook::{BookState, Price, Size};

    #[test]
    fn a_book_line_is_json_with_exact_decimals() {
        let mut snap = BookSnapshot::with_depth(2);
        snap.state = BookState::Fresh;
        snap.seq = 7;
        snap.bids.push(Level::new(
            Price::from_units(45_500_000).unwrap(),
            Size::from_units(12_5000_0000),
        ));
        let mut line = String::new();
        book_line(&mut line, "sim:0", "yes", &snap);
        assert_eq!(
            line,
            r#"{"parsec_id":"sim:0","outcome":"yes","seq":7,"state":"fresh","bids":[[0.455,12.5]],"asks":[]}"#
        );
    }
}
