"""Guarantee 2 under crashes and outages: SIGKILLed projectors and a MongoDB that goes away."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from projector.catch_up import Projection, catch_up_with_retries
from projector.storage import read_status
from settings import Settings
from tests.projector import workload
from tests.projector.conftest import Stack, build_stack, settle, stack_settings
from tests.projector.replay import expected_documents, shown
from tests.support.mongo import MongoServer
from tests.support.projector_process import ProjectorProcess


async def all_documents(stack: Stack, db_name: str | None = None) -> list[list[dict[str, Any]]]:
    db = stack.db if db_name is None else stack.db.client[db_name]
    return [
        await db.users.find().sort("_id").to_list(),
        await db.orders.find().sort("_id").to_list(),
    ]


async def wait_until_settled(stack: Stack, within: float = 60.0) -> None:
    """Let the projector process catch up, judged from outside by an in-process reader."""
    deadline = asyncio.get_running_loop().time() + within
    expected = await expected_documents(stack.sessions)
    while shown(*await all_documents(stack)) != expected:
        assert asyncio.get_running_loop().time() < deadline, "the projector never caught up"
        await asyncio.sleep(0.25)


async def test_sigkilled_projectors_leave_documents_equal_to_a_clean_projection(
    stack: Stack, full_size: bool
) -> None:
    kills = 10 if full_size else 5
    projector = ProjectorProcess(
        stack.settings.model_copy(update={"projector_batch_size": 7, "projector_lock_seconds": 1.0})
    )
    projector.start()
    rng = random.Random(7)

    async def killer() -> None:
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            projector.kill()
            projector.start()

    try:
        await asyncio.gather(workload.run(stack.writer, 8, 60), killer())
        await wait_until_settled(stack)
    finally:
        projector.stop()
    assert projector.kills == kills

    # A clean projection of the same events, in one pass, into a database of its own.
    clean_db = f"clean_{uuid.uuid4().hex[:10]}"
    clean = Projection(sessions=stack.sessions, db=stack.db.client[clean_db], batch_size=500)
    try:
        await settle(clean)
        assert await all_documents(stack) == await all_documents(stack, clean_db)
    finally:
        await stack.db.client.drop_database(clean_db)


@pytest.fixture
async def own_mongo() -> AsyncIterator[MongoServer]:
    server = MongoServer()
    server.start()
    yield server
    server.remove()


async def test_mongodb_down_fails_no_command_and_the_projection_resumes(
    es_database: str, own_mongo: MongoServer, settings: Settings
) -> None:
    async with build_stack(stack_settings(es_database, own_mongo, settings)) as stack:
        await workload.run(stack.writer, 4, 20)
        await settle(stack.projection)
        before = await read_status(stack.db, "main")

        own_mongo.stop()
        shared = await workload.run(stack.writer, 4, 30)
        assert sum(shared.statuses.values()) == 120, "every command answered"
        assert not [s for s in shared.statuses if s >= 500]
        assert await catch_up_with_retries(stack.projection, budget_seconds=1.5) == 0

        own_mongo.start()
        assert (await read_status(stack.db, "main")).checkpoint == before.checkpoint
        await settle(stack.projection)
        assert shown(*await all_documents(stack)) == await expected_documents(stack.sessions)
