"""Catching a projection up with the feed: read after the checkpoint, apply, write, advance.

The checkpoint moves only after the batch's documents are written, and only to the last
event of that batch, so it never runs ahead of what is applied; with the feed's gap-safe
order it is a gap-free prefix of the feed, which `Min-Position` relies on.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.events import UnknownEventType
from eventstore import Position, RecordedEvent, feed_lag, read_feed_page_alone
from eventstore.read import fence_holder
from projector import metrics
from projector.projection import Inconsistent, apply
from projector.storage import (
    advance_checkpoint,
    checkpoint_of,
    load_workspace,
    read_status,
    record_lag,
    save_workspace,
    stop_at,
)
from readmodel.documents import ProjectionState, ProjectionStatus

log = structlog.get_logger()

# What an event that cannot be applied raises; anything else is a fault of a store or a bug.
POISON = (Inconsistent, UnknownEventType, ValidationError, ValueError, KeyError, TypeError)
STORE_FAULTS = (PyMongoError, DBAPIError, OSError, TimeoutError)


@dataclass(frozen=True)
class Projection:
    """A projection's inputs. Its status document (named `name`) holds the checkpoint and
    which collections hold its documents."""

    sessions: async_sessionmaker[AsyncSession]
    db: AsyncDatabase[dict[str, Any]]
    name: str = "main"
    batch_size: int = 500

    @property
    def scope(self) -> str:
        """Names the projection among all that share a Redis: its database and its name."""
        return f"{self.db.name}:{self.name}"


@dataclass
class Carried:
    """The status as a holder's last catch-up left it, for its next one to start from.

    While the projection's lock is held, only its holder writes the status: a rebuild's switch
    takes the lock first, the holder makes sure of its lock before each pass
    (`projector.worker.LockRenewal`), and the status's fence refuses one whose lock lapsed
    during a pass (`advance_checkpoint`, `stop_at`).
    So the holder need not read it again before each pass: under a steady stream of commits a
    pass is a handful of round trips, and this was one of them. Not carried: a stopped status
    (an operator may resume it meanwhile), nor one left by a catch-up that failed midway."""

    status: ProjectionStatus | None = None


async def catch_up(
    projection: Projection,
    on_batch: Callable[[], Awaitable[object]] | None = None,
    until: Position | None = None,
    deadline: float | None = None,
    report_idle: bool = True,
    carried: Carried | None = None,
) -> int:
    """Apply every event visible after the checkpoint (up to `until`, when given); returns
    how many were applied. After `deadline` (a `time.monotonic()`), no batch but the first
    is started, so that a long backlog is applied in turns of bounded length. An idle
    catch-up reports the lag at once unless `report_idle` is false: the pass that ends a
    stream, which the stream's own passes have just reported. With `carried`, it starts from
    the status carried there, if any, and leaves its own there."""
    if carried is None:
        carried = Carried()
    status = carried.status or await read_status(projection.db, projection.name)
    carried.status = None  # until this catch-up is done: one that fails midway leaves none
    applied = 0
    while status.state is ProjectionState.RUNNING:
        batch = await read_feed_page_alone(
            projection.sessions, checkpoint_of(status), projection.batch_size, until
        )
        if not batch:
            break
        status, count = await apply_batch(projection, status, batch)
        applied += count
        if on_batch is not None:
            await on_batch()
        if len(batch) < projection.batch_size:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
    now = time.monotonic()
    # The lag costs two queries and a write: under a steady stream of events, where each
    # catch-up is short, once a second is enough; an idle catch-up (the cron's) reports at once.
    due = now - _lag_reported.get(projection.scope, -LAG_EVERY_SECONDS) >= LAG_EVERY_SECONDS
    if due or (applied == 0 and report_idle):
        _lag_reported[projection.scope] = now
        status = await _report_lag(projection, status)
    if status.state is ProjectionState.RUNNING:
        carried.status = status
    return applied


async def catch_up_with_retries(
    projection: Projection,
    budget_seconds: float,
    on_batch: Callable[[], Awaitable[object]] | None = None,
    report_idle: bool = True,
    carried: Carried | None = None,
) -> int:
    """`catch_up`, retried with backoff while a store is down, for about `budget_seconds` at
    most: after them, no retry and no batch but a first one is started."""
    deadline = time.monotonic() + budget_seconds
    delay = 0.1
    while True:
        try:
            return await catch_up(
                projection, on_batch, deadline=deadline, report_idle=report_idle, carried=carried
            )
        except STORE_FAULTS as error:
            metrics.RETRIES.labels(projection.name).inc()
            if time.monotonic() + delay > deadline:
                log.warning("catch-up gave up for now", error=repr(error)[:300])
                return 0
            log.warning("store fault, retrying", error=repr(error)[:300], retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def apply_batch(
    projection: Projection, status: ProjectionStatus, batch: Sequence[RecordedEvent]
) -> tuple[ProjectionStatus, int]:
    started = time.perf_counter()
    names = status.collections
    workspace, users, orders = await load_workspace(projection.db, names, batch)
    for index, record in enumerate(batch):
        try:
            apply(workspace, record)
        except POISON as error:
            return await _stop_at_poison(projection, status, batch[:index], record, error)
    await save_workspace(projection.db, names, workspace, users, orders)
    status = await advance_checkpoint(projection.db, status, batch[-1], len(batch))
    metrics.EVENTS_PROJECTED.labels(projection.name).inc(len(batch))
    metrics.BATCH_SIZE.labels(projection.name).observe(len(batch))
    metrics.BATCH_SECONDS.labels(projection.name).observe(time.perf_counter() - started)
    metrics.STOPPED.labels(projection.name).set(0)
    return status, len(batch)


async def _stop_at_poison(
    projection: Projection,
    status: ProjectionStatus,
    good: Sequence[RecordedEvent],
    poison: RecordedEvent,
    error: Exception,
) -> tuple[ProjectionStatus, int]:
    # The workspace may hold part of the poison event's effects: apply what precedes it afresh.
    if good:
        status, _ = await apply_batch(projection, status, good)
    log.error(
        "poison event stops the projection",
        projection=projection.name,
        position=str(poison.position),
        event_type=poison.event_type,
        error=repr(error)[:300],
    )
    metrics.STOPPED.labels(projection.name).set(1)
    return await stop_at(projection.db, status, poison, error), len(good)


LAG_EVERY_SECONDS = 1.0
# When each projection (by scope: two databases may each have a "main") last reported.
_lag_reported: dict[str, float] = {}


async def _report_lag(projection: Projection, status: ProjectionStatus) -> ProjectionStatus:
    """Report the lag; the status with it, as now stored."""
    async with projection.sessions() as session:
        count, oldest = await feed_lag(session, checkpoint_of(status))
    age = 0.0 if oldest is None else max((datetime.now(UTC) - oldest).total_seconds(), 0.0)
    metrics.LAG_EVENTS.labels(projection.name).set(count)
    metrics.LAG_SECONDS.labels(projection.name).set(age)
    lag = await record_lag(projection.db, projection.name, count, age)
    await _report_fence(projection)
    return status.model_copy(update=lag)


# The label set last reported per projection, so that a holder that ended leaves the gauge.
_fence_labels: dict[str, tuple[str, str]] = {}


async def _report_fence(projection: Projection) -> None:
    async with projection.sessions() as session:
        holder = await fence_holder(session)
    previous = _fence_labels.pop(projection.name, None)
    if previous is not None:
        metrics.FENCE_HOLDER.remove(projection.name, *previous)
    if holder is None:
        metrics.FENCE_HELD_SECONDS.labels(projection.name).set(0)
        return
    labels = (str(holder.pid), holder.application_name)
    metrics.FENCE_HELD_SECONDS.labels(projection.name).set(holder.held_seconds)
    metrics.FENCE_HOLDER.labels(projection.name, *labels).set(1)
    _fence_labels[projection.name] = labels
