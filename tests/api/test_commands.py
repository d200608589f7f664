"""The command API's behaviour over HTTP: the contract in DESIGN.md, one behaviour per test."""

import asyncio
import json
import re
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import (
    ADMIN_TOKEN,
    ANY_VERSION,
    WRITE_TOKEN,
    client_for,
    count_events,
    if_match,
    unique_email,
)

Sessions = async_sessionmaker[AsyncSession]
PROBLEM_JSON = "application/problem+json"
POSITION = re.compile(r"\d+-\d+")
ORDER = {"product": "Espresso beans, 1 kg", "quantity": 2, "unit_price": "18.50"}


# -- helpers ---------------------------------------------------------------------------------


async def register(writer: httpx.AsyncClient, email: str | None = None, name: str = "Ada") -> str:
    response = await writer.post("/users", json={"name": name, "email": email or unique_email()})
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


async def place_order(writer: httpx.AsyncClient, user_id: str, **changes: Any) -> str:
    response = await writer.post(f"/users/{user_id}/orders", json={**ORDER, **changes})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


async def history(reader: httpx.AsyncClient, kind: str, stream_id: str) -> list[dict[str, Any]]:
    response = await reader.get(f"/{kind}/{stream_id}/events")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["stream_id"] == stream_id
    events: list[dict[str, Any]] = body["events"]
    return events


def position(token: str) -> tuple[int, int]:
    """A position token is "<transaction_id>-<position>"; ordered as that pair."""
    assert POSITION.fullmatch(token), token
    transaction_id, pos = token.split("-")
    return int(transaction_id), int(pos)


def assert_accepted(response: httpx.Response, status: int, stream_id: str, version: int) -> str:
    """The answer every successful command gives; returns its position token."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"id", "version", "position"}
    assert body["id"] == stream_id
    assert body["version"] == version
    assert response.headers["etag"] == f'"{version}"'
    assert response.headers["event-position"] == body["position"]
    position(body["position"])
    token: str = body["position"]
    return token


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert isinstance(problem.get("type"), str)
    assert isinstance(problem.get("title"), str)
    assert problem.get("status") == status
    return problem


def shouted(email: str) -> str:
    """The same address with its local part and domain in upper case."""
    return email.upper()


# -- registering and changing users ---------------------------------------------------------


async def test_registering_a_user_answers_201_with_location_etag_and_position(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient, sessions: Sessions
) -> None:
    email = unique_email("register")
    before = await count_events(sessions)
    response = await writer.post("/users", json={"name": "Ada Lovelace", "email": email})
    user_id = response.json()["id"]
    uuid.UUID(user_id)
    token = assert_accepted(response, 201, user_id, 1)
    assert response.headers["location"] == f"/users/{user_id}"
    assert await count_events(sessions) == before + 1
    [registered] = await history(reader, "users", user_id)
    assert registered["type"] == "UserRegistered"
    assert registered["data"] == {"name": "Ada Lovelace", "email": email}
    assert registered["position"] == token
    assert registered["version"] == 1


async def test_each_registration_gets_a_new_id_and_a_later_position(
    writer: httpx.AsyncClient,
) -> None:
    first = await writer.post("/users", json={"name": "One", "email": unique_email()})
    second = await writer.post("/users", json={"name": "Two", "email": unique_email()})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert position(first.json()["position"]) < position(second.json()["position"])


async def test_put_and_patch_with_the_current_if_match_answer_200_and_the_next_version(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    email = unique_email()
    user_id = await register(writer, email, name="Ada")
    put = await writer.put(
        f"/users/{user_id}", json={"name": "Ada L.", "email": email}, headers={"If-Match": '"1"'}
    )
    assert_accepted(put, 200, user_id, 2)
    new_email = unique_email()
    patch = await writer.patch(
        f"/users/{user_id}", json={"email": new_email}, headers={"If-Match": '"2"'}
    )
    patched_at = assert_accepted(patch, 200, user_id, 3)
    events = await history(reader, "users", user_id)
    assert [(e["type"], e["data"]) for e in events[1:]] == [
        ("UserNameChanged", {"name": "Ada L."}),
        ("UserEmailChanged", {"email": new_email}),
    ]
    assert events[-1]["position"] == patched_at


async def test_orders_take_if_match_like_users(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    order_id = await place_order(writer, await register(writer))
    put = await writer.put(
        f"/orders/{order_id}", json={**ORDER, "quantity": 3}, headers={"If-Match": '"1"'}
    )
    assert_accepted(put, 200, order_id, 2)
    patch = await writer.patch(
        f"/orders/{order_id}", json={"unit_price": "20"}, headers={"If-Match": '"2"'}
    )
    assert_accepted(patch, 200, order_id, 3)
    events = await history(reader, "orders", order_id)
    assert events[-1]["type"] == "OrderChanged"
    assert events[-1]["data"] == {"product": ORDER["product"], "quantity": 3, "unit_price": "20.00"}


STALE_WRITES = [
    pytest.param("users", "PATCH", {"name": "Stale"}, id="PATCH /users/{id}"),
    pytest.param("users", "PUT", {"name": "Stale", "email": "NEW"}, id="PUT /users/{id}"),
    pytest.param("users", "DELETE", None, id="DELETE /users/{id}"),
    pytest.param("orders", "PATCH", {"quantity": 11}, id="PATCH /orders/{id}"),
    pytest.param("orders", "PUT", {**ORDER, "quantity": 11}, id="PUT /orders/{id}"),
    pytest.param("orders", "DELETE", None, id="DELETE /orders/{id}"),
]


async def a_stream_at_version_2(writer: httpx.AsyncClient, kind: str) -> str:
    """A user or an order, changed once since it was created."""
    user_id = await register(writer)
    if kind == "users":
        moved = await writer.patch(
            f"/users/{user_id}", json={"name": "Moved on"}, headers=if_match(1)
        )
        assert_accepted(moved, 200, user_id, 2)
        return user_id
    order_id = await place_order(writer, user_id)
    moved = await writer.patch(f"/orders/{order_id}", json={"quantity": 5}, headers=if_match(1))
    assert_accepted(moved, 200, order_id, 2)
    return order_id


def fresh(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """`body` with "NEW" replaced by an address no one holds."""
    if body is None:
        return None
    return {k: unique_email() if v == "NEW" else v for k, v in body.items()}


@pytest.mark.parametrize(("kind", "method", "body"), STALE_WRITES)
async def test_a_stale_if_match_is_412_with_the_current_etag_and_appends_nothing(
    kind: str,
    method: str,
    body: dict[str, Any] | None,
    writer: httpx.AsyncClient,
    sessions: Sessions,
) -> None:
    stream_id = await a_stream_at_version_2(writer, kind)
    body = fresh(body)
    before = await count_events(sessions)

    stale = await writer.request(
        method, f"/{kind}/{stream_id}", json=body, headers={"If-Match": '"1"'}
    )
    assert_problem(stale, 412)
    assert stale.headers["etag"] == '"2"'
    assert await count_events(sessions) == before

    # With the ETag it was given, the same request goes through.
    current = await writer.request(
        method, f"/{kind}/{stream_id}", json=body, headers={"If-Match": stale.headers["etag"]}
    )
    assert current.status_code == 200, current.text
    assert await count_events(sessions) > before


@pytest.mark.parametrize(("kind", "method", "body"), STALE_WRITES)
async def test_a_change_without_if_match_is_428_and_appends_nothing(
    kind: str,
    method: str,
    body: dict[str, Any] | None,
    writer: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessions: Sessions,
) -> None:
    """Guarantee 3: without the version it expects, a write would overwrite whatever is there."""
    stream_id = await a_stream_at_version_2(writer, kind)
    before = await count_events(sessions)
    response = await writer.request(method, f"/{kind}/{stream_id}", json=fresh(body))
    problem = assert_problem(response, 428)
    assert "If-Match" in problem["detail"]
    assert await count_events(sessions) == before
    assert [e["version"] for e in await history(reader, kind, stream_id)] == [1, 2]


IF_MATCH_FORMS = [
    pytest.param('"2"', 200, id="the current tag"),
    pytest.param("*", 200, id="any version"),
    pytest.param('"1", "2"', 200, id="a list holding the current tag"),
    pytest.param(' "7" ,, "2" , ', 200, id="a list with empty elements and spaces"),
    pytest.param('"1", W/"2"', 412, id="the current version only as a weak tag"),
    pytest.param('W/"2"', 412, id="a weak tag never matches"),
    pytest.param('"02"', 412, id="the version in another spelling"),
    pytest.param('"abc"', 412, id="a tag that is no version"),
    pytest.param('"-1"', 412, id="a negative version"),
    pytest.param('"2,3"', 412, id="a tag holding a comma"),
    pytest.param('"1", "3"', 412, id="a list without the current tag"),
]


@pytest.mark.parametrize(("header", "status"), IF_MATCH_FORMS)
async def test_if_match_is_star_or_a_list_of_strong_entity_tags(
    header: str, status: int, writer: httpx.AsyncClient, sessions: Sessions
) -> None:
    """RFC 9110: any listed tag that strongly equals the ETag matches; any well-formed
    header that does not match is 412 with the current ETag, never a 400."""
    user_id = await a_stream_at_version_2(writer, "users")
    before = await count_events(sessions)
    response = await writer.patch(
        f"/users/{user_id}", json={"name": "Conditional"}, headers={"If-Match": header}
    )
    if status == 200:
        assert_accepted(response, 200, user_id, 3)
        assert await count_events(sessions) == before + 1
    else:
        assert_problem(response, 412)
        assert response.headers["etag"] == '"2"'
        assert await count_events(sessions) == before


UNCHANGED = [
    pytest.param("users", "PATCH", {"name": "Ada"}, id="PATCH /users/{id} same name"),
    pytest.param("users", "PATCH", {"name": "  Ada  "}, id="PATCH /users/{id} same name padded"),
    pytest.param("users", "PATCH", {"email": "SAME"}, id="PATCH /users/{id} same email"),
    pytest.param("users", "PUT", {"name": "Ada", "email": "SAME"}, id="PUT /users/{id} same"),
    pytest.param("orders", "PATCH", {"quantity": 2}, id="PATCH /orders/{id} same quantity"),
    pytest.param(
        "orders", "PATCH", {"unit_price": "18.5"}, id="PATCH /orders/{id} same price, other form"
    ),
    pytest.param("orders", "PUT", ORDER, id="PUT /orders/{id} same"),
]


@pytest.mark.parametrize(("kind", "method", "body"), UNCHANGED)
async def test_unchanged_values_answer_200_without_a_new_event(
    kind: str,
    method: str,
    body: dict[str, Any],
    writer: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessions: Sessions,
) -> None:
    email = unique_email()
    stream_id = await register(writer, email, name="Ada")
    if kind == "orders":
        stream_id = await place_order(writer, stream_id)
    body = {k: email if v == "SAME" else v for k, v in body.items()}
    before = await count_events(sessions)

    response = await writer.request(
        method, f"/{kind}/{stream_id}", json=body, headers={"If-Match": '"1"'}
    )
    token = assert_accepted(response, 200, stream_id, 1)
    # Nothing new: the answer points at the stream's last event, which is still its first.
    [only] = await history(reader, kind, stream_id)
    assert token == only["position"]
    assert await count_events(sessions) == before


# -- email uniqueness ------------------------------------------------------------------------


async def test_email_uniqueness_ignores_case(writer: httpx.AsyncClient, sessions: Sessions) -> None:
    email = unique_email("taken")
    await register(writer, email)
    other = await register(writer)
    before = await count_events(sessions)
    for variant in (email, shouted(email), email.capitalize()):
        assert_problem(await writer.post("/users", json={"name": "B", "email": variant}), 409)
        patched = await writer.patch(
            f"/users/{other}", json={"email": variant}, headers=if_match(1)
        )
        assert_problem(patched, 409)
        put = await writer.put(
            f"/users/{other}", json={"name": "Renamed", "email": variant}, headers=if_match(1)
        )
        assert_problem(put, 409)
    assert await count_events(sessions) == before


async def test_addresses_equal_only_under_case_folding_are_different_emails(
    writer: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:10]
    await register(writer, f"straße-{tag}@example.com")
    other = await writer.post("/users", json={"name": "B", "email": f"strasse-{tag}@example.com"})
    assert other.status_code == 201, other.text
    # ...while upper and lower case of the same letters still name one address.
    same = await writer.post("/users", json={"name": "C", "email": f"STRAẞE-{tag}@example.com"})
    assert_problem(same, 409)


async def test_deleting_a_user_frees_their_email(writer: httpx.AsyncClient) -> None:
    email = unique_email("freed")
    user_id = await register(writer, email)
    assert_problem(await writer.post("/users", json={"name": "B", "email": email}), 409)
    deleted = await writer.delete(f"/users/{user_id}", headers=if_match(1))
    assert deleted.status_code == 200, deleted.text
    again = await writer.post("/users", json={"name": "B", "email": shouted(email)})
    assert again.status_code == 201, again.text
    assert again.json()["id"] != user_id


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_changing_a_users_email_frees_the_old_address(
    method: str, writer: httpx.AsyncClient
) -> None:
    old, new = unique_email("old"), unique_email("new")
    user_id = await register(writer, old)
    body = {"name": "Ada", "email": new} if method == "PUT" else {"email": new}
    changed = await writer.request(method, f"/users/{user_id}", json=body, headers=if_match(1))
    assert changed.status_code == 200, changed.text
    assert_problem(await writer.post("/users", json={"name": "B", "email": new}), 409)
    takes_old = await writer.post("/users", json={"name": "C", "email": old})
    assert takes_old.status_code == 201, takes_old.text


async def test_changing_only_the_case_of_ones_own_email_is_allowed(
    writer: httpx.AsyncClient,
) -> None:
    email = unique_email("own")
    user_id = await register(writer, email)
    response = await writer.patch(
        f"/users/{user_id}", json={"email": email.capitalize()}, headers=if_match(1)
    )
    assert response.status_code == 200, response.text
    # ...and the address is still held: by this user, not freed.
    assert_problem(await writer.post("/users", json={"name": "B", "email": email}), 409)


# -- deleted and unknown streams -------------------------------------------------------------


USER_COMMANDS = [
    pytest.param("PUT", "", {"name": "Late", "email": unique_email("late")}, id="PUT /users/{id}"),
    pytest.param("PATCH", "", {"name": "Late"}, id="PATCH /users/{id}"),
    pytest.param("DELETE", "", None, id="DELETE /users/{id}"),
    pytest.param("POST", "/orders", ORDER, id="POST /users/{id}/orders"),
]


@pytest.mark.parametrize(("method", "suffix", "body"), USER_COMMANDS)
async def test_commands_on_a_deleted_user_answer_410(
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
    writer: httpx.AsyncClient,
    sessions: Sessions,
) -> None:
    user_id = await register(writer)
    deleted = await writer.delete(f"/users/{user_id}", headers=if_match(1))
    assert_accepted(deleted, 200, user_id, 2)
    before = await count_events(sessions)
    # The current ETag, so that only the deletion can refuse it (POST ignores If-Match).
    response = await writer.request(
        method, f"/users/{user_id}{suffix}", json=body, headers=if_match(2)
    )
    assert_problem(response, 410)
    assert await count_events(sessions) == before


@pytest.mark.parametrize(("method", "suffix", "body"), USER_COMMANDS)
async def test_commands_on_an_unknown_user_answer_404(
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
    writer: httpx.AsyncClient,
    sessions: Sessions,
) -> None:
    before = await count_events(sessions)
    # Even `*` ("any version") does not conjure up a stream that is not there.
    response = await writer.request(
        method, f"/users/{uuid.uuid4()}{suffix}", json=body, headers=ANY_VERSION
    )
    assert_problem(response, 404)
    assert await count_events(sessions) == before


@pytest.mark.parametrize(
    ("method", "body"),
    [
        pytest.param("PUT", ORDER, id="PUT /orders/{id}"),
        pytest.param("PATCH", {"quantity": 3}, id="PATCH /orders/{id}"),
        pytest.param("DELETE", None, id="DELETE /orders/{id}"),
    ],
)
async def test_commands_on_an_unknown_order_answer_404(
    method: str, body: dict[str, Any] | None, writer: httpx.AsyncClient, sessions: Sessions
) -> None:
    before = await count_events(sessions)
    response = await writer.request(
        method, f"/orders/{uuid.uuid4()}", json=body, headers=ANY_VERSION
    )
    assert_problem(response, 404)
    assert await count_events(sessions) == before


@pytest.mark.parametrize("kind", ["users", "orders"])
async def test_the_history_of_an_unknown_stream_is_404(
    kind: str, reader: httpx.AsyncClient
) -> None:
    assert_problem(await reader.get(f"/{kind}/{uuid.uuid4()}/events"), 404)


# -- orders ----------------------------------------------------------------------------------


async def test_placing_an_order_answers_201_and_records_it_on_both_streams(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient, sessions: Sessions
) -> None:
    user_id = await register(writer)
    before = await count_events(sessions)
    response = await writer.post(
        f"/users/{user_id}/orders", json={"product": "Tea", "quantity": 3, "unit_price": "4.5"}
    )
    order_id = response.json()["id"]
    token = assert_accepted(response, 201, order_id, 1)
    assert response.headers["location"] == f"/orders/{order_id}"
    assert await count_events(sessions) == before + 2
    [placed] = await history(reader, "orders", order_id)
    assert placed["type"] == "OrderPlaced"
    # Money is a decimal with two places, stored as text: never a float.
    assert placed["data"] == {
        "user_id": user_id,
        "product": "Tea",
        "quantity": 3,
        "unit_price": "4.50",
    }
    attached = (await history(reader, "users", user_id))[-1]
    assert (attached["type"], attached["data"]) == ("UserOrderPlaced", {"order_id": order_id})
    assert position(placed["position"])[0] == position(attached["position"])[0]
    assert token == max(placed["position"], attached["position"], key=position)


async def test_placing_an_order_for_an_unknown_user_is_404(
    writer: httpx.AsyncClient, sessions: Sessions
) -> None:
    before = await count_events(sessions)
    assert_problem(await writer.post(f"/users/{uuid.uuid4()}/orders", json=ORDER), 404)
    assert await count_events(sessions) == before


async def test_placing_an_order_reads_the_users_head_not_their_history(
    writer: httpx.AsyncClient, command_app: FastAPI
) -> None:
    """The user's stream records every order placed: folding it for each placement made
    every order cost more than the one before."""
    user_id = await register(writer)
    for _ in range(3):
        assert (await writer.post(f"/users/{user_id}/orders", json=ORDER)).status_code == 201
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = command_app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = await writer.post(f"/users/{user_id}/orders", json=ORDER)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 201
    assert response.headers["etag"] == '"1"'
    assert [s for s in statements if re.search(r"\bFROM events\b", s)] == []
    assert any(re.search(r"\bFROM streams\b", s) for s in statements)


async def test_placing_an_order_for_a_deleted_user_is_410(
    writer: httpx.AsyncClient, sessions: Sessions
) -> None:
    user_id = await register(writer)
    assert (await writer.delete(f"/users/{user_id}", headers=if_match(1))).status_code == 200
    before = await count_events(sessions)
    assert_problem(await writer.post(f"/users/{user_id}/orders", json=ORDER), 410)
    assert await count_events(sessions) == before


async def test_deleting_a_user_cancels_their_open_orders_in_the_same_transaction(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient, sessions: Sessions
) -> None:
    user_id = await register(writer)
    open_orders = [await place_order(writer, user_id), await place_order(writer, user_id)]
    already_cancelled = await place_order(writer, user_id)
    cancelled_early = await writer.delete(f"/orders/{already_cancelled}", headers=if_match(1))
    assert cancelled_early.status_code == 200
    other_user = await register(writer)
    others_order = await place_order(writer, other_user)
    before = await count_events(sessions)

    # Version 4: registered, then three orders placed.
    response = await writer.delete(
        f"/users/{user_id}", headers={"X-Correlation-ID": "delete-cascade", **if_match(4)}
    )
    token = assert_accepted(response, 200, user_id, 5)

    deleted = (await history(reader, "users", user_id))[-1]
    assert deleted["type"] == "UserDeleted"
    cancellations = []
    for order_id in open_orders:
        events = await history(reader, "orders", order_id)
        assert [e["type"] for e in events] == ["OrderPlaced", "OrderCancelled"]
        assert [e["version"] for e in events] == [1, 2]
        cancellations.append(events[-1])
    for cancelled in cancellations:
        assert cancelled["data"] == {"reason": "user_deleted"}
        # One transaction: the transaction part of the position tokens is the same.
        assert position(cancelled["position"])[0] == position(deleted["position"])[0]
        assert cancelled["metadata"]["correlation_id"] == "delete-cascade"
    # The command's position covers all its events, so Min-Position waits for every one.
    every = [deleted["position"]] + [c["position"] for c in cancellations]
    assert token == max(every, key=position)
    assert await count_events(sessions) == before + 3

    # The order cancelled earlier keeps its one cancellation; another user's order is untouched.
    earlier = await history(reader, "orders", already_cancelled)
    assert [(e["type"], e["data"].get("reason")) for e in earlier] == [
        ("OrderPlaced", None),
        ("OrderCancelled", "cancelled_by_client"),
    ]
    assert [e["type"] for e in await history(reader, "orders", others_order)] == ["OrderPlaced"]
    late = await writer.patch(
        f"/orders/{open_orders[0]}", json={"quantity": 9}, headers=if_match(2)
    )
    assert_problem(late, 410)


@pytest.mark.parametrize(
    ("method", "body"),
    [
        pytest.param("PATCH", {"quantity": 9}, id="PATCH"),
        pytest.param("PUT", {**ORDER, "quantity": 9}, id="PUT"),
        pytest.param("DELETE", None, id="DELETE"),
    ],
)
async def test_a_cancelled_order_answers_410(
    method: str, body: dict[str, Any] | None, writer: httpx.AsyncClient, sessions: Sessions
) -> None:
    order_id = await place_order(writer, await register(writer))
    cancelled = await writer.delete(f"/orders/{order_id}", headers=if_match(1))
    assert_accepted(cancelled, 200, order_id, 2)
    before = await count_events(sessions)
    response = await writer.request(method, f"/orders/{order_id}", json=body, headers=if_match(2))
    assert_problem(response, 410)
    assert await count_events(sessions) == before


# -- history and the feed --------------------------------------------------------------------


async def test_histories_list_events_oldest_first_with_versions_1_to_n(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    user_id = await register(writer, name="First")
    for response in [
        await writer.patch(f"/users/{user_id}", json={"name": "Second"}, headers=if_match(1)),
        await writer.patch(
            f"/users/{user_id}", json={"email": unique_email()}, headers=if_match(2)
        ),
    ]:
        assert response.status_code == 200, response.text
    order_id = await place_order(writer, user_id)
    for response in [
        await writer.patch(f"/orders/{order_id}", json={"quantity": 7}, headers=if_match(1)),
        await writer.delete(f"/orders/{order_id}", headers=if_match(2)),
        await writer.patch(f"/users/{user_id}", json={"name": "Third"}, headers=if_match(4)),
    ]:
        assert response.status_code == 200, response.text

    user_events = await history(reader, "users", user_id)
    assert [e["type"] for e in user_events] == [
        "UserRegistered",
        "UserNameChanged",
        "UserEmailChanged",
        "UserOrderPlaced",
        "UserNameChanged",
    ]
    order_events = await history(reader, "orders", order_id)
    assert [e["type"] for e in order_events] == ["OrderPlaced", "OrderChanged", "OrderCancelled"]
    for stream_id, events in ((user_id, user_events), (order_id, order_events)):
        assert [e["version"] for e in events] == list(range(1, len(events) + 1))
        assert all(e["stream_id"] == stream_id for e in events)
        positions = [position(e["position"]) for e in events]
        assert positions == sorted(positions)
        assert len(set(positions)) == len(positions)
    assert [e["data"]["name"] for e in user_events if e["type"] == "UserNameChanged"] == [
        "Second",
        "Third",
    ]


async def _feed_end(reader: httpx.AsyncClient) -> str:
    after: str | None = None
    while True:
        params = {"limit": "1000"} if after is None else {"limit": "1000", "after": after}
        page = await reader.get("/events", params=params)
        assert page.status_code == 200, page.text
        if not page.json()["events"]:
            end: str = page.json()["next"]
            return end
        after = page.json()["next"]


async def test_the_feed_pages_with_next_and_gives_every_event_of_a_new_user_once(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    start = await _feed_end(reader)
    user_id = await register(writer)
    for version, name in enumerate(("B", "C", "D"), start=1):
        renamed = await writer.patch(
            f"/users/{user_id}", json={"name": name}, headers=if_match(version)
        )
        assert renamed.status_code == 200, renamed.text
    order_id = await place_order(writer, user_id)
    assert (await writer.delete(f"/users/{user_id}", headers=if_match(5))).status_code == 200
    expected = {e["event_id"] for e in await history(reader, "users", user_id)}
    expected |= {e["event_id"] for e in await history(reader, "orders", order_id)}
    assert len(expected) == 8

    seen: list[dict[str, Any]] = []
    pages = 0
    after = start
    deadline = time.monotonic() + 15
    # Events become visible once no older transaction is running; on a shared server an
    # unrelated long transaction may hold them back for a moment, hence the polling.
    while not expected <= {e["event_id"] for e in seen}:
        assert time.monotonic() < deadline, f"feed stopped after {len(seen)} events"
        page = await reader.get("/events", params={"after": after, "limit": "2"})
        assert page.status_code == 200, page.text
        events, next_token = page.json()["events"], page.json()["next"]
        assert len(events) <= 2
        if events:
            pages += 1
            assert next_token == events[-1]["position"]
            assert position(next_token) > position(after)
        else:
            assert next_token == after
            await asyncio.sleep(0.05)
        seen += events
        after = next_token

    mine = [e for e in seen if e["event_id"] in expected]
    assert len(mine) == len(expected), "an event was delivered twice"
    assert len({e["event_id"] for e in seen}) == len(seen)
    assert pages >= 4
    feed_positions = [position(e["position"]) for e in seen]
    assert feed_positions == sorted(feed_positions)
    user_versions = [e["version"] for e in mine if e["stream_id"] == user_id]
    assert user_versions == list(range(1, 7))


async def test_the_feed_from_its_end_is_empty_and_stays_put(reader: httpx.AsyncClient) -> None:
    end = await _feed_end(reader)
    page = await reader.get("/events", params={"after": end})
    assert page.status_code == 200
    assert page.json() == {"events": [], "next": end}


# -- correlation and who ---------------------------------------------------------------------


async def test_the_correlation_id_is_echoed_and_lands_in_the_events_metadata(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    correlation = f"corr-{uuid.uuid4().hex}"
    created = await writer.post(
        "/users",
        json={"name": "Traced", "email": unique_email()},
        headers={"X-Correlation-ID": correlation},
    )
    assert created.status_code == 201
    assert created.headers["x-correlation-id"] == correlation
    user_id = created.json()["id"]
    placed = await writer.post(
        f"/users/{user_id}/orders", json=ORDER, headers={"X-Correlation-ID": correlation + "-2"}
    )
    assert placed.headers["x-correlation-id"] == correlation + "-2"
    order_id = placed.json()["id"]

    user_events = await history(reader, "users", user_id)
    order_events = await history(reader, "orders", order_id)
    assert [e["metadata"]["correlation_id"] for e in user_events] == [
        correlation,
        correlation + "-2",
    ]
    assert order_events[0]["metadata"]["correlation_id"] == correlation + "-2"


async def test_a_request_without_a_usable_correlation_id_gets_one(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    answers = [
        await writer.post("/users", json={"name": "Anon", "email": unique_email()}),
        await writer.post(
            "/users",
            json={"name": "Odd", "email": unique_email()},
            headers={"X-Correlation-ID": 'has spaces; and {"$gt": 1}'},
        ),
    ]
    given = set()
    for answer in answers:
        assert answer.status_code == 201
        correlation = answer.headers["x-correlation-id"]
        assert re.fullmatch(r"[A-Za-z0-9._:\-]{1,100}", correlation)
        [event] = await history(reader, "users", answer.json()["id"])
        assert event["metadata"]["correlation_id"] == correlation
        given.add(correlation)
    assert len(given) == 2


async def test_who_names_the_caller_without_holding_the_token(
    command_app: FastAPI, writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    user_id = await register(writer)
    again = await writer.patch(f"/users/{user_id}", json={"name": "Again"}, headers=if_match(1))
    assert again.status_code == 200, again.text
    async with client_for(command_app, ADMIN_TOKEN) as admin:
        renamed = await admin.patch(
            f"/users/{user_id}", json={"name": "Admin"}, headers=if_match(2)
        )
        assert renamed.status_code == 200, renamed.text
    events = await history(reader, "users", user_id)
    whos = [e["metadata"]["who"] for e in events]
    assert all(isinstance(w, str) and w for w in whos)
    assert whos[0] == whos[1], "one token, one stable name"
    assert whos[2] != whos[0]
    stored = json.dumps([e["metadata"] for e in events])
    for token in (WRITE_TOKEN, ADMIN_TOKEN):
        assert token not in stored
        assert token.split("-")[-1] not in stored
