"""Retry and rate limits with an injected clock: backoff, Retry-After, token bucket."""

from __future__ import annotations

import pytest

from gamsi.notifier.channels import PermanentError, Receipt, RetryableError
from gamsi.notifier.retry import RateLimiter, RetryPolicy, deliver

from .conftest import Clock


def flaky(errors: list[Exception]) -> object:
    async def send() -> Receipt:
        if errors:
            raise errors.pop(0)
        return Receipt("ok")

    return send


async def test_backoff_doubles_up_to_the_cap() -> None:
    clock = Clock()
    policy = RetryPolicy(attempts=6, first_delay=1, factor=2, max_delay=5)
    errors = [RetryableError("x") for _ in range(5)]
    outcome = await deliver(flaky(errors), policy, RateLimiter(clock=clock), clock.sleep)
    assert outcome.ok
    assert outcome.attempts == 6
    assert clock.slept == [1, 2, 4, 5, 5]


async def test_gives_up_after_the_attempts() -> None:
    clock = Clock()
    errors = [RetryableError("HTTP 503") for _ in range(9)]
    outcome = await deliver(
        flaky(errors), RetryPolicy(attempts=3), RateLimiter(clock=clock), clock.sleep
    )
    assert not outcome.ok
    assert outcome.attempts == 3
    assert "gave up after 3 attempts" in outcome.error


async def test_permanent_error_is_not_retried() -> None:
    clock = Clock()
    outcome = await deliver(
        flaky([PermanentError("HTTP 404")]), RetryPolicy(), RateLimiter(clock=clock), clock.sleep
    )
    assert (outcome.ok, outcome.attempts, clock.slept) == (False, 1, [])


async def test_retry_after_holds_the_whole_channel() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    start = clock.now
    await deliver(
        flaky([RetryableError("429", retry_after=20)]), RetryPolicy(), limiter, clock.sleep
    )
    assert clock.now - start == pytest.approx(20)
    limiter.hold(10)
    await deliver(flaky([]), RetryPolicy(), limiter, clock.sleep)  # another message waits too
    assert clock.now - start == pytest.approx(30)


async def test_token_bucket_paces_messages() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=2, clock=clock)
    start = clock.now
    for _ in range(6):
        await limiter.acquire(clock.sleep)
    assert clock.now - start == pytest.approx(2.0)  # 2 at once, then one every 0.5 s
