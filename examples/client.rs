//! The network client on the embedded simulator: subscribe to a few books,
//! follow one of them from a reader thread that sleeps until it changes, and
//! print what the connection went through (gaps, resyncs, reconnects) and the
//! receive-to-publish latency. No key: the simulator runs on loopback with
//! faults on.
//!
//! ```sh
//! cargo run --release --example client            # 5 seconds
//! cargo run --release --example client -- 20      # 20 seconds
//! ```
//!
//! Against the real service, the same code takes
//! `ClientConfig::new("wss://api.parsecapi.com/ws", key)` and real market ids.

use std::time::{Duration, Instant};

use wirebook::client::{ClientConfig, Event, ParsecClient, Subscription};
use wirebook::latency::Stage;
use wirebook::sim::{FaultRates, SimConfig, Simulator};
use wirebook::{BookState, Size};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let sim = Simulator::start(SimConfig {
        markets: 3,
        rate_hz: 200.0,
        faults: FaultRates::all(0.01),
        ..SimConfig::default()
    })?;
    let mut config = ClientConfig::new(sim.url(), "pk_example");
    for market in 0..3 {
        for outcome in ["yes", "no"] {
            config = config.subscribe(
                Subscription::new(format!("sim:{market}"))
                    .outcome(outcome)
                    .depth(10),
            );
        }
    }
    let client = ParsecClient::connect(config)?;
    let mut events = client.events();

    // A reader on its own thread: it never blocks the client's writer, and
    // sleeps until the book is published again.
    let reader = client
        .book("sim:0", "yes")
        .ok_or("sim:0 yes is subscribed")?;
    let end = Instant::now() + Duration::from_secs(seconds);
    let follower = std::thread::spawn(move || {
        let mut version = reader.version();
        let mut lines = 0;
        while Instant::now() < end {
            if !reader.wait_for_change(version, Duration::from_millis(200)) {
                if reader.is_closed() {
                    break; // the client is gone: nothing more will come
                }
                continue;
            }
            version = reader.version();
            let book = reader.snapshot(10);
            // A few lines a second are enough to show it.
            if lines < seconds * 4 && book.state == BookState::Fresh {
                let (bid, ask) = (book.best_bid(), book.best_ask());
                let buy_50 = book.buy(Size::from_units(50 * wirebook::UNITS_PER_ONE));
                println!(
                    "sim:0 yes seq {:>17}  bid {:>8} x {:<10} ask {:>8} x {:<10} buying 50 costs {:.4}",
                    book.seq,
                    bid.map_or("-".into(), |l| l.price.to_string()),
                    bid.map_or("-".into(), |l| l.size.to_string()),
                    ask.map_or("-".into(), |l| l.price.to_string()),
                    ask.map_or("-".into(), |l| l.size.to_string()),
                    buy_50.cost(),
                );
                lines += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    });

    // The client's own account of the connection, on this thread.
    while Instant::now() < end {
        let Some(event) = events.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        match event {
            Event::Gap { key } => println!("gap       {} {}", key.parsec_id, key.outcome),
            Event::ResyncSent { key, attempt } => {
                println!(
                    "resync    {} {} (attempt {attempt})",
                    key.parsec_id, key.outcome
                )
            }
            Event::Synced { key, seq } => {
                println!("synced    {} {} at {seq}", key.parsec_id, key.outcome)
            }
            Event::Disconnected { reason, .. } => println!("lost      the connection: {reason}"),
            Event::Connected { .. } => println!("connected"),
            Event::Malformed { error } => println!("malformed frame skipped: {error}"),
            _ => {}
        }
    }
    follower.join().map_err(|_| "the reader thread panicked")?;

    let c = client.counters();
    println!(
        "\n{} frames, {} deltas, {} gaps, {} resyncs, {} duplicates, {} malformed, {} reconnects",
        c.frames,
        c.store.deltas,
        c.store.gaps,
        c.store.resyncs,
        c.store.duplicates,
        c.store.parse_errors,
        c.reconnects
    );
    let total = client.latency().get(Stage::Total);
    println!(
        "receive to publish: p50 {:?}, p99 {:?}, max {:?} ({} frames)",
        total.p50, total.p99, total.max, total.count
    );
    if let Some(e) = client.shutdown() {
        return Err(e.into());
    }
    Ok(())
}
