"""The built-in channel types and the one HTTP status table.

Registry rules (one type per module, duplicates refused, entry points) are tested
for every kind of plugin in tests/unit/test_plugins.py.
"""

from __future__ import annotations

import pytest

from gamsi.notifier.channels import (
    PermanentError,
    RetryableError,
    classify_status,
    load_channel_types,
)


def test_builtin_types() -> None:
    assert {"console", "slack", "email", "webhook", "sms", "kakao", "ntfy"} <= set(
        load_channel_types()
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, PermanentError), (404, PermanentError), (408, RetryableError), (429, RetryableError),
     (500, RetryableError), (503, RetryableError)],
)  # fmt: skip
def test_status_table(status: int, kind: type) -> None:
    assert type(classify_status(status, "x")) is kind
