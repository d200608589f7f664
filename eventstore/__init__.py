"""The PostgreSQL event store: the only source of truth."""

from eventstore.append import append, append_alone, lock_streams
from eventstore.errors import ConcurrencyConflict, EventStoreError, StreamDeleted, UniqueKeyTaken
from eventstore.position import START, InvalidPosition, Position
from eventstore.read import (
    StreamHead,
    feed_lag,
    load_stream,
    load_streams,
    read_feed,
    read_feed_page,
    read_feed_page_alone,
    read_stream_head,
)
from eventstore.records import (
    AppendResult,
    EventMetadata,
    JsonObject,
    NewEvent,
    RecordedEvent,
    StreamWrite,
    UniqueClaim,
)

__all__ = [
    "START",
    "AppendResult",
    "ConcurrencyConflict",
    "EventMetadata",
    "EventStoreError",
    "InvalidPosition",
    "JsonObject",
    "NewEvent",
    "Position",
    "RecordedEvent",
    "StreamDeleted",
    "StreamHead",
    "StreamWrite",
    "UniqueClaim",
    "UniqueKeyTaken",
    "append",
    "append_alone",
    "feed_lag",
    "load_stream",
    "load_streams",
    "lock_streams",
    "read_feed",
    "read_feed_page",
    "read_feed_page_alone",
    "read_stream_head",
]
