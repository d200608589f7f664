"""Unique keys and idempotency keys, written in the same transaction as the append."""

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from eventstore.errors import UniqueKeyTaken
from eventstore.records import JsonObject
from eventstore.tables import IdempotencyKeyRow, UniqueKeyRow

unique_keys = UniqueKeyRow.__table__
idempotency_keys = IdempotencyKeyRow.__table__


async def claim_unique(session: AsyncSession, scope: str, value: str, stream_id: UUID) -> None:
    """Reserve `value` for `stream_id`, or raise `UniqueKeyTaken` if another stream holds it.

    A concurrent claim of the same value waits on the first one's uncommitted row and then
    sees it, so of N simultaneous claims exactly one succeeds (guarantee 5).
    """
    stmt = pg_insert(unique_keys).values(scope=scope, value=value, stream_id=stream_id)
    stmt = stmt.on_conflict_do_update(
        index_elements=[unique_keys.c.scope, unique_keys.c.value],
        set_={"stream_id": stmt.excluded.stream_id},
        where=unique_keys.c.stream_id == stmt.excluded.stream_id,
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


async def find_response(session: AsyncSession, key: str) -> StoredResponse | None:
    row = (
        await (await session.connection()).execute(
            select(
                idempotency_keys.c.request_fingerprint,
                idempotency_keys.c.status_code,
                idempotency_keys.c.headers,
                idempotency_keys.c.body,
            ).where(idempotency_keys.c.key == key)
        )
    ).first()
    return None if row is None else StoredResponse(*row)


async def save_response(session: AsyncSession, key: str, response: StoredResponse) -> bool:
    """Store the first answer for `key`; False if another request stored one first.

    When a retry runs at the same moment as the original, its insert waits for the
    original's transaction and then finds the key taken: the caller rolls back, so the
    retry appends nothing (guarantee 4).
    """
    stmt = (
        pg_insert(idempotency_keys)
        .values(
            key=key,
            request_fingerprint=response.request_fingerprint,
            status_code=response.status_code,
            headers=response.headers,
            body=response.body,
        )
        .on_conflict_do_nothing(index_elements=[idempotency_keys.c.key])
        .returning(idempotency_keys.c.key)
    )
    return (await (await session.connection()).execute(stmt)).first() is not None
