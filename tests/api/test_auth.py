"""Bearer auth on every route: read < write < admin; operations routes are open.

Refusals are aimed at a live user and an open order with requests that would succeed with the
right token, so a route that forgot its check answers 2xx, appends, and fails the test.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import (
    ADMIN_TOKEN,
    ANY_VERSION,
    READ_TOKEN,
    WRITE_TOKEN,
    client_for,
    count_events,
    if_match,
    unique_email,
)

Sessions = async_sessionmaker[AsyncSession]
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Targets:
    user_id: str
    order_id: str


@pytest.fixture(scope="module")
async def targets(command_app: FastAPI) -> Targets:
    async with client_for(command_app, WRITE_TOKEN) as client:
        user = await client.post("/users", json={"name": "Auth", "email": unique_email("auth")})
        assert user.status_code == 201, user.text
        user_id: str = user.json()["id"]
        order = await client.post(f"/users/{user_id}/orders", json=_order())
        assert order.status_code == 201, order.text
        order_id: str = order.json()["id"]
    return Targets(user_id, order_id)


def _order() -> dict[str, Any]:
    return {"product": "Tea", "quantity": 1, "unit_price": "4.20"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # "{user}" and "{order}" stand for the targets' ids
    body: Callable[[], dict[str, Any]] | None = None

    def url(self, targets: Targets) -> str:
        return self.path.format(user=targets.user_id, order=targets.order_id)

    async def call(
        self, client: httpx.AsyncClient, targets: Targets, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        json_body = None if self.body is None else self.body()
        # `*` on changes, so that nothing but the token stands between a request and success.
        preconditions = ANY_VERSION if self.method in {"PUT", "PATCH", "DELETE"} else {}
        return await client.request(
            self.method,
            self.url(targets),
            json=json_body,
            headers={**preconditions, **(headers or {})},
        )


WRITE_ROUTES = [
    Route("POST", "/users", lambda: {"name": "Someone", "email": unique_email("auth")}),
    Route("PUT", "/users/{user}", lambda: {"name": "Put", "email": unique_email("auth")}),
    Route("PATCH", "/users/{user}", lambda: {"name": "Patched"}),
    Route("POST", "/users/{user}/orders", _order),
    Route("PUT", "/orders/{order}", lambda: {**_order(), "quantity": 5}),
    Route("PATCH", "/orders/{order}", lambda: {"quantity": 9}),
    # The deletes come last: if one slips through, the routes above have had their turn.
    Route("DELETE", "/orders/{order}"),
    Route("DELETE", "/users/{user}"),
]
READ_ROUTES = [
    Route("GET", "/users/{user}/events"),
    Route("GET", "/orders/{order}/events"),
    Route("GET", "/events"),
]


def _route_params(routes: list[Route]) -> list[Any]:
    return [pytest.param(r, id=f"{r.method} {r.path}") for r in routes]


# The Authorization header each refusal sends (None: no header at all).
BAD_CREDENTIALS = [
    pytest.param(None, id="no Authorization header"),
    pytest.param("", id="empty Authorization header"),
    pytest.param("Token x", id="Token scheme"),
    pytest.param(f"Token {WRITE_TOKEN}", id="right token under the Token scheme"),
    pytest.param(f"Basic {WRITE_TOKEN}", id="right token under the Basic scheme"),
    pytest.param("Bearer", id="Bearer without a token"),
    pytest.param("Bearer ", id="Bearer and a space"),
    pytest.param("Bearer a b", id="Bearer with two words"),
    pytest.param(f"Bearer {WRITE_TOKEN} x", id="right token followed by junk"),
    pytest.param("Bearer wrong-token", id="unknown token"),
    pytest.param(f"Bearer {WRITE_TOKEN}x", id="right token with a character added"),
    pytest.param(f"Bearer {WRITE_TOKEN[:-1]}", id="right token with a character cut"),
    pytest.param(f"Bearer {WRITE_TOKEN.upper()}", id="right token in upper case"),
]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert isinstance(problem.get("type"), str)
    assert isinstance(problem.get("title"), str)
    assert problem.get("status") == status
    return problem


def _anonymous(app: FastAPI, authorization: str | None) -> httpx.AsyncClient:
    client = client_for(app, None)
    if authorization is not None:
        client.headers["Authorization"] = authorization
    return client


@pytest.mark.parametrize("authorization", BAD_CREDENTIALS)
@pytest.mark.parametrize("route", _route_params(WRITE_ROUTES + READ_ROUTES))
async def test_missing_malformed_or_wrong_token_is_401_with_a_bearer_challenge(
    route: Route,
    authorization: str | None,
    command_app: FastAPI,
    sessions: Sessions,
    targets: Targets,
) -> None:
    before = await count_events(sessions)
    async with _anonymous(command_app, authorization) as client:
        response = await route.call(client, targets)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    # A refusal does not repeat the credentials it was given.
    assert WRITE_TOKEN not in response.text
    assert await count_events(sessions) == before


@pytest.mark.parametrize("route", _route_params(WRITE_ROUTES))
async def test_a_read_token_on_a_write_route_is_403(
    route: Route, reader: httpx.AsyncClient, sessions: Sessions, targets: Targets
) -> None:
    before = await count_events(sessions)
    response = await route.call(reader, targets)
    assert_problem(response, 403)
    assert await count_events(sessions) == before


@pytest.mark.parametrize("route", _route_params(READ_ROUTES))
@pytest.mark.parametrize(
    "token",
    [
        pytest.param(READ_TOKEN, id="read token"),
        pytest.param(WRITE_TOKEN, id="write token"),
        pytest.param(ADMIN_TOKEN, id="admin token"),
    ],
)
async def test_read_routes_answer_every_token_that_may_read(
    route: Route, token: str, command_app: FastAPI, targets: Targets
) -> None:
    async with client_for(command_app, token) as client:
        response = await route.call(client, targets)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"


async def test_the_bearer_scheme_is_case_insensitive(
    command_app: FastAPI, targets: Targets
) -> None:
    async with _anonymous(command_app, f"bearer {READ_TOKEN}") as client:
        response = await client.get(f"/users/{targets.user_id}/events")
    assert response.status_code == 200, response.text


async def test_an_admin_token_can_write_and_read(command_app: FastAPI, sessions: Sessions) -> None:
    before = await count_events(sessions)
    async with client_for(command_app, ADMIN_TOKEN) as admin:
        user = await admin.post("/users", json={"name": "Root", "email": unique_email("admin")})
        assert user.status_code == 201, user.text
        user_id = user.json()["id"]
        changed = await admin.patch(
            f"/users/{user_id}", json={"name": "Root Two"}, headers=if_match(1)
        )
        assert changed.status_code == 200, changed.text
        order = await admin.post(f"/users/{user_id}/orders", json=_order())
        assert order.status_code == 201, order.text
        order_id = order.json()["id"]
        # The user is at version 3 (registered, renamed, order placed), the order at 1.
        for method, path, body, version in [
            ("PUT", f"/orders/{order_id}", {**_order(), "quantity": 3}, 1),
            ("PATCH", f"/orders/{order_id}", {"quantity": 4}, 2),
            ("DELETE", f"/orders/{order_id}", None, 3),
            ("PUT", f"/users/{user_id}", {"name": "Root", "email": unique_email("admin")}, 3),
            ("DELETE", f"/users/{user_id}", None, 5),
        ]:
            response = await admin.request(method, path, json=body, headers=if_match(version))
            assert response.status_code == 200, (method, path, response.text)
        history = await admin.get(f"/users/{user_id}/events")
        order_history = await admin.get(f"/orders/{order_id}/events")
        feed = await admin.get("/events", params={"limit": 1})
    assert history.status_code == order_history.status_code == feed.status_code == 200
    # register, rename, order placed, rename and new email (PUT), deleted
    assert [e["type"] for e in history.json()["events"]] == [
        "UserRegistered",
        "UserNameChanged",
        "UserOrderPlaced",
        "UserNameChanged",
        "UserEmailChanged",
        "UserDeleted",
    ]
    assert [e["type"] for e in order_history.json()["events"]] == [
        "OrderPlaced",
        "OrderChanged",
        "OrderChanged",
        "OrderCancelled",
    ]
    assert await count_events(sessions) == before + 10
    who = history.json()["events"][0]["metadata"]["who"]
    assert who.startswith("admin:")
    assert ADMIN_TOKEN not in who


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
@pytest.mark.parametrize(
    "authorization",
    [pytest.param(None, id="no token"), pytest.param("Bearer wrong-token", id="unknown token")],
)
async def test_operations_routes_need_no_token(
    path: str, authorization: str | None, command_app: FastAPI
) -> None:
    async with _anonymous(command_app, authorization) as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    assert "www-authenticate" not in response.headers
