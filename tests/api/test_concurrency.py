"""Guarantees 3, 4 and 5 under real concurrency: many requests at once, outcomes counted."""

import asyncio
from collections import Counter

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import ANY_VERSION, count_events, if_match, unique_email

N = 24


async def register(writer: httpx.AsyncClient, email: str | None = None) -> str:
    response = await writer.post("/users", json={"name": "Ada", "email": email or unique_email()})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def history(reader: httpx.AsyncClient, path: str) -> list[str]:
    response = await reader.get(path)
    assert response.status_code == 200
    return [event["type"] for event in response.json()["events"]]


async def test_of_n_concurrent_updates_from_one_version_exactly_one_wins(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    user_id = await register(writer)
    responses = await asyncio.gather(
        *(
            writer.patch(
                f"/users/{user_id}", json={"name": f"Name {i}"}, headers={"If-Match": '"1"'}
            )
            for i in range(N)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 412: N - 1}
    assert await history(reader, f"/users/{user_id}/events") == [
        "UserRegistered",
        "UserNameChanged",
    ]


async def test_of_n_concurrent_order_changes_from_one_version_exactly_one_wins(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    user_id = await register(writer)
    placed = await writer.post(
        f"/users/{user_id}/orders", json={"product": "Tea", "quantity": 1, "unit_price": "4.00"}
    )
    order_id = placed.json()["id"]
    responses = await asyncio.gather(
        *(
            writer.patch(
                f"/orders/{order_id}", json={"quantity": i + 2}, headers={"If-Match": '"1"'}
            )
            for i in range(N)
        )
    )
    assert Counter(r.status_code for r in responses) == {200: 1, 412: N - 1}
    assert await history(reader, f"/orders/{order_id}/events") == ["OrderPlaced", "OrderChanged"]


async def test_of_n_concurrent_sign_ups_with_one_email_exactly_one_succeeds(
    writer: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    email = unique_email("race")
    before = await count_events(sessions)
    # Case differences must not let a second sign-up through (guarantee 5 is case-insensitive).
    variants = [email if i % 2 else email.upper() for i in range(N)]
    responses = await asyncio.gather(
        *(writer.post("/users", json={"name": "Twin", "email": e}) for e in variants)
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: N - 1}
    assert await count_events(sessions) == before + 1


async def test_a_freed_email_goes_to_exactly_one_of_the_racers(writer: httpx.AsyncClient) -> None:
    email = unique_email("freed")
    user_id = await register(writer, email)
    assert (await writer.delete(f"/users/{user_id}", headers=if_match(1))).status_code == 200
    responses = await asyncio.gather(
        *(writer.post("/users", json={"name": "Next", "email": email}) for _ in range(N))
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: N - 1}


async def test_concurrent_retries_with_one_idempotency_key_store_one_event(
    writer: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = {"name": "Retry", "email": unique_email("idem")}
    headers = {"Idempotency-Key": unique_email("key")}
    before = await count_events(sessions)
    responses = await asyncio.gather(
        *(writer.post("/users", json=body, headers=headers) for _ in range(N))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.headers["Event-Position"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == N - 1
    assert await count_events(sessions) == before + 1


async def test_an_idempotent_retry_after_success_replays_the_first_answer(
    writer: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    user_id = await register(writer)
    order = {"product": "Beans", "quantity": 3, "unit_price": "12.50"}
    headers = {"Idempotency-Key": f"order-{user_id}"}
    first = await writer.post(f"/users/{user_id}/orders", json=order, headers=headers)
    before = await count_events(sessions)
    again = await writer.post(f"/users/{user_id}/orders", json=order, headers=headers)
    other = await writer.post(
        f"/users/{user_id}/orders", json={**order, "quantity": 4}, headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert await count_events(sessions) == before


async def test_no_order_survives_a_concurrent_delete_of_its_user(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    order = {"product": "Cake", "quantity": 1, "unit_price": "3.00"}
    for _ in range(5):
        user_id = await register(writer)
        placing = [writer.post(f"/users/{user_id}/orders", json=order) for _ in range(8)]
        # `*`: the delete must win whichever placements committed before it.
        deleting = writer.delete(f"/users/{user_id}", headers=ANY_VERSION)
        results = await asyncio.gather(deleting, *placing)
        deleted, placed = results[0], results[1:]
        assert deleted.status_code == 200
        assert {r.status_code for r in placed} <= {201, 410}
        for response in placed:
            if response.status_code == 201:
                events = await history(reader, f"/orders/{response.json()['id']}/events")
                assert events == ["OrderPlaced", "OrderCancelled"], "an order outlived its user"
