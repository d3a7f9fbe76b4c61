//! The `wirebook` command, run as a process: the default run without a key,
//! `sim` with `watch --json` against it, and the fatal paths' exit codes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_wirebook");

#[test]
fn the_default_run_needs_no_key_and_ends_with_a_summary() {
    let out = Command::new(BIN)
        .args(["--duration", "2.5"])
        .env_remove("PARSEC_API_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not a terminal: one plain line a second, then the summary.
    let ticks = stdout.lines().filter(|l| l.starts_with("t=")).count();
    assert!(ticks >= 2, "{stdout}");
    assert!(stdout.contains("books=12"), "{stdout}");
    assert!(stdout.contains("latency by stage:"), "{stdout}");
    for stage in [
        "parse",
        "apply",
        "publish",
        "total",
        "exchange_to_receive",
        "ingest_to_receive",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(stage) && l.contains("p99.9")),
            "{stage}: {stdout}"
        );
    }
}

#[test]
fn watch_json_prints_one_book_per_line_from_the_simulator() {
    let mut sim = Command::new(BIN)
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--markets",
            "3",
            "--rate",
            "200",
            "--duration",
            "20",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .expect("the sim prints its URL")
        .to_owned();
    let out = Command::new(BIN)
        .args([
            "watch",
            "--url",
            &url,
            "--market",
            "sim:0",
            "--market",
            "sim:2:NO",
            "--depth",
            "5",
            "--json",
            "--duration",
            "1.5",
        ])
        .output()
        .unwrap();
    let _ = sim.kill();
    let _ = sim.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    // Book lines, and a latency line a second.
    let (latency, lines): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|l| l.get("latency").is_some());
    assert!(!latency.is_empty(), "a latency line");
    assert!(
        latency[0]["latency"]["total"]["count"].as_u64().unwrap() > 0,
        "{}",
        latency[0]
    );
    assert!(lines.len() > 10, "{} lines", lines.len());
    for l in &lines {
        let books = [("sim:0", "yes"), ("sim:2", "no")];
        assert!(
            books.contains(&(
                l["parsec_id"].as_str().unwrap(),
                l["outcome"].as_str().unwrap()
            )),
            "{l}"
        );
        assert!(l["seq"].as_u64().is_some() && l["state"].is_string(), "{l}");
        for side in ["bids", "asks"] {
            let levels = l[side].as_array().unwrap();
            assert!(levels.len() <= 5, "depth 5: {l}");
            assert!(
                levels
                    .iter()
                    .all(|p| p[0].as_f64().unwrap() > 0.0 && p[1].as_f64().unwrap() > 0.0),
                "{l}"
            );
        }
    }
    assert!(lines.iter().any(|l| l["state"] == "fresh"));
}

#[test]
fn fatal_errors_exit_non_zero_with_one_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(BIN)
        .args([
            "watch",
            "--url",
            &format!("ws://127.0.0.1:{port}/ws"),
            "--market",
            "sim:0",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("wirebook: cannot connect to ws://127.0.0.1:"),
        "{stderr}"
    );

    let out = Command::new(BIN)
        .args(["watch", "--market", "kalshi:X"])
        .env_remove("PARSEC_API_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PARSEC_API_KEY is not set"));

    let sim = wirebook::sim::Simulator::start(Default::default()).unwrap();
    let out = Command::new(BIN)
        .args(["watch", "--url", &sim.url(), "--market", "sim:0"])
        .env("PARSEC_API_KEY", "pk_invalid")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        stderr.trim(),
        "wirebook: authentication rejected (code 1002): invalid api key"
    );
    assert_eq!(sim.stats().connections, 1, "no reconnect loop");
}

#[test]
fn odds_without_a_key_runs_on_the_simulator() {
    let out = Command::new(BIN)
        .args([
            "odds",
            "--sport",
            "basketball_nba",
            "--json",
            "--edge",
            "0.01",
            "--duration",
            "3",
        ])
        .env_remove("PARLAY_API_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert_eq!(lines[0]["connected"]["tier"], "scale");
    let best: Vec<_> = lines.iter().filter_map(|l| l.get("best")).collect();
    assert!(!best.is_empty());
    for b in best {
        assert!(b["price_american"].as_i64().unwrap().abs() >= 100);
        let implied = b["implied"].as_f64().unwrap();
        assert!(implied > 0.0 && implied < 1.0, "{b}");
    }
    let err = Command::new(BIN)
        .args([
            "odds",
            "--sport",
            "basketball_nba",
            "--url",
            "ws://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr)
        .starts_with("wirebook: cannot connect to ws://127.0.0.1:1/v1/ws/odds/basketball_nba"));
}

#[test]
fn bench_prints_a_report_to_paste_into_an_issue() {
    let out = Command::new(BIN)
        .args(["bench", "--duration", "0.5"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "latency report",
        "machine: ",
        "build: ",
        "throughput: ",
        "frames/s",
        "total",
        "parse",
        "publish",
    ] {
        assert!(stdout.contains(needle), "{needle}: {stdout}");
    }
    let out = Command::new(BIN)
        .args(["bench", "--duration", "0.3", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(
        v["frames"].as_u64().unwrap() > 0 && v["latency"]["total"]["count"].as_u64().unwrap() > 0,
        "{v}"
    );
}

/// Out-of-range arguments are refused as usage errors (exit 2, one message),
/// never a panic or an allocation the size of the number.
#[test]
fn out_of_range_arguments_are_usage_errors_not_panics() {
    for args in [
        &["--duration", "inf"][..],
        &["--duration", "1e300"],
        &["--duration=-1"],
        &["--rate", "inf"],
        &["--markets", "0"],
        &["--markets", "18446744073709551615"],
        &["bench", "--duration", "nan"],
        &["replay", "x.cap", "--depth", "18446744073709551615"],
        &["replay", "x.cap", "--speed", "1e-300x"],
        &["sim", "--depth", "4294967295"],
        &["watch", "--market", "kalshi:X", "--depth", "0"],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("PARSEC_API_KEY")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error: invalid value"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
