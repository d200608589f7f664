"""`CheckpointReader.read`: a request is served at the checkpoint as read a moment ago, without
waiting for MongoDB, unless it needs a later position; reads under load keep it fresh."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from eventstore.position import Position
from query_api.consistency import CheckpointReader
from readmodel.collections import STATUS
from tests.query.seed import set_checkpoint
from tests.support.mongo import MongoServer

Database = AsyncDatabase[dict[str, Any]]
FIRST, SECOND = Position(10, 1), Position(10, 2)


class StatusReads(monitoring.CommandListener):
    """How many times the status document was read from the server."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command["find"] == STATUS:
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def reads() -> StatusReads:
    return StatusReads()


@pytest.fixture
async def db(
    mongo_server: MongoServer, mongo_db: Database, reads: StatusReads
) -> AsyncIterator[Database]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_server.url, event_listeners=[reads]
    )
    await set_checkpoint(mongo_db, str(FIRST))
    yield client[mongo_db.name]
    await client.close()


async def test_a_read_of_a_moment_ago_serves_without_asking_again(
    db: Database, reads: StatusReads
) -> None:
    reader = CheckpointReader(db, max_age=60, refresh_after=60)
    assert (await reader.read()).position == FIRST
    await set_checkpoint(db, str(SECOND))

    again = await reader.read()

    assert again.position == FIRST, "a lower bound still: the documents are read after it"
    assert reads.count == 1


async def test_a_later_position_than_the_last_read_is_read_again(
    db: Database, reads: StatusReads
) -> None:
    reader = CheckpointReader(db, max_age=60, refresh_after=60)
    await reader.read()
    await set_checkpoint(db, str(SECOND))

    assert (await reader.read(at_least=SECOND)).position == SECOND
    assert (await reader.read(at_least=FIRST)).position == SECOND
    assert reads.count == 2


async def test_a_read_too_old_is_not_served(db: Database, reads: StatusReads) -> None:
    reader = CheckpointReader(db, max_age=0.05, refresh_after=0.05)
    await reader.read()
    await set_checkpoint(db, str(SECOND))
    await asyncio.sleep(0.1)

    assert (await reader.read()).position == SECOND
    assert reads.count == 2


async def test_an_aging_read_is_served_while_the_next_is_read_for_those_after(
    db: Database, reads: StatusReads
) -> None:
    reader = CheckpointReader(db, max_age=60, refresh_after=0.05)
    await reader.read()
    await set_checkpoint(db, str(SECOND))
    await asyncio.sleep(0.1)

    served = await reader.read()
    assert served.position == FIRST, "served at once, from the read of a moment ago"
    for _ in range(100):  # the read it started, in the background
        if reader.latest is not None and reader.latest.position == SECOND:
            break
        await asyncio.sleep(0.01)

    assert (await reader.read()).position == SECOND
    assert reads.count == 2
