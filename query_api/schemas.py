"""The query API's response bodies: snake_case, money as 2-place strings, no internal fields."""

from datetime import datetime
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from readmodel.documents import Money, OrderDocument, OrderStatus, UserDocument


class _Out(BaseModel):
    # Built from the readmodel documents by attribute, so the fields listed here are all a
    # client sees: `revision`, `email_key` and `deleted` stay inside.
    model_config = ConfigDict(from_attributes=True)


class OrderLineOut(_Out):
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


class UserSummary(_Out):
    """A user as listed: the counts, without the embedded orders."""

    id: UUID
    name: str
    email: str
    # The user stream's version: what `If-Match` on the command API takes.
    version: int
    order_count: int
    total_spent: Money
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_mongo(cls, raw: dict[str, Any]) -> Self:
        return cls.model_validate(UserDocument.from_mongo(raw))


class UserOut(UserSummary):
    orders: list[OrderLineOut]


class OrderOut(_Out):
    id: UUID
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

    @classmethod
    def from_mongo(cls, raw: dict[str, Any]) -> Self:
        return cls.model_validate(OrderDocument.from_mongo(raw))


Item = TypeVar("Item", bound=BaseModel)


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
