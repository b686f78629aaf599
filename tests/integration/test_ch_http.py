"""Standard ClickHouse clients on the embedded store: clickhouse-connect and raw HTTP
against the history query endpoint on the real chDB engine (issue 14 §3). Reads work as
on a ClickHouse server; writes, DDL, table functions, escapes and setting changes are
refused with ClickHouse's error format, and the endpoint keeps answering after each."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import clickhouse_connect
import orjson
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from gamsi.history.query_server import start_query_server
from gamsi.history.schema import SAMPLES
from gamsi.history.store import QUERY_SECONDS, Reader, open_client, open_store
from gamsi.settings import Settings
from tests.integration.kafka_io import free_port

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class Endpoint:
    port: int
    host: str  # the test's own host name in the samples

    def get(
        self, path: str, headers: dict[str, str] | None = None, data: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one request; HTTP errors are answers too."""
        url = f"http://127.0.0.1:{self.port}{path}"
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def query(self, sql: str, **params: str) -> tuple[int, dict[str, str], bytes]:
        return self.get("/?" + urllib.parse.urlencode({"query": sql, **params}))


def serve_in_thread(settings: Settings, reader: Reader) -> Iterator[int]:
    """The real endpoint on its own event loop in a thread; yields its port."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="ch-http-test", daemon=True)
    thread.start()
    served = asyncio.run_coroutine_threadsafe(start_query_server(reader, settings), loop)
    server = served.result(30)
    try:
        yield server.port
    finally:
        asyncio.run_coroutine_threadsafe(server.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def endpoint(settings: Settings, unique: str) -> Iterator[Endpoint]:
    hs = replace(settings, history=replace(settings.history, query_port=free_port()))
    writer = open_store(hs)
    host = f"ch-{unique}"
    rows = [[NOW - dt.timedelta(seconds=i), host, "cpu.util", "", float(i), []] for i in range(5)]
    writer.insert(SAMPLES.name, rows, column_names=list(SAMPLES.columns))
    reader = Reader(open_client(hs, read_only=True))
    try:
        for port in serve_in_thread(hs, reader):
            yield Endpoint(port, host)
    finally:
        reader.close()
        writer.close()


def test_ping_and_an_empty_get_answer_ok(endpoint: Endpoint) -> None:
    assert endpoint.get("/ping")[::2] == (200, b"Ok.\n")
    assert endpoint.get("/")[::2] == (200, b"Ok.\n")


def test_curl_select_1(endpoint: Endpoint) -> None:
    """curl 'http://127.0.0.1:8124/?query=SELECT+1' — TabSeparated, ClickHouse's headers."""
    status, headers, body = endpoint.get("/?query=SELECT+1")
    assert (status, body) == (200, b"1\n")
    assert headers["X-ClickHouse-Format"] == "TabSeparated"
    assert headers["X-ClickHouse-Timezone"]
    assert headers["X-ClickHouse-Server-Display-Name"]
    assert headers["X-ClickHouse-Query-Id"]
    summary = orjson.loads(headers["X-ClickHouse-Summary"])
    assert summary["result_bytes"] == "2"


def test_formats_from_the_clause_the_parameter_and_post_body(endpoint: Endpoint) -> None:
    sql = f"SELECT count() AS n FROM samples WHERE host = '{endpoint.host}'"
    status, headers, body = endpoint.query(sql + " FORMAT JSONEachRow")
    assert (status, int(orjson.loads(body)["n"])) == (200, 5)
    assert headers["X-ClickHouse-Format"] == "JSONEachRow"
    status, headers, body = endpoint.query(sql, default_format="CSVWithNames")
    assert (status, body) == (200, b'"n"\n5\n')
    status, headers, body = endpoint.get("/?database=default", data=sql.encode())
    assert (status, body) == (200, b"5\n")
    status, _, body = endpoint.get("/?query=SELECT", data=b" 2 + 2")  # query= then the body
    assert (status, body) == (200, b"4\n")
    status, headers, _ = endpoint.query("SELECT 1", query_id="mine-1")
    assert headers["X-ClickHouse-Query-Id"] == "mine-1"


def test_clickhouse_connect_reads_the_embedded_store(endpoint: Endpoint) -> None:
    client = clickhouse_connect.get_client(host="127.0.0.1", port=endpoint.port)
    try:
        assert client.server_version.split(".")[0].isdigit()
        result = client.query(
            "SELECT host, count() AS n, max(value) AS top, max(ts) AS last FROM samples "
            "WHERE host = {h:String} GROUP BY host".replace("{h:String}", f"'{endpoint.host}'")
        )
        assert result.column_names == ("host", "n", "top", "last")
        ((host, n, top, last),) = result.result_rows
        assert (host, n, top) == (endpoint.host, 5, 4.0)
        assert (last if last.tzinfo else last.replace(tzinfo=dt.UTC)) == NOW
        assert client.command("SELECT 40 + 2") == 42
        assert "samples" in {
            r[0] for r in client.query("SELECT name FROM system.tables").result_rows
        }
        with pytest.raises(DatabaseError, match=r"READONLY|not allowed"):
            client.command("DROP TABLE samples")
        # Every setting reads readonly = 1 on connect, so the client refuses before sending.
        with pytest.raises(DatabaseError, match="readonly"):
            client.query("SELECT 1", settings={"max_execution_time": 0})
        assert client.command("SELECT 1") == 1  # still answering
    finally:
        client.close()


REFUSED = [
    ("INSERT INTO samples (host) VALUES ('x')", 164),
    ("ALTER TABLE samples DELETE WHERE 1", 164),
    ("DROP TABLE samples", 164),
    ("CREATE TABLE t (x Int8) ENGINE = Memory", 164),
    ("TRUNCATE TABLE samples", 164),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", 164),
    ("SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')", 164),
    ("SELECT * FROM s3('http://127.0.0.1:9/b/x', 'LineAsString')", 164),
    ("SELECT * FROM remote('127.0.0.1:9', system.one)", 164),
    ("SELECT file('/etc/passwd')", 164),
    ("SELECT 1 INTO OUTFILE '/tmp/gamsi-ch-http-probe'", (62, 164)),
    ("SELECT $$'$$ ; DROP TABLE samples", (62, 164)),
    ("SELECT 1; SELECT 2", 164),
    ("SELECT 1 SETTINGS max_execution_time = 0", 164),
    ("SET readonly = 0", 164),
    ("SELECT * FROM system.processes", 164),
    ("SELEC 1", 62),
]


@pytest.mark.parametrize(("sql", "code"), REFUSED)
def test_writes_ddl_table_functions_and_settings_are_refused(
    endpoint: Endpoint, sql: str, code: int | tuple[int, int]
) -> None:
    """Refused (with ClickHouse's code, status and body) by GET and by POST alike."""
    for status, headers, body in (endpoint.query(sql), endpoint.get("/", data=sql.encode())):
        got = int(headers["X-ClickHouse-Exception-Code"])
        assert got in (code if isinstance(code, tuple) else (code,)), body
        assert status == (403 if got == 164 else 400)
        assert body.startswith(f"Code: {got}. DB::Exception: ".encode())
        assert b"(version 26." in body or b"(version 2" in body
    assert not Path("/tmp/gamsi-ch-http-probe").exists()
    assert (
        endpoint.query(f"SELECT count() FROM samples WHERE host = '{endpoint.host}'")[2] == b"5\n"
    )


@pytest.mark.parametrize(
    "params",
    [
        {"readonly": "0"},
        {"max_memory_usage": "0"},
        {"allow_ddl": "1"},
        {"param_x": "1"},
        {"max_result_rows": "0"},
    ],
)
def test_settings_in_parameters_are_refused(endpoint: Endpoint, params: dict[str, str]) -> None:
    status, headers, body = endpoint.query("SELECT 1", **params)
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (403, "164")
    assert b"readonly mode" in body


def test_grafanas_max_execution_time_is_accepted_and_the_bound_stays(
    endpoint: Endpoint,
) -> None:
    """Grafana's data source sends max_execution_time with each query: it is answered, and
    the engine's own bound is still in force (the locked client's setting, unchanged)."""
    for value in ("60", "0"):
        status, _, body = endpoint.query("SELECT 1", max_execution_time=value)
        assert (status, body) == (200, b"1\n")
    sql = "SELECT value FROM system.settings WHERE name = 'max_execution_time'"
    assert endpoint.query(sql, max_execution_time="0")[2] == f"{QUERY_SECONDS}\n".encode()


def test_another_database_and_an_unknown_format_are_refused(endpoint: Endpoint) -> None:
    status, headers, _ = endpoint.query("SELECT 1", database="system")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (404, "81")
    status, headers, _ = endpoint.query("SELECT 1", default_format="Parquet")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (400, "73")
    status, headers, _ = endpoint.query("SELECT 1 FORMAT Parquet")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (403, "164")


def test_with_a_token_the_token_is_the_password(settings: Settings, unique: str) -> None:
    history = replace(settings.history, query_port=free_port(), query_token="s3cret-token")
    hs = replace(settings, history=history)
    open_store(hs).close()
    reader = Reader(open_client(hs, read_only=True))
    try:
        for port in serve_in_thread(hs, reader):
            ep = Endpoint(port, "")
            status, headers, body = ep.query("SELECT 1")
            assert (status, headers["X-ClickHouse-Exception-Code"]) == (401, "516")
            assert b"s3cret" not in body
            basic = base64.b64encode(b"default:s3cret-token").decode()
            assert ep.get("/?query=SELECT+1", {"Authorization": f"Basic {basic}"})[2] == b"1\n"
            assert ep.get("/?query=SELECT+1", {"X-ClickHouse-Key": "s3cret-token"})[2] == b"1\n"
            assert ep.get("/?query=SELECT+1", {"X-ClickHouse-Key": "wrong"})[0] == 401
            client = clickhouse_connect.get_client(
                host="127.0.0.1", port=port, password="s3cret-token"
            )
            try:
                assert client.command("SELECT 7") == 7
            finally:
                client.close()
    finally:
        reader.close()
