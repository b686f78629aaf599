"""The stream worker's configuration: the ``[streams]`` section of gamsi.toml.

Fields are documented by their ``help`` (docs/configuration.md is generated from it);
:mod:`gamsi.settings` loads and layers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from gamsi.config_fields import ConfigError, opt


@dataclass(frozen=True)
class StreamsSettings:
    """The stream worker: the Faust application that judges samples against policies."""

    app_id: str = opt(
        "gamsi-streams",
        "Faust application id: the consumer group and the prefix of its changelog topics.",
    )
    session_timeout: float = opt(
        10.0,
        "Seconds after which a worker that stopped heartbeating (crashed, killed, cut off) "
        "loses its partitions to the others. Faust's default is 60 s; a monitoring "
        "pipeline should fail over faster.",
    )
    tick_interval: float = opt(
        5.0,
        "Seconds between timer ticks (no-data detection). A silent collector is noticed "
        "within its watch's no-data timeout plus this.",
    )
    policy_path: str = opt(
        "",
        "Watch policy: a YAML file or a directory of *.yaml files (read in name order). "
        "Empty means the shipped OS defaults alone. See docs/policies.md.",
    )
    default_os: str = opt(
        "linux",
        "OS assumed for hosts whose collector does not report one (linux, windows, darwin).",
    )
    inventory_file: str = opt(
        "",
        "JSON inventory of what each host reports (items, instances, OS, tags) for "
        "`gamsi policy unregistered`. Empty means: read it from history (the last 24 h).",
    )
    stale_intervals: float = opt(
        5.0,
        "A series (mount, NIC, disk, process...) missing from its host's arriving batches "
        "for longer than this many collection intervals is gone: its open problem closes "
        "with an 'instance gone' recovery (docs/rules.md).",
    )
    max_future: float = opt(
        300.0,
        "Seconds a batch's ts may be ahead of the worker's clock; a batch further ahead is "
        "dead-lettered with the reason (a forged or broken clock must not move a host's order).",
    )
    max_samples_per_batch: int = opt(
        20000, "Samples one metric batch may carry; a larger batch is dead-lettered."
    )
    max_instances_per_item: int = opt(
        2000,
        "Instances of one item (mounts, NICs, processes) one batch may carry; beyond it the "
        "batch is dead-lettered.",
    )
    metrics_port: int = opt(
        8127,
        "Port of the stream worker's /metrics and /health on 127.0.0.1 (docs/operations.md); "
        "0 serves none. A second worker on the same host needs another port.",
    )
    max_state_bytes: int = opt(
        262144,
        "Bytes one host's state may take on the changelog; a batch that grows it beyond "
        "is dead-lettered and the host is judged afresh (Kafka refuses records over 1 MB).",
    )

    def __post_init__(self) -> None:
        if not 0 <= self.metrics_port < 65536:
            raise ConfigError(
                f"[streams] metrics_port: expected 1..65535 (0: none), got {self.metrics_port}"
            )
