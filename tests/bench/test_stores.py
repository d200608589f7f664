"""The harness drops what each scenario made before the next one runs (`Stores.drop_made`):
a SecantusDB still holding the rebuild scenario's documents slowed the freshness scenario."""

from pathlib import Path
from typing import Any

import asyncpg
from pymongo import AsyncMongoClient

from bench.stores import Stores
from esctl.stores import asyncpg_dsn


async def _postgres_databases(stores: Stores) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(stores.postgres_url))
    try:
        return {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


async def test_what_a_scenario_made_is_dropped_before_the_next(tmp_path: Path) -> None:
    stores = Stores(tmp_path)
    await stores.start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stores.mongodb_url)
    try:
        settings = await stores.new_stack("dropped")
        postgres = settings.database_url.rsplit("/", 1)[-1]
        await client[settings.mongodb_db]["users"].insert_one({"_id": "u1"})
        assert postgres in await _postgres_databases(stores)

        await stores.drop_made()

        assert postgres not in await _postgres_databases(stores)
        assert settings.mongodb_db not in await client.list_database_names()
        later = await stores.new_stack("later")  # the next scenario's, dropped in its turn
        await stores.drop_made()
        assert later.database_url.rsplit("/", 1)[-1] not in await _postgres_databases(stores)
    finally:
        await client.close()
        await stores.stop()
