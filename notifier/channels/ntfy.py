"""Push notifications through ntfy (https://ntfy.sh or a self-hosted server).

The contact's address is the ntfy topic. Severity maps onto ntfy's priority
(1 min .. 5 max) so that urgent and fatal events break through do-not-disturb
on phones that allow it; the dashboard link becomes the tap action.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gamsi.notifier.channels import Receipt, register
from gamsi.notifier.http_template import HttpSender, HttpTemplate, variables
from gamsi.notifier.message import Notification
from gamsi.notifier.options import check_keys, get_str
from gamsi.notifier.secrets import Secrets

PRIORITY = {0: 2, 1: 2, 2: 3, 3: 4, 4: 5, 5: 5}
TAGS = {0: "white_check_mark", 1: "information_source", 2: "warning", 3: "warning"}
BODY = {
    "topic": "${to}",
    "title": "${headline}",
    "message": "${text}",
    "priority": "${priority}",
    "tags": "${tags}",
    "click": "${dashboard_url}",
}


@register("ntfy")
class NtfyChannel:
    """Options: server (default https://ntfy.sh), token_env/token_file (access token).

    Publishes as JSON to the server root (ntfy's "publish as JSON"), which keeps
    UTF-8 titles (Korean severity names) out of HTTP headers.
    """

    def __init__(self, name: str, options: Mapping[str, Any], secrets: Secrets) -> None:
        where = f"channels.{name}"
        check_keys(options, {"type", "server", "token_env", "token_file"}, where)
        self.name = name
        server = get_str(options, "server", where, "https://ntfy.sh").rstrip("/")
        headers = {}
        token = secrets.resolve(options, "token", where, required=False)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        template = HttpTemplate(url=server + "/", body=BODY, headers=headers)
        template.validate(where)
        self.http = HttpSender(template, secrets, f"ntfy {name}")

    async def send(self, notification: Notification) -> Receipt:
        level = 0 if notification.recovered else int(notification.severity)
        extra = {"priority": PRIORITY[level], "tags": [TAGS.get(level, "rotating_light")]}
        return await self.http.send(variables(notification, extra))

    async def close(self) -> None:
        await self.http.close()
