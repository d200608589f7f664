"""Idempotency keys, written in the same transaction as the command's append."""

import hashlib
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from eventstore.records import JsonObject
from eventstore.tables import idempotency_keys


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
