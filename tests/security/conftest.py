"""A query API on a MongoDB database of the test's own, and the projector's stack (a write side
and a projection of their own) for the id tests."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from readmodel.collections import ensure_indexes
from settings import Settings
from tests.conftest import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN
from tests.projector.conftest import es_database, stack
from tests.query.conftest import running
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


__all__ = ["es_database", "query_app", "stack"]
