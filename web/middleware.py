"""ASGI middleware: correlation ids, request metrics and logs, and the request-body cap."""

import os
import re
import time

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.metrics import HTTP_REQUESTS, HTTP_SECONDS
from web.problems import Problem, problem_response

CORRELATION_HEADER = "x-correlation-id"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,100}")
# ASCII digits only: `str.isdigit()` also accepts "²", which `int()` then refuses.
_DIGITS = re.compile(r"[0-9]+")
log = structlog.get_logger()


def _too_large(limit: int) -> str:
    return f"the limit is {limit} bytes"


class RequestContext:
    """Gives each request a correlation id (the caller's, if well formed), logs and counts it."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, CORRELATION_HEADER.encode())
        # 128 random bits in hex, as `uuid4().hex` gives, without the UUID object it builds
        # and drops: that took 3% of a `GET /users/{id}`'s CPU (bench, issue 6).
        correlation_id = given if given and _SAFE_ID.fullmatch(given) else os.urandom(16).hex()
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append(
                    (CORRELATION_HEADER.encode(), correlation_id.encode())
                )
            await send(message)

        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", "unmatched")
                method = scope["method"]
                HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
                HTTP_SECONDS.labels(self.service, method, route).observe(elapsed)
                log.info(
                    "request",
                    method=method,
                    route=route,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                )


class BodyLimit:
    """Refuses bodies over `limit` bytes with 413, by Content-Length or by counting chunks.

    A Content-Length that is not a number is the client's syntax error (400), not a size.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        problem = None if declared is None else self._check_declared(declared)
        if problem is not None:
            await problem_response(problem)(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException, because FastAPI turns anything else raised while
                    # it reads the body into a 400.
                    raise HTTPException(413, _too_large(self.limit))
            return message

        await self.app(scope, counting_receive, send)

    def _check_declared(self, declared: str) -> Problem | None:
        digits = declared.strip()
        if not _DIGITS.fullmatch(digits):
            return Problem(400, "Bad Content-Length", "Content-Length must be a number of bytes")
        # Lengths first: `int()` refuses strings of thousands of digits.
        significant = digits.lstrip("0")
        if len(significant) > len(str(self.limit)) or int(significant or "0") > self.limit:
            return Problem(413, "Request body too large", _too_large(self.limit))
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
