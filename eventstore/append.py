"""Appending events with optimistic concurrency, without any table or global lock.

Each stream's row in `streams` is advanced with a compare-and-set on its version: the
row lock that UPDATE takes makes a second writer of the same stream wait, re-read the
row, and find the version moved (guarantee 3). Writers of different streams never wait
for one another. Commands first queue for their streams with `lock_streams`.
"""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from eventstore.errors import ConcurrencyConflict, StreamDeleted
from eventstore.position import Position
from eventstore.records import AppendResult, StreamWrite
from eventstore.tables import events, streams


async def append(session: AsyncSession, writes: Sequence[StreamWrite]) -> AppendResult:
    """Append to one or several streams in the session's transaction; all or nothing."""
    if not writes or not any(write.events for write in writes):
        raise ValueError("nothing to append")
    conn = await session.connection()
    # Locking streams in one global order keeps two multi-stream writers from deadlocking.
    for write in sorted(writes, key=lambda w: w.stream_id):
        await _advance_stream(conn, write)
    rows = [
        {
            "stream_id": write.stream_id,
            "stream_type": write.stream_type,
            "version": write.expected_version + offset,
            "event_id": event.event_id,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            "data": event.data,
            "metadata": event.metadata.model_dump(mode="json"),
        }
        for write in writes
        for offset, event in enumerate(write.events, start=1)
    ]
    inserted = await conn.execute(
        insert(events).values(rows).returning(events.c.transaction_id, events.c.position)
    )
    transaction_id, position = max(tuple(row) for row in inserted)
    return AppendResult(
        versions={write.stream_id: write.new_version for write in writes},
        last_position=Position(transaction_id, position),
        event_count=len(rows),
    )


async def lock_streams(session: AsyncSession, stream_ids: Sequence[UUID]) -> None:
    """Queue for the streams a command is about to load and write, in one global order.

    Commands on one stream then wait for each other instead of failing with conflicts, and
    what a command loads is the version its append will find; the compare-and-set in
    `append` stays as the backstop for writers that do not lock.

    Transaction-level advisory locks, not row locks, because they do not give the
    transaction an id: the feed orders by that id, so a writer must not draw one before it
    has every stream lock. Otherwise a writer that drew its id early and then waited for a
    stream would land its event before the one it waited for (see `read_feed_page`).
    Callers take these locks before their first write in the transaction.
    """
    keys = sorted({_lock_key(stream_id) for stream_id in stream_ids})
    if keys:
        conn = await session.connection()
        await conn.execute(
            text(
                "SELECT pg_advisory_xact_lock(k)"
                " FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
            ),
            {"keys": keys},
        )


def _lock_key(stream_id: UUID) -> int:
    # 64 bits of a random UUID: a collision costs two streams some waiting, nothing more.
    return int.from_bytes(stream_id.bytes[:8], "big", signed=True)


async def _advance_stream(conn: AsyncConnection, write: StreamWrite) -> None:
    if write.expected_version == 0:
        claimed = await conn.execute(
            pg_insert(streams)
            .values(
                stream_id=write.stream_id,
                stream_type=write.stream_type,
                version=write.new_version,
                deleted=write.close,
            )
            .on_conflict_do_nothing(index_elements=[streams.c.stream_id])
            .returning(streams.c.stream_id)
        )
    else:
        claimed = await conn.execute(
            update(streams)
            .where(
                streams.c.stream_id == write.stream_id,
                streams.c.stream_type == write.stream_type,
                streams.c.version == write.expected_version,
                streams.c.deleted.is_(False),
            )
            .values(version=write.new_version, deleted=write.close)
            .returning(streams.c.stream_id)
        )
    if claimed.first() is None:
        raise await _why_not(conn, write)


async def _why_not(conn: AsyncConnection, write: StreamWrite) -> Exception:
    row = (
        await conn.execute(
            select(streams.c.stream_type, streams.c.version, streams.c.deleted).where(
                streams.c.stream_id == write.stream_id
            )
        )
    ).first()
    if row is not None and row.deleted and row.stream_type == write.stream_type:
        return StreamDeleted(write.stream_id)
    actual = row.version if row is not None and row.stream_type == write.stream_type else None
    return ConcurrencyConflict(write.stream_id, write.expected_version, actual)
