"""HTTP delivery from templates: shared by the webhook, SMS, KakaoTalk and ntfy channels.

A template is any JSON-like structure whose strings may hold ``${name}``
placeholders (:class:`string.Template`, so no attribute access or code). A string
that is exactly ``${events}`` (or any other non-text variable) is replaced by the
value itself, so a template can embed the list of events as JSON.

Each channel sends through its own :class:`HttpSender`: one aiohttp session,
opened at the first send and closed with the channel when the notifier stops,
so connections (and TLS sessions) are kept alive and reused between messages
instead of being opened and torn down for every request.
"""

from __future__ import annotations

import base64
import string
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
import orjson

from gamsi.notifier.channels import (
    PermanentError,
    Receipt,
    RetryableError,
    classify_status,
    parse_retry_after,
)
from gamsi.notifier.message import Notification
from gamsi.notifier.secrets import Secrets
from gamsi.settings import ConfigError

FORMATS = ("json", "form", "text")


def variables(n: Notification, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything a template may use (documented in docs/notifications.md)."""
    first = n.events[0]
    out: dict[str, Any] = {
        "text": n.text(),
        "headline": n.headline(),
        "severity": n.severity.name,
        "severity_level": int(n.severity),
        "severity_korean": n.severity.korean,
        "colour": n.severity.colour,
        "kind": n.kind,
        "route": n.route,
        "recipient": n.recipient,
        "to": n.address,
        "key": n.key,
        "acked_by": n.acked_by,
        "dashboard_url": n.dashboard_url,
        "host": first.host,
        "item": first.item,
        "instance": first.instance,
        "watch": first.watch,
        "value": first.value,
        "threshold": first.threshold,
        "event_id": first.event_id,
        "hosts": ", ".join(n.hosts),
        "count": n.count,  # listed and omitted ("… and N more")
        "events": [asdict(e) for e in n.events],
    }
    out.update(extra or {})
    return out


def render(template: Any, values: dict[str, Any]) -> Any:
    """Fill ``${name}`` placeholders; unknown names are left as written."""
    if isinstance(template, str):
        stripped = template.strip()
        if stripped.startswith("${") and stripped.endswith("}") and stripped.count("$") == 1:
            name = stripped[2:-1]
            if name in values and not isinstance(values[name], str):
                return values[name]
        return string.Template(template).safe_substitute(
            {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in values.items()}
        )
    if isinstance(template, dict):
        return {render(k, values): render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    return template


@dataclass
class HttpTemplate:
    """One HTTP request shape: where, how, which headers, which body."""

    url: str
    method: str = "POST"
    format: str = "json"
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    timeout: float = 10.0

    def validate(self, where: str) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{where}: url: expected an http:// or https:// URL, got {self.url!r}"
            )
        if self.format not in FORMATS:
            raise ConfigError(f"{where}: format: expected one of {', '.join(FORMATS)}")
        if self.method.upper() not in {"POST", "PUT", "GET", "PATCH"}:
            raise ConfigError(f"{where}: method: expected POST, PUT, PATCH or GET")


class HttpSender:
    """Sends one channel's requests from ``template`` over one reused aiohttp session.

    ``what`` names the channel in error texts ("webhook ops"); ``ok`` is an optional
    check of the decoded JSON answer for gateways that say "failed" with HTTP 200
    (Vonage, NHN Cloud); it returns an error text or None.
    """

    def __init__(self, template: HttpTemplate, secrets: Secrets, what: str, ok: Any = None):
        self.template = template
        self._secrets = secrets
        self._what = what
        self._ok = ok
        self._session: aiohttp.ClientSession | None = None

    @property
    def is_open(self) -> bool:
        """True while a session is open (after a send, until :meth:`close`)."""
        return self._session is not None and not self._session.closed

    def _session_now(self) -> aiohttp.ClientSession:
        if not self.is_open:
            timeout = aiohttp.ClientTimeout(total=self.template.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        assert self._session is not None
        return self._session

    async def send(self, values: dict[str, Any]) -> Receipt:
        """Render the template with ``values`` and send it.

        Raises RetryableError (connection failures, timeouts, 408, 429 with its
        Retry-After, 5xx) or PermanentError (other 4xx, a failed ``ok`` check);
        no error text carries a secret.
        """
        method, url, kwargs = build_request(self.template, values)
        secrets, what = self._secrets, self._what
        try:
            async with self._session_now().request(method, url, **kwargs) as resp:
                raw = await resp.read()
                if resp.status >= 300:
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    raise classify_status(resp.status, secrets.redact(what), retry_after)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RetryableError(secrets.redact(f"{what}: {type(exc).__name__}: {exc}")) from None
        if self._ok is not None:
            try:
                answer = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                answer = None
            problem = self._ok(answer)
            if problem:
                raise PermanentError(secrets.redact(f"{what}: {problem}"))
        return Receipt()

    async def close(self) -> None:
        """Close the session and its kept-alive connections (a later send opens a new one)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def build_request(
    template: HttpTemplate, values: dict[str, Any]
) -> tuple[str, str, dict[str, Any]]:
    """(method, url, aiohttp request keyword arguments) for ``template`` filled with ``values``."""
    url = render(template.url, values)
    headers = {k: str(render(v, values)) for k, v in template.headers.items()}
    headers.setdefault("Idempotency-Key", str(values.get("key", "")))
    body = render(template.body, values)
    kwargs: dict[str, Any] = {"headers": headers}
    if template.format == "json":
        kwargs["data"] = orjson.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    elif template.format == "form":
        kwargs["data"] = {k: str(v) for k, v in (body or {}).items()}
    else:
        kwargs["data"] = str(body if body is not None else values["text"]).encode()
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    if template.basic_auth:
        user, password = (str(render(v, values)) for v in template.basic_auth)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return template.method.upper(), url, kwargs
