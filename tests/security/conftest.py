"""A query API on a MongoDB database of the test's own, and a whole stack for the id tests."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from readmodel.collections import ensure_indexes
from settings import Settings
from tests.conftest import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN
from tests.projector.conftest import Stack, build_stack, stack_settings
from tests.query.conftest import running
from tests.support.databases import migrated_database
from tests.support.mongo import MongoServer


@pytest.fixture
async def query_app(
    mongo_server: MongoServer, mongo_db: AsyncDatabase[dict[str, Any]]
) -> AsyncIterator[FastAPI]:
    await ensure_indexes(mongo_db)
    settings = Settings(
        mongodb_url=mongo_server.url,
        mongodb_db=mongo_db.name,
        read_tokens=frozenset({READ_TOKEN}),
        write_tokens=frozenset({WRITE_TOKEN}),
        admin_tokens=frozenset({ADMIN_TOKEN}),
        min_position_wait_seconds=0.5,
        mongo_timeout_seconds=1.0,
    )
    async with running(settings) as app:
        yield app


@pytest.fixture
def es_database() -> Iterator[str]:
    with migrated_database("es_sec") as url:
        yield url


@pytest.fixture
async def stack(
    es_database: str, mongo_server: MongoServer, settings: Settings
) -> AsyncIterator[Stack]:
    """A write side on a database of its own and a projection into a MongoDB database of its own."""
    async with build_stack(stack_settings(es_database, mongo_server, settings)) as built:
        yield built
