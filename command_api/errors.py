"""How domain and store failures read over HTTP; all as problem+json."""

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from command_api.handlers import PreconditionFailed
from domain.errors import DomainError, Gone, NotFound, RuleViolation
from eventstore import ConcurrencyConflict, StreamDeleted, UniqueKeyTaken
from eventstore.errors import StoreUnavailable, is_connection_failure
from web.problems import Problem, problem_response

log = structlog.get_logger()


def problem_for(exc: Exception) -> Problem:
    """The answer to a refusal (one of `REFUSALS`)."""
    match exc:
        case NotFound():
            return Problem(404, "Not found", str(exc))
        case Gone() | StreamDeleted():
            return Problem(410, "Gone", str(exc))
        case RuleViolation():
            return Problem(409, "Conflict", str(exc))
        case PreconditionFailed(current_version=version):
            return Problem(
                412,
                "Precondition failed",
                f"the stream is at version {version}",
                headers={"ETag": f'"{version}"'},
            )
        case UniqueKeyTaken(scope="user_email"):
            return Problem(409, "Email taken", "a live user already has this email")
        case ConcurrencyConflict():
            return Problem(409, "Concurrent update", "the stream changed meanwhile; try again")
    return Problem(500, "Internal error", "the error was logged")


async def _on_domain(_: Request, exc: Exception) -> JSONResponse:
    return problem_response(problem_for(exc))


async def _on_database_down(request: Request, exc: Exception) -> JSONResponse:
    # A fault in PostgreSQL is the server's, not the client's: 503, and try again soon.
    if isinstance(exc, DBAPIError) and not _is_outage(exc):
        log.error("database error", path=request.url.path, exc_info=exc)
        return problem_response(Problem(500, "Internal error", "the error was logged"))
    log.warning("database unavailable", path=request.url.path, error=repr(exc)[:300])
    return problem_response(
        Problem(
            503,
            "Database unavailable",
            "PostgreSQL did not answer; try again shortly",
            headers={"Retry-After": "1"},
        )
    )


def _is_outage(exc: DBAPIError) -> bool:
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return is_connection_failure(sqlstate)


async def _on_admin_store_down(request: Request, exc: Exception) -> JSONResponse:
    # Only the admin routes reach MongoDB or wait on Redis; commands never do (guarantee 6).
    store = "MongoDB" if isinstance(exc, PyMongoError) else "Redis"
    log.warning(f"{store.lower()} unavailable", path=request.url.path, error=repr(exc)[:300])
    return problem_response(
        Problem(
            503,
            f"{store} unavailable",
            f"{store} did not answer in time; try again shortly",
            headers={"Retry-After": "5"},
        )
    )


REFUSALS: tuple[type[Exception], ...] = (
    DomainError,
    PreconditionFailed,
    StreamDeleted,
    UniqueKeyTaken,
    ConcurrencyConflict,
)
OUTAGES: tuple[type[Exception], ...] = (
    DBAPIError,
    StoreUnavailable,
    PoolTimeout,
    OSError,
    TimeoutError,
)


def install_error_handlers(app: FastAPI) -> None:
    for refusal in REFUSALS:
        app.add_exception_handler(refusal, _on_domain)
    for outage in OUTAGES:
        app.add_exception_handler(outage, _on_database_down)
    for outage in (PyMongoError, RedisError):
        app.add_exception_handler(outage, _on_admin_store_down)
