"""Running a command: one transaction, idempotent replays, retries of lost races.

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
from command_api.metrics import COMMAND_SECONDS, CONCURRENCY_CONFLICTS
from command_api.schemas import Accepted
from eventstore import ConcurrencyConflict
from eventstore.keys import StoredResponse, find_response, save_response
from web.problems import Problem

Handler = Callable[[AsyncSession], Awaitable[CommandResult]]

# A lost race is retried from a fresh load: the precondition check then answers 412 to a
# client whose If-Match went stale, and commands without one simply apply to the new state.
ATTEMPTS = 3


class _AnsweredMeanwhile(Exception):
    pass


async def run_command(
    session: AsyncSession,
    context: CommandContext,
    name: str,
    handle: Handler,
    *,
    location: Callable[[CommandResult], str] | None = None,
) -> JSONResponse:
    fingerprint = await _fingerprint(context)
    for attempt in range(1, ATTEMPTS + 1):
        started = time.perf_counter()
        try:
            async with session.begin():
                if context.idempotency_key is not None:
                    earlier = await find_response(session, context.idempotency_key)
                    if earlier is not None:
                        return _replay(earlier, fingerprint)
                result = await handle(session)
                response = _answer(result, fingerprint, location)
                if context.idempotency_key is not None and not await save_response(
                    session, context.idempotency_key, response
                ):
                    raise _AnsweredMeanwhile
        except ConcurrencyConflict:
            CONCURRENCY_CONFLICTS.labels(name).inc()
            if attempt == ATTEMPTS:
                raise
            continue
        except _AnsweredMeanwhile:
            # A retry of this request committed first: answer what it answered.
            async with session.begin():
                earlier = await find_response(session, str(context.idempotency_key))
            assert earlier is not None
            return _replay(earlier, fingerprint)
        COMMAND_SECONDS.labels(name).observe(time.perf_counter() - started)
        return JSONResponse(
            response.body,
            status_code=response.status_code,
            headers=response.headers,
            background=BackgroundTask(context.wakeup.wake),
        )
    raise AssertionError("unreachable")


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
