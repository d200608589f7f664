"""MongoDB faults read as 503 problem+json: the server's trouble, not the client's."""

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError

from web.problems import Problem, problem_response

log = structlog.get_logger()


async def _on_mongo_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ConnectionFailure | ExecutionTimeout):
        log.warning("mongodb unavailable", path=request.url.path, error=repr(exc)[:300])
    else:
        # Not an outage by its type, but nothing the client sent can cause one either: every
        # filter value is a literal. Logged loudly, still a 503, since retrying may well work.
        log.error("mongodb error", path=request.url.path, exc_info=exc)
    return problem_response(
        Problem(
            503,
            "Read store unavailable",
            "MongoDB did not answer in time; try again shortly",
            headers={"Retry-After": "1"},
        )
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PyMongoError, _on_mongo_error)
