"""Migrations go down and up again: 0003's downgrade gives back 0002's `es_append`, exactly,
and 0004's takes away `es_append_each`."""

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


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "eventstore:migrations")
    config.attributes["database_url"] = url
    return config


def _query(url: str, sql: str) -> list[asyncpg.Record]:
    async def fetch() -> list[asyncpg.Record]:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    return asyncio.run(fetch())


def _stored_body(url: str) -> str:
    return str(_query(url, "SELECT prosrc FROM pg_proc WHERE proname = 'es_append'")[0][0])


def _functions(url: str) -> set[str]:
    rows = _query(url, r"SELECT proname FROM pg_proc WHERE proname LIKE 'es\_%'")
    return {str(row[0]) for row in rows}


def test_es_append_goes_back_to_0002s_and_forward_to_0003s() -> None:
    with migrated_database("es_migrations") as url:
        config = _config(url)
        assert _stored_body(url) == _body("0003_append_without_keys")

        command.downgrade(config, "0002")
        assert _stored_body(url) == _body("0002_append_function")

        command.upgrade(config, "head")
        assert _stored_body(url) == _body("0003_append_without_keys")


def test_es_append_each_comes_with_0004_and_goes_with_its_downgrade() -> None:
    with migrated_database("es_migrations") as url:
        config = _config(url)
        assert _functions(url) == {"es_append", "es_append_each"}
        command.downgrade(config, "0003")
        assert _functions(url) == {"es_append"}
        command.upgrade(config, "head")
        assert _functions(url) == {"es_append", "es_append_each"}
