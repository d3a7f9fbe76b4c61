//! The Parlay odds client (PROTOCOL.md part B): one WebSocket to
//! `/v1/ws/odds/{sport}` (or `/v1/ws/live/{sport}`), an [`OddsBoard`] kept
//! from `initial_state` and `odds_update`, per-event snapshots for readers on
//! any thread, edge alerts, and the close codes of B3. It shares the Parsec
//! client's transport, TLS, backoff and event streams.

use std::collections::{BTreeSet, HashMap};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::backoff::Backoff;
use super::error::redact;
use super::event::{Events, Hub, Lagging};
use super::transport::{self, send_by, OpenError, Ws};
use super::{tls, ClientError, Secret};
use crate::clock;
use crate::encode::FrameWriter;
use crate::frame::{Frame, Line};
use crate::odds::{best_among, best_of, EdgeAlert, EdgeAlerts, OddsBoard, Quote};
use crate::parse::{FrameParser, ParseError};

/// Everything the odds client needs; [`ParlayConfig::new`] and the setters.
///
/// ```
/// use std::time::Duration;
/// use wirebook::client::ParlayConfig;
/// let mut config = ParlayConfig::new("basketball_nba", "pk_live_1").live(true).event("evt_1").edge(0.02);
/// config.bookmakers = vec!["pinnacle".into()];
/// assert_eq!(
///     config.url(None),
///     "wss://parlay-api.com/v1/ws/live/basketball_nba?event_id=evt_1&bookmakers=pinnacle"
/// );
/// assert_eq!((config.dead_after, config.deploy_wait), (Duration::from_secs(60), Duration::from_secs(5)));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ParlayConfig {
    /// The server's base, `wss://parlay-api.com` for the real service.
    pub base_url: String,
    /// Sport key (from `GET /v1/sports`), e.g. `basketball_nba`.
    pub sport: String,
    /// Live games only (`/v1/ws/live/`).
    pub live: bool,
    /// The paths without `/v1` (older servers).
    pub legacy_path: bool,
    /// The key; `None` sends none (the server closes with 4003).
    pub api_key: Option<Secret>,
    /// Send the key as `?apiKey=` instead of the `X-API-Key` header
    /// (query strings end up in logs: only when a header cannot be set).
    pub key_in_query: bool,
    /// Connect-time filter: one event.
    pub event_id: Option<String>,
    /// Connect-time filter: bookmakers.
    pub bookmakers: Vec<String>,
    /// Connect-time filter: markets.
    pub markets: Vec<String>,
    /// Connect-time filter: `game`, `prop`.
    pub kinds: Vec<String>,
    /// Diff mode: rows carry only changed fields plus identifiers.
    pub diff: bool,
    /// More query parameters (e.g. the simulator's `shape=grouped`).
    pub extra_query: Vec<(String, String)>,
    /// Alert on moves of at least this many implied-probability points (0.02 = 2).
    pub edge_threshold: Option<f64>,
    /// Reconnect delays after network drops and server errors (1006, 1011).
    pub backoff: Backoff,
    /// The wait after close 4002 (too many connections for the key).
    pub connection_cap_wait: Duration,
    /// The wait after close 1001 (server deploy).
    pub deploy_wait: Duration,
    /// No frame for this long means the connection is dead (60 s).
    pub dead_after: Duration,
    /// WebSocket ping interval (20 s).
    pub ping_interval: Duration,
    /// Handshake timeout.
    pub connect_timeout: Duration,
    /// Allow `ws://` to hosts that are not loopback.
    pub allow_insecure: bool,
    /// Certificates (DER) to trust besides webpki's roots.
    pub extra_roots: Vec<Vec<u8>>,
    /// Events each stream holds before the oldest are dropped (and reported).
    pub event_capacity: usize,
}

/// The base URL is shown without its query string, fragment or user
/// information (where a key may travel), the key not at all.
///
/// ```
/// let mut c = wirebook::client::ParlayConfig::new("basketball_nba", "pk_live_1");
/// c.base_url = "wss://pk_live_2@parlay-api.com?apiKey=pk_live_3".into();
/// let shown = format!("{c:?}");
/// assert!(shown.contains(r#"base_url: "wss://parlay-api.com""#), "{shown}");
/// assert!(!shown.contains("pk_live_"), "{shown}");
/// ```
impl std::fmt::Debug for ParlayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParlayConfig")
            .field("base_url", &redact(&self.base_url))
            .field("sport", &self.sport)
            .field("live", &self.live)
            .field("legacy_path", &self.legacy_path)
            .field("api_key", &self.api_key)
            .field("key_in_query", &self.key_in_query)
            .field("event_id", &self.event_id)
            .field("bookmakers", &self.bookmakers)
            .field("markets", &self.markets)
            .field("kinds", &self.kinds)
            .field("diff", &self.diff)
            // Names only: a value may be a key.
            .field(
                "extra_query",
                &self
                    .extra_query
                    .iter()
                    .map(|(name, _)| format!("{name}=<redacted>"))
                    .collect::<Vec<_>>(),
            )
            .field("edge_threshold", &self.edge_threshold)
            .field("backoff", &self.backoff)
            .field("connection_cap_wait", &self.connection_cap_wait)
            .field("deploy_wait", &self.deploy_wait)
            .field("dead_after", &self.dead_after)
            .field("ping_interval", &self.ping_interval)
            .field("connect_timeout", &self.connect_timeout)
            .field("allow_insecure", &self.allow_insecure)
            .field("extra_roots", &self.extra_roots)
            .field("event_capacity", &self.event_capacity)
            .finish()
    }
}

impl ParlayConfig {
    /// The real service, a sport and a key; every other setting at its default.
    ///
    /// ```
    /// let c = wirebook::client::ParlayConfig::new("basketball_nba", "pk_live_1");
    /// assert_eq!(c.url(None), "wss://parlay-api.com/v1/ws/odds/basketball_nba");
    /// assert!(!format!("{c:?}").contains("pk_live_1"));
    /// ```
    pub fn new(sport: &str, api_key: impl Into<String>) -> ParlayConfig {
        ParlayConfig {
            base_url: "wss://parlay-api.com".into(),
            sport: sport.into(),
            live: false,
            legacy_path: false,
            api_key: Some(Secret::new(api_key)).filter(|k| !k.expose().is_empty()),
            key_in_query: false,
            event_id: None,
            bookmakers: Vec::new(),
            markets: Vec::new(),
            kinds: Vec::new(),
            diff: false,
            extra_query: Vec::new(),
            edge_threshold: None,
            backoff: Backoff::default(),
            connection_cap_wait: Duration::from_secs(60),
            deploy_wait: Duration::from_secs(5),
            dead_after: Duration::from_secs(60),
            ping_interval: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            allow_insecure: false,
            extra_roots: Vec::new(),
            event_capacity: 4096,
        }
    }

    /// Another server (`ws://127.0.0.1:9000`, say); the path comes from the sport.
    ///
    /// ```
    /// use wirebook::client::ParlayConfig;
    /// let config = ParlayConfig::new("basketball_nba", "pk_scale_1").base_url("ws://127.0.0.1:9000/");
    /// assert_eq!(config.url(None), "ws://127.0.0.1:9000/v1/ws/odds/basketball_nba");
    /// ```
    pub fn base_url(mut self, base: impl Into<String>) -> ParlayConfig {
        self.base_url = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// Live games only.
    ///
    /// ```
    /// let config = wirebook::client::ParlayConfig::new("basketball_nba", "pk_scale_1").live(true);
    /// assert_eq!(config.url(None), "wss://parlay-api.com/v1/ws/live/basketball_nba");
    /// ```
    pub fn live(mut self, live: bool) -> ParlayConfig {
        self.live = live;
        self
    }

    /// Only this event (connect-time filter; `subscribe` changes it later).
    ///
    /// ```
    /// let config = wirebook::client::ParlayConfig::new("basketball_nba", "pk_scale_1").event("nba 401");
    /// assert_eq!(config.event_id.as_deref(), Some("nba 401"));
    /// assert_eq!(config.url(None), "wss://parlay-api.com/v1/ws/odds/basketball_nba?event_id=nba%20401");
    /// ```
    pub fn event(mut self, event_id: &str) -> ParlayConfig {
        self.event_id = Some(event_id.into());
        self
    }

    /// Edge alerts at this threshold (implied-probability points).
    ///
    /// ```
    /// let config = wirebook::client::ParlayConfig::new("basketball_nba", "pk_scale_1").edge(0.02);
    /// assert_eq!(config.edge_threshold, Some(0.02));
    /// ```
    pub fn edge(mut self, points: f64) -> ParlayConfig {
        self.edge_threshold = Some(points);
        self
    }

    /// Trusts a certificate (DER).
    ///
    /// ```
    /// use wirebook::client::ParlayConfig;
    /// use wirebook::sim::{SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { tls: true, ..SimConfig::default() })?;
    /// let cert = sim.certificate_der().unwrap();
    /// let config = ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()).trust(cert);
    /// assert_eq!(config.extra_roots, vec![cert.to_vec()]);
    /// assert!(config.url(None).starts_with("wss://127.0.0.1:"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn trust(mut self, certificate_der: &[u8]) -> ParlayConfig {
        self.extra_roots.push(certificate_der.to_vec());
        self
    }

    /// The URL to connect to, resuming from `since` (epoch ms) when given.
    /// The key is in it only with `key_in_query`.
    ///
    /// ```
    /// let mut config = wirebook::client::ParlayConfig::new("basketball_nba", "pk_live_1");
    /// assert_eq!(
    ///     config.url(Some(1_700_000_000_000)),
    ///     "wss://parlay-api.com/v1/ws/odds/basketball_nba?since=1700000000000"
    /// );
    /// config.key_in_query = true;
    /// assert_eq!(config.url(None), "wss://parlay-api.com/v1/ws/odds/basketball_nba?apiKey=pk_live_1");
    /// ```
    pub fn url(&self, since: Option<u64>) -> String {
        let kind = if self.live { "live" } else { "odds" };
        let v1 = if self.legacy_path { "" } else { "/v1" };
        let mut url = format!("{}{v1}/ws/{kind}/{}", self.base_url, self.sport);
        let mut query: Vec<(String, String)> = Vec::new();
        if let Some(e) = &self.event_id {
            query.push(("event_id".into(), e.clone()));
        }
        for (name, list) in [
            ("bookmakers", &self.bookmakers),
            ("markets", &self.markets),
            ("kinds", &self.kinds),
        ] {
            if !list.is_empty() {
                query.push((name.into(), list.join(",")));
            }
        }
        if let Some(s) = since {
            query.push(("since".into(), s.to_string()));
        }
        if self.diff {
            query.push(("diff".into(), "true".into()));
        }
        query.extend(self.extra_query.iter().cloned());
        if self.key_in_query {
            if let Some(k) = &self.api_key {
                query.push(("apiKey".into(), k.expose().to_owned()));
            }
        }
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            for b in v.bytes() {
                if b.is_ascii_alphanumeric() || b"-_.~,".contains(&b) {
                    url.push(b as char);
                } else {
                    url.push_str(&format!("%{b:02X}"));
                }
            }
        }
        url
    }
}

/// What `connected` said about the session.
///
/// ```
/// use std::time::Duration;
/// use wirebook::client::{ParlayClient, ParlayConfig};
/// # let sim = wirebook::sim::Simulator::start(Default::default())?;
/// let config = ParlayConfig::new("basketball_nba", "pk_business_demo").base_url(sim.base_url());
/// let session = ParlayClient::connect(config)?.session().unwrap();
/// assert_eq!((session.sport_key.as_str(), session.tier.as_str()), ("basketball_nba", "business"));
/// assert_eq!(session.coalesce_window, Some(Duration::from_secs(1)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParlaySession {
    /// Sport of the stream.
    pub sport_key: String,
    /// `business`, `enterprise` or `scale`.
    pub tier: String,
    /// `raw` or `coalesced`.
    pub push_mode: Option<String>,
    /// The coalesce window (1 s Business, 0.5 s Enterprise, none for Scale).
    pub coalesce_window: Option<Duration>,
    /// Whether rows carry only changed fields.
    pub diff_mode: bool,
}

/// Something that happened on the odds connection.
///
/// ```
/// use std::time::Duration;
/// use wirebook::client::{OddsEvent, ParlayClient, ParlayConfig};
/// use wirebook::sim::{SimConfig, Simulator};
/// let sim = Simulator::start(SimConfig { odds_interval: Duration::from_millis(100), ..SimConfig::default() })?;
/// let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
/// let mut events = client.events();
/// let rows = std::iter::from_fn(|| events.recv_timeout(Duration::from_secs(5))).find_map(|e| match e {
///     OddsEvent::Update { rows, .. } => Some(rows),
///     OddsEvent::Stopped { error } => panic!("stopped: {error:?}"),
///     _ => None, // initial_state, heartbeats, stream status, ...
/// });
/// assert!(rows.unwrap() > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OddsEvent {
    /// `connected`: the session's terms.
    Connected(ParlaySession),
    /// `initial_state` replaced the board.
    InitialState {
        /// Rows in it.
        rows: usize,
        /// Whether the server cut it at 500 rows.
        truncated: bool,
    },
    /// `odds_update` changed the board.
    Update {
        /// Rows in it.
        rows: usize,
        /// Whether the server coalesced it.
        coalesced: bool,
    },
    /// `subscribed`: only this event from now on.
    Subscribed {
        /// The event.
        event_id: String,
    },
    /// `unsubscribed`: every event again.
    Unsubscribed,
    /// `heartbeat` (sent after 30 s idle).
    Heartbeat,
    /// `stream_status`: a coverage diagnostic.
    StreamStatus {
        /// Bookmaker concerned.
        bookmaker: Option<String>,
        /// Status.
        status: Option<String>,
        /// Reason.
        reason: Option<String>,
    },
    /// A quote moved by at least the edge threshold.
    Alert(EdgeAlert),
    /// A frame did not parse; counted and skipped.
    Malformed {
        /// Why.
        error: ParseError,
    },
    /// The connection ended.
    Disconnected {
        /// Why.
        reason: String,
        /// The close code, when the server sent one.
        code: Option<u16>,
    },
    /// The next attempt is due after `delay`.
    Reconnecting {
        /// 0-based attempt since the last good session.
        attempt: u32,
        /// The wait.
        delay: Duration,
    },
    /// This stream fell behind and lost its `missed` oldest events.
    Lagged {
        /// How many.
        missed: u64,
    },
    /// The client stopped: the fatal error, or `None` after `shutdown`.
    Stopped {
        /// Why, if not asked to.
        error: Option<ClientError>,
    },
}

impl Lagging for OddsEvent {
    fn lagged(missed: u64) -> OddsEvent {
        OddsEvent::Lagged { missed }
    }
}

/// Counters of the odds client.
///
/// ```
/// # use std::time::{Duration, Instant};
/// # use wirebook::client::{ParlayClient, ParlayConfig};
/// # use wirebook::sim::{SimConfig, Simulator};
/// # let sim = Simulator::start(SimConfig { odds_interval: Duration::from_millis(100), ..SimConfig::default() })?;
/// let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while client.counters().updates == 0 && Instant::now() < deadline {
///     std::thread::sleep(Duration::from_millis(10));
/// }
/// let c = client.counters();
/// assert_eq!(c.connections, 1);
/// assert!(c.updates >= 1 && c.frames >= 3 && c.quotes > 0); // connected, initial_state, odds_update
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParlayCounters {
    /// Connections opened.
    pub connections: u64,
    /// Frames received.
    pub frames: u64,
    /// `odds_update` frames applied.
    pub updates: u64,
    /// Frames that did not parse.
    pub malformed: u64,
    /// Edge alerts fired.
    pub alerts: u64,
    /// Quotes on the board.
    pub quotes: u64,
    /// Resumed `initial_state`s the server cut at 500 rows, each answered
    /// by a reconnect without `since` for a full state: the rows past the
    /// cut (changes and removals) never arrive, so the merged board could
    /// keep quotes taken off.
    pub truncated_resumes: u64,
}

struct Shared {
    events: RwLock<HashMap<String, Arc<[Quote]>>>,
    session: Mutex<Option<ParlaySession>>,
    hub: Hub<OddsEvent>,
    counters: Mutex<ParlayCounters>,
    error: Mutex<Option<ClientError>>,
}

enum Command {
    Subscribe(String),
    Unsubscribe,
    Shutdown,
}

/// A live connection to a Parlay odds stream, on a thread of its own.
/// Dropping it closes the connection.
///
/// ```
/// use std::time::{Duration, Instant};
/// use wirebook::client::{ParlayClient, ParlayConfig};
/// use wirebook::sim::{SimConfig, Simulator};
///
/// let sim = Simulator::start(SimConfig::default())?; // serves /v1/ws/odds/{sport} too
/// sim.pause(true); // hold the odds still, so that the checks below see one board
/// let config = ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url());
/// let client = ParlayClient::connect(config)?;
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while client.quotes().len() < sim.odds_truth().len() && Instant::now() < deadline {
///     std::thread::sleep(Duration::from_millis(5));
/// }
/// let quotes = client.quotes();
/// for best in client.best_all() {
///     let mut rivals = quotes.iter().filter(|q| {
///         let (a, b) = (&q.key, &best.key);
///         (&a.event_id, &a.market_key, &a.outcome, a.point) == (&b.event_id, &b.market_key, &b.outcome, b.point)
///     });
///     assert!(rivals.all(|q| q.price.implied() >= best.price.implied())); // no bookmaker pays more
/// }
/// assert_eq!(client.shutdown(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ParlayClient {
    shared: Arc<Shared>,
    worker: transport::Worker<Command>,
}

impl std::fmt::Debug for ParlayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParlayClient")
            .field("session", &self.session())
            .finish_non_exhaustive()
    }
}

impl ParlayClient {
    /// Connects and waits for `connected`: a bad key (1008), a low tier
    /// (4001 or HTTP 403), a missing key (4003), a bad URL or an unreachable
    /// server is returned here; later drops reconnect by themselves.
    ///
    /// ```
    /// use wirebook::client::{ClientError, ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let config = ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url());
    /// let client = ParlayClient::connect(config)?;
    /// assert_eq!(client.session().unwrap().tier, "scale");
    /// let low = ParlayConfig::new("basketball_nba", "pk_pro_demo").base_url(sim.base_url());
    /// let err = ParlayClient::connect(low).unwrap_err(); // close 4001: the tier is below Business
    /// assert!(matches!(err, ClientError::Tier { .. }) && err.is_fatal());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(config: ParlayConfig) -> Result<ParlayClient, ClientError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let wait = config.connect_timeout + Duration::from_secs(5);
        let mut client = ParlayClient::start(config, Some(tx))?;
        match rx.recv_timeout(wait) {
            Ok(Ok(())) => Ok(client),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(client.stop().unwrap_or(ClientError::Stopped)),
        }
    }

    /// Starts without waiting (even the first connection is retried).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wirebook::client::{ClientError, ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let config = ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url());
    /// let client = ParlayClient::spawn(config)?; // returns at once
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.event_ids().len() < 4 && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// assert_eq!(client.event_ids().len(), 4); // the simulator's four events
    /// let remote = ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url("ws://example.com");
    /// assert!(matches!(ParlayClient::spawn(remote), Err(ClientError::Insecure { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn(config: ParlayConfig) -> Result<ParlayClient, ClientError> {
        ParlayClient::start(config, None)
    }

    fn start(
        config: ParlayConfig,
        started: Option<SyncSender<Result<(), ClientError>>>,
    ) -> Result<ParlayClient, ClientError> {
        let url = config.url(None);
        let secure = tls::check_url(&url, config.allow_insecure)?;
        let tls = if secure {
            Some(tls::client_config(&config.extra_roots)?)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            events: RwLock::new(HashMap::new()),
            session: Mutex::new(None),
            hub: Hub::new(config.event_capacity),
            counters: Mutex::new(ParlayCounters::default()),
            error: Mutex::new(None),
        });
        let driver = Driver {
            alerts: config.edge_threshold.map(EdgeAlerts::new),
            config,
            tls,
            shared: shared.clone(),
            started,
            board: OddsBoard::new(),
            parser: FrameParser::new(),
            spare: Vec::new(),
            writer: FrameWriter::new(),
            last_ts_ms: None,
            resuming: false,
            counters: ParlayCounters::default(),
            fired: Vec::new(),
            rng: fastrand::Rng::new(),
        };
        let worker = transport::Worker::start("wirebook-parlay", |rx| driver.run(rx))?;
        Ok(ParlayClient { shared, worker })
    }

    /// The session's terms (tier, push mode, coalesce window), once connected.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wirebook::client::{ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # let config = ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url());
    /// let client = ParlayClient::connect(config)?;
    /// let s = client.session().unwrap();
    /// assert_eq!((s.tier.as_str(), s.push_mode.as_deref()), ("scale", Some("raw")));
    /// assert_eq!(s.coalesce_window, Some(Duration::ZERO)); // Scale is not coalesced
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session(&self) -> Option<ParlaySession> {
        self.shared.session.lock().clone()
    }

    /// A consistent snapshot of one event's quotes (taken after each frame).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # sim.pause(true); // no group of quotes goes off the board meanwhile
    /// # let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
    /// # let deadline = Instant::now() + Duration::from_secs(10);
    /// # while client.event_ids().len() < 4 && Instant::now() < deadline {
    /// #     std::thread::sleep(Duration::from_millis(5));
    /// # }
    /// let id = client.event_ids()[0].clone();
    /// let quotes = client.event(&id).unwrap();
    /// assert!(quotes.iter().all(|q| *q.key.event_id == *id));
    /// assert_eq!(quotes.len(), 4 * 6); // four bookmakers, six quotes each
    /// assert!(client.event("no_such_event").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn event(&self, event_id: &str) -> Option<Arc<[Quote]>> {
        self.shared.events.read().get(event_id).cloned()
    }

    /// Events on the board, sorted.
    ///
    /// ```
    /// # use std::collections::BTreeSet;
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ParlayClient, ParlayConfig};
    /// # use wirebook::sim::{SimConfig, Simulator};
    /// let sim = Simulator::start(SimConfig { odds_events: 2, ..SimConfig::default() })?;
    /// # sim.pause(true); // no group of quotes goes off the board meanwhile
    /// let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.event_ids().len() < 2 && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// let truth: BTreeSet<String> = sim.odds_truth().iter().map(|q| q.key.event_id.to_string()).collect();
    /// assert_eq!(client.event_ids(), truth.into_iter().collect::<Vec<_>>()); // sorted
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn event_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.shared.events.read().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Every quote on the board.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// sim.pause(true); // the odds stand still
    /// let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
    /// let truth = sim.odds_truth();
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.quotes().len() < truth.len() && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// let quotes = client.quotes();
    /// assert_eq!(quotes.len(), truth.len());
    /// assert!(quotes.iter().all(|q| truth.iter().any(|t| t.key == q.key && t.price == q.price)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn quotes(&self) -> Vec<Quote> {
        self.shared
            .events
            .read()
            .values()
            .flat_map(|e| e.iter().cloned())
            .collect()
    }

    /// The best price (lowest implied probability) across bookmakers.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # sim.pause(true);
    /// # let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
    /// # let deadline = Instant::now() + Duration::from_secs(10);
    /// # while client.event_ids().is_empty() && Instant::now() < deadline {
    /// #     std::thread::sleep(Duration::from_millis(5));
    /// # }
    /// let id = client.event_ids()[0].clone();
    /// let event = client.event(&id).unwrap();
    /// let one = event.iter().find(|q| &*q.key.market_key == "h2h").unwrap(); // one bookmaker's moneyline
    /// let best = client.best(&id, "h2h", &one.key.outcome, one.key.point).unwrap();
    /// assert_eq!(best.key.outcome, one.key.outcome);
    /// assert!(best.price.implied() <= one.price.implied());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn best(
        &self,
        event_id: &str,
        market_key: &str,
        outcome: &str,
        point: Option<Line>,
    ) -> Option<Quote> {
        let event = self.event(event_id)?;
        best_among(event.iter(), market_key, outcome, point).cloned()
    }

    /// The best quote of every (event, market, outcome, point), sorted.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # sim.pause(true); // no group of quotes goes off the board meanwhile
    /// let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
    /// let quotes = sim.odds_truth().len();
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.quotes().len() < quotes && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// // One quote per (event, market, outcome, point), the best of the four bookmakers.
    /// assert_eq!(client.best_all().len(), quotes / 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn best_all(&self) -> Vec<Quote> {
        let quotes = self.quotes();
        best_of(&quotes).into_iter().cloned().collect()
    }

    /// Narrows the stream to one event (confirmed by [`OddsEvent::Subscribed`]).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{OddsEvent, ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
    /// # let deadline = Instant::now() + Duration::from_secs(10);
    /// # while client.event_ids().is_empty() && Instant::now() < deadline {
    /// #     std::thread::sleep(Duration::from_millis(5));
    /// # }
    /// let id = client.event_ids()[0].clone();
    /// let mut events = client.events();
    /// client.subscribe(&id)?;
    /// let confirmed = std::iter::from_fn(|| events.recv_timeout(Duration::from_secs(5))).find_map(|e| match e {
    ///     OddsEvent::Subscribed { event_id } => Some(event_id),
    ///     _ => None,
    /// });
    /// assert_eq!(confirmed, Some(id));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(&self, event_id: &str) -> Result<(), ClientError> {
        self.worker.send(Command::Subscribe(event_id.into()))
    }

    /// Back to every event (confirmed by [`OddsEvent::Unsubscribed`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wirebook::client::{OddsEvent, ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # let config = ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url());
    /// let client = ParlayClient::connect(config.event("some_event"))?; // one event only
    /// let mut events = client.events();
    /// client.unsubscribe()?;
    /// let confirmed = std::iter::from_fn(|| events.recv_timeout(Duration::from_secs(5)))
    ///     .any(|e| e == OddsEvent::Unsubscribed);
    /// assert!(confirmed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unsubscribe(&self) -> Result<(), ClientError> {
        self.worker.send(Command::Unsubscribe)
    }

    /// A new stream of events from now on.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use wirebook::client::{OddsEvent, ParlayClient, ParlayConfig};
    /// use wirebook::sim::{SimConfig, Simulator};
    /// // No odds moves: a heartbeat after 200 ms without a frame.
    /// let sim = Simulator::start(SimConfig {
    ///     odds_moves: 0,
    ///     parlay_idle_heartbeat: Duration::from_millis(200),
    ///     ..SimConfig::default()
    /// })?;
    /// let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
    /// let mut events = client.events();
    /// let beat = std::iter::from_fn(|| events.recv_timeout(Duration::from_secs(5))).any(|e| e == OddsEvent::Heartbeat);
    /// assert!(beat);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn events(&self) -> Events<OddsEvent> {
        self.shared.hub.subscribe()
    }

    /// Counters (refreshed after every frame).
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// # sim.pause(true); // no group of quotes goes off the board meanwhile
    /// let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
    /// let on_server = sim.odds_truth().len() as u64;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.counters().quotes < on_server && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// assert_eq!(client.counters().quotes, on_server);
    /// assert_eq!(client.counters().connections, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn counters(&self) -> ParlayCounters {
        *self.shared.counters.lock()
    }

    /// The fatal error the client stopped with, if it did.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientError, ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let config = ParlayConfig::new("basketball_nba", "pk_invalid").base_url(sim.base_url());
    /// let client = ParlayClient::spawn(config)?;
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.error().is_none() && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// assert!(matches!(client.error(), Some(ClientError::Auth { code: 1008, .. }))); // bad key
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn error(&self) -> Option<ClientError> {
        self.shared.error.lock().clone()
    }

    /// Closes the connection and waits for the thread.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use wirebook::client::{ClientError, ParlayClient, ParlayConfig};
    /// # let sim = wirebook::sim::Simulator::start(Default::default())?;
    /// let client = ParlayClient::connect(ParlayConfig::new("basketball_nba", "pk_scale_demo").base_url(sim.base_url()))?;
    /// assert_eq!(client.shutdown(), None); // asked to stop: no error
    /// let keyless = ParlayClient::spawn(ParlayConfig::new("basketball_nba", "").base_url(sim.base_url()))?;
    /// # let deadline = Instant::now() + Duration::from_secs(10);
    /// # while keyless.error().is_none() && Instant::now() < deadline {
    /// #     std::thread::sleep(Duration::from_millis(5));
    /// # }
    /// assert_eq!(keyless.shutdown(), Some(ClientError::MissingKey)); // close 4003
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

impl Drop for ParlayClient {
    fn drop(&mut self) {
        self.stop();
    }
}

enum End {
    Shutdown,
    Fatal(ClientError),
    Lost {
        reason: String,
        code: Option<u16>,
        wait: Option<Duration>,
        connected: bool,
    },
}

struct Driver {
    config: ParlayConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    shared: Arc<Shared>,
    started: Option<SyncSender<Result<(), ClientError>>>,
    board: OddsBoard,
    parser: FrameParser,
    spare: Vec<u8>,
    writer: FrameWriter,
    /// Timestamp of the last frame that carried the board's state
    /// (`initial_state`, `odds_update`, `heartbeat`; epoch ms), to resume with `since`.
    last_ts_ms: Option<u64>,
    /// Whether the connection open now was opened with `since`.
    resuming: bool,
    counters: ParlayCounters,
    alerts: Option<EdgeAlerts>,
    fired: Vec<EdgeAlert>,
    rng: fastrand::Rng,
}

/// `since` is honoured up to 60 minutes back (B1).
const RESUME_WINDOW_MS: u64 = 60 * 60 * 1000;

impl Driver {
    fn publish(&self, e: OddsEvent) {
        if self.shared.hub.has_subscribers() {
            self.shared.hub.publish(e);
        }
    }

    async fn run(mut self, mut commands: UnboundedReceiver<Command>) {
        let mut attempt = 0u32;
        let error = loop {
            let since = self
                .last_ts_ms
                .filter(|&t| clock::epoch_ms().saturating_sub(t) < RESUME_WINDOW_MS);
            let url = self.config.url(since);
            self.resuming = since.is_some();
            let key = self
                .config
                .api_key
                .as_ref()
                .filter(|_| !self.config.key_in_query)
                .map(|k| k.expose().to_owned());
            let headers: Vec<(&'static str, &str)> = key
                .as_deref()
                .map(|k| ("X-API-Key", k))
                .into_iter()
                .collect();
            let end = match transport::open(
                &url,
                &headers,
                self.tls.as_ref(),
                self.config.connect_timeout,
            )
            .await
            {
                Ok(ws) => {
                    self.counters.connections += 1;
                    self.session(ws, &mut commands).await
                }
                Err(OpenError::Status(403)) => End::Fatal(ClientError::Tier {
                    reason: "HTTP 403 at the handshake".into(),
                }),
                Err(OpenError::Status(s)) => End::Lost {
                    reason: format!("HTTP {s} at the handshake"),
                    code: None,
                    wait: None,
                    connected: false,
                },
                Err(OpenError::Other(e)) if e.is_fatal() => End::Fatal(e),
                Err(OpenError::Other(e)) => End::Lost {
                    reason: e.to_string(),
                    code: None,
                    wait: None,
                    connected: false,
                },
            };
            match end {
                End::Shutdown => break None,
                End::Fatal(e) => break Some(e),
                End::Lost {
                    reason,
                    code,
                    wait,
                    connected,
                } => {
                    if let Some(tx) = self.started.take() {
                        let e = ClientError::Connect {
                            url: redact(&url),
                            reason,
                        };
                        let _ = tx.send(Err(e.clone()));
                        break Some(e);
                    }
                    if connected {
                        attempt = 0;
                    }
                    self.publish(OddsEvent::Disconnected { reason, code });
                    let delay =
                        wait.unwrap_or_else(|| self.config.backoff.delay(attempt, self.rng.f64()));
                    self.publish(OddsEvent::Reconnecting { attempt, delay });
                    attempt = attempt.saturating_add(1);
                    let wake = Instant::now() + delay;
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep_until(wake) => break,
                            cmd = commands.recv() => match cmd {
                                None | Some(Command::Shutdown) => {
                                    self.finish(None);
                                    return;
                                }
                                Some(Command::Subscribe(id)) => self.config.event_id = Some(id),
                                Some(Command::Unsubscribe) => self.config.event_id = None,
                            }
                        }
                    }
                }
            }
        };
        if let (Some(tx), Some(e)) = (self.started.take(), &error) {
            let _ = tx.send(Err(e.clone()));
        }
        self.finish(error);
    }

    fn finish(&mut self, error: Option<ClientError>) {
        *self.shared.error.lock() = error.clone();
        self.shared.hub.publish(OddsEvent::Stopped { error });
        self.shared.hub.close();
    }

    fn flush_counters(&mut self) {
        self.counters.quotes = self.board.len() as u64;
        *self.shared.counters.lock() = self.counters;
    }

    /// Snapshots of the named events (or of all, after `initial_state`).
    fn republish(&self, touched: Option<&BTreeSet<String>>) {
        let mut fresh: HashMap<String, Vec<Quote>> = HashMap::new();
        match touched {
            None => {
                for q in self.board.quotes() {
                    fresh
                        .entry(q.key.event_id.to_string())
                        .or_default()
                        .push(q.clone());
                }
            }
            Some(ids) => {
                // One pass over the board for all of them (not a pass per
                // event: a frame may touch thousands).
                for id in ids {
                    fresh.insert(id.clone(), Vec::new());
                }
                for q in self.board.quotes() {
                    if let Some(quotes) = fresh.get_mut(&*q.key.event_id) {
                        quotes.push(q.clone());
                    }
                }
            }
        }
        let mut events = self.shared.events.write();
        if touched.is_none() {
            events.clear();
        }
        for (id, quotes) in fresh {
            if quotes.is_empty() {
                events.remove(&id);
            } else {
                events.insert(id, quotes.into());
            }
        }
    }

    async fn session(&mut self, mut ws: Ws, commands: &mut UnboundedReceiver<Command>) -> End {
        let mut connected = false;
        let mut last_rx = Instant::now();
        let mut last_ping = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                msg = ws.next() => {
                    last_rx = Instant::now();
                    let bytes = match msg {
                        Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                        Some(Ok(Message::Binary(b))) => b.to_vec(),
                        Some(Ok(Message::Close(frame))) => {
                            let (code, reason) = frame.map_or((1005, String::new()), |f| (u16::from(f.code), f.reason.to_string()));
                            return self.closed(code, reason, connected);
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return End::Lost { reason: e.to_string(), code: Some(1006), wait: None, connected },
                        None => return End::Lost { reason: "connection closed".into(), code: Some(1006), wait: None, connected },
                    };
                    self.counters.frames += 1;
                    if let Some(end) = self.on_frame(&bytes, &mut connected) {
                        self.flush_counters();
                        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                        return end;
                    }
                    self.flush_counters();
                }
                cmd = commands.recv() => {
                    let text = match cmd {
                        None | Some(Command::Shutdown) => {
                            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                            return End::Shutdown;
                        }
                        Some(Command::Subscribe(id)) => {
                            self.config.event_id = Some(id.clone());
                            self.writer.odds_subscribe(&id).to_owned()
                        }
                        Some(Command::Unsubscribe) => {
                            self.config.event_id = None;
                            self.writer.odds_unsubscribe().to_owned()
                        }
                    };
                    if let Err(e) = send_by(&mut ws, Message::text(text), last_rx + self.config.dead_after).await {
                        return End::Lost { reason: e, code: Some(1006), wait: None, connected };
                    }
                }
                _ = tick.tick() => {
                    if last_rx.elapsed() >= self.config.dead_after {
                        return End::Lost { reason: format!("no frame for {:?}", self.config.dead_after), code: None, wait: None, connected };
                    }
                    if last_ping.elapsed() >= self.config.ping_interval {
                        last_ping = Instant::now();
                        let ping = Message::Ping(Default::default());
                        if send_by(&mut ws, ping, last_rx + self.config.dead_after).await.is_err() {
                            return End::Lost { reason: "ping failed".into(), code: Some(1006), wait: None, connected };
                        }
                    }
                }
            }
        }
    }

    /// B3: what a close code means.
    fn closed(&mut self, code: u16, reason: String, connected: bool) -> End {
        match code {
            1008 => End::Fatal(ClientError::Auth {
                code: 1008,
                message: if reason.is_empty() {
                    "invalid api key".into()
                } else {
                    reason
                },
            }),
            4001 => End::Fatal(ClientError::Tier {
                reason: if reason.is_empty() {
                    "close 4001".into()
                } else {
                    reason
                },
            }),
            4003 => End::Fatal(ClientError::MissingKey),
            4002 => End::Lost {
                reason: format!("too many connections for the key (4002) {reason}"),
                code: Some(code),
                wait: Some(self.config.connection_cap_wait),
                connected,
            },
            1001 => End::Lost {
                reason: format!("server deploy (1001) {reason}"),
                code: Some(code),
                wait: Some(self.config.deploy_wait),
                connected,
            },
            _ => End::Lost {
                reason: format!("closed ({code}) {reason}"),
                code: Some(code),
                wait: None,
                connected,
            },
        }
    }

    fn on_frame(&mut self, bytes: &[u8], connected: &mut bool) -> Option<End> {
        let frame = match self.parser.parse_shared(bytes, &mut self.spare) {
            Ok(f) => f,
            Err(e) => {
                self.counters.malformed += 1;
                if !e.is_ignorable() && self.shared.hub.has_subscribers() {
                    self.shared.hub.publish(OddsEvent::Malformed { error: e });
                }
                return None;
            }
        };
        let hub = &self.shared.hub;
        let listening = hub.has_subscribers();
        match frame {
            Frame::Connected(c) => {
                let session = ParlaySession {
                    sport_key: c.sport_key.to_owned(),
                    tier: c.tier.to_owned(),
                    push_mode: c.push_mode.map(str::to_owned),
                    coalesce_window: c.min_push_interval_ms.map(Duration::from_millis),
                    diff_mode: c.diff_mode,
                };
                *self.shared.session.lock() = Some(session.clone());
                // `connected` carries no odds: its timestamp does not move
                // the resume cursor, or a drop before the `initial_state`
                // would resume after changes the board never saw.
                *connected = true;
                if let Some(tx) = self.started.take() {
                    let _ = tx.send(Ok(()));
                }
                if listening {
                    hub.publish(OddsEvent::Connected(session));
                }
            }
            Frame::InitialState(s) => {
                // A resumed state (the server echoes `since`) holds the
                // changes since then: merged. A full one replaces the board.
                if s.since_ms.is_some() {
                    self.board.update(&s);
                } else {
                    self.board.replace(&s);
                }
                self.last_ts_ms = s.timestamp_ms.or(self.last_ts_ms);
                let (rows, truncated) = (s.rows.len(), s.truncated.unwrap_or(false));
                let resumed = s.since_ms.is_some();
                self.republish(None);
                if listening {
                    hub.publish(OddsEvent::InitialState { rows, truncated });
                }
                // Only a connection opened with `since` (not the echo, which
                // a server could send on a full state too): the next one is
                // opened without it, so this cannot repeat without end.
                if truncated && resumed && self.resuming {
                    // What changed since the cursor did not fit: the rows
                    // past the cut are lost, removals among them. The board
                    // keeps what came; a full state (no `since`) replaces it.
                    self.counters.truncated_resumes += 1;
                    self.last_ts_ms = None;
                    return Some(End::Lost {
                        reason: "resumed initial_state cut short: reconnecting for a full state"
                            .into(),
                        code: None,
                        wait: Some(Duration::ZERO),
                        connected: *connected,
                    });
                }
            }
            Frame::OddsUpdate(u) => {
                let touched: BTreeSet<String> =
                    u.rows.iter().map(|r| r.event_id.to_owned()).collect();
                let (rows, coalesced) = (u.rows.len(), u.coalesced.unwrap_or(false));
                self.last_ts_ms = u.timestamp_ms.or(self.last_ts_ms);
                let moves = self.board.update(&u).to_vec();
                self.counters.updates += 1;
                if let Some(alerts) = &self.alerts {
                    self.fired.clear();
                    alerts.check(&self.board, &moves, &mut self.fired);
                    self.counters.alerts += self.fired.len() as u64;
                }
                self.republish(Some(&touched));
                if listening {
                    hub.publish(OddsEvent::Update { rows, coalesced });
                    for a in self.fired.drain(..) {
                        hub.publish(OddsEvent::Alert(a));
                    }
                }
            }
            Frame::Heartbeat { ts_ms } => {
                self.last_ts_ms = ts_ms.or(self.last_ts_ms);
                if listening {
                    hub.publish(OddsEvent::Heartbeat);
                }
            }
            Frame::Subscribed { event_id, .. } if listening => {
                hub.publish(OddsEvent::Subscribed {
                    event_id: event_id.to_owned(),
                });
            }
            Frame::Unsubscribed { .. } if listening => {
                hub.publish(OddsEvent::Unsubscribed);
            }
            Frame::StreamStatus(s) if listening => {
                hub.publish(OddsEvent::StreamStatus {
                    bookmaker: s.bookmaker.map(str::to_owned),
                    status: s.status.map(str::to_owned),
                    reason: s.reason.map(str::to_owned),
                });
            }
            _ => {}
        }
        None
    }
}
