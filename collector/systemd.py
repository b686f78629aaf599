"""The systemd unit that runs the collector as a service.

``Restart=always`` because a monitoring agent that stays down is the one
failure nobody gets told about; ``ExecReload`` sends SIGHUP, which re-reads the
configuration without dropping the spool. ``MALLOC_ARENA_MAX=2`` keeps glibc
from giving each helper thread (aiokafka's DNS lookups) its own heap arena,
which only costs resident memory on a small agent.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

UNIT_PATH = Path("/etc/systemd/system/gamsi-collector.service")

TEMPLATE = """\
[Unit]
Description=Gamsi collector agent (감시): host metrics to Kafka
Documentation=https://github.com/gamsi/gamsi/blob/main/docs/collector.md
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
Environment=MALLOC_ARENA_MAX=2
Environment=PYTHONUNBUFFERED=1
EnvironmentFile=-/etc/gamsi/gamsi.env
Restart=always
# 78: a configuration error (file, key, what was expected); 2: a usage error. Restarting
# would only repeat it: systemd stops, `systemctl status` shows the one-line error.
RestartPreventExitStatus=2 78
RestartSec=5
TimeoutStopSec=30
LimitNOFILE=65536
NoNewPrivileges=yes
ProtectSystem=full
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
"""


def agent_command() -> list[str]:
    """This installation's interpreter running the lean entry point (python -m gamsi.collector)."""
    return [sys.executable, "-m", "gamsi.collector"]


def render_unit(user: str, config: str | None, command: list[str] | None = None) -> str:
    argv = [*(command or agent_command())]
    if config:
        argv += ["--config", str(Path(config).resolve())]
    argv.append("run")
    return TEMPLATE.format(user=user, exec_start=shlex.join(argv))
