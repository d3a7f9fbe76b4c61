//! The book store: every book of a connection, and the sequence rules of
//! PROTOCOL.md A4 that decide what each frame does to them.
//!
//! | rule | here |
//! |---|---|
//! | A4.1 a snapshot sets the book and its sequence | [`BookStore::apply`] on [`Frame::Book`] |
//! | A4.2 seq = last + 1 applies; seq <= last is a duplicate; a gap resyncs once and buffers | `apply_delta` |
//! | A4.3 a delta before any snapshot is dropped | `apply_delta` |
//! | A4.4 `resync_required` and `needs_refresh` act as gaps | `gap` callers |
//! | A4.5 activity shares the counter only when configured | [`StoreConfig::activity_shares_seq`] |
//! | A4.6 outcomes match case-insensitively | [`BookKey`] lookup |
//! | A4.7 an unanswered resync is sent again | [`BookStore::poll`] |
//! | A4.8 staleness is shown to readers, never resyncs | [`BookStore::poll`] publishes it; [`crate::BookReader::read_into_at`] also judges it |
//! | A4.9 a crossed book is corruption | `settle` |
//!
//! The store does no I/O: resync requests queue up and the network layer takes
//! them with [`BookStore::next_resync`] when its pacing allows.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use hashbrown::HashTable;

use crate::book::{Book, Dirty};
use crate::frame::{Change, DeltaBody, DeltaFrame, FeedState, Frame, MarketRef, WireBookState};
use crate::parse::{FrameParser, MarketToken, ParseError};
use crate::snapshot::{BookReader, BookState, Meta, Publisher, MAX_DEPTH};

/// Rule A4.9: whether `book` is crossed (best bid >= best ask), counted when it is.
#[inline]
fn crossed(book: &Book, counters: &mut Counters) -> bool {
    let crossed = book.is_crossed();
    if crossed {
        counters.crossed += 1;
    }
    crossed
}

/// PROTOCOL.md A5: exchange unavailable / upstream stream error.
const EXCHANGE_UNAVAILABLE: u32 = 2003;

/// Upper bound on [`StoreConfig::resync_buffer`].
///
/// ```
/// let store = wirebook::BookStore::new(wirebook::StoreConfig {
///     resync_buffer: usize::MAX,
///     ..Default::default()
/// });
/// assert_eq!(store.config().resync_buffer, wirebook::MAX_RESYNC_BUFFER);
/// ```
pub const MAX_RESYNC_BUFFER: usize = 4096;

/// Longest `parsec_id`, and longest outcome, of a book the store holds
/// (bytes): a real one is under 100, and a peer must not make each of up to
/// [`StoreConfig::max_books`] books keep megabytes of key.
///
/// ```
/// let mut store = wirebook::BookStore::default();
/// let long = "x".repeat(wirebook::MAX_BOOK_KEY_LEN + 1);
/// assert!(store.track(&format!("kalshi:{long}"), "yes").is_err());
/// assert!(store.track("kalshi:X", &long).is_err());
/// ```
pub const MAX_BOOK_KEY_LEN: usize = 512;

/// The first hold of a resync asked again after a snapshot that was no good
/// (doubling with each such answer, up to [`StoreConfig::resync_timeout`]).
const FIRST_RESYNC_HOLD: Duration = Duration::from_millis(100);

/// Store settings.
///
/// ```
/// use wirebook::StoreConfig;
/// let c = StoreConfig { depth: 10, ..StoreConfig::default() };
/// assert_eq!(c.resync_timeout.as_secs(), 5);
/// ```
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Levels per side published to readers (1..=100; the subscribed depth).
    pub depth: usize,
    /// A resync unanswered this long is sent again (rule A4.7).
    pub resync_timeout: Duration,
    /// Deltas kept per book while it resyncs (rule A4.2; at most
    /// [`MAX_RESYNC_BUFFER`], larger values are taken as that). Room for them
    /// is reserved at the book's first resync (not for every book up front),
    /// and kept for the next one (room a burst took beyond a bound is given back).
    pub resync_buffer: usize,
    /// Whether `activity` frames advance the book's sequence (rule A4.5; default no).
    pub activity_shares_seq: bool,
    /// Upper bound on books, so a peer cannot make the store grow without
    /// bound. At the bound a new book takes the place of an untracked one;
    /// with none untracked it is refused ([`StoreError::TooManyBooks`]).
    pub max_books: usize,
    /// Whether a snapshot of a book never tracked creates it (default yes).
    pub auto_track: bool,
    /// Stamp the engine clock when a frame's changes are applied, just before
    /// publishing ([`BookStore::applied_ns`]), for per-stage latency (default no).
    pub stage_timing: bool,
    /// The staleness bound (rule A4.8) of a book whose snapshots do not give
    /// `stale_after_ms` (A3 requires it): 5 s, the protocol examples' value.
    /// Without it such a book could read `Fresh` for ever on a silent feed.
    pub default_stale_after: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            depth: 50,
            resync_timeout: Duration::from_secs(5),
            resync_buffer: 64,
            activity_shares_seq: false,
            max_books: 10_000,
            auto_track: true,
            stage_timing: false,
            default_stale_after: Duration::from_secs(5),
        }
    }
}

/// Errors of the store's own API (frames never error here: they have outcomes).
///
/// ```
/// use wirebook::{BookStore, StoreConfig, StoreError};
/// let mut store = BookStore::new(StoreConfig { max_books: 1, ..StoreConfig::default() });
/// store.track("kalshi:X", "yes").unwrap();
/// let err = store.track("kalshi:Y", "yes").unwrap_err();
/// assert_eq!(err, StoreError::TooManyBooks { max: 1 });
/// assert_eq!(err.to_string(), "the store already holds 1 books");
/// assert_eq!(store.track("", "yes").unwrap_err(), StoreError::EmptyId);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// [`StoreConfig::max_books`] reached. Untrack books or raise the bound.
    #[error("the store already holds {max} books")]
    TooManyBooks {
        /// The bound.
        max: usize,
    },
    /// An empty `parsec_id`. Fix the caller.
    #[error("empty parsec_id")]
    EmptyId,
    /// A `parsec_id` or outcome longer than [`MAX_BOOK_KEY_LEN`] bytes.
    #[error("a book key longer than {max} bytes")]
    KeyTooLong {
        /// The bound.
        max: usize,
    },
}

/// Which book: `parsec_id` and outcome (outcome compared case-insensitively,
/// PROTOCOL.md A4.6: `==` and the hash too, so keys that name one book in
/// different cases, as frames and subscriptions may write it, are equal).
///
/// ```
/// use wirebook::BookKey;
/// let k = BookKey::new("kalshi:X", "Yes");
/// assert!(k.matches("kalshi:X", "YES"));
/// assert_eq!(k, BookKey::new("kalshi:X", "yes"));
/// assert_ne!(k, BookKey::new("kalshi:x", "yes")); // ids are exact
/// let books: std::collections::HashSet<BookKey> = [k.clone(), BookKey::new("kalshi:X", "YES")].into();
/// assert_eq!(books.len(), 1);
/// ```
#[derive(Debug, Clone, Eq)]
pub struct BookKey {
    /// `exchange:market_id`.
    pub parsec_id: Arc<str>,
    /// Outcome as first seen.
    pub outcome: Arc<str>,
}

impl PartialEq for BookKey {
    fn eq(&self, other: &BookKey) -> bool {
        self.matches(&other.parsec_id, &other.outcome)
    }
}

impl std::hash::Hash for BookKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parsec_id.hash(state);
        // Case-folded, as `eq` compares.
        for b in self.outcome.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

impl BookKey {
    /// A key.
    ///
    /// ```
    /// let k = wirebook::BookKey::new("kalshi:X", "yes");
    /// assert_eq!(&*k.parsec_id, "kalshi:X");
    /// ```
    pub fn new(parsec_id: &str, outcome: &str) -> BookKey {
        BookKey {
            parsec_id: parsec_id.into(),
            outcome: outcome.into(),
        }
    }

    /// Whether this key names the book (`parsec_id`, `outcome`).
    ///
    /// ```
    /// let k = wirebook::BookKey::new("kalshi:X", "Yes");
    /// assert!(k.matches("kalshi:X", "yes") && !k.matches("kalshi:Y", "yes"));
    /// ```
    #[inline]
    pub fn matches(&self, parsec_id: &str, outcome: &str) -> bool {
        use crate::parse::bytes_equal;
        // Word-wise compares: this runs for every frame (the last-hit check).
        bytes_equal(self.parsec_id.as_bytes(), parsec_id.as_bytes())
            && (bytes_equal(self.outcome.as_bytes(), outcome.as_bytes())
                || self.outcome.eq_ignore_ascii_case(outcome))
    }
}

/// A `resync` the network layer should send.
///
/// ```
/// use wirebook::{BookStore, FrameParser};
/// let (mut store, mut parser) = (BookStore::default(), FrameParser::new());
/// let mut snap = br#"{"type":"orderbook","parsec_id":"kalshi:X","outcome":"yes","bids":[],"asks":[],"server_seq":1}"#.to_vec();
/// let mut gap = br#"{"type":"resync_required","parsec_id":"kalshi:X","outcome":"yes"}"#.to_vec();
/// store.ingest(&mut parser, &mut snap, 0).unwrap();
/// store.ingest(&mut parser, &mut gap, 0).unwrap();
/// let req = store.next_resync(0).unwrap();
/// assert_eq!((&*req.key.parsec_id, req.attempt), ("kalshi:X", 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResyncRequest {
    /// The book.
    pub key: BookKey,
    /// 1 for the first request of this resync, 2 for its first retry, ...
    pub attempt: u32,
}

/// What happened, counted per outcome.
///
/// ```
/// use wirebook::{BookStore, FrameParser};
/// let (mut store, mut parser) = (BookStore::default(), FrameParser::new());
/// store.track("kalshi:X", "yes").unwrap();
/// let mut delta = br#"{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes","changes":[],"server_seq":1}"#.to_vec();
/// store.ingest(&mut parser, &mut delta, 0).unwrap();
/// let c = store.counters();
/// assert_eq!((c.dropped_before_snapshot, c.deltas), (1, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Snapshots applied.
    pub snapshots: u64,
    /// Deltas applied in sequence, live (each an [`Applied::Delta`]) or
    /// replayed; a delta that left the book crossed or could not be applied
    /// is counted as a gap instead.
    pub deltas: u64,
    /// Deltas (or sequenced activity) dropped as duplicate or late (seq <= last).
    pub duplicates: u64,
    /// Gaps seen: seq holes, `resync_required`, `needs_refresh`, crossed books, `slow_reader`.
    pub gaps: u64,
    /// Resyncs started: a gap's first request (a snapshot that is no good
    /// starts another, whose requests count on from the one it answered).
    pub resyncs: u64,
    /// `resync` requests sent again after the timeout.
    pub resync_retries: u64,
    /// Deltas buffered while resyncing.
    pub buffered: u64,
    /// Deltas dropped because the resync buffer was full.
    pub buffer_overflows: u64,
    /// Buffered deltas replayed after a snapshot (one that corrupted the
    /// book on the way is counted as a gap instead).
    pub replayed: u64,
    /// Buffered deltas dropped at a snapshot: they did not continue it, or
    /// it was no good. (A buffer emptied because the book was unsubscribed,
    /// subscribed again or disconnected is not counted.)
    pub discarded: u64,
    /// Snapshots after which the replay stopped below a frame that came
    /// while resyncing (a hole, or a full buffer): the book was resynced
    /// again rather than published behind it.
    pub behind_after_replay: u64,
    /// Snapshots answering such a second resync that were behind again:
    /// taken as A4.2 says (the frames that do not continue them dropped),
    /// not resynced a third time. A later hole is a gap as usual.
    pub behind_accepted: u64,
    /// Deltas dropped because their book had no snapshot yet.
    pub dropped_before_snapshot: u64,
    /// Frames after which the book was crossed.
    pub crossed: u64,
    /// Frames that did not parse.
    pub parse_errors: u64,
    /// Frames of an unknown `type` (ignored).
    pub ignored: u64,
    /// Market frames for books not tracked.
    pub untracked: u64,
    /// `resync_required` frames received.
    pub resync_required: u64,
    /// `slow_reader` frames received.
    pub slow_reader: u64,
    /// Frames with `book_state: needs_refresh`.
    pub needs_refresh: u64,
    /// `error` frames with code 2003 (exchange unavailable).
    pub exchange_unavailable: u64,
}

/// What one frame did.
///
/// ```
/// use wirebook::{Applied, BookStore, FrameParser};
/// let (mut store, mut parser) = (BookStore::default(), FrameParser::new());
/// let mut snap = br#"{"type":"orderbook","parsec_id":"a:b","bids":[],"asks":[],"server_seq":5}"#.to_vec();
/// let mut old = br#"{"type":"orderbook_delta","parsec_id":"a:b","changes":[],"server_seq":5}"#.to_vec();
/// assert_eq!(store.ingest(&mut parser, &mut snap, 0).unwrap().1, Applied::Snapshot);
/// assert_eq!(store.ingest(&mut parser, &mut old, 0).unwrap().1, Applied::Duplicate);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// A snapshot replaced the book (a snapshot that is no good, crossed,
    /// `needs_refresh` or behind what came while resyncing, is a [`Gap`](Applied::Gap)).
    Snapshot,
    /// A delta was applied.
    Delta,
    /// A duplicate or late frame was dropped.
    Duplicate,
    /// A gap (or corruption) was found: the book is resyncing.
    Gap,
    /// The frame was buffered because the book is resyncing.
    Buffered,
    /// The frame came while the book was resyncing and the resync buffer
    /// was full: it was dropped (counted in [`Counters::buffer_overflows`]),
    /// and the snapshot will be resynced past it.
    Overflowed,
    /// A delta arrived before its book's first snapshot and was dropped.
    DroppedBeforeSnapshot,
    /// An activity frame advanced the book's sequence.
    Sequenced,
    /// The frame names a book the store does not track.
    Untracked,
    /// The frame does not concern book state (heartbeat, activity, errors, Parlay frames).
    NotBookState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingSnapshot,
    Live,
    Resyncing,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    seq: u64,
    start: u32,
    len: u32,
    word: Word,
}

/// What a delta says of its book and feed besides its changes: applied with
/// it, live or replayed after a resync.
#[derive(Debug, Clone, Copy, Default)]
struct Word {
    book_state: Option<WireBookState>,
    feed_state: Option<FeedState>,
    stale_after_ms: Option<u64>,
    exchange_ts_ms: Option<u64>,
    ingest_ts_ms: Option<u64>,
    /// Buffered before a 2003 that came later: replayed, its word on the
    /// book and feed cannot end that 2003's staleness.
    before_outage: bool,
}

impl Word {
    #[inline(always)]
    fn of(d: &DeltaBody<'_>) -> Word {
        Word {
            book_state: d.book_state,
            feed_state: d.feed_state,
            stale_after_ms: d.stale_after_ms,
            exchange_ts_ms: d.exchange_ts_ms,
            ingest_ts_ms: d.ingest_ts_ms,
            before_outage: false,
        }
    }

    fn needs_refresh(&self) -> bool {
        self.book_state == Some(WireBookState::NeedsRefresh)
    }
}

/// Changes a book keeps room for between resyncs. A resync may buffer up to
/// `resync_buffer` frames of up to 256 changes each (256 KiB a book at the
/// default 64 frames); one that buffered more than this gives the excess back
/// when it ends, so a burst does not stay allocated for the store's life.
const RETAINED_CHANGES: usize = 256;

#[derive(Debug)]
struct Slot {
    key: BookKey,
    hash: u64,
    active: bool,
    book: Book,
    phase: Phase,
    disconnected: bool,
    /// The server's last `book_state` said `stale`.
    said_stale: bool,
    /// A 2003 named the book's exchange (or none) since the server last
    /// gave word of the book or its feed. `meta.server_stale` is either.
    venue_down: bool,
    /// Sequence number of the last frame that left the book corrupt (crossed,
    /// `needs_refresh`, too deep): a buffered copy of it is never replayed.
    corrupt_seq: u64,
    /// A resync is queued or in flight (one per book, rule A2).
    resync_outstanding: bool,
    queued: bool,
    attempt: u32,
    /// When the in-flight resync was handed to the network layer.
    sent_ns: Option<u64>,
    /// A resync wanted but held back until this engine time (a snapshot
    /// answering the last request was no good): `poll` queues it then.
    hold_until_ns: Option<u64>,
    /// The outstanding resync was started because a replay stopped behind
    /// a frame of the resync (`behind_after_replay`): its snapshot is taken
    /// even if it is behind again (A4.2 drops the rest), so a server whose
    /// snapshots lag the frames it sends before them is not asked for ever.
    behind_retry: bool,
    /// The seq of the last snapshot applied.
    snapshot_seq: u64,
    /// The highest seq of a frame that came while the book was resyncing,
    /// buffered or not (0: none): a replay that stops below it leaves the
    /// book known to be behind.
    seen_seq: u64,
    pending: Vec<Pending>,
    pending_changes: Vec<Change>,
    meta: Meta,
    publisher: Publisher,
    reader: BookReader,
}

impl Slot {
    /// Whether its queued resync request is still wanted: not answered by a
    /// snapshot meanwhile, not held back (a queue entry from before a hold
    /// must not skip it: `poll` queues the book again when the hold ends),
    /// and the book still tracked.
    fn wants_resync(&self) -> bool {
        self.resync_outstanding && self.active && self.hold_until_ns.is_none()
    }

    /// A continuing delta's word on the book and its feed, applied.
    #[inline(always)]
    fn take_word(&mut self, w: &Word) {
        match (w.book_state, w.feed_state) {
            (Some(st), _) => {
                self.said_stale = st == WireBookState::Stale;
                self.venue_down &= w.before_outage;
            }
            // `book_state` is optional on a delta: one that says the
            // server's link to the venue is healthy ends a 2003's
            // staleness too, or a server that never sends the field
            // would leave the books stale until a snapshot. The
            // server's own `stale` stands until it says otherwise.
            (None, Some(FeedState::Healthy)) => self.venue_down &= w.before_outage,
            (None, _) => {}
        }
        self.meta.server_stale = self.said_stale || self.venue_down;
        if w.feed_state.is_some() {
            self.meta.feed_state = w.feed_state;
        }
        if w.exchange_ts_ms.is_some() {
            self.meta.exchange_ts_ms = w.exchange_ts_ms;
        }
        if w.ingest_ts_ms.is_some() {
            self.meta.ingest_ts_ms = w.ingest_ts_ms;
        }
        if w.stale_after_ms.is_some() {
            self.meta.stale_after_ms = w.stale_after_ms;
        }
    }

    /// Forgets the book's resync: none outstanding, sent or held.
    fn forget_resync(&mut self) {
        self.resync_outstanding = false;
        self.sent_ns = None;
        self.hold_until_ns = None;
        self.behind_retry = false;
    }

    /// Empties the resync buffer, giving back room beyond [`RETAINED_CHANGES`].
    fn clear_pending(&mut self) {
        self.seen_seq = 0;
        self.pending.clear();
        self.pending_changes.clear();
        if self.pending_changes.capacity() > RETAINED_CHANGES {
            self.pending_changes.shrink_to(RETAINED_CHANGES);
        }
    }
}

/// All books of one connection, with the sequence rules.
///
/// ```
/// use wirebook::{Applied, BookState, BookStore, FrameParser};
/// let mut store = BookStore::default();
/// let mut parser = FrameParser::new();
/// let mut snap = br#"{"type":"orderbook","parsec_id":"kalshi:X","outcome":"yes","bids":[[0.45,10]],
///     "asks":[[0.47,5]],"server_seq":1,"stale_after_ms":5000}"#.to_vec();
/// let mut delta = br#"{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"Yes",
///     "changes":[{"side":"bid","price":0.46,"size":3}],"server_seq":2}"#.to_vec();
/// let now = wirebook::clock::now_ns();
/// assert_eq!(store.ingest(&mut parser, &mut snap, now).unwrap().1, Applied::Snapshot);
/// assert_eq!(store.ingest(&mut parser, &mut delta, now).unwrap().1, Applied::Delta);
/// let book = store.reader("kalshi:X", "yes").unwrap().snapshot(10);
/// assert_eq!((book.state, book.seq, book.bids.len()), (BookState::Fresh, 2, 2));
/// ```
#[derive(Debug)]
pub struct BookStore {
    config: StoreConfig,
    slots: Vec<Slot>,
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    /// Books found lately, by a cheap fingerprint of their key (verified
    /// before use): markets interleaved frame by frame skip the full hash.
    recent: [u32; RECENT],
    /// Books found by the market token of the parser's runs that read the
    /// frame: `(token, slot)`, indexed by the token's low bits. Cleared when
    /// a slot is taken over by another market (tokens are never reused, so
    /// an entry can only go stale that way).
    by_token: [(MarketToken, u32); BY_TOKEN],
    queue: VecDeque<u32>,
    counters: Counters,
    applied_ns: u64,
}

/// The store's books end with it: their readers read `Disconnected` (nothing
/// will update them again) and waiters in
/// [`BookReader::wait_for_change`](crate::BookReader::wait_for_change) wake.
///
/// ```
/// let mut store = wirebook::BookStore::default();
/// let reader = store.track("kalshi:X", "yes").unwrap();
/// let version = reader.version();
/// let waiter = std::thread::spawn(move || {
///     let changed = reader.wait_for_change(version, std::time::Duration::MAX);
///     (changed, reader.snapshot(1).state)
/// });
/// drop(store);
/// assert_eq!(waiter.join().unwrap(), (true, wirebook::BookState::Disconnected));
/// ```
impl Drop for BookStore {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return; // a poisoned writer would panic again: not while unwinding
        }
        for i in 0..self.slots.len() {
            if self.slots[i].publisher.is_poisoned() {
                continue;
            }
            self.slots[i].disconnected = true;
            self.publish(i, Dirty::default());
        }
    }
}

impl Default for BookStore {
    fn default() -> Self {
        BookStore::new(StoreConfig::default())
    }
}

/// The engine's book state for a phase (before staleness, which readers judge).
fn state_of(phase: Phase, disconnected: bool) -> BookState {
    match phase {
        Phase::Live => BookState::Fresh,
        Phase::Resyncing => BookState::Resyncing,
        Phase::AwaitingSnapshot if disconnected => BookState::Disconnected,
        Phase::AwaitingSnapshot => BookState::AwaitingSnapshot,
    }
}

/// Entries of `BookStore::recent` (a power of two).
const RECENT: usize = 64;

/// Entries of `BookStore::by_token` (a power of two).
const BY_TOKEN: usize = 64;

/// An index into `BookStore::recent` from the first and last eight bytes of
/// the id, its length, and the outcome's first letter (any case) and length.
#[inline(always)]
fn fingerprint(id: &[u8], outcome: &[u8]) -> usize {
    let word = |b: &[u8]| match b.get(..8) {
        Some(w) => <[u8; 8]>::try_from(w).map_or(0, u64::from_le_bytes),
        None => b.iter().rev().fold(0, |w, &x| w << 8 | u64::from(x)),
    };
    let head = word(id);
    let tail = word(&id[id.len().saturating_sub(8)..]);
    let o = u64::from(outcome.first().map_or(0, |b| b | 0x20)) | (outcome.len() as u64) << 8;
    let h = head ^ tail.rotate_left(23) ^ (id.len() as u64) << 48 ^ o << 32;
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - RECENT.trailing_zeros())) as usize
}

impl BookStore {
    /// An empty store.
    ///
    /// ```
    /// let store = wirebook::BookStore::new(wirebook::StoreConfig::default());
    /// assert_eq!(store.len(), 0);
    /// ```
    pub fn new(mut config: StoreConfig) -> BookStore {
        config.resync_buffer = config.resync_buffer.min(MAX_RESYNC_BUFFER);
        BookStore {
            config,
            slots: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x5eed_b00c),
            recent: [u32::MAX; RECENT],
            by_token: [(0, 0); BY_TOKEN],
            queue: VecDeque::new(),
            counters: Counters::default(),
            applied_ns: 0,
        }
    }

    /// The configuration.
    ///
    /// ```
    /// assert_eq!(wirebook::BookStore::default().config().depth, 50);
    /// ```
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Number of books (tracked, or untracked and not yet replaced by
    /// another: at [`StoreConfig::max_books`], a new book takes over an
    /// untracked one's place).
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// store.track("a:b", "yes").unwrap();
    /// assert_eq!(store.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the store has no books.
    ///
    /// ```
    /// assert!(wirebook::BookStore::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Counters of every outcome so far.
    ///
    /// ```
    /// assert_eq!(wirebook::BookStore::default().counters().gaps, 0);
    /// ```
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Counts a frame that did not parse (for callers that parse themselves).
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let err = wirebook::FrameParser::new().parse(&mut b"oops".to_vec()).unwrap_err();
    /// store.record_parse_error(&err);
    /// assert_eq!(store.counters().parse_errors, 1);
    /// ```
    pub fn record_parse_error(&mut self, error: &ParseError) {
        if error.is_ignorable() {
            self.counters.ignored += 1;
        } else {
            self.counters.parse_errors += 1;
        }
    }

    fn hash(&self, parsec_id: &str, outcome: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(parsec_id.as_bytes());
        h.write_u8(0xff);
        let mut chunk = [0u8; 32];
        for part in outcome.as_bytes().chunks(32) {
            let lowered = &mut chunk[..part.len()];
            lowered.copy_from_slice(part);
            lowered.make_ascii_lowercase();
            h.write(lowered);
        }
        h.finish()
    }

    /// [`find`](Self::find) for a frame whose runs gave `token` (0: none):
    /// a token seen before names its book without a look at the strings.
    #[inline(always)]
    fn find_marked(&mut self, m: &MarketRef<'_>, token: MarketToken) -> Option<usize> {
        if let Some(i) = self.known_token(token) {
            debug_assert!(self.slots[i].key.matches(m.parsec_id, m.outcome));
            return Some(i);
        }
        let i = self.find(m.parsec_id, m.outcome)?;
        if token != 0 {
            self.by_token[token as usize & (BY_TOKEN - 1)] = (token, i as u32);
        }
        Some(i)
    }

    #[inline]
    fn find(&mut self, parsec_id: &str, outcome: &str) -> Option<usize> {
        let r = fingerprint(parsec_id.as_bytes(), outcome.as_bytes());
        let i = self.recent[r] as usize;
        if self
            .slots
            .get(i)
            .is_some_and(|s| s.key.matches(parsec_id, outcome))
        {
            return Some(i);
        }
        let hash = self.hash(parsec_id, outcome);
        let slots = &self.slots;
        let i = *self
            .index
            .find(hash, |&i| slots[i as usize].key.matches(parsec_id, outcome))?;
        self.recent[r] = i;
        Some(i as usize)
    }

    /// Starts tracking a book (e.g. on subscribe) and returns its reader.
    /// Tracking a book again returns the same book's reader.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let a = store.track("polymarket:0x1", "Yes").unwrap();
    /// let b = store.track("polymarket:0x1", "yes").unwrap();
    /// assert_eq!(a.outcome(), b.outcome());
    /// assert_eq!(store.len(), 1);
    /// ```
    pub fn track(&mut self, parsec_id: &str, outcome: &str) -> Result<BookReader, StoreError> {
        let i = self.slot(parsec_id, outcome)?;
        let s = &mut self.slots[i];
        if !s.active {
            // Tracked again after `untrack`: a new subscription, so a new
            // book to its readers (awaiting its snapshot, no levels), not
            // the old one reading `Disconnected`.
            s.active = true;
            s.book.clear();
            s.phase = Phase::AwaitingSnapshot;
            s.disconnected = false;
            s.said_stale = false;
            s.venue_down = false;
            s.corrupt_seq = 0;
            s.snapshot_seq = 0;
            s.meta = Meta::awaiting();
            self.publish(i, Dirty::ALL);
        }
        Ok(self.slots[i].reader.clone())
    }

    /// Stops tracking a book: later frames for it are ignored (counted as
    /// untracked). Its readers keep the last levels but read `Disconnected`:
    /// nothing will update them any more.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let r = store.track("kalshi:X", "yes").unwrap();
    /// assert!(store.untrack("kalshi:X", "YES"));
    /// assert_eq!(r.snapshot(1).state, wirebook::BookState::Disconnected);
    /// ```
    pub fn untrack(&mut self, parsec_id: &str, outcome: &str) -> bool {
        match self.find(parsec_id, outcome) {
            Some(i) => {
                let s = &mut self.slots[i];
                s.active = false;
                s.phase = Phase::AwaitingSnapshot;
                s.disconnected = true;
                s.forget_resync();
                s.clear_pending();
                self.publish(i, Dirty::default());
                true
            }
            None => false,
        }
    }

    /// The reader of a book, if the store has it.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// assert!(store.reader("kalshi:X", "yes").is_none());
    /// ```
    pub fn reader(&mut self, parsec_id: &str, outcome: &str) -> Option<BookReader> {
        self.find(parsec_id, outcome)
            .map(|i| self.slots[i].reader.clone())
    }

    /// The book itself (writer side), for inspection on the store's thread.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// store.track("kalshi:X", "yes").unwrap();
    /// assert!(store.book("kalshi:X", "yes").unwrap().bids().is_empty());
    /// ```
    pub fn book(&mut self, parsec_id: &str, outcome: &str) -> Option<&Book> {
        self.find(parsec_id, outcome).map(|i| &self.slots[i].book)
    }

    /// Every book's key and reader.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// store.track("a:b", "yes").unwrap();
    /// assert_eq!(store.readers().count(), 1);
    /// ```
    pub fn readers(&self) -> impl Iterator<Item = &BookReader> + '_ {
        self.slots.iter().filter(|s| s.active).map(|s| &s.reader)
    }

    fn slot(&mut self, parsec_id: &str, outcome: &str) -> Result<usize, StoreError> {
        if let Some(i) = self.find(parsec_id, outcome) {
            return Ok(i);
        }
        if parsec_id.is_empty() {
            return Err(StoreError::EmptyId);
        }
        if parsec_id.len() > MAX_BOOK_KEY_LEN || outcome.len() > MAX_BOOK_KEY_LEN {
            return Err(StoreError::KeyTooLong {
                max: MAX_BOOK_KEY_LEN,
            });
        }
        // Full: an untracked book's slot is taken over (its readers keep
        // their own copy, reading `Disconnected`), so a long-running client
        // that moves from market to market never runs out.
        let reuse = if self.slots.len() >= self.config.max_books {
            let Some(j) = self.slots.iter().position(|s| !s.active) else {
                return Err(StoreError::TooManyBooks {
                    max: self.config.max_books,
                });
            };
            if let Ok(entry) = self
                .index
                .find_entry(self.slots[j].hash, |&x| x as usize == j)
            {
                entry.remove();
            }
            self.queue.retain(|&q| q as usize != j);
            // Tokens that named the old market must not reach the new one.
            self.by_token = [(0, 0); BY_TOKEN];
            Some(j)
        } else {
            None
        };
        let depth = self.config.depth.clamp(1, MAX_DEPTH);
        let key = BookKey::new(parsec_id, outcome);
        let publisher = Publisher::new(depth);
        let reader = publisher.reader(key.parsec_id.clone(), key.outcome.clone());
        let hash = self.hash(parsec_id, outcome);
        let i = reuse.unwrap_or(self.slots.len()) as u32;
        let slot = Slot {
            key,
            hash,
            active: true,
            book: Book::new(depth.max(64)),
            phase: Phase::AwaitingSnapshot,
            disconnected: false,
            said_stale: false,
            venue_down: false,
            corrupt_seq: 0,
            resync_outstanding: false,
            queued: false,
            attempt: 0,
            sent_ns: None,
            hold_until_ns: None,
            behind_retry: false,
            snapshot_seq: 0,
            seen_seq: 0,
            // Room is made at the book's first resync (and kept): a book that
            // never resyncs holds none.
            pending: Vec::new(),
            pending_changes: Vec::new(),
            meta: Meta::awaiting(),
            publisher,
            reader,
        };
        match reuse {
            Some(j) => self.slots[j] = slot,
            None => self.slots.push(slot),
        }
        let slots = &self.slots;
        self.index
            .insert_unique(hash, i, |&j| slots[j as usize].hash);
        // Readers see a new book's own words (no seq, no clocks), not zeros.
        self.publish(i as usize, Dirty::ALL);
        Ok(i as usize)
    }

    /// Parses one message and applies it: the hot path (frame in, book
    /// updated, snapshot published). Parse errors are counted and returned;
    /// nothing else is lost.
    ///
    /// ```
    /// use wirebook::{Applied, BookStore, FrameParser};
    /// let mut store = BookStore::default();
    /// let mut parser = FrameParser::new();
    /// let mut msg = br#"{"type":"orderbook_delta","parsec_id":"a:b","changes":[],"server_seq":1}"#.to_vec();
    /// let (_frame, applied) = store.ingest(&mut parser, &mut msg, 0).unwrap();
    /// assert_eq!(applied, Applied::Untracked);
    /// ```
    pub fn ingest<'a>(
        &mut self,
        parser: &'a mut FrameParser,
        buf: &'a mut [u8],
        now_ns: u64,
    ) -> Result<(Frame<'a>, Applied), ParseError> {
        // Applied through a reference: moving the frame (224 bytes) out of
        // the result first cost a memcpy a frame.
        let (parsed, token) = parser.parse_marked(buf);
        match &parsed {
            Ok(frame) => {
                let applied = self.apply_marked(frame, token, now_ns);
                parsed.map(|frame| (frame, applied))
            }
            Err(e) => {
                self.record_parse_error(e);
                Err(e.clone())
            }
        }
    }

    /// [`ingest`](Self::ingest) without building the frame of a delta: a
    /// delta of a market the parser has learned (its runs fixed the
    /// market's strings, see [`FrameParser`]) goes from the parser's fields
    /// straight to its book, and comes back as `None`; any other message
    /// comes back as its frame, as from `ingest`. The fastest way to keep
    /// books from a socket loop (the `hot_path_delta` bench's): a bot that
    /// wants only book state ignores the frames, one that also wants
    /// trades or errors matches on them. Parse errors are counted and
    /// returned; nothing else is lost.
    ///
    /// ```
    /// use wirebook::{Applied, BookStore, Frame, FrameParser};
    /// let mut store = BookStore::default();
    /// let mut parser = FrameParser::new();
    /// store.track("kalshi:X", "yes")?;
    /// let mut snapshot = br#"{"type":"orderbook","parsec_id":"kalshi:X","outcome":"yes","bids":[[0.45,10]],"asks":[[0.47,5]],"server_seq":1}"#.to_vec();
    /// let (applied, frame) = store.apply_message(&mut parser, &mut snapshot, 0)?;
    /// assert_eq!(applied, Applied::Snapshot);
    /// assert!(matches!(frame, Some(Frame::Book(_))));
    /// let mut direct = 0;
    /// for seq in 2..10 {
    ///     let mut delta = format!(r#"{{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes","changes":[{{"side":"bid","price":0.46,"size":{seq}}}],"server_seq":{seq}}}"#).into_bytes();
    ///     let (applied, frame) = store.apply_message(&mut parser, &mut delta, 0)?;
    ///     assert_eq!(applied, Applied::Delta);
    ///     direct += usize::from(frame.is_none()); // the first ones as frames, then straight to the book
    /// }
    /// assert!(direct > 0);
    /// let book = store.reader("kalshi:X", "yes").unwrap().snapshot(1);
    /// assert_eq!(book.seq, 9);
    /// assert_eq!(book.bids[0].size.to_f64(), 9.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn apply_message<'a>(
        &mut self,
        parser: &'a mut FrameParser,
        buf: &'a mut [u8],
        now_ns: u64,
    ) -> Result<(Applied, Option<Frame<'a>>), ParseError> {
        let read = match parser.scan_marked(buf) {
            Ok(true) => {
                if let Some((token, body)) = parser.marked_delta() {
                    #[cfg(debug_assertions)]
                    if let Ok(Frame::Delta(d)) = parser.scanned(buf).0 {
                        self.debug_check_token(token, &d.market);
                    }
                    if let Some(applied) = self.apply_known_delta(token, &body, now_ns) {
                        return Ok((applied, None));
                    }
                }
                let (frame, token) = parser.scanned(buf);
                frame.map(|f| (self.apply_marked(&f, token, now_ns), Some(f)))
            }
            Ok(false) => parser
                .general_marked(buf)
                .map(|f| (self.apply_marked(&f, 0, now_ns), Some(f))),
            Err(e) => Err(e),
        };
        if let Err(e) = &read {
            self.record_parse_error(e);
        }
        read
    }

    /// Debug builds: panics if the book `token` names (when the store knows
    /// it) is not `m`'s, as `find_marked` checks on the frame route.
    #[cfg(debug_assertions)]
    pub(crate) fn debug_check_token(&self, token: MarketToken, m: &MarketRef<'_>) {
        if let Some(i) = self.known_token(token) {
            assert!(
                self.slots[i].key.matches(m.parsec_id, m.outcome),
                "market token {token} names another book"
            );
        }
    }

    /// The slot of the book a market token names, if the store knows it.
    #[inline(always)]
    fn known_token(&self, token: MarketToken) -> Option<usize> {
        let (known, i) = self.by_token[token as usize & (BY_TOKEN - 1)];
        (token != 0 && known == token).then_some(i as usize)
    }

    /// A delta whose market token the store knows, applied from its body
    /// (no frame); `None`, and nothing done, when the token is unknown.
    #[inline(always)]
    pub(crate) fn apply_known_delta(
        &mut self,
        token: MarketToken,
        body: &DeltaBody<'_>,
        now_ns: u64,
    ) -> Option<Applied> {
        let i = self.known_token(token)?;
        Some(if self.slots[i].active {
            self.apply_delta_at(i, body, now_ns)
        } else {
            self.counters.untracked += 1;
            Applied::Untracked
        })
    }

    /// Applies one parsed frame by the rules of PROTOCOL.md A4.
    ///
    /// A `resync_required` or `slow_reader` whose outcome is empty (the
    /// parser's reading of one sent without `outcome`) is a gap in every
    /// tracked book of its market.
    ///
    /// ```
    /// use wirebook::{Applied, BookStore, Frame};
    /// let mut store = BookStore::default();
    /// assert_eq!(store.apply(&Frame::Heartbeat { ts_ms: None }, 0), Applied::NotBookState);
    /// ```
    pub fn apply(&mut self, frame: &Frame<'_>, now_ns: u64) -> Applied {
        self.apply_marked(frame, 0, now_ns)
    }

    /// [`apply`](Self::apply) of a frame the parser read with market token
    /// `token` (0: none), see [`FrameParser::parse_marked`].
    #[inline]
    pub(crate) fn apply_marked(
        &mut self,
        frame: &Frame<'_>,
        token: MarketToken,
        now_ns: u64,
    ) -> Applied {
        match frame {
            Frame::Book(b) => self.apply_snapshot(b, token, now_ns),
            Frame::Delta(d) => self.apply_delta(d, token, now_ns),
            Frame::ResyncRequired(m) => {
                self.counters.resync_required += 1;
                self.gap_for(m)
            }
            Frame::SlowReader(m) => {
                // Updates may have been lost: the safe reading is a gap.
                self.counters.slow_reader += 1;
                self.gap_for(m)
            }
            Frame::Error(e) if e.code == EXCHANGE_UNAVAILABLE => {
                self.counters.exchange_unavailable += 1;
                self.exchange_unavailable(e.parsec_id);
                Applied::NotBookState
            }
            Frame::Activity(a) if self.config.activity_shares_seq => match a.server_seq {
                Some(seq) => self.apply_sequenced(&a.market, seq, now_ns),
                None => Applied::NotBookState,
            },
            _ => Applied::NotBookState,
        }
    }

    /// PROTOCOL.md A5, code 2003: the books of the exchange named by
    /// `parsec_id` (its part before `:`), or of every exchange when the frame
    /// names no market, read `Stale` until a frame says otherwise (a snapshot,
    /// a delta with `book_state: fresh`, or one without `book_state` whose
    /// `feed_state` is `healthy`). Staleness alone sends no resync (rule A4.8).
    fn exchange_unavailable(&mut self, parsec_id: Option<&str>) {
        let exchange = parsec_id.map(|id| id.split_once(':').map_or(id, |(ex, _)| ex));
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            let of_exchange = exchange.is_none_or(|ex| {
                s.key
                    .parsec_id
                    .split_once(':')
                    .is_some_and(|(e, _)| e == ex)
            });
            if s.active && of_exchange {
                s.venue_down = true;
                // What a resyncing book buffered came before this 2003: its
                // replay must not end it.
                for p in &mut s.pending {
                    p.word.before_outage = true;
                }
                if !s.meta.server_stale {
                    s.meta.server_stale = true;
                    self.publish(i, Dirty::default());
                }
            }
        }
    }

    fn active_slot(&mut self, m: &MarketRef<'_>, token: MarketToken) -> Option<usize> {
        match self.find_marked(m, token) {
            Some(i) if self.slots[i].active => Some(i),
            _ => {
                self.counters.untracked += 1;
                None
            }
        }
    }

    fn apply_snapshot(
        &mut self,
        f: &crate::frame::BookFrame<'_>,
        token: MarketToken,
        now_ns: u64,
    ) -> Applied {
        let i = match self.find_marked(&f.market, token) {
            Some(i) if self.slots[i].active => i,
            Some(_) => {
                self.counters.untracked += 1;
                return Applied::Untracked;
            }
            None if self.config.auto_track => match self.slot(f.market.parsec_id, f.market.outcome)
            {
                Ok(i) => i,
                Err(_) => {
                    self.counters.untracked += 1;
                    return Applied::Untracked;
                }
            },
            None => {
                self.counters.untracked += 1;
                return Applied::Untracked;
            }
        };
        self.counters.snapshots += 1;
        let s = &mut self.slots[i];
        // The resync this snapshot answers (0: none); if the snapshot is no
        // good, the next request counts on from it (A4.7: a book resyncing
        // too long is reported, so its attempts must not start over).
        let answered = if s.phase == Phase::Resyncing {
            s.attempt
        } else {
            0
        };
        let replaced = s.book.replace(f.bids, f.asks);
        s.phase = Phase::Live;
        s.disconnected = false;
        let behind_retry = s.behind_retry;
        s.forget_resync();
        s.attempt = 0;
        s.meta.advance(f.server_seq, now_ns);
        s.snapshot_seq = f.server_seq;
        s.said_stale = f.book_state == Some(WireBookState::Stale);
        // A 2003's staleness ends as on a delta: on the snapshot's
        // `book_state`, or on a healthy feed; a snapshot whose feed is
        // degraded or disconnected and that says nothing of the book keeps
        // it (A5: that exchange's books are not fresh). One that says
        // neither (both are required on a snapshot) is a whole new book.
        match (f.book_state, f.feed_state) {
            (Some(_), _) | (None, Some(FeedState::Healthy) | None) => s.venue_down = false,
            (None, Some(_)) => {}
        }
        s.meta.server_stale = s.said_stale || s.venue_down;
        s.meta.feed_state = f.feed_state.or(s.meta.feed_state);
        s.meta.exchange_ts_ms = f.exchange_ts_ms;
        s.meta.ingest_ts_ms = f.ingest_ts_ms;
        s.meta.stale_after_ms = f.stale_after_ms.or(s.meta.stale_after_ms).or(Some(
            u64::try_from(self.config.default_stale_after.as_millis()).unwrap_or(u64::MAX),
        ));
        let mut corrupt = replaced.is_err();
        if f.book_state == Some(WireBookState::NeedsRefresh) {
            self.counters.needs_refresh += 1;
            corrupt = true;
        }
        // Rule A4.9 for the snapshot itself, before any buffered delta is
        // replayed onto it (a replayed delta could uncross it and hide it),
        // then after each replayed delta: the book's crossing is settled here.
        let mut behind = false;
        if !corrupt {
            corrupt = crossed(&self.slots[i].book, &mut self.counters);
            if !corrupt {
                (corrupt, behind) = self.replay(i);
            }
        }
        if corrupt {
            // A snapshot that is no good replays nothing: what was buffered
            // is discarded (every buffered delta ends replayed, discarded or
            // as the gap it caused).
            let s = &mut self.slots[i];
            self.counters.discarded += s.pending.len() as u64;
            s.clear_pending();
        }
        if behind && behind_retry {
            // Behind again on the resync that being behind started: the
            // server's snapshots lag what it sent before them (or it
            // numbers them afresh). Taken, as A4.2 says; if a change was
            // lost, the next delta's hole shows it.
            self.counters.behind_accepted += 1;
        }
        // No good in answer to our own request: asked again, but not at
        // once, or a server that keeps answering with a crossed book would
        // be asked at every round trip (within the pacing budget other
        // books' resyncs need).
        let hold = (corrupt && answered > 0).then(|| self.resync_hold(answered, now_ns));
        if behind && !behind_retry {
            // Whole, but behind a change that came while resyncing and
            // will not come again: never published as fresh, resynced.
            self.slots[i].corrupt_seq = 0;
            self.slots[i].behind_retry = true;
            self.counters.behind_after_replay += 1;
            self.gap(i);
        } else if self.settle_checked(i, corrupt, Dirty::ALL, hold) {
            // The book is whole again at this seq: the seq that once
            // corrupted it no longer stops a replay (rule A4.1: a later
            // snapshot's seq may go back, e.g. on a new connection).
            self.slots[i].corrupt_seq = 0;
            return Applied::Snapshot;
        }
        // Resyncing again: the request just queued is the next attempt.
        let s = &mut self.slots[i];
        s.attempt = s.attempt.max(answered + 1);
        Applied::Gap
    }

    /// Until when the next resync is held back after the `answered`th
    /// request got a bad book: [`FIRST_RESYNC_HOLD`], doubling with each,
    /// up to the resync timeout.
    fn resync_hold(&self, answered: u32, now_ns: u64) -> u64 {
        let hold = FIRST_RESYNC_HOLD
            .saturating_mul(1 << answered.saturating_sub(1).min(16))
            .min(self.config.resync_timeout);
        now_ns.saturating_add(u64::try_from(hold.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Applies buffered deltas that continue the snapshot; drops the rest.
    /// Returns whether the book became corrupt on the way, and else whether
    /// it is behind a frame that came while it was resyncing.
    fn replay(&mut self, i: usize) -> (bool, bool) {
        let s = &mut self.slots[i];
        let mut corrupt = false;
        let mut replayed = 0;
        loop {
            let next = s.meta.seq.wrapping_add(1);
            if next <= s.corrupt_seq {
                // The frame at this seq corrupted the book once: do not trust a copy.
                break;
            }
            let Some(k) = s.pending.iter().position(|p| p.seq == next) else {
                break;
            };
            let p = s.pending[k];
            s.meta.seq = next;
            // A frame that corrupts the book is not counted as replayed
            // (nor as discarded: it continued the snapshot); its gap is.
            if p.word.needs_refresh() {
                corrupt = true;
                break;
            }
            let changes = &s.pending_changes[p.start as usize..(p.start + p.len) as usize];
            if s.book.apply_changes(changes).is_err() {
                corrupt = true;
                break;
            }
            // Its word on the book and feed too (a replayed `stale` or
            // degraded feed must not read as fresh).
            s.take_word(&p.word);
            // Rule A4.9 holds after every frame, not only after the last one:
            // a later delta could uncross a corrupt book and hide it.
            if crossed(&s.book, &mut self.counters) {
                corrupt = true;
                break;
            }
            replayed += 1;
        }
        let discarded = s.pending.len() - replayed - usize::from(corrupt);
        // A frame past where the replay stopped came while resyncing (kept
        // and not continuing, or lost to a full buffer): the book is behind
        // a change it will not be sent again. Resync (A4.2 drops the rest;
        // A4.7: never served as fresh).
        let behind = !corrupt && s.meta.seq < s.seen_seq;
        s.clear_pending();
        self.counters.replayed += replayed as u64;
        self.counters.deltas += replayed as u64;
        self.counters.discarded += discarded as u64;
        (corrupt, behind)
    }

    fn apply_delta(&mut self, d: &DeltaFrame<'_>, token: MarketToken, now_ns: u64) -> Applied {
        let Some(i) = self.active_slot(&d.market, token) else {
            return Applied::Untracked;
        };
        self.apply_delta_at(i, &d.body(), now_ns)
    }

    /// A delta of the active book in slot `i`.
    #[inline(always)]
    fn apply_delta_at(&mut self, i: usize, d: &DeltaBody<'_>, now_ns: u64) -> Applied {
        let word = Word::of(d);
        let needs_refresh = word.needs_refresh();
        if needs_refresh {
            self.counters.needs_refresh += 1;
        }
        let s = &mut self.slots[i];
        match s.phase {
            Phase::AwaitingSnapshot => {
                self.counters.dropped_before_snapshot += 1;
                Applied::DroppedBeforeSnapshot
            }
            Phase::Resyncing => self.buffer(i, d.server_seq, d.changes, word),
            Phase::Live => {
                if d.server_seq <= s.meta.seq {
                    if needs_refresh && d.server_seq > s.snapshot_seq {
                        // A4.4: `needs_refresh` on any frame acts as a
                        // gap, a late one too, unless the snapshot the
                        // book holds came after it (and so covers it).
                        self.gap(i);
                        return Applied::Gap;
                    }
                    self.counters.duplicates += 1;
                    return Applied::Duplicate;
                }
                if d.server_seq != s.meta.seq + 1 {
                    self.gap(i);
                    self.buffer(i, d.server_seq, d.changes, word);
                    return Applied::Gap;
                }
                s.meta.advance(d.server_seq, now_ns);
                s.take_word(&word);
                if needs_refresh {
                    s.corrupt_seq = s.corrupt_seq.max(s.meta.seq);
                    self.gap(i);
                    return Applied::Gap;
                }
                let (dirty, corrupt) = match s.book.apply_changes(d.changes) {
                    Ok(dirty) => (dirty, false),
                    Err(_) => (Dirty::ALL, true),
                };
                if self.settle(i, corrupt, dirty) {
                    // Counted once the book took it whole and uncrossed:
                    // a delta that corrupted it is counted as its gap.
                    self.counters.deltas += 1;
                    Applied::Delta
                } else {
                    Applied::Gap
                }
            }
        }
    }

    /// An activity frame on the book's counter (rule A4.5, when configured).
    fn apply_sequenced(&mut self, m: &MarketRef<'_>, seq: u64, now_ns: u64) -> Applied {
        let Some(i) = self.active_slot(m, 0) else {
            return Applied::Untracked;
        };
        let s = &mut self.slots[i];
        match s.phase {
            Phase::AwaitingSnapshot => Applied::NotBookState,
            Phase::Resyncing => self.buffer(i, seq, &[], Word::default()),
            Phase::Live if seq <= s.meta.seq => {
                self.counters.duplicates += 1;
                Applied::Duplicate
            }
            Phase::Live if seq != s.meta.seq + 1 => {
                self.gap(i);
                self.buffer(i, seq, &[], Word::default());
                Applied::Gap
            }
            Phase::Live => {
                s.meta.advance(seq, now_ns);
                self.publish(i, Dirty::default());
                Applied::Sequenced
            }
        }
    }

    /// Keeps a frame that came while resyncing, if the buffer has room:
    /// `Buffered`, or `Overflowed` if it was dropped.
    fn buffer(&mut self, i: usize, seq: u64, changes: &[Change], word: Word) -> Applied {
        let cap = self.config.resync_buffer;
        let s = &mut self.slots[i];
        s.seen_seq = s.seen_seq.max(seq);
        if s.pending.capacity() == 0 {
            s.pending.reserve_exact(cap);
        }
        if s.pending.len() >= cap
            || s.pending_changes.len() + changes.len() > cap.saturating_mul(256)
        {
            self.counters.buffer_overflows += 1;
            return Applied::Overflowed;
        }
        s.pending.push(Pending {
            seq,
            start: s.pending_changes.len() as u32,
            len: changes.len() as u32,
            word,
        });
        s.pending_changes.extend_from_slice(changes);
        self.counters.buffered += 1;
        Applied::Buffered
    }

    /// After a frame changed the book: a crossed or corrupt book is a gap;
    /// otherwise publish. Returns whether the book is healthy.
    #[inline]
    fn settle(&mut self, i: usize, corrupt: bool, dirty: Dirty) -> bool {
        let corrupt = corrupt || crossed(&self.slots[i].book, &mut self.counters);
        self.settle_checked(i, corrupt, dirty, None)
    }

    /// [`settle`](Self::settle) where `corrupt` already says whether the
    /// book is crossed; a corrupt book's resync held until `hold_until_ns`
    /// if given (see [`gap_held`](Self::gap_held)).
    #[inline]
    fn settle_checked(
        &mut self,
        i: usize,
        corrupt: bool,
        dirty: Dirty,
        hold_until_ns: Option<u64>,
    ) -> bool {
        if corrupt {
            let s = &mut self.slots[i];
            s.corrupt_seq = s.corrupt_seq.max(s.meta.seq);
            self.gap_held(i, hold_until_ns);
            false
        } else {
            self.publish(i, dirty);
            true
        }
    }

    fn gap_for(&mut self, m: &MarketRef<'_>) -> Applied {
        if m.outcome.is_empty() {
            return self.gap_for_market(m.parsec_id);
        }
        match self.active_slot(m, 0) {
            Some(i) => self.notice_gap(i),
            None => Applied::Untracked,
        }
    }

    /// A notice's gap in tracked book `i`.
    fn notice_gap(&mut self, i: usize) -> Applied {
        if self.slots[i].phase == Phase::AwaitingSnapshot {
            // No snapshot on this connection yet: the one on its way (the
            // subscribe's) is taken after whatever was lost, so there is
            // nothing to resync (and the book keeps reading Disconnected or
            // AwaitingSnapshot, not Resyncing with old levels).
            self.counters.dropped_before_snapshot += 1;
            Applied::DroppedBeforeSnapshot
        } else {
            self.gap(i);
            Applied::Gap
        }
    }

    /// A notice without an outcome: a gap in every tracked book of the
    /// market (`Gap` if any book took it).
    #[cold]
    fn gap_for_market(&mut self, parsec_id: &str) -> Applied {
        let mut applied = Applied::Untracked;
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            if s.active && &*s.key.parsec_id == parsec_id {
                match self.notice_gap(i) {
                    Applied::Gap => applied = Applied::Gap,
                    other if applied == Applied::Untracked => applied = other,
                    _ => {}
                }
            }
        }
        if applied == Applied::Untracked {
            self.counters.untracked += 1;
        }
        applied
    }

    /// Marks the book resyncing and queues one resync unless one is outstanding.
    fn gap(&mut self, i: usize) {
        self.gap_held(i, None);
    }

    /// [`gap`](Self::gap), with the new resync (if one starts) held back
    /// until engine time `hold_until_ns` instead of queued now.
    fn gap_held(&mut self, i: usize, hold_until_ns: Option<u64>) {
        self.counters.gaps += 1;
        let s = &mut self.slots[i];
        if s.phase == Phase::Live {
            // Deltas buffered from an earlier resync cannot continue a new snapshot.
            s.clear_pending();
        }
        s.phase = Phase::Resyncing;
        if !s.resync_outstanding {
            s.resync_outstanding = true;
            s.attempt = 1;
            s.sent_ns = None;
            s.hold_until_ns = hold_until_ns;
            self.counters.resyncs += 1;
            if !s.queued && hold_until_ns.is_none() {
                s.queued = true;
                self.queue.push_back(i as u32);
            }
        }
        // The book may have changed unpublished (a crossed or corrupt frame): rewrite it all.
        self.publish(i, Dirty::ALL);
    }

    #[inline]
    fn publish(&mut self, i: usize, dirty: Dirty) {
        if self.config.stage_timing {
            self.applied_ns = crate::clock::now_ns();
        }
        let s = &mut self.slots[i];
        s.meta.state = state_of(s.phase, s.disconnected);
        s.publisher.publish(&s.book, &s.meta, &dirty);
    }

    /// With [`StoreConfig::stage_timing`], the engine time (ns) at which the
    /// last published change was applied, just before publishing; 0 otherwise.
    ///
    /// ```
    /// use wirebook::{BookStore, FrameParser, StoreConfig};
    /// let mut store = BookStore::new(StoreConfig { stage_timing: true, ..StoreConfig::default() });
    /// let mut msg = br#"{"type":"orderbook","parsec_id":"a:b","bids":[],"asks":[],"server_seq":1}"#.to_vec();
    /// store.ingest(&mut FrameParser::new(), &mut msg, 0).unwrap();
    /// assert!(store.applied_ns() > 0);
    /// ```
    pub fn applied_ns(&self) -> u64 {
        self.applied_ns
    }

    /// Takes the next resync request to send, marking it sent at `now_ns`.
    /// The network layer calls this when its pacing allows a control frame.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// assert!(store.next_resync(0).is_none());
    /// ```
    pub fn next_resync(&mut self, now_ns: u64) -> Option<ResyncRequest> {
        while let Some(i) = self.queue.pop_front() {
            let s = &mut self.slots[i as usize];
            s.queued = false;
            if !s.wants_resync() {
                continue;
            }
            s.sent_ns = Some(now_ns);
            return Some(ResyncRequest {
                key: s.key.clone(),
                attempt: s.attempt,
            });
        }
        None
    }

    /// Resync requests waiting to be sent: [`next_resync`](Self::next_resync)
    /// will return that many. A request whose book got its snapshot, or was
    /// untracked, before it went out is not counted (the network layer would
    /// otherwise spend a turn of its pacing on nothing).
    ///
    /// ```
    /// assert_eq!(wirebook::BookStore::default().queued_resyncs(), 0);
    /// ```
    pub fn queued_resyncs(&self) -> usize {
        self.queue
            .iter()
            .filter(|&&i| self.slots[i as usize].wants_resync())
            .count()
    }

    /// Re-queues resyncs unanswered for [`StoreConfig::resync_timeout`] (rule
    /// A4.7), queues resyncs held back after a bad answer when their hold
    /// ends, and publishes staleness (A4.8). Call it periodically (e.g. every
    /// 100 ms), frames or not: without it a book whose resync was answered
    /// with a bad book is never asked for again.
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// store.poll(wirebook::clock::now_ns());
    /// ```
    pub fn poll(&mut self, now_ns: u64) {
        let timeout = u64::try_from(self.config.resync_timeout.as_nanos()).unwrap_or(u64::MAX);
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            // Rule A4.8: a quiet book reads Stale (published, so readers need no clock).
            let quiet = s.phase == Phase::Live
                && s.meta.stale_after_ms.is_some_and(|ms| {
                    now_ns.saturating_sub(s.meta.updated_ns) > ms.saturating_mul(1_000_000)
                });
            if quiet != s.meta.local_stale {
                s.meta.local_stale = quiet;
                self.publish(i, Dirty::default());
            }
            let s = &mut self.slots[i];
            if let Some(until) = s.hold_until_ns {
                if now_ns >= until {
                    s.hold_until_ns = None;
                    if s.resync_outstanding && !s.queued {
                        s.queued = true;
                        self.queue.push_back(i as u32);
                    }
                }
                continue;
            }
            let Some(sent) = s.sent_ns else { continue };
            if s.resync_outstanding && !s.queued && now_ns.saturating_sub(sent) >= timeout {
                s.sent_ns = None;
                s.attempt += 1;
                s.queued = true;
                self.queue.push_back(i as u32);
                self.counters.resync_retries += 1;
            }
        }
    }

    /// The connection dropped: every book reads `Disconnected` (levels kept)
    /// until its next snapshot; pending resyncs are forgotten (the new session
    /// re-subscribes, which brings snapshots).
    ///
    /// ```
    /// let mut store = wirebook::BookStore::default();
    /// let r = store.track("kalshi:X", "yes").unwrap();
    /// store.mark_disconnected();
    /// assert_eq!(r.snapshot(1).state, wirebook::BookState::Disconnected);
    /// ```
    pub fn mark_disconnected(&mut self) {
        self.queue.clear();
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            s.phase = Phase::AwaitingSnapshot;
            s.disconnected = true;
            s.forget_resync();
            s.queued = false;
            s.clear_pending();
            // A new connection counts afresh (A4: per subscription and connection).
            s.corrupt_seq = 0;
            self.publish(i, Dirty::default());
        }
    }

    /// A `subscribe` for a book the store holds went out again (its
    /// subscription was lost, or the caller starts it over): the new
    /// subscription counts `server_seq` afresh (A4: per subscription), so the
    /// book waits for its snapshot like a new one. Nothing buffered from the
    /// old subscription can be replayed onto the new one's snapshot, and the
    /// book's outstanding resync is forgotten; readers see
    /// `AwaitingSnapshot` (levels kept). Returns whether the store holds
    /// the book.
    ///
    /// ```
    /// use wirebook::{BookState, BookStore, FrameParser};
    /// let (mut store, mut parser) = (BookStore::default(), FrameParser::new());
    /// let book = store.track("kalshi:X", "yes")?;
    /// for frame in [
    ///     r#"{"type":"orderbook","parsec_id":"kalshi:X","outcome":"yes","bids":[[0.45,10]],"asks":[[0.47,5]],"server_seq":100}"#,
    ///     r#"{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes","changes":[{"side":"bid","price":0.46,"size":1}],"server_seq":105}"#,
    /// ] {
    ///     store.ingest(&mut parser, &mut frame.as_bytes().to_vec(), 0)?;
    /// }
    /// assert_eq!(book.snapshot(1).state, BookState::Resyncing); // a gap: 101 to 104 lost
    /// assert!(store.resubscribed("kalshi:X", "yes"));
    /// assert_eq!(book.snapshot(1).state, BookState::AwaitingSnapshot);
    /// assert!(store.next_resync(0).is_none(), "the subscribe brings the snapshot");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resubscribed(&mut self, parsec_id: &str, outcome: &str) -> bool {
        let Some(i) = self
            .find(parsec_id, outcome)
            .filter(|&i| self.slots[i].active)
        else {
            return false;
        };
        let s = &mut self.slots[i];
        s.phase = Phase::AwaitingSnapshot;
        s.forget_resync();
        s.clear_pending();
        s.corrupt_seq = 0;
        self.publish(i, Dirty::default());
        true
    }

    /// Keys of the books currently resyncing.
    ///
    /// ```
    /// assert_eq!(wirebook::BookStore::default().resyncing().count(), 0);
    /// ```
    pub fn resyncing(&self) -> impl Iterator<Item = &BookKey> + '_ {
        self.slots
            .iter()
            .filter(|s| s.active && s.phase == Phase::Resyncing)
            .map(|s| &s.key)
    }
}

#[cfg(test)]
mod tests;
