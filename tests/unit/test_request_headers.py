"""`RequestHeader`: a header a dependency reads itself is refused and documented as FastAPI
would refuse and document a `Header()` parameter."""

import pytest
from starlette.requests import Request

from web.headers import RequestHeader
from web.problems import Problem

KEY = RequestHeader("Idempotency-Key", "the key", max_length=5, pattern="^[a-z]+$")


def _request(*headers: tuple[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


def test_read_in_any_case_or_absent() -> None:
    assert KEY.read(_request(("IDEMPOTENCY-key", "abcde"))) == "abcde"
    assert KEY.read(_request()) is None


def test_an_overlong_value_is_fastapis_422() -> None:
    with pytest.raises(Problem) as refused:
        KEY.read(_request(("Idempotency-Key", "abcdef")))
    body = refused.value.body.model_dump(exclude_none=True)
    assert body == {
        "type": "about:blank",
        "title": "Invalid request",
        "status": 422,
        "detail": "some fields are missing or invalid",
        "errors": [
            {
                "loc": ["header", "idempotency-key"],
                "msg": "String should have at most 5 characters",
                "type": "string_too_long",
            }
        ],
    }


def test_documented_as_an_optional_header() -> None:
    assert KEY.parameter() == {
        "name": "idempotency-key",
        "in": "header",
        "required": False,
        "description": "the key",
        "schema": {
            "type": "string",
            "title": "Idempotency-Key",
            "description": "the key",
            "maxLength": 5,
            "pattern": "^[a-z]+$",
        },
    }
    assert RequestHeader("If-None-Match").parameter()["schema"] == {
        "type": "string",
        "title": "If-None-Match",
    }
