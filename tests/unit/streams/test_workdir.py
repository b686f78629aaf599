"""Each stream worker on a host claims its own Faust data directory (gamsi.streams.workdir)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gamsi.streams import workdir
from gamsi.streams.workdir import claim


def test_workers_on_one_host_get_a_directory_each_and_a_freed_one_is_reused(
    tmp_path: Path,
) -> None:
    first, second = claim(tmp_path), claim(tmp_path)
    assert (first.path.name, second.path.name) == ("worker-0", "worker-1")
    first.release()
    again = claim(tmp_path)
    assert again.path.name == "worker-0"  # a restarted worker takes the freed slot back
    for held in (second, again):
        held.release()


def test_a_killed_worker_s_slot_is_free_again(tmp_path: Path) -> None:
    """The kernel drops the lock of a process that ends, SIGKILL included."""
    code = (
        "import os, sys; from pathlib import Path; from gamsi.streams.workdir import claim; "
        "w = claim(Path(sys.argv[1])); print(w.path.name, flush=True); os.kill(os.getpid(), 9)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["worker-0"]
    held = claim(tmp_path)
    assert held.path.name == "worker-0"
    assert (held.path / workdir.LOCK_FILE).read_text().strip().isdigit()  # who holds it
    held.release()


def test_all_slots_taken_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workdir, "MAX_SLOTS", 2)
    held = [claim(tmp_path), claim(tmp_path)]
    with pytest.raises(OSError, match=r"2 stream workers on this host already hold"):
        claim(tmp_path)
    for w in held:
        w.release()
