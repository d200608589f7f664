"""Bringing a projection to the head of the feed, in the harness's own process."""

import asyncio
import time
from collections.abc import Awaitable, Callable

from eventstore import feed_lag
from projector.catch_up import Projection, catch_up
from projector.storage import checkpoint_of, read_status
from readmodel.documents import ProjectionState


async def settle(
    projection: Projection,
    within: float = 600.0,
    on_batch: Callable[[], Awaitable[object]] | None = None,
) -> int:
    """Catch up until no event is left after the checkpoint; returns how many were applied.

    The feed holds back events while any older transaction on the server is open, even one
    in another database (guarantee 1), so one pass may see less than everything.
    """
    applied = 0
    deadline = time.monotonic() + within
    while True:
        applied += await catch_up(projection, on_batch)
        status = await read_status(projection.db, projection.name)
        if status.state is ProjectionState.STOPPED:
            raise RuntimeError(f"the projection stopped: {status.error}")
        async with projection.sessions() as session:
            left, _ = await feed_lag(session, checkpoint_of(status))
        if left == 0:
            return applied
        if time.monotonic() > deadline:
            raise TimeoutError(f"{left} events never became visible")
        await asyncio.sleep(0.05)
