"""The event store's append, load and key tables against a real PostgreSQL.

Every append test runs three times: through `append` in a session's transaction, through
`append_alone` in a transaction of its own, and through `GroupedAppends`, where the appends
made at once share one; all share `es_append` and must agree.
"""

import asyncio
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from eventstore import (
    ConcurrencyConflict,
    EventMetadata,
    NewEvent,
    StreamDeleted,
    StreamWrite,
    UniqueClaim,
    UniqueKeyTaken,
    append,
    append_alone,
    load_stream,
)
from eventstore.group import GroupedAppends

Sessions = async_sessionmaker[AsyncSession]
META = EventMetadata(correlation_id="test", who="tests")


def events(*types: str) -> list[NewEvent]:
    return [NewEvent(t, 1, {"n": i}, META) for i, t in enumerate(types)]


class Write:
    def __init__(self, how: str, sessions: Sessions, engine: AsyncEngine) -> None:
        self.how, self.sessions, self.engine = how, sessions, engine
        self.grouped = GroupedAppends(engine)

    async def __call__(
        self,
        *writes: StreamWrite,
        claims: Sequence[UniqueClaim] = (),
        releases: Sequence[UniqueClaim] = (),
    ) -> None:
        if self.how == "alone":
            await append_alone(self.engine, writes, claims=claims, releases=releases)
            return
        if self.how == "grouped":
            await self.grouped.append(writes, claims=claims, releases=releases)
            return
        async with self.sessions() as session, session.begin():
            await append(session, writes, claims=claims, releases=releases)


@pytest.fixture(params=["in a session", "alone", "grouped"])
def write(request: pytest.FixtureRequest, sessions: Sessions, engine: AsyncEngine) -> Write:
    return Write(request.param, sessions, engine)


async def test_new_stream_starts_at_version_one_and_loads_in_order(
    sessions: Sessions, write: Write
) -> None:
    stream = uuid.uuid4()
    await write(StreamWrite(stream, "thing", 0, events("A", "B")))
    await write(StreamWrite(stream, "thing", 2, events("C")))
    async with sessions() as session:
        loaded = await load_stream(session, stream)
        first_two = await load_stream(session, stream, up_to_version=2)
    assert [(e.version, e.event_type) for e in loaded] == [(1, "A"), (2, "B"), (3, "C")]
    assert [e.event_type for e in first_two] == ["A", "B"]
    assert loaded[0].position < loaded[1].position < loaded[2].position
    assert loaded[0].metadata == {"correlation_id": "test", "causation_id": None, "who": "tests"}


async def test_stale_expected_version_is_a_typed_conflict(sessions: Sessions, write: Write) -> None:
    stream = uuid.uuid4()
    await write(StreamWrite(stream, "thing", 0, events("A")))
    with pytest.raises(ConcurrencyConflict) as raised:
        await write(StreamWrite(stream, "thing", 0, events("again")))
    assert (raised.value.expected, raised.value.actual) == (0, 1)
    with pytest.raises(ConcurrencyConflict) as raised:
        await write(StreamWrite(stream, "thing", 5, events("B")))
    assert (raised.value.expected, raised.value.actual) == (5, 1)


async def test_a_stream_of_another_type_is_not_written_through(
    sessions: Sessions, write: Write
) -> None:
    stream = uuid.uuid4()
    await write(StreamWrite(stream, "user", 0, events("A")))
    with pytest.raises(ConcurrencyConflict) as raised:
        await write(StreamWrite(stream, "order", 1, events("B")))
    assert raised.value.actual is None


async def test_closed_stream_refuses_further_events(sessions: Sessions, write: Write) -> None:
    stream = uuid.uuid4()
    await write(StreamWrite(stream, "thing", 0, events("A", "Closed"), close=True))
    with pytest.raises(StreamDeleted):
        await write(StreamWrite(stream, "thing", 2, events("B")))


async def test_multi_stream_append_is_all_or_nothing(sessions: Sessions, write: Write) -> None:
    fresh, existing = uuid.uuid4(), uuid.uuid4()
    await write(StreamWrite(existing, "thing", 0, events("A")))
    with pytest.raises(ConcurrencyConflict):
        await write(
            StreamWrite(fresh, "thing", 0, events("X")),
            StreamWrite(existing, "thing", 7, events("Y")),
        )
    async with sessions() as session:
        assert await load_stream(session, fresh) == []
        assert len(await load_stream(session, existing)) == 1


async def test_one_transaction_shares_one_transaction_id(sessions: Sessions, write: Write) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    await write(
        StreamWrite(first, "thing", 0, events("A")),
        StreamWrite(second, "thing", 0, events("B", "C")),
    )
    async with sessions() as session:
        recorded = [*await load_stream(session, first), *await load_stream(session, second)]
    assert len({e.position.transaction_id for e in recorded}) == 1


async def test_crossed_multi_stream_writers_do_not_deadlock(
    sessions: Sessions, write: Write
) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    await write(StreamWrite(a, "thing", 0, events("A")), StreamWrite(b, "thing", 0, events("B")))

    async def cross(first: uuid.UUID, second: uuid.UUID) -> str:
        try:
            await write(
                StreamWrite(first, "thing", 1, events("X")),
                StreamWrite(second, "thing", 1, events("Y")),
            )
        except ConcurrencyConflict:
            return "conflict"
        return "ok"

    crossed = [cross(a, b) if i % 2 else cross(b, a) for i in range(10)]
    outcomes = await asyncio.wait_for(asyncio.gather(*crossed), timeout=30)
    assert sorted(outcomes) == ["conflict"] * 9 + ["ok"]


async def test_of_concurrent_writers_from_one_version_exactly_one_wins(
    sessions: Sessions, write: Write
) -> None:
    stream = uuid.uuid4()
    await write(StreamWrite(stream, "thing", 0, events("A")))

    async def attempt() -> bool:
        try:
            await write(StreamWrite(stream, "thing", 1, events("B")))
        except ConcurrencyConflict:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt() for _ in range(20)))
    assert outcomes.count(True) == 1
    async with sessions() as session:
        assert [e.version for e in await load_stream(session, stream)] == [1, 2]


async def test_unique_key_is_held_by_one_stream_until_released(
    sessions: Sessions, write: Write
) -> None:
    owner, other = uuid.uuid4(), uuid.uuid4()
    value = f"{uuid.uuid4()}@example.com"

    def email(stream: uuid.UUID) -> list[UniqueClaim]:
        return [UniqueClaim("email", value, stream)]

    await write(StreamWrite(owner, "user", 0, events("A")), claims=email(owner))
    # The holder may claim again.
    await write(StreamWrite(owner, "user", 1, events("B")), claims=email(owner))
    with pytest.raises(UniqueKeyTaken):
        await write(StreamWrite(other, "user", 0, events("A")), claims=email(other))
    async with sessions() as session:
        assert await load_stream(session, other) == []  # refused as a whole
    # Not the holder: no effect.
    await write(StreamWrite(other, "user", 0, events("A")), releases=email(other))
    with pytest.raises(UniqueKeyTaken):
        await write(StreamWrite(other, "user", 1, events("B")), claims=email(other))
    await write(StreamWrite(owner, "user", 2, events("C")), releases=email(owner))
    await write(StreamWrite(other, "user", 1, events("B")), claims=email(other))


async def test_of_concurrent_claims_of_one_value_exactly_one_wins(write: Write) -> None:
    value = f"{uuid.uuid4()}@example.com"

    async def attempt() -> bool:
        stream = uuid.uuid4()
        try:
            await write(
                StreamWrite(stream, "user", 0, events("A")),
                claims=[UniqueClaim("email", value, stream)],
            )
        except UniqueKeyTaken:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt() for _ in range(20)))
    assert outcomes.count(True) == 1
