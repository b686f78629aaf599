"""SMS through an HTTP gateway: presets for Twilio, Vonage and NHN Cloud, or a custom template.

The message is the short form (the headline, cut to ``max_length`` characters):
an SMS is read on a lock screen, the details are in Slack or the email.
"""

from __future__ import annotations

from gamsi.notifier.channels import register
from gamsi.notifier.gateways import SMS_PRESETS, GatewayChannel


@register("sms")
class SmsChannel(GatewayChannel):
    presets = SMS_PRESETS
    label = "sms"
