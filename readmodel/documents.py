"""Read documents as stored in MongoDB. Money is kept as a 2-place decimal string, never a float."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pymongo.asynchronous.database import AsyncDatabase

from readmodel.collections import LIVE, STATUS, ReadCollections

Money = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str)]
ZERO = Decimal("0.00")


class OrderStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


class _Document(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    # The feed position of the last event applied to this document. Deterministic (a replay
    # writes the same value), and the fence of every write: a projector that loaded an older
    # copy cannot overwrite a newer one.
    revision: str = "0-0"

    def to_mongo(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    @classmethod
    def from_mongo(cls, raw: dict[str, Any]) -> Self:
        return cls.model_validate(raw)


class OrderLine(BaseModel):
    """An order as embedded in its user's document."""

    id: str
    product: str
    quantity: int
    unit_price: Money
    total: Money
    status: OrderStatus
    version: int
    placed_at: datetime
    updated_at: datetime


class UserDocument(_Document):
    id: str = Field(alias="_id")
    name: str
    email: str
    # The lowercased email, which the `email` filter matches (emails are unique case-insensitively).
    email_key: str
    version: int
    deleted: bool = False
    created_at: datetime
    updated_at: datetime
    orders: list[OrderLine] = Field(default_factory=list)
    order_count: int = 0
    total_spent: Money = ZERO

    def recount(self) -> None:
        """`order_count` and `total_spent` cover the orders that are not cancelled."""
        live = [line for line in self.orders if line.status is OrderStatus.OPEN]
        self.order_count = len(live)
        self.total_spent = sum((line.total for line in live), ZERO)


class OrderDocument(_Document):
    id: str = Field(alias="_id")
    user_id: str
    user_name: str
    user_email: str
    # The user stream version whose name and email are denormalized here.
    user_version: int
    product: str
    quantity: int
    unit_price: Money
    total: Money
    status: OrderStatus
    version: int
    placed_at: datetime
    updated_at: datetime


class ProjectionState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"  # by a poison event: see `error`


class RebuildPhase(StrEnum):
    REPLAYING = "replaying"  # into new collections, beside the live projection
    SWITCHING = "switching"  # the live projection paused: last events, verify, swap
    DONE = "done"
    FAILED = "failed"  # see `message`; the live projection was left as it was


class ProjectionError(BaseModel):
    position: str
    event_id: str
    event_type: str
    message: str
    at: datetime


class Resumed(BaseModel):
    error: ProjectionError
    by: str
    at: datetime


class ProjectionStatus(BaseModel):
    """One per projection. `checkpoint` is a gap-free prefix of the feed: every event at or
    before it (in feed order) is applied, so it is what `Min-Position` is compared with."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str = Field(alias="_id")
    checkpoint: str = "0-0"
    checkpoint_transaction_id: int = 0
    checkpoint_position: int = 0
    state: ProjectionState = ProjectionState.RUNNING
    error: ProjectionError | None = None
    # Each stop an operator resumed from, and who did: the record of what went wrong.
    resumed: list["Resumed"] = Field(default_factory=list)
    events_applied: int = 0
    last_event_recorded_at: datetime | None = None
    # As measured after the last catch-up: events after the checkpoint, and the oldest one's age.
    lag_events: int = 0
    lag_seconds: float = 0.0
    updated_at: datetime | None = None
    # Which collections hold this projection's documents. Readers and the projector take the
    # names from here on every read, so a rebuild switches them all with one document write.
    generation: int = 0
    users_collection: str = LIVE.users
    orders_collection: str = LIVE.orders
    # Only on a rebuild's own status (`<name>.rebuild`): how far it has got.
    phase: RebuildPhase | None = None
    events_total: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str | None = None

    @property
    def collections(self) -> ReadCollections:
        return ReadCollections(self.users_collection, self.orders_collection)


async def find_status(db: AsyncDatabase[dict[str, Any]], name: str) -> ProjectionStatus | None:
    """The projection's status document; None before anything has written one."""
    raw = await db[STATUS].find_one({"_id": name})
    return None if raw is None else ProjectionStatus.model_validate(raw)
