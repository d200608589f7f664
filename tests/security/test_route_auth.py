"""Every route of both APIs, found in `app.routes`, refuses bad credentials (401) and too low a
token (403); a route added later is covered without touching this file.

What each route needs follows the contract (DESIGN.md, Operations): `/admin/...` an admin
token, other reads a read token, other methods a write token. Each request would get past
everything but the token (a JSON body, `If-Match: *`), so a route that forgot its check answers
something other than 401/403 and fails the test.
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from command_api.app import create_app as create_command_app
from query_api.app import create_app as create_query_app
from settings import Settings
from tests.conftest import ADMIN_TOKEN, ANY_VERSION, READ_TOKEN, WRITE_TOKEN, client_for
from web.auth import Access

PROBLEM_JSON = "application/problem+json"
# Operations routes are open on purpose, and the API documents are public.
OPEN = {
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}
TOKENS = {Access.READ: READ_TOKEN, Access.WRITE: WRITE_TOKEN, Access.ADMIN: ADMIN_TOKEN}
_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Guarded:
    api: str  # "command" or "query"
    method: str
    path: str

    @property
    def needs(self) -> Access:
        if self.path.startswith("/admin"):
            return Access.ADMIN
        return Access.READ if self.method == "GET" else Access.WRITE

    def url(self) -> str:
        # Ids are fresh UUIDs, names a projection that does not exist: no side effect even if
        # a check were missing.
        return _PARAMETER.sub(
            lambda m: str(uuid.uuid4()) if m.group(1).endswith("id") else "no-such-name",
            self.path,
        )

    async def call(self, client: httpx.AsyncClient) -> httpx.Response:
        if self.method == "GET":
            return await client.get(self.url())
        return await client.request(self.method, self.url(), json={}, headers=ANY_VERSION)


def guarded_routes(api: str, app: FastAPI) -> list[Guarded]:
    found = [
        Guarded(api, method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path is not None and route.path not in OPEN
        for method in sorted((route.methods or set()) - {"HEAD"})
    ]
    assert found, f"no routes found on the {api} API: the discovery itself is broken"
    return found


# Apps built only to list their routes: nothing is started, nothing connects.
ROUTES = guarded_routes("command", create_command_app(Settings())) + guarded_routes(
    "query", create_query_app(Settings())
)


def _params(routes: list[Guarded]) -> list[Any]:
    return [pytest.param(r, id=f"{r.api} {r.method} {r.path}") for r in routes]


def test_the_discovery_sees_the_routes_of_the_contract() -> None:
    seen = {(r.api, r.method, r.path) for r in ROUTES}
    assert {
        ("command", "POST", "/users"),
        ("command", "DELETE", "/orders/{order_id}"),
        ("command", "GET", "/events"),
        ("command", "POST", "/admin/projections/{name}/rebuild"),
        ("query", "GET", "/users/{user_id}"),
        ("query", "GET", "/orders"),
    } <= seen


@pytest.fixture
def app_of(command_app: FastAPI, query_app: FastAPI) -> Callable[[Guarded], FastAPI]:
    return lambda route: command_app if route.api == "command" else query_app


def _client(app: FastAPI, authorization: str | None) -> httpx.AsyncClient:
    client = client_for(app, None)
    if authorization is not None:
        client.headers["Authorization"] = authorization
    return client


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["status"] == status


@pytest.mark.parametrize("route", _params(ROUTES))
async def test_every_guarded_route_refuses_bad_credentials_and_too_low_a_token(
    route: Guarded, app_of: Callable[[Guarded], FastAPI]
) -> None:
    app = app_of(route)
    for authorization in (None, "Bearer", "Basic x", "Bearer a b", "Bearer wrong-token"):
        async with _client(app, authorization) as client:
            response = await route.call(client)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer"), authorization

    for lower in (access for access in Access if access < route.needs):
        async with client_for(app, TOKENS[lower]) as client:
            response = await route.call(client)
        assert_problem(response, 403)

    # The token it needs gets past the check (to a 404 or a 422 about the made-up request).
    async with client_for(app, TOKENS[route.needs]) as client:
        response = await route.call(client)
    assert response.status_code not in (401, 403), response.text
