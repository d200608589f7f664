"""Scenario 1: the event store's append, one event in a new stream per transaction, against a
raw asyncpg INSERT of the same row (the ceiling) and the `eventsourcing` library (the peer).

The compared subject is `append_alone`, the append in a transaction of its own, measured in
turns that alternate with the ceiling's at each concurrency (`bench.turns`); `append` in a
session's transaction (BEGIN, the same call, COMMIT) is measured beside it.

The ceiling's table is `events` copied with `LIKE ... INCLUDING ALL` (same columns, defaults,
identity, indexes and unique constraints, no foreign key), written by one INSERT in its own
implicit transaction: what one event costs PostgreSQL with nothing around it.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg

from bench.context import Context
from bench.measure import Figure, drive, latency_figure
from bench.turns import driven, measure_turns
from esctl.stores import asyncpg_dsn
from eventstore import EventMetadata, JsonObject, NewEvent, StreamWrite, append, append_alone
from eventstore.database import create_engine, create_sessions

SCENARIO = "append"
OURS = "eventstore.append_alone"
RAW = "raw asyncpg INSERT"
META = EventMetadata(correlation_id="bench", who="bench")
RAW_INSERT = """
INSERT INTO raw_events
    (stream_id, stream_type, version, event_id, event_type, schema_version, data, metadata)
VALUES ($1, 'user', 1, $2, 'UserRegistered', 1, $3::jsonb, $4::jsonb)
"""


def _data(stream_id: uuid.UUID) -> JsonObject:
    return {"user_id": str(stream_id), "name": "Ada", "email": f"{stream_id.hex[:12]}@x.org"}


async def run(context: Context) -> None:
    sizes, results = context.sizes, context.results
    url = await context.stores.new_postgres_database("append", migrated=True)
    ours: dict[int, Figure] = {}
    raw: dict[int, Figure] = {}
    # The compared pair in alternating turns; the others after it, one subject's connections
    # at a time: the server's 100 are shared with whatever else runs on the machine.
    ceiling = _raw_insert(url, max(sizes.append_concurrency))
    async with store_append(context, url) as our_append, ceiling as raw_insert:
        for concurrency in sizes.append_concurrency:
            figures = await measure_turns(
                context,
                SCENARIO,
                {OURS: driven(our_append, concurrency), RAW: driven(raw_insert, concurrency)},
                concurrency=concurrency,
                unit="events",
                turns=sizes.turns,
                turn_seconds=sizes.seconds / sizes.turns,
            )
            ours[concurrency], raw[concurrency] = figures[OURS], figures[RAW]
    await measure(
        context,
        "eventstore.append in a session",
        store_append(context, url, in_session=True),
        note="BEGIN, the call, COMMIT: as commands that read before they write",
    )
    library = await _library(context)
    for concurrency in sizes.append_concurrency:
        results.compare(
            f"append c{concurrency} / raw INSERT",
            ours[concurrency],
            raw[concurrency],
            0.7 if concurrency == 8 else None,
        )
    if library is not None and sizes.library_threads in ours:
        results.compare(
            f"append c{sizes.library_threads} / eventsourcing",
            ours[sizes.library_threads],
            library,
            3.0,
        )


Operation = Callable[[int], Awaitable[None]]


async def measure(
    context: Context,
    subject: str,
    opened: AbstractAsyncContextManager[Operation],
    *,
    scenario: str = SCENARIO,
    concurrencies: tuple[int, ...] | None = None,
    note: str = "",
) -> dict[int, Figure]:
    """Warm `subject` up at concurrency 8, then a figure at each concurrency (by default
    the append scenario's)."""
    sizes = context.sizes
    figures: dict[int, Figure] = {}
    async with opened as operation:
        await drive(operation, 8, sizes.warmup_seconds)
        for concurrency in concurrencies or sizes.append_concurrency:
            latencies, seconds = await drive(operation, concurrency, sizes.seconds)
            figure = latency_figure(
                scenario, subject, concurrency, latencies, seconds, unit="events", note=note
            )
            figures[concurrency] = context.results.add(figure)
    return figures


@asynccontextmanager
async def store_append(
    context: Context, url: str, *, in_session: bool = False
) -> AsyncIterator[Operation]:
    """One event in a new stream, in a transaction of its own: `eventstore.append_alone`, as
    `POST /users` writes, or `eventstore.append` in a session's transaction."""
    most = max(context.sizes.append_concurrency)
    settings = context.stores.settings(url, "unused", db_pool_size=most)
    engine = create_engine(settings, application_name="bench")
    sessions = create_sessions(engine)

    async def store_append(_: int) -> None:
        stream_id = uuid.uuid4()
        write = StreamWrite(
            stream_id, "user", 0, [NewEvent("UserRegistered", 1, _data(stream_id), META)]
        )
        if not in_session:
            await append_alone(engine, [write])
            return
        async with sessions() as session, session.begin():
            await append(session, [write])

    try:
        yield store_append
    finally:
        await engine.dispose()


@asynccontextmanager
async def _raw_insert(url: str, connections: int) -> AsyncIterator[Operation]:
    metadata = META.model_dump_json()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=1, max_size=connections)
    assert pool is not None

    async def raw_insert(_: int) -> None:
        stream_id = uuid.uuid4()
        data = json.dumps(_data(stream_id))
        await pool.execute(RAW_INSERT, stream_id, uuid.uuid4(), data, metadata)

    try:
        yield raw_insert
    finally:
        await pool.close()


async def _library(context: Context) -> Figure | None:
    try:
        from bench import library_peer
    except ImportError as error:  # the `bench` group is not installed
        print(f"  eventsourcing library skipped: {error}", flush=True)
        return None
    sizes = context.sizes
    url = await context.stores.new_postgres_database("eslib", migrated=False)
    threads = sizes.library_threads
    await asyncio.to_thread(library_peer.save_new_aggregates, url, threads, sizes.warmup_seconds)
    latencies, seconds = await asyncio.to_thread(
        library_peer.save_new_aggregates, url, threads, sizes.seconds
    )
    return context.results.add(
        latency_figure(
            SCENARIO,
            "eventsourcing library",
            threads,
            latencies,
            seconds,
            unit="events",
            note="PostgreSQL persistence, one new aggregate per save, threads",
        )
    )
