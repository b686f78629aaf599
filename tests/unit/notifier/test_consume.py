"""The consumer loop's offsets: what may be committed, and a commit the group refuses."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from gamsi.notifier.consume import Offsets

TP = TopicPartition("events", 0)


class RebalancingConsumer:
    """Refuses commits as aiokafka does while the group rebalances, then takes them."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.commits: list[dict] = []

    async def commit(self, offsets: dict) -> None:
        if self.refusals:
            self.refusals -= 1
            raise CommitFailedError("the group has already rebalanced")
        self.commits.append({tp: o.offset for tp, o in offsets.items()})


async def test_a_refused_commit_is_offered_again_and_in_flight_records_hold_it_back() -> None:
    offsets = Offsets()
    for offset in (10, 11, 12):
        offsets.start(TP, offset)
    offsets.finish((TP, 10))
    consumer = RebalancingConsumer(refusals=1)
    await offsets.commit(consumer)  # refused: logged, not remembered as committed
    assert consumer.commits == []
    await offsets.commit(consumer)
    assert consumer.commits == [{TP: 11}]  # 11 is still in flight
    await offsets.commit(consumer)
    assert consumer.commits == [{TP: 11}]  # nothing new
    offsets.finish((TP, 11))
    offsets.finish((TP, 12))
    await offsets.commit(consumer)
    assert consumer.commits[-1] == {TP: 13}
    offsets.forget()  # revoked: the next owner starts from the committed offset
    assert offsets.to_commit() == {}
