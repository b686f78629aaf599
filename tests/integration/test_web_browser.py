"""The status page in a real headless Chromium against a running pipeline.

Real broker, real chDB (owned by the history service running in this process), the
stream worker and the notifier as their own processes, the web service in this
process, and Debian's chromium driven by Playwright (``executable_path``; never a
downloaded browser). A breach turns the cell red, its recovery green; an
unregistered item registered from the page leaves the list (and the policy is
applied live); an ack from the timeline shows on it. Screenshots are kept under
``test-artifacts/web/`` (ignored by git). Without chromium the test fails and says
how to install it: a browser test that skips silently is a test nobody runs.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gamsi.history.service import run_history
from gamsi.schemas import MetricBatch, Sample, encode
from gamsi.settings import Settings
from gamsi.web.service import run as run_web
from tests.integration.kafka_io import CPU_SPIKE_POLICY, free_port, gamsi_service, produce

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
TOKEN = "browser-test-token-3d1e"
SHOWN_AS_TEXT = """(name) => !document.querySelector("#grid img") &&
  [...document.querySelectorAll("#grid .hn")].some((a) => a.textContent === name)"""
BOUND_MS = 90_000  # any one wait in the browser; the pipeline's first event takes longest


def chromium_or_fail() -> str:
    """Debian's chromium, or a failed test saying how to get it (scripts/bootstrap.sh)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium; run "
            "scripts/bootstrap.sh as root (apt-get install -y chromium chromium-driver)"
        )
    return CHROMIUM


async def _metrics(settings: Settings, host: str, cpu: float, seq: int) -> None:
    samples = [Sample("cpu.util", cpu), Sample("memory.used_pct", 40.0)]
    batch = MetricBatch(host, time.time(), samples, seq=seq, os="linux", tags=["web-test"])
    await produce(settings, settings.kafka.metrics_topic, [(host.encode(), encode(batch))])


@pytest.fixture
async def pipeline(settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    policies = tmp_path / "policies"
    policies.mkdir()
    shutil.copy(CPU_SPIKE_POLICY, policies / "cpu-spike.yaml")
    settings = replace(
        settings,
        streams=replace(settings.streams, policy_path=str(policies)),
        history=replace(settings.history, query_port=free_port(), flush_interval=0.2),
        web=replace(settings.web, port=free_port(), token=TOKEN),
    )
    stop = asyncio.Event()
    history = asyncio.create_task(run_history(settings, stop))
    ready = asyncio.Event()
    web = asyncio.create_task(run_web(settings, stop, ready))
    try:
        with (
            gamsi_service(settings, "streams", "run", log=tmp_path / "streams.log"),
            gamsi_service(settings, "notifier", "run", log=tmp_path / "notifier.log"),
        ):
            async with asyncio.timeout(60):
                await ready.wait()
            yield settings
    finally:
        stop.set()
        await asyncio.gather(history, web, return_exceptions=True)


async def _open_problem(settings: Settings, host: str, within: float = 60) -> str:
    """The id of the event opening ``host``'s problem, once the notifier's ledger has it."""
    from gamsi.notifier.ack import open_problems

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for p in await open_problems(settings):
            if p.event.host == host:
                return p.opened_by
        await asyncio.sleep(0.3)
    raise AssertionError(f"the notifier opened no problem for {host} within {within} s")


async def test_breach_recovery_register_and_ack_in_a_real_browser(
    pipeline: Settings, unique: str
) -> None:
    from playwright.async_api import async_playwright

    settings, host = pipeline, f"web-{unique}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{settings.web.port}"
    cell = f'.c[data-host="{host}"][data-item="cpu.util"]'
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_or_fail(), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(BOUND_MS)
            await page.goto(base + "/")  # no token yet: sent to the login page
            assert page.url.endswith("/login")
            await page.fill("input[name=token]", TOKEN)
            await page.click("#login button")
            await page.wait_for_url(base + "/")
            await page.wait_for_selector("body[data-ready='1']")

            hostile = f'<img src=x onerror="window.pwned=1">"\'웹-{unique}'
            await _metrics(settings, hostile, 99.0, 1)  # a host name from the field
            await _metrics(settings, host, 97.5, 1)  # breach: cpu-spike is urgent (red)
            await page.wait_for_selector(f"{cell}.s4")
            await page.wait_for_function(SHOWN_AS_TEXT, arg=hostile)
            assert await page.evaluate("window.pwned") is None
            assert await page.get_attribute(cell, "data-sev") == "4"
            assert "긴급" in (await page.inner_text("#counts"))
            await page.screenshot(path=str(ARTIFACTS / "1-breach-red.png"), full_page=True)

            await _metrics(settings, host, 12.0, 2)  # recovery: green, without a reload
            await page.wait_for_selector(f"{cell}.s0")
            await page.screenshot(path=str(ARTIFACTS / "2-recovered-green.png"), full_page=True)

            # memory.used_pct is reported but cpu-spike (use_defaults: false) does not watch it.
            unreg = f'#unreg-list .unreg[data-host="{host}"]'
            await _until_shown(page, base + "/", unreg)
            assert "memory.used_pct" in await page.inner_text(unreg)
            await page.screenshot(path=str(ARTIFACTS / "3-unregistered.png"), full_page=True)
            await page.click(f"{unreg} button.register")
            await page.wait_for_selector(unreg, state="detached")
            assert "applied live" in await page.inner_text("#unreg-msg")
            written = _registered(settings)
            assert written, "the registration is written to [streams] policy_path"
            await page.screenshot(path=str(ARTIFACTS / "4-registered.png"), full_page=True)

            await _metrics(settings, host, 99.0, 3)  # a new problem, to acknowledge
            opened = await _open_problem(settings, host)
            button = f'li.ev[data-event="{opened}"] button.ack'
            await _until_shown(page, base + "/timeline", button)
            await page.fill("#ack-by", "operator-김")
            await page.click(button)
            await page.wait_for_selector(f'li.ack[data-event="{opened}"]')
            assert "operator-김" in await page.inner_text(f'li.ack[data-event="{opened}"]')
            acked = await page.inner_text(f'li.ev[data-event="{opened}"]')
            assert "acked by operator-김" in acked
            await page.screenshot(path=str(ARTIFACTS / "5-acked-timeline.png"), full_page=True)
            assert hostile in await page.inner_text("#timeline")  # as text, not markup
            assert await page.evaluate("window.pwned") is None
            await page.evaluate("window.samePage = true")  # gone if the page reloads
            await _metrics(settings, host, 10.0, 4)  # the recovery appears without a reload
            await page.wait_for_selector("#timeline li.ev .tr:text-is('recover') >> nth=1")
            assert await page.evaluate("window.samePage") is True

            await page.goto(f"{base}/host/{host}?hours=1")
            # the series' line is drawn (attached: a line of one sample has no area)
            chart = 'figure.item[data-item="cpu.util"] svg polyline'
            await page.wait_for_selector(chart, state="attached")
            assert await page.get_attribute(chart, "points")
            assert await page.locator("figure.item[data-item='cpu.util'] svg line.thr").count()
            await page.screenshot(path=str(ARTIFACTS / "6-server-page.png"), full_page=True)
        finally:
            await browser.close()


def _registered(settings: Settings) -> list[Path]:
    return list(Path(settings.streams.policy_path).glob("registered-*.yaml"))


async def _until_shown(page: Any, url: str, selector: str, within: float = 90) -> None:
    """Reload ``url`` until ``selector`` is on it (history stores what it shows in batches)."""
    deadline = time.monotonic() + within
    while True:
        await page.goto(url)
        try:
            await page.wait_for_selector(selector, timeout=10_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
