"""The stream worker's Kafka consumer, tuned so that a batch never waits for a quiet partition.

faust-streaming 0.15 creates its aiokafka consumer with ``fetch_max_wait_ms=1500``, fixed.
aiokafka sends at most one fetch request to a broker at a time, for the partitions whose
previous records have been handed over (``aiokafka.consumer.fetcher``,
``_get_actions_per_node``). When the worker has not yet taken a response's records
within 100 ms (the fetcher's prefetch backoff) — a burst of batches, a GC pause, a
loaded machine — the next request goes out for the *other* partitions only: the ticks
topic and any metrics partitions that were empty. If those stay quiet, the broker holds
that request for the full 1.5 s, and the busy partitions' next records wait behind it.
Recorded in bench/streams_throughput.py (issue 15): produce→judged latency in a sawtooth
of 1.5–1.9 s peaks falling ~1 ms per ms, i.e. records arriving in bursts every ~1.5 s,
at 10,000 samples/s with the worker mostly idle. With the wait bounded at
:data:`FETCH_MAX_WAIT_MS` a record waits at most that long behind a quiet request; an
idle worker sends one empty fetch per wait (100 a second at 10 ms: negligible next to a
worker's work, and the broker answers them without touching disk).

The consumer also hands each record to its streams without four asyncio tasks per record
(:class:`EagerWaitFirst`). Faust's drain loop delivers every record with
``await self.wait_first(callback(message), self.suspend_flow.wait())`` (mode 0.4:
``Service.wait_first`` wraps each argument and the service's stopped and crashed events
in a task, waits for the first, then cancels the rest): 70–80 µs a record on this
2-core machine, more than judging a 100-sample batch. The callback nearly always
completes without waiting (the record goes into a stream's queue), so it is now run at
once and the tasks are made only when it has to wait.
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine, Generator
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults
from mode.utils.futures import stampede

FETCH_MAX_WAIT_MS = 10
"""Longest time (ms) the broker may hold a fetch that found no new records."""


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when its fetcher starts
        return consumer


class EagerWaitFirst:
    """A mode ``Service`` mixin: :meth:`wait_first` runs its first coroutine at once.

    When the first argument is a coroutine (and no timeout is given) its first step runs
    synchronously. If it finishes there, the result is returned as mode's ``wait_first``
    returns it (``WaitResults([coro], [result], stopped=False)``, or no winners and
    ``stopped=True`` when the service has stopped or crashed) and the other arguments,
    never started, are closed. This is what mode's version does too, at the cost of a
    task per argument: the first coroutine's task runs first. If it has to wait, the rest of it
    runs as a task under mode's ``wait_first``, against the other arguments (a coroutine
    waiting for a full queue is still cancelled when flow is suspended for a rebalance);
    the winner is then the wrapper that continues it, not the coroutine itself (Faust's
    one caller, the drain loop, ignores the winners). An exception raised at once
    propagates, as mode's does.
    """

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:  # noqa: ASYNC109 (mode's signature)
        wait_first = super().wait_first  # type: ignore[misc]
        if timeout is not None or not coros or not inspect.iscoroutine(coros[0]):
            return await wait_first(*coros, timeout=timeout)
        first, rest = coros[0], coros[1:]
        try:
            awaited = first.send(None)
        except StopIteration as done:
            _close(rest)
            if self._stopped.is_set() or self._crashed.is_set():  # type: ignore[attr-defined]
                return WaitResults([], [], True)
            return WaitResults([first], [done.value], False)
        except BaseException:
            _close(rest)
            raise
        return await wait_first(_continue(first, awaited), *rest)


def _close(coros: tuple[Any, ...]) -> None:
    for coro in coros:
        if inspect.iscoroutine(coro):
            coro.close()  # never started: nothing runs, and no "never awaited" warning


class _Continued:
    """Awaiting it continues ``coro``, which has already run to ``awaited`` (what its first
    step yielded): the values it yields go to the task, and what the task sends or throws
    goes back into it, as ``await coro`` would have done from the start."""

    __slots__ = ("awaited", "coro")

    def __init__(self, coro: Coroutine[Any, Any, Any], awaited: Any) -> None:
        self.coro, self.awaited = coro, awaited

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, value = self.coro, self.awaited
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation included: thrown into the coroutine
                try:
                    value = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as done:
                    return done.value


async def _continue(coro: Coroutine[Any, Any, Any], awaited: Any) -> Any:
    return await _Continued(coro, awaited)


class _Consumer(EagerWaitFirst, faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class TunedApp(faust.App):
    """A Faust app whose Kafka consumer fetches with :data:`FETCH_MAX_WAIT_MS` and delivers
    records without a task each (:class:`EagerWaitFirst`), and whose messages reach the
    producer without yielding to the event loop three times each
    (:meth:`maybe_start_producer`)."""

    async def maybe_start_producer(self) -> Any:
        """The producer, at once when it is already running (the normal case).

        Faust calls this for every message it publishes: each event, and each changelog
        write the producer buffer sends. Faust's version is wrapped in mode's ``stampede``,
        which yields to the event loop three times per call (``asyncio.sleep(0)``) even
        when there is nothing to start. A changelog write waiting in Faust's producer buffer
        so took at least three loop turns, while the agent went on judging and writing
        more: the buffer passed its 100 messages, and Faust then held record delivery
        until it had drained ("producer buffer full" warnings; "producer flush took"
        0.06–0.45 s, 25 times in 20 s at 25–50 k samples/s). Starting the producer keeps
        Faust's code and its stampede protection (:meth:`_start_producer`)."""
        if not self.in_transaction:
            producer = self.producer
            if producer._started.is_set():  # what mode's Service.maybe_start checks
                return producer
        return await self._start_producer()

    @stampede
    async def _start_producer(self) -> Any:
        return await faust.App.maybe_start_producer.__wrapped__(self)  # type: ignore[attr-defined]

    def _new_transport(self) -> Any:
        transport = super()._new_transport()
        if not isinstance(transport, faust_aiokafka.Transport):
            raise TypeError(f"expected Faust's aiokafka transport, got {type(transport).__name__}")
        transport.Consumer = _Consumer
        return transport
