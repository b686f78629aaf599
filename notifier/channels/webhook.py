"""A generic webhook: a JSON (or form, or text) body from a template, custom headers.

Without a ``body`` template the request carries the whole notification: kind,
severity, route, recipient, the rendered text and the list of events, so a
receiver gets everything without writing a template. Every request carries an
``Idempotency-Key`` header (Gamsi's key) so a receiver can drop a replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gamsi.notifier.channels import Receipt, register
from gamsi.notifier.http_template import HttpSender, HttpTemplate, variables
from gamsi.notifier.message import Notification
from gamsi.notifier.options import check_keys, get_str, get_str_map
from gamsi.notifier.secrets import Secrets
from gamsi.settings import ConfigError

DEFAULT_BODY = {
    "kind": "${kind}",
    "severity": "${severity}",
    "severity_level": "${severity_level}",
    "route": "${route}",
    "recipient": "${recipient}",
    "to": "${to}",
    "key": "${key}",
    "text": "${text}",
    "acked_by": "${acked_by}",
    "events": "${events}",
}


@register("webhook")
class WebhookChannel:
    """Options: url, method, format, body, headers, secret_headers (header → env var)."""

    def __init__(self, name: str, options: Mapping[str, Any], secrets: Secrets) -> None:
        where = f"channels.{name}"
        allowed = {"type", "url", "method", "format", "body", "headers", "secret_headers_env"}
        check_keys(options, allowed, where)
        self.name = name
        headers = get_str_map(options, "headers", where)
        for header, env_name in get_str_map(options, "secret_headers_env", where).items():
            headers[header] = secrets.resolve(
                {"value_env": env_name}, "value", where, required=True
            )
        template = HttpTemplate(
            url=get_str(options, "url", where),
            method=get_str(options, "method", where, "POST"),
            format=get_str(options, "format", where, "json"),
            body=options.get("body", DEFAULT_BODY),
            headers=headers,
        )
        template.validate(where)
        if template.format == "form" and not isinstance(template.body, dict):
            raise ConfigError(f"{where}: body: format form needs a mapping")
        self.http = HttpSender(template, secrets, f"webhook {name}")

    async def send(self, notification: Notification) -> Receipt:
        return await self.http.send(variables(notification))

    async def close(self) -> None:
        await self.http.close()
