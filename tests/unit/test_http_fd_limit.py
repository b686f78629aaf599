"""An HTTP endpoint raises its soft open-file limit above its connection cap at start."""

from __future__ import annotations

import resource
import subprocess
import sys

PROBE = (
    "import logging; logging.basicConfig(level=logging.WARNING); "
    "from gamsi.http_conn import ensure_fd_limit; print(ensure_fd_limit(256))"
)


def run_with_limit(soft: int, hard: int) -> subprocess.CompletedProcess[str]:
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.run(
        [sys.executable, "-c", PROBE],
        preexec_fn=lower,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_the_soft_limit_is_raised_within_the_hard_one() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    done = run_with_limit(300, hard)
    assert int(done.stdout) == min(256 + 1024, hard)
    assert "open-file limit" not in done.stderr


def test_a_hard_limit_below_the_need_is_said_once() -> None:
    done = run_with_limit(300, 300)
    assert int(done.stdout) == 300
    assert done.stderr.count("open-file limit 300 is below the 1280") == 1
