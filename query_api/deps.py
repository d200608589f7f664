"""Typed dependencies: the one way a route reaches the read documents."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pymongo.asynchronous.collection import AsyncCollection

from eventstore.position import InvalidPosition, Position
from query_api.consistency import CheckpointReader, NotYetApplied, announce, wait_for
from web.auth import ReadCaller
from web.problems import Problem

Collection = AsyncCollection[dict[str, Any]]


@dataclass(frozen=True)
class ReadModel:
    """What the lifespan opens once per process."""

    users: Collection
    orders: Collection
    checkpoints: CheckpointReader
    min_position_wait_seconds: float


@dataclass(frozen=True)
class ReadContext:
    """One authenticated read, with the position its client needs to see."""

    model: ReadModel
    min_position: Position | None
    request: Request

    @property
    def users(self) -> Collection:
        return self.model.users

    @property
    def orders(self) -> Collection:
        return self.model.orders

    async def settle(self) -> Position:
        """Wait until the projection has applied `Min-Position`, and note the checkpoint served
        at. Routes call it first, before any document read, so the checkpoint bounds them."""
        try:
            position = await wait_for(
                self.model.checkpoints, self.min_position, self.model.min_position_wait_seconds
            )
        except NotYetApplied as late:
            at = late.checkpoint.position
            announce(self.request.scope, at)
            detail = (
                f"the projection is stopped at {at}; an operator has to look at it"
                if late.checkpoint.stopped
                else f"the projection is at {at}, not yet at {self.min_position}; try again"
            )
            raise Problem(503, "Not yet applied", detail, headers={"Retry-After": "1"}) from None
        announce(self.request.scope, position)
        return position


def _read_context(
    request: Request,
    _: ReadCaller,
    min_position: Annotated[
        str | None, Header(description="an `Event-Position` from the command API")
    ] = None,
) -> ReadContext:
    model: ReadModel = request.app.state.read_model
    # Until `settle` reads a fresh one, a refusal (a 422, say) carries the last one seen.
    if model.checkpoints.last_seen is not None:
        announce(request.scope, model.checkpoints.last_seen)
    wanted = None
    if min_position is not None:
        try:
            wanted = Position.parse(min_position.strip())
        except InvalidPosition:
            raise Problem(
                400, "Bad Min-Position", "pass the `Event-Position` a command answered with"
            ) from None
    return ReadContext(model, wanted, request)


ReadDep = Annotated[ReadContext, Depends(_read_context)]
IfNoneMatch = Annotated[str | None, Header(max_length=4096)]
