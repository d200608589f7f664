"""Applying events to read documents: pure, deterministic and idempotent (guarantee 2).

Each document remembers the stream version it reflects (`version`, and each embedded order
line its own), and an event at or below that version is skipped. So a batch applied twice,
a retried job, or a crash between the document writes and the checkpoint changes nothing:
every document converges to what one clean pass over the feed gives.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from domain import order, user
from domain.events import DomainEvent
from domain.values import email_key
from eventstore import RecordedEvent
from readmodel.documents import OrderDocument, OrderLine, OrderStatus, UserDocument


class Inconsistent(Exception):
    """The event cannot follow what the documents hold: a poison event."""


@dataclass
class Workspace:
    """The documents a batch touches, loaded before and written back after applying it."""

    users: dict[str, UserDocument] = field(default_factory=dict)
    orders: dict[str, OrderDocument] = field(default_factory=dict)
    changed_users: set[str] = field(default_factory=set)
    changed_orders: set[str] = field(default_factory=set)

    def orders_of(self, user_id: str) -> Iterable[OrderDocument]:
        return (doc for doc in self.orders.values() if doc.user_id == user_id)


def apply(workspace: Workspace, record: RecordedEvent) -> None:
    event = DomainEvent.from_data(record.event_type, record.schema_version, record.data)
    if record.stream_type == user.STREAM_TYPE:
        _apply_to_user(workspace, record, event)
    elif record.stream_type == order.STREAM_TYPE:
        _apply_to_order(workspace, record, event)
    else:
        raise Inconsistent(f"unknown stream type {record.stream_type!r}")


def _apply_to_user(workspace: Workspace, record: RecordedEvent, event: DomainEvent) -> None:
    user_id = str(record.stream_id)
    at, token = record.recorded_at, str(record.position)
    doc = workspace.users.get(user_id)
    if isinstance(event, user.UserRegistered):
        if doc is None:
            workspace.users[user_id] = UserDocument(
                id=user_id,
                name=event.name,
                email=event.email,
                email_key=email_key(event.email),
                version=record.version,
                created_at=at,
                updated_at=at,
                revision=token,
            )
            workspace.changed_users.add(user_id)
        return
    if doc is None:
        raise Inconsistent(f"{record.event_type} for user {user_id}, who has no document")
    if doc.version >= record.version:
        return  # applied before
    if doc.version != record.version - 1:
        raise Inconsistent(f"user {user_id} is at version {doc.version}, event is {record.version}")
    match event:
        case user.UserNameChanged(name=name):
            doc.name = name
        case user.UserEmailChanged(email=email):
            doc.email, doc.email_key = email, email_key(email)
        case user.UserDeleted():
            doc.deleted = True
        case user.UserOrderPlaced():
            pass  # the order's own stream carries what the documents show
        case _:
            raise Inconsistent(f"unexpected {record.event_type} in a user stream")
    doc.version, doc.revision = record.version, token
    if not isinstance(event, user.UserOrderPlaced):
        doc.updated_at = at
    workspace.changed_users.add(user_id)
    if isinstance(event, user.UserNameChanged | user.UserEmailChanged):
        for order_doc in workspace.orders_of(user_id):
            if order_doc.user_version < record.version:
                order_doc.user_name, order_doc.user_email = doc.name, doc.email
                order_doc.user_version, order_doc.revision = record.version, token
                workspace.changed_orders.add(order_doc.id)


def _apply_to_order(workspace: Workspace, record: RecordedEvent, event: DomainEvent) -> None:
    order_id = str(record.stream_id)
    at, token = record.recorded_at, str(record.position)
    doc = workspace.orders.get(order_id)
    if isinstance(event, order.OrderPlaced):
        owner = workspace.users.get(str(event.user_id))
        if owner is None:
            raise Inconsistent(f"order {order_id} placed for user {event.user_id} with no document")
        if doc is None:
            doc = OrderDocument(
                id=order_id,
                user_id=owner.id,
                user_name=owner.name,
                user_email=owner.email,
                user_version=owner.version,
                product=event.product,
                quantity=event.quantity,
                unit_price=event.unit_price,
                total=event.quantity * event.unit_price,
                status=OrderStatus.OPEN,
                version=record.version,
                placed_at=at,
                updated_at=at,
                revision=token,
            )
            workspace.orders[order_id] = doc
            workspace.changed_orders.add(order_id)
        _embed(workspace, owner, doc, token)
        return
    if doc is None:
        raise Inconsistent(f"{record.event_type} for order {order_id}, which has no document")
    if doc.version < record.version:
        if doc.version != record.version - 1:
            raise Inconsistent(f"order {order_id} at version {doc.version}, event {record.version}")
        match event:
            case order.OrderChanged(product=product, quantity=quantity, unit_price=price):
                doc.product, doc.quantity, doc.unit_price = product, quantity, price
                doc.total = quantity * price
            case order.OrderCancelled():
                doc.status = OrderStatus.CANCELLED
            case _:
                raise Inconsistent(f"unexpected {record.event_type} in an order stream")
        doc.version, doc.updated_at, doc.revision = record.version, at, token
        workspace.changed_orders.add(order_id)
    owner = workspace.users.get(doc.user_id)
    if owner is None:
        raise Inconsistent(f"order {order_id} belongs to user {doc.user_id} with no document")
    _embed(workspace, owner, doc, token)


def _embed(workspace: Workspace, owner: UserDocument, doc: OrderDocument, token: str) -> None:
    """Bring the order's line in its user's document up to the order document's version."""
    line = next((line for line in owner.orders if line.id == doc.id), None)
    if line is not None and line.version >= doc.version:
        return
    fresh = OrderLine(
        id=doc.id,
        product=doc.product,
        quantity=doc.quantity,
        unit_price=doc.unit_price,
        total=doc.total,
        status=doc.status,
        version=doc.version,
        placed_at=doc.placed_at,
        updated_at=doc.updated_at,
    )
    if line is None:
        owner.orders.append(fresh)
    else:
        owner.orders[owner.orders.index(line)] = fresh
    owner.recount()
    owner.revision = token
    workspace.changed_users.add(owner.id)


def documents_touched(records: Iterable[RecordedEvent]) -> tuple[set[str], set[str], set[str]]:
    """Ids to load before applying: users by id, orders by id, and users whose orders to load."""
    user_ids: set[str] = set()
    order_ids: set[str] = set()
    renamed: set[str] = set()
    for record in records:
        if record.stream_type == user.STREAM_TYPE:
            user_ids.add(str(record.stream_id))
            if record.event_type in (
                user.UserNameChanged.event_type,
                user.UserEmailChanged.event_type,
            ):
                renamed.add(str(record.stream_id))
        else:
            order_ids.add(str(record.stream_id))
            owner = record.data.get("user_id") if record.event_type == "OrderPlaced" else None
            if isinstance(owner, str):
                user_ids.add(owner)
    return user_ids, order_ids, renamed
