//! Profiling probe: parses the frame given as the first argument 100 000 times.
fn main() {
    let frame = std::env::args().nth(1).expect("a frame");
    let mut buf = frame.into_bytes();
    let mut parser = wirebook::FrameParser::new();
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    for _ in 0..n {
        std::hint::black_box(parser.parse(&mut buf).is_ok());
    }
    eprintln!("{:?}", parser.stats());
}
