"""The benchmarks' bulk loader writes by COPY what `eventstore.append` would have written, so
streams it loaded behave as any other: read back in order, appended to at their version."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench import events as bulk
from eventstore import ConcurrencyConflict, NewEvent, StreamWrite, append, load_stream

ORDERS, RENAMES = 2, 1


async def test_loaded_streams_read_back_in_order_and_take_appends_at_their_version(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    user_ids, events = await bulk.load(sessions, 3, ORDERS, RENAMES)
    assert events == 3 * bulk.events_per_user(ORDERS, RENAMES)
    async with sessions() as session:
        stream = await load_stream(session, user_ids[0])
    assert stream[0].event_type == "UserRegistered"
    assert [event.version for event in stream] == list(range(1, len(stream) + 1))
    assert stream[0].metadata["who"] == "bench"

    def next_event(expected_version: int) -> StreamWrite:
        event = NewEvent("UserNameChanged", 1, {"name": "Next"}, bulk.META, uuid.uuid4())
        return StreamWrite(user_ids[0], "user", expected_version, [event])

    async with sessions() as session:
        await session.begin()
        await append(session, [next_event(len(stream))])
        # Rolled back: the suite's other tests read this database, and this event proves
        # nothing more once accepted.
        await session.rollback()
    with pytest.raises(ConcurrencyConflict):
        async with sessions() as session, session.begin():
            await append(session, [next_event(0)])


async def test_only_new_streams_are_copied(sessions: async_sessionmaker[AsyncSession]) -> None:
    event = NewEvent("UserNameChanged", 1, {"name": "Next"}, bulk.META)
    async with sessions() as session, session.begin():
        with pytest.raises(ValueError, match="only new streams"):
            await bulk.copy_new_streams(session, [StreamWrite(uuid.uuid4(), "user", 1, [event])])
