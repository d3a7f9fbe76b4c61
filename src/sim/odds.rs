//! The simulator's sportsbook: events of one sport with quotes from a few
//! bookmakers whose American odds take a seeded random walk, and the rows
//! of PROTOCOL.md B2 (flat or grouped) that describe them.

use std::fmt::Write as _;

use crate::encode::push_json_str;

/// Bookmakers of the simulated sportsbook.
pub(crate) const BOOKMAKERS: [&str; 4] = ["draftkings", "fanduel", "pinnacle", "betmgm"];
const TEAMS: [&str; 8] = [
    "Boston Celtics",
    "New York Knicks",
    "Denver Nuggets",
    "Miami Heat",
    "Golden State Warriors",
    "Los Angeles Lakers",
    "Milwaukee Bucks",
    "Phoenix Suns",
];
const PLAYERS: [&str; 4] = [
    "Jayson Tatum",
    "Jalen Brunson",
    "Nikola Jokic",
    "Jimmy Butler",
];

/// One event (a game).
#[derive(Debug, Clone)]
pub(crate) struct SimEvent {
    pub(crate) id: String,
    pub(crate) home: &'static str,
    pub(crate) away: &'static str,
    pub(crate) player: &'static str,
    pub(crate) commence_time: String,
    /// In play (served on the `/ws/live/` paths too).
    pub(crate) live: bool,
}

/// What a quote prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuoteKind {
    HomeMl,
    AwayMl,
    Over,
    Under,
    PropOver,
    PropUnder,
}

/// One quote of the sportsbook.
#[derive(Debug, Clone)]
pub(crate) struct SimQuote {
    pub(crate) event: usize,
    pub(crate) bookmaker: usize,
    pub(crate) kind: QuoteKind,
    pub(crate) price: i32,
    /// Epoch ms of the last move.
    pub(crate) updated_ms: u64,
    /// Offered now; a quote taken off the board is sent as a `remove` row
    /// (its whole group: event, bookmaker, game or prop) until it is back.
    pub(crate) listed: bool,
}

/// Total line of every game, and the player-points line.
const TOTAL: &str = "219.5";
const PROP_LINE: &str = "27.5";

impl SimQuote {
    pub(crate) fn market(&self) -> &'static str {
        match self.kind {
            QuoteKind::HomeMl | QuoteKind::AwayMl => "h2h",
            QuoteKind::Over | QuoteKind::Under => "totals",
            QuoteKind::PropOver | QuoteKind::PropUnder => "player_points",
        }
    }

    pub(crate) fn is_prop(&self) -> bool {
        matches!(self.kind, QuoteKind::PropOver | QuoteKind::PropUnder)
    }
}

/// American odds from a probability in (0, 1).
fn odds_of(p: f64) -> i32 {
    let o = if p < 0.5 {
        100.0 * (1.0 - p) / p
    } else {
        -100.0 * p / (1.0 - p)
    };
    let o = o.round() as i32;
    if o > -100 && o < 100 {
        100
    } else {
        o
    }
}

fn prob_of(o: i32) -> f64 {
    let o = f64::from(o);
    if o > 0.0 {
        100.0 / (o + 100.0)
    } else {
        -o / (-o + 100.0)
    }
}

/// The events and quotes of one sport.
#[derive(Debug, Clone)]
pub(crate) struct OddsWorld {
    pub(crate) events: Vec<SimEvent>,
    pub(crate) quotes: Vec<SimQuote>,
}

impl OddsWorld {
    pub(crate) fn new(rng: &mut fastrand::Rng, events: usize, now_ms: u64) -> OddsWorld {
        let mut world = OddsWorld {
            events: Vec::new(),
            quotes: Vec::new(),
        };
        for e in 0..events {
            let (home, away) = (
                TEAMS[(2 * e + 1) % TEAMS.len()],
                TEAMS[(2 * e) % TEAMS.len()],
            );
            world.events.push(SimEvent {
                id: format!(
                    "2026-05-{:02}_{}_{}",
                    13 + e,
                    away.replace(' ', "_"),
                    home.replace(' ', "_")
                ),
                home,
                away,
                player: PLAYERS[e % PLAYERS.len()],
                commence_time: format!("2026-05-{:02}T23:30:00Z", 13 + e),
                live: e % 2 == 0,
            });
            let fair = 0.3 + 0.4 * rng.f64();
            for b in 0..BOOKMAKERS.len() {
                let vig = 0.02 + 0.02 * rng.f64();
                for (kind, p) in [
                    (QuoteKind::HomeMl, fair + vig / 2.0),
                    (QuoteKind::AwayMl, 1.0 - fair + vig / 2.0),
                    (QuoteKind::Over, 0.5 + vig / 2.0),
                    (QuoteKind::Under, 0.5 + vig / 2.0),
                    (QuoteKind::PropOver, 0.52),
                    (QuoteKind::PropUnder, 0.5),
                ] {
                    world.quotes.push(SimQuote {
                        event: e,
                        bookmaker: b,
                        kind,
                        price: odds_of(p.clamp(0.02, 0.98)),
                        updated_ms: now_ms,
                        listed: true,
                    });
                }
            }
        }
        world
    }

    /// Takes the game quotes of `event_id` at `bookmaker` off the board;
    /// their indexes (none if there is no such event or bookmaker, or they
    /// are off already).
    pub(crate) fn take_off(&mut self, event_id: &str, bookmaker: &str, now_ms: u64) -> Vec<usize> {
        let event = self.events.iter().position(|e| e.id == event_id);
        let bookmaker = BOOKMAKERS.iter().position(|b| *b == bookmaker);
        let (Some(event), Some(bookmaker)) = (event, bookmaker) else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        self.set_listed((event, bookmaker, false), false, now_ms, &mut taken);
        taken
    }

    /// Lists or delists every quote of `group`, pushing the indexes of those
    /// that changed onto `out`.
    fn set_listed(
        &mut self,
        group: (usize, usize, bool),
        listed: bool,
        now_ms: u64,
        out: &mut Vec<usize>,
    ) {
        for i in 0..self.quotes.len() {
            if self.group_of(i) == group && self.quotes[i].listed != listed {
                let q = &mut self.quotes[i];
                q.listed = listed;
                q.updated_ms = now_ms;
                out.push(i);
            }
        }
    }

    /// The group of quote `i` (event, bookmaker, prop): the quotes one
    /// grouped row carries, and one `remove` row takes off.
    fn group_of(&self, i: usize) -> (usize, usize, bool) {
        let q = &self.quotes[i];
        (q.event, q.bookmaker, q.is_prop())
    }

    /// Moves `n` random listed quotes by up to 3 points of probability,
    /// and one step in ten takes a random quote's group off the board, or
    /// puts back the one that is off (as a sportsbook suspends a market);
    /// returns the indexes of every quote that changed.
    pub(crate) fn step(
        &mut self,
        rng: &mut fastrand::Rng,
        n: usize,
        now_ms: u64,
        out: &mut Vec<usize>,
    ) {
        out.clear();
        if self.quotes.is_empty() {
            return;
        }
        if rng.u8(0..10) == 0 {
            // The group off the board comes back; else a random one goes
            // (so the walk keeps at most one off, one more if
            // `Simulator::odds_off_quietly` took one: no drift to empty).
            let pick = match self.quotes.iter().position(|q| !q.listed) {
                Some(off) => off,
                None => rng.usize(0..self.quotes.len()),
            };
            let listed = !self.quotes[pick].listed;
            self.set_listed(self.group_of(pick), listed, now_ms, out);
        }
        for _ in 0..n {
            let i = rng.usize(0..self.quotes.len());
            let q = &mut self.quotes[i];
            if !q.listed {
                continue;
            }
            let p = (prob_of(q.price) + (rng.f64() - 0.5) * 0.06).clamp(0.03, 0.97);
            let price = odds_of(p);
            if price != q.price {
                q.price = price;
                q.updated_ms = now_ms;
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
    }
}

/// Which quotes a connection wants (connect-time filters and `subscribe`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub(crate) event_id: Option<String>,
    pub(crate) bookmakers: Vec<String>,
    pub(crate) markets: Vec<String>,
    /// `game`, `prop`.
    pub(crate) kinds: Vec<String>,
    pub(crate) live_only: bool,
}

impl Filter {
    pub(crate) fn wants(&self, world: &OddsWorld, q: &SimQuote) -> bool {
        let e = &world.events[q.event];
        (!self.live_only || e.live)
            && self.event_id.as_ref().is_none_or(|id| *id == e.id)
            && (self.bookmakers.is_empty()
                || self.bookmakers.iter().any(|b| b == BOOKMAKERS[q.bookmaker]))
            && (self.markets.is_empty() || self.markets.iter().any(|m| m == q.market()))
            && (self.kinds.is_empty()
                || self
                    .kinds
                    .iter()
                    .any(|k| k == if q.is_prop() { "prop" } else { "game" }))
    }
}

/// Rows written by [`write_rows`], and whether some were left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    /// Rows in the array (the frame's `count`).
    pub(crate) rows: usize,
    /// Rows past `max_rows` were left out.
    pub(crate) truncated: bool,
}

/// Writes the rows of `quotes` (indexes into `world`) as a JSON array, at
/// most `max_rows` of them (PROTOCOL.md B2 caps `initial_state` at 500
/// rows, not quotes: a grouped row carries several quotes).
/// Flat: one row per quote. Grouped: one row per (event, bookmaker, game or
/// prop), with only the prices in `quotes` when `diff`, all of them otherwise.
/// Either shape: one bare `remove` row per group with quotes off the board.
pub(crate) fn write_rows(
    out: &mut String,
    world: &OddsWorld,
    quotes: &[usize],
    grouped: bool,
    diff: bool,
    max_rows: usize,
) -> Written {
    out.push('[');
    let mut written = Written {
        rows: 0,
        truncated: false,
    };
    // Opens the next row (its separator), or says there is no room for it.
    let mut sep = |out: &mut String| {
        if written.rows == max_rows {
            written.truncated = true;
            return false;
        }
        if written.rows > 0 {
            out.push(',');
        }
        written.rows += 1;
        true
    };
    // Quotes off the board: one bare `remove` row per group, in either
    // shape (as the service's own example of a removal: no prices, no
    // market), which takes the whole group off a client's board.
    let mut removed: Vec<(usize, usize, bool)> = Vec::new();
    for &i in quotes.iter().filter(|&&i| !world.quotes[i].listed) {
        let g = world.group_of(i);
        if !removed.contains(&g) {
            removed.push(g);
        }
    }
    for (event, bookmaker, prop) in removed {
        if !sep(out) {
            break;
        }
        let _ = write!(
            out,
            "{{\"kind\":\"{}\",\"bookmaker\":\"{}\",\"event_id\":",
            if prop { "prop" } else { "game" },
            BOOKMAKERS[bookmaker]
        );
        push_json_str(out, &world.events[event].id);
        out.push_str(",\"action\":\"remove\",\"removal_reason\":\"suspended\"}");
    }
    let listed: Vec<usize> = quotes
        .iter()
        .copied()
        .filter(|&i| world.quotes[i].listed)
        .collect();
    let quotes = &listed[..];
    if !grouped {
        for &i in quotes {
            let q = &world.quotes[i];
            let e = &world.events[q.event];
            if !sep(out) {
                break;
            }
            out.push_str("{\"event_id\":");
            push_json_str(out, &e.id);
            let _ = write!(
                out,
                ",\"bookmaker\":\"{}\",\"market_key\":\"{}\",\"outcome\":",
                BOOKMAKERS[q.bookmaker],
                q.market()
            );
            let outcome = match q.kind {
                QuoteKind::HomeMl => e.home.to_owned(),
                QuoteKind::AwayMl => e.away.to_owned(),
                QuoteKind::Over => "Over".into(),
                QuoteKind::Under => "Under".into(),
                QuoteKind::PropOver => format!("Over {}", e.player),
                QuoteKind::PropUnder => format!("Under {}", e.player),
            };
            push_json_str(out, &outcome);
            let _ = write!(out, ",\"price_american\":{}", q.price);
            match q.kind {
                QuoteKind::Over | QuoteKind::Under => out.push_str(&format!(",\"point\":{TOTAL}")),
                QuoteKind::PropOver | QuoteKind::PropUnder => {
                    out.push_str(&format!(",\"point\":{PROP_LINE}"))
                }
                _ => {}
            }
            let _ = write!(out, ",\"timestamp\":{}}}", q.updated_ms);
        }
    } else {
        // Group by (event, bookmaker, prop?), in first-seen order.
        let mut groups: Vec<(usize, usize, bool)> = Vec::new();
        for &i in quotes {
            let q = &world.quotes[i];
            let g = (q.event, q.bookmaker, q.is_prop());
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        for (event, bookmaker, prop) in groups {
            let e = &world.events[event];
            let included = |kind: QuoteKind| {
                world.quotes.iter().enumerate().find(|(i, q)| {
                    q.event == event
                        && q.bookmaker == bookmaker
                        && q.kind == kind
                        && (!diff || quotes.contains(i))
                })
            };
            let price = |kind: QuoteKind| included(kind).map(|(_, q)| q.price);
            let last = world
                .quotes
                .iter()
                .filter(|q| q.event == event && q.bookmaker == bookmaker && q.is_prop() == prop)
                .map(|q| q.updated_ms)
                .max()
                .unwrap_or(0);
            if !sep(out) {
                break;
            }
            let _ = write!(
                out,
                "{{\"kind\":\"{}\",\"event_id\":",
                if prop { "prop" } else { "game" }
            );
            push_json_str(out, &e.id);
            let _ = write!(out, ",\"bookmaker\":\"{}\"", BOOKMAKERS[bookmaker]);
            if prop {
                out.push_str(",\"player\":");
                push_json_str(out, e.player);
                let _ = write!(
                    out,
                    ",\"market_key\":\"player_points\",\"line\":{PROP_LINE}"
                );
                for (name, kind) in [
                    ("over_price", QuoteKind::PropOver),
                    ("under_price", QuoteKind::PropUnder),
                ] {
                    if let Some(p) = price(kind) {
                        let _ = write!(out, ",\"{name}\":{p}");
                    }
                }
            } else {
                out.push_str(",\"home_team\":");
                push_json_str(out, e.home);
                out.push_str(",\"away_team\":");
                push_json_str(out, e.away);
                if !diff {
                    out.push_str(",\"commence_time\":");
                    push_json_str(out, &e.commence_time);
                    let _ = write!(out, ",\"home_spread\":-3.5,\"away_spread\":3.5");
                }
                for (name, kind) in [
                    ("home_ml", QuoteKind::HomeMl),
                    ("away_ml", QuoteKind::AwayMl),
                ] {
                    if let Some(p) = price(kind) {
                        let _ = write!(out, ",\"{name}\":{p}");
                    }
                }
                if price(QuoteKind::Over).is_some() || price(QuoteKind::Under).is_some() {
                    let _ = write!(out, ",\"total\":{TOTAL}");
                }
                for (name, kind) in [
                    ("over_price", QuoteKind::Over),
                    ("under_price", QuoteKind::Under),
                ] {
                    if let Some(p) = price(kind) {
                        let _ = write!(out, ",\"{name}\":{p}");
                    }
                }
            }
            let _ = write!(
                out,
                ",\"last_update\":{last},\"available\":true,\"action\":\"upsert\"}}"
            );
        }
    }
    out.push(']');
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odds::OddsBoard;
    use crate::{Frame, FrameParser};

    fn board_of(world: &OddsWorld, grouped: bool) -> OddsBoard {
        let all: Vec<usize> = (0..world.quotes.len()).collect();
        let mut rows = String::new();
        write_rows(&mut rows, world, &all, grouped, false, usize::MAX);
        let mut msg = format!(r#"{{"type":"initial_state","sport_key":"basketball_nba","timestamp":1779999999,"count":{},"data":{rows}}}"#, all.len()).into_bytes();
        let mut board = OddsBoard::new();
        let mut parser = FrameParser::new();
        let Ok(Frame::InitialState(s)) = parser.parse(&mut msg) else {
            panic!("the rows parse")
        };
        assert_eq!(s.rejected_rows, 0);
        board.replace(&s);
        board
    }

    #[test]
    fn both_row_shapes_describe_the_same_quotes() {
        let world = OddsWorld::new(&mut fastrand::Rng::with_seed(3), 3, 1_779_999_999_000);
        let (flat, grouped) = (board_of(&world, false), board_of(&world, true));
        assert_eq!(flat.len(), world.quotes.len());
        assert_eq!(grouped.len(), world.quotes.len());
        for q in flat.quotes() {
            let g = grouped.get(
                &q.key.event_id,
                &q.key.bookmaker,
                &q.key.market_key,
                &q.key.outcome,
                q.key.point,
            );
            assert_eq!(g.map(|g| g.price), Some(q.price), "{:?}", q.key);
        }
    }

    #[test]
    fn a_cap_counts_rows_not_quotes() {
        let world = OddsWorld::new(&mut fastrand::Rng::with_seed(3), 3, 1_779_999_999_000);
        let all: Vec<usize> = (0..world.quotes.len()).collect();
        for grouped in [false, true] {
            let mut rows = String::new();
            let full = write_rows(&mut rows, &world, &all, grouped, false, usize::MAX);
            assert!(!full.truncated && full.rows > 3);
            // A grouped row carries several quotes: fewer rows than quotes.
            assert_eq!(full.rows < all.len(), grouped);
            rows.clear();
            let cut = write_rows(&mut rows, &world, &all, grouped, false, 3);
            assert_eq!((cut.rows, cut.truncated), (3, true));
            let mut msg = format!(r#"{{"type":"initial_state","data":{rows}}}"#).into_bytes();
            let mut parser = FrameParser::new();
            let Ok(Frame::InitialState(s)) = parser.parse(&mut msg) else {
                panic!("the rows parse: {rows}")
            };
            assert_eq!(rows.matches("\"event_id\"").count(), 3, "{rows}");
            assert!(s.rows.len() >= 3);
            rows.clear();
            let exact = write_rows(&mut rows, &world, &all, grouped, false, full.rows);
            assert_eq!((exact.rows, exact.truncated), (full.rows, false));
        }
    }

    #[test]
    fn a_group_taken_off_goes_as_one_remove_row_and_comes_back_in_both_shapes() {
        let mut rng = fastrand::Rng::with_seed(9);
        let mut world = OddsWorld::new(&mut rng, 3, 1_779_999_999_000);
        let all = world.quotes.len();
        let mut moved = Vec::new();
        // Step until a group goes off, then until it is back.
        let mut off = None;
        for t in 0..10_000 {
            world.step(&mut rng, 0, t, &mut moved);
            if !moved.is_empty() {
                off = Some(moved.clone());
                break;
            }
        }
        let off = off.expect("a group went off");
        assert!(off.iter().all(|&i| !world.quotes[i].listed));
        assert_eq!(
            off.len(),
            if world.quotes[off[0]].is_prop() { 2 } else { 4 }
        );
        for grouped in [false, true] {
            let mut parser = FrameParser::new();
            let mut board = {
                let mut w = world.clone();
                w.quotes.iter_mut().for_each(|q| q.listed = true);
                board_of(&w, grouped)
            };
            assert_eq!(board.len(), all);
            let mut rows = String::new();
            write_rows(&mut rows, &world, &off, grouped, false, usize::MAX);
            assert_eq!(rows.matches("\"action\":\"remove\"").count(), 1, "{rows}");
            let mut msg = format!(r#"{{"type":"odds_update","sport_key":"basketball_nba","timestamp":1780000002,"count":1,"data":{rows}}}"#).into_bytes();
            let Ok(Frame::OddsUpdate(u)) = parser.parse(&mut msg) else {
                panic!("parses: {rows}")
            };
            board.update(&u);
            assert_eq!(board.len(), all - off.len(), "{rows}");
            // Listed again: the group's rows restore it.
            let mut back = world.clone();
            for &i in &off {
                back.quotes[i].listed = true;
            }
            let mut rows = String::new();
            write_rows(&mut rows, &back, &off, grouped, false, usize::MAX);
            let mut msg = format!(r#"{{"type":"odds_update","data":{rows}}}"#).into_bytes();
            let Ok(Frame::OddsUpdate(u)) = parser.parse(&mut msg) else {
                panic!("parses: {rows}")
            };
            board.update(&u);
            assert_eq!(board.len(), all);
        }
    }

    #[test]
    fn the_walk_keeps_odds_valid() {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut world = OddsWorld::new(&mut rng, 4, 0);
        let mut moved = Vec::new();
        for t in 0..2000 {
            world.step(&mut rng, 5, t, &mut moved);
            assert!(world
                .quotes
                .iter()
                .all(|q| q.price <= -100 || q.price >= 100));
        }
    }
}
