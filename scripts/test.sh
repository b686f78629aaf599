#!/usr/bin/env bash
# The whole test suite: lint, unit tests, and integration tests against the real
# Kafka broker (started by tests/conftest.py through gamsi.kafka_broker on its own
# port and data directory, stopped at the end) and the real ClickHouse engine (chDB).
# Extra arguments go to pytest (e.g. tests/unit -k codec).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest "$@"
