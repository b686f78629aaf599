#!/usr/bin/env bash
# Every benchmark, one after the other, with the peers' figures from the same run.
# Starts its own Kafka broker (127.0.0.1:29192, temporary data) and stops it after.
# Needs prometheus-node-exporter for the collector comparison, and (bench/ttn.py)
# prometheus, prometheus-alertmanager and stress-ng: installed with apt-get when missing
# (as root; no service is started). Takes about 25 minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh

if ! command -v prometheus-node-exporter >/dev/null 2>&1; then
  echo "bench: installing prometheus-node-exporter (the collector's peer)"
  apt-get install -y -q prometheus-node-exporter >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q prometheus-node-exporter >/dev/null; }
  systemctl stop prometheus-node-exporter >/dev/null 2>&1 || true
fi

tmp="$(mktemp -d)"
cat > "$tmp/bench.toml" <<TOML
[paths]
data_dir = "$tmp/data"
[broker]
port = 29192
controller_port = 29193
[kafka]
bootstrap = "127.0.0.1:29192"
TOML
trap '.venv/bin/gamsi -c "$tmp/bench.toml" kafka stop >/dev/null; rm -rf "$tmp"' EXIT
.venv/bin/gamsi -c "$tmp/bench.toml" kafka start

echo; echo "== rule engine, pure (no Kafka) =="
.venv/bin/python bench/engine_pure.py --orjson
echo; echo "== stream worker: samples/s through one process, produce -> event latency =="
GAMSI_BENCH_BOOTSTRAP=127.0.0.1:29192 .venv/bin/python bench/streams_throughput.py
echo; echo "== scale-out: 1, 2, 3 stream workers and failover times, 3-broker cluster of its own =="
.venv/bin/python bench/scaleout.py
echo; echo "== no-data ticks: cost at 10,000 and 100,000 hosts (pure code) =="
.venv/bin/python bench/ticks_scale.py
echo; echo "== time to notify: Gamsi beside Prometheus + Alertmanager, same breaches =="
GAMSI_BENCH_BOOTSTRAP=127.0.0.1:29192 .venv/bin/python bench/ttn.py
echo; echo "== history: inserts into ClickHouse (chDB) and report queries on 10 M rows =="
.venv/bin/python bench/history_insert.py
echo; echo "== collector overhead vs node_exporter, same run =="
.venv/bin/python bench/collector_overhead.py --bootstrap 127.0.0.1:29192 --seconds 60
