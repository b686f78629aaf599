"""The fleet picture: cells, worst-first order, filters, acks per problem, the terminal table."""

from __future__ import annotations

from typing import Any

from gamsi.web.cli import render
from gamsi.web.status import Filters, FleetStatus, history_event


def ev(host: str, sev: int, ts: float, watch: str = "cpu-busy", **kw: Any) -> dict[str, Any]:
    return {
        "host": host,
        "item": kw.pop("item", "cpu.util"),
        "instance": kw.pop("instance", ""),
        "watch": watch,
        "severity": sev,
        "event_id": kw.pop("event_id", f"{host}-{watch}-{ts}"),
        "value": kw.pop("value", 95.0),
        "threshold": 90.0,
        "ts": ts,
        **kw,
    }


def test_seeded_series_are_normal_and_events_colour_them() -> None:
    st = FleetStatus()
    st.seed("web-1", "cpu.util")
    st.seed("web-1", "disk.used_pct", "/")
    st.apply(ev("web-1", 4, 100.0))
    assert st.counts() == {
        "normal": 1,
        "harmless": 0,
        "caution": 0,
        "danger": 0,
        "urgent": 1,
        "fatal": 0,
    }
    cell = st.cells[("web-1", "cpu.util", "")].to_dict()
    assert (cell["level"], cell["label"], cell["colour"]) == ("urgent", "긴급", "#e01e5a")
    st.apply(ev("web-1", 0, 130.0))
    assert st.cells[("web-1", "cpu.util", "")].severity == 0


def test_worst_watch_decides_a_cell_and_older_events_do_not_win() -> None:
    st = FleetStatus()
    st.apply(ev("db-1", 2, 100.0, watch="cpu-busy"))
    st.apply(ev("db-1", 4, 101.0, watch="cpu-spike"))
    assert st.apply(ev("db-1", 0, 50.0, watch="cpu-spike")) is None  # replayed, older
    cell = st.cells[("db-1", "cpu.util", "")]
    assert int(cell.severity) == 4
    assert cell.to_dict()["watch"] == "cpu-spike"


def test_select_sorts_worst_first_and_filters() -> None:
    st = FleetStatus()
    st.describe_host("web-1", "linux", ["web"])
    st.describe_host("db-1", "linux", ["db"])
    st.describe_host("win-1", "windows", ["web"])
    st.apply(ev("web-1", 2, 10.0))
    st.apply(ev("db-1", 5, 11.0))
    st.apply(ev("win-1", 3, 12.0))
    assert [c.host for c in st.select()] == ["db-1", "win-1", "web-1"]
    assert [c.host for c in st.select(Filters(tags=("web",)))] == ["win-1", "web-1"]
    assert [c.host for c in st.select(Filters(os="windows"))] == ["win-1"]
    assert [c.host for c in st.select(Filters(hosts=("w*",)))] == ["win-1", "web-1"]
    assert [c.host for c in st.select(Filters(min_severity=3))] == ["db-1", "win-1"]


def test_an_ack_marks_one_problem_and_not_the_next() -> None:
    st = FleetStatus()
    st.apply(ev("web-1", 3, 10.0, event_id="e1"))
    assert st.acknowledge("e1", "kim") == ("web-1", "cpu.util", "")
    st.apply(ev("web-1", 4, 20.0, event_id="e2"))  # escalation: same problem, still acked
    assert st.cells[("web-1", "cpu.util", "")].to_dict()["acked_by"] == "kim"
    st.apply(ev("web-1", 0, 30.0, event_id="e3"))
    st.apply(ev("web-1", 3, 40.0, event_id="e4"))  # a new problem
    assert st.cells[("web-1", "cpu.util", "")].to_dict()["acked_by"] == ""
    assert st.acknowledge("nope", "kim") is None
    assert st.acknowledge("e3", "kim") is None  # a recovery is no open problem


def test_history_rows_fold_in_like_events() -> None:
    st = FleetStatus()
    row = ["h", "disk.used_pct", "/data", "disk-space", 3, "id9", 91.0, 85.0, 50.0, 40.0, "raise"]
    st.apply(history_event(row))
    d = st.cells[("h", "disk.used_pct", "/data")].to_dict()
    assert (d["severity"], d["event_id"], d["since"]) == (3, "id9", 40.0)


def test_terminal_table_names_levels_so_colour_is_not_the_only_signal() -> None:
    st = FleetStatus()
    st.apply(ev("<script>x", 4, 10.0, item="cpu.util"))
    text = render(st, st.select(Filters(min_severity=1)), colour=False, shown_all=False)
    assert "urgent 긴급 1" in text.splitlines()[0]
    assert "urgent 긴급" in text
    assert "<script>x" in text
    assert "\x1b[" not in text
    assert "every watched item is normal" in render(FleetStatus(), [], False, False)
