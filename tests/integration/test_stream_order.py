"""A stream's events reach the feed in version order, however its writers queued for it.

The feed orders by the writing transaction's id, and PostgreSQL hands out that id at a
transaction's first write or row lock. A writer that drew its id early (by locking another
stream, or by claiming an idempotency key) and then waited for a stream held by a younger
transaction would land its later version *before* the younger one's earlier version.
"""

import asyncio
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventstore import EventMetadata, NewEvent, StreamWrite, append, lock_streams
from eventstore.keys import claim_idempotency_key
from eventstore.tables import events

Sessions = async_sessionmaker[AsyncSession]
META = EventMetadata(correlation_id="test", who="tests")


def one(kind: str) -> list[NewEvent]:
    return [NewEvent(kind, 1, {}, META)]


async def new_stream(sessions: Sessions) -> uuid.UUID:
    stream = uuid.uuid4()
    async with sessions() as session, session.begin():
        await append(session, [StreamWrite(stream, "thing", 0, one("Created"))])
    return stream


async def versions_in_feed_order(sessions: Sessions, stream: uuid.UUID) -> list[int]:
    async with sessions() as session:
        rows = await session.execute(
            select(events.c.version)
            .where(events.c.stream_id == stream)
            .order_by(events.c.transaction_id, events.c.position)
        )
        return [version for (version,) in rows]


async def race(sessions: Sessions, stream: uuid.UUID, older_starts_with: str) -> None:
    """`older` starts first and then waits for `stream`, which `younger` locks and writes."""
    other = await new_stream(sessions)
    async with sessions() as older, sessions() as younger:
        await older.begin()
        if older_starts_with == "another stream":
            await lock_streams(older, [other])
        else:
            # The key of the command in `older`, claimed as a command does it.
            assert await claim_idempotency_key(older, uuid.uuid4().hex, "fingerprint") is None
        await younger.begin()
        await lock_streams(younger, [stream])

        waiting = asyncio.create_task(lock_streams(older, [stream]))
        await asyncio.sleep(0.3)
        assert not waiting.done(), "the second writer must queue for the stream"
        await append(younger, [StreamWrite(stream, "thing", 1, one("Second"))])
        await younger.commit()

        await waiting
        await append(older, [StreamWrite(stream, "thing", 2, one("Third"))])
        await older.commit()


async def test_a_writer_that_locked_another_stream_first_still_lands_after(
    sessions: Sessions,
) -> None:
    stream = await new_stream(sessions)
    await race(sessions, stream, older_starts_with="another stream")
    assert await versions_in_feed_order(sessions, stream) == [1, 2, 3]


async def test_a_writer_that_claimed_its_idempotency_key_first_still_lands_after(
    sessions: Sessions,
) -> None:
    stream = await new_stream(sessions)
    await race(sessions, stream, older_starts_with="an idempotency key")
    assert await versions_in_feed_order(sessions, stream) == [1, 2, 3]
