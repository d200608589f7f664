"""Guarantee 7: a rebuild replays every event into new collections and switches readers over
at once; the result equals the live projection document for document, field for field."""

import asyncio
import dataclasses
import gc
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from bench import events as bulk
from eventstore.position import Position
from projector.rebuild import Rebuild, RebuildFailed, content_hash, rebuild_name, run_rebuild
from projector.storage import read_status
from readmodel.collections import ORDER_INDEXES, STATUS, USER_INDEXES, ReadCollections
from readmodel.documents import ProjectionStatus, RebuildPhase
from tests.conftest import READ_TOKEN, client_for, unique_email
from tests.projector import workload
from tests.projector.conftest import Stack, settle
from tests.projector.replay import expected_documents, shown
from tests.query.conftest import running
from tests.support.projector_process import ProjectorProcess
from web.heap import THRESHOLDS

# The shape of each user the bulk loader writes: orders (every third cancelled) and renames.
ORDERS, RENAMES = 4, 1


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.settings.redis_url)
    yield client
    await client.aclose()


def rebuild_of(stack: Stack, redis: Redis, **options: Any) -> Rebuild:
    return Rebuild(stack.projection, redis, lock_seconds=1.0, **options)


async def documents(stack: Stack, names: ReadCollections) -> list[list[dict[str, Any]]]:
    return [
        await stack.db[names.users].find().sort("_id").to_list(),
        await stack.db[names.orders].find().sort("_id").to_list(),
    ]


async def test_a_rebuild_equals_the_live_projection_field_for_field(
    stack: Stack, redis: Redis, full_size: bool
) -> None:
    users = 10_000 if full_size else 400
    _, events = await bulk.load(stack.sessions, users, ORDERS, RENAMES)
    assert events == users * bulk.events_per_user(ORDERS, RENAMES)
    await workload.run(stack.writer, 4, 25)  # and some made through the API
    await settle(dataclasses.replace(stack.projection, batch_size=2000))
    live = await documents(stack, ReadCollections())

    started = time.perf_counter()
    done = await run_rebuild(rebuild_of(stack, redis, keep_old=True))
    seconds = time.perf_counter() - started
    print(
        f"\nrebuild of {done.events_applied} events: {seconds:.1f} s, "
        f"{done.events_applied / seconds:.0f} events/s"
    )

    status = await read_status(stack.db, "main")
    assert (status.generation, status.collections) == (1, ReadCollections("users_1", "orders_1"))
    assert done.phase is RebuildPhase.DONE
    assert done.events_applied >= events
    assert await documents(stack, status.collections) == live
    assert shown(*live) == await expected_documents(stack.sessions)


async def test_a_replay_in_small_chunks_equals_the_live_projection(
    stack: Stack, redis: Redis
) -> None:
    """Chunks cut by both bounds (events and documents), with documents that span many of
    them: users renamed long after their orders were placed, orders changed long after."""
    await bulk.load(stack.sessions, 30, ORDERS, RENAMES)
    await workload.run(stack.writer, 4, 40)
    await settle(stack.projection)
    live = await documents(stack, ReadCollections())
    checkpoints: list[str] = []

    async def progress(status: ProjectionStatus) -> None:
        if status.phase is RebuildPhase.REPLAYING:
            checkpoints.append(status.checkpoint)

    rebuild = rebuild_of(stack, redis, batch_size=7, chunk_pages=3, chunk_documents=12)
    await run_rebuild(dataclasses.replace(rebuild, keep_old=True), progress=progress)

    assert len(checkpoints) > 20
    assert checkpoints == sorted(set(checkpoints), key=Position.parse)
    status = await read_status(stack.db, "main")
    assert await documents(stack, status.collections) == live
    # The replay builds the indexes once the bulk of the documents is in: all of them.
    for collection, expected in (
        (status.users_collection, USER_INDEXES),
        (status.orders_collection, ORDER_INDEXES),
    ):
        names = set(await stack.db[collection].index_information())
        assert names == {"_id_"} | {index.document["name"] for index in expected}


class Killed(Exception):
    pass


async def test_a_replay_resumed_behind_its_documents_finishes_exact(
    stack: Stack, redis: Redis
) -> None:
    """A replay stopped between a chunk's documents and its checkpoint resumes behind what
    it wrote: it loads those documents back and applies their events again, changing nothing."""
    await bulk.load(stack.sessions, 30, ORDERS, RENAMES)
    await workload.run(stack.writer, 4, 40)
    await settle(stack.projection)
    live = await documents(stack, ReadCollections())
    rebuild = rebuild_of(stack, redis, batch_size=7, chunk_pages=3, keep_old=True)
    chunks = 0

    async def killed_after_ten_chunks(_: ProjectionStatus) -> None:
        nonlocal chunks
        chunks += 1
        if chunks == 10:
            raise Killed

    with pytest.raises(Killed):
        await run_rebuild(rebuild, progress=killed_after_ten_chunks)
    # As if every checkpoint so far were lost, and none of the documents.
    at_start = {"checkpoint": "0-0", "checkpoint_transaction_id": 0, "checkpoint_position": 0}
    await stack.db[STATUS].update_one({"_id": rebuild_name("main")}, {"$set": at_start})
    await run_rebuild(rebuild)

    status = await read_status(stack.db, "main")
    assert status.generation == 1
    assert await documents(stack, status.collections) == live


async def test_a_replay_runs_the_garbage_collector_less_often_and_puts_it_back(
    stack: Stack, redis: Redis
) -> None:
    """From Python's default, as in a process that did not settle its heap (`esctl`): the
    apps that this test process runs have raised it already."""
    await bulk.load(stack.sessions, 10, ORDERS, RENAMES)
    await settle(stack.projection)
    settled = gc.get_threshold()
    seen: list[int] = []

    async def killed_after_two_chunks(status: ProjectionStatus) -> None:
        seen.append(gc.get_threshold()[0])
        if len(seen) == 2:
            raise Killed

    gc.set_threshold(700, 10, 10)
    try:
        with pytest.raises(Killed):
            await run_rebuild(
                rebuild_of(stack, redis, batch_size=7), progress=killed_after_two_chunks
            )
        assert seen == [THRESHOLDS[0]] * 2
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*settled)


async def test_the_old_collections_are_dropped_unless_kept(stack: Stack, redis: Redis) -> None:
    await bulk.load(stack.sessions, 20, ORDERS, RENAMES)
    await settle(stack.projection)
    await run_rebuild(rebuild_of(stack, redis))
    names = await stack.db.list_collection_names()
    assert {"users_1", "orders_1"} <= set(names)
    assert not {"users", "orders"} & set(names)
    # The projection goes on in the new collections.
    await workload.run(stack.writer, 2, 10)
    await settle(stack.projection)
    after = await documents(stack, ReadCollections.of_generation(1))
    assert shown(*after) == await expected_documents(stack.sessions)
    # And the next rebuild starts afresh, into the generation after.
    await run_rebuild(rebuild_of(stack, redis))
    status = await read_status(stack.db, "main")
    assert (status.generation, status.users_collection) == (2, "users_2")
    assert await documents(stack, status.collections) == after


async def test_readers_never_miss_a_user_and_writes_flow_during_a_rebuild(
    stack: Stack, redis: Redis
) -> None:
    await bulk.load(stack.sessions, 300, ORDERS, RENAMES)
    await settle(stack.projection)
    known = {u["_id"]: len(u["orders"]) for u in await stack.db.users.find().to_list()}
    projector = ProjectorProcess(stack.settings.model_copy(update={"projector_lock_seconds": 1.0}))
    projector.start()
    # Generous bounds: on two busy cores a read may wait, but must never miss.
    settings = stack.settings.model_copy(
        update={"min_position_wait_seconds": 20.0, "mongo_timeout_seconds": 5.0}
    )
    rebuilding = True
    checked = 0

    async def poll(reader: httpx.AsyncClient) -> None:
        nonlocal checked
        while rebuilding:
            for user_id, orders in list(known.items())[:40]:
                response = await reader.get(f"/users/{user_id}")
                assert response.status_code == 200, response.text
                assert len(response.json()["orders"]) >= orders, "a partial document"
                checked += 1

    async def write() -> int:
        written = 0
        while rebuilding:
            response = await stack.writer.post(
                "/users", json={"name": "During", "email": unique_email()}
            )
            assert response.status_code == 201, response.text
            written += 1
        return written

    try:
        async with running(settings) as app, client_for(app, READ_TOKEN) as reader:
            polling = asyncio.create_task(poll(reader))
            writing = asyncio.create_task(write())
            try:
                # Small batches, so the replay takes a while beside the live projection.
                await run_rebuild(rebuild_of(stack, redis, batch_size=50, keep_old=True))
            finally:
                rebuilding = False
            await polling
            written = await writing
            last = await stack.writer.post(
                "/users", json={"name": "After", "email": unique_email()}
            )
            after = {"Min-Position": last.headers["Event-Position"]}
            assert (await reader.get(f"/users/{last.json()['id']}", headers=after)).is_success
    finally:
        projector.stop()

    assert checked > 40
    assert written > 0
    status = await read_status(stack.db, "main")
    assert status.generation == 1
    current = await documents(stack, status.collections)
    assert shown(*current) == await expected_documents(stack.sessions)


async def test_a_rebuild_killed_at_any_point_finishes_exact(stack: Stack, redis: Redis) -> None:
    await bulk.load(stack.sessions, 600, ORDERS, RENAMES)
    await workload.run(stack.writer, 4, 20)
    await settle(stack.projection)
    live_hashes = [await content_hash(stack.db, c) for c in ("users", "orders")]
    env = {
        **os.environ,
        "DATABASE_URL": stack.settings.database_url,
        "REDIS_URL": stack.settings.redis_url,
        "MONGODB_URL": stack.settings.mongodb_url,
        "MONGODB_DB": stack.settings.mongodb_db,
        "PROJECTOR_LOCK_SECONDS": "1",
    }
    command = ("-m", "tests.support.rebuild_process")
    for delay in (0.3, 1.0, 2.0, 3.5):
        process = await asyncio.create_subprocess_exec(sys.executable, *command, env=env)
        await asyncio.sleep(delay)
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()

    finished = await asyncio.create_subprocess_exec(sys.executable, *command, env=env)
    assert await asyncio.wait_for(finished.wait(), timeout=120) == 0
    status = await read_status(stack.db, "main")
    assert status.generation >= 1
    rebuilt = status.collections
    assert [await content_hash(stack.db, c) for c in (rebuilt.users, rebuilt.orders)] == live_hashes
    rebuilt_status = await read_status(stack.db, rebuild_name("main"))
    assert rebuilt_status.phase is RebuildPhase.DONE


async def test_a_replay_that_meets_a_poison_event_fails_and_leaves_the_live_projection(
    stack: Stack, redis: Redis
) -> None:
    await bulk.load(stack.sessions, 5, ORDERS, RENAMES)
    await settle(stack.projection)
    before = await documents(stack, ReadCollections())
    # The live projection applied these events before they were damaged (by hand, as no
    # command could): the replay must apply them too, and cannot.
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE events SET data = '{}'::jsonb WHERE event_type = 'OrderPlaced'")
        )
    with pytest.raises(RebuildFailed, match=r"stopped at"):
        await run_rebuild(rebuild_of(stack, redis))
    status = await read_status(stack.db, "main")
    assert (status.generation, status.collections) == (0, ReadCollections())
    assert await documents(stack, ReadCollections()) == before
    assert (await read_status(stack.db, rebuild_name("main"))).phase is RebuildPhase.FAILED
