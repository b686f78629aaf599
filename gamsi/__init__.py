"""Gamsi (감시, "watch"): an event-stream server management system.

The stages live in sibling folders that install inside this namespace so that no
other distribution's names are shadowed: ``gamsi.schemas``, ``gamsi.collector``,
``gamsi.streams``, ``gamsi.notifier`` and ``gamsi.history``.
"""

__version__ = "0.1.0"
