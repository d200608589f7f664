"""Who may read (a read token or better; DESIGN.md, Operations), the open operations routes, and
how the query API behaves while MongoDB does not answer: a quick 503, never a hang, never a 500,
and back to normal by itself once MongoDB is.

The outage tests freeze the one MongoDB server the whole session shares, and always thaw it.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN, client_for
from tests.query.conftest import CHECKPOINT
from tests.query.problems import assert_problem
from tests.query.seed import Database, a_user, an_order, store
from tests.query.shared import SharedReads, shared_reads
from tests.support.mongo import MongoServer

Answer = TypeVar("Answer")
# `mongo_timeout_seconds` is 1 s: a read that needs MongoDB fails after about that long.
OUTAGE_ANSWER_SECONDS = 4.0
RECOVERY_SECONDS = 15.0
READ_ROUTES = [
    "/users",
    "/users/{user}",
    "/users/{user}/orders",
    "/orders",
    "/orders/{order}",
]


@pytest.fixture(scope="module")
async def shared(mongo_server: MongoServer) -> AsyncIterator[SharedReads]:
    async with shared_reads(mongo_server) as shared:
        yield shared


async def _seeded_paths(db: Database) -> dict[str, str]:
    """Each read route, aimed at documents that exist: with the right token, each answers 200."""
    user = a_user()
    order = an_order(user)
    await store(db, user, order)
    return {
        route: route.replace("{user}", user.id).replace("{order}", order.id)
        for route in READ_ROUTES
    }


@pytest.fixture(scope="module")
async def paths(shared: SharedReads) -> dict[str, str]:
    return await _seeded_paths(shared.db)


@pytest.mark.parametrize("route", READ_ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no Authorization"),
        pytest.param("Bearer not-a-token", id="an unknown token"),
        pytest.param("Bearer ", id="an empty bearer token"),
        pytest.param(f"Basic {READ_TOKEN}", id="another scheme"),
        pytest.param(READ_TOKEN, id="the token without its scheme"),
        pytest.param(f"Bearer {READ_TOKEN}x", id="the token with a character more"),
        pytest.param(f"Bearer {READ_TOKEN[:-1]}", id="the token with a character less"),
    ],
)
async def test_a_read_without_a_valid_token_is_refused_with_a_challenge(
    shared: SharedReads, paths: dict[str, str], route: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with client_for(shared.app, None) as client:
        response = await client.get(paths[route], headers=headers)

    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer ")


@pytest.mark.parametrize("route", READ_ROUTES)
@pytest.mark.parametrize(
    "token",
    [
        pytest.param(READ_TOKEN, id="read token"),
        pytest.param(WRITE_TOKEN, id="write token"),
        pytest.param(ADMIN_TOKEN, id="admin token"),
    ],
)
async def test_read_write_and_admin_tokens_may_read(
    shared: SharedReads, paths: dict[str, str], route: str, token: str
) -> None:
    async with client_for(shared.app, token) as client:
        response = await client.get(paths[route])

    assert response.status_code == 200, response.text
    assert response.headers["projection-position"] == CHECKPOINT


async def test_a_caller_without_a_token_learns_nothing_about_the_request(
    query_app: FastAPI,
) -> None:
    """Authentication comes first: a bad request without a token is a 401, not a 422."""
    async with client_for(query_app, None) as client:
        for path, params in (
            ("/users/not-a-uuid", {}),
            ("/orders", {"limit": "0"}),
            ("/orders", {"user_id[$ne]": "x"}),
        ):
            response = await client.get(path, params=params)
            assert_problem(response, 401)


async def test_health_and_ready_need_no_token(query_app: FastAPI) -> None:
    async with client_for(query_app, None) as client:
        health = await client.get("/health")
        ready = await client.get("/ready")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"mongodb": "ok"})


async def test_metrics_count_reads_by_route_and_status(
    shared: SharedReads, paths: dict[str, str]
) -> None:
    reader = shared.reader

    async def count(route: str, status: str) -> float:
        async with client_for(shared.app, None) as anonymous:
            response = await anonymous.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == "http_requests_total" and sample.labels == {
                    "service": "query_api",
                    "method": "GET",
                    "route": route,
                    "status": status,
                }:
                    return sample.value
        return 0.0

    ok_before = await count("/users/{user_id}", "200")
    missing_before = await count("/orders/{order_id}", "404")
    for _ in range(3):
        assert (await reader.get(paths["/users/{user}"])).status_code == 200
    assert (await reader.get("/orders/6f1c1c1e-0000-4000-8000-000000000000")).status_code == 404

    assert await count("/users/{user_id}", "200") == ok_before + 3
    assert await count("/orders/{order_id}", "404") == missing_before + 1


@asynccontextmanager
async def frozen(mongo_server: MongoServer) -> AsyncIterator[None]:
    mongo_server.freeze()
    try:
        yield
    finally:
        mongo_server.thaw()


async def _within(seconds: float, request: Awaitable[Answer]) -> Answer:
    """The answer, which must come within `seconds`: a hang fails the test, not the suite."""
    started = time.monotonic()
    answer = await asyncio.wait_for(request, timeout=seconds)
    assert time.monotonic() - started < seconds
    return answer


async def _eventually(send: Callable[[], Awaitable[httpx.Response]], status: int) -> httpx.Response:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        response = await asyncio.wait_for(send(), timeout=RECOVERY_SECONDS)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)


async def test_ready_is_503_while_mongodb_is_frozen_and_200_again_after(
    query_app: FastAPI, mongo_server: MongoServer
) -> None:
    async with client_for(query_app, None) as client:
        assert (await client.get("/ready")).status_code == 200
        async with frozen(mongo_server):
            during = await _within(OUTAGE_ANSWER_SECONDS, client.get("/ready"))
            health = await _within(OUTAGE_ANSWER_SECONDS, client.get("/health"))
        after = await _eventually(lambda: client.get("/ready"), 200)

    assert (during.status_code, during.json()) == (503, {"mongodb": "unavailable"})
    assert health.status_code == 200, "alive, though not ready"
    assert (after.status_code, after.json()) == (200, {"mongodb": "ok"})


async def test_reads_answer_503_quickly_while_mongodb_is_frozen_and_recover_by_themselves(
    reader: httpx.AsyncClient, mongo_db: Database, mongo_server: MongoServer
) -> None:
    paths = await _seeded_paths(mongo_db)
    assert (await reader.get(paths["/users/{user}"])).status_code == 200
    async with frozen(mongo_server):
        during = [
            await _within(OUTAGE_ANSWER_SECONDS, reader.get(paths["/users/{user}"])),
            await _within(
                OUTAGE_ANSWER_SECONDS,
                reader.get("/orders", headers={"Min-Position": CHECKPOINT}),
            ),
        ]
        # Many at once: each is bounded, none waits behind another's timeout.
        together = await _within(
            OUTAGE_ANSWER_SECONDS,
            asyncio.gather(*(reader.get(paths[route]) for route in READ_ROUTES)),
        )
        # A bad request is still the client's fault, outage or not.
        refused = await _within(OUTAGE_ANSWER_SECONDS, reader.get("/users/not-a-uuid"))
    after = await _eventually(lambda: reader.get(paths["/users/{user}"]), 200)

    for response in [*during, *together]:
        assert_problem(response, 503)
        assert int(response.headers["retry-after"]) >= 1
    assert_problem(refused, 422, "user_id")
    assert after.status_code == 200, after.text
    for route in READ_ROUTES:
        assert (await reader.get(paths[route])).status_code == 200, route
