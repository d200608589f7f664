"""The event store's append, load and key tables against a real PostgreSQL."""

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventstore import (
    ConcurrencyConflict,
    EventMetadata,
    NewEvent,
    StreamDeleted,
    StreamWrite,
    UniqueKeyTaken,
    append,
    load_stream,
)
from eventstore.keys import claim_unique, release_unique

Sessions = async_sessionmaker[AsyncSession]
META = EventMetadata(correlation_id="test", who="tests")


def events(*types: str) -> list[NewEvent]:
    return [NewEvent(t, 1, {"n": i}, META) for i, t in enumerate(types)]


async def write(sessions: Sessions, *writes: StreamWrite) -> None:
    async with sessions() as session, session.begin():
        await append(session, writes)


async def test_new_stream_starts_at_version_one_and_loads_in_order(sessions: Sessions) -> None:
    stream = uuid.uuid4()
    await write(sessions, StreamWrite(stream, "thing", 0, events("A", "B")))
    await write(sessions, StreamWrite(stream, "thing", 2, events("C")))
    async with sessions() as session:
        loaded = await load_stream(session, stream)
        first_two = await load_stream(session, stream, up_to_version=2)
    assert [(e.version, e.event_type) for e in loaded] == [(1, "A"), (2, "B"), (3, "C")]
    assert [e.event_type for e in first_two] == ["A", "B"]
    assert loaded[0].position < loaded[1].position < loaded[2].position
    assert loaded[0].metadata == {"correlation_id": "test", "causation_id": None, "who": "tests"}


async def test_stale_expected_version_is_a_typed_conflict(sessions: Sessions) -> None:
    stream = uuid.uuid4()
    await write(sessions, StreamWrite(stream, "thing", 0, events("A")))
    with pytest.raises(ConcurrencyConflict) as raised:
        await write(sessions, StreamWrite(stream, "thing", 0, events("again")))
    assert (raised.value.expected, raised.value.actual) == (0, 1)
    with pytest.raises(ConcurrencyConflict) as raised:
        await write(sessions, StreamWrite(stream, "thing", 5, events("B")))
    assert (raised.value.expected, raised.value.actual) == (5, 1)


async def test_a_stream_of_another_type_is_not_written_through(sessions: Sessions) -> None:
    stream = uuid.uuid4()
    await write(sessions, StreamWrite(stream, "user", 0, events("A")))
    with pytest.raises(ConcurrencyConflict) as raised:
        await write(sessions, StreamWrite(stream, "order", 1, events("B")))
    assert raised.value.actual is None


async def test_closed_stream_refuses_further_events(sessions: Sessions) -> None:
    stream = uuid.uuid4()
    await write(sessions, StreamWrite(stream, "thing", 0, events("A", "Closed"), close=True))
    with pytest.raises(StreamDeleted):
        await write(sessions, StreamWrite(stream, "thing", 2, events("B")))


async def test_multi_stream_append_is_all_or_nothing(sessions: Sessions) -> None:
    fresh, existing = uuid.uuid4(), uuid.uuid4()
    await write(sessions, StreamWrite(existing, "thing", 0, events("A")))
    with pytest.raises(ConcurrencyConflict):
        await write(
            sessions,
            StreamWrite(fresh, "thing", 0, events("X")),
            StreamWrite(existing, "thing", 7, events("Y")),
        )
    async with sessions() as session:
        assert await load_stream(session, fresh) == []
        assert len(await load_stream(session, existing)) == 1


async def test_one_transaction_shares_one_transaction_id(sessions: Sessions) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    await write(
        sessions,
        StreamWrite(first, "thing", 0, events("A")),
        StreamWrite(second, "thing", 0, events("B", "C")),
    )
    async with sessions() as session:
        recorded = [*await load_stream(session, first), *await load_stream(session, second)]
    assert len({e.position.transaction_id for e in recorded}) == 1


async def test_crossed_multi_stream_writers_do_not_deadlock(sessions: Sessions) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    await write(
        sessions, StreamWrite(a, "thing", 0, events("A")), StreamWrite(b, "thing", 0, events("B"))
    )

    async def cross(first: uuid.UUID, second: uuid.UUID) -> str:
        try:
            await write(
                sessions,
                StreamWrite(first, "thing", 1, events("X")),
                StreamWrite(second, "thing", 1, events("Y")),
            )
        except ConcurrencyConflict:
            return "conflict"
        return "ok"

    crossed = [cross(a, b) if i % 2 else cross(b, a) for i in range(10)]
    outcomes = await asyncio.wait_for(asyncio.gather(*crossed), timeout=30)
    assert sorted(outcomes) == ["conflict"] * 9 + ["ok"]


async def test_of_concurrent_writers_from_one_version_exactly_one_wins(sessions: Sessions) -> None:
    stream = uuid.uuid4()
    await write(sessions, StreamWrite(stream, "thing", 0, events("A")))

    async def attempt() -> bool:
        try:
            await write(sessions, StreamWrite(stream, "thing", 1, events("B")))
        except ConcurrencyConflict:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt() for _ in range(20)))
    assert outcomes.count(True) == 1
    async with sessions() as session:
        assert [e.version for e in await load_stream(session, stream)] == [1, 2]


async def test_unique_key_is_held_by_one_stream_until_released(sessions: Sessions) -> None:
    owner, other = uuid.uuid4(), uuid.uuid4()
    value = f"{uuid.uuid4()}@example.com"
    await write(
        sessions,
        StreamWrite(owner, "user", 0, events("A")),
        StreamWrite(other, "user", 0, events("B")),
    )
    async with sessions() as session, session.begin():
        await claim_unique(session, "email", value, owner)
        await claim_unique(session, "email", value, owner)  # the holder may claim again
    with pytest.raises(UniqueKeyTaken):
        async with sessions() as session, session.begin():
            await claim_unique(session, "email", value, other)
    async with sessions() as session, session.begin():
        await release_unique(session, "email", value, other)  # not the holder: no effect
    with pytest.raises(UniqueKeyTaken):
        async with sessions() as session, session.begin():
            await claim_unique(session, "email", value, other)
    async with sessions() as session, session.begin():
        await release_unique(session, "email", value, owner)
        await claim_unique(session, "email", value, other)
