"""The command API's request and response bodies: strict, bounded, snake_case."""

import re
from datetime import datetime
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    JsonValue,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from domain.values import Email, Money, Name, Product, Quantity
from eventstore import RecordedEvent
from projector.overview import ProjectionOverview
from web.openapi import without_null

# Money as a client may write it: a JSON number, or text with at most two decimal places and
# nothing else (no sign but on zero, no exponent, no spaces or underscores, which Decimal()
# would otherwise read).
_MONEY_TEXT = r"^(-?0{1,10}(\.0{1,2})?|[0-9]{1,10}(\.[0-9]{1,2})?)$"


def _plain_money_text(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(_MONEY_TEXT, value):
        raise ValueError('a decimal with at most two places, like "18.50"')
    return value


MoneyIn = Annotated[
    Money,
    BeforeValidator(_plain_money_text),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 9_999_999_999.99},
                {"type": "string", "pattern": _MONEY_TEXT},
            ]
        }
    ),
]


class _Body(BaseModel):
    # Unknown fields are refused, not ignored: a typo must not pass as a no-op (guarantee 8).
    model_config = ConfigDict(extra="forbid")


def _partial_schema(schema: dict[str, Any]) -> None:
    # As `_Partial` reads a body: at least one field, and none of them null.
    schema["minProperties"] = 1
    properties = schema.get("properties", {})
    for name, field in properties.items():
        properties[name] = without_null(field)


class _Partial(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_partial_schema)

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class UserBody(_Body):
    name: Name
    email: Email


class UserPatch(_Partial):
    name: Name | None = None
    email: Email | None = None


class OrderBody(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {"product": "Espresso beans, 1 kg", "quantity": 2, "unit_price": "18.50"}
        },
    )

    product: Product
    quantity: Quantity
    unit_price: MoneyIn


class OrderPatch(_Partial):
    product: Product | None = None
    quantity: Quantity | None = None
    unit_price: MoneyIn | None = None


class Accepted(BaseModel):
    """What every successful command answers."""

    id: UUID
    version: int
    position: str


class EventOut(BaseModel):
    position: str
    event_id: UUID
    stream_id: UUID
    stream_type: str
    version: int
    type: str
    schema_version: int
    data: dict[str, JsonValue]
    metadata: dict[str, JsonValue]
    recorded_at: datetime

    @classmethod
    def of(cls, record: RecordedEvent) -> "EventOut":
        return cls(
            position=str(record.position),
            event_id=record.event_id,
            stream_id=record.stream_id,
            stream_type=record.stream_type,
            version=record.version,
            type=record.event_type,
            schema_version=record.schema_version,
            data=record.data,
            metadata=record.metadata,
            recorded_at=record.recorded_at,
        )


class StreamHistory(BaseModel):
    stream_id: UUID
    events: list[EventOut]


class FeedPage(BaseModel):
    events: list[EventOut]
    # Pass as `after` for the next page; equal to the request's `after` when caught up.
    next: str


class RebuildOptions(_Body):
    # Strict: `"false"` or `0` is refused rather than taken for a flag (guarantee 8).
    model_config = ConfigDict(extra="forbid", strict=True)

    from_scratch: bool = False  # drop an interrupted rebuild instead of resuming it
    keep_old: bool = False  # keep the replaced collections, for a rollback


class RebuildQueued(BaseModel):
    """A rebuild waiting for the projector: follow it at `status` (the `Location`)."""

    job_id: str
    projection: str
    from_scratch: bool
    keep_old: bool
    status: str


class ProjectionList(BaseModel):
    projections: list[ProjectionOverview]
