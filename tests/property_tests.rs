//! Random frame streams with gaps, duplicates, reorders, resync snapshots and
//! crossed updates, checked against a BTreeMap reference model after every frame.

mod common;

use common::model::{Model, Op, BOOKS};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    let book = 0..BOOKS;
    let changes = prop::collection::vec((any::<bool>(), 1u8..=49, 0u8..=4), 0..4);
    prop_oneof![
        6 => (book.clone(), changes.clone()).prop_map(|(book, changes)| Op::Delta { book, changes }),
        1 => (book.clone(), changes).prop_map(|(book, changes)| Op::Drop { book, changes }),
        1 => book.clone().prop_map(|book| Op::Duplicate { book }),
        1 => book.clone().prop_map(|book| Op::Reorder { book }),
        1 => book.clone().prop_map(|book| Op::ResyncRequired { book }),
        1 => book.clone().prop_map(|book| Op::Crossed { book }),
        1 => book.prop_map(|book| Op::Snapshot { book }),
        2 => (0u8..4).prop_map(|lag| Op::Answer { lag }),
        1 => (0u8..8).prop_map(|seconds| Op::Wait { seconds }),
    ]
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a longer run.
    #![proptest_config(ProptestConfig::default())]

    /// Every published snapshot is sorted, has no zero levels, is never crossed
    /// while Fresh, and equals the model whenever it is Fresh.
    #[test]
    fn published_books_match_the_model(ops in prop::collection::vec(op(), 1..200)) {
        let mut model = Model::new();
        for op in &ops {
            model.run(op);
        }
        model.run(&Op::Answer { lag: 0 });
        prop_assert!(model.fresh_checks > 0, "the model compared no Fresh book");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    /// The same with books deeper than the published depth (8 levels of up to
    /// 49): readers see exactly the top 8 while the window's lower end moves.
    #[test]
    fn shallow_publication_of_deep_books_matches_the_model(ops in prop::collection::vec(op(), 1..200)) {
        let mut model = Model::with_depth(8);
        for op in &ops {
            model.run(op);
        }
        model.run(&Op::Answer { lag: 0 });
        prop_assert!(model.fresh_checks > 0, "the model compared no Fresh book");
    }
}

/// After the storm, answering the resyncs brings every book back to Fresh = truth.
#[test]
fn books_recover_after_every_kind_of_fault() {
    let mut model = Model::new();
    let storm = [
        Op::Drop {
            book: 0,
            changes: vec![(true, 5, 1)],
        },
        Op::Delta {
            book: 0,
            changes: vec![(true, 6, 2)],
        },
        Op::Reorder { book: 1 },
        Op::Crossed { book: 0 },
        Op::Duplicate { book: 1 },
        Op::ResyncRequired { book: 1 },
        Op::Delta {
            book: 1,
            changes: vec![(false, 4, 3)],
        },
        Op::Answer { lag: 1 },
        Op::Delta {
            book: 0,
            changes: vec![(false, 10, 1)],
        },
        Op::Delta {
            book: 1,
            changes: vec![(true, 11, 1)],
        },
    ];
    for op in &storm {
        model.run(op);
    }
    model.run(&Op::Answer { lag: 0 });
    let c = model.store.counters();
    assert!(
        c.gaps >= 4 && c.crossed == 1 && c.replayed >= 1 && c.buffered >= 1,
        "{c:?}"
    );
    let checks = model.fresh_checks;
    model.check();
    assert_eq!(
        model.fresh_checks,
        checks + 2,
        "both books Fresh and equal to the truth"
    );
}

/// The model delivers every other frame through `apply_message`, whose
/// deltas of learned markets skip the frame: those deltas meet the same
/// checks after every frame as the ones `ingest` applies, faults included.
#[test]
fn deltas_applied_without_a_frame_match_the_model() {
    let mut model = Model::new();
    for i in 0..400u32 {
        let book = (i as usize * 7) % common::model::BOOKS;
        let tick = (i % 40) as u8 + 1;
        let op = match i % 20 {
            3 => Op::Drop {
                book,
                changes: vec![(true, tick, 2)],
            },
            8 => Op::Answer { lag: 1 },
            15 => Op::Duplicate { book },
            _ => Op::Delta {
                book,
                changes: vec![
                    (i % 2 == 0, tick, (i % 5) as u8),
                    (i % 3 == 0, 49 - tick, 1),
                ],
            },
        };
        model.run(&op);
    }
    model.run(&Op::Answer { lag: 0 });
    assert!(
        model.direct > 100,
        "{} deltas went straight to their books",
        model.direct
    );
    assert!(model.fresh_checks > 300, "{}", model.fresh_checks);
    let c = model.store.counters();
    assert!(
        c.gaps >= 15 && c.duplicates >= 15 && c.replayed > 0,
        "{c:?}"
    );
}
