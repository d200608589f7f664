"""The two apps under fuzzing, each on stores of its own, with a few things that exist.

Each app runs its lifespan inside schemathesis's ASGI client (`from_asgi` starts it there, in
the client's own event loop thread), so no connection crosses from pytest's loop to another.
"""

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
import schemathesis
from pymongo import AsyncMongoClient
from redis import Redis
from schemathesis.python.asgi import shutdown_lifespans

from command_api.app import create_app as create_command_app
from query_api.app import create_app as create_query_app
from query_api.pagination import encode_cursor
from readmodel.collections import ensure_indexes
from readmodel.documents import OrderStatus
from settings import Settings
from tests.conftest import ADMIN_TOKEN, READ_TOKEN, WRITE_TOKEN
from tests.fuzz.harness import TALLIES, Budget, Known, fuzz_config
from tests.query.seed import a_user, an_order, set_checkpoint, store
from tests.support.databases import migrated_database
from tests.support.mongo import MongoServer


@dataclass(frozen=True)
class FuzzTarget:
    schema: schemathesis.BaseSchema
    headers: dict[str, str]
    known: Known


@pytest.fixture(scope="session")
def fuzz_budget(full_size: bool) -> Budget:
    # Per operation and per mode (positive, negative): the CI run stays well under a minute.
    return Budget(max_examples=300 if full_size else 25)


@pytest.fixture(scope="module")
def command_api_schema(
    settings: Settings, mongo_server: MongoServer
) -> Iterator[schemathesis.BaseSchema]:
    """The command API on a database, a projector queue and a read store of its own."""
    with migrated_database("es_fuzz") as database_url:
        fuzz_settings = settings.model_copy(
            update={
                "database_url": database_url,
                "mongodb_url": mongo_server.url,
                "mongodb_db": f"fuzz_{uuid.uuid4().hex[:12]}",
                "projector_queue": f"arq:fuzz:{uuid.uuid4().hex}",
            }
        )
        app = create_command_app(fuzz_settings)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=fuzz_config())
        try:
            yield schema
        finally:
            shutdown_lifespans()
            _empty_queue(fuzz_settings)


@pytest.fixture
def command_api(command_api_schema: schemathesis.BaseSchema) -> FuzzTarget:
    """With users and orders of each test's own: a fuzzed DELETE leaves the next test none."""
    known = _seed_commands(command_api_schema)
    return FuzzTarget(command_api_schema, _bearer(WRITE_TOKEN), known)


@pytest.fixture
def admin_api(command_api_schema: schemathesis.BaseSchema) -> FuzzTarget:
    """The same app, with the token its admin routes need."""
    return FuzzTarget(command_api_schema, _bearer(ADMIN_TOKEN), Known(path={"name": ["main"]}))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _seed_commands(schema: schemathesis.BaseSchema) -> Known:
    """Live users with open orders; `If-Match: *` so that changes to them can succeed."""
    users, orders = [], []
    for n in range(3):
        body: dict[str, Any] = {
            "name": f"Fuzz {n}",
            "email": f"fuzz-{uuid.uuid4().hex[:10]}@example.com",
        }
        registered = schema["/users"]["POST"].Case(body=body).call(headers=_bearer(WRITE_TOKEN))
        assert registered.status_code == 201, registered.content
        user_id = registered.json()["id"]
        order: dict[str, Any] = {"product": "Tea", "quantity": 2, "unit_price": "4.50"}
        placed = (
            schema["/users/{user_id}/orders"]["POST"]
            .Case(path_parameters={"user_id": user_id}, body=order)
            .call(headers=_bearer(WRITE_TOKEN))
        )
        assert placed.status_code == 201, placed.content
        users.append(user_id)
        orders.append(placed.json()["id"])
    return Known(path={"user_id": users, "order_id": orders}, headers={"If-Match": "*"})


def _empty_queue(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    try:
        queued = cast(list[bytes], redis.zrange(settings.projector_queue, 0, -1))
        jobs = [job_id.decode() for job_id in queued]
        redis.delete(settings.projector_queue, *(f"arq:job:{job_id}" for job_id in jobs))
    finally:
        redis.close()


# Past any position a client can send, so that `Min-Position` never waits: a read the
# projection has not reached answers 503 by design (tests/query/test_consistency.py).
LAST_POSITION = f"{2**63 - 1}-{2**63 - 1}"


@pytest.fixture(scope="module")
def query_api(mongo_server: MongoServer) -> Iterator[FuzzTarget]:
    """The query API on a database of its own, holding live and deleted users with orders."""
    db_name = f"fuzz_{uuid.uuid4().hex[:12]}"
    known = asyncio.run(_seed_reads(mongo_server.url, db_name))
    settings = Settings(
        mongodb_url=mongo_server.url,
        mongodb_db=db_name,
        read_tokens=frozenset({READ_TOKEN}),
        write_tokens=frozenset({WRITE_TOKEN}),
        admin_tokens=frozenset({ADMIN_TOKEN}),
        mongo_timeout_seconds=5.0,
    )
    app = create_query_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=fuzz_config())
    try:
        yield FuzzTarget(schema, _bearer(READ_TOKEN), known)
    finally:
        shutdown_lifespans()
        asyncio.run(_drop(mongo_server.url, db_name))


async def _seed_reads(url: str, db_name: str) -> Known:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        db = client[db_name]
        # Indexes before the first write (SecantusDB's index-build trap, see `ensure_indexes`).
        await ensure_indexes(db)
        await set_checkpoint(db, LAST_POSITION)
        ada, bob = a_user("Ada Lovelace", "Ada@Example.com"), a_user("Bob")
        gone = a_user("Carol", deleted=True)
        orders = [
            an_order(ada),
            an_order(ada, status=OrderStatus.CANCELLED),
            an_order(bob, unit_price="0.10"),
            an_order(gone, status=OrderStatus.CANCELLED),
        ]
        await store(db, ada, bob, gone, *orders)
    finally:
        await client.close()
    user_ids = [ada.id, bob.id, gone.id]
    order_ids = [order.id for order in orders]
    return Known(
        path={"user_id": user_ids, "order_id": order_ids},
        query={
            "user_id": user_ids,
            "email": [ada.email, ada.email.upper(), bob.email],
            "name_prefix": ["Ada", "B"],
            "status": ["open", "cancelled"],
            "cursor": [encode_cursor(i) for i in (*user_ids, *order_ids)],
        },
    )


async def _drop(url: str, db_name: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        await client.drop_database(db_name)
    finally:
        await client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLIES:
        return
    cases = sum(tally.cases for tally in TALLIES.values())
    terminalreporter.write_sep("-", f"OpenAPI fuzzing: {cases} cases, {len(TALLIES)} operations")
    for label, tally in TALLIES.items():
        terminalreporter.write_line(f"{label}: {tally}")
