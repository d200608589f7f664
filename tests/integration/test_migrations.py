"""Migrations go down and up again: 0003's downgrade gives back 0002's `es_append`, exactly."""

import asyncio
from importlib import import_module

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from tests.support.databases import migrated_database


def _body(migration: str) -> str:
    """The plpgsql body a migration's `APPEND` defines: what PostgreSQL keeps as `prosrc`."""
    module = import_module(f"eventstore.migrations.versions.{migration}")
    return str(module.APPEND).split("$$")[1]


def _stored_body(url: str) -> str:
    async def fetch() -> str:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            return str(
                await conn.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'es_append'")
            )
        finally:
            await conn.close()

    return asyncio.run(fetch())


def test_es_append_goes_back_to_0002s_and_forward_to_0003s() -> None:
    with migrated_database("es_migrations") as url:
        config = Config()
        config.set_main_option("script_location", "eventstore:migrations")
        config.attributes["database_url"] = url
        assert _stored_body(url) == _body("0003_append_without_keys")

        command.downgrade(config, "0002")
        assert _stored_body(url) == _body("0002_append_function")

        command.upgrade(config, "head")
        assert _stored_body(url) == _body("0003_append_without_keys")
