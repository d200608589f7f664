"""A large event store, fast: the domain decides the events, the store appends many streams per
transaction. For rebuild tests that need 100,000 events, where going through HTTP would take
minutes. Every event is one the command API could have written."""

import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import order, user
from domain.events import DomainEvent
from eventstore import EventMetadata, NewEvent, StreamWrite, append

META = EventMetadata(correlation_id="bulk-load", who="tests")
USERS_PER_TRANSACTION = 50


def _new(events: Sequence[DomainEvent]) -> list[NewEvent]:
    return [NewEvent(e.event_type, e.schema_version, e.to_data(), META) for e in events]


def _user_writes(orders_per_user: int, renames: int, seed: int) -> list[StreamWrite]:
    """One user with their orders (every third cancelled) and some renames."""
    user_id = uuid.uuid4()
    state = None
    user_events: list[DomainEvent] = []
    writes: list[StreamWrite] = []

    def decide(command: user.UserCommand) -> None:
        nonlocal state
        events = user.decide(command, state)
        for event in events:
            state = user.evolve(state, event)
        user_events.extend(events)

    decide(user.RegisterUser(name=f"User {seed}", email=f"bulk-{user_id.hex[:12]}@example.com"))
    for n in range(orders_per_user):
        order_id = uuid.uuid4()
        placed = order.decide(
            order.PlaceOrder(
                user_id=user_id,
                product=f"Item {n}",
                quantity=1 + n % 5,
                unit_price=Decimal(f"{(seed + n) % 50}.25"),
            ),
            None,
        )
        order_events = list(placed)
        if n % 3 == 2:
            order_events += order.decide(order.CancelOrder(), order.fold(order_events))
        writes.append(StreamWrite(order_id, order.STREAM_TYPE, 0, _new(order_events)))
        decide(user.AddOrder(order_id=order_id))
    for n in range(renames):
        decide(user.ChangeUser(name=f"User {seed} ({n})"))
    # The user's stream first, as the command API's separate transactions would order them.
    return [StreamWrite(user_id, user.STREAM_TYPE, 0, _new(user_events)), *writes]


async def load(
    sessions: async_sessionmaker[AsyncSession],
    users: int,
    orders_per_user: int = 4,
    renames: int = 1,
) -> int:
    """Appends the events of `users` users; returns how many events."""
    total = 0
    for first in range(0, users, USERS_PER_TRANSACTION):
        writes = [
            write
            for seed in range(first, min(first + USERS_PER_TRANSACTION, users))
            for write in _user_writes(orders_per_user, renames, seed)
        ]
        async with sessions() as session, session.begin():
            total += (await append(session, writes)).event_count
    return total


def events_per_user(orders_per_user: int = 4, renames: int = 1) -> int:
    cancelled = sum(1 for n in range(orders_per_user) if n % 3 == 2)
    return 1 + renames + 2 * orders_per_user + cancelled
