"""Publishing batches to Kafka with aiokafka, one at a time and in order.

The producer is started lazily and restarted after a failed start, so an agent
that boots while Kafka is down simply spools until it is reachable. Each batch
is sent and awaited before the next (ordering is per host, and a host makes
one batch per tick, so throughput is never the limit here). ``request_timeout_ms``
and the publish timeout bound each send. aiokafka retries a batch for as long
as it still knows a leader, and its ``stop()`` waits for every buffered batch,
so with the broker gone both would hang; after a timeout the producer is
therefore *abandoned*: its sender task and connections are closed so the
buffered batch can never arrive late, after (and out of order with) its spooled
copy. A request already on the wire when the broker vanished may still have
been written, so delivery is at least once; ``(host, seq)`` identifies a batch.
Idempotence keeps aiokafka's own retries from writing a batch twice.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from gamsi.kafka_auth import producer_options
from gamsi.settings import Settings

log = logging.getLogger("gamsi.collector.publisher")


class PublishError(RuntimeError):
    """Kafka did not take the batch; the caller keeps it (the spool)."""


class KafkaPublisher:
    def __init__(self, settings: Settings) -> None:
        self.bootstrap = settings.kafka.bootstrap
        self._kafka = producer_options(settings)  # TLS, SASL; acks=all, idempotence
        self.topic = settings.kafka.metrics_topic
        self.timeout_ms = int(settings.collector.publish_timeout * 1000)
        self._producer: AIOKafkaProducer | None = None

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        producer = AIOKafkaProducer(
            **self._kafka,
            request_timeout_ms=self.timeout_ms,
            client_id="gamsi-collector",
        )
        try:
            await producer.start()
        except (KafkaError, OSError) as exc:
            await producer.stop()
            raise PublishError(f"cannot connect to Kafka at {self.bootstrap}: {exc}") from None
        log.info("connected to Kafka at %s", self.bootstrap)
        self._producer = producer
        return producer

    async def publish(self, key: bytes, value: bytes) -> None:
        producer = await self._ensure()
        try:
            await asyncio.wait_for(
                producer.send_and_wait(self.topic, value, key=key), self.timeout_ms / 1000
            )
        except TimeoutError:
            await self._abandon()
            raise PublishError(
                f"Kafka at {self.bootstrap} did not acknowledge within {self.timeout_ms / 1000} s"
            ) from None
        except KafkaError as exc:
            await self._abandon()
            raise PublishError(f"Kafka did not take the batch: {exc}") from None

    async def _abandon(self) -> None:
        """Drop the producer without flushing (see the module docstring); a new one follows."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        sender = producer._sender  # aiokafka has no public "close without flush"
        try:
            await asyncio.wait_for(sender.close(), self.timeout_ms / 1000)
        except TimeoutError:
            log.warning("aiokafka's sender did not stop within the publish timeout")
        await producer.client.close()
        producer._closed = True  # its stop() would wait for the dropped batch forever

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()
