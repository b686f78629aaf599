"""Slack through slack-sdk: a Block Kit message coloured by severity, follow-ups in its thread.

The first message of a problem starts a thread; re-notifications, escalations and
the recovery are posted in that thread (``thread_ts``), so a channel shows one
line per problem. Every message carries Slack message metadata with Gamsi's
idempotency key, which lets :meth:`SlackChannel.find_sent` tell after a crash
whether a message whose send was in flight actually reached Slack.

slack-sdk's async client opens a new aiohttp session per call unless it is given
one; the channel gives it one session, opened at the first call and closed with
the channel, so the HTTPS connection to Slack is kept alive between messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from gamsi.notifier.channels import (
    PermanentError,
    Receipt,
    RetryableError,
    classify_status,
    parse_retry_after,
    register,
)
from gamsi.notifier.message import Notification
from gamsi.notifier.options import check_keys, get_str
from gamsi.notifier.secrets import Secrets
from gamsi.schemas.records import reading

METADATA_TYPE = "gamsi_notification"
SECTION_LIMIT = 2900  # Slack rejects section text over 3000 characters
MAX_LISTED = 60


@register("slack")
class SlackChannel:
    """Options: token_env/token_file, channel (default address), base_url, username."""

    def __init__(self, name: str, options: Mapping[str, Any], secrets: Secrets) -> None:
        where = f"channels.{name}"
        check_keys(options, {"type", "token_env", "token_file", "channel", "base_url"}, where)
        self.name = name
        self.channel = get_str(options, "channel", where, "")
        self._secrets = secrets
        token = secrets.resolve(options, "token", where, required=True)
        base_url = get_str(options, "base_url", where, "https://slack.com/api/")
        self._client = AsyncWebClient(token=token, base_url=base_url, retry_handlers=[])

    @classmethod
    def from_token(cls, name: str, token: str, channel: str, base_url: str) -> SlackChannel:
        """The walking-skeleton channel built from [notifier] settings."""
        secrets = Secrets(environ={"SLACK_TOKEN": token})
        options = {"token_env": "SLACK_TOKEN", "channel": channel, "base_url": base_url}
        return cls(name, options, secrets)

    async def send(self, notification: Notification) -> Receipt:
        channel = notification.address or self.channel
        kwargs: dict[str, Any] = {
            "channel": channel,
            "text": notification.text(),
            "attachments": [
                {"color": notification.severity.colour, "blocks": blocks(notification)}
            ],
            "metadata": {
                "event_type": METADATA_TYPE,
                "event_payload": {"key": notification.key, "route": notification.route},
            },
            "unfurl_links": False,
        }
        if notification.thread_ref:
            kwargs["thread_ts"] = notification.thread_ref
        response = await self._call("chat.postMessage", self._client.chat_postMessage, **kwargs)
        return Receipt(ref=notification.thread_ref or str(response.get("ts", "")))

    async def find_sent(self, notification: Notification) -> Receipt | None:
        """The receipt of an earlier send of this notification's key, or None if Slack has none.

        Raises a ChannelError when Slack cannot tell (then the pipeline sends again).
        """
        channel = notification.address or self.channel
        common = {"channel": channel, "include_all_metadata": True, "limit": 200}
        if notification.thread_ref:
            response = await self._call(
                "conversations.replies",
                self._client.conversations_replies,
                ts=notification.thread_ref,
                **common,
            )
        else:
            oldest = f"{notification.at - 86400:.6f}"
            response = await self._call(
                "conversations.history", self._client.conversations_history, oldest=oldest, **common
            )
        for message in response.get("messages", []) or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_TYPE and payload.get("key") == notification.key:
                return Receipt(ref=notification.thread_ref or str(message.get("ts", "")))
        return None

    async def _call(self, method: str, fn: Any, **kwargs: Any) -> Any:
        session = self._client.session
        if session is None or session.closed:
            self._client.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._client.timeout)
            )
        try:
            return await fn(**kwargs)
        except SlackApiError as exc:
            response = exc.response
            status = int(getattr(response, "status_code", 0) or 0)
            error = ""
            if isinstance(response.data, dict):
                error = str(response.data.get("error", ""))
            what = self._secrets.redact(f"slack {method} {error}".strip())
            if status == 200:  # ok: false with 200 is Slack's way to say "bad request"
                if error in {"ratelimited", "internal_error", "service_unavailable"}:
                    raise RetryableError(what) from None
                raise PermanentError(what) from None
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise classify_status(status, what, retry_after) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RetryableError(
                self._secrets.redact(f"slack {method}: {type(exc).__name__}: {exc}")
            ) from None

    async def close(self) -> None:
        """Close the kept-alive session (a later call opens a new one)."""
        session = self._client.session
        if session is not None and not session.closed:
            await session.close()
        self._client.session = None


def blocks(n: Notification) -> list[dict[str, Any]]:
    """Block Kit: a headline, the fields (or the list of events), context and a link."""
    out: list[dict[str, Any]] = [_section(f"*{_escape(n.headline())}*")]
    if n.count == 1:
        e = n.events[0]
        fields = [
            f"*Host*\n{_escape(e.host)}",
            f"*Item*\n{_escape(e.item + (f'[{e.instance}]' if e.instance else ''))}",
            f"*Value*\n{reading(e.value)} (threshold {reading(e.threshold)})",
            f"*Severity*\n{n.severity.name} {n.severity.korean}",
        ]
        out.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]})
    else:
        listed = [f"• {_escape(line)}" for line in n.lines()[:MAX_LISTED]]
        more = max(len(n.events) - MAX_LISTED, 0) + n.omitted  # cut here, or not in the message
        if more > 0:
            listed.append(f"… and {more} more")
        chunk = ""
        for line in listed:
            if len(chunk) + len(line) + 1 > SECTION_LIMIT:
                out.append(_section(chunk))
                chunk = ""
            chunk = f"{chunk}\n{line}" if chunk else line
        if chunk:
            out.append(_section(chunk))
    context = f"route {n.route} · event {n.events[0].event_id}"
    if n.acked_by:
        context += f" · acknowledged by {n.acked_by}"
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(context)}]})
    if n.dashboard_url:
        out.append(_section(f"<{n.dashboard_url}|Open the dashboard>"))
    return out


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
