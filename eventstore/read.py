"""Loading one stream or its head, and reading the global feed in subscriber order
(guarantee 1)."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, RowMapping, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventstore.position import START, Position
from eventstore.records import RecordedEvent
from eventstore.tables import Xid8, events, streams

_columns = (
    events.c.transaction_id,
    events.c.position,
    events.c.stream_id,
    events.c.stream_type,
    events.c.version,
    events.c.event_id,
    events.c.event_type,
    events.c.schema_version,
    events.c.data,
    events.c.metadata,
    events.c.recorded_at,
)


async def load_stream(
    session: AsyncSession, stream_id: UUID, up_to_version: int | None = None
) -> list[RecordedEvent]:
    """A stream's events, oldest first; empty when the stream does not exist."""
    query = select(*_columns).where(events.c.stream_id == stream_id).order_by(events.c.version)
    if up_to_version is not None:
        query = query.where(events.c.version <= up_to_version)
    result = await (await session.connection()).execute(query)
    return [_record(row._mapping) for row in result]


async def read_feed_page(
    session: AsyncSession, after: Position, limit: int, until: Position | None = None
) -> list[RecordedEvent]:
    """Up to `limit` events after `after` (and at or before `until`), in the order every
    subscriber sees them.

    Only transactions older than the oldest one still running are read: their rows are
    final, and any transaction that commits later has a larger id than all of them, so its
    events land after everything already read instead of in a gap behind the reader.
    """
    query = (
        select(*_columns)
        .where(
            _key() > _at(after),
            events.c.transaction_id < func.pg_snapshot_xmin(func.pg_current_snapshot()),
        )
        .order_by(events.c.transaction_id, events.c.position)
        .limit(limit)
    )
    if until is not None:
        query = query.where(_key() <= _at(until))
    result = await (await session.connection()).execute(query)
    return [_record(row._mapping) for row in result]


# A page is one statement, and that statement's own snapshot is all the feed's order needs.
_ONE_STATEMENT = {"isolation_level": "AUTOCOMMIT"}


async def read_feed_page_alone(
    sessions: async_sessionmaker[AsyncSession],
    after: Position,
    limit: int,
    until: Position | None = None,
) -> list[RecordedEvent]:
    """`read_feed_page` in a session of its own, with no transaction around its one statement:
    a BEGIN and a ROLLBACK would be two more round trips for each page, and a projector
    following a steady stream reads a page of a few events every few milliseconds. The pooled
    connection goes back with transactions on, as it came."""
    async with sessions() as session:
        await session.connection(execution_options=_ONE_STATEMENT)
        return await read_feed_page(session, after, limit, until)


async def read_feed(
    sessions: async_sessionmaker[AsyncSession], after: Position = START, batch_size: int = 500
) -> AsyncIterator[Sequence[RecordedEvent]]:
    """Batches of the feed after `after` until caught up; each batch read on its own."""
    while True:
        batch = await read_feed_page_alone(sessions, after, batch_size)
        if batch:
            yield batch
            after = batch[-1].position
        if len(batch) < batch_size:
            return


def _key() -> ColumnElement[Any]:
    return tuple_(events.c.transaction_id, events.c.position)


def _at(position: Position) -> ColumnElement[Any]:
    return tuple_(literal(position.transaction_id, Xid8), literal(position.position))


def _record(m: RowMapping) -> RecordedEvent:
    return RecordedEvent(
        position=Position(m["transaction_id"], m["position"]),
        stream_id=m["stream_id"],
        stream_type=m["stream_type"],
        version=m["version"],
        event_id=m["event_id"],
        event_type=m["event_type"],
        schema_version=m["schema_version"],
        data=m["data"],
        metadata=m["metadata"],
        recorded_at=m["recorded_at"],
    )


@dataclass(frozen=True)
class StreamHead:
    """What the store keeps of a stream besides its events: its type, its version, and
    whether a write closed it (`StreamWrite.close`)."""

    stream_type: str
    version: int
    deleted: bool


async def read_stream_head(session: AsyncSession, stream_id: UUID) -> StreamHead | None:
    """The stream's head, without reading its events; None when the stream does not exist."""
    query = select(streams.c.stream_type, streams.c.version, streams.c.deleted).where(
        streams.c.stream_id == stream_id
    )
    row = (await (await session.connection()).execute(query)).one_or_none()
    return None if row is None else StreamHead(row.stream_type, row.version, row.deleted)


async def load_streams(
    session: AsyncSession, stream_ids: Sequence[UUID]
) -> dict[UUID, list[RecordedEvent]]:
    """Several streams in one query, each oldest first; missing streams are left out."""
    query = (
        select(*_columns)
        .where(events.c.stream_id.in_(stream_ids))
        .order_by(events.c.stream_id, events.c.version)
    )
    loaded: dict[UUID, list[RecordedEvent]] = {}
    for row in await (await session.connection()).execute(query):
        record = _record(row._mapping)
        loaded.setdefault(record.stream_id, []).append(record)
    return loaded


async def feed_lag(
    session: AsyncSession, after: Position, cap: int = 100_000
) -> tuple[int, datetime | None]:
    """How many events lie after `after` (counted up to `cap`), and when the oldest was recorded."""
    pending = select(events.c.recorded_at).where(_key() > _at(after)).limit(cap).subquery()
    row = (
        await (await session.connection()).execute(
            select(func.count(), func.min(pending.c.recorded_at))
        )
    ).one()
    return int(row[0]), row[1]


@dataclass(frozen=True)
class FenceHolder:
    """The oldest transaction still running on the server: while it is open, the feed shows
    nothing committed after it began (guarantee 1), so this is what a waiting subscriber
    waits for."""

    pid: int
    application_name: str
    database: str | None
    transaction_started: datetime | None
    held_seconds: float


async def fence_holder(session: AsyncSession) -> FenceHolder | None:
    """The running transaction with the oldest transaction id, server-wide, or None.

    Only a transaction that has drawn an id (`backend_xid`) moves `pg_snapshot_xmin`; one that
    merely holds a snapshot (`backend_xmin`) does not hold the feed back. Sessions of other
    roles show no `backend_xid` unless the role may see them (`pg_read_all_stats`).
    """
    row = (
        await (await session.connection()).execute(
            text(
                "SELECT pid, application_name, datname, xact_start,"
                " EXTRACT(EPOCH FROM clock_timestamp() - xact_start) AS held"
                " FROM pg_stat_activity WHERE backend_xid IS NOT NULL"
                " ORDER BY age(backend_xid) DESC LIMIT 1"
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return FenceHolder(
        pid=row.pid,
        application_name=row.application_name or "",
        database=row.datname,
        transaction_started=row.xact_start,
        held_seconds=max(float(row.held or 0.0), 0.0),
    )
