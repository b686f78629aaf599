"""What the status page reads from history, and how it reaches it without owning the store.

chDB lets one process own the embedded store, and that process is the history
service. So the web service reads through the history service's query endpoint
(:func:`gamsi.history.client.remote`) and never opens an embedded store itself:
when the endpoint does not answer, pages say history is unavailable and the live
picture is rebuilt from the events topic alone. With a ClickHouse server DSN it
reads the server directly when the endpoint is not running.

The SQL here quotes every value that comes from the field (host, item, instance)
with :func:`gamsi.history.reports.quote`; times are whole milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from gamsi.history.reports import Run, quote
from gamsi.history.store import QueryResult
from gamsi.settings import Settings


class HistoryUnavailable(RuntimeError):
    """History cannot be read now; the message says why."""


class HistoryAccess:
    """A Run for history when one is reachable now (see the module's note)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._direct: Any = None
        self._lock = threading.Lock()

    def run(self) -> Run | None:
        """The query endpoint's Run if it answers; a server's client; else None (blocking)."""
        from gamsi.history.client import remote, service_answers

        if service_answers(self.settings):
            return remote(self.settings)
        if self.settings.history_dsn().startswith("chdb:"):
            return None
        with self._lock:
            if self._direct is None:
                from gamsi.history.store import Reader, open_client

                self._direct = Reader(open_client(self.settings, read_only=True))
        return self._direct  # type: ignore[no-any-return]

    async def query(self, sql: str) -> QueryResult:
        """Run ``sql`` off the event loop; raises :class:`HistoryUnavailable`."""

        def call() -> QueryResult:
            run = self.run()
            if run is None:
                raise HistoryUnavailable(
                    "history is not reachable: is `gamsi history run` serving its query "
                    "endpoint ([history] query_port)?"
                )
            try:
                return run(sql)
            except Exception as exc:
                raise HistoryUnavailable(f"history query failed: {exc}") from None

        return await asyncio.to_thread(call)

    def close(self) -> None:
        if self._direct is not None:
            with contextlib.suppress(Exception):
                self._direct.close()


def _ms(ts: float) -> int:
    return round(ts * 1000)


def _at(ms: int) -> str:
    return f"fromUnixTimestamp64Milli(toInt64({int(ms)}), 'UTC')"


def series_sql(host: str, start: float, end: float, raw: bool, points: int = 600) -> str:
    """Per (item, instance) of ``host``: ``[item, instance, t_ms, avg, min, max]`` rows.

    ``raw``: from the raw samples, bucketed to about ``points`` per series (every sample
    when they are fewer); otherwise from the 1-minute rollup (``avgMerge``, min, max).
    """
    step = max(1, int((end - start) * 1000 / points))
    if raw:
        bucket = f"intDiv(toUnixTimestamp64Milli(ts), {step}) * {step}"
        return (
            f"SELECT item, instance, {bucket} AS t, avg(value), min(value), max(value) "
            f"FROM samples WHERE host = {quote(host)} "
            f"AND ts >= {_at(_ms(start))} AND ts <= {_at(_ms(end))} "
            f"GROUP BY item, instance, t ORDER BY item, instance, t"
        )
    step = max(60_000, step // 60_000 * 60_000)
    bucket = f"intDiv(toUnixTimestamp(minute) * 1000, {step}) * {step}"
    return (
        f"SELECT item, instance, {bucket} AS t, avgMerge(avg_value), min(min_value), "
        f"max(max_value) FROM samples_1m WHERE host = {quote(host)} "
        f"AND minute >= toDateTime({int(start) // 60 * 60}, 'UTC') "
        f"AND minute <= toDateTime({int(end)}, 'UTC') "
        f"GROUP BY item, instance, t ORDER BY item, instance, t"
    )


EVENT_COLUMNS = (
    "event_id, host, item, instance, watch, severity, previous, transition, value, "
    "threshold, toUnixTimestamp64Milli(ts), message"
)


def event_row(row: list[Any]) -> dict[str, Any]:
    """A row of :data:`EVENT_COLUMNS` as a mapping (ts in seconds)."""
    keys = ("event_id", "host", "item", "instance", "watch", "severity", "previous",
            "transition", "value", "threshold", "ts", "message")  # fmt: skip
    out = dict(zip(keys, row, strict=True))
    out["ts"] = float(out["ts"]) / 1000
    return out


def events_sql(limit: int, host: str | None = None, since: float | None = None) -> str:
    """The newest ``limit`` events (of ``host``, after ``since``), newest first."""
    where = []
    if host is not None:
        where.append(f"host = {quote(host)}")
    if since is not None:
        where.append(f"ts >= {_at(_ms(since))}")
    cond = f"WHERE {' AND '.join(where)} " if where else ""
    return f"SELECT {EVENT_COLUMNS} FROM events FINAL {cond}ORDER BY ts DESC LIMIT {int(limit)}"


def host_sql(host: str) -> str:
    """``[os, tags]`` of ``host`` from the collector's latest batch (the ``hosts`` table)."""
    return f"SELECT os, tags FROM hosts FINAL WHERE host = {quote(host)} LIMIT 1"


def deliveries_sql(host: str, limit: int = 100) -> str:
    """A host's newest notifications (the notifier's delivery log)."""
    return (
        "SELECT toUnixTimestamp64Milli(ts), event_id, route, channel, recipient, item, "
        f"instance, severity, transition, result, attempts, error FROM deliveries "
        f"WHERE host = {quote(host)} ORDER BY ts DESC LIMIT {int(limit)}"
    )


def remediations_sql(host: str, limit: int = 100) -> str:
    """A host's newest remediation decisions and results (the remediator's audit rows)."""
    return (
        "SELECT toUnixTimestamp64Milli(ts), status, script, args, runs_on, reason, exit_code, "
        f"duration_s, item, instance, watch, by FROM remediations "
        f"WHERE host = {quote(host)} ORDER BY ts DESC LIMIT {int(limit)}"
    )


__all__ = [
    "EVENT_COLUMNS",
    "HistoryAccess",
    "HistoryUnavailable",
    "deliveries_sql",
    "event_row",
    "events_sql",
    "host_sql",
    "remediations_sql",
    "series_sql",
]
