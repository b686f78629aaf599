"""The history query endpoint's allow-list: one SELECT over Gamsi's tables, nothing else.

A text is parsed with a real ClickHouse SQL parser (sqlglot's ClickHouse dialect) and
accepted only when it is exactly one SELECT (or UNION/INTERSECT/EXCEPT of SELECTs, with
WITH) that

* reads only Gamsi's tables (:data:`~gamsi.history.sql_allowed.GAMSI_TABLES`), the
  system tables listed on purpose (:data:`~gamsi.history.sql_allowed.SYSTEM_TABLES`) and
  its own WITH names, in the store's database;
* calls no table function (``file()``, ``url()``, ``s3()``, ``remote()``, ``numbers()``...)
  and only listed functions (:func:`~gamsi.history.sql_allowed.function_allowed`);
* has no SETTINGS, FORMAT or INTO OUTFILE clause.

What runs is not the text received but the parsed statement rendered back to SQL, so a
trick that makes a tokenizer and the engine disagree (a heredoc ``$$'$$``, a comment, a
second statement) cannot smuggle anything past the check. The engine is locked as well
(:mod:`gamsi.history.store`: ``readonly=1`` and bounded time, memory and result size);
this check is the first layer, and the only one for what chDB cannot refuse (INTO
OUTFILE, the scalar ``file()``, several statements in one text).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from gamsi.history.sql_allowed import GAMSI_TABLES, SYSTEM_TABLES, function_allowed

MAX_SQL_CHARS = 100_000
SHOWN = 60
_FORBIDDEN_ARGS = {
    "settings": "SETTINGS is not allowed: limits are the endpoint's",
    "format": "FORMAT is not allowed: the endpoint answers JSON",
    "into": "INTO is not allowed: the endpoint writes nothing",
}
_NAMED_FUNCTIONS = (exp.Anonymous, exp.AnonymousAggFunc, exp.ParameterizedAgg)


class NotReadOnly(ValueError):
    """The SQL is not one SELECT the endpoint serves; the message says what was found."""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


def _parse(sql: str) -> exp.Expression:
    if len(sql) > MAX_SQL_CHARS:
        raise NotReadOnly(f"query too long: {len(sql)} characters (at most {MAX_SQL_CHARS})")
    try:
        parsed = sqlglot.parse(sql, read="clickhouse")
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    except sqlglot.errors.SqlglotError as exc:
        raise NotReadOnly(f"not SQL this endpoint reads: {_short(str(exc))}") from None
    except (RecursionError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise NotReadOnly(f"not SQL this endpoint reads ({type(exc).__name__})") from None
    if not statements:
        raise NotReadOnly("empty query")
    if len(statements) > 1:
        raise NotReadOnly(f"one statement per query: found {len(statements)}")
    return statements[0]


def _check_table(table: exp.Table, ctes: set[str], database: str) -> None:
    if not isinstance(table.this, exp.Identifier):
        name = table.this.name if isinstance(table.this, exp.Func) else table.this.key
        raise NotReadOnly(f"table functions are not allowed: {_short(name or table.sql())}")
    if table.catalog:
        raise NotReadOnly(f"table {_short(table.sql('clickhouse'))}: no catalog allowed")
    db, name = table.db, table.name
    if db == "system" and name in SYSTEM_TABLES:
        return
    if db in ("", database) and name in GAMSI_TABLES:
        return
    if not db and name in ctes:
        return
    allowed = ", ".join(sorted(GAMSI_TABLES | {f"system.{t}" for t in SYSTEM_TABLES}))
    shown = f"{db}.{name}" if db else name
    raise NotReadOnly(f"table {_short(shown)} is not served; allowed: {allowed}")


def _check_tree(root: exp.Expression, database: str, formats: frozenset[str]) -> None:
    if not isinstance(root, exp.Select | exp.SetOperation):
        raise NotReadOnly(
            f"only SELECT is served, got {_short(root.key.upper())} "
            "(for SHOW TABLES or DESCRIBE read system.tables and system.columns)"
        )
    ctes = {cte.alias_or_name for cte in root.find_all(exp.CTE)}
    for node in root.walk():
        if isinstance(node, exp.Command | exp.Into):
            raise NotReadOnly(f"not allowed in a query: {_short(node.sql('clickhouse'))}")
        for arg, why in _FORBIDDEN_ARGS.items():
            value = node.args.get(arg) if isinstance(node, exp.Query) else None
            if value and not (arg == "format" and node is root and value.name in formats):
                raise NotReadOnly(why)
        if isinstance(node, exp.Table):
            _check_table(node, ctes, database)
        elif isinstance(node, _NAMED_FUNCTIONS) and not function_allowed(node.name):
            raise NotReadOnly(f"function {_short(node.name)}() is not allowed here")


def check_read_only(
    sql: str, database: str = "default", formats: frozenset[str] = frozenset()
) -> str:
    """The statement to run for ``sql``: its checked parse rendered back to ClickHouse SQL.

    ``database`` is the store's database (``default`` for chDB, the DSN's for a server);
    ``formats`` the FORMAT names a caller serves itself (none for the JSON endpoint; a
    ClickHouse-compatible interface passes the formats it streams back).
    Raises :class:`NotReadOnly` with one line naming what is not allowed: a statement
    other than SELECT, several statements, another table, a table function, an unlisted
    function, SETTINGS, FORMAT or INTO OUTFILE, or text the parser does not read."""
    if not isinstance(sql, str):
        raise NotReadOnly("expected SQL text")
    root = _parse(sql)
    _check_tree(root, database, formats)
    for node in root.walk():
        node.comments = None  # nothing of the text but the checked statement runs
    rendered = root.sql(dialect="clickhouse")
    again = _parse(rendered)  # what runs must pass the same check, and mean the same
    _check_tree(again, database, formats)
    if again.sql(dialect="clickhouse") != rendered:
        raise NotReadOnly("the query cannot be rendered back unchanged; simplify it")
    return rendered


__all__ = ["MAX_SQL_CHARS", "NotReadOnly", "check_read_only"]
