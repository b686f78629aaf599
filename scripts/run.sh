#!/usr/bin/env bash
# Run Gamsi on this machine: install (first time), start the local Kafka broker,
# then history (embedded ClickHouse), streams, notifier and a collector for this host.
# Extra arguments go to `gamsi up` (e.g. --only streams). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/gamsi up "$@"
