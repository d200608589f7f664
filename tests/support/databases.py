"""Throwaway PostgreSQL databases: each test run creates its own and drops it afterwards."""

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url

from eventstore.migrate import upgrade


def _server_url() -> str:
    # Read when used: `tests/support/servers.py` exports it once the run has found its server.
    return os.environ["DATABASE_URL"]


def _admin_dsn() -> str:
    return (
        make_url(_server_url()).set(drivername="postgresql").render_as_string(hide_password=False)
    )


async def _run(sql: str) -> None:
    conn = await asyncpg.connect(_admin_dsn())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def migrated_database(prefix: str = "es_test") -> Iterator[str]:
    """A new database with the schema applied; yields its SQLAlchemy URL. Sync: no loop runs."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_run(f'CREATE DATABASE "{name}"'))
    url = make_url(_server_url()).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
