//! `wirebook bench`: a latency report to paste into an issue: the machine,
//! the build, and per-stage percentiles of the client receiving a flood of
//! deltas from the embedded simulator over loopback.

use std::time::{Duration, Instant};

use wirebook::client::{ClientConfig, ParsecClient, Subscription};
use wirebook::sim::{SimConfig, Simulator};
use wirebook::BookState;

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Runs the flood for `duration` over `markets` markets and prints the report.
pub fn run(duration: Duration, markets: usize, json: bool) -> Result<(), String> {
    let sim = Simulator::start(SimConfig {
        markets,
        rate_hz: 0.0,
        flood: true,
        ..SimConfig::default()
    })
    .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let mut config = ClientConfig::new(sim.url(), "pk_bench");
    for id in sim.markets() {
        for outcome in ["yes", "no"] {
            config = config.subscribe(Subscription::new(id.clone()).outcome(outcome));
        }
    }
    let client = ParsecClient::connect(config).map_err(|e| e.to_string())?;
    let books = client.books();
    let applied = || books.iter().map(|b| b.snapshot(0).seq).sum::<u64>();
    // The count starts once every book has its snapshot (a snapshot adds
    // its whole seq to the sum), and ends with every book still live on the
    // same connection (a reconnect starts the seqs over, lower).
    let all_fresh = || {
        books
            .iter()
            .all(|b| b.snapshot(0).state == BookState::Fresh)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !all_fresh() {
        if Instant::now() > deadline {
            return Err("the books did not all get their snapshots in 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (start, t0) = (applied(), Instant::now());
    std::thread::sleep(duration);
    let frames = applied()
        .checked_sub(start)
        .filter(|_| all_fresh() && client.counters().connections == 1)
        .ok_or_else(|| "the connection dropped during the measurement: no figure".to_string())?;
    let secs = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(100));
    let report = client.latency();
    let c = client.counters();
    drop(client);
    let build = if cfg!(debug_assertions) {
        "debug (not --release: figures are not representative)"
    } else {
        "release"
    };
    let features: Vec<&str> = [
        ("sse4.2", cfg!(target_feature = "sse4.2")),
        ("avx2", cfg!(target_feature = "avx2")),
        ("bmi2", cfg!(target_feature = "bmi2")),
    ]
    .iter()
    .filter(|f| f.1)
    .map(|f| f.0)
    .collect();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    if json {
        say!(
            "{{\"wirebook\":\"{}\",\"cpu\":{:?},\"cores\":{},\"os\":\"{}-{}\",\"build\":\"{}\",\"target_features\":{:?},\"books\":{},\"seconds\":{:.3},\"frames\":{},\"frames_per_second\":{:.0},\"latency\":{}}}",
            env!("CARGO_PKG_VERSION"),
            cpu_model(),
            cores,
            std::env::consts::OS,
            std::env::consts::ARCH,
            if cfg!(debug_assertions) { "debug" } else { "release" },
            features,
            books.len(),
            secs,
            frames,
            frames as f64 / secs,
            report.to_json()
        );
        return Ok(());
    }
    say!("wirebook {} latency report", env!("CARGO_PKG_VERSION"));
    say!(
        "machine: {} ({} cores available), {}-{}",
        cpu_model(),
        cores,
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    say!(
        "build: {build}; compile-time target features: {}",
        if features.is_empty() {
            "baseline".to_owned()
        } else {
            features.join(", ")
        }
    );
    say!(
        "workload: simulator flood over loopback, {} books, 2-change deltas of ~350 bytes",
        books.len()
    );
    say!(
        "throughput: {frames} frames in {secs:.2}s = {:.0} frames/s ({:.0} ns a frame); gaps {}, parse errors {}",
        frames as f64 / secs,
        secs * 1e9 / frames.max(1) as f64,
        c.store.gaps,
        c.store.parse_errors
    );
    say!("latency by stage (engine clock; wire clocks compare hosts' wall clocks):");
    for line in crate::view::stages_text(&report) {
        say!("  {line}");
    }
    Ok(())
}
