//! Publishing a book to readers on other threads, and reading it back.
//!
//! After every applied frame the store publishes the book's top levels, state,
//! sequence and timestamps into the book's [`SeqLock`]: a flat array of words
//! (a header, then `depth` bid levels, then `depth` ask levels, two words a
//! level). Readers hold a [`BookReader`] and copy the top N levels out with
//! [`BookReader::read_into`]: cost proportional to N, never a lock, never a
//! torn or half-applied book. The writer rewrites only the levels that moved.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::book::{Book, Dirty, Ladder};
use crate::frame::{FeedState, Level, Side};
use crate::price::{Price, Size};
use crate::seqlock::{SeqLock, SeqLockWriter, WordReader, WordWriter};
use crate::sweep::{size_through, Sweep};

/// The deepest book a reader can get (PROTOCOL.md A2: at most 100 levels a side).
///
/// ```
/// use wirebook::{BookStore, StoreConfig, MAX_DEPTH};
/// assert_eq!(MAX_DEPTH, 100);
/// let mut store = BookStore::new(StoreConfig { depth: 500, ..StoreConfig::default() });
/// assert_eq!(store.track("kalshi:X", "yes").unwrap().depth(), MAX_DEPTH);
/// ```
pub const MAX_DEPTH: usize = 100;

const HEADER: usize = 7;
const W_STATE: usize = 0;
const W_SEQ: usize = 1;
const W_UPDATED: usize = 2;
const W_EXCHANGE_TS: usize = 3;
const W_INGEST_TS: usize = 4;
const W_STALE_AFTER: usize = 5;
const W_COUNTS: usize = 6;
const NONE: u64 = u64::MAX;

/// What a reader may conclude about a book.
///
/// ```
/// use wirebook::{BookState, BookStore};
/// let mut store = BookStore::default();
/// let reader = store.track("kalshi:X", "yes").unwrap();
/// assert_eq!(reader.snapshot(1).state, BookState::AwaitingSnapshot);
/// store.mark_disconnected();
/// let state = reader.snapshot(1).state;
/// assert!(matches!(state, BookState::Disconnected) && !state.is_usable());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum BookState {
    /// No snapshot has arrived yet: the book is empty and not to be traded on.
    #[default]
    AwaitingSnapshot,
    /// Continuous since its last snapshot and recently updated.
    Fresh,
    /// Correct as far as known, but no frame within `stale_after_ms` (or the server says stale).
    Stale,
    /// A gap or corruption was seen; a new snapshot has been requested. Do not trust the levels.
    Resyncing,
    /// The connection dropped; the levels are the last known ones until a new snapshot.
    Disconnected,
}

impl BookState {
    fn to_word(self) -> u64 {
        match self {
            BookState::AwaitingSnapshot => 0,
            BookState::Fresh => 1,
            BookState::Stale => 2,
            BookState::Resyncing => 3,
            BookState::Disconnected => 4,
        }
    }

    fn from_word(w: u64) -> BookState {
        match w & 0xff {
            1 => BookState::Fresh,
            2 => BookState::Stale,
            3 => BookState::Resyncing,
            4 => BookState::Disconnected,
            _ => BookState::AwaitingSnapshot,
        }
    }

    /// Whether the levels can be trusted as the current book.
    ///
    /// ```
    /// use wirebook::BookState;
    /// assert!(BookState::Fresh.is_usable());
    /// assert!(!BookState::Resyncing.is_usable());
    /// ```
    pub fn is_usable(self) -> bool {
        matches!(self, BookState::Fresh)
    }

    /// Lower-case name, as in JSON output.
    ///
    /// ```
    /// assert_eq!(wirebook::BookState::Stale.as_str(), "stale");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            BookState::AwaitingSnapshot => "awaiting_snapshot",
            BookState::Fresh => "fresh",
            BookState::Stale => "stale",
            BookState::Resyncing => "resyncing",
            BookState::Disconnected => "disconnected",
        }
    }
}

/// Book-level facts published with the levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) state: BookState,
    pub(crate) server_stale: bool,
    /// Set by [`crate::BookStore::poll`] when no frame came within `stale_after_ms`.
    pub(crate) local_stale: bool,
    pub(crate) feed_state: Option<FeedState>,
    pub(crate) seq: u64,
    pub(crate) updated_ns: u64,
    pub(crate) exchange_ts_ms: Option<u64>,
    pub(crate) ingest_ts_ms: Option<u64>,
    pub(crate) stale_after_ms: Option<u64>,
}

impl Meta {
    /// A book with no snapshot yet: no seq, no clocks.
    pub(crate) fn awaiting() -> Meta {
        Meta {
            state: BookState::AwaitingSnapshot,
            server_stale: false,
            local_stale: false,
            feed_state: None,
            seq: 0,
            updated_ns: 0,
            exchange_ts_ms: None,
            ingest_ts_ms: None,
            stale_after_ms: None,
        }
    }

    /// A frame at `seq` was applied at `now_ns`: the book is current again.
    #[inline]
    pub(crate) fn advance(&mut self, seq: u64, now_ns: u64) {
        self.seq = seq;
        self.updated_ns = now_ns;
        self.local_stale = false;
    }
}

fn feed_word(f: Option<FeedState>) -> u64 {
    match f {
        None => 0,
        Some(FeedState::Healthy) => 1,
        Some(FeedState::Degraded) => 2,
        Some(FeedState::Disconnected) => 3,
    }
}

fn feed_from_word(w: u64) -> Option<FeedState> {
    match w {
        1 => Some(FeedState::Healthy),
        2 => Some(FeedState::Degraded),
        3 => Some(FeedState::Disconnected),
        _ => None,
    }
}

/// Wakes readers waiting for a book to change.
///
/// A waiter puts its thread in `threads`, counts itself in `waiters`, then
/// checks the version and parks; the writer publishes, then (behind a
/// `SeqCst` fence) reads `waiters` and unparks every thread listed. Either
/// the waiter's check sees the new version or the writer sees the waiter
/// (the two `SeqCst` steps cannot both miss, as in Dekker's algorithm), and
/// an unpark that comes before the park makes the park return at once: no
/// wake-up is lost. The writer takes `threads`' lock only while someone
/// waits, and a waiter holds it only to add or remove itself (no wait and
/// no other work inside), so the writer never waits on a sleeping reader.
#[derive(Debug, Default)]
struct Notify {
    waiters: AtomicU32,
    threads: Mutex<Vec<std::thread::Thread>>,
    /// Set when the writer is gone (its store dropped, or its slot given to
    /// another book): the book will never change again.
    closed: AtomicBool,
}

impl Notify {
    /// After a publish: wakes the waiters, if any.
    #[inline(always)]
    fn wake(&self) {
        // Orders the publish's stores before the load of `waiters` (a
        // store-load order, which only a full fence gives): 1 to 3 ns a
        // frame in the `ratios` bench, within its noise.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Acquire) != 0 {
            self.wake_all();
        }
    }

    #[cold]
    fn wake_all(&self) {
        for t in self.threads.lock().iter() {
            t.unpark();
        }
    }
}

impl Drop for Publisher {
    /// The book will never change again: waiters wake and return, and later
    /// waits return at once.
    fn drop(&mut self) {
        self.notify.closed.store(true, Ordering::SeqCst);
        self.notify.wake();
    }
}

/// Wakes the waiters when a publish ends, however it ends: a write that
/// panics half way leaves the lock poisoned, and the waiters must wake to
/// see that rather than sleep for good.
struct WakeOnDrop<'a>(&'a Notify);

impl Drop for WakeOnDrop<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.wake();
    }
}

/// The store's writing end of one book's snapshot.
#[derive(Debug)]
pub(crate) struct Publisher {
    writer: SeqLockWriter,
    notify: Arc<Notify>,
    depth: usize,
    /// Storage index of the lowest published level of each side (bids, asks):
    /// the window is the top `depth` levels, published worst first, so a
    /// change near the top of the book rewrites only the levels above it.
    offsets: [usize; 2],
}

impl Publisher {
    pub(crate) fn new(depth: usize) -> Publisher {
        let depth = depth.clamp(1, MAX_DEPTH);
        let (_lock, writer) = SeqLock::new(HEADER + 4 * depth);
        Publisher {
            writer,
            notify: Arc::new(Notify::default()),
            depth,
            offsets: [0; 2],
        }
    }

    /// Whether a write's update panicked half way (later writes would panic too).
    pub(crate) fn is_poisoned(&self) -> bool {
        self.writer.lock().is_poisoned()
    }

    pub(crate) fn reader(&self, parsec_id: Arc<str>, outcome: Arc<str>) -> BookReader {
        BookReader {
            lock: self.writer.lock().clone(),
            notify: self.notify.clone(),
            depth: self.depth,
            parsec_id,
            outcome,
        }
    }

    /// Publishes `meta` and the levels of `book` that `dirty` says moved.
    #[inline]
    pub(crate) fn publish(&mut self, book: &Book, meta: &Meta, dirty: &Dirty) {
        let depth = self.depth;
        let bids = book.bids().len().min(depth);
        let asks = book.asks().len().min(depth);
        let [bid_off, ask_off] = &mut self.offsets;
        let _wake = WakeOnDrop(&self.notify);
        self.writer.write(|w| {
            w.set(
                W_STATE,
                meta.state.to_word()
                    | u64::from(meta.server_stale) << 8
                    | u64::from(meta.local_stale) << 9
                    | feed_word(meta.feed_state) << 16,
            );
            w.set(W_SEQ, meta.seq);
            w.set(W_UPDATED, meta.updated_ns);
            w.set(W_EXCHANGE_TS, meta.exchange_ts_ms.unwrap_or(NONE));
            w.set(W_INGEST_TS, meta.ingest_ts_ms.unwrap_or(NONE));
            w.set(W_STALE_AFTER, meta.stale_after_ms.unwrap_or(NONE));
            w.set(W_COUNTS, bids as u64 | (asks as u64) << 32);
            write_side(w, HEADER, book.bids(), dirty.bids.clone(), depth, bid_off);
            write_side(
                w,
                HEADER + 2 * depth,
                book.asks(),
                dirty.asks.clone(),
                depth,
                ask_off,
            );
        });
    }
}

/// Stores the changed levels of the published window of `ladder` (its top
/// `depth` levels, worst first: position `i - offset` holds `levels[i]`).
/// When the window's lower end moves (a book deeper than `depth` grew or
/// shrank), every position changes and the whole window is written.
#[inline(always)]
fn write_side(
    w: &WordWriter<'_>,
    base: usize,
    ladder: &Ladder,
    dirty: Option<std::ops::Range<usize>>,
    depth: usize,
    offset: &mut usize,
) {
    let levels = ladder.worst_first();
    let n = levels.len();
    let off = n.saturating_sub(depth);
    let (from, to) = if off != *offset {
        *offset = off;
        (off, n)
    } else {
        match dirty {
            Some(r) => (r.start.max(off), r.end.min(n)),
            None => return,
        }
    };
    let Some(range) = levels.get(from..to) else {
        return;
    };
    w.set_pairs(
        base + 2 * (from - off),
        range
            .iter()
            .map(|l| (u64::from(l.price.units()), l.size.units())),
    );
}

/// A consistent copy of a book's top levels, with its state.
///
/// Reuse one across reads: [`BookReader::read_into`] only clears and refills it.
///
/// ```
/// let snap = wirebook::BookSnapshot::with_depth(10);
/// assert!(snap.bids.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BookSnapshot {
    /// State at the time of the read (staleness evaluated then).
    pub state: BookState,
    /// Sequence number of the last applied frame.
    pub seq: u64,
    /// Version of the publication (changes on every publish; for [`BookReader::wait_for_change`]).
    pub version: u64,
    /// Local monotonic time of the last applied frame ([`crate::clock::now_ns`]).
    pub updated_ns: u64,
    /// Venue timestamp of the last applied frame, epoch ms.
    pub exchange_ts_ms: Option<u64>,
    /// Parsec ingest timestamp of the last applied frame, epoch ms.
    pub ingest_ts_ms: Option<u64>,
    /// Upstream health as last reported.
    pub feed_state: Option<FeedState>,
    /// Bids, best first.
    pub bids: Vec<Level>,
    /// Asks, best first.
    pub asks: Vec<Level>,
}

impl BookSnapshot {
    /// An empty snapshot with room for `depth` levels a side (no allocation on later reads).
    ///
    /// ```
    /// assert!(wirebook::BookSnapshot::with_depth(5).bids.capacity() >= 5);
    /// ```
    pub fn with_depth(depth: usize) -> BookSnapshot {
        BookSnapshot {
            bids: Vec::with_capacity(depth),
            asks: Vec::with_capacity(depth),
            ..BookSnapshot::default()
        }
    }

    /// Best bid.
    ///
    /// ```
    /// assert!(wirebook::BookSnapshot::default().best_bid().is_none());
    /// ```
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.first().copied()
    }

    /// Best ask.
    ///
    /// ```
    /// assert!(wirebook::BookSnapshot::default().best_ask().is_none());
    /// ```
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.first().copied()
    }

    /// Best ask minus best bid; `None` if a side is empty or the book is
    /// crossed or locked (never while the state is `Fresh`).
    ///
    /// ```
    /// # use wirebook::{BookSnapshot, Level, Price, Size};
    /// let at = |p: &str| Level { price: Price::parse(p.as_bytes()).unwrap(), size: Size::parse(b"1").unwrap() };
    /// let book = BookSnapshot { bids: vec![at("0.45")], asks: vec![at("0.47")], ..BookSnapshot::default() };
    /// assert_eq!(book.spread(), Some(Price::parse(b"0.02").unwrap()));
    /// ```
    pub fn spread(&self) -> Option<Price> {
        let (bid, ask) = (self.best_bid()?.price, self.best_ask()?.price);
        Price::from_units(u64::from(ask.units()).checked_sub(u64::from(bid.units()))?).ok()
    }

    /// Halfway between the best bid and the best ask, rounded down to a unit
    /// of 1e-8 (exact on every grid of PROTOCOL.md, the finest being 0.0001);
    /// `None` if a side is empty or the book is crossed or locked.
    ///
    /// ```
    /// # use wirebook::{BookSnapshot, Level, Price, Size};
    /// let at = |p: &str| Level { price: Price::parse(p.as_bytes()).unwrap(), size: Size::parse(b"1").unwrap() };
    /// let book = BookSnapshot { bids: vec![at("0.45")], asks: vec![at("0.48")], ..BookSnapshot::default() };
    /// assert_eq!(book.mid(), Some(Price::parse(b"0.465").unwrap()));
    /// ```
    pub fn mid(&self) -> Option<Price> {
        // (bid + ask) / 2, rounded down, is bid + spread / 2 rounded down.
        let half = self.spread()?.units() / 2;
        Price::from_units(u64::from(self.best_bid()?.price.units() + half)).ok()
    }

    /// What buying `size` at once would take from the asks read (best first):
    /// filled size, exact notional, levels, worst price. Only the levels
    /// read are walked: read deep enough for the size, and check `state`.
    ///
    /// ```
    /// # use wirebook::{BookSnapshot, Level, Price, Size};
    /// let at = |p: &str, s: &str| Level { price: Price::parse(p.as_bytes()).unwrap(), size: Size::parse(s.as_bytes()).unwrap() };
    /// let book = BookSnapshot { asks: vec![at("0.47", "10"), at("0.48", "20")], ..BookSnapshot::default() };
    /// let buy = book.buy(Size::parse(b"20").unwrap());
    /// assert_eq!((buy.levels_taken, buy.cost()), (2, 9.5));
    /// assert_eq!(buy.average_price(), Some(Price::parse(b"0.475").unwrap()));
    /// ```
    pub fn buy(&self, size: Size) -> Sweep {
        Sweep::walk(self.asks.iter().copied(), size)
    }

    /// What selling `size` at once would take from the bids read (best
    /// first); see [`buy`](Self::buy).
    ///
    /// ```
    /// # use wirebook::{BookSnapshot, Level, Price, Size};
    /// let at = |p: &str, s: &str| Level { price: Price::parse(p.as_bytes()).unwrap(), size: Size::parse(s.as_bytes()).unwrap() };
    /// let book = BookSnapshot { bids: vec![at("0.45", "3")], ..BookSnapshot::default() };
    /// let sell = book.sell(Size::parse(b"5").unwrap());
    /// assert!(!sell.is_complete());
    /// assert_eq!(sell.filled, Size::parse(b"3").unwrap());
    /// ```
    pub fn sell(&self, size: Size) -> Sweep {
        Sweep::walk(self.bids.iter().copied(), size)
    }

    /// The size on the book's `side` (of the levels read) at `price` or
    /// better: bids at or above it, asks at or below it. `Side::Ask` is what
    /// a buyer could take up to `price`, `Side::Bid` what a seller could.
    ///
    /// ```
    /// # use wirebook::{BookSnapshot, Level, Price, Side, Size};
    /// let at = |p: &str, s: &str| Level { price: Price::parse(p.as_bytes()).unwrap(), size: Size::parse(s.as_bytes()).unwrap() };
    /// let book = BookSnapshot { bids: vec![at("0.45", "3"), at("0.44", "4"), at("0.40", "9")], ..BookSnapshot::default() };
    /// let limit = Price::parse(b"0.44").unwrap();
    /// assert_eq!(book.size_at_or_better(Side::Bid, limit), Size::parse(b"7").unwrap());
    /// ```
    pub fn size_at_or_better(&self, side: Side, price: Price) -> Size {
        match side {
            Side::Bid => size_through(&self.bids, price, |p, limit| p >= limit),
            Side::Ask => size_through(&self.asks, price, |p, limit| p <= limit),
        }
    }
}

/// A handle to one book, readable from any thread; cheap to clone.
///
/// ```
/// use wirebook::{BookStore, BookState};
/// let mut store = BookStore::default();
/// let reader = store.track("kalshi:X", "yes").unwrap();
/// let snap = reader.snapshot(10);
/// assert_eq!(snap.state, BookState::AwaitingSnapshot);
/// ```
#[derive(Debug, Clone)]
pub struct BookReader {
    lock: Arc<SeqLock>,
    notify: Arc<Notify>,
    depth: usize,
    parsec_id: Arc<str>,
    outcome: Arc<str>,
}

impl BookReader {
    /// The book's `parsec_id`.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let reader = store.track("kalshi:X", "Yes").unwrap();
    /// assert_eq!(reader.parsec_id(), "kalshi:X");
    /// ```
    pub fn parsec_id(&self) -> &str {
        &self.parsec_id
    }

    /// The book's outcome, as first seen.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let reader = store.track("kalshi:X", "Yes").unwrap();
    /// assert_eq!(reader.outcome(), "Yes");
    /// ```
    pub fn outcome(&self) -> &str {
        &self.outcome
    }

    /// The deepest read this book publishes.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let reader = store.track("kalshi:X", "Yes").unwrap();
    /// assert_eq!(reader.depth(), 50);
    /// ```
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// A new snapshot of the top `depth` levels (allocates; see [`read_into`](Self::read_into)).
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let reader = store.track("kalshi:X", "Yes").unwrap();
    /// assert!(reader.snapshot(10).bids.is_empty());
    /// ```
    pub fn snapshot(&self, depth: usize) -> BookSnapshot {
        let mut s = BookSnapshot::with_depth(depth.min(self.depth));
        self.read_into(depth, &mut s);
        s
    }

    /// Copies the top `depth` levels and the state into `out`, consistently.
    ///
    /// Reads no clock: a book reads `Stale` when the server said so or when
    /// [`BookStore::poll`](crate::BookStore::poll) found it quiet for longer than
    /// its `stale_after_ms` (the network client polls every 50 ms). Use
    /// [`read_into_at`](Self::read_into_at) to also judge it against a time of your own.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let reader = store.track("kalshi:X", "Yes").unwrap();
    /// let mut snap = wirebook::BookSnapshot::with_depth(10);
    /// reader.read_into(10, &mut snap); // no allocation: reuse `snap` for every read
    /// assert_eq!(snap.state, wirebook::BookState::AwaitingSnapshot);
    /// ```
    #[inline]
    pub fn read_into(&self, depth: usize, out: &mut BookSnapshot) {
        let header = self.read_words(depth, out);
        out.state = state_of_header(&header, None);
    }

    /// [`read_into`](Self::read_into), also reading `Stale` if the last frame is
    /// older than `stale_after_ms` at `now_ns` ([`crate::clock::now_ns`]).
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let reader = store.track("kalshi:X", "Yes").unwrap();
    /// let mut snap = wirebook::BookSnapshot::with_depth(10);
    /// reader.read_into_at(10, &mut snap, wirebook::clock::now_ns());
    /// assert_eq!(snap.seq, 0);
    /// ```
    #[inline]
    pub fn read_into_at(&self, depth: usize, out: &mut BookSnapshot, now_ns: u64) {
        let header = self.read_words(depth, out);
        out.state = state_of_header(&header, Some(now_ns));
    }

    #[inline(always)]
    fn read_words(&self, depth: usize, out: &mut BookSnapshot) -> [u64; HEADER] {
        let depth = depth.min(self.depth);
        let ask_base = HEADER + 2 * self.depth;
        let mut header = [0u64; HEADER];
        let version = self.lock.read(|r| {
            header = r.array(0);
            let counts = header[W_COUNTS];
            read_side(r, HEADER, counts as u32 as usize, depth, &mut out.bids);
            read_side(r, ask_base, (counts >> 32) as usize, depth, &mut out.asks);
        });
        let opt = |w: u64| (w != NONE).then_some(w);
        out.seq = header[W_SEQ];
        out.version = version;
        out.updated_ns = header[W_UPDATED];
        out.exchange_ts_ms = opt(header[W_EXCHANGE_TS]);
        out.ingest_ts_ms = opt(header[W_INGEST_TS]);
        out.feed_state = feed_from_word(header[W_STATE] >> 16 & 0xff);
        header
    }

    /// Whether the book's writer is gone (its store dropped, or the book
    /// untracked and its slot given to another): it will never change again,
    /// and [`wait_for_change`](Self::wait_for_change) returns at once.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let reader = store.track("kalshi:X", "Yes").unwrap();
    /// assert!(!reader.is_closed());
    /// drop(store);
    /// assert!(reader.is_closed());
    /// assert!(!reader.wait_for_change(reader.version(), std::time::Duration::MAX));
    /// ```
    pub fn is_closed(&self) -> bool {
        self.notify.closed.load(Ordering::SeqCst)
    }

    /// The current publication version; pass it to [`wait_for_change`](Self::wait_for_change).
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let reader = store.track("kalshi:X", "Yes").unwrap();
    /// assert_eq!(reader.version() % 2, 0);
    /// ```
    pub fn version(&self) -> u64 {
        self.lock.version()
    }

    /// Blocks until the book is published again after `version`, or `timeout` passes.
    /// Returns whether it changed; at once `false` if the book's writer is
    /// gone (its store dropped, or the book untracked and its slot given to
    /// another), since nothing will change it again. No wake-up is lost: a publish that lands
    /// while the waiter is going to sleep wakes it at once. The writer pays a
    /// fence a publish, and wakes (a system call a sleeping waiter) only while
    /// someone waits. Like a read, it panics if the writer panicked half way
    /// through a publication (the book will never change again).
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let reader = store.track("kalshi:X", "Yes").unwrap();
    /// let changed = reader.wait_for_change(reader.version(), std::time::Duration::from_millis(1));
    /// assert!(!changed, "nothing was published");
    /// ```
    pub fn wait_for_change(&self, version: u64, timeout: Duration) -> bool {
        // A timeout past what `Instant` can hold (`Duration::MAX`) waits without end.
        let deadline = std::time::Instant::now().checked_add(timeout);
        let me = std::thread::current();
        let id = me.id();
        self.notify.threads.lock().push(me);
        // Listed before counted: a writer that sees the count finds the thread.
        self.notify.waiters.fetch_add(1, Ordering::SeqCst);
        let outcome = loop {
            // `SeqCst`: the other half of the writer's fence (see `Notify`).
            if self.lock.version() != version {
                break Ok(true);
            }
            if self.lock.is_poisoned() {
                break Err(());
            }
            if self.is_closed() {
                // Its writer is gone: nothing will change it again. Its last
                // publish (the store's `Disconnected`) may have landed since
                // the check above; seeing `closed` makes it visible.
                break Ok(self.lock.version() != version);
            }
            match deadline {
                None => std::thread::park(),
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        break Ok(false);
                    }
                    std::thread::park_timeout(d - now);
                }
            }
        };
        self.notify.waiters.fetch_sub(1, Ordering::SeqCst);
        {
            let mut threads = self.notify.threads.lock();
            if let Some(k) = threads.iter().position(|t| t.id() == id) {
                threads.swap_remove(k);
            }
        }
        match outcome {
            Ok(changed) => changed,
            Err(()) => panic!("seqlock poisoned: a write's update panicked half way"),
        }
    }
}

/// The reader's state from the published header, judging time-based staleness at `now_ns` if given.
#[inline(always)]
fn state_of_header(header: &[u64; HEADER], now_ns: Option<u64>) -> BookState {
    let word = header[W_STATE];
    let state = BookState::from_word(word);
    if state != BookState::Fresh {
        return state;
    }
    let flagged = word >> 8 & 0b11 != 0; // server said stale, or poll found it quiet
    let quiet = match (now_ns, header[W_STALE_AFTER]) {
        (Some(now), ms) if ms != NONE => {
            now.saturating_sub(header[W_UPDATED]) > ms.saturating_mul(1_000_000)
        }
        _ => false,
    };
    if flagged || quiet {
        BookState::Stale
    } else {
        BookState::Fresh
    }
}

#[inline(always)]
fn read_side(
    r: &WordReader<'_>,
    base: usize,
    published: usize,
    depth: usize,
    out: &mut Vec<Level>,
) {
    out.clear();
    // Published worst first: the best `depth` are the last of the `published`.
    // A torn copy may hold nonsense (even a zero price or a wild count); the
    // seqlock retry discards it, and `pairs` stays within the lock's words.
    let take = published.min(depth);
    let from = base + 2 * (published - take);
    out.extend(r.pairs(from, take).rev().map(|(price, size)| Level {
        price: Price::from_raw(price as u32),
        size: Size::from_units(size),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_wakes_when_the_writer_is_gone_and_later_waits_return_at_once() {
        let publisher = Publisher::new(4);
        let reader = publisher.reader("kalshi:X".into(), "yes".into());
        let version = reader.version();
        let waiter = {
            let reader = reader.clone();
            std::thread::spawn(move || reader.wait_for_change(version, Duration::MAX))
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(publisher);
        assert!(
            !waiter.join().unwrap(),
            "woken: nothing changed, nothing will"
        );
        assert!(!reader.wait_for_change(version, Duration::MAX));
        assert!(reader.notify.threads.lock().is_empty());
    }

    #[test]
    fn a_waiter_on_a_book_whose_writer_panicked_half_way_panics_rather_than_waits_for_ever() {
        let mut publisher = Publisher::new(4);
        let reader = publisher.reader("kalshi:X".into(), "yes".into());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            publisher.writer.write(|_| panic!("half way"))
        }));
        assert!(panicked.is_err() && publisher.is_poisoned());
        // The version read now is the odd one the write left: it never moves again.
        let version = reader.version();
        assert_eq!(version % 2, 1);
        let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            reader.wait_for_change(version, Duration::MAX)
        }));
        assert!(waited.is_err(), "panicked instead of waiting for ever");
        assert_eq!(reader.notify.waiters.load(Ordering::SeqCst), 0);
        assert!(reader.notify.threads.lock().is_empty());
    }
}
