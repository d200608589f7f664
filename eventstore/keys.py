"""Unique keys and idempotency keys, written in the same transaction as the append."""

import hashlib
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from eventstore.errors import UniqueKeyTaken
from eventstore.records import JsonObject
from eventstore.tables import idempotency_keys, unique_keys


async def claim_unique(session: AsyncSession, scope: str, value: str, stream_id: UUID) -> None:
    """Reserve `value` for `stream_id`, or raise `UniqueKeyTaken` if another stream holds it.

    A concurrent claim of the same value waits on the first one's uncommitted row and then
    sees it, so of N simultaneous claims exactly one succeeds (guarantee 5).
    """
    claim = pg_insert(unique_keys).values(scope=scope, value=value, stream_id=stream_id)
    stmt = claim.on_conflict_do_update(
        index_elements=[unique_keys.c.scope, unique_keys.c.value],
        set_={"stream_id": claim.excluded.stream_id},
        where=unique_keys.c.stream_id == claim.excluded.stream_id,
    ).returning(unique_keys.c.stream_id)
    if (await (await session.connection()).execute(stmt)).first() is None:
        raise UniqueKeyTaken(scope)


async def release_unique(session: AsyncSession, scope: str, value: str, stream_id: UUID) -> None:
    await (await session.connection()).execute(
        delete(unique_keys).where(
            unique_keys.c.scope == scope,
            unique_keys.c.value == value,
            unique_keys.c.stream_id == stream_id,
        )
    )


@dataclass(frozen=True)
class StoredResponse:
    request_fingerprint: str
    status_code: int
    headers: dict[str, str]
    body: JsonObject


async def claim_idempotency_key(
    session: AsyncSession, key: str, request_fingerprint: str
) -> StoredResponse | None:
    """Queue for `key`, then return the answer stored under it, if any (guarantee 4).

    Concurrent retries of one request wait here for the first one's transaction and then
    find its answer; if the first rolled back, the next one runs the command itself. An
    advisory lock rather than an early insert, because an insert would give the transaction
    its id before the command queues for its streams (see `lock_streams`).
    """
    conn = await session.connection()
    await conn.execute(select(func.pg_advisory_xact_lock(_key_lock(key))))
    row = (
        await conn.execute(
            select(
                idempotency_keys.c.request_fingerprint,
                idempotency_keys.c.status_code,
                idempotency_keys.c.headers,
                idempotency_keys.c.body,
            ).where(idempotency_keys.c.key == key)
        )
    ).first()
    return None if row is None else StoredResponse(*row)


async def record_response(session: AsyncSession, key: str, response: StoredResponse) -> None:
    """Store the answer under the key this transaction queued for."""
    await (await session.connection()).execute(
        insert(idempotency_keys).values(
            key=key,
            request_fingerprint=response.request_fingerprint,
            status_code=response.status_code,
            headers=response.headers,
            body=response.body,
        )
    )


def _key_lock(key: str) -> int:
    # Keys are client strings: hash them into the advisory lock space, apart from streams'.
    digest = hashlib.blake2b(f"idempotency:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
