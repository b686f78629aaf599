"""The acknowledgement API over HTTP: the same record as `gamsi ack`, and only with authority.

Against the real notifier service on the real broker: an ack of an open problem is
written; a forged or future id is refused with 404 and nothing is written; a
request without the token, with a non-JSON body or from another site never
reaches the acks topic.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import aiohttp
import orjson
import pytest

from gamsi.notifier.ack import parse_ack
from gamsi.settings import Settings
from tests.integration.kafka_io import free_port, wait_for_records
from tests.integration.test_notifier_service import (
    event,
    notifier_settings,
    produce_events,
    running,
    wait_for_ledger,
)
from tests.support.slack_standin import SlackStandIn, slack_standin  # noqa: F401

TOKEN = "ack-api-token-9d41"
JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def post(url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
    """POST once the service listens (it binds its port during start-up; bounded)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    return resp.status, await resp.json()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def with_api(settings: Settings, token: str = TOKEN) -> tuple[Settings, str]:
    port = free_port()
    n = replace(settings.notifier, ack_port=port, api_token=token)
    return replace(settings, notifier=n), f"http://127.0.0.1:{port}/ack"


async def test_post_ack_acknowledges_an_open_problem_and_refuses_forged_ids(
    settings: Settings,
    unique: str,
    slack_standin: SlackStandIn,  # noqa: F811
) -> None:
    s, base = with_api(notifier_settings(settings, slack_standin.base_url, unique))
    raised = event("web-07")
    async with running(s):
        await produce_events(s, raised)
        await wait_for_ledger(s, lambda p: len(p) == 1)
        status, bad = await post(f"{base}/{raised.event_id}", b"{not json", {**JSON, **AUTH})
        assert status == 400
        assert "expected JSON" in bad["error"]
        future = raised.event_id.replace("-0", "-1")  # the id the next occurrence would get
        for forged in (f"forged-{unique}", future):
            status, refused = await post(f"{base}/{forged}", b"{}", {**JSON, **AUTH})
            assert status == 404
            assert "no open problem" in refused["error"]
        body = orjson.dumps({"by": "kim", "comment": "restarting nginx"})
        status, record = await post(f"{base}/{raised.event_id}", body, {**JSON, **AUTH})
        assert status == 200
        assert (record["event_id"], record["by"], record["comment"]) == (
            raised.event_id,
            "kim",
            "restarting nginx",
        )
        await wait_for_ledger(s, lambda p: [v["acked_by"] for v in p.values()] == ["kim"])
    acks = await wait_for_records(s, s.notifier.acks_topic, lambda got: len(got) >= 1, parse_ack)
    # the refused ids were posted first: had any been written, it would be the first record
    assert acks[0] is not None
    assert (acks[0]["event_id"], acks[0]["by"]) == (raised.event_id, "kim")


@pytest.mark.parametrize(
    ("token", "headers", "status"),
    [
        ("", {**JSON}, 403),  # no token configured: acking over HTTP is refused
        (TOKEN, {**JSON}, 401),  # token configured, none given
        (TOKEN, {**JSON, "Authorization": "Bearer guess"}, 401),
        (TOKEN, {**AUTH, "Content-Type": "text/plain"}, 415),
        (TOKEN, {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}, 415),
        (TOKEN, {**JSON, **AUTH, "Origin": "https://evil.example"}, 403),
        (TOKEN, {**JSON, **AUTH, "Host": "rebound.example"}, 403),
    ],
)
async def test_post_ack_without_authority_is_refused(
    settings: Settings, token: str, headers: dict[str, str], status: int
) -> None:
    from gamsi.notifier.ack_api import start_ack_api

    s, base = with_api(settings, token)
    served = await start_ack_api(s)
    assert served is not None
    try:
        got, body = await post(f"{base}/anything", b"{}", headers)
    finally:
        await served.cleanup()
    assert got == status
    assert body["error"]
    assert TOKEN not in body["error"]


@pytest.mark.parametrize("body", [b'["a"]', b'{"by": 3}'])
async def test_post_ack_rejects_a_wrong_body(settings: Settings, body: bytes) -> None:
    from gamsi.notifier.ack_api import start_ack_api

    s, base = with_api(settings)
    served = await start_ack_api(s)
    assert served is not None
    try:
        status, answer = await post(f"{base}/x", body, {**JSON, **AUTH})
    finally:
        await served.cleanup()
    assert status == 400
    assert "expected" in answer["error"]
