"""The transaction a command runs in (`handlers.Unit`) commits only when the command ends
without an error: a fault after the first write stores neither its events nor its
Idempotency-Key, so a retry runs the command afresh (guarantee 4); and a command that has
read appends in the transaction it read in."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from command_api.handlers import Unit
from eventstore import EventMetadata, NewEvent, StreamWrite, load_stream
from eventstore.group import GroupedAppends
from eventstore.keys import StoredResponse, record_response
from eventstore.tables import IdempotencyKeyRow

Sessions = async_sessionmaker[AsyncSession]
ANSWER = StoredResponse("fingerprint", 200, {}, {"id": "x"})
META = EventMetadata(correlation_id="test", who="tests")


async def _stored(sessions: Sessions, key: str) -> bool:
    async with sessions() as session:
        return await session.get(IdempotencyKeyRow, key) is not None


async def test_a_command_that_fails_after_writing_leaves_nothing_behind(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    key = f"unit-{uuid.uuid4().hex}"

    async def failing_command() -> None:
        async with Unit(sessions, GroupedAppends(engine), alone=False) as unit:
            await record_response(unit.session, key, ANSWER)
            raise RuntimeError("a fault after the first write")

    with pytest.raises(RuntimeError, match="after the first write"):
        await failing_command()
    assert not await _stored(sessions, key)


async def test_a_command_that_ends_well_commits_what_it_wrote(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    key = f"unit-{uuid.uuid4().hex}"
    async with Unit(sessions, GroupedAppends(engine), alone=False) as unit:
        await record_response(unit.session, key, ANSWER)
    assert await _stored(sessions, key)


async def test_once_a_command_has_read_its_append_joins_that_transaction(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    """A command that may append alone stops being alone when it takes the session: what it
    read and what it appends commit or roll back together."""
    stream_id = uuid.uuid4()
    write = StreamWrite(stream_id, "user", 0, [NewEvent("Tested", 1, {}, META)])

    async def command_that_reads_appends_and_fails() -> None:
        async with Unit(sessions, GroupedAppends(engine), alone=True) as unit:
            await load_stream(unit.session, stream_id)
            await unit.append([write])
            raise RuntimeError("a fault after the append")

    with pytest.raises(RuntimeError, match="after the append"):
        await command_that_reads_appends_and_fails()
    async with sessions() as session:
        assert await load_stream(session, stream_id) == []
