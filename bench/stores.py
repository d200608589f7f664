"""The stores the benchmarks run on: those the dev stack resolves (`esctl.stores`), with an
embedded server started for each one that does not answer, and throwaway databases in them.

Every database the harness makes is its own (`bench_<random>`) and is dropped at the end, so
a run leaves the servers as it found them. Redis is used through database 15, apart from the
dev stack's and the tests' database 0: the projector's lock keys are not namespaced, and a
benchmark projector must not take the lock of someone else's.
"""

import asyncio
import shutil
import tempfile
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from bench.processes import Child
from esctl.embedded import prepare
from esctl.stores import MONGODB, POSTGRES, REDIS, Store, asyncpg_dsn, resolve_all, why_silent
from eventstore.migrate import upgrade
from settings import Settings

BENCH_REDIS_DB = 15


class Stores:
    """The three servers' URLs, the run's folder for logs, and its throwaway databases."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.postgres_url = ""
        self.redis_url = ""
        self.mongodb_url = ""
        self.embedded: list[str] = []
        self._servers: list[Child] = []
        self._postgres_databases: list[str] = []
        self._mongo_databases: list[str] = []
        self._queues: list[str] = []

    async def start(self) -> None:
        for choice in await resolve_all(Settings(), embedded=False):
            url = choice.url or await self._embed(choice.store)
            if choice.store is POSTGRES:
                self.postgres_url = url
            elif choice.store is REDIS:
                self.redis_url = (
                    make_url(url)
                    .set(database=str(BENCH_REDIS_DB))
                    .render_as_string(hide_password=False)
                )
            elif choice.store is MONGODB:
                self.mongodb_url = url

    async def _embed(self, store: Store) -> str:
        server = await prepare(store, self.folder / "data")
        spec = server.spec
        child = Child(spec.name, spec.argv, self.folder, spec.env, spec.user, spec.stop_signal)
        self._servers.append(child)

        async def answers() -> bool:
            return await why_silent(store, server.url, timeout_seconds=1.0) is None

        await child.until_ready(answers)
        self.embedded.append(store.name)
        return server.url

    def postgres_database(self, name: str) -> str:
        return make_url(self.postgres_url).set(database=name).render_as_string(hide_password=False)

    async def new_postgres_database(self, prefix: str, *, migrated: bool) -> str:
        """A new database (with the event store's schema when `migrated`); its SQLAlchemy URL."""
        name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
        await self._admin(f'CREATE DATABASE "{name}"')
        self._postgres_databases.append(name)
        url = self.postgres_database(name)
        if migrated:
            await asyncio.to_thread(upgrade, url)  # Alembic runs a loop of its own
        return url

    def new_mongo_database(self, prefix: str) -> str:
        name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
        self._mongo_databases.append(name)
        return name

    def new_queue(self) -> str:
        queue = f"arq:bench:{uuid.uuid4().hex[:8]}"
        self._queues.append(queue)
        return queue

    async def new_stack(self, prefix: str) -> Settings:
        """Settings for a scenario of its own: a new migrated PostgreSQL database, a new
        MongoDB database and a new queue."""
        database_url = await self.new_postgres_database(prefix, migrated=True)
        return self.settings(database_url, self.new_mongo_database(prefix))

    def settings(self, database_url: str, mongodb_db: str, **overrides: Any) -> Settings:
        return Settings(
            database_url=database_url,
            redis_url=self.redis_url,
            mongodb_url=self.mongodb_url,
            mongodb_db=mongodb_db,
            projector_queue=self.new_queue(),
            **overrides,
        )

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(self.postgres_url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def drop_made(self) -> None:
        """Drop the databases and queues made so far: after each scenario, so that the next
        runs on servers as the run found them. A SecantusDB holding the 200,000 documents of
        the rebuild scenario served the freshness scenario after it more slowly than alone."""
        # Each name is forgotten once dropped: what a failure left, `stop` tries again.
        async with AsyncExitStack() as cleanup:
            if self.mongodb_url and self._mongo_databases:
                client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.mongodb_url)
                cleanup.push_async_callback(client.close)
                while self._mongo_databases:
                    await client.drop_database(self._mongo_databases[0])
                    self._mongo_databases.pop(0)
            if self.redis_url:
                await _forget_queues(self.redis_url, self._queues)
            self._queues.clear()
            while self._postgres_databases:
                name = self._postgres_databases[0]
                await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                self._postgres_databases.pop(0)

    async def stop(self) -> None:
        """Drop what the run made, then stop the embedded servers; best effort, in that order."""
        async with AsyncExitStack() as cleanup:
            cleanup.callback(shutil.rmtree, self.folder, ignore_errors=True)
            for server in self._servers:
                cleanup.callback(server.stop, 20.0)
            await self.drop_made()


async def _forget_queues(url: str, queues: list[str]) -> None:
    """arq keeps every enqueued wake-up as a key of its own until it is run or expires."""
    redis = Redis.from_url(url)
    try:
        for queue in queues:
            job_ids = await redis.zrange(queue, 0, -1)
            for first in range(0, len(job_ids), 1000):
                chunk = job_ids[first : first + 1000]
                await redis.delete(*(b"arq:job:" + job_id for job_id in chunk))
            await redis.delete(queue)
    finally:
        await redis.aclose()


def run_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="orders-es-bench-"))
