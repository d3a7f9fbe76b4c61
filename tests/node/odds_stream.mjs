// A small Parlay odds client written the way the quickstart's Node client
// is (the `ws` package, the key in the query string, a line per frame).
// Run by tests/parlay_python_tests.rs: node odds_stream.mjs URL SECONDS
import WebSocket from "ws";

const [url, seconds] = process.argv.slice(2);
const ws = new WebSocket(url);

ws.on("open", () => console.log("[open] connected"));
ws.on("close", (code) => console.log(`[close] ${code}`));
ws.on("error", (err) => { console.error("[error]", err.message); process.exitCode = 1; });
ws.on("message", (buf) => {
  const frame = JSON.parse(buf.toString());
  if (frame.type === "connected") {
    console.log(`[connected] tier=${frame.tier} push_mode=${frame.push_mode}`);
  } else if (frame.type === "initial_state") {
    console.log(`[snapshot] ${frame.count} rows`);
  } else if (frame.type === "odds_update") {
    for (const row of frame.data.slice(0, 3)) {
      // A bare remove row has no market or price.
      if (row.action === "remove") {
        console.log(`[remove] ${row.bookmaker} ${row.kind} ${row.event_id}`);
        continue;
      }
      console.log(`[update] ${row.bookmaker} ${row.market_key} ${row.outcome} -> ${row.price_american}`);
    }
  }
});
setTimeout(() => ws.close(), Number(seconds) * 1000);
