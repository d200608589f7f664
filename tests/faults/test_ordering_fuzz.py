"""Guarantee 1 and 2 under a hostile mix of transactions, with the projector following live.

Raw writers append to several user streams in one transaction (new users, and renames of
users the API workload is changing at the same time), hold their transactions open for
random times, and roll some back; others only draw a transaction id and hold it, which holds
the feed's fence back without writing. One transaction is held for seconds: the projection
must wait for it, never move past it, and show the wait in `projection_fence_*`.
"""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain import user
from domain.events import DomainEvent
from eventstore import EventMetadata, NewEvent, StreamWrite, append, load_stream, lock_streams
from eventstore.database import create_engine, create_sessions
from projector.catch_up import catch_up
from projector.storage import read_status
from tests.conftest import count_events, unique_email
from tests.faults.documents import all_documents
from tests.projector import workload
from tests.projector.conftest import Stack, settle
from tests.projector.replay import expected_documents, shown

META = EventMetadata(correlation_id="ordering-fuzz", who="tests")
HOLDER_APP = "fence-holder-test"
LONG_HOLD_SECONDS = 4.0


@dataclass
class Tally:
    committed: int = 0
    rolled_back: int = 0
    held_only: int = 0
    renames: int = 0


@dataclass
class Sizes:
    raw_writers: int
    raw_transactions: int
    api_clients: int
    api_commands: int


def new(event: DomainEvent) -> NewEvent:
    return NewEvent(event.event_type, event.schema_version, event.to_data(), META)


@pytest.fixture
async def raw_engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        stack.settings.model_copy(update={"db_pool_size": 24}), application_name="raw-writer"
    )
    yield engine
    await engine.dispose()


async def raw_writer(
    sessions: async_sessionmaker[AsyncSession],
    shared: workload.Shared,
    tally: Tally,
    transactions: int,
    seed: int,
) -> None:
    rng = random.Random(seed)
    for _ in range(transactions):
        async with sessions() as session:
            await session.begin()
            if rng.random() < 0.25:
                await session.execute(text("SELECT pg_current_xact_id()"))
                tally.held_only += 1
            else:
                writes = [
                    StreamWrite(
                        uuid.uuid4(),
                        user.STREAM_TYPE,
                        0,
                        [new(user.UserRegistered(name="Raw", email=unique_email("raw")))],
                    )
                    for _ in range(rng.randint(1, 4))
                ]
                if shared.users and rng.random() < 0.5:
                    renamed = await rename(session, uuid.UUID(rng.choice(shared.users)), rng)
                    writes.append(renamed)
                    tally.renames += len(renamed.events)
                await append(session, [w for w in writes if w.events])
            await asyncio.sleep(rng.uniform(0, 0.3))
            if rng.random() < 0.3:
                await session.rollback()
                tally.rolled_back += 1
            else:
                await session.commit()
                tally.committed += 1


async def rename(session: AsyncSession, user_id: uuid.UUID, rng: random.Random) -> StreamWrite:
    # Lock before the first write, as every writer must (see `lock_streams`).
    await lock_streams(session, [user_id])
    history = await load_stream(session, user_id)
    if any(e.event_type == "UserDeleted" for e in history):
        return StreamWrite(user_id, user.STREAM_TYPE, len(history), [])
    event = user.UserNameChanged(name=f"Raw {rng.randint(1, 99)}")
    return StreamWrite(user_id, user.STREAM_TYPE, len(history), [new(event)])


@dataclass
class LongHold:
    transaction_id: int = 0
    committed_behind: int = 0
    checkpoints: tuple[int, ...] = ()
    fence_seconds: float = 0.0
    holder_named: bool = False


async def hold_long(stack: Stack, seen: LongHold) -> None:
    engine = create_engine(stack.settings, application_name=HOLDER_APP)
    try:
        await asyncio.sleep(0.3)
        async with create_sessions(engine)() as session:
            await session.begin()
            row = await session.execute(
                text("SELECT pg_current_xact_id()::text::bigint, pg_backend_pid()")
            )
            seen.transaction_id, pid = row.one()
            labels = {"projection": "main", "pid": str(pid), "application_name": HOLDER_APP}
            checkpoints = []
            loop = asyncio.get_running_loop()
            until = loop.time() + LONG_HOLD_SECONDS
            while loop.time() < until:
                await asyncio.sleep(0.2)
                status = await read_status(stack.db, "main")
                checkpoints.append(status.checkpoint_transaction_id)
                fence = REGISTRY.get_sample_value(
                    "projection_fence_held_seconds", {"projection": "main"}
                )
                seen.fence_seconds = max(seen.fence_seconds, fence or 0.0)
                if REGISTRY.get_sample_value("projection_fence_holder_info", labels) == 1:
                    seen.holder_named = True
            async with stack.sessions() as other:
                seen.committed_behind = (
                    await other.execute(
                        text(
                            "SELECT count(*) FROM events"
                            " WHERE transaction_id > CAST(:xid AS text)::xid8"
                        ),
                        {"xid": str(seen.transaction_id)},
                    )
                ).scalar_one()
            seen.checkpoints = tuple(checkpoints)
            await session.commit()
    finally:
        await engine.dispose()


async def follow(stack: Stack, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await catch_up(stack.projection)
        await asyncio.sleep(0.02)


async def test_projection_follows_held_and_rolled_back_transactions_without_skipping(
    stack: Stack, raw_engine: AsyncEngine, full_size: bool
) -> None:
    sizes = Sizes(16, 60, 8, 80) if full_size else Sizes(6, 25, 4, 40)
    sessions = create_sessions(raw_engine)
    shared, tally, long_hold = workload.Shared(), Tally(), LongHold()
    applied_before = (
        REGISTRY.get_sample_value("projection_events_applied_total", {"projection": "main"}) or 0.0
    )
    stop = asyncio.Event()
    follower = asyncio.create_task(follow(stack, stop))
    try:
        await asyncio.gather(
            *(
                workload.client(stack.writer, shared, sizes.api_commands, seed)
                for seed in range(sizes.api_clients)
            ),
            *(
                raw_writer(sessions, shared, tally, sizes.raw_transactions, 100 + seed)
                for seed in range(sizes.raw_writers)
            ),
            hold_long(stack, long_hold),
        )
    finally:
        stop.set()
        await follower
    await settle(stack.projection)

    # The long holder: events committed behind it, none applied while it was open.
    assert long_hold.committed_behind > 0, "nothing committed while the long holder was open"
    assert long_hold.checkpoints
    assert max(long_hold.checkpoints) < long_hold.transaction_id
    assert long_hold.fence_seconds > 1.0
    assert long_hold.holder_named, "the fence metric never named the long holder"
    # Every committed event applied exactly once, and the documents equal a replay.
    committed_events = await count_events(stack.sessions)
    status = await read_status(stack.db, "main")
    assert status.checkpoint_transaction_id > long_hold.transaction_id
    assert status.events_applied == committed_events
    applied_after = REGISTRY.get_sample_value(
        "projection_events_applied_total", {"projection": "main"}
    )
    assert applied_after == applied_before + committed_events
    assert shown(*await all_documents(stack)) == await expected_documents(stack.sessions)
    assert tally.rolled_back > 0
    assert tally.held_only > 0
    assert tally.renames > 0
    print(
        f"raw transactions: {tally.committed} committed, {tally.rolled_back} rolled back, "
        f"{tally.held_only} held without writing, {tally.renames} renames; "
        f"API statuses {shared.statuses}; "
        f"{committed_events} events; {long_hold.committed_behind} behind the long holder; "
        f"fence gauge peak {long_hold.fence_seconds:.1f}s"
    )
