"""Guarantee 1: a subscriber of the feed sees every committed event exactly once, in order."""

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from eventstore import (
    START,
    AppendResult,
    ConcurrencyConflict,
    EventMetadata,
    NewEvent,
    Position,
    RecordedEvent,
    StreamWrite,
    append,
    read_feed,
    read_feed_page,
    read_feed_page_alone,
)
from eventstore.database import create_engine, create_sessions
from eventstore.group import GroupedAppends
from settings import Settings
from tests.support.databases import migrated_database

Sessions = async_sessionmaker[AsyncSession]
META = EventMetadata(correlation_id="feed-test", who="tests")

WRITERS = 16
TRANSACTIONS_PER_WRITER = 60
# Writers whose appends run alone and commit in groups (`GroupedAppends`), as `POST /users`
# does: many commands in one transaction, and now and then one refused inside a group, whose
# subtransaction rolls back while the rest commit (`es_append_each`).
GROUPED_WRITERS = 4
STREAMS_PER_WRITER = 4
# The feed's cutoff, `pg_snapshot_xmin`, is server-wide: a transaction open anywhere on the
# server, in another database too, holds back what the feed shows until it ends. So a test
# that expects events polls for them, for at most this long, instead of reading once.
PATIENCE_SECONDS = 15


class Rollback(Exception):
    pass


@pytest.fixture
def own_database() -> Iterator[str]:
    # The feed is global: this test owns a database so that "every event" means exactly that.
    with migrated_database("es_feed") as url:
        yield url


@pytest.fixture
async def feed_engine(own_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        Settings(database_url=own_database, db_pool_size=WRITERS + 4), application_name="feed-test"
    )
    yield engine
    await engine.dispose()


def one_event(kind: str) -> NewEvent:
    return NewEvent(kind, 1, {}, META)


async def poll_feed(sessions: Sessions, expected: int) -> list[RecordedEvent]:
    """The whole feed, once it holds `expected` events or the patience runs out."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        async with sessions() as session:
            feed = await read_feed_page(session, START, 100)
        if len(feed) >= expected or time.monotonic() > deadline:
            return feed
        await asyncio.sleep(0.05)


@asynccontextmanager
async def _overtaken(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[tuple[uuid.UUID, uuid.UUID, AsyncSession]]:
    """An append to `slow` drew its position and is still open, while an append to `fast`
    drew a later one and committed: the slow transaction is handed over open."""
    slow, fast = uuid.uuid4(), uuid.uuid4()
    async with sessions() as slow_session:
        await slow_session.begin()
        await append(slow_session, [StreamWrite(slow, "thing", 0, [one_event("Slow")])])
        async with sessions() as fast_session, fast_session.begin():
            await append(fast_session, [StreamWrite(fast, "thing", 0, [one_event("Fast")])])
        yield slow, fast, slow_session


async def test_feed_waits_for_a_transaction_that_drew_an_earlier_position(
    feed_engine: AsyncEngine,
) -> None:
    """The failure a `WHERE position > last` reader has, shown, and the feed's cure of it."""
    sessions = create_sessions(feed_engine)
    async with _overtaken(sessions) as (_, _, slow_session):
        async with sessions() as session:
            naive_first = (
                (await session.execute(text("SELECT position FROM events"))).scalars().all()
            )
            feed_first = await read_feed_page(session, START, 100)
        await slow_session.commit()

    async with sessions() as session:
        naive_after = (
            (
                await session.execute(
                    text("SELECT position FROM events WHERE position > :last"),
                    {"last": max(naive_first)},
                )
            )
            .scalars()
            .all()
        )
    feed_after = await poll_feed(sessions, expected=2)

    # The naive reader saw Fast, moved its checkpoint past Slow's position, and lost Slow.
    assert len(naive_first) == 1
    assert naive_after == []
    # The feed held Fast back while Slow was open, then delivered both, Slow first.
    assert feed_first == []
    assert [e.event_type for e in feed_after] == ["Slow", "Fast"]


async def test_live_reader_sees_every_committed_event_once_under_concurrent_writers(
    feed_engine: AsyncEngine,
) -> None:
    sessions = create_sessions(feed_engine)
    committed: set[uuid.UUID] = set()
    rolled_back: set[uuid.UUID] = set()
    writers_done = asyncio.Event()
    rng = random.Random(1234)

    async def writer(number: int) -> None:
        versions = {uuid.uuid4(): 0 for _ in range(STREAMS_PER_WRITER)}
        for _ in range(TRANSACTIONS_PER_WRITER):
            chosen = rng.sample(list(versions), k=rng.randint(1, 2))
            writes = [
                StreamWrite(
                    s,
                    "thing",
                    versions[s],
                    [one_event(f"W{number}") for _ in range(rng.randint(1, 3))],
                )
                for s in chosen
            ]
            ids = {e.event_id for w in writes for e in w.events}
            hold = rng.random() < 0.15
            roll_back = rng.random() < 0.1
            try:
                async with sessions() as session, session.begin():
                    await append(session, writes)
                    if hold:  # keep the transaction open after drawing positions
                        await asyncio.sleep(rng.uniform(0.01, 0.15))
                    if roll_back:
                        raise Rollback
            except Rollback:
                rolled_back.update(ids)
                continue
            committed.update(ids)
            for w in writes:
                versions[w.stream_id] = w.new_version

    appends = GroupedAppends(feed_engine)
    group_transactions: list[int] = []
    refused_in_groups = 0

    async def grouped_writer(number: int) -> None:
        nonlocal refused_in_groups
        versions = {uuid.uuid4(): 0 for _ in range(STREAMS_PER_WRITER)}
        for _ in range(TRANSACTIONS_PER_WRITER):
            # One append per stream at once: they share groups with each other and with the
            # other grouped writers'. A far-off expected version is refused within its group.
            refused = rng.choice(list(versions)) if rng.random() < 0.2 else None
            writes = [
                StreamWrite(
                    s,
                    "thing",
                    versions[s] + (5 if s == refused else 0),
                    [one_event(f"G{number}") for _ in range(rng.randint(1, 2))],
                )
                for s in versions
            ]
            outcomes = await asyncio.gather(
                *(appends.append([w]) for w in writes), return_exceptions=True
            )
            for w, outcome in zip(writes, outcomes, strict=True):
                ids = {e.event_id for e in w.events}
                if isinstance(outcome, ConcurrencyConflict):
                    rolled_back.update(ids)
                    refused_in_groups += 1
                    continue
                assert isinstance(outcome, AppendResult), outcome
                group_transactions.append(outcome.last_position.transaction_id)
                committed.update(ids)
                versions[w.stream_id] = w.new_version

    async def reader() -> list[RecordedEvent]:
        seen: list[RecordedEvent] = []
        seen_ids: set[uuid.UUID] = set()
        checkpoint: Position = START
        deadline: float | None = None
        while True:
            async for batch in read_feed(sessions, checkpoint, batch_size=50):
                seen.extend(batch)
                seen_ids.update(e.event_id for e in batch)
                checkpoint = batch[-1].position
            if writers_done.is_set():
                # `committed` is final now. Read on until it has all arrived: the last
                # events may be held back by a transaction open elsewhere on the server.
                deadline = deadline or time.monotonic() + PATIENCE_SECONDS
                if committed <= seen_ids or time.monotonic() > deadline:
                    return seen
            await asyncio.sleep(0.005)

    reading = asyncio.create_task(reader())
    await asyncio.gather(
        *(writer(n) for n in range(WRITERS)),
        *(grouped_writer(n) for n in range(GROUPED_WRITERS)),
    )
    writers_done.set()
    seen = await asyncio.wait_for(reading, timeout=60)

    seen_ids = [e.event_id for e in seen]
    assert len(committed) > 2000
    assert rolled_back, "the workload must include rolled-back transactions"
    assert refused_in_groups, "the workload must include appends refused within a group"
    assert len(set(group_transactions)) < len(group_transactions), "appends committed together"
    assert len(seen_ids) == len(set(seen_ids)), "an event was delivered twice"
    assert set(seen_ids) == committed, "a committed event was skipped, or a rolled-back one read"
    versions_seen: dict[uuid.UUID, list[int]] = defaultdict(list)
    for event in seen:
        versions_seen[event.stream_id].append(event.version)
    for stream, versions in versions_seen.items():
        assert versions == list(range(1, len(versions) + 1)), f"stream {stream} out of order"
    assert [e.position for e in seen] == sorted(e.position for e in seen)


async def test_a_page_read_alone_also_waits_for_an_earlier_open_transaction(
    feed_engine: AsyncEngine,
) -> None:
    """`read_feed_page_alone` reads without a transaction around its statement: the statement's
    own snapshot must hold the feed back as a transaction's would (guarantee 1)."""
    sessions = create_sessions(feed_engine)
    async with _overtaken(sessions) as (slow, fast, slow_session):
        assert await read_feed_page_alone(sessions, START, 100) == []
        await slow_session.commit()

    feed = await read_feed_page_alone(sessions, START, 100)
    assert [record.stream_id for record in feed] == [slow, fast]


async def test_a_page_read_alone_gives_its_connection_back_with_transactions_on(
    own_database: str,
) -> None:
    engine = create_engine(
        Settings(database_url=own_database, db_pool_size=1), application_name="feed-test"
    )
    try:
        sessions = create_sessions(engine)
        await read_feed_page_alone(sessions, START, 10)
        async with sessions() as session:  # the same pooled connection: the pool holds one
            first = (await session.execute(text("SELECT now()"))).scalar_one()
            await asyncio.sleep(0.01)
            second = (await session.execute(text("SELECT now()"))).scalar_one()
        assert second == first, "each statement ran in a transaction of its own"
    finally:
        await engine.dispose()
