//! `wirebook`: live order books from the command line.
//!
//! - `wirebook` (what `cargo run --release` runs): the embedded simulator on
//!   loopback with faults on, the client connected to it, a live view.
//! - `wirebook sim`: the simulator alone, for any client.
//! - `wirebook watch`: books of the real service (key from `PARSEC_API_KEY`)
//!   or of any `--url`, as a live view or JSON lines.

/// `println!` that ignores a closed standard output (`wirebook sim | head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod bench;
mod json;
mod odds;
mod replay;
mod view;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};
use wirebook::client::{ClientConfig, ParsecClient, Subscription};
use wirebook::sim::{Fault, FaultRates, SimConfig, Simulator};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The real service.
const PARSEC_URL: &str = "wss://api.parsecapi.com/ws";

#[derive(Parser)]
#[command(
    name = "wirebook",
    version,
    about = "Live order books from market-data WebSockets"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    demo: DemoArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the simulator alone, for any client to connect to.
    Sim(SimArgs),
    /// Watch books of the real service (key from PARSEC_API_KEY) or of --url.
    Watch(WatchArgs),
    /// Stream Parlay odds: best price per outcome and which book has it, edge alerts.
    Odds(OddsArgs),
    /// Feed a capture (from --record) through the parser and store again.
    Replay(ReplayArgs),
    /// Measure the receive path on this machine and print a latency report.
    Bench(BenchArgs),
}

#[derive(Args)]
struct OddsArgs {
    /// Server base such as ws://127.0.0.1:9000 (default: the real service,
    /// wss://parlay-api.com, or the embedded simulator without PARLAY_API_KEY).
    #[arg(long)]
    url: Option<String>,
    /// Sport key, e.g. basketball_nba.
    #[arg(long)]
    sport: String,
    /// Live games only (/v1/ws/live/).
    #[arg(long)]
    live: bool,
    /// Only this event.
    #[arg(long)]
    event: Option<String>,
    /// Edge alerts at this move of implied probability (0.02 = 2 points).
    #[arg(long)]
    edge: Option<f64>,
    /// JSON lines instead of the board.
    #[arg(long)]
    json: bool,
    /// Stop after this many seconds.
    #[arg(long, value_parser = seconds)]
    duration: Option<f64>,
    /// A certificate (DER) to trust.
    #[arg(long)]
    trust: Option<std::path::PathBuf>,
}

#[derive(Args)]
struct ReplayArgs {
    /// The capture file.
    file: std::path::PathBuf,
    /// `max`, or the captured pace times a factor (`1x`, `10x`).
    #[arg(long, default_value = "max")]
    speed: replay::Speed,
    /// Book-change lines (as `watch --json`), then a counters line and a latency line.
    #[arg(long)]
    json: bool,
    /// Levels per side in book lines (1 to 100).
    #[arg(long, default_value_t = 10, value_parser = depth())]
    depth: usize,
}

#[derive(Args)]
struct BenchArgs {
    /// Seconds to measure.
    #[arg(long, default_value_t = 5.0, value_parser = seconds)]
    duration: f64,
    /// Markets of the simulator (two books each).
    #[arg(long, default_value_t = 4, value_parser = markets())]
    markets: usize,
    /// One JSON object instead of the text report.
    #[arg(long)]
    json: bool,
}

/// The default run: simulator + client + live view.
#[derive(Args)]
struct DemoArgs {
    /// Stop after this many seconds (default: until Ctrl-C or q).
    #[arg(long, value_parser = seconds)]
    duration: Option<f64>,
    /// Markets of the embedded simulator.
    #[arg(long, default_value_t = 6, value_parser = markets())]
    markets: usize,
    /// Book updates per second of the embedded simulator.
    #[arg(long, default_value_t = 300.0, value_parser = rate)]
    rate: f64,
    /// Faults, e.g. `all=0.01` or `gap=0.01,disconnect=0.001` (`none` for none).
    #[arg(long, default_value = "all=0.002,silence=0")]
    faults: String,
    /// Seed of the simulated books and faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write every received frame to this capture file (replay it with `wirebook replay`).
    #[arg(long)]
    record: Option<std::path::PathBuf>,
}

#[derive(Args)]
struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Serve wss:// with a certificate generated at start (written to --cert-out).
    #[arg(long)]
    tls: bool,
    /// Where to write the generated certificate (DER) with --tls.
    #[arg(long, default_value = "wirebook-sim-cert.der")]
    cert_out: std::path::PathBuf,
    /// Faults, e.g. `all=0.01` or `gap=0.01,disconnect=0.001`.
    #[arg(long, default_value = "none")]
    faults: String,
    /// Number of markets (sim:0 ..).
    #[arg(long, default_value_t = 8, value_parser = markets())]
    markets: usize,
    /// Book updates per second over all books.
    #[arg(long, default_value_t = 100.0, value_parser = rate)]
    rate: f64,
    /// Levels per side of every book (1 to 48).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=48))]
    depth: u16,
    /// Seed of the books and faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Activity frames share the book's server_seq.
    #[arg(long)]
    activity_shares_seq: bool,
    /// Stop after this many seconds.
    #[arg(long, value_parser = seconds)]
    duration: Option<f64>,
}

#[derive(Args)]
struct WatchArgs {
    /// Server URL (default: the real service, wss://api.parsecapi.com/ws).
    #[arg(long)]
    url: Option<String>,
    /// Book to watch: PARSEC_ID or PARSEC_ID:OUTCOME (repeatable), e.g.
    /// kalshi:KXBTC-26MAR10 or polymarket:0x1234abcd:no.
    #[arg(long = "market", required = true)]
    markets: Vec<String>,
    /// Levels per side (1 to 100).
    #[arg(long, default_value_t = 10, value_parser = depth())]
    depth: usize,
    /// One JSON object per line per book change instead of the live view.
    #[arg(long)]
    json: bool,
    /// Stop after this many seconds.
    #[arg(long, value_parser = seconds)]
    duration: Option<f64>,
    /// A certificate (DER) to trust, e.g. the one `wirebook sim --tls` wrote.
    #[arg(long)]
    trust: Option<std::path::PathBuf>,
    /// Write every received frame to this capture file (replay it with `wirebook replay`).
    #[arg(long)]
    record: Option<std::path::PathBuf>,
}

/// Set by Ctrl-C; every loop checks it.
fn interrupted() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    // If a handler cannot be installed, Ctrl-C still ends the process (without the summary).
    let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
    flag
}

/// Longest `--duration` (a year, in seconds).
const MAX_SECONDS: f64 = 365.0 * 86_400.0;

/// A `--duration`: seconds, from 0 to a year.
fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=MAX_SECONDS).contains(&v) => Ok(v),
        _ => Err(format!("expected seconds from 0 to {MAX_SECONDS}")),
    }
}

/// A `--depth`: levels per side, 1 to `wirebook::MAX_DEPTH`.
fn depth() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=wirebook::MAX_DEPTH as u64)
}

/// A simulator's `--rate`: updates a second, above 0 and at most the simulator's bound.
fn rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= wirebook::sim::MAX_SIM_RATE_HZ => Ok(v),
        _ => Err(format!(
            "expected updates a second above 0 and at most {}",
            wirebook::sim::MAX_SIM_RATE_HZ
        )),
    }
}

/// A `--markets` count of the simulator: 1 to its bound.
fn markets() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=wirebook::sim::MAX_SIM_MARKETS as u64)
}

fn deadline(duration: Option<f64>) -> Option<Instant> {
    duration.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => demo(cli.demo),
        Some(Command::Sim(args)) => sim(args),
        Some(Command::Watch(args)) => watch(args),
        Some(Command::Odds(args)) => odds_cmd(args),
        Some(Command::Replay(args)) => replay::run(&args.file, args.speed, args.json, args.depth),
        Some(Command::Bench(args)) => bench::run(
            std::time::Duration::from_secs_f64(args.duration.max(0.1)),
            args.markets.max(1),
            args.json,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wirebook: {message}");
            ExitCode::FAILURE
        }
    }
}

fn demo(args: DemoArgs) -> Result<(), String> {
    let faults = FaultRates::parse(&args.faults)?;
    let sim = Simulator::start(SimConfig {
        markets: args.markets,
        rate_hz: args.rate,
        seed: args.seed,
        faults,
        ..SimConfig::default()
    })
    .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let mut config = ClientConfig::new(sim.url(), "pk_demo");
    for id in sim.markets() {
        for outcome in ["yes", "no"] {
            config = config.subscribe(Subscription::new(id.clone()).outcome(outcome).depth(10));
        }
    }
    if let Some(path) = &args.record {
        config = config.record(path);
    }
    let client = ParsecClient::connect(config).map_err(|e| e.to_string())?;
    let title = format!(
        "wirebook demo: simulator at {} ({} markets, faults {})",
        sim.url(),
        args.markets,
        describe(&faults)
    );
    let end = deadline(args.duration);
    run_view(&client, Some(&sim), &title, end)?;
    if let Some(e) = client.shutdown() {
        return Err(e.to_string());
    }
    Ok(())
}

fn describe(faults: &FaultRates) -> String {
    let on: Vec<String> = Fault::ALL
        .iter()
        .filter(|&&f| faults.get(f) > 0.0)
        .map(|&f| format!("{}={}", f.name(), faults.get(f)))
        .collect();
    if on.is_empty() {
        "none".into()
    } else {
        on.join(",")
    }
}

/// The live view on a terminal, one summary line a second otherwise; a summary at the end.
fn run_view(
    client: &ParsecClient,
    sim: Option<&Simulator>,
    title: &str,
    end: Option<Instant>,
) -> Result<(), String> {
    let stop = interrupted();
    let started = Instant::now();
    if std::io::stdout().is_terminal() {
        view::live(client, sim, title, end, &stop).map_err(|e| format!("terminal: {e}"))?;
    } else {
        say!("{title}");
        let mut next = Instant::now() + Duration::from_secs(1);
        while !stop.load(Ordering::SeqCst)
            && end.is_none_or(|e| Instant::now() < e)
            && client.error().is_none()
        {
            std::thread::sleep(Duration::from_millis(20));
            if Instant::now() >= next {
                next += Duration::from_secs(1);
                say!("{}", view::summary_line(client, started.elapsed()));
            }
        }
    }
    say!("{}", view::final_summary(client, started.elapsed()));
    match client.error() {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}

fn sim(args: SimArgs) -> Result<(), String> {
    let faults = FaultRates::parse(&args.faults)?;
    let sim = Simulator::start(SimConfig {
        listen: args.listen,
        tls: args.tls,
        markets: args.markets,
        rate_hz: args.rate,
        depth: usize::from(args.depth),
        seed: args.seed,
        activity_shares_seq: args.activity_shares_seq,
        faults,
        ..SimConfig::default()
    })
    .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    say!("wirebook sim: Parsec protocol at {}", sim.url());
    if let Some(cert) = sim.certificate_der() {
        std::fs::write(&args.cert_out, cert)
            .map_err(|e| format!("{}: {e}", args.cert_out.display()))?;
        say!(
            "certificate (DER, trust it explicitly): {}",
            args.cert_out.display()
        );
    }
    say!(
        "markets: {} (outcomes yes, no; every third market from sim:2 writes them Yes, No; grids 0.01, 0.001, 0.0001 in turn)",
        sim.markets().join(", ")
    );
    say!("keys: pk_invalid is rejected; pk_free_*, pk_pro_*, pk_scale_* pick a tier; any other key is Scale");
    say!("faults: {}", describe(&faults));
    let stop = interrupted();
    let end = deadline(args.duration);
    while !stop.load(Ordering::SeqCst) && end.is_none_or(|e| Instant::now() < e) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = sim.stats();
    say!(
        "wirebook sim: {} connections, {} snapshots, {} deltas, {} resyncs answered, {} errors sent, {} faults injected",
        s.connections,
        s.snapshots,
        s.deltas,
        s.resyncs,
        s.errors,
        s.faults.iter().sum::<u64>()
    );
    Ok(())
}

/// `PARSEC_ID[:OUTCOME]`: parsec ids contain one ':' themselves, so a
/// second ':' starts the outcome.
fn parse_market(spec: &str, depth: u32) -> Result<Subscription, String> {
    let (id, outcome) = match spec.rsplit_once(':') {
        Some((id, outcome)) if id.contains(':') => (id, outcome),
        _ => (spec, "yes"),
    };
    if !id.contains(':') || outcome.is_empty() {
        return Err(format!(
            "--market {spec:?}: expected EXCHANGE:MARKET_ID[:OUTCOME]"
        ));
    }
    Ok(Subscription::new(id).outcome(outcome).depth(depth))
}

fn watch(args: WatchArgs) -> Result<(), String> {
    let key = std::env::var("PARSEC_API_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let (url, key) = match (&args.url, key) {
        (Some(url), key) => (url.clone(), key.unwrap_or_else(|| "pk_anonymous".into())),
        (None, Some(key)) => (PARSEC_URL.to_owned(), key),
        (None, None) => {
            return Err("PARSEC_API_KEY is not set (or give --url of another server)".into())
        }
    };
    let mut config = ClientConfig::new(url.clone(), key);
    for m in &args.markets {
        config = config.subscribe(parse_market(m, args.depth as u32)?);
    }
    if let Some(path) = &args.record {
        config = config.record(path);
    }
    if let Some(path) = &args.trust {
        let der = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        config = config.trust(&der);
    }
    let client = ParsecClient::connect(config).map_err(|e| e.to_string())?;
    let end = deadline(args.duration);
    if args.json {
        let stop = interrupted();
        json::stream(&client, args.depth, end, &stop)?;
    } else {
        run_view(
            &client,
            None,
            &format!("wirebook watch: {}", wirebook::client::redact_url(&url)),
            end,
        )?;
    }
    match client.shutdown() {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}

fn odds_cmd(args: OddsArgs) -> Result<(), String> {
    let key = std::env::var("PARLAY_API_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    // Without a key and a URL, the embedded simulator serves the odds.
    let sim = match (&args.url, &key) {
        (None, None) => Some(
            Simulator::start(SimConfig::default())
                .map_err(|e| format!("cannot start the simulator: {e}"))?,
        ),
        _ => None,
    };
    let base = match (&args.url, &sim) {
        (Some(url), _) => url.clone(),
        (None, Some(sim)) => sim.base_url(),
        (None, None) => "wss://parlay-api.com".to_owned(),
    };
    let key = key.unwrap_or_else(|| {
        if sim.is_some() {
            "pk_scale_demo".into()
        } else {
            String::new()
        }
    });
    let mut config = wirebook::client::ParlayConfig::new(&args.sport, key)
        .base_url(base)
        .live(args.live);
    if let Some(e) = &args.event {
        config = config.event(e);
    }
    if let Some(t) = args.edge {
        config = config.edge(t);
    }
    if let Some(path) = &args.trust {
        let der = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        config = config.trust(&der);
    }
    let client = wirebook::client::ParlayClient::connect(config).map_err(|e| e.to_string())?;
    let stop = interrupted();
    odds::run(&client, args.json, deadline(args.duration), &stop)?;
    match client.shutdown() {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_specs_split_the_outcome_off_only_where_it_is_one() {
        let s = parse_market("kalshi:KXBTC-26MAR10", 10).unwrap();
        assert_eq!(
            (s.parsec_id(), s.outcome_name()),
            ("kalshi:KXBTC-26MAR10", "yes")
        );
        let s = parse_market("kalshi:KXBTC-26MAR10:No", 10).unwrap();
        assert_eq!(
            (s.parsec_id(), s.outcome_name()),
            ("kalshi:KXBTC-26MAR10", "no")
        );
        let s = parse_market("polymarket:0xabc:Trump", 10).unwrap();
        assert_eq!(
            (s.parsec_id(), s.outcome_name()),
            ("polymarket:0xabc", "trump")
        );
        assert!(parse_market("nocolon", 10).is_err());
    }

    #[test]
    fn every_subcommand_has_help() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        for sub in ["sim", "watch", "odds", "replay", "bench"] {
            let help = Cli::command()
                .find_subcommand_mut(sub)
                .unwrap()
                .render_help()
                .to_string();
            assert!(help.contains("Usage"), "{sub}");
        }
    }
}
