"""The projection through the real stores: documents, denormalization, guarantee 2, poison."""

import time
import uuid
from dataclasses import replace
from typing import Any

import httpx

from eventstore import EventMetadata, NewEvent, Position, StreamWrite, append, load_stream
from projector.catch_up import catch_up
from projector.storage import read_status
from readmodel.collections import STATUS
from readmodel.documents import ProjectionState
from tests.conftest import if_match, unique_email
from tests.projector.conftest import Stack, settle, until_visible
from tests.projector.replay import expected_documents, shown


async def register(writer: httpx.AsyncClient, name: str = "Ada") -> str:
    response = await writer.post("/users", json={"name": name, "email": unique_email()})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def place(writer: httpx.AsyncClient, user_id: str, quantity: int, price: str) -> str:
    response = await writer.post(
        f"/users/{user_id}/orders",
        json={"product": "Tea", "quantity": quantity, "unit_price": price},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def documents(stack: Stack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    users = await stack.db.users.find().sort("_id").to_list()
    orders = await stack.db.orders.find().sort("_id").to_list()
    return users, orders


async def assert_matches_the_events(stack: Stack) -> None:
    assert shown(*await documents(stack)) == await expected_documents(stack.sessions)


async def test_user_document_embeds_orders_and_counts_only_live_ones(stack: Stack) -> None:
    user_id = await register(stack.writer)
    first = await place(stack.writer, user_id, 2, "3.50")
    await place(stack.writer, user_id, 1, "10.00")
    assert (await stack.writer.delete(f"/orders/{first}", headers=if_match(1))).status_code == 200
    await settle(stack.projection)

    doc = await stack.db.users.find_one({"_id": user_id})
    assert doc is not None
    assert doc["order_count"] == 1
    assert doc["total_spent"] == "10.00"
    assert sorted((o["status"], o["total"]) for o in doc["orders"]) == [
        ("cancelled", "7.00"),
        ("open", "10.00"),
    ]
    await assert_matches_the_events(stack)


async def test_a_rename_reaches_every_order_of_the_user(stack: Stack) -> None:
    user_id = await register(stack.writer, "Ada")
    order_ids = [await place(stack.writer, user_id, 1, "1.00") for _ in range(3)]
    await settle(stack.projection)
    renamed = await stack.writer.patch(
        f"/users/{user_id}",
        json={"name": "Ada Lovelace", "email": "ADA.L@example.com"},
        headers=if_match(4),  # registered, then three orders placed
    )
    assert renamed.status_code == 200
    await settle(stack.projection)
    for order_id in order_ids:
        doc = await stack.db.orders.find_one({"_id": order_id})
        assert doc is not None
        assert (doc["user_name"], doc["user_email"]) == ("Ada Lovelace", "ADA.L@example.com")
    await assert_matches_the_events(stack)


async def test_a_deleted_user_is_marked_and_their_orders_cancelled(stack: Stack) -> None:
    user_id = await register(stack.writer)
    order_id = await place(stack.writer, user_id, 4, "2.25")
    assert (await stack.writer.delete(f"/users/{user_id}", headers=if_match(2))).status_code == 200
    await settle(stack.projection)
    user_doc = await stack.db.users.find_one({"_id": user_id})
    order_doc = await stack.db.orders.find_one({"_id": order_id})
    assert user_doc is not None
    assert order_doc is not None
    assert user_doc["deleted"] is True
    assert (user_doc["order_count"], user_doc["total_spent"]) == (0, "0.00")
    assert order_doc["status"] == "cancelled"


async def test_a_batch_applied_twice_changes_nothing(stack: Stack) -> None:
    """Guarantee 2: as after a crash between the document writes and the checkpoint write."""
    user_id = await register(stack.writer)
    for quantity in (1, 2, 3):
        await place(stack.writer, user_id, quantity, "5.00")
    await stack.writer.patch(f"/users/{user_id}", json={"name": "Grace"}, headers=if_match(4))
    before = await read_status(stack.db, "main")
    first = await settle(stack.projection)
    once = await documents(stack)
    # A crash after the document writes, before the checkpoint write: the old one is back.
    await stack.db[STATUS].replace_one({"_id": "main"}, before.model_dump(by_alias=True))
    again = await settle(stack.projection)
    assert first == again == 8
    assert await documents(stack) == once
    user_doc = next(u for u in once[0] if u["_id"] == user_id)
    assert (user_doc["order_count"], user_doc["total_spent"]) == (3, "30.00")
    await assert_matches_the_events(stack)


async def test_a_catch_up_past_its_deadline_starts_no_further_batch(stack: Stack) -> None:
    for _ in range(5):
        await register(stack.writer)
    await until_visible(stack, 5)
    projection = replace(stack.projection, batch_size=2)

    assert await catch_up(projection, deadline=time.monotonic()) == 2, "one batch, then stop"
    assert (await read_status(stack.db, "main")).events_applied == 2
    assert await catch_up(projection) == 3, "the next turn goes on from the checkpoint"
    await assert_matches_the_events(stack)


async def test_a_poison_event_stops_the_projection_at_it(stack: Stack) -> None:
    user_id = await register(stack.writer)
    await settle(stack.projection)
    meta = EventMetadata(correlation_id="poison", who="tests")
    async with stack.sessions() as session, session.begin():
        version = len(await load_stream(session, uuid.UUID(user_id)))
        await append(
            session,
            [
                StreamWrite(
                    uuid.UUID(user_id), "user", version, [NewEvent("UserTeleported", 1, {}, meta)]
                )
            ],
        )
    after = await register(stack.writer, "After")
    applied = await settle(stack.projection)

    status = await read_status(stack.db, "main")
    assert applied == 0
    assert status.state is ProjectionState.STOPPED
    assert status.error is not None
    assert status.error.event_type == "UserTeleported"
    assert "UnknownEventType" in status.error.message
    assert Position.parse(status.checkpoint) < Position.parse(status.error.position)
    assert await stack.db.users.find_one({"_id": after}) is None, "nothing past the poison"
    assert await settle(stack.projection) == 0, "it stays stopped"
