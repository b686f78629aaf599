"""After a crash or a failover: ask the channel whether a send in flight arrived.

A delivery whose ledger entry is ``pending`` without ``sent`` was being sent when
the notifier that sent it died (docs/notifications.md, "Exactly once"). A channel
that can tell (Slack: ``find_sent`` looks the message up by its metadata) is asked
under each message key the delivery may have travelled under; a message found there
is settled as sent (logged ``deduplicated``, "found at the channel"), the rest are
sent again by the caller, grouped as before so they carry the same key. A channel
that cannot tell, or an error asking it, means sending again: at least once, never lost.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gamsi.notifier.channels import Channel, ChannelError, Receipt
from gamsi.notifier.deliveries import Delivery

if TYPE_CHECKING:
    from gamsi.notifier.outbox import Outbox

log = logging.getLogger(__name__)


async def reconcile(
    outbox: Outbox,
    channel: Channel,
    todo: list[Delivery],
    uncertain: dict[str, list[str]],
    now: float,
) -> list[Delivery]:
    """``todo`` without the deliveries in flight at a crash that ``channel`` says arrived.

    ``uncertain``: delivery key → the message keys its ``pending`` entry lists.
    """
    find = getattr(channel, "find_sent", None)
    doubtful = [d for d in todo if d.key in uncertain]
    if find is None or not doubtful:
        return todo
    settled: list[Delivery] = []
    answers: dict[str, Receipt | None] = {}
    for d in doubtful:
        receipt = None
        thread = outbox.thread_of(d)
        for key in uncertain[d.key]:
            if key not in answers:
                answers[key] = await _probe(find, d, key, thread, now)
            receipt = answers[key]
            if receipt is not None:
                break
        if receipt is not None:
            outbox.settle_found(d, receipt.ref, now)
            settled.append(d)
    return [d for d in todo if d not in settled]


async def _probe(find: Any, d: Delivery, key: str, thread_ref: str, now: float) -> Receipt | None:
    from gamsi.notifier.outbox import notification_for  # the outbox imports this module

    try:
        return await find(notification_for([d], now, key, thread_ref))
    except ChannelError as exc:  # cannot tell: send again (at least once)
        log.warning("cannot check an earlier send on %s: %s", d.contact.channel, exc)
        return None
