"""The query endpoint's statement check: one read-only statement, nothing that writes."""

from __future__ import annotations

import pytest

from gamsi.history.readonly import NotReadOnly, check_read_only


@pytest.mark.parametrize(
    ("sql", "statement"),
    [
        ("SELECT 1", "SELECT 1"),
        ("select count() from samples;", "select count() from samples"),
        ("SELECT 1; -- trailing comment", "SELECT 1"),
        ("  show tables  ", "show tables"),
        ("DESCRIBE TABLE events", "DESCRIBE TABLE events"),
        ("desc samples", "desc samples"),
        ("WITH 2 AS k SELECT k", "WITH 2 AS k SELECT k"),
        ("EXPLAIN SELECT 1", "EXPLAIN SELECT 1"),
        ("/* why */ SELECT 'a;b' AS x", "/* why */ SELECT 'a;b' AS x"),
        ("SELECT 'it''s; DROP TABLE x'", "SELECT 'it''s; DROP TABLE x'"),
        ('SELECT "into outfile" FROM t', 'SELECT "into outfile" FROM t'),
        ("SELECT 1 -- ; DROP TABLE x", "SELECT 1 -- ; DROP TABLE x"),
    ],
)
def test_accepts_one_read_only_statement(sql: str, statement: str) -> None:
    assert check_read_only(sql) == statement


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("", "empty query"),
        ("-- nothing", "empty query"),
        ("DROP TABLE samples", "got DROP"),
        ("insert into samples select * from samples", "got INSERT"),
        ("ALTER TABLE samples DELETE WHERE 1", "got ALTER"),
        ("SET readonly = 0", "got SET"),
        ("SELECT 1; DROP TABLE samples", "one statement per query"),
        ("SELECT 1;;SELECT 2", "one statement per query"),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", "OUTFILE is not allowed"),
        ("SELECT 'unterminated", "unterminated"),
        ("SELECT 1 /* open comment", "unterminated"),
    ],
)
def test_refuses_anything_else(sql: str, reason: str) -> None:
    with pytest.raises(NotReadOnly, match=reason):
        check_read_only(sql)
