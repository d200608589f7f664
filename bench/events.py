"""Many events, fast: the domain decides them, the store appends many streams per
transaction. Every event is one the command API could have written (as in the projector's
tests), so what the projector and the query API then see is real."""

import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import order, user
from domain.events import DomainEvent
from eventstore import EventMetadata, NewEvent, StreamWrite, append

META = EventMetadata(correlation_id="bench-load", who="bench")
USERS_PER_TRANSACTION = 50


def _new(events: Sequence[DomainEvent]) -> list[NewEvent]:
    return [NewEvent(e.event_type, e.schema_version, e.to_data(), META) for e in events]


def user_writes(user_id: uuid.UUID, orders: int, renames: int, seed: int) -> list[StreamWrite]:
    """One user with their orders (every third cancelled) and some renames."""
    state = None
    user_events: list[DomainEvent] = []
    writes: list[StreamWrite] = []

    def decide(command: user.UserCommand) -> None:
        nonlocal state
        events = user.decide(command, state)
        for event in events:
            state = user.evolve(state, event)
        user_events.extend(events)

    decide(user.RegisterUser(name=f"User {seed}", email=f"u-{user_id.hex[:16]}@example.com"))
    for n in range(orders):
        order_id = uuid.uuid4()
        price = Decimal(f"{(seed + n) % 50}.25")
        command = order.PlaceOrder(
            user_id=user_id, product=f"Item {n}", quantity=1 + n % 5, unit_price=price
        )
        order_events = list(order.decide(command, None))
        if n % 3 == 2:
            order_events += order.decide(order.CancelOrder(), order.fold(order_events))
        writes.append(StreamWrite(order_id, order.STREAM_TYPE, 0, _new(order_events)))
        decide(user.AddOrder(order_id=order_id))
    for n in range(renames):
        decide(user.ChangeUser(name=f"User {seed} ({n})"))
    # The user's stream first, as the command API's separate transactions would order them.
    return [StreamWrite(user_id, user.STREAM_TYPE, 0, _new(user_events)), *writes]


def events_per_user(orders: int, renames: int) -> int:
    cancelled = sum(1 for n in range(orders) if n % 3 == 2)
    return 1 + renames + 2 * orders + cancelled


async def load(
    sessions: async_sessionmaker[AsyncSession], users: int, orders: int, renames: int
) -> tuple[list[uuid.UUID], int]:
    """Appends `users` users' events; their ids, and how many events."""
    user_ids = [uuid.uuid4() for _ in range(users)]
    total = 0
    for first in range(0, users, USERS_PER_TRANSACTION):
        chunk = range(first, min(first + USERS_PER_TRANSACTION, users))
        writes = [w for n in chunk for w in user_writes(user_ids[n], orders, renames, n)]
        async with sessions() as session, session.begin():
            total += (await append(session, writes)).event_count
    return user_ids, total
