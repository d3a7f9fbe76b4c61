//! The host against the issue's own figures, and the delta hot path on
//! frames of the size.
//!
//! The issue put the 2-change delta's hot path at "about 100 ns" on this
//! machine, from generic JSON libraries taking 360 to 560 ns to parse a
//! delta of about 330 bytes. This bench measures that reference here, in the
//! same run as wirebook's hot path on two streams of the same changes:
//! Polymarket's 423-byte frames (`ratios`' `hot_path_delta`) and Kalshi's
//! 379-byte ones (no token id). Rounds alternate as in `ratios`; medians.
//!
//! Run: `cargo bench --bench reference` (about 20 s).

mod common;

use std::hint::black_box;

use common::{delta_stream_of, per_op, Venue};

const ROUNDS: usize = 41;
const BASE_SEQ: u64 = 1_000;

fn main() {
    let (tape, typed, _) = generic_parse_reference();
    let len = delta_stream_of(Venue::Kalshi, BASE_SEQ, 1)[0].len();
    println!(
        "{:<24} {:>12} {:>12} {:>8}",
        "group", "wirebook ns", "baseline ns", "ratio"
    );
    for (group, venue) in [
        ("hot_path_delta", Venue::Polymarket),
        ("hot_path_delta_kalshi", Venue::Kalshi),
    ] {
        let (w, b, r) = common::hot_path_delta(venue, ROUNDS);
        println!("{group:<24} {w:>12.1} {b:>12.1} {r:>7.1}x");
    }
    println!(
        "generic parse of the {len}-byte Kalshi delta: simd-json tape {tape:.1} ns, \
         serde_json into a struct {typed:.1} ns (the issue: 360 to 560 ns)"
    );
}

/// The host against the issue's own figures: generic JSON libraries took 360
/// to 560 ns on a 2-change delta of about 330 bytes on this machine. Here
/// simd-json's tape (reused buffers, the frame copied in first, as it parses
/// in place) and serde_json into a small owned struct, interleaved, on the
/// 379-byte Kalshi delta. Returns the medians (simd-json, serde_json, their ratio).
fn generic_parse_reference() -> (f64, f64, f64) {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Change {
        side: String,
        price: f64,
        size: f64,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Delta {
        parsec_id: String,
        outcome: String,
        changes: Vec<Change>,
        server_seq: u64,
    }
    let frame = delta_stream_of(Venue::Kalshi, BASE_SEQ, 1).remove(0);
    let mut buf = frame.clone();
    let mut buffers = simd_json::Buffers::default();
    common::interleave(
        ROUNDS,
        || {
            per_op(20_000, || {
                buf.copy_from_slice(&frame);
                let tape = simd_json::to_tape_with_buffers(black_box(&mut buf), &mut buffers);
                black_box(tape.map(|t| t.0.len()).ok());
            })
        },
        || {
            per_op(20_000, || {
                black_box(serde_json::from_slice::<Delta>(black_box(&frame)).is_ok());
            })
        },
    )
}
