"""The remediator honours silences like maintenance (issue 13 item 3): a silenced host's
event runs no recovery script (its row says which silence), another host's does. The
remediator runs as a process on the real broker; the silence is on its topic first."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from gamsi.notifier.silence_store import publish_silence
from gamsi.notifier.silences import new_silence
from gamsi.remediator import records as R
from gamsi.settings import Settings
from gamsi.topics import ensure_topics
from tests.integration.kafka_io import gamsi_service
from tests.integration.test_remediator_service import configure, raised, rows, send_events


async def test_a_silenced_host_gets_no_recovery_script(
    settings: Settings, tmp_path: Path, unique: str
) -> None:
    s = configure(settings, tmp_path)
    s = replace(s, notifier=replace(s.notifier, silences_topic=f"t-{unique}.silences"))
    quiet, loud = f"quiet-{unique}", f"loud-{unique}"
    await ensure_topics(s)
    hush = new_silence({"hosts": ["quiet-*"]}, time.time(), 3600, "kim", "deploy")
    await publish_silence(s, hush)
    with gamsi_service(s, "remediator", "run", log=tmp_path / "remediator.log") as proc:
        await send_events(s, [raised(quiet, "dry", "dry.up"), raised(loud, "dry", "dry.up")])
        got = await rows(
            s, lambda rs: {quiet, loud} <= {r.host for r in rs}, within=90, service=proc
        )
    by_host = {r.host: r for r in got}
    assert by_host[loud].status == R.DRY_RUN
    assert by_host[quiet].status == R.SKIPPED
    assert by_host[quiet].reason == hush.describe()
