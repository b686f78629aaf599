"""The query endpoint's allow-list: one SELECT over Gamsi's tables, parsed, re-rendered.

Every probe of issue 10 section 4 is here (file, /proc/self/environ, url, s3, remote,
the heredoc with INTO OUTFILE, several statements, SETTINGS max_execution_time = 0),
with the other members of each class we found (the scalar file(), dictionaries, other
table functions, system tables, other databases, FORMAT, comments that close early).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamsi.history.inventory import inventory_from_history
from gamsi.history.readonly import MAX_SQL_CHARS, NotReadOnly, check_read_only
from gamsi.history.reports import all_reports
from gamsi.history.sql_allowed import function_allowed
from gamsi.history.store import QueryResult
from gamsi.web.status import LATEST_EVENTS_SQL


@pytest.mark.parametrize(
    ("sql", "statement"),
    [
        ("SELECT 1", "SELECT 1"),
        ("select count() from samples;", "SELECT count() FROM samples"),
        ("SELECT 1; -- trailing comment", "SELECT 1"),
        ("/* why */ SELECT 'a;b' AS x", "SELECT 'a;b' AS x"),
        ("SELECT 'it''s; DROP TABLE x'", "SELECT 'it''s; DROP TABLE x'"),
        ("SELECT 1 -- */ DROP TABLE samples", "SELECT 1"),
        ("WITH 2 AS k SELECT k", "WITH 2 AS k SELECT k"),
        ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", "WITH x AS (SELECT 1 AS a) SELECT a FROM x"),
        ("SELECT host FROM events FINAL", "SELECT host FROM events FINAL"),
        ("SELECT * FROM default.samples", "SELECT * FROM default.samples"),
        ("SELECT name FROM system.tables", "SELECT name FROM system.tables"),
        ("SELECT 1 UNION ALL SELECT 2", "SELECT 1 UNION ALL SELECT 2"),
        (
            "SELECT t FROM samples ARRAY JOIN tags AS t",
            "SELECT t FROM samples ARRAY JOIN tags AS t",
        ),
        ("SELECT * FROM samples LIMIT 1 BY host", "SELECT * FROM samples LIMIT 1 BY host"),
        (
            "SELECT countIf(value > 1), uniqExactIf(host, 1), avgMerge(avg_value) FROM samples_1m",
            "SELECT countIf(value > 1), uniqExactIf(host, 1), avgMerge(avg_value) FROM samples_1m",
        ),
    ],
)
def test_accepts_one_select_and_returns_what_runs(sql: str, statement: str) -> None:
    assert check_read_only(sql) == statement


PROBES = [
    # issue 10 section 4, as they were sent
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "table functions are not allowed"),
    ("SELECT * FROM file('/proc/self/environ', 'RawBLOB')", "table functions are not allowed"),
    ("SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')", "table functions"),
    ("SELECT * FROM s3('http://127.0.0.1:9/bucket/x', 'LineAsString')", "table functions"),
    ("SELECT * FROM remote('127.0.0.1:9000', system.one)", "table functions are not allowed"),
    ("SELECT $$'$$ INTO OUTFILE '/tmp/gamsi-probe'", "not SQL this endpoint reads"),
    ("SELECT 1 INTO OUTFILE '/tmp/gamsi-probe'", "not SQL this endpoint reads"),
    ("SELECT $$'$$; SELECT 2; SELECT 3", "one statement per query: found 3"),
    ("SELECT 1; DROP TABLE samples", "one statement per query"),
    ("SELECT 1 SETTINGS max_execution_time = 0", "SETTINGS is not allowed"),
    # other members of the same classes
    ("SELECT file('/etc/passwd')", r"function file\(\) is not allowed"),
    ("SELECT dictGet('d', 'a', toUInt64(1))", r"function dictGet\(\)"),
    ("SELECT joinGet('j', 'a', 1)", r"function joinGet\(\)"),
    ("SELECT getSetting('readonly')", r"function getSetting\(\)"),
    ("SELECT fileIf(1) FROM samples", r"function fileIf\(\)"),
    ("SELECT * FROM numbers(10)", "table functions are not allowed"),
    ("SELECT * FROM executable('x.sh', TSV, 'a String')", "table functions are not allowed"),
    ("SELECT * FROM samples WHERE host IN (SELECT * FROM url('x'))", "table functions"),
    ("SELECT * FROM samples AS s JOIN remote('h', system.one) AS r ON 1", "table functions"),
    ("SELECT * FROM system.processes", "table system.processes is not served"),
    ("SELECT * FROM system.users", "table system.users is not served"),
    ("SELECT * FROM other.samples", "table other.samples is not served"),
    ("SELECT * FROM samples_1m_mv", "table samples_1m_mv is not served"),
    ('SELECT * FROM "system"."quotas"', "table system.quotas is not served"),
    ("SELECT 1 FORMAT TabSeparated", "FORMAT is not allowed"),
    ("SELECT * FROM (SELECT 1 SETTINGS readonly = 0)", "SETTINGS is not allowed"),
    ("DROP TABLE samples", "only SELECT is served, got DROP"),
    ("INSERT INTO samples SELECT * FROM samples", "only SELECT is served, got INSERT"),
    ("SET readonly = 0", "only SELECT is served"),
    ("SHOW TABLES", "only SELECT is served"),
    ("DESCRIBE TABLE events", "only SELECT is served, got DESCRIBE"),
    ("EXPLAIN SELECT 1", "only SELECT is served"),
    ("", "empty query"),
    ("  ;; -- nothing", "empty query"),
    ("SELECT 'unterminated", "not SQL this endpoint reads"),
    ("SELECT 1 /* open comment", "not SQL this endpoint reads"),
    ("SELECT " + "(" * 5000 + "1" + ")" * 5000, "not SQL this endpoint reads"),
    ("SELECT 1 -- " + "x" * MAX_SQL_CHARS, "query too long"),
]


@pytest.mark.parametrize(("sql", "reason"), PROBES)
def test_refuses_every_probe_with_a_reason(sql: str, reason: str) -> None:
    with pytest.raises(NotReadOnly, match=reason) as caught:
        check_read_only(sql)
    assert "\n" not in str(caught.value)
    assert len(str(caught.value)) < 300


def test_a_server_database_is_gamsis_own_and_no_other() -> None:
    assert check_read_only("SELECT * FROM gamsi.samples", "gamsi") == "SELECT * FROM gamsi.samples"
    with pytest.raises(NotReadOnly, match=r"default\.samples is not served"):
        check_read_only("SELECT * FROM default.samples", "gamsi")


def test_every_query_gamsi_sends_is_allowed() -> None:
    """Reports, the unregistered-items inventory and the dashboard go through the
    endpoint: each statement they send must pass the allow-list."""
    sent: list[str] = []

    def run(sql: str) -> QueryResult:
        sent.append(sql)
        check_read_only(sql)
        return QueryResult([], [])

    all_reports(run, hours=24, now=1_800_000_000.0)
    inventory_from_history(run, hours=24)
    run(LATEST_EVENTS_SQL)
    assert len(sent) >= 7


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("avg", True),
        ("AVG", True),
        ("avgMerge", True),
        ("sumIfOrNull", True),
        ("toStartOfMinute", True),
        ("file", False),
        ("url", False),
        ("fileIf", False),
        ("dictGet", False),
        ("Merge", False),
    ],
)
def test_function_allow_list(name: str, allowed: bool) -> None:
    assert function_allowed(name) is allowed


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=200)
    | st.lists(
        st.sampled_from(
            ["SELECT", "FROM", "file(", "'", "$$", ";", "INTO", "OUTFILE", "samples", "(",
             ")", "--", "/*", "*/", "SETTINGS", "x", "=", "0", "system.", "FORMAT", ","]
        ),
        max_size=30,
    ).map(" ".join)
)  # fmt: skip
def test_any_text_is_a_statement_or_a_refusal(sql: str) -> None:
    """Never another exception; and what is accepted re-checks to itself."""
    try:
        statement = check_read_only(sql)
    except NotReadOnly:
        return
    assert check_read_only(statement) == statement


def test_a_caller_may_serve_named_formats_and_no_other() -> None:
    """For a ClickHouse-compatible interface: FORMAT of the outer query, if it is served."""
    served = frozenset({"JSONEachRow"})
    assert check_read_only("SELECT 1 FORMAT JSONEachRow", formats=served).endswith(
        "FORMAT JSONEachRow"
    )
    for sql in ("SELECT 1 FORMAT TSV", "SELECT * FROM (SELECT 1 FORMAT JSONEachRow)"):
        with pytest.raises(NotReadOnly, match="FORMAT is not allowed"):
            check_read_only(sql, formats=served)
