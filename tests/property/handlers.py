"""`command_api.handlers` over the in-memory store: load, decide, append, nothing else.

Each function follows its namesake step for step (the user's stream records each order, and
deleting a user cancels their open orders in the same append), so the property tests drive the
deciders exactly as the command API composes them.
"""

from uuid import UUID

from domain import order, user
from domain.errors import NotFound
from domain.events import DomainEvent
from tests.property.memory_store import MemoryStore, Write


def register_user(
    store: MemoryStore, user_id: UUID, command: user.RegisterUser
) -> list[DomainEvent]:
    events = user.decide(command, None)
    store.append([Write(user_id, user.STREAM_TYPE, 0, None, events)])
    return events


def change_user(store: MemoryStore, user_id: UUID, command: user.ChangeUser) -> list[DomainEvent]:
    loaded = store.load(user_id, user.STREAM_TYPE, user.fold)
    events = user.decide(command, loaded.state)
    if events:
        store.append([Write(user_id, user.STREAM_TYPE, loaded.version, loaded.state, events)])
    return events


def delete_user(store: MemoryStore, user_id: UUID) -> list[DomainEvent]:
    loaded = store.load(user_id, user.STREAM_TYPE, user.fold)
    deleted = user.decide(user.DeleteUser(), loaded.state)
    assert loaded.state is not None
    writes = [Write(user_id, user.STREAM_TYPE, loaded.version, loaded.state, deleted, close=True)]
    for order_id in dict.fromkeys(loaded.state.order_ids):
        placed = store.load(order_id, order.STREAM_TYPE, order.fold)
        if placed.state is not None and placed.state.status is order.OrderStatus.OPEN:
            cancel = order.CancelOrder(reason=order.CancellationReason.USER_DELETED)
            cancelled = order.decide(cancel, placed.state)
            writes.append(
                Write(
                    order_id, order.STREAM_TYPE, placed.version, placed.state, cancelled, close=True
                )
            )
    store.append(writes)
    return [event for write in writes for event in write.events]


def place_order(
    store: MemoryStore, user_id: UUID, order_id: UUID, command: order.PlaceOrder
) -> list[DomainEvent]:
    owner = store.load(user_id, user.STREAM_TYPE, user.fold)
    attached = user.decide(user.AddOrder(order_id=order_id), owner.state)
    placed = order.decide(command, None)
    store.append(
        [
            Write(order_id, order.STREAM_TYPE, 0, None, placed),
            Write(user_id, user.STREAM_TYPE, owner.version, owner.state, attached),
        ]
    )
    return [*placed, *attached]


def change_order(
    store: MemoryStore, order_id: UUID, command: order.ChangeOrder | order.CancelOrder
) -> list[DomainEvent]:
    loaded = store.load(order_id, order.STREAM_TYPE, order.fold)
    if loaded.state is None:
        raise NotFound("no such order")
    events = order.decide(command, loaded.state)
    if events:
        close = isinstance(command, order.CancelOrder)
        store.append(
            [Write(order_id, order.STREAM_TYPE, loaded.version, loaded.state, events, close)]
        )
    return events
