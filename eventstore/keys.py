"""Unique keys and idempotency keys, written in the same transaction as the append."""

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete, select, update
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
    """Claim `key` for this request, or return the answer stored under it (guarantee 4).

    Claiming first makes concurrent retries of one request queue behind the first: each
    waits for the first one's transaction and then finds its answer. If the first rolled
    back, the next one claims the key and runs the command itself.
    """
    conn = await session.connection()
    claimed = await conn.execute(
        pg_insert(idempotency_keys)
        .values(key=key, request_fingerprint=request_fingerprint)
        .on_conflict_do_nothing(index_elements=[idempotency_keys.c.key])
        .returning(idempotency_keys.c.key)
    )
    if claimed.first() is not None:
        return None
    row = (
        await conn.execute(
            select(
                idempotency_keys.c.request_fingerprint,
                idempotency_keys.c.status_code,
                idempotency_keys.c.headers,
                idempotency_keys.c.body,
            ).where(idempotency_keys.c.key == key)
        )
    ).one()
    return StoredResponse(*row)


async def record_response(session: AsyncSession, key: str, response: StoredResponse) -> None:
    """Store the answer under the key this transaction claimed."""
    await (await session.connection()).execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.key == key)
        .values(status_code=response.status_code, headers=response.headers, body=response.body)
    )
