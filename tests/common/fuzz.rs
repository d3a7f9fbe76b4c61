//! Bodies of the cargo-fuzz targets, shared with `tests/fuzz_corpus.rs` so the
//! checked-in corpus also runs under plain `cargo test`.

use wirebook::{BookStore, Frame, FrameParser};

use super::model::{Model, Op};

/// Arbitrary bytes into the parser and the store: typed errors, never a panic.
pub fn parse_frame(data: &[u8]) {
    let mut parser = FrameParser::new();
    let mut store = BookStore::default();
    let mut buf = data.to_vec();
    match store.ingest(&mut parser, &mut buf, 1) {
        Ok((frame, _)) => {
            // Whatever parsed can be inspected without panicking.
            let _ = format!("{frame:?}");
            // Odds rows go into a board: every valid row lands, none panics.
            if let wirebook::Frame::InitialState(f) | wirebook::Frame::OddsUpdate(f) = frame {
                let mut board = wirebook::odds::OddsBoard::new();
                let moves = board.update(&f).to_vec();
                let mut alerts = Vec::new();
                wirebook::odds::EdgeAlerts::new(0.0).check(&board, &moves, &mut alerts);
                let c = board.counters();
                assert!(
                    board.len() as u64 <= c.upserts,
                    "no quote without an upsert"
                );
            }
        }
        Err(e) => {
            let _ = e.to_string();
            let c = store.counters();
            assert_eq!(c.parse_errors + c.ignored, 1, "the error was counted");
        }
    }
    same_through_both_entry_points(data);
}

/// The input's lines (a stream, when it has several) four times over
/// through `ingest` and through `apply_message`: both entry points do the
/// same to the books and the parser. A delta line goes straight to its book
/// from its fourth reading of a market once the market has a book (the
/// first learns the shape, the second builds the market's runs, the third
/// gives the store their token), so an input with a snapshot and deltas of
/// one market reaches the direct route.
fn same_through_both_entry_points(data: &[u8]) {
    let (mut p1, mut p2) = (FrameParser::new(), FrameParser::new());
    let (mut s1, mut s2) = (BookStore::default(), BookStore::default());
    for _ in 0..4 {
        for line in data.split(|&b| b == b'\n') {
            let (mut b1, mut b2) = (line.to_vec(), line.to_vec());
            let a = s1.ingest(&mut p1, &mut b1, 1).map(|(_, applied)| applied);
            let b = s2
                .apply_message(&mut p2, &mut b2, 1)
                .map(|(applied, _)| applied);
            assert_eq!(a, b);
        }
    }
    assert_eq!(s1.counters(), s2.counters());
    assert_eq!(p1.stats(), p2.stats());
    let readers: Vec<_> = s1.readers().cloned().collect();
    for r1 in readers {
        let r2 = s2
            .reader(r1.parsec_id(), r1.outcome())
            .expect("both stores track the same books");
        assert_eq!(r1.snapshot(100), r2.snapshot(100));
    }
}

/// Whether `data` holds a number with more significant digits than an f64 keeps
/// (there the general path sees a rounded float and may differ by one unit).
fn has_long_number(data: &[u8]) -> bool {
    let mut digits = 0;
    for &b in data {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits > 15 {
                    return true;
                }
            }
            b'.' => {}
            _ => digits = 0,
        }
    }
    false
}

/// Real frames whose shapes the fast path learns before it reads the fuzz input,
/// so mutated frames go through the learned templates as well as the generic scan.
const SHAPES: &[&[u8]] = &[
    include_bytes!("../data/parsec/orderbook_delta.json"),
    include_bytes!("../data/parsec/orderbook_delta_minimal.json"),
    include_bytes!("../data/parsec/orderbook_snapshot.json"),
    include_bytes!("../data/parsec/orderbook_snapshot_kalshi_nulls.json"),
    include_bytes!("../data/parsec/orderbook_snapshot_escaped_title.json"),
    include_bytes!("../data/parlay/odds_update.json"),
];

/// The fast path against simd-json: on every input the fast path accepts,
/// through a learned template or its generic scan, the general path must
/// accept it too and produce the same frame.
pub fn parse_differential(data: &[u8]) {
    let mut learned = FrameParser::new();
    // Three times each: learned, read slot by slot (remembering strings), then
    // through the template's runs of literals and remembered strings.
    for shape in SHAPES.iter().flat_map(|s| [s, s, s]) {
        assert!(learned.parse_fast(shape).is_some(), "a real frame declined");
    }
    compare(&mut learned, data);
    // A parser that has learned nothing reads it with the generic scan (and
    // learns it), then again slot by slot, then through the runs.
    let mut fresh = FrameParser::new();
    for _ in 0..3 {
        compare(&mut fresh, data);
    }
}

fn compare(fast: &mut FrameParser, data: &[u8]) {
    let mut general = FrameParser::new();
    let Some(f) = fast.parse_fast(data) else {
        return;
    };
    let mut copy = data.to_vec();
    let g = general.parse_general(&mut copy);
    match &g {
        Ok(g) if *g == f => {}
        Ok(g) if has_long_number(data) && same_kind(g, &f) => {}
        _ => panic!(
            "fast path accepted what simd-json reads differently:\ninput: {}\nfast: {f:?}\ngeneral: {g:?}",
            String::from_utf8_lossy(data)
        ),
    }
}

fn same_kind(a: &Frame<'_>, b: &Frame<'_>) -> bool {
    a.type_name() == b.type_name()
}

/// Structured operations through the store, compared with the reference model.
pub fn book_ops(data: &[u8]) {
    let mut model = Model::new();
    for op in Op::decode(data).iter().take(512) {
        model.run(op);
    }
    model.run(&Op::Answer { lag: 0 });
}
