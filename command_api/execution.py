"""Running a command: one transaction, with idempotent replays.

The idempotency record is written in the same transaction as the events (guarantee 4):
either both commit or neither does, so a retry never appends twice and never finds a
stored answer for events that were rolled back.
"""

import hashlib
import time
from collections.abc import Awaitable, Callable

from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask

from command_api.deps import CommandContext
from command_api.handlers import CommandResult
from command_api.metrics import COMMAND_SECONDS, CONCURRENCY_CONFLICTS, EVENTS_APPENDED
from command_api.schemas import Accepted
from eventstore import ConcurrencyConflict
from eventstore.keys import StoredResponse, claim_idempotency_key, record_response
from web.problems import Problem

Handler = Callable[[AsyncSession], Awaitable[CommandResult]]


async def run_command(
    session: AsyncSession,
    context: CommandContext,
    name: str,
    handle: Handler,
    *,
    location: Callable[[CommandResult], str] | None = None,
) -> JSONResponse:
    fingerprint = await _fingerprint(context)
    key = context.idempotency_key
    started = time.perf_counter()
    try:
        async with session.begin():
            if key is not None:
                earlier = await claim_idempotency_key(session, key, fingerprint)
                if earlier is not None:
                    return _replay(earlier, fingerprint)
            result = await handle(session)
            response = _answer(result, fingerprint, location)
            if key is not None:
                await record_response(session, key, response)
    except ConcurrencyConflict:
        # Handlers lock what they load, so only a writer outside them can get here.
        CONCURRENCY_CONFLICTS.labels(name).inc()
        raise
    COMMAND_SECONDS.labels(name).observe(time.perf_counter() - started)
    EVENTS_APPENDED.labels(name).inc(result.events_appended)
    return JSONResponse(
        response.body,
        status_code=response.status_code,
        headers=response.headers,
        background=BackgroundTask(context.wakeup.wake),
    )


async def _fingerprint(context: CommandContext) -> str:
    request = context.request
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(await request.body())
    return digest.hexdigest()


def _answer(
    result: CommandResult, fingerprint: str, location: Callable[[CommandResult], str] | None
) -> StoredResponse:
    body = Accepted(id=result.stream_id, version=result.version, position=str(result.position))
    headers = {"ETag": f'"{result.version}"', "Event-Position": str(result.position)}
    if location is not None:
        headers["Location"] = location(result)
    return StoredResponse(
        request_fingerprint=fingerprint,
        status_code=201 if location is not None else 200,
        headers=headers,
        body=body.model_dump(mode="json"),
    )


def _replay(earlier: StoredResponse, fingerprint: str) -> JSONResponse:
    if earlier.request_fingerprint != fingerprint:
        raise Problem(
            422,
            "Idempotency-Key reused",
            "this key was first used with another request; use a new key for a new command",
        )
    return JSONResponse(
        earlier.body,
        status_code=earlier.status_code,
        headers={**earlier.headers, "Idempotent-Replayed": "true"},
    )
