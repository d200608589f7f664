"""The query API's response bodies: snake_case, money as 2-place strings, no internal fields."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

from pydantic import AliasChoices, BaseModel, Field

from readmodel.documents import Money, OrderStatus


def _id() -> Any:
    """The stored document's `_id`, which clients see as `id`."""
    return Field(validation_alias=AliasChoices("_id", "id"))


class DocumentOut(BaseModel):
    # The fields listed here are all a client sees: `revision`, `email_key` and `deleted`
    # stay inside.

    @classmethod
    def from_mongo(cls, raw: Mapping[str, Any]) -> Self:
        # Straight from the stored document, validated once: going through the readmodel's
        # document class first cost a third more (bench, issue 6).
        return cls.model_validate(raw)


class OrderLineOut(DocumentOut):
    """An order as embedded in its user."""

    id: UUID
    product: str
    quantity: int
    unit_price: Money
    total: Money
    status: OrderStatus
    version: int
    placed_at: datetime
    updated_at: datetime


class UserSummary(DocumentOut):
    """A user as listed: the counts, without the embedded orders."""

    id: UUID = _id()
    name: str
    email: str
    # The user stream's version: what `If-Match` on the command API takes.
    version: int
    order_count: int
    total_spent: Money
    created_at: datetime
    updated_at: datetime


class UserOut(UserSummary):
    orders: list[OrderLineOut]


class OrderOut(DocumentOut):
    id: UUID = _id()
    user_id: UUID
    user_name: str
    user_email: str
    product: str
    quantity: int
    unit_price: Money
    total: Money
    status: OrderStatus
    version: int
    placed_at: datetime
    updated_at: datetime


Item = TypeVar("Item", bound=BaseModel)


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
