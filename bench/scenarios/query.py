"""Scenario 3: `GET /users/{id}` of users with 10 orders embedded, the query API (wrk)
against a raw PyMongo `find_one` loop on the same documents at the same concurrency (the
ceiling) and against the baseline CRUD app's GET with a join."""

import asyncio
import itertools
from typing import Any

from pymongo import AsyncMongoClient

from bench.baseline.seed import seed
from bench.context import Context
from bench.events import load
from bench.measure import Figure, drive, latency_figure
from bench.scenarios.command import measure_http
from bench.services import Tokens, baseline, query_api, sync_url
from bench.settle import settle
from eventstore.database import create_engine, create_sessions
from projector.catch_up import Projection
from readmodel.collections import LIVE, ensure_indexes

SCENARIO = "query"
ORDERS = 10


async def run(context: Context) -> None:
    stores, sizes, results = context.stores, context.sizes, context.results
    tokens = Tokens.new()
    settings = await stores.new_stack("query")
    engine = create_engine(settings, application_name="bench")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url)
    try:
        sessions = create_sessions(engine)
        user_ids, _ = await load(sessions, sizes.users_with_orders, ORDERS, renames=0)
        db = mongo[settings.mongodb_db]
        await ensure_indexes(db)
        await settle(Projection(sessions, db, batch_size=settings.projector_batch_size))
        ids = [str(user_id) for user_id in user_ids]
        async with query_api(stores, settings, tokens) as url:
            ours = await measure_http(
                context,
                SCENARIO,
                "query API GET /users/{id}",
                url,
                "get_user",
                token=tokens.read,
                ids=ids,
            )
        ceiling = await _find_one_loop(context, db[LIVE.users], ids)
    finally:
        await mongo.close()
        await engine.dispose()

    crud = await stores.new_postgres_database("crud_read", migrated=False)
    crud_ids = await asyncio.to_thread(seed, sync_url(crud), sizes.users_with_orders, ORDERS)
    async with baseline(stores, crud) as url:
        theirs = await measure_http(
            context, SCENARIO, "baseline CRUD GET /users/{id} (join)", url, "get_user", ids=crud_ids
        )
    results.compare("GET /users/{id} / raw find_one", ours, ceiling, 0.7)
    results.compare("GET /users/{id} / baseline CRUD", ours, theirs, 3.0)


async def _find_one_loop(context: Context, users: Any, ids: list[str]) -> Figure:
    sizes = context.sizes
    concurrency = sizes.http_connections
    turns = itertools.cycle(ids)

    async def find_one(_: int) -> None:
        document = await users.find_one({"_id": next(turns)})
        assert document is not None

    await drive(find_one, concurrency, sizes.warmup_seconds)
    latencies, seconds = await drive(find_one, concurrency, sizes.seconds)
    return context.results.add(
        latency_figure(
            SCENARIO, "raw PyMongo find_one", concurrency, latencies, seconds, unit="req"
        )
    )
