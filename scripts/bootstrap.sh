#!/usr/bin/env bash
# Make .venv/ ready: create it with Python 3.11 and install Gamsi (editable) with its
# test tools. pip runs again only when pyproject.toml changes, so this is cheap to
# call before every run. Java 17 and Maven are checked here because the local Kafka
# broker needs them (its jars come from Maven Central on first start).
set -euo pipefail
cd "$(dirname "$0")/.."

py="${PYTHON:-}"
if [ -z "$py" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then py="$candidate"; break; fi
  done
fi
if [ -z "$py" ] || ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "gamsi: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
for tool in java mvn; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "gamsi: '$tool' is not on PATH; the local Kafka broker needs Java 17 and Maven" >&2
    exit 2
  }
done

# The status page's browser test drives Debian's chromium through Playwright (never a
# downloaded browser); fonts-nanum draws the Hangul of its screenshots.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "gamsi: installing Debian's chromium for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-nanum
  else
    echo "gamsi: /usr/bin/chromium is missing and the browser tests will fail; as root run:" \
      "apt-get install -y chromium chromium-driver fonts-nanum" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "gamsi: creating .venv with $("$py" --version)"
  "$py" -m venv .venv
fi
stamp=.venv/.gamsi-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # pip's own output (and setuptools' build warnings) goes to a log; the terminal gets
  # a progress line (packages collected so far), and the log's tail if pip fails.
  log=.venv/pip-install.log
  echo "gamsi: installing Gamsi and its dependencies into .venv (about a minute the first" \
    "time; details in $log)"
  : > "$log"
  install() {
    PIP_DISABLE_PIP_VERSION_CHECK=1 .venv/bin/python -m pip install --progress-bar off "$@" \
      >> "$log" 2>&1 &
    local pid=$! n last=""
    while kill -0 "$pid" 2>/dev/null; do
      sleep 1
      n=$(grep -c '^Collecting ' "$log" || true)
      if [ -t 1 ] && [ "$n" != "$last" ]; then
        printf '\r  %s packages collected ...' "$n"
        last=$n
      fi
    done
    if ! wait "$pid"; then
      if [ -t 1 ]; then printf '\n'; fi
      echo "gamsi: pip install failed; the end of $log:" >&2
      tail -n 25 "$log" >&2
      exit 1
    fi
  }
  install --upgrade pip
  install -e ".[server,test]"
  if [ -t 1 ]; then printf '\r\033[K'; fi
  echo "gamsi: installed into .venv ($(grep -c '^Collecting ' "$log" || true) packages collected)"
  echo "$want" > "$stamp"
fi
