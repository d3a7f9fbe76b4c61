//! Capture and replay: a client records what it receives from the simulator;
//! the capture replays (through the library and through `wirebook replay`)
//! to the books the client had, deterministically, and a cut capture replays
//! up to the cut with a warning.

mod net;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use net::{all_books, assert_converges, config, simulator};
use wirebook::capture::{CaptureReader, FrameKind};
use wirebook::client::{ClientConfig, ParsecClient};
use wirebook::sim::{Fault, FaultRates, SimConfig};
use wirebook::{BookStore, FrameParser, StoreConfig};

const BIN: &str = env!("CARGO_BIN_EXE_wirebook");

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("wirebook-{}-{name}", std::process::id()))
}

/// A book as the client ended: parsec_id, outcome, seq, bids, asks.
type FinalBook = (
    String,
    String,
    u64,
    Vec<wirebook::Level>,
    Vec<wirebook::Level>,
);

/// Records a faulty session of 3 markets; returns the capture, the client's
/// final books and how many messages it received.
fn record_session(name: &str) -> (PathBuf, Vec<FinalBook>, u64) {
    let path = temp(name);
    let faults = FaultRates::none()
        .with(Fault::Gap, 0.01)
        .with(Fault::Duplicate, 0.01)
        .with(Fault::Malformed, 0.01);
    let sim = simulator(SimConfig {
        markets: 3,
        rate_hz: 400.0,
        faults,
        ..SimConfig::default()
    });
    let cfg = all_books(3)
        .into_iter()
        .fold(config(&sim, "pk_capture"), ClientConfig::subscribe)
        .record(&path);
    let client = ParsecClient::connect(cfg).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    sim.set_faults(FaultRates::none());
    std::thread::sleep(Duration::from_millis(300));
    assert_converges(&sim, &client, 50, Duration::from_secs(10));
    let books = client
        .books()
        .iter()
        .map(|r| {
            let s = r.snapshot(50);
            (
                r.parsec_id().to_owned(),
                r.outcome().to_owned(),
                s.seq,
                s.bids,
                s.asks,
            )
        })
        .collect();
    let frames = client.counters().frames;
    assert!(client.shutdown().is_none());
    (path, books, frames)
}

#[test]
fn a_capture_replays_to_the_books_the_client_had() {
    let (path, books, frames) = record_session("replay");
    let file = std::fs::read(&path).unwrap();
    let captured: Vec<_> = CaptureReader::new(&file[..])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        captured.len() as u64,
        frames,
        "every received message is in the capture"
    );
    assert!(captured
        .windows(2)
        .all(|w| w[0].received_ns <= w[1].received_ns));
    // Text frames, but for the simulator's malformed binary one, kept as binary.
    assert!(captured
        .iter()
        .filter(|f| f.kind == FrameKind::Binary)
        .all(|f| std::str::from_utf8(&f.payload).is_err()));

    // Through the library: the same parser and store give the same books.
    let mut store = BookStore::new(StoreConfig::default());
    let mut parser = FrameParser::new();
    for f in &captured {
        let mut buf = f.payload.clone();
        let _ = store.ingest(&mut parser, &mut buf, f.received_ns);
    }
    assert!(
        store.counters().gaps > 0 && store.counters().parse_errors > 0,
        "the faults are in the capture: {:?}",
        store.counters()
    );
    for (id, outcome, seq, bids, asks) in &books {
        let snap = store
            .reader(id, outcome)
            .expect("the book is in the replay")
            .snapshot(50);
        assert_eq!(
            (snap.seq, &snap.bids, &snap.asks),
            (*seq, bids, asks),
            "{id} {outcome}"
        );
    }

    // Through `wirebook replay --json`, twice: identical output.
    let run = || {
        Command::new(BIN)
            .arg("replay")
            .arg(&path)
            .args(["--json", "--depth", "50"])
            .output()
            .unwrap()
    };
    let (a, b) = (run(), run());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let deterministic = |o: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with("{\"latency\""))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        deterministic(&a),
        deterministic(&b),
        "replay is deterministic"
    );
    let lines = deterministic(&a);
    let counters: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(
        counters["counters"]["gaps"].as_u64(),
        Some(store.counters().gaps)
    );
    // The last line of each book is the client's final book.
    for (id, outcome, seq, _, _) in &books {
        let last = lines
            .iter()
            .rev()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| {
                v["parsec_id"] == id.as_str()
                    && v["outcome"]
                        .as_str()
                        .is_some_and(|o| o.eq_ignore_ascii_case(outcome))
            })
            .unwrap_or_else(|| panic!("a line for {id} {outcome}"));
        assert_eq!(last["seq"].as_u64(), Some(*seq));
    }
    let latency: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&a.stdout).lines().last().unwrap()).unwrap();
    assert!(latency["latency"]["total"]["count"].as_u64().unwrap() > 0);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_cut_capture_replays_up_to_the_cut_with_a_warning() {
    let (path, _, frames) = record_session("cut");
    let file = std::fs::read(&path).unwrap();
    let cut = temp("cut-half");
    std::fs::write(&cut, &file[..file.len() / 2 + 7]).unwrap();
    let out = Command::new(BIN).arg("replay").arg(&cut).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: capture truncated at byte"),
        "{stderr}"
    );
    let replayed: u64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("replayed ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
        })
        .expect("a replayed line");
    assert!(replayed > 0 && replayed < frames, "{replayed} of {frames}");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&cut);
}

#[test]
fn a_capture_with_receive_times_at_the_end_of_the_clock_replays() {
    // Receive times are read from the file, which may hold anything: the
    // replay's poll schedule saturates instead of overflowing (a debug build,
    // as tests run the binary, panicked on `t + 100 ms`).
    let path = temp("clock-end.cap");
    let mut file = Vec::new();
    let mut w = wirebook::capture::CaptureWriter::new(&mut file).unwrap();
    let book = br#"{"type":"orderbook","parsec_id":"a:b","outcome":"yes","bids":[[0.4,10]],"asks":[[0.6,5]],"server_seq":1}"#;
    let delta = br#"{"type":"orderbook_delta","parsec_id":"a:b","outcome":"yes","changes":[{"side":"bid","price":0.41,"size":3}],"server_seq":2}"#;
    w.write_frame(u64::MAX - 1, FrameKind::Text, book).unwrap();
    w.write_frame(u64::MAX, FrameKind::Text, delta).unwrap();
    std::fs::write(&path, &file).unwrap();
    let out = Command::new(BIN)
        .arg("replay")
        .arg(&path)
        .args(["--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""seq":2"#), "{stdout}");
    let _ = std::fs::remove_file(&path);
}
