"""The routing file: channels, recipients with their contacts, routes and maintenance windows.

:mod:`~gamsi.notifier.routing.model` holds the structures, and
:mod:`~gamsi.notifier.routing.parse` reads and validates the YAML file into them
(docs/notifications.md describes the file). Import from here.
"""

from gamsi.notifier.routing import model
from gamsi.notifier.routing.model import *  # noqa: F403  (the structures, listed in model.__all__)
from gamsi.notifier.routing.parse import load_routing, parse_routing

__all__ = [*model.__all__, "load_routing", "parse_routing"]
