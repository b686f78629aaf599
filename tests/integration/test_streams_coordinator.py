"""`gamsi streams run` against a fresh broker (issue 10 section 6): while the group
coordinator loads, the member check retries instead of exiting 1."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError, TopicAuthorizationFailedError

from gamsi.settings import Settings
from gamsi.streams.service import wait_for_departed_members


def _failing_first(monkeypatch: pytest.MonkeyPatch, error: Exception, times: int) -> list[str]:
    """The real admin call, failing the first ``times`` calls as a loading broker does."""
    real = AIOKafkaAdminClient.describe_consumer_groups
    calls: list[str] = []

    async def describe(self: AIOKafkaAdminClient, groups: list[str], **kw: Any) -> Any:
        calls.append(groups[0])
        if len(calls) <= times:
            raise error
        return await real(self, groups, **kw)

    monkeypatch.setattr(AIOKafkaAdminClient, "describe_consumer_groups", describe)
    return calls


async def test_coordinator_not_available_is_retried(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _failing_first(monkeypatch, GroupCoordinatorNotAvailableError(), 3)
    await wait_for_departed_members(settings)  # returns: the (empty) group was described
    assert calls == [settings.streams.app_id] * 4


async def test_a_non_retriable_error_is_raised(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_first(monkeypatch, TopicAuthorizationFailedError(), 1)
    with pytest.raises(TopicAuthorizationFailedError):
        await wait_for_departed_members(settings)
