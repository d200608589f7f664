"""An event store in memory, with the contract of `eventstore.append` and `load_stream`.

Streams are versioned from 1, written all or nothing at an expected version, and closed by a
delete or a cancellation. Events are kept as the JSON text the events table's jsonb holds, so
that every load folds events that went through the serializer, as the command API's do.

The domain must never make this store refuse: the property tests run one command at a time, so
a version conflict or a write to a closed stream could only come from a decider that emitted
events it should have refused. Both are assertion failures here, not refusals.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from uuid import UUID

from domain import order, user
from domain.events import DomainEvent

State = TypeVar("State")


@dataclass(frozen=True)
class Row:
    stream_type: str
    version: int
    event_type: str
    schema_version: int
    data: str


@dataclass(frozen=True)
class Loaded(Generic[State]):
    state: State
    version: int


@dataclass(frozen=True)
class Write:
    """Events for one stream, with the state its decider saw and the version it was at."""

    stream_id: UUID
    stream_type: str
    expected_version: int
    seen: user.User | order.Order | None
    events: Sequence[DomainEvent]
    close: bool = False


def _evolve_all(write: Write) -> user.User | order.Order | None:
    state = write.seen
    for event in write.events:
        if write.stream_type == user.STREAM_TYPE:
            assert state is None or isinstance(state, user.User)
            state = user.evolve(state, event)
        else:
            assert state is None or isinstance(state, order.Order)
            state = order.evolve(state, event)
    return state


@dataclass
class MemoryStore:
    rows: dict[UUID, list[Row]] = field(default_factory=dict)
    closed: set[UUID] = field(default_factory=set)
    # Per stream, the state its last decider saw with its decided events applied in memory:
    # what folding the stored stream must give back.
    decided: dict[UUID, user.User | order.Order | None] = field(default_factory=dict)

    def load(
        self, stream_id: UUID, stream_type: str, fold: Callable[[Sequence[DomainEvent]], State]
    ) -> Loaded[State]:
        rows = self.rows.get(stream_id, [])
        # As the handlers do: a stream of another type is not found through this id.
        if rows and rows[0].stream_type != stream_type:
            rows = []
        events = [
            DomainEvent.from_data(r.event_type, r.schema_version, json.loads(r.data)) for r in rows
        ]
        return Loaded(fold(events), len(rows))

    def append(self, writes: Sequence[Write]) -> None:
        assert any(write.events for write in writes), "an append with no events"
        for write in writes:
            current = len(self.rows.get(write.stream_id, []))
            assert write.expected_version == current, (
                f"stream {write.stream_id}: expected version {write.expected_version}, "
                f"found {current}"
            )
            assert write.stream_id not in self.closed, f"an event for closed {write.stream_id}"
        for write in writes:
            stream = self.rows.setdefault(write.stream_id, [])
            for event in write.events:
                data = json.dumps(event.to_data())
                # A stored event that does not load back as itself is a stream lost.
                reloaded = DomainEvent.from_data(
                    event.event_type, event.schema_version, json.loads(data)
                )
                assert reloaded == event, f"{event!r} reloads as {reloaded!r}"
                stream.append(
                    Row(
                        write.stream_type,
                        len(stream) + 1,
                        event.event_type,
                        event.schema_version,
                        data,
                    )
                )
            if write.close:
                self.closed.add(write.stream_id)
            self.decided[write.stream_id] = _evolve_all(write)

    def event_count(self) -> int:
        return sum(len(stream) for stream in self.rows.values())
