"""The worker app's producer: returned at once when running, started once otherwise."""

from __future__ import annotations

import asyncio

import pytest

from gamsi.streams.transport import TunedApp


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
