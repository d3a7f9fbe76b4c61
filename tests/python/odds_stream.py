"""A small Parlay odds client written the way the quickstart's Python client
is: the `websockets` library, the key in the query string, one line per
connected / snapshot / update frame. Run against the simulator by
tests/parlay_python_tests.rs: python3 odds_stream.py URL SECONDS."""

import asyncio
import json
import sys

import websockets


async def consume(url, seconds):
    async with websockets.connect(url, ping_interval=20, ping_timeout=20) as ws:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=max(0.01, end - loop.time()))
            except asyncio.TimeoutError:
                break
            frame = json.loads(raw)
            if frame["type"] == "connected":
                print(f"[connected] tier={frame['tier']} push_mode={frame['push_mode']}", flush=True)
            elif frame["type"] == "initial_state":
                print(f"[snapshot] {frame['count']} rows", flush=True)
            elif frame["type"] == "odds_update":
                for row in frame["data"][:3]:
                    # A bare remove row has no market or price (the
                    # quickstart's code, which reads them, would fail on it).
                    if row.get("action") == "remove":
                        print(f"[remove] {row['bookmaker']:<12} {row['kind']} {row['event_id']}", flush=True)
                        continue
                    print(f"[update] {row['bookmaker']:<12} {row['market_key']:<10} "
                          f"{row['outcome']:<28} -> {row['price_american']:+d}", flush=True)


asyncio.run(consume(sys.argv[1], float(sys.argv[2])))
