"""Scenario 3: `GET /users/{id}` of users with 10 orders embedded, the query API (wrk)
against a raw PyMongo `find_one` loop on the same documents at the same concurrency (the
ceiling) and against the baseline CRUD app's GET with a join, in alternating turns
(`bench.turns`)."""

import asyncio
import itertools
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from bench.baseline.seed import seed
from bench.context import Context
from bench.events import load
from bench.services import Tokens, baseline, query_api, sync_url
from bench.settle import settle
from bench.turns import Turn, driven, measure_http
from bench.wrk import wrk_turn
from eventstore.database import create_engine, create_sessions
from projector.catch_up import Projection
from readmodel.collections import LIVE, ensure_indexes

SCENARIO = "query"
ORDERS = 10
OURS = "query API GET /users/{id}"
CEILING = "raw PyMongo find_one"
THEIRS = "baseline CRUD GET /users/{id} (join)"


async def run(context: Context) -> None:
    stores, sizes, results = context.stores, context.sizes, context.results
    tokens = Tokens.new()
    settings = await stores.new_stack("query")
    crud = await stores.new_postgres_database("crud_read", migrated=False)
    engine = create_engine(settings, application_name="bench")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url)
    try:
        sessions = create_sessions(engine)
        user_ids, _ = await load(sessions, sizes.users_with_orders, ORDERS, renames=0)
        db = mongo[settings.mongodb_db]
        await ensure_indexes(db)
        await settle(Projection(sessions, db, batch_size=settings.projector_batch_size))
        ids = [str(user_id) for user_id in user_ids]
        crud_ids = await asyncio.to_thread(seed, sync_url(crud), sizes.users_with_orders, ORDERS)
        async with query_api(stores, settings, tokens) as ours, baseline(stores, crud) as theirs:
            connections = sizes.http_connections
            figures = await measure_http(
                context,
                SCENARIO,
                {
                    OURS: wrk_turn(
                        ours, "get_user", connections=connections, token=tokens.read, ids=ids
                    ),
                    CEILING: _find_one_turn(context, db[LIVE.users], ids),
                    THEIRS: wrk_turn(theirs, "get_user", connections=connections, ids=crud_ids),
                },
            )
    finally:
        await mongo.close()
        await engine.dispose()
    results.compare("GET /users/{id} / raw find_one", figures[OURS], figures[CEILING], 0.7)
    results.compare("GET /users/{id} / baseline CRUD", figures[OURS], figures[THEIRS], 3.0)


def _find_one_turn(
    context: Context, users: AsyncCollection[dict[str, Any]], ids: list[str]
) -> Turn:
    """The ceiling: `find_one` by id in as many loops as wrk has connections, in this
    process."""
    concurrency = context.sizes.http_connections
    turns = itertools.cycle(ids)

    async def find_one(_: int) -> None:
        document = await users.find_one({"_id": next(turns)})
        assert document is not None

    return driven(find_one, concurrency)
