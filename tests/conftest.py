import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from command_api.app import create_app
from eventstore.database import create_engine, create_sessions
from eventstore.tables import EventRow
from settings import Settings
from tests.support.commands import SentFinds
from tests.support.databases import migrated_database
from tests.support.mongo import MongoServer
from tests.support.servers import EmbeddedServers

_servers = EmbeddedServers()


def pytest_configure(config: pytest.Config) -> None:
    _servers.resolve()


def pytest_unconfigure(config: pytest.Config) -> None:
    _servers.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full-size",
        action="store_true",
        help="run the heavy scenarios at full size instead of CI size",
    )


@pytest.fixture(scope="session")
def full_size(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--full-size"))


WRITE_TOKEN = "test-write-" + uuid.uuid4().hex
READ_TOKEN = "test-read-" + uuid.uuid4().hex
ADMIN_TOKEN = "test-admin-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with migrated_database() as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=os.environ["REDIS_URL"],
        write_tokens=frozenset({WRITE_TOKEN}),
        read_tokens=frozenset({READ_TOKEN}),
        admin_tokens=frozenset({ADMIN_TOKEN}),
        projector_queue=f"arq:test:{uuid.uuid4().hex}",
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings, application_name="tests")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessions(engine)


@pytest.fixture(scope="session")
async def command_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app
    redis = Redis.from_url(settings.redis_url)
    await redis.delete(settings.projector_queue)
    await redis.aclose()


def client_for(app: FastAPI, token: str | None) -> httpx.AsyncClient:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://command-api", headers=headers
    )


@pytest.fixture
async def writer(command_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(command_app, WRITE_TOKEN) as client:
        yield client


@pytest.fixture
async def reader(command_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(command_app, READ_TOKEN) as client:
        yield client


async def count_events(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(EventRow))).scalar_one())


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def if_match(version: int) -> dict[str, str]:
    """The `If-Match` header that every change of an existing stream must send (guarantee 3)."""
    return {"If-Match": f'"{version}"'}


# For writes that mean to win whatever the version, like a workload racing on shared streams.
ANY_VERSION = {"If-Match": "*"}


@pytest.fixture(scope="session")
def mongo_server() -> Iterator[MongoServer]:
    server = MongoServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture
async def mongo_db(mongo_server: MongoServer) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of its own for one test, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_server.url)
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield client[name]
    await client.drop_database(name)
    await client.close()


@pytest.fixture
def finds() -> SentFinds:
    return SentFinds()


@pytest.fixture
async def counted_db(
    mongo_server: MongoServer, mongo_db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """The test's database, through a client of its own that reports its `find`s."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_server.url, event_listeners=[finds]
    )
    yield client[mongo_db.name]
    await client.close()
