"""The notifier's configuration: the ``[notifier]`` section of gamsi.toml.

Fields are documented by their ``help`` (docs/configuration.md is generated from it);
:mod:`gamsi.settings` loads and layers them. The routing file itself
(channels, recipients, routes) is parsed by :mod:`gamsi.notifier.routing`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gamsi.config_fields import ConfigError, opt
from gamsi.files import read_secret_file


@dataclass(frozen=True)
class NotifierSettings:
    """The notifier: where events are delivered, and how they are grouped and retried."""

    group_id: str = opt(
        "gamsi-notifier",
        "Consumer group of the notifier on the events topic. Notifiers with the same group "
        "share the topic's partitions and take over each other's (docs/notifications.md, "
        '"Several notifiers").',
    )
    ack_port: int = opt(
        8125,
        "Port of the acknowledgement API (POST /ack/<event_id>) and of /metrics and /health, "
        "on 127.0.0.1; 0 turns it off. A second notifier on the same machine needs another "
        "port, or 0 (on a port in use it runs without them and logs an error).",
    )
    session_timeout: float = opt(
        10.0,
        "Seconds after which a notifier that stopped heartbeating (crashed, killed, cut off) "
        "loses its events partitions to the other notifiers of its group; they then notify "
        "for those hosts. Heartbeats go every third of it; 6 to 1800 (the broker's bounds).",
    )
    ledger_keep: float = opt(
        86400.0,
        "Seconds the ledger keeps the idempotency markers (sent, pending) of a problem after "
        "it closed; never less than twice the longest group window plus the retry time.",
    )
    api_token: str = opt(
        "",
        "Bearer token of the acknowledgement API. Acknowledging over HTTP is refused until "
        "it (or api_token_file) is set. Prefer GAMSI_NOTIFIER_API_TOKEN or the file.",
        secret=True,
    )
    api_token_file: str = opt("", "File holding the acknowledgement API's token (first line).")
    slack_token: str = opt(
        "",
        "Slack bot token. Prefer GAMSI_NOTIFIER_SLACK_TOKEN or slack_token_file; "
        "never shown in logs or errors.",
        secret=True,
    )
    slack_token_file: str = opt("", "File holding the Slack bot token (first line).")
    slack_channel: str = opt("#gamsi", "Slack channel that receives severity events.")
    slack_base_url: str = opt(
        "https://slack.com/api/", "Slack Web API base URL (a local stand-in in tests)."
    )
    dashboard_url: str = opt("", "Link shown in messages, e.g. the status page.")
    routing_file: str = opt(
        "",
        "YAML routing file (channels, recipients, routes, maintenance; docs/notifications.md). "
        "Empty: every event goes to slack_channel if a Slack token is set, else to the console.",
    )
    storm_window: float = opt(
        0.1,
        "Seconds during which events for the same route and contact are grouped into one "
        "message (a route's group_window overrides it). Larger groups more, notifies later.",
    )
    delivery_topic: str = opt(
        "gamsi.deliveries", "Topic of delivery outcomes (the history writer's deliveries table)."
    )
    ledger_topic: str = opt(
        "gamsi.notifier.ledger",
        "Compacted topic of idempotency keys, threads and open problems: what makes each "
        "event notified exactly once per route across restarts.",
    )
    acks_topic: str = opt(
        "gamsi.acks", "Topic of acknowledgements (`gamsi ack EVENT` writes, the notifier reads)."
    )
    silences_topic: str = opt(
        "gamsi.silences",
        "Compacted topic of silences (`gamsi silence add` writes; the notifier and the "
        "remediator read it whole at start and follow it).",
    )
    retry_attempts: int = opt(5, "Attempts per message before it is logged as failed.")
    retry_delay: float = opt(
        1.0, "Seconds before the first retry; doubles per attempt (a 429's Retry-After wins)."
    )
    tick_interval: float = opt(
        1.0, "Seconds between checks for due re-notifications and escalation steps."
    )
    selfwatch_interval: float = opt(
        5.0,
        "Seconds between the notifier's checks of the pipeline itself: Kafka answering, the "
        "other services' consumer groups up and not lagging (docs/operations.md). 0: none.",
    )
    selfwatch_kafka_after: float = opt(
        30.0,
        "Seconds the notifier may not reach Kafka before the operators are told, straight "
        "through the channels (not through Kafka); told again when it answers.",
    )
    selfwatch_after: float = opt(
        60.0,
        "Seconds a service's consumer group may have no member, or lag past selfwatch_lag, "
        "before the operators are told.",
    )
    selfwatch_lag: int = opt(
        100_000, "Records a consumer group may lag behind its topics' ends (see selfwatch_after)."
    )

    def __post_init__(self) -> None:
        for key in ("selfwatch_interval", "selfwatch_after", "selfwatch_lag"):
            if not getattr(self, key) >= 0:
                raise ConfigError(f"[notifier] {key}: expected 0 or more, got {getattr(self, key)}")
        if not 6.0 <= self.session_timeout <= 1800.0:
            raise ConfigError(
                f"[notifier] session_timeout: expected seconds from 6 to 1800 (the broker's "
                f"group.min/max.session.timeout.ms), "
                f"got {self.session_timeout}"
            )
        if not self.ledger_keep > 0:
            raise ConfigError(
                f"[notifier] ledger_keep: expected seconds > 0, got {self.ledger_keep}"
            )
        if not self.selfwatch_kafka_after > 0:
            raise ConfigError(
                f"[notifier] selfwatch_kafka_after: expected seconds > 0, "
                f"got {self.selfwatch_kafka_after}"
            )

    def resolved_slack_token(self) -> str:
        """The token from the setting or its file, so that neither lands in logs."""
        if self.slack_token:
            return self.slack_token
        if self.slack_token_file:
            return read_secret_file(self.slack_token_file, "[notifier] slack_token_file")
        return ""
