"""The event store's tables, as typed declarative models. Alembic migrations own the schema."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import UserDefinedType


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id, which asyncpg reads and writes as an int."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


class Base(DeclarativeBase):
    pass


class StreamRow(Base):
    """One row per stream: the current version that optimistic concurrency checks against."""

    __tablename__ = "streams"

    stream_id: Mapped[UUID] = mapped_column(primary_key=True)
    stream_type: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(server_default=text("false"))


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
        # The subscriber order of guarantee 1: (transaction_id, position).
        Index("ix_events_feed", "transaction_id", "position"),
    )

    position: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(Xid8, server_default=text("pg_current_xact_id()"))
    stream_id: Mapped[UUID] = mapped_column(ForeignKey("streams.stream_id"))
    stream_type: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[UUID] = mapped_column(unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    schema_version: Mapped[int] = mapped_column(SmallInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    event_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class UniqueKeyRow(Base):
    """A value claimed by one live stream, such as a user's email (guarantee 5)."""

    __tablename__ = "unique_keys"

    scope: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(320), primary_key=True)
    stream_id: Mapped[UUID] = mapped_column(ForeignKey("streams.stream_id"))


class IdempotencyKeyRow(Base):
    """The first answer to a command sent with an `Idempotency-Key` (guarantee 4)."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    # Empty only inside the transaction that claimed the key and has not answered yet.
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Core tables, for the statements on hot paths that skip the ORM's unit of work.
streams = _table(StreamRow)
events = _table(EventRow)
unique_keys = _table(UniqueKeyRow)
idempotency_keys = _table(IdempotencyKeyRow)
