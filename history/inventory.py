"""What every server reports, read from history: the input of `gamsi policy unregistered`.

The history writer records each host's OS, tags and interval (table ``hosts``) and
every (item, instance) it sent (the 1-minute rollup). This turns both into the
plain inventory the pure coverage code reads, so unregistered items are found
for the whole fleet with no file to maintain.
"""

from __future__ import annotations

from typing import Any

from gamsi.history.reports import Run


def inventory_from_history(run: Run, hours: float = 24.0) -> dict[str, Any]:
    """An inventory dict (version 1) of the hosts seen in the last ``hours``."""
    since = f"now64(3) - INTERVAL {int(hours * 3600)} SECOND"
    hosts = run(
        "SELECT host, argMax(os, last_seen), argMax(tags, last_seen), "
        "toFloat64(max(last_seen)) FROM hosts "
        f"WHERE last_seen >= {since} GROUP BY host ORDER BY host"
    )
    items = run(
        "SELECT host, item, arraySort(groupUniqArray(instance)) FROM samples_1m "
        f"WHERE minute >= toStartOfMinute({since}) GROUP BY host, item ORDER BY host, item"
    )
    inventory: dict[str, Any] = {
        str(host): {"os": str(os), "tags": list(tags), "last_seen": float(seen), "items": {}}
        for host, os, tags, seen in hosts.rows
    }
    for host, item, instances in items.rows:
        if host in inventory:
            inventory[host]["items"][str(item)] = [str(i) for i in instances]
    return {"version": 1, "hosts": inventory}
