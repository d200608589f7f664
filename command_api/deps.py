"""Typed dependencies: the one way a route gets a DB session, its command context, or (for
the admin routes) the projections' stores and the projector's queue.

All are coroutines, though none awaits anything: FastAPI runs a plain `def` dependency in
its thread pool, a thread hop per dependency per request. And those of every command take only
the request, and check the token and read their headers themselves (`web.headers`): a
dependency of FastAPI's, or a `Header()` parameter, costs CPU on every request.
"""

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from arq.connections import ArqRedis
from fastapi import Depends, Request
from pymongo.asynchronous.database import AsyncDatabase
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from command_api.preconditions import IfMatch, MalformedIfMatch
from command_api.wakeup import ProjectorWakeup
from eventstore import EventMetadata
from web.auth import Access, authenticate
from web.headers import RequestHeader, reads_headers
from web.problems import Problem


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]


async def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


# For work that opens sessions of its own, like measuring a projection's lag.
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]


async def _read_store(request: Request) -> AsyncDatabase[dict[str, Any]]:
    db: AsyncDatabase[dict[str, Any]] = request.app.state.read_store
    return db


ReadStoreDep = Annotated[AsyncDatabase[dict[str, Any]], Depends(_read_store)]


async def _projector_queue(request: Request) -> ArqRedis:
    queue: ArqRedis = request.app.state.projector_queue
    return queue


ProjectorQueueDep = Annotated[ArqRedis, Depends(_projector_queue)]

_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
# `*`, or a list of entity tags (RFC 9110); weak ones parse, and never match.
_IF_MATCH_PATTERN = r'^(\*|(W/)?"[\x21\x23-\x7e]*"( *, *(W/)?"[\x21\x23-\x7e]*")*)$'


@dataclass(frozen=True)
class CommandContext:
    """What every command carries besides its body: who, why, and its idempotency key."""

    metadata: EventMetadata
    idempotency_key: str | None
    request: Request

    @property
    def wakeup(self) -> ProjectorWakeup:
        wakeup: ProjectorWakeup = self.request.app.state.wakeup
        return wakeup


IDEMPOTENCY_KEY = RequestHeader(
    "Idempotency-Key",
    "retries with the same key get the first answer again",
    max_length=200,
    pattern=f"^{_IDEMPOTENCY_KEY.pattern}$",
)
IF_MATCH = RequestHeader(
    "If-Match",
    'required (428 without it): the `ETag` the last response gave, like `"3"`, or `*` for any '
    "version",
    max_length=100,
    # Documented, not enforced here: other text is a 400 (`IfMatch.parse`).
    pattern=_IF_MATCH_PATTERN,
)


@reads_headers(IDEMPOTENCY_KEY)
async def _command_context(request: Request) -> CommandContext:
    caller = authenticate(request, Access.WRITE)
    idempotency_key = IDEMPOTENCY_KEY.read(request)
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise Problem(400, "Bad Idempotency-Key", "use 1 to 200 visible ASCII characters")
    metadata = EventMetadata(
        correlation_id=request.state.correlation_id,
        causation_id=str(uuid.uuid4()),
        who=caller.principal,
    )
    scoped_key = None if idempotency_key is None else f"{caller.principal}:{idempotency_key}"
    return CommandContext(metadata, scoped_key, request)


CommandDep = Annotated[CommandContext, Depends(_command_context)]


@reads_headers(IF_MATCH)
async def _if_match(request: Request) -> IfMatch:
    # Guarantee 3: a change without the version it expects would overwrite whatever is there.
    # The caller is checked first (identified once per request: the command's context
    # identified it already).
    authenticate(request, Access.WRITE)
    if_match = IF_MATCH.read(request)
    if if_match is None:
        raise Problem(
            428,
            "Precondition required",
            'send If-Match with the ETag the last response gave, like "3" (or * for any version)',
        )
    try:
        return IfMatch.parse(if_match)
    except MalformedIfMatch as error:
        raise Problem(400, "Bad If-Match", str(error)) from None


IfMatchDep = Annotated[IfMatch, Depends(_if_match)]
