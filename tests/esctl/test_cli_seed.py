"""`esctl seed` against a real command API, served by uvicorn on a port of its own."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from redis import Redis
from sqlalchemy import func, select

from command_api.app import create_app
from esctl.ports import HOST, free_port
from eventstore.database import create_engine
from eventstore.tables import events
from settings import Settings
from tests.conftest import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN
from tests.esctl.cli import esctl
from tests.support.databases import migrated_database


@dataclass(frozen=True)
class CommandApi:
    settings: Settings
    port: int


@pytest.fixture
def command_api(settings: Settings) -> Iterator[CommandApi]:
    with migrated_database("es_seed") as url:
        served = Settings(
            database_url=url,
            redis_url=settings.redis_url,
            write_tokens=frozenset({WRITE_TOKEN}),
            read_tokens=frozenset({READ_TOKEN}),
            admin_tokens=frozenset({ADMIN_TOKEN}),
            projector_queue=f"arq:test:{uuid.uuid4().hex}",
        )
        port = free_port()
        config = uvicorn.Config(
            create_app(served), host=HOST, port=port, log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        # A thread of its own, with its own event loop: the app is served over real TCP.
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped at start-up"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield CommandApi(served, port)
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            redis = Redis.from_url(served.redis_url)
            redis.delete(served.projector_queue)
            redis.close()


async def counts_by_type(settings: Settings) -> dict[str, int]:
    engine = create_engine(settings, application_name="tests")
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(events.c.event_type, func.count()).group_by(events.c.event_type)
            )
            return {event_type: count for event_type, count in rows}
    finally:
        await engine.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "esdata"
    folder.mkdir()
    return folder


async def test_seed_loads_users_and_orders_through_the_command_api(
    command_api: CommandApi, data_dir: Path
) -> None:
    # The token `esctl up` generated and kept, as an operator's shell would not export it.
    (data_dir / "tokens.json").write_text(json.dumps({"WRITE_TOKENS": WRITE_TOKEN}))
    env = {"COMMAND_API_PORT": str(command_api.port), "WRITE_TOKENS": None}

    result = await esctl(
        "seed",
        *("--users", "6", "--orders-per-user", "2", "--concurrency", "3"),
        *("--data-dir", str(data_dir)),
        env=env,
    )

    assert result.exit_code == 0, result.output
    assert "seeded 6 users with 2 orders each: 18 commands in" in result.stdout
    assert "commands/s" in result.stdout
    assert await counts_by_type(command_api.settings) == {
        "UserRegistered": 6,
        "OrderPlaced": 12,
        "UserOrderPlaced": 12,
    }


async def test_seed_with_a_refused_token_stops_with_the_reason(
    command_api: CommandApi, data_dir: Path
) -> None:
    env = {"COMMAND_API_PORT": str(command_api.port), "WRITE_TOKENS": "not-a-token"}

    result = await esctl("seed", "--users", "3", "--data-dir", str(data_dir), env=env)

    assert result.exit_code == 1
    assert "answered 401" in result.stderr
    assert await counts_by_type(command_api.settings) == {}


async def test_seed_without_any_write_token_says_where_to_get_one(data_dir: Path) -> None:
    result = await esctl("seed", "--data-dir", str(data_dir), env={"WRITE_TOKENS": None})

    assert result.exit_code == 1
    assert "no write token" in result.stderr
