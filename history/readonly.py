"""Is a SQL text a single read-only statement? The query endpoint's first line of defence.

The second line is the engine: the endpoint's client runs with ``readonly=2``, which
refuses writes, DDL and the file/url table functions. Two things get past ``readonly``
in chDB 26.9 and are stopped here (both were tried):

* several statements in one text (``SELECT 1; DROP TABLE samples``): chDB runs them all,
  and a failed multi-statement call leaves the next query on that handle broken;
* ``SELECT ... INTO OUTFILE '...'``, which writes a file as the service's user.

The check works on tokens, so keywords inside strings, quoted names and comments do not
count.
"""

from __future__ import annotations

import re

ALLOWED = ("SELECT", "SHOW", "DESCRIBE", "DESC", "WITH", "EXPLAIN", "EXISTS")
FORBIDDEN = {"OUTFILE": "INTO OUTFILE writes a file on the service's machine"}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line_comment>--[^\n]*|\#[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<quoted>"(?:[^"\\]|\\.|"")*"|`(?:[^`\\]|\\.|``)*`)
  | (?P<word>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<semicolon>;)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class NotReadOnly(ValueError):
    """The SQL is not one read-only statement; the message says what was found."""


def words(sql: str) -> list[tuple[str, int]]:
    """Upper-cased keywords and names outside literals and comments, and ';', with offsets."""
    out: list[tuple[str, int]] = []
    pos = 0
    while pos < len(sql):
        match = _TOKEN.match(sql, pos)
        assert match is not None  # the `other` branch matches any character
        kind = match.lastgroup
        if kind == "other" and (sql[pos] in "'\"`" or sql.startswith("/*", pos)):
            raise NotReadOnly(f"unterminated quote or comment at character {pos}")
        if kind == "word":
            out.append((match.group().upper(), pos))
        elif kind == "semicolon":
            out.append((";", pos))
        pos = match.end()
    return out


def check_read_only(sql: str) -> str:
    """Return the one statement (without trailing ';'), or raise :class:`NotReadOnly`."""
    tokens = words(sql)
    end = len(sql)
    while tokens and tokens[-1][0] == ";":
        end = tokens.pop()[1]
    names = [word for word, _ in tokens]
    if not names:
        raise NotReadOnly("empty query")
    if ";" in names:
        raise NotReadOnly("one statement per query: found ';' between statements")
    if names[0] not in ALLOWED:
        raise NotReadOnly(
            f"read-only endpoint: expected a statement starting with "
            f"{', '.join(ALLOWED)}, got {names[0]}"
        )
    for word, why in FORBIDDEN.items():
        if word in names:
            raise NotReadOnly(f"{word} is not allowed here: {why}")
    return sql[:end].strip()
