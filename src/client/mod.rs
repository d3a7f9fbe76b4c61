//! The Parsec network client (PROTOCOL.md part A): one WebSocket connection
//! and a [`BookStore`](crate::BookStore), on a thread of its own.
//!
//! - tokio + tokio-tungstenite over rustls (ring, webpki roots); `wss://`,
//!   or `ws://` to loopback (elsewhere only with [`ClientConfig::allow_insecure`]).
//! - The session of A1: `auth` (or `auth_terminal`), then subscriptions
//!   batched into as few `subscribe` frames as possible, again after every reconnect.
//! - Control frames (subscribe, unsubscribe, resync) paced under 3 per
//!   second by a token bucket; the store's resync requests go through it,
//!   one outstanding per book, re-sent after the store's timeout.
//! - Pings every 15 s; no frame for 45 s means the connection is dead.
//!   Reconnects back off exponentially with jitter; books read
//!   `Disconnected` until their new snapshots land. `auth_error` is fatal.
//! - Frames are parsed straight from the WebSocket message (no copy on
//!   the fast path), applied and published on the client thread; readers
//!   on any thread hold [`BookReader`]s. Everything else comes as
//!   [`Event`]s.
//!
//! ```no_run
//! use wirebook::client::{ClientConfig, ParsecClient, Subscription};
//! let key = std::env::var("PARSEC_API_KEY").unwrap();
//! let config = ClientConfig::new("wss://api.parsecapi.com/ws", key)
//!     .subscribe(Subscription::new("kalshi:KXBTC-26MAR10").depth(10));
//! let client = ParsecClient::connect(config).unwrap();
//! let book = client.book("kalshi:KXBTC-26MAR10", "yes").unwrap();
//! let mut version = 0;
//! loop {
//!     book.wait_for_change(version, std::time::Duration::from_secs(1));
//!     let snap = book.snapshot(10);
//!     version = snap.version;
//!     println!("{:?} bid {:?} ask {:?}", snap.state, snap.best_bid(), snap.best_ask());
//! }
//! ```

mod awaiting;
mod backoff;
mod driver;
mod error;
mod event;
mod pacer;
mod parlay;
mod tls;
mod transport;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

pub use backoff::Backoff;
pub use error::{redact as redact_url, ClientError};
pub use event::{Activity, ErrorCode, Event, Events, Lagging};
pub use parlay::{OddsEvent, ParlayClient, ParlayConfig, ParlayCounters, ParlaySession};

use crate::latency::{LatencyRecorder, LatencyReport};
use crate::snapshot::BookReader;
use crate::store::{Counters, StoreConfig};

/// An API key or token. Its `Debug` never shows it.
///
/// ```
/// let s = wirebook::client::Secret::new("pk_live_123");
/// assert_eq!(format!("{s:?}"), "Secret(***)");
/// assert_eq!(s.expose(), "pk_live_123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    ///
    /// ```
    /// use wirebook::client::Secret;
    /// let key = Secret::new(String::from("pk_live_123"));
    /// assert_eq!(key.expose(), "pk_live_123");
    /// assert!(!format!("{key:?}").contains("pk_live_123"));
    /// ```
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, to put on the wire.
    ///
    /// ```
    /// let key = wirebook::client::Secret::new("pk_live_123");
    /// let frame = format!(r#"{{"type":"auth","api_key":"{}"}}"#, key.expose());
    /// assert_eq!(frame, r#"{"type":"auth","api_key":"pk_live_123"}"#);
    /// ```
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the client authenticates (PROTOCOL.md A1).
///
/// ```
/// use wirebook::client::{ClientConfig, Credentials, Secret};
/// let config = ClientConfig::new("wss://api.parsecapi.com/ws", "pk_live_1");
/// assert_eq!(config.credentials, Credentials::ApiKey(Secret::new("pk_live_1")));
/// let config = config.terminal_token("tok_1");
/// assert!(matches!(&config.credentials, Credentials::TerminalToken(t) if t.expose() == "tok_1"));
/// assert!(!format!("{:?}", config.credentials).contains("tok_1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// `{"type":"auth","api_key":...}`.
    ApiKey(Secret),
    /// `{"type":"auth_terminal","token":...}`.
    TerminalToken(Secret),
}

/// One book to subscribe to: `parsec_id` (or exchange + market id), outcome, depth.
///
/// ```
/// use wirebook::client::Subscription;
/// let s = Subscription::venue("kalshi", "KXBTC-26MAR10").outcome("No").depth(10);
/// assert_eq!((s.parsec_id(), s.outcome_name()), ("kalshi:KXBTC-26MAR10", "no"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    parsec_id: String,
    venue: bool,
    outcome: String,
    depth: Option<u32>,
}

impl Subscription {
    /// A book by `parsec_id` (`exchange:market_id`), outcome `yes`, server's default depth.
    ///
    /// ```
    /// use wirebook::client::Subscription;
    /// let s = Subscription::new("kalshi:KXBTC-26MAR10");
    /// assert_eq!((s.parsec_id(), s.outcome_name()), ("kalshi:KXBTC-26MAR10", "yes"));
    /// ```
    pub fn new(parsec_id: impl Into<String>) -> Subscription {
        Subscription {
            parsec_id: parsec_id.into(),
            venue: false,
            outcome: "yes".into(),
            depth: None,
        }
    }

    /// A book by exchange and the venue's market id.
    ///
    /// ```
    /// use wirebook::client::Subscription;
    /// let s = Subscription::venue("polymarket", "0x1234abcd").outcome("no");
    /// assert_eq!(s.parsec_id(), "polymarket:0x1234abcd");
    /// // Sent as exchange and market id, not as a `parsec_id`.
    /// assert_ne!(s, Subscription::new("polymarket:0x1234abcd").outcome("no"));
    /// ```
    pub fn venue(exchange: &str, market_id: &str) -> Subscription {
        Subscription {
            venue: true,
            ..Subscription::new(format!("{exchange}:{market_id}"))
        }
    }

    /// The outcome (matched case-insensitively, rule A4.6); required for categorical markets.
    ///
    /// ```
    /// let s = wirebook::client::Subscription::new("kalshi:KXBTC-26MAR10").outcome("No");
    /// assert_eq!(s.outcome_name(), "no");
    /// ```
    pub fn outcome(mut self, outcome: &str) -> Subscription {
        self.outcome = outcome.to_ascii_lowercase();
        self
    }

    /// Levels per side (the server clamps it to the tier's maximum).
    ///
    /// ```
    /// use wirebook::client::Subscription;
    /// let s = Subscription::new("kalshi:KXBTC-26MAR10").depth(10);
    /// assert_eq!(s.requested_depth(), Some(10));
    /// assert_ne!(s, Subscription::new("kalshi:KXBTC-26MAR10"));
    /// ```
    pub fn depth(mut self, depth: u32) -> Subscription {
        self.depth = Some(depth);
        self
    }

    /// The depth asked for, if any (`None`: the server's default, 50).
    ///
    /// ```
    /// use wirebook::client::Subscription;
    /// assert_eq!(Subscription::new("sim:0").requested_depth(), None);
    /// assert_eq!(Subscription::new("sim:0").depth(10).requested_depth(), Some(10));
    /// ```
    pub fn requested_depth(&self) -> Option<u32> {
        self.depth
    }

    /// The book's `parsec_id`.
    ///
    /// ```
    /// let s = wirebook::client::Subscription::venue("kalshi", "KXBTC-26MAR10");
    /// assert_eq!(s.parsec_id(), "kalshi:KXBTC-26MAR10");
    /// ```
    pub fn parsec_id(&self) -> &str {
        &self.parsec_id
    }

    /// The outcome, lower-case.
    ///
    /// ```
    /// let s = wirebook::client::Subscription::new("sim:0").outcome("YES");
    /// assert_eq!(s.outcome_name(), "yes");
    /// ```
    pub fn outcome_name(&self) -> &str {
        &self.outcome
    }

    fn selector(&self) -> crate::MarketSelector<'_> {
        let sel = match self.parsec_id.split_once(':') {
            Some((exchange, market)) if self.venue => {
                crate::MarketSelector::venue(exchange, market)
            }
            _ => crate::MarketSelector::parsec_id(&self.parsec_id),
        };
        let sel = sel.outcome(&self.outcome);
        match self.depth {
            Some(d) => sel.depth(d),
            None => sel,
        }
    }

    fn same_book(&self, other: &Subscription) -> bool {
        self.parsec_id == other.parsec_id && self.outcome == other.outcome
    }
}

/// A watched wallet (`addresses` of `subscribe`).
///
/// ```
/// use wirebook::client::{ClientConfig, Wallet};
/// let config = ClientConfig::new("wss://api.parsecapi.com/ws", "pk_live_1").wallet("polymarket", "0xabc");
/// let expected = Wallet { exchange: "polymarket".into(), address: "0xabc".into() };
/// assert_eq!(config.wallets, vec![expected]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Wallet {
    /// Venue, e.g. `polymarket`.
    pub exchange: String,
    /// Address on it.
    pub address: String,
}

/// Everything the client needs. Built with [`ClientConfig::new`] and the
/// chainable setters; the public fields hold the defaults shown.
///
/// ```
/// use std::time::Duration;
/// use wirebook::client::{ClientConfig, Subscription};
/// let mut config = ClientConfig::new("wss://api.parsecapi.com/ws", "pk_live_1")
///     .subscribe(Subscription::new("kalshi:KXBTC-26MAR10").depth(10));
/// config.dead_after = Duration::from_secs(30); // any field can be set directly
/// assert_eq!(config.subscriptions.len(), 1);
/// assert_eq!((config.ping_interval, config.auth_timeout), (Duration::from_secs(15), Duration::from_secs(15)));
/// assert_eq!((config.control_rate, config.event_capacity), (2.5, 4096));
/// assert_eq!(config.snapshot_timeout, Duration::from_secs(10));
/// assert!(config.latency && !config.allow_insecure && config.record.is_none());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The endpoint, `wss://api.parsecapi.com/ws` for the real service.
    pub url: String,
    /// The key or token.
    pub credentials: Credentials,
    /// Books to subscribe at start (more with [`ParsecClient::subscribe`]).
    pub subscriptions: Vec<Subscription>,
    /// Wallets to watch.
    pub wallets: Vec<Wallet>,
    /// The book store (depth published to readers, resync timeout and buffer, ...).
    pub store: StoreConfig,
    /// Allow `ws://` to hosts that are not loopback.
    pub allow_insecure: bool,
    /// Certificates (DER) to trust besides webpki's roots.
    pub extra_roots: Vec<Vec<u8>>,
    /// WebSocket ping interval (15 s).
    pub ping_interval: Duration,
    /// No frame of any kind for this long means the connection is dead (45 s).
    pub dead_after: Duration,
    /// Wait this long for `auth_ok` (15 s, the server's window).
    pub auth_timeout: Duration,
    /// TCP + TLS + WebSocket handshake timeout (10 s).
    pub connect_timeout: Duration,
    /// Reconnect delays (1 s doubling to 30 s, with jitter).
    pub backoff: Backoff,
    /// Control frames per second (2.5, under the server's 3). At most 2.8
    /// is used: at 3, four frames fit in 0.999 s and the least network
    /// jitter brings a 3001.
    pub control_rate: f64,
    /// A book subscribed on this connection whose first snapshot has not
    /// landed after this long is subscribed again (its `subscribe` may have
    /// been refused with `error` 3001, which names no frame); one refused by
    /// an `error` the client could not pin on it alone is dropped then (10 s).
    pub snapshot_timeout: Duration,
    /// Events each [`Events`] stream holds before the oldest are dropped (and reported).
    pub event_capacity: usize,
    /// Record per-stage latency (three more clock reads a book frame, and
    /// six stage values counted in arrays that fill the histograms when read;
    /// on by default, see `benches/engine.rs` group `latency_recording`).
    pub latency: bool,
    /// Write every received frame with its receive time to this capture file
    /// (`wirebook::capture`; one `write` per frame).
    pub record: Option<std::path::PathBuf>,
}

/// The URL is shown without its query string, fragment or user information
/// (where a key may travel), the key not at all.
///
/// ```
/// let c = wirebook::client::ClientConfig::new("wss://u:pk_live_2@h/ws?apiKey=pk_live_3", "pk_live_1");
/// let shown = format!("{c:?}");
/// assert!(shown.contains(r#"url: "wss://h/ws""#), "{shown}");
/// assert!(!shown.contains("pk_live_"), "{shown}");
/// ```
impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &error::redact(&self.url))
            .field("credentials", &self.credentials)
            .field("subscriptions", &self.subscriptions)
            .field("wallets", &self.wallets)
            .field("store", &self.store)
            .field("allow_insecure", &self.allow_insecure)
            .field("extra_roots", &self.extra_roots)
            .field("ping_interval", &self.ping_interval)
            .field("dead_after", &self.dead_after)
            .field("auth_timeout", &self.auth_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("backoff", &self.backoff)
            .field("control_rate", &self.control_rate)
            .field("snapshot_timeout", &self.snapshot_timeout)
            .field("event_capacity", &self.event_capacity)
            .field("latency", &self.latency)
            .field("record", &self.record)
            .finish()
    }
}

impl ClientConfig {
    /// A configuration with an API key and the defaults.
    ///
    /// ```
    /// let c = wirebook::client::ClientConfig::new("wss://api.parsecapi.com/ws", "pk_live_1");
    /// assert!(!format!("{c:?}").contains("pk_live_1"));
    /// ```
    pub fn new(url: impl Into<String>, api_key: impl Into<String>) -> ClientConfig {
        ClientConfig {
            url: url.into(),
            credentials: Credentials::ApiKey(Secret::new(api_key)),
            subscriptions: Vec::new(),
            wallets: Vec::new(),
            store: StoreConfig {
                auto_track: false,
                ..StoreConfig::default()
            },
            allow_insecure: false,
            extra_roots: Vec::new(),
            ping_interval: Duration::from_secs(15),
            dead_after: Duration::from_secs(45),
            auth_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            control_rate: 2.5,
            snapshot_timeout: Duration::from_secs(10),
            event_capacity: 4096,
            latency: true,
            record: None,
        }
    }

    /// Authenticates with `auth_terminal` and a token instead of a key.
    ///
    /// ```
    /// use wirebook::client::{ClientConfig, Credentials};
    /// let config = ClientConfig::new("wss://api.parsecapi.com/ws", "").terminal_token("tok_abc");
    /// assert!(matches!(&config.credentials, Credentials::TerminalToken(t) if t.expose() == "tok_abc"));
    /// assert!(!format!("{config:?}").contains("tok_abc"));
    /// ```
    pub fn terminal_token(mut self, token: impl Into<String>) -> ClientConfig {
        self.credentials = Credentials::TerminalToken(Secret::new(token));
        self
    }

    /// Adds a book to subscribe at start.
    ///
    /// ```
    /// use wirebook::client::{ClientConfig, Subscription};
    /// let config = ClientConfig::new("wss://api.parsecapi.com/ws", "pk_live_1")
    ///     .subscribe(Subscription::new("kalshi:KXBTC-26MAR10"))
    ///     .subscribe(Subscription::venue("polymarket", "0x1234abcd").outcome("no"));
    /// let ids: Vec<&str> = config.subscriptions.iter().map(|s| s.parsec_id()).collect();
    /// assert_eq!(ids, ["kalshi:KXBTC-26MAR10", "polymarket:0x1234abcd"]);
    /// ```
    pub fn subscribe(mut self, subscription: Subscription) -> ClientConfig {
        self.subscriptions.push(subscription);
        self
    }

    /// Adds a wallet to watch.
    ///
    /// ```
    /// let config = wirebook::client::ClientConfig::new("wss://api.parsecapi.com/ws", "pk_live_1")
    ///     .wallet("polymarket", "0xabc")
    ///     .wallet("kalshi", "acct_1");
    /// assert_eq!(config.wallets.len(), 2);
    /// let w = &config.wallets[0];
    /// assert_eq!((w.exchange.as_str(), w.address.as_str()), ("polymarket", "0xabc"));
    /// ```
    pub fn wallet(mut self, exchange: &str, address: &str) -> ClientConfig {
        self.wallets.push(Wallet {
            exchange: exchange.into(),
            address: address.into(),
        });
        self
    }

    /// Trusts a certificate (DER), e.g. [`Simulator::certificate_der`](crate::sim::Simulator::certificate_der).
    ///
    /// ```
    /// use wirebook::client::ClientConfig;
    /// use wirebook::sim::{SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { tls: true, ..SimConfig::default() })?;
    /// let cert = sim.certificate_der().unwrap();
    /// let config = ClientConfig::new(sim.url(), "pk_demo").trust(cert);
    /// assert_eq!(config.extra_roots, vec![cert.to_vec()]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn trust(mut self, certificate_der: &[u8]) -> ClientConfig {
        self.extra_roots.push(certificate_der.to_vec());
        self
    }

    /// Sets the reconnect delays.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wirebook::client::{Backoff, ClientConfig};
    /// let quick = Backoff { initial: Duration::from_millis(50), max: Duration::from_secs(2), jitter: 0.0 };
    /// let config = ClientConfig::new("wss://api.parsecapi.com/ws", "pk_live_1").backoff(quick);
    /// assert_eq!(config.backoff, quick);
    /// assert_eq!(config.backoff.delay(10, 0.5), Duration::from_secs(2));
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> ClientConfig {
        self.backoff = backoff;
        self
    }

    /// Records every received frame into a capture file (see [`crate::capture`]).
    ///
    /// ```
    /// let path = std::env::temp_dir().join("wirebook-doc.cap");
    /// let config = wirebook::client::ClientConfig::new("wss://api.parsecapi.com/ws", "pk_live_1")
    ///     .record(path.clone());
    /// assert_eq!(config.record.as_deref(), Some(path.as_path()));
    /// ```
    pub fn record(mut self, path: impl Into<std::path::PathBuf>) -> ClientConfig {
        self.record = Some(path.into());
        self
    }

    /// Sets the store's configuration (`auto_track` is forced off: books are the subscribed ones).
    ///
    /// ```
    /// use wirebook::{client::ClientConfig, StoreConfig};
    /// let config = ClientConfig::new("wss://api.parsecapi.com/ws", "pk_live_1")
    ///     .store(StoreConfig { depth: 10, ..StoreConfig::default() });
    /// assert_eq!(config.store.depth, 10);
    /// ```
    pub fn store(mut self, store: StoreConfig) -> ClientConfig {
        self.store = store;
        self
    }
}

/// Where the connection is.
///
/// ```
/// use std::time::{Duration, Instant};
/// use wirebook::client::{ClientConfig, ConnectionState, ParsecClient};
/// # let sim = wirebook::sim::Simulator::start(Default::default())?;
/// let client = ParsecClient::spawn(ClientConfig::new(sim.url(), "pk_demo"))?;
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while client.counters().state != ConnectionState::Live && Instant::now() < deadline {
///     std::thread::sleep(Duration::from_millis(5));
/// }
/// assert_eq!(client.counters().state, ConnectionState::Live);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Opening a connection.
    #[default]
    Connecting,
    /// Waiting for `auth_ok`.
    Authenticating,
    /// Authenticated; frames flow.
    Live,
    /// Waiting before the next attempt.
    Reconnecting,
    /// Stopped (shutdown or a fatal error).
    Stopped,
}

/// Counters of the client, with the store's.
///
/// ```
/// use std::time::{Duration, Instant};
/// use wirebook::client::{ClientConfig, ParsecClient, Subscription};
/// # let sim = wirebook::sim::Simulator::start(Default::default())?;
/// let config = ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0"));
/// let client = ParsecClient::connect(config)?;
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while client.counters().store.snapshots == 0 && Instant::now() < deadline {
///     std::thread::sleep(Duration::from_millis(5));
/// }
/// let c = client.counters();
/// assert_eq!((c.connections, c.store.snapshots), (1, 1));
/// assert!(c.control_frames >= 1 && c.frames >= 1 && c.rate_limited == 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientCounters {
    /// Where the connection is.
    pub state: ConnectionState,
    /// Connections opened.
    pub connections: u64,
    /// Reconnect attempts.
    pub reconnects: u64,
    /// Messages received.
    pub frames: u64,
    /// Bytes of messages received.
    pub bytes: u64,
    /// Control frames sent (subscribe, unsubscribe, resync).
    pub control_frames: u64,
    /// `resync` frames sent.
    pub resyncs_sent: u64,
    /// `error` frames received.
    pub server_errors: u64,
    /// `error` 3001 received (should stay 0: the pacer's job).
    pub rate_limited: u64,
    /// Books subscribed again: no snapshot came within the snapshot
    /// timeout, or a 2001 answered the `resync` of a book the server no
    /// longer held a subscription of.
    pub resubscribes: u64,
    /// Subscriptions dropped because the server refused them (2002, 2005, 3002).
    pub dropped_subscriptions: u64,
    /// Unsubscribes sent again: the book's frames still came after the
    /// snapshot timeout, or a 3001 came within a second of the unsubscribe.
    pub unsubscribes_resent: u64,
    /// Wallets whose `subscribe` went out again: a 3001 came within a
    /// second of it.
    pub wallets_resent: u64,
    /// Delta frames that went from the parser straight to the store, with
    /// no [`Frame`](crate::Frame) built ([`BookStore::apply_message`](crate::BookStore::apply_message)'s
    /// route), whatever the store then did with them (applied, buffered,
    /// dropped as duplicates, gaps): those of a market the parser has
    /// learned, while no left book's frames are watched for.
    pub direct_deltas: u64,
    /// The store's counters.
    pub store: Counters,
}

/// What the client thread shares with the handle.
struct Shared {
    books: RwLock<HashMap<(String, String), BookReader>>,
    hub: event::Hub,
    status: Mutex<Status>,
}

struct Status {
    counters: ClientCounters,
    latency: LatencyRecorder,
    error: Option<ClientError>,
}

enum Command {
    Subscribe(
        Vec<Subscription>,
        std::sync::mpsc::SyncSender<Result<Vec<BookReader>, ClientError>>,
    ),
    Unsubscribe(Vec<Subscription>),
    Wallets {
        add: bool,
        wallets: Vec<Wallet>,
    },
    Shutdown,
}

/// A live connection to a Parsec server, run on a thread of its own.
/// Dropping it shuts the connection down.
///
/// ```
/// use std::time::{Duration, Instant};
/// use wirebook::client::{ClientConfig, ParsecClient, Subscription};
/// use wirebook::sim::{SimConfig, Simulator};
/// use wirebook::BookState;
///
/// let sim = Simulator::start(SimConfig::default())?; // ws://127.0.0.1:PORT/ws, markets sim:0..sim:3
/// let config = ClientConfig::new(sim.url(), "pk_demo_key")
///     .subscribe(Subscription::new("sim:0").outcome("yes").depth(10));
/// let client = ParsecClient::connect(config)?; // waits for auth_ok
/// let book = client.book("sim:0", "yes").unwrap();
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while book.snapshot(1).state != BookState::Fresh && Instant::now() < deadline {
///     book.wait_for_change(book.version(), Duration::from_millis(100));
/// }
/// let snap = book.snapshot(10);
/// assert_eq!(snap.state, BookState::Fresh);
/// assert!(snap.best_bid().unwrap().price < snap.best_ask().unwrap().price);
/// assert_eq!(client.shutdown(), None); // no fatal error
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ParsecClient {
    shared: Arc<Shared>,
    worker: transport::Worker<Command>,
}

impl std::fmt::Debug for ParsecClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsecClient")
            .field("state", &self.counters().state)
            .finish_non_exhaustive()
    }
}

impl ParsecClient {
    /// Starts the client and waits for the first `auth_ok`. A bad URL, an
    /// unreachable server, a rejected key or a missing `auth_ok` are
    /// returned here; after that, drops reconnect by themselves.
    ///
    /// ```
    /// use wirebook::client::{ClientConfig, ClientError, ParsecClient};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo"))?;
    /// assert!(client.error().is_none());
    /// assert_eq!(sim.stats().auth_ok, 1);
    /// let err = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_invalid")).unwrap_err();
    /// assert!(matches!(err, ClientError::Auth { code: 1002, .. }) && err.is_fatal());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(config: ClientConfig) -> Result<ParsecClient, ClientError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let timeout = config.connect_timeout + config.auth_timeout + Duration::from_secs(1);
        let mut client = ParsecClient::start(config, Some(tx))?;
        match rx.recv_timeout(timeout) {
            Ok(Ok(())) => Ok(client),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(client.stop().unwrap_or(ClientError::Stopped)),
        }
    }

    /// Starts the client without waiting: even the first connection is
    /// retried with backoff. Configuration errors are still returned here.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wirebook::client::{ClientConfig, ClientError, ParsecClient, Subscription};
    /// use wirebook::BookState;
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let config = ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:1"));
    /// let client = ParsecClient::spawn(config)?; // returns at once
    /// let book = client.book("sim:1", "yes").unwrap(); // empty until its snapshot lands
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while book.snapshot(1).state != BookState::Fresh && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// assert_eq!(book.snapshot(1).state, BookState::Fresh);
    /// let err = ParsecClient::spawn(ClientConfig::new("ws://example.com/ws", "pk_demo")).unwrap_err();
    /// assert!(matches!(err, ClientError::Insecure { .. })); // configuration errors still come here
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn(config: ClientConfig) -> Result<ParsecClient, ClientError> {
        ParsecClient::start(config, None)
    }

    fn start(
        mut config: ClientConfig,
        started: Option<std::sync::mpsc::SyncSender<Result<(), ClientError>>>,
    ) -> Result<ParsecClient, ClientError> {
        let secure = tls::check_url(&config.url, config.allow_insecure)?;
        let tls = if secure {
            Some(tls::client_config(&config.extra_roots)?)
        } else {
            None
        };
        config.store.auto_track = false;
        config.store.stage_timing = config.latency;
        let shared = Arc::new(Shared {
            books: RwLock::new(HashMap::new()),
            hub: event::Hub::new(config.event_capacity),
            status: Mutex::new(Status {
                counters: ClientCounters::default(),
                latency: LatencyRecorder::new(),
                error: None,
            }),
        });
        let capture = match &config.record {
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|e| ClientError::Capture {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                Some(crate::capture::CaptureWriter::new(file).map_err(|e| {
                    ClientError::Capture {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    }
                })?)
            }
            None => None,
        };
        let mut driver = driver::Driver::new(config, tls, shared.clone(), started, capture);
        for s in driver.initial_subscriptions() {
            driver.track(&s)?;
        }
        let worker = transport::Worker::start("wirebook-client", |rx| driver.run(rx))?;
        Ok(ParsecClient { shared, worker })
    }

    /// The reader of a subscribed book (outcome matched case-insensitively).
    ///
    /// ```
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let config = ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:2").outcome("No"));
    /// let client = ParsecClient::connect(config)?;
    /// let book = client.book("sim:2", "NO").unwrap();
    /// assert_eq!((book.parsec_id(), book.outcome()), ("sim:2", "no"));
    /// assert!(client.book("sim:3", "yes").is_none()); // not subscribed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn book(&self, parsec_id: &str, outcome: &str) -> Option<BookReader> {
        self.shared
            .books
            .read()
            .get(&(parsec_id.to_owned(), outcome.to_ascii_lowercase()))
            .cloned()
    }

    /// Readers of every subscribed book, sorted by `parsec_id` and outcome.
    ///
    /// ```
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let config = ClientConfig::new(sim.url(), "pk_demo")
    ///     .subscribe(Subscription::new("sim:1"))
    ///     .subscribe(Subscription::new("sim:0").outcome("no"))
    ///     .subscribe(Subscription::new("sim:0"));
    /// let client = ParsecClient::connect(config)?;
    /// let books = client.books();
    /// let keys: Vec<(&str, &str)> = books.iter().map(|b| (b.parsec_id(), b.outcome())).collect();
    /// assert_eq!(keys, [("sim:0", "no"), ("sim:0", "yes"), ("sim:1", "yes")]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn books(&self) -> Vec<BookReader> {
        let mut all: Vec<_> = self.shared.books.read().values().cloned().collect();
        all.sort_by(|a, b| (a.parsec_id(), a.outcome()).cmp(&(b.parsec_id(), b.outcome())));
        all
    }

    /// Subscribes to more books (sent as one paced frame) and returns their readers.
    ///
    /// All or nothing: if the store cannot take one of the books (no slot
    /// left, see [`StoreConfig::max_books`], or an empty id), none of them is
    /// subscribed. Answered while the client connects or reconnects too (the
    /// books then go out once authenticated). Waits for the connection task
    /// to take the books: at most about `dead_after` while a send to a server
    /// that stopped reading holds it up. [`ClientError::Stopped`] means the
    /// client has stopped; the books are then not subscribed.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// # use wirebook::BookState;
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo"))?;
    /// let readers = client.subscribe(vec![Subscription::new("sim:1").outcome("no")])?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while readers[0].snapshot(1).state != BookState::Fresh && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// assert_eq!(readers[0].snapshot(1).state, BookState::Fresh);
    /// assert!(client.book("sim:1", "no").is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(
        &self,
        subscriptions: Vec<Subscription>,
    ) -> Result<Vec<BookReader>, ClientError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.worker.send(Command::Subscribe(subscriptions, tx))?;
        // No timeout of its own: one that gave up while the task was busy
        // reported a live client as stopped, and the command, still queued,
        // subscribed the books afterwards. The task answers every command
        // it takes, and drops the channel when it stops.
        rx.recv().map_err(|_| ClientError::Stopped)?
    }

    /// Unsubscribes; the books' readers read `Disconnected` from then on.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// # use wirebook::BookState;
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # let config = ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0"));
    /// # let client = ParsecClient::connect(config)?;
    /// let book = client.book("sim:0", "yes").unwrap();
    /// # let deadline = Instant::now() + Duration::from_secs(10);
    /// # while book.snapshot(1).state != BookState::Fresh && Instant::now() < deadline {
    /// #     std::thread::sleep(Duration::from_millis(5));
    /// # }
    /// client.unsubscribe(vec![Subscription::new("sim:0")])?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.book("sim:0", "yes").is_some() && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// assert_eq!(book.snapshot(1).state, BookState::Disconnected);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unsubscribe(&self, subscriptions: Vec<Subscription>) -> Result<(), ClientError> {
        self.worker.send(Command::Unsubscribe(subscriptions))
    }

    /// Watches a wallet (its snapshots arrive as [`Event::Wallet`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wirebook::client::{ClientConfig, Event, ParsecClient, Subscription};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # let config = ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0"));
    /// let client = ParsecClient::connect(config)?;
    /// let mut events = client.events();
    /// client.watch_wallet("polymarket", "0xabc")?;
    /// let address = std::iter::from_fn(|| events.recv_timeout(Duration::from_secs(5))).find_map(|e| match e {
    ///     Event::Wallet { address, .. } => Some(address),
    ///     _ => None,
    /// });
    /// assert_eq!(address.as_deref(), Some("0xabc"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn watch_wallet(&self, exchange: &str, address: &str) -> Result<(), ClientError> {
        let wallets = vec![Wallet {
            exchange: exchange.into(),
            address: address.into(),
        }];
        self.worker.send(Command::Wallets { add: true, wallets })
    }

    /// Stops watching a wallet: it is no longer sent again on a reconnect
    /// (nor, if still queued, at all). PROTOCOL.md's `unsubscribe` carries
    /// markets only, so no frame goes out: the server may go on sending the
    /// wallet's snapshots on this connection, and they still arrive as
    /// [`Event::Wallet`].
    ///
    /// ```
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # let config = ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0"));
    /// let client = ParsecClient::connect(config)?;
    /// client.watch_wallet("polymarket", "0xabc")?;
    /// client.unwatch_wallet("polymarket", "0xabc")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unwatch_wallet(&self, exchange: &str, address: &str) -> Result<(), ClientError> {
        let wallets = vec![Wallet {
            exchange: exchange.into(),
            address: address.into(),
        }];
        self.worker.send(Command::Wallets {
            add: false,
            wallets,
        })
    }

    /// A new stream of events from now on.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wirebook::client::{ClientConfig, Event, ParsecClient, Subscription};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo"))?;
    /// let mut events = client.events();
    /// client.subscribe(vec![Subscription::new("sim:0")])?;
    /// let synced = std::iter::from_fn(|| events.recv_timeout(Duration::from_secs(5))).find_map(|e| match e {
    ///     Event::Synced { key, .. } => Some(key), // the snapshot landed
    ///     _ => None,
    /// });
    /// let key = synced.unwrap();
    /// assert_eq!((&*key.parsec_id, &*key.outcome), ("sim:0", "yes"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn events(&self) -> Events {
        self.shared.hub.subscribe()
    }

    /// Counters (refreshed every 50 ms by the client thread).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ConnectionState, ParsecClient, Subscription};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let config = ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0"));
    /// let client = ParsecClient::connect(config)?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.counters().store.deltas == 0 && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// let c = client.counters();
    /// assert_eq!((c.state, c.connections), (ConnectionState::Live, 1));
    /// assert!(c.store.deltas > 0 && c.bytes > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn counters(&self) -> ClientCounters {
        self.shared.status.lock().counters
    }

    /// Per-stage latency percentiles since start (refreshed every 50 ms):
    /// parse, apply, publish, total, and the wire clocks against receive time.
    /// Empty when [`ClientConfig::latency`] is off.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ParsecClient, Subscription};
    /// use wirebook::latency::Stage;
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let config = ClientConfig::new(sim.url(), "pk_demo").subscribe(Subscription::new("sim:0"));
    /// let client = ParsecClient::connect(config)?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.latency().get(Stage::Total).count < 5 && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// let total = client.latency().get(Stage::Total);
    /// assert!(total.count >= 5 && total.p50 <= total.max);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn latency(&self) -> LatencyReport {
        self.shared.status.lock().latency.report()
    }

    /// The fatal error the client stopped with, if it did.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ClientError, ParsecClient};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let client = ParsecClient::spawn(ClientConfig::new(sim.url(), "pk_invalid"))?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.error().is_none() && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// assert!(matches!(client.error(), Some(ClientError::Auth { code: 1002, .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn error(&self) -> Option<ClientError> {
        self.shared.status.lock().error.clone()
    }

    /// Closes the connection and waits for the client thread; returns the
    /// fatal error if the client had already stopped on one.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientConfig, ClientError, ParsecClient};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo"))?;
    /// assert_eq!(client.shutdown(), None); // asked to stop: no error
    /// let rejected = ParsecClient::spawn(ClientConfig::new(sim.url(), "pk_invalid"))?;
    /// # let deadline = Instant::now() + Duration::from_secs(10);
    /// # while rejected.error().is_none() && Instant::now() < deadline {
    /// #     std::thread::sleep(Duration::from_millis(5));
    /// # }
    /// assert!(matches!(rejected.shutdown(), Some(ClientError::Auth { code: 1002, .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(mut self) -> Option<ClientError> {
        self.stop()
    }

    fn stop(&mut self) -> Option<ClientError> {
        self.worker.stop(Command::Shutdown);
        self.error()
    }
}

impl Drop for ParsecClient {
    fn drop(&mut self) {
        self.stop();
    }
}
