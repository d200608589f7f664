"""One query API and database for a whole module of cases that only read.

A table of a hundred refusals needs one app and one seeded database, not a hundred of each:
that keeps the tables fast. Tests that move the checkpoint or freeze MongoDB keep using the
per-test `query_app` fixture instead.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from readmodel.collections import ensure_indexes
from settings import Settings
from tests.conftest import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN, client_for
from tests.query.conftest import CHECKPOINT, running
from tests.query.seed import Database, set_checkpoint
from tests.support.mongo import MongoServer


@dataclass(frozen=True)
class SharedReads:
    db: Database
    app: FastAPI
    reader: httpx.AsyncClient


@asynccontextmanager
async def shared_reads(mongo_server: MongoServer) -> AsyncIterator[SharedReads]:
    """As `query_app` and `reader` give one test, for a module (settings as `query_settings`)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_server.url)
    db = client[f"test_{uuid.uuid4().hex[:12]}"]
    settings = Settings(
        mongodb_url=mongo_server.url,
        mongodb_db=db.name,
        read_tokens=frozenset({READ_TOKEN}),
        write_tokens=frozenset({WRITE_TOKEN}),
        admin_tokens=frozenset({ADMIN_TOKEN}),
        min_position_wait_seconds=1.0,
        mongo_timeout_seconds=1.0,
    )
    try:
        # Indexes before the first write, as in `query_app` (SecantusDB's index-build trap).
        await ensure_indexes(db)
        await set_checkpoint(db, CHECKPOINT)
        async with running(settings) as app, client_for(app, READ_TOKEN) as reader:
            yield SharedReads(db, app, reader)
    finally:
        await client.drop_database(db.name)
        await client.close()
