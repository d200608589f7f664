"""What the read documents must hold, computed straight from the event store by the domain's
own folds: an oracle that shares no code with the projector."""

from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import order, user
from domain.events import DomainEvent
from eventstore import load_stream
from eventstore.tables import streams


async def expected_documents(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The fields every user and order document must show, by id."""
    users: dict[str, dict[str, Any]] = {}
    orders: dict[str, dict[str, Any]] = {}
    async with sessions() as session:
        rows = (await session.execute(select(streams.c.stream_id, streams.c.stream_type))).all()
        folded = {
            row.stream_id: (row.stream_type, await _events(session, row.stream_id)) for row in rows
        }
    states = {
        sid: user.fold(evs) for sid, (kind, evs) in folded.items() if kind == user.STREAM_TYPE
    }
    for stream_id, (kind, events) in folded.items():
        if kind != order.STREAM_TYPE:
            continue
        placed = order.fold(events)
        assert placed is not None
        owner = states[placed.user_id]
        assert owner is not None
        state = placed
        orders[str(stream_id)] = {
            "user_id": str(state.user_id),
            "user_name": owner.name,
            "user_email": owner.email,
            "product": state.product,
            "quantity": state.quantity,
            "unit_price": f"{state.unit_price:.2f}",
            "total": f"{state.total:.2f}",
            "status": state.status.value,
            "version": len(events),
        }
    for stream_id, registered in states.items():
        assert registered is not None
        own = [orders[str(oid)] | {"id": str(oid)} for oid in registered.order_ids]
        live = [o for o in own if o["status"] == "open"]
        users[str(stream_id)] = {
            "name": registered.name,
            "email": registered.email,
            "deleted": registered.deleted,
            "version": len(folded[stream_id][1]),
            "order_count": len(live),
            "total_spent": f"{sum((Decimal(o['total']) for o in live), Decimal('0')):.2f}",
            "orders": sorted(
                (o["id"], o["status"], o["quantity"], o["total"], o["version"]) for o in own
            ),
        }
    return users, orders


async def _events(session: AsyncSession, stream_id: UUID) -> list[DomainEvent]:
    return [
        DomainEvent.from_data(r.event_type, r.schema_version, r.data)
        for r in await load_stream(session, stream_id)
    ]


def shown(
    users_raw: list[dict[str, Any]], orders_raw: list[dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The same fields, as the read documents show them."""
    users = {
        u["_id"]: {
            "name": u["name"],
            "email": u["email"],
            "deleted": u["deleted"],
            "version": u["version"],
            "order_count": u["order_count"],
            "total_spent": u["total_spent"],
            "orders": sorted(
                (o["id"], o["status"], o["quantity"], o["total"], o["version"]) for o in u["orders"]
            ),
        }
        for u in users_raw
    }
    keys = (
        "user_id",
        "user_name",
        "user_email",
        "product",
        "quantity",
        "unit_price",
        "total",
        "status",
        "version",
    )
    orders = {o["_id"]: {k: o[k] for k in keys} for o in orders_raw}
    return users, orders
