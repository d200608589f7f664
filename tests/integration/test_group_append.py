"""`GroupedAppends`: appends asked for at once commit in one transaction, and each still gets
the answer it would have got alone (tests/integration/test_append.py runs the shared checks)."""

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from eventstore import (
    AppendResult,
    ConcurrencyConflict,
    EventMetadata,
    NewEvent,
    StreamWrite,
    UniqueClaim,
    UniqueKeyTaken,
    append,
    append_alone,
    load_stream,
)
from eventstore.errors import StoreUnavailable
from eventstore.group import GroupedAppends

Sessions = async_sessionmaker[AsyncSession]
META = EventMetadata(correlation_id="test", who="tests")


def new_stream(stream: uuid.UUID, *types: str) -> StreamWrite:
    return StreamWrite(stream, "user", 0, [NewEvent(t, 1, {}, META) for t in types])


async def _stored(sessions: Sessions, stream: uuid.UUID) -> list[str]:
    async with sessions() as session:
        return [event.event_type for event in await load_stream(session, stream)]


async def test_appends_asked_at_once_commit_together_each_with_its_own_answer(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    appends = GroupedAppends(engine)
    streams = [uuid.uuid4() for _ in range(20)]
    results = await asyncio.gather(*(appends.append([new_stream(s, "A", "B")]) for s in streams))
    async with sessions() as session:
        for stream, result in zip(streams, results, strict=True):
            recorded = await load_stream(session, stream)
            assert [e.event_type for e in recorded] == ["A", "B"]
            assert result.versions == {stream: 2}
            assert result.event_count == 2
            assert result.last_position == recorded[-1].position
    assert len({result.last_position.transaction_id for result in results}) == 1
    assert len({result.last_position for result in results}) == 20


async def test_a_group_is_split_at_its_size(engine: AsyncEngine) -> None:
    appends = GroupedAppends(engine, max_group=8)
    results = await asyncio.gather(
        *(appends.append([new_stream(uuid.uuid4(), "A")]) for _ in range(20))
    )
    transactions = [result.last_position.transaction_id for result in results]
    assert sorted(transactions.count(t) for t in set(transactions)) == [4, 8, 8]


async def test_a_refused_append_fails_alone_and_the_rest_of_its_group_commits(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    existing, holder = uuid.uuid4(), uuid.uuid4()
    email = f"{uuid.uuid4()}@example.com"
    await append_alone(engine, [new_stream(existing, "A")])
    await append_alone(
        engine, [new_stream(holder, "A")], claims=[UniqueClaim("email", email, holder)]
    )
    appends = GroupedAppends(engine)
    fine = [uuid.uuid4() for _ in range(10)]
    taker = uuid.uuid4()

    outcomes: list[AppendResult | BaseException] = await asyncio.gather(
        *(appends.append([new_stream(s, "A")]) for s in fine[:5]),
        appends.append([new_stream(existing, "again")]),  # the stream is at version 1
        appends.append([new_stream(taker, "A")], claims=[UniqueClaim("email", email, taker)]),
        *(appends.append([new_stream(s, "A")]) for s in fine[5:]),
        return_exceptions=True,
    )
    assert isinstance(outcomes[5], ConcurrencyConflict)
    assert isinstance(outcomes[6], UniqueKeyTaken)
    committed = [o for o in outcomes[:5] + outcomes[7:] if isinstance(o, AppendResult)]
    assert len(committed) == 10
    # Still together, in the one transaction the group was sent again in (`es_append_each`).
    assert len({result.last_position.transaction_id for result in committed}) == 1
    for stream in fine:
        assert await _stored(sessions, stream) == ["A"]
    assert await _stored(sessions, existing) == ["A"]
    assert await _stored(sessions, taker) == []


async def test_an_append_whose_asker_has_gone_is_not_made(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    appends = GroupedAppends(engine)
    gone, staying = uuid.uuid4(), uuid.uuid4()
    leaving = asyncio.ensure_future(appends.append([new_stream(gone, "A")]))
    kept = asyncio.ensure_future(appends.append([new_stream(staying, "A")]))
    await asyncio.sleep(0)  # both asked, the group not yet sent
    leaving.cancel()
    await kept
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await _stored(sessions, gone) == []
    assert await _stored(sessions, staying) == ["A"]


async def test_nothing_to_append_is_refused_at_once(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="nothing to append"):
        await GroupedAppends(engine).append([StreamWrite(uuid.uuid4(), "user", 0, [])])


async def test_a_group_that_loses_its_connection_fails_every_member_and_retries_none(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    """Whether a group whose connection went committed is unknown, as for an append alone:
    each member is told so (a 503 over HTTP), and none is run again, which could append it
    twice."""
    holder, taker, others = uuid.uuid4(), uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    email = f"{uuid.uuid4()}@example.com"
    appends = GroupedAppends(engine)
    async with sessions() as holding, holding.begin():
        # Claimed, not committed: the group's claim of it waits on this transaction.
        await append(
            holding, [new_stream(holder, "A")], claims=[UniqueClaim("email", email, holder)]
        )
        group = asyncio.gather(
            appends.append([new_stream(taker, "A")], claims=[UniqueClaim("email", email, taker)]),
            *(appends.append([new_stream(s, "A")]) for s in others),
            return_exceptions=True,
        )
        backend = await _waiting_group_backend(sessions)
        async with sessions() as killer:
            await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        outcomes = await asyncio.wait_for(group, timeout=30)
        await holding.rollback()
    assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes)
    for stream in (taker, *others):
        assert await _stored(sessions, stream) == []


async def _waiting_group_backend(sessions: Sessions) -> int:
    """The server process of a group statement waiting for a lock."""
    async with sessions() as session:
        for _ in range(200):
            pid = await session.scalar(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE '%unnest($1::jsonb[])%'"
                )
            )
            if pid is not None:
                return int(pid)
            await session.rollback()  # a new snapshot of the activity next time
            await asyncio.sleep(0.05)
    raise AssertionError("no group statement waited for the claim")
