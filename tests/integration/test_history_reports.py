"""Each report on rows inserted into the real embedded engine, with a pinned clock.

The store is the session's one chDB path (other tests write to it too), so every
assertion looks only at this test's unique hosts, watches and items.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from gamsi.history import reports
from gamsi.history.store import Reader, open_client
from gamsi.schemas.records import MetricBatch, Sample, SeverityEvent
from gamsi.settings import Settings, load_settings
from tests.integration.kafka_io import free_port
from tests.integration.test_web_status import store_history

NOW = float(int(time.time()))


@pytest.fixture
def store_settings(chdb_dir: Path) -> Settings:
    base = load_settings(environ={})
    return replace(base, history=replace(base.history, dsn=f"chdb://{chdb_dir}"))


@pytest.fixture
def run(store_settings: Settings) -> Iterator[Reader]:
    reader = Reader(open_client(store_settings, read_only=True))
    yield reader
    reader.close()


def _event(
    host: str, watch: str, item: str, ago: float, severity: int, previous: int
) -> SeverityEvent:
    ts = NOW - ago
    return SeverityEvent(
        event_id=f"{host}-{watch}-{ts}",
        host=host,
        item=item,
        instance="",
        watch=watch,
        severity=severity,
        previous=previous,
        transition="recover" if severity == 0 else "raise",
        value=1.0,
        threshold=1.0,
        ts=ts,
        since=ts if severity else 0.0,
        emitted_at=ts,
    )


@pytest.fixture
def names(store_settings: Settings, unique: str) -> dict[str, str]:
    """Two hosts' timelines over the last hour (3600 s), and samples of a unique item."""
    n = {
        "a": f"a-{unique}",
        "b": f"b-{unique}",
        "cpu": f"cpu-high-{unique}",
        "mem": f"mem-high-{unique}",
        "item": f"cpu.util.{unique}",
    }
    raise_a = _event(n["a"], n["cpu"], "cpu.util", 3000, 4, 0)
    events = [
        raise_a,
        raise_a,  # redelivered: must count once
        _event(n["a"], n["cpu"], "cpu.util", 1800, 0, 4),
        _event(n["a"], n["cpu"], "cpu.util", 600, 3, 0),
        _event(n["b"], n["mem"], "mem.used_pct", 7200, 5, 0),  # before the window
        _event(n["b"], n["mem"], "mem.used_pct", 1800, 0, 5),
    ]
    batches = [
        MetricBatch(host=host, ts=NOW - 120 + i, samples=[Sample(n["item"], v)])
        for host, values in ((n["a"], [80.0, 100.0]), (n["b"], [10.0, 10.0]))
        for i, v in enumerate(values)
    ]
    batches.append(MetricBatch(host=n["b"], ts=NOW - 7200, samples=[Sample(n["item"], 1e6)]))
    store_history(store_settings, events, batches)
    return n


def _by_host(report: reports.Report, hosts: set[str]) -> dict[str, dict[str, object]]:
    i = report.columns.index("host")
    return {r[i]: dict(zip(report.columns, r, strict=True)) for r in report.rows if r[i] in hosts}


def test_availability_splits_the_window_by_severity(run: Reader, names: dict[str, str]) -> None:
    rows = _by_host(reports.availability(run, hours=1, now=NOW), {names["a"], names["b"]})
    a, b = rows[names["a"]], rows[names["b"]]
    assert (a["normal_s"], a["danger_s"], a["urgent_s"], a["fatal_s"]) == (1800, 600, 1200, 0)
    assert a["availability_pct"] == pytest.approx(66.67)
    assert (b["normal_s"], b["fatal_s"]) == (1800, 1800)
    assert b["availability_pct"] == 50.0


def test_mttr_is_raise_to_recover(run: Reader, names: dict[str, str]) -> None:
    rows = _by_host(reports.mttr(run, hours=1, now=NOW, top=1000), {names["a"], names["b"]})
    assert (rows[names["a"]]["incidents"], rows[names["a"]]["mttr_s"]) == (1, 1200)
    assert (rows[names["b"]]["incidents"], rows[names["b"]]["mttr_s"]) == (1, 5400)


def test_noisiest_watches_count_events_in_the_window(run: Reader, names: dict[str, str]) -> None:
    report = reports.noisiest_watches(run, hours=1, now=NOW, top=1000)
    mine = [r for r in report.rows if r[0] in (names["cpu"], names["mem"])]
    # cpu: raise (once, despite the redelivery), recover, raise; mem: only its recover
    assert [r[:5] for r in mine] == [
        [names["cpu"], "cpu.util", 3, 2, 1],
        [names["mem"], "mem.used_pct", 1, 0, 1],
    ]


def test_top_hosts_ranks_by_average_in_the_window(run: Reader, names: dict[str, str]) -> None:
    report = reports.top_hosts(run, item=names["item"], hours=1, now=NOW, top=5)
    assert [r[0] for r in report.rows] == [names["a"], names["b"]]
    assert report.rows[0][2:] == [90.0, 80.0, 100.0, 2]
    assert report.rows[1][2:] == [10.0, 10.0, 10.0, 2]  # the old 1e6 sample is outside


def test_all_reports_run_and_quote_user_input(run: Reader) -> None:
    found = reports.all_reports(run, hours=0.5, item="it's", top=3, now=NOW)
    assert [r.title.split(",")[0] for r in found] == [
        "Availability and time per severity",
        "Mean time to recovery",
        "Noisiest watches",
        "Top 3 hosts by it's (average)",
    ]


def test_cli_reads_the_store_itself_when_no_service_answers(
    chdb_dir: Path,
    names: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gamsi.cli import main

    port = free_port()  # nobody listens there: the service is "stopped"
    monkeypatch.setenv("GAMSI_HISTORY_DSN", f"chdb://{chdb_dir}")
    monkeypatch.setenv("GAMSI_HISTORY_QUERY_PORT", str(port))
    sql = f"SELECT host, count() AS n FROM events FINAL WHERE host = '{names['a']}' GROUP BY host"
    assert main(["history", "query", "--json", sql]) == 0
    assert orjson.loads(capsys.readouterr().out) == {
        "columns": ["host", "n"],
        "rows": [[names["a"], 3]],
    }
    assert main(["history", "query", "DROP TABLE events"]) == 2
    assert "only SELECT is served, got DROP" in capsys.readouterr().err
    assert main(["history", "report", "--hours", "1", "--item", names["item"]]) == 0
    out = capsys.readouterr().out
    assert "== Availability and time per severity, last 1 h" in out
    assert names["a"] in out
