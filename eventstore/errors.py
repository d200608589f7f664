from uuid import UUID


class EventStoreError(Exception):
    pass


class ConcurrencyConflict(EventStoreError):
    """A stream's version is not the one the writer expected (guarantee 3)."""

    def __init__(self, stream_id: UUID, expected: int, actual: int | None) -> None:
        super().__init__(f"stream {stream_id}: expected version {expected}, found {actual}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class StreamDeleted(EventStoreError):
    def __init__(self, stream_id: UUID) -> None:
        super().__init__(f"stream {stream_id} is deleted")
        self.stream_id = stream_id


class UniqueKeyTaken(EventStoreError):
    def __init__(self, scope: str) -> None:
        super().__init__(f"the {scope} is taken")
        self.scope = scope


class StoreUnavailable(EventStoreError):
    """PostgreSQL could not be reached, or went away during the call: whether a write made
    in a transaction of its own committed is then unknown."""


def is_connection_failure(sqlstate: object) -> bool:
    """SQLSTATE class 08 is a connection failure, 57P a shutdown or a server still starting:
    PostgreSQL is away, not refusing the statement."""
    return isinstance(sqlstate, str) and sqlstate.startswith(("08", "57P"))
