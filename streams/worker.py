"""Run one stream worker process: `gamsi streams run`.

Topics are created before Faust starts (Faust declares only its internal
changelog topics), then Faust's own Worker takes over the process: it owns the
event loop and handles SIGTERM/SIGINT with a clean shutdown that commits offsets.
"""

from __future__ import annotations

import asyncio

from gamsi.settings import Settings


def run_worker(settings: Settings, loglevel: str = "info") -> int:
    import faust

    from gamsi.streams.app import create_app, ticks_topic_spec
    from gamsi.topics import ensure_topics, topic_specs, wait_for_kafka

    async def prepare() -> None:
        await wait_for_kafka(settings.kafka.bootstrap, within=60)
        await ensure_topics(settings, [*topic_specs(settings), ticks_topic_spec(settings)])

    asyncio.run(prepare())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, loop=loop, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0
