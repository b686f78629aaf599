"""One duration parser for policies, routing and settings: same text, same seconds, same error."""

from __future__ import annotations

import pytest

from gamsi.config_fields import ConfigError
from gamsi.durations import format_duration, parse_duration
from gamsi.notifier.options import parse_duration as routing_duration
from gamsi.streams.policy import PolicyError
from gamsi.streams.policy.values import Reader


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), (1.5, 1.5), ("250ms", 0.25), ("30s", 30.0), ("15m", 900.0), ("2h", 7200.0),
     ("1d", 86400.0), (" 5 m ", 300.0), ("0", 0.0), (0, 0.0)],
)  # fmt: skip
def test_parses_numbers_and_units(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "5 minutes", "1w", "-5s", True, None, [5], "", "1e3s"])
def test_rejects_what_is_not_a_duration(bad: object) -> None:
    with pytest.raises(ValueError, match=r"expected a duration like 30s, 5m, 1h .*got "):
        parse_duration(bad)


@pytest.mark.parametrize("bad", [-1, -0.5, float("inf"), float("nan")])
def test_rejects_negative_and_non_finite_numbers(bad: float) -> None:
    with pytest.raises(ValueError, match="expected a duration of at least 0 s"):
        parse_duration(bad)


def test_policy_and_routing_read_durations_alike() -> None:
    for text in ("250ms", "15m", 42):
        assert (
            Reader("p.yaml").duration(text, "w")
            == routing_duration(text, "r")
            == (parse_duration(text))
        )
    with pytest.raises(PolicyError, match=r"p.yaml: w: expected a duration like 30s"):
        Reader("p.yaml").duration("soon", "w")
    with pytest.raises(ConfigError, match=r"^r: expected a duration like 30s"):
        routing_duration("soon", "r")


@pytest.mark.parametrize("seconds", [0.25, 1.0, 59.0, 60.0, 90.0, 3600.0, 5400.0, 86400.0, 2.5])
def test_format_reads_back_to_the_same_seconds(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_format_picks_the_largest_exact_unit() -> None:
    assert [format_duration(s) for s in (300, 7200, 86400, 90, 1.5)] == [
        "5m",
        "2h",
        "1d",
        "90s",
        1.5,
    ]
