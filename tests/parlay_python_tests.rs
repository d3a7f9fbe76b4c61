//! The quickstart's clients against the simulator's odds stream, which they
//! must use unchanged but for the URL: a Python client written like the
//! quickstart's (the `websockets` library, the key in the query string), a
//! Node one (the `ws` package), and the curl handshake. Each runs when its
//! tool is present (`.ci/run` installs `websockets` and `ws`); otherwise the
//! test says so and passes.

use std::process::Command;

use wirebook::sim::{SimConfig, Simulator};

fn python_with_websockets() -> bool {
    Command::new("python3")
        .args(["-c", "import websockets"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_quickstart_python_client_works_against_the_simulator() {
    if !python_with_websockets() {
        eprintln!("skipped: python3 with the websockets package is not installed (pip install websockets)");
        return;
    }
    let sim = Simulator::start(SimConfig {
        rate_hz: 0.0,
        odds_interval: std::time::Duration::from_millis(200),
        ..SimConfig::default()
    })
    .unwrap();
    let url = format!(
        "{}?apiKey=pk_scale_python",
        sim.parlay_url("basketball_nba", false)
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/odds_stream.py");
    let out = Command::new("python3")
        .args([script, &url, "2.5"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "[connected] tier=scale push_mode=raw", "{stdout}");
    assert!(
        lines[1].starts_with("[snapshot] ") && lines[1].ends_with(" rows"),
        "{stdout}"
    );
    assert!(
        lines.iter().filter(|l| l.starts_with("[update] ")).count() >= 3,
        "{stdout}"
    );
    // The flat row shape, with every field the quickstart prints.
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" h2h ") && l.contains(" -> ")),
        "{stdout}"
    );
}

/// The seed's curl handshake with `key` in the `X-API-Key` header.
fn curl_handshake(url: &str, key: &str) -> std::process::Output {
    Command::new("curl")
        .args(["--include", "--no-buffer", "--max-time", "2"])
        .args(["--header", "Connection: Upgrade"])
        .args(["--header", "Upgrade: websocket"])
        .args(["--header", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
        .args(["--header", "Sec-WebSocket-Version: 13"])
        .args(["--header", &format!("X-API-Key: {key}"), url])
        .output()
        .unwrap()
}

#[test]
fn the_quickstart_curl_handshake_gets_101() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let sim = Simulator::start(SimConfig {
        rate_hz: 0.0,
        ..SimConfig::default()
    })
    .unwrap();
    // The seed's command, with the URL pointed at the simulator (http:// for its ws://).
    let url = sim
        .parlay_url("baseball_mlb", false)
        .replace("ws://", "http://");
    let out = curl_handshake(&url, "pk_scale_curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols"),
        "{text}"
    );
    // A bad key is refused after the handshake with close 1008 (the close frame's first bytes: 0x88, len, 0x03 0xf0).
    let bad = curl_handshake(&url, "pk_invalid");
    assert!(
        bad.stdout.windows(2).any(|w| w == [0x03, 0xf0]),
        "close code 1008 in the body"
    );
}

#[test]
fn the_quickstart_node_client_works_against_the_simulator() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node");
    let has_ws = std::path::Path::new(dir).join("node_modules/ws").exists();
    if !has_ws || Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped: node with the ws package is not installed (npm install --prefix tests/node ws)");
        return;
    }
    let sim = Simulator::start(SimConfig {
        rate_hz: 0.0,
        odds_interval: std::time::Duration::from_millis(200),
        ..SimConfig::default()
    })
    .unwrap();
    let url = format!(
        "{}?apiKey=pk_scale_node",
        sim.parlay_url("basketball_nba", false)
    );
    let out = Command::new("node")
        .args([&format!("{dir}/odds_stream.mjs"), &url, "2.5"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[open] connected"), "{stdout}");
    assert!(
        stdout.contains("[connected] tier=scale push_mode=raw"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("[snapshot] ")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .filter(|l| l.starts_with("[update] "))
            .count()
            >= 3,
        "{stdout}"
    );
}
