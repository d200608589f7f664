"""A query API per test, on a MongoDB database of the test's own (the `mongo_db` fixture)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from query_api.app import create_app
from readmodel.collections import ensure_indexes
from settings import Settings
from tests.conftest import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN, client_for
from tests.query.seed import set_checkpoint
from tests.support.mongo import MongoServer

CHECKPOINT = "1000-5000"


@pytest.fixture
def query_settings(mongo_server: MongoServer, mongo_db: AsyncDatabase[dict[str, Any]]) -> Settings:
    return Settings(
        mongodb_url=mongo_server.url,
        mongodb_db=mongo_db.name,
        read_tokens=frozenset({READ_TOKEN}),
        write_tokens=frozenset({WRITE_TOKEN}),
        admin_tokens=frozenset({ADMIN_TOKEN}),
        # Small, so that the tests of waiting and of outages stay fast.
        min_position_wait_seconds=1.0,
        mongo_timeout_seconds=1.0,
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def query_app(
    query_settings: Settings, mongo_db: AsyncDatabase[dict[str, Any]]
) -> AsyncIterator[FastAPI]:
    # Indexes first, as the projector makes them before its first write: SecantusDB can hang
    # when a write creates a collection while an index build on it is under way.
    await ensure_indexes(mongo_db)
    await set_checkpoint(mongo_db, CHECKPOINT)
    async with running(query_settings) as app:
        yield app


@pytest.fixture
async def reader(query_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(query_app, READ_TOKEN) as client:
        yield client
