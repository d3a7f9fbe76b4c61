//! A Python client written like the quickstart's (the `websockets` library,
//! the key in the query string) against the simulator's odds stream: it must
//! work unchanged except for the URL. Runs when `python3` with `websockets`
//! is present (`.ci/run` installs it); otherwise it says so and passes.

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
