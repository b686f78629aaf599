"""Which problems this notifier acts on, when several share the events topic's partitions.

Notifiers in one consumer group split the events topic's partitions between them
(Kafka's group protocol). A problem belongs to the partition its host's events
arrive on: the stream workers key every event by its host, so Kafka's default
partitioner puts all of a host's events on ``murmur2(host) mod partitions``
(:func:`partition_of`, the Java client's rule, as ``aiokafka.partitioner`` ports
it). A problem records the partition its last event came from
(:attr:`gamsi.notifier.lifecycle.Problem.partition`), so even events keyed some
other way stay with the notifier that consumes them; a problem saved before it
kept the partition falls back to the hash.

Only the owner of a problem's partition sends anything for it that no event
asks for: re-notifications, escalation steps, held recoveries released when a
maintenance window ends, escalations of failed recovery scripts. Events need no
filter: a notifier only consumes its own partitions.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_of(host: str, partitions: int) -> int:
    """The events partition of ``host``'s events: Kafka's default partitioner for the key
    ``host.encode()`` (murmur2, positive, modulo ``partitions`` >= 1)."""
    return (murmur2(host.encode()) & 0x7FFFFFFF) % max(1, partitions)


class Ownership:
    """The events partitions this notifier owns now.

    ``owned`` None means every partition (one notifier alone, and the pure
    pipeline's unit tests); an empty set means none (between a revocation and the
    next assignment, and before the first one).
    """

    def __init__(self, partitions: int = 1, owned: set[int] | None = None) -> None:
        self.partitions = partitions
        self.owned = owned

    def owns(self, host: str, partition: int = -1) -> bool:
        """Does this notifier act for a problem of ``host`` whose events came from
        ``partition`` (-1: unknown, use the host's hash)?"""
        if self.owned is None:
            return True
        if partition < 0:
            partition = partition_of(host, self.partitions)
        return partition in self.owned

    def assign(self, owned: set[int] | None, partitions: int) -> None:
        self.owned, self.partitions = owned, max(1, partitions)

    def revoke(self) -> None:
        """Own nothing until the next assignment."""
        self.owned = set()
