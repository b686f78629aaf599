"""docker-compose.yml is valid Compose and starts real Gamsi commands.

No Docker engine runs here, so the file is checked against the Compose Specification's
JSON Schema (tests/fixtures/compose/, see its README for origin and licence) and against
Gamsi itself: every command is a subcommand the CLI knows, every GAMSI_* variable is a
real setting.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from gamsi.settings import load_settings

from .deploy_helpers import ROOT, parse_gamsi

SCHEMA = json.loads((ROOT / "tests/fixtures/compose/compose-spec.json").read_text())
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
GAMSI_SERVICES = {
    "gamsi-streams": ["streams", "run"],
    "gamsi-notifier": ["notifier", "run"],
    "gamsi-remediator": ["remediator", "run"],
    "gamsi-history": ["history", "run"],
    "gamsi-collector": ["collector", "run"],
    "gamsi-web": ["web", "run"],
}
# The schema says draft 2019-09 (as http://...#, which jsonschema does not map by itself).
VALIDATOR = jsonschema.Draft201909Validator
assert SCHEMA["$schema"].startswith("http://json-schema.org/draft/2019-09/schema")
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")


def test_valid_against_the_compose_spec_schema() -> None:
    VALIDATOR.check_schema(SCHEMA)
    errors = sorted(VALIDATOR(SCHEMA).iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_catches_mistakes() -> None:
    """The validation above is not vacuous: a misspelt key fails it."""
    broken = json.loads(json.dumps(COMPOSE))
    broken["services"]["kafka"]["restrat"] = "always"
    assert not VALIDATOR(SCHEMA).is_valid(broken)


@pytest.mark.parametrize(("service", "command"), GAMSI_SERVICES.items())
def test_gamsi_services_run_known_subcommands(service: str, command: list[str]) -> None:
    spec = COMPOSE["services"][service]
    assert spec["command"] == command
    parse_gamsi(spec["command"])
    if service == "gamsi-collector":  # the agent image: the collector's packages only
        assert spec["build"] == {"context": ".", "target": "agent"}
    else:
        assert spec["build"] == "."  # the Dockerfile's last stage: the server image
    assert spec["restart"] == "unless-stopped"
    assert spec["environment"]["GAMSI_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert spec["depends_on"]["kafka"] == {"condition": "service_healthy"}
    assert "healthcheck" in spec


HEALTH_URL = re.compile(r"urlopen\('http://127\.0\.0\.1:(\d+)/health'")
HEALTH_PORT = {
    "gamsi-streams": lambda s: s.streams.metrics_port,
    "gamsi-notifier": lambda s: s.notifier.ack_port,
    "gamsi-remediator": lambda s: s.remediator.metrics_port,
    "gamsi-history": lambda s: s.history.query_port,
    "gamsi-web": lambda s: s.web.port,
}
"""Where each central service serves its own /health (its setting, docs/operations.md)."""


def _environ(service: str) -> dict[str, str]:
    return {
        k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v))
        for k, v in COMPOSE["services"][service]["environment"].items()
    }


@pytest.mark.parametrize("service", HEALTH_PORT)
def test_health_checks_ask_the_service_its_own_health(service: str) -> None:
    """Not "Kafka answers a TCP connect": the service's /health, on the port its settings
    (with the container's environment) give it; urlopen fails on a 503."""
    test = COMPOSE["services"][service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    found = HEALTH_URL.search(test[3])
    assert found, test
    settings = load_settings(environ=_environ(service))
    assert int(found.group(1)) == HEALTH_PORT[service](settings) != 0
    assert "create_connection" not in " ".join(test)


def test_the_agent_has_no_port_and_says_so() -> None:
    collector = COMPOSE["services"]["gamsi-collector"]
    assert collector["healthcheck"] == {"disable": True}


@pytest.mark.parametrize("service", GAMSI_SERVICES)
def test_environment_names_real_settings(service: str) -> None:
    """A misspelt GAMSI_* variable would be silently ignored by Docker; Gamsi refuses it."""
    settings = load_settings(environ=_environ(service))
    assert settings.kafka.bootstrap == "kafka:9092"


def test_history_uses_the_clickhouse_server() -> None:
    history = COMPOSE["services"]["gamsi-history"]
    assert history["environment"]["GAMSI_HISTORY_DSN"] == "http://default:@clickhouse:8123/default"
    assert history["depends_on"]["clickhouse"] == {"condition": "service_healthy"}
    assert "8124/health" in " ".join(history["healthcheck"]["test"])


def test_collector_sees_the_host() -> None:
    collector = COMPOSE["services"]["gamsi-collector"]
    assert collector["pid"] == "host"
    root = collector["environment"]["GAMSI_COLLECTOR_HOST_ROOT"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in collector["volumes"]}
    assert mounts[root] == "/"  # the host's / is where host_root points psutil
    assert f"/:{root}:ro,rslave" in collector["volumes"]


def test_images_are_pinned_and_kafka_is_kraft() -> None:
    services = COMPOSE["services"]
    assert services["kafka"]["image"] == "apache/kafka:3.9.1"
    clickhouse = services["clickhouse"]["image"]
    assert re.fullmatch(r"clickhouse/clickhouse-server:\d+\.\d+[\d.]*", clickhouse)
    kafka_env = services["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "PLAINTEXT://kafka:9092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert len(kafka_env["CLUSTER_ID"]) == 22  # base64 of a 16-byte UUID, as KRaft requires


def test_dependencies_have_healthchecks_and_volumes_are_declared() -> None:
    services = COMPOSE["services"]
    declared = set(COMPOSE["volumes"])
    for name, spec in services.items():
        for dep, cond in spec.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("/", ".")):
                assert source in declared, f"{name}: volume {source} is not declared"
        for key in ("interval", "timeout", "start_period"):
            value = spec.get("healthcheck", {}).get(key)
            assert value is None or DURATION.match(value), f"{name}: {key}={value}"


def test_env_file_and_dockerfile_exist() -> None:
    for spec in COMPOSE["services"].values():
        for env_file in spec.get("env_file", []):
            assert (ROOT / env_file).is_file(), f"{env_file} is missing: compose would fail"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert 'ENTRYPOINT ["gamsi"]' in dockerfile
    stages = re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, re.M)
    assert stages == ["base", "agent", "server"]  # server last: what `build: .` makes
    agent, server = dockerfile.split("FROM base AS agent")[1].split("FROM base AS server")
    assert "RUN pip install /src &&" in agent  # no extra: the agent alone
    assert 'RUN pip install "/src[server]" &&' in server


def test_grafana_is_provisioned_from_deploy_grafana() -> None:
    grafana = COMPOSE["services"]["grafana"]
    assert re.fullmatch(r"grafana/grafana-oss:\d+\.\d+\.\d+", grafana["image"])
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_PLUGINS_PREINSTALL"]
    assert grafana["ports"] == ["127.0.0.1:3000:3000"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    dashboards = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/gamsi.yaml").read_text()
    )
    path = dashboards["providers"][0]["options"]["path"]
    assert (ROOT / mounts[path].removeprefix("./")).is_dir()
    assert list((ROOT / mounts[path].removeprefix("./")).glob("*.json"))
    source = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/gamsi.yaml").read_text()
    )["datasources"][0]
    assert source["jsonData"]["host"] in COMPOSE["services"]  # the ClickHouse service
    assert grafana["depends_on"]["clickhouse"] == {"condition": "service_healthy"}
    assert "/api/health" in " ".join(grafana["healthcheck"]["test"])
