//! Embedding the engine in your own I/O loop: Parsec frames in, one JSON
//! object per line on standard input (or a built-in sample without input),
//! books out. The resync requests the store makes are printed where a bot
//! would send them to its socket.
//!
//! ```sh
//! cargo run --example embed < frames.jsonl
//! cargo run --example embed            # the built-in sample
//! ```

use std::io::{BufRead, IsTerminal};

use wirebook::{Applied, BookSnapshot, BookStore, FrameParser, FrameWriter};

const SAMPLE: &str = r#"{"type":"orderbook","parsec_id":"kalshi:KXBTC-26MAR10","outcome":"yes","bids":[[0.45,10],[0.44,25]],"asks":[[0.47,5],[0.48,12]],"server_seq":1,"stale_after_ms":5000}
{"type":"orderbook_delta","parsec_id":"kalshi:KXBTC-26MAR10","outcome":"Yes","changes":[{"side":"bid","price":0.46,"size":3}],"server_seq":2}
{"type":"orderbook_delta","parsec_id":"kalshi:KXBTC-26MAR10","outcome":"yes","changes":[{"side":"ask","price":0.47,"size":0}],"server_seq":4}
not even json
{"type":"orderbook","parsec_id":"kalshi:KXBTC-26MAR10","outcome":"yes","bids":[[0.46,3],[0.45,10]],"asks":[[0.48,12]],"server_seq":5}"#;

fn main() {
    let mut store = BookStore::default();
    let mut parser = FrameParser::new();
    let mut writer = FrameWriter::new();
    let stdin = std::io::stdin();
    let mut lines: Vec<String> = if stdin.is_terminal() {
        Vec::new()
    } else {
        stdin.lock().lines().map_while(Result::ok).collect()
    };
    if lines.is_empty() {
        lines = SAMPLE.lines().map(str::to_owned).collect();
    }

    for line in lines {
        let mut buf = line.into_bytes();
        let now = wirebook::clock::now_ns();
        // The fast route: a delta of a market the parser has learned goes
        // straight to its book and comes back without a frame.
        match store.apply_message(&mut parser, &mut buf, now) {
            Ok((applied, frame)) => {
                if applied != Applied::NotBookState {
                    let kind = frame.as_ref().map_or("orderbook_delta", |f| f.type_name());
                    println!("{kind:<16} {applied:?}");
                }
            }
            Err(e) if e.is_ignorable() => println!("ignored: {e}"),
            Err(e) => println!("skipped a bad frame: {e}"),
        }
        // Timeouts, held-back resyncs and staleness (a real loop calls this
        // every 50 to 100 ms, frames or not).
        store.poll(now);
        // A real bot sends these through its control-frame pacing.
        while let Some(req) = store.next_resync(now) {
            println!(
                "send: {}",
                writer.resync(&req.key.parsec_id, Some(&req.key.outcome))
            );
        }
    }

    let mut snap = BookSnapshot::with_depth(5);
    for reader in store.readers() {
        reader.read_into(5, &mut snap);
        println!(
            "\n{} {} ({}, seq {})",
            reader.parsec_id(),
            reader.outcome(),
            snap.state.as_str(),
            snap.seq
        );
        for (bid, ask) in snap
            .bids
            .iter()
            .map(Some)
            .chain(std::iter::repeat(None))
            .zip(snap.asks.iter().map(Some).chain(std::iter::repeat(None)))
            .take(snap.bids.len().max(snap.asks.len()))
        {
            let cell = |l: Option<&wirebook::Level>| {
                l.map_or(String::new(), |l| format!("{} @ {}", l.size, l.price))
            };
            println!("  {:>16} | {:<16}", cell(bid), cell(ask));
        }
    }
    println!("\n{:?}", store.counters());
}
