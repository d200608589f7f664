"""Guarantee 4: a retry with the same `Idempotency-Key` gets the first answer again, refusals
included; the same key for another request is refused."""

import json
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import count_events, if_match, unique_email

Sessions = async_sessionmaker[AsyncSession]
PROBLEM_JSON = "application/problem+json"


def a_key() -> dict[str, str]:
    return {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}


async def register(writer: httpx.AsyncClient, email: str | None = None) -> str:
    response = await writer.post("/users", json={"name": "Ada", "email": email or unique_email()})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def assert_replayed(again: httpx.Response, first: httpx.Response) -> None:
    """The first answer once more, byte for byte, marked as a replay."""
    assert again.status_code == first.status_code
    assert again.content == first.content
    for header in ("content-type", "etag", "location", "event-position"):
        assert again.headers.get(header) == first.headers.get(header), header
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


async def test_the_same_json_with_other_spacing_and_key_order_is_the_same_request(
    writer: httpx.AsyncClient, sessions: Sessions
) -> None:
    email = unique_email("canonical")
    key = a_key()
    json_type = {"Content-Type": "application/json"}
    compact = json.dumps({"name": "Ada", "email": email}, separators=(",", ":")).encode()
    spaced = f'{{\n  "email" : "{email}",\n  "name":   "Ada"\n}}'.encode()
    first = await writer.post("/users", content=compact, headers={**key, **json_type})
    assert first.status_code == 201, first.text
    before = await count_events(sessions)

    again = await writer.post("/users", content=spaced, headers={**key, **json_type})
    assert_replayed(again, first)
    assert await count_events(sessions) == before


async def test_the_same_key_and_body_on_another_path_is_refused(
    writer: httpx.AsyncClient, sessions: Sessions
) -> None:
    first_user, second_user = await register(writer), await register(writer)
    key = a_key()
    renamed = await writer.patch(
        f"/users/{first_user}", json={"name": "Same"}, headers={**key, **if_match(1)}
    )
    assert renamed.status_code == 200, renamed.text
    before = await count_events(sessions)
    other = await writer.patch(
        f"/users/{second_user}", json={"name": "Same"}, headers={**key, **if_match(1)}
    )
    assert other.status_code == 422, other.text
    assert other.headers["content-type"] == PROBLEM_JSON
    assert await count_events(sessions) == before


async def test_a_refusal_is_replayed_even_after_the_state_changed(
    writer: httpx.AsyncClient, sessions: Sessions
) -> None:
    """409 (email taken) with a key; the email is freed; the same retry still gets the 409."""
    email = unique_email("refused")
    holder = await register(writer, email)
    key = a_key()
    body = {"name": "Late", "email": email}
    first = await writer.post("/users", json=body, headers=key)
    assert first.status_code == 409, first.text
    freed = await writer.delete(f"/users/{holder}", headers=if_match(1))
    assert freed.status_code == 200, freed.text
    before = await count_events(sessions)

    again = await writer.post("/users", json=body, headers=key)
    assert_replayed(again, first)
    assert await count_events(sessions) == before
    # The address is free: only the key's memory refused it. A new key is a new command.
    assert (await writer.post("/users", json=body, headers=a_key())).status_code == 201


async def test_a_replayed_412_keeps_the_etag_it_was_first_given(
    writer: httpx.AsyncClient, sessions: Sessions
) -> None:
    user_id = await register(writer)
    moved = await writer.patch(f"/users/{user_id}", json={"name": "Two"}, headers=if_match(1))
    assert moved.status_code == 200, moved.text
    key = a_key()
    stale = {**key, **if_match(1)}
    first = await writer.patch(f"/users/{user_id}", json={"name": "Stale"}, headers=stale)
    assert first.status_code == 412, first.text
    assert first.headers["etag"] == '"2"'
    moved = await writer.patch(f"/users/{user_id}", json={"name": "Three"}, headers=if_match(2))
    assert moved.status_code == 200, moved.text
    before = await count_events(sessions)

    again = await writer.patch(f"/users/{user_id}", json={"name": "Stale"}, headers=stale)
    assert_replayed(again, first)
    # The precondition is part of the request: the same key with the newer ETag is another
    # request, refused instead of being answered with the stale 412.
    newer = {**key, **if_match(3)}
    other = await writer.patch(f"/users/{user_id}", json={"name": "Stale"}, headers=newer)
    assert other.status_code == 422, other.text
    assert await count_events(sessions) == before


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        pytest.param({"name": ""}, if_match(1), 422, id="invalid body: 422"),
        pytest.param({"name": "Fixed"}, {}, 428, id="no If-Match: 428"),
    ],
)
async def test_a_request_refused_before_it_reaches_the_command_leaves_the_key_free(
    body: dict[str, str], headers: dict[str, str], status: int, writer: httpx.AsyncClient
) -> None:
    """Only the command's own answers are remembered: a fixed request may reuse its key."""
    user_id = await register(writer)
    key = a_key()
    refused = await writer.patch(f"/users/{user_id}", json=body, headers={**key, **headers})
    assert refused.status_code == status, refused.text
    fixed = await writer.patch(
        f"/users/{user_id}", json={"name": "Fixed"}, headers={**key, **if_match(1)}
    )
    assert fixed.status_code == 200, fixed.text
    assert "idempotent-replayed" not in fixed.headers


async def test_a_body_that_is_not_json_is_fingerprinted_as_it_is(
    writer: httpx.AsyncClient, sessions: Sessions
) -> None:
    """A DELETE takes no body, so none is validated: whatever comes is compared byte for byte,
    and JSON nested too deep to parse is no reason for a 5xx (guarantee 8)."""
    order = await writer.post(
        f"/users/{await register(writer)}/orders",
        json={"product": "Tea", "quantity": 1, "unit_price": "4.00"},
    )
    assert order.status_code == 201, order.text
    path = f"/orders/{order.json()['id']}"
    key = {**a_key(), **if_match(1), "Content-Type": "application/json"}
    deep = b"[" * 30_000 + b"]" * 30_000
    first = await writer.request("DELETE", path, content=deep, headers=key)
    assert first.status_code == 200, first.text
    before = await count_events(sessions)
    assert_replayed(await writer.request("DELETE", path, content=deep, headers=key), first)
    other = await writer.request("DELETE", path, content=b"not json", headers=key)
    assert other.status_code == 422, other.text
    assert await count_events(sessions) == before
