"""What an operator asks of a projection: where it is, how far behind, and in what state.

One answer for `esctl projections status` and the command API's admin endpoints alike.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventstore import feed_lag
from projector.rebuild import rebuild_name
from projector.storage import checkpoint_of
from readmodel.documents import (
    ProjectionError,
    ProjectionState,
    ProjectionStatus,
    RebuildPhase,
    find_status,
)

PROJECTIONS = ("main",)


class OverviewState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"  # by a poison event: see `error`
    REBUILDING = "rebuilding"


class RebuildProgress(BaseModel):
    phase: RebuildPhase
    generation: int
    events_applied: int
    events_total: int
    checkpoint: str
    started_at: datetime | None
    finished_at: datetime | None
    message: str | None


class ProjectionOverview(BaseModel):
    name: str
    state: OverviewState
    checkpoint: str
    lag_events: int
    lag_seconds: float
    events_applied: int
    generation: int
    collections: dict[str, str]
    error: ProjectionError | None
    rebuild: RebuildProgress | None
    updated_at: datetime | None


async def overview(
    db: AsyncDatabase[dict[str, Any]], sessions: async_sessionmaker[AsyncSession], name: str
) -> ProjectionOverview:
    """Lag is measured now, against the event store, not taken from the last catch-up."""
    live = await find_status(db, name) or ProjectionStatus(name=name)
    rebuild = await find_status(db, rebuild_name(name))
    async with sessions() as session:
        lag, oldest = await feed_lag(session, checkpoint_of(live))
    age = 0.0 if oldest is None else max((datetime.now(UTC) - oldest).total_seconds(), 0.0)
    rebuilding = rebuild is not None and rebuild.phase in (
        RebuildPhase.REPLAYING,
        RebuildPhase.SWITCHING,
    )
    if live.state is ProjectionState.STOPPED:
        state = OverviewState.STOPPED
    elif rebuilding:
        state = OverviewState.REBUILDING
    else:
        state = OverviewState.RUNNING
    return ProjectionOverview(
        name=name,
        state=state,
        checkpoint=live.checkpoint,
        lag_events=lag,
        lag_seconds=round(age, 3),
        events_applied=live.events_applied,
        generation=live.generation,
        collections={"users": live.users_collection, "orders": live.orders_collection},
        error=live.error,
        rebuild=None if rebuild is None else _progress(rebuild),
        updated_at=live.updated_at,
    )


def _progress(rebuild: ProjectionStatus) -> RebuildProgress:
    return RebuildProgress(
        phase=rebuild.phase or RebuildPhase.REPLAYING,
        generation=rebuild.generation,
        events_applied=rebuild.events_applied,
        events_total=rebuild.events_total,
        checkpoint=rebuild.checkpoint,
        started_at=rebuild.started_at,
        finished_at=rebuild.finished_at,
        message=rebuild.message or (rebuild.error.message if rebuild.error else None),
    )
