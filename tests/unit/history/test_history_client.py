"""Which path history commands take: the service's endpoint whenever the service runs.

A history service answering 503 on /health (Kafka away, not joined yet) still owns the
embedded store and still serves queries; treating it as "not running" made `gamsi
status` and `gamsi report` open the store beside it and fail on chDB's lock, exactly
during a Kafka outage.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gamsi.history.client import service_answers
from gamsi.settings import Settings, load_settings


def _server(status: int, body: bytes) -> ThreadingHTTPServer:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    return ThreadingHTTPServer(("127.0.0.1", 0), Health)


@pytest.fixture
def health() -> Iterator[Callable[[int, bytes], Settings]]:
    servers: list[ThreadingHTTPServer] = []

    def serve(status: int, body: bytes) -> Settings:
        server = _server(status, body)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = load_settings(environ={})
        return replace(base, history=replace(base.history, query_port=server.server_port))

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_service_answering_503_is_running(health: Callable[[int, bytes], Settings]) -> None:
    down = json.dumps({"status": "unavailable", "ready": False, "reason": "kafka"}).encode()
    assert service_answers(health(503, down))
    assert service_answers(health(200, b'{"status": "ok"}'))


def test_no_service_or_something_else_on_the_port_is_not(
    health: Callable[[int, bytes], Settings],
) -> None:
    assert not service_answers(health(200, b"<html>not gamsi</html>"))
    base = load_settings(environ={})
    assert not service_answers(replace(base, history=replace(base.history, query_port=0)))
