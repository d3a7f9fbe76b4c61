//! One writer applying frames at full speed; readers on other threads check
//! every snapshot they take for internal consistency. Zero torn reads allowed.
//!
//! The writer's frames make torn reads detectable: delta `n` sets every one of
//! the ten fixed bid levels to size `n`, and a top level at 0.41 exists exactly
//! when `n` is even (so levels also shift). A consistent snapshot at seq `n`
//! therefore has every size equal to `n` and the 0.41 level iff `n` is even; a
//! read mixing two publications breaks one of those. A second test reads
//! 100 levels a side, whose count and grid move with every publication,
//! against a checksum the writer embeds in the worst ask.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wirebook::{BookSnapshot, BookState, BookStore, FrameParser, StoreConfig};

const ID: &str = "kalshi:STRESS";
const READS_PER_READER: u64 = 1_000_000;
/// How long a reader goes on past its reads to see enough publications.
const PATIENCE: Duration = Duration::from_secs(30);

fn delta(n: u64) -> Vec<u8> {
    let size = n as f64 / 1e4; // sizes in 1e-4 steps: exact in fixed point
    let mut changes: Vec<String> = (31..=40)
        .map(|tick| format!(r#"{{"side":"bid","price":0.{tick},"size":{size:.4}}}"#))
        .collect();
    let top = if n.is_multiple_of(2) {
        format!("{size:.4}")
    } else {
        "0".into()
    };
    changes.push(format!(r#"{{"side":"bid","price":0.41,"size":{top}}}"#));
    format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[{}],"server_seq":{n}}}"#,
        changes.join(",")
    )
    .into_bytes()
}

#[test]
fn readers_never_see_a_torn_or_half_applied_book() {
    let mut store = BookStore::new(StoreConfig {
        depth: 20,
        ..StoreConfig::default()
    });
    let mut parser = FrameParser::new();
    let mut snap = format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[],"asks":[[0.9,1]],"server_seq":0}}"#
    )
    .into_bytes();
    store.ingest(&mut parser, &mut snap, 0).unwrap();
    let reader = store.reader(ID, "yes").unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let torn = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (reader, done, torn) = (reader.clone(), done.clone(), torn.clone());
            std::thread::spawn(move || {
                let mut s = BookSnapshot::with_depth(20);
                let mut checked = 0u64;
                let mut distinct = 0u64;
                let mut last_seq = 0;
                // At least the reads asked for, and on until the reader has
                // seen many publications: on two cores the three threads
                // are not always running together, and a reader that raced
                // through its reads while the writer waited for a core
                // would check one publication a million times.
                let until = Instant::now() + PATIENCE;
                while checked < READS_PER_READER || (distinct < 200 && Instant::now() < until) {
                    reader.read_into(20, &mut s);
                    checked += 1;
                    if s.seq == 0 {
                        continue;
                    }
                    if s.seq != last_seq {
                        distinct += 1;
                        last_seq = s.seq;
                    }
                    let want = s.seq; // in 1e-4 units = 1e4 fixed-point units
                    let has_top = s
                        .bids
                        .first()
                        .is_some_and(|l| l.price.units() == 41_000_000);
                    let consistent = s.state == BookState::Fresh
                        && s.updated_ns == s.seq // the writer's clock is its frame number
                        && s.bids.len() == 10 + usize::from(s.seq.is_multiple_of(2))
                        && has_top == (s.seq.is_multiple_of(2))
                        && s.bids.iter().all(|l| l.size.units() == want * 10_000)
                        && s.bids.windows(2).all(|w| w[0].price > w[1].price);
                    if !consistent {
                        torn.fetch_add(1, Ordering::Relaxed);
                    }
                }
                done.store(true, Ordering::Relaxed);
                (checked, distinct)
            })
        })
        .collect();

    let mut n = 0;
    while !done.load(Ordering::Relaxed) {
        n += 1;
        let mut buf = delta(n);
        store.ingest(&mut parser, &mut buf, n).unwrap();
    }
    // Let the other reader finish too, while the writer keeps going.
    let mut results = Vec::new();
    for r in readers {
        while !r.is_finished() {
            n += 1;
            let mut buf = delta(n);
            store.ingest(&mut parser, &mut buf, n).unwrap();
        }
        results.push(r.join().unwrap());
    }
    let total: u64 = results.iter().map(|r| r.0).sum();
    assert!(total >= 2 * READS_PER_READER);
    assert!(
        results.iter().all(|r| r.1 > 100),
        "readers should see many distinct publications: {results:?}"
    );
    assert_eq!(store.counters().deltas, n);
    assert_eq!(torn.load(Ordering::Relaxed), 0, "torn reads among {total}");
}

/// Snapshot `n` of the deep test: 50 to 100 levels a side (the count moves
/// with `n`, the grid shifts with it too), sizes drawn from `n`, and the
/// worst ask's size a checksum of every other size and `n`.
fn deep_snapshot(n: u64) -> Vec<u8> {
    let levels = 50 + n % 51;
    let shift = n % 7;
    let size = |k: u64| (n.wrapping_mul(2_654_435_761) ^ k.wrapping_mul(40_503)) % 1_000_000 + 1;
    let text = |units: u64| format!("{}.{:04}", units / 10_000, units % 10_000);
    let mut sum = n;
    let mut bids = Vec::new();
    let mut asks = Vec::new();
    for k in 0..levels {
        let (b, a) = (size(k), size(1_000 + k));
        sum += b + if k + 1 < levels { a } else { 0 };
        bids.push(format!("[0.{:04},{}]", 4_999 - shift - k, text(b)));
        if k + 1 < levels {
            asks.push(format!("[0.{:04},{}]", 5_001 + k, text(a)));
        }
    }
    asks.push(format!(
        "[0.{:04},{}]",
        5_000 + levels,
        text(sum % 1_000_000 + 1)
    ));
    format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[{}],"asks":[{}],"server_seq":{n}}}"#,
        bids.join(","),
        asks.join(",")
    )
    .into_bytes()
}

#[test]
fn readers_of_100_levels_never_see_a_torn_book_by_its_checksum() {
    const READS: u64 = 300_000;
    let mut store = BookStore::new(StoreConfig {
        depth: 100,
        ..StoreConfig::default()
    });
    let mut parser = FrameParser::new();
    store.ingest(&mut parser, &mut deep_snapshot(1), 1).unwrap();
    let reader = store.reader(ID, "yes").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (reader, done) = (reader.clone(), done.clone());
            std::thread::spawn(move || {
                let mut s = BookSnapshot::with_depth(100);
                let (mut torn, mut distinct, mut last) = (0u64, 0u64, 0u64);
                let mut reads = 0u64;
                let until = Instant::now() + PATIENCE;
                // As above: on until many publications were seen.
                while reads < READS || (distinct < 100 && Instant::now() < until) {
                    reads += 1;
                    reader.read_into(100, &mut s);
                    if s.seq != last {
                        distinct += 1;
                        last = s.seq;
                    }
                    let levels = 50 + s.seq % 51;
                    let sizes = |l: &[wirebook::Level]| -> u64 {
                        l.iter().map(|l| l.size.units() / 10_000).sum()
                    };
                    let (ask_rest, checksum) = s.asks.split_at(s.asks.len().saturating_sub(1));
                    let consistent = s.updated_ns == s.seq
                        && s.bids.len() as u64 == levels
                        && s.asks.len() as u64 == levels
                        && s.bids.first().map(|l| u64::from(l.price.units()))
                            == Some((4_999 - s.seq % 7) * 10_000)
                        && s.bids.windows(2).all(|w| w[0].price > w[1].price)
                        && s.asks.windows(2).all(|w| w[0].price < w[1].price)
                        && checksum.first().map(|l| l.size.units() / 10_000)
                            == Some((s.seq + sizes(&s.bids) + sizes(ask_rest)) % 1_000_000 + 1);
                    torn += u64::from(!consistent);
                }
                done.store(true, Ordering::Relaxed);
                (torn, distinct)
            })
        })
        .collect();
    let mut n = 1;
    let mut frames = 0u64;
    while !done.load(Ordering::Relaxed) || !readers.iter().all(|r| r.is_finished()) {
        n += 1;
        store.ingest(&mut parser, &mut deep_snapshot(n), n).unwrap();
        frames += 1;
    }
    let results: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(frames > 100, "the writer kept publishing: {frames}");
    assert!(
        results.iter().all(|r| r.1 > 50),
        "readers saw many publications: {results:?}"
    );
    assert!(results.iter().all(|r| r.0 == 0), "torn reads: {results:?}");
}

#[test]
fn a_reader_can_wait_for_the_next_change() {
    let mut store = BookStore::default();
    let reader = store.track(ID, "yes").unwrap();
    let version = reader.version();
    let waiter = {
        let reader = reader.clone();
        std::thread::spawn(move || reader.wait_for_change(version, Duration::from_secs(10)))
    };
    let unbounded = {
        // `Duration::MAX` is past what `Instant` holds: it means no deadline.
        let reader = reader.clone();
        std::thread::spawn(move || reader.wait_for_change(version, Duration::MAX))
    };
    std::thread::sleep(Duration::from_millis(20));
    let mut parser = FrameParser::new();
    let mut snap = format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[[0.5,1]],"asks":[],"server_seq":1}}"#
    )
    .into_bytes();
    store.ingest(&mut parser, &mut snap, 1).unwrap();
    assert!(waiter.join().unwrap(), "woken by the publish");
    assert!(
        unbounded.join().unwrap(),
        "woken by the publish, without a deadline"
    );
    assert!(
        !reader.wait_for_change(reader.version(), Duration::from_millis(5)),
        "nothing changed: times out"
    );
}

/// No wake-up is lost: round after round, a waiter takes the version and
/// waits without a deadline while the writer publishes once, as near as it
/// can to the moment the waiter goes to sleep. A lost wake-up would leave the
/// waiter asleep for good (nothing else is published), which the writer sees
/// as a round that never ends.
#[test]
fn a_waiter_is_never_left_asleep_by_a_publish() {
    const ROUNDS: u64 = 20_000;
    let mut store = BookStore::default();
    let reader = store.track(ID, "yes").unwrap();
    let mut parser = FrameParser::new();
    let mut snap = format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[[0.4,1]],"asks":[[0.6,1]],"server_seq":1}}"#
    )
    .into_bytes();
    store.ingest(&mut parser, &mut snap, 0).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<bool>();
    let waiter = std::thread::spawn(move || {
        for _ in 0..ROUNDS {
            let version = reader.version();
            if ready_tx.send(()).is_err() {
                return;
            }
            let changed = reader.wait_for_change(version, Duration::MAX);
            if done_tx.send(changed).is_err() {
                return;
            }
        }
    });
    for round in 0..ROUNDS {
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("round {round}: the waiter is stuck"));
        // Publish at a varying moment around the waiter's registration.
        for _ in 0..round % 64 {
            std::hint::spin_loop();
        }
        let seq = round + 2;
        let mut delta = format!(
            r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[{{"side":"bid","price":0.3,"size":{seq}}}],"server_seq":{seq}}}"#
        )
        .into_bytes();
        store.ingest(&mut parser, &mut delta, 0).unwrap();
        let changed = done_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("round {round}: a wake-up was lost"));
        assert!(changed, "round {round}: woken without a change");
    }
    waiter.join().unwrap();
}
