"""What goes into the store and what comes out of it."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, JsonValue

from eventstore.position import Position

JsonObject = dict[str, JsonValue]


class EventMetadata(BaseModel):
    """Who caused an event and in answer to what; stored beside every event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    correlation_id: str
    causation_id: str | None = None
    who: str


@dataclass(frozen=True)
class NewEvent:
    event_type: str
    schema_version: int
    data: JsonObject
    metadata: EventMetadata
    event_id: UUID = field(default_factory=uuid4)


@dataclass(frozen=True)
class StreamWrite:
    """Events for one stream, accepted only if the stream is at `expected_version`.

    `expected_version` 0 means the stream must not exist yet. `close` marks the stream
    deleted in the same statement, so that later writes to it fail with `StreamDeleted`.
    """

    stream_id: UUID
    stream_type: str
    expected_version: int
    events: Sequence[NewEvent]
    close: bool = False

    @property
    def new_version(self) -> int:
        return self.expected_version + len(self.events)


@dataclass(frozen=True)
class UniqueClaim:
    """A value, such as a user's email, held by one live stream within its scope."""

    scope: str
    value: str
    stream_id: UUID


@dataclass(frozen=True)
class AppendResult:
    versions: dict[UUID, int]
    last_position: Position
    event_count: int


@dataclass(frozen=True)
class RecordedEvent:
    position: Position
    stream_id: UUID
    stream_type: str
    version: int
    event_id: UUID
    event_type: str
    schema_version: int
    data: JsonObject
    metadata: JsonObject
    recorded_at: datetime
