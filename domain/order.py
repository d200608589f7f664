"""The Order aggregate: placed for a live user, changed while open, cancelled."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.errors import Gone, NotFound, RuleViolation
from domain.events import DomainEvent
from domain.values import Money, Product, Quantity

STREAM_TYPE = "order"


class OrderStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


class CancellationReason(StrEnum):
    BY_CLIENT = "cancelled_by_client"
    USER_DELETED = "user_deleted"


class OrderPlaced(DomainEvent):
    user_id: UUID
    product: Product
    quantity: Quantity
    unit_price: Money


class OrderChanged(DomainEvent):
    """Carries every field's value after the change, so a reader needs no earlier event."""

    product: Product
    quantity: Quantity
    unit_price: Money


class OrderCancelled(DomainEvent):
    reason: CancellationReason


OrderEvent = OrderPlaced | OrderChanged | OrderCancelled


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlaceOrder(_Command):
    user_id: UUID
    product: Product
    quantity: Quantity
    unit_price: Money


class ChangeOrder(_Command):
    product: Product | None = None
    quantity: Quantity | None = None
    unit_price: Money | None = None


class CancelOrder(_Command):
    reason: CancellationReason = CancellationReason.BY_CLIENT


OrderCommand = PlaceOrder | ChangeOrder | CancelOrder


@dataclass(frozen=True)
class Order:
    user_id: UUID
    product: str
    quantity: int
    unit_price: Decimal
    status: OrderStatus = OrderStatus.OPEN

    @property
    def total(self) -> Decimal:
        return self.quantity * self.unit_price


def evolve(state: Order | None, event: DomainEvent) -> Order | None:
    match event:
        case OrderPlaced(user_id=user_id, product=product, quantity=qty, unit_price=price) if (
            state is None
        ):
            return Order(user_id=user_id, product=product, quantity=qty, unit_price=price)
        case OrderChanged(product=product, quantity=qty, unit_price=price) if state is not None:
            return replace(state, product=product, quantity=qty, unit_price=price)
        case OrderCancelled() if state is not None:
            return replace(state, status=OrderStatus.CANCELLED)
    raise ValueError(f"{event.event_type} cannot follow state {state!r}")


def fold(events: Sequence[DomainEvent]) -> Order | None:
    state: Order | None = None
    for event in events:
        state = evolve(state, event)
    return state


def decide(command: OrderCommand, state: Order | None) -> list[DomainEvent]:
    """Whether the user is live is the User aggregate's call (`domain.user.AddOrder`)."""
    if isinstance(command, PlaceOrder):
        if state is not None:
            raise RuleViolation("the order is already placed")
        return [
            OrderPlaced(
                user_id=command.user_id,
                product=command.product,
                quantity=command.quantity,
                unit_price=command.unit_price,
            )
        ]
    if state is None:
        raise NotFound("no such order")
    if state.status is OrderStatus.CANCELLED:
        raise Gone("the order was cancelled")
    match command:
        case ChangeOrder(product=product, quantity=qty, unit_price=price):
            changed = replace(
                state,
                product=state.product if product is None else product,
                quantity=state.quantity if qty is None else qty,
                unit_price=state.unit_price if price is None else price,
            )
            if changed == state:
                return []
            return [
                OrderChanged(
                    product=changed.product,
                    quantity=changed.quantity,
                    unit_price=changed.unit_price,
                )
            ]
        case CancelOrder(reason=reason):
            return [OrderCancelled(reason=reason)]
    raise TypeError(f"unknown command {command!r}")
