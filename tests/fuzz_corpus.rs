//! The fuzz targets' bodies over the checked-in seed corpus (`fuzz/corpus/`),
//! so `cargo test` runs them without cargo-fuzz.

mod common;

use std::path::Path;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                bytes,
            )
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "corpus {target} has only {} files",
        files.len()
    );
    files
}

#[test]
fn parse_frame_corpus() {
    for (name, data) in corpus("parse_frame") {
        eprintln!("{name}");
        common::fuzz::parse_frame(&data);
    }
}

#[test]
fn parse_differential_corpus() {
    let mut accepted = 0;
    for (name, data) in corpus("parse_differential") {
        eprintln!("{name}");
        common::fuzz::parse_differential(&data);
        accepted += usize::from(wirebook::FrameParser::new().parse_fast(&data).is_some());
    }
    assert!(
        accepted >= 5,
        "the fast path accepted only {accepted} seeds"
    );
}

#[test]
fn book_ops_corpus() {
    for (name, data) in corpus("book_ops") {
        eprintln!("{name}");
        common::fuzz::book_ops(&data);
    }
}
