"""Which install extra a missing module belongs to, as one line a user can act on.

``pip install gamsi`` is the agent alone (psutil, aiokafka, orjson, PyYAML); the
central stages come with ``gamsi[server]`` and an agent that runs recovery scripts
with ``gamsi[remediation]`` (pyproject.toml). A command of a stage that is not
installed meets a :class:`ModuleNotFoundError`; :func:`missing_extra` turns it into
the line that says what to install instead of a traceback.
"""

from __future__ import annotations

EXTRA_OF: dict[str, str] = {
    "cryptography": "remediation",
    "faust": "server",
    "mode": "server",
    "clickhouse_connect": "server",
    "chdb": "server",
    "slack_sdk": "server",
    "aiohttp": "server",
    "aiosmtplib": "server",
    "sqlglot": "server",
    "prometheus_client": "server",
}
"""Top-level module → the extra of pyproject.toml that installs it."""


def missing_extra(exc: BaseException, needed_for: str = "this command") -> str | None:
    """One line naming the extra to install when ``exc`` is a missing module of one,
    e.g. ``this command needs gamsi[server] (module aiohttp is not installed): pip
    install 'gamsi[server]'``; None for any other exception (a real bug stays one)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return (
        f"{needed_for} needs gamsi[{extra}] (module {top} is not installed): "
        f"pip install 'gamsi[{extra}]'"
    )


__all__ = ["EXTRA_OF", "missing_extra"]
