"""Bearer tokens for calling services: read < write < admin (DESIGN.md, Operations)."""

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated

from fastapi import Depends, Request

from web.problems import Problem


class Access(IntEnum):
    READ = 1
    WRITE = 2
    ADMIN = 3


@dataclass(frozen=True)
class Caller:
    """Who called: a stable, non-secret name for the token, recorded as the events' `who`."""

    principal: str
    access: Access


class TokenRing:
    """The configured tokens, kept only as digests and compared in constant time."""

    def __init__(self, read: Iterable[str], write: Iterable[str], admin: Iterable[str]) -> None:
        self._entries: list[tuple[bytes, Access]] = [
            (_digest(token), access)
            for tokens, access in (
                (read, Access.READ),
                (write, Access.WRITE),
                (admin, Access.ADMIN),
            )
            for token in tokens
        ]

    def identify(self, token: str) -> Caller | None:
        digest = _digest(token)
        best = 0
        # Every entry is compared, match or not, so timing tells nothing about which one it was.
        for known, access in self._entries:
            if hmac.compare_digest(digest, known):
                best = max(best, access)
        if best == 0:
            return None
        return Caller(
            principal=f"{Access(best).name.lower()}:{digest.hex()[:12]}", access=Access(best)
        )


_BEARER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="orders-es"'}


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# Where a request keeps its caller once identified: a route's dependencies may each need it.
_CALLER = "orders_es.caller"


def authenticate(request: Request, needed: Access) -> Caller:
    caller: Caller | None = request.scope.get(_CALLER)
    if caller is None:
        caller = request.scope[_CALLER] = _identify(request)
    if caller.access < needed:
        raise Problem(403, "Forbidden", f"this route needs a {needed.name.lower()} token")
    return caller


def _identify(request: Request) -> Caller:
    ring: TokenRing = request.app.state.tokens
    header = request.headers.get("authorization")
    if header is None:
        raise Problem(401, "Unauthorized", "a bearer token is required", headers=_CHALLENGE)
    match = _BEARER.fullmatch(header.strip())
    if match is None:
        raise Problem(401, "Unauthorized", "malformed Authorization header", headers=_CHALLENGE)
    caller = ring.identify(match.group(1))
    if caller is None:
        raise Problem(401, "Unauthorized", "unknown token", headers=_CHALLENGE)
    return caller


def require(needed: Access) -> Callable[[Request], Awaitable[Caller]]:
    # A coroutine although nothing in it waits: FastAPI runs a plain function dependency in a
    # worker thread, and that hop cost more than the check itself (bench, issue 6).
    async def dependency(request: Request) -> Caller:
        return authenticate(request, needed)

    return dependency


ReadCaller = Annotated[Caller, Depends(require(Access.READ))]
WriteCaller = Annotated[Caller, Depends(require(Access.WRITE))]
AdminCaller = Annotated[Caller, Depends(require(Access.ADMIN))]
