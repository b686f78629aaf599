"""Reloading the routing file (issue 13 item 3), the parts without a process: which pid is
the running notifier, and the reload callback keeps the checked routing on a bad file."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from gamsi.notifier.reload import Reloadable, pid_path, running_pid, signal_reload
from gamsi.notifier.routing import load_routing
from gamsi.notifier.service import checked_config
from gamsi.settings import ConfigError, Settings, load_settings

GOOD = """
channels: {out: {type: console}}
recipients: {ops: {contacts: [{channel: out}]}}
routes: [{name: NAME, recipients: [ops]}]
"""


def _settings(tmp_path: Path, routing: Path | None = None) -> Settings:
    s = load_settings(environ={})
    s = replace(s, paths=replace(s.paths, data_dir=str(tmp_path)))
    if routing is not None:
        s = replace(s, notifier=replace(s.notifier, routing_file=str(routing)))
    return s


def test_only_a_live_notifier_pid_counts(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    assert running_pid(s) is None  # no file
    pid_path(s).write_text("not a pid\n")
    assert running_pid(s) is None
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pid_path(s).write_text(f"{dead.pid}\n")
    assert running_pid(s) is None  # gone
    pid_path(s).write_text(f"{os.getpid()}\n")
    assert running_pid(s) is None  # alive, but not a notifier (pytest)
    with pytest.raises(ProcessLookupError, match="no running notifier"):
        signal_reload(s)


def test_a_bad_file_keeps_the_checked_routing_and_a_good_one_replaces_it(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(GOOD.replace("NAME", "first"))
    s = _settings(tmp_path, routing)
    service = Reloadable(checked_config(s), lambda: s, checked_config)
    assert [r.name for r in service.config.routes] == ["first"]
    routing.write_text(GOOD.replace("NAME", "second").replace("type: console", "type: pager"))
    with pytest.raises(ConfigError, match="unknown channel type 'pager'"):
        service.reload()
    assert [r.name for r in service.config.routes] == ["first"]
    routing.write_text(GOOD.replace("NAME", "second"))
    assert service.reload() is s
    assert [r.name for r in service.config.routes] == ["second"]
    assert load_routing(routing).routes == service.config.routes
