"""`gamsi report` figures against values computed by hand, on a known history in chDB.

The period is the hour ``[T - 3600, T]``. Events (level: 0 normal, 2 caution,
3 danger, 4 urgent, 5 fatal):

* A, watch ``cpu``: urgent at T-3000, normal at T-2400, caution at T-600 (still open);
* A, watch ``mem``: danger at T-4000 (before the period), normal at T-3300;
* B, watch ``disk``: caution at T-1200, fatal at T-1150 (an escalation), normal at T-1100.

By hand — A's level is the worst of its series at each instant:
danger T-3600…T-3300 (300 s), normal …T-3000 (300), urgent …T-2400 (600),
normal …T-600 (1800), caution …T (600): normal 2100, caution 600, danger 300,
urgent 600; available (below urgent) 3000/3600 = 83.33 %, 2 problems raised.
B: caution 50, fatal 50, normal 3500: 3550/3600 = 98.61 %, 1 problem.
MTTR: cpu 600 s (the open caution does not count); mem 700 s (began at T-4000,
before the period); disk 100 s (the escalation does not restart the clock).
Noisiest: cpu 3 events, disk 3, mem 1.
Top servers by an item: the rollup's averages, B 80 then A 50.
"""

from __future__ import annotations

import time
from pathlib import Path

from gamsi.history.reports import Window
from gamsi.history.store import Reader, open_client
from gamsi.schemas.records import MetricBatch, Sample, SeverityEvent
from gamsi.settings import Settings
from gamsi.web.report import build
from gamsi.web.report_out import to_csv, to_html
from tests.integration.test_web_status import store_history

T = float(int(time.time()) // 60 * 60)
PREV: dict[tuple[str, str], int] = {}


def ev(host: str, watch: str, sev: int, ago: float, n: int) -> SeverityEvent:
    prev = PREV.get((host, watch), 0)
    PREV[(host, watch)] = sev
    ts = T - ago
    kind = "raise" if prev == 0 else ("recover" if sev == 0 else "escalate")
    since = 0.0 if sev == 0 else (ts if prev == 0 else T - 4000 if watch == "mem" else ts)
    return SeverityEvent(
        event_id=f"{host}-{watch}-{n}", host=host, item=f"{watch}.x", instance="",
        watch=watch, severity=sev, previous=prev, transition=kind, value=1.0, threshold=1.0,
        ts=ts, since=since, emitted_at=ts,
    )  # fmt: skip


def _store(settings: Settings, a: str, b: str, item: str) -> None:
    PREV.clear()
    events = [
        ev(a, "cpu", 4, 3000, 1), ev(a, "cpu", 0, 2400, 2), ev(a, "cpu", 2, 600, 3),
        ev(a, "mem", 3, 4000, 1), ev(a, "mem", 0, 3300, 2),
        ev(b, "disk", 2, 1200, 1), ev(b, "disk", 5, 1150, 2), ev(b, "disk", 0, 1100, 3),
    ]  # fmt: skip
    batches = [
        MetricBatch(a, T - 1800, [Sample(item, 40.0)], os="linux"),
        MetricBatch(a, T - 1790, [Sample(item, 60.0)], os="linux"),
        MetricBatch(b, T - 1800, [Sample(item, 80.0)], os="linux"),
    ]
    store_history(settings, events, batches)


def test_report_figures_match_the_hand_computed_ones(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    a, b, item = f"rep-a-{unique}", f"rep-b-{unique}", f"test.item.{unique}"
    _store(settings, a, b, item)
    reader = Reader(open_client(settings, read_only=True))
    try:
        w = Window(int((T - 3600) * 1000), int(T * 1000))
        servers, watches, mttr, noisy, top = build(reader, w, hosts=f"rep-?-{unique}", item=item)
    finally:
        reader.close()

    assert servers.columns == ["host", "normal_s", "harmless_s", "caution_s", "danger_s",
                               "urgent_s", "fatal_s", "availability_pct", "problems"]  # fmt: skip
    assert servers.rows == [
        [a, 2100.0, 0.0, 600.0, 300.0, 600.0, 0.0, 83.33, 2],
        [b, 3500.0, 0.0, 50.0, 0.0, 0.0, 50.0, 98.61, 1],
    ]
    by_watch = {r[0]: r for r in watches.rows}
    assert by_watch["cpu"][3:] == [2400.0, 0.0, 600.0, 0.0, 600.0, 0.0, 83.33]
    assert by_watch["mem"][3:] == [3300.0, 0.0, 0.0, 300.0, 0.0, 0.0, 100.0]
    assert by_watch["disk"][3:] == [3500.0, 0.0, 50.0, 0.0, 0.0, 50.0, 98.61]
    assert mttr.rows == [
        ["mem", "mem.x", 1, 700.0, 700.0],
        ["cpu", "cpu.x", 1, 600.0, 600.0],
        ["disk", "disk.x", 1, 100.0, 100.0],
    ]
    assert noisy.rows == [
        ["cpu", "cpu.x", 3, 2, 1, "urgent"],  # severity names, as every table shows them
        ["disk", "disk.x", 3, 1, 1, "fatal"],
        ["mem", "mem.x", 1, 0, 1, "danger"],
    ]
    assert [(r[0], r[2]) for r in top.rows] == [(b, 80.0), (a, 50.0)]

    csv_text = to_csv(servers)
    assert csv_text.splitlines()[1] == f"{a},2100.0,0.0,600.0,300.0,600.0,0.0,83.33,2"
    html = to_html([servers, watches, mttr, noisy, top], w)
    # Self-contained: nothing is fetched when it is opened offline.
    offline = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in offline
    assert "<link" not in offline
    assert "http" not in offline
    assert html.count("<svg") == 5
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "report.html").write_text(html, encoding="utf-8")  # kept to look at
    assert f"{a}: 긴급 urgent 600 s" in html
