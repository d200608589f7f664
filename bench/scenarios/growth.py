"""Scenario 6: growth. The same events table measured twice, holding 10,000 events and then
1,000,000: `eventstore.append`'s latency and the feed's read rate at each size. Then the
projector's peak memory while it rebuilds its projection from 100,000 events.

The table is filled by COPY (`bench.events.load`) and vacuumed and analyzed after each fill,
as autovacuum would have done to a table that grew over time: otherwise its run in the middle
of a measurement is noise, and the planner would plan for an empty table. A checkpoint then
writes the load's pages out, for the same reason.

The rebuild runs where it runs in production: in the projector's worker (`python -m
projector`), as the job that `POST /admin/projections/main/rebuild` queues. The worker first
catches the live projection up, as a rebuild expects; its peak memory is then reset to what
it holds at rest, so the figure covers the rebuild alone.
"""

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg
from arq import create_pool
from arq.connections import RedisSettings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.context import Context
from bench.events import events_per_user, load
from bench.measure import Figure, Reading, latency_figure
from bench.memory import peak_rss_mb, reset_peak, rss_mb
from bench.processes import Child
from bench.scenarios.append import measure, store_append
from bench.services import Tokens, projector
from esctl.stores import asyncpg_dsn
from eventstore import START, read_feed_page
from eventstore.database import create_engine, create_sessions
from projector import REBUILD_JOB
from projector.overview import OverviewState, overview
from readmodel.documents import RebuildPhase

SCENARIO = "growth"
ORDERS, RENAMES = 4, 1
PROJECTION = "main"
# The targets: append's p50 at the large size at most 1.2 times the small size's,
# and the projector under 250 MB while it rebuilds.
APPEND_P50_AT_MOST = 1.2
PEAK_RSS_AT_MOST_MB = 250.0
# Long enough for the slowest projector seen so far on 100,000 events.
PROJECTOR_WITHIN_SECONDS = 3600.0

Sessions = async_sessionmaker[AsyncSession]


async def run(context: Context) -> None:
    await _table_growth(context)
    await _rebuild_memory(context)


async def _table_growth(context: Context) -> None:
    sizes, results = context.sizes, context.results
    small, large = sizes.growth_events
    url = await context.stores.new_postgres_database("growth", migrated=True)
    engine = create_engine(context.stores.settings(url, "unused"), application_name="bench")
    sessions = create_sessions(engine)
    reads: dict[int, Figure] = {}
    appends: dict[int, dict[int, Figure]] = {}
    try:
        for size in (small, large):
            held = await _fill(sessions, url, size)
            reads[size] = await _read_feed(context, sessions, size, held)
            appends[size] = await measure(
                context,
                f"eventstore.append_alone at {size:,} events",
                store_append(context, url),
                scenario=SCENARIO,
                concurrencies=sizes.growth_append_concurrency,
                note=f"the table held {held:,} events when the runs began",
            )
    finally:
        await engine.dispose()
    for concurrency in sizes.growth_append_concurrency:
        results.compare_p50(
            f"append c{concurrency} at {large:,} / at {small:,} events",
            appends[large][concurrency],
            appends[small][concurrency],
            APPEND_P50_AT_MOST,
        )
    results.compare(f"feed read at {large:,} / at {small:,} events", reads[large], reads[small])


async def _fill(sessions: Sessions, url: str, size: int) -> int:
    """Loads events until the table holds about `size`; how many it holds."""
    held = await _events_held(url)
    users = math.ceil(max(size - held, 0) / events_per_user(ORDERS, RENAMES))
    if users:
        print(f"  loading {users * events_per_user(ORDERS, RENAMES):,} events", flush=True)
        started = time.perf_counter()
        await load(sessions, users, ORDERS, RENAMES)
        print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("VACUUM ANALYZE events, streams")
        # A million events write about a gigabyte of WAL: the checkpoints it calls for
        # would otherwise still be writing while the large table is measured.
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return await _events_held(url)


async def _events_held(url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM events"))
    finally:
        await conn.close()


async def _read_feed(context: Context, sessions: Sessions, size: int, held: int) -> Figure:
    """The feed from the start, a page per transaction as a subscriber reads it, for the
    run's seconds, starting over at the head: both sizes are read for as long, so both
    figures meet the machine's noise alike. Latencies per page."""
    page_size = context.sizes.feed_page
    async with sessions() as session:  # the connection and the statement's preparation
        await read_feed_page(session, START, page_size)
    latencies: list[float] = []
    after, read, passes, in_pass = START, 0, 0, 0
    started = time.perf_counter()
    deadline = started + PROJECTOR_WITHIN_SECONDS
    while time.perf_counter() < started + context.sizes.seconds:
        page_started = time.perf_counter_ns()
        async with sessions() as session:
            page = await read_feed_page(session, after, page_size)
        if not page:
            # Held back by an older transaction still open elsewhere on the server, which
            # the feed waits for (guarantee 1): that wait is part of reading.
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the feed stopped after {in_pass:,} of {held:,} events")
            await asyncio.sleep(0.05)
            continue
        latencies.append((time.perf_counter_ns() - page_started) / 1e6)
        read += len(page)
        in_pass += len(page)
        after = page[-1].position
        if in_pass >= held:
            after, passes, in_pass = START, passes + 1, 0
    seconds = time.perf_counter() - started
    note = (
        f"{read:,} events ({passes} whole passes) in pages of {page_size}, one transaction "
        "each; latencies per page"
    )
    figure = latency_figure(
        SCENARIO, f"read_feed_page at {size:,} events", 1, latencies, seconds, note=note
    )
    return context.results.add(replace(figure, operations=read, unit="events"))


async def _rebuild_memory(context: Context) -> None:
    stores, sizes = context.stores, context.sizes
    settings = stores.settings(
        await stores.new_postgres_database("rss", migrated=True), stores.new_mongo_database("rss")
    )
    engine = create_engine(settings, application_name="bench")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    queue = await create_pool(
        RedisSettings.from_dsn(settings.redis_url), default_queue_name=settings.projector_queue
    )
    try:
        sessions = create_sessions(engine)
        users = math.ceil(sizes.rebuild_events / events_per_user(ORDERS, RENAMES))
        print(f"  loading {users * events_per_user(ORDERS, RENAMES):,} events", flush=True)
        _, events = await load(sessions, users, ORDERS, RENAMES)
        db = mongo[settings.mongodb_db]
        async with projector(stores, settings, Tokens.new()) as worker:
            pid = worker.process.pid
            print(f"  the projector catches up on {events:,} events", flush=True)
            await _until(worker, lambda: _live_at_head(db, sessions))
            at_rest = rss_mb(pid)
            reset_peak(pid)
            print(f"  rebuild in the projector ({at_rest:.0f} MB at rest)", flush=True)
            started = time.perf_counter()
            await queue.enqueue_job(REBUILD_JOB, PROJECTION, keep_old=True)
            await _until(worker, lambda: _rebuilt(db, sessions))
            seconds = time.perf_counter() - started
            peak = peak_rss_mb(pid)
    finally:
        await queue.aclose()
        await mongo.close()
        await engine.dispose()
    context.results.read(
        Reading(
            SCENARIO,
            f"projector peak RSS during a {events:,}-event rebuild",
            peak,
            "MB",
            PEAK_RSS_AT_MOST_MB,
            note=(
                f"python -m projector running the rebuild job; {at_rest:.0f} MB at rest "
                f"before it, its peak reset then (VmHWM); the rebuild took {seconds:.0f} s"
            ),
        )
    )


async def _until(worker: Child, done: Callable[[], Awaitable[bool]]) -> None:
    """Polls `done()`; fails if the projector exits or the time runs out first."""
    deadline = time.monotonic() + PROJECTOR_WITHIN_SECONDS
    while not await done():
        if worker.process.poll() is not None:
            raise RuntimeError(f"the projector exited; see {worker.log}:\n{worker.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the projector took too long; see {worker.log}")
        await asyncio.sleep(0.2)


async def _live_at_head(db: AsyncDatabase[dict[str, Any]], sessions: Sessions) -> bool:
    state = await overview(db, sessions, PROJECTION)
    if state.state is OverviewState.STOPPED:
        raise RuntimeError(f"the projection stopped: {state.error}")
    return state.lag_events == 0


async def _rebuilt(db: AsyncDatabase[dict[str, Any]], sessions: Sessions) -> bool:
    rebuild = (await overview(db, sessions, PROJECTION)).rebuild
    if rebuild is not None and rebuild.phase is RebuildPhase.FAILED:
        raise RuntimeError(f"the rebuild failed: {rebuild.message}")
    return rebuild is not None and rebuild.phase is RebuildPhase.DONE
