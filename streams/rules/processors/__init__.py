"""Built-in stream processors. Each module registers exactly one; list new ones here."""

from gamsi.streams.rules.processors import disk_full

__all__ = ["disk_full"]
