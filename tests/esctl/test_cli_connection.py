"""Which stores `esctl` commands use (a running `esctl up`'s, or the configured ones), and
`esctl migrate`."""

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from esctl.ports import HOST, free_port
from esctl.stackfile import StackFile, write_stack
from esctl.stores import asyncpg_dsn
from projector.storage import read_status
from settings import Settings
from tests.esctl.cli import esctl, populate, stores_env
from tests.projector.conftest import Stack, settle


def silent_stores() -> dict[str, str | None]:
    """URLs where nothing answers: a command that used them would fail."""
    return {
        "DATABASE_URL": f"postgresql+asyncpg://postgres@{HOST}:{free_port()}/nothing",
        "MONGODB_URL": f"mongodb://{HOST}:{free_port()}",
        "MONGODB_DB": "nothing",
        "REDIS_URL": f"redis://{HOST}:{free_port()}/0",
        "MONGO_TIMEOUT_SECONDS": "0.2",  # no need to wait the full default to learn that
    }


def stack_file(settings: Settings, pid: int) -> StackFile:
    return StackFile(
        pid=pid,
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        mongodb_url=settings.mongodb_url,
        mongodb_db=settings.mongodb_db,
        command_api=f"http://{HOST}:{free_port()}",
        query_api=f"http://{HOST}:{free_port()}",
        embedded=[],
    )


async def test_a_running_stack_in_the_data_dir_outranks_the_environment(
    stack: Stack, tmp_path: Path
) -> None:
    await populate(stack.writer, users=1)
    await settle(stack.projection)
    checkpoint = (await read_status(stack.db, "main")).checkpoint
    args = ("projections", "status", "--json", "--data-dir", str(tmp_path))

    without = await esctl(*args, env=silent_stores())
    assert without.exit_code == 1, "the environment alone points nowhere"
    assert "does not answer" in without.stderr

    write_stack(tmp_path, stack_file(stack.settings, pid=os.getpid()))  # alive: this process
    result = await esctl(*args, env=silent_stores())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["checkpoint"] == checkpoint


async def test_a_stack_file_left_by_a_killed_esctl_up_is_ignored(
    stack: Stack, tmp_path: Path
) -> None:
    dead = await asyncio.create_subprocess_exec("true")  # a pid that has just ended
    await dead.wait()
    silent = Settings.model_validate({k.lower(): v for k, v in silent_stores().items()})
    write_stack(tmp_path, stack_file(silent, pid=dead.pid))

    result = await esctl(
        "projections",
        "status",
        "--json",
        *("--data-dir", str(tmp_path)),
        env=stores_env(stack.settings),
    )

    assert result.exit_code == 0, result.output
    assert f"pid {dead.pid} is gone" in result.stderr
    assert json.loads(result.stdout)[0]["name"] == "main"


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database with no schema at all, on the tests' PostgreSQL server."""
    server = os.environ["DATABASE_URL"]
    name = f"es_cli_empty_{uuid.uuid4().hex[:12]}"

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(server))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def newest_migration() -> str:
    config = Config()
    config.set_main_option("script_location", "eventstore:migrations")
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def test_migrate_brings_a_new_database_to_the_newest_schema(
    empty_database: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": empty_database}
    args = ("migrate", "--data-dir", str(tmp_path))

    first = await esctl(*args, env=env)
    again = await esctl(*args, env=env)  # nothing left to do: still a success

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    assert "is up to date" in first.stdout
    conn = await asyncpg.connect(asyncpg_dsn(empty_database))
    try:
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == newest_migration()
        assert await conn.fetchval("SELECT to_regclass('events')::text") == "events"
    finally:
        await conn.close()


async def test_migrate_against_a_silent_server_fails_in_one_line(tmp_path: Path) -> None:
    result = await esctl("migrate", "--data-dir", str(tmp_path), env=silent_stores())

    assert result.exit_code == 1
    assert "cannot migrate" in result.stderr
    assert "Traceback" not in result.output
