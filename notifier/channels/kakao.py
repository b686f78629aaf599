"""KakaoTalk (AlimTalk) through an HTTP gateway: the NHN Cloud preset or a custom template.

AlimTalk templates are approved by Kakao in advance, so the preset fills the
template parameters (severity, host, item, message) rather than sending free text.
"""

from __future__ import annotations

from gamsi.notifier.channels import register
from gamsi.notifier.gateways import KAKAO_PRESETS, GatewayChannel


@register("kakao")
class KakaoChannel(GatewayChannel):
    presets = KAKAO_PRESETS
    label = "kakao"
