//! The Parlay odds client against the simulator's odds protocol over
//! loopback: frame order, both row shapes and diff mode into the board,
//! subscribe/unsubscribe, every close code and its action, dead-connection
//! reconnect resuming with `since`, edge alerts.

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use wirebook::client::{Backoff, ClientError, OddsEvent, ParlayClient, ParlayConfig};
use wirebook::odds::Quote;
use wirebook::sim::{SimConfig, Simulator};

const SPORT: &str = "basketball_nba";

/// Odds moving quickly, no Parsec walk.
fn quick() -> SimConfig {
    SimConfig {
        rate_hz: 0.0,
        odds_interval: Duration::from_millis(100),
        odds_moves: 4,
        ..SimConfig::default()
    }
}

fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config).unwrap()
}

fn config(sim: &Simulator, key: &str) -> ParlayConfig {
    let mut c = ParlayConfig::new(SPORT, key).base_url(sim.base_url());
    c.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
        jitter: 0.5,
    };
    c.deploy_wait = Duration::from_millis(200);
    c.connection_cap_wait = Duration::from_millis(300);
    c
}

type Book = HashMap<(String, String, String, String, Option<i64>), i32>;

fn book(quotes: &[Quote]) -> Book {
    quotes
        .iter()
        .map(|q| {
            let k = &q.key;
            (
                (
                    k.event_id.to_string(),
                    k.bookmaker.to_string(),
                    k.market_key.to_string(),
                    k.outcome.to_string(),
                    k.point.map(|p| p.units()),
                ),
                q.price.get(),
            )
        })
        .collect()
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

/// Pauses the walk and waits for the client's board to equal the truth.
fn assert_board_converges(sim: &Simulator, client: &ParlayClient) {
    assert_board_converges_to(sim, client, |_| true);
}

/// [`assert_board_converges`] for a client whose filters want only the
/// quotes `wanted` keeps.
fn assert_board_converges_to(
    sim: &Simulator,
    client: &ParlayClient,
    wanted: impl Fn(&Quote) -> bool,
) {
    sim.pause(true);
    let truth: Vec<Quote> = sim.odds_truth().into_iter().filter(|q| wanted(q)).collect();
    let truth = book(&truth);
    let ok = wait_until(Duration::from_secs(5), || book(&client.quotes()) == truth);
    assert!(
        ok,
        "board differs from the truth: {} quotes vs {}",
        client.quotes().len(),
        truth.len()
    );
}

fn collect(events: &mut wirebook::client::Events<OddsEvent>, d: Duration) -> Vec<OddsEvent> {
    let end = Instant::now() + d;
    let mut out = Vec::new();
    while Instant::now() < end {
        if let Some(e) = events.recv_timeout(Duration::from_millis(20)) {
            out.push(e);
        }
    }
    out
}

#[test]
fn frames_arrive_in_order_and_the_board_follows_the_truth() {
    let sim = sim(quick());
    let client = ParlayClient::spawn(config(&sim, "pk_scale_test")).unwrap();
    let mut events = client.events();
    let seen = collect(&mut events, Duration::from_millis(800));
    let kinds: Vec<&str> = seen
        .iter()
        .map(|e| match e {
            OddsEvent::Connected(_) => "connected",
            OddsEvent::InitialState { .. } => "initial_state",
            OddsEvent::Update { .. } => "update",
            OddsEvent::StreamStatus { .. } => "stream_status",
            _ => "other",
        })
        .collect();
    assert_eq!(&kinds[..2], ["connected", "initial_state"], "{kinds:?}");
    assert!(
        kinds.iter().filter(|k| **k == "update").count() >= 3,
        "{kinds:?}"
    );
    let session = client.session().unwrap();
    assert_eq!(
        (
            session.tier.as_str(),
            session.push_mode.as_deref(),
            session.coalesce_window
        ),
        ("scale", Some("raw"), Some(Duration::ZERO))
    );
    assert_board_converges(&sim, &client);
    // Best prices are the lowest implied probability across the four books.
    let best = client.best_all();
    // One best price per quote offered by any bookmaker (groups taken off
    // the board are missing at some).
    let truth = sim.odds_truth();
    let offered: std::collections::HashSet<_> = truth
        .iter()
        .map(|q| {
            (
                &q.key.event_id,
                &q.key.market_key,
                &q.key.outcome,
                q.key.point,
            )
        })
        .collect();
    assert_eq!(best.len(), offered.len());
    for b in &best {
        let others = client.quotes().into_iter().filter(|q| {
            q.key.event_id == b.key.event_id
                && q.key.market_key == b.key.market_key
                && q.key.outcome == b.key.outcome
        });
        assert!(others
            .into_iter()
            .all(|q| q.price.implied() >= b.price.implied()));
    }
}

#[test]
fn tiers_set_the_coalesce_window() {
    let sim = sim(quick());
    let client = ParlayClient::connect(config(&sim, "pk_business_test")).unwrap();
    let s = client.session().unwrap();
    assert_eq!(
        (s.tier.as_str(), s.push_mode.as_deref(), s.coalesce_window),
        ("business", Some("coalesced"), Some(Duration::from_secs(1)))
    );
    let mut events = client.events();
    let updates: Vec<bool> = collect(&mut events, Duration::from_millis(2500))
        .into_iter()
        .filter_map(|e| match e {
            OddsEvent::Update { coalesced, .. } => Some(coalesced),
            _ => None,
        })
        .collect();
    assert!(
        (1..=3).contains(&updates.len()) && updates.iter().all(|c| *c),
        "one coalesced update a second: {updates:?}"
    );
    let client = ParlayClient::connect(config(&sim, "pk_enterprise_test")).unwrap();
    assert_eq!(
        client.session().unwrap().coalesce_window,
        Some(Duration::from_millis(500))
    );
}

#[test]
fn grouped_rows_and_diff_mode_build_the_same_board() {
    let sim = sim(quick());
    let mut cfg = config(&sim, "pk_scale_test");
    cfg.extra_query.push(("shape".into(), "grouped".into()));
    cfg.diff = true;
    let client = ParlayClient::connect(cfg).unwrap();
    assert!(client.session().unwrap().diff_mode);
    std::thread::sleep(Duration::from_millis(600));
    assert!(client.counters().updates > 0);
    assert_board_converges(&sim, &client);
}

#[test]
fn subscribe_narrows_to_one_event_and_unsubscribe_widens_again() {
    let sim = sim(SimConfig {
        odds_moves: 12,
        ..quick()
    });
    let client = ParlayClient::connect(config(&sim, "pk_scale_test")).unwrap();
    let mut events = client.events();
    assert!(wait_until(Duration::from_secs(2), || client
        .event_ids()
        .len()
        == 4));
    let ids = client.event_ids();
    let (target, other) = (&ids[0], &ids[1]);
    client.subscribe(target).unwrap();
    let seen = collect(&mut events, Duration::from_millis(300));
    assert!(
        seen.contains(&OddsEvent::Subscribed {
            event_id: target.clone()
        }),
        "{seen:?}"
    );
    let before = book(&client.event(other).unwrap());
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        book(&client.event(other).unwrap()),
        before,
        "no updates for other events while subscribed"
    );
    client.unsubscribe().unwrap();
    let seen = collect(&mut events, Duration::from_millis(300));
    assert!(seen.contains(&OddsEvent::Unsubscribed), "{seen:?}");
    assert!(
        wait_until(Duration::from_secs(3), || book(
            &client.event(other).unwrap()
        ) != before),
        "updates for every event again"
    );
}

#[test]
fn moves_waiting_for_the_coalesce_window_survive_a_subscribe_to_their_event() {
    let sim = sim(SimConfig {
        odds_moves: 12,
        ..quick()
    });
    // Business: one coalesced update a second.
    let client = ParlayClient::connect(config(&sim, "pk_business_test")).unwrap();
    let mut events = client.events();
    assert!(wait_until(Duration::from_secs(2), || client
        .event_ids()
        .len()
        == 4));
    let target = client.event_ids()[0].clone();
    std::thread::sleep(Duration::from_millis(500)); // moves pile up in the window
    client.subscribe(&target).unwrap();
    let seen = collect(&mut events, Duration::from_millis(200));
    assert!(
        seen.contains(&OddsEvent::Subscribed {
            event_id: target.clone()
        }),
        "{seen:?}"
    );
    sim.pause(true);
    let truth: Vec<Quote> = sim
        .odds_truth()
        .into_iter()
        .filter(|q| *q.key.event_id == *target)
        .collect();
    assert!(
        wait_until(Duration::from_secs(3), || book(
            &client.event(&target).unwrap()
        ) == book(&truth)),
        "the event's board misses moves made before the subscribe"
    );
}

#[test]
fn fatal_close_codes_stop_the_client_with_a_clear_error() {
    let sim = sim(quick());
    let e = ParlayClient::connect(config(&sim, "pk_invalid")).unwrap_err();
    assert_eq!(
        e,
        ClientError::Auth {
            code: 1008,
            message: "invalid api key".into()
        }
    );
    let e = ParlayClient::connect(config(&sim, "pk_pro_test")).unwrap_err();
    assert!(
        matches!(e, ClientError::Tier { .. })
            && e.to_string().contains("Business, Enterprise or Scale"),
        "{e}"
    );
    let mut legacy = config(&sim, "pk_starter_test");
    legacy.legacy_path = true;
    let e = ParlayClient::connect(legacy).unwrap_err();
    assert_eq!(
        e,
        ClientError::Tier {
            reason: "HTTP 403 at the handshake".into()
        }
    );
    let e = ParlayClient::connect(config(&sim, "")).unwrap_err();
    assert_eq!(e, ClientError::MissingKey);
    assert!(e.is_fatal());
    // Fatal means no reconnect loop.
    let before = sim.stats().parlay_connections;
    let client = ParlayClient::spawn(config(&sim, "pk_invalid")).unwrap();
    let mut events = client.events();
    let stopped = collect(&mut events, Duration::from_millis(500))
        .into_iter()
        .any(|e| {
            matches!(
                e,
                OddsEvent::Stopped {
                    error: Some(ClientError::Auth { .. })
                }
            )
        });
    assert!(stopped);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sim.stats().parlay_connections, before + 1);
}

#[test]
fn retryable_close_codes_reconnect_after_their_waits() {
    let sim = sim(SimConfig {
        parlay_connection_cap: 1,
        ..quick()
    });
    let first = ParlayClient::connect(config(&sim, "pk_scale_capped")).unwrap();
    // 4002: the second connection of the key waits the long backoff, then retries.
    let second = ParlayClient::spawn(config(&sim, "pk_scale_capped")).unwrap();
    let mut events = second.events();
    let seen = collect(&mut events, Duration::from_millis(600));
    assert!(
        seen.iter().any(|e| matches!(
            e,
            OddsEvent::Disconnected {
                code: Some(4002),
                ..
            }
        )),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|e| *e
            == OddsEvent::Reconnecting {
                attempt: 0,
                delay: Duration::from_millis(300)
            }),
        "{seen:?}"
    );
    drop(first);
    assert!(
        wait_until(Duration::from_secs(3), || second.session().is_some()),
        "connected once the first one left"
    );
    // 1001: a deploy; back after the 5 s wait (200 ms here).
    let mut events = second.events();
    sim.parlay_deploy();
    let seen = collect(&mut events, Duration::from_millis(1500));
    assert!(
        seen.iter().any(|e| matches!(
            e,
            OddsEvent::Disconnected {
                code: Some(1001),
                ..
            }
        )),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|e| *e
            == OddsEvent::Reconnecting {
                attempt: 0,
                delay: Duration::from_millis(200)
            }),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e, OddsEvent::Connected(_))),
        "{seen:?}"
    );
    // 1006: an abrupt drop backs off and reconnects.
    sim.drop_connections();
    let seen = collect(&mut events, Duration::from_millis(1500));
    assert!(
        seen.iter().any(|e| matches!(
            e,
            OddsEvent::Disconnected {
                code: Some(1006),
                ..
            }
        )),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e, OddsEvent::Connected(_))),
        "{seen:?}"
    );
    assert_board_converges(&sim, &second);
}

#[test]
fn a_resumed_state_carries_the_quotes_taken_off_while_the_update_was_lost() {
    // The odds stand still: only the quotes taken off below change.
    let sim = sim(SimConfig {
        odds_moves: 0,
        ..quick()
    });
    let client = ParlayClient::connect(config(&sim, "pk_scale_test")).unwrap();
    let full = sim.odds_truth().len();
    assert!(wait_until(Duration::from_secs(5), || client.quotes().len() == full));
    let event = sim.odds_truth()[0].key.event_id.to_string();
    assert_eq!(sim.odds_off_quietly(&event, "pinnacle"), 4);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(client.quotes().len(), full, "the removal was not sent");
    // A deploy (1001): the client comes back with `since`, and the resumed
    // state, which it merges, must carry the removal.
    sim.parlay_deploy();
    assert!(
        wait_until(Duration::from_secs(5), || sim.stats().parlay_resumes >= 1),
        "{:?}",
        sim.stats()
    );
    assert_board_converges(&sim, &client);
    assert_eq!(client.quotes().len(), full - 4);
}

#[test]
fn a_resumed_state_cut_short_is_followed_by_a_full_one() {
    // The odds stand still: only the quotes taken off below change.
    let sim = sim(SimConfig {
        odds_events: 2,
        odds_moves: 0,
        ..quick()
    });
    // Game quotes only, in grouped rows: one row per (event, bookmaker),
    // so the cap (PROTOCOL.md B2: 500 rows, not quotes) can cut a resumed
    // state of removals and leave the full one whole.
    let mut cfg = config(&sim, "pk_scale_test");
    cfg.extra_query.push(("shape".into(), "grouped".into()));
    cfg.kinds = vec!["game".into()];
    let client = ParlayClient::connect(cfg).unwrap();
    let game = |q: &Quote| !q.key.market_key.starts_with("player_");
    let full = sim.odds_truth().iter().filter(|q| game(q)).count();
    assert!(wait_until(Duration::from_secs(5), || client.quotes().len() == full));
    // Seven groups of four quotes go off unannounced (lost updates).
    let groups: BTreeSet<(String, String)> = sim
        .odds_truth()
        .iter()
        .map(|q| (q.key.event_id.to_string(), q.key.bookmaker.to_string()))
        .collect();
    let off: usize = groups
        .iter()
        .take(7)
        .map(|(event, bookmaker)| sim.odds_off_quietly(event, bookmaker))
        .sum();
    assert_eq!(off, 28);
    // A resumed state holds the 28 changes since the client's cursor, as
    // seven `remove` rows: cut at 6 rows, one group's removal never arrives.
    // A full state holds the one group left, whole.
    assert_eq!(full - 28, 4);
    sim.cap_initial_state(6);
    sim.parlay_deploy();
    assert!(
        wait_until(Duration::from_secs(5), || client
            .counters()
            .truncated_resumes
            >= 1),
        "{:?}",
        client.counters()
    );
    assert!(sim.stats().parlay_resumes >= 1, "{:?}", sim.stats());
    assert_board_converges_to(&sim, &client, game);
    assert_eq!(client.quotes().len(), full - 28);
    assert_eq!(
        client.counters().truncated_resumes,
        1,
        "the full state ends it"
    );
}

#[test]
fn a_silent_connection_is_dead_and_resumes_with_since() {
    // No odds move and no idle heartbeat: nothing arrives after initial_state.
    let sim = sim(SimConfig {
        odds_moves: 0,
        parlay_idle_heartbeat: Duration::from_secs(3600),
        ..quick()
    });
    let mut cfg = config(&sim, "pk_scale_test");
    cfg.dead_after = Duration::from_millis(500);
    let client = ParlayClient::connect(cfg).unwrap();
    let mut events = client.events();
    let seen = collect(&mut events, Duration::from_millis(1200));
    assert!(seen.iter().any(|e| matches!(e, OddsEvent::Disconnected { reason, .. } if reason.starts_with("no frame for"))), "{seen:?}");
    assert!(
        seen.iter()
            .any(|e| matches!(e, OddsEvent::InitialState { .. })),
        "{seen:?}"
    );
    assert!(
        sim.stats().parlay_resumes >= 1,
        "the reconnect passed since: {:?}",
        sim.stats()
    );
    assert_board_converges(&sim, &client);
}

#[test]
fn heartbeats_come_after_idle() {
    let sim = sim(SimConfig {
        odds_moves: 0,
        parlay_idle_heartbeat: Duration::from_millis(200),
        ..quick()
    });
    let client = ParlayClient::connect(config(&sim, "pk_scale_test")).unwrap();
    let mut events = client.events();
    let beats = collect(&mut events, Duration::from_millis(1500))
        .into_iter()
        .filter(|e| *e == OddsEvent::Heartbeat)
        .count();
    assert!(
        (2..=8).contains(&beats),
        "{beats} heartbeats in 1.5 s at 0.2 s idle"
    );
}

#[test]
fn edge_alerts_fire_for_qualifying_moves_only() {
    let sim = sim(SimConfig {
        odds_moves: 8,
        ..quick()
    });
    let client = ParlayClient::connect(config(&sim, "pk_scale_test").edge(0.02)).unwrap();
    let mut events = client.events();
    let alerts: Vec<_> = collect(&mut events, Duration::from_millis(1500))
        .into_iter()
        .filter_map(|e| match e {
            OddsEvent::Alert(a) => Some(a),
            _ => None,
        })
        .collect();
    assert!(!alerts.is_empty(), "the walk moves up to 3 points a step");
    for a in &alerts {
        assert!(a.moved().abs() >= 0.02, "{a:?}");
        assert_ne!(a.old, a.new);
    }
    // Every alert the client counted was delivered once: stop the walk, take the rest, compare.
    sim.pause(true);
    let rest = collect(&mut events, Duration::from_millis(400))
        .into_iter()
        .filter(|e| matches!(e, OddsEvent::Alert(_)))
        .count();
    assert_eq!(client.counters().alerts, (alerts.len() + rest) as u64);
}

#[test]
fn connect_time_filters_and_the_query_string_key() {
    let sim = sim(quick());
    let mut cfg = config(&sim, "pk_scale_query");
    cfg.key_in_query = true;
    cfg.bookmakers = vec!["pinnacle".into()];
    cfg.markets = vec!["h2h".into()];
    assert!(
        cfg.url(None).contains("apiKey=pk_scale_query")
            && cfg.url(None).contains("bookmakers=pinnacle")
    );
    let client = ParlayClient::connect(cfg).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    sim.pause(true);
    let truth: Book = book(&sim.odds_truth())
        .into_iter()
        .filter(|(k, _)| k.1 == "pinnacle" && k.2 == "h2h")
        .collect();
    assert!(!truth.is_empty());
    assert!(
        wait_until(Duration::from_secs(5), || book(&client.quotes()) == truth),
        "only pinnacle's moneylines"
    );
    // One event: the board holds that event only.
    let event = client.event_ids()[0].clone();
    let one = ParlayClient::connect(config(&sim, "pk_scale_one").event(&event)).unwrap();
    assert!(wait_until(Duration::from_secs(2), || one.event_ids()
        == vec![event.clone()]));
}
