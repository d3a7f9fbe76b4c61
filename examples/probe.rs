//! Profiling probe: the hot path over a delta stream (used with callgrind).
#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    let mut store = wirebook::BookStore::new(wirebook::StoreConfig {
        depth: 50,
        ..Default::default()
    });
    let mut parser = wirebook::FrameParser::new();
    let mut frames = common::delta_stream(1000, 4096);
    let rounds = 100;
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        let mut snap = common::snapshot(1000, 50);
        store.ingest(&mut parser, &mut snap, 1).unwrap();
        for f in &mut frames {
            std::hint::black_box(store.ingest(&mut parser, f, 1).is_ok());
        }
    }
    let n = rounds * frames.len() as u32;
    println!("{:?} per frame, {:?}", t.elapsed() / n, store.counters());
}
