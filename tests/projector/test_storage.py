"""Loading a batch's documents: what it asks MongoDB for, and what it finds.

Under a steady stream of commits a catch-up pass applies a few events in a handful of round
trips, so a query with nothing to look for (a batch that touches no order) costs a pass for
nothing.
"""

import uuid
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from domain import order, user
from eventstore import RecordedEvent
from projector.projection import Workspace, apply
from projector.storage import load_workspace, save_workspace
from readmodel.collections import LIVE
from tests.projector.test_revisions import Feed, story
from tests.support.commands import SentFinds


async def _stored_start(db: AsyncDatabase[dict[str, Any]]) -> list[RecordedEvent]:
    """The revisions story, its user and first order stored as the projector stores them."""
    events = story()
    workspace = Workspace()
    for record in events[:3]:  # registered, the user's line of the order, the order placed
        apply(workspace, record)
    await save_workspace(db, LIVE, workspace, {}, {})
    return events


def _first(events: list[RecordedEvent], event_type: str) -> RecordedEvent:
    return next(record for record in events if record.event_type == event_type)


async def test_a_batch_of_sign_ups_reads_users_only(
    counted_db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> None:
    await _stored_start(counted_db)
    feed = Feed()
    batch = [
        feed.record(
            uuid.uuid4(), user.STREAM_TYPE, user.UserRegistered(name="Bo", email=f"bo{n}@x.org")
        )
        for n in range(3)
    ]
    finds.sent.clear()

    workspace, loaded_users, loaded_orders = await load_workspace(counted_db, LIVE, batch)

    assert [command["find"] for command in finds.sent] == [LIVE.users]
    assert (workspace.users, workspace.orders, loaded_users, loaded_orders) == ({}, {}, {}, {})


async def test_a_rename_reads_the_user_and_its_orders(
    counted_db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> None:
    events = await _stored_start(counted_db)
    renamed = _first(events, user.UserNameChanged.event_type)
    finds.sent.clear()

    _, loaded_users, loaded_orders = await load_workspace(counted_db, LIVE, [renamed])

    assert sorted(command["find"] for command in finds.sent) == [LIVE.orders, LIVE.users]
    assert set(loaded_users) == {str(renamed.stream_id)}
    placed = _first(events, order.OrderPlaced.event_type)
    assert set(loaded_orders) == {str(placed.stream_id)}, "its orders show the user's name"


async def test_an_order_event_reads_the_order_and_its_user(
    counted_db: AsyncDatabase[dict[str, Any]], finds: SentFinds
) -> None:
    events = await _stored_start(counted_db)
    changed = _first(events, order.OrderChanged.event_type)
    finds.sent.clear()

    _, loaded_users, loaded_orders = await load_workspace(counted_db, LIVE, [changed])

    assert [command["find"] for command in finds.sent] == [LIVE.orders, LIVE.users]
    assert set(loaded_orders) == {str(changed.stream_id)}
    assert set(loaded_users) == {str(events[0].stream_id)}
