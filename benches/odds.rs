//! Odds rows into the board: an `odds_update` of 100 flat rows (4
//! bookmakers x 25 quotes of a few events) parsed and applied by wirebook
//! (`FrameParser` + `OddsBoard`), beside a baseline written the usual way
//! (serde_json into owned rows, a `HashMap` keyed by owned strings), in
//! the same run. Criterion reports rows per second (`Throughput::Elements`).
//!
//! Run: `cargo bench --bench odds`.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::Deserialize;
use wirebook::odds::OddsBoard;
use wirebook::{Frame, FrameParser};

const ROWS: usize = 100;

/// `frames` updates of `ROWS` rows each, prices moving from frame to frame.
fn updates(frames: usize) -> Vec<Vec<u8>> {
    let books = ["draftkings", "fanduel", "pinnacle", "betmgm"];
    (0..frames)
        .map(|f| {
            let rows: Vec<String> = (0..ROWS)
                .map(|i| {
                    let (book, q) = (books[i % 4], i / 4);
                    let price = if (q + f) % 2 == 0 { -110 - ((q * 7 + f) % 90) as i32 } else { 100 + ((q * 13 + f) % 150) as i32 };
                    let (market, outcome, point) = match q % 3 {
                        0 => ("h2h", format!("Team {q}"), String::new()),
                        1 => ("totals", "Over".to_owned(), ",\"point\":219.5".to_owned()),
                        _ => ("player_points", format!("Over Player {q}"), ",\"point\":27.5".to_owned()),
                    };
                    format!(
                        r#"{{"event_id":"2026-05-{:02}_Boston_Celtics_New_York_Knicks","bookmaker":"{book}","market_key":"{market}","outcome":"{outcome}","price_american":{price}{point},"timestamp":{}}}"#,
                        13 + q % 4,
                        1_780_000_000_000u64 + f as u64
                    )
                })
                .collect();
            format!(r#"{{"type":"odds_update","sport_key":"basketball_nba","timestamp":1780000000.5,"count":{ROWS},"data":[{}]}}"#, rows.join(",")).into_bytes()
        })
        .collect()
}

#[derive(Deserialize)]
struct BaseRow {
    event_id: String,
    bookmaker: String,
    market_key: String,
    outcome: String,
    price_american: i32,
    point: Option<f64>,
    #[allow(dead_code)]
    timestamp: Option<u64>,
}

#[derive(Deserialize)]
struct BaseFrame {
    #[allow(dead_code)]
    #[serde(rename = "type")]
    kind: String,
    data: Vec<BaseRow>,
}

type BaseKey = (String, String, String, String, Option<i64>);

fn odds(c: &mut Criterion) {
    let frames = updates(64);
    let mut g = c.benchmark_group("odds_rows");
    g.throughput(Throughput::Elements((ROWS * frames.len()) as u64));
    let mut buf = Vec::with_capacity(32 * 1024);
    g.bench_function("wirebook", |b| {
        let mut board = OddsBoard::new();
        let mut parser = FrameParser::new();
        b.iter(|| {
            for f in &frames {
                buf.clear();
                buf.extend_from_slice(f);
                if let Ok(Frame::OddsUpdate(u)) = parser.parse(&mut buf) {
                    black_box(board.update(&u).len());
                }
            }
        })
    });
    g.bench_function("baseline", |b| {
        let mut board: HashMap<BaseKey, i32> = HashMap::new();
        b.iter(|| {
            for f in &frames {
                let frame: BaseFrame = serde_json::from_slice(f).unwrap();
                for r in frame.data {
                    let key = (
                        r.event_id,
                        r.bookmaker,
                        r.market_key,
                        r.outcome,
                        r.point.map(|p| (p * 1e8).round() as i64),
                    );
                    black_box(board.insert(key, r.price_american));
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, odds);
criterion_main!(benches);
