"""The event base class and the one serializer between events and stored JSON."""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, JsonValue


class DomainEvent(BaseModel):
    """An immutable fact. Its identity in storage is `event_type` plus `schema_version`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    _registry: ClassVar[dict[tuple[str, int], type["DomainEvent"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" not in cls.__dict__:
            cls.event_type = cls.__name__
        DomainEvent._registry[(cls.event_type, cls.schema_version)] = cls

    def to_data(self) -> dict[str, JsonValue]:
        return self.model_dump(mode="json")

    @staticmethod
    def from_data(
        event_type: str, schema_version: int, data: dict[str, JsonValue]
    ) -> "DomainEvent":
        try:
            cls = DomainEvent._registry[(event_type, schema_version)]
        except KeyError:
            raise UnknownEventType(event_type, schema_version) from None
        return cls.model_validate(data)


class UnknownEventType(LookupError):
    def __init__(self, event_type: str, schema_version: int) -> None:
        super().__init__(f"no event class for {event_type} v{schema_version}")
