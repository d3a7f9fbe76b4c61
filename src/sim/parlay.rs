//! The Parlay odds protocol of the simulator (PROTOCOL.md part B): the
//! paths `/v1/ws/odds/{sport}`, `/v1/ws/live/{sport}` and their legacy forms
//! without `/v1`, keys in `X-API-Key` or `?apiKey=`, tiers with their
//! coalesce windows, the frame order, `subscribe` filtering, heartbeats after
//! idle, both row shapes, and the close codes of B3.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::odds::{write_rows, Filter};
use super::{bump, Shared};
use crate::clock::epoch_ms;
use crate::encode::push_json_str;

/// What the handshake learned about a Parlay connection (its `Debug` hides the key).
#[derive(Clone, Default)]
pub(crate) struct ParlayRequest {
    pub(crate) sport: String,
    pub(crate) legacy: bool,
    pub(crate) key: Option<String>,
    pub(crate) filter: Filter,
    pub(crate) since: Option<u64>,
    pub(crate) diff: bool,
    pub(crate) grouped: bool,
}

impl std::fmt::Debug for ParlayRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParlayRequest")
            .field("sport", &self.sport)
            .field("legacy", &self.legacy)
            .field(
                "key",
                &self.key.as_ref().map(|_| format_args!("<redacted>")),
            )
            .field("filter", &self.filter)
            .field("since", &self.since)
            .field("diff", &self.diff)
            .field("grouped", &self.grouped)
            .finish()
    }
}

fn decode(s: &str) -> String {
    // Percent-decoding of query values (keys and ids are plain ASCII in practice).
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/v1/ws/odds/{sport}` (or `/ws/live/{sport}`, ...) and its query.
pub(crate) fn route(
    path: &str,
    query: Option<&str>,
    header_key: Option<&str>,
) -> Option<ParlayRequest> {
    let (legacy, rest) = match path.strip_prefix("/v1/ws/") {
        Some(rest) => (false, rest),
        None => (true, path.strip_prefix("/ws/")?),
    };
    let (live, sport) = match rest.split_once('/')? {
        ("odds", s) => (false, s),
        ("live", s) => (true, s),
        _ => return None,
    };
    if sport.is_empty() || sport.contains('/') {
        return None;
    }
    let mut req = ParlayRequest {
        sport: sport.to_owned(),
        legacy,
        ..ParlayRequest::default()
    };
    req.filter.live_only = live;
    req.key = header_key.map(str::to_owned);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode(v);
        let list = || {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        match k {
            "apiKey" if req.key.is_none() => req.key = Some(v),
            "event_id" => req.filter.event_id = Some(v),
            "bookmakers" => req.filter.bookmakers = list(),
            "markets" => req.filter.markets = list(),
            "kinds" => req.filter.kinds = list(),
            "since" => req.since = v.parse().ok(),
            "diff" => req.diff = v == "true" || v == "1",
            "shape" => req.grouped = v == "grouped",
            _ => {}
        }
    }
    Some(req)
}

/// Tiers of Parlay and their coalesce windows (B2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OddsTier {
    pub(crate) name: &'static str,
    pub(crate) window: Duration,
}

/// The key convention: `None` is the close code to answer with.
pub(crate) fn tier_of(key: Option<&str>) -> Result<OddsTier, (u16, &'static str)> {
    let key = match key {
        None | Some("") => return Err((4003, "missing api key")),
        Some(k) => k,
    };
    if key == "pk_invalid" {
        return Err((1008, "invalid api key"));
    }
    if ["pk_free_", "pk_starter_", "pk_pro_"]
        .iter()
        .any(|p| key.starts_with(p))
    {
        return Err((
            4001,
            "tier below Business: WebSocket streaming needs Business, Enterprise or Scale",
        ));
    }
    Ok(if key.starts_with("pk_business_") {
        OddsTier {
            name: "business",
            window: Duration::from_millis(1000),
        }
    } else if key.starts_with("pk_enterprise_") {
        OddsTier {
            name: "enterprise",
            window: Duration::from_millis(500),
        }
    } else {
        OddsTier {
            name: "scale",
            window: Duration::ZERO,
        }
    })
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

async fn close<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    code: u16,
    reason: &str,
) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    };
    let _ = ws.close(Some(frame)).await;
    // Wait for the peer's close (bounded) so the code reaches it.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while ws.next().await.is_some() {}
    })
    .await;
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, text: &str) -> bool {
    ws.send(Message::text(text.to_owned())).await.is_ok()
}

/// Serves one Parlay connection.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocketStream<S>,
    shared: Arc<Shared>,
    req: ParlayRequest,
) {
    let counters = &shared.counters;
    bump(&counters.parlay_connections);
    let tier = match tier_of(req.key.as_deref()) {
        Ok(t) => t,
        Err((code, reason)) => {
            bump(&counters.parlay_rejected);
            close(&mut ws, code, reason).await;
            return;
        }
    };
    let key = req.key.clone().unwrap_or_default();
    // Connection cap per key (4002).
    let admitted = {
        let mut open = shared.parlay_open.lock();
        let n = open.entry(key.clone()).or_insert(0);
        let admitted = *n < shared.config.parlay_connection_cap;
        if admitted {
            *n += 1;
        }
        admitted
    };
    if !admitted {
        bump(&counters.parlay_rejected);
        close(&mut ws, 4002, "too many connections for this key").await;
        return;
    }
    run(&mut ws, &shared, &req, tier).await;
    // A key's entry goes with its last connection (the map holds no key
    // that is not in use).
    let mut open = shared.parlay_open.lock();
    if let Some(n) = open.get_mut(&key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            open.remove(&key);
        }
    }
}

async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    shared: &Arc<Shared>,
    req: &ParlayRequest,
    tier: OddsTier,
) {
    let deploy_epoch = shared.parlay_deploy_epoch.load(Ordering::SeqCst);
    let mut filter = req.filter.clone();
    let mut ticks = shared.odds_ticks.subscribe();
    let now = epoch_ms();
    let mut out = String::new();
    // connected
    out.push_str(r#"{"type":"connected","sport_key":"#);
    push_json_str(&mut out, &req.sport);
    let _ = write!(
        out,
        r#","timestamp":{},"tier":"{}","push_mode":"{}","min_push_interval_s":{},"diff_mode":{},"filters":{{"#,
        seconds(now),
        tier.name,
        if tier.window.is_zero() {
            "raw"
        } else {
            "coalesced"
        },
        tier.window.as_secs_f64(),
        req.diff
    );
    let mut first = true;
    for (name, values) in [
        ("bookmakers", &filter.bookmakers),
        ("markets", &filter.markets),
        ("kinds", &filter.kinds),
    ] {
        if !values.is_empty() {
            let _ = write!(out, "{}\"{name}\":", if first { "" } else { "," });
            push_json_str(&mut out, &values.join(","));
            first = false;
        }
    }
    if let Some(e) = &filter.event_id {
        out.push_str(if first {
            "\"event_id\":"
        } else {
            ",\"event_id\":"
        });
        push_json_str(&mut out, e);
    }
    out.push_str("}}");
    if !send(ws, &out).await {
        return;
    }
    // initial_state: everything wanted (changed since `since`, when recent
    // enough), at most 500 rows (`Simulator::cap_initial_state`).
    let recent_since = req
        .since
        .filter(|&s| now.saturating_sub(s) <= 60 * 60 * 1000);
    if recent_since.is_some() {
        bump(&shared.counters.parlay_resumes);
    }
    let (rows, written) = {
        let world = shared.odds.lock();
        // A full state holds the quotes on the board; a resumed one (merged
        // by the client) what changed since, quotes taken off included
        // (they go as `remove` rows).
        let wanted: Vec<usize> = (0..world.quotes.len())
            .filter(|&i| filter.wants(&world, &world.quotes[i]))
            .filter(|&i| match recent_since {
                Some(s) => world.quotes[i].updated_ms >= s,
                None => world.quotes[i].listed,
            })
            .collect();
        let cap = shared.state_rows.load(Ordering::SeqCst);
        let mut rows = String::new();
        let written = write_rows(&mut rows, &world, &wanted, req.grouped, false, cap);
        (rows, written)
    };
    out.clear();
    let _ = write!(
        out,
        r#"{{"type":"initial_state","sport_key":"{}","timestamp":{},"count":{},"data":{rows}"#,
        req.sport,
        seconds(now),
        written.rows
    );
    if let Some(s) = recent_since {
        let _ = write!(out, ",\"since\":{s}");
    }
    let _ = write!(out, ",\"truncated\":{}}}", written.truncated);
    if !send(ws, &out).await {
        return;
    }
    out.clear();
    let _ = write!(
        out,
        r#"{{"type":"stream_status","sport_key":"{}","bookmaker":"betmgm","status":"healthy","reason":"simulated"}}"#,
        req.sport
    );
    if !send(ws, &out).await {
        return;
    }
    let idle = shared.config.parlay_idle_heartbeat;
    let mut last_sent = Instant::now();
    let mut pending: BTreeSet<usize> = BTreeSet::new();
    let window = if tier.window.is_zero() {
        Duration::from_secs(3600)
    } else {
        tier.window
    };
    let mut flush = tokio::time::interval(window);
    flush.reset();
    let mut idle_check = tokio::time::interval(Duration::from_millis(100).min(idle));
    let epoch = shared.kill_epoch.load(Ordering::SeqCst);
    loop {
        let mut send_now = false;
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let mut buf = t.as_bytes().to_vec();
                    let reply = match simd_json::to_borrowed_value(&mut buf) {
                        Ok(v) => {
                            use simd_json::prelude::*;
                            match v.get("type").and_then(|t| t.as_str()) {
                                Some("subscribe") => match v.get("event_id").and_then(|e| e.as_str()) {
                                    Some(id) => {
                                        filter.event_id = Some(id.to_owned());
                                        let mut r = String::from(r#"{"type":"subscribed","event_id":"#);
                                        push_json_str(&mut r, id);
                                        let _ = write!(r, ",\"timestamp\":{}}}", seconds(epoch_ms()));
                                        Some(r)
                                    }
                                    None => None,
                                },
                                Some("unsubscribe") => {
                                    // Back to every event of the sport.
                                    filter.event_id = None;
                                    Some(format!(r#"{{"type":"unsubscribed","timestamp":{}}}"#, seconds(epoch_ms())))
                                }
                                _ => None,
                            }
                        }
                        Err(_) => None,
                    };
                    if let Some(r) = reply {
                        // Moves waiting for the coalesce window that the new
                        // filter still wants go out with it; only the rest are dropped.
                        {
                            let world = shared.odds.lock();
                            pending.retain(|&i| filter.wants(&world, &world.quotes[i]));
                        }
                        if !send(ws, &r).await {
                            return;
                        }
                        last_sent = Instant::now();
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
            tick = ticks.recv() => match tick {
                Ok(moved) => {
                    let world = shared.odds.lock();
                    pending.extend(moved.iter().copied().filter(|&i| filter.wants(&world, &world.quotes[i])));
                    send_now = tier.window.is_zero();
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = flush.tick() => send_now = true,
            _ = idle_check.tick() => {
                // Not while changes wait for the coalesce window: a resume
                // from the heartbeat's time would skip them.
                if last_sent.elapsed() >= idle && pending.is_empty() {
                    let hb = format!(r#"{{"type":"heartbeat","timestamp":{}}}"#, seconds(epoch_ms()));
                    if !send(ws, &hb).await {
                        return;
                    }
                    last_sent = Instant::now();
                }
            }
            _ = shared.parlay_deploy.notified() => {
                close(ws, 1001, "server deploy").await;
                return;
            }
            _ = shared.kill.notified() => return,
            _ = shared.stop.notified() => return,
        }
        if shared.kill_epoch.load(Ordering::SeqCst) != epoch
            || shared.stopping.load(Ordering::SeqCst)
        {
            return;
        }
        if shared.parlay_deploy_epoch.load(Ordering::SeqCst) != deploy_epoch {
            close(ws, 1001, "server deploy").await;
            return;
        }
        if send_now && !pending.is_empty() {
            let quotes: Vec<usize> = std::mem::take(&mut pending).into_iter().collect();
            // The frame's time is its latest change's: a client resuming
            // with it as `since` gets every change not in this frame (those
            // still on their way are as late or later).
            let (rows, count, latest) = {
                let world = shared.odds.lock();
                let mut rows = String::new();
                let written = write_rows(
                    &mut rows,
                    &world,
                    &quotes,
                    req.grouped,
                    req.diff,
                    usize::MAX,
                );
                let latest = quotes.iter().map(|&i| world.quotes[i].updated_ms).max();
                (rows, written.rows, latest.unwrap_or_else(epoch_ms))
            };
            out.clear();
            let _ = write!(
                out,
                r#"{{"type":"odds_update","sport_key":"{}","timestamp":{},"count":{count},"data":{rows}"#,
                req.sport,
                seconds(latest),
            );
            if !tier.window.is_zero() {
                out.push_str(",\"coalesced\":true");
            }
            out.push('}');
            if !send(ws, &out).await {
                return;
            }
            bump(&shared.counters.odds_updates);
            last_sent = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_route_as_the_real_service() {
        let r = route(
            "/v1/ws/odds/basketball_nba",
            Some("apiKey=pk_scale_1&event_id=e%201&bookmakers=a,b&diff=true&since=5"),
            None,
        )
        .unwrap();
        assert_eq!(
            (
                r.sport.as_str(),
                r.filter.live_only,
                r.legacy,
                r.key.as_deref()
            ),
            ("basketball_nba", false, false, Some("pk_scale_1"))
        );
        assert_eq!(
            (
                r.filter.event_id.as_deref(),
                r.filter.bookmakers.len(),
                r.diff,
                r.since
            ),
            (Some("e 1"), 2, true, Some(5))
        );
        let r = route("/ws/live/baseball_mlb", None, Some("pk_x")).unwrap();
        assert!(r.legacy && r.filter.live_only);
        // The header wins over the query.
        assert_eq!(
            route("/v1/ws/odds/x", Some("apiKey=q"), Some("h"))
                .unwrap()
                .key
                .as_deref(),
            Some("h")
        );
        assert!(route("/v1/ws/other/x", None, None).is_none());
        assert!(route("/ws", None, None).is_none());
        assert!(route("/v1/ws/odds/", None, None).is_none());
    }

    #[test]
    fn keys_map_to_close_codes_and_tiers() {
        assert_eq!(tier_of(None).unwrap_err().0, 4003);
        assert_eq!(tier_of(Some("pk_invalid")).unwrap_err().0, 1008);
        assert_eq!(tier_of(Some("pk_starter_x")).unwrap_err().0, 4001);
        assert_eq!(
            tier_of(Some("pk_business_x")).unwrap().window,
            Duration::from_secs(1)
        );
        assert_eq!(tier_of(Some("pk_enterprise_x")).unwrap().name, "enterprise");
        assert_eq!(tier_of(Some("anything")).unwrap().window, Duration::ZERO);
    }

    #[test]
    fn a_requests_debug_hides_its_key() {
        let r = route(
            "/v1/ws/odds/basketball_nba",
            Some("apiKey=pk_secret_1"),
            None,
        )
        .unwrap();
        assert_eq!(r.key.as_deref(), Some("pk_secret_1"));
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("pk_secret_1") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
