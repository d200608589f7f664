"""Running a command: one transaction, with idempotent replays (guarantee 4).

The idempotency record is written in the same transaction as the events: either both
commit or neither does, so a retry never appends twice and never finds a stored answer for
events that were rolled back.

A refusal (404, 409, 410, 412) is the key's first answer too. With a key, the command runs in
a savepoint: a refusal undoes the command's writes but keeps the key claimed, and the refusal
commits under it. A retry then gets the same refusal even after the state has moved on, and a
concurrent retry, which waits on the claimed key, never runs the command a second time. A
fault (5xx) rolls everything back and leaves the key free, because retrying it may succeed.

Without a key, a command that reads nothing is its append alone, one statement with no
transaction around it (`handlers.Unit`).
"""

import hashlib
import json
import time
from collections.abc import Awaitable, Callable

from fastapi.responses import JSONResponse

from command_api.deps import CommandContext
from command_api.errors import REFUSALS, problem_for
from command_api.handlers import CommandResult, Unit
from command_api.metrics import COMMAND_SECONDS, CONCURRENCY_CONFLICTS, EVENTS_APPENDED
from command_api.schemas import Accepted
from eventstore import ConcurrencyConflict
from eventstore.keys import StoredResponse, claim_idempotency_key, record_response
from web.problems import Problem, ProblemDetail, problem_response, render_problem

Handler = Callable[[Unit], Awaitable[CommandResult]]


async def run_command(
    context: CommandContext,
    name: str,
    handle: Handler,
    *,
    location: Callable[[CommandResult], str] | None = None,
) -> JSONResponse:
    key = context.idempotency_key
    # Only a stored answer needs the request it answered: without a key nothing is stored.
    fingerprint = "" if key is None else await _fingerprint(context)
    started = time.perf_counter()
    state = context.request.app.state
    async with Unit(state.sessions, state.appends, alone=key is None) as unit:
        if key is None:
            result = await _decide(unit, name, handle)
        else:
            session = unit.session
            earlier = await claim_idempotency_key(session, key, fingerprint)
            if earlier is not None:
                return _replay(earlier, fingerprint)
            try:
                async with session.begin_nested():
                    result = await _decide(unit, name, handle)
            except REFUSALS as refusal:
                problem = problem_for(refusal)
                await record_response(session, key, _stored_problem(problem, fingerprint))
                return problem_response(problem)  # leaving the block commits the key
        response = _answer(result, fingerprint, location)
        if key is not None:
            await record_response(session, key, response)
    COMMAND_SECONDS.labels(name).observe(time.perf_counter() - started)
    EVENTS_APPENDED.labels(name).inc(result.events_appended)
    await context.wakeup.wake()
    return JSONResponse(response.body, status_code=response.status_code, headers=response.headers)


async def _decide(unit: Unit, name: str, handle: Handler) -> CommandResult:
    try:
        return await handle(unit)
    except ConcurrencyConflict:
        # Handlers lock what they load, so only a writer outside them can get here.
        CONCURRENCY_CONFLICTS.labels(name).inc()
        raise


async def _fingerprint(context: CommandContext) -> str:
    request = context.request
    # The route and the precondition are part of the command: the same key with another
    # path or another If-Match is another request, refused rather than answered from memory.
    if_match = request.headers.get("if-match", "").strip()
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n{if_match}\n".encode())
    digest.update(_canonical(await request.body()))
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    """The same JSON with other spacing or key order is the same request."""
    try:
        parsed = json.loads(body)
    # Not JSON (a DELETE's empty body), or nested too deep to parse (a body FastAPI did not
    # read, since the route takes none): the bytes as they are.
    except (ValueError, RecursionError):
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()


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


def _stored_problem(problem: Problem, fingerprint: str) -> StoredResponse:
    return StoredResponse(
        request_fingerprint=fingerprint,
        status_code=problem.body.status,
        headers=problem.headers,
        body=problem.body.model_dump(exclude_none=True),
    )


def _replay(earlier: StoredResponse, fingerprint: str) -> JSONResponse:
    if earlier.request_fingerprint != fingerprint:
        raise Problem(
            422,
            "Idempotency-Key reused",
            "this key was first used with another request; use a new key for a new command",
        )
    headers = {**earlier.headers, "Idempotent-Replayed": "true"}
    # Rendered again through the models that rendered the first answer: JSONB keeps neither
    # key order nor spacing, the models do, so the replayed body is the same bytes.
    if earlier.status_code >= 400:
        return render_problem(ProblemDetail.model_validate(earlier.body), headers)
    accepted = Accepted.model_validate(earlier.body)
    return JSONResponse(
        accepted.model_dump(mode="json"), status_code=earlier.status_code, headers=headers
    )
