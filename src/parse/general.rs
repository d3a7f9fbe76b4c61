//! The general path: simd-json's tape parser with reused buffers, for every
//! frame of PROTOCOL.md A3 and B2, and the typed errors of bad input.

use simd_json::prelude::*;
use simd_json::tape::{Object, Value};
use simd_json::{Buffers, ErrorType, Tape};

use super::{parlay_timestamp_ms, seconds_to_ms, unknown_type, ParseError, Scratch};
use crate::frame::{
    ActivityFrame, ActivityKind, BookFrame, Change, ConnectedFrame, DeltaFrame, ErrorFrame,
    FeedState, Frame, Level, Line, MarketRef, OddsFrame, OddsRows, RawOddsRow, RowAction, Side,
    Span, StreamStatusFrame, TradeSide, WalletActivityFrame, WireBookState,
};
use crate::price::{f64_to_units, Decimal, NumberError, Price, Size};

/// Deepest nesting accepted (simdjson's default).
const MAX_DEPTH: usize = 1024;

pub(crate) struct GeneralParser {
    buffers: Buffers,
    /// The tape's allocation, kept between frames (empty, so of any lifetime).
    tape: Option<Tape<'static>>,
}

impl GeneralParser {
    pub(crate) fn new() -> GeneralParser {
        GeneralParser {
            buffers: Buffers::with_max_depth(4096, MAX_DEPTH),
            tape: Some(Tape(Vec::with_capacity(256))),
        }
    }

    pub(crate) fn parse<'a>(
        &mut self,
        buf: &'a mut [u8],
        scratch: &'a mut Scratch,
    ) -> Result<Frame<'a>, ParseError> {
        if buf.iter().all(u8::is_ascii_whitespace) {
            return Err(ParseError::Empty);
        }
        scratch.raw.clear();
        if let Some(data) = super::fast::wallet_data_span(buf).and_then(|r| buf.get(r)) {
            scratch.raw.extend_from_slice(data);
        }
        let mut tape: Tape<'a> = self.tape.take().unwrap_or_else(|| Tape(Vec::new())).reset();
        let result = match simd_json::fill_tape(buf, &mut self.buffers, &mut tape) {
            Ok(()) => build(tape.as_value(), scratch),
            Err(e) => Err(ParseError::InvalidJson {
                // simd-json's first pass (an unclosed string, a raw control
                // character in one, invalid UTF-8) reports index 0 and no
                // character: no position is known then.
                offset: match e.error() {
                    // Its vector string decoders count an escape's index from
                    // their chunk or from the string, not from the frame.
                    ErrorType::InvalidEscape
                    | ErrorType::InvalidUnicodeEscape
                    | ErrorType::InvalidUnicodeCodepoint => None,
                    _ if e.character().is_none() && e.index() == 0 => None,
                    _ => Some(e.index()),
                },
                detail: format!("{:?}", e.error()),
            }),
        };
        self.tape = Some(tape.reset());
        result
    }
}

type R<T> = Result<T, ParseError>;

fn wrong(field: &'static str, expected: &'static str) -> ParseError {
    ParseError::WrongType { field, expected }
}

/// A field of an object: `None` when absent or `null`.
fn field<'t, 'i>(obj: &Object<'t, 'i>, key: &str) -> Option<Value<'t, 'i>> {
    obj.get(key).filter(|v| !v.is_null())
}

fn opt_str<'i>(obj: &Object<'_, 'i>, key: &'static str) -> R<Option<&'i str>> {
    field(obj, key)
        .map(|v| v.into_string().ok_or_else(|| wrong(key, "a string")))
        .transpose()
}

fn req_str<'i>(obj: &Object<'_, 'i>, key: &'static str) -> R<&'i str> {
    opt_str(obj, key)?.ok_or(ParseError::MissingField { field: key })
}

fn opt_u64(obj: &Object<'_, '_>, key: &'static str) -> R<Option<u64>> {
    field(obj, key)
        .map(|v| as_u64(&v).ok_or_else(|| wrong(key, "an unsigned integer")))
        .transpose()
}

fn as_u64(v: &Value<'_, '_>) -> Option<u64> {
    match v.value_type() {
        ValueType::U64 | ValueType::I64 => v.as_u64(),
        _ => None,
    }
}

fn opt_bool(obj: &Object<'_, '_>, key: &'static str) -> R<Option<bool>> {
    field(obj, key)
        .map(|v| v.as_bool().ok_or_else(|| wrong(key, "a boolean")))
        .transpose()
}

/// A JSON number as an exact decimal (floats via their shortest round-trip text).
fn decimal(v: &Value<'_, '_>, key: &'static str) -> R<Decimal> {
    match v.value_type() {
        ValueType::U64 => Ok(Decimal {
            mantissa: v.as_u64().unwrap_or(0),
            exponent: 0,
            negative: false,
            inexact: false,
        }),
        ValueType::I64 => {
            let i = v.as_i64().unwrap_or(0);
            Ok(Decimal {
                mantissa: i.unsigned_abs(),
                exponent: 0,
                negative: i < 0,
                inexact: false,
            })
        }
        ValueType::F64 => {
            let f = v.as_f64().unwrap_or(f64::NAN);
            if !f.is_finite() {
                return Err(ParseError::BadNumber {
                    field: key,
                    error: NumberError::NotANumber,
                });
            }
            let mut b = ryu::Buffer::new();
            Decimal::parse(b.format_finite(f).as_bytes())
                .map_err(|error| ParseError::BadNumber { field: key, error })
        }
        _ => Err(wrong(key, "a number")),
    }
}

fn number_err(field: &'static str) -> impl Fn(NumberError) -> ParseError {
    move |error| ParseError::BadNumber { field, error }
}

/// A price or size in fixed-point units (floats by the exact fast route when it applies).
fn units(v: &Value<'_, '_>, key: &'static str) -> R<u64> {
    if v.value_type() == ValueType::F64 {
        return f64_to_units(v.as_f64().unwrap_or(f64::NAN)).map_err(number_err(key));
    }
    decimal(v, key)?.to_units().map_err(number_err(key))
}

fn price(v: &Value<'_, '_>, key: &'static str) -> R<Price> {
    Price::from_units(units(v, key)?).map_err(number_err(key))
}

fn size(v: &Value<'_, '_>, key: &'static str) -> R<Size> {
    Ok(Size::from_units(units(v, key)?))
}

fn opt_price(obj: &Object<'_, '_>, key: &'static str) -> R<Option<Price>> {
    field(obj, key).map(|v| price(&v, key)).transpose()
}

fn opt_size(obj: &Object<'_, '_>, key: &'static str) -> R<Option<Size>> {
    field(obj, key).map(|v| size(&v, key)).transpose()
}

fn market<'i>(obj: &Object<'_, 'i>) -> R<MarketRef<'i>> {
    Ok(MarketRef {
        parsec_id: req_str(obj, "parsec_id")?,
        outcome: opt_str(obj, "outcome")?.unwrap_or("yes"),
        exchange: opt_str(obj, "exchange")?,
        market_id: opt_str(obj, "market_id")?,
        token_id: opt_str(obj, "token_id")?,
    })
}

/// The market of a `resync_required` or `slow_reader`: without `outcome`
/// (A3 lists it, but only a subscribe's defaults to yes) the outcome is
/// empty, which the store reads as every outcome of the market. Defaulting
/// to yes would resync the wrong book and serve a corrupt one as fresh.
fn notice_market<'i>(obj: &Object<'_, 'i>) -> R<MarketRef<'i>> {
    Ok(MarketRef {
        outcome: opt_str(obj, "outcome")?.unwrap_or(""),
        ..market(obj)?
    })
}

fn book_state(obj: &Object<'_, '_>) -> R<Option<WireBookState>> {
    Ok(match opt_str(obj, "book_state")? {
        Some("fresh") => Some(WireBookState::Fresh),
        Some("stale") => Some(WireBookState::Stale),
        Some("needs_refresh") => Some(WireBookState::NeedsRefresh),
        _ => None,
    })
}

fn feed_state(obj: &Object<'_, '_>) -> R<Option<FeedState>> {
    Ok(match opt_str(obj, "feed_state")? {
        Some("healthy") => Some(FeedState::Healthy),
        Some("degraded") => Some(FeedState::Degraded),
        Some("disconnected") => Some(FeedState::Disconnected),
        _ => None,
    })
}

/// "buy" or "sell".
fn side_word(word: &str) -> Option<TradeSide> {
    match word {
        "buy" => Some(TradeSide::Buy),
        "sell" => Some(TradeSide::Sell),
        _ => None,
    }
}

/// `side`: "buy" or "sell" (PROTOCOL.md A3), anything else a bad value.
fn trade_side(obj: &Object<'_, '_>, key: &'static str) -> R<Option<TradeSide>> {
    match opt_str(obj, key)? {
        None => Ok(None),
        Some(word) => side_word(word)
            .map(Some)
            .ok_or(ParseError::BadValue { field: key }),
    }
}

/// `aggressor_side`, whose values PROTOCOL.md does not list: "buy" and
/// "sell" as for `side`, any other word unknown (`None`), not a reason to
/// lose the trade.
fn aggressor_side(obj: &Object<'_, '_>) -> R<Option<TradeSide>> {
    Ok(opt_str(obj, "aggressor_side")?.and_then(side_word))
}

fn levels(obj: &Object<'_, '_>, key: &'static str, out: &mut Vec<Level>) -> R<()> {
    let arr = obj
        .get(key)
        .ok_or(ParseError::MissingField { field: key })?
        .as_array()
        .ok_or_else(|| wrong(key, "an array of [price, size]"))?;
    for level in arr.iter() {
        let pair = level
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| wrong(key, "an array of [price, size]"))?;
        let (Some(p), Some(s)) = (pair.get(0), pair.get(1)) else {
            return Err(wrong(key, "an array of [price, size]"));
        };
        out.push(Level {
            price: price(&p, "price")?,
            size: size(&s, "size")?,
        });
    }
    Ok(())
}

fn changes(obj: &Object<'_, '_>, out: &mut Vec<Change>) -> R<()> {
    let arr = obj
        .get("changes")
        .ok_or(ParseError::MissingField { field: "changes" })?
        .as_array()
        .ok_or_else(|| wrong("changes", "an array"))?;
    for change in arr.iter() {
        let c = change
            .as_object()
            .ok_or_else(|| wrong("changes", "an array of objects"))?;
        let side = match req_str(&c, "side")? {
            "bid" => Side::Bid,
            "ask" => Side::Ask,
            _ => return Err(ParseError::BadValue { field: "side" }),
        };
        let p = c
            .get("price")
            .ok_or(ParseError::MissingField { field: "price" })?;
        let s = c
            .get("size")
            .ok_or(ParseError::MissingField { field: "size" })?;
        out.push(Change {
            side,
            price: price(&p, "price")?,
            size: size(&s, "size")?,
        });
    }
    Ok(())
}

/// Converts a parsed tape into a frame.
fn build<'a>(root: Value<'_, 'a>, scratch: &'a mut Scratch) -> R<Frame<'a>> {
    let obj = root.as_object().ok_or(ParseError::NotAnObject)?;
    let type_name = match obj.get("type") {
        Some(t) => t.into_string().ok_or(ParseError::MissingType)?,
        None => return Err(ParseError::MissingType),
    };
    let obj = &obj;
    Ok(match type_name {
        "orderbook" => {
            // PROTOCOL.md A3: `kind` is "snapshot", a full book that
            // replaces the client's. Any other kind is refused rather than
            // read as one (a partial book applied as a full one would be a
            // wrong book served as fresh).
            if opt_str(obj, "kind")?.is_some_and(|k| k != "snapshot") {
                return Err(ParseError::BadValue { field: "kind" });
            }
            levels(obj, "bids", &mut scratch.bids)?;
            levels(obj, "asks", &mut scratch.asks)?;
            Frame::Book(BookFrame {
                market: market(obj)?,
                bids: &scratch.bids,
                asks: &scratch.asks,
                server_seq: opt_u64(obj, "server_seq")?.ok_or(ParseError::MissingField {
                    field: "server_seq",
                })?,
                book_state: book_state(obj)?,
                feed_state: feed_state(obj)?,
                stale_after_ms: opt_u64(obj, "stale_after_ms")?,
                tick_size: opt_price(obj, "tick_size")?,
                min_order_size: opt_size(obj, "min_order_size")?,
                title: opt_str(obj, "title")?,
                exchange_ts_ms: opt_u64(obj, "exchange_ts_ms")?,
                ingest_ts_ms: opt_u64(obj, "ingest_ts_ms")?,
            })
        }
        "orderbook_delta" => {
            changes(obj, &mut scratch.changes)?;
            Frame::Delta(DeltaFrame {
                market: market(obj)?,
                changes: &scratch.changes,
                server_seq: opt_u64(obj, "server_seq")?.ok_or(ParseError::MissingField {
                    field: "server_seq",
                })?,
                book_state: book_state(obj)?,
                feed_state: feed_state(obj)?,
                stale_after_ms: opt_u64(obj, "stale_after_ms")?,
                exchange_ts_ms: opt_u64(obj, "exchange_ts_ms")?,
                ingest_ts_ms: opt_u64(obj, "ingest_ts_ms")?,
            })
        }
        "activity" => Frame::Activity(ActivityFrame {
            market: market(obj)?,
            kind: match req_str(obj, "kind")? {
                "trade" => ActivityKind::Trade,
                "fill" => ActivityKind::Fill,
                _ => return Err(ParseError::BadValue { field: "kind" }),
            },
            price: opt_price(obj, "price")?.ok_or(ParseError::MissingField { field: "price" })?,
            size: opt_size(obj, "size")?.ok_or(ParseError::MissingField { field: "size" })?,
            side: trade_side(obj, "side")?,
            aggressor_side: aggressor_side(obj)?,
            trade_id: opt_str(obj, "trade_id")?,
            fill_id: opt_str(obj, "fill_id")?,
            order_id: opt_str(obj, "order_id")?,
            liquidity_role: opt_str(obj, "liquidity_role")?,
            source_channel: opt_str(obj, "source_channel")?,
            server_seq: opt_u64(obj, "server_seq")?,
            feed_state: feed_state(obj)?,
            exchange_ts_ms: opt_u64(obj, "exchange_ts_ms")?,
            ingest_ts_ms: opt_u64(obj, "ingest_ts_ms")?,
        }),
        "wallet_activity" => {
            let data = obj
                .get("data")
                .ok_or(ParseError::MissingField { field: "data" })?;
            let exchange = req_str(obj, "exchange")?;
            let address = req_str(obj, "address")?;
            // As it came (PROTOCOL.md: keep `data` as raw JSON); a frame the
            // walk could not read gets the tape written back instead, whose
            // numbers may be reformatted (writing into a Vec cannot fail).
            let raw = if scratch.raw.is_empty() {
                let _ = data.write(&mut scratch.text);
                &scratch.text
            } else {
                &scratch.raw
            };
            Frame::WalletActivity(WalletActivityFrame {
                exchange,
                address,
                data: std::str::from_utf8(raw).unwrap_or("null"),
            })
        }
        "heartbeat" => {
            let ts_ms = match opt_u64(obj, "ts_ms")? {
                Some(ms) => Some(ms),
                None => timestamp(obj, "timestamp")?,
            };
            Frame::Heartbeat { ts_ms }
        }
        "resync_required" => Frame::ResyncRequired(notice_market(obj)?),
        "slow_reader" => Frame::SlowReader(notice_market(obj)?),
        "error" => Frame::Error(ErrorFrame {
            code: code(obj)?,
            message: opt_str(obj, "message")?.unwrap_or(""),
            parsec_id: opt_str(obj, "parsec_id")?,
        }),
        "auth_ok" => Frame::AuthOk {
            customer_id: opt_str(obj, "customer_id")?,
        },
        // The type alone says the key was refused (A1: fatal, no
        // reconnect): a `code` that is missing or not a number must not turn
        // it into a parse error the client waits past, reconnecting for
        // ever with a bad key. A5 gives 1002 for it.
        "auth_error" => Frame::AuthError {
            code: code(obj).unwrap_or(AUTH_ERROR_CODE),
            message: opt_str(obj, "message").ok().flatten().unwrap_or(""),
        },
        "connected" => Frame::Connected(ConnectedFrame {
            sport_key: opt_str(obj, "sport_key")?.unwrap_or(""),
            timestamp_ms: timestamp(obj, "timestamp")?,
            tier: req_str(obj, "tier")?,
            push_mode: opt_str(obj, "push_mode")?,
            min_push_interval_ms: field(obj, "min_push_interval_s")
                .map(|v| {
                    seconds_to_ms(decimal(&v, "min_push_interval_s")?).ok_or(
                        ParseError::BadNumber {
                            field: "min_push_interval_s",
                            error: NumberError::OutOfRange,
                        },
                    )
                })
                .transpose()?,
            diff_mode: opt_bool(obj, "diff_mode")?.unwrap_or(false),
        }),
        "initial_state" | "odds_update" => {
            let odds = odds(obj, scratch)?;
            if type_name == "initial_state" {
                Frame::InitialState(odds)
            } else {
                Frame::OddsUpdate(odds)
            }
        }
        "subscribed" => Frame::Subscribed {
            event_id: req_str(obj, "event_id")?,
            timestamp_ms: timestamp(obj, "timestamp")?,
        },
        "unsubscribed" => Frame::Unsubscribed {
            timestamp_ms: timestamp(obj, "timestamp")?,
        },
        "stream_status" => Frame::StreamStatus(StreamStatusFrame {
            sport_key: opt_str(obj, "sport_key")?,
            bookmaker: opt_str(obj, "bookmaker")?,
            status: opt_str(obj, "status")?,
            reason: opt_str(obj, "reason")?,
        }),
        other => return Err(unknown_type(other)),
    })
}

/// PROTOCOL.md A5: invalid key or token, sent as `auth_error`.
const AUTH_ERROR_CODE: u32 = 1002;

fn code(obj: &Object<'_, '_>) -> R<u32> {
    let c = opt_u64(obj, "code")?.ok_or(ParseError::MissingField { field: "code" })?;
    u32::try_from(c).map_err(|_| ParseError::BadNumber {
        field: "code",
        error: NumberError::OutOfRange,
    })
}

fn timestamp(obj: &Object<'_, '_>, key: &'static str) -> R<Option<u64>> {
    field(obj, key)
        .map(|v| {
            parlay_timestamp_ms(decimal(&v, key)?).ok_or(ParseError::BadNumber {
                field: key,
                error: NumberError::OutOfRange,
            })
        })
        .transpose()
}

fn odds<'a>(obj: &Object<'_, 'a>, scratch: &'a mut Scratch) -> R<OddsFrame<'a>> {
    let data = obj
        .get("data")
        .ok_or(ParseError::MissingField { field: "data" })?
        .as_array()
        .ok_or_else(|| wrong("data", "an array of rows"))?;
    let mut rejected_rows = 0u32;
    for row in data.iter() {
        match row
            .as_object()
            .and_then(|r| odds_row(&r, &mut scratch.text))
        {
            Some(raw) => scratch.rows.push(raw),
            None => rejected_rows = rejected_rows.saturating_add(1),
        }
    }
    Ok(OddsFrame {
        sport_key: opt_str(obj, "sport_key")?.unwrap_or(""),
        timestamp_ms: timestamp(obj, "timestamp")?,
        count: opt_u64(obj, "count")?,
        rows: OddsRows {
            buf: &scratch.text,
            rows: &scratch.rows,
        },
        rejected_rows,
        truncated: opt_bool(obj, "truncated")?,
        coalesced: opt_bool(obj, "coalesced")?,
        since_ms: opt_u64(obj, "since")?,
    })
}

/// One row, strings copied into `text`; `None` rejects the row (and only the row).
fn odds_row(r: &Object<'_, '_>, text: &mut Vec<u8>) -> Option<RawOddsRow> {
    let mut span = |key: &'static str| -> Option<Option<Span>> {
        let Ok(s) = opt_str(r, key) else {
            return None;
        };
        Some(s.and_then(|s| {
            let start = u32::try_from(text.len()).ok()?;
            text.extend_from_slice(s.as_bytes());
            Some(Span {
                start,
                len: u32::try_from(s.len()).ok()?,
            })
        }))
    };
    let event_id = span("event_id")?;
    let bookmaker = span("bookmaker")?;
    let market_key = span("market_key")?;
    let outcome = span("outcome")?;
    let kind = span("kind")?;
    let home_team = span("home_team")?;
    let away_team = span("away_team")?;
    let commence_time = span("commence_time")?;
    let player = span("player")?;
    let odds = |key: &'static str| -> Option<Option<i32>> {
        match field(r, key) {
            None => Some(None),
            Some(v) => match v.value_type() {
                ValueType::I64 | ValueType::U64 => {
                    v.as_i64().and_then(|i| i32::try_from(i).ok()).map(Some)
                }
                _ => None,
            },
        }
    };
    let line = |key: &'static str| -> Option<Option<Line>> {
        match field(r, key) {
            None => Some(None),
            Some(v) => Line::from_decimal(decimal(&v, key).ok()?).ok().map(Some),
        }
    };
    let row = RawOddsRow {
        event_id: Some(event_id?),
        bookmaker: Some(bookmaker?),
        market_key,
        outcome,
        price_american: odds("price_american")?,
        point: line("point")?,
        timestamp_ms: timestamp(r, "timestamp").ok()?,
        kind,
        home_team,
        away_team,
        commence_time,
        last_update_ms: opt_u64(r, "last_update").ok()?,
        home_ml: odds("home_ml")?,
        away_ml: odds("away_ml")?,
        home_spread: line("home_spread")?,
        away_spread: line("away_spread")?,
        total: line("total")?,
        player,
        line: line("line")?,
        over_price: odds("over_price")?,
        under_price: odds("under_price")?,
        action: match opt_str(r, "action").ok()? {
            None => None,
            Some("upsert") => Some(RowAction::Upsert),
            Some("remove") => Some(RowAction::Remove),
            Some(_) => return None,
        },
        available: opt_bool(r, "available").ok()?,
    };
    Some(row)
}
