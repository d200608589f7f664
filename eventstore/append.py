"""Appending events with optimistic concurrency, without any table or global lock.

An append is one call of `es_append` (migrations 0002, 0003), so one round trip: each stream's
row in `streams` is advanced with a compare-and-set on its version, and the row lock that UPDATE
takes makes a second writer of the same stream wait, re-read the row and find the version
moved (guarantee 3). Writers of different streams never wait for one another. Commands that
load before they decide first queue for their streams with `lock_streams`.
"""

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from asyncpg import InterfaceError, PostgresError, Record
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from eventstore.errors import (
    ConcurrencyConflict,
    StoreUnavailable,
    StreamDeleted,
    UniqueKeyTaken,
    is_connection_failure,
)
from eventstore.position import Position
from eventstore.records import AppendResult, StreamWrite, UniqueClaim

_CALL = "SELECT transaction_id, event_position FROM es_append($1)"
# SQLSTATEs that es_append raises; class Y is free for applications.
_STREAM_REFUSED = "YS409"
_UNIQUE_TAKEN = "YU409"


async def append(
    session: AsyncSession,
    writes: Sequence[StreamWrite],
    *,
    claims: Sequence[UniqueClaim] = (),
    releases: Sequence[UniqueClaim] = (),
) -> AppendResult:
    """Append to one or several streams in the session's transaction; all or nothing.

    `claims` reserve values for streams, raising `UniqueKeyTaken` if another stream holds
    one; of N simultaneous claims of a value exactly one succeeds (guarantee 5). `releases`
    give values back. Both commit or roll back with the events.
    """
    payload = commit_payload(writes, claims, releases)
    conn = await session.connection()
    try:
        rows = (await conn.exec_driver_sql(_CALL, (payload,))).all()
    except DBAPIError as error:
        raise _refusal(error.orig.__cause__ if error.orig else None) or error from None
    return append_result(writes, [tuple(row) for row in rows])


async def append_alone(
    engine: AsyncEngine,
    writes: Sequence[StreamWrite],
    *,
    claims: Sequence[UniqueClaim] = (),
    releases: Sequence[UniqueClaim] = (),
) -> AppendResult:
    """`append` in a transaction of its own, for writers with nothing else to do in one.

    The call runs in PostgreSQL's implicit transaction of one statement, straight on the
    pooled asyncpg connection: no BEGIN and no COMMIT to wait for, one round trip in all.
    """
    rows = await run_in_own_transaction(engine, _CALL, commit_payload(writes, claims, releases))
    return append_result(writes, [tuple(row) for row in rows])


async def run_in_own_transaction(
    engine: AsyncEngine, statement: str, *arguments: object
) -> list[Record]:
    """One statement in a transaction of its own, raising what `append` raises."""
    async with _pooled(engine) as pooled:
        driver = pooled.driver_connection
        assert driver is not None
        try:
            rows: list[Record] = await driver.fetch(statement, *arguments)
        except PostgresError as error:
            refusal = _refusal(error)
            if refusal is not None:
                raise refusal from None
            if not is_connection_failure(error.sqlstate):
                raise
            await greenlet_spawn(pooled.invalidate, error)
            raise StoreUnavailable(str(error)) from error
        except (InterfaceError, OSError) as error:
            # The driver's own errors bypass SQLAlchemy, which would otherwise have dropped
            # this connection from the pool.
            await greenlet_spawn(pooled.invalidate, error)
            raise StoreUnavailable(str(error)) from error
    return rows


@asynccontextmanager
async def _pooled(engine: AsyncEngine) -> AsyncIterator[PoolProxiedConnection]:
    """A connection of the engine's pool without an `AsyncConnection` around it, which
    would cost this one statement three times the CPU of the checkout itself. Returned
    through the pool's own code, which SQLAlchemy runs in a greenlet, as its async API does."""
    pooled = await engine.raw_connection()
    try:
        yield pooled
    finally:
        await greenlet_spawn(pooled.close)


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


def commit_payload(
    writes: Sequence[StreamWrite], claims: Sequence[UniqueClaim], releases: Sequence[UniqueClaim]
) -> str:
    """The argument of `es_append`."""
    if not writes or not any(write.events for write in writes):
        raise ValueError("nothing to append")
    return json.dumps(
        {
            "writes": [
                {
                    "stream_id": str(write.stream_id),
                    "stream_type": write.stream_type,
                    "expected": write.expected_version,
                    "version": write.new_version,
                    "close": write.close,
                }
                for write in writes
            ],
            "events": [
                {
                    "stream_id": str(write.stream_id),
                    "stream_type": write.stream_type,
                    "version": write.expected_version + offset,
                    "event_id": str(event.event_id),
                    "event_type": event.event_type,
                    "schema_version": event.schema_version,
                    "data": event.data,
                    "metadata": event.metadata.model_dump(mode="json"),
                }
                for write in writes
                for offset, event in enumerate(write.events, start=1)
            ],
            "claims": [_key(claim) for claim in claims],
            "releases": [_key(release) for release in releases],
        },
        separators=(",", ":"),
    )


def _key(claim: UniqueClaim) -> dict[str, str]:
    return {"scope": claim.scope, "value": claim.value, "stream_id": str(claim.stream_id)}


def append_result(writes: Sequence[StreamWrite], rows: list[tuple[Any, ...]]) -> AppendResult:
    """The answer to an append, from the rows (transaction id, event position) it returned."""
    transaction_id, position = max(rows)
    return AppendResult(
        versions={write.stream_id: write.new_version for write in writes},
        last_position=Position(transaction_id, position),
        event_count=len(rows),
    )


def _refusal(error: BaseException | None) -> Exception | None:
    """The store's own exception for a check `es_append` refused, from its SQLSTATE."""
    if not isinstance(error, PostgresError):
        return None
    return refusal_of(error.sqlstate, error.detail)


def refusal_of(state: object, detail: object) -> Exception | None:
    """The store's own exception for the SQLSTATE and DETAIL of an error `es_append` raised."""
    if state == _UNIQUE_TAKEN:
        return UniqueKeyTaken(str(detail))
    if state != _STREAM_REFUSED:
        return None
    found = json.loads(str(detail))
    stream_id, expected = UUID(found["stream_id"]), int(found["expected"])
    # A stream of another type is, to this writer, no stream at all.
    if not found["same_type"]:
        return ConcurrencyConflict(stream_id, expected, None)
    if found["deleted"]:
        return StreamDeleted(stream_id)
    return ConcurrencyConflict(stream_id, expected, found["version"])
