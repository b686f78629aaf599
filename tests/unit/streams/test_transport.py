"""The worker's Faust edge: the eager ``wait_first`` (mode's results without a task per
record), the streams' flow control, the changelog's own producer, the app's producer and
the commit of what was judged."""

from __future__ import annotations

import asyncio
import warnings

import pytest
from mode import Service
from mode.utils.queues import FlowControlQueue

from gamsi.streams.transport import CHANGELOG_LINGER_MS, EagerWaitFirst, TunedApp, _FlowControl


class Eager(EagerWaitFirst, Service):
    pass


async def _delivered(into: list[int], value: int) -> int:
    into.append(value)
    return value * 10


def test_a_callback_that_completes_at_once_makes_no_task() -> None:
    async def main() -> None:
        svc, flow, got = Eager(), asyncio.Event(), []
        made = []
        loop = asyncio.get_running_loop()
        original = loop.create_task
        loop.create_task = lambda *a, **k: made.append(1) or original(*a, **k)  # type: ignore[method-assign]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # the unstarted flow.wait() is closed, not leaked
                result = await svc.wait_first(_delivered(got, 4), flow.wait())
        finally:
            loop.create_task = original  # type: ignore[method-assign]
        assert got == [4]
        assert result.results == [40]
        assert result.stopped is False
        assert made == []

    asyncio.run(main())


def test_a_callback_that_waits_finishes_as_a_task() -> None:
    async def main() -> None:
        svc, flow, gate = Eager(), asyncio.Event(), asyncio.Event()

        async def queued() -> str:
            await gate.wait()  # a full stream queue
            await asyncio.sleep(0)
            return "put"

        task = asyncio.ensure_future(svc.wait_first(queued(), flow.wait()))
        await asyncio.sleep(0.01)
        assert not task.done()
        gate.set()
        result = await asyncio.wait_for(task, 5)
        assert result.results == ["put"]
        assert result.stopped is False

    asyncio.run(main())


def test_a_waiting_callback_is_cancelled_when_flow_is_suspended() -> None:
    async def main() -> None:
        svc, flow, gate = Eager(), asyncio.Event(), asyncio.Event()
        seen: list[str] = []

        async def queued() -> None:
            try:
                await gate.wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        task = asyncio.ensure_future(svc.wait_first(queued(), flow.wait()))
        await asyncio.sleep(0.01)
        flow.set()  # a rebalance suspends the flow: the blocked delivery is abandoned
        await asyncio.wait_for(task, 5)
        await asyncio.sleep(0)
        assert seen == ["cancelled"]

    asyncio.run(main())


def test_an_error_raised_at_once_propagates() -> None:
    async def bad() -> None:
        raise ValueError("undecodable")

    async def main() -> None:
        with pytest.raises(ValueError, match="undecodable"):
            await Eager().wait_first(bad(), asyncio.Event().wait())

    asyncio.run(main())


def test_a_stopped_service_reports_stopped_as_mode_does() -> None:
    async def main() -> None:
        svc, got = Eager(), []
        svc._stopped.set()
        result = await svc.wait_first(_delivered(got, 1), asyncio.Event().wait())
        assert got == [1]  # mode runs the callback's first step too
        assert result.stopped is True
        assert result.results == []

    asyncio.run(main())


def test_events_and_timeouts_go_to_mode() -> None:
    async def main() -> None:
        flow = asyncio.Event()
        flow.set()
        result = await Eager().wait_first(flow)  # an Event, not a coroutine
        assert result.done == [flow]
        timed = await Eager().wait_first(asyncio.sleep(5), timeout=0.01)
        assert timed.results == []

    asyncio.run(main())


def _app() -> TunedApp:
    return TunedApp("gamsi-transport-test", broker="kafka://127.0.0.1:9", web_enabled=False)


def test_a_running_producer_is_returned_without_yielding_to_the_loop() -> None:
    async def main() -> None:
        app = _app()
        app.producer._started.set()  # running
        call = app.maybe_start_producer()
        with pytest.raises(StopIteration) as done:
            call.send(None)  # finished in its first step: no loop turn per message
        assert done.value.value is app.producer

    asyncio.run(main())


def test_a_producer_not_started_is_started_once_for_concurrent_callers() -> None:
    async def main() -> None:
        app = _app()
        starts = []

        async def maybe_start() -> None:
            starts.append(1)
            await asyncio.sleep(0.01)
            app.producer._started.set()

        app.producer.maybe_start = maybe_start  # type: ignore[method-assign]
        got = await asyncio.gather(*(app.maybe_start_producer() for _ in range(3)))
        assert got == [app.producer] * 3
        assert starts == [1]  # Faust's stampede protection kept
        assert await app.maybe_start_producer() is app.producer
        assert starts == [1]

    asyncio.run(main())


def test_a_resume_without_a_suspension_keeps_what_the_queues_hold() -> None:
    """Faust resumes the flow at the end of a recovery without having suspended it: the
    records handed over meanwhile stay queued (they were lost, the last four batches after
    a SIGKILL never judged); after a real suspension resuming still empties the queues."""

    async def main() -> None:
        flow = _FlowControl()
        queue: FlowControlQueue[int] = FlowControlQueue(10, flow_control=flow, clear_on_resume=True)
        flow.resume()
        queue.put_nowait(37)
        flow.resume()  # on_recovery_completed: nothing was suspended
        assert queue.qsize() == 1
        flow.suspend()  # partitions revoked
        flow.resume()
        assert queue.qsize() == 0
        assert flow.is_active()

    asyncio.run(main())


def test_the_app_uses_the_flow_control_that_keeps_queues() -> None:
    assert isinstance(_app().flow_control, _FlowControl)


def test_changelog_writes_go_to_the_lingering_producer_and_the_rest_at_once() -> None:
    async def main() -> None:
        app = _app()
        producer = app.producer
        sent: dict[str, list[str]] = {"changelog": [], "main": []}

        class Fake:
            def __init__(self, name: str, linger_ms: int = 0) -> None:
                self.name, self.linger_ms, self.flushed = name, linger_ms, 0

            async def send(self, topic: str, value: bytes | None, **kw: object) -> str:
                sent[self.name].append(topic)
                return topic

            async def flush(self) -> None:
                self.flushed += 1

        producer._producer = Fake("main")
        producer._changelog = Fake("changelog", CHANGELOG_LINGER_MS)
        for topic in ("gamsi-streams-host-state-changelog", "gamsi.events", "gamsi-streams-ticks"):
            await producer.send(topic, b"k", b"v", None, None, None)
        assert sent == {
            "changelog": ["gamsi-streams-host-state-changelog"],
            "main": ["gamsi.events", "gamsi-streams-ticks"],
        }
        await producer.flush()  # Faust flushes before it commits: both producers
        assert (producer._producer.flushed, producer._changelog.flushed) == (1, 1)

    asyncio.run(main())


def test_a_metrics_partition_is_committed_up_to_what_was_judged() -> None:
    """Faust's own count stops for good behind an offset it never saw acked (two
    partitions' commits stuck 877 and 1,398 records behind in the cluster failover test,
    their records judged): the worker commits what it judged instead."""
    from faust.types import TP

    async def main() -> None:
        app = _app()
        app.judged_offsets = ("m", {0: 104})
        consumer = app.consumer
        stuck, ticks = TP("m", 0), TP("ticks", 0)
        for tp in (stuck, ticks):
            consumer._committed_offset[tp] = 99
            consumer._acked[tp] = [101, 102, 103]  # 100 was handed over, never acked
            consumer._acked_index[tp] = {101, 102, 103}
        assert consumer._filter_committable_offsets([stuck, ticks]) == {stuck: 104}
        assert consumer._acked[stuck] == []  # nothing below the judged offset kept
        assert consumer._acked[ticks] == [101, 102, 103]  # Faust's rule elsewhere
        consumer._acked[TP("m", 1)] = [5, 6]  # a partition whose judged offset is unknown
        assert consumer._new_offset(TP("m", 1)) == 7
        consumer._thread.thread_loop.close()  # made with the consumer, never started

    asyncio.run(main())
