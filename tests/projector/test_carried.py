"""A holder's passes start from the status its last pass left (`projector.catch_up.Carried`).

Under a steady stream of commits a pass is a handful of round trips; reading the status again
before each was one of them. What must still hold: nothing stale is written, a status moved
behind the holder's back is refused by the fence and read afresh, a stopped one is not kept.
"""

from typing import Any

import pytest
from pymongo import AsyncMongoClient
from sqlalchemy import update

from eventstore.tables import events
from projector.catch_up import Carried, Projection, catch_up
from projector.storage import FencedOut, read_status
from readmodel.collections import STATUS
from readmodel.documents import ProjectionState, ProjectionStatus
from tests.conftest import unique_email
from tests.projector.conftest import Stack, until_visible
from tests.support.commands import SentFinds


def _fields(status: ProjectionStatus | None) -> dict[str, Any]:
    """All but the times, which MongoDB keeps to the millisecond."""
    assert status is not None
    return status.model_dump(exclude={"updated_at", "last_event_recorded_at"})


async def _sign_up(stack: Stack) -> None:
    response = await stack.writer.post("/users", json={"name": "Ada", "email": unique_email()})
    assert response.status_code == 201
    await until_visible(stack, 1)


async def test_a_holders_passes_read_the_status_once(stack: Stack, finds: SentFinds) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.settings.mongodb_url, event_listeners=[finds], tz_aware=True
    )
    try:
        projection = Projection(stack.sessions, client[stack.db.name], batch_size=50)
        carried = Carried()
        for _ in range(3):
            await _sign_up(stack)
            assert await catch_up(projection, carried=carried, report_idle=False) == 1
    finally:
        await client.close()

    assert len(finds.of(STATUS)) == 1, "each pass read the status again"
    status = await read_status(stack.db, "main")
    assert status.events_applied == 3
    assert _fields(carried.status) == _fields(status), "the carried status is the stored one"


async def test_the_lag_a_pass_reports_is_carried_too(stack: Stack) -> None:
    await read_status(stack.db, "main")  # stored with its defaults
    await stack.db[STATUS].update_one({"_id": "main"}, {"$set": {"lag_events": 7}})
    await _sign_up(stack)
    carried = Carried()
    assert await catch_up(stack.projection, carried=carried) == 1  # reports: its first pass

    assert _fields(carried.status) == _fields(await read_status(stack.db, "main"))
    assert _fields(carried.status)["lag_events"] == 0, "the next pass would store a stale lag"


async def test_a_status_moved_behind_the_holders_back_is_refused_then_read_afresh(
    stack: Stack,
) -> None:
    carried = Carried()
    await _sign_up(stack)
    await catch_up(stack.projection, carried=carried)
    # As a rebuild's switch would, had the holder's lock lapsed meanwhile.
    await stack.db[STATUS].update_one({"_id": "main"}, {"$inc": {"generation": 1}})
    await _sign_up(stack)

    with pytest.raises(FencedOut):
        await catch_up(stack.projection, carried=carried)
    assert carried.status is None, "a catch-up that failed midway leaves nothing to carry"

    generation = (await read_status(stack.db, "main")).generation
    assert await catch_up(stack.projection, carried=carried) == 1
    assert _fields(carried.status)["generation"] == generation


async def test_a_stopped_status_is_not_carried(stack: Stack) -> None:
    carried = Carried()
    await _sign_up(stack)
    await stack.db[STATUS].update_one({"_id": "main"}, {"$set": {"state": "stopped"}})

    assert await catch_up(stack.projection, carried=carried) == 0
    assert carried.status is None, "an operator may resume it meanwhile"
    await stack.db[STATUS].update_one({"_id": "main"}, {"$set": {"state": "running"}})
    assert await catch_up(stack.projection, carried=carried) == 1
    assert (await read_status(stack.db, "main")).state is ProjectionState.RUNNING


async def test_a_poison_event_cannot_write_an_overtaken_status_back(stack: Stack) -> None:
    carried = Carried()
    await _sign_up(stack)
    await catch_up(stack.projection, carried=carried)
    # Overtaken behind the holder's back, as by a rebuild's switch had its lock lapsed...
    await stack.db[STATUS].update_one({"_id": "main"}, {"$inc": {"generation": 1}})
    # ...and then an event the projection cannot apply.
    response = await stack.writer.post("/users", json={"name": "Bo", "email": unique_email()})
    async with stack.sessions() as session, session.begin():
        await session.execute(
            update(events)
            .where(events.c.stream_id == response.json()["id"])
            .values(data={"name": 7})
        )
    await until_visible(stack, 1)

    with pytest.raises(FencedOut):
        await catch_up(stack.projection, carried=carried)

    stored = await read_status(stack.db, "main")
    assert stored.state is ProjectionState.RUNNING, "the overtaken status was written back"
    assert stored.generation == 1
