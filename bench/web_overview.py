"""Benchmark: the status page at 1,000 servers × 20 items in a real Chromium.

Figures (a benchmark, not a test; PRODUCT.md asks the overview to stay fast and
readable at this scale and a cell to change within 1 s of its event):

* time to first render: navigation start → the grid built (and → the next frame
  painted), with the snapshot's size and the script's own render time;
* event → cell colour: an event produced on the real broker at ``t0`` (wall clock)
  until the page's cell changed level and the next animation frame ran (the page's
  ``Date.now()``; same machine, same clock), over ``--trials`` events alternating
  raise and recover on random cells;
* a filter change's redraw.

What runs: the web service in this process on the real broker (its own topics), no
history service (the picture is rebuilt from the events topic alone: 20,000 events,
one per cell, 5 % of them above normal), and Debian's chromium through Playwright
(``executable_path=/usr/bin/chromium``; ``scripts/bootstrap.sh`` installs it).

Run: ``GAMSI_BENCH_BOOTSTRAP=127.0.0.1:29192 .venv/bin/python bench/web_overview.py``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from gamsi.schemas import encode
from gamsi.schemas.records import SeverityEvent
from gamsi.settings import Settings, load_settings
from gamsi.topics import ensure_topics
from gamsi.web.service import run as run_web

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TOKEN = "bench-token"
STATS_JS = """(() => {
  const e = performance.getEntriesByName(location.origin + "/api/cells")[0] || {};
  return {...gamsi.stats, size: e.transferSize || 0, fetched: e.responseEnd || 0,
          cells: document.querySelectorAll("#grid .c").length};
})()"""
WATCH_JS = """new Promise((resolve) => {
  // The grid may be redrawn (a server's rank changed): look the cell up on every change.
  const at = () => document.querySelector('.c[data-host="${HOST}"][data-item="${ITEM}"]');
  const done = () => requestAnimationFrame(() => resolve(Date.now()));
  if (at().dataset.sev === SEV) return done();
  new MutationObserver((_, obs) => {
    if (at().dataset.sev === SEV) { obs.disconnect(); done(); }
  }).observe(document.getElementById("grid"), { attributes: true, childList: true, subtree: true,
                                                attributeFilter: ["data-sev"] });
})"""


def event(host: str, item: str, sev: int, prev: int, n: int) -> SeverityEvent:
    now = time.time()
    return SeverityEvent(
        event_id=f"bench-{n}-{uuid.uuid4().hex[:8]}", host=host, item=item, instance="",
        watch=f"{item}-watch", severity=sev, previous=prev,
        transition="raise" if sev > prev else "recover", value=95.0 if sev else 5.0,
        threshold=90.0, ts=now, since=now if sev else 0.0, emitted_at=now,
        message=f"{host} {item}", tags=["bench", f"rack-{hash(host) % 8}"],
    )  # fmt: skip


async def seed(settings: Settings, hosts: int, items: int) -> dict[tuple[str, str], int]:
    """One event per cell; returns each cell's level."""
    rnd = random.Random(7)
    levels = {}
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, linger_ms=20)
    await producer.start()
    try:
        for h in range(hosts):
            host = f"srv-{h:04d}"
            for i in range(items):
                item = f"item.{i:02d}"
                sev = rnd.choice([1, 2, 3, 4, 5]) if rnd.random() < 0.05 else 0
                levels[(host, item)] = sev
                ev = event(host, item, sev, 0, h * items + i)
                await producer.send(settings.kafka.events_topic, encode(ev), key=host.encode())
        await producer.flush()
    finally:
        await producer.stop()
    return levels


def settings_for(bootstrap: str, data: Path) -> Settings:
    base = load_settings(environ={})
    u = uuid.uuid4().hex[:8]
    return replace(
        base,
        paths=replace(base.paths, data_dir=str(data)),
        kafka=replace(base.kafka, bootstrap=bootstrap, events_topic=f"bench-{u}.events",
                      metrics_topic=f"bench-{u}.metrics", policies_topic=f"bench-{u}.policies",
                      deadletter_topic=f"bench-{u}.dl", partitions=6),
        notifier=replace(base.notifier, acks_topic=f"bench-{u}.acks",
                         ledger_topic=f"bench-{u}.ledger", delivery_topic=f"bench-{u}.dlv"),
        history=replace(base.history, query_port=0),
        web=replace(base.web, port=0 or _free_port(), token=TOKEN, max_streams=8),
    )  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summary(values: list[float]) -> str:
    v = sorted(values)
    p95 = v[min(len(v) - 1, round(0.95 * (len(v) - 1)))]
    return (f"min {v[0]:.0f} / median {statistics.median(v):.0f} / p95 {p95:.0f} / "
            f"max {v[-1]:.0f} ms")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(args.bootstrap, Path(tmp))
        await ensure_topics(settings)
        t = time.perf_counter()
        levels = await seed(settings, args.hosts, args.items)
        print(f"seeded {len(levels):,} cells ({args.hosts:,} servers × {args.items} items) "
              f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
        stop, ready = asyncio.Event(), asyncio.Event()
        web = asyncio.create_task(run_web(settings, stop, ready))
        await ready.wait()
        base = f"http://127.0.0.1:{settings.web.port}"
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=args.chromium, args=ARGS)
                context = await browser.new_context(viewport={"width": 1600, "height": 1000})
                await context.add_cookies([{"name": "gamsi_token", "value": TOKEN, "url": base}])
                page = await context.new_page()
                page.set_default_timeout(120_000)
                await _first_render(page, base, args)
                await _event_to_colour(page, settings, levels, args.trials)
                t0 = await page.evaluate("performance.now()")
                await page.select_option("#filters [name=sev]", "3")
                took = await page.evaluate("gamsi.stats.renderMs")
                trip = await page.evaluate("performance.now()") - t0
                print(f"filter 'danger ≥' redraw: {took:.0f} ms (script), {trip:.0f} ms round trip")
                await browser.close()
        finally:
            stop.set()
            await web


async def _first_render(page: object, base: str, args: argparse.Namespace) -> None:
    for attempt in range(args.loads):
        await page.goto(base + "/")  # type: ignore[attr-defined]
        await page.wait_for_selector("body[data-ready='1']")  # type: ignore[attr-defined]
        await page.wait_for_function("window.gamsi.stats.painted")  # type: ignore[attr-defined]
        s = await page.evaluate(STATS_JS)  # type: ignore[attr-defined]
        print(f"load {attempt + 1}: grid built {s['firstRender']:.0f} ms after navigation, "
              f"painted {s['painted']:.0f} ms; snapshot fetched at {s['fetched']:.0f} ms; "
              f"render script {s['renderMs']:.0f} ms; {s['cells']:,} cells; "
              f"snapshot {s['size'] / 1e6:.2f} MB")  # fmt: skip


async def _event_to_colour(
    page: object, settings: Settings, levels: dict[tuple[str, str], int], trials: int
) -> None:
    rnd = random.Random(11)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    lat = []
    try:
        for n in range(trials):
            (host, item), prev = rnd.choice(sorted(levels.items()))
            sev = 4 if prev == 0 else 0
            js = (WATCH_JS.replace("${HOST}", host).replace("${ITEM}", item)
                  .replace("SEV", orjson.dumps(str(sev)).decode()))  # fmt: skip
            waiting = asyncio.ensure_future(page.evaluate(js))  # type: ignore[attr-defined]
            await asyncio.sleep(0.05)  # the observer is installed
            t0 = time.time()
            ev = event(host, item, sev, prev, 10_000_000 + n)
            await producer.send_and_wait(settings.kafka.events_topic, encode(ev),
                                         key=host.encode())  # fmt: skip
            seen = await waiting
            lat.append(seen - t0 * 1000)
            levels[(host, item)] = sev
            await asyncio.sleep(0.2)
    finally:
        await producer.stop()
    print(f"event → cell colour ({trials} events, raise/recover): {summary(lat)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", default=os.environ.get("GAMSI_BENCH_BOOTSTRAP",
                                                              "127.0.0.1:29192"))  # fmt: skip
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--loads", type=int, default=3, help="page loads measured")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    asyncio.run(main(parser.parse_args()))
