//! Subscriptions sent on this connection whose first snapshot has not landed.
//!
//! PROTOCOL.md answers a `subscribe` with one snapshot per book, or with an
//! `error` that names the market but not the outcome (2002, 2005, 3002), or,
//! when the control-frame limit is exceeded, with an `error` 3001 that names
//! nothing at all. So the client keeps, per connection, which books it asked
//! for and when, and decides from what comes back:
//!
//! - a snapshot of the book confirms it;
//! - 2002 (market not found) refuses every waiting book of that market: the
//!   whole market is unknown;
//! - 2005 or 3002 refuses the waiting book of that market when only one
//!   waits; when several of its outcomes wait, the error cannot say which, so
//!   all are marked refused and the timeout decides: those whose snapshot
//!   lands are kept, the rest dropped. A book queued to be subscribed again
//!   after a timeout counts as waiting too: the error may be the late answer
//!   to its earlier `subscribe`, so it is never pinned on another outcome
//!   while such a book exists;
//! - a book neither confirmed nor refused within the snapshot timeout (its
//!   `subscribe` lost to a 3001, or never answered) is subscribed again.
//!
//! Books confirmed on this connection are never dropped by an error here;
//! the driver drops a market's books that are resyncing on a 2002, which
//! also answers their `resync`, and subscribes them again on a 2001 naming
//! their market (the server no longer holds their subscription): that
//! `subscribe` then waits here like any other.
//!
//! An `unsubscribe` has no answer at all, and a 3001 may have refused it: a
//! book unsubscribed on this connection whose frames still arrive after the
//! snapshot timeout (PROTOCOL.md A2 allows one or two in flight) is
//! unsubscribed again ([`Leaving`]).

use std::time::{Duration, Instant};

use super::event::ErrorCode;

/// One book waiting for its first snapshot on this connection.
#[derive(Debug, Clone)]
struct Entry {
    parsec_id: String,
    /// Lower-case, as [`super::Subscription`] keeps it.
    outcome: String,
    sent: Instant,
    /// Subscribes sent again after a timeout; each doubles the next wait.
    attempt: u32,
    refused: Option<ErrorCode>,
    /// Due to be sent again (not in flight).
    queued: bool,
}

/// Most doublings of the wait for a book subscribed again and again (32
/// timeouts: about 5 minutes with the default 10 s).
const MAX_DOUBLINGS: u32 = 5;

/// What the timeout decided for one book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Expired {
    /// Refused by the server (the code says why): drop the subscription.
    Refused(String, String, ErrorCode),
    /// No answer, or a refusal that cannot be pinned on this book alone:
    /// subscribe again.
    Unanswered(String, String),
}

/// The books waiting for their first snapshot on this connection.
#[derive(Debug, Default)]
pub(super) struct Awaiting {
    entries: Vec<Entry>,
}

impl Awaiting {
    /// A `subscribe` carrying the book went out at `now` (restarts its wait;
    /// a book sent again keeps its count of attempts).
    pub(super) fn sent(&mut self, parsec_id: &str, outcome: &str, now: Instant) {
        match self.find(parsec_id, outcome) {
            Some(e) => {
                e.sent = now;
                e.refused = None;
                e.queued = false;
            }
            None => self.entries.push(Entry {
                parsec_id: parsec_id.to_owned(),
                outcome: outcome.to_owned(),
                sent: now,
                attempt: 0,
                refused: None,
                queued: false,
            }),
        }
    }

    fn find(&mut self, parsec_id: &str, outcome: &str) -> Option<&mut Entry> {
        self.entries
            .iter_mut()
            .find(|e| e.parsec_id == parsec_id && e.outcome == outcome)
    }

    /// Nothing waits (a new connection starts over).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Whether no book waits: the receive path checks this before anything else.
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the book waits (its outcome lower-case, as subscribed).
    pub(super) fn contains(&self, parsec_id: &str, outcome: &str) -> bool {
        self.entries
            .iter()
            .any(|e| e.parsec_id == parsec_id && e.outcome == outcome)
    }

    /// The book is no longer subscribed.
    pub(super) fn forget(&mut self, parsec_id: &str, outcome: &str) {
        self.entries
            .retain(|e| !(e.parsec_id == parsec_id && e.outcome == outcome));
    }

    /// When the oldest `subscribe` still waiting for a book of `parsec_id`
    /// went out (the one an error naming the market may answer, at the latest).
    pub(super) fn first_sent(&self, parsec_id: &str) -> Option<Instant> {
        self.entries
            .iter()
            .filter(|e| e.parsec_id == parsec_id)
            .map(|e| e.sent)
            .min()
    }

    /// A snapshot of the book landed (its outcome as the frame spells it,
    /// matched case-insensitively, rule A4.6).
    pub(super) fn synced(&mut self, parsec_id: &str, outcome: &str) {
        self.entries
            .retain(|e| !(e.parsec_id == parsec_id && e.outcome.eq_ignore_ascii_case(outcome)));
    }

    /// An `error` with `code` named `parsec_id`: the books to drop now
    /// (parsec_id, outcome). Books of the market it cannot tell apart are
    /// marked refused and left to [`Awaiting::expired`].
    ///
    /// The error may answer any book of the market waiting here: one in
    /// flight, or one queued to be sent again, whose earlier `subscribe` went
    /// out and timed out but may still be answered (late). So a book is
    /// dropped at once only when it is the market's one waiting book.
    pub(super) fn refused(&mut self, parsec_id: &str, code: ErrorCode) -> Vec<(String, String)> {
        let market = |e: &Entry| e.parsec_id == parsec_id;
        let in_flight = |e: &Entry| market(e) && !e.queued;
        let waiting = self.entries.iter().filter(|e| market(e)).count();
        if code == ErrorCode::MarketNotFound || waiting == 1 {
            // 2002: the whole market is unknown. Otherwise the one book the
            // error can answer, in flight or queued.
            let gone = self
                .entries
                .iter()
                .filter(|e| market(e))
                .map(|e| (e.parsec_id.clone(), e.outcome.clone()))
                .collect();
            self.entries.retain(|e| !market(e));
            return gone;
        }
        for e in &mut self.entries {
            if in_flight(e) && e.refused.is_none() {
                e.refused = Some(code);
            }
        }
        Vec::new()
    }

    /// The books whose wait is over at `now`: `timeout` after their
    /// subscribe, doubled for each time it was sent again. A refused book is
    /// taken off; one to subscribe again stays, queued, until
    /// [`Awaiting::sent`]. A refusal marked on several books of a market
    /// drops only the one still waiting; when more than one still waits
    /// (a snapshot slower than the timeout, a subscribe lost to 3001), or a
    /// book of the market is queued to be sent again (the refusal may have
    /// been the late answer to its earlier subscribe), they are all
    /// subscribed again rather than a valid one dropped.
    pub(super) fn expired(&mut self, now: Instant, timeout: Duration) -> Vec<Expired> {
        let due = |e: &Entry| {
            !e.queued
                && now.saturating_duration_since(e.sent)
                    >= timeout.saturating_mul(1 << e.attempt.min(MAX_DOUBLINGS))
        };
        // Counted before any entry changes: how many books of each market a
        // refusal may have answered (refused and still waiting, or queued to
        // be sent again).
        let refused_in: Vec<usize> = self
            .entries
            .iter()
            .map(|e| {
                self.entries
                    .iter()
                    .filter(|o| o.parsec_id == e.parsec_id && (o.refused.is_some() || o.queued))
                    .count()
            })
            .collect();
        let mut out = Vec::new();
        let mut keep = Vec::with_capacity(self.entries.len());
        for (mut e, refused_in) in self.entries.drain(..).zip(refused_in) {
            if !due(&e) {
                keep.push(e);
                continue;
            }
            let (id, outcome) = (e.parsec_id.clone(), e.outcome.clone());
            match e.refused {
                Some(code) if refused_in == 1 => out.push(Expired::Refused(id, outcome, code)),
                _ => {
                    e.refused = None;
                    e.queued = true;
                    e.attempt = e.attempt.saturating_add(1);
                    out.push(Expired::Unanswered(id, outcome));
                    keep.push(e);
                }
            }
        }
        self.entries = keep;
        out
    }
}

/// Books unsubscribed on this connection, and when the frame went out.
#[derive(Debug, Default)]
pub(super) struct Leaving {
    entries: Vec<(String, String, Instant)>,
}

/// How long a [`Leaving`] entry is kept, in snapshot timeouts: a book whose
/// frames stopped is forgotten after this.
const LEAVING_KEPT: u32 = 3;

impl Leaving {
    /// An `unsubscribe` carrying the book went out at `now`.
    pub(super) fn sent(&mut self, parsec_id: &str, outcome: &str, now: Instant) {
        self.forget(parsec_id, outcome);
        self.entries
            .push((parsec_id.to_owned(), outcome.to_owned(), now));
    }

    /// The book is subscribed again, or a new connection starts.
    pub(super) fn forget(&mut self, parsec_id: &str, outcome: &str) {
        self.entries
            .retain(|(id, o, _)| !(id == parsec_id && o == outcome));
    }

    /// Nothing is leaving (a new connection subscribes only what is kept).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Whether no book is leaving: checked before anything else.
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether an `unsubscribe` went out after `t`: the server, which takes
    /// a connection's frames in order, had not freed that book's slot when
    /// it answered a frame sent at `t`. (Frames sent at the same instant went
    /// out unsubscribes first.)
    pub(super) fn sent_after(&self, t: Instant) -> bool {
        self.entries.iter().any(|(_, _, sent)| *sent > t)
    }

    /// A frame of a book the client does not keep arrived at `now` (its
    /// outcome as the frame spells it): whether its `unsubscribe` must be
    /// sent again (it went out more than `timeout` ago). The entry is taken
    /// off; sending it again puts it back.
    pub(super) fn still_flowing(
        &mut self,
        parsec_id: &str,
        outcome: &str,
        now: Instant,
        timeout: Duration,
    ) -> bool {
        let Some(i) = self
            .entries
            .iter()
            .position(|(id, o, _)| id == parsec_id && o.eq_ignore_ascii_case(outcome))
        else {
            return false;
        };
        if now.saturating_duration_since(self.entries[i].2) < timeout {
            return false;
        }
        self.entries.swap_remove(i);
        true
    }

    /// The books whose `unsubscribe` went out within `window` before `now`
    /// (a 3001 may have refused it).
    pub(super) fn sent_within(&self, now: Instant, window: Duration) -> Vec<(String, String)> {
        self.entries
            .iter()
            .filter(|(_, _, sent)| now.saturating_duration_since(*sent) <= window)
            .map(|(id, outcome, _)| (id.clone(), outcome.clone()))
            .collect()
    }

    /// Forgets books unsubscribed long enough ago that their frames have stopped.
    pub(super) fn expire(&mut self, now: Instant, timeout: Duration) {
        let kept = timeout.saturating_mul(LEAVING_KEPT);
        self.entries
            .retain(|(_, _, sent)| now.saturating_duration_since(*sent) < kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    fn book(id: &str, outcome: &str) -> (String, String) {
        (id.to_owned(), outcome.to_owned())
    }

    #[test]
    fn a_snapshot_confirms_its_book_whatever_the_case_of_the_outcome() {
        let (mut a, t0) = (Awaiting::default(), Instant::now());
        a.sent("kalshi:X", "yes", t0);
        a.synced("kalshi:X", "Yes");
        assert!(a.is_empty());
        assert!(a.refused("kalshi:X", ErrorCode::InvalidOutcome).is_empty());
    }

    #[test]
    fn an_error_naming_a_market_with_one_waiting_book_drops_that_book() {
        let (mut a, t0) = (Awaiting::default(), Instant::now());
        a.sent("kalshi:X", "yes", t0);
        a.sent("kalshi:Y", "maybe", t0);
        let gone = a.refused("kalshi:Y", ErrorCode::InvalidOutcome);
        assert_eq!(gone, vec![book("kalshi:Y", "maybe")]);
        assert_eq!(a.entries.len(), 1, "the other market still waits");
    }

    #[test]
    fn market_not_found_drops_every_waiting_outcome_of_the_market() {
        let (mut a, t0) = (Awaiting::default(), Instant::now());
        a.sent("kalshi:X", "yes", t0);
        a.sent("kalshi:X", "no", t0);
        let gone = a.refused("kalshi:X", ErrorCode::MarketNotFound);
        assert_eq!(gone, vec![book("kalshi:X", "yes"), book("kalshi:X", "no")]);
        assert!(a.is_empty());
    }

    #[test]
    fn an_ambiguous_refusal_is_settled_by_which_snapshots_land_before_the_timeout() {
        let (mut a, t0) = (Awaiting::default(), Instant::now());
        a.sent("kalshi:X", "maybe", t0);
        a.sent("kalshi:X", "yes", t0);
        a.sent("kalshi:Z", "yes", t0);
        assert!(a.refused("kalshi:X", ErrorCode::InvalidOutcome).is_empty());
        a.synced("kalshi:X", "YES");
        assert!(a.expired(t0 + T / 2, T).is_empty());
        let mut expired = a.expired(t0 + T, T);
        expired.sort_by_key(|e| format!("{e:?}"));
        assert_eq!(
            expired,
            vec![
                Expired::Refused("kalshi:X".into(), "maybe".into(), ErrorCode::InvalidOutcome),
                Expired::Unanswered("kalshi:Z".into(), "yes".into()),
            ]
        );
        assert_eq!(
            a.entries.len(),
            1,
            "kalshi:Z stays, queued to be sent again"
        );
    }

    #[test]
    fn a_refusal_that_still_cannot_be_pinned_at_the_timeout_subscribes_again() {
        let (mut a, t0) = (Awaiting::default(), Instant::now());
        a.sent("kalshi:X", "maybe", t0);
        a.sent("kalshi:X", "yes", t0); // valid, but its snapshot is late
        assert!(a.refused("kalshi:X", ErrorCode::InvalidOutcome).is_empty());
        let expired = a.expired(t0 + T, T);
        assert!(
            expired.iter().all(|e| matches!(e, Expired::Unanswered(..))) && expired.len() == 2,
            "{expired:?}"
        );
        // Sent again: the late one syncs, the other is refused alone.
        a.sent("kalshi:X", "maybe", t0 + T);
        a.sent("kalshi:X", "yes", t0 + T);
        a.synced("kalshi:X", "yes");
        assert_eq!(
            a.refused("kalshi:X", ErrorCode::InvalidOutcome),
            vec![book("kalshi:X", "maybe")]
        );
    }

    #[test]
    fn a_late_refusal_is_not_pinned_on_another_outcome_while_a_book_is_queued_again() {
        let (mut a, t0) = (Awaiting::default(), Instant::now());
        a.sent("kalshi:X", "maybe", t0); // refused, but the answer is slow
        assert_eq!(
            a.expired(t0 + T, T),
            vec![Expired::Unanswered("kalshi:X".into(), "maybe".into())]
        );
        // "yes" is valid and in flight. Then the late 2005 for the first
        // `maybe` comes: "yes" is the only book in flight, but the refusal
        // may be (and is) maybe's.
        a.sent("kalshi:X", "yes", t0 + T);
        assert!(
            a.refused("kalshi:X", ErrorCode::InvalidOutcome).is_empty(),
            "not pinned on yes while maybe is queued"
        );
        a.synced("kalshi:X", "yes");
        // Sent again, maybe is refused alone and dropped at once.
        a.sent("kalshi:X", "maybe", t0 + T * 2);
        assert_eq!(
            a.refused("kalshi:X", ErrorCode::InvalidOutcome),
            vec![book("kalshi:X", "maybe")]
        );
        assert!(a.is_empty());
    }

    #[test]
    fn a_late_refusal_and_a_slow_snapshot_subscribe_again_rather_than_drop() {
        let (mut a, t0) = (Awaiting::default(), Instant::now());
        a.sent("kalshi:X", "maybe", t0);
        assert_eq!(a.expired(t0 + T, T).len(), 1, "maybe queued again");
        a.sent("kalshi:X", "yes", t0 + T);
        assert!(a.refused("kalshi:X", ErrorCode::InvalidOutcome).is_empty());
        // yes's snapshot is slower than the timeout: it may still be the
        // refused one or not, so it is subscribed again, not dropped.
        assert_eq!(
            a.expired(t0 + T * 2, T),
            vec![Expired::Unanswered("kalshi:X".into(), "yes".into())]
        );
        // A book queued alone for its market is the only one an error can answer.
        let mut b = Awaiting::default();
        b.sent("kalshi:Y", "maybe", t0);
        assert_eq!(b.expired(t0 + T, T).len(), 1);
        assert_eq!(
            b.refused("kalshi:Y", ErrorCode::InvalidOutcome),
            vec![book("kalshi:Y", "maybe")]
        );
        assert!(b.is_empty());
    }

    #[test]
    fn a_book_never_answered_waits_twice_as_long_each_time_up_to_32_timeouts() {
        let (mut a, t0) = (Awaiting::default(), Instant::now());
        let mut at = t0;
        a.sent("kalshi:X", "yes", at);
        for k in 0..8u32 {
            let wait = T * (1 << k.min(MAX_DOUBLINGS));
            assert!(a
                .expired(at + wait - Duration::from_millis(1), T)
                .is_empty());
            assert_eq!(
                a.expired(at + wait, T),
                vec![Expired::Unanswered("kalshi:X".into(), "yes".into())]
            );
            assert!(
                a.expired(at + wait * 4, T).is_empty(),
                "queued: not due until sent"
            );
            at += wait;
            a.sent("kalshi:X", "yes", at);
        }
    }

    #[test]
    fn sending_again_restarts_the_wait_and_forgetting_ends_it() {
        let (mut a, t0) = (Awaiting::default(), Instant::now());
        a.sent("kalshi:X", "yes", t0);
        a.sent("kalshi:X", "yes", t0 + T / 2);
        assert!(a.expired(t0 + T, T).is_empty(), "the wait restarted");
        assert_eq!(a.entries.len(), 1);
        a.forget("kalshi:X", "yes");
        assert!(a.is_empty());
        a.sent("kalshi:X", "yes", t0);
        a.clear();
        assert!(a.expired(t0 + T, T).is_empty());
    }

    #[test]
    fn frames_of_a_left_book_after_the_timeout_ask_for_another_unsubscribe() {
        let (mut l, t0) = (Leaving::default(), Instant::now());
        l.sent("kalshi:X", "yes", t0);
        assert!(
            !l.still_flowing("kalshi:X", "YES", t0 + T / 2, T),
            "in flight"
        );
        assert!(
            !l.still_flowing("kalshi:Y", "yes", t0 + T, T),
            "not leaving"
        );
        assert!(l.still_flowing("kalshi:X", "Yes", t0 + T, T));
        assert!(l.is_empty(), "taken off until sent again");
        l.sent("kalshi:X", "yes", t0);
        l.expire(t0 + T * 2, T);
        assert!(!l.is_empty());
        l.expire(t0 + T * 3, T);
        assert!(l.is_empty(), "forgotten once its frames surely stopped");
        l.sent("kalshi:X", "yes", t0);
        l.forget("kalshi:X", "yes");
        assert!(l.is_empty());
    }

    #[test]
    fn the_unsubscribes_a_3001_may_have_refused_are_those_sent_within_its_window() {
        let (mut l, t0) = (Leaving::default(), Instant::now());
        let second = Duration::from_secs(1);
        l.sent("kalshi:X", "yes", t0);
        l.sent("kalshi:Y", "no", t0 + second / 2);
        assert_eq!(
            l.sent_within(t0 + second, second),
            vec![book("kalshi:X", "yes"), book("kalshi:Y", "no")]
        );
        assert_eq!(
            l.sent_within(t0 + second * 3 / 2 + Duration::from_millis(1), second),
            Vec::<(String, String)>::new()
        );
        assert_eq!(
            l.sent_within(t0 + second * 7 / 5, second),
            vec![book("kalshi:Y", "no")]
        );
    }
}
