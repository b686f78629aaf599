# Gamsi's services: one image, the service chosen by the command
# (`gamsi streams run`, `gamsi notifier run`, `gamsi history run`, `gamsi collector run`).
FROM python:3.11-slim

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

WORKDIR /src
COPY . /src
RUN pip install /src && rm -rf /src

USER gamsi
WORKDIR /var/lib/gamsi
VOLUME ["/var/lib/gamsi"]
# 8124: the history service's read-only query endpoint (it listens on 127.0.0.1 only).
ENTRYPOINT ["gamsi"]
CMD ["--help"]
