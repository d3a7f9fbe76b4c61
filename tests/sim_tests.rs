//! The simulator's server rules, driven by a bare WebSocket client (no
//! wirebook client in the way): the auth window, 1001, 1002, 3001, tier
//! limits, resync answers, routing.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wirebook::sim::{Fault, SimConfig, SimStats, Simulator};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn open(sim: &Simulator) -> Ws {
    tokio_tungstenite::connect_async(sim.url())
        .await
        .expect("connects")
        .0
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text.to_owned())).await.unwrap();
}

/// The next text frame as JSON (`None` when the connection ends first).
async fn next_json(ws: &mut Ws) -> Option<serde_json::Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .ok()??
        {
            Ok(Message::Text(t)) => {
                return Some(serde_json::from_str(&t).expect("the simulator writes JSON"))
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Frames until one of `kind` (skipping heartbeats, deltas and the like).
async fn next_of(ws: &mut Ws, kind: &str) -> Option<serde_json::Value> {
    loop {
        let v = next_json(ws).await?;
        if v["type"] == kind {
            return Some(v);
        }
    }
}

fn quiet() -> SimConfig {
    SimConfig {
        rate_hz: 0.0,
        markets: 4,
        ..SimConfig::default()
    }
}

#[test]
fn a_connection_that_does_not_authenticate_in_time_is_closed() {
    let sim = Simulator::start(SimConfig {
        auth_window: Duration::from_millis(300),
        ..quiet()
    })
    .unwrap();
    rt().block_on(async {
        let mut ws = open(&sim).await;
        let t = std::time::Instant::now();
        assert_eq!(next_json(&mut ws).await, None);
        assert!(t.elapsed() >= Duration::from_millis(250));
    });
    assert_eq!(sim.stats().auth_timeouts, 1);
}

#[test]
fn a_peer_that_never_finishes_the_handshake_is_dropped_after_the_auth_window() {
    for tls in [false, true] {
        let sim = Simulator::start(SimConfig {
            auth_window: Duration::from_millis(300),
            tls,
            ..quiet()
        })
        .unwrap();
        // TCP only: no TLS hello, no HTTP upgrade.
        let mut tcp = std::net::TcpStream::connect(sim.addr()).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let t = std::time::Instant::now();
        let mut byte = [0u8; 1];
        let read = std::io::Read::read(&mut tcp, &mut byte);
        assert!(
            matches!(read, Ok(0)),
            "closed by the server (tls {tls}): {read:?}"
        );
        assert!(t.elapsed() >= Duration::from_millis(250));
        let end = std::time::Instant::now() + Duration::from_secs(2);
        while sim.stats().open_connections != 0 && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sim.stats().open_connections, 0);
    }
}

#[test]
fn a_subscribe_without_markets_is_malformed() {
    // PROTOCOL.md A2: `markets` is required (`addresses` is the optional
    // one), so a client that leaves it out of a wallet-only frame is told.
    let sim = Simulator::start(quiet()).unwrap();
    rt().block_on(async {
        let mut ws = open(&sim).await;
        send(&mut ws, r#"{"type":"auth","api_key":"pk_pro_1"}"#).await;
        assert_eq!(next_json(&mut ws).await.unwrap()["type"], "auth_ok");
        let wallet = r#"{"exchange":"polymarket","address":"0xabc"}"#;
        send(
            &mut ws,
            &format!(r#"{{"type":"subscribe","addresses":[{wallet}]}}"#),
        )
        .await;
        assert_eq!(next_json(&mut ws).await.unwrap()["code"], 2001);
        // With an empty list it is a wallet's subscribe: its snapshot comes.
        send(
            &mut ws,
            &format!(r#"{{"type":"subscribe","markets":[],"addresses":[{wallet}]}}"#),
        )
        .await;
        assert_eq!(next_json(&mut ws).await.unwrap()["type"], "wallet_activity");
    });
}

#[test]
fn keys_and_the_order_of_auth_follow_the_protocol() {
    let sim = Simulator::start(quiet()).unwrap();
    rt().block_on(async {
        let mut ws = open(&sim).await;
        send(
            &mut ws,
            r#"{"type":"subscribe","markets":[{"parsec_id":"sim:0"}]}"#,
        )
        .await;
        assert_eq!(
            next_json(&mut ws).await.unwrap()["code"],
            1001,
            "subscribe before auth"
        );
        send(&mut ws, r#"{"type":"auth","api_key":"pk_pro_1"}"#).await;
        assert_eq!(next_json(&mut ws).await.unwrap()["type"], "auth_ok");
        send(&mut ws, r#"{"type":"auth","api_key":"pk_pro_1"}"#).await;
        assert_eq!(
            next_json(&mut ws).await.unwrap()["code"],
            1001,
            "second auth"
        );

        let mut ws = open(&sim).await;
        send(&mut ws, r#"{"type":"auth","api_key":"pk_invalid"}"#).await;
        let v = next_json(&mut ws).await.unwrap();
        assert_eq!(
            (v["type"].as_str(), v["code"].as_u64()),
            (Some("auth_error"), Some(1002))
        );
        assert_eq!(next_json(&mut ws).await, None, "closed after auth_error");

        let mut ws = open(&sim).await;
        send(&mut ws, r#"{"type":"auth_terminal","token":"tok_1"}"#).await;
        assert_eq!(next_json(&mut ws).await.unwrap()["type"], "auth_ok");
    });
}

/// Authenticates on a server allowing `limit` control frames a second, sends
/// `limit + 1` subscribes at once and returns the `error` that answers them.
fn over_the_control_limit(config: SimConfig, limit: usize) -> (serde_json::Value, SimStats) {
    let sim = Simulator::start(SimConfig {
        control_limit: limit,
        ..config
    })
    .unwrap();
    let err = rt().block_on(async {
        let mut ws = open(&sim).await;
        send(&mut ws, r#"{"type":"auth","api_key":"pk_x"}"#).await;
        next_of(&mut ws, "auth_ok").await.unwrap();
        for i in 0..=limit {
            let frame = format!(r#"{{"type":"subscribe","markets":[{{"parsec_id":"sim:{i}"}}]}}"#);
            send(&mut ws, &frame).await;
        }
        next_of(&mut ws, "error").await.unwrap()
    });
    (err, sim.stats())
}

#[test]
fn a_fourth_control_frame_within_a_second_gets_3001() {
    let (err, s) = over_the_control_limit(quiet(), 3);
    assert_eq!(err["code"], 3001);
    assert_eq!(
        err["message"],
        "rate limited: at most 3 control frames per second"
    );
    assert_eq!(
        (s.rate_limited, s.snapshots, s.max_control_per_second),
        (1, 3, 4)
    );
}

#[test]
fn the_3001_message_states_the_limit_the_server_was_given() {
    let (err, s) = over_the_control_limit(quiet(), 2);
    assert_eq!(err["code"], 3001);
    assert_eq!(
        err["message"],
        "rate limited: at most 2 control frames per second"
    );
    assert_eq!((s.rate_limited, s.snapshots), (1, 2));
}

#[test]
fn tiers_clamp_depth_and_limit_subscriptions() {
    let sim = Simulator::start(SimConfig {
        depth: 30,
        markets: 8,
        control_limit: 100,
        ..quiet()
    })
    .unwrap();
    rt().block_on(async {
        let mut ws = open(&sim).await;
        send(&mut ws, r#"{"type":"auth","api_key":"pk_free_1"}"#).await;
        next_of(&mut ws, "auth_ok").await.unwrap();
        send(&mut ws, r#"{"type":"subscribe","markets":[{"exchange":"sim","market_id":"0","outcome":"No","depth":100}]}"#).await;
        let book = next_of(&mut ws, "orderbook").await.unwrap();
        assert_eq!((book["parsec_id"].as_str(), book["outcome"].as_str()), (Some("sim:0"), Some("no")));
        assert!(book["bids"].as_array().unwrap().len() <= 10 && book["asks"].as_array().unwrap().len() <= 10);
        let markets: Vec<String> = (1..=5).map(|i| format!(r#"{{"parsec_id":"sim:{i}"}}"#)).collect();
        send(&mut ws, &format!(r#"{{"type":"subscribe","markets":[{}]}}"#, markets.join(","))).await;
        let err = next_of(&mut ws, "error").await.unwrap();
        assert_eq!((err["code"].as_u64(), err["parsec_id"].as_str()), (Some(3002), Some("sim:5")));
        // A resync is answered by a fresh snapshot with a later seq.
        send(&mut ws, r#"{"type":"resync","parsec_id":"sim:0","outcome":"no"}"#).await;
        let again = next_of(&mut ws, "orderbook").await.unwrap();
        assert!(again["server_seq"].as_u64() > book["server_seq"].as_u64());
        assert_eq!(again["parsec_id"], "sim:0");
    });
    assert_eq!(sim.stats().resyncs, 1);
}

#[test]
fn only_the_protocol_paths_are_served() {
    let sim = Simulator::start(quiet()).unwrap();
    let url = sim.url().replace("/ws", "/nope");
    let err = rt()
        .block_on(tokio_tungstenite::connect_async(url))
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}

/// A connection authenticated and subscribed to `sim:0`, and its snapshot.
/// A simulator of one market moving at 200 deltas a second.
fn one_busy_market() -> Simulator {
    Simulator::start(SimConfig {
        rate_hz: 200.0,
        markets: 1,
        ..SimConfig::default()
    })
    .unwrap()
}

async fn subscribed_to_sim_0(sim: &Simulator) -> (Ws, serde_json::Value) {
    let mut ws = open(sim).await;
    send(&mut ws, r#"{"type":"auth","api_key":"pk_test"}"#).await;
    next_of(&mut ws, "auth_ok").await.unwrap();
    send(
        &mut ws,
        r#"{"type":"subscribe","markets":[{"parsec_id":"sim:0"}]}"#,
    )
    .await;
    let book = next_of(&mut ws, "orderbook").await.unwrap();
    (ws, book)
}

#[test]
fn a_book_subscribed_again_on_one_connection_never_repeats_a_seq() {
    let sim = one_busy_market();
    rt().block_on(async {
        let (mut ws, book) = subscribed_to_sim_0(&sim).await;
        let mut last = book["server_seq"].as_u64().unwrap();
        for _ in 0..5 {
            let delta = next_of(&mut ws, "orderbook_delta").await.unwrap();
            last = last.max(delta["server_seq"].as_u64().unwrap());
        }
        send(
            &mut ws,
            r#"{"type":"unsubscribe","markets":[{"parsec_id":"sim:0"}]}"#,
        )
        .await;
        send(
            &mut ws,
            r#"{"type":"subscribe","markets":[{"parsec_id":"sim:0"}]}"#,
        )
        .await;
        // Deltas sent before the unsubscribe took may come first.
        let again = loop {
            let v = next_json(&mut ws).await.unwrap();
            match v["type"].as_str() {
                Some("orderbook_delta") => last = last.max(v["server_seq"].as_u64().unwrap()),
                Some("orderbook") => break v,
                _ => {}
            }
        };
        // The new subscription counts on from above the old one: a delta a
        // client still buffers cannot continue its snapshot.
        let seq = again["server_seq"].as_u64().unwrap();
        assert!(seq > last, "{seq} after {last}");
    });
}

#[test]
fn two_reorders_in_a_row_deliver_every_delta_once() {
    let sim = one_busy_market();
    rt().block_on(async {
        let (mut ws, book) = subscribed_to_sim_0(&sim).await;
        let base = book["server_seq"].as_u64().unwrap();
        sim.inject(Fault::Reorder);
        sim.inject(Fault::Reorder);
        let mut seqs = Vec::new();
        while seqs.len() < 20 {
            let delta = next_of(&mut ws, "orderbook_delta").await.unwrap();
            seqs.push(delta["server_seq"].as_u64().unwrap());
        }
        assert!(seqs.windows(2).any(|w| w[0] > w[1]), "reordered: {seqs:?}");
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        // Deltas may have been sent between the snapshot and the first fault:
        // every seq after the snapshot arrives once, none is lost.
        assert_eq!(
            sorted,
            (base + 1..base + 21).collect::<Vec<_>>(),
            "{seqs:?}"
        );
    });
    assert_eq!(sim.stats().fault(Fault::Reorder), 2);
}

#[test]
fn silence_quiets_the_flood_too() {
    let sim = Simulator::start(SimConfig {
        rate_hz: 100.0,
        markets: 1,
        flood: true,
        silence: Duration::from_secs(3),
        ..SimConfig::default()
    })
    .unwrap();
    rt().block_on(async {
        let (mut ws, _) = subscribed_to_sim_0(&sim).await;
        sim.inject(Fault::Silence);
        let start = std::time::Instant::now();
        // What was sent before the fault drains; then nothing for a while.
        let mut quiet = false;
        while !quiet && start.elapsed() < Duration::from_secs(2) {
            quiet = tokio::time::timeout(Duration::from_millis(300), ws.next())
                .await
                .is_err();
        }
        assert!(quiet, "the flood went on through the silence");
    });
    assert_eq!(sim.stats().fault(Fault::Silence), 1);
}

/// The next text frame, raw.
async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .ok()??
        {
            Ok(Message::Text(t)) => return Some(t.to_string()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

#[test]
fn changes_lost_behind_a_notice_reach_only_a_client_that_acts_on_it() {
    use wirebook::sim::checksum;
    use wirebook::{BookStore, FrameParser, Level};
    // A4.4: `resync_required`, `slow_reader` and `book_state: needs_refresh`
    // each say the book is unreliable. The simulator loses changes behind
    // each, with no gap in `server_seq`: a client that ignored the signal
    // would go on from a wrong book without noticing. Shown with a client
    // that ignores it: its book differs from the server's at the same seq.
    for fault in [
        Fault::ResyncRequired,
        Fault::SlowReader,
        Fault::NeedsRefresh,
    ] {
        // Slow ticks: the server's truth is read before the next one.
        let sim = Simulator::start(SimConfig {
            rate_hz: 4.0,
            markets: 1,
            record_truth: true,
            ..SimConfig::default()
        })
        .unwrap();
        rt().block_on(async {
            let (mut ws, _) = subscribed_to_sim_0(&sim).await;
            // The snapshot again, raw, for the ignoring client's store.
            send(
                &mut ws,
                r#"{"type":"resync","parsec_id":"sim:0","outcome":"yes"}"#,
            )
            .await;
            let (mut store, mut parser) = (BookStore::default(), FrameParser::new());
            let mut last = None;
            let ours = |store: &mut BookStore| {
                let book = store.book("sim:0", "yes").unwrap();
                let bids: Vec<Level> = book.bids().iter().collect();
                let asks: Vec<Level> = book.asks().iter().collect();
                checksum(&bids, &asks)
            };
            loop {
                let text = next_text(&mut ws).await.expect("frames");
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                let kind = v["type"].as_str().unwrap_or_default().to_owned();
                let seq = v["server_seq"].as_u64();
                match kind.as_str() {
                    "orderbook" if last.is_none() => {
                        store
                            .ingest(&mut parser, &mut text.into_bytes(), 0)
                            .unwrap();
                        last = seq;
                        sim.inject(fault);
                    }
                    "resync_required" | "slow_reader" => {
                        // Ignored. The changes behind it are in the server's
                        // book at the seq the next delta will carry.
                        let next = last.unwrap() + 1;
                        assert_ne!(sim.truth_at("sim:0", "yes", next), None, "{fault:?}");
                        assert_ne!(sim.truth_at("sim:0", "yes", next), Some(ours(&mut store)));
                        let delta = loop {
                            let t = next_text(&mut ws).await.expect("frames");
                            if t.contains("orderbook_delta") {
                                break t;
                            }
                        };
                        let v: serde_json::Value = serde_json::from_str(&delta).unwrap();
                        assert_eq!(v["server_seq"].as_u64(), Some(next), "no gap: {fault:?}");
                        return;
                    }
                    "orderbook_delta" if v["book_state"] == "needs_refresh" => {
                        assert_eq!(v["changes"].as_array().map(Vec::len), Some(0));
                        assert_eq!(v["feed_state"], "disconnected");
                        assert_eq!(seq, Some(last.unwrap() + 1), "no gap");
                        // Ignored: applied as if fresh.
                        let fresh = text.replace("needs_refresh", "fresh");
                        store
                            .ingest(&mut parser, &mut fresh.into_bytes(), 0)
                            .unwrap();
                        assert_ne!(
                            sim.truth_at("sim:0", "yes", seq.unwrap()),
                            Some(ours(&mut store))
                        );
                        return;
                    }
                    "orderbook_delta" if last.is_some() => {
                        assert_eq!(seq, Some(last.unwrap() + 1));
                        store
                            .ingest(&mut parser, &mut text.into_bytes(), 0)
                            .unwrap();
                        last = seq;
                    }
                    _ => {}
                }
            }
        });
        assert_eq!(sim.stats().fault(fault), 1, "{fault:?}");
    }
}

#[test]
fn a_resync_snapshot_may_jump_ahead_in_seq() {
    // A4.1: a snapshot's seq may jump; a client must take it as it comes.
    let sim = Simulator::start(SimConfig {
        control_limit: 100,
        ..quiet()
    })
    .unwrap();
    let seqs = rt().block_on(async {
        let (mut ws, book) = subscribed_to_sim_0(&sim).await;
        let mut seqs = vec![book["server_seq"].as_u64().unwrap()];
        for _ in 0..5 {
            send(
                &mut ws,
                r#"{"type":"resync","parsec_id":"sim:0","outcome":"yes"}"#,
            )
            .await;
            let again = next_of(&mut ws, "orderbook").await.unwrap();
            seqs.push(again["server_seq"].as_u64().unwrap());
        }
        seqs
    });
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    assert!(seqs.windows(2).any(|w| w[1] > w[0] + 1), "{seqs:?}");
}
