"""docker-compose.yml is wired as DESIGN.md documents ("Running it", "Configuration").

`.ci/compose-check` has `docker-compose config` validate the file's schema; these tests check
what a schema cannot: the right images, ports, healthchecks, start order and settings.
"""

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from settings import Settings

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"

STORES = {"postgres": ("postgres", 17), "redis": ("redis", 7), "mongo": ("mongo", 8)}
APIS = {"command_api": 8000, "query_api": 8001}
APP_SERVICES = ("migrate", "command_api", "query_api", "projector")
TOKENS = ("WRITE_TOKENS", "READ_TOKENS", "ADMIN_TOKENS")

HEALTHY = {"condition": "service_healthy"}
MIGRATED = {"condition": "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def test_the_stack_is_three_stores_a_migration_and_the_three_services(
    services: dict[str, dict[str, Any]],
) -> None:
    assert set(services) == {*STORES, *APP_SERVICES}


@pytest.mark.parametrize(("store", "image"), STORES.items())
def test_stores_run_official_images_pinned_by_major_version(
    services: dict[str, dict[str, Any]], store: str, image: tuple[str, int]
) -> None:
    name, major = image
    assert services[store]["image"] == f"{name}:{major}"
    assert "build" not in services[store]


@pytest.mark.parametrize(
    ("store", "data_path"),
    [("postgres", "/var/lib/postgresql/data"), ("redis", "/data"), ("mongo", "/data/db")],
)
def test_stores_keep_their_data_in_named_volumes(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], store: str, data_path: str
) -> None:
    [volume] = services[store]["volumes"]
    name, target = volume.split(":")
    assert target == data_path
    assert name in compose["volumes"]


@pytest.mark.parametrize(
    ("store", "probe"),
    [("postgres", "pg_isready"), ("redis", "redis-cli ping"), ("mongo", "mongosh")],
)
def test_stores_have_healthchecks(
    services: dict[str, dict[str, Any]], store: str, probe: str
) -> None:
    check = services[store]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert probe in " ".join(check["test"][1:])
    assert check["retries"] > 0


def test_only_the_apis_publish_ports(services: dict[str, dict[str, Any]]) -> None:
    publishing = {name for name, service in services.items() if service.get("ports")}
    assert publishing == set(APIS)


@pytest.mark.parametrize(("api", "port"), APIS.items())
def test_apis_publish_their_port_as_configured(
    services: dict[str, dict[str, Any]], api: str, port: int
) -> None:
    [mapping] = services[api]["ports"]
    # The host side follows COMMAND_API_PORT / QUERY_API_PORT, defaulting as DESIGN.md does.
    variable = f"{api.upper()}_PORT"
    assert mapping == f"${{{variable}:-{port}}}:{port}"
    assert Settings.model_fields[variable.lower()].default == port


@pytest.mark.parametrize(("api", "port"), APIS.items())
def test_apis_serve_on_their_port_with_the_app_factory(
    services: dict[str, dict[str, Any]], api: str, port: int
) -> None:
    command = services[api]["command"]
    assert command[:3] == ["uvicorn", "--factory", f"{api}.app:create_app"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == str(port)


def test_the_migration_and_the_projector_run_their_commands(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["migrate"]["command"] == ["esctl", "migrate"]
    assert services["projector"]["command"] == ["python", "-m", "projector"]


@pytest.mark.parametrize(
    ("service", "url"),
    [
        ("command_api", "http://127.0.0.1:8000/health"),
        ("query_api", "http://127.0.0.1:8001/health"),
        ("projector", "http://127.0.0.1:9100/metrics"),
    ],
)
def test_app_healthchecks_probe_the_process_with_python(
    services: dict[str, dict[str, Any]], service: str, url: str
) -> None:
    kind, python, flag, code = services[service]["healthcheck"]["test"]
    # The slim image has no curl: the probe is Python, and it must at least compile.
    assert (kind, python, flag) == ("CMD", "python", "-c")
    compile(code, f"{service} healthcheck", "exec")
    assert f"urlopen('{url}'" in code


def test_the_projector_healthcheck_probes_its_metrics_port(
    services: dict[str, dict[str, Any]],
) -> None:
    port = services["projector"]["environment"]["PROJECTOR_METRICS_PORT"]
    assert f"127.0.0.1:{port}/metrics" in services["projector"]["healthcheck"]["test"][-1]


@pytest.mark.parametrize(
    ("service", "waits_for"),
    [
        ("migrate", {"postgres": HEALTHY}),
        (
            "command_api",
            {"migrate": MIGRATED, "postgres": HEALTHY, "redis": HEALTHY, "mongo": HEALTHY},
        ),
        ("query_api", {"mongo": HEALTHY}),
        (
            "projector",
            {"migrate": MIGRATED, "postgres": HEALTHY, "redis": HEALTHY, "mongo": HEALTHY},
        ),
    ],
)
def test_services_start_once_what_they_need_is_ready(
    services: dict[str, dict[str, Any]], service: str, waits_for: dict[str, dict[str, str]]
) -> None:
    assert services[service]["depends_on"] == waits_for


def test_long_running_services_restart_and_the_migration_runs_once(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in (*STORES, "command_api", "query_api", "projector"):
        assert services[name]["restart"] == "unless-stopped", name
    assert services["migrate"]["restart"] == "no"


def test_the_app_services_run_one_build_of_the_one_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    assert [services[name]["build"] for name in APP_SERVICES] == ["."] * len(APP_SERVICES)
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1


@pytest.mark.parametrize(
    ("service", "variables"),
    [
        ("migrate", {"DATABASE_URL"}),
        ("command_api", {"DATABASE_URL", "REDIS_URL", "MONGODB_URL", "MONGODB_DB", *TOKENS}),
        ("query_api", {"MONGODB_URL", "MONGODB_DB", *TOKENS}),
        ("projector", {"DATABASE_URL", "REDIS_URL", "MONGODB_URL", "MONGODB_DB"}),
    ],
)
def test_services_are_configured_through_the_settings_variables(
    services: dict[str, dict[str, Any]], service: str, variables: set[str]
) -> None:
    environment = services[service]["environment"]
    assert variables <= set(environment)
    # Every name is one the settings class reads: a typo would be silently ignored.
    assert {name.lower() for name in environment} <= set(Settings.model_fields)


@pytest.mark.parametrize("service", ["migrate", "command_api", "query_api", "projector"])
def test_store_urls_point_at_the_compose_stores(
    services: dict[str, dict[str, Any]], service: str
) -> None:
    environment = services[service]["environment"]
    hosts = {"DATABASE_URL": "postgres", "REDIS_URL": "redis", "MONGODB_URL": "mongo"}
    for variable, host in hosts.items():
        if variable in environment:
            assert urlsplit(environment[variable]).hostname == host, variable
    if "DATABASE_URL" in environment:
        assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://")


@pytest.mark.parametrize("service", ["command_api", "query_api"])
def test_tokens_must_come_from_the_host(services: dict[str, dict[str, Any]], service: str) -> None:
    environment = services[service]["environment"]
    for token in TOKENS:
        # `${VAR:?message}`: compose refuses to start without it, so no API runs open.
        assert re.fullmatch(rf"\$\{{{token}:\?[^}}]+\}}", environment[token]), token


def test_the_database_password_has_no_default(services: dict[str, dict[str, Any]]) -> None:
    required = re.compile(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}")
    assert required.fullmatch(services["postgres"]["environment"]["POSTGRES_PASSWORD"])
    for name in ("migrate", "command_api", "projector"):
        assert required.search(services[name]["environment"]["DATABASE_URL"]), name
