"""The read routes' happy paths: what a client sees of users, orders and their pages."""

from typing import Any

import httpx

from readmodel.documents import OrderStatus
from tests.query.conftest import CHECKPOINT
from tests.query.seed import Database, a_user, an_order, store

USER_FIELDS = {
    "id",
    "name",
    "email",
    "version",
    "order_count",
    "total_spent",
    "created_at",
    "updated_at",
}
LINE_FIELDS = {
    "id",
    "product",
    "quantity",
    "unit_price",
    "total",
    "status",
    "version",
    "placed_at",
    "updated_at",
}
ORDER_FIELDS = LINE_FIELDS | {"user_id", "user_name", "user_email"}


async def test_a_user_reads_with_every_order_embedded_and_counts_only_open_ones(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    user = a_user("Ada Lovelace", "Ada@Example.com")
    tea = an_order(user, "Tea, 250 g", 2, "4.50")
    beans = an_order(user, "Espresso beans, 1 kg", 1, "18.25")
    gone = an_order(user, "Kettle", 1, "30.00", status=OrderStatus.CANCELLED)
    await store(mongo_db, user, tea, beans, gone)

    response = await reader.get(f"/users/{user.id}")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["projection-position"] == CHECKPOINT
    assert response.headers["etag"].startswith('"')
    body = response.json()
    assert set(body) == USER_FIELDS | {"orders"}
    assert body["id"] == user.id
    assert body["email"] == "Ada@Example.com"
    assert body["version"] == user.version
    assert body["order_count"] == 2
    assert body["total_spent"] == "27.25"
    assert body["created_at"] == "2025-03-01T09:30:00Z"
    assert [line["id"] for line in body["orders"]] == [tea.id, beans.id, gone.id]
    first = body["orders"][0]
    assert set(first) == LINE_FIELDS
    assert (first["unit_price"], first["total"], first["status"]) == ("4.50", "9.00", "open")
    assert body["orders"][2]["status"] == "cancelled"


async def test_a_deleted_user_is_gone_and_an_unknown_one_is_not_found(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    deleted = a_user(deleted=True)
    await store(mongo_db, deleted)
    unknown = "6f1c1c1e-0000-4000-8000-000000000000"
    for path, status in (
        (f"/users/{deleted.id}", 410),
        (f"/users/{deleted.id}/orders", 410),
        (f"/users/{unknown}", 404),
        (f"/users/{unknown}/orders", 404),
        (f"/orders/{unknown}", 404),
    ):
        response = await reader.get(path)
        assert response.status_code == status, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == status
        assert response.headers["projection-position"] == CHECKPOINT


async def test_an_order_reads_with_its_users_current_name_and_email(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    user = a_user("Grace Hopper", "grace@example.com")
    order = an_order(user, "Compiler manual", 3, "12.50")
    await store(mongo_db, user, order)

    response = await reader.get(f"/orders/{order.id}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == ORDER_FIELDS
    assert body["user_id"] == user.id
    assert (body["user_name"], body["user_email"]) == ("Grace Hopper", "grace@example.com")
    assert (body["unit_price"], body["total"], body["quantity"]) == ("12.50", "37.50", 3)
    assert response.headers["projection-position"] == CHECKPOINT


async def test_pages_list_every_live_user_exactly_once_and_never_a_deleted_one(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    live = [a_user(f"Live {n}") for n in range(23)]
    deleted = [a_user(f"Deleted {n}", deleted=True) for n in range(6)]
    await store(mongo_db, *live, *deleted)

    seen = await _every_item(reader, "/users", limit=5)

    assert sorted(item["id"] for item in seen) == sorted(user.id for user in live)
    assert set(seen[0]) == USER_FIELDS
    default = (await reader.get("/users")).json()
    assert len(default["items"]) == 20
    assert default["next_cursor"] is not None


async def test_the_last_page_says_it_is_the_last(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    await store(mongo_db, *(a_user() for _ in range(4)))
    exact = (await reader.get("/users?limit=4")).json()
    assert len(exact["items"]) == 4
    assert exact["next_cursor"] is None
    empty = await reader.get("/orders")
    assert empty.json() == {"items": [], "next_cursor": None}


async def test_email_matches_in_any_case_and_name_prefix_as_a_literal_prefix(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    ada, adam, bob = a_user("Ada", "Ada@Example.com"), a_user("Adam"), a_user("Bob Ada")
    dotted, starred = a_user("A.b"), a_user("A*x")
    await store(mongo_db, ada, adam, bob, dotted, starred, a_user("Ada", deleted=True))

    async def names(query: str) -> list[str]:
        response = await reader.get("/users", params={"name_prefix": query})
        assert response.status_code == 200, response.text
        return sorted(item["name"] for item in response.json()["items"])

    by_email = (await reader.get("/users", params={"email": "ADA@example.COM"})).json()
    assert [item["id"] for item in by_email["items"]] == [ada.id]
    assert await names("Ad") == ["Ada", "Adam"]
    assert await names("A.") == ["A.b"]
    assert await names("A*") == ["A*x"]
    assert await names("Bob") == ["Bob Ada"]
    assert await names("ada") == []


async def test_a_users_orders_are_listed_and_paged_without_anyone_elses(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    user, other = a_user(), a_user()
    orders = [an_order(user, f"Item {n}") for n in range(5)]
    cancelled = an_order(user, "Returned", status=OrderStatus.CANCELLED)
    await store(mongo_db, user, other, an_order(other), *orders, cancelled)

    seen = await _every_item(reader, f"/users/{user.id}/orders", limit=2)

    assert sorted(item["id"] for item in seen) == sorted(o.id for o in [*orders, cancelled])
    assert set(seen[0]) == ORDER_FIELDS


async def test_orders_filter_by_user_and_by_status(
    reader: httpx.AsyncClient, mongo_db: Database
) -> None:
    ada, bob = a_user("Ada"), a_user("Bob")
    ada_open, ada_cancelled = an_order(ada), an_order(ada, status=OrderStatus.CANCELLED)
    bob_open = an_order(bob)
    await store(mongo_db, ada, bob, ada_open, ada_cancelled, bob_open)

    async def ids(params: dict[str, str]) -> set[str]:
        response = await reader.get("/orders", params=params)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert await ids({}) == {ada_open.id, ada_cancelled.id, bob_open.id}
    assert await ids({"user_id": ada.id}) == {ada_open.id, ada_cancelled.id}
    assert await ids({"status": "open"}) == {ada_open.id, bob_open.id}
    assert await ids({"user_id": ada.id, "status": "cancelled"}) == {ada_cancelled.id}
    assert await ids({"user_id": ada.id.upper(), "status": "open"}) == {ada_open.id}


async def _every_item(reader: httpx.AsyncClient, path: str, limit: int) -> list[dict[str, Any]]:
    """Follows `next_cursor` to the end, checking that no page is over its limit."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await reader.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        assert 0 < len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging never ended")
