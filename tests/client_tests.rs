//! The client against the embedded simulator over real loopback sockets:
//! every fault ends with the client's books equal to the simulator's truth
//! and counters that say what happened; reconnects, pacing, fatal paths,
//! server errors and TLS.

mod net;

use std::time::Duration;

use net::{all_books, assert_converges, config, simulator, wait_until, Watchdog};
use wirebook::client::{
    ClientConfig, ClientCounters, ClientError, ErrorCode, Event, ParsecClient, Subscription,
};
use wirebook::sim::{Fault, SimConfig, SimStats, Simulator};
use wirebook::{BookState, StoreConfig};

const DEPTH: usize = 50;
const SECS: fn(u64) -> Duration = Duration::from_secs;

fn quick_sim() -> SimConfig {
    SimConfig {
        markets: 3,
        rate_hz: 300.0,
        ..SimConfig::default()
    }
}

fn all_fresh(client: &ParsecClient) -> bool {
    let books = client.books();
    !books.is_empty()
        && books
            .iter()
            .all(|r| r.snapshot(1).state == BookState::Fresh)
}

/// Runs the books, injects `fault` once, lets the walk go on, then checks
/// convergence, the watchdog and `check` on the counters.
fn fault_scenario(
    fault: Fault,
    client_config: impl FnOnce(ClientConfig) -> ClientConfig,
    check: impl FnOnce(&ClientCounters, &SimStats),
) {
    let sim = simulator(quick_sim());
    let cfg = client_config(config(&sim, "pk_test_faults"));
    let cfg = all_books(3).into_iter().fold(cfg, ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).expect("connects");
    assert!(
        wait_until(SECS(5), || all_fresh(&client)),
        "books go live: {:?}",
        client.counters()
    );
    let dog = Watchdog::start(sim.clone(), client.books(), DEPTH);
    sim.inject(fault);
    assert!(
        wait_until(SECS(5), || sim.stats().fault(fault) == 1),
        "the fault was injected"
    );
    std::thread::sleep(Duration::from_millis(400));
    assert_converges(&sim, &client, DEPTH, SECS(10));
    dog.finish();
    let (c, s) = (client.counters(), sim.stats());
    check(&c, &s);
    assert_eq!(c.rate_limited, 0, "no 3001");
    assert_eq!(s.rate_limited, 0, "no 3001");
}

#[test]
fn gap_ends_in_one_resync_and_the_truth() {
    fault_scenario(
        Fault::Gap,
        |c| c,
        |c, s| {
            assert_eq!(
                (c.store.gaps, c.store.resyncs, c.resyncs_sent, s.resyncs),
                (1, 1, 1, 1),
                "{c:#?}"
            );
            assert_eq!(c.store.duplicates, 0);
        },
    );
}

/// A4.2 end to end: the simulator answers the resync with a snapshot that
/// predates the book's next three deltas, sent before it; the client keeps
/// them, replays them onto the snapshot and converges on the truth, with one
/// resync and none more for being behind.
#[test]
fn a_lagging_resync_snapshot_is_continued_by_the_deltas_sent_before_it() {
    let sim = simulator(SimConfig {
        resync_lag: 3,
        ..quick_sim()
    });
    let cfg = all_books(3)
        .into_iter()
        .fold(config(&sim, "pk_test_lag"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).expect("connects");
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    let dog = Watchdog::start(sim.clone(), client.books(), DEPTH);
    sim.inject(Fault::Gap);
    assert!(wait_until(SECS(5), || sim.stats().fault(Fault::Gap) == 1));
    assert!(
        wait_until(SECS(10), || client.counters().store.replayed >= 3),
        "{:#?}",
        client.counters()
    );
    assert_converges(&sim, &client, DEPTH, SECS(10));
    dog.finish();
    let c = client.counters();
    assert_eq!(
        (c.store.gaps, c.store.resyncs, c.store.behind_after_replay),
        (1, 1, 0),
        "{c:#?}"
    );
}

/// A notice whose changes the server lost while a lagging snapshot of the
/// book was held: the snapshot that goes out holds them (the deltas after it
/// are diffed from them), so the books converge and never read Fresh while
/// wrong (the watchdog). Rounds of a gap then a notice on a one-market
/// simulator, so notices often land on a book whose snapshot is held.
#[test]
fn a_notice_while_a_lagging_snapshot_is_held_ends_in_the_truth() {
    let sim = simulator(SimConfig {
        markets: 1,
        resync_lag: 20,
        rate_hz: 300.0,
        ..SimConfig::default()
    });
    let cfg = all_books(1)
        .into_iter()
        .fold(config(&sim, "pk_test_lag_notice"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).expect("connects");
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    let dog = Watchdog::start(sim.clone(), client.books(), DEPTH);
    for round in 1..=8 {
        sim.inject(Fault::Gap);
        assert!(wait_until(SECS(5), || sim.stats().fault(Fault::Gap) == round));
        std::thread::sleep(Duration::from_millis(60));
        sim.inject(Fault::ResyncRequired);
        assert!(wait_until(SECS(5), || sim
            .stats()
            .fault(Fault::ResyncRequired)
            == round));
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_converges(&sim, &client, DEPTH, SECS(10));
    dog.finish();
}

/// Deltas with only the fields A3 requires, as the minimal example frame:
/// the books converge on the truth through a gap, a duplicate and a
/// reorder, and keep their snapshots' clocks.
#[test]
fn minimal_deltas_keep_the_books_true_through_faults() {
    let sim = simulator(SimConfig {
        minimal_deltas: true,
        ..quick_sim()
    });
    let cfg = all_books(3)
        .into_iter()
        .fold(config(&sim, "pk_test_minimal"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).expect("connects");
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    // The deltas carry no clock: each book keeps its snapshot's while its
    // deltas go on (full deltas would move it with every one).
    let clocks = |c: &ParsecClient| {
        let mut books = c
            .books()
            .iter()
            .map(|b| {
                let s = b.snapshot(1);
                (
                    b.parsec_id().to_owned(),
                    b.outcome().to_owned(),
                    s.seq,
                    s.exchange_ts_ms,
                )
            })
            .collect::<Vec<_>>();
        books.sort();
        books
    };
    let before = clocks(&client);
    assert!(wait_until(SECS(5), || clocks(&client)
        .iter()
        .zip(&before)
        .all(|(now, then)| now.2 > then.2)));
    for (now, then) in clocks(&client).iter().zip(&before) {
        assert!(then.3.is_some());
        assert_eq!(now.3, then.3, "the snapshot's clock is kept");
    }
    let dog = Watchdog::start(sim.clone(), client.books(), DEPTH);
    // Each fault on live books: a duplicate that lands on a book still
    // resyncing from the gap is buffered, not counted as a duplicate.
    for fault in [Fault::Gap, Fault::Duplicate, Fault::Reorder] {
        assert!(wait_until(SECS(5), || all_fresh(&client)));
        sim.inject(fault);
        assert!(wait_until(SECS(5), || sim.stats().fault(fault) == 1));
        // Time for the book's next delta to show the gap, if any.
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(400));
    assert_converges(&sim, &client, DEPTH, SECS(10));
    dog.finish();
    let c = client.counters();
    assert!(c.store.deltas > 100, "{c:#?}");
    assert_eq!(c.store.parse_errors, 0, "{c:#?}");
    assert!(c.store.gaps >= 1 && c.store.duplicates >= 1, "{c:#?}");
}

#[test]
fn a_gap_is_announced_as_a_gap_then_the_resync_sent_then_the_sync() {
    gap_events(all_books(3), 0);
}

/// A gap found on a delta that went from the parser straight to its book
/// (no frame built: one book, whose market the parser has learned) is
/// announced as on the frame route, with the frame's market.
#[test]
fn a_gap_on_a_delta_read_without_a_frame_is_announced_too() {
    let book = Subscription::new("sim:1").outcome("no");
    gap_events(vec![book], 3);
}

/// Subscribes `books`, waits until they are fresh and `direct` deltas went
/// without a frame, holds an events stream, injects a gap and checks the
/// events that follow.
fn gap_events(books: Vec<Subscription>, direct: u64) {
    let sim = simulator(quick_sim());
    let cfg = books
        .into_iter()
        .fold(config(&sim, "pk_test_gap_events"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).expect("connects");
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    let mut events = client.events();
    // Counted from when the stream is held (the counters lag by up to 50 ms).
    std::thread::sleep(Duration::from_millis(60));
    let before = client.counters().direct_deltas;
    assert!(wait_until(SECS(5), || client.counters().direct_deltas
        >= before + direct));
    // A book turns fresh just before its `Synced` goes out, so the last
    // one of the initial snapshots may reach this stream: drop what came
    // before the gap.
    while events.try_recv().is_some() {}
    sim.inject(Fault::Gap);
    let seen = events_until(&mut events, SECS(10), |seen| {
        seen.iter().any(|e| matches!(e, Event::Synced { .. }))
            && seen.iter().any(|e| matches!(e, Event::ResyncSent { .. }))
    });
    let kinds: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Gap { key } => Some(("gap", key.clone(), 0)),
            Event::ResyncSent { key, attempt } => Some(("resync", key.clone(), *attempt)),
            Event::Synced { key, .. } => Some(("synced", key.clone(), 0)),
            _ => None,
        })
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let key = kinds[0].1.clone();
    assert_eq!(
        kinds,
        [
            ("gap", key.clone(), 0),
            ("resync", key.clone(), 1),
            ("synced", key, 0)
        ],
        "one book: its gap, its first resync request, its new snapshot"
    );
    assert_converges(&sim, &client, DEPTH, SECS(10));
}

#[test]
fn duplicate_is_dropped_without_resync() {
    fault_scenario(
        Fault::Duplicate,
        |c| c,
        |c, s| {
            assert_eq!(
                (c.store.duplicates, c.store.gaps, s.resyncs),
                (1, 0, 0),
                "{c:#?}"
            );
        },
    );
}

#[test]
fn reordered_deltas_resync_once() {
    fault_scenario(
        Fault::Reorder,
        |c| c,
        |c, s| {
            // The later delta shows a hole; the earlier one arrives while resyncing.
            assert_eq!(
                (c.store.gaps, c.store.resyncs, s.resyncs),
                (1, 1, 1),
                "{c:#?}"
            );
        },
    );
}

#[test]
fn resync_required_acts_as_a_gap() {
    fault_scenario(
        Fault::ResyncRequired,
        |c| c,
        |c, s| {
            assert_eq!(
                (c.store.resync_required, c.store.resyncs, s.resyncs),
                (1, 1, 1),
                "{c:#?}"
            );
        },
    );
}

#[test]
fn needs_refresh_acts_as_a_gap() {
    fault_scenario(
        Fault::NeedsRefresh,
        |c| c,
        |c, s| {
            assert_eq!(
                (c.store.needs_refresh, c.store.resyncs, s.resyncs),
                (1, 1, 1),
                "{c:#?}"
            );
        },
    );
}

#[test]
fn slow_reader_acts_as_a_gap() {
    fault_scenario(
        Fault::SlowReader,
        |c| c,
        |c, s| {
            assert_eq!(
                (c.store.slow_reader, c.store.resyncs, s.resyncs),
                (1, 1, 1),
                "{c:#?}"
            );
        },
    );
}

#[test]
fn a_book_the_server_forgot_is_subscribed_again_when_its_resync_gets_2001() {
    fault_scenario(
        Fault::ForgottenSubscription,
        |c| c,
        |c, s| {
            // The notice's resync is refused (2001, not subscribed); the
            // book's subscribe brings its snapshot.
            assert_eq!((c.store.resync_required, c.resubscribes), (1, 1), "{c:#?}");
            assert!(c.server_errors >= 1 && c.resyncs_sent >= 1, "{c:#?}");
            assert_eq!(s.resyncs, 0, "no resync was answered: {s:?}");
        },
    );
}

#[test]
fn a_lost_resync_is_sent_again_after_the_resync_timeout() {
    fault_scenario(
        Fault::LostResync,
        |mut c| {
            c.store.resync_timeout = Duration::from_secs(1);
            c
        },
        |c, s| {
            // A4.7: the first request got no snapshot; the second did.
            assert_eq!(
                (
                    c.store.resync_required,
                    c.store.resyncs,
                    c.store.resync_retries
                ),
                (1, 1, 1),
                "{c:#?}"
            );
            assert_eq!(
                (c.resyncs_sent, s.lost_resyncs, s.resyncs),
                (2, 1, 1),
                "{s:?}"
            );
        },
    );
}

#[test]
fn an_exchange_outage_reads_stale_then_fresh_again_without_a_resync() {
    use wirebook::FeedState;
    let sim = simulator(SimConfig {
        outage: Duration::from_secs(3),
        ..quick_sim()
    });
    let cfg = all_books(3)
        .into_iter()
        .fold(config(&sim, "pk_test_outage"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).expect("connects");
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    let mut events = client.events();
    let dog = Watchdog::start(sim.clone(), client.books(), DEPTH);
    let books = client.books();
    // Two outages: the first 2003 names a market, the second none (its
    // `parsec_id` is optional: an upstream error of every exchange).
    for named in [true, false] {
        sim.inject(Fault::Outage);
        // A5 2003: the exchange's books are not fresh (every simulated book
        // is on one exchange); the deltas that follow say stale and degraded.
        let every_book_stale = || {
            books.iter().all(|r| {
                let snap = r.snapshot(1);
                snap.state == BookState::Stale
            })
        };
        assert!(
            wait_until(SECS(5), every_book_stale),
            "{:?}",
            client.counters()
        );
        assert!(
            wait_until(SECS(2), || books
                .iter()
                .any(|r| r.snapshot(1).feed_state == Some(FeedState::Degraded))),
            "the deltas carry feed_state degraded"
        );
        let seen = events_until(&mut events, SECS(5), |seen| {
            seen.iter().any(|e| {
                matches!(
                    e,
                    Event::ServerError {
                        code: ErrorCode::ExchangeUnavailable,
                        ..
                    }
                )
            })
        });
        assert!(
            seen.iter().any(|e| match e {
                Event::ServerError {
                    code: ErrorCode::ExchangeUnavailable,
                    parsec_id,
                    ..
                } =>
                    parsec_id
                        .as_deref()
                        .is_some_and(|id| id.starts_with("sim:"))
                        == named,
                _ => false,
            }),
            "named {named}: {seen:?}"
        );
        // When the outage ends, each book's next delta says fresh and healthy.
        assert!(
            wait_until(SECS(10), || books.iter().all(|r| {
                let snap = r.snapshot(1);
                snap.state == BookState::Fresh && snap.feed_state == Some(FeedState::Healthy)
            })),
            "books fresh again: {:?}",
            client.counters()
        );
    }
    assert_converges(&sim, &client, DEPTH, SECS(10));
    dog.finish();
    let (c, s) = (client.counters(), sim.stats());
    assert_eq!(s.fault(Fault::Outage), 2);
    // A4.8: staleness sends no resync; the book stayed exact throughout
    // (the watchdog checked every Stale read against the truth too).
    assert_eq!(
        (
            c.store.exchange_unavailable,
            c.store.gaps,
            c.resyncs_sent,
            s.resyncs
        ),
        (2, 0, 0, 0),
        "{c:#?}"
    );
}

#[test]
fn malformed_frame_is_counted_and_skipped() {
    fault_scenario(
        Fault::Malformed,
        |c| c,
        |c, s| {
            assert_eq!(
                (c.store.parse_errors, c.store.gaps, s.resyncs, c.connections),
                (1, 0, 0, 1),
                "{c:#?}"
            );
        },
    );
}

#[test]
fn abrupt_disconnect_reconnects_and_converges() {
    fault_scenario(
        Fault::Disconnect,
        |c| c,
        |c, s| {
            assert_eq!((c.connections, s.auth_ok), (2, 2), "{c:#?}");
            assert!(
                c.store.snapshots >= 12,
                "every book got a new snapshot: {c:#?}"
            );
        },
    );
}

#[test]
fn silent_server_is_declared_dead_and_replaced() {
    let start = std::time::Instant::now();
    fault_scenario(
        Fault::Silence,
        |c| c,
        |c, s| {
            assert_eq!((c.connections, s.auth_ok), (2, 2), "{c:#?}");
        },
    );
    assert!(
        start.elapsed() >= SECS(2),
        "death is declared after dead_after, not before"
    );
}

#[test]
fn a_server_that_stops_reading_while_the_client_writes_is_declared_dead() {
    // Silence: the server stops reading and sending. Subscribe frames of
    // 2 MB each (one book with a 2 MB id) then fill the sockets' buffers
    // within a few frames, and a send blocks: the loop must still declare
    // the connection dead by `dead_after` after the last frame received,
    // not wait in the send until the server reads again (a minute later).
    let sim = simulator(SimConfig {
        silence: SECS(60),
        ..quick_sim()
    });
    let mut cfg = config(&sim, "pk_test_deaf").subscribe(Subscription::new("sim:0"));
    cfg.control_rate = 2.0;
    // Time for the buffers to fill before the no-frame check would fire.
    cfg.dead_after = SECS(4);
    let client = ParsecClient::connect(cfg).expect("connects");
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    let mut events = client.events();
    sim.inject(Fault::Silence);
    assert!(wait_until(SECS(5), || sim.stats().fault(Fault::Silence) == 1));
    // Wallets, whose addresses have no bound (a book's id has one).
    let pad = "x".repeat(2 << 20);
    let big: Vec<String> = (0..8).map(|i| format!("0x{pad}{i}")).collect();
    for address in &big {
        client.watch_wallet("polymarket", address).expect("queued");
    }
    let seen = events_until(&mut events, SECS(20), |seen| {
        seen.iter().any(|e| matches!(e, Event::Disconnected { .. }))
    });
    let reason = seen.iter().find_map(|e| match e {
        Event::Disconnected { reason } => Some(reason.clone()),
        _ => None,
    });
    // With buffers too large to fill, the no-frame check would end it
    // instead ("no frame for ..."): then this test proves nothing here.
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.contains("the server reads nothing")),
        "the blocked send ended the connection: {reason:?} {:#?}",
        client.counters()
    );
    // Without the outsized wallets (the simulator refuses a 16 MB frame),
    // the next connection works: the book is live again.
    for address in &big {
        client
            .unwatch_wallet("polymarket", address)
            .expect("queued");
    }
    assert!(
        wait_until(SECS(15), || client.books().len() == 1 && all_fresh(&client)),
        "{:#?}",
        client.counters()
    );
    assert!(client.counters().connections >= 2);
}

#[test]
fn activity_sharing_the_book_counter_is_followed_when_configured() {
    let sim = simulator(SimConfig {
        activity_shares_seq: true,
        ..quick_sim()
    });
    let store = StoreConfig {
        activity_shares_seq: true,
        ..StoreConfig::default()
    };
    let cfg = all_books(3).into_iter().fold(
        config(&sim, "pk_test").store(store),
        ClientConfig::subscribe,
    );
    let client = ParsecClient::connect(cfg).unwrap();
    let mut events = client.events();
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    let trades = (0..200)
        .filter_map(|_| events.recv_timeout(SECS(5)))
        .filter(|e| matches!(e, Event::Trade(_) | Event::Fill(_)))
        .count();
    assert!(trades > 0, "trades arrive as events");
    assert_converges(&sim, &client, DEPTH, SECS(10));
    let c = client.counters();
    assert_eq!(
        c.store.gaps, 0,
        "activity advanced the books' sequence: {c:#?}"
    );
    assert!(c.store.snapshots == 6 && sim.stats().activity > 0, "{c:#?}");
}

#[test]
fn activity_sharing_the_counter_unannounced_shows_as_gaps() {
    // The other reading of rule A4.5, to show the option matters.
    let sim = simulator(SimConfig {
        activity_shares_seq: true,
        ..quick_sim()
    });
    let cfg = all_books(3)
        .into_iter()
        .fold(config(&sim, "pk_test"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).unwrap();
    assert!(wait_until(SECS(10), || client.counters().store.gaps > 0
        && sim.stats().activity > 0));
    assert_converges(&sim, &client, DEPTH, SECS(10));
}

#[test]
fn reconnect_resubscribes_everything_and_no_book_reads_fresh_while_wrong() {
    let sim = simulator(SimConfig {
        markets: 4,
        rate_hz: 400.0,
        ..SimConfig::default()
    });
    let cfg = all_books(4)
        .into_iter()
        .fold(config(&sim, "pk_test"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).unwrap();
    let mut events = client.events();
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    let dog = Watchdog::start(sim.clone(), client.books(), DEPTH);
    let seqs = |client: &ParsecClient| -> Vec<u64> {
        client.books().iter().map(|r| r.snapshot(1).seq).collect()
    };
    for round in 1..=3u64 {
        let before = seqs(&client);
        sim.drop_connections();
        assert!(
            wait_until(SECS(10), || client.counters().connections == round + 1
                && all_fresh(&client)),
            "round {round}: {:?}",
            client.counters()
        );
        // A4 counts per connection, and the simulator's new connection
        // counts from below the old one's: every book synced on a snapshot
        // whose seq went back.
        let after = seqs(&client);
        assert!(
            before.iter().zip(&after).all(|(b, a)| a < b),
            "round {round}: {before:?} -> {after:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_converges(&sim, &client, DEPTH, SECS(10));
    dog.finish();
    let seen: Vec<Event> = std::iter::from_fn(|| events.try_recv()).collect();
    let count = |f: fn(&Event) -> bool| seen.iter().filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, Event::Disconnected { .. })), 3);
    assert_eq!(count(|e| matches!(e, Event::Authenticated { .. })), 3);
    assert!(
        count(|e| matches!(e, Event::Synced { .. })) >= 24,
        "8 books resynced 3 times"
    );
    let s = sim.stats();
    assert_eq!((s.auth_ok, s.rate_limited), (4, 0));
    // One subscribe frame per connection carried all eight books.
    assert_eq!(s.control_frames, 4, "{s:?}");
}

#[test]
fn a_burst_of_subscriptions_and_gaps_stays_under_three_control_frames_a_second() {
    let sim = simulator(SimConfig {
        markets: 60,
        rate_hz: 600.0,
        depth: 10,
        ..SimConfig::default()
    });
    let client = ParsecClient::connect(config(&sim, "pk_test")).unwrap();
    for i in 0..50 {
        client
            .subscribe(vec![Subscription::new(format!("sim:{i}")).depth(10)])
            .unwrap();
    }
    assert!(wait_until(SECS(10), || all_fresh(&client)
        && client.books().len() == 50));
    for _ in 0..20 {
        sim.inject(Fault::Gap);
    }
    // A lost delta shows only when the book's next one arrives: keep the walk going until then.
    // (Two lost deltas of one book make one gap.)
    assert!(wait_until(SECS(10), || sim.stats().fault(Fault::Gap) == 20));
    std::thread::sleep(SECS(2));
    assert!(
        client.counters().store.gaps >= 10,
        "{:?}",
        client.counters()
    );
    assert_converges(&sim, &client, 10, SECS(30));
    let (c, s) = (client.counters(), sim.stats());
    assert!(s.resyncs >= 10, "resyncs went out: {s:?}");
    assert_eq!((s.rate_limited, c.rate_limited), (0, 0), "no 3001");
    assert!(
        s.max_control_per_second <= 3,
        "{} control frames in one second",
        s.max_control_per_second
    );
}

#[test]
fn a_rejected_key_is_fatal_without_a_reconnect_loop() {
    let sim = Simulator::start(quick_sim()).unwrap();
    let err = ParsecClient::connect(config(&sim, "pk_invalid")).unwrap_err();
    assert_eq!(
        err,
        ClientError::Auth {
            code: 1002,
            message: "invalid api key".into()
        }
    );
    assert!(err.is_fatal());
    // Started without waiting, the client stops by itself with the same error.
    let client = ParsecClient::spawn(config(&sim, "pk_invalid")).unwrap();
    let mut events = client.events();
    let stopped = std::iter::from_fn(|| events.recv_timeout(SECS(5))).find_map(|e| match e {
        Event::Stopped { error } => Some(error),
        _ => None,
    });
    assert_eq!(stopped, Some(Some(err)));
    // A stream opened after the stop ends at once rather than blocking for ever.
    let start = std::time::Instant::now();
    assert_eq!(client.events().recv(), None);
    assert!(start.elapsed() < SECS(1));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        (sim.stats().connections, sim.stats().auth_rejected),
        (2, 2),
        "no reconnects"
    );
    assert!(!format!("{:?}", config(&sim, "pk_secret_42")).contains("pk_secret_42"));
}

#[test]
fn an_unreachable_url_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}/ws");
    let err = ParsecClient::connect(ClientConfig::new(url.clone(), "pk_x")).unwrap_err();
    assert!(
        matches!(&err, ClientError::Connect { url: u, .. } if *u == url),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("cannot connect to {url}: ")),
        "{err}"
    );
    let err = ParsecClient::connect(ClientConfig::new("ws://example.com/ws", "pk_x")).unwrap_err();
    assert_eq!(
        err,
        ClientError::Insecure {
            host: "example.com".into()
        }
    );
    let err = ParsecClient::connect(ClientConfig::new("ftp://x/ws?apiKey=pk_secret", "pk_x"))
        .unwrap_err();
    assert!(
        matches!(err, ClientError::BadUrl { .. }) && !err.to_string().contains("pk_secret"),
        "{err}"
    );
}

#[test]
fn server_errors_arrive_as_typed_events_for_their_market() {
    let sim = simulator(SimConfig {
        markets: 8,
        ..quick_sim()
    });
    let client = ParsecClient::connect(config(&sim, "pk_free_test")).unwrap();
    let mut events = client.events();
    client
        .subscribe(vec![
            Subscription::new("sim:999"),
            Subscription::new("sim:0").outcome("maybe"),
        ])
        .unwrap();
    // Free tier: five subscriptions at most, depth 10.
    client
        .subscribe(
            (1..=6)
                .map(|i| Subscription::new(format!("sim:{i}")).depth(50))
                .collect(),
        )
        .unwrap();
    let mut errors = Vec::new();
    let deadline = std::time::Instant::now() + SECS(10);
    while errors.len() < 3 && std::time::Instant::now() < deadline {
        if let Some(Event::ServerError {
            code, parsec_id, ..
        }) = events.recv_timeout(Duration::from_millis(100))
        {
            errors.push((code, parsec_id.unwrap_or_default()));
        }
    }
    assert_eq!(
        errors,
        vec![
            (ErrorCode::MarketNotFound, "sim:999".to_owned()),
            (ErrorCode::InvalidOutcome, "sim:0".to_owned()),
            (ErrorCode::SubscriptionLimit, "sim:6".to_owned()),
        ]
    );
    assert!(
        wait_until(SECS(5), || client.books().len() == 5 && all_fresh(&client)),
        "{:?}",
        client.books().len()
    );
    assert!(client.book("sim:999", "yes").is_none() && client.book("sim:6", "yes").is_none());
    let snap = client.book("sim:1", "YES").unwrap().snapshot(DEPTH);
    assert!(
        snap.bids.len() <= 10 && snap.asks.len() <= 10,
        "depth clamped to the Free tier's 10"
    );
    assert_converges(&sim, &client, 10, SECS(10));
}

/// Events that arrive within `timeout`, until `done` holds for them.
fn events_until(
    events: &mut wirebook::client::Events<Event>,
    timeout: Duration,
    mut done: impl FnMut(&[Event]) -> bool,
) -> Vec<Event> {
    let end = std::time::Instant::now() + timeout;
    let mut seen = Vec::new();
    while !done(&seen) && std::time::Instant::now() < end {
        if let Some(e) = events.recv_timeout(Duration::from_millis(20)) {
            seen.push(e);
        }
    }
    seen
}

fn dropped(events: &[Event]) -> Vec<(String, String, ErrorCode)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SubscriptionDropped { key, code } => {
                Some((key.parsec_id.to_string(), key.outcome.to_string(), *code))
            }
            _ => None,
        })
        .collect()
}

/// A server that allows one control frame a second (the client paces at
/// 2.5) and a client with no books and a 1.5 s snapshot timeout.
fn one_control_frame_a_second(key: &str) -> (std::sync::Arc<Simulator>, ParsecClient) {
    let sim = simulator(SimConfig {
        control_limit: 1,
        ..quick_sim()
    });
    let mut cfg = config(&sim, key);
    cfg.snapshot_timeout = Duration::from_millis(1500);
    let client = ParsecClient::connect(cfg).unwrap();
    (sim, client)
}

/// Waits for the client to send a left book's `unsubscribe` a second time,
/// then for that book's frames to stop (the store counts them as untracked).
fn unsubscribed_again_and_the_frames_stop(client: &ParsecClient) {
    assert!(
        wait_until(SECS(10), || client.counters().unsubscribes_resent == 1),
        "{:?}",
        client.counters()
    );
    let settled = wait_until(SECS(5), || {
        let before = client.counters().store.untracked;
        std::thread::sleep(Duration::from_millis(500));
        client.counters().store.untracked == before
    });
    assert!(settled, "{:?}", client.counters());
}

#[test]
fn a_subscribe_refused_with_3001_is_sent_again_after_the_snapshot_timeout() {
    let (sim, client) = one_control_frame_a_second("pk_test_3001");
    // The first goes out at once (one command, then the pacer's turn); the
    // second 0.4 s later: refused, and 3001 names no frame.
    client.subscribe(vec![Subscription::new("sim:0")]).unwrap();
    let book = client.subscribe(vec![Subscription::new("sim:1")]).unwrap()[0].clone();
    assert!(
        wait_until(SECS(5), || client.counters().rate_limited == 1),
        "{:?}",
        client.counters()
    );
    assert_eq!(sim.stats().rate_limited, 1);
    assert!(
        wait_until(SECS(10), || book.snapshot(1).state == BookState::Fresh),
        "the refused book is subscribed again: {:?}",
        client.counters()
    );
    let c = client.counters();
    assert_eq!((c.resubscribes, c.dropped_subscriptions), (1, 0), "{c:?}");
    assert!(all_fresh(&client));
}

#[test]
fn a_wallet_refused_with_3001_is_watched_again() {
    let (sim, client) = one_control_frame_a_second("pk_test_3001w");
    let mut events = client.events();
    client.subscribe(all_books(1)).unwrap();
    // Goes out 0.4 s after the subscribe: refused, and nothing answers a
    // wallet's subscribe. It used to be forgotten until the next connection.
    client.watch_wallet("polymarket", "0xabc").unwrap();
    let seen = events_until(&mut events, SECS(10), |seen| {
        seen.iter().any(|e| matches!(e, Event::Wallet { .. }))
    });
    assert!(
        seen.iter().any(|e| matches!(e, Event::Wallet { .. })),
        "{:?}",
        client.counters()
    );
    let c = client.counters();
    assert_eq!((c.rate_limited, c.wallets_resent), (1, 1), "{c:?}");
    assert_eq!(sim.stats().rate_limited, 1);
}

#[test]
fn an_unsubscribe_refused_with_3001_is_sent_again_and_the_books_frames_stop() {
    let (sim, client) = one_control_frame_a_second("pk_test_3001u");
    client.subscribe(all_books(1)).unwrap();
    // Goes out 0.4 s after the subscribe: refused; the server keeps the book.
    // It is sent again once, at the 3001 (it went out within that second);
    // once that one lands, the book's frames stop.
    client
        .unsubscribe(vec![Subscription::new("sim:0").outcome("no")])
        .unwrap();
    assert!(wait_until(SECS(5), || client.counters().rate_limited == 1));
    unsubscribed_again_and_the_frames_stop(&client);
    assert_eq!(client.counters().unsubscribes_resent, 1);
    assert_eq!(sim.stats().rate_limited, 1);
    assert!(all_fresh(&client) && client.books().len() == 1);
}

#[test]
fn an_unsubscribe_lost_on_its_way_is_sent_again_when_the_books_frames_keep_coming() {
    // The server never sees the first unsubscribe, so no 3001 tells the
    // client: only the left book's frames, still arriving past the snapshot
    // timeout, show that it did not take.
    let sim = simulator(SimConfig {
        lost_unsubscribes: 1,
        ..quick_sim()
    });
    let mut cfg = config(&sim, "pk_test_lost_unsub");
    cfg.snapshot_timeout = Duration::from_millis(1000);
    let client = ParsecClient::connect(cfg).unwrap();
    client.subscribe(all_books(1)).unwrap();
    assert!(wait_until(SECS(5), || client.books().len() == 2 && all_fresh(&client)));
    client
        .unsubscribe(vec![Subscription::new("sim:0").outcome("no")])
        .unwrap();
    unsubscribed_again_and_the_frames_stop(&client);
    let (c, stats) = (client.counters(), sim.stats());
    assert_eq!(
        (c.unsubscribes_resent, c.rate_limited, stats.rate_limited),
        (1, 0, 0),
        "{c:?}"
    );
    assert_eq!(stats.lost_unsubscribes, 1);
    assert!(all_fresh(&client) && client.books().len() == 1);
    assert!(client.book("sim:0", "no").is_none());
}

#[test]
fn a_quiet_book_whose_unsubscribe_3001_refused_is_unsubscribed_again_and_frees_its_slot() {
    // Free tier (five subscriptions), one control frame a second, and the
    // walk paused: the left book sends no frame that would show it still held.
    let (sim, client) = one_control_frame_a_second("pk_free_quiet");
    sim.pause(true);
    let five: Vec<_> = ["sim:0", "sim:1"]
        .into_iter()
        .flat_map(|m| [Subscription::new(m), Subscription::new(m).outcome("no")])
        .chain([Subscription::new("sim:2")])
        .collect();
    client.subscribe(five).unwrap();
    // Goes out 0.4 s after the subscribe: refused, and 3001 names no frame.
    client
        .unsubscribe(vec![Subscription::new("sim:0").outcome("no")])
        .unwrap();
    assert!(wait_until(SECS(5), || client.counters().rate_limited >= 1));
    // A sixth book fits the tier only once the unsubscribe went out again.
    let sixth = client
        .subscribe(vec![Subscription::new("sim:2").outcome("no")])
        .unwrap()[0]
        .clone();
    assert!(
        wait_until(SECS(20), || sixth.snapshot(1).seq > 0),
        "the sixth book never got its snapshot: {:?}",
        client.counters()
    );
    let c = client.counters();
    assert!(
        c.unsubscribes_resent >= 1 && c.dropped_subscriptions == 0,
        "{c:?}"
    );
    assert!(client.book("sim:0", "no").is_none() && client.books().len() == 5);
}

#[test]
fn at_the_tier_limit_an_unsubscribe_frees_the_slot_for_a_subscribe_sent_with_it() {
    let sim = simulator(SimConfig {
        markets: 8,
        ..quick_sim()
    });
    // Free tier: five subscriptions.
    let cfg = (0..5)
        .map(|i| Subscription::new(format!("sim:{i}")))
        .fold(config(&sim, "pk_free_swap"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).unwrap();
    assert!(wait_until(SECS(5), || client.books().len() == 5 && all_fresh(&client)));
    // Both wait for the same turn of the pacer; the unsubscribe goes first.
    client
        .unsubscribe(vec![Subscription::new("sim:0")])
        .unwrap();
    let book = client.subscribe(vec![Subscription::new("sim:5")]).unwrap()[0].clone();
    assert!(
        wait_until(SECS(5), || book.snapshot(1).state == BookState::Fresh),
        "{:?}",
        client.counters()
    );
    let c = client.counters();
    assert_eq!(
        (c.server_errors, c.dropped_subscriptions),
        (0, 0),
        "no 3002: {c:?}"
    );
    assert!(client.book("sim:0", "yes").is_none() && client.books().len() == 5);
}

#[test]
fn a_3002_after_an_unsubscribe_that_took_drops_the_book_at_once() {
    let sim = simulator(SimConfig {
        markets: 8,
        ..quick_sim()
    });
    // Free tier: five subscriptions. A long snapshot timeout: a drop within
    // it can only come from the 3002 itself.
    let mut cfg = (0..5)
        .map(|i| Subscription::new(format!("sim:{i}")))
        .fold(config(&sim, "pk_free_full"), ClientConfig::subscribe);
    cfg.snapshot_timeout = SECS(20);
    let client = ParsecClient::connect(cfg).unwrap();
    let mut events = client.events();
    assert!(wait_until(SECS(5), || client.books().len() == 5 && all_fresh(&client)));
    client
        .unsubscribe(vec![Subscription::new("sim:0")])
        .unwrap();
    let five = client.subscribe(vec![Subscription::new("sim:5")]).unwrap()[0].clone();
    assert!(wait_until(SECS(5), || five.snapshot(1).state == BookState::Fresh));
    // The unsubscribe went out before this subscribe and took: the limit's
    // 3002 is final (it used to be put off while any unsubscribe of the last
    // 30 s was remembered, and sim:6 subscribed again and again).
    client.subscribe(vec![Subscription::new("sim:6")]).unwrap();
    let seen = events_until(&mut events, SECS(5), |e| !dropped(e).is_empty());
    assert_eq!(
        dropped(&seen),
        vec![("sim:6".into(), "yes".into(), ErrorCode::SubscriptionLimit)]
    );
    assert!(client.book("sim:6", "yes").is_none() && client.books().len() == 5);
}

#[test]
fn a_3002_from_the_old_connections_subscriptions_after_a_reconnect_drops_nothing() {
    // PROTOCOL.md A5 limits subscriptions per account, and a server may
    // still hold a dead connection's subscriptions when the client comes
    // back: three held and two new make the Free tier's five, so the third
    // re-subscribe is refused. It used to end that book for good.
    let sim = simulator(SimConfig {
        markets: 8,
        account_linger: SECS(3),
        ..quick_sim()
    });
    let mut cfg = (0..3)
        .map(|i| Subscription::new(format!("sim:{i}")))
        .fold(config(&sim, "pk_free_blip"), ClientConfig::subscribe);
    cfg.snapshot_timeout = SECS(2);
    let client = ParsecClient::connect(cfg).unwrap();
    let mut events = client.events();
    assert!(wait_until(SECS(5), || client.books().len() == 3 && all_fresh(&client)));
    sim.drop_connections();
    let limit = |e: &Event| {
        matches!(
            e,
            Event::ServerError {
                code: ErrorCode::SubscriptionLimit,
                ..
            }
        )
    };
    let seen = events_until(&mut events, SECS(10), |seen| seen.iter().any(limit));
    assert!(
        seen.iter().any(limit),
        "no 3002 after the reconnect: {seen:?}"
    );
    // Subscribed again after the snapshot timeout, once the old ones are let go.
    assert!(
        wait_until(SECS(20), || client.books().len() == 3 && all_fresh(&client)),
        "{:?}",
        client.counters()
    );
    let seen = events_until(&mut events, Duration::from_millis(200), |_| false);
    assert!(dropped(&seen).is_empty(), "{seen:?}");
    assert_eq!(client.counters().dropped_subscriptions, 0);
}

#[test]
fn a_3002_on_a_spawned_clients_first_connection_is_final() {
    // The grace for a reconnect's 3002 is not for the first connection, also
    // when the client was spawned (no caller waits for its first auth).
    let sim = simulator(SimConfig {
        markets: 8,
        account_linger: SECS(30),
        ..quick_sim()
    });
    let mut cfg = (0..6)
        .map(|i| Subscription::new(format!("sim:{i}")))
        .fold(config(&sim, "pk_free_spawned"), ClientConfig::subscribe);
    cfg.snapshot_timeout = SECS(20);
    let client = ParsecClient::spawn(cfg).unwrap();
    // Well before the snapshot timeout, which a grace would wait for.
    assert!(
        wait_until(SECS(10), || client.counters().dropped_subscriptions == 1
            && client.book("sim:5", "yes").is_none()),
        "{:?}",
        client.counters()
    );
    assert_eq!(client.books().len(), 5);
}

#[test]
fn an_invalid_outcome_refused_before_a_valid_ones_snapshot_drops_only_the_invalid_one() {
    let sim = simulator(quick_sim());
    let mut cfg = config(&sim, "pk_test_2005");
    cfg.snapshot_timeout = Duration::from_secs(1);
    let client = ParsecClient::connect(cfg).unwrap();
    let mut events = client.events();
    // One frame; the server answers in order: 2005 for sim:0 (naming the
    // market only) while sim:0's "yes" still waits for its snapshot.
    let readers = client
        .subscribe(vec![
            Subscription::new("sim:0").outcome("maybe"),
            Subscription::new("sim:0").outcome("yes"),
        ])
        .unwrap();
    let seen = events_until(&mut events, SECS(10), |e| !dropped(e).is_empty());
    assert_eq!(
        dropped(&seen),
        vec![("sim:0".into(), "maybe".into(), ErrorCode::InvalidOutcome)]
    );
    let error_first = seen.iter().position(|e| {
        matches!(e, Event::ServerError { code: ErrorCode::InvalidOutcome, parsec_id: Some(id), .. } if id == "sim:0")
    });
    let synced = seen.iter().position(
        |e| matches!(e, Event::Synced { key, .. } if &*key.parsec_id == "sim:0" && &*key.outcome == "yes"),
    );
    assert!(error_first < synced, "the error came first: {seen:?}");
    assert!(client.book("sim:0", "maybe").is_none());
    assert_eq!(readers[1].snapshot(1).state, BookState::Fresh);
    assert!(client.book("sim:0", "yes").is_some());
    assert_eq!(client.books().len(), 1);
    // Counters reach the handle on the client's next housekeeping turn.
    assert!(wait_until(SECS(2), || client
        .counters()
        .dropped_subscriptions
        == 1));
    assert_eq!(client.counters().resubscribes, 0);
}

#[test]
fn a_market_delisted_while_live_is_dropped_when_its_resync_gets_2002() {
    let sim = simulator(quick_sim());
    // Only sim:1's two books, so the injected gap falls on one of them.
    let cfg = config(&sim, "pk_test_delist_live")
        .subscribe(Subscription::new("sim:1"))
        .subscribe(Subscription::new("sim:1").outcome("no"));
    let mut cfg = cfg;
    cfg.store.resync_timeout = Duration::from_secs(2);
    let client = ParsecClient::connect(cfg).unwrap();
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    let mut events = client.events();
    assert!(sim.delist("sim:1"));
    sim.inject(Fault::Gap);
    // The gap's resync is answered 2002: that book is dropped (A5), not
    // asked for again every resync timeout.
    let seen = events_until(&mut events, SECS(10), |e| !dropped(e).is_empty());
    let gone = dropped(&seen);
    assert_eq!(gone.len(), 1, "{seen:?}");
    let (id, outcome, code) = &gone[0];
    assert_eq!((id.as_str(), *code), ("sim:1", ErrorCode::MarketNotFound));
    assert!(client.book(id, outcome).is_none());
    assert!(wait_until(SECS(2), || client
        .counters()
        .dropped_subscriptions
        == 1));
    let sent = client.counters().resyncs_sent;
    assert!(sent >= 1);
    // A resync timeout and a half later: no resync went out for it again.
    std::thread::sleep(Duration::from_secs(3));
    let c = client.counters();
    assert_eq!(
        (c.resyncs_sent, c.dropped_subscriptions),
        (sent, 1),
        "{c:#?}"
    );
    // The other outcome, whose frames still come, stays live.
    assert_eq!(client.books().len(), 1);
    assert!(all_fresh(&client));
}

#[test]
fn a_market_delisted_while_disconnected_is_dropped_when_subscribed_again() {
    let sim = simulator(quick_sim());
    let cfg = all_books(2)
        .into_iter()
        .fold(config(&sim, "pk_test_delist"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).unwrap();
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    let mut events = client.events();
    assert!(sim.delist("sim:1"));
    sim.drop_connections();
    // Both outcomes of sim:1 had snapshots on the first connection; on the
    // second, their subscribe gets 2002 and they are dropped.
    let seen = events_until(&mut events, SECS(10), |e| dropped(e).len() == 2);
    let mut gone = dropped(&seen);
    gone.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(
        gone,
        vec![
            ("sim:1".into(), "no".into(), ErrorCode::MarketNotFound),
            ("sim:1".into(), "yes".into(), ErrorCode::MarketNotFound),
        ]
    );
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    assert_eq!(client.books().len(), 2, "sim:0's two books remain");
    // A third connection subscribes only what is left: no more 2002.
    let errors = sim.stats().errors;
    sim.drop_connections();
    assert!(wait_until(SECS(5), || client.counters().connections == 3
        && all_fresh(&client)));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sim.stats().errors, errors);
}

#[test]
fn tls_with_the_generated_certificate() {
    let sim = simulator(SimConfig {
        tls: true,
        ..quick_sim()
    });
    assert!(sim.url().starts_with("wss://"));
    let cfg = all_books(3)
        .into_iter()
        .fold(config(&sim, "pk_test"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).unwrap();
    assert!(wait_until(SECS(5), || all_fresh(&client)));
    let dog = Watchdog::start(sim.clone(), client.books(), DEPTH);
    sim.inject(Fault::Gap);
    sim.inject(Fault::Disconnect);
    std::thread::sleep(Duration::from_millis(500));
    assert_converges(&sim, &client, DEPTH, SECS(10));
    dog.finish();
    assert_eq!(client.counters().connections, 2);
    // Without trusting the certificate, verification fails: nothing is turned off.
    let mut untrusted = config(&sim, "pk_test");
    untrusted.extra_roots.clear();
    let err = ParsecClient::connect(untrusted).unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[test]
fn flood_mode_is_followed_exactly() {
    let sim = simulator(SimConfig {
        markets: 2,
        rate_hz: 0.0,
        flood: true,
        ..SimConfig::default()
    });
    let cfg = all_books(2)
        .into_iter()
        .fold(config(&sim, "pk_test"), ClientConfig::subscribe);
    let client = ParsecClient::connect(cfg).unwrap();
    let dog = Watchdog::start(sim.clone(), client.books(), DEPTH);
    assert!(
        wait_until(SECS(10), || sim.stats().deltas > 20_000),
        "{:?}",
        sim.stats()
    );
    assert_converges(&sim, &client, DEPTH, SECS(10));
    dog.finish();
    let c = client.counters();
    assert!(c.store.deltas > 20_000 && c.store.gaps == 0, "{c:#?}");
}

#[test]
fn a_book_unsubscribed_and_subscribed_again_before_the_pacer_sends_stays_live() {
    let sim = simulator(quick_sim());
    let client = ParsecClient::connect(config(&sim, "pk_test_resub")).unwrap();
    client.subscribe(vec![Subscription::new("sim:2")]).unwrap();
    // Both within the pacer's gap after that subscribe: the unsubscribe is
    // still waiting when the subscribe comes, and must not follow it out.
    client
        .unsubscribe(vec![Subscription::new("sim:2")])
        .unwrap();
    let book = client.subscribe(vec![Subscription::new("sim:2")]).unwrap()[0].clone();
    assert!(wait_until(SECS(5), || book.snapshot(1).state == BookState::Fresh));
    // Long enough for a third control frame to go out (one each 0.4 s).
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        (client.counters().control_frames, sim.stats().control_frames),
        (2, 2),
        "two subscribes and no unsubscribe went out"
    );
    let seq = book.snapshot(1).seq;
    assert!(
        wait_until(SECS(5), || book.snapshot(1).seq > seq + 10),
        "the book keeps moving: still subscribed at the server"
    );
    assert_eq!(book.snapshot(1).state, BookState::Fresh);
}

#[test]
fn terminal_tokens_venue_selectors_and_wallets() {
    let sim = simulator(quick_sim());
    let cfg = config(&sim, "unused")
        .terminal_token("tok_terminal")
        .subscribe(Subscription::venue("sim", "1").outcome("No"));
    let client = ParsecClient::connect(cfg).unwrap();
    let mut events = client.events();
    client.watch_wallet("polymarket", "0xabc").unwrap();
    let wallet = std::iter::from_fn(|| events.recv_timeout(SECS(5))).find_map(|e| match e {
        Event::Wallet {
            exchange,
            address,
            data,
        } => Some((exchange, address, data)),
        _ => None,
    });
    let (exchange, address, data) = wallet.expect("a wallet snapshot arrives");
    assert_eq!(
        (exchange.as_str(), address.as_str()),
        ("polymarket", "0xabc")
    );
    assert!(serde_json::from_str::<serde_json::Value>(&data).unwrap()["positions"].is_array());
    let book = client
        .book("sim:1", "no")
        .expect("the venue selector names sim:1");
    assert!(wait_until(SECS(5), || book.snapshot(1).state == BookState::Fresh));
    client
        .unsubscribe(vec![Subscription::venue("sim", "1").outcome("no")])
        .unwrap();
    assert!(wait_until(SECS(5), || client.book("sim:1", "no").is_none()));
    assert_eq!(
        book.snapshot(1).state,
        BookState::Disconnected,
        "nothing updates it any more"
    );
    // Subscribe, wallet and unsubscribe: two or three frames (the wallet may
    // ride with the first subscribe), every one of them received.
    assert!(
        wait_until(SECS(5), || {
            let sent = client.counters().control_frames;
            sent >= 2 && sim.stats().control_frames == sent
        }),
        "{:?} {:?}",
        client.counters(),
        sim.stats()
    );
}

#[test]
fn latency_is_recorded_per_stage_and_can_be_switched_off() {
    use wirebook::latency::Stage;
    let sim = simulator(quick_sim());
    let on = ParsecClient::connect(
        all_books(3)
            .into_iter()
            .fold(config(&sim, "pk_test"), ClientConfig::subscribe),
    )
    .unwrap();
    let mut off_config = all_books(3)
        .into_iter()
        .fold(config(&sim, "pk_test"), ClientConfig::subscribe);
    off_config.latency = false;
    let off = ParsecClient::connect(off_config).unwrap();
    assert!(wait_until(SECS(5), || on.latency().get(Stage::Total).count
        > 50
        && off.counters().frames > 50));
    let report = on.latency();
    for stage in Stage::ALL {
        let l = report.get(stage);
        assert!(
            l.count > 0 && l.p50 <= l.p99 && l.p99 <= l.max,
            "{stage:?}: {l:?}"
        );
    }
    assert!(report.get(Stage::Total).p50 >= report.get(Stage::Parse).p50);
    assert_eq!(
        off.latency().get(Stage::Total).count,
        0,
        "recording off records nothing"
    );
}

/// A loopback TCP proxy to `target` for its first connection; later ones are
/// accepted and never answered (a server that hangs in the handshake).
fn proxy_once_then_silent(target: std::net::SocketAddr) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(client) = conn else { return };
            if n > 0 {
                held.push(client);
                continue;
            }
            let server = std::net::TcpStream::connect(target).unwrap();
            let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    url
}

#[test]
fn commands_are_answered_while_a_reconnect_hangs_in_its_handshake() {
    let sim = simulator(quick_sim());
    let mut cfg = config(&sim, "pk_test_hang").subscribe(Subscription::new("sim:0"));
    cfg.url = proxy_once_then_silent(sim.addr());
    cfg.connect_timeout = SECS(30);
    let client = ParsecClient::connect(cfg).unwrap();
    assert!(wait_until(SECS(5), || all_fresh(&client) && client.books().len() == 1));
    // The reconnect's handshake now hangs for up to 30 s.
    sim.drop_connections();
    assert!(wait_until(SECS(5), || client.counters().reconnects >= 1));
    std::thread::sleep(Duration::from_millis(200));
    let asked = std::time::Instant::now();
    let readers = client.subscribe(vec![Subscription::new("sim:1")]);
    assert!(readers.is_ok(), "{readers:?}");
    assert!(
        asked.elapsed() < SECS(2),
        "answered in {:?}",
        asked.elapsed()
    );
    assert_eq!(client.books().len(), 2);
    let stopping = std::time::Instant::now();
    client.shutdown();
    assert!(
        stopping.elapsed() < SECS(2),
        "stopped in {:?}",
        stopping.elapsed()
    );
}

#[test]
fn a_subscribe_refused_for_one_book_subscribes_none_of_its_books() {
    let sim = simulator(quick_sim());
    let mut cfg = config(&sim, "pk_test_all_or_nothing").subscribe(Subscription::new("sim:0"));
    cfg.store.max_books = 2;
    let client = ParsecClient::connect(cfg).unwrap();
    assert!(wait_until(SECS(5), || all_fresh(&client) && client.books().len() == 1));
    // One slot left: sim:1 fits, sim:2 does not, so neither is taken.
    let err = client
        .subscribe(vec![Subscription::new("sim:1"), Subscription::new("sim:2")])
        .unwrap_err();
    assert!(matches!(err, ClientError::Store(_)), "{err:?}");
    assert!(client.book("sim:1", "yes").is_none() && client.books().len() == 1);
    // The slot sim:1 would have taken is free for another book.
    let two = client.subscribe(vec![Subscription::new("sim:2")]).unwrap()[0].clone();
    assert!(wait_until(SECS(5), || two.snapshot(1).state == BookState::Fresh));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        sim.stats().snapshots,
        2,
        "sim:1 was never subscribed at the server"
    );
}

#[test]
fn a_server_that_drops_every_session_at_once_is_backed_off_from() {
    let sim = simulator(quick_sim());
    let cfg = config(&sim, "pk_test_flap").subscribe(Subscription::new("sim:0"));
    // Backoff 20 ms doubling to 500 ms (the test config).
    let client = ParsecClient::connect(cfg).unwrap();
    let mut events = client.events();
    let mut attempts = Vec::new();
    let next = |events: &mut wirebook::client::Events<Event>| {
        let seen = events_until(events, SECS(5), |e| {
            e.iter().any(|e| matches!(e, Event::Authenticated { .. }))
        });
        seen.iter()
            .find_map(|e| match e {
                Event::Reconnecting { attempt, .. } => Some(*attempt),
                _ => None,
            })
            .expect("a reconnect")
    };
    // Each session authenticates and is dropped at once: the delay grows.
    for _ in 0..4 {
        sim.drop_connections();
        attempts.push(next(&mut events));
    }
    assert_eq!(attempts, [0, 1, 2, 3]);
    // A session that lasts the longest delay (500 ms) is a good one: reset.
    std::thread::sleep(Duration::from_millis(700));
    sim.drop_connections();
    assert_eq!(next(&mut events), 0);
}
