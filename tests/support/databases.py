"""Throwaway PostgreSQL databases: each test run creates its own and drops it afterwards."""

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url

from eventstore.migrate import upgrade

SERVER_URL = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


def _admin_dsn() -> str:
    return make_url(SERVER_URL).set(drivername="postgresql").render_as_string(hide_password=False)


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
    url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
