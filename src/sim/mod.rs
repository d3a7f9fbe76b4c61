//! An embedded server of the Parsec protocol (PROTOCOL.md part A) on
//! loopback, for tests, examples, benches, and bots that want to run without
//! a key.
//!
//! - `ws://` or `wss://` (a self-signed certificate generated at start; the
//!   client trusts it by [`Simulator::certificate_der`], never by turning
//!   verification off).
//! - Markets `sim:0` to `sim:{N-1}`, two outcomes each, each a seeded
//!   random-walk book (reproducible for a seed), with trades and fills.
//!   Market `k` imitates a venue by `k % 3`: a 0.01 grid, outcomes `yes` and
//!   `no`, no token ids (Kalshi-like); a 0.001 grid; a 0.0001 grid, outcomes
//!   `Yes` and `No`, 39-digit token ids (Polymarket-like).
//! - The server rules: the auth window, keys (`pk_invalid` is rejected with
//!   `auth_error` 1002; `pk_free_`, `pk_pro_`, `pk_scale_` pick a tier; any
//!   other non-empty key is Scale), tier depth clamps and subscription limits
//!   (3002), the control-frame limit (3001), `resync` answered by a fresh
//!   snapshot, unknown markets (2002) and bad outcomes (2005).
//! - Faults, each switchable and seeded ([`FaultRates`]) or injected once
//!   ([`Simulator::inject`]): see [`Fault`].
//! - The truth: [`Simulator::truth`] is every book as the server has it.
//!
//! ```
//! use wirebook::sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig { markets: 2, ..SimConfig::default() }).unwrap();
//! assert!(sim.url().starts_with("ws://127.0.0.1:"));
//! assert_eq!(sim.markets(), vec!["sim:0".to_owned(), "sim:1".to_owned()]);
//! let (bids, asks) = sim.truth("sim:0", "yes", 10).unwrap();
//! assert!(bids[0].price < asks[0].price);
//! ```

mod flood;
mod market;
mod odds;
mod parlay;
mod session;
mod tls;
mod wire;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{broadcast, Notify};

use crate::frame::Level;
use market::{Print, Style, TrueBook};

/// Most markets, and most odds events, a simulator serves
/// ([`Simulator::start`] refuses more).
///
/// ```
/// use wirebook::sim::{SimConfig, Simulator, MAX_SIM_MARKETS};
/// let config = SimConfig { markets: MAX_SIM_MARKETS + 1, ..SimConfig::default() };
/// assert!(Simulator::start(config).is_err());
/// ```
pub const MAX_SIM_MARKETS: usize = 10_000;

/// Fastest random walk of the simulated books, in updates a second
/// ([`SimConfig::rate_hz`] above it is taken as this).
///
/// ```
/// assert!(wirebook::sim::MAX_SIM_RATE_HZ >= 1e5);
/// ```
pub const MAX_SIM_RATE_HZ: f64 = 1e6;

/// How the simulator behaves. `Default` is a quiet, fault-free server on an
/// ephemeral loopback port.
///
/// ```
/// use std::time::Duration;
/// use wirebook::sim::{FaultRates, SimConfig, Simulator};
/// let config = SimConfig {
///     markets: 2,
///     rate_hz: 0.0, // the books stand still
///     seed: 7,
///     faults: FaultRates::all(0.01),
///     heartbeat_interval: Duration::from_secs(1),
///     ..SimConfig::default()
/// };
/// let (a, b) = (Simulator::start(config.clone())?, Simulator::start(config)?);
/// assert_eq!(a.markets(), ["sim:0", "sim:1"]);
/// assert_eq!(a.truth("sim:1", "no", 20), b.truth("sim:1", "no", 20)); // same seed, same books
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Serve `wss://` with a certificate generated at start.
    pub tls: bool,
    /// Number of markets (`sim:0` ..; at most [`MAX_SIM_MARKETS`]).
    pub markets: usize,
    /// Levels per side of every true book (at most 48).
    pub depth: usize,
    /// Book updates per second, over all books (at most [`MAX_SIM_RATE_HZ`]:
    /// more is taken as that).
    pub rate_hz: f64,
    /// Seed of the books and of every fault decision.
    pub seed: u64,
    /// A connection that has not authenticated by then is closed.
    pub auth_window: Duration,
    /// A `heartbeat` this often.
    pub heartbeat_interval: Duration,
    /// `stale_after_ms` the books carry.
    pub stale_after_ms: u64,
    /// Public trades (and now and then an own fill) on subscribed books.
    pub trades: bool,
    /// Activity frames take their `server_seq` from the book's counter (rule A4.5's other reading).
    pub activity_shares_seq: bool,
    /// Control frames allowed per second and connection before `error` 3001.
    pub control_limit: usize,
    /// How long the `Silence` fault keeps the connection quiet.
    pub silence: Duration,
    /// A snapshot answering a `resync` predates this many of the book's
    /// deltas, which go out before it, numbered after it: a server whose
    /// snapshots lag its stream. The client then replays them onto it
    /// (PROTOCOL.md A4.2). It is written when it goes out (with the
    /// connection's condition then), and taken again if a notice's changes
    /// are lost meanwhile; a quiet book's goes out at the first heartbeat
    /// after it has waited a second. Not in flood mode. 0 (the default):
    /// the snapshot goes out at once, its seq jumped ahead (A4.1).
    ///
    /// ```
    /// use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// use wirebook::sim::{Fault, SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { resync_lag: 3, rate_hz: 200.0, ..SimConfig::default() })?;
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0")))?;
    /// let replayed = || client.counters().store.replayed;
    /// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    /// while replayed() == 0 && std::time::Instant::now() < deadline {
    ///     sim.inject(Fault::Gap);
    ///     std::thread::sleep(std::time::Duration::from_millis(200));
    /// }
    /// assert!(replayed() > 0, "buffered deltas continued the lagging snapshot");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub resync_lag: u32,
    /// Deltas carry only `type`, `parsec_id`, `outcome`, `changes` and
    /// `server_seq` (`book_state` and `feed_state` only when not fresh and
    /// healthy), as the protocol's minimal example delta: the client's
    /// books then keep the clocks and staleness bound of their snapshots.
    /// Not in flood mode.
    /// After an `Outage` such deltas never say the feed is healthy again, so
    /// the books read `Stale` until their next snapshot.
    pub minimal_deltas: bool,
    /// How long the `Outage` fault's venue stays unavailable.
    pub outage: Duration,
    /// Fault probabilities per delta sent.
    pub faults: FaultRates,
    /// Throughput mode: every subscribed book is sent deltas as fast as the
    /// connection takes them (two size changes at existing prices each, from
    /// a pre-written ring), besides the walk. Faults are drawn only for the
    /// walk's deltas; a `Silence` drawn there quiets the flood too.
    pub flood: bool,
    /// Parlay: events of every sport's sportsbook (four bookmakers, six quotes each).
    pub odds_events: usize,
    /// Parlay: the odds move this often...
    pub odds_interval: Duration,
    /// ...this many quotes at a time.
    pub odds_moves: usize,
    /// Parlay: a `heartbeat` after this long without a frame (30 s, B2).
    pub parlay_idle_heartbeat: Duration,
    /// Parlay: open connections allowed per key before close 4002.
    pub parlay_connection_cap: usize,
    /// Keep the checksum of every book at every `server_seq` sent (the last
    /// 100 000 per book), for [`Simulator::truth_at`]. Off by default.
    pub record_truth: bool,
    /// The first this many `unsubscribe` frames of each connection are lost
    /// on their way: dropped unread (not counted against the control limit,
    /// no answer), so their books go on. For testing a client's recovery
    /// from an unsubscribe that did not take. 0 by default.
    pub lost_unsubscribes: usize,
    /// PROTOCOL.md A5 limits subscriptions per account: a connection that
    /// ends still holds its subscriptions against its key's limit for this
    /// long, as a server that notices a dead connection late does (a client
    /// that reconnects at once then meets its own old subscriptions). 0
    /// (none held) by default.
    pub account_linger: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            markets: 4,
            depth: 20,
            rate_hz: 100.0,
            seed: 1,
            auth_window: Duration::from_secs(15),
            heartbeat_interval: Duration::from_secs(5),
            stale_after_ms: 5_000,
            trades: true,
            activity_shares_seq: false,
            control_limit: 3,
            silence: Duration::from_secs(60),
            outage: Duration::from_millis(500),
            faults: FaultRates::default(),
            record_truth: false,
            lost_unsubscribes: 0,
            account_linger: Duration::ZERO,
            resync_lag: 0,
            minimal_deltas: false,
            flood: false,
            odds_events: 4,
            odds_interval: Duration::from_secs(1),
            odds_moves: 3,
            parlay_idle_heartbeat: Duration::from_secs(30),
            parlay_connection_cap: 5,
        }
    }
}

/// One kind of fault the simulator can inject.
///
/// ```
/// use wirebook::sim::{Fault, FaultRates};
/// let rates = FaultRates::none().with(Fault::Gap, 0.01).with(Fault::Reorder, 0.005);
/// assert_eq!((rates.get(Fault::Gap), rates.get(Fault::Duplicate)), (0.01, 0.0));
/// assert_eq!(Fault::Reorder.name(), "reorder");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// A delta is lost: its `server_seq` is skipped.
    Gap,
    /// A delta is sent twice.
    Duplicate,
    /// A delta is held back and sent after the next one.
    Reorder,
    /// A delta's changes are lost before they get a seq and `resync_required`
    /// is sent for its book: the next delta follows without a gap, so only a
    /// client that resyncs on the notice holds the right book again.
    ResyncRequired,
    /// A delta's changes are lost and it goes out empty, with
    /// `book_state: needs_refresh` and `feed_state: disconnected` (as
    /// PROTOCOL.md's example): only a client that resyncs sees them.
    NeedsRefresh,
    /// As [`Fault::ResyncRequired`], with `slow_reader`.
    SlowReader,
    /// A malformed frame is sent before the delta.
    Malformed,
    /// The connection is dropped without a close frame.
    Disconnect,
    /// The server sends nothing (no heartbeats either) for [`SimConfig::silence`].
    Silence,
    /// The venue's stream fails for [`SimConfig::outage`]: `error` 2003
    /// naming the delta's market, then every delta and snapshot of the
    /// connection goes out `book_state: stale`, `feed_state: degraded`
    /// (changes still exact, no gap) until it ends; the next frame of each
    /// book says `fresh` and `healthy` again. A client shows those books
    /// stale, not fresh, and sends no resync for it (A4.8, A5).
    Outage,
    /// As [`Fault::ResyncRequired`], and the client's next `resync` of that
    /// book is lost unanswered: only a client that sends it again after its
    /// timeout (A4.7) gets the book back.
    LostResync,
    /// As [`Fault::ResyncRequired`], and the server forgets the book's
    /// subscription (as a server that lost its state without closing the
    /// connection): its frames stop, and the client's `resync` of it gets
    /// `error` 2001 naming the market ("not subscribed"). Only a client that
    /// subscribes the book again gets it back.
    ForgottenSubscription,
}

impl Fault {
    /// Every fault, in a fixed order.
    ///
    /// ```
    /// use wirebook::sim::Fault;
    /// let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
    /// assert_eq!(
    ///     names.join(","),
    ///     "gap,duplicate,reorder,resync_required,needs_refresh,slow_reader,malformed,disconnect,silence,outage,lost_resync,forgotten_subscription"
    /// );
    /// ```
    pub const ALL: [Fault; 12] = [
        Fault::Gap,
        Fault::Duplicate,
        Fault::Reorder,
        Fault::ResyncRequired,
        Fault::NeedsRefresh,
        Fault::SlowReader,
        Fault::Malformed,
        Fault::Disconnect,
        Fault::Silence,
        Fault::Outage,
        Fault::LostResync,
        Fault::ForgottenSubscription,
    ];

    /// The fault's name on the command line (`gap`, `duplicate`, ...).
    ///
    /// ```
    /// assert_eq!(wirebook::sim::Fault::ResyncRequired.name(), "resync_required");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Fault::Gap => "gap",
            Fault::Duplicate => "duplicate",
            Fault::Reorder => "reorder",
            Fault::ResyncRequired => "resync_required",
            Fault::NeedsRefresh => "needs_refresh",
            Fault::SlowReader => "slow_reader",
            Fault::Malformed => "malformed",
            Fault::Disconnect => "disconnect",
            Fault::Silence => "silence",
            Fault::Outage => "outage",
            Fault::LostResync => "lost_resync",
            Fault::ForgottenSubscription => "forgotten_subscription",
        }
    }

    fn index(self) -> usize {
        Fault::ALL.iter().position(|&f| f == self).unwrap_or(0)
    }
}

/// Probability of each fault per delta sent (0 = never).
///
/// ```
/// use wirebook::sim::{Fault, FaultRates, SimConfig};
/// let rates = FaultRates::parse("gap=0.01,duplicate=0.02")?;
/// assert_eq!(rates, FaultRates::none().with(Fault::Gap, 0.01).with(Fault::Duplicate, 0.02));
/// let config = SimConfig { faults: rates, ..SimConfig::default() };
/// assert_eq!(config.faults.get(Fault::Duplicate), 0.02);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultRates {
    rates: [f64; Fault::ALL.len()],
}

impl FaultRates {
    /// No faults.
    ///
    /// ```
    /// use wirebook::sim::{Fault, FaultRates};
    /// let rates = FaultRates::none();
    /// assert!(Fault::ALL.iter().all(|&f| rates.get(f) == 0.0));
    /// assert_eq!(FaultRates::parse("none"), Ok(rates));
    /// ```
    pub fn none() -> FaultRates {
        FaultRates::default()
    }

    /// Every fault at `rate`; disconnects, silences and outages (each of
    /// which touches every book of the connection) and lost resyncs (each
    /// keeps a book resyncing for the client's resync timeout) at a tenth of it.
    ///
    /// ```
    /// use wirebook::sim::{Fault, FaultRates};
    /// let r = FaultRates::all(0.01);
    /// assert_eq!(r.get(Fault::Gap), 0.01);
    /// assert_eq!(r.get(Fault::Disconnect), 0.001);
    /// ```
    pub fn all(rate: f64) -> FaultRates {
        let mut r = FaultRates::default();
        for f in Fault::ALL {
            let scale = if matches!(
                f,
                Fault::Disconnect
                    | Fault::Silence
                    | Fault::Outage
                    | Fault::LostResync
                    | Fault::ForgottenSubscription
            ) {
                0.1
            } else {
                1.0
            };
            r = r.with(f, rate * scale);
        }
        r
    }

    /// The same rates with `fault` at `rate` (clamped to 0..=1).
    ///
    /// ```
    /// use wirebook::sim::{Fault, FaultRates};
    /// assert_eq!(FaultRates::none().with(Fault::Gap, 2.0).get(Fault::Gap), 1.0);
    /// ```
    pub fn with(mut self, fault: Fault, rate: f64) -> FaultRates {
        self.rates[fault.index()] = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// The rate of one fault.
    ///
    /// ```
    /// use wirebook::sim::{Fault, FaultRates};
    /// assert_eq!(FaultRates::none().get(Fault::Gap), 0.0);
    /// ```
    pub fn get(&self, fault: Fault) -> f64 {
        self.rates[fault.index()]
    }

    /// Parses `gap=0.01,duplicate=0.02`, `all=0.01` or `none`.
    ///
    /// ```
    /// use wirebook::sim::{Fault, FaultRates};
    /// let r = FaultRates::parse("all=0.01,disconnect=0").unwrap();
    /// assert_eq!((r.get(Fault::Gap), r.get(Fault::Disconnect)), (0.01, 0.0));
    /// assert!(FaultRates::parse("gapp=1").is_err());
    /// ```
    pub fn parse(spec: &str) -> Result<FaultRates, String> {
        let mut r = FaultRates::none();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "none" {
                continue;
            }
            let (name, rate) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected NAME=RATE"))?;
            let rate: f64 = rate
                .parse()
                .map_err(|_| format!("{part:?}: {rate:?} is not a number"))?;
            if name == "all" {
                r = FaultRates::all(rate);
                continue;
            }
            let fault = Fault::ALL
                .into_iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| {
                    let names: Vec<_> = Fault::ALL.iter().map(|f| f.name()).collect();
                    format!("unknown fault {name:?} (known: all, {})", names.join(", "))
                })?;
            r = r.with(fault, rate);
        }
        Ok(r)
    }
}

/// What the simulator has done, for tests and the terminal view.
///
/// ```
/// # use std::time::{Duration, Instant};
/// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
/// # use wirebook::sim::Simulator;
/// let sim = Simulator::start(Default::default())?;
/// let config = ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0"));
/// let client = ParsecClient::connect(config)?;
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while sim.stats().snapshots == 0 && Instant::now() < deadline {
///     std::thread::sleep(Duration::from_millis(5));
/// }
/// let stats = sim.stats();
/// assert_eq!((stats.connections, stats.auth_ok, stats.snapshots), (1, 1, 1));
/// assert_eq!(stats.faults, [0; 12]); // none configured
/// # drop(client);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub open_connections: u64,
    /// Successful authentications.
    pub auth_ok: u64,
    /// `auth_error` answers.
    pub auth_rejected: u64,
    /// Connections closed for not authenticating in time.
    pub auth_timeouts: u64,
    /// Control frames received (subscribe, unsubscribe, resync).
    pub control_frames: u64,
    /// Control frames refused with `error` 3001.
    pub rate_limited: u64,
    /// `unsubscribe` frames dropped unread ([`SimConfig::lost_unsubscribes`]).
    pub lost_unsubscribes: u64,
    /// Most control frames one connection sent within one second.
    pub max_control_per_second: u64,
    /// Snapshots sent (subscribe and resync).
    pub snapshots: u64,
    /// Deltas sent.
    pub deltas: u64,
    /// `resync` requests answered.
    pub resyncs: u64,
    /// `resync` requests lost unanswered ([`Fault::LostResync`]).
    pub lost_resyncs: u64,
    /// `error` frames sent.
    pub errors: u64,
    /// Activity frames (trades, fills) sent.
    pub activity: u64,
    /// Faults injected, by [`Fault::ALL`] order.
    pub faults: [u64; Fault::ALL.len()],
    /// Parlay connections (handshakes done).
    pub parlay_connections: u64,
    /// Parlay connections closed at once (bad or missing key, low tier, cap).
    pub parlay_rejected: u64,
    /// Parlay `odds_update` frames sent.
    pub odds_updates: u64,
    /// Parlay connections that resumed with a recent `since`.
    pub parlay_resumes: u64,
}

impl SimStats {
    /// How many times `fault` was injected.
    ///
    /// ```
    /// use wirebook::sim::{Fault, SimStats};
    /// assert_eq!(SimStats::default().fault(Fault::Gap), 0);
    /// ```
    pub fn fault(&self, fault: Fault) -> u64 {
        self.faults[fault.index()]
    }
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    open_connections: AtomicU64,
    auth_ok: AtomicU64,
    auth_rejected: AtomicU64,
    auth_timeouts: AtomicU64,
    control_frames: AtomicU64,
    rate_limited: AtomicU64,
    lost_unsubscribes: AtomicU64,
    max_control_per_second: AtomicU64,
    snapshots: AtomicU64,
    deltas: AtomicU64,
    resyncs: AtomicU64,
    lost_resyncs: AtomicU64,
    errors: AtomicU64,
    activity: AtomicU64,
    faults: [AtomicU64; Fault::ALL.len()],
    parlay_connections: AtomicU64,
    parlay_rejected: AtomicU64,
    odds_updates: AtomicU64,
    parlay_resumes: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// One book update, broadcast to every session.
#[derive(Debug, Clone, Copy)]
struct Tick {
    market: u32,
    outcome: u8,
    print: Option<Print>,
}

/// What the server and its sessions share.
struct Shared {
    config: SimConfig,
    faults: Mutex<FaultRates>,
    books: Vec<Mutex<[TrueBook; 2]>>,
    ticks: broadcast::Sender<Tick>,
    injected: Mutex<VecDeque<Fault>>,
    counters: Counters,
    paused: AtomicBool,
    /// Bumped by [`Simulator::drop_connections`]; sessions watch it.
    kill_epoch: AtomicU64,
    kill: Notify,
    stop: Notify,
    stopping: AtomicBool,
    /// `(market, outcome) -> [(server_seq, checksum)]`, when recording.
    truth_log: Mutex<TruthLog>,
    /// Parlay: the sportsbook (one for every sport).
    odds: Mutex<odds::OddsWorld>,
    /// Parlay: indexes of the quotes that moved, per step.
    odds_ticks: broadcast::Sender<Arc<Vec<usize>>>,
    /// Parlay: close every odds connection with 1001 (the epoch catches a
    /// session that was not waiting when the notification went out).
    parlay_deploy: Notify,
    parlay_deploy_epoch: AtomicU64,
    /// Parlay: open connections per key.
    parlay_open: Mutex<std::collections::HashMap<String, usize>>,
    /// Markets [`Simulator::delist`]ed: a `subscribe` of one gets 2002.
    delisted: Mutex<std::collections::HashSet<u32>>,
    /// Subscriptions of ended connections still held against their key's
    /// limit: (key, until, how many) ([`SimConfig::account_linger`]).
    lingering: Mutex<Vec<(String, tokio::time::Instant, usize)>>,
    /// Parlay: most rows an `initial_state` carries (500, B2).
    state_rows: AtomicUsize,
}

/// `(server_seq, checksum)` per book, oldest first.
type TruthLog = std::collections::HashMap<(u32, u8), VecDeque<(u64, u64)>>;

/// Entries of the truth log kept per book.
const TRUTH_LOG_LEN: usize = 100_000;

/// A checksum of a book's levels (best first), to compare a client's book
/// with [`Simulator::truth_at`].
///
/// ```
/// use wirebook::{Level, Price, Size};
/// let l = Level::new(Price::from_units(1).unwrap(), Size::from_units(2));
/// assert_ne!(wirebook::sim::checksum(&[l], &[]), wirebook::sim::checksum(&[], &[l]));
/// ```
pub fn checksum(bids: &[Level], asks: &[Level]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |x: u64| {
        h ^= x;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for (side, levels) in [(1u64, bids), (2, asks)] {
        mix(side);
        for l in levels {
            mix(u64::from(l.price.units()));
            mix(l.size.units());
        }
    }
    h
}

impl Shared {
    /// Notes what book a client should hold after the frame with `seq`.
    fn record(&self, key: (u32, u8), seq: u64, bids: &[Level], asks: &[Level]) {
        if !self.config.record_truth {
            return;
        }
        let mut log = self.truth_log.lock();
        let entries = log.entry(key).or_default();
        if entries.len() >= TRUTH_LOG_LEN {
            entries.pop_front();
        }
        entries.push_back((seq, checksum(bids, asks)));
    }

    /// Takes a one-shot fault, else draws one by the configured rates.
    fn draw_fault(&self, rng: &mut fastrand::Rng) -> Option<Fault> {
        if let Some(f) = self.injected.lock().pop_front() {
            return Some(f);
        }
        let rates = *self.faults.lock();
        Fault::ALL
            .into_iter()
            .find(|&f| rates.get(f) > 0.0 && rng.f64() < rates.get(f))
    }

    fn count_fault(&self, f: Fault) {
        bump(&self.counters.faults[f.index()]);
    }
}

/// The outcomes of every simulated market.
pub(crate) const OUTCOMES: [&str; 2] = ["yes", "no"];

/// A running simulator; dropping it stops the server and closes its connections.
///
/// ```
/// use std::time::{Duration, Instant};
/// use wirebook::client::{ClientConfig, ParsecClient, Subscription};
/// use wirebook::sim::{SimConfig, Simulator};
/// use wirebook::BookState;
///
/// let sim = Simulator::start(SimConfig { markets: 2, ..SimConfig::default() })?;
/// let config = ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:1"));
/// let client = ParsecClient::connect(config)?;
/// let book = client.book("sim:1", "yes").unwrap();
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while book.snapshot(1).state != BookState::Fresh && Instant::now() < deadline {
///     book.wait_for_change(book.version(), Duration::from_millis(100));
/// }
/// let snap = book.snapshot(10);
/// assert_eq!(snap.state, BookState::Fresh);
/// assert!(snap.best_bid().unwrap().price < snap.best_ask().unwrap().price);
/// assert_eq!(sim.stats().auth_ok, 1);
/// assert_eq!(client.shutdown(), None);
/// sim.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Simulator {
    addr: SocketAddr,
    tls: bool,
    certificate: Option<Vec<u8>>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("url", &self.url())
            .field("markets", &self.shared.config.markets)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Binds the listener and starts the server on a thread of its own (with
    /// its own single-threaded runtime, so any caller can use it).
    ///
    /// ```
    /// let sim = wirebook::sim::Simulator::start(Default::default()).unwrap();
    /// assert_ne!(sim.addr().port(), 0);
    /// ```
    pub fn start(config: SimConfig) -> std::io::Result<Simulator> {
        if config.markets > MAX_SIM_MARKETS || config.odds_events > MAX_SIM_MARKETS {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("at most {MAX_SIM_MARKETS} simulated markets and odds events"),
            ));
        }
        let std_listener = std::net::TcpListener::bind(config.listen)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let tls = if config.tls {
            Some(tls::ServerTls::generate()?)
        } else {
            None
        };
        let certificate = tls.as_ref().map(|t| t.certificate_der.clone());
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let books = (0..config.markets)
            .map(|m| {
                let tick = Style::of(m as u32).tick;
                Mutex::new([
                    TrueBook::new(&mut rng, config.depth, tick),
                    TrueBook::new(&mut rng, config.depth, tick),
                ])
            })
            .collect();
        let (ticks, _) = broadcast::channel(4096);
        let (odds_ticks, _) = broadcast::channel(1024);
        let world = odds::OddsWorld::new(&mut rng, config.odds_events, crate::clock::epoch_ms());
        let shared = Arc::new(Shared {
            faults: Mutex::new(config.faults),
            config,
            books,
            ticks,
            injected: Mutex::new(VecDeque::new()),
            counters: Counters::default(),
            paused: AtomicBool::new(false),
            kill_epoch: AtomicU64::new(0),
            kill: Notify::new(),
            stop: Notify::new(),
            stopping: AtomicBool::new(false),
            truth_log: Mutex::new(std::collections::HashMap::new()),
            odds: Mutex::new(world),
            odds_ticks,
            parlay_deploy: Notify::new(),
            parlay_deploy_epoch: AtomicU64::new(0),
            parlay_open: Mutex::new(std::collections::HashMap::new()),
            delisted: Mutex::new(std::collections::HashSet::new()),
            lingering: Mutex::new(Vec::new()),
            state_rows: AtomicUsize::new(500),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("wirebook-sim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                        return;
                    };
                    tokio::spawn(odds_engine(s.clone(), rng.fork()));
                    tokio::spawn(engine(s.clone(), rng));
                    session::accept_loop(listener, tls.map(|t| t.acceptor), s).await;
                });
            })?;
        Ok(Simulator {
            addr,
            tls: certificate.is_some(),
            certificate,
            shared,
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    ///
    /// ```
    /// let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// assert!(sim.addr().ip().is_loopback() && sim.addr().port() != 0);
    /// std::net::TcpStream::connect(sim.addr())?; // it listens there
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Parsec endpoint: `ws://127.0.0.1:PORT/ws` (or `wss://`).
    ///
    /// ```
    /// # use wirebook::client::{ClientConfig, ParsecClient};
    /// let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// assert_eq!(sim.url(), format!("ws://{}/ws", sim.addr()));
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo"))?;
    /// assert_eq!(sim.stats().auth_ok, 1);
    /// # drop(client);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn url(&self) -> String {
        format!("{}/ws", self.base_url())
    }

    /// The generated certificate (DER) when serving TLS: give it to the
    /// client as an extra trusted root.
    ///
    /// ```
    /// use wirebook::client::{ClientConfig, ParsecClient};
    /// use wirebook::sim::{SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { tls: true, ..SimConfig::default() })?;
    /// assert!(sim.url().starts_with("wss://127.0.0.1:"));
    /// let cert = sim.certificate_der().unwrap();
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo").trust(cert))?;
    /// assert_eq!(sim.stats().auth_ok, 1);
    /// # drop(client);
    /// assert!(Simulator::start(SimConfig::default())?.certificate_der().is_none()); // plain ws://
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.certificate.as_deref()
    }

    /// The markets' `parsec_id`s.
    ///
    /// ```
    /// use wirebook::sim::{SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { markets: 3, ..SimConfig::default() })?;
    /// assert_eq!(sim.markets(), ["sim:0", "sim:1", "sim:2"]);
    /// assert!(sim.markets().iter().all(|m| sim.truth(m, "yes", 1).is_some()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn markets(&self) -> Vec<String> {
        (0..self.shared.config.markets)
            .map(|i| format!("sim:{i}"))
            .collect()
    }

    /// The true top `depth` levels of a book (bids, asks; best first), or
    /// `None` for an unknown market or outcome.
    ///
    /// ```
    /// use wirebook::sim::{SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { depth: 5, rate_hz: 0.0, ..SimConfig::default() })?;
    /// let (bids, asks) = sim.truth("sim:0", "No", 10).unwrap();
    /// assert_eq!((bids.len(), asks.len()), (5, 5));
    /// assert!(bids.windows(2).all(|w| w[0].price > w[1].price)); // best first
    /// assert!(bids[0].price < asks[0].price);
    /// assert!(sim.truth("sim:9", "yes", 10).is_none()); // markets sim:0 to sim:3
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn truth(
        &self,
        parsec_id: &str,
        outcome: &str,
        depth: usize,
    ) -> Option<(Vec<Level>, Vec<Level>)> {
        let (m, o) = resolve(&self.shared, parsec_id, outcome)?;
        let books = self.shared.books[m as usize].lock();
        let b = &books[o as usize];
        Some((
            b.bids[..b.bids.len().min(depth)].to_vec(),
            b.asks[..b.asks.len().min(depth)].to_vec(),
        ))
    }

    /// The [`checksum`] of the book a client must hold after applying the
    /// frame with `seq` on its connection (needs [`SimConfig::record_truth`];
    /// `None` for a seq never sent or forgotten). Sequence numbers of
    /// different connections never collide.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// # use wirebook::BookState;
    /// use wirebook::sim::{checksum, SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { record_truth: true, ..SimConfig::default() })?;
    /// # let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0")))?;
    /// let book = client.book("sim:0", "yes").unwrap();
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// let mut snap = book.snapshot(50);
    /// while snap.state != BookState::Fresh && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    ///     snap = book.snapshot(50);
    /// }
    /// assert_eq!(sim.truth_at("sim:0", "yes", snap.seq), Some(checksum(&snap.bids, &snap.asks)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn truth_at(&self, parsec_id: &str, outcome: &str, seq: u64) -> Option<u64> {
        let key = resolve(&self.shared, parsec_id, outcome)?;
        let log = self.shared.truth_log.lock();
        let entries = log.get(&key)?;
        entries.iter().rev().find(|e| e.0 == seq).map(|e| e.1)
    }

    /// The Parlay odds endpoint of a sport: `ws://127.0.0.1:PORT/v1/ws/odds/{sport}`
    /// (`/v1/ws/live/` with `live`).
    ///
    /// ```
    /// use wirebook::client::ParlayConfig;
    /// let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let live = sim.parlay_url("basketball_nba", true);
    /// assert_eq!(live, format!("ws://{}/v1/ws/live/basketball_nba", sim.addr()));
    /// let config = ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url());
    /// assert_eq!(config.url(None), sim.parlay_url("basketball_nba", false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parlay_url(&self, sport: &str, live: bool) -> String {
        let kind = if live { "live" } else { "odds" };
        format!("{}/v1/ws/{kind}/{sport}", self.base_url())
    }

    /// The server's base URL (`ws://127.0.0.1:PORT`), for clients that add the path.
    ///
    /// ```
    /// use wirebook::client::{ParlayClient, ParlayConfig};
    /// let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// assert_eq!(sim.base_url(), format!("ws://{}", sim.addr()));
    /// let config = ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url());
    /// let client = ParlayClient::connect(config)?;
    /// assert_eq!(client.session().unwrap().sport_key, "basketball_nba");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}", self.addr)
    }

    /// Every quote of the sportsbook as the server has it: (event_id,
    /// bookmaker, market_key, outcome, point as text, American odds), in the
    /// flat shape's terms.
    ///
    /// ```
    /// use std::collections::BTreeSet;
    /// use wirebook::sim::{SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { odds_events: 2, ..SimConfig::default() })?;
    /// sim.pause(true); // the odds stand still (a group could go off the board)
    /// let quotes = sim.odds_truth();
    /// assert_eq!(quotes.len(), 2 * 4 * 6); // two events, four bookmakers, six quotes each
    /// let events: BTreeSet<&str> = quotes.iter().map(|q| &*q.key.event_id).collect();
    /// assert_eq!(events.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn odds_truth(&self) -> Vec<crate::odds::Quote> {
        let world = self.shared.odds.lock().clone();
        let listed: Vec<usize> = (0..world.quotes.len())
            .filter(|&i| world.quotes[i].listed)
            .collect();
        let mut rows = String::new();
        odds::write_rows(&mut rows, &world, &listed, false, false, usize::MAX);
        let mut msg = format!(r#"{{"type":"initial_state","data":{rows}}}"#).into_bytes();
        let mut board = crate::odds::OddsBoard::new();
        if let Ok(crate::Frame::InitialState(s)) = crate::FrameParser::new().parse(&mut msg) {
            board.replace(&s);
        }
        board.quotes().cloned().collect()
    }

    /// Closes every Parlay connection with 1001 (a server deploy).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wirebook::client::{OddsEvent, ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # let config = ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url());
    /// let client = ParlayClient::connect(config)?;
    /// let mut events = client.events();
    /// sim.parlay_deploy();
    /// let code = std::iter::from_fn(|| events.recv_timeout(Duration::from_secs(5))).find_map(|e| match e {
    ///     OddsEvent::Disconnected { code, .. } => Some(code),
    ///     _ => None,
    /// });
    /// assert_eq!(code, Some(Some(1001))); // the client waits `deploy_wait`, then reconnects
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parlay_deploy(&self) {
        self.shared
            .parlay_deploy_epoch
            .fetch_add(1, Ordering::SeqCst);
        self.shared.parlay_deploy.notify_waiters();
    }

    /// Caps the rows of every `initial_state` sent from now on at `rows`
    /// (B2's 500 by default), so that a small board's state, full or
    /// resumed, can come cut short (`truncated: true`). The cap counts rows,
    /// as B2 does, not quotes: a flat row is one quote, a grouped row all
    /// the prices of an event's game or props at one bookmaker, a `remove`
    /// row a whole such group. The state's `count` is its rows.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// use wirebook::client::{ParlayClient, ParlayConfig};
    /// use wirebook::sim::{SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { odds_events: 1, ..SimConfig::default() })?;
    /// sim.pause(true); // no odds move: the board is what the state carried
    /// sim.cap_initial_state(10);
    /// let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
    /// let deadline = Instant::now() + Duration::from_secs(5);
    /// while client.quotes().is_empty() && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// assert_eq!((client.quotes().len(), sim.odds_truth().len()), (10, 24));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cap_initial_state(&self, rows: usize) {
        self.shared.state_rows.store(rows, Ordering::SeqCst);
    }

    /// Takes the game quotes (moneylines and totals) of `event_id` at
    /// `bookmaker` off the board without telling the connections open now,
    /// as if that update were lost on the way; a client learns of it from
    /// its next `initial_state`, full or resumed with `since` (where it is a
    /// `remove` row). Returns how many quotes went off (the walk, when the
    /// odds move, puts groups that are off back in turn).
    ///
    /// ```
    /// use wirebook::sim::{SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { odds_events: 1, ..SimConfig::default() })?;
    /// sim.pause(true);
    /// let event = sim.odds_truth()[0].key.event_id.to_string();
    /// assert_eq!(sim.odds_off_quietly(&event, "pinnacle"), 4); // two moneylines, over, under
    /// assert_eq!(sim.odds_truth().len(), 4 * 6 - 4);
    /// assert_eq!(sim.odds_off_quietly("no_such_event", "pinnacle"), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn odds_off_quietly(&self, event_id: &str, bookmaker: &str) -> usize {
        self.shared
            .odds
            .lock()
            .take_off(event_id, bookmaker, crate::clock::epoch_ms())
            .len()
    }

    /// Injects `fault` once, into the next delta any connection sends.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// use wirebook::sim::{Fault, Simulator};
    /// # let sim = Simulator::start(Default::default())?;
    /// # let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0")))?;
    /// sim.inject(Fault::Gap); // the next delta is lost: the client sees a gap and resyncs
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.counters().store.gaps == 0 && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// assert_eq!(sim.stats().fault(Fault::Gap), 1);
    /// assert_eq!(client.counters().store.gaps, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inject(&self, fault: Fault) {
        self.shared.injected.lock().push_back(fault);
    }

    /// Replaces the fault rates.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// use wirebook::sim::{Fault, FaultRates, Simulator};
    /// # let sim = Simulator::start(Default::default())?;
    /// # let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0")))?;
    /// sim.set_faults(FaultRates::none().with(Fault::Duplicate, 1.0)); // every delta twice
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.counters().store.duplicates < 3 && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// sim.set_faults(FaultRates::none());
    /// assert!(sim.stats().fault(Fault::Duplicate) >= 3);
    /// assert_eq!(client.counters().store.gaps, 0); // duplicates are dropped, not resynced
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_faults(&self, rates: FaultRates) {
        *self.shared.faults.lock() = rates;
    }

    /// Stops (or restarts) the books' random walk and flood; connections stay open.
    /// With the walk paused, a client that has caught up holds the truth.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0")))?;
    /// let book = client.book("sim:0", "yes").unwrap();
    /// sim.pause(true);
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// let mut snap = book.snapshot(50);
    /// while Some((snap.bids.clone(), snap.asks.clone())) != sim.truth("sim:0", "yes", 50) && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(10));
    ///     snap = book.snapshot(50);
    /// }
    /// assert_eq!(Some((snap.bids, snap.asks)), sim.truth("sim:0", "yes", 50));
    /// sim.pause(false); // the walk goes on
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pause(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::SeqCst);
    }

    /// Drops every open connection at once, without a close frame.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{Backoff, ClientConfig, ParsecClient};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # let quick = Backoff { initial: Duration::from_millis(50), max: Duration::from_secs(1), jitter: 0.0 };
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo").backoff(quick))?;
    /// sim.drop_connections();
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while sim.stats().auth_ok < 2 && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// assert_eq!(sim.stats().auth_ok, 2); // the client saw the drop and reconnected
    /// # drop(client);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn drop_connections(&self) {
        self.shared.kill_epoch.fetch_add(1, Ordering::SeqCst);
        self.shared.kill.notify_waiters();
    }

    /// Takes a market off the list, as a venue closes one: from now on a
    /// `subscribe` of it gets `error` 2002 (market not found), and so does a
    /// `resync` of one of its books, whose frames then stop. Connections
    /// already subscribed keep getting its other frames until they reconnect.
    /// `false` for a market the simulator does not have.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// assert!(sim.delist("sim:1") && !sim.delist("sim:99"));
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:1")))?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// let dropped = || client.book("sim:1", "yes").is_none() && client.counters().dropped_subscriptions == 1;
    /// while !dropped() && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// assert!(dropped()); // refused with 2002, dropped
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delist(&self, parsec_id: &str) -> bool {
        match resolve(&self.shared, parsec_id, "yes") {
            Some((m, _)) => {
                self.shared.delisted.lock().insert(m);
                true
            }
            None => false,
        }
    }

    /// Counters of what the server did.
    ///
    /// ```
    /// # use wirebook::client::{ClientConfig, ParsecClient};
    /// let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let err = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_invalid")).unwrap_err();
    /// assert!(err.is_fatal());
    /// let stats = sim.stats();
    /// assert_eq!((stats.connections, stats.auth_ok, stats.auth_rejected), (1, 0, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> SimStats {
        let c = &self.shared.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SimStats {
            connections: l(&c.connections),
            open_connections: l(&c.open_connections),
            auth_ok: l(&c.auth_ok),
            auth_rejected: l(&c.auth_rejected),
            auth_timeouts: l(&c.auth_timeouts),
            control_frames: l(&c.control_frames),
            rate_limited: l(&c.rate_limited),
            lost_unsubscribes: l(&c.lost_unsubscribes),
            max_control_per_second: l(&c.max_control_per_second),
            snapshots: l(&c.snapshots),
            deltas: l(&c.deltas),
            resyncs: l(&c.resyncs),
            lost_resyncs: l(&c.lost_resyncs),
            errors: l(&c.errors),
            activity: l(&c.activity),
            faults: std::array::from_fn(|i| l(&c.faults[i])),
            parlay_connections: l(&c.parlay_connections),
            parlay_rejected: l(&c.parlay_rejected),
            odds_updates: l(&c.odds_updates),
            parlay_resumes: l(&c.parlay_resumes),
        }
    }

    /// Stops the server and waits for its thread.
    ///
    /// ```
    /// # use wirebook::client::{ClientConfig, ClientError, ParsecClient};
    /// let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let url = sim.url();
    /// sim.shutdown();
    /// let err = ParsecClient::connect(ClientConfig::new(url, "pk_demo")).unwrap_err();
    /// assert!(matches!(err, ClientError::Connect { .. })); // nothing listens any more
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.stop.notify_waiters();
        self.shared.stop.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `("sim:N", "yes"/"no")` to indexes.
fn resolve(shared: &Shared, parsec_id: &str, outcome: &str) -> Option<(u32, u8)> {
    let n: u32 = parsec_id.strip_prefix("sim:")?.parse().ok()?;
    if n as usize >= shared.config.markets || parsec_id != format!("sim:{n}") {
        return None;
    }
    let o = OUTCOMES
        .iter()
        .position(|o| o.eq_ignore_ascii_case(outcome))?;
    Some((n, o as u8))
}

/// The sportsbook's walk: `odds_moves` quotes every `odds_interval`.
async fn odds_engine(shared: Arc<Shared>, mut rng: fastrand::Rng) {
    if shared.config.odds_interval.is_zero() || shared.config.odds_moves == 0 {
        return;
    }
    let mut interval = tokio::time::interval(shared.config.odds_interval);
    interval.tick().await;
    let mut moved = Vec::new();
    loop {
        interval.tick().await;
        if shared.stopping.load(Ordering::Relaxed) {
            return;
        }
        if shared.paused.load(Ordering::SeqCst) {
            continue;
        }
        shared.odds.lock().step(
            &mut rng,
            shared.config.odds_moves,
            crate::clock::epoch_ms(),
            &mut moved,
        );
        if !moved.is_empty() {
            let _ = shared.odds_ticks.send(Arc::new(moved.clone()));
        }
    }
}

/// The random walk: `rate_hz` steps a second over all books, broadcast to the sessions.
async fn engine(shared: Arc<Shared>, mut rng: fastrand::Rng) {
    let rate = shared.config.rate_hz.min(MAX_SIM_RATE_HZ);
    if rate.is_nan() || rate <= 0.0 || shared.config.markets == 0 {
        return;
    }
    // Sleep in slices of at least 1 ms, doing as many steps as are due.
    let period = Duration::from_secs_f64((1.0 / rate).max(0.001));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = tokio::time::Instant::now();
    let mut done: u64 = 0;
    let mut changes = Vec::new();
    loop {
        interval.tick().await;
        if shared.stopping.load(Ordering::Relaxed) {
            return;
        }
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        if shared.paused.load(Ordering::SeqCst) {
            done = due;
            continue;
        }
        // Never more than a second's worth at once (after a stall).
        let steps = due.saturating_sub(done).min(rate.ceil() as u64);
        done = due;
        for _ in 0..steps {
            let market = rng.u32(0..shared.config.markets as u32);
            let outcome = rng.u8(0..2);
            let print =
                shared.books[market as usize].lock()[outcome as usize].step(&mut rng, &mut changes);
            if changes.is_empty() {
                continue;
            }
            let _ = shared.ticks.send(Tick {
                market,
                outcome,
                print,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markets_resolve_only_by_their_exact_names() {
        let sim = Simulator::start(SimConfig {
            markets: 3,
            rate_hz: 0.0,
            ..SimConfig::default()
        })
        .unwrap();
        let s = &sim.shared;
        assert_eq!(resolve(s, "sim:2", "No"), Some((2, 1)));
        assert_eq!(resolve(s, "sim:3", "yes"), None);
        assert_eq!(resolve(s, "sim:02", "yes"), None);
        assert_eq!(resolve(s, "sim:1", "maybe"), None);
        assert_eq!(resolve(s, "kalshi:1", "yes"), None);
    }

    #[test]
    fn the_same_seed_gives_the_same_books() {
        let a = Simulator::start(SimConfig {
            rate_hz: 0.0,
            seed: 9,
            ..SimConfig::default()
        })
        .unwrap();
        let b = Simulator::start(SimConfig {
            rate_hz: 0.0,
            seed: 9,
            ..SimConfig::default()
        })
        .unwrap();
        assert_eq!(a.truth("sim:3", "no", 50), b.truth("sim:3", "no", 50));
    }
}
