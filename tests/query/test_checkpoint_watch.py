"""`CheckpointReader.reached`: requests waiting for a position share one watch of the
checkpoint, which reads it once per poll for all of them and stops when none is left."""

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from eventstore.position import Position
from query_api import consistency
from query_api.consistency import POLL_SECONDS, Checkpoint, CheckpointReader
from readmodel.collections import STATUS
from readmodel.documents import ProjectionState
from tests.query.seed import set_checkpoint
from tests.support.commands import SentFinds

WAITERS = 100


async def test_waiters_share_one_watch_and_each_gets_the_checkpoint_it_waited_for(
    counted_db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> None:
    await set_checkpoint(counted_db, "10-1")
    reader = CheckpointReader(counted_db)
    wanted = [Position(10, 1 + n % 4) for n in range(WAITERS)]
    waiting = [asyncio.ensure_future(reader.reached(w)) for w in wanted]
    await asyncio.sleep(10 * POLL_SECONDS)
    assert not any(w.done() for w in waiting[1::4]), "nobody's position is there yet"
    await set_checkpoint(counted_db, "10-4")
    answers = await asyncio.wait_for(asyncio.gather(*waiting), timeout=10)
    assert all(answer.position == Position(10, 4) for answer in answers[1::4])
    # About one read per poll while they waited: far fewer than one per waiter.
    assert len(finds.of(STATUS)) < WAITERS


async def test_the_watch_stops_when_nobody_waits(
    counted_db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> None:
    await set_checkpoint(counted_db, "10-1")
    reader = CheckpointReader(counted_db)
    waiter = asyncio.ensure_future(reader.reached(Position(99, 1)))
    await asyncio.sleep(5 * POLL_SECONDS)
    waiter.cancel()
    await asyncio.sleep(3 * POLL_SECONDS)
    asked = len(finds.of(STATUS))
    await asyncio.sleep(10 * POLL_SECONDS)
    assert len(finds.of(STATUS)) == asked
    assert asked > 0


async def test_a_stopped_projection_answers_its_waiters_with_where_it_stopped(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    await set_checkpoint(mongo_db, "10-1")
    reader = CheckpointReader(mongo_db)
    waiting = asyncio.ensure_future(reader.reached(Position(99, 1)))
    await asyncio.sleep(3 * POLL_SECONDS)
    await set_checkpoint(mongo_db, "10-2", ProjectionState.STOPPED)
    stopped = await asyncio.wait_for(waiting, timeout=10)
    assert stopped == Checkpoint(Position(10, 2), stopped=True)


async def test_any_read_answers_the_waiters_it_finds_applied(
    mongo_db: AsyncDatabase[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under load, requests read the checkpoint more often than the watch polls: a waiter need
    # not wait for the watch's next poll once another request's read has seen its position.
    monkeypatch.setattr(consistency, "POLL_SECONDS", 30.0)
    await set_checkpoint(mongo_db, "10-1")
    reader = CheckpointReader(mongo_db)
    waiting = asyncio.ensure_future(reader.reached(Position(10, 2)))
    await asyncio.sleep(0.05)
    await set_checkpoint(mongo_db, "10-2")

    assert (await reader.fresh()).position == Position(10, 2)  # another request's read
    answer = await asyncio.wait_for(waiting, timeout=1)

    assert answer.position == Position(10, 2)
    await reader.close()
