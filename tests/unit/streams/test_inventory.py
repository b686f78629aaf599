"""Unregistered items (미등록): what each host should be watched for and is not."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from gamsi.schemas.codec import encode
from gamsi.schemas.records import MetricBatch, Sample
from gamsi.settings import Settings
from gamsi.streams.inventory import Inventory, coverage
from gamsi.streams.policy import cli as policy_cli
from gamsi.streams.policy import load_defaults, load_policy


def linux_batch(
    host: str = "web-1", ts: float = 1000.0, tags: list[str] | None = None
) -> MetricBatch:
    samples = [
        Sample("cpu.util", 10.0), Sample("cpu.iowait", 1.0), Sample("cpu.steal", 0.0),
        Sample("load.per_core", 0.2), Sample("memory.used_pct", 40.0), Sample("swap.used_pct", 0.0),
        Sample("disk.used_pct", 50.0, "/"), Sample("disk.used_pct", 60.0, "/data"),
        Sample("disk.used_pct", 100.0, "/snap/core/1"),
        Sample("disk.inodes_used_pct", 5.0, "/"), Sample("disk.inodes_used_pct", 5.0, "/data"),
        Sample("net.rx_errors_per_s", 0.0, "eth0"), Sample("net.tx_errors_per_s", 0.0, "eth0"),
        Sample("proc.up", 1.0, "nginx"), Sample("system.uptime_s", 1e5),
    ]  # fmt: skip
    return MetricBatch(host, ts, samples, 1, 10.0, "linux", tags or [])


def inventory(*batches: MetricBatch) -> Inventory:
    inv = Inventory()
    for b in batches:
        inv.observe(b)
    return inv


def test_the_os_defaults_cover_everything_a_linux_host_reports():
    inv = inventory(linux_batch())
    cov = coverage(load_policy(None, "linux"), load_defaults(), inv.hosts["web-1"])
    assert cov.gaps == ()
    # heartbeat, cpu x3, load, memory, swap, disk x2 (/snap is not expected), inodes x2,
    # disk-full-soon x2 (derived from disk.used_pct), rx, tx errors, nginx, uptime
    assert (cov.registered, cov.expected) == (17, 17)
    assert set(cov.unreported) == {
        "diskio.await_ms",
        "diskio.busy_pct",
        "fd.used_pct",
        "clock.synced",
    }


def test_gaps_name_the_instance_and_why(tmp_path):
    file = tmp_path / "p.yaml"
    file.write_text(
        "watches:\n"
        "  - {name: disk-space, item: disk.used_pct, instance: '/', levels: {danger: '>= 90'}}\n"
        "overrides:\n"
        "  - {watch: swap-used, set: {enabled: false}}\n"
        "  - {watch: disk-inodes, hosts: {names: [web-1]}, set: {exclude: ['/data']}}\n"
    )
    cov = coverage(load_policy(file), load_defaults(), inventory(linux_batch()).hosts["web-1"])
    gaps = {(g.item, g.instance): g.reason for g in cov.gaps}
    assert gaps == {
        ("disk.used_pct", "/data"): "no watch covers this instance: disk-space (/)",
        ("disk.inodes_used_pct", "/data"): "watch disk-inodes excludes it",
        ("swap.used_pct", ""): "watch swap-used is disabled",
    }
    assert (cov.registered, cov.expected) == (14, 17)


def test_inventory_survives_json_and_tracks_new_instances():
    inv = inventory(linux_batch(), linux_batch(ts=1010.0, tags=["db"]))
    inv.observe(
        MetricBatch(
            "web-1", 1020.0, [Sample("disk.used_pct", 1.0, "/new")], 2, 10.0, "linux", ["db"]
        )
    )
    again = Inventory.from_dict(orjson.loads(orjson.dumps(inv.to_dict())))
    host = again.hosts["web-1"]
    assert host.items["disk.used_pct"] == ["/", "/data", "/new", "/snap/core/1"]
    assert (host.tags, host.last_seen) == (["db"], 1020.0)


def test_a_bad_inventory_file_says_what_it_expected():
    with pytest.raises(
        ValueError, match=r"inv.json: hosts.h: expected os, tags, last_seen and items"
    ):
        Inventory.from_dict({"version": 1, "hosts": {"h": {"os": "linux"}}}, "inv.json")


# -- the commands --------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run `gamsi policy ...` through its own parser with settings pointing at tmp_path.

    Unit tests touch no network: "no policy was applied on Kafka" is stubbed here; the
    applied-policy path is covered by tests/integration/test_streams_state.py."""
    from gamsi.cli import UserError
    from gamsi.streams.policy import feed as policy_feed

    async def nothing_applied(settings: Settings) -> None:
        return None

    monkeypatch.setattr(policy_feed, "current_policy", nothing_applied)

    parser = argparse.ArgumentParser(prog="gamsi")
    sub = parser.add_subparsers(dest="command", required=True)
    policy_cli.add_commands(sub)
    base = Settings()
    settings = replace(
        base,
        paths=replace(base.paths, data_dir=str(tmp_path / "data")),
        streams=replace(base.streams, policy_path=str(tmp_path / "policy.yaml"),
                        inventory_file=str(tmp_path / "batches.jsonl")),
    )  # fmt: skip
    (tmp_path / "batches.jsonl").write_bytes(
        encode(linux_batch()) + b"\n" + encode(linux_batch("db-1")) + b"\n"
    )
    (tmp_path / "policy.yaml").write_text(
        "# our site\nuse_defaults: false\nwatches:\n"
        "  - {name: cpu, item: cpu.util, levels: {urgent: '>= 95'}}\n"
    )

    def run(*argv: str) -> int:
        args = parser.parse_args(["policy", *argv])
        args.verbose = False
        return args.handler(args, settings)

    run.UserError = UserError  # type: ignore[attr-defined]
    return run


def test_unregistered_lists_every_host_with_counts(cli, capsys):
    assert cli("unregistered") == 1
    out = capsys.readouterr().out
    assert "web-1 (linux): 1/17 registered" in out
    assert "미등록 disk.used_pct /data" in out
    assert "no watch for this item" in out
    assert "total: 2/34 registered on 2 hosts" in out


def test_unregistered_json_for_one_host(cli, capsys):
    cli("unregistered", "--host", "db-1", "--json")
    (row,) = orjson.loads(capsys.readouterr().out)
    assert row["host"] == "db-1"
    assert len(row["unregistered"]) == 16
    assert {"item": "disk.used_pct", "instance": "/data", "reason": "no watch for this item",
            "default": "disk-space"} in row["unregistered"]  # fmt: skip


def test_register_with_defaults_covers_the_host_and_keeps_the_file(cli, capsys, tmp_path):
    before = (tmp_path / "policy.yaml").read_text()
    assert cli("register", "--host", "web-1", "--defaults") == 0
    assert "web-1: registered 16 watches" in capsys.readouterr().out
    text = (tmp_path / "policy.yaml").read_text()
    assert text.startswith(before)
    assert "\n---\n# gamsi policy register --host web-1" in text
    assert cli("unregistered", "--host", "web-1") == 0
    assert "web-1 (linux): 17/17 registered" in capsys.readouterr().out
    assert cli("unregistered", "--host", "db-1") == 1  # only the host asked for


def test_register_dry_run_writes_nothing(cli, capsys, tmp_path):
    before = (tmp_path / "policy.yaml").read_text()
    assert cli("register", "--host", "web-1", "--defaults", "--dry-run") == 0
    assert "name: disk-space@web-1:/data" in capsys.readouterr().out
    assert (tmp_path / "policy.yaml").read_text() == before


def test_register_an_unknown_host_names_the_known_ones(cli):
    with pytest.raises(
        cli.UserError, match="host 'nope' is not in the inventory; known hosts: db-1, web-1"
    ):
        cli("register", "--host", "nope", "--defaults")


def test_validate_reports_and_rejects(cli, capsys, tmp_path):
    assert cli("validate", str(tmp_path / "policy.yaml")) == 0
    assert "valid: 1 watches" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("watches:\n  - {name: a, item: x, levels: {urgent: 'over 9'}}\n")
    with pytest.raises(cli.UserError, match=r"bad.yaml:2: watches\[0\].levels.urgent: expected"):
        cli("validate", str(bad))


def test_show_host_gives_effective_watches_with_origins(cli, capsys, tmp_path):
    site = Path(__file__).resolve().parents[2] / "fixtures" / "policies" / "valid" / "site.yaml"
    assert cli("show", "--host", "db-1", "--policy", str(site), "--json") == 0
    rows = {r["name"]: r for r in orjson.loads(capsys.readouterr().out)}
    assert rows["disk-space"]["from"] == [
        "defaults/linux.yaml: watches[7]",
        f"replaced by {site}: watches[0]",
    ]
    assert rows["disk-space"]["levels"]["caution"] == {"op": ">=", "value": 75.0}


def test_register_keeps_a_hostile_host_name_inside_the_policy_directory(tmp_path):
    """A host name is field data: `../x` or `a/b` must not pick where the CLI writes."""
    from gamsi.settings import load_settings
    from gamsi.streams.policy.cli_register import _target

    base = load_settings(environ={})
    settings = replace(base, streams=replace(base.streams, policy_path=str(tmp_path)))
    for host in ("../../etc/cron.d/x", "a/b", ".hidden", "web-1"):
        target = _target(argparse.Namespace(file=None, host=host), settings)
        assert target.parent == tmp_path, host
        assert target.name.startswith("registered-")
