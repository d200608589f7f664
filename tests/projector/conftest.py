"""A whole write side on a database of its own, and a projection into a MongoDB of its own.

The projector reads the whole feed, so its tests cannot share the session's database, where
other tests append events of made-up types on purpose.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from command_api.app import create_app
from eventstore import feed_lag, read_feed_page
from eventstore.database import create_engine, create_sessions
from projector.catch_up import Projection, catch_up
from projector.storage import checkpoint_of, read_status
from readmodel.collections import ensure_indexes
from readmodel.documents import ProjectionState
from settings import Settings
from tests.conftest import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN, client_for
from tests.support.databases import migrated_database
from tests.support.mongo import MongoServer


@dataclass
class Stack:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    db: AsyncDatabase[dict[str, Any]]
    writer: httpx.AsyncClient
    projection: Projection


@pytest.fixture
def es_database() -> Iterator[str]:
    with migrated_database("es_proj") as url:
        yield url


def stack_settings(es_database: str, mongo: MongoServer, settings: Settings) -> Settings:
    return Settings(
        database_url=es_database,
        redis_url=settings.redis_url,
        mongodb_url=mongo.url,
        mongodb_db=f"proj_{uuid.uuid4().hex[:12]}",
        write_tokens=frozenset({WRITE_TOKEN}),
        read_tokens=frozenset({READ_TOKEN}),
        admin_tokens=frozenset({ADMIN_TOKEN}),
        projector_queue=f"arq:test:{uuid.uuid4().hex}",
        mongo_timeout_seconds=1.0,
    )


@pytest.fixture
async def stack(
    es_database: str, mongo_server: MongoServer, settings: Settings
) -> AsyncIterator[Stack]:
    async with build_stack(stack_settings(es_database, mongo_server, settings)) as built:
        yield built


@asynccontextmanager
async def build_stack(settings: Settings) -> AsyncIterator[Stack]:
    app = create_app(settings)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=1000
    )
    engine = create_engine(settings, application_name="projector-test")
    sessions = create_sessions(engine)
    db = mongo[settings.mongodb_db]
    try:
        async with app.router.lifespan_context(app), client_for(app, WRITE_TOKEN) as writer:
            await ensure_indexes(db)
            yield Stack(
                settings,
                engine,
                sessions,
                db,
                writer,
                Projection(sessions=sessions, db=db, batch_size=50),
            )
    finally:
        await mongo.drop_database(settings.mongodb_db)
        await mongo.close()
        await engine.dispose()


async def settle(projection: Projection, within: float = 15.0) -> int:
    """Catch up until no event is left after the checkpoint, or the projection stopped.

    The feed holds back events while any older transaction on the server is open, even
    one in another database, so a single pass may legitimately see less.
    """
    applied = 0
    deadline = asyncio.get_running_loop().time() + within
    while True:
        applied += await catch_up(projection)
        status = await read_status(projection.db, projection.name)
        async with projection.sessions() as session:
            left, _ = await feed_lag(session, checkpoint_of(status))
        if left == 0 or status.state is ProjectionState.STOPPED:
            return applied
        assert asyncio.get_running_loop().time() < deadline, f"{left} events never became visible"
        await asyncio.sleep(0.05)


async def until_visible(stack: Stack, count: int, within: float = 15.0) -> None:
    """Wait until the feed shows `count` events after the checkpoint (see `settle`)."""
    after = checkpoint_of(await read_status(stack.db, "main"))
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with stack.sessions() as session:
            if len(await read_feed_page(session, after, count)) >= count:
                return
        assert asyncio.get_running_loop().time() < deadline, f"{count} events never visible"
        await asyncio.sleep(0.01)
