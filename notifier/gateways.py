"""HTTP gateway presets for SMS and KakaoTalk, and the custom-template escape hatch.

A preset names the request a real gateway API expects; the routing file only
adds the account parameters and the secrets (as ``<name>_env`` / ``<name>_file``).
``preset: custom`` takes ``url``, ``method``, ``format``, ``headers`` and ``body``
directly. The presets follow the providers' public API references (see
docs/notifications.md); a gateway that answers HTTP 200 with a failure in the
body has an ``ok`` check so that the failure is not mistaken for a delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gamsi.notifier.channels import Receipt
from gamsi.notifier.http_template import HttpSender, HttpTemplate, variables
from gamsi.notifier.message import Notification
from gamsi.notifier.options import check_keys, get_int, get_str, get_str_map
from gamsi.notifier.secrets import Secrets
from gamsi.settings import ConfigError

OkCheck = Callable[[Any], str | None]


@dataclass(frozen=True)
class Preset:
    template: HttpTemplate
    params: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    ok: OkCheck | None = None
    doc: str = ""
    defaults: dict[str, str] = field(default_factory=dict)


def _vonage_ok(answer: Any) -> str | None:
    messages = (answer or {}).get("messages") or [{}]
    bad = [m for m in messages if str(m.get("status", "0")) != "0"]
    return f"status {bad[0].get('status')}: {bad[0].get('error-text', '')}" if bad else None


def _nhn_ok(answer: Any) -> str | None:
    header = (answer or {}).get("header") or {}
    if header.get("isSuccessful", True):
        return None
    return f"resultCode {header.get('resultCode')}: {header.get('resultMessage', '')}"


SMS_PRESETS: dict[str, Preset] = {
    "twilio": Preset(
        HttpTemplate(
            url="https://api.twilio.com/2010-04-01/Accounts/${account_sid}/Messages.json",
            format="form",
            body={"To": "${to}", "From": "${sender}", "Body": "${short}"},
            basic_auth=("${account_sid}", "${auth_token}"),
        ),
        params=("account_sid", "sender"),
        secrets=("auth_token",),
        doc="Twilio Programmable Messaging: POST .../Accounts/{sid}/Messages.json",
    ),
    "vonage": Preset(
        HttpTemplate(
            url="https://rest.nexmo.com/sms/json",
            format="form",
            body={
                "api_key": "${api_key}",
                "api_secret": "${api_secret}",
                "from": "${sender}",
                "to": "${to}",
                "text": "${short}",
                "type": "unicode",
            },
        ),
        params=("api_key", "sender"),
        secrets=("api_secret",),
        ok=_vonage_ok,
        doc="Vonage (Nexmo) SMS API: POST https://rest.nexmo.com/sms/json",
    ),
    "nhn-sms": Preset(
        HttpTemplate(
            url="https://api-sms.cloud.toast.com/sms/v3.0/appKeys/${app_key}/sender/sms",
            headers={"X-Secret-Key": "${secret_key}"},
            body={
                "body": "${short}",
                "sendNo": "${sender}",
                "recipientList": [{"recipientNo": "${to}"}],
            },
        ),
        params=("app_key", "sender"),
        secrets=("secret_key",),
        ok=_nhn_ok,
        doc="NHN Cloud SMS v3.0 (Korea): POST .../appKeys/{appKey}/sender/sms",
    ),
}

KAKAO_PRESETS: dict[str, Preset] = {
    "nhn-alimtalk": Preset(
        HttpTemplate(
            url="https://api-alimtalk.cloud.toast.com/alimtalk/v2.3/appkeys/${app_key}/messages",
            headers={"X-Secret-Key": "${secret_key}"},
            body={
                "senderKey": "${sender_key}",
                "templateCode": "${template_code}",
                "recipientList": [
                    {
                        "recipientNo": "${to}",
                        "templateParameter": {
                            "severity": "${severity_korean}",
                            "host": "${hosts}",
                            "item": "${item}",
                            "message": "${short}",
                        },
                    }
                ],
            },
        ),
        params=("app_key", "sender_key", "template_code"),
        secrets=("secret_key",),
        ok=_nhn_ok,
        doc="NHN Cloud KakaoTalk Bizmessage AlimTalk v2.3: POST .../appkeys/{appkey}/messages",
    ),
}

CUSTOM_KEYS = {"url", "method", "format", "headers", "body"}


def build_gateway(
    presets: Mapping[str, Preset], options: Mapping[str, Any], secrets: Secrets, where: str
) -> tuple[HttpTemplate, dict[str, str], OkCheck | None, int]:
    """The request template, the values it needs (params and secrets), the ok check, max length."""
    name = get_str(options, "preset", where)
    common = {"type", "preset", "max_length"}
    max_length = get_int(options, "max_length", where, 300)
    if name == "custom":
        secret_names = [k[: -len("_env")] for k in options if k.endswith("_env")]
        secret_names += [k[: -len("_file")] for k in options if k.endswith("_file")]
        check_keys(
            options,
            common
            | CUSTOM_KEYS
            | {f"{s}_env" for s in secret_names}
            | {f"{s}_file" for s in secret_names},
            where,
        )
        values = {s: secrets.resolve(options, s, where, required=True) for s in secret_names}
        template = HttpTemplate(
            url=get_str(options, "url", where),
            method=get_str(options, "method", where, "POST"),
            format=get_str(options, "format", where, "json"),
            body=options.get("body"),
            headers=get_str_map(options, "headers", where),
        )
        template.validate(where)
        return template, values, None, max_length
    if name not in presets:
        raise ConfigError(
            f"{where}: preset: unknown {name!r}; expected one of {', '.join([*presets, 'custom'])}"
        )
    preset = presets[name]
    allowed = common | {"url"} | set(preset.params)
    allowed |= {f"{s}_env" for s in preset.secrets} | {f"{s}_file" for s in preset.secrets}
    check_keys(options, allowed, where)
    values = {p: get_str(options, p, where) for p in preset.params}
    values |= {s: secrets.resolve(options, s, where, required=True) for s in preset.secrets}
    template = preset.template
    if "url" in options:  # a regional endpoint or a local stand-in
        template = HttpTemplate(**{**template.__dict__, "url": get_str(options, "url", where)})
        template.validate(where)
    return template, values, preset.ok, max_length


class GatewayChannel:
    """A channel that sends the short text through one of ``presets`` (SMS, KakaoTalk)."""

    presets: Mapping[str, Preset] = {}
    label = "gateway"

    def __init__(self, name: str, options: Mapping[str, Any], secrets: Secrets) -> None:
        self.name = name
        template, self._values, ok, self._max = build_gateway(
            self.presets, options, secrets, f"channels.{name}"
        )
        self.http = HttpSender(template, secrets, f"{self.label} {name}", ok=ok)

    async def send(self, notification: Notification) -> Receipt:
        short = notification.headline()[: self._max]
        return await self.http.send(variables(notification, {**self._values, "short": short}))

    async def close(self) -> None:
        await self.http.close()
