"""Scenario 6: growth. An events table of 10,000 events beside one of 1,000,000, each in a
database of its own: `eventstore.append_alone`'s latency and the feed's read rate on each.
Then the projector's peak memory while it rebuilds its projection from 100,000 events.

The two sizes are measured in alternating turns rather than one after the other: on this
shared machine, the load of the minute moves a p50 by more than 20%, which would otherwise
decide the ratio. Each table is filled by COPY (`bench.events.load`), then vacuumed and
analyzed, as autovacuum would have done to a table that grew over time: otherwise its run in
the middle of a measurement is noise, and the planner would plan for an empty table. A
checkpoint then writes the load's pages out, for the same reason.

The rebuild runs where it runs in production: in the projector's worker (`python -m
projector`), as the job that `POST /admin/projections/main/rebuild` queues. The worker first
catches the live projection up, as a rebuild expects; its peak memory is then reset to what
it holds at rest, so the figure covers the rebuild alone.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
from arq import create_pool
from arq.connections import RedisSettings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.context import Context
from bench.events import load_about
from bench.measure import Figure, Reading, drive, latency_figure
from bench.memory import peak_rss_mb, reset_peak, rss_mb
from bench.processes import Child
from bench.scenarios.append import Operation, store_append
from bench.services import Tokens, projector
from esctl.stores import asyncpg_dsn
from eventstore import START, read_feed_page
from eventstore.database import create_engine, create_sessions
from projector import REBUILD_JOB
from projector.overview import OverviewState, overview
from readmodel.documents import RebuildPhase

SCENARIO = "growth"
PROJECTION = "main"
# The targets: append's p50 at the large size at most 1.2 times the small size's,
# and the projector under 250 MB while it rebuilds.
APPEND_P50_AT_MOST = 1.2
PEAK_RSS_AT_MOST_MB = 250.0
# Long enough for the slowest projector seen so far on 100,000 events.
PROJECTOR_WITHIN_SECONDS = 3600.0
# How long the feed may stay held back by a transaction open elsewhere on the server.
HELD_BACK_SECONDS = 600.0

Sessions = async_sessionmaker[AsyncSession]


async def run(context: Context) -> None:
    await _table_growth(context)
    await _rebuild_memory(context)


class _FeedReader:
    """The feed from the start, a page per transaction as a subscriber reads it, starting
    over once past the events the table held at first (appends land after them). Read in
    turns, each going on where the last one stopped; latencies per page."""

    def __init__(self, sessions: Sessions, held: int, page_size: int) -> None:
        self.sessions = sessions
        self.held = held
        self.page_size = page_size
        self.after, self.in_pass = START, 0
        self.read = self.passes = 0
        self.latencies: list[float] = []
        self.seconds = 0.0

    async def prepare(self) -> None:
        """The connection and the statement's preparation, outside the measurement."""
        async with self.sessions() as session:
            await read_feed_page(session, START, self.page_size)

    async def read_for(self, seconds: float) -> None:
        started = time.perf_counter()
        held_back_until = started + HELD_BACK_SECONDS
        while time.perf_counter() < started + seconds:
            page_started = time.perf_counter_ns()
            async with self.sessions() as session:
                page = await read_feed_page(session, self.after, self.page_size)
            if not page:
                # Held back by an older transaction still open elsewhere on the server,
                # which the feed waits for (guarantee 1): that wait is part of reading.
                if time.perf_counter() > held_back_until:
                    raise TimeoutError(f"the feed stopped after {self.in_pass:,} events")
                await asyncio.sleep(0.05)
                continue
            self.latencies.append((time.perf_counter_ns() - page_started) / 1e6)
            self.read += len(page)
            self.in_pass += len(page)
            self.after = page[-1].position
            if self.in_pass >= self.held:
                self.after, self.in_pass, self.passes = START, 0, self.passes + 1
        self.seconds += time.perf_counter() - started

    def figure(self, size: int) -> Figure:
        note = (
            f"{self.read:,} events ({self.passes} whole passes) in pages of {self.page_size}, "
            "one transaction each; latencies per page"
        )
        subject = f"read_feed_page at {size:,} events"
        figure = latency_figure(SCENARIO, subject, 1, self.latencies, self.seconds, note=note)
        return replace(figure, operations=self.read, unit="events")


@dataclass
class _Table:
    """One events table at one size, its subjects, and what was measured on it so far."""

    size: int
    held: int  # events when the measurement began
    append: Operation
    feed: _FeedReader
    appends: dict[int, tuple[list[float], float]] = field(default_factory=dict)

    async def run_appends(self, concurrency: int, seconds: float) -> None:
        latencies, took = await drive(self.append, concurrency, seconds)
        earlier, earlier_took = self.appends.get(concurrency, ([], 0.0))
        self.appends[concurrency] = (earlier + latencies, earlier_took + took)


async def _table_growth(context: Context) -> None:
    sizes, results = context.sizes, context.results
    small, large = sizes.growth_events
    async with AsyncExitStack() as stack:
        tables = [await stack.enter_async_context(_table(context, n)) for n in (small, large)]
        for table in tables:
            await drive(table.append, 8, sizes.warmup_seconds)
        # Short turns, alternating the sizes and their order (ABBA): a load that comes and
        # goes on the machine falls on both sizes alike, and the ratio stays about size.
        turn = sizes.seconds / sizes.growth_turns
        print(f"  both sizes in {sizes.growth_turns} turns of {turn:g} s each", flush=True)
        for number in range(sizes.growth_turns):
            for table in tables if number % 2 == 0 else tables[::-1]:
                await table.feed.read_for(turn)
                for concurrency in sizes.growth_append_concurrency:
                    await table.run_appends(concurrency, turn)
    appends: dict[int, dict[int, Figure]] = {}
    reads: dict[int, Figure] = {}
    for table in tables:
        reads[table.size] = results.add(table.feed.figure(table.size))
        appends[table.size] = {
            concurrency: results.add(
                latency_figure(
                    SCENARIO,
                    f"eventstore.append_alone at {table.size:,} events",
                    concurrency,
                    latencies,
                    seconds,
                    unit="events",
                    note=f"the table held {table.held:,} events when the runs began",
                )
            )
            for concurrency, (latencies, seconds) in table.appends.items()
        }
    for concurrency in sizes.growth_append_concurrency:
        results.compare_p50(
            f"append c{concurrency} at {large:,} / at {small:,} events",
            appends[large][concurrency],
            appends[small][concurrency],
            APPEND_P50_AT_MOST,
        )
    results.compare(f"feed read at {large:,} / at {small:,} events", reads[large], reads[small])


@asynccontextmanager
async def _table(context: Context, size: int) -> AsyncIterator[_Table]:
    """A database of its own whose events table holds `size` events."""
    url = await context.stores.new_postgres_database("growth", migrated=True)
    engine = create_engine(context.stores.settings(url, "unused"), application_name="bench")
    try:
        sessions = create_sessions(engine)
        held = await _fill(sessions, url, size)
        feed = _FeedReader(sessions, held, context.sizes.feed_page)
        await feed.prepare()
        async with store_append(context, url) as append:
            yield _Table(size, held, append, feed)
    finally:
        await engine.dispose()


async def _fill(sessions: Sessions, url: str, size: int) -> int:
    """Loads about `size` events and settles the table; how many it holds."""
    started = time.perf_counter()
    await load_about(sessions, size)
    print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("VACUUM ANALYZE events, streams")
        # A million events write about a gigabyte of WAL: the checkpoints it calls for
        # would otherwise still be writing while the large table is measured.
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CHECKPOINT")
        return int(await conn.fetchval("SELECT count(*) FROM events"))
    finally:
        await conn.close()


async def _rebuild_memory(context: Context) -> None:
    stores, sizes = context.stores, context.sizes
    settings = await stores.new_stack("rss")
    engine = create_engine(settings, application_name="bench")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    queue = await create_pool(
        RedisSettings.from_dsn(settings.redis_url), default_queue_name=settings.projector_queue
    )
    try:
        sessions = create_sessions(engine)
        events = await load_about(sessions, sizes.rebuild_events)
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
