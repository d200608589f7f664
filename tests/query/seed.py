"""Read documents written straight into MongoDB, as the projector would leave them."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from domain.values import email_key
from readmodel.collections import LIVE, STATUS
from readmodel.documents import (
    OrderDocument,
    OrderLine,
    OrderStatus,
    ProjectionState,
    ProjectionStatus,
    UserDocument,
)

Database = AsyncDatabase[dict[str, Any]]
# Whole seconds: MongoDB keeps milliseconds, so anything finer would not read back equal.
PLACED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
# Positions for `revision`, which the projector moves with every change it writes.
_POSITIONS = itertools.count(1)


def a_user(
    name: str = "Ada Lovelace", email: str | None = None, *, deleted: bool = False
) -> UserDocument:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    return UserDocument(
        id=str(uuid.uuid4()),
        name=name,
        email=email,
        email_key=email_key(email),
        version=2 if deleted else 1,
        deleted=deleted,
        created_at=PLACED,
        updated_at=PLACED + timedelta(minutes=1),
    )


def an_order(
    user: UserDocument,
    product: str = "Tea, 250 g",
    quantity: int = 2,
    unit_price: str = "4.50",
    status: OrderStatus = OrderStatus.OPEN,
) -> OrderDocument:
    """The order, with its line embedded in `user` (whose counts follow)."""
    price = Decimal(unit_price)
    order = OrderDocument(
        id=str(uuid.uuid4()),
        user_id=user.id,
        user_name=user.name,
        user_email=user.email,
        user_version=user.version,
        product=product,
        quantity=quantity,
        unit_price=price,
        total=quantity * price,
        status=status,
        version=1 if status is OrderStatus.OPEN else 2,
        placed_at=PLACED,
        updated_at=PLACED,
    )
    user.orders.append(
        OrderLine(
            id=order.id,
            product=product,
            quantity=quantity,
            unit_price=price,
            total=order.total,
            status=status,
            version=order.version,
            placed_at=PLACED,
            updated_at=PLACED,
        )
    )
    user.version += 1  # placing an order writes the user's stream too
    user.recount()
    return order


async def store(db: Database, *documents: UserDocument | OrderDocument) -> None:
    """Insert or replace, so a test can change a document and store it again: each time under
    a revision of its own (set on the document), as the projector writes a change
    (`query_api.renderings`)."""
    for document in documents:
        document.revision = f"1-{next(_POSITIONS)}"
        collection = LIVE.users if isinstance(document, UserDocument) else LIVE.orders
        await db[collection].replace_one({"_id": document.id}, document.to_mongo(), upsert=True)


async def set_checkpoint(
    db: Database, token: str, state: ProjectionState = ProjectionState.RUNNING
) -> None:
    transaction_id, position = (int(part) for part in token.split("-"))
    status = ProjectionStatus(
        name="main",
        checkpoint=token,
        checkpoint_transaction_id=transaction_id,
        checkpoint_position=position,
        state=state,
    )
    await db[STATUS].replace_one({"_id": "main"}, status.model_dump(by_alias=True), upsert=True)
