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
once and the tasks are made only when it has to wait: 2.5 µs a record.

Twice that hand-over was taken out, because the three-broker failover test
(tests/integration/test_cluster_failover.py) lost records with it; each time the cause
was found to be a fault it only made more frequent, and each is fixed at its mechanism:
records dropped when a recovery ends (:class:`_FlowControl`, below), a partition's
commit stuck for good behind a record Faust handed over and never saw acknowledged
(:meth:`_Consumer._new_offset`), and a transition lost when its worker was SIGKILLed
between writing the host's state and the broker acknowledging the event (the host's
record now carries its unacknowledged transitions: gamsi.streams.outbox).

Faust's flow control (:class:`_FlowControl`): when a restored worker ends its recovery,
Faust resumes its streams' flow control, which empties every stream's queue, although
the flow was never suspended; records the fetcher had already handed over in that moment
were dropped and their offsets counted as read (tests/integration/test_streams_state.py:
the last four batches after a SIGKILL never judged, 1 run in 4 with the faster
hand-over). The queues are now emptied only when the flow really was suspended (a
rebalance, which Faust follows with a seek back to the committed offsets).
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine, Generator, Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults
from mode.utils.futures import stampede
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

FETCH_MAX_WAIT_MS = 10
"""Longest time (ms) the broker may hold a fetch that found no new records."""


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when its fetcher starts
        return consumer

    def fetched_end(self, tp: Any) -> tuple[int, float] | None:
        consumer = self._ensure_consumer()
        end, at_ms = consumer.highwater(tp), consumer.last_poll_timestamp(tp)
        return None if end is None or at_ms is None else (end, at_ms / 1000.0)


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
    """Faust's aiokafka consumer, with the metrics partitions committed up to what the
    worker judged (:meth:`_new_offset`)."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _new_offset(self, tp: Any) -> int | None:
        """The offset to commit for ``tp``: for a metrics partition, the next offset the
        worker judges (``TunedApp.judged_offsets``), else Faust's.

        Faust commits the end of the first unbroken run of offsets its streams acked
        (``Consumer._new_offset``), and a message it handed over but never saw acked (a
        stream queue emptied by a suspension, a record of an older generation skipped)
        stops that run for good: the committed offset then stays where it is while the
        partition is judged on, until the next owner replays everything after it. Seen in
        tests/integration/test_cluster_failover.py: two partitions' commits stuck 877 and
        1,398 records behind, their records judged. The worker judges every offset of its
        partitions in order (:class:`gamsi.streams.gaps.Gaps`), so what it judged is what
        may be committed; Faust flushes the producers before it commits, so every judged
        record's state and events are on the broker first. Faust's list of acked offsets
        below it is dropped (it would otherwise only grow)."""
        offset = super()._new_offset(tp)
        topic, judged_up_to = getattr(self.app, "judged_offsets", None) or (None, {})
        judged = judged_up_to.get(tp.partition) if tp.topic == topic else None
        if judged is None:
            return offset  # type: ignore[no-any-return]
        acked = self._acked[tp]
        if acked and acked[0] < judged:
            kept = [o for o in acked if o >= judged]
            acked[:] = kept
            self._acked_index[tp] = set(kept)
        return judged  # type: ignore[no-any-return]

    def fetched_end(self, tp: Any) -> tuple[int, float] | None:
        """``tp``'s end offset as the last fetch of it saw it, and that fetch's wall-clock
        time (s); None before a fetch of the current assignment. The end is only as
        recent as the fetch: a partition not fetched keeps it (aiokafka 0.14's
        ``highwater`` and ``last_poll_timestamp``). Raises when ``tp`` is not assigned."""
        return self._thread.fetched_end(tp)  # type: ignore[attr-defined, no-any-return]


CHANGELOG_LINGER_MS = 20
"""How long (ms) a changelog write may wait to share a produce request with the next ones."""

CHANGELOG_BATCH_BYTES = 512 * 1024
"""Largest batch (bytes, per partition) of changelog writes in one produce request."""


class _Producer(faust_aiokafka.Producer):
    """Faust's producer, with the table's changelog writes sent by a second aiokafka
    producer that lingers :data:`CHANGELOG_LINGER_MS`.

    Every judged batch writes its host's state to the changelog: one message per record.
    With Faust's single producer at ``linger_ms=0`` each became its own produce request
    (and its own response to parse), which at 100,000 samples/s fed live was a quarter
    of the worker's CPU in py-spy (``AIOKafkaClient.send``, the socket writes, the
    request's encoding, ``SendProduceReqHandler``) and held the worker at one full core.
    A changelog write is only read back on a restore, so waiting a few milliseconds for
    company costs nothing; a severity event is read by a person, so everything else still
    goes at once. :meth:`flush` flushes both producers: Faust flushes the producer
    before it commits offsets, so a committed record's state is on the broker as before.
    Transactions are not used (``processing_guarantee="at_least_once"``).
    """

    _changelog: Any = None

    async def on_start(self) -> None:
        await super().on_start()
        settings = {**self._settings_default(), **self._settings_auth(), **self._settings_extra()}
        settings.update(linger_ms=CHANGELOG_LINGER_MS, max_batch_size=CHANGELOG_BATCH_BYTES)
        self._changelog = self._producer_type(**settings)
        self.beacon.add(self._changelog)
        await self._changelog.start()

    async def on_stop(self) -> None:
        changelog, self._changelog = self._changelog, None
        if changelog is not None:
            await changelog.stop()  # sends what lingers first
        await super().on_stop()

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Any:
        changelog = self._changelog
        if changelog is None or transactional_id or not topic.endswith("-changelog"):
            return await super().send(
                topic, key, value, partition, timestamp, headers, transactional_id=transactional_id
            )
        self._send_on_produce_message(
            key=key, value=value, partition=partition, timestamp=timestamp, headers=headers
        )
        try:
            return await changelog.send(
                topic,
                value,
                key=key,
                partition=partition,
                timestamp_ms=int(timestamp * 1000.0) if timestamp else None,
                headers=list(headers.items()) if isinstance(headers, dict) else headers,
            )
        except faust_aiokafka.KafkaError as exc:
            raise faust_aiokafka.ProducerSendError(f"Error while sending: {exc!r}") from exc

    async def flush(self) -> None:
        await super().flush()
        if self._changelog is not None:
            await self._changelog.flush()


class _FlowControl(FlowControlEvent):
    """Faust's flow control of the streams' queues, emptying them on :meth:`resume` only
    when the flow was suspended.

    mode's ``FlowControlEvent.resume`` always empties every managed queue. Faust suspends
    (and empties the queues itself) when partitions are revoked, and seeks back to the
    committed offsets before it resumes, so what was in a queue is read again. But
    ``Recovery.on_recovery_completed`` also calls ``resume`` when nothing was suspended,
    after it has resumed the partitions and awaited its seek: records fetched and handed
    over in that await were in the queues, already past the read offset, and emptying
    them lost them (a later record of the partition brings them back through
    :mod:`gamsi.streams.gaps`, but the last records before a pause were never judged).
    """

    def resume(self) -> None:
        suspended = self._suspend.is_set()
        self._suspend.clear()
        self._resume.set()
        if suspended:
            self.clear()


class TunedApp(faust.App):
    """A Faust app whose Kafka consumer fetches with :data:`FETCH_MAX_WAIT_MS` and whose
    messages reach the producer without yielding to the event loop three times each
    (:meth:`maybe_start_producer`), whose metrics partitions are committed up to what
    was judged (:class:`_Consumer`), whose changelog writes share produce requests
    (:class:`_Producer`), and whose streams' queues are emptied only after a real
    suspension (:class:`_FlowControl`)."""

    judged_offsets: tuple[str, Mapping[int, int]] | None = None
    """(metrics topic, partition → next offset to judge): what :class:`_Consumer` commits."""

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return _FlowControl(loop=self.loop)

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
        transport.Producer = _Producer
        return transport
