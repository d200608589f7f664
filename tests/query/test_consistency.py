"""Read-your-writes: `Min-Position` waits, boundedly, for the projection; every response tells
the client which position it was served at (`Projection-Position`).

The settings wait at most 1 s (`min_position_wait_seconds`). The checkpoint is "1000-5000" and
positions order by transaction id first, then position (eventstore/position.py).
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from readmodel.collections import STATUS
from readmodel.documents import ProjectionState
from settings import Settings
from tests.conftest import READ_TOKEN, client_for
from tests.query.conftest import CHECKPOINT, running
from tests.query.problems import assert_problem
from tests.query.seed import Database, a_user, an_order, set_checkpoint, store

WAIT_SECONDS = 1.0
# Tests of answering *without* waiting out the bound use an app with this one instead: so "at
# once" can be told from "after the wait" with a wide margin, even on a busy machine.
LONG_WAIT_SECONDS = 10.0
AT_ONCE_SECONDS = LONG_WAIT_SECONDS / 2


@pytest.fixture
async def patient_reader(
    query_app: FastAPI, query_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """A reader of a second app on the same database (`query_app` has set it up), whose
    `Min-Position` waits last up to LONG_WAIT_SECONDS."""
    del query_app
    settings = query_settings.model_copy(update={"min_position_wait_seconds": LONG_WAIT_SECONDS})
    async with running(settings) as app, client_for(app, READ_TOKEN) as client:
        yield client


async def _timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    # Bounded, so that a read that hangs fails the test instead of the suite.
    response = await asyncio.wait_for(request, timeout=LONG_WAIT_SECONDS + 5)
    return response, loop.time() - started


@pytest.mark.parametrize(
    "min_position",
    [
        pytest.param(CHECKPOINT, id="the checkpoint itself"),
        pytest.param("1000-4999", id="an earlier position in the same transaction"),
        pytest.param("999-9999", id="a later position in an earlier transaction"),
        pytest.param("0-0", id="the start"),
        pytest.param(" 1000-5000 ", id="surrounded by spaces"),
    ],
)
async def test_a_position_the_projection_has_applied_answers_at_once(
    patient_reader: httpx.AsyncClient, mongo_db: Database, min_position: str
) -> None:
    user = a_user()
    await store(mongo_db, user)

    response, took = await _timed(
        patient_reader.get(f"/users/{user.id}", headers={"Min-Position": min_position})
    )

    assert response.status_code == 200, response.text
    assert response.headers["projection-position"] == CHECKPOINT
    assert took < AT_ONCE_SECONDS


@pytest.mark.parametrize(
    "min_position",
    [
        pytest.param("1000-5001", id="the next position"),
        pytest.param("1001-0", id="a later transaction, however small its position"),
    ],
)
async def test_a_position_ahead_of_the_projection_answers_503_after_a_bounded_wait(
    reader: httpx.AsyncClient, mongo_db: Database, min_position: str
) -> None:
    user = a_user()
    await store(mongo_db, user)

    response, took = await _timed(
        reader.get(f"/users/{user.id}", headers={"Min-Position": min_position})
    )

    problem = assert_problem(response, 503)
    assert CHECKPOINT in problem["detail"]
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["projection-position"] == CHECKPOINT
    assert WAIT_SECONDS * 0.9 <= took < WAIT_SECONDS + 3


async def test_a_position_the_projection_reaches_during_the_wait_answers_200(
    patient_reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    user = a_user("Ada")
    await store(mongo_db, user)

    async def projector_catches_up() -> None:
        await asyncio.sleep(0.3)
        user.name, user.version = "Ada King", user.version + 1
        await store(mongo_db, user)  # documents first, then the checkpoint, as the projector
        await set_checkpoint(mongo_db, "1001-7")

    catching_up = asyncio.create_task(projector_catches_up())
    response, took = await _timed(
        patient_reader.get(f"/users/{user.id}", headers={"Min-Position": "1001-7"})
    )
    await catching_up

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Ada King", "the write the client waited for is shown"
    assert response.headers["projection-position"] == "1001-7"
    assert 0.25 <= took < AT_ONCE_SECONDS


async def test_many_reads_waiting_together_all_see_the_checkpoint_arrive(
    patient_reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    user = a_user()
    await store(mongo_db, user)
    waiting = [
        asyncio.create_task(
            _timed(patient_reader.get(f"/users/{user.id}", headers={"Min-Position": "1000-5003"}))
        )
        for _ in range(20)
    ]
    await asyncio.sleep(0.2)
    await set_checkpoint(mongo_db, "1000-5003")

    for response, took in await asyncio.gather(*waiting):
        assert response.status_code == 200, response.text
        assert response.headers["projection-position"] == "1000-5003"
        assert took < AT_ONCE_SECONDS


async def test_a_stopped_projection_answers_503_at_once_saying_so(
    patient_reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    user = a_user()
    await store(mongo_db, user)
    await set_checkpoint(mongo_db, CHECKPOINT, ProjectionState.STOPPED)

    response, took = await _timed(
        patient_reader.get(f"/users/{user.id}", headers={"Min-Position": "1000-5001"})
    )

    problem = assert_problem(response, 503)
    assert "stopped" in problem["detail"]
    assert CHECKPOINT in problem["detail"]
    assert "retry-after" in response.headers
    assert response.headers["projection-position"] == CHECKPOINT
    assert took < AT_ONCE_SECONDS, "a stopped projection will not move: waiting is pointless"
    # What it has applied is still served.
    applied = await patient_reader.get(f"/users/{user.id}", headers={"Min-Position": CHECKPOINT})
    assert applied.status_code == 200, applied.text


async def test_before_the_projector_ever_ran_reads_are_served_at_the_start(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    await mongo_db[STATUS].delete_many({})

    listing = await reader.get("/users")
    waiting, took = await _timed(reader.get("/users", headers={"Min-Position": "1-1"}))

    assert listing.status_code == 200, listing.text
    assert listing.headers["projection-position"] == "0-0"
    assert_problem(waiting, 503)
    assert waiting.headers["projection-position"] == "0-0"
    assert took >= WAIT_SECONDS * 0.9


async def test_every_kind_of_answer_carries_the_projection_position(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    user, deleted = a_user(), a_user(deleted=True)
    order = an_order(user)
    await store(mongo_db, user, deleted, order)
    await set_checkpoint(mongo_db, "1002-3")
    etag = (await reader.get(f"/users/{user.id}")).headers["etag"]
    answers: list[tuple[str, int, dict[str, Any]]] = [
        (f"/users/{user.id}", 200, {}),
        ("/users", 200, {}),
        (f"/users/{user.id}/orders", 200, {}),
        (f"/orders/{order.id}", 200, {}),
        ("/orders", 200, {}),
        (f"/users/{user.id}", 304, {"headers": {"If-None-Match": etag}}),
        (f"/users/{user.id}", 422, {"headers": {"If-None-Match": "x" * 5000}}),
        ("/users/6f1c1c1e-0000-4000-8000-000000000000", 404, {}),
        (f"/users/{deleted.id}", 410, {}),
        (f"/users/{deleted.id}/orders", 410, {}),
        ("/users/not-a-uuid", 422, {}),
        ("/orders", 422, {"params": {"limit": 0}}),
        ("/orders", 422, {"params": {"user_id[$ne]": "x"}}),
        ("/users", 400, {"params": {"cursor": "tampered"}}),
        ("/users", 400, {"headers": {"Min-Position": "not-a-position"}}),
        ("/users", 503, {"headers": {"Min-Position": "1002-4"}}),
    ]
    for path, status, options in answers:
        response = await reader.get(path, **options)
        assert response.status_code == status, (path, response.text)
        assert response.headers.get("projection-position") == "1002-3", (path, status)


@pytest.mark.parametrize(
    ("path", "options", "status"),
    [
        pytest.param("/orders", {"params": {"limit": "ten"}}, 422, id="a 422"),
        pytest.param("/users/not-a-uuid", {}, 422, id="a malformed id"),
        pytest.param("/users", {"params": {"cursor": "x"}}, 400, id="a bad cursor"),
        pytest.param("/orders", {"headers": {"Min-Position": "x"}}, 400, id="a bad Min-Position"),
    ],
)
async def test_a_refusal_carries_the_position_even_as_a_new_processs_first_answer(
    query_app: FastAPI, path: str, options: dict[str, Any], status: int
) -> None:
    """The app is fresh: nothing has read the checkpoint before this refusal."""
    async with client_for(query_app, READ_TOKEN) as client:
        response = await client.get(path, **options)

    assert_problem(response, status)
    assert response.headers.get("projection-position") == CHECKPOINT
