//! The client thread: connections, the session, the receive path.

use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::awaiting::{Awaiting, Expired, Leaving};
use super::error::redact;
use super::event::{Activity, ErrorCode, Event};
use super::pacer::Pacer;
use super::transport::{self, send_by, OpenError, Ws};
use super::{
    ClientConfig, ClientError, Command, ConnectionState, Credentials, Shared, Subscription, Wallet,
};
use crate::capture::{CaptureWriter, FrameKind};
use crate::clock;
use crate::encode::FrameWriter;
use crate::frame::{ActivityKind, Frame, MarketRef};
use crate::latency::{LatencyRecorder, Stamps};
use crate::parse::{clipped, FrameParser};
use crate::snapshot::BookReader;
use crate::store::{Applied, BookKey, BookStore};

/// Longest server error message (and `parsec_id` of one) kept in an event
/// or error, in bytes: events wait in queues, and a frame may be 16 MiB.
const MAX_MESSAGE_LEN: usize = 1024;

/// How a connection ended.
enum End {
    Shutdown,
    Fatal(ClientError),
    Lost {
        reason: String,
        authenticated: bool,
        first_error: Option<ClientError>,
    },
}

/// Most markets in one `subscribe` frame.
const BATCH: usize = 500;
/// Housekeeping period: store poll, liveness, pings, counters.
const TICK: Duration = Duration::from_millis(50);
const TICK_NS: u64 = TICK.as_nanos() as u64;
/// Most buffered messages handled per turn of the session loop.
const DRAIN: usize = 64;
/// The window of the server's control-frame limit (PROTOCOL.md A2: 3 a second).
const CONTROL_WINDOW: Duration = Duration::from_secs(1);

pub(super) struct Driver {
    config: ClientConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    shared: Arc<Shared>,
    started: Option<SyncSender<Result<(), ClientError>>>,
    store: BookStore,
    parser: FrameParser,
    spare: Vec<u8>,
    writer: FrameWriter,
    pacer: Pacer,
    subs: Vec<Subscription>,
    wallets: Vec<Wallet>,
    pending_subscribe: Vec<Subscription>,
    pending_unsubscribe: Vec<Subscription>,
    pending_wallets: Vec<Wallet>,
    /// Wallets sent within the last control window: a `subscribe` has no
    /// answer, and a 3001 may have refused the one that carried them.
    wallets_sent: Vec<(Wallet, std::time::Instant)>,
    /// Books subscribed on this connection still waiting for their first snapshot.
    awaiting: Awaiting,
    /// Books unsubscribed on this connection (an `unsubscribe` has no answer).
    leaving: Leaving,
    authenticated: bool,
    /// On a connection after the first: until when a 3002 may be the
    /// account's old connection still holding its subscriptions (see
    /// `on_error`).
    limit_grace_until: Option<Instant>,
    /// Whether a session of this client has authenticated before.
    authenticated_before: bool,
    counters: super::ClientCounters,
    latency: LatencyRecorder,
    capture: Option<CaptureWriter<std::fs::File>>,
    rng: fastrand::Rng,
}

impl Driver {
    pub(super) fn new(
        config: ClientConfig,
        tls: Option<Arc<rustls::ClientConfig>>,
        shared: Arc<Shared>,
        started: Option<SyncSender<Result<(), ClientError>>>,
        capture: Option<CaptureWriter<std::fs::File>>,
    ) -> Driver {
        Driver {
            store: BookStore::new(config.store.clone()),
            pacer: Pacer::new(config.control_rate),
            wallets: config.wallets.clone(),
            config,
            tls,
            shared,
            started,
            parser: FrameParser::new(),
            spare: Vec::new(),
            writer: FrameWriter::new(),
            subs: Vec::new(),
            pending_subscribe: Vec::new(),
            pending_unsubscribe: Vec::new(),
            pending_wallets: Vec::new(),
            wallets_sent: Vec::new(),
            awaiting: Awaiting::default(),
            leaving: Leaving::default(),
            authenticated: false,
            limit_grace_until: None,
            authenticated_before: false,
            counters: super::ClientCounters::default(),
            latency: LatencyRecorder::new(),
            capture,
            rng: fastrand::Rng::new(),
        }
    }

    pub(super) fn initial_subscriptions(&self) -> Vec<Subscription> {
        self.config.subscriptions.clone()
    }

    /// Adds a book to the store and the handle's registry (idempotent).
    pub(super) fn track(&mut self, s: &Subscription) -> Result<BookReader, ClientError> {
        let reader = self.store.track(&s.parsec_id, &s.outcome)?;
        self.adopt(s, &reader);
        Ok(reader)
    }

    /// The client's side of tracking a book the store now tracks.
    fn adopt(&mut self, s: &Subscription, reader: &BookReader) {
        self.leaving.forget(&s.parsec_id, &s.outcome);
        self.shared
            .books
            .write()
            .insert((s.parsec_id.clone(), s.outcome.clone()), reader.clone());
        match self.subs.iter_mut().find(|x| x.same_book(s)) {
            Some(x) => *x = s.clone(),
            None => self.subs.push(s.clone()),
        }
    }

    fn untrack(&mut self, s: &Subscription) {
        self.awaiting.forget(&s.parsec_id, &s.outcome);
        self.store.untrack(&s.parsec_id, &s.outcome);
        self.shared
            .books
            .write()
            .remove(&(s.parsec_id.clone(), s.outcome.clone()));
        self.subs.retain(|x| !x.same_book(s));
        // A subscribe still queued (a re-send) would make the server keep a
        // book the client no longer tracks.
        self.pending_subscribe.retain(|p| !p.same_book(s));
    }

    fn publish(&self, event: Event) {
        if self.shared.hub.has_subscribers() {
            self.shared.hub.publish(event);
        }
    }

    fn set_state(&mut self, state: ConnectionState) {
        self.counters.state = state;
        self.flush_status();
    }

    fn flush_status(&mut self) {
        self.counters.store = self.store.counters();
        let mut status = self.shared.status.lock();
        status.counters = self.counters;
        if !self.latency.is_empty() {
            status.latency.add(&self.latency);
        }
        drop(status);
        self.latency.reset();
    }

    pub(super) async fn run(mut self, mut commands: UnboundedReceiver<Command>) {
        let mut attempt: u32 = 0;
        let error = loop {
            self.set_state(ConnectionState::Connecting);
            let mut opened_at = None;
            let end = match self.open(&mut commands).await {
                Ok(None) => End::Shutdown,
                Ok(Some(ws)) => {
                    opened_at = Some(Instant::now());
                    self.counters.connections += 1;
                    self.publish(Event::Connected {
                        connection: self.counters.connections,
                    });
                    self.session(ws, &mut commands).await
                }
                Err(e) => End::Lost {
                    reason: e.to_string(),
                    authenticated: false,
                    first_error: Some(e),
                },
            };
            self.authenticated = false;
            match end {
                End::Shutdown => break None,
                End::Fatal(e) => {
                    if let Some(tx) = self.started.take() {
                        let _ = tx.send(Err(e.clone()));
                    }
                    break Some(e);
                }
                End::Lost {
                    reason,
                    authenticated,
                    first_error,
                } => {
                    if let Some(tx) = self.started.take() {
                        // `connect` reports the first failure instead of retrying.
                        let e = first_error.unwrap_or(ClientError::Connect {
                            url: redact(&self.config.url),
                            reason,
                        });
                        let _ = tx.send(Err(e.clone()));
                        break Some(e);
                    }
                    // A good session resets the delay: one that authenticated
                    // and lasted as long as the longest delay. A server that
                    // accepts the key and then drops every connection at once
                    // is backed off from like any other failure.
                    let lasted = opened_at.map(|t| t.elapsed());
                    if authenticated && lasted.is_some_and(|d| d >= self.config.backoff.max) {
                        attempt = 0;
                    }
                    self.store.mark_disconnected();
                    self.publish(Event::Disconnected { reason });
                    let delay = self.config.backoff.delay(attempt, self.rng.f64());
                    self.publish(Event::Reconnecting { attempt, delay });
                    attempt = attempt.saturating_add(1);
                    self.counters.reconnects += 1;
                    self.set_state(ConnectionState::Reconnecting);
                    let wake = Instant::now() + delay;
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep_until(wake) => break,
                            cmd = commands.recv() => {
                                if let Some(End::Shutdown) = self.command(cmd) {
                                    self.finish(None);
                                    return;
                                }
                            }
                        }
                    }
                }
            }
        };
        self.finish(error);
    }

    fn finish(&mut self, error: Option<ClientError>) {
        self.store.mark_disconnected();
        self.set_state(ConnectionState::Stopped);
        self.shared.status.lock().error = error.clone();
        self.shared.hub.publish(Event::Stopped { error });
        self.shared.hub.close();
    }

    /// Opens the connection, handling commands meanwhile (a handshake may
    /// take the whole `connect_timeout`: a `subscribe` must not wait for it,
    /// nor a shutdown); `None` when asked to stop.
    async fn open(
        &mut self,
        commands: &mut UnboundedReceiver<Command>,
    ) -> Result<Option<Ws>, ClientError> {
        let (url, tls) = (self.config.url.clone(), self.tls.clone());
        let timeout = self.config.connect_timeout;
        let open = async move { transport::open(&url, &[], tls.as_ref(), timeout).await };
        tokio::pin!(open);
        let opened = loop {
            tokio::select! {
                opened = &mut open => break opened,
                cmd = commands.recv() => {
                    if let Some(End::Shutdown) = self.command(cmd) {
                        return Ok(None);
                    }
                }
            }
        };
        match opened {
            Ok(ws) => Ok(Some(ws)),
            Err(OpenError::Status(status)) => Err(ClientError::Connect {
                url: redact(&self.config.url),
                reason: format!("HTTP error: {status}"),
            }),
            Err(OpenError::Other(e)) => Err(e),
        }
    }

    /// Handles a user command; `Some(End::Shutdown)` when asked to stop.
    fn command(&mut self, cmd: Option<Command>) -> Option<End> {
        match cmd {
            None | Some(Command::Shutdown) => return Some(End::Shutdown),
            Some(Command::Subscribe(subs, reply)) => {
                // All or nothing: the store takes every book first; if one is
                // refused (no slot left, an empty id), the books this call
                // started are given back and nothing is sent.
                let mut readers = Vec::with_capacity(subs.len());
                let mut refused = None;
                for s in &subs {
                    match self.store.track(&s.parsec_id, &s.outcome) {
                        Ok(r) => readers.push(r),
                        Err(e) => {
                            refused = Some(ClientError::from(e));
                            break;
                        }
                    }
                }
                if let Some(e) = refused {
                    for s in &subs[..readers.len()] {
                        if !self.subs.iter().any(|x| x.same_book(s)) {
                            self.store.untrack(&s.parsec_id, &s.outcome);
                        }
                    }
                    let _ = reply.send(Err(e));
                    return None;
                }
                for (s, r) in subs.iter().zip(&readers) {
                    self.adopt(s, r);
                    // An unsubscribe of this book not sent yet would go
                    // out before this subscribe (unsubscribes go first):
                    // the server would end the book only to start it
                    // again with a new snapshot. Drop it instead.
                    self.pending_unsubscribe.retain(|p| !p.same_book(s));
                    if self.authenticated {
                        self.pending_subscribe.retain(|p| !p.same_book(s));
                        self.pending_subscribe.push(s.clone());
                    }
                }
                let _ = reply.send(Ok(readers));
            }
            Some(Command::Unsubscribe(subs)) => {
                for s in subs {
                    self.untrack(&s);
                    self.pending_subscribe.retain(|p| !p.same_book(&s));
                    if self.authenticated {
                        self.pending_unsubscribe.push(s);
                    }
                }
            }
            Some(Command::Wallets { add: true, wallets }) => {
                for w in wallets {
                    if !self.wallets.contains(&w) {
                        self.wallets.push(w.clone());
                        if self.authenticated {
                            self.pending_wallets.push(w);
                        }
                    }
                }
            }
            Some(Command::Wallets {
                add: false,
                wallets,
            }) => {
                self.wallets.retain(|w| !wallets.contains(w));
                self.pending_wallets.retain(|w| !wallets.contains(w));
                self.wallets_sent.retain(|(w, _)| !wallets.contains(w));
            }
        }
        None
    }

    /// One connection: auth, (re)subscribe, then frames until it ends.
    async fn session(&mut self, mut ws: Ws, commands: &mut UnboundedReceiver<Command>) -> End {
        self.set_state(ConnectionState::Authenticating);
        let auth = match &self.config.credentials {
            Credentials::ApiKey(k) => self.writer.auth(k.expose()),
            Credentials::TerminalToken(t) => self.writer.auth_terminal(t.expose()),
        };
        // Auth window (A1.1), from before the send.
        let deadline = Instant::now() + self.config.auth_timeout;
        if let Err(e) = send_by(&mut ws, Message::text(auth.to_owned()), deadline).await {
            return self.lost(format!("sending auth: {e}"));
        }
        loop {
            let msg = tokio::select! {
                m = ws.next() => m,
                _ = tokio::time::sleep_until(deadline) => {
                    let e = ClientError::AuthTimeout(self.config.auth_timeout);
                    return End::Lost { reason: e.to_string(), authenticated: false, first_error: Some(e) };
                }
                cmd = commands.recv() => {
                    if let Some(end) = self.command(cmd) {
                        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                        return end;
                    }
                    continue;
                }
            };
            let bytes = match msg {
                Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                Some(Ok(Message::Binary(b))) => b.to_vec(),
                Some(Ok(Message::Close(c))) => {
                    return self.lost(format!("closed during auth: {c:?}"))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return self.lost(e.to_string()),
                None => return self.lost("connection closed during auth".into()),
            };
            let mut buf = bytes;
            match self.parser.parse(&mut buf) {
                Ok(Frame::AuthOk { customer_id }) => {
                    let customer_id = customer_id.map(str::to_owned);
                    self.publish(Event::Authenticated { customer_id });
                    break;
                }
                Ok(Frame::AuthError { code, message }) => {
                    return End::Fatal(ClientError::Auth {
                        code,
                        message: clipped(message, MAX_MESSAGE_LEN).to_owned(),
                    });
                }
                Ok(Frame::Error(e)) => {
                    let code = ErrorCode::from_code(e.code);
                    let message = clipped(e.message, MAX_MESSAGE_LEN).to_owned();
                    self.counters.server_errors += 1;
                    self.publish(Event::ServerError {
                        code,
                        message,
                        parsec_id: None,
                    });
                }
                Ok(_) => {}
                // Counted and reported as after auth; the wait for auth_ok goes on.
                Err(e) => {
                    self.store.record_parse_error(&e);
                    if !e.is_ignorable() && self.shared.hub.has_subscribers() {
                        self.shared.hub.publish(Event::Malformed { error: e });
                    }
                }
            }
        }
        self.authenticated = true;
        if let Some(tx) = self.started.take() {
            let _ = tx.send(Ok(()));
        }
        // PROTOCOL.md A5 limits subscriptions per account: the connection
        // this one replaces may still hold its subscriptions on the server
        // until the server finds it dead, which takes it about as long as it
        // took the client (`dead_after`, counted from the same silence).
        self.limit_grace_until = if self.authenticated_before {
            Instant::now().checked_add(self.config.dead_after.saturating_mul(2))
        } else {
            None
        };
        self.authenticated_before = true;
        // Rule A1.3: re-subscribe everything, batched.
        self.pending_subscribe = self.subs.clone();
        self.awaiting.clear();
        self.leaving.clear();
        self.pending_unsubscribe.clear();
        self.pending_wallets = self.wallets.clone();
        self.wallets_sent.clear();
        self.set_state(ConnectionState::Live);

        // Time of the last frame of any kind, on the engine clock (no extra clock read per frame).
        let mut last_rx_ns = clock::now_ns();
        let mut last_ping = Instant::now();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let dead_after_ns = u64::try_from(self.config.dead_after.as_nanos()).unwrap_or(u64::MAX);
        let mut housekeeping = false;
        let mut next_housekeeping_ns = last_rx_ns + TICK_NS;
        loop {
            let wake = if self.has_control() {
                self.pacer
                    .ready_at(std::time::Instant::now())
                    .map(Instant::from_std)
            } else {
                None
            };
            tokio::select! {
                msg = ws.next() => {
                    // Messages already buffered are taken in one go, without
                    // another round through the select (at most DRAIN, so the
                    // housekeeping tick still gets its turn).
                    let mut msg = msg;
                    let mut handled = 0;
                    loop {
                        last_rx_ns = clock::now_ns();
                        if let Some(end) = self.on_message(msg, last_rx_ns) {
                            return end;
                        }
                        handled += 1;
                        if handled == DRAIN {
                            break;
                        }
                        match ws.next().now_or_never() {
                            Some(next) => msg = next,
                            None => break,
                        }
                    }
                    // Under a flood the socket is always ready and tokio polls
                    // its timers only every few dozen task polls, so the tick
                    // can starve; the engine clock read above keeps it on time.
                    housekeeping = last_rx_ns >= next_housekeeping_ns;
                }
                cmd = commands.recv() => {
                    if let Some(end) = self.command(cmd) {
                        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                        return end;
                    }
                }
                _ = tick.tick() => housekeeping = true,
                _ = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
            }
            if housekeeping {
                housekeeping = false;
                let now_ns = clock::now_ns();
                next_housekeeping_ns = now_ns + TICK_NS;
                if now_ns.saturating_sub(last_rx_ns) >= dead_after_ns {
                    return self.lost(format!("no frame for {:?}", self.config.dead_after));
                }
                if last_ping.elapsed() >= self.config.ping_interval {
                    last_ping = Instant::now();
                    let ping = Message::Ping(Default::default());
                    if let Err(e) = send_by(&mut ws, ping, self.dead_at(last_rx_ns)).await {
                        return self.lost(e);
                    }
                }
                self.store.poll(now_ns);
                self.check_awaiting();
                self.flush_status();
            }
            if let Err(e) = self.send_control(&mut ws, last_rx_ns).await {
                return self.lost(e);
            }
        }
    }

    /// One message off the socket; `Some` when the connection ends.
    fn on_message(&mut self, msg: Option<Result<Message, WsError>>, recv_ns: u64) -> Option<End> {
        match msg {
            Some(Ok(Message::Text(t))) => {
                self.capture(FrameKind::Text, t.as_bytes(), recv_ns);
                self.on_frame(t.as_bytes(), recv_ns)
            }
            Some(Ok(Message::Binary(b))) => {
                self.capture(FrameKind::Binary, &b, recv_ns);
                self.on_frame(&b, recv_ns)
            }
            Some(Ok(Message::Close(c))) => {
                let why = c.map_or_else(
                    || "no close frame".to_owned(),
                    |c| format!("code {} {}", u16::from(c.code), c.reason),
                );
                Some(self.lost(format!("closed by server: {why}")))
            }
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(self.lost(e.to_string())),
            None => Some(self.lost("connection closed".into())),
        }
    }

    fn lost(&mut self, reason: String) -> End {
        End::Lost {
            reason,
            authenticated: self.authenticated,
            first_error: None,
        }
    }

    /// When the connection counts as dead if nothing arrives: `dead_after`
    /// after the last frame received (engine clock), the deadline of a send.
    fn dead_at(&self, last_rx_ns: u64) -> Instant {
        let quiet = Duration::from_nanos(clock::now_ns().saturating_sub(last_rx_ns));
        Instant::now() + self.config.dead_after.saturating_sub(quiet)
    }

    fn has_control(&self) -> bool {
        !self.pending_subscribe.is_empty()
            || !self.pending_unsubscribe.is_empty()
            || !self.pending_wallets.is_empty()
            || self.store.queued_resyncs() > 0
    }

    /// Sends what control frames the pacer allows: unsubscriptions first
    /// (they free slots of the tier's limit for the subscriptions that
    /// follow), then subscriptions (batched), then the store's resyncs.
    async fn send_control(&mut self, ws: &mut Ws, last_rx_ns: u64) -> Result<(), String> {
        while self.has_control() && self.pacer.try_take(std::time::Instant::now()) {
            let text = if !self.pending_unsubscribe.is_empty() {
                let batch = take_batch(&mut self.pending_unsubscribe, |id, outcome, now| {
                    self.leaving.sent(id, outcome, now);
                });
                let selectors: Vec<_> = batch.iter().map(Subscription::selector).collect();
                self.writer.unsubscribe(&selectors, &[]).to_owned()
            } else if !self.pending_subscribe.is_empty() || !self.pending_wallets.is_empty() {
                let batch = take_batch(&mut self.pending_subscribe, |id, outcome, now| {
                    self.awaiting.sent(id, outcome, now);
                });
                let selectors: Vec<_> = batch.iter().map(Subscription::selector).collect();
                let wallets: Vec<Wallet> = std::mem::take(&mut self.pending_wallets);
                let now = std::time::Instant::now();
                self.wallets_sent
                    .retain(|(_, at)| now.saturating_duration_since(*at) <= CONTROL_WINDOW);
                self.wallets_sent
                    .extend(wallets.iter().map(|w| (w.clone(), now)));
                let addresses: Vec<(&str, &str)> = wallets
                    .iter()
                    .map(|w| (w.exchange.as_str(), w.address.as_str()))
                    .collect();
                self.writer.subscribe(&selectors, &addresses).to_owned()
            } else if let Some(req) = self.store.next_resync(clock::now_ns()) {
                self.counters.resyncs_sent += 1;
                let text = self
                    .writer
                    .resync(&req.key.parsec_id, Some(&req.key.outcome))
                    .to_owned();
                self.publish(Event::ResyncSent {
                    key: req.key,
                    attempt: req.attempt,
                });
                text
            } else {
                return Ok(());
            };
            self.counters.control_frames += 1;
            send_by(ws, Message::text(text), self.dead_at(last_rx_ns)).await?;
        }
        Ok(())
    }

    /// Appends a received message to the capture file, if recording. A
    /// write error stops the recording (reported as an event), not the connection.
    fn capture(&mut self, kind: FrameKind, bytes: &[u8], recv_ns: u64) {
        let Some(w) = &mut self.capture else { return };
        if let Err(e) = w.write_frame(clock::wall_ns(recv_ns), kind, bytes) {
            self.capture = None;
            let path = self
                .config
                .record
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string());
            self.publish(Event::CaptureFailed {
                error: ClientError::Capture {
                    path,
                    reason: e.to_string(),
                },
            });
        }
    }

    /// After `scan_marked` read the message: a delta of a market the store
    /// knows applied from the parser's fields, with its latency stamps and,
    /// on a gap, its event. Whether it was (false: the frame route follows).
    #[inline(always)]
    fn apply_direct(&mut self, bytes: &[u8], recv_ns: u64) -> bool {
        let Some((token, body)) = self.parser.marked_delta() else {
            return false;
        };
        #[cfg(debug_assertions)]
        if let Ok(Frame::Delta(d)) = self.parser.scanned(bytes).0 {
            // As `apply_message` and `find_marked` check (before the stamp:
            // not timed as the apply).
            self.store.debug_check_token(token, &d.market);
        }
        let parsed_ns = if self.config.latency {
            clock::now_ns()
        } else {
            0
        };
        let Some(applied) = self.store.apply_known_delta(token, &body, recv_ns) else {
            return false;
        };
        self.counters.direct_deltas += 1;
        if self.config.latency {
            let stamps =
                Stamps::applied(recv_ns, parsed_ns, self.store.applied_ns(), clock::now_ns());
            self.latency.record(&stamps);
            self.latency.record_wire(
                clock::wall_ns(recv_ns) / 1_000_000,
                body.exchange_ts_ms,
                body.ingest_ts_ms,
            );
        }
        if applied == Applied::Gap && self.shared.hub.has_subscribers() {
            // The gap's event names the market as the frame writes it: the
            // frame is built for that (from the fields just read; gaps are rare).
            if let Ok(Frame::Delta(d)) = self.parser.scanned(bytes).0 {
                self.shared.hub.publish(Event::Gap {
                    key: BookKey::new(d.market.parsec_id, d.market.outcome),
                });
            }
        }
        true
    }

    /// The receive path: parse (from the message's own buffer on the fast
    /// path), apply, publish; events for what is not book state.
    fn on_frame(&mut self, bytes: &[u8], recv_ns: u64) -> Option<End> {
        self.counters.frames += 1;
        self.counters.bytes += bytes.len() as u64;
        // A delta of a market the parser and the store both know goes
        // straight to its book (`BookStore::apply_message`'s route), with no
        // frame built, unless a left book's frames are watched for (that
        // check reads the frame's market).
        let (parsed, token) = match self.parser.scan_marked(bytes) {
            Ok(true) => {
                if self.leaving.is_empty() && self.apply_direct(bytes, recv_ns) {
                    return None;
                }
                self.parser.scanned(bytes)
            }
            Ok(false) => (self.parser.general_shared(bytes, &mut self.spare), 0),
            Err(e) => (Err(e), 0),
        };
        let frame = match &parsed {
            Ok(frame) => frame,
            Err(e) => {
                self.store.record_parse_error(e);
                if !e.is_ignorable() && self.shared.hub.has_subscribers() {
                    self.shared
                        .hub
                        .publish(Event::Malformed { error: e.clone() });
                }
                return None;
            }
        };
        let timed = self.config.latency && matches!(frame, Frame::Delta(_) | Frame::Book(_));
        let parsed_ns = if timed { clock::now_ns() } else { 0 };
        // A notice for every outcome of a market (see `BookStore::apply`):
        // its books already resyncing get no second Gap event.
        let already_resyncing: Vec<BookKey> = match frame {
            Frame::ResyncRequired(m) | Frame::SlowReader(m) if m.outcome.is_empty() => self
                .store
                .resyncing()
                .filter(|k| *k.parsec_id == *m.parsec_id)
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        let applied = self.store.apply_marked(frame, token, recv_ns);
        if timed {
            let stamps =
                Stamps::applied(recv_ns, parsed_ns, self.store.applied_ns(), clock::now_ns());
            self.latency
                .record_frame(frame, &stamps, clock::wall_ns(recv_ns) / 1_000_000);
        }
        if let Frame::Book(b) = frame {
            if !self.awaiting.is_empty() {
                self.awaiting.synced(b.market.parsec_id, b.market.outcome);
            }
        }
        // A frame of a book the client left: if its `unsubscribe` went out
        // longer than the snapshot timeout ago, it did not take (a 3001
        // refused it): send it again.
        let left = match self.leaving.is_empty() {
            true => None,
            false => market_not_kept(frame, applied),
        };
        if let Some(m) = left {
            let (now, timeout) = (std::time::Instant::now(), self.config.snapshot_timeout);
            if self
                .leaving
                .still_flowing(m.parsec_id, m.outcome, now, timeout)
            {
                // Fields one by one: the frame still borrows the parser.
                let queued = unsubscribe_again(
                    &self.subs,
                    &mut self.pending_unsubscribe,
                    m.parsec_id,
                    m.outcome,
                );
                self.counters.unsubscribes_resent += u64::from(queued);
            }
        }
        let hub = &self.shared.hub;
        match frame {
            Frame::Error(e) => {
                let code = ErrorCode::from_code(e.code);
                let message = clipped(e.message, MAX_MESSAGE_LEN).to_owned();
                let parsec_id = e
                    .parsec_id
                    .map(|id| clipped(id, MAX_MESSAGE_LEN).to_owned());
                self.counters.server_errors += 1;
                self.on_error(code, message, parsec_id);
            }
            Frame::AuthError { code, message } => {
                return Some(End::Fatal(ClientError::Auth {
                    code: *code,
                    message: clipped(message, MAX_MESSAGE_LEN).to_owned(),
                }));
            }
            // Events are built only for someone to read them.
            _ if !hub.has_subscribers() => {}
            Frame::Delta(d) if applied == Applied::Gap => hub.publish(Event::Gap {
                key: BookKey::new(d.market.parsec_id, d.market.outcome),
            }),
            Frame::ResyncRequired(m) | Frame::SlowReader(m) if applied == Applied::Gap => {
                if m.outcome.is_empty() {
                    // Every outcome of the market (see `BookStore::apply`).
                    let gapped = self
                        .store
                        .resyncing()
                        .filter(|k| *k.parsec_id == *m.parsec_id && !already_resyncing.contains(k));
                    for k in gapped {
                        hub.publish(Event::Gap { key: k.clone() });
                    }
                } else {
                    hub.publish(Event::Gap {
                        key: BookKey::new(m.parsec_id, m.outcome),
                    });
                }
            }
            Frame::Book(b) if matches!(applied, Applied::Snapshot | Applied::Gap) => {
                let key = BookKey::new(b.market.parsec_id, b.market.outcome);
                hub.publish(match applied {
                    Applied::Snapshot => Event::Synced {
                        key,
                        seq: b.server_seq,
                    },
                    _ => Event::Gap { key },
                });
            }
            Frame::Activity(a) => {
                let key = BookKey::new(a.market.parsec_id, a.market.outcome);
                if applied == Applied::Gap {
                    hub.publish(Event::Gap { key: key.clone() });
                }
                let activity = Activity {
                    key,
                    kind: a.kind,
                    price: a.price,
                    size: a.size,
                    side: a.side,
                    id: a.trade_id.or(a.fill_id).map(str::to_owned),
                    server_seq: a.server_seq,
                    exchange_ts_ms: a.exchange_ts_ms,
                };
                hub.publish(match a.kind {
                    ActivityKind::Trade => Event::Trade(activity),
                    ActivityKind::Fill => Event::Fill(activity),
                });
            }
            Frame::WalletActivity(w) => hub.publish(Event::Wallet {
                exchange: w.exchange.to_owned(),
                address: w.address.to_owned(),
                data: w.data.to_owned(),
            }),
            _ => {}
        }
        None
    }

    /// Housekeeping of the books waiting for their first snapshot: those
    /// refused are dropped, those unanswered subscribed again.
    fn check_awaiting(&mut self) {
        let now = std::time::Instant::now();
        self.leaving.expire(now, self.config.snapshot_timeout);
        for expired in self.awaiting.expired(now, self.config.snapshot_timeout) {
            match expired {
                Expired::Refused(id, outcome, code) => self.drop_refused(&id, &outcome, code),
                Expired::Unanswered(id, outcome) => {
                    let Some(s) = self.subscription(&id, &outcome) else {
                        continue;
                    };
                    if !self.pending_subscribe.iter().any(|p| p.same_book(&s)) {
                        self.counters.resubscribes += 1;
                        self.pending_subscribe.push(s);
                    }
                }
            }
        }
    }

    /// The books of market `parsec_id` that are resyncing (outcome lower-case).
    fn resyncing_books_of<'a>(
        &'a self,
        parsec_id: &'a str,
    ) -> impl Iterator<Item = (String, String)> + 'a {
        self.store
            .resyncing()
            .filter(move |k| *k.parsec_id == *parsec_id)
            .map(|k| (k.parsec_id.to_string(), k.outcome.to_ascii_lowercase()))
    }

    /// The subscription of a book (outcome lower-case), if the client keeps it.
    fn subscription(&self, parsec_id: &str, outcome: &str) -> Option<Subscription> {
        self.subs
            .iter()
            .find(|s| s.parsec_id == parsec_id && s.outcome == outcome)
            .cloned()
    }

    /// Ends a subscription the server refused, and says so.
    fn drop_refused(&mut self, parsec_id: &str, outcome: &str, code: ErrorCode) {
        let Some(s) = self.subscription(parsec_id, outcome) else {
            return;
        };
        self.untrack(&s);
        self.counters.dropped_subscriptions += 1;
        self.publish(Event::SubscriptionDropped {
            key: BookKey::new(parsec_id, outcome),
            code,
        });
    }

    /// After a 3001, which names no frame: if it refused an `unsubscribe`,
    /// the server keeps the book. One whose frames keep coming is caught by
    /// [`Leaving::still_flowing`], but a quiet one would hold a slot of the
    /// tier's limit for the whole connection (and a later subscribe at the
    /// limit would get 3002). So every unsubscribe sent within the limit's
    /// window goes out again: an `unsubscribe` has no answer, and a second
    /// one ends the same book or nothing.
    fn unsubscribe_recent_again(&mut self, now: std::time::Instant) {
        for (id, outcome) in self.leaving.sent_within(now, CONTROL_WINDOW) {
            let queued =
                unsubscribe_again(&self.subs, &mut self.pending_unsubscribe, &id, &outcome);
            self.counters.unsubscribes_resent += u64::from(queued);
        }
    }

    /// After a 3001, which names no frame: wallets sent within the limit's
    /// window go out again (watching a wallet twice is watching it once),
    /// or a refused one would send nothing until the next connection.
    fn watch_recent_wallets_again(&mut self, now: std::time::Instant) {
        for (w, at) in std::mem::take(&mut self.wallets_sent) {
            let recent = now.saturating_duration_since(at) <= CONTROL_WINDOW;
            if recent && self.wallets.contains(&w) && !self.pending_wallets.contains(&w) {
                self.counters.wallets_resent += 1;
                self.pending_wallets.push(w);
            }
        }
    }

    /// PROTOCOL.md A5: what each error code does to the client.
    fn on_error(&mut self, code: ErrorCode, message: String, parsec_id: Option<String>) {
        if code == ErrorCode::RateLimited {
            self.counters.rate_limited += 1;
            let now = std::time::Instant::now();
            self.pacer.back_off(now);
            self.unsubscribe_recent_again(now);
            self.watch_recent_wallets_again(now);
        }
        // 2002, 2005, 3002 name the market, not the outcome (see `awaiting`).
        // A 3002 while an unsubscribe may not have taken yet says nothing
        // final: the book is subscribed again after the snapshot timeout.
        // The server takes a connection's frames in order, so that is an
        // unsubscribe still queued (not sent, or refused by a 3001 and queued
        // again), or one sent after the oldest subscribe the error may answer.
        // One sent before it freed its slot in time: the 3002 is final.
        let freeing = |id: &str| {
            !self.pending_unsubscribe.is_empty()
                || self
                    .awaiting
                    .first_sent(id)
                    .is_some_and(|t| self.leaving.sent_after(t))
        };
        // Early on a connection that replaced another, a 3002 may come from
        // the old one's subscriptions, which the server has not let go yet:
        // nothing is dropped either (a network blip must not end books for
        // good), and after the grace a 3002 is final again.
        let old_connection_holds = self
            .limit_grace_until
            .is_some_and(|until| Instant::now() < until);
        let gone = match &parsec_id {
            Some(id)
                if code == ErrorCode::SubscriptionLimit
                    && (old_connection_holds || freeing(id)) =>
            {
                Vec::new()
            }
            Some(id) if code.drops_subscription() => self.awaiting.refused(id, code),
            _ => Vec::new(),
        };
        // 2002 says the whole market is unknown, so it also answers a
        // `resync` of one of its live books: the market went away while they
        // were live. Its resyncing books are dropped too (A5), or the resync
        // timeout would ask for them for ever; the server is told to stop
        // any of them it still sends (an unsubscribe of an unknown market
        // ends nothing, or gets a 2002 that finds nothing left to drop).
        let resyncing: Vec<(String, String)> = match &parsec_id {
            Some(id) if code == ErrorCode::MarketNotFound => self
                .resyncing_books_of(id)
                .filter(|k| !gone.contains(k))
                .collect(),
            _ => Vec::new(),
        };
        // A 2001 naming a market answers a `resync` of one of its books the
        // server holds no subscription of (it lost it without closing the
        // connection): the resync timeout would ask again for ever, each
        // time refused. Its resyncing books the client keeps, and is not
        // already subscribing, are subscribed again: the snapshot that
        // answers ends the resync. (A 2001 that answered something else
        // costs a snapshot; one that answers the subscribe too leaves the
        // book to the snapshot timeout, as any unanswered subscribe.)
        let forgotten: Vec<Subscription> = match &parsec_id {
            Some(id) if code == ErrorCode::Malformed => self
                .resyncing_books_of(id)
                .filter_map(|(id, outcome)| self.subscription(&id, &outcome))
                .filter(|s| {
                    !self.awaiting.contains(&s.parsec_id, &s.outcome)
                        && !self.pending_subscribe.iter().any(|p| p.same_book(s))
                })
                .collect(),
            _ => Vec::new(),
        };
        self.publish(Event::ServerError {
            code,
            message,
            parsec_id,
        });
        for s in forgotten {
            // A new subscription numbers afresh: nothing buffered from the
            // old one may continue its snapshot.
            self.store.resubscribed(&s.parsec_id, &s.outcome);
            self.counters.resubscribes += 1;
            self.pending_subscribe.push(s);
        }
        for (id, outcome) in gone {
            self.drop_refused(&id, &outcome, code);
        }
        for (id, outcome) in resyncing {
            if let Some(s) = self.subscription(&id, &outcome) {
                self.drop_refused(&id, &outcome, code);
                self.pending_unsubscribe.push(s);
            }
        }
    }
}

/// Queues another `unsubscribe` of a left book into `pending`, unless the
/// book is kept again (`subs`) or one is already queued; whether it queued one.
fn unsubscribe_again(
    subs: &[Subscription],
    pending: &mut Vec<Subscription>,
    parsec_id: &str,
    outcome: &str,
) -> bool {
    let again = Subscription::new(parsec_id).outcome(outcome);
    let kept = subs.iter().any(|s| s.same_book(&again));
    if kept || pending.iter().any(|p| p.same_book(&again)) {
        return false;
    }
    pending.push(again);
    true
}

/// Takes up to a batch of `pending` (oldest first), telling `sent` of each
/// book as sent now.
fn take_batch(
    pending: &mut Vec<Subscription>,
    mut sent: impl FnMut(&str, &str, std::time::Instant),
) -> Vec<Subscription> {
    let n = pending.len().min(BATCH);
    let batch: Vec<Subscription> = pending.drain(..n).collect();
    let now = std::time::Instant::now();
    for s in &batch {
        sent(&s.parsec_id, &s.outcome, now);
    }
    batch
}

/// The market of a frame that can only come from a book the client does not
/// keep: a snapshot or delta the store has no book for, or any activity (the
/// caller checks the book against what it keeps).
fn market_not_kept<'f, 'a>(frame: &'f Frame<'a>, applied: Applied) -> Option<&'f MarketRef<'a>> {
    match frame {
        Frame::Book(b) if applied == Applied::Untracked => Some(&b.market),
        Frame::Delta(d) if applied == Applied::Untracked => Some(&d.market),
        Frame::Activity(a) => Some(&a.market),
        _ => None,
    }
}
