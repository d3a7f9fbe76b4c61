use super::*;
use crate::{Frame, FrameParser};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/parlay/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn apply(board: &mut OddsBoard, parser: &mut FrameParser, mut msg: Vec<u8>) -> Vec<Move> {
    match parser.parse(&mut msg).unwrap() {
        Frame::InitialState(s) => {
            board.replace(&s);
            Vec::new()
        }
        Frame::OddsUpdate(u) => board.update(&u).to_vec(),
        other => panic!("not odds: {other:?}"),
    }
}

const EVENT: &str = "2026-05-13_Boston_Celtics_New_York_Knicks";

fn line(text: &str) -> Option<Line> {
    Some(Line::parse(text.as_bytes()).unwrap())
}

#[test]
fn flat_rows_are_one_quote_each() {
    let mut board = OddsBoard::new();
    apply(
        &mut board,
        &mut FrameParser::new(),
        fixture("initial_state_flat.json"),
    );
    assert_eq!(board.len(), 3);
    let q = board
        .get(EVENT, "fanduel", "spreads", "New York Knicks", line("3.5"))
        .unwrap();
    assert_eq!(q.price.get(), 105);
    assert_eq!(
        q.updated_ms,
        Some(1_779_999_999_000),
        "the frame's timestamp when the row has none"
    );
    assert!(board
        .get(
            EVENT,
            "pinnacle",
            "player_points",
            "Over Jayson Tatum",
            line("27.5")
        )
        .is_some());
}

#[test]
fn grouped_rows_become_one_quote_per_price() {
    let mut board = OddsBoard::new();
    apply(
        &mut board,
        &mut FrameParser::new(),
        fixture("initial_state_grouped.json"),
    );
    let home = board
        .get(EVENT, "draftkings", "h2h", "New York Knicks", None)
        .unwrap();
    let away = board
        .get(EVENT, "draftkings", "h2h", "Boston Celtics", None)
        .unwrap();
    assert_eq!((home.price.get(), away.price.get()), (130, -150));
    assert_eq!(home.updated_ms, Some(1_779_999_990_000), "last_update");
    let over = board
        .get(
            EVENT,
            "fanduel",
            "player_points",
            "Over Jayson Tatum",
            line("27.5"),
        )
        .unwrap();
    let under = board
        .get(
            EVENT,
            "fanduel",
            "player_points",
            "Under Jayson Tatum",
            line("27.5"),
        )
        .unwrap();
    assert_eq!((over.price.get(), under.price.get()), (-115, -105));
    // Spread and total lines without prices make no quote.
    assert_eq!(board.len(), 4);
}

#[test]
fn both_shapes_of_the_same_quote_land_on_one_key() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    apply(&mut board, &mut p, fixture("initial_state_grouped.json"));
    let flat = format!(
        r#"{{"type":"odds_update","timestamp":1780000000,"data":[{{"event_id":"{EVENT}","bookmaker":"draftkings","market_key":"h2h","outcome":"Boston Celtics","price_american":-155}}]}}"#
    );
    let moves = apply(&mut board, &mut p, flat.into_bytes());
    assert_eq!((board.len(), moves.len()), (4, 1));
    assert_eq!(moves[0].old.map(AmericanOdds::get), Some(-150));
}

#[test]
fn diff_rows_update_only_the_prices_they_carry() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    apply(&mut board, &mut p, fixture("initial_state_grouped.json"));
    let diff = format!(
        r#"{{"type":"odds_update","timestamp":1780000000,"data":[{{"kind":"game","event_id":"{EVENT}","bookmaker":"draftkings","home_team":"New York Knicks","away_team":"Boston Celtics","away_ml":-170}}]}}"#
    );
    let moves = apply(&mut board, &mut p, diff.into_bytes());
    assert_eq!(moves.len(), 1);
    assert_eq!(
        board
            .get(EVENT, "draftkings", "h2h", "Boston Celtics", None)
            .unwrap()
            .price
            .get(),
        -170
    );
    assert_eq!(
        board
            .get(EVENT, "draftkings", "h2h", "New York Knicks", None)
            .unwrap()
            .price
            .get(),
        130
    );
}

#[test]
fn remove_rows_remove_what_they_name() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    apply(&mut board, &mut p, fixture("initial_state_grouped.json"));
    apply(&mut board, &mut p, fixture("odds_update_remove.json"));
    // The game quotes of draftkings are gone; fanduel's prop stays.
    assert!(board
        .get(EVENT, "draftkings", "h2h", "Boston Celtics", None)
        .is_none());
    assert_eq!(board.len(), 2);
    assert_eq!(board.counters().removals, 2);
    let named = format!(
        r#"{{"type":"odds_update","data":[{{"event_id":"{EVENT}","bookmaker":"fanduel","market_key":"player_points","player":"Jayson Tatum","line":27.5,"over_price":-115,"action":"remove"}}]}}"#
    );
    apply(&mut board, &mut p, named.into_bytes());
    assert_eq!(board.len(), 1, "only the Over was named");
}

#[test]
fn a_quote_moved_then_removed_in_one_frame_does_not_lend_its_move_to_a_new_quote() {
    // One frame: A moves -110 -> -150, A is removed, B is added. B must not
    // take A's slot within the frame, or the alert check pairs A's old price
    // with B (a 7.6-point "move" of a quote that had none).
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    let row = |outcome: &str, price: i32, action: &str| {
        format!(
            r#"{{"event_id":"e","bookmaker":"b","market_key":"h2h","outcome":"{outcome}","price_american":{price}{action}}}"#
        )
    };
    let frame = |rows: &[String]| {
        format!(r#"{{"type":"odds_update","data":[{}]}}"#, rows.join(",")).into_bytes()
    };
    apply(&mut board, &mut p, frame(&[row("A", -110, "")]));
    let moves = apply(
        &mut board,
        &mut p,
        frame(&[
            row("A", -150, ""),
            row("A", -150, r#","action":"remove""#),
            row("B", -150, ""),
        ]),
    );
    let mut fired = Vec::new();
    alert::EdgeAlerts::new(0.02).check(&board, &moves, &mut fired);
    assert!(fired.is_empty(), "{fired:?}");
    assert_eq!(moves.len(), 2, "A's move and B's arrival");
    assert!(board.quote_of(&moves[0]).is_none(), "A is gone");
    let b = board.quote_of(&moves[1]).unwrap();
    assert_eq!((&*b.key.outcome, moves[1].old), ("B", None));
    // The slot A freed is reused from the next frame on.
    apply(&mut board, &mut p, frame(&[row("C", 120, "")]));
    assert_eq!(board.len(), 2);
    assert_eq!(
        board.get("e", "b", "h2h", "C", None).unwrap().price.get(),
        120
    );
}

#[test]
fn the_best_price_is_the_lowest_implied_probability_across_books() {
    let mut board = OddsBoard::new();
    let rows: Vec<String> = [("a", -120), ("b", -105), ("c", 110), ("d", -110)]
        .iter()
        .map(|(book, price)| format!(r#"{{"event_id":"e","bookmaker":"{book}","market_key":"h2h","outcome":"X","price_american":{price}}}"#))
        .collect();
    let msg = format!(r#"{{"type":"initial_state","data":[{}]}}"#, rows.join(","));
    apply(&mut board, &mut FrameParser::new(), msg.into_bytes());
    let best = board.best("e", "h2h", "X", None).unwrap();
    assert_eq!((&*best.key.bookmaker, best.price.get()), ("c", 110));
    assert_eq!(board.best_all().len(), 1);
}

#[test]
fn american_odds_convert_exactly_both_ways() {
    for o in (-2000..=-100).chain(100..=2000) {
        let odds = AmericanOdds::new(o).unwrap();
        let p = odds.implied();
        assert!(p.units() > 0 && u64::from(p.units()) < UNITS_PER_ONE, "{o}");
        assert_eq!(
            AmericanOdds::from_probability(p).get(),
            if o == -100 { 100 } else { o },
            "round trip of {o}"
        );
    }
    assert_eq!(
        AmericanOdds::new(100).unwrap().implied(),
        AmericanOdds::new(-100).unwrap().implied()
    );
    assert!(
        AmericanOdds::new(-150).unwrap().implied() > AmericanOdds::new(-110).unwrap().implied()
    );
    assert_eq!(AmericanOdds::new(99), Err(OddsError(99)));
    assert_eq!(
        OddsError(99).to_string(),
        "99 is not American odds (must be <= -100 or >= +100)"
    );
}

#[test]
fn invalid_odds_are_counted_and_skipped() {
    let mut board = OddsBoard::new();
    let msg = br#"{"type":"odds_update","data":[{"event_id":"e","bookmaker":"b","market_key":"h2h","outcome":"X","price_american":50}]}"#;
    apply(&mut board, &mut FrameParser::new(), msg.to_vec());
    assert_eq!((board.len(), board.counters().invalid_odds), (0, 1));
}

#[test]
fn alerts_fire_at_the_threshold_and_not_below() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    let alerts = EdgeAlerts::new(0.02);
    let mut fired = Vec::new();
    for price in [-110, -112, -125, 150] {
        let msg = format!(
            r#"{{"type":"odds_update","data":[{{"event_id":"e","bookmaker":"b","market_key":"h2h","outcome":"X","price_american":{price}}}]}}"#
        );
        let moves = apply(&mut board, &mut p, msg.into_bytes());
        alerts.check(&board, &moves, &mut fired);
    }
    // -110 -> -112 moves 0.45 points: no alert; -112 -> -125 moves 2.7; -125 -> +150 moves -15.6.
    let seen: Vec<(i32, i32)> = fired.iter().map(|a| (a.old.get(), a.new.get())).collect();
    assert_eq!(seen, vec![(-112, -125), (-125, 150)]);
    assert!(fired[1].moved() < -0.15);
}

#[test]
fn malformed_rows_are_rejected_and_the_valid_ones_land() {
    let mut board = OddsBoard::new();
    let msg = br#"{"type":"odds_update","data":[
        {"event_id":"e","bookmaker":"a","market_key":"h2h","outcome":"X","price_american":-110},
        {"bookmaker":"b","market_key":"h2h","outcome":"X","price_american":-120},
        {"event_id":"e","bookmaker":"c","market_key":"h2h","outcome":"X","price_american":"-130"},
        {"event_id":"e","bookmaker":"d","market_key":"h2h","outcome":"X","price_american":40},
        {"event_id":"e","bookmaker":"e","market_key":"h2h","outcome":"X","price_american":120}]}"#;
    let mut buf = msg.to_vec();
    let mut p = FrameParser::new();
    let Ok(Frame::OddsUpdate(u)) = p.parse(&mut buf) else {
        panic!()
    };
    assert_eq!(u.rejected_rows, 2, "no event_id; a string price");
    board.update(&u);
    assert_eq!((board.len(), board.counters().invalid_odds), (2, 1));
    assert!(
        board.get("e", "a", "h2h", "X", None).is_some()
            && board.get("e", "e", "h2h", "X", None).is_some()
    );
}

fn grouped_prop(player: &str, line: &str, over: i32, under: i32) -> String {
    format!(
        r#"{{"kind":"prop","event_id":"{EVENT}","bookmaker":"fanduel","player":"{player}","market_key":"player_points","line":{line},"over_price":{over},"under_price":{under}}}"#
    )
}

#[test]
fn a_players_remove_row_without_a_line_removes_only_that_players_quotes() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    let rows = [
        grouped_prop("Jayson Tatum", "27.5", -115, -105),
        grouped_prop("Jalen Brunson", "25.5", -110, -110),
    ];
    let msg = format!(r#"{{"type":"odds_update","data":[{}]}}"#, rows.join(","));
    apply(&mut board, &mut p, msg.into_bytes());
    assert_eq!(board.len(), 4);
    let remove = format!(
        r#"{{"type":"odds_update","data":[{{"kind":"prop","event_id":"{EVENT}","bookmaker":"fanduel","player":"Jayson Tatum","market_key":"player_points","action":"remove"}}]}}"#
    );
    apply(&mut board, &mut p, remove.into_bytes());
    assert_eq!(board.len(), 2, "Brunson's two quotes stay");
    let brunson = |side: &str| {
        board
            .get(
                EVENT,
                "fanduel",
                "player_points",
                &format!("{side} Jalen Brunson"),
                line("25.5"),
            )
            .map(|q| q.price.get())
    };
    assert_eq!(
        (brunson("Over"), brunson("Under")),
        (Some(-110), Some(-110))
    );
}

#[test]
fn available_false_without_prices_takes_the_quotes_it_names_off() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    let game = format!(
        r#"{{"type":"odds_update","data":[{{"kind":"game","event_id":"{EVENT}","bookmaker":"draftkings","home_team":"Boston Celtics","away_team":"New York Knicks","home_ml":-150,"away_ml":130}}]}}"#
    );
    apply(&mut board, &mut p, game.into_bytes());
    assert_eq!(board.len(), 2);
    let gone = format!(
        r#"{{"type":"odds_update","data":[{{"kind":"game","event_id":"{EVENT}","bookmaker":"draftkings","home_team":"Boston Celtics","away_team":"New York Knicks","available":false}}]}}"#
    );
    apply(&mut board, &mut p, gone.into_bytes());
    assert_eq!(board.len(), 0, "both moneylines are unavailable");
    assert_eq!(board.counters().empty_rows, 0);
}

fn grouped_total(total: Option<&str>, over: i32, under: i32, market: Option<&str>) -> String {
    let total = total.map_or(String::new(), |t| format!(r#","total":{t}"#));
    let market = market.map_or(String::new(), |m| {
        format!(r#","market_key":"{m}","line":{}"#, "219.5")
    });
    format!(
        r#"{{"type":"odds_update","data":[{{"kind":"game","event_id":"{EVENT}","bookmaker":"draftkings","home_team":"Boston Celtics","away_team":"New York Knicks"{total}{market},"over_price":{over},"under_price":{under}}}]}}"#
    )
}

#[test]
fn a_grouped_row_at_a_new_line_replaces_the_old_lines_quotes() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    apply(
        &mut board,
        &mut p,
        grouped_total(Some("219.5"), -110, -110, None).into_bytes(),
    );
    apply(
        &mut board,
        &mut p,
        grouped_total(Some("220.5"), -105, -115, None).into_bytes(),
    );
    let at = |board: &OddsBoard, side: &str, l: &str| {
        board
            .get(EVENT, "draftkings", "totals", side, line(l))
            .map(|q| q.price.get())
    };
    assert_eq!(
        (at(&board, "Over", "219.5"), at(&board, "Under", "219.5")),
        (None, None)
    );
    assert_eq!(
        (at(&board, "Over", "220.5"), at(&board, "Under", "220.5")),
        (Some(-105), Some(-115))
    );
    assert_eq!(board.len(), 2);
    // A diff row that leaves the unchanged line out updates the quotes
    // where they are, not at no line.
    apply(
        &mut board,
        &mut p,
        grouped_total(None, -120, -100, None).into_bytes(),
    );
    assert_eq!(
        (at(&board, "Over", "220.5"), at(&board, "Under", "220.5")),
        (Some(-120), Some(-100))
    );
    assert_eq!(board.len(), 2);
    assert!(board
        .get(EVENT, "draftkings", "totals", "Over", None)
        .is_none());
}

#[test]
fn alternate_lines_of_grouped_rows_stand_side_by_side() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    let alt = |l: &str, over: i32| {
        format!(
            r#"{{"type":"odds_update","data":[{{"kind":"prop","event_id":"{EVENT}","bookmaker":"fanduel","player":"Jayson Tatum","market_key":"alternate_player_points","line":{l},"over_price":{over}}}]}}"#
        )
    };
    apply(&mut board, &mut p, alt("25.5", -200).into_bytes());
    apply(&mut board, &mut p, alt("30.5", 150).into_bytes());
    assert_eq!(board.len(), 2, "an alternate market holds several lines");
}

fn odds_update(rows: &[String]) -> Vec<u8> {
    format!(r#"{{"type":"odds_update","data":[{}]}}"#, rows.join(",")).into_bytes()
}

/// A game row of draftkings on the event, with `fields` after the teams.
fn game_row(fields: &str) -> String {
    format!(
        r#"{{"kind":"game","event_id":"{EVENT}","bookmaker":"draftkings","home_team":"Boston Celtics","away_team":"New York Knicks"{fields}}}"#
    )
}

fn totals_at(board: &OddsBoard, l: &str) -> (Option<i32>, Option<i32>) {
    let at = |side: &str| {
        board
            .get(EVENT, "draftkings", "totals", side, line(l))
            .map(|q| q.price.get())
    };
    (at("Over"), at("Under"))
}

#[test]
fn a_line_that_moves_without_its_prices_takes_the_old_lines_quotes_off() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    let start = game_row(
        r#","home_ml":-150,"away_ml":130,"total":219.5,"over_price":-110,"under_price":-110"#,
    );
    apply(
        &mut board,
        &mut p,
        odds_update(std::slice::from_ref(&start)),
    );
    assert_eq!(totals_at(&board, "219.5"), (Some(-110), Some(-110)));
    // A diff row: the line moved, the prices (unknown at the new line) left out.
    apply(
        &mut board,
        &mut p,
        odds_update(&[game_row(r#","total":220.5"#)]),
    );
    assert_eq!(totals_at(&board, "219.5"), (None, None));
    assert_eq!(
        totals_at(&board, "220.5"),
        (None, None),
        "no price invented"
    );
    assert_eq!(board.len(), 2, "the moneylines stay");
    // A diff price now, the line left out: the board knows no line for it,
    // and a quote at no line would stand for none the book offers.
    apply(
        &mut board,
        &mut p,
        odds_update(&[game_row(r#","over_price":-105"#)]),
    );
    assert!(board
        .get(EVENT, "draftkings", "totals", "Over", None)
        .is_none());
    assert_eq!((board.len(), board.counters().no_line), (2, 1));
    // Half of it: the Over comes with its new price, the Under's old quote goes.
    apply(&mut board, &mut p, odds_update(&[start]));
    apply(
        &mut board,
        &mut p,
        odds_update(&[game_row(r#","total":220.5,"over_price":-105"#)]),
    );
    assert_eq!(totals_at(&board, "219.5"), (None, None));
    assert_eq!(totals_at(&board, "220.5"), (Some(-105), None));
    // A later diff row with only the Under's price writes it at the current line.
    apply(
        &mut board,
        &mut p,
        odds_update(&[game_row(r#","under_price":-115"#)]),
    );
    assert_eq!(totals_at(&board, "220.5"), (Some(-105), Some(-115)));
    // A side whose price at the new line is no American odds leaves its old
    // line all the same.
    apply(
        &mut board,
        &mut p,
        odds_update(&[game_row(
            r#","total":221.5,"over_price":-104,"under_price":50"#,
        )]),
    );
    assert_eq!(totals_at(&board, "220.5"), (None, None));
    assert_eq!(totals_at(&board, "221.5"), (Some(-104), None));
    assert_eq!(board.counters().invalid_odds, 1);
}

#[test]
fn a_removing_row_with_teams_and_no_kind_takes_only_the_games_quotes() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    let game = game_row(r#","home_ml":-150,"away_ml":130"#);
    let prop = format!(
        r#"{{"kind":"prop","event_id":"{EVENT}","bookmaker":"draftkings","player":"Jayson Tatum","market_key":"player_points","line":27.5,"over_price":-115,"under_price":-105}}"#
    );
    apply(&mut board, &mut p, odds_update(&[game, prop]));
    assert_eq!(board.len(), 4);
    let remove = format!(
        r#"{{"event_id":"{EVENT}","bookmaker":"draftkings","home_team":"Boston Celtics","away_team":"New York Knicks","action":"remove"}}"#
    );
    apply(&mut board, &mut p, odds_update(&[remove]));
    assert_eq!(board.len(), 2, "the props stay");
    assert!(board
        .get(
            EVENT,
            "draftkings",
            "player_points",
            "Over Jayson Tatum",
            line("27.5")
        )
        .is_some());
}

#[test]
fn a_games_remove_row_takes_every_game_market_and_no_prop() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    let flat = |market: &str, outcome: &str, point: &str| {
        format!(
            r#"{{"event_id":"{EVENT}","bookmaker":"draftkings","market_key":"{market}","outcome":"{outcome}","price_american":-110{point}}}"#
        )
    };
    let rows = [
        flat("h2h", "Boston Celtics", ""),
        flat("team_totals", "Over", r#","point":112.5"#),
        flat("alternate_spreads", "Boston Celtics", r#","point":-7.5"#),
        flat(
            "alternate_team_totals",
            "Over Boston Celtics",
            r#","point":110.5"#,
        ),
        flat("player_points", "Over Jayson Tatum", r#","point":27.5"#),
        flat("batter_hits", "Over Rafael Devers", r#","point":0.5"#),
        flat("player_anytime_td", "Josh Allen", ""),
    ];
    apply(&mut board, &mut p, odds_update(&rows));
    assert_eq!(board.len(), 7);
    let remove = |kind: &str| {
        format!(
            r#"{{"kind":"{kind}","event_id":"{EVENT}","bookmaker":"draftkings","action":"remove"}}"#
        )
    };
    apply(&mut board, &mut p, odds_update(&[remove("game")]));
    let mut left: Vec<String> = board
        .quotes()
        .map(|q| q.key.market_key.to_string())
        .collect();
    left.sort();
    assert_eq!(left, ["batter_hits", "player_anytime_td", "player_points"]);
    apply(&mut board, &mut p, odds_update(&[remove("prop")]));
    assert!(board.is_empty());
}

#[test]
fn removing_rows_name_quotes_by_price_then_line_then_scope() {
    let mut board = OddsBoard::new();
    let mut p = FrameParser::new();
    let game = game_row(
        r#","home_ml":-150,"away_ml":130,"total":219.5,"over_price":-110,"under_price":-110"#,
    );
    let props = [
        grouped_prop("Jayson Tatum", "27.5", -115, -105),
        grouped_prop("Jalen Brunson", "25.5", -110, -110),
    ];
    let all: Vec<String> = std::iter::once(game).chain(props).collect();
    apply(&mut board, &mut p, odds_update(&all));
    assert_eq!(board.len(), 8);
    // By price, without the line: the Over at Tatum's current line.
    let over = format!(
        r#"{{"kind":"prop","event_id":"{EVENT}","bookmaker":"fanduel","player":"Jayson Tatum","market_key":"player_points","over_price":-115,"action":"remove"}}"#
    );
    apply(&mut board, &mut p, odds_update(&[over]));
    assert!(board
        .get(
            EVENT,
            "fanduel",
            "player_points",
            "Over Jayson Tatum",
            line("27.5")
        )
        .is_none());
    assert_eq!(board.len(), 7);
    // Team names identify a prop row; they do not name the moneylines.
    let tatum = format!(
        r#"{{"kind":"prop","event_id":"{EVENT}","bookmaker":"fanduel","home_team":"Boston Celtics","away_team":"New York Knicks","player":"Jayson Tatum","market_key":"player_points","available":false}}"#
    );
    apply(&mut board, &mut p, odds_update(&[tatum]));
    assert_eq!(board.len(), 6, "Tatum's Under went; the moneylines stay");
    assert!(board
        .get(EVENT, "draftkings", "h2h", "Boston Celtics", None)
        .is_some());
    // A game row with no price and no line: all of the book's game quotes.
    apply(
        &mut board,
        &mut p,
        odds_update(&[game_row(r#","available":false"#)]),
    );
    assert_eq!(board.len(), 2, "only Brunson's props are left");
}

/// A full board refuses new quotes (counted) and still moves the ones it holds.
#[test]
fn a_full_board_refuses_new_quotes_and_moves_known_ones() {
    let mut board = OddsBoard::new();
    let mut parser = FrameParser::new();
    let row = |outcome: &str, price: i32| {
        format!(
            r#"{{"type":"odds_update","data":[{{"event_id":"e1","bookmaker":"fanduel","market_key":"h2h","outcome":"{outcome}","price_american":{price}}}]}}"#
        )
        .into_bytes()
    };
    apply(&mut board, &mut parser, row("Boston Celtics", -140));
    // As if the board held MAX_QUOTES (filling it for real takes seconds).
    board.live = MAX_QUOTES;
    apply(&mut board, &mut parser, row("New York Knicks", 120));
    assert!(board
        .get("e1", "fanduel", "h2h", "New York Knicks", None)
        .is_none());
    assert_eq!(board.counters().refused, 1);
    let moved = apply(&mut board, &mut parser, row("Boston Celtics", -150));
    assert_eq!(moved.len(), 1);
    let q = board
        .get("e1", "fanduel", "h2h", "Boston Celtics", None)
        .unwrap();
    assert_eq!(q.price.get(), -150);
}
