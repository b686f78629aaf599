"""The retry stage: bounded attempts with exponential backoff, and per-channel rate limits.

A channel raises :class:`RetryableError` (optionally with ``retry_after``, e.g.
Slack's HTTP 429 ``Retry-After``) or :class:`PermanentError`; this module alone
decides whether and when to try again. A 429 also holds back every other message
on that channel until the server's time has passed, which is what "honour
Retry-After" means for a rate limit shared by the whole workspace. Sleep and
clock are injected so tests run the schedule without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gamsi.notifier.channels import ChannelError, PermanentError, Receipt, RetryableError

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.max_delay, self.first_delay * self.factor ** (attempt - 1))
        return max(backoff, retry_after or 0.0)


class RateLimiter:
    """A token bucket per channel (``rate`` messages per second, ``burst``), plus a hold
    until a server-given time after a 429."""

    def __init__(self, rate: float = 0.0, burst: int = 1, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, max(1, burst), clock
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._hold_until = 0.0
        self._lock = asyncio.Lock()

    def hold(self, seconds: float) -> None:
        self._hold_until = max(self._hold_until, self._clock() + seconds)

    async def acquire(self, sleep: Sleep) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._hold_until:
                    await sleep(self._hold_until - now)
                    continue
                if self.rate <= 0:
                    return
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await sleep((1 - self._tokens) / self.rate)


@dataclass
class Outcome:
    """How a send ended: ``permanent`` when the channel said trying again cannot help."""

    ok: bool
    attempts: int
    receipt: Receipt | None = None
    error: str = ""
    permanent: bool = False


async def deliver(
    send: Callable[[], Awaitable[Receipt]],
    policy: RetryPolicy,
    limiter: RateLimiter,
    sleep: Sleep = asyncio.sleep,
) -> Outcome:
    """Send with retries; never raises a ChannelError (the outcome says what happened)."""
    attempt = 0
    while True:
        attempt += 1
        await limiter.acquire(sleep)
        try:
            return Outcome(True, attempt, await send())
        except PermanentError as exc:
            return Outcome(False, attempt, error=str(exc), permanent=True)
        except RetryableError as exc:
            if exc.retry_after:
                limiter.hold(exc.retry_after)
            if attempt >= policy.attempts:
                return Outcome(False, attempt, error=f"{exc} (gave up after {attempt} attempts)")
            await sleep(policy.delay(attempt, exc.retry_after))
        except ChannelError as exc:  # a third-party channel's own subclass: treat as permanent
            return Outcome(False, attempt, error=str(exc), permanent=True)
