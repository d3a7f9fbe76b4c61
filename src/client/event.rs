//! What the client tells its user besides books: trades, fills, wallet
//! activity, server errors, connection and book state changes.
//!
//! Every [`Events`] stream has a bounded queue of its own. A consumer that
//! falls behind loses the oldest events and is told how many with
//! [`Event::Lagged`]; books never travel here (they are read through
//! [`BookReader`](crate::BookReader)s, which always hold the latest state).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::frame::{ActivityKind, TradeSide};
use crate::price::{Price, Size};
use crate::store::BookKey;
use crate::ParseError;

/// An `error` code of PROTOCOL.md A5.
///
/// ```
/// use wirebook::client::ErrorCode;
/// let code = ErrorCode::from_code(3002); // the `code` of an `error` frame
/// assert_eq!(code, ErrorCode::SubscriptionLimit);
/// assert!(code.drops_subscription() && !ErrorCode::RateLimited.drops_subscription());
/// assert!(matches!(ErrorCode::from_code(4242), ErrorCode::Other(4242)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 1001: not authenticated yet, or already authenticated (a client bug).
    NotAuthenticated,
    /// 1002: invalid key or token.
    InvalidKey,
    /// 2001: malformed message or invalid market id.
    Malformed,
    /// 2002: market not found; the subscription is dropped.
    MarketNotFound,
    /// 2003: exchange unavailable; that exchange's books are not fresh.
    ExchangeUnavailable,
    /// 2005: invalid outcome; the subscription is dropped.
    InvalidOutcome,
    /// 3001: control frames over 3/s; the pacer backs off.
    RateLimited,
    /// 3002: subscription limit of the tier; the subscription is not active.
    SubscriptionLimit,
    /// A code this crate does not know.
    Other(u32),
}

impl ErrorCode {
    /// The code for a number.
    ///
    /// ```
    /// use wirebook::client::ErrorCode;
    /// assert_eq!(ErrorCode::from_code(2002), ErrorCode::MarketNotFound);
    /// assert_eq!(ErrorCode::from_code(9), ErrorCode::Other(9));
    /// ```
    pub fn from_code(code: u32) -> ErrorCode {
        match code {
            1001 => ErrorCode::NotAuthenticated,
            1002 => ErrorCode::InvalidKey,
            2001 => ErrorCode::Malformed,
            2002 => ErrorCode::MarketNotFound,
            2003 => ErrorCode::ExchangeUnavailable,
            2005 => ErrorCode::InvalidOutcome,
            3001 => ErrorCode::RateLimited,
            3002 => ErrorCode::SubscriptionLimit,
            other => ErrorCode::Other(other),
        }
    }

    /// The number on the wire.
    ///
    /// ```
    /// assert_eq!(wirebook::client::ErrorCode::RateLimited.code(), 3001);
    /// ```
    pub fn code(self) -> u32 {
        match self {
            ErrorCode::NotAuthenticated => 1001,
            ErrorCode::InvalidKey => 1002,
            ErrorCode::Malformed => 2001,
            ErrorCode::MarketNotFound => 2002,
            ErrorCode::ExchangeUnavailable => 2003,
            ErrorCode::InvalidOutcome => 2005,
            ErrorCode::RateLimited => 3001,
            ErrorCode::SubscriptionLimit => 3002,
            ErrorCode::Other(c) => c,
        }
    }

    /// Whether the subscription the error names is gone (2002, 2005, 3002).
    ///
    /// ```
    /// assert!(wirebook::client::ErrorCode::InvalidOutcome.drops_subscription());
    /// ```
    pub fn drops_subscription(self) -> bool {
        matches!(
            self,
            ErrorCode::MarketNotFound | ErrorCode::InvalidOutcome | ErrorCode::SubscriptionLimit
        )
    }
}

/// A public trade or an own fill (`activity`).
///
/// ```
/// use wirebook::client::{ClientConfig, Event, ParsecClient, Subscription};
/// use wirebook::sim::{SimConfig, Simulator};
/// let sim = Simulator::start(SimConfig { markets: 1, ..SimConfig::default() })?; // prints trades on subscribed books
/// let config = ClientConfig::new(sim.url(), "pk_demo_key").subscribe(Subscription::new("sim:0").outcome("yes"));
/// let client = ParsecClient::connect(config)?;
/// let mut events = client.events();
/// let trade = std::iter::from_fn(|| events.recv_timeout(std::time::Duration::from_secs(5)))
///     .find_map(|e| match e { Event::Trade(activity) => Some(activity), _ => None })
///     .expect("the simulator prints trades");
/// assert_eq!((&*trade.key.parsec_id, trade.kind), ("sim:0", wirebook::ActivityKind::Trade));
/// assert!(trade.price.units() > 0 && trade.size.units() > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The book.
    pub key: BookKey,
    /// Trade or fill.
    pub kind: ActivityKind,
    /// Price.
    pub price: Price,
    /// Size.
    pub size: Size,
    /// Buy or sell, where given.
    pub side: Option<TradeSide>,
    /// `trade_id` or `fill_id`, where given.
    pub id: Option<String>,
    /// `server_seq`, where given.
    pub server_seq: Option<u64>,
    /// Venue time, epoch ms.
    pub exchange_ts_ms: Option<u64>,
}

/// Something that happened on the connection.
///
/// ```
/// use wirebook::client::{ClientConfig, Event, ParsecClient, Subscription};
/// use wirebook::sim::{SimConfig, Simulator};
/// let sim = Simulator::start(SimConfig::default())?;
/// let config = ClientConfig::new(sim.url(), "pk_demo_key").subscribe(Subscription::new("sim:0").outcome("yes"));
/// let client = ParsecClient::spawn(config)?; // returns at once: the stream sees the session come up
/// let mut events = client.events();
/// let synced = std::iter::from_fn(|| events.recv_timeout(std::time::Duration::from_secs(5)))
///     .find_map(|event| match event {
///         Event::Synced { key, seq } => Some((key, seq)),
///         _ => None, // Connected, Authenticated, trades, ...
///     });
/// let (key, _seq) = synced.expect("the book's snapshot lands");
/// assert_eq!((&*key.parsec_id, &*key.outcome), ("sim:0", "yes"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A connection is open (TLS and WebSocket handshakes done).
    Connected {
        /// Connections opened so far, this one included.
        connection: u64,
    },
    /// `auth_ok`: subscriptions follow.
    Authenticated {
        /// The account.
        customer_id: Option<String>,
    },
    /// The connection ended; books read `Disconnected` until their next snapshot.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The next connection attempt is due after `delay`.
    Reconnecting {
        /// 0-based attempt since the last good session.
        attempt: u32,
        /// The wait.
        delay: Duration,
    },
    /// A public trade.
    Trade(Activity),
    /// An own fill.
    Fill(Activity),
    /// A watched wallet's snapshot.
    Wallet {
        /// Venue.
        exchange: String,
        /// Address.
        address: String,
        /// The venue-specific `data` object, as raw JSON.
        data: String,
    },
    /// An `error` frame, for the market it names where it names one.
    ServerError {
        /// The code.
        code: ErrorCode,
        /// The server's message.
        message: String,
        /// The market, where named.
        parsec_id: Option<String>,
    },
    /// A book found a gap (or corruption) and is resyncing.
    Gap {
        /// The book.
        key: BookKey,
    },
    /// A `resync` went out.
    ResyncSent {
        /// The book.
        key: BookKey,
        /// 1 for the first request of this resync, 2 for its first retry
        /// after the resync timeout, ... ([`crate::ResyncRequest::attempt`]).
        attempt: u32,
    },
    /// The server refused the book's subscription (2002, 2005 or 3002, whose
    /// [`Event::ServerError`] came first): it is no longer subscribed and its
    /// reader is gone from [`super::ParsecClient::books`].
    SubscriptionDropped {
        /// The book.
        key: BookKey,
        /// Why.
        code: ErrorCode,
    },
    /// A snapshot landed: the book is live at `seq`.
    Synced {
        /// The book.
        key: BookKey,
        /// Its sequence number.
        seq: u64,
    },
    /// A frame could not be parsed; it was counted and skipped.
    Malformed {
        /// Why.
        error: ParseError,
    },
    /// Recording to the capture file failed; recording stopped, the connection goes on.
    CaptureFailed {
        /// What failed.
        error: super::ClientError,
    },
    /// This stream fell behind and lost its `missed` oldest events.
    Lagged {
        /// How many.
        missed: u64,
    },
    /// The client stopped: `error` is the fatal error, `None` after `shutdown`.
    Stopped {
        /// Why, if not asked to.
        error: Option<super::ClientError>,
    },
}

/// An event type that can say a stream fell behind.
///
/// ```
/// use wirebook::client::{Event, Lagging, OddsEvent};
/// assert_eq!(Event::lagged(3), Event::Lagged { missed: 3 });
/// assert!(matches!(OddsEvent::lagged(3), OddsEvent::Lagged { missed: 3 }));
/// ```
pub trait Lagging: Clone + Send + 'static {
    /// The event telling a consumer it lost its `missed` oldest events.
    fn lagged(missed: u64) -> Self;
}

impl Lagging for Event {
    fn lagged(missed: u64) -> Event {
        Event::Lagged { missed }
    }
}

#[derive(Debug)]
struct Queue<E> {
    events: VecDeque<E>,
    missed: u64,
    closed: bool,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Queue {
            events: VecDeque::new(),
            missed: 0,
            closed: false,
        }
    }
}

#[derive(Debug)]
struct Subscriber<E> {
    queue: Mutex<Queue<E>>,
    ready: Condvar,
    notify: tokio::sync::Notify,
    capacity: usize,
}

/// The hub's streams, and whether it was closed (streams made afterwards
/// end at once instead of waiting for ever).
#[derive(Debug)]
struct Subscribers<E> {
    streams: Vec<Weak<Subscriber<E>>>,
    closed: bool,
}

/// Fans events out to every live [`Events`] stream.
#[derive(Debug)]
pub(crate) struct Hub<E = Event> {
    subscribers: Mutex<Subscribers<E>>,
    /// Live streams, read without the lock on the receive path.
    live: Arc<AtomicUsize>,
    capacity: usize,
}

impl<E: Lagging> Hub<E> {
    pub(crate) fn new(capacity: usize) -> Hub<E> {
        Hub {
            subscribers: Mutex::new(Subscribers {
                streams: Vec::new(),
                closed: false,
            }),
            live: Arc::new(AtomicUsize::new(0)),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn subscribe(&self) -> Events<E> {
        let mut subscribers = self.subscribers.lock();
        let sub = Arc::new(Subscriber {
            queue: Mutex::new(Queue {
                closed: subscribers.closed,
                ..Queue::default()
            }),
            ready: Condvar::new(),
            notify: tokio::sync::Notify::new(),
            capacity: self.capacity,
        });
        subscribers.streams.push(Arc::downgrade(&sub));
        drop(subscribers);
        self.live.fetch_add(1, Ordering::SeqCst);
        Events {
            sub,
            live: self.live.clone(),
        }
    }

    /// Whether any stream exists (events are not even built otherwise). One
    /// atomic load: a stream made a moment ago is seen at once.
    #[inline]
    pub(crate) fn has_subscribers(&self) -> bool {
        self.live.load(Ordering::SeqCst) > 0
    }

    pub(crate) fn publish(&self, event: E) {
        let mut subs = self.subscribers.lock();
        subs.streams.retain(|s| s.strong_count() > 0);
        for s in subs.streams.iter().filter_map(Weak::upgrade) {
            let mut q = s.queue.lock();
            if q.events.len() >= s.capacity {
                q.events.pop_front();
                q.missed += 1;
            }
            q.events.push_back(event.clone());
            drop(q);
            s.ready.notify_one();
            s.notify.notify_one();
        }
    }

    /// No more events will come: streams end after what they hold.
    pub(crate) fn close(&self) {
        let mut subscribers = self.subscribers.lock();
        subscribers.closed = true;
        for s in subscribers.streams.iter().filter_map(Weak::upgrade) {
            s.queue.lock().closed = true;
            s.ready.notify_all();
            s.notify.notify_one();
        }
    }
}

/// A stream of [`Event`]s (from [`ParsecClient::events`](super::ParsecClient::events)),
/// usable blocking or async. Each stream sees every event published after it was made.
///
/// ```
/// use wirebook::client::{ClientConfig, Event, ParsecClient};
/// use wirebook::sim::Simulator;
/// let sim = Simulator::start(Default::default())?;
/// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo_key"))?;
/// let (mut a, mut b) = (client.events(), client.events()); // each with its own queue
/// assert_eq!(client.shutdown(), None);
/// let stopped = Some(Event::Stopped { error: None });
/// assert_eq!(std::iter::from_fn(|| a.recv()).last(), stopped);
/// assert_eq!(std::iter::from_fn(|| b.recv()).last(), stopped);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Events<E = Event> {
    sub: Arc<Subscriber<E>>,
    live: Arc<AtomicUsize>,
}

impl<E> Drop for Events<E> {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<E: Lagging> Events<E> {
    fn pop(&self, q: &mut Queue<E>) -> Option<E> {
        if q.missed > 0 {
            let missed = std::mem::take(&mut q.missed);
            return Some(E::lagged(missed));
        }
        q.events.pop_front()
    }

    /// The next event if one is waiting.
    ///
    /// ```
    /// use wirebook::client::{ClientConfig, Event, ParsecClient};
    /// use wirebook::sim::Simulator;
    /// let sim = Simulator::start(Default::default())?;
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo_key"))?;
    /// let mut events = client.events();
    /// client.shutdown(); // the client thread has ended: its last events are queued
    /// let queued: Vec<Event> = std::iter::from_fn(|| events.try_recv()).collect();
    /// assert_eq!(queued.last(), Some(&Event::Stopped { error: None }));
    /// assert_eq!(events.try_recv(), None); // never waits
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv(&mut self) -> Option<E> {
        let mut q = self.sub.queue.lock();
        self.pop(&mut q)
    }

    /// Waits up to `timeout` for the next event; `None` on timeout or when
    /// the client has stopped and everything was read.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wirebook::client::{ClientConfig, Event, ParsecClient};
    /// use wirebook::sim::Simulator;
    /// let sim = Simulator::start(Default::default())?;
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo_key"))?;
    /// let mut events = client.events();
    /// assert_eq!(events.recv_timeout(Duration::from_millis(20)), None); // no books subscribed: nothing comes
    /// client.shutdown();
    /// assert_eq!(events.recv_timeout(Duration::from_secs(1)), Some(Event::Stopped { error: None }));
    /// assert_eq!(events.recv_timeout(Duration::from_secs(1)), None); // stopped and read: returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<E> {
        let deadline = Instant::now() + timeout;
        let mut q = self.sub.queue.lock();
        loop {
            if let Some(e) = self.pop(&mut q) {
                return Some(e);
            }
            if q.closed || self.sub.ready.wait_until(&mut q, deadline).timed_out() {
                return self.pop(&mut q);
            }
        }
    }

    /// Waits for the next event; `None` once the client has stopped and
    /// everything was read.
    ///
    /// ```
    /// use wirebook::client::{ClientConfig, Event, ParsecClient};
    /// use wirebook::sim::Simulator;
    /// let sim = Simulator::start(Default::default())?;
    /// let client = ParsecClient::connect(ClientConfig::new(sim.url(), "pk_demo_key"))?;
    /// let mut events = client.events();
    /// // A consumer thread blocks in `recv` until the client stops.
    /// let consumer = std::thread::spawn(move || std::iter::from_fn(|| events.recv()).last());
    /// client.shutdown();
    /// assert_eq!(consumer.join().unwrap(), Some(Event::Stopped { error: None }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv(&mut self) -> Option<E> {
        let mut q = self.sub.queue.lock();
        loop {
            if let Some(e) = self.pop(&mut q) {
                return Some(e);
            }
            if q.closed {
                return None;
            }
            self.sub.ready.wait(&mut q);
        }
    }

    /// The next event, for async code; `None` once the client has stopped.
    pub async fn next(&mut self) -> Option<E> {
        loop {
            let notified = self.sub.notify.notified();
            {
                let mut q = self.sub.queue.lock();
                if let Some(e) = self.pop(&mut q) {
                    return Some(e);
                }
                if q.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_that_falls_behind_is_told_how_much_it_missed() {
        let hub: Hub = Hub::new(3);
        let mut events = hub.subscribe();
        for i in 0..5 {
            hub.publish(Event::Connected { connection: i });
        }
        assert_eq!(events.try_recv(), Some(Event::Lagged { missed: 2 }));
        assert_eq!(events.try_recv(), Some(Event::Connected { connection: 2 }));
        assert_eq!(
            events.recv_timeout(Duration::from_millis(1)),
            Some(Event::Connected { connection: 3 })
        );
        assert_eq!(events.recv(), Some(Event::Connected { connection: 4 }));
        assert_eq!(events.recv_timeout(Duration::from_millis(1)), None);
        hub.close();
        assert_eq!(events.recv(), None);
    }

    #[test]
    fn a_stream_made_after_the_close_ends_at_once() {
        let hub: Hub = Hub::new(8);
        hub.publish(Event::Stopped { error: None });
        hub.close();
        let mut late = hub.subscribe();
        assert_eq!(late.recv(), None, "ends instead of waiting for ever");
        assert_eq!(late.recv_timeout(Duration::from_secs(60)), None);
    }

    #[test]
    fn every_stream_sees_every_event() {
        let hub: Hub = Hub::new(8);
        let (mut a, mut b) = (hub.subscribe(), hub.subscribe());
        hub.publish(Event::Authenticated { customer_id: None });
        assert_eq!(a.try_recv(), b.try_recv());
        drop(a);
        assert!(hub.has_subscribers());
        drop(b);
        assert!(!hub.has_subscribers());
    }
}
