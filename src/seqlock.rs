//! A single-writer sequence lock over an array of 64-bit words.
//!
//! The writer makes the sequence odd, stores the words, then makes it even
//! again; a reader copies the words between two reads of the sequence and
//! retries if the sequence was odd or moved. Every shared word is an
//! `AtomicU64` accessed with per-word atomic loads and stores (relaxed, ordered
//! by fences as in Boehm, "Can seqlocks get along with programming language
//! memory models?", 2012), so there is no data race and no `unsafe`: a racing
//! reader sees a mix of old and new words, detects it by the sequence, and
//! throws the copy away. The writer never waits for readers; readers never
//! take a lock.
//!
//! Model-checked with loom (`RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --lib --no-default-features seqlock`).

#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};

/// The shared half: readers copy from it.
///
/// ```
/// use wirebook::SeqLock;
/// let (lock, mut writer) = SeqLock::new(4);
/// writer.write(|w| { w.set(0, 7); w.set(3, 9); });
/// let mut out = [0u64; 4];
/// let version = lock.read(|words| words.copy_to(&mut out));
/// assert_eq!((out, version % 2), ([7, 0, 0, 9], 0));
/// ```
#[derive(Debug)]
pub struct SeqLock {
    seq: AtomicU64,
    words: Box<[AtomicU64]>,
    /// Set when a write's `update` panicked: the sequence stays odd for good.
    poisoned: AtomicBool,
}

/// The one writer of a [`SeqLock`]. Not `Clone`: a single writer is what makes the lock sound.
///
/// ```
/// use wirebook::SeqLock;
/// let (lock, mut writer) = SeqLock::new(2);
/// let t = std::thread::spawn(move || (1..=1000u64).for_each(|i| writer.write(|w| { w.set(0, i); w.set(1, i) })));
/// let mut pair = (0, 0);
/// lock.read(|r| pair = (r.get(0), r.get(1)));
/// t.join().unwrap();
/// assert_eq!(pair.0, pair.1, "a reader never sees half a write");
/// ```
#[derive(Debug)]
pub struct SeqLockWriter {
    lock: std::sync::Arc<SeqLock>,
    /// The writer's own copy of the sequence (only it changes the sequence).
    seq: u64,
}

/// Word access for the writer inside [`SeqLockWriter::write`].
///
/// ```
/// use wirebook::{seqlock::WordWriter, SeqLock};
/// let (lock, mut writer) = SeqLock::new(4);
/// writer.write(|w: &WordWriter<'_>| { w.set(0, 7); w.set_pairs(2, [(1, 2)].into_iter()) });
/// let mut out = [0u64; 4];
/// lock.read(|r| r.copy_to(&mut out));
/// assert_eq!(out, [7, 0, 1, 2]);
/// ```
#[derive(Debug)]
pub struct WordWriter<'l> {
    words: &'l [AtomicU64],
}

/// Word access for a reader inside [`SeqLock::read`]; values may be torn until validated.
///
/// ```
/// use wirebook::{seqlock::WordReader, SeqLock};
/// let (lock, mut writer) = SeqLock::new(3);
/// writer.write(|w| w.set_pairs(1, std::iter::once((45, 10))));
/// let mut level = (0, 0);
/// lock.read(|r: &WordReader<'_>| level = r.pairs(1, 1).next().unwrap_or_default());
/// assert_eq!(level, (45, 10));
/// ```
#[derive(Debug)]
pub struct WordReader<'l> {
    words: &'l [AtomicU64],
}

impl SeqLock {
    /// A lock over `words` zeroed words, and its writer.
    ///
    /// ```
    /// let (lock, _writer) = wirebook::SeqLock::new(8);
    /// assert_eq!(lock.len(), 8);
    /// ```
    #[allow(clippy::new_ret_no_self)]
    pub fn new(words: usize) -> (std::sync::Arc<SeqLock>, SeqLockWriter) {
        let lock = std::sync::Arc::new(SeqLock {
            seq: AtomicU64::new(0),
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            poisoned: AtomicBool::new(false),
        });
        let writer = SeqLockWriter {
            lock: lock.clone(),
            seq: 0,
        };
        (lock, writer)
    }

    /// Number of words.
    ///
    /// ```
    /// let (lock, _w) = wirebook::SeqLock::new(3);
    /// assert!(!lock.is_empty());
    /// ```
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the lock holds no words.
    ///
    /// ```
    /// let (lock, _w) = wirebook::SeqLock::new(0);
    /// assert!(lock.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The current version (even when no write is in progress); changes on every write.
    ///
    /// ```
    /// let (lock, mut w) = wirebook::SeqLock::new(1);
    /// let v = lock.version();
    /// w.write(|_| {});
    /// assert_ne!(lock.version(), v);
    /// ```
    pub fn version(&self) -> u64 {
        // `SeqCst` (an ordinary load on x86 and ARM, as `Acquire` is): a
        // waiter for a change pairs it with the writer's fence.
        self.seq.load(Ordering::SeqCst)
    }

    /// Whether a write's `update` panicked, leaving a half-written state that
    /// no read will ever accept.
    ///
    /// ```
    /// let (lock, mut w) = wirebook::SeqLock::new(1);
    /// let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     w.write(|w| { w.set(0, 1); panic!("half written") })
    /// }));
    /// assert!(lock.is_poisoned());
    /// assert!(lock.try_read(|_| ()).is_none());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        // `SeqCst`: a waiter for a change checks it against the writer's
        // fence as it checks the version (a poisoning write moves no version).
        self.poisoned.load(Ordering::SeqCst)
    }

    /// Runs `copy` until it ran over a consistent state, and returns the version it saw.
    ///
    /// `copy` may run several times; it must only copy words out (what it saw
    /// on a failed attempt is to be discarded, which re-running does).
    ///
    /// # Panics
    ///
    /// If the lock [is poisoned](Self::is_poisoned): no consistent state will
    /// come, and a reader waiting for one would spin for ever.
    ///
    /// ```
    /// let (lock, mut w) = wirebook::SeqLock::new(2);
    /// w.write(|w| w.set(1, 5));
    /// let mut v = 0;
    /// lock.read(|r| v = r.get(1));
    /// assert_eq!(v, 5);
    /// ```
    #[inline]
    pub fn read(&self, mut copy: impl FnMut(&WordReader<'_>)) -> u64 {
        let reader = WordReader { words: &self.words };
        let mut spins = 0u32;
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                copy(&reader);
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    return before;
                }
            } else if self.is_poisoned() {
                panic!("seqlock poisoned: a write's update panicked half way");
            }
            spins = spins.wrapping_add(1);
            backoff(spins);
        }
    }

    /// One attempt of [`read`](Self::read): `None` if a write overlapped it.
    ///
    /// ```
    /// let (lock, _w) = wirebook::SeqLock::new(1);
    /// assert!(lock.try_read(|_| ()).is_some());
    /// ```
    #[inline]
    pub fn try_read(&self, copy: impl FnOnce(&WordReader<'_>)) -> Option<u64> {
        let reader = WordReader { words: &self.words };
        let before = self.seq.load(Ordering::Acquire);
        if before & 1 != 0 {
            return None;
        }
        copy(&reader);
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == before).then_some(before)
    }
}

#[inline]
fn backoff(spins: u32) {
    #[cfg(loom)]
    {
        let _ = spins;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

impl SeqLockWriter {
    /// Publishes a change: `update` stores words; readers see all of it or none.
    ///
    /// If `update` panics, the half-written state is never accepted: the lock
    /// is [poisoned](SeqLock::is_poisoned), later reads panic (rather than
    /// spin for ever) and later writes are refused in the same way.
    ///
    /// ```
    /// let (lock, mut w) = wirebook::SeqLock::new(1);
    /// w.write(|w| w.set(0, 42));
    /// assert_eq!(lock.read(|r| assert_eq!(r.get(0), 42)) % 2, 0);
    /// ```
    #[inline]
    pub fn write<T>(&mut self, update: impl FnOnce(&WordWriter<'_>) -> T) -> T {
        /// Poisons the lock if dropped before the write completes (`update` panicked).
        struct Unfinished<'l>(&'l SeqLock);
        impl Drop for Unfinished<'_> {
            fn drop(&mut self) {
                self.0.poisoned.store(true, Ordering::Relaxed);
            }
        }
        let lock = &*self.lock;
        assert!(
            self.seq & 1 == 0,
            "seqlock poisoned: a write's update panicked half way"
        );
        self.seq = self.seq.wrapping_add(1);
        lock.seq.store(self.seq, Ordering::Relaxed);
        fence(Ordering::Release);
        let unfinished = Unfinished(lock);
        let out = update(&WordWriter { words: &lock.words });
        std::mem::forget(unfinished);
        self.seq = self.seq.wrapping_add(1);
        lock.seq.store(self.seq, Ordering::Release);
        out
    }

    /// The shared lock this writer publishes to.
    ///
    /// ```
    /// let (lock, w) = wirebook::SeqLock::new(1);
    /// assert!(std::sync::Arc::ptr_eq(&lock, w.lock()));
    /// ```
    pub fn lock(&self) -> &std::sync::Arc<SeqLock> {
        &self.lock
    }
}

impl WordWriter<'_> {
    /// Stores word `i` (ignored if out of range).
    ///
    /// ```
    /// let (lock, mut w) = wirebook::SeqLock::new(2);
    /// w.write(|w| w.set(1, 9));
    /// lock.read(|r| assert_eq!(r.get(1), 9));
    /// ```
    #[inline(always)]
    pub fn set(&self, i: usize, value: u64) {
        if let Some(w) = self.words.get(i) {
            w.store(value, Ordering::Relaxed);
        }
    }

    /// Stores consecutive pairs of words from `start` (stops at the end of the lock).
    ///
    /// ```
    /// let (lock, mut w) = wirebook::SeqLock::new(4);
    /// w.write(|w| w.set_pairs(0, [(1, 2), (3, 4)].into_iter()));
    /// lock.read(|r| assert_eq!(r.pairs(0, 2).collect::<Vec<_>>(), vec![(1, 2), (3, 4)]));
    /// ```
    #[inline(always)]
    pub fn set_pairs(&self, start: usize, pairs: impl Iterator<Item = (u64, u64)>) {
        let Some(words) = self.words.get(start..) else {
            return;
        };
        for (slot, (a, b)) in words.chunks_exact(2).zip(pairs) {
            slot[0].store(a, Ordering::Relaxed);
            slot[1].store(b, Ordering::Relaxed);
        }
    }

    /// The word's current value (the writer's own last store).
    ///
    /// ```
    /// let (_lock, mut w) = wirebook::SeqLock::new(1);
    /// w.write(|w| {
    ///     w.set(0, 3);
    ///     assert_eq!(w.get(0), 3);
    /// });
    /// ```
    #[inline(always)]
    pub fn get(&self, i: usize) -> u64 {
        self.words.get(i).map_or(0, |w| w.load(Ordering::Relaxed))
    }

    /// Number of words.
    ///
    /// ```
    /// let (_lock, mut w) = wirebook::SeqLock::new(3);
    /// w.write(|w| assert_eq!(w.len(), 3));
    /// ```
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no words.
    ///
    /// ```
    /// let (_lock, mut w) = wirebook::SeqLock::new(1);
    /// w.write(|w| assert!(!w.is_empty()));
    /// ```
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

impl WordReader<'_> {
    /// Loads word `i` (0 if out of range). May be torn until the read is validated.
    ///
    /// ```
    /// let (lock, mut w) = wirebook::SeqLock::new(1);
    /// w.write(|w| w.set(0, 5));
    /// lock.read(|r| assert_eq!(r.get(0), 5));
    /// ```
    #[inline(always)]
    pub fn get(&self, i: usize) -> u64 {
        self.words.get(i).map_or(0, |w| w.load(Ordering::Relaxed))
    }

    /// `count` consecutive pairs of words from `start` (fewer at the end of the lock).
    ///
    /// ```
    /// let (lock, mut w) = wirebook::SeqLock::new(2);
    /// w.write(|w| w.set_pairs(0, std::iter::once((7, 8))));
    /// lock.read(|r| assert_eq!(r.pairs(0, 1).next(), Some((7, 8))));
    /// ```
    #[inline(always)]
    pub fn pairs(
        &self,
        start: usize,
        count: usize,
    ) -> impl ExactSizeIterator<Item = (u64, u64)> + DoubleEndedIterator + '_ {
        let end = start
            .saturating_add(count.saturating_mul(2))
            .min(self.words.len());
        let (pairs, _) = self.words.get(start..end).unwrap_or(&[]).as_chunks::<2>();
        pairs
            .iter()
            .map(|[a, b]| (a.load(Ordering::Relaxed), b.load(Ordering::Relaxed)))
    }

    /// The `N` words from `start` (zeros if they run past the end of the lock).
    ///
    /// ```
    /// let (lock, mut w) = wirebook::SeqLock::new(3);
    /// w.write(|w| w.set(2, 9));
    /// lock.read(|r| assert_eq!(r.array::<2>(1), [0, 9]));
    /// lock.read(|r| assert_eq!(r.array::<2>(2), [0, 0]));
    /// ```
    #[inline(always)]
    pub fn array<const N: usize>(&self, start: usize) -> [u64; N] {
        match self
            .words
            .get(start..)
            .and_then(<[AtomicU64]>::first_chunk::<N>)
        {
            Some(words) => std::array::from_fn(|i| words[i].load(Ordering::Relaxed)),
            None => [0; N],
        }
    }

    /// Copies the first `out.len()` words into `out`.
    ///
    /// ```
    /// let (lock, _w) = wirebook::SeqLock::new(2);
    /// let mut out = [1u64; 2];
    /// lock.read(|r| r.copy_to(&mut out));
    /// assert_eq!(out, [0, 0]);
    /// ```
    #[inline]
    pub fn copy_to(&self, out: &mut [u64]) {
        for (o, w) in out.iter_mut().zip(self.words.iter()) {
            *o = w.load(Ordering::Relaxed);
        }
    }

    /// Number of words.
    ///
    /// ```
    /// let (lock, _w) = wirebook::SeqLock::new(2);
    /// lock.read(|r| assert_eq!(r.len(), 2));
    /// ```
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no words.
    ///
    /// ```
    /// let (lock, _w) = wirebook::SeqLock::new(2);
    /// lock.read(|r| assert!(!r.is_empty()));
    /// ```
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    /// A reader never returns a mix of two writes: both words always match.
    #[test]
    fn reader_never_sees_a_torn_write() {
        loom::model(|| {
            let (lock, mut writer) = SeqLock::new(2);
            let reader = loom::thread::spawn(move || {
                let mut pair = [0u64; 2];
                lock.read(|r| r.copy_to(&mut pair));
                assert_eq!(pair[0], pair[1], "torn read: {pair:?}");
            });
            for v in 1..=2 {
                writer.write(|w| {
                    w.set(0, v);
                    w.set(1, v);
                });
            }
            reader.join().unwrap();
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn version_is_even_after_each_write() {
        let (lock, mut w) = SeqLock::new(2);
        for i in 0..10 {
            w.write(|w| w.set(0, i));
            assert_eq!(lock.version() % 2, 0);
        }
        assert_eq!(lock.version(), 20);
    }

    #[test]
    fn a_panicking_update_poisons_the_lock_instead_of_hanging_readers() {
        let (lock, mut w) = SeqLock::new(2);
        w.write(|w| w.set(0, 1));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.write(|w| {
                w.set(0, 2);
                panic!("half written");
            })
        }));
        assert!(panicked.is_err());
        assert!(lock.is_poisoned());
        assert_eq!(
            lock.try_read(|_| ()),
            None,
            "the half-written state is refused"
        );
        let read = std::panic::catch_unwind(|| lock.read(|_| ()));
        assert!(
            read.is_err(),
            "a blocking read panics instead of spinning for ever"
        );
        let write = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.write(|_| ())));
        assert!(write.is_err(), "and so does the next write");
    }

    #[test]
    fn out_of_range_words_are_ignored() {
        let (lock, mut w) = SeqLock::new(1);
        w.write(|w| w.set(5, 1));
        lock.read(|r| assert_eq!(r.get(5), 0));
    }
}
