//! Profiling probe: depth-10 reads of one book (used with callgrind).
#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    let mut store = wirebook::BookStore::new(wirebook::StoreConfig {
        depth: 50,
        ..Default::default()
    });
    let mut parser = wirebook::FrameParser::new();
    store
        .ingest(&mut parser, &mut common::snapshot(1000, 50), 1)
        .unwrap();
    let reader = store.reader("polymarket:0x1234abcd", "yes").unwrap();
    let mut snap = wirebook::BookSnapshot::with_depth(10);
    let n = 1_000_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        reader.read_into(10, &mut snap);
        std::hint::black_box(&snap);
    }
    println!("{:?} per read", t.elapsed() / n);
}
