"""The Faust stream worker on the real broker: transitions out, dead letters aside."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from gamsi.schemas import MetricBatch, Sample, Severity, encode
from gamsi.schemas.codec import decode, decode_severity_event
from gamsi.settings import Settings
from tests.integration.kafka_io import CPU_SPIKE_POLICY, gamsi_service, produce, wait_for_records


def _batch(host: str, ts: float, cpu: float) -> tuple[bytes, bytes]:
    return host.encode(), encode(MetricBatch(host, ts, [Sample("cpu.util", cpu)], os="linux"))


async def test_breach_and_recovery_become_events_and_bad_input_a_dead_letter(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    host = f"web-{unique}"
    t0 = time.time()
    await produce(
        settings,
        settings.kafka.metrics_topic,
        [
            (host.encode(), b"{this is not json"),
            _batch(host, t0, 97.0),
            (host.encode(), b'{"v": 1, "kind": "metric_batch", "host": "x", "ts": "soon"}'),
            _batch(host, t0 + 1, 12.0),
            _batch(host, t0 + 1e6, 99.0),  # 11 days ahead of the worker's clock: refused
        ],
    )
    settings = replace(settings, streams=replace(settings.streams, policy_path=CPU_SPIKE_POLICY))
    with gamsi_service(settings, "streams", "run", log=tmp_path / "streams.log") as worker:
        events = await wait_for_records(
            settings,
            settings.kafka.events_topic,
            lambda got: len(got) >= 2,
            decode_severity_event,
            within=90,
            service=worker,
        )
        letters = await wait_for_records(
            settings, settings.kafka.deadletter_topic, lambda got: len(got) >= 3, decode
        )
        assert worker.poll() is None, "the worker must survive malformed input"

    assert [(e.host, e.transition, e.severity) for e in events] == [
        (host, "raise", Severity.URGENT),
        (host, "recover", Severity.NORMAL),
    ]
    assert events[0].value == 97.0
    assert events[0].ts == t0
    assert [letter.offset for letter in letters] == [0, 2, 4]
    assert "not JSON" in letters[0].reason
    assert "ts: expected a number" in letters[1].reason
    assert "ahead of this worker's clock (max_future = 300 s)" in letters[2].reason
    assert letters[0].payload == "{this is not json"
    assert letters[0].source_topic == settings.kafka.metrics_topic
