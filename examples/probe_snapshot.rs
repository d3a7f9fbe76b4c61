//! Profiling probe: parsing a 50-level snapshot (used with callgrind).
#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    let mut parser = wirebook::FrameParser::new();
    let mut buf = common::snapshot(1000, 50);
    let n = 20_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(parser.parse(&mut buf).is_ok());
    }
    println!(
        "{} bytes, {:?} per parse, {:?}",
        buf.len(),
        t.elapsed() / n,
        parser.stats()
    );
}
