use super::*;
use crate::frame::*;
use crate::price::{NumberError, Price, Size};

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn price(s: &str) -> Price {
    Price::parse(s.as_bytes()).unwrap()
}

fn size(s: &str) -> Size {
    Size::parse(s.as_bytes()).unwrap()
}

/// Parses with both paths and checks they agree whenever the fast path accepts.
fn parse_both(bytes: &[u8]) -> (bool, String) {
    let mut fast = FrameParser::new();
    let mut general = FrameParser::new();
    let mut g_buf = bytes.to_vec();
    let g = general.parse_general(&mut g_buf);
    let f = fast.parse_fast(bytes);
    if let Some(f) = &f {
        assert_eq!(
            Ok(f),
            g.as_ref(),
            "paths disagree on {}",
            String::from_utf8_lossy(bytes)
        );
    }
    (f.is_some(), format!("{g:?}"))
}

#[test]
fn snapshot_fixture_parses_on_the_fast_path() {
    let buf = fixture("parsec/orderbook_snapshot.json");
    let mut p = FrameParser::new();
    let Some(Frame::Book(b)) = p.parse_fast(&buf) else {
        panic!("fast path declined");
    };
    assert_eq!(b.market.parsec_id, "polymarket:0x1234abcd");
    assert_eq!(b.market.outcome, "Yes");
    assert_eq!(b.market.exchange, Some("polymarket"));
    assert_eq!(b.server_seq, 1234);
    assert_eq!(b.bids.len(), 3);
    assert_eq!(b.bids[2], Level::new(price("0.63"), size("12.5")));
    assert_eq!(b.asks[0], Level::new(price("0.66"), size("800")));
    assert_eq!(b.tick_size, Some(price("0.01")));
    assert_eq!(b.min_order_size, Some(size("5")));
    assert_eq!(b.title, Some("Will it rain in NYC tomorrow?"));
    assert_eq!(b.book_state, Some(WireBookState::Fresh));
    assert_eq!(b.feed_state, Some(FeedState::Healthy));
    assert_eq!(b.stale_after_ms, Some(5000));
    assert_eq!(b.exchange_ts_ms, Some(1707044096000));
    assert_eq!(b.ingest_ts_ms, Some(1707044096005));
}

#[test]
fn delta_fixtures_parse_on_the_fast_path_and_agree_with_simd_json() {
    for name in [
        "orderbook_delta.json",
        "orderbook_delta_minimal.json",
        "orderbook_delta_pretty.json",
        "orderbook_delta_needs_refresh.json",
        "orderbook_snapshot_empty_side.json",
        "orderbook_snapshot_kalshi_nulls.json",
    ] {
        let (fast, _) = parse_both(&fixture(&format!("parsec/{name}")));
        assert!(fast, "{name}: fast path declined");
    }
}

#[test]
fn delta_fields() {
    let buf = fixture("parsec/orderbook_delta.json");
    let mut p = FrameParser::new();
    let Some(Frame::Delta(d)) = p.parse_fast(&buf) else {
        panic!()
    };
    assert_eq!(d.server_seq, 1235);
    assert_eq!(
        d.changes,
        &[
            Change {
                side: Side::Bid,
                price: price("0.65"),
                size: size("900")
            },
            Change {
                side: Side::Ask,
                price: price("0.66"),
                size: Size::ZERO
            },
        ]
    );
    let buf = fixture("parsec/orderbook_delta_needs_refresh.json");
    let Some(Frame::Delta(d)) = p.parse_fast(&buf) else {
        panic!()
    };
    assert_eq!(d.book_state, Some(WireBookState::NeedsRefresh));
    assert_eq!(d.feed_state, Some(FeedState::Disconnected));
    assert!(d.changes.is_empty());
}

/// `frame` read by both paths (they must agree where the fast one accepts).
/// With `exact` (a price and a size), the fast path must accept it and
/// `pairs` must find them `count` times; simd-json's floats hold about 16
/// digits, so longer numbers are checked against the exact values only.
fn read_exactly(
    frame: &str,
    exact: Option<(&str, &str)>,
    count: usize,
    pairs: impl Fn(&Frame<'_>) -> Vec<(Price, Size)>,
) {
    let Some((p_text, s_text)) = exact else {
        parse_both(frame.as_bytes());
        return;
    };
    if p_text.len() + s_text.len() < 16 {
        parse_both(frame.as_bytes());
    }
    let mut p = FrameParser::new();
    let Some(f) = p.parse_fast(frame.as_bytes()) else {
        panic!("fast path declined {frame}")
    };
    let want = (price(p_text), size(s_text));
    assert_eq!(pairs(&f), vec![want; count], "{frame}");
}

/// The compact level reader works on a fixed window of bytes while one fits
/// before the frame's end, and on the rest of the buffer after that: levels of
/// every length, shape and place read exactly (and as simd-json reads them
/// where its floats hold every digit); malformed ones are refused alike.
#[test]
fn snapshot_levels_read_alike_inside_and_past_the_level_window() {
    // (level, exact price and size the fast path must give, if it must accept)
    let cases = [
        ("[0.5,1]", Some(("0.5", "1"))),
        (
            "[0.12345678,99999999999.99999999]",
            Some(("0.12345678", "99999999999.99999999")),
        ),
        ("[1.00000000,12345678901.5]", Some(("1", "12345678901.5"))),
        ("[1,0]", Some(("1", "0"))),
        ("[0.0001,0.000001]", Some(("0.0001", "0.000001"))),
        ("[0.5,0]", Some(("0.5", "0"))),
        ("[0.5,123456789012]", None),
        ("[0.123456789,5]", None),
        ("[0.5,1.123456789]", None),
        ("[0.5,1e3]", None),
        ("[ 0.5 , 2 ]", None),
        ("[0.07,00]", None),
        ("[0.07,01]", None),
        ("[0.,1]", None),
        ("[0.5,1.]", None),
        ("[0,1]", None),
        ("[1.5,1]", None),
        ("[-0.5,1]", None),
    ];
    for (level, exact) in cases {
        for count in [1, 2, 5] {
            // Bids last: their final levels sit closer to the frame's end than
            // the window's length.
            let list = vec![level; count].join(",");
            let frame = format!(
                r#"{{"type":"orderbook","parsec_id":"kalshi:X","outcome":"yes","server_seq":5,"asks":[[0.9,1]],"bids":[{list}]}}"#
            );
            read_exactly(&frame, exact, count, |f| match f {
                Frame::Book(b) => b.bids.iter().map(|l| (l.price, l.size)).collect(),
                _ => Vec::new(),
            });
        }
    }
}

/// A level array whose compact levels alternate with ones the compact reader
/// leaves to the general steps (whitespace inside a level, before or after
/// a separator, an exponent) reads every level, in order, as simd-json does.
#[test]
fn compact_and_general_levels_mix_in_one_array() {
    let levels = [
        "[0.5,1]",
        "[ 0.51, 2 ]",
        "[0.52,3] ",
        "[0.53,4e0]",
        " [0.54,5]",
        "[0.55,6]",
    ];
    let n = levels.len();
    for start in 0..n {
        for len in 1..=n {
            let list: Vec<&str> = (0..len).map(|k| levels[(start + k) % n]).collect();
            for sep in [",", " ,", ", ", "\n,\t"] {
                let frame = format!(
                    r#"{{"type":"orderbook","parsec_id":"kalshi:X","outcome":"yes","server_seq":5,"asks":[[0.9,1]],"bids":[{}]}}"#,
                    list.join(sep)
                );
                let (fast, general) = parse_both(frame.as_bytes());
                assert!(fast, "the fast path reads {frame}: {general}");
                let mut p = FrameParser::new();
                let Some(Frame::Book(b)) = p.parse_fast(frame.as_bytes()) else {
                    panic!("{frame}")
                };
                assert_eq!(b.bids.len(), len, "{frame}");
            }
        }
    }
}

/// The compact change reader, like the level reader, works on a fixed window
/// while one fits before the frame's end: changes of every length and place
/// read exactly, and the ones it does not take read as simd-json reads them.
#[test]
fn delta_changes_read_alike_inside_and_past_the_change_window() {
    let cases = [
        (r#""bid","price":0.5,"size":1"#, Some(("0.5", "1"))),
        (
            r#""ask","price":0.12345678,"size":99999999999.99999999"#,
            Some(("0.12345678", "99999999999.99999999")),
        ),
        (r#""bid","price":1,"size":0"#, Some(("1", "0"))),
        (
            r#""ask","price":1.00000000,"size":12.5"#,
            Some(("1", "12.5")),
        ),
        (r#""bid","price":0.5,"size":1e3"#, None),
        (r#""bid","price":5e-1,"size":3"#, None),
        (r#""bid","price":0.5,"size":123456789012"#, None),
        (r#""bid","price":0.5,"size":01"#, None),
        (r#""bid","price":0.,"size":1"#, None),
        (r#""bid","price":0,"size":1"#, None),
        (r#""bid","price":1.5,"size":1"#, None),
        (r#""bid","price":0.5 ,"size":1"#, None),
    ];
    for (body, exact) in cases {
        for count in [1, 2, 4] {
            let list = vec![format!("{{\"side\":{body}}}"); count].join(",");
            let frame = format!(
                r#"{{"type":"orderbook_delta","parsec_id":"kalshi:X","outcome":"yes","server_seq":5,"changes":[{list}]}}"#
            );
            read_exactly(&frame, exact, count, |f| match f {
                Frame::Delta(d) => d.changes.iter().map(|c| (c.price, c.size)).collect(),
                _ => Vec::new(),
            });
        }
    }
}

#[test]
fn every_number_form_parses_to_the_same_exact_values() {
    let cases = [
        ("delta_plain.json", "0.45", "10"),
        ("delta_trailing_zeros.json", "0.45", "10"),
        ("delta_exponent.json", "0.45", "10"),
        ("delta_exponent_plus.json", "0.45", "10"),
        ("delta_integer_one.json", "1", "0"),
        ("delta_tiny_tick.json", "0.0001", "0.000001"),
        ("delta_big_size.json", "0.5", "12345678.123456"),
    ];
    for (name, p_text, s_text) in cases {
        let buf = fixture(&format!("parsec/numbers/{name}"));
        let (fast, _) = parse_both(&buf);
        assert!(fast, "{name}: fast path declined");
        let mut p = FrameParser::new();
        let Some(Frame::Delta(d)) = p.parse_fast(&buf) else {
            panic!("{name}")
        };
        assert_eq!(d.changes[0].price, price(p_text), "{name}");
        assert_eq!(d.changes[0].size, size(s_text), "{name}");
    }
}

#[test]
fn escaped_title_is_decoded_on_the_fast_path() {
    let buf = fixture("parsec/orderbook_snapshot_escaped_title.json");
    let (fast, _) = parse_both(&buf);
    assert!(fast, "the fast path decodes escaped titles");
    let mut p = FrameParser::new();
    let Some(Frame::Book(b)) = p.parse_fast(&buf) else {
        panic!()
    };
    assert_eq!(b.title, Some("Will \"X\" win \u{e9}lection?"));
    assert_eq!(b.bids.len(), 1);
}

#[test]
fn titles_decode_like_simd_json_does() {
    let frame = |title: &str| {
        format!(
            r#"{{"type":"orderbook","parsec_id":"a:b","outcome":"yes","title":"{title}","bids":[],"asks":[],"server_seq":1}}"#
        )
        .into_bytes()
    };
    for (title, want) in [
        (
            r#"Trump\u2019s \"big\" day"#,
            Some("Trump\u{2019}s \"big\" day"),
        ),
        (r#"emoji \ud83d\ude00 ok"#, Some("emoji \u{1f600} ok")),
        (r#"tab\there\/slash\\"#, Some("tab\there/slash\\")),
        (r#"lone \ud83d high"#, None),
        (r#"lone \ude00 low"#, None),
        (r#"bad \x escape"#, None),
    ] {
        let buf = frame(title);
        let (fast, _) = parse_both(&buf);
        match want {
            Some(want) => {
                assert!(fast, "{title}");
                let mut p = FrameParser::new();
                let Some(Frame::Book(b)) = p.parse_fast(&buf) else {
                    panic!("{title}")
                };
                assert_eq!(b.title, Some(want));
            }
            None => assert!(!fast, "{title}: left to simd-json"),
        }
    }
}

#[test]
fn every_parsec_server_frame_parses() {
    let mut p = FrameParser::new();
    let mut check = |name: &str, f: &dyn Fn(&Frame<'_>) -> bool| {
        let mut buf = fixture(&format!("parsec/{name}"));
        let frame = p.parse(&mut buf).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(f(&frame), "{name}: {frame:?}");
    };
    check("activity_trade.json", &|f| {
        matches!(f, Frame::Activity(a) if a.kind == ActivityKind::Trade
            && a.price == price("0.65") && a.size == size("100")
            && a.side == Some(TradeSide::Buy) && a.trade_id == Some("trade_123")
            && a.server_seq == Some(1236))
    });
    check("activity_fill.json", &|f| {
        matches!(f, Frame::Activity(a) if a.kind == ActivityKind::Fill
            && a.liquidity_role == Some("maker") && a.exchange_ts_ms.is_none()
            && a.order_id == Some("ord_42"))
    });
    check("auth_ok.json", &|f| {
        matches!(
            f,
            Frame::AuthOk {
                customer_id: Some("cust_abc123")
            }
        )
    });
    check("auth_error.json", &|f| {
        matches!(
            f,
            Frame::AuthError {
                code: 1002,
                message: "invalid api key"
            }
        )
    });
    check(
        "error_connection.json",
        &|f| matches!(f, Frame::Error(e) if e.code == 3001 && e.parsec_id.is_none()),
    );
    check(
        "error_market.json",
        &|f| matches!(f, Frame::Error(e) if e.code == 2002 && e.parsec_id == Some("kalshi:NOPE")),
    );
    check("heartbeat.json", &|f| {
        matches!(
            f,
            Frame::Heartbeat {
                ts_ms: Some(1708123456400)
            }
        )
    });
    check(
        "resync_required.json",
        &|f| matches!(f, Frame::ResyncRequired(m) if m.parsec_id == "polymarket:0x1234abcd" && m.outcome == "Yes"),
    );
    check("slow_reader.json", &|f| matches!(f, Frame::SlowReader(_)));
    check("wallet_activity.json", &|f| {
        matches!(f, Frame::WalletActivity(w) if w.exchange == "polymarket"
            && w.data.contains("\"positions\"") && w.data.contains("12.5"))
    });
}

#[test]
fn unknown_type_is_ignorable() {
    let mut buf = fixture("parsec/unknown_type.json");
    let err = FrameParser::new().parse(&mut buf).unwrap_err();
    assert_eq!(
        err,
        ParseError::UnknownType {
            type_name: "something_new".into()
        }
    );
    assert!(err.is_ignorable());
}

#[test]
fn every_parlay_server_frame_parses() {
    let mut p = FrameParser::new();
    let mut buf = fixture("parlay/connected.json");
    let Ok(Frame::Connected(c)) = p.parse(&mut buf) else {
        panic!()
    };
    assert_eq!(
        (c.tier, c.push_mode, c.min_push_interval_ms, c.diff_mode),
        ("business", Some("coalesced"), Some(1000), false)
    );
    assert_eq!(c.timestamp_ms, Some(1_779_999_999_000));

    let mut buf = fixture("parlay/initial_state_flat.json");
    let Ok(Frame::InitialState(s)) = p.parse(&mut buf) else {
        panic!()
    };
    let rows: Vec<_> = s.rows.iter().collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1].bookmaker, "fanduel");
    assert_eq!(rows[1].price_american, Some(105));
    assert_eq!(rows[1].point, Some(Line::parse(b"3.5").unwrap()));
    assert_eq!(rows[2].outcome, Some("Over Jayson Tatum"));
    assert_eq!(s.truncated, Some(false));

    let mut buf = fixture("parlay/initial_state_grouped.json");
    let Ok(Frame::InitialState(s)) = p.parse(&mut buf) else {
        panic!()
    };
    let rows: Vec<_> = s.rows.iter().collect();
    assert_eq!(rows[0].home_ml, Some(130));
    assert_eq!(rows[0].away_spread, Some(Line::parse(b"-3.5").unwrap()));
    assert_eq!(rows[0].action, Some(RowAction::Upsert));
    assert_eq!(rows[0].last_update_ms, Some(1779999990000));
    assert_eq!(rows[1].player, Some("Jayson Tatum"));
    assert_eq!(rows[1].under_price, Some(-105));

    for name in ["odds_update.json", "odds_update_remove.json"] {
        let buf = fixture(&format!("parlay/{name}"));
        let (fast, _) = parse_both(&buf);
        assert!(fast, "{name}: fast path declined");
    }
    let mut buf = fixture("parlay/odds_update_remove.json");
    let Ok(Frame::OddsUpdate(u)) = p.parse(&mut buf) else {
        panic!()
    };
    assert_eq!(
        u.rows.iter().next().unwrap().action,
        Some(RowAction::Remove)
    );

    let mut buf = fixture("parlay/heartbeat.json");
    assert!(matches!(
        p.parse(&mut buf),
        Ok(Frame::Heartbeat {
            ts_ms: Some(1_780_000_030_000)
        })
    ));
    let mut buf = fixture("parlay/subscribed.json");
    assert!(matches!(
        p.parse(&mut buf),
        Ok(Frame::Subscribed {
            event_id: "2026-05-13_Boston_Celtics_New_York_Knicks",
            ..
        })
    ));
    let mut buf = fixture("parlay/unsubscribed.json");
    assert!(matches!(p.parse(&mut buf), Ok(Frame::Unsubscribed { .. })));
    let mut buf = fixture("parlay/stream_status.json");
    assert!(matches!(
        p.parse(&mut buf),
        Ok(Frame::StreamStatus(StreamStatusFrame {
            bookmaker: Some("pinnacle"),
            status: Some("degraded"),
            ..
        }))
    ));
}

#[test]
fn malformed_rows_are_rejected_and_the_rest_kept() {
    let mut buf = br#"{"type":"odds_update","sport_key":"x","data":[
        {"event_id":"e","bookmaker":"b","market_key":"h2h","outcome":"A","price_american":-110},
        {"event_id":"e","bookmaker":"b","price_american":"oops"},
        7,
        {"bookmaker":"b"},
        {"event_id":"e","bookmaker":"c","market_key":"h2h","outcome":"A","price_american":120}]}"#
        .to_vec();
    let mut p = FrameParser::new();
    let Ok(Frame::OddsUpdate(u)) = p.parse(&mut buf) else {
        panic!()
    };
    assert_eq!(u.rejected_rows, 3);
    let books: Vec<_> = u.rows.iter().map(|r| r.bookmaker).collect();
    assert_eq!(books, ["b", "c"]);
}

#[test]
fn bad_frames_give_typed_errors() {
    let mut p = FrameParser::new();
    let mut err = |name: &str| {
        let mut buf = fixture(&format!("bad/{name}"));
        p.parse(&mut buf).expect_err(name)
    };
    assert!(matches!(err("array_top.json"), ParseError::NotAnObject));
    assert_eq!(err("bad_side.json"), ParseError::BadValue { field: "side" });
    assert!(matches!(
        err("deep_nesting.txt"),
        ParseError::InvalidJson { .. }
    ));
    assert_eq!(err("empty.txt"), ParseError::Empty);
    assert!(matches!(
        err("huge_number.json"),
        ParseError::InvalidJson { .. } | ParseError::BadNumber { field: "size", .. }
    ));
    assert_eq!(err("missing_type.json"), ParseError::MissingType);
    assert!(matches!(
        err("nan_literal.txt"),
        ParseError::InvalidJson { .. }
    ));
    assert_eq!(
        err("negative_size.json"),
        ParseError::BadNumber {
            field: "size",
            error: NumberError::Negative
        }
    );
    assert!(matches!(
        err("not_json.txt"),
        ParseError::InvalidJson {
            offset: Some(0),
            ..
        }
    ));
    assert_eq!(
        err("price_above_one.json"),
        ParseError::BadNumber {
            field: "price",
            error: NumberError::OutOfRange
        }
    );
    assert!(matches!(
        err("seq_overflow.json"),
        ParseError::WrongType {
            field: "server_seq",
            ..
        } | ParseError::InvalidJson { .. }
    ));
    let truncated = err("truncated.txt");
    assert!(
        matches!(truncated, ParseError::InvalidJson { .. }),
        "{truncated:?}"
    );
    // Cut inside a string: simd-json's first pass finds it, with no position
    // (it used to be reported at byte 0).
    assert_eq!(truncated.offset(), None);
    assert_eq!(
        err("wrong_type_seq.json"),
        ParseError::WrongType {
            field: "server_seq",
            expected: "an unsigned integer"
        }
    );
}

#[test]
fn errors_simd_json_finds_before_parsing_claim_no_offset() {
    // simd-json's first pass reports these at 0: no position is known.
    let mut p = FrameParser::new();
    let mut offset = |frame: &[u8]| {
        let err = p.parse(&mut frame.to_vec()).unwrap_err();
        assert!(matches!(err, ParseError::InvalidJson { .. }), "{err:?}");
        err.offset()
    };
    let cut = br#"{"type":"orderbook_delta","parsec_id":"kal"#;
    assert_eq!(offset(cut), None);
    let control = b"{\"type\":\"heartbeat\",\"x\":\"a\x01b\"}";
    assert_eq!(offset(control), None);
    let not_utf8 = b"{\"type\":\"heartbeat\",\"x\":\"ab\xff\"}";
    assert_eq!(offset(not_utf8), None);
    // A second-pass error keeps simd-json's own position.
    assert_eq!(offset(br#"{"type":"heartbeat","ts_ms":}"#), Some(28));
    // A bad escape: simd-json's vector string decoders count its index
    // from their chunk or from the string, not from the frame (they gave 0
    // and 2 here), so none is claimed.
    assert_eq!(offset(br#"{"type":"heartbeat","x":"\q"}"#), None);
    assert_eq!(offset(br#"{"type":"heartbeat","x":"ab\uZZZZ"}"#), None);
    assert_eq!(offset(br#"{"type":"heartbeat","x":"ab\ud800"}"#), None);
}

#[test]
fn an_integer_beyond_64_bits_in_a_field_nobody_reads_loses_nothing() {
    // PROTOCOL.md: unknown fields are ignored, never fatal. A uint256 amount
    // in a wallet's `data`, or any field added later, is read as a float.
    let mut p = FrameParser::new();
    let mut hb = br#"{"type":"heartbeat","ts_ms":5,"x":115792089237316195423570985008687907853269984665640564039457584007913129639935}"#.to_vec();
    assert_eq!(
        p.parse(&mut hb).unwrap(),
        Frame::Heartbeat { ts_ms: Some(5) }
    );
    let mut wallet = br#"{"type":"wallet_activity","exchange":"polymarket","address":"0xabc","data":{"amount":340282366920938463463374607431768211456}}"#.to_vec();
    assert!(
        matches!(p.parse(&mut wallet), Ok(Frame::WalletActivity(_))),
        "{wallet:?}"
    );
    // In a field that is read, it is still refused.
    let mut seq = br#"{"type":"orderbook_delta","parsec_id":"a:b","changes":[],"server_seq":18446744073709551616}"#.to_vec();
    assert!(p.parse(&mut seq).is_err());
}

#[test]
fn an_aggressor_side_the_protocol_does_not_list_keeps_the_trade() {
    let mut p = FrameParser::new();
    let trade = |aggressor: &str| {
        format!(r#"{{"type":"activity","parsec_id":"kalshi:X","kind":"trade","price":0.65,"size":100,"side":"buy","aggressor_side":"{aggressor}","server_seq":7}}"#)
            .into_bytes()
    };
    for (word, read) in [
        ("sell", Some(TradeSide::Sell)),
        ("buy", Some(TradeSide::Buy)),
        ("bid", None),
        ("", None),
    ] {
        let mut msg = trade(word);
        let Ok(Frame::Activity(a)) = p.parse(&mut msg) else {
            panic!("{word}: the trade is kept")
        };
        assert_eq!(
            (a.side, a.aggressor_side),
            (Some(TradeSide::Buy), read),
            "{word}"
        );
    }
    let mut bad_side = br#"{"type":"activity","parsec_id":"kalshi:X","kind":"trade","price":0.65,"size":100,"side":"bid"}"#.to_vec();
    assert_eq!(
        p.parse(&mut bad_side).unwrap_err(),
        ParseError::BadValue { field: "side" }
    );
}

#[test]
fn error_display_is_pinned() {
    assert_eq!(ParseError::Empty.to_string(), "empty frame");
    assert_eq!(
        ParseError::MissingField { field: "changes" }.to_string(),
        "missing field \"changes\""
    );
    assert_eq!(
        ParseError::BadNumber {
            field: "price",
            error: NumberError::OutOfRange
        }
        .to_string(),
        "field \"price\": value out of range"
    );
    assert_eq!(
        ParseError::InvalidJson {
            offset: Some(3),
            detail: "Eof".into()
        }
        .to_string(),
        "invalid JSON at byte 3: Eof"
    );
    assert_eq!(
        ParseError::InvalidJson {
            offset: None,
            detail: "Syntax".into()
        }
        .to_string(),
        "invalid JSON: Syntax"
    );
}

#[test]
fn fast_path_declines_what_it_cannot_decide_alone() {
    let declined: &[&[u8]] = &[
        br#"{"type":"orderbook_delta","parsec_id":"a:b","changes":[],"server_seq":1,"server_seq":2}"#,
        br#"{"type":"orderbook_delta","parsec_id":"a\u0062","changes":[],"server_seq":1}"#,
        br#"{"type":"orderbook_delta","parsec_id":"a:b","changes":[],"server_seq":1.0}"#,
        br#"{"type":"orderbook_delta","parsec_id":"a:b","changes":[],"server_seq":1} x"#,
        br#"{"type":"orderbook_delta","parsec_id":"a:b","changes":[],"server_seq":01}"#,
        br#"{"type":"orderbook_delta","parsec_id":"a:b","changes":[{"side":"bid","price":0.5}],"server_seq":1}"#,
        br#"{"type":"heartbeat","ts_ms":1}"#,
        // simd-json rejects integers beyond 64 bits, even in fields nobody reads.
        br#"{"type":"orderbook_delta","parsec_id":"a:b","changes":[],"server_seq":1,"x":170742633143463906290569}"#,
        br#"{"type":"orderbook_delta","parsec_id":"a:b","changes":[],"server_seq":1,"x":-9223372036854775809}"#,
    ];
    for input in declined {
        let (fast, _) = parse_both(input);
        assert!(!fast, "{}", String::from_utf8_lossy(input));
    }
}

#[test]
fn parser_reuses_its_buffers() {
    let mut p = FrameParser::new();
    for _ in 0..3 {
        let mut buf = fixture("parsec/orderbook_delta.json");
        assert!(matches!(p.parse(&mut buf), Ok(Frame::Delta(_))));
        let mut buf = fixture("parsec/heartbeat.json");
        assert!(matches!(p.parse(&mut buf), Ok(Frame::Heartbeat { .. })));
    }
    assert_eq!(
        p.stats(),
        ParserStats {
            fast: 3,
            template: 2,
            remembered: 1,
            general: 3
        }
    );
}

/// Deltas of several markets, interleaved in bursts and one by one, with
/// strings that change now and then: every frame the fast path reads agrees
/// with simd-json, and the learned templates (their runs of remembered
/// strings included) read nearly all of them.
#[test]
fn interleaved_markets_read_through_templates_agree_with_simd_json() {
    let mut parser = FrameParser::new();
    let mut general = FrameParser::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut market = 0u64;
    let mut escaped = 0;
    for i in 0..4000u64 {
        // Bursts of one market, then stretches of round robin.
        if (i / 200) % 2 == 1 || next().is_multiple_of(8) {
            market = (market + 1) % 12;
        }
        let r = next();
        let state = ["fresh", "stale", "needs_refresh"]
            [(r % 97 / 95) as usize + usize::from(r % 1000 == 0)];
        // An escaped id is left to simd-json (ids are never escaped in practice).
        let title_escape = if r.is_multiple_of(50) { "\\u2019" } else { "" };
        escaped += usize::from(!title_escape.is_empty());
        let frame = format!(
            r#"{{"type":"orderbook_delta","parsec_id":"polymarket:0x{market:04x}{title_escape}","exchange":"polymarket","outcome":"{}","changes":[{{"side":"bid","price":0.{:03},"size":{}.5}}],"server_seq":{i},"book_state":"{state}","stale_after_ms":{},"exchange_ts_ms":1707044096{:03}}}"#,
            if market.is_multiple_of(3) {
                "No"
            } else {
                "Yes"
            },
            r % 999 + 1,
            r % 5000,
            if r % 300 == 0 { 2000 } else { 5000 },
            r % 1000,
        );
        let mut a = frame.clone().into_bytes();
        let mut b = frame.clone().into_bytes();
        let fast = parser.parse(&mut a).expect(&frame);
        let slow = general.parse_general(&mut b).expect(&frame);
        assert_eq!(fast, slow, "{frame}");
    }
    let stats = parser.stats();
    assert_eq!(stats.general as usize, escaped, "{stats:?}");
    assert!(stats.template as usize + escaped > 3990, "{stats:?}");
    // Each of the 12 markets has its own remembered strings: round robin
    // included, most frames are a few long compares.
    assert!(stats.remembered > 3000, "{stats:?}");
}

/// Eight books round robin (four markets, `yes` and `no`), as the simulator
/// floods them, with ids that differ in one digit in the middle or only at
/// the end: after each book's first frames, every frame is read through its
/// own remembered runs (a hash that let two of them share a set and a tag
/// read a fifth of these frames slot by slot), and each book's seq, whose
/// leading digits differ from the others', reads right.
#[test]
fn eight_interleaved_books_each_keep_their_runs() {
    // Each book's seq has its own leading digits (remembered per market).
    let seq = |book: usize, i: usize| (book as u64 + 1) * 1_000_000_007 + (i / 8) as u64;
    for id in [
        "sim:{m}",
        "kalshi:KXBTC-26MAR1{m}",
        "polymarket:0x{m}1234abcd",
    ] {
        let mut parser = FrameParser::new();
        let frames = 8 * 500;
        for i in 0..frames {
            let book = i % 8;
            let m = (book / 2).to_string();
            let outcome = if book % 2 == 0 { "yes" } else { "no" };
            let parsec_id = id.replace("{m}", &m);
            let mut frame = format!(
                r#"{{"type":"orderbook_delta","parsec_id":"{parsec_id}","exchange":"sim","outcome":"{outcome}","token_id":"","market_id":"{m}","changes":[{{"side":"bid","price":0.4{},"size":{}}}],"server_seq":{},"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000,"exchange_ts_ms":1795302710496,"ingest_ts_ms":1795302710499}}"#,
                i % 10,
                i % 700 + 1,
                seq(book, i),
            )
            .into_bytes();
            match parser.parse(&mut frame) {
                Ok(Frame::Delta(d)) => assert_eq!(d.server_seq, seq(book, i)),
                other => panic!("{other:?}"),
            }
        }
        let stats = parser.stats();
        assert!(stats.remembered as usize >= frames - 32, "{id}: {stats:?}");
    }
}

/// A market's stable numbers (its tick size, minimum order and staleness
/// bound) are folded into its remembered runs: frames repeating them are
/// read through the runs, and a frame that changes one, or writes it another
/// way (`0.010`, `null`), reads its own value, as simd-json does.
#[test]
fn stable_numbers_are_remembered_and_a_change_is_read() {
    let mut parser = FrameParser::new();
    let mut general = FrameParser::new();
    let cases = [
        ("0.01", "1", "5000"),
        ("0.001", "1", "5000"),
        ("0.001", "2.5", "5000"),
        ("0.001", "2.5", "500"),
        ("0.001", "2.5", "50000"),
        ("0.0010", "2.5", "50000"),
        ("null", "null", "null"),
        ("0.01", "1", "5000"),
    ];
    let mut seq = 0;
    for (tick, min, stale) in cases {
        for _ in 0..4 {
            seq += 1;
            let frame = format!(
                r#"{{"type":"orderbook","parsec_id":"kalshi:KXBTC","outcome":"yes","tick_size":{tick},"min_order_size":{min},"bids":[[0.4,10]],"asks":[[0.6,5]],"server_seq":{seq},"stale_after_ms":{stale}}}"#
            );
            let (mut a, mut b) = (frame.clone().into_bytes(), frame.clone().into_bytes());
            let fast = parser.parse(&mut a).expect(&frame);
            let slow = general.parse_general(&mut b).expect(&frame);
            assert_eq!(fast, slow, "{frame}");
            let Frame::Book(book) = fast else {
                panic!("{frame}")
            };
            let want = |t: &str| (t != "null").then(|| t.to_string());
            assert_eq!(
                book.tick_size.map(|p| p.to_string()),
                want(tick).map(|t| t.trim_end_matches('0').to_string())
            );
            assert_eq!(book.min_order_size.map(|s| s.to_string()), want(min));
            assert_eq!(book.stale_after_ms.map(|ms| ms.to_string()), want(stale));
        }
    }
    // Each new value: one frame slot by slot (rebuilding the runs), three
    // through them; the very first frame is learned by the generic scan.
    let stats = parser.stats();
    assert_eq!(stats.general, 0, "{stats:?}");
    assert_eq!(stats.remembered, 3 * cases.len() as u64 - 1, "{stats:?}");
}

/// Sides longer than the level buffer's reserved room (which the level loop
/// grows a chunk at a time, outside its inner loop), some levels written
/// with whitespace (the general steps), read whole and alike by both paths.
#[test]
fn long_sides_grow_the_level_buffer_and_read_alike() {
    let mut parser = FrameParser::new();
    let mut general = FrameParser::new();
    for levels in [0usize, 1, 63, 64, 65, 127, 128, 129, 300, 1000] {
        let side = |base: usize| {
            (0..levels)
                .map(|i| {
                    let (p, s) = ((base + i) % 9999 + 1, i * 7 + 1);
                    if i % 97 == 50 {
                        format!("[ 0.{p:04} , {s}.5 ]")
                    } else {
                        format!("[0.{p:04},{s}.5]")
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let frame = format!(
            r#"{{"type":"orderbook","parsec_id":"sim:long","bids":[{}],"asks":[{}],"server_seq":{levels}}}"#,
            side(10),
            side(5000)
        );
        for _ in 0..3 {
            let (mut a, mut b) = (frame.clone().into_bytes(), frame.clone().into_bytes());
            let fast = parser.parse(&mut a).expect(&frame);
            let slow = general.parse_general(&mut b).expect(&frame);
            let Frame::Book(book) = &fast else {
                panic!("{frame}")
            };
            assert_eq!((book.bids.len(), book.asks.len()), (levels, levels));
            assert_eq!(fast, slow, "{levels} levels");
        }
    }
    assert_eq!(parser.stats().general, 0, "{:?}", parser.stats());
}

#[test]
fn a_frame_past_the_size_limit_is_refused_unread_and_the_parser_goes_on() {
    let mut parser = FrameParser::new();
    // A valid frame padded with whitespace past the limit: refused by its length alone.
    let mut big = br#"{"type":"heartbeat","ts_ms":1}"#.to_vec();
    big.resize(MAX_FRAME_LEN + 1, b' ');
    let len = big.len();
    assert_eq!(
        parser.parse(&mut big).unwrap_err(),
        ParseError::TooLarge { len }
    );
    assert_eq!(
        parser.parse_general(&mut big).unwrap_err(),
        ParseError::TooLarge { len }
    );
    let stats = parser.stats();
    assert_eq!((stats.fast, stats.general), (0, 0), "neither path read it");
    // At the limit exactly it is read.
    big.truncate(MAX_FRAME_LEN);
    assert!(matches!(
        parser.parse(&mut big),
        Ok(Frame::Heartbeat { ts_ms: Some(1) })
    ));
}

#[test]
fn timestamps_with_digits_past_a_u64_are_refused_not_truncated() {
    use super::parlay_timestamp_ms;
    let ts = |t: &[u8]| parlay_timestamp_ms(crate::Decimal::parse(t).unwrap());
    assert_eq!(ts(b"1707044096.5"), Some(1_707_044_096_500));
    assert_eq!(ts(b"1707044096105"), Some(1_707_044_096_105));
    // A 20-digit value past u64::MAX whose first 19 digits times ten fit:
    // refused, not read as 18446744073709551610.
    assert_eq!(ts(b"18446744073709551616"), None);
}

#[test]
fn wallet_activity_data_is_kept_as_it_came() {
    // PROTOCOL.md: keep `data` as raw JSON. Written back from the tape, it
    // lost its spacing, `1.10` became `1.1` and a uint256 became a float.
    let mut p = FrameParser::new();
    let data = r#"{ "token_id": 21742633143463906290569050155826241533067272736897614950488156847949938836455, "price": 1.10, "size": 1e2, "note": "caf\u00e9 \"x\"", "fills": [ {"n": -0.0} ] }"#;
    for frame in [
        format!(
            r#"{{"type":"wallet_activity","exchange":"polymarket","address":"0xabc","data":{data}}}"#
        ),
        // `data` before `type`, and spaces around the colons.
        format!(
            r#"{{ "data" : {data} , "exchange":"polymarket","address":"0xabc", "type" : "wallet_activity"}}"#
        ),
    ] {
        let mut msg = frame.clone().into_bytes();
        match p.parse(&mut msg) {
            Ok(Frame::WalletActivity(w)) => assert_eq!(w.data, data, "{frame}"),
            other => panic!("{other:?}"),
        }
    }
    // A `data` that is not an object is kept as it came too.
    let mut msg =
        br#"{"type":"wallet_activity","exchange":"kalshi","address":"0xabc","data":[1.50, "a"]}"#
            .to_vec();
    match p.parse(&mut msg) {
        Ok(Frame::WalletActivity(w)) => assert_eq!(w.data, r#"[1.50, "a"]"#),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_auth_error_without_a_usable_code_is_still_an_auth_error() {
    // A1: auth_error is fatal. A server that leaves the code out, or sends it
    // as a string, must not make it a parse error the client waits past.
    let mut p = FrameParser::new();
    for (frame, message) in [
        (
            &br#"{"type":"auth_error","message":"invalid api key"}"#[..],
            "invalid api key",
        ),
        (
            br#"{"type":"auth_error","code":"1002","message":"bad"}"#,
            "bad",
        ),
        (br#"{"type":"auth_error","code":1002,"message":7}"#, ""),
    ] {
        assert_eq!(
            p.parse(&mut frame.to_vec()),
            Ok(Frame::AuthError {
                code: 1002,
                message
            }),
            "{}",
            String::from_utf8_lossy(frame)
        );
    }
}

#[test]
fn an_orderbook_of_another_kind_than_snapshot_is_refused() {
    // A3: an `orderbook` is kind "snapshot", a full book that replaces the
    // client's. Another kind is refused rather than applied as a full book,
    // on the first frame and after the fast path has learned the shape.
    let mut p = FrameParser::new();
    let book = |kind: &str| {
        format!(r#"{{"type":"orderbook","parsec_id":"kalshi:X","exchange":"kalshi","outcome":"yes","token_id":"","market_id":"X","tick_size":0.01,{kind}"bids":[[0.45,10]],"asks":[[0.55,5]],"server_seq":9,"book_state":"fresh","feed_state":"healthy","stale_after_ms":5000}}"#)
            .into_bytes()
    };
    for round in 0..4 {
        assert!(
            matches!(p.parse(&mut book(r#""kind":"snapshot","#)), Ok(Frame::Book(b)) if b.bids.len() == 1),
            "round {round}"
        );
        assert!(matches!(p.parse(&mut book("")), Ok(Frame::Book(_))));
        assert!(matches!(
            p.parse(&mut book(r#""kind":null,"#)),
            Ok(Frame::Book(_))
        ));
        assert_eq!(
            p.parse(&mut book(r#""kind":"partial","#)),
            Err(ParseError::BadValue { field: "kind" }),
            "round {round}"
        );
    }
    assert!(
        p.stats().fast > 0,
        "the fast path read the snapshots: {:?}",
        p.stats()
    );
    // Another frame with a `kind` of its own is not declined for it.
    let fast = p.stats().fast;
    let mut delta = br#"{"type":"orderbook_delta","parsec_id":"kalshi:X","kind":"delta","changes":[],"server_seq":10}"#.to_vec();
    assert!(matches!(p.parse(&mut delta), Ok(Frame::Delta(_))));
    assert_eq!(p.stats().fast, fast + 1, "{:?}", p.stats());
}
