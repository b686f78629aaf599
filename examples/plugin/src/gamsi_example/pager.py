# examples/plugin/src/gamsi_example/pager.py
"""A paging service reached over HTTP: POST one JSON message per notification."""

from collections.abc import Mapping
from typing import Any

import aiohttp

from gamsi.notifier.channels import (
    Receipt,
    RetryableError,
    classify_status,
    parse_retry_after,
    register,
)
from gamsi.notifier.message import Notification
from gamsi.notifier.options import check_keys, get_str
from gamsi.notifier.secrets import Secrets


@register("pager")
class PagerChannel:
    """Options: ``url``, and ``token_env`` or ``token_file`` (never the token itself)."""

    def __init__(self, name: str, options: Mapping[str, Any], secrets: Secrets) -> None:
        where = f"channels.{name}"
        check_keys(options, {"type", "url", "token_env", "token_file"}, where)
        self.name = name
        self.url = get_str(options, "url", where)
        self.token = secrets.resolve(options, "token", where, required=True)
        self.session: aiohttp.ClientSession | None = None  # one per channel, reused

    async def send(self, notification: Notification) -> Receipt:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        body = {"key": notification.key, "to": notification.address, "text": notification.text()}
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with self.session.post(self.url, json=body, headers=headers) as response:
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            # the type only: an exception's text may quote the request, token included
            raise RetryableError(f"pager {self.name}: {type(exc).__name__}") from None
        if status >= 300:
            raise classify_status(status, f"pager {self.name}", retry_after)
        return Receipt(ref=notification.key)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
