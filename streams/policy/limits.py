"""Bounds on what a policy may hold, so that loading one is bounded in memory and time.

A policy comes from a file someone wrote, or from a topic anyone with access can write
to: neither may make `gamsi policy validate`, `apply` or a stream worker run out of
memory, run for ever, or fail with a traceback. Every bound is far above what a real
site writes (the OS defaults hold about 30 watches) and each refusal names the file,
the line and the key. The largest policy is bounded in practice by the policy record:
the whole resolved policy travels in one Kafka record (:data:`MAX_RECORD_BYTES`).
"""

from __future__ import annotations

MAX_FILE_BYTES = 1 << 20
"""One policy file: 1 MiB."""
MAX_POLICY_BYTES = 4 << 20
"""All the files of a policy directory together: 4 MiB."""
MAX_FILES = 1000
"""Files in a policy directory."""
MAX_WATCHES = 10_000
"""Watches in a policy, the OS defaults included."""
MAX_OVERRIDES = 2_000
"""Overrides in a policy."""
MAX_NAME = 200
"""Characters of a watch's name or item (they appear in every event and message)."""
MAX_TEXT = 4_096
"""Characters of any other string (a description, a glob, a tag)."""
MAX_LIST = 10_000
"""Entries of a list of strings (``hosts.names``, ``exclude``)."""
MAX_COUNT = 1_000_000
"""A watch's ``count`` of breaching samples."""
MAX_DURATION = 366 * 86_400.0
"""Any duration (``duration``, ``window``, ``clear``, ``nodata.after``, a processor's):
a year. Longer ones are typos (``5000d``), and a window that long cannot be kept."""
MAX_INT = 2**53
"""Largest whole number a policy may hold: exactly representable as a float and in JSON."""
MAX_RECORD_BYTES = 1_000_000
"""The policy record `apply` publishes, as JSON: under Kafka's default 1 MB message limit
(``message.max.bytes`` and the producer's ``max.request.size``). About 4,000 watches."""
MAX_NESTING = 3
"""Levels an override's patch merges into (``levels`` → a level → its keys)."""
