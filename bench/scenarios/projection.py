"""Scenario 4: projection throughput, events/s: the live projector catching up from nothing,
and a rebuild (`projector.rebuild.run_rebuild`), against a raw unordered `bulk_write` of the
same final documents into the same server (the ceiling). Latencies are per batch.

The live projection is brought to the head first, since a rebuild ends by catching it up
and comparing the two; the rebuild keeps the old collections, which otherwise it drops after
a pause for readers that is no work. The rebuild and the ceiling then take turns, in ABBA
order (`bench.turns`): each is a single run of seconds, which the load of the minute on this
shared machine would otherwise decide.
"""

import asyncio
import time
from typing import Any

from pymongo import AsyncMongoClient, InsertOne
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from bench.context import Context
from bench.events import load_about
from bench.measure import Figure
from bench.settle import settle
from bench.turns import Sample, Tally, abba, histogram
from eventstore.database import create_engine, create_sessions
from projector.catch_up import Projection
from projector.rebuild import CHUNK_PAGES, REBUILD_BATCH, Rebuild, run_rebuild
from readmodel.collections import ReadCollections, ensure_indexes
from readmodel.documents import ProjectionStatus, RebuildPhase

SCENARIO = "projection"
REBUILD, CEILING = "rebuild", "raw bulk_write"


class Batches:
    """The time each batch took: from the previous batch's end (or the start) to its own."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.ms: list[float] = []

    async def tick(self, *_: object) -> None:
        now = time.perf_counter()
        self.ms.append((now - self.last) * 1000)
        self.last = now

    def sample(self, events: int, until: float | None = None) -> Sample:
        """Throughput in events; latencies per batch."""
        seconds = (until or time.perf_counter()) - self.started
        return Sample(events, seconds, 0, histogram(self.ms))


async def run(context: Context) -> None:
    stores, sizes, results = context.stores, context.sizes, context.results
    settings = await stores.new_stack("rebuild")
    engine = create_engine(settings, application_name="bench")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    redis = Redis.from_url(settings.redis_url)
    replay, whole, ceiling = Tally(), Tally(), Tally()
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
        live = Tally()
        live.add(batches.sample(applied))

        rebuilt: ReadCollections | None = None
        for number, turn in enumerate(abba([REBUILD, CEILING], sizes.projection_turns)):
            await asyncio.sleep(sizes.turn_pause_seconds)
            if turn == REBUILD:
                print("  rebuild", flush=True)
                replayed, done, rebuilt = await _rebuild(projection, redis)
                replay.add(replayed)
                whole.add(done)
            else:
                print("  raw bulk_write", flush=True)
                assert rebuilt is not None  # ABBA: a rebuild goes first
                ceiling.add(await _bulk_write(db, rebuilt, events, number))
    finally:
        try:
            # Five copies of the documents by now: dropped at once rather than at the end of
            # the run, so that the scenarios after this one find the server as they would alone.
            await mongo.drop_database(settings.mongodb_db)
        finally:
            await redis.aclose()
            await mongo.close()
            await engine.dispose()
    turns = f"{sizes.projection_turns} turns each, ABBA"
    chunks = f"chunks of up to {REBUILD_BATCH * CHUNK_PAGES:,} events; {turns}; latencies per batch"

    def add(tally: Tally, subject: str, note: str) -> Figure:
        return results.add(tally.figure(SCENARIO, subject, 1, unit="events", note=note))

    live_figure = add(live, "projector catch-up (live)", f"batch {batch}; latencies per batch")
    replay_figure = add(replay, "rebuild: replay", chunks)
    whole_figure = add(whole, "rebuild: whole (replay, switch, verify)", chunks)
    ceiling_figure = add(
        ceiling,
        CEILING,
        f"documents in batches of {REBUILD_BATCH}, then the indexes; rate in the events they"
        f" reflect; {turns}; latencies per batch",
    )
    results.compare("rebuild (whole) / raw bulk_write", whole_figure, ceiling_figure, 0.7)
    results.compare("rebuild (replay) / raw bulk_write", replay_figure, ceiling_figure)
    results.compare("live catch-up / raw bulk_write", live_figure, ceiling_figure)


async def _rebuild(projection: Projection, redis: Redis) -> tuple[Sample, Sample, ReadCollections]:
    """One rebuild: its replay and the whole of it, and where it put the documents."""
    batches = Batches()

    async def progress(status: ProjectionStatus) -> None:
        if status.phase is RebuildPhase.REPLAYING:
            await batches.tick()

    done = await run_rebuild(Rebuild(projection, redis, keep_old=True), progress=progress)
    events = done.events_applied
    return batches.sample(events, until=batches.last), batches.sample(events), done.collections


async def _bulk_write(
    db: AsyncDatabase[dict[str, Any]], source: ReadCollections, events: int, number: int
) -> Sample:
    """The rebuilt documents written again by plain unordered bulk writes into collections of
    their own, then the same indexes built, as the rebuild builds them: on SecantusDB an index
    built over the loaded documents costs about half of one kept up on every insert."""
    target = ReadCollections(f"raw_users_{number}", f"raw_orders_{number}")
    copies = [
        (name, await db[original].find().to_list())
        for original, name in ((source.users, target.users), (source.orders, target.orders))
    ]
    batches = Batches()
    for name, docs in copies:
        for first in range(0, len(docs), REBUILD_BATCH):
            await db[name].bulk_write(
                [InsertOne(doc) for doc in docs[first : first + REBUILD_BATCH]], ordered=False
            )
            await batches.tick()
    await ensure_indexes(db, target)
    await batches.tick()
    return batches.sample(events)
