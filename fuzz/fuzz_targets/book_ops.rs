//! Fuzz target `book_ops`; its body is shared with `tests/fuzz_corpus.rs`.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::fuzz::book_ops(data));
