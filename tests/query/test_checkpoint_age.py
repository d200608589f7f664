"""`CheckpointReader.read`: a request is served at the checkpoint as read a moment ago, without
waiting for MongoDB, unless it needs a later position; reads under load keep it fresh."""

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from eventstore.position import Position
from projector.rebuild import DROP_OLD_AFTER_SECONDS
from query_api.consistency import MAX_AGE_SECONDS, CheckpointReader
from readmodel.collections import STATUS
from tests.query.seed import set_checkpoint
from tests.support.commands import SentFinds
from tests.support.mongo import MongoServer

Database = AsyncDatabase[dict[str, Any]]
FIRST, SECOND = Position(10, 1), Position(10, 2)


@pytest.fixture
async def db(counted_db: Database) -> Database:
    await set_checkpoint(counted_db, str(FIRST))
    return counted_db


async def _read_then_moved(
    db: Database, *, max_age: float, refresh_after: float
) -> CheckpointReader:
    """A reader that has read the checkpoint at FIRST, since moved to SECOND."""
    reader = CheckpointReader(db, max_age=max_age, refresh_after=refresh_after)
    assert (await reader.read()).position == FIRST
    await set_checkpoint(db, str(SECOND))
    return reader


async def test_a_read_of_a_moment_ago_serves_without_asking_again(
    db: Database, finds: SentFinds
) -> None:
    reader = await _read_then_moved(db, max_age=60, refresh_after=60)

    again = await reader.read()

    assert again.position == FIRST, "a lower bound still: the documents are read after it"
    assert len(finds.of(STATUS)) == 1


async def test_a_later_position_than_the_last_read_is_read_again(
    db: Database, finds: SentFinds
) -> None:
    reader = await _read_then_moved(db, max_age=60, refresh_after=60)

    assert (await reader.read(at_least=SECOND)).position == SECOND
    assert (await reader.read(at_least=FIRST)).position == SECOND
    assert len(finds.of(STATUS)) == 2


async def test_a_read_too_old_is_not_served(db: Database, finds: SentFinds) -> None:
    reader = await _read_then_moved(db, max_age=0.05, refresh_after=0.05)
    await asyncio.sleep(0.1)

    assert (await reader.read()).position == SECOND
    assert len(finds.of(STATUS)) == 2


async def test_an_aging_read_is_served_while_the_next_is_read_for_those_after(
    db: Database, finds: SentFinds
) -> None:
    reader = await _read_then_moved(db, max_age=60, refresh_after=0.05)
    await asyncio.sleep(0.1)

    served = await reader.read()
    assert served.position == FIRST, "served at once, from the read of a moment ago"
    for _ in range(100):  # the read it started, in the background
        if reader.latest is not None and reader.latest.position == SECOND:
            break
        await asyncio.sleep(0.01)

    assert (await reader.read()).position == SECOND
    assert len(finds.of(STATUS)) == 2


async def test_a_failed_read_fails_the_requests_once_the_last_good_one_is_too_old(
    mongo_server: MongoServer, mongo_db: Database
) -> None:
    await set_checkpoint(mongo_db, str(FIRST))
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_server.url)
    reader = CheckpointReader(client[mongo_db.name], max_age=0.2, refresh_after=0)
    await reader.read()
    await client.close()

    served = await reader.read()  # and the read it starts in the background fails
    await asyncio.sleep(0.3)

    assert served.position == FIRST
    with pytest.raises(PyMongoError):
        await reader.read()


async def test_closing_stops_the_read_and_the_watch_under_way(db: Database) -> None:
    reader = CheckpointReader(db)
    waiting = asyncio.ensure_future(reader.reached(SECOND))
    await asyncio.sleep(0.05)

    await reader.close()
    await asyncio.sleep(0)

    assert waiting.cancelled()


def test_readers_reach_a_rebuilds_collections_long_before_the_old_ones_go() -> None:
    assert MAX_AGE_SECONDS * 10 <= DROP_OLD_AFTER_SECONDS
