"""Read-your-writes: how far the projection has got, and waiting for it to get further.

The projection's checkpoint is a gap-free prefix of the feed (every event at or before it is
applied) and the projector moves it only after the documents are written. So a checkpoint read
*before* the documents is a lower bound of what they show: that is what a response announces in
`Projection-Position`, and what `Min-Position` is compared with.
"""

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventstore.position import START, Position
from query_api.metrics import MIN_POSITION_WAIT
from readmodel.collections import LIVE, ReadCollections
from readmodel.documents import ProjectionState, find_status
from web.tasks import stop

PROJECTION = "main"
POSITION_HEADER = "Projection-Position"
# Where a request keeps the position it is served at, for `PositionHeader` to send.
_STATE_KEY = "projection_position"
POLL_SECONDS = 0.02
# A request may be served at a checkpoint read this long ago (counted from when the read began);
# one that finds it older than REFRESH_AFTER_SECONDS starts the next read, for those after it.
MAX_AGE_SECONDS = 0.05
REFRESH_AFTER_SECONDS = 0.01


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
    own, so a burst of requests costs MongoDB one small read, not one each. Sharing is safe
    because the checkpoint only grows: an answer read a moment ago is still a true lower bound.

    A request need not wait for a read at all while the latest began less than `max_age` ago:
    each read a request waited for, a round trip to MongoDB, held up every request behind it,
    and under load they all arrived together, waited together for the checkpoint, then together
    for their documents (`query_api.loader`), and the query API idled meanwhile. A request that
    finds the latest read older than `refresh_after` starts the next one without waiting for
    it, so under load the checkpoint is never more than a few round trips old, and no request
    waits for it. Requests needing a later position (`Min-Position`) than the latest read read
    again. A rebuild's switch reaches the readers this much later: the old collections are kept
    for seconds after it (`projector.rebuild`).

    Requests waiting for a position (`Min-Position`) share one watch too, which reads the
    checkpoint every POLL_SECONDS while any of them waits; and every read, whoever began it,
    answers those it finds applied. A poll of their own each would wake
    every waiting request every poll: the slower the projection, the more requests wait and the
    more CPU their waiting takes from the services that would let it catch up.
    """

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        name: str = PROJECTION,
        *,
        max_age: float = MAX_AGE_SECONDS,
        refresh_after: float = REFRESH_AFTER_SECONDS,
    ) -> None:
        self._db = db
        self._name = name
        self._max_age = max_age
        self._refresh_after = refresh_after
        self._pending: asyncio.Task[Checkpoint] | None = None
        self._waiting: list[tuple[Position, asyncio.Future[Checkpoint]]] = []
        self._watch: asyncio.Task[None] | None = None
        self.latest: Checkpoint | None = None
        self._latest_began = -math.inf  # the loop's time when the read of `latest` began

    async def read(self, at_least: Position | None = None) -> Checkpoint:
        """The checkpoint as read at most `max_age` ago, if that is at or past `at_least`;
        else as a read under way or a new one finds it."""
        latest = self.latest
        if latest is not None and (at_least is None or latest.position >= at_least):
            age = asyncio.get_running_loop().time() - self._latest_began
            if age <= self._max_age:
                if age > self._refresh_after:
                    self._begin_read()
                return latest
        return await self.fresh()

    async def fresh(self) -> Checkpoint:
        """The checkpoint as a read under way or a new one finds it."""
        # Shielded: one caller giving up (a client hanging up) must not cancel the others' read.
        return await asyncio.shield(self._begin_read())

    async def close(self) -> None:
        """Stop the read and the watch under way: before the client they read through closes."""
        for task in (self._pending, self._watch):
            if task is not None:
                await stop(task)  # what a read failed with was its callers' to see

    def _begin_read(self) -> asyncio.Task[Checkpoint]:
        if self._pending is None:
            began = asyncio.get_running_loop().time()
            self._pending = asyncio.create_task(self._fetch(began))
            self._pending.add_done_callback(self._forget)
        return self._pending

    async def reached(self, wanted: Position) -> Checkpoint:
        """The checkpoint once it is at or past `wanted`, or stopped short of it (a poison
        event). Raises what a read raised meanwhile."""
        answer: asyncio.Future[Checkpoint] = asyncio.get_running_loop().create_future()
        self._waiting.append((wanted, answer))
        if self._watch is None:
            self._watch = asyncio.create_task(self._poll())
        return await answer

    async def _poll(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(POLL_SECONDS)
                try:
                    await self.fresh()  # a read answers the waiters it finds applied
                except Exception as error:  # MongoDB's: each waiter's 503
                    self._answer(error)
        except asyncio.CancelledError:
            for _, answer in self._waiting:
                answer.cancel()
            raise
        finally:
            self._watch = None

    async def _fetch(self, began: float) -> Checkpoint:
        status = await find_status(self._db, self._name)
        if status is None:  # the projector has not started yet: nothing is applied
            checkpoint = Checkpoint(START, stopped=False)
        else:
            checkpoint = Checkpoint(
                Position.parse(status.checkpoint),
                stopped=status.state is ProjectionState.STOPPED,
                collections=status.collections,
            )
        # One read at a time: each began after the one before.
        self.latest, self._latest_began = checkpoint, began
        # Whoever began it: under load, requests read the checkpoint more often than the watch.
        self._answer(checkpoint)
        return checkpoint

    def _answer(self, checkpoint: Checkpoint | Exception) -> None:
        """Answer the waiters that `checkpoint` (or a read's failure) is an answer for."""
        self._waiting = [
            (wanted, answer)
            for wanted, answer in self._waiting
            if not _answered(answer, wanted, checkpoint)
        ]

    def _forget(self, done: asyncio.Future[Checkpoint]) -> None:
        if self._pending is done:
            self._pending = None
        if not done.cancelled():
            done.exception()  # retrieved here, in case every caller had gone


def _answered(
    answer: asyncio.Future[Checkpoint], wanted: Position, checkpoint: Checkpoint | Exception
) -> bool:
    """Whether the waiter is done with, answering it if the checkpoint is its answer."""
    if answer.done():  # its request gave up or went
        return True
    if isinstance(checkpoint, Exception):
        answer.set_exception(checkpoint)
    elif checkpoint.position >= wanted or checkpoint.stopped:
        answer.set_result(checkpoint)
    else:
        return False
    return True


async def wait_for(
    reader: CheckpointReader, first: Checkpoint, wanted: Position | None, bound: float
) -> Checkpoint:
    """The checkpoint once it is at or past `wanted`, starting from `first`, the one the
    request found on arrival; NotYetApplied if not within `bound` s."""
    if wanted is None:
        return first
    loop = asyncio.get_running_loop()
    started = loop.time()
    checkpoint = first
    if first.position < wanted and not first.stopped:
        limit = asyncio.timeout(bound)
        try:
            async with limit:
                checkpoint = await reader.reached(wanted)
        except TimeoutError:
            if not limit.expired():
                raise
            checkpoint = reader.latest or first
    if checkpoint.position < wanted:
        MIN_POSITION_WAIT.labels("not_reached").observe(loop.time() - started)
        raise NotYetApplied(checkpoint)
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
