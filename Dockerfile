# Gamsi's images. Two targets from one file:
#
#   docker build -t gamsi:local .                       # the central services (last stage)
#   docker build --target agent -t gamsi-agent:local .  # the collector alone
#
# The service is chosen by the command (`gamsi streams run`, `gamsi notifier run`,
# `gamsi history run`, `gamsi collector run`, ...). The agent image holds only what the
# collector imports (`pip install .`: psutil, aiokafka, orjson, PyYAML; README, "Install").
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GAMSI_PATHS_DATA_DIR=/var/lib/gamsi \
    GAMSI_PATHS_CACHE_DIR=/var/cache/gamsi

# A dedicated user; its home is the data directory, so named volumes mounted there
# start out owned by it.
RUN groupadd --system --gid 10001 gamsi \
 && useradd --system --uid 10001 --gid gamsi --home-dir /var/lib/gamsi --create-home \
        --shell /usr/sbin/nologin gamsi \
 && install -d -o gamsi -g gamsi /var/cache/gamsi /etc/gamsi
WORKDIR /var/lib/gamsi
VOLUME ["/var/lib/gamsi"]
ENTRYPOINT ["gamsi"]

# The agent: `gamsi collector run` with the collector's own dependencies. Add the
# remediation extra (`pip install "/src[remediation]"`) for agents that run recovery
# scripts (they verify the remediator's Ed25519 signatures).
FROM base AS agent
COPY . /src
RUN pip install /src && rm -rf /src
USER gamsi
CMD ["collector", "run"]

# The central services: every stage (`gamsi[server]`). The last stage, so a plain
# `docker build .` (and docker-compose's `build: .`) makes this one.
FROM base AS server
COPY . /src
RUN pip install "/src[server]" && rm -rf /src
USER gamsi
# 8124: the history service's read-only query endpoint (it listens on 127.0.0.1 only).
CMD ["--help"]
