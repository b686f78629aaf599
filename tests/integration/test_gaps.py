"""The stream worker's read-back of records Faust dropped (streams/gaps.py), on the real
broker: the group's committed offset and one partition's records between two offsets,
read without joining the group or committing."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from gamsi.settings import Settings
from gamsi.streams.gaps import Gaps, RangeReader
from gamsi.topics import ensure_topics


async def test_committed_offsets_and_a_range_read_back(settings: Settings) -> None:
    await ensure_topics(settings)
    topic, group = settings.kafka.metrics_topic, settings.streams.app_id
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap)
    await producer.start()
    try:
        for i in range(20):
            await producer.send_and_wait(topic, b"batch-%d" % i, key=b"h", partition=1)
    finally:
        await producer.stop()
    owner = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap, group_id=group, enable_auto_commit=False
    )
    await owner.start()  # the previous owner: it judged up to offset 6 and committed 7
    try:
        owner.assign([TopicPartition(topic, 1)])
        await owner.commit({TopicPartition(topic, 1): OffsetAndMetadata(7, "")})
    finally:
        await owner.stop()

    reader = RangeReader(settings, topic, group)
    assert await reader.committed({0, 1}) == {0: 0, 1: 7}  # partition 0: none, its start
    records = await reader.read(1, 9, 14)
    assert [r.offset for r in records] == [9, 10, 11, 12, 13]
    assert [r.value for r in records] == [b"batch-%d" % i for i in range(9, 14)]

    gaps = Gaps(reader, {})
    await gaps.assigned({0, 1}, set())
    # Faust handed over offset 10 first: 7..9 dropped, read back and judged first
    in_order = [r async for r in gaps.in_order(1, 10, None)]
    assert [r.offset for r in in_order[:-1]] == [7, 8, 9]
    assert in_order[-1] is None
    # reading back never moved the group's offset
    assert await reader.committed({1}) == {1: 7}
