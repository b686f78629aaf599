"""Run one stream worker process: `gamsi streams run`.

Topics are created before Faust starts (Faust declares only its internal
changelog topics), then Faust's own Worker takes over the process: it owns the
event loop and handles SIGTERM/SIGINT with a clean shutdown that commits offsets.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from gamsi.kafka_auth import kafka_client_options
from gamsi.settings import Settings

log = logging.getLogger(__name__)


async def wait_for_departed_members(settings: Settings) -> None:
    """Give members of our group that stopped heartbeating time to be dropped.

    A worker that joins while a crashed predecessor is still listed in the group
    (until the session timeout) was sometimes handed its partitions and then never
    fed them (faust-streaming 0.15). Waiting at most one session timeout for the
    member list to empty avoids that after a crash or a quick restart; with other
    live workers in the group it only delays the start by that much. A fresh broker
    answers GroupCoordinatorNotAvailable while its offsets topic loads: retriable
    errors are retried within the same bound, others raised.
    """
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    group = settings.streams.app_id
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        deadline = time.monotonic() + settings.streams.session_timeout + 2
        waited = False
        while time.monotonic() < deadline:
            try:
                (response,) = await admin.describe_consumer_groups([group])
            except KafkaError as exc:  # a fresh broker's coordinator is still loading
                if not exc.retriable:
                    raise
                log.info("group coordinator not ready (%s); retrying", type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            members = response.groups[0][5]
            if not members:
                return
            if not waited:
                log.info(
                    "group %s lists %d member(s); waiting up to %.0f s for departed ones",
                    group,
                    len(members),
                    settings.streams.session_timeout + 2,
                )
                waited = True
            await asyncio.sleep(0.5)
    finally:
        await admin.close()


def run_worker(settings: Settings, loglevel: str = "info") -> int:

    from gamsi.streams.app import Engine, create_app, engine_for
    from gamsi.streams.policy.feed import current_policy
    from gamsi.topics import ensure_topics, wait_for_kafka

    async def prepare() -> Engine | None:
        await wait_for_kafka(
            settings.kafka.bootstrap, within=60, options=kafka_client_options(settings)
        )
        await ensure_topics(settings)
        await wait_for_departed_members(settings)
        applied = await current_policy(settings)
        return None if applied is None else engine_for(settings, applied[0])

    # The policy in force is read before Faust starts: agents must not wait for it.
    engine = asyncio.run(prepare())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = create_app(settings, engine)
    worker = _worker_class()(app, loglevel=loglevel, loop=loop, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0


def _worker_class() -> type:
    import faust

    class Worker(faust.Worker):
        async def on_startup_finished(self) -> None:
            """Faust's "ready", then :func:`gc.freeze`: the objects made while starting
            (modules, Faust's services, the policy: about 70,000) move to the permanent
            generation, so no later full collection walks them again. A full collection
            of those alone took 50 ms of CPU on the bench machine, a stall for every batch
            queued behind it (issue 15). Host states made later are collected as before."""
            await super().on_startup_finished()
            gc.collect()
            gc.freeze()
            log.info("%d start-up objects frozen out of garbage collection", gc.get_freeze_count())

    return Worker
