"""The remediator's configuration: the ``[remediator]`` section of gamsi.toml.

One section serves both ends of a recovery command, so a server's configuration
names everything about remediation in one place: the remediator's own keys
(topics, its private key, its limits) and the agent-side keys the collector reads
(``public_key_file``, ``scripts_dir``, ``state_dir``). Fields are documented by
their ``help`` (docs/configuration.md is generated from it); :mod:`gamsi.settings`
loads and layers them; ``__post_init__`` raises ConfigError naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from gamsi.config_fields import ConfigError, opt


@dataclass(frozen=True)
class RemediatorSettings:
    """Recovery scripts: what runs where, how often, and the keys that make a command valid."""

    group_id: str = opt("gamsi-remediator", "Consumer group of the remediator on the events topic.")
    commands_topic: str = opt(
        "gamsi.commands",
        "Topic of signed recovery commands, keyed by host; each agent reads only its own "
        "host's partition (no consumer group per agent).",
    )
    results_topic: str = opt(
        "gamsi.remediations",
        "Topic of every remediation decision and result (the `remediations` history table, "
        "`gamsi remediate log`, recovery notices).",
    )
    private_key_file: str = opt(
        "",
        "Ed25519 private key (PEM) the remediator signs commands with. Empty means "
        "<data_dir>/remediator/ed25519.key, made by `gamsi remediator keygen`. Keep it "
        "on the remediator's host only.",
    )
    public_key_file: str = opt(
        "",
        "Agent side: the remediator's Ed25519 public key (PEM). Empty means this agent "
        "runs no command at all.",
    )
    scripts_dir: str = opt(
        "/etc/gamsi/scripts",
        "Agent side (and the remediator's, for where: central): the allow-list. Only "
        "executable files directly in this directory run; it and they must be owned by "
        "root and writable by nobody else.",
    )
    state_dir: str = opt(
        "",
        "Agent side: where the ids of commands already seen are kept, so a restart never "
        "runs one again. Empty means <data_dir>/remediate.",
    )
    dry_run: bool = opt(
        False, "Record what would run (`gamsi remediate log`) and issue no command at all."
    )
    command_ttl: float = opt(
        60.0,
        "Seconds a command stays valid after it is issued; an agent refuses it later "
        "(it was queued while the agent was away, and the situation may have changed).",
    )
    max_per_host: int = opt(1, "Commands in flight at once on one host.")
    max_running: int = opt(20, "Commands in flight at once across the fleet.")
    loop_runs: int = opt(
        5,
        "Restart-loop guard (Monit's 'N restarts within M cycles'): after this many runs "
        "of one script on one host within loop_window, stop and escalate.",
    )
    loop_window: float = opt(3600.0, "Seconds over which loop_runs are counted.")
    recovery_wait: float = opt(
        300.0,
        "Seconds after a successful run within which the problem must recover; otherwise "
        "it escalates with the script's result.",
    )
    output_bytes: int = opt(
        4096, "Bytes of a script's output kept (the tail) in its result and history row."
    )
    tick_interval: float = opt(
        1.0, "Seconds between checks for retries, lost results and overdue recoveries."
    )
    metrics_port: int = opt(
        8128,
        "Port of the remediator's /metrics and /health on 127.0.0.1 (docs/operations.md); "
        "0 serves none.",
    )

    def __post_init__(self) -> None:
        for key in ("max_per_host", "max_running", "loop_runs", "output_bytes"):
            if getattr(self, key) < 1:
                raise ConfigError(
                    f"[remediator] {key}: expected at least 1, got {getattr(self, key)}"
                )
        for key in ("command_ttl", "loop_window", "recovery_wait", "tick_interval"):
            if getattr(self, key) <= 0:
                raise ConfigError(
                    f"[remediator] {key}: expected seconds above 0, got {getattr(self, key)}"
                )
        if not 0 <= self.metrics_port < 65536:
            raise ConfigError(
                f"[remediator] metrics_port: expected 1..65535 (0: none), got {self.metrics_port}"
            )
