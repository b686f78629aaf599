"""The status page's pure parts: the live change log, chart periods, SVG escaping, file names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from gamsi.web import live as live_mod
from gamsi.web.chart import Period, periods_from_events, svg_chart
from gamsi.web.live import RESET, Live
from gamsi.web.policy import registration_file
from gamsi.web.report import like


def _event(host: str, sev: int, ts: float, n: int = 0) -> dict[str, Any]:
    return {"host": host, "item": "cpu.util", "instance": "", "watch": "w", "severity": sev,
            "event_id": f"e{n}", "value": 1.0, "threshold": 1.0, "ts": ts, "since": ts,
            "message": "m", "tags": []}  # fmt: skip


def _drain(queue: Any) -> list[Any]:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


async def test_a_follower_gets_the_changes_after_its_snapshot_in_order() -> None:
    live = Live()
    live.on_event(_event("a", 4, 1.0, 1))
    at = live.snapshot()["seq"]
    queue = live.subscribe(at)
    live.on_event(_event("b", 2, 2.0, 2))
    live.on_event(_event("a", 0, 3.0, 3))
    live.on_event(_event("a", 4, 0.5, 4))  # older than what the cell shows: no change
    got = _drain(queue)
    assert [(seq, row[0], row[3]) for seq, row in got] == [(at + 1, "b", 2), (at + 2, "a", 0)]
    late = live.subscribe(at)  # a reconnect (Last-Event-ID = at) replays what it missed
    assert [seq for seq, _ in _drain(late)] == [at + 1, at + 2]


async def test_a_follower_reloads_when_its_changes_are_gone_or_the_picture_was_rebuilt(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(live_mod, "KEEP_CHANGES", 2)
    live = Live()
    live.changes = type(live.changes)(maxlen=2)
    for n in range(5):
        live.on_event(_event(f"h{n}", 1, float(n), n))
    assert _drain(live.subscribe(1)) == [(5, RESET)]  # changes 2..3 are no longer kept
    assert _drain(live.subscribe(99)) == [(5, RESET)]  # from a previous run of the service
    queue = live.subscribe(5)
    live.reset(live.status)
    assert _drain(queue) == [(5, RESET)]


async def test_a_slow_follower_is_told_to_reload_instead_of_buffered(monkeypatch: Any) -> None:
    monkeypatch.setattr(live_mod, "QUEUE_SIZE", 3)
    live = Live()
    queue = live.subscribe(0)
    for n in range(10):
        live.on_event(_event(f"h{n}", 1, float(n), n))
    got = _drain(queue)
    assert got[-1][1] == RESET
    assert len(got) <= 3


def test_periods_from_events() -> None:
    # raise 4 at 10, recover at 20, caution at 25: shaded 10-20 (4) and 25-30 (2)
    events = [(10.0, 4, 0), (20.0, 0, 4), (25.0, 2, 0)]
    assert periods_from_events(events, 0.0, 30.0) == [Period(10, 20, 4), Period(25, 30, 2)]
    # already danger when the window starts: shaded from the start
    assert periods_from_events([(5.0, 0, 3)], 0.0, 30.0) == [Period(0, 5, 3)]
    # no event in the window: the current level throughout, or nothing when normal
    assert periods_from_events([], 0.0, 30.0, current=5) == [Period(0, 30, 5)]
    assert periods_from_events([], 0.0, 30.0) == []


def test_svg_chart_escapes_names_and_labels_thresholds_by_level() -> None:
    svg = svg_chart([(1.0, 50.0, 40.0, 60.0), (2.0, 95.0, 90.0, 99.0)], 0.0, 3.0,
                    thresholds=[(4, 90.0), (3, 80.0)], periods=[Period(1.5, 3.0, 4)],
                    title='<script>alert("x")</script>')  # fmt: skip
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "긴급 90" in svg
    assert "위험 80" in svg
    assert svg.count('class="thr"') == 2
    assert "#e01e5a" in svg  # the urgent period's shade
    assert "no samples" in svg_chart([], 0.0, 3.0)


def test_registration_file_never_leaves_the_policy_directory(tmp_path: Path) -> None:
    assert registration_file(tmp_path, "web-1") == tmp_path / "registered-web-1.yaml"
    for hostile in ("../../etc/cron.d/x", "a/b", ".hidden", "웹서버", "x\x00y"):
        target = registration_file(tmp_path, hostile)
        assert target.parent == tmp_path, hostile
        assert target.name.startswith("registered-")
        assert "/" not in target.name
        assert ".." not in target.name
    assert registration_file(tmp_path, "a/b") != registration_file(tmp_path, "a_b")
    single = tmp_path / "site.yaml"
    assert registration_file(single, "../x") == single  # a file: appended to in place


def test_host_globs_become_like_patterns() -> None:
    assert like("web-*") == "web-%"
    assert like("db-?") == "db-_"
    assert like("a_b%c") == "a\\_b\\%c"


ROUTING = """
channels:
  console: {type: console}
recipients:
  ops: {contacts: [{channel: console}]}
routes:
  - {name: all, match: {min_severity: harmless}, recipients: [ops]}
maintenance:
  - {name: "db <swap>", hosts: ["db-*"], start: "2026-11-30T00:00:00Z", end: "2026-12-01T00:00:00Z"}
  - {name: sunday patching, tags: [patch], days: sun, hours: "02:00-04:00", timezone: Asia/Seoul}
"""


def test_maintenance_windows_are_listed_and_mark_the_hosts_they_cover(tmp_path: Path) -> None:
    from dataclasses import replace

    from gamsi.settings import Settings
    from gamsi.web.pages import timeline
    from gamsi.web.timeline import maintenance_windows, muted

    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    s = Settings()
    settings = replace(s, notifier=replace(s.notifier, routing_file=str(path)))
    at = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC).timestamp()  # inside the one-off
    later = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC).timestamp()  # a Wednesday: neither
    windows = maintenance_windows(settings, now=at)
    assert [(w["name"], w["active"]) for w in windows] == [
        ("db <swap>", True), ("sunday patching", False)]  # fmt: skip
    assert muted(windows, {"host": "db-1", "tags": []}, at)
    assert not muted(windows, {"host": "web-1", "tags": []}, at)
    assert not muted(windows, {"host": "db-1", "tags": []}, later)
    html = timeline([{"event_id": "e1", "host": "db-1", "item": "cpu.util", "instance": "",
                      "severity": 4, "transition": "raise", "ts": at, "message": "",
                      "open": True, "acked_by": "", "muted": True}], windows)  # fmt: skip
    assert "db &lt;swap&gt;" in html
    assert "active now" in html
    assert "점검 maintenance" in html
    assert 'button class=ack data-event="e1"' in html


async def test_a_servers_new_os_and_tags_reach_followers_once() -> None:
    live = Live()
    live.on_event(_event("a", 1, 1.0, 1))
    queue = live.subscribe(live.seq)
    live.describe("a", "linux", ["web"])
    live.describe("a", "linux", ["web"])  # unchanged: nothing sent
    assert [row for _, row in _drain(queue)] == [{"host": "a", "os": "linux", "tags": ["web"]}]
    assert live.snapshot()["hosts"]["a"] == ["linux", ["web"]]


def test_a_single_sample_is_marked_so_it_can_be_seen() -> None:
    """A line through one point has no length: the sample gets a dot (seen in CI's browser)."""
    assert svg_chart([(1.0, 50.0, 50.0, 50.0)], 0.0, 3.0).count('class="dot"') == 1
    many = [(float(t), 50.0, 50.0, 50.0) for t in range(1, 6)]
    assert 'class="dot"' not in svg_chart(many, 0.0, 6.0)
