"""`gamsi policy unregistered` on a running system: the inventory comes from history.

A host reports two mounts and a NIC; the history writer stores them; the command,
run as a user would in another process, reads the inventory through the history
service's endpoint and names exactly what no watch covers.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import orjson

from gamsi.history.client import remote
from gamsi.history.service import run_history
from gamsi.schemas import MetricBatch, Sample, encode
from gamsi.settings import Settings
from tests.integration.kafka_io import free_port, produce
from tests.integration.kafka_io import gamsi_cli as _gamsi

POLICY = """\
version: 1
use_defaults: false
watches:
  - name: root-disk
    item: disk.used_pct
    instance: "/"
    levels: {danger: ">= 90"}
  - name: cpu
    item: cpu.util
    levels: {urgent: ">= 95"}
"""


async def test_unregistered_items_are_read_from_history(
    settings: Settings, tmp_path, unique
) -> None:
    policy = tmp_path / "policy.yaml"
    await asyncio.to_thread(policy.write_text, POLICY)
    settings = replace(
        settings,
        history=replace(settings.history, query_port=free_port(), flush_interval=0.2),
        streams=replace(settings.streams, policy_path=str(policy)),
    )
    host = f"files-{unique}"
    samples = [
        Sample("cpu.util", 12.0),
        Sample("disk.used_pct", 40.0, "/"),
        Sample("disk.used_pct", 70.0, "/data"),
        Sample("net.rx_errors_per_s", 0.0, "eth0"),
    ]
    batch = MetricBatch(host, time.time(), samples, os="linux", tags=["files"], interval=10)
    await produce(settings, settings.kafka.metrics_topic, [(host.encode(), encode(batch))])

    stop = asyncio.Event()
    writer = asyncio.create_task(run_history(settings, stop))
    try:
        run = remote(settings)
        deadline = time.monotonic() + 60
        while True:
            try:
                seen = await asyncio.to_thread(
                    run, f"SELECT count() FROM hosts WHERE host = '{host}'"
                )
                if seen.rows[0][0]:
                    break
            except OSError:
                pass  # the endpoint is not up yet
            assert time.monotonic() < deadline, "the host never reached history"
            await asyncio.sleep(0.2)
        done = await asyncio.to_thread(
            _gamsi, settings, "policy", "unregistered", "--host", host, "--json"
        )
    finally:
        stop.set()
        await writer
    # exit 1: something is unregistered (scripts and CI can gate on it)
    assert done.returncode == 1, done.stderr
    (report,) = orjson.loads(done.stdout)
    assert report["host"] == host
    assert report["os"] == "linux"
    gaps = {(g["item"], g["instance"]) for g in report["unregistered"]}
    # reported but unwatched: the /data mount and the NIC; "/" and cpu are covered
    assert ("disk.used_pct", "/data") in gaps
    assert ("net.rx_errors_per_s", "eth0") in gaps
    assert ("disk.used_pct", "/") not in gaps
    assert ("cpu.util", "") not in gaps
