//! One connection to the simulator: the handshake (routed by path) and the
//! Parsec session rules of PROTOCOL.md A1, A2 and A5.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as HttpRequest, Response,
};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::flood::{self, FloodBlock, FloodRing};
use super::market::{Style, View};
use super::parlay::{self, ParlayRequest};
use super::wire::{read_request, BookNames, Condition, Request, Selector, ServerWriter, MALFORMED};
use super::{bump, resolve, Fault, Shared, Tick};
use crate::clock::epoch_ms;
use crate::frame::Change;

/// Connections before the sequence numbers start over: the first counts
/// from just under 5e15, each next one from [`SEQ_BLOCK`] lower (all below 2^53, so a
/// client that reads numbers as doubles still tells them apart).
const CONNECTION_BLOCKS: u64 = 500_000;
/// Sequence numbers a connection's subscription can use before it runs into
/// the previous connection's.
const SEQ_BLOCK: u64 = 10_000_000_000;

/// Most wallets one session watches.
const MAX_WALLETS: usize = 1000;

/// Accepts connections until the simulator stops.
pub(super) async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let mut serial: u64 = 0;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.stop.notified() => return,
        };
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok((tcp, _)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        serial += 1;
        let (shared, tls) = (shared.clone(), tls.clone());
        tokio::spawn(async move {
            bump(&shared.counters.connections);
            shared
                .counters
                .open_connections
                .fetch_add(1, Ordering::Relaxed);
            // A peer that never finishes the TLS or WebSocket handshake is
            // dropped when the auth window, counted from the TCP accept, is over.
            let deadline = tokio::time::Instant::now() + shared.config.auth_window;
            match tls {
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await
                    {
                        handshake(stream, &shared, serial, deadline).await;
                    }
                }
                None => handshake::<TcpStream>(tcp, &shared, serial, deadline).await,
            }
            shared
                .counters
                .open_connections
                .fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// The WebSocket handshake; `/ws` is the Parsec protocol, anything else is 404.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    shared: &Arc<Shared>,
    serial: u64,
    deadline: tokio::time::Instant,
) {
    // The callback's signature is tungstenite's.
    let mut parlay: Option<ParlayRequest> = None;
    #[allow(clippy::result_large_err)]
    let route = |req: &HttpRequest, resp: Response| -> Result<Response, ErrorResponse> {
        let path = req.uri().path();
        if path == "/ws" {
            return Ok(resp);
        }
        let key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok());
        if let Some(r) = parlay::route(path, req.uri().query(), key) {
            // Older servers refused low tiers at the handshake (B3).
            if r.legacy && matches!(parlay::tier_of(r.key.as_deref()), Err((4001, _))) {
                let mut err = ErrorResponse::new(Some("tier below Business".into()));
                *err.status_mut() = StatusCode::FORBIDDEN;
                return Err(err);
            }
            parlay = Some(r);
            return Ok(resp);
        }
        let mut err = ErrorResponse::new(Some(format!("no route for {path}")));
        *err.status_mut() = StatusCode::NOT_FOUND;
        Err(err)
    };
    let config = WebSocketConfig::default().max_message_size(Some(1 << 20));
    let accept = tokio_tungstenite::accept_hdr_async_with_config(stream, route, Some(config));
    let Ok(Ok(ws)) = tokio::time::timeout_at(deadline, accept).await else {
        return;
    };
    if let Some(req) = parlay {
        parlay::serve(ws, shared.clone(), req).await;
        return;
    }
    let rng =
        fastrand::Rng::with_seed(shared.config.seed ^ serial.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    Session::new(shared.clone(), rng, serial).run(ws).await;
}

/// Limits of an account tier (PROTOCOL.md A2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tier {
    name: &'static str,
    max_depth: u64,
    max_subscriptions: usize,
}

const FREE: Tier = Tier {
    name: "free",
    max_depth: 10,
    max_subscriptions: 5,
};
const PRO: Tier = Tier {
    name: "pro",
    max_depth: 100,
    max_subscriptions: 500,
};
const SCALE: Tier = Tier {
    name: "scale",
    max_depth: 100,
    max_subscriptions: 2000,
};

/// The simulator's key convention: `pk_invalid` (and an empty key) is
/// rejected; a prefix picks the tier; any other key is Scale.
fn tier_of(key: &str) -> Option<Tier> {
    if key.is_empty() || key == "pk_invalid" {
        None
    } else if key.starts_with("pk_free_") {
        Some(FREE)
    } else if key.starts_with("pk_pro_") {
        Some(PRO)
    } else {
        Some(SCALE)
    }
}

struct Subscription {
    seq: u64,
    activity_seq: u64,
    depth: usize,
    view: View,
    /// A delta held back by the `Reorder` fault.
    held: Option<String>,
    /// The next `resync` of this book is lost (the `LostResync` fault).
    lose_resync: bool,
    /// A snapshot answering a `resync` (`SimConfig::resync_lag`), held
    /// until more deltas of the book have gone out before it.
    lagging: Option<Lagging>,
}

/// A snapshot taken but not sent yet (`SimConfig::resync_lag`): written when
/// it goes out, with the connection's condition then.
struct Lagging {
    seq: u64,
    view: View,
    /// Deltas of the book still to go out before it.
    left: u32,
    since: Instant,
}

/// A lagging snapshot of a book that gets too few deltas goes out at the
/// first heartbeat after it has waited this long.
const MAX_LAG: Duration = Duration::from_secs(1);

enum Flow {
    Continue,
    Close,
}

struct Session {
    shared: Arc<Shared>,
    rng: fastrand::Rng,
    tier: Option<Tier>,
    /// The key it authenticated with (its account, for the subscription limit).
    account: Option<String>,
    subs: HashMap<(u32, u8), Subscription>,
    wallets: Vec<(String, String)>,
    /// Arrival times of control frames in the last second (accepted ones).
    accepted: VecDeque<Instant>,
    /// Arrival times of all control frames in the last second.
    arrivals: VecDeque<Instant>,
    out: ServerWriter,
    changes: Vec<Change>,
    silent_until: Option<Instant>,
    /// The `Outage` fault: the venue is unavailable until then.
    outage_until: Option<Instant>,
    /// Outages so far: the first (and every odd one) names its market in
    /// the 2003, the next names none (PROTOCOL.md's `parsec_id` is optional).
    outages: u64,
    serial: u64,
    /// This connection's number (from 1): its sequence numbers start at
    /// `(CONNECTION_BLOCKS - connection % CONNECTION_BLOCKS) * SEQ_BLOCK`,
    /// below the last connection's.
    connection: u64,
    /// Flood mode: each flooded book's ring, and the block built from them
    /// (`None` when the rings changed).
    flood: Vec<((u32, u8), FloodRing)>,
    flood_block: Option<FloodBlock>,
    /// `unsubscribe` frames dropped so far (`SimConfig::lost_unsubscribes`).
    lost_unsubscribes: usize,
    /// The last seq of each book whose subscription ended on this
    /// connection: subscribed again, it counts on from above it, so no seq
    /// is sent twice for one book on one connection (a delta still held in
    /// a client's resync buffer cannot continue the new snapshot, and the
    /// truth log holds one entry per seq).
    ended_seqs: HashMap<(u32, u8), u64>,
}

type Ws<S> = WebSocketStream<S>;

impl Session {
    fn new(shared: Arc<Shared>, rng: fastrand::Rng, connection: u64) -> Session {
        Session {
            shared,
            rng,
            tier: None,
            account: None,
            subs: HashMap::new(),
            wallets: Vec::new(),
            accepted: VecDeque::new(),
            arrivals: VecDeque::new(),
            out: ServerWriter::default(),
            changes: Vec::new(),
            silent_until: None,
            outage_until: None,
            outages: 0,
            serial: 0,
            connection,
            flood: Vec::new(),
            flood_block: None,
            lost_unsubscribes: 0,
            ended_seqs: HashMap::new(),
        }
    }

    /// Drops the connection's subscription of book `k` (its frames stop).
    fn forget(&mut self, k: (u32, u8)) {
        if let Some(sub) = self.subs.remove(&k) {
            self.ended_seqs.insert(k, sub.seq);
        }
        self.flood.retain(|(f, _)| *f != k);
        self.flood_block = None;
    }

    fn silent(&mut self) -> bool {
        match self.silent_until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                self.silent_until = None;
                false
            }
            None => false,
        }
    }

    /// What book frames say now: [`Condition::Outage`] while an outage lasts.
    fn condition(&mut self) -> Condition {
        match self.outage_until {
            Some(t) if Instant::now() < t => Condition::Outage,
            Some(_) => {
                self.outage_until = None;
                Condition::Healthy
            }
            None => Condition::Healthy,
        }
    }

    async fn send<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut Ws<S>, text: &str) -> bool {
        ws.send(Message::text(text.to_owned())).await.is_ok()
    }

    async fn run<S: AsyncRead + AsyncWrite + Unpin>(mut self, mut ws: Ws<S>) {
        let shared = self.shared.clone();
        let mut ticks = shared.ticks.subscribe();
        let auth_deadline = tokio::time::sleep(shared.config.auth_window);
        tokio::pin!(auth_deadline);
        let mut heartbeat = tokio::time::interval(shared.config.heartbeat_interval);
        heartbeat.reset();
        let mut wallet_timer = tokio::time::interval(Duration::from_secs(10));
        let epoch = shared.kill_epoch.load(Ordering::SeqCst);
        loop {
            // A silent server reads nothing either: not even pings get answered;
            // nor does it flood.
            let deaf = self.silent();
            // The flood's frames are pre-written fresh and healthy: it
            // waits out an outage (the walk's deltas go on, stale).
            let out = self.condition() == Condition::Outage;
            let flow = tokio::select! {
                msg = ws.next(), if !deaf => match msg {
                    Some(Ok(Message::Text(t))) => {
                        let mut buf = t.as_bytes().to_vec();
                        self.on_request(&mut ws, &mut buf).await
                    }
                    Some(Ok(Message::Binary(b))) => {
                        let mut buf = b.to_vec();
                        self.on_request(&mut ws, &mut buf).await
                    }
                    Some(Ok(_)) => Flow::Continue,
                    Some(Err(_)) | None => Flow::Close,
                },
                _ = std::future::ready(()), if !deaf && !out && !self.flood.is_empty() && !shared.paused.load(Ordering::Relaxed) => self.send_flood(&mut ws).await,
                tick = ticks.recv() => match tick {
                    Ok(t) => self.on_tick(&mut ws, t).await,
                    Err(RecvError::Lagged(_)) => self.on_lag(&mut ws).await,
                    Err(RecvError::Closed) => Flow::Close,
                },
                _ = heartbeat.tick() => {
                    if self.tier.is_some() && !self.silent() {
                        let text = self.out.heartbeat(epoch_ms());
                        if !Self::send(&mut ws, text).await {
                            Flow::Close
                        } else {
                            self.send_lagging(&mut ws).await
                        }
                    } else {
                        Flow::Continue
                    }
                }
                _ = wallet_timer.tick() => self.send_wallets(&mut ws).await,
                _ = &mut auth_deadline, if self.tier.is_none() => {
                    bump(&shared.counters.auth_timeouts);
                    let _ = ws.close(None).await;
                    Flow::Close
                }
                _ = shared.kill.notified() => Flow::Close,
                _ = shared.stop.notified() => Flow::Close,
            };
            if matches!(flow, Flow::Close)
                || shared.kill_epoch.load(Ordering::SeqCst) != epoch
                || shared.stopping.load(Ordering::SeqCst)
            {
                // Abrupt: the socket is dropped without a close frame.
                self.linger();
                return;
            }
        }
    }

    /// The connection ends: its subscriptions stay held against its
    /// account's limit for [`SimConfig::account_linger`](super::SimConfig::account_linger).
    fn linger(&self) {
        let linger = self.shared.config.account_linger;
        let Some(key) = &self.account else { return };
        if linger.is_zero() || self.subs.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut lingering = self.shared.lingering.lock();
        lingering.retain(|(_, until, _)| *until > now);
        lingering.push((key.clone(), now + linger, self.subs.len()));
    }

    /// Subscriptions of this account's ended connections still held.
    fn held_elsewhere(&self) -> usize {
        let Some(key) = &self.account else { return 0 };
        let now = Instant::now();
        let mut lingering = self.shared.lingering.lock();
        lingering.retain(|(_, until, _)| *until > now);
        lingering
            .iter()
            .filter(|(k, _, _)| k == key)
            .map(|(_, _, n)| n)
            .sum()
    }

    /// Counts a control frame against the limit; `false` when it is refused (3001).
    fn admit_control(&mut self) -> bool {
        let now = Instant::now();
        let second = Duration::from_secs(1);
        let c = &self.shared.counters;
        bump(&c.control_frames);
        while self
            .arrivals
            .front()
            .is_some_and(|&t| now.duration_since(t) >= second)
        {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(now);
        c.max_control_per_second
            .fetch_max(self.arrivals.len() as u64, Ordering::Relaxed);
        while self
            .accepted
            .front()
            .is_some_and(|&t| now.duration_since(t) >= second)
        {
            self.accepted.pop_front();
        }
        if self.accepted.len() >= self.shared.config.control_limit {
            bump(&c.rate_limited);
            return false;
        }
        self.accepted.push_back(now);
        true
    }

    async fn error<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        ws: &mut Ws<S>,
        code: u32,
        message: &str,
        parsec_id: Option<&str>,
    ) -> Flow {
        bump(&self.shared.counters.errors);
        let text = self.out.error(code, message, parsec_id);
        if Self::send(ws, text).await {
            Flow::Continue
        } else {
            Flow::Close
        }
    }

    async fn on_request<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        ws: &mut Ws<S>,
        buf: &mut [u8],
    ) -> Flow {
        let request = read_request(buf);
        if matches!(request, Request::Unsubscribe { .. })
            && self.lost_unsubscribes < self.shared.config.lost_unsubscribes
        {
            // Lost on its way: never seen, so not counted against the limit.
            self.lost_unsubscribes += 1;
            bump(&self.shared.counters.lost_unsubscribes);
            return Flow::Continue;
        }
        if request.is_control() {
            if self.tier.is_none() {
                return self.error(ws, 1001, "not authenticated", None).await;
            }
            if !self.admit_control() {
                // The configured limit, not PROTOCOL.md's 3: a test that
                // lowers or raises it reads what this server enforces.
                let message = format!(
                    "rate limited: at most {} control frames per second",
                    self.shared.config.control_limit
                );
                return self.error(ws, 3001, &message, None).await;
            }
        }
        match request {
            Request::Auth { key: secret } | Request::AuthTerminal { token: secret } => {
                if self.tier.is_some() {
                    return self.error(ws, 1001, "already authenticated", None).await;
                }
                match tier_of(&secret) {
                    Some(tier) => {
                        self.tier = Some(tier);
                        self.account = Some(secret.to_string());
                        bump(&self.shared.counters.auth_ok);
                        let text = self.out.auth_ok(&format!("cust_sim_{}", tier.name));
                        if Self::send(ws, text).await {
                            Flow::Continue
                        } else {
                            Flow::Close
                        }
                    }
                    None => {
                        bump(&self.shared.counters.auth_rejected);
                        let text = self.out.auth_error();
                        let _ = Self::send(ws, text).await;
                        let _ = ws.close(None).await;
                        Flow::Close
                    }
                }
            }
            Request::Subscribe { markets, addresses } => {
                for sel in &markets {
                    if let Flow::Close = self.subscribe(ws, sel).await {
                        return Flow::Close;
                    }
                }
                // Beyond MAX_WALLETS a session's further wallets are not
                // watched (PROTOCOL.md sets no limit; the simulator must not
                // let one client grow it without bound).
                for a in addresses {
                    if self.wallets.len() < MAX_WALLETS && !self.wallets.contains(&a) {
                        self.wallets.push(a);
                    }
                }
                self.send_wallets(ws).await
            }
            Request::Unsubscribe { markets, addresses } => {
                for sel in &markets {
                    if let Some(id) = selector_id(sel) {
                        let outcome = sel.outcome.as_deref().unwrap_or("yes");
                        if let Some(k) = resolve(&self.shared, &id, outcome) {
                            self.forget(k);
                        }
                    }
                }
                self.wallets.retain(|w| !addresses.contains(w));
                Flow::Continue
            }
            Request::Resync { parsec_id, outcome } => {
                let outcome = outcome.unwrap_or_else(|| "yes".to_owned());
                let key = resolve(&self.shared, &parsec_id, &outcome);
                let delisted = key.is_some_and(|k| self.shared.delisted.lock().contains(&k.0));
                match key.filter(|k| delisted || self.subs.contains_key(k)) {
                    // A market taken off the list since: not found (2002),
                    // subscribed or not, and its book's frames stop.
                    Some(k) if delisted => {
                        self.forget(k);
                        self.error(ws, 2002, "market not found", Some(&parsec_id))
                            .await
                    }
                    Some(k) => {
                        if let Some(sub) = self.subs.get_mut(&k).filter(|s| s.lose_resync) {
                            sub.lose_resync = false;
                            bump(&self.shared.counters.lost_resyncs);
                            return Flow::Continue;
                        }
                        bump(&self.shared.counters.resyncs);
                        let lag = self.shared.config.resync_lag;
                        // Flood mode's deltas do not wait for a snapshot.
                        if lag == 0 || self.shared.config.flood {
                            return self.send_snapshot(ws, k).await;
                        }
                        self.hold_snapshot(k, lag);
                        Flow::Continue
                    }
                    None => {
                        self.error(ws, 2001, "not subscribed", Some(&parsec_id))
                            .await
                    }
                }
            }
            Request::Unknown => Flow::Continue,
            Request::Malformed => self.error(ws, 2001, "malformed message", None).await,
        }
    }

    async fn subscribe<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        ws: &mut Ws<S>,
        sel: &Selector,
    ) -> Flow {
        let Some(tier) = self.tier else {
            return Flow::Continue;
        };
        let Some(id) = selector_id(sel) else {
            return self.error(ws, 2001, "invalid market selector", None).await;
        };
        let outcome = sel.outcome.as_deref().unwrap_or("yes");
        let Some((m, _)) = resolve(&self.shared, &id, "yes")
            .filter(|(m, _)| !self.shared.delisted.lock().contains(m))
        else {
            return self.error(ws, 2002, "market not found", Some(&id)).await;
        };
        let Some(key) = resolve(&self.shared, &id, outcome) else {
            return self.error(ws, 2005, "invalid outcome", Some(&id)).await;
        };
        debug_assert_eq!(key.0, m);
        if !self.subs.contains_key(&key)
            && self.subs.len() + self.held_elsewhere() >= tier.max_subscriptions
        {
            return self
                .error(
                    ws,
                    3002,
                    "subscription limit of the tier reached",
                    Some(&id),
                )
                .await;
        }
        let depth = sel.depth.unwrap_or(50).clamp(1, tier.max_depth) as usize;
        // Rule A4.1: a snapshot's seq may be anything, and A4 counts per
        // subscription on one connection: each connection counts from
        // below the last one's start, so a client's first snapshot after a
        // reconnect goes back (a client that kept the old connection's seq
        // would drop it as a duplicate). Blocks of `SEQ_BLOCK` keep the truth
        // log's seqs apart.
        let start = (CONNECTION_BLOCKS - self.connection % CONNECTION_BLOCKS) * SEQ_BLOCK
            + self.rng.u64(1..1_000);
        let start = match self.ended_seqs.get(&key) {
            Some(&last) => start.max(last),
            None => start,
        };
        let sub = self.subs.entry(key).or_insert(Subscription {
            seq: start,
            activity_seq: 0,
            depth,
            view: View::default(),
            held: None,
            lose_resync: false,
            lagging: None,
        });
        sub.depth = depth;
        self.send_snapshot(ws, key).await
    }

    async fn send_snapshot<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        ws: &mut Ws<S>,
        key: (u32, u8),
    ) -> Flow {
        let Some(text) = self.render_snapshot(key) else {
            return Flow::Continue;
        };
        if !Self::send(ws, &text).await {
            return Flow::Close;
        }
        if self.shared.config.flood {
            self.build_flood_ring(key);
        }
        Flow::Continue
    }

    /// The book's snapshot now, its seq jumped ahead first (A4.1); it
    /// supersedes a held delta or snapshot.
    fn render_snapshot(&mut self, key: (u32, u8)) -> Option<String> {
        let sub = self.subs.get_mut(&key)?;
        // A4.1: a snapshot's seq may jump; here it jumps ahead by up to 99,
        // as a server's would after updates the client never saw.
        sub.seq += self.rng.u64(1..100);
        sub.held = None;
        sub.lagging = None;
        self.take_snapshot(key)?;
        let sub = self.subs.get(&key)?;
        let (seq, view) = (sub.seq, sub.view.clone());
        Some(self.snapshot_text(key, seq, &view))
    }

    /// The book's levels now become its view at its current seq (recorded
    /// as the truth there); a snapshot taken answers a resync that was to
    /// be lost.
    fn take_snapshot(&mut self, key: (u32, u8)) -> Option<()> {
        let sub = self.subs.get_mut(&key)?;
        sub.lose_resync = false;
        sub.view = View::of(
            &self.shared.books[key.0 as usize].lock()[key.1 as usize],
            sub.depth,
        );
        self.shared
            .record(key, sub.seq, &sub.view.bids, &sub.view.asks);
        Some(())
    }

    /// A snapshot's text at `seq` with `view`, in the connection's condition
    /// now (counted as sent).
    fn snapshot_text(&mut self, key: (u32, u8), seq: u64, view: &View) -> String {
        let condition = self.condition();
        let names = BookNames::of(key);
        let text = self.out.orderbook(
            names.id(),
            Style::of(key.0).tick_size(),
            &view.bids,
            &view.asks,
            seq,
            condition,
            self.shared.config.stale_after_ms,
            epoch_ms(),
        );
        bump(&self.shared.counters.snapshots);
        text.to_owned()
    }

    /// Takes the book's snapshot now and holds it until `lag` more of its
    /// deltas have gone out (`SimConfig::resync_lag`).
    fn hold_snapshot(&mut self, key: (u32, u8), lag: u32) {
        if self.take_snapshot(key).is_none() {
            return;
        }
        if let Some(sub) = self.subs.get_mut(&key) {
            sub.lagging = Some(Lagging {
                seq: sub.seq,
                view: sub.view.clone(),
                left: lag,
                since: Instant::now(),
            });
        }
    }

    /// The text of book `key`'s lagging snapshot, taken off it.
    fn release_lagging(&mut self, key: (u32, u8)) -> Option<String> {
        let held = self.subs.get_mut(&key)?.lagging.take()?;
        Some(self.snapshot_text(key, held.seq, &held.view))
    }

    /// Lagging snapshots (`SimConfig::resync_lag`) held for `MAX_LAG`: sent now.
    async fn send_lagging<S: AsyncRead + AsyncWrite + Unpin>(&mut self, ws: &mut Ws<S>) -> Flow {
        let due: Vec<(u32, u8)> = self
            .subs
            .iter()
            .filter(|(_, s)| {
                s.lagging
                    .as_ref()
                    .is_some_and(|l| l.since.elapsed() >= MAX_LAG)
            })
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some(text) = self.release_lagging(key) else {
                continue;
            };
            if !Self::send(ws, &text).await {
                return Flow::Close;
            }
        }
        Flow::Continue
    }

    /// Flood mode: a fresh ring for a book that just got its snapshot.
    fn build_flood_ring(&mut self, key: (u32, u8)) {
        let Some(sub) = self.subs.get(&key) else {
            return;
        };
        let names = BookNames::of(key);
        let ring = FloodRing::new(&mut self.out, names.id(), &sub.view, &mut self.rng);
        self.flood.retain(|(k, _)| *k != key);
        self.flood.push((key, ring));
        self.flood_block = None;
    }

    /// Flood mode: one pass over the block (every flooded book's ring), its
    /// sequence numbers and times patched, in one write.
    async fn send_flood<S: AsyncRead + AsyncWrite + Unpin>(&mut self, ws: &mut Ws<S>) -> Flow {
        use tokio::io::AsyncWriteExt;
        let rings: Vec<&FloodRing> = self.flood.iter().map(|(_, r)| r).collect();
        let keys: Vec<(u32, u8)> = self.flood.iter().map(|(k, _)| *k).collect();
        let seqs = keys.iter().filter_map(|k| self.subs.get(k).map(|s| s.seq));
        let (Some(low), Some(high)) = (seqs.clone().min(), seqs.max()) else {
            return Flow::Continue;
        };
        let (first, last) = (low + 1, high + flood::RING as u64);
        let block = match self.flood_block.take() {
            Some(b) if b.fits(first, last) => b,
            _ => FloodBlock::build(
                &rings,
                FloodBlock::width_for(last),
                self.shared.config.stale_after_ms,
            ),
        };
        let mut block = block;
        if !block.fits(first, last) {
            // The seqs cross a power of ten within one pass: skip a pass.
            // Unreachable as connections number their seqs (16 digits for
            // the first 400,000 connections, 1e10 apart); it would stall
            // the flood, since a skipped pass advances no seq.
            return Flow::Continue;
        }
        let record = self.shared.config.record_truth;
        for i in 0..block.slots.len() {
            let key = keys[block.slots[i].book];
            let Some(sub) = self.subs.get_mut(&key) else {
                continue;
            };
            sub.seq += 1;
            block.set_seq(i, sub.seq);
            if record {
                let changes = block.changes(&rings, i);
                let mut books = self.shared.books[key.0 as usize].lock();
                for c in changes {
                    books[key.1 as usize].set_size(c);
                    sub.view.set_size(c);
                }
                drop(books);
                self.shared
                    .record(key, sub.seq, &sub.view.bids, &sub.view.asks);
            }
        }
        if !record {
            for (b, key) in keys.iter().enumerate() {
                let Some(sub) = self.subs.get_mut(key) else {
                    continue;
                };
                let mut books = self.shared.books[key.0 as usize].lock();
                for (_, changes) in &rings[b].entries {
                    for c in changes {
                        books[key.1 as usize].set_size(c);
                        sub.view.set_size(c);
                    }
                }
            }
        }
        block.set_times(epoch_ms());
        let frames = block.slots.len() as u64;
        // Whole frames straight to the socket, after whatever tungstenite holds.
        let sent = ws.flush().await.is_ok()
            && ws.get_mut().write_all(&block.bytes).await.is_ok()
            && ws.get_mut().flush().await.is_ok();
        self.flood_block = Some(block);
        if !sent {
            return Flow::Close;
        }
        self.shared
            .counters
            .deltas
            .fetch_add(frames, Ordering::Relaxed);
        Flow::Continue
    }

    async fn send_wallets<S: AsyncRead + AsyncWrite + Unpin>(&mut self, ws: &mut Ws<S>) -> Flow {
        if self.tier.is_none() || self.silent() {
            return Flow::Continue;
        }
        for i in 0..self.wallets.len() {
            self.serial += 1;
            let (exchange, address) = &self.wallets[i];
            let text = self.out.wallet(exchange, address, self.serial);
            if !Self::send(ws, text).await {
                return Flow::Close;
            }
        }
        Flow::Continue
    }

    /// The session could not keep up with the books: tell the client, as the
    /// real server does. The views still hold what was sent, so the next
    /// deltas stay exact.
    async fn on_lag<S: AsyncRead + AsyncWrite + Unpin>(&mut self, ws: &mut Ws<S>) -> Flow {
        let keys: Vec<_> = self.subs.keys().copied().collect();
        for key in keys {
            let names = BookNames::of(key);
            let id = names.id();
            let text = self
                .out
                .book_notice("slow_reader", id.parsec_id, id.outcome);
            if !Self::send(ws, text).await {
                return Flow::Close;
            }
        }
        Flow::Continue
    }

    async fn on_tick<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        ws: &mut Ws<S>,
        tick: Tick,
    ) -> Flow {
        let key = (tick.market, tick.outcome);
        if !self.subs.contains_key(&key) {
            return Flow::Continue;
        }
        let silent = self.silent();
        let condition = self.condition();
        let Some(sub) = self.subs.get_mut(&key) else {
            return Flow::Continue;
        };
        self.shared.books[key.0 as usize].lock()[key.1 as usize].diff_into(
            sub.depth,
            &mut sub.view,
            &mut self.changes,
        );
        let names = BookNames::of(key);
        let id = names.id();
        let now = epoch_ms();
        let stale = self.shared.config.stale_after_ms;
        if !self.changes.is_empty() {
            sub.seq += 1;
            self.shared
                .record(key, sub.seq, &sub.view.bids, &sub.view.asks);
            let fault = if silent {
                None
            } else {
                self.shared.draw_fault(&mut self.rng)
            };
            if let Some(f) = fault {
                self.shared.count_fault(f);
            }
            let mut frames: Vec<Message> = Vec::with_capacity(3);
            let mut forget = false;
            // A notice's changes were lost before they were numbered.
            let mut lost = false;
            // Frames sent that are not deltas (notices, errors, malformed).
            let mut others = 0;
            let minimal = self.shared.config.minimal_deltas;
            let delta = |out: &mut ServerWriter, condition: Condition| {
                if minimal {
                    out.minimal_delta(id, &self.changes, sub.seq, condition)
                        .to_owned()
                } else {
                    out.delta(id, &self.changes, sub.seq, stale, condition, now)
                        .to_owned()
                }
            };
            match fault {
                None => frames.push(Message::text(delta(&mut self.out, condition))),
                Some(Fault::Gap) => {}
                Some(Fault::Duplicate) => {
                    let d = delta(&mut self.out, condition);
                    frames.push(Message::text(d.clone()));
                    frames.push(Message::text(d));
                }
                Some(Fault::Reorder) => match sub.held.take() {
                    // Sent after the next delta of this book (or lost to a snapshot).
                    None => sub.held = Some(delta(&mut self.out, condition)),
                    // A delta is already held: this one goes out before it
                    // (replacing it would lose it, a gap rather than a reorder).
                    Some(held) => {
                        frames.push(Message::text(delta(&mut self.out, condition)));
                        frames.push(Message::text(held));
                    }
                },
                // The server lost these changes before numbering them: they
                // get no seq, so the next delta continues without a gap and
                // only a client that acts on the notice (A4.4) sees them
                // again, in the snapshot its resync brings.
                // (Each fault is named after the notice it sends.)
                // (`LostResync` sends `resync_required` and loses the
                // resync that answers it; `ForgottenSubscription` sends it
                // and forgets the subscription, below.)
                Some(
                    f @ (Fault::ResyncRequired
                    | Fault::SlowReader
                    | Fault::LostResync
                    | Fault::ForgottenSubscription),
                ) => {
                    sub.seq -= 1;
                    lost = true;
                    sub.lose_resync |= f == Fault::LostResync;
                    forget = f == Fault::ForgottenSubscription;
                    others += 1;
                    let notice = match f {
                        Fault::SlowReader => "slow_reader",
                        _ => "resync_required",
                    };
                    frames.push(Message::text(
                        self.out
                            .book_notice(notice, id.parsec_id, id.outcome)
                            .to_owned(),
                    ));
                }
                // The venue's stream fails: 2003 names this market (its
                // exchange is every simulated book's), or every other time
                // no market (an upstream error of every exchange), and from
                // this delta on the connection's books go out stale until it ends.
                Some(Fault::Outage) => {
                    self.outage_until = Some(Instant::now() + self.shared.config.outage);
                    bump(&self.shared.counters.errors);
                    others += 1;
                    let named = self.outages.is_multiple_of(2);
                    self.outages += 1;
                    frames.push(Message::text(
                        self.out
                            .error(2003, "exchange unavailable", named.then_some(id.parsec_id))
                            .to_owned(),
                    ));
                    frames.push(Message::text(delta(&mut self.out, Condition::Outage)));
                }
                Some(Fault::NeedsRefresh) => {
                    frames.push(Message::text(delta(&mut self.out, Condition::NeedsRefresh)))
                }
                Some(Fault::Malformed) => {
                    let bad = MALFORMED[self.rng.usize(0..MALFORMED.len())];
                    others += 1;
                    frames.push(match std::str::from_utf8(bad) {
                        Ok(text) => Message::text(text.to_owned()),
                        Err(_) => Message::binary(bad.to_vec()),
                    });
                    frames.push(Message::text(delta(&mut self.out, condition)));
                }
                Some(Fault::Disconnect) => return Flow::Close,
                Some(Fault::Silence) => {
                    self.silent_until = Some(Instant::now() + self.shared.config.silence);
                }
            }
            if fault != Some(Fault::Reorder) {
                if let Some(held) = sub.held.take() {
                    frames.push(Message::text(held));
                }
            }
            // A lagging snapshot goes out after its count of deltas (a
            // delta lost to a fault counts too: the server numbered it).
            // One held from before a notice's lost changes is taken again
            // (it must hold them, as the deltas after it are diffed from them).
            let quiet = silent || fault == Some(Fault::Silence);
            let mut release = false;
            if let Some(held) = sub.lagging.as_mut() {
                if lost {
                    let left = held.left;
                    if !forget {
                        self.hold_snapshot(key, left);
                    }
                } else if !quiet {
                    held.left = held.left.saturating_sub(1);
                    release = held.left == 0;
                }
            }
            if release {
                if let Some(text) = self.release_lagging(key) {
                    frames.push(Message::text(text));
                    others += 1;
                }
            }
            if quiet {
                frames.clear();
            }
            let deltas = (frames.len() as u64).saturating_sub(others);
            for f in frames {
                if ws.feed(f).await.is_err() {
                    return Flow::Close;
                }
            }
            self.shared
                .counters
                .deltas
                .fetch_add(deltas, Ordering::Relaxed);
            if forget {
                self.forget(key);
                return match ws.flush().await {
                    Ok(()) => Flow::Continue,
                    Err(_) => Flow::Close,
                };
            }
        }
        if let (Some(p), true, false) = (tick.print, self.shared.config.trades, silent) {
            let Some(sub) = self.subs.get_mut(&key) else {
                return Flow::Continue;
            };
            let fill = self.rng.u8(0..10) == 0;
            let seq = if self.shared.config.activity_shares_seq {
                sub.seq += 1;
                self.shared
                    .record(key, sub.seq, &sub.view.bids, &sub.view.asks);
                sub.seq
            } else {
                sub.activity_seq += 1;
                sub.activity_seq
            };
            self.serial += 1;
            let text = self.out.activity(
                id,
                fill,
                self.serial,
                p.price,
                p.size,
                p.side,
                seq,
                condition,
                now,
            );
            bump(&self.shared.counters.activity);
            if ws.feed(Message::text(text.to_owned())).await.is_err() {
                return Flow::Close;
            }
        }
        if ws.flush().await.is_err() {
            return Flow::Close;
        }
        Flow::Continue
    }
}

/// `parsec_id`, or `exchange:market_id`.
fn selector_id(sel: &Selector) -> Option<String> {
    match (&sel.parsec_id, &sel.exchange, &sel.market_id) {
        (Some(id), _, _) => Some(id.clone()),
        (None, Some(e), Some(m)) => Some(format!("{e}:{m}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_choose_the_tier_by_the_simulator_convention() {
        assert_eq!(tier_of("pk_invalid"), None);
        assert_eq!(tier_of(""), None);
        assert_eq!(tier_of("pk_free_abc"), Some(FREE));
        assert_eq!(tier_of("pk_pro_abc"), Some(PRO));
        assert_eq!(tier_of("pk_scale_abc"), Some(SCALE));
        assert_eq!(tier_of("anything"), Some(SCALE));
    }
}
