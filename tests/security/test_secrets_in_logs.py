"""Secrets never reach the logs: tokens (right or wrong), Idempotency-Keys and the database
password, through both APIs, on success, on refusal and while PostgreSQL is unreachable."""

import logging
import socket
import uuid

import pytest
from sqlalchemy.engine import make_url

from command_api.app import create_app as create_command_app
from query_api.app import create_app as create_query_app
from settings import Settings
from tests.conftest import client_for, unique_email
from tests.support.logs import json_lines
from tests.support.mongo import MongoServer


def _secret(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_no_token_key_or_password_appears_in_the_logs(
    settings: Settings,
    mongo_server: MongoServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    read, write, admin, wrong = (_secret(k) for k in ("read", "write", "admin", "wrong"))
    key = _secret("idem")
    url = make_url(settings.database_url)
    # The test server may trust local connections; then a password is set only to be hidden.
    password = url.password or _secret("pw")
    secret_settings = settings.model_copy(
        update={
            "database_url": url.set(password=password).render_as_string(hide_password=False),
            "mongodb_url": mongo_server.url,
            "mongodb_db": f"sec_{uuid.uuid4().hex[:10]}",
            "read_tokens": frozenset({read}),
            "write_tokens": frozenset({write}),
            "admin_tokens": frozenset({admin}),
            "db_timeout_seconds": 1.0,
        }
    )
    unreachable = secret_settings.model_copy(
        update={
            "database_url": url.set(
                password=password, host="127.0.0.1", port=_closed_port()
            ).render_as_string(hide_password=False)
        }
    )
    capsys.readouterr()
    statuses: list[int] = []

    command = create_command_app(secret_settings)
    async with command.router.lifespan_context(command):
        async with client_for(command, write) as writer:
            body = {"name": "Ada", "email": unique_email("logs")}
            created = await writer.post("/users", json=body, headers={"Idempotency-Key": key})
            again = await writer.post("/users", json=body, headers={"Idempotency-Key": key})
            other = await writer.post(
                "/users", json={**body, "name": "Eve"}, headers={"Idempotency-Key": key}
            )
            statuses += [created.status_code, again.status_code, other.status_code]
        async with client_for(command, read) as reader:
            statuses.append((await reader.get(f"/users/{created.json()['id']}/events")).status_code)
            statuses.append((await reader.post("/users", json=body)).status_code)
        async with client_for(command, admin) as operator:
            statuses.append((await operator.get("/admin/projections")).status_code)
        async with client_for(command, wrong) as stranger:
            statuses.append((await stranger.get("/events")).status_code)
        async with client_for(command, None) as anonymous:
            basic = {"Authorization": f"Basic {write}"}
            statuses.append((await anonymous.get("/events", headers=basic)).status_code)

    down = create_command_app(unreachable)
    async with down.router.lifespan_context(down), client_for(down, write) as writer:
        refused = await writer.post(
            "/users",
            json={"name": "Ada", "email": unique_email("logs")},
            headers={"Idempotency-Key": key},
        )
        statuses.append(refused.status_code)
        statuses.append((await writer.get("/ready")).status_code)

    query = create_query_app(secret_settings)
    async with query.router.lifespan_context(query):
        for token in (read, write, admin, wrong):
            async with client_for(query, token) as client:
                statuses.append((await client.get("/users", params={"limit": 5})).status_code)
                statuses.append((await client.get(f"/users/{uuid.uuid4()}")).status_code)

    assert statuses[:3] == [201, 201, 422], statuses
    assert statuses[3:9] == [200, 403, 200, 401, 401, 503], statuses
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    # The capture does hold the request logs: an empty one would prove nothing.
    requests = [line for line in json_lines(captured.out) if line.get("event") == "request"]
    assert len(requests) >= len(statuses) - 2, logged[-2000:]
    for secret in (read, write, admin, wrong, key, password):
        assert secret not in logged
    assert make_url(unreachable.database_url).render_as_string(hide_password=False) not in logged
