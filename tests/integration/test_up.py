"""`gamsi up` tells the truth (issue 13 item 1), on the real broker with real services:
one instance per data directory, a configuration error stops it, the broker it started
comes back when killed."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

from gamsi.kafka_broker import LocalBroker, _alive
from gamsi.settings import Settings
from gamsi.topics import wait_for_kafka_sync
from tests.integration.kafka_io import free_port
from tests.integration.up_support import gamsi_up, run_gamsi, up_settings, wait_for_text

QUIET_LINES = 3
"""Client log lines a service may write over one broker restart (under two minutes: one a
minute in all, the first included)."""


def test_a_second_gamsi_up_on_the_same_data_dir_is_refused_and_a_crash_leaves_no_stale_lock(
    settings: Settings, tmp_path: Path
) -> None:
    s = up_settings(settings, tmp_path)
    first_log = tmp_path / "first.log"
    with gamsi_up(s, "--only", "collector", log=first_log, cwd=tmp_path) as first:
        body = wait_for_text(first_log, "gamsi: ready in", 90, first)
        assert body.index("collector ready") < body.index("gamsi: ready in")
        second = run_gamsi(s, tmp_path, "up", "--only", "collector")
        assert second.returncode == 2
        assert f"Gamsi is already running (pid {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        os.killpg(first.pid, signal.SIGKILL)  # a crash: the pid stays in the lock file
        first.wait(timeout=30)
    assert (s.data_dir / "gamsi-up.lock").read_text().strip() == str(first.pid)
    third_log = tmp_path / "third.log"
    with gamsi_up(s, "--only", "collector", log=third_log, cwd=tmp_path) as third:
        wait_for_text(third_log, "gamsi: ready in", 90, third)
        third.send_signal(signal.SIGINT)
        assert third.wait(timeout=60) == 0


def test_a_bad_configuration_file_stops_gamsi_up_at_once_naming_file_key_and_expected(
    settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "gamsi.toml"
    bad.write_text('[notifier]\nrenotify_evry = "1h"\n')
    done = run_gamsi(up_settings(settings, tmp_path), tmp_path, "up", "-c", str(bad))
    assert done.returncode == 78
    (line,) = done.stderr.strip().splitlines()
    assert str(bad) in line
    assert "[notifier] renotify_evry: unknown key" in line
    assert "expected one of" in line


def test_a_service_s_configuration_error_stops_gamsi_up_without_a_restart_loop(
    settings: Settings, tmp_path: Path
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text("routes:\n  - bogus: 1\n")
    s = up_settings(settings, tmp_path)
    s = replace(s, notifier=replace(s.notifier, routing_file=str(routing)))
    log = tmp_path / "up.log"
    with gamsi_up(s, "--only", "notifier", "--only", "collector", log=log, cwd=tmp_path) as up:
        code = up.wait(timeout=120)
    body = log.read_text()
    assert code == 78, body[-3000:]
    assert f"notifier cannot start: gamsi: error: {routing}:2: routes[0]: unknown key 'bogus'" in (
        body
    )
    assert "expected one of" in body
    assert "restarting" not in body
    assert "gamsi: ready in" not in body
    assert "stopping services" in body  # the collector it had started was stopped too


def test_the_broker_gamsi_up_started_is_restarted_when_killed(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    while _port_taken(port + 1):  # the controller listens on port + 1
        port = free_port()
    s = up_settings(settings, tmp_path)
    s = replace(
        s,
        kafka=replace(s.kafka, bootstrap=f"127.0.0.1:{port}"),
        broker=replace(s.broker, port=port, controller_port=port + 1),
    )
    broker = LocalBroker(s)
    log = tmp_path / "up.log"
    only = ("--only", "collector", "--only", "notifier")
    with gamsi_up(s, *only, log=log, cwd=tmp_path) as up:
        wait_for_text(log, "gamsi: ready in", 180, up)
        first = broker.pid()
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for_text(log, "Kafka is back", 180, up)
        second = broker.pid()
        assert second is not None
        assert second != first
        wait_for_kafka_sync(s.kafka.bootstrap, 30)  # it answers clients again
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=90) == 0
    assert "Kafka exited with code" in log.read_text()
    assert not _alive(second)  # gamsi up stopped the broker it had started
    # The notifier lived through the outage quietly: aiokafka's complaints are rate
    # limited to one line a minute in all (every 100 ms otherwise).
    client_lines = [x for x in (s.data_dir / "logs/notifier.log").read_text().splitlines()
                    if " aiokafka" in x]  # fmt: skip
    assert len(client_lines) <= QUIET_LINES, "\n".join(client_lines)


def _port_taken(port: int) -> bool:
    from gamsi.kafka_broker import port_open

    return port_open("127.0.0.1", port, 0.2)
