"""Scenario 4: projection throughput, events/s: the live projector catching up from nothing,
and a rebuild (`projector.rebuild.run_rebuild`), against a raw unordered `bulk_write` of the
same final documents into the same server (the ceiling). Latencies are per batch.

The live projection is brought to the head first, since a rebuild ends by catching it up
and comparing the two; the rebuild keeps the old collections, which otherwise it drops after
a pause for readers that is no work.
"""

import time
from dataclasses import replace
from typing import Any

from pymongo import AsyncMongoClient, InsertOne
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from bench.context import Context
from bench.events import load_about
from bench.measure import Figure, latency_figure
from bench.settle import settle
from eventstore.database import create_engine, create_sessions
from projector.catch_up import Projection
from projector.rebuild import CHUNK_PAGES, REBUILD_BATCH, Rebuild, run_rebuild
from readmodel.collections import ReadCollections, ensure_indexes
from readmodel.documents import ProjectionStatus, RebuildPhase

SCENARIO = "projection"


class Batches:
    """The time each batch took: from the previous batch's end (or the start) to its own."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.ms: list[float] = []

    async def tick(self, *_: object) -> None:
        now = time.perf_counter()
        self.ms.append((now - self.last) * 1000)
        self.last = now

    def figure(self, subject: str, events: int, note: str, until: float | None = None) -> Figure:
        """Throughput in events; latencies per batch."""
        seconds = (until or time.perf_counter()) - self.started
        batches = latency_figure(SCENARIO, subject, 1, self.ms, seconds, unit="events")
        return replace(batches, operations=events, note=f"{note}; latencies per batch")


async def run(context: Context) -> None:
    stores, sizes, results = context.stores, context.sizes, context.results
    settings = await stores.new_stack("rebuild")
    engine = create_engine(settings, application_name="bench")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    redis = Redis.from_url(settings.redis_url)
    try:
        sessions = create_sessions(engine)
        events = await load_about(sessions, sizes.rebuild_events)
        db = mongo[settings.mongodb_db]
        await ensure_indexes(db)
        batch = settings.projector_batch_size
        projection = Projection(sessions, db, batch_size=batch)

        print(f"  live catch-up of {events:,} events", flush=True)
        batches = Batches()
        applied = await settle(projection, within=3600, on_batch=batches.tick)
        live = results.add(batches.figure("projector catch-up (live)", applied, f"batch {batch}"))

        print("  rebuild", flush=True)
        replay_batches = Batches()

        async def progress(status: ProjectionStatus) -> None:
            if status.phase is RebuildPhase.REPLAYING:
                await replay_batches.tick()

        done = await run_rebuild(Rebuild(projection, redis, keep_old=True), progress=progress)
        rebuilt = done.events_applied
        note = f"chunks of up to {REBUILD_BATCH * CHUNK_PAGES:,} events"
        replay = results.add(
            replay_batches.figure("rebuild: replay", rebuilt, note, until=replay_batches.last)
        )
        whole = results.add(
            replay_batches.figure("rebuild: whole (replay, switch, verify)", rebuilt, note)
        )
        ceiling = results.add(await _bulk_write(db, done.collections, events))
    finally:
        await redis.aclose()
        await mongo.close()
        await engine.dispose()
    results.compare("rebuild (whole) / raw bulk_write", whole, ceiling, 0.7)
    results.compare("rebuild (replay) / raw bulk_write", replay, ceiling)
    results.compare("live catch-up / raw bulk_write", live, ceiling)


async def _bulk_write(
    db: AsyncDatabase[dict[str, Any]], source: ReadCollections, events: int
) -> Figure:
    """The rebuilt documents written again by plain unordered bulk writes, then the same
    indexes built, as the rebuild builds them: on SecantusDB an index built over the loaded
    documents costs about half of one kept up on every insert."""
    target = ReadCollections("raw_users", "raw_orders")
    copies = [
        (name, await db[original].find().to_list())
        for original, name in ((source.users, target.users), (source.orders, target.orders))
    ]
    documents = sum(len(docs) for _, docs in copies)
    batches = Batches()
    for name, docs in copies:
        for first in range(0, len(docs), REBUILD_BATCH):
            await db[name].bulk_write(
                [InsertOne(doc) for doc in docs[first : first + REBUILD_BATCH]], ordered=False
            )
            await batches.tick()
    await ensure_indexes(db, target)
    await batches.tick()
    note = (
        f"{documents:,} documents in batches of {REBUILD_BATCH}, then the indexes;"
        " rate in the events they reflect"
    )
    return batches.figure("raw bulk_write", events, note)
