"""History tables show severity names; a mistyped --item gets "did you mean"."""

from __future__ import annotations

import pytest

from gamsi.history.cli import format_table, severity_names, warn_unknown_item


def test_severity_and_previous_columns_show_names_not_numbers() -> None:
    columns = ["host", "severity", "previous", "value"]
    rows = [["web-1", 4, 0, 3], ["web-2", 0, 5, 1]]
    table = format_table(columns, severity_names(columns, rows))
    assert table.splitlines()[2].split() == ["web-1", "urgent", "normal", "3"]
    assert table.splitlines()[3].split() == ["web-2", "normal", "fatal", "1"]


def test_other_columns_and_values_out_of_range_stay_as_they_are() -> None:
    columns = ["worst", "count"]
    assert severity_names(columns, [[3, 4], [None, 9], [7, 1]]) == [
        ["danger", 4],
        [None, 9],
        [7, 1],
    ]


def test_a_mistyped_item_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    warn_unknown_item("cpu.utl")
    assert "did you mean 'cpu.util'" in capsys.readouterr().err
    warn_unknown_item("disk.used_pc")
    assert "did you mean 'disk.used_pct'" in capsys.readouterr().err


def test_a_known_item_is_silent_and_a_custom_one_is_not_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    warn_unknown_item("cpu.util")
    assert capsys.readouterr().err == ""
    warn_unknown_item("app.queue_depth")  # a commands item: a warning, never an error
    assert "not a built-in item" in capsys.readouterr().err
