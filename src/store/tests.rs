//! One test per rule of PROTOCOL.md A4, named after the rule.

use super::*;
use crate::frame::Level;
use crate::{BookSnapshot, Size};

const ID: &str = "kalshi:KXBTC-26MAR10";
const SEC: u64 = 1_000_000_000;

struct Harness {
    store: BookStore,
    parser: FrameParser,
    now: u64,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(StoreConfig::default())
    }

    fn with(config: StoreConfig) -> Harness {
        Harness {
            store: BookStore::new(config),
            parser: FrameParser::new(),
            now: SEC,
        }
    }

    fn send(&mut self, json: &str) -> Applied {
        let mut buf = json.as_bytes().to_vec();
        self.store
            .ingest(&mut self.parser, &mut buf, self.now)
            .unwrap_or_else(|e| panic!("{json}: {e}"))
            .1
    }

    fn snapshot(&mut self, seq: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> Applied {
        let side = |levels: &[(&str, &str)]| {
            levels
                .iter()
                .map(|(p, s)| format!("[{p},{s}]"))
                .collect::<Vec<_>>()
                .join(",")
        };
        self.send(&format!(
            r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[{}],"asks":[{}],"server_seq":{seq},"stale_after_ms":5000}}"#,
            side(bids),
            side(asks)
        ))
    }

    fn delta(&mut self, seq: u64, changes: &[(&str, &str, &str)]) -> Applied {
        let changes = changes
            .iter()
            .map(|(side, p, s)| format!(r#"{{"side":"{side}","price":{p},"size":{s}}}"#))
            .collect::<Vec<_>>()
            .join(",");
        self.send(&format!(
            r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[{changes}],"server_seq":{seq}}}"#
        ))
    }

    fn read(&mut self) -> BookSnapshot {
        let mut s = BookSnapshot::with_depth(50);
        self.store
            .reader(ID, "yes")
            .expect("book exists")
            .read_into_at(50, &mut s, self.now);
        s
    }

    fn resyncs(&mut self) -> Vec<ResyncRequest> {
        std::iter::from_fn(|| self.store.next_resync(self.now)).collect()
    }

    fn seeded(&mut self) {
        assert_eq!(
            self.snapshot(10, &[("0.45", "10"), ("0.44", "5")], &[("0.47", "3")]),
            Applied::Snapshot
        );
    }
}

fn prices(levels: &[Level]) -> Vec<String> {
    levels
        .iter()
        .map(|l| format!("{}@{}", l.size, l.price))
        .collect()
}

#[test]
fn snapshot_sets_book_and_sequence() {
    let mut h = Harness::new();
    h.seeded();
    let s = h.read();
    assert_eq!(s.state, BookState::Fresh);
    assert_eq!(s.seq, 10);
    assert_eq!(prices(&s.bids), ["10@0.45", "5@0.44"]);
    assert_eq!(prices(&s.asks), ["3@0.47"]);
    assert_eq!(h.store.counters().snapshots, 1);
}

#[test]
fn snapshot_seq_may_jump_anywhere() {
    let mut h = Harness::new();
    h.seeded();
    assert_eq!(h.snapshot(3, &[("0.2", "1")], &[]), Applied::Snapshot);
    assert_eq!(h.read().seq, 3);
    assert_eq!(h.delta(4, &[("bid", "0.3", "1")]), Applied::Delta);
    assert_eq!(prices(&h.read().bids), ["1@0.3", "1@0.2"]);
}

#[test]
fn delta_with_next_seq_applies_in_array_order() {
    let mut h = Harness::new();
    h.seeded();
    let applied = h.delta(
        11,
        &[
            ("bid", "0.46", "7"),
            ("bid", "0.46", "8"),
            ("ask", "0.47", "0"),
        ],
    );
    assert_eq!(applied, Applied::Delta);
    let s = h.read();
    assert_eq!(prices(&s.bids), ["8@0.46", "10@0.45", "5@0.44"]);
    assert!(s.asks.is_empty());
    assert_eq!((s.seq, h.store.counters().deltas), (11, 1));
}

#[test]
fn duplicate_or_late_delta_is_dropped_without_resync() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(11, &[("bid", "0.46", "1")]);
    assert_eq!(h.delta(11, &[("bid", "0.46", "99")]), Applied::Duplicate);
    assert_eq!(h.delta(5, &[("bid", "0.46", "99")]), Applied::Duplicate);
    assert_eq!(h.read().bids[0].size.to_string(), "1");
    assert_eq!(h.store.counters().duplicates, 2);
    assert!(h.resyncs().is_empty());
    assert_eq!(h.read().state, BookState::Fresh);
}

#[test]
fn delta_after_gap_requests_one_resync() {
    let mut h = Harness::new();
    h.seeded();
    assert_eq!(h.delta(12, &[("bid", "0.46", "1")]), Applied::Gap);
    assert_eq!(h.read().state, BookState::Resyncing);
    let r = h.resyncs();
    assert_eq!(r.len(), 1);
    assert_eq!((&*r[0].key.parsec_id, r[0].attempt), (ID, 1));
    assert_eq!(
        (h.store.counters().gaps, h.store.counters().resyncs),
        (1, 1)
    );
}

#[test]
fn a_resync_answered_before_it_went_out_is_not_waiting_any_more() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(12, &[]);
    assert_eq!(h.store.queued_resyncs(), 1);
    // The server's snapshot lands before the network layer sent the request.
    h.snapshot(30, &[("0.45", "10")], &[("0.47", "3")]);
    assert_eq!(h.store.queued_resyncs(), 0);
    assert!(h.resyncs().is_empty());
    // Likewise for a book no longer tracked.
    h.delta(32, &[]);
    assert_eq!(h.store.queued_resyncs(), 1);
    h.store.untrack(ID, "yes");
    assert_eq!(h.store.queued_resyncs(), 0);
    assert!(h.resyncs().is_empty());
}

#[test]
fn second_gap_while_resyncing_sends_no_second_resync() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(12, &[]);
    assert_eq!(h.resyncs().len(), 1);
    assert_eq!(h.delta(20, &[]), Applied::Buffered);
    h.send(&format!(
        r#"{{"type":"resync_required","parsec_id":"{ID}","outcome":"yes"}}"#
    ));
    assert!(h.resyncs().is_empty());
    assert_eq!(h.store.counters().resyncs, 1);
}

#[test]
fn deltas_during_resync_are_buffered_and_continuous_ones_replayed() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(13, &[("bid", "0.1", "1")]); // gap: 11 and 12 lost
    assert_eq!(h.delta(21, &[("bid", "0.2", "2")]), Applied::Buffered);
    assert_eq!(
        h.delta(22, &[("bid", "0.2", "0"), ("bid", "0.3", "3")]),
        Applied::Buffered
    );
    assert_eq!(
        h.snapshot(20, &[("0.15", "1")], &[("0.9", "1")]),
        Applied::Snapshot
    );
    let s = h.read();
    assert_eq!(s.state, BookState::Fresh);
    assert_eq!(s.seq, 22, "21 and 22 continue the snapshot; 13 is older");
    assert_eq!(prices(&s.bids), ["3@0.3", "1@0.15"]);
    let c = h.store.counters();
    assert_eq!((c.buffered, c.replayed, c.discarded), (3, 2, 1));
    assert_eq!(h.delta(23, &[("bid", "0.5", "5")]), Applied::Delta);
}

/// A4.2 and A4.7: buffered deltas after a hole are dropped, but the book is
/// then known to be behind a change that will not come again: it is resynced
/// again, never published as fresh.
#[test]
fn a_replay_that_stops_at_a_hole_resyncs_again() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(13, &[("bid", "0.1", "1")]); // gap: 11 and 12 lost
    assert_eq!(h.resyncs().len(), 1);
    h.delta(21, &[("bid", "0.2", "2")]);
    h.delta(22, &[("bid", "0.3", "3")]);
    h.delta(24, &[("bid", "0.4", "4")]); // hole at 23
    assert_eq!(
        h.snapshot(20, &[("0.15", "1")], &[("0.9", "1")]),
        Applied::Gap
    );
    let s = h.read();
    assert_eq!((s.state, s.seq), (BookState::Resyncing, 22), "behind 24");
    let c = h.store.counters();
    assert_eq!((c.replayed, c.discarded, c.behind_after_replay), (2, 2, 1));
    assert_eq!(h.resyncs().len(), 1, "a second resync");
    assert_eq!(
        h.snapshot(30, &[("0.15", "1")], &[("0.9", "1")]),
        Applied::Snapshot
    );
    assert_eq!((h.read().state, h.read().seq), (BookState::Fresh, 30));
}

/// The word a buffered delta carries on its book and feed is applied when
/// it is replayed, as it would have been live.
#[test]
fn a_replayed_delta_says_stale_as_a_live_one_would() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(13, &[]); // gap
    h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":21,"book_state":"stale","feed_state":"degraded","exchange_ts_ms":77}}"#
    ));
    assert_eq!(
        h.snapshot(20, &[("0.15", "1")], &[("0.9", "1")]),
        Applied::Snapshot
    );
    let s = h.read();
    assert_eq!((s.state, s.seq), (BookState::Stale, 21));
    assert_eq!(s.feed_state, Some(FeedState::Degraded));
    assert_eq!(s.exchange_ts_ms, Some(77));
}

/// A notice for a book with no snapshot on this connection yet asks for no
/// resync: the snapshot on its way is taken after whatever was lost.
#[test]
fn resync_required_before_the_first_snapshot_waits_for_it() {
    let mut h = Harness::new();
    h.seeded();
    h.store.mark_disconnected();
    let applied = h.send(&format!(
        r#"{{"type":"resync_required","parsec_id":"{ID}","outcome":"yes"}}"#
    ));
    assert_eq!(applied, Applied::DroppedBeforeSnapshot);
    assert_eq!(h.read().state, BookState::Disconnected);
    assert!(h.resyncs().is_empty());
    h.seeded();
    assert_eq!(h.read().state, BookState::Fresh);
}

/// A4.7: a snapshot that is no good (here crossed) answers a resync without
/// ending it: the next request counts on, so a book resyncing too long
/// shows in its attempts.
#[test]
fn a_bad_snapshot_does_not_start_the_resync_attempts_over() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(13, &[]); // gap
    let attempts = |h: &mut Harness| h.resyncs().iter().map(|r| r.attempt).collect::<Vec<_>>();
    assert_eq!(attempts(&mut h), [1]);
    for want in [2, 3] {
        h.snapshot(20, &[("0.5", "1")], &[("0.45", "1")]); // crossed
        assert_eq!(h.read().state, BookState::Resyncing);
        h.store.poll(h.now);
        assert!(attempts(&mut h).is_empty(), "held back a while");
        h.now += SEC;
        h.store.poll(h.now);
        assert_eq!(attempts(&mut h), [want]);
    }
    h.snapshot(30, &[("0.45", "1")], &[("0.5", "1")]);
    assert_eq!(h.read().state, BookState::Fresh);
    h.delta(32, &[]); // a new gap starts at 1
    assert_eq!(attempts(&mut h), [1]);
}

/// A snapshot that is no good in answer to the book's own resync (a server
/// that keeps sending a crossed book) is asked for again after a hold that
/// doubles with each such answer (100 ms, 200 ms, ... up to the resync
/// timeout), not at every round trip; one that answers a subscribe is
/// resynced at once.
#[test]
fn a_bad_answer_to_a_resync_holds_the_next_request_back_doubling() {
    const MS: u64 = SEC / 1000;
    let mut h = Harness::new();
    let crossed = |h: &mut Harness| h.snapshot(20, &[("0.5", "1")], &[("0.45", "1")]);
    assert_eq!(crossed(&mut h), Applied::Gap); // the subscribe's: no hold
    assert_eq!(h.resyncs().len(), 1);
    for (attempt, hold_ms) in [(2, 100), (3, 200), (4, 400), (5, 800)] {
        assert_eq!(crossed(&mut h), Applied::Gap);
        h.now += hold_ms * MS - 1;
        h.store.poll(h.now);
        assert!(
            h.resyncs().is_empty(),
            "attempt {attempt}: held {hold_ms} ms"
        );
        h.now += 1;
        h.store.poll(h.now);
        let sent = h.resyncs();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].attempt, attempt);
    }
    // The hold stops at the resync timeout.
    for attempt in 6..12 {
        crossed(&mut h);
        h.now += 5 * SEC;
        h.store.poll(h.now);
        assert_eq!(h.resyncs()[0].attempt, attempt);
    }
    // A gap while held sends nothing more; a good snapshot ends it all.
    crossed(&mut h);
    assert_eq!(h.delta(22, &[]), Applied::Buffered);
    assert!(h.resyncs().is_empty());
    assert_eq!(
        h.snapshot(30, &[("0.45", "1")], &[("0.5", "1")]),
        Applied::Snapshot
    );
    h.now += 10 * SEC;
    h.store.poll(h.now);
    assert!(
        h.resyncs().is_empty(),
        "the held request died with its resync"
    );
    assert_eq!(h.read().state, BookState::Stale);
}

/// A retry still queued (the pacing held it) when a late answer to the
/// first request comes back bad does not skip the hold: one request at a
/// time, after the hold.
#[test]
fn a_retry_queued_before_a_bad_answer_waits_out_the_hold() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(13, &[]); // gap
    assert_eq!(h.resyncs().len(), 1);
    h.now += 6 * SEC;
    h.store.poll(h.now); // timed out: attempt 2 queued, not yet taken
    assert_eq!(h.store.queued_resyncs(), 1);
    h.snapshot(20, &[("0.5", "1")], &[("0.45", "1")]); // the late answer, crossed
    assert_eq!(h.store.queued_resyncs(), 0, "held");
    assert!(
        h.resyncs().is_empty(),
        "the old queue entry does not skip the hold"
    );
    h.now += SEC;
    h.store.poll(h.now);
    let sent = h.resyncs();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].attempt, 3);
    h.now += SEC / 2;
    h.store.poll(h.now);
    assert!(h.resyncs().is_empty(), "one request at a time");
}

/// A resync started because a replay stopped behind a frame of the resync
/// takes its snapshot even if that is behind again: a server whose
/// snapshots lag the frames it sends before them (or that numbers each
/// snapshot afresh, A4.1) would otherwise be asked for ever. A4.2: the
/// buffered frames that do not continue it are dropped.
#[test]
fn a_second_replay_behind_is_taken_as_a4_2_says() {
    let mut h = Harness::new();
    h.seeded(); // seq 10
    h.delta(12, &[("bid", "0.46", "1")]); // gap
    h.resyncs();
    assert_eq!(
        h.snapshot(3, &[("0.45", "10")], &[("0.47", "3")]),
        Applied::Gap
    );
    assert_eq!(h.store.counters().behind_after_replay, 1);
    assert_eq!(h.resyncs().len(), 1);
    assert_eq!(h.delta(13, &[("bid", "0.46", "2")]), Applied::Buffered);
    assert_eq!(
        h.snapshot(5, &[("0.45", "9")], &[("0.47", "3")]),
        Applied::Snapshot
    );
    let s = h.read();
    assert_eq!((s.state, s.seq), (BookState::Fresh, 5));
    assert_eq!(prices(&s.bids), ["9@0.45"]);
    let c = h.store.counters();
    assert_eq!((c.behind_after_replay, c.behind_accepted), (1, 1));
    assert!(h.resyncs().is_empty());
    assert_eq!(h.delta(6, &[("bid", "0.44", "1")]), Applied::Delta);
    // A later gap is a gap as usual, and a replay behind resyncs again.
    assert_eq!(h.delta(8, &[]), Applied::Gap);
    h.resyncs();
    assert_eq!(
        h.snapshot(2, &[("0.45", "1")], &[("0.47", "3")]),
        Applied::Gap
    );
    assert_eq!(h.store.counters().behind_after_replay, 2);
}

/// A4.8 with a snapshot that gives no `stale_after_ms` (A3 requires it):
/// the book goes stale after `StoreConfig::default_stale_after`, not never.
#[test]
fn a_book_without_stale_after_ms_goes_stale_after_the_default() {
    let mut h = Harness::new();
    h.send(&format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[[0.45,10]],"asks":[[0.47,3]],"server_seq":1}}"#
    ));
    h.now += 4 * SEC;
    h.store.poll(h.now);
    assert_eq!(h.read().state, BookState::Fresh);
    h.now += 2 * SEC;
    h.store.poll(h.now);
    assert_eq!(h.read().state, BookState::Stale);
    // One that says so keeps its own bound.
    h.snapshot(2, &[("0.45", "1")], &[("0.47", "3")]);
    h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":3,"stale_after_ms":60000}}"#
    ));
    h.send(&format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[[0.45,10]],"asks":[[0.47,3]],"server_seq":4}}"#
    ));
    h.now += 30 * SEC;
    h.store.poll(h.now);
    assert_eq!(
        h.read().state,
        BookState::Fresh,
        "the last bound it was given"
    );
}

/// A book just tracked reads as one with no snapshot: no seq, no clocks.
#[test]
fn a_new_book_reads_no_seq_and_no_clocks() {
    let mut h = Harness::new();
    h.store.track(ID, "yes").unwrap();
    let s = h.read();
    assert_eq!(s.state, BookState::AwaitingSnapshot);
    assert_eq!((s.seq, s.exchange_ts_ms, s.ingest_ts_ms), (0, None, None));
    assert!(s.bids.is_empty() && s.asks.is_empty());
}

/// A book tracked again after `untrack` is a new subscription: its readers
/// (old handles too) see a book awaiting its snapshot, not the old one
/// reading `Disconnected`.
#[test]
fn a_book_tracked_again_reads_as_a_new_book() {
    let mut h = Harness::new();
    h.seeded();
    let old = h.store.reader(ID, "yes").unwrap();
    assert!(h.store.untrack(ID, "yes"));
    assert_eq!(old.snapshot(5).state, BookState::Disconnected);
    h.store.track(ID, "yes").unwrap();
    let s = old.snapshot(5);
    assert_eq!(
        (s.state, s.seq, s.bids.len()),
        (BookState::AwaitingSnapshot, 0, 0)
    );
    assert_eq!(h.delta(11, &[]), Applied::DroppedBeforeSnapshot);
    assert_eq!(
        h.snapshot(40, &[("0.45", "1")], &[("0.47", "3")]),
        Applied::Snapshot
    );
    assert_eq!(h.read().state, BookState::Fresh);
}

/// A snapshot whose key is beyond `MAX_BOOK_KEY_LEN` creates no book.
#[test]
fn a_snapshot_with_a_huge_key_creates_no_book() {
    let mut h = Harness::new();
    let long = "x".repeat(MAX_BOOK_KEY_LEN + 1);
    let applied = h.send(&format!(
        r#"{{"type":"orderbook","parsec_id":"kalshi:{long}","outcome":"yes","bids":[],"asks":[],"server_seq":1}}"#
    ));
    assert_eq!(applied, Applied::Untracked);
    assert!(h.store.is_empty());
    assert_eq!(h.store.counters().untracked, 1);
}

/// A4.4: `needs_refresh` on any frame acts as a gap, one behind the book's
/// seq too, unless the snapshot the book holds came after it.
#[test]
fn needs_refresh_on_a_late_frame_acts_as_a_gap() {
    let mut h = Harness::new();
    h.seeded(); // snapshot at 10
    h.delta(11, &[]);
    h.delta(12, &[]);
    let late = |h: &mut Harness, seq: u64| {
        h.send(&format!(
            r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":{seq},"book_state":"needs_refresh"}}"#
        ))
    };
    // Older than the snapshot: the snapshot covers it.
    assert_eq!(late(&mut h, 9), Applied::Duplicate);
    assert_eq!(h.read().state, BookState::Fresh);
    // After the snapshot, behind the book: the book may hold its loss.
    assert_eq!(late(&mut h, 11), Applied::Gap);
    assert_eq!(h.read().state, BookState::Resyncing);
    assert_eq!(h.resyncs().len(), 1);
    assert_eq!(h.store.counters().duplicates, 1);
}

/// A seq that jumped back on the connection (A4.1) below a frame the book
/// buffered while resyncing: the replay stops below that frame, so the book
/// resyncs once more, and the next snapshot settles it.
#[test]
fn a_replay_below_a_frame_of_the_old_numbering_resyncs_once_more() {
    let mut h = Harness::new();
    h.seeded(); // seq 10
    h.delta(12, &[]); // gap: resyncing
    h.delta(4, &[("bid", "0.46", "2")]);
    h.delta(5, &[("ask", "0.48", "1")]);
    h.resyncs();
    assert_eq!(
        h.snapshot(3, &[("0.45", "10")], &[("0.47", "3")]),
        Applied::Gap
    );
    let s = h.read();
    assert_eq!((s.state, s.seq), (BookState::Resyncing, 5));
    assert_eq!(h.store.counters().behind_after_replay, 1);
    assert_eq!(h.resyncs().len(), 1);
    assert_eq!(
        h.snapshot(6, &[("0.45", "10")], &[("0.47", "3")]),
        Applied::Snapshot
    );
    assert_eq!(h.read().state, BookState::Fresh);
}

/// A resyncing book's buffered deltas came before a 2003 that follows them:
/// replayed, their word (a healthy feed) does not end its staleness.
#[test]
fn a_replayed_word_does_not_end_a_later_outage() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(13, &[]); // gap
    h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":21,"feed_state":"healthy"}}"#
    ));
    h.send(r#"{"type":"error","code":2003,"message":"exchange unavailable"}"#);
    h.send(&format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[[0.45,10]],"asks":[[0.47,3]],"server_seq":20,"feed_state":"degraded"}}"#
    ));
    let s = h.read();
    assert_eq!((s.state, s.seq), (BookState::Stale, 21));
}

/// A book subscribed again numbers afresh: deltas buffered from its old
/// subscription are not replayed onto the new one's snapshot, and its
/// resync is forgotten.
#[test]
fn a_book_subscribed_again_forgets_what_its_old_subscription_buffered() {
    let mut h = Harness::new();
    h.seeded(); // seq 10
    h.delta(13, &[]); // gap
    h.delta(105, &[("bid", "0.3", "7")]); // the old subscription's
    assert!(h.store.resubscribed(ID, "yes"));
    assert_eq!(h.read().state, BookState::AwaitingSnapshot);
    assert!(h.resyncs().is_empty(), "the subscribe brings the snapshot");
    assert_eq!(
        h.snapshot(104, &[("0.15", "1")], &[("0.9", "1")]),
        Applied::Snapshot
    );
    let s = h.read();
    assert_eq!((s.state, s.seq), (BookState::Fresh, 104));
    assert_eq!(
        prices(&s.bids),
        ["1@0.15"],
        "105 was the old subscription's"
    );
    assert!(!h.store.resubscribed("kalshi:NONE", "yes"));
}

#[test]
fn delta_before_any_snapshot_is_dropped_and_counted() {
    let mut h = Harness::new();
    h.store.track(ID, "yes").unwrap();
    assert_eq!(
        h.delta(1, &[("bid", "0.5", "1")]),
        Applied::DroppedBeforeSnapshot
    );
    assert_eq!(h.store.counters().dropped_before_snapshot, 1);
    assert_eq!(h.read().state, BookState::AwaitingSnapshot);
    assert!(h.read().bids.is_empty());
}

#[test]
fn delta_for_an_unknown_book_is_untracked() {
    let mut h = Harness::new();
    assert_eq!(h.delta(1, &[]), Applied::Untracked);
    assert_eq!(h.store.counters().untracked, 1);
}

#[test]
fn resync_required_acts_as_gap() {
    let mut h = Harness::new();
    h.seeded();
    let applied = h.send(&format!(
        r#"{{"type":"resync_required","parsec_id":"{ID}","outcome":"Yes"}}"#
    ));
    assert_eq!(applied, Applied::Gap);
    assert_eq!(h.read().state, BookState::Resyncing);
    assert_eq!(h.resyncs().len(), 1);
    assert_eq!(h.store.counters().resync_required, 1);
}

#[test]
fn resync_required_without_outcome_acts_as_gap_in_every_outcome_of_the_market() {
    // A3 lists `outcome` on the notice; without it the safe reading is every
    // book of the market (defaulting to yes left a corrupt "no" book fresh).
    let mut h = Harness::new();
    h.seeded();
    let no = format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"no","bids":[[0.5,1]],"asks":[[0.6,1]],"server_seq":3}}"#
    );
    assert_eq!(h.send(&no), Applied::Snapshot);
    let other = r#"{"type":"orderbook","parsec_id":"kalshi:OTHER","outcome":"yes","bids":[[0.5,1]],"asks":[[0.6,1]],"server_seq":3}"#;
    assert_eq!(h.send(other), Applied::Snapshot);
    for notice in ["resync_required", "slow_reader"] {
        let applied = h.send(&format!(r#"{{"type":"{notice}","parsec_id":"{ID}"}}"#));
        assert_eq!(applied, Applied::Gap, "{notice}");
    }
    let mut asked: Vec<(String, String)> = h
        .resyncs()
        .iter()
        .map(|r| (r.key.parsec_id.to_string(), r.key.outcome.to_string()))
        .collect();
    asked.sort();
    assert_eq!(asked, [(ID.into(), "no".into()), (ID.into(), "yes".into())]);
    assert_eq!(h.read().state, BookState::Resyncing);
    let other = h.store.reader("kalshi:OTHER", "yes").unwrap();
    assert_eq!(
        other.snapshot(1).state,
        BookState::Fresh,
        "another market is untouched"
    );
    // A market the store does not track: counted, nothing else.
    let applied = h.send(r#"{"type":"resync_required","parsec_id":"kalshi:NONE"}"#);
    assert_eq!(applied, Applied::Untracked);
}

#[test]
fn needs_refresh_acts_as_gap() {
    let mut h = Harness::new();
    h.seeded();
    let applied = h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":11,"book_state":"needs_refresh"}}"#
    ));
    assert_eq!(applied, Applied::Gap);
    assert_eq!(h.read().state, BookState::Resyncing);
    assert_eq!(h.resyncs().len(), 1);
    assert_eq!(h.store.counters().needs_refresh, 1);
    // One more while resyncing: buffered, and counted too.
    let applied = h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":12,"book_state":"needs_refresh"}}"#
    ));
    assert_eq!(applied, Applied::Buffered);
    assert_eq!(h.store.counters().needs_refresh, 2);
}

#[test]
fn needs_refresh_on_a_snapshot_acts_as_gap() {
    let mut h = Harness::new();
    h.seeded();
    let applied = h.send(&format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[[0.4,1]],"asks":[[0.5,1]],"server_seq":20,"book_state":"needs_refresh"}}"#
    ));
    assert_eq!(applied, Applied::Gap);
    let s = h.read();
    assert_eq!(
        s.state,
        BookState::Resyncing,
        "its levels are not to be trusted"
    );
    assert_eq!(h.resyncs().len(), 1);
    assert_eq!(h.store.counters().needs_refresh, 1);
    // A later snapshot of the same seq, without the flag, is taken.
    assert_eq!(
        h.snapshot(20, &[("0.4", "1")], &[("0.5", "1")]),
        Applied::Snapshot
    );
    assert_eq!(h.read().state, BookState::Fresh);
}

#[test]
fn needs_refresh_in_a_buffered_delta_stops_the_replay_there() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(12, &[]); // gap: 11 lost
    assert_eq!(h.resyncs().len(), 1);
    assert_eq!(h.delta(21, &[("bid", "0.41", "2")]), Applied::Buffered);
    let flagged = h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[{{"side":"bid","price":0.42,"size":3}}],"server_seq":22,"book_state":"needs_refresh"}}"#
    ));
    assert_eq!(flagged, Applied::Buffered);
    assert_eq!(h.delta(23, &[("bid", "0.43", "4")]), Applied::Buffered);
    assert_eq!(
        h.snapshot(20, &[("0.4", "1")], &[("0.5", "1")]),
        Applied::Gap
    );
    let s = h.read();
    assert_eq!(
        s.state,
        BookState::Resyncing,
        "22 said the book needs a refresh"
    );
    h.now += SEC; // past the hold of a resync answered with a bad book
    h.store.poll(h.now);
    assert_eq!(h.resyncs().len(), 1, "a new resync for the new gap");
    let c = h.store.counters();
    // 21 replayed; 22 corrupted the book (its gap, not a replay); 12 (the
    // gap's own frame, below the snapshot) and 23 dropped.
    assert_eq!((c.replayed, c.discarded, c.needs_refresh), (1, 2, 1));
    // 23 was not applied onto the flagged book: the next snapshot starts clean.
    assert_eq!(
        h.snapshot(30, &[("0.4", "1")], &[("0.5", "1")]),
        Applied::Snapshot
    );
    let s = h.read();
    assert_eq!((s.state, s.seq), (BookState::Fresh, 30));
    assert_eq!(prices(&s.bids), ["1@0.4"]);
}

#[test]
fn slow_reader_acts_as_gap() {
    let mut h = Harness::new();
    h.seeded();
    h.send(&format!(
        r#"{{"type":"slow_reader","parsec_id":"{ID}","outcome":"yes"}}"#
    ));
    assert_eq!(h.read().state, BookState::Resyncing);
    assert_eq!(h.resyncs().len(), 1);
}

fn activity(seq: u64) -> String {
    format!(
        r#"{{"type":"activity","parsec_id":"{ID}","outcome":"yes","kind":"trade","price":0.45,"size":1,"server_seq":{seq},"source_channel":"x","feed_state":"healthy"}}"#
    )
}

#[test]
fn activity_does_not_advance_the_book_seq_by_default() {
    let mut h = Harness::new();
    h.seeded();
    assert_eq!(h.send(&activity(11)), Applied::NotBookState);
    assert_eq!(h.delta(11, &[]), Applied::Delta);
    assert_eq!(h.read().seq, 11);
}

#[test]
fn activity_shares_the_book_seq_when_configured() {
    let mut h = Harness::with(StoreConfig {
        activity_shares_seq: true,
        ..StoreConfig::default()
    });
    h.seeded();
    assert_eq!(h.send(&activity(11)), Applied::Sequenced);
    assert_eq!(h.delta(12, &[]), Applied::Delta);
    assert_eq!(h.send(&activity(12)), Applied::Duplicate);
    assert_eq!(h.send(&activity(14)), Applied::Gap);
}

#[test]
fn outcome_matches_case_insensitively() {
    let mut h = Harness::new();
    h.seeded();
    let applied = h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"YES","changes":[{{"side":"bid","price":0.46,"size":1}}],"server_seq":11}}"#
    ));
    assert_eq!(applied, Applied::Delta);
    assert_eq!(h.store.len(), 1);
    assert_eq!(h.read().seq, 11);
}

#[test]
fn unanswered_resync_is_sent_again_after_the_timeout() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(15, &[]);
    assert_eq!(h.resyncs().len(), 1);
    h.now += 4 * SEC;
    h.store.poll(h.now);
    assert!(h.resyncs().is_empty(), "not yet: 4 s < 5 s");
    h.now += 2 * SEC;
    h.store.poll(h.now);
    let again = h.resyncs();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2);
    assert_eq!(h.store.counters().resync_retries, 1);
    assert_eq!(
        h.read().state,
        BookState::Resyncing,
        "never served as fresh"
    );
}

#[test]
fn queued_resync_is_not_timed_out_before_it_is_sent() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(15, &[]);
    h.now += 60 * SEC;
    h.store.poll(h.now);
    assert_eq!(
        h.resyncs().len(),
        1,
        "pacing may hold a request back; that is no timeout"
    );
}

#[test]
fn stale_book_reads_stale_without_resync() {
    let mut h = Harness::new();
    h.seeded();
    h.now += 6 * SEC;
    h.store.poll(h.now);
    assert_eq!(h.read().state, BookState::Stale);
    assert!(h.resyncs().is_empty());
    assert_eq!(h.delta(11, &[]), Applied::Delta);
    assert_eq!(h.read().state, BookState::Fresh);
}

#[test]
fn poll_publishes_staleness_so_readers_need_no_clock() {
    let mut h = Harness::new();
    h.seeded();
    let reader = h.store.reader(ID, "yes").unwrap();
    let mut s = BookSnapshot::with_depth(5);
    h.store.poll(h.now + SEC);
    reader.read_into(5, &mut s);
    assert_eq!(s.state, BookState::Fresh);
    h.now += 6 * SEC;
    h.store.poll(h.now);
    reader.read_into(5, &mut s);
    assert_eq!(s.state, BookState::Stale);
    h.delta(11, &[]);
    reader.read_into(5, &mut s);
    assert_eq!(s.state, BookState::Fresh, "a frame makes it fresh again");
}

#[test]
fn server_stale_state_reads_stale() {
    let mut h = Harness::new();
    h.send(&format!(
        r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[],"asks":[],"server_seq":1,"book_state":"stale"}}"#
    ));
    assert_eq!(h.read().state, BookState::Stale);
}

#[test]
fn crossed_book_acts_as_gap() {
    let mut h = Harness::new();
    h.seeded();
    assert_eq!(h.delta(11, &[("bid", "0.47", "1")]), Applied::Gap);
    assert_eq!(h.read().state, BookState::Resyncing);
    let c = h.store.counters();
    // The crossing delta is counted as the gap it caused, not as applied.
    assert_eq!((c.crossed, c.gaps, c.deltas), (1, 1, 0));
    assert_eq!(h.resyncs().len(), 1);
    assert_eq!(
        h.snapshot(12, &[("0.47", "1")], &[("0.47", "1")]),
        Applied::Gap
    );
    assert_eq!(
        h.read().state,
        BookState::Resyncing,
        "a crossed snapshot is corrupt too"
    );
}

#[test]
fn resync_buffer_is_bounded() {
    let mut h = Harness::with(StoreConfig {
        resync_buffer: 4,
        ..StoreConfig::default()
    });
    h.seeded();
    for seq in 20..30 {
        h.delta(seq, &[]);
    }
    let c = h.store.counters();
    assert_eq!((c.buffered, c.buffer_overflows), (4, 6));
    // Only 20..=23 were kept: a snapshot at 21 replays 22 and 23, but 24 to
    // 29 came and were lost to the full buffer: the book is behind them and
    // resyncs again instead of reading fresh at 23.
    h.resyncs();
    assert_eq!(
        h.snapshot(21, &[("0.4", "1")], &[("0.5", "1")]),
        Applied::Gap
    );
    let s = h.read();
    assert_eq!((s.state, s.seq), (BookState::Resyncing, 23));
    assert_eq!(h.resyncs().len(), 1);
    assert_eq!(
        h.snapshot(29, &[("0.4", "1")], &[("0.5", "1")]),
        Applied::Snapshot
    );
    assert_eq!(h.read().state, BookState::Fresh);
    assert_eq!(h.delta(30, &[]), Applied::Delta);
}

#[test]
fn resync_buffer_bounds_the_changes_it_holds_too() {
    // Four frames, at most 4 * 256 changes: two frames of 600 changes
    // cannot both be held, however few frames are buffered.
    let mut h = Harness::with(StoreConfig {
        resync_buffer: 4,
        ..StoreConfig::default()
    });
    h.seeded();
    h.delta(12, &[]); // gap
    let many: Vec<(&str, &str, &str)> = (0..600).map(|_| ("bid", "0.41", "1")).collect();
    assert_eq!(h.delta(21, &many), Applied::Buffered);
    assert_eq!(h.delta(22, &many), Applied::Overflowed);
    let c = h.store.counters();
    assert_eq!((c.buffered, c.buffer_overflows), (2, 1));
    assert_eq!(
        h.snapshot(20, &[("0.4", "1")], &[("0.5", "1")]),
        Applied::Gap
    );
    let s = h.read();
    // 22 was not kept, and the book is behind it: resynced again.
    assert_eq!((s.state, s.seq), (BookState::Resyncing, 21));
    assert_eq!(prices(&s.bids), ["1@0.41", "1@0.4"]);
    assert_eq!(h.store.counters().behind_after_replay, 1);
}

#[test]
fn a_resync_that_buffered_a_burst_gives_the_room_back_when_it_ends() {
    let mut h = Harness::new();
    h.seeded();
    h.delta(12, &[]); // gap
    let many: Vec<(&str, &str, &str)> = (0..600).map(|_| ("bid", "0.41", "1")).collect();
    assert_eq!(h.delta(21, &many), Applied::Buffered);
    let room = |h: &Harness| h.store.slots[0].pending_changes.capacity();
    assert!(room(&h) >= 600);
    assert_eq!(
        h.snapshot(20, &[("0.4", "1")], &[("0.5", "1")]),
        Applied::Snapshot
    );
    assert_eq!(h.read().seq, 21, "the burst was replayed");
    assert!(
        room(&h) <= RETAINED_CHANGES,
        "{} changes of room kept after the resync",
        room(&h)
    );
    // A resync of a few changes keeps its room (no allocation next time).
    h.delta(23, &[]); // gap
    assert_eq!(h.delta(31, &[("bid", "0.41", "2")]), Applied::Buffered);
    let before = room(&h);
    assert_eq!(
        h.snapshot(30, &[("0.4", "1")], &[("0.5", "1")]),
        Applied::Snapshot
    );
    assert_eq!(room(&h), before);
}

#[test]
fn disconnected_books_wait_for_their_snapshot() {
    let mut h = Harness::new();
    h.seeded();
    h.store.mark_disconnected();
    let s = h.read();
    assert_eq!(s.state, BookState::Disconnected);
    assert_eq!(s.bids.len(), 2, "levels stay readable");
    assert_eq!(h.delta(11, &[]), Applied::DroppedBeforeSnapshot);
    h.seeded();
    assert_eq!(h.read().state, BookState::Fresh);
}

#[test]
fn untracked_books_ignore_frames_in_flight() {
    let mut h = Harness::new();
    h.seeded();
    assert!(h.store.untrack(ID, "yes"));
    assert_eq!(h.delta(11, &[]), Applied::Untracked);
    assert_eq!(h.snapshot(12, &[], &[]), Applied::Untracked);
}

#[test]
fn store_holds_a_bounded_number_of_books() {
    let mut store = BookStore::new(StoreConfig {
        max_books: 2,
        ..StoreConfig::default()
    });
    store.track("a:1", "yes").unwrap();
    store.track("a:2", "yes").unwrap();
    assert_eq!(
        store.track("a:3", "yes").unwrap_err(),
        StoreError::TooManyBooks { max: 2 }
    );
}

#[test]
fn an_untracked_book_makes_room_at_the_bound() {
    let mut h = Harness::with(StoreConfig {
        max_books: 2,
        ..StoreConfig::default()
    });
    h.seeded(); // ID, seq 10
    let old = h.store.reader(ID, "yes").unwrap();
    h.store.track("a:2", "yes").unwrap();
    assert_eq!(h.delta(12, &[]), Applied::Gap); // a resync queued, not yet taken
    assert!(h.store.untrack(ID, "yes"));
    let new = h
        .store
        .track("a:3", "yes")
        .expect("takes the untracked book's place");
    assert_eq!(h.store.len(), 2);
    assert!(h.store.reader(ID, "yes").is_none());
    let o = old.snapshot(10);
    assert_eq!(
        (o.state, o.seq, o.bids.len()),
        (BookState::Disconnected, 10, 2)
    );
    assert_eq!(new.snapshot(1).state, BookState::AwaitingSnapshot);
    assert_eq!(
        h.send(r#"{"type":"orderbook","parsec_id":"a:3","outcome":"yes","bids":[[0.4,1]],"asks":[],"server_seq":7}"#),
        Applied::Snapshot
    );
    assert_eq!(
        (new.snapshot(1).state, new.snapshot(1).seq),
        (BookState::Fresh, 7)
    );
    assert_eq!(
        old.snapshot(1).seq,
        10,
        "the old book's readers keep their copy"
    );
    assert!(
        h.resyncs().is_empty(),
        "the old book's queued resync went with it"
    );
    assert_eq!(
        h.send(r#"{"type":"orderbook_delta","parsec_id":"a:3","outcome":"yes","changes":[],"server_seq":9}"#),
        Applied::Gap
    );
    let resyncs = h.resyncs();
    assert_eq!(resyncs.len(), 1, "one resync, for the new book");
    assert_eq!(&*resyncs[0].key.parsec_id, "a:3");
    // Both places taken and tracked: the next is refused.
    assert_eq!(
        h.store.track("a:4", "yes").unwrap_err(),
        StoreError::TooManyBooks { max: 2 }
    );
    assert_eq!(h.delta(13, &[]), Applied::Untracked, "the old book is gone");
}

#[test]
fn parse_errors_are_counted_and_nothing_else_changes() {
    let mut h = Harness::new();
    h.seeded();
    let mut bad = b"{\"type\":\"orderbook_delta\",\"parsec_id\":\"kal".to_vec();
    assert!(h.store.ingest(&mut h.parser, &mut bad, h.now).is_err());
    let mut unknown = br#"{"type":"brand_new"}"#.to_vec();
    assert!(h.store.ingest(&mut h.parser, &mut unknown, h.now).is_err());
    let c = h.store.counters();
    assert_eq!((c.parse_errors, c.ignored), (1, 1));
    assert_eq!(h.delta(11, &[]), Applied::Delta);
}

#[test]
fn crossed_book_during_replay_acts_as_gap_even_if_a_later_delta_uncrosses_it() {
    let mut h = Harness::new();
    h.seeded(); // seq 10, best ask 0.47
    h.delta(12, &[]); // gap: resyncing
    h.delta(11, &[("bid", "0.50", "1")]); // buffered: would cross the ask at 0.47
    h.delta(12, &[("ask", "0.47", "0")]); // buffered duplicate seq: first copy wins
    h.delta(13, &[("bid", "0.50", "0")]); // buffered: would uncross it
    h.resyncs();
    assert_eq!(
        h.snapshot(10, &[("0.45", "10")], &[("0.47", "3")]),
        Applied::Gap
    );
    assert_eq!(h.read().state, BookState::Resyncing);
    let c = h.store.counters();
    // 11 crossed the book: neither replayed nor discarded; both 12s and 13 discarded.
    assert_eq!((c.crossed, c.replayed, c.discarded, c.deltas), (1, 0, 3, 0));
    assert!(h.resyncs().is_empty(), "held back a while");
    h.now += SEC;
    h.store.poll(h.now);
    assert_eq!(h.resyncs().len(), 1);
}

#[test]
fn crossed_snapshot_acts_as_gap_even_if_a_buffered_delta_uncrosses_it() {
    let mut h = Harness::new();
    h.seeded(); // seq 10
    h.delta(12, &[]); // gap: resyncing
    h.delta(21, &[("bid", "0.47", "0")]); // buffered: would uncross the snapshot below
    h.resyncs();
    assert_eq!(
        h.snapshot(20, &[("0.47", "1"), ("0.45", "10")], &[("0.47", "3")]),
        Applied::Gap
    );
    let s = h.read();
    assert_eq!(
        s.state,
        BookState::Resyncing,
        "the snapshot itself was crossed"
    );
    assert_eq!(s.seq, 20);
    let c = h.store.counters();
    assert_eq!((c.crossed, c.replayed), (1, 0));
    // Nothing is replayed onto a bad snapshot: both buffered frames (12 and
    // 21) are discarded, and counted so.
    assert_eq!((c.buffered, c.discarded), (2, 2));
    assert!(h.resyncs().is_empty(), "held back a while");
    h.now += SEC;
    h.store.poll(h.now);
    assert_eq!(h.resyncs().len(), 1);
}

#[test]
fn snapshot_seq_may_jump_back_after_a_corrupt_frame_and_replay_goes_on() {
    let mut h = Harness::new();
    h.seeded(); // seq 10
    assert_eq!(h.delta(11, &[("bid", "0.47", "1")]), Applied::Gap); // crossed
    h.resyncs();
    // A new connection: its counter starts low again (rule A4.1).
    h.store.mark_disconnected();
    h.seeded(); // seq 10
    h.send(&format!(
        r#"{{"type":"resync_required","parsec_id":"{ID}","outcome":"yes"}}"#
    )); // resyncing, nothing buffered
    h.delta(4, &[("bid", "0.46", "2")]);
    h.delta(5, &[("ask", "0.48", "1")]);
    h.resyncs();
    assert_eq!(
        h.snapshot(3, &[("0.45", "10")], &[("0.47", "3")]),
        Applied::Snapshot
    );
    let s = h.read();
    assert_eq!(s.state, BookState::Fresh);
    assert_eq!(s.seq, 5, "both buffered deltas continue the snapshot");
    assert_eq!(prices(&s.bids), ["2@0.46", "10@0.45"]);
    assert_eq!(h.store.counters().replayed, 2);
}

#[test]
fn exchange_unavailable_makes_that_exchanges_books_stale_until_a_fresh_frame() {
    let mut h = Harness::new();
    h.seeded(); // kalshi, seq 10
    h.send(r#"{"type":"orderbook","parsec_id":"polymarket:0x1","outcome":"yes","bids":[[0.4,1]],"asks":[],"server_seq":3}"#);
    let other = h.store.reader("polymarket:0x1", "yes").unwrap();
    let applied = h.send(
        r#"{"type":"error","code":2003,"message":"exchange unavailable","parsec_id":"kalshi:KXOTHER"}"#,
    );
    assert_eq!(applied, Applied::NotBookState);
    assert_eq!(h.read().state, BookState::Stale, "a book of that exchange");
    assert_eq!(
        other.snapshot(1).state,
        BookState::Fresh,
        "another exchange's"
    );
    assert!(h.resyncs().is_empty(), "staleness alone sends no resync");
    // The next frame that says the book is fresh makes it so.
    h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":11,"book_state":"fresh"}}"#
    ));
    assert_eq!(h.read().state, BookState::Fresh);
    // Naming no market, it is read as every exchange's.
    h.send(r#"{"type":"error","code":2003,"message":"upstream stream error"}"#);
    assert_eq!(h.read().state, BookState::Stale);
    assert_eq!(other.snapshot(1).state, BookState::Stale);
    assert_eq!(h.store.counters().exchange_unavailable, 2);
    // Other errors change no book.
    h.seeded();
    h.send(
        r#"{"type":"error","code":2002,"message":"market not found","parsec_id":"kalshi:NOPE"}"#,
    );
    assert_eq!(h.read().state, BookState::Fresh);
}

/// A snapshot ends a 2003's staleness by the same rule as a delta: its
/// `book_state`, or a healthy feed; one whose feed is degraded or
/// disconnected and that says nothing of the book keeps it (A5).
#[test]
fn exchange_unavailable_outlives_a_snapshot_whose_feed_is_down() {
    let mut h = Harness::new();
    h.seeded(); // seq 10, neither field: a whole new book
    h.send(r#"{"type":"error","code":2003,"message":"exchange unavailable"}"#);
    let snap = |seq: u64, word: &str| {
        format!(
            r#"{{"type":"orderbook","parsec_id":"{ID}","outcome":"yes","bids":[[0.45,10]],"asks":[[0.47,3]],"server_seq":{seq}{word}}}"#
        )
    };
    assert_eq!(
        h.send(&snap(20, r#","feed_state":"disconnected""#)),
        Applied::Snapshot
    );
    assert_eq!(h.read().state, BookState::Stale, "the venue is still down");
    h.send(&snap(30, r#","feed_state":"healthy""#));
    assert_eq!(h.read().state, BookState::Fresh);
    h.send(r#"{"type":"error","code":2003,"message":"exchange unavailable"}"#);
    h.send(&snap(
        40,
        r#","book_state":"fresh","feed_state":"degraded""#,
    ));
    assert_eq!(
        h.read().state,
        BookState::Fresh,
        "the server's word on the book"
    );
    h.send(r#"{"type":"error","code":2003,"message":"exchange unavailable"}"#);
    h.send(&snap(50, ""));
    assert_eq!(h.read().state, BookState::Fresh, "no word against it");
}

/// `book_state` is optional on a delta: after a 2003, a delta without it
/// whose `feed_state` says healthy ends the staleness; one that says
/// neither, or a degraded feed, does not, and neither ends a `stale` the
/// server itself sent.
#[test]
fn exchange_unavailable_ends_on_a_healthy_feed_when_deltas_carry_no_book_state() {
    let mut h = Harness::new();
    h.seeded(); // seq 10
    h.send(r#"{"type":"error","code":2003,"message":"exchange unavailable"}"#);
    assert_eq!(h.read().state, BookState::Stale);
    assert_eq!(h.delta(11, &[("bid", "0.45", "3")]), Applied::Delta);
    assert_eq!(h.read().state, BookState::Stale, "no word on the venue");
    h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":12,"feed_state":"degraded"}}"#
    ));
    assert_eq!(h.read().state, BookState::Stale, "still degraded");
    h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":13,"feed_state":"healthy"}}"#
    ));
    let s = h.read();
    assert_eq!((s.state, s.seq), (BookState::Fresh, 13));
    assert!(h.resyncs().is_empty(), "staleness alone sends no resync");
    // The server's own `book_state: stale` stands until the server says
    // otherwise: a healthy feed without `book_state` does not end it.
    h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":14,"book_state":"stale"}}"#
    ));
    h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":15,"feed_state":"healthy"}}"#
    ));
    assert_eq!(h.read().state, BookState::Stale, "the server said stale");
    // A 2003 on top of it, then `book_state: fresh`: both end.
    h.send(r#"{"type":"error","code":2003,"message":"exchange unavailable"}"#);
    h.send(&format!(
        r#"{{"type":"orderbook_delta","parsec_id":"{ID}","outcome":"yes","changes":[],"server_seq":16,"book_state":"fresh"}}"#
    ));
    assert_eq!(h.read().state, BookState::Fresh);
}

/// The store finds a frame's book by the market token of the parser's runs
/// that read it; a book taken over by another market must never get a frame
/// of the market it held before, token or not.
#[test]
fn a_taken_over_book_gets_no_frame_of_its_old_market() {
    let mut h = Harness::with(StoreConfig {
        max_books: 1,
        ..StoreConfig::default()
    });
    // ID at seq 10; then enough deltas of one shape for the parser to read
    // them through their market's runs (learned, then built, then read).
    h.seeded();
    for seq in 11..16 {
        assert_eq!(h.delta(seq, &[("bid", "0.45", "11")]), Applied::Delta);
    }
    assert!(h.parser.stats().remembered >= 2, "{:?}", h.parser.stats());
    assert!(h.store.untrack(ID, "yes"));
    let new = h.store.track("a:3", "yes").expect("takes the slot over");
    h.send(r#"{"type":"orderbook","parsec_id":"a:3","outcome":"yes","bids":[[0.4,1]],"asks":[],"server_seq":7}"#);
    let remembered = h.parser.stats().remembered;
    // The old market's next delta, read through the same runs (same token).
    assert_eq!(h.delta(16, &[("bid", "0.45", "99")]), Applied::Untracked);
    assert_eq!(h.parser.stats().remembered, remembered + 1);
    let book = new.snapshot(10);
    assert_eq!((book.seq, book.bids.len()), (7, 1));
    assert_eq!(book.bids[0].size, Size::parse(b"1").unwrap());
    // And tracked again, it takes a slot of its own (after a snapshot).
    assert!(h.store.untrack("a:3", "yes"));
    h.store.track(ID, "yes").unwrap();
    assert_eq!(h.delta(17, &[]), Applied::DroppedBeforeSnapshot);
    assert_eq!(new.snapshot(10).seq, 7, "a:3's readers keep their copy");
}

/// Two parsers feeding one store (tokens are unique across parsers): each
/// parser's frames reach the book they name.
#[test]
fn frames_of_two_parsers_reach_their_own_books() {
    let mut store = BookStore::default();
    let mut parsers = [FrameParser::new(), FrameParser::new()];
    let ids = ["kalshi:A", "kalshi:B"];
    for (p, id) in parsers.iter_mut().zip(ids) {
        let mut snap = format!(
            r#"{{"type":"orderbook","parsec_id":"{id}","outcome":"yes","bids":[[0.4,1]],"asks":[],"server_seq":1}}"#
        )
        .into_bytes();
        assert_eq!(store.ingest(p, &mut snap, 1).unwrap().1, Applied::Snapshot);
    }
    for seq in 2..10u64 {
        for (k, (p, id)) in parsers.iter_mut().zip(ids).enumerate() {
            let mut delta = format!(
                r#"{{"type":"orderbook_delta","parsec_id":"{id}","outcome":"yes","changes":[{{"side":"bid","price":0.4,"size":{}}}],"server_seq":{seq}}}"#,
                seq * 10 + k as u64
            )
            .into_bytes();
            assert_eq!(store.ingest(p, &mut delta, 1).unwrap().1, Applied::Delta);
        }
    }
    assert!(parsers.iter().all(|p| p.stats().remembered > 0));
    for (k, id) in ids.iter().enumerate() {
        let book = store.reader(id, "yes").unwrap().snapshot(1);
        assert_eq!(book.seq, 9);
        assert_eq!(
            book.bids[0].size,
            Size::parse(format!("{}", 90 + k).as_bytes()).unwrap()
        );
    }
}
