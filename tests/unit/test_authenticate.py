"""`authenticate` identifies a request's token once, however many of its dependencies ask."""

import pytest
from fastapi import FastAPI
from starlette.requests import Request

from web.auth import Access, TokenRing, authenticate
from web.problems import Problem


def _app(write: str) -> FastAPI:
    app = FastAPI()
    app.state.tokens = TokenRing(read=[], write=[write], admin=[])
    return app


def _request(app: FastAPI, token: str) -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "app": app})


def test_a_request_is_identified_once() -> None:
    app = _app("w-token")
    request = _request(app, "w-token")
    first = authenticate(request, Access.WRITE)
    app.state.tokens = TokenRing(read=[], write=[], admin=[])  # the token no longer known
    assert authenticate(request, Access.READ) == first
    with pytest.raises(Problem) as refused:
        authenticate(_request(app, "w-token"), Access.WRITE)
    assert refused.value.body.status == 401


def test_each_check_still_asks_for_its_own_access() -> None:
    request = _request(_app("w-token"), "w-token")
    assert authenticate(request, Access.WRITE).access is Access.WRITE
    with pytest.raises(Problem) as refused:
        authenticate(request, Access.ADMIN)
    assert refused.value.body.status == 403
