"""Read-your-writes: how far the projection has got, and waiting for it to get further.

The projection's checkpoint is a gap-free prefix of the feed (every event at or before it is
applied) and the projector moves it only after the documents are written. So a checkpoint read
*before* the documents is a lower bound of what they show: that is what a response announces in
`Projection-Position`, and what `Min-Position` is compared with.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventstore.position import START, Position
from query_api.metrics import MIN_POSITION_WAIT
from readmodel.collections import LIVE, ReadCollections
from readmodel.documents import ProjectionState, find_status

PROJECTION = "main"
POSITION_HEADER = "Projection-Position"
# Where a request keeps the position it is served at, for `PositionHeader` to send.
_STATE_KEY = "projection_position"
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Checkpoint:
    position: Position
    # Stopped by a poison event: it will not move until an operator steps in.
    stopped: bool
    # Where the documents of that checkpoint are; a rebuild moves them (`projector.rebuild`).
    collections: ReadCollections = LIVE


class NotYetApplied(Exception):
    def __init__(self, checkpoint: Checkpoint) -> None:
        super().__init__(f"the projection is at {checkpoint.position}")
        self.checkpoint = checkpoint


class CheckpointReader:
    """Reads the projection's status document, one read at a time for the whole process.

    Requests that arrive while a read is under way share its answer instead of sending their
    own, so a burst of waiting requests costs MongoDB one small read per poll, not one each.
    Sharing is safe because the checkpoint only grows: an answer read a moment ago is still a
    true lower bound.
    """

    def __init__(self, db: AsyncDatabase[dict[str, Any]], name: str = PROJECTION) -> None:
        self._db = db
        self._name = name
        self._pending: asyncio.Future[Checkpoint] | None = None

    async def read(self) -> Checkpoint:
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._fetch())
            self._pending.add_done_callback(self._forget)
        # Shielded: one caller giving up (a client hanging up) must not cancel the others' read.
        return await asyncio.shield(self._pending)

    async def _fetch(self) -> Checkpoint:
        status = await find_status(self._db, self._name)
        if status is None:  # the projector has not started yet: nothing is applied
            return Checkpoint(START, stopped=False)
        return Checkpoint(
            Position.parse(status.checkpoint),
            stopped=status.state is ProjectionState.STOPPED,
            collections=status.collections,
        )

    def _forget(self, done: asyncio.Future[Checkpoint]) -> None:
        if self._pending is done:
            self._pending = None
        if not done.cancelled():
            done.exception()  # retrieved here, in case every caller had gone


async def wait_for(
    reader: CheckpointReader, first: Checkpoint, wanted: Position | None, bound: float
) -> Checkpoint:
    """The checkpoint once it is at or past `wanted`, reading again after `first` as long as
    it is not; NotYetApplied if not within `bound` s."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    checkpoint = first
    if wanted is None:
        return checkpoint
    while checkpoint.position < wanted:
        left = started + bound - loop.time()
        if checkpoint.stopped or left <= 0:
            MIN_POSITION_WAIT.labels("not_reached").observe(loop.time() - started)
            raise NotYetApplied(checkpoint)
        await asyncio.sleep(min(POLL_SECONDS, left))
        checkpoint = await reader.read()
    MIN_POSITION_WAIT.labels("reached").observe(loop.time() - started)
    return checkpoint


def announce(scope: Scope, position: Position) -> None:
    scope.setdefault("state", {})[_STATE_KEY] = str(position)


class PositionHeader:
    """Sends `Projection-Position` on every response whose request looked at the checkpoint,
    errors and 304s included, wherever in the app the response was made."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start":
                position = scope.get("state", {}).get(_STATE_KEY)
                if position is not None:
                    MutableHeaders(scope=message)[POSITION_HEADER] = position
            await send(message)

        await self.app(scope, receive, send_with_position)
