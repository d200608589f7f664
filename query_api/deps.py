"""Typed dependencies: the one way a route reaches the read documents.

Each takes only the request, and checks the token and reads its headers itself (`web.headers`):
a dependency of FastAPI's, or a `Header()` parameter, costs CPU on every request.
"""

from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, FastAPI, Request
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from eventstore.position import TOKEN_PATTERN, InvalidPosition, Position
from query_api.conditional import Rendered
from query_api.consistency import Checkpoint, CheckpointReader, NotYetApplied, announce, wait_for
from query_api.loader import Document, DocumentLoader
from query_api.renderings import Renderings
from query_api.schemas import OrderOut, UserOut
from readmodel.collections import LIVE, ReadCollections
from web.auth import Access, authenticate
from web.headers import RequestHeader, reads_headers
from web.problems import FieldError, Problem, invalid_request

Collection = AsyncCollection[dict[str, Any]]


@dataclass(frozen=True)
class ReadModel:
    """What the lifespan opens once per process."""

    db: AsyncDatabase[dict[str, Any]]
    checkpoints: CheckpointReader
    documents: DocumentLoader
    renderings: Renderings
    min_position_wait_seconds: float


@dataclass
class ReadContext:
    """One authenticated read, with the position its client needs to see."""

    model: ReadModel
    min_position: Position | None
    request: Request
    # The checkpoint as the request found it on arrival, or why it could not be read.
    arrival: Checkpoint | PyMongoError
    # Those of the checkpoint the read is served at (`settle`): a rebuild can move them.
    collections: ReadCollections = LIVE
    # The entity tags a client holds, for a read of one document (`ConditionalReadDep`).
    if_none_match: str | None = None

    @property
    def users(self) -> Collection:
        return self.model.db[self.collections.users]

    @property
    def orders(self) -> Collection:
        return self.model.db[self.collections.orders]

    async def find_user(
        self, user_id: UUID, projection: dict[str, int] | None = None
    ) -> Document | None:
        return await self.model.documents.find(self.collections.users, str(user_id), projection)

    async def find_order(self, order_id: UUID) -> Document | None:
        return await self.model.documents.find(self.collections.orders, str(order_id))

    def render_user(self, raw: Document) -> Rendered:
        """A user found by `find_user` (with every field), as `GET /users/{id}` answers."""
        return self.model.renderings.of(UserOut, self.collections.users, raw)

    def render_order(self, raw: Document) -> Rendered:
        return self.model.renderings.of(OrderOut, self.collections.orders, raw)

    async def settle(self) -> Position:
        """Wait until the projection has applied `Min-Position`, and note the checkpoint served
        at. Routes call it first, before any document read, so the checkpoint bounds them."""
        if isinstance(self.arrival, PyMongoError):
            # Raised here rather than on arrival, so that a bad request still gets its 4xx. The
            # error may be shared by every request that shared the read: a fresh traceback each.
            raise self.arrival.with_traceback(None)
        try:
            checkpoint = await wait_for(
                self.model.checkpoints,
                self.arrival,
                self.min_position,
                self.model.min_position_wait_seconds,
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
        announce(self.request.scope, checkpoint.position)
        self.collections = checkpoint.collections
        return checkpoint.position


MIN_POSITION = RequestHeader(
    "Min-Position",
    "an `Event-Position` from the command API",
    # Documented, not enforced here: a token out of this shape is a 400 (`_read_context`).
    pattern=TOKEN_PATTERN,
)
IF_NONE_MATCH = RequestHeader("If-None-Match", max_length=4096)


@reads_headers(MIN_POSITION)
async def _read_context(request: Request) -> ReadContext:
    authenticate(request, Access.READ)
    min_position = MIN_POSITION.read(request)
    model: ReadModel = request.app.state.read_model
    wanted: Position | None = None
    if min_position is not None:
        with suppress(InvalidPosition):  # refused below, once the checkpoint is read
            wanted = Position.parse(min_position.strip())
    # Read before anything can refuse the request, so that every answer, refusals included,
    # carries the projection's position (DESIGN.md, Query API). Valid reads pay nothing more:
    # this is the reading that `settle` starts from.
    arrival: Checkpoint | PyMongoError
    try:
        arrival = await model.checkpoints.read(at_least=wanted)
        announce(request.scope, arrival.position)
    except PyMongoError as error:
        arrival = error
    _refuse_unknown_parameters(request)
    if min_position is not None and wanted is None:
        raise Problem(400, "Bad Min-Position", "pass the `Event-Position` a command answered with")
    return ReadContext(model, wanted, request, arrival)


@reads_headers(IF_NONE_MATCH, MIN_POSITION)
async def _conditional_read_context(request: Request) -> ReadContext:
    read = await _read_context(request)
    read.if_none_match = IF_NONE_MATCH.read(request)
    return read


def _refuse_unknown_parameters(request: Request) -> None:
    """Only the query parameters the route documents, each once (guarantee 8).

    Ignored, `?user_id[$ne]=x` or a misspelt filter would answer an unfiltered listing that
    the client takes for a filtered one; and of a filter given twice, one would silently win.
    """
    if not request.scope["query_string"]:
        return
    known = _query_parameters(request.app, request.scope["route"].path_format)
    given = Counter(name for name, _ in request.query_params.multi_items())
    errors = [
        FieldError(
            loc=["query", name[:100]],
            msg="given more than once" if name in known else "not a parameter of this route",
            type="repeated" if name in known else "extra_forbidden",
        )
        for name, count in given.items()
        if name not in known or count > 1
    ]
    if errors:
        raise invalid_request(errors)


def _query_parameters(app: FastAPI, path: str) -> frozenset[str]:
    """The query parameters a GET route documents, looked up once per route and app."""
    known: dict[str, frozenset[str]] | None = getattr(app.state, "query_parameters", None)
    if known is None:
        known = app.state.query_parameters = {}
    if path not in known:
        operation = app.openapi()["paths"][path]["get"]
        parameters = operation.get("parameters", ())
        known[path] = frozenset(p["name"] for p in parameters if p["in"] == "query")
    return known[path]


ReadDep = Annotated[ReadContext, Depends(_read_context)]
# For one document, which a client may hold already (`If-None-Match`).
ConditionalReadDep = Annotated[ReadContext, Depends(_conditional_read_context)]
