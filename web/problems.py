"""One problem+json (RFC 9457) error shape and the handlers that produce it."""

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger()


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ProblemDetail(BaseModel):
    """The body of every error answer; documented in both APIs' OpenAPI schemas."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        errors: Sequence[FieldError] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.body = ProblemDetail(
            type=type_,
            title=title,
            status=status,
            detail=detail,
            errors=list(errors) if errors is not None else None,
        )
        self.headers = dict(headers or {})


def invalid_request(errors: Sequence[FieldError]) -> Problem:
    """The 422 of a request whose fields fail their checks, as FastAPI's validation gives it."""
    return Problem(422, "Invalid request", "some fields are missing or invalid", errors=errors)


def problem_response(problem: Problem) -> JSONResponse:
    return render_problem(problem.body, problem.headers)


def render_problem(body: ProblemDetail, headers: Mapping[str, str]) -> JSONResponse:
    """The one rendering of a problem, so a stored one replays byte for byte."""
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=body.status,
        headers=dict(headers),
        media_type=PROBLEM_JSON,
    )


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw: Sequence[Any] = exc.errors()
    errors = [FieldError(loc=list(e["loc"]), msg=e["msg"], type=e["type"]) for e in raw]
    # The offending input is left out on purpose: it may be huge or personal data.
    if any(e.type == "json_invalid" for e in errors):
        return problem_response(Problem(400, "Malformed JSON", "the body is not valid JSON"))
    return problem_response(invalid_request(errors))


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}
    title = titles.get(exc.status_code, "HTTP error")
    return problem_response(Problem(exc.status_code, title, str(exc.detail), headers=exc.headers))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path)
    return problem_response(Problem(500, "Internal error", "the error was logged"))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemDetail, "content": {PROBLEM_JSON: {}}}
    for status in (400, 401, 403, 404, 409, 410, 412, 413, 422, 428, 503)
}
