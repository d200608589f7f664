"""Many events, fast: the domain decides them, and they are written by COPY, many streams
per transaction. Every event is one the command API could have written (as in the projector's
tests), so what the projector and the query API then see is real.

COPY, not `eventstore.append`: a million events take minutes through `append` and seconds
this way. The rows are the ones `append` writes for new streams (a `streams` row at the last
version, events numbered from 1, in the order given); the database fills in the rest
(position, transaction id, time) from the same column defaults.
"""

import json
import math
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import order, user
from domain.events import DomainEvent
from eventstore import EventMetadata, NewEvent, StreamWrite

META = EventMetadata(correlation_id="bench-load", who="bench")
# One COPY transaction each, of about 5,000 events: the statements' own cost vanishes, and a
# subscriber reading meanwhile still sees the events arrive in steps.
USERS_PER_TRANSACTION = 500
STREAM_COLUMNS = ("stream_id", "stream_type", "version", "deleted")
EVENT_COLUMNS = (
    "stream_id",
    "stream_type",
    "version",
    "event_id",
    "event_type",
    "schema_version",
    "data",
    "metadata",
)


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
            total += await copy_new_streams(session, writes)
    return user_ids, total


async def load_about(
    sessions: async_sessionmaker[AsyncSession], events: int, orders: int = 4, renames: int = 1
) -> int:
    """About `events` events, in whole users of `orders` orders and `renames` renames each;
    how many were loaded."""
    users = math.ceil(events / events_per_user(orders, renames))
    print(f"  loading {users * events_per_user(orders, renames):,} events", flush=True)
    _, loaded = await load(sessions, users, orders, renames)
    return loaded


async def copy_new_streams(session: AsyncSession, writes: Sequence[StreamWrite]) -> int:
    """Writes new streams in the session's transaction, as `append` would; how many events."""
    if any(write.expected_version != 0 for write in writes):
        raise ValueError("only new streams are copied; append to existing ones")
    # The asyncpg connection under the session, so that the COPY joins its transaction.
    # jsonb goes as JSON text: the SQLAlchemy dialect's codec on that connection expects it.
    driver: Any = (await (await session.connection()).get_raw_connection()).driver_connection
    await driver.copy_records_to_table(
        "streams",
        columns=STREAM_COLUMNS,
        records=[(w.stream_id, w.stream_type, w.new_version, w.close) for w in writes],
    )
    rows = [
        (
            write.stream_id,
            write.stream_type,
            version,
            event.event_id,
            event.event_type,
            event.schema_version,
            json.dumps(event.data),
            event.metadata.model_dump_json(),
        )
        for write in writes
        for version, event in enumerate(write.events, start=1)
    ]
    await driver.copy_records_to_table("events", columns=EVENT_COLUMNS, records=rows)
    return len(rows)
