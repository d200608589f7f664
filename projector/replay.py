"""A rebuild's replay of the whole feed into its new collections, in large chunks.

The live projector loads, applies and writes back a small batch at a time, because readers
see every write. The new collections of a rebuild are read by nobody until the switch, and
written only by the rebuild (fenced by its status document), so the replay can fold many
events into documents in memory, with the same pure `apply` the live projector uses (so the
documents come out the same), and write each document once per chunk.

While one chunk is written (the database's work), the next is read and folded (this
process's work). A chunk's checkpoint is written only after its documents, so a replay that
is killed resumes from a checkpoint whose documents are all in; the documents of a chunk
written only in part are loaded again and the events re-applied, which changes nothing
(guarantee 2). Memory is bounded by the size of two chunks, and a set of the ids written.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventstore import Position, RecordedEvent, read_feed_page_alone
from projector.catch_up import POISON, Projection, catch_up
from projector.projection import Workspace, apply, documents_touched
from projector.storage import (
    Database,
    Writes,
    advance_checkpoint,
    checkpoint_of,
    read_status,
    workspace_writes,
    write_documents,
)
from readmodel.collections import ReadCollections
from readmodel.documents import OrderDocument, ProjectionState, ProjectionStatus, UserDocument
from web.heap import fewer_collections
from web.tasks import stop

# Ids per `$in` query: SecantusDB matches each document it finds against the whole list, so
# one query for n documents that exist costs n times the list's length.
IN_SLICE = 250
# Events applied between turns of the event loop, so that the writes of the chunk before,
# which take turns with the folding of this one, keep the database busy.
YIELD_EVERY = 200
# The ids a replay remembers having written, to skip loading the others (about 100 bytes
# each); past this many it asks the database instead.
REMEMBERED_IDS = 500_000


class _OrdersOfUsers(dict[str, OrderDocument]):
    """Orders by id, that also know whose they are: a rename updates the user's orders, and
    a chunk holds thousands of orders to look through otherwise. Only item assignment keeps
    the index, which is all that `apply` and the loads below use."""

    def __init__(self) -> None:
        super().__init__()
        self.by_user: dict[str, list[str]] = {}

    def __setitem__(self, order_id: str, doc: OrderDocument) -> None:
        if order_id not in self:
            self.by_user.setdefault(doc.user_id, []).append(order_id)
        super().__setitem__(order_id, doc)


@dataclass
class ChunkWorkspace(Workspace):
    orders: _OrdersOfUsers = field(default_factory=_OrdersOfUsers)
    # The revision each document had when it joined the chunk; absent for a new document.
    loaded_users: dict[str, str] = field(default_factory=dict)
    loaded_orders: dict[str, str] = field(default_factory=dict)

    def orders_of(self, user_id: str) -> Iterable[OrderDocument]:
        return (self.orders[order_id] for order_id in self.orders.by_user.get(user_id, ()))

    @property
    def size(self) -> int:
        return len(self.users) + len(self.orders)

    def adopt_user(self, doc: UserDocument) -> None:
        self.users[doc.id] = doc
        self.loaded_users[doc.id] = doc.revision

    def adopt_order(self, doc: OrderDocument) -> None:
        self.orders[doc.id] = doc
        self.loaded_orders[doc.id] = doc.revision


@dataclass(frozen=True)
class Chunking:
    page_events: int  # events per read of the feed
    chunk_events: int  # at most this many events per chunk (one checkpoint each)
    chunk_documents: int  # and a chunk ends once it holds this many documents


@dataclass
class _Chunk:
    workspace: ChunkWorkspace
    events: int = 0
    last: RecordedEvent | None = None
    drained: bool = False  # no event was left to read
    poison: RecordedEvent | None = None  # the event that could not be applied, if any


@dataclass
class _Sources:
    """Where a chunk finds the documents it lacks."""

    db: Database
    names: ReadCollections
    # The previous chunk's documents: newer than the database's copies while being written.
    carried: ChunkWorkspace = field(default_factory=ChunkWorkspace)
    # When the replay began on empty collections, the ids of the documents it has written
    # since: no other is in the database, so most loads need no query. None: ask.
    written: set[str] | None = None

    def remember(self, workspace: ChunkWorkspace) -> None:
        if self.written is not None:
            self.written.update(workspace.changed_users, workspace.changed_orders)
            if len(self.written) > REMEMBERED_IDS:
                self.written = None  # memory beyond the bound: ask the database instead

    def may_hold(self, doc_id: str) -> bool:
        return self.written is None or doc_id in self.written


async def replay_in_chunks(
    projection: Projection,
    chunking: Chunking,
    on_chunk: Callable[[], Awaitable[object]] | None = None,
) -> ProjectionStatus:
    """Apply the feed after the checkpoint to the projection's collections, chunk by chunk,
    until no event is left or the projection stops at a poison event.

    The garbage collector runs less often meanwhile (`web.heap`): at Python's default it took
    a third of a replay's CPU time."""
    with fewer_collections:
        return await _replay(projection, chunking, on_chunk)


async def _replay(
    projection: Projection,
    chunking: Chunking,
    on_chunk: Callable[[], Awaitable[object]] | None,
) -> ProjectionStatus:
    db = projection.db
    status = await read_status(db, projection.name)
    names = status.collections
    sources = _Sources(db, names, written=set() if await _empty(db, names) else None)
    after = checkpoint_of(status)
    writing: asyncio.Task[ProjectionStatus] | None = None

    async def written() -> ProjectionStatus:
        nonlocal writing
        if writing is None:
            return status
        done = await writing
        writing = None
        if on_chunk is not None:
            await on_chunk()
        return done

    try:
        while status.state is ProjectionState.RUNNING:
            chunk = await _fold(projection, sources, chunking, after)
            status = await written()
            if chunk.poison is not None:
                # The chunk may hold part of the poison event's effects: it is not written.
                # The live projector's way applies what precedes the event and stops there.
                await catch_up(projection, until=chunk.poison.position)
                status = await read_status(db, projection.name)
                after, sources = checkpoint_of(status), _Sources(db, names)
                continue
            if chunk.last is None:
                break
            workspace = chunk.workspace
            writes = workspace_writes(
                names, workspace, workspace.loaded_users, workspace.loaded_orders
            )
            writing = asyncio.create_task(_commit(db, status, writes, chunk.last, chunk.events))
            after, sources.carried = chunk.last.position, workspace
            sources.remember(workspace)
            if chunk.drained:
                break
        status = await written()
    finally:
        if writing is not None:  # something failed: the chunk being written is not recorded
            await stop(writing)
    return status


async def _empty(db: Database, names: ReadCollections) -> bool:
    for collection in (names.users, names.orders):
        if await db[collection].find_one({}, projection={"_id": 1}) is not None:
            return False
    return True


async def _commit(
    db: Database,
    status: ProjectionStatus,
    writes: list[tuple[str, Writes]],
    last: RecordedEvent,
    events: int,
) -> ProjectionStatus:
    await write_documents(db, writes)
    return await advance_checkpoint(db, status, last, events)


async def _fold(
    projection: Projection, sources: _Sources, chunking: Chunking, after: Position
) -> _Chunk:
    """Read the feed after `after` and apply it to documents in memory, up to the chunk's
    bounds; stops at a poison event."""
    chunk = _Chunk(ChunkWorkspace())
    while chunk.events < chunking.chunk_events and chunk.workspace.size < chunking.chunk_documents:
        limit = min(chunking.page_events, chunking.chunk_events - chunk.events)
        page = await read_feed_page_alone(projection.sessions, after, limit)
        await _load(sources, page, chunk.workspace)
        for index, record in enumerate(page):
            if index % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # lets the previous chunk's writes go on meanwhile
            try:
                apply(chunk.workspace, record)
            except POISON:
                chunk.poison = record
                return chunk
            chunk.events += 1
            chunk.last = record
        if len(page) < limit:
            chunk.drained = True
            break
        after = page[-1].position
    return chunk


async def _load(
    sources: _Sources, page: Sequence[RecordedEvent], workspace: ChunkWorkspace
) -> None:
    """Bring into the workspace the documents the page touches that it lacks, as
    `storage.load_workspace` does: those of its streams, every order of a renamed user, and
    the user of every order.

    A renamed user's orders are found through the order lines of the user's document, not
    by `user_id`: the replay writes before its collections have their indexes (see
    `rebuild`), and every order document has its line, written before it (users first)."""
    user_ids, order_ids, renamed = documents_touched(page)
    await _load_users(sources, user_ids, workspace)
    for user_id in renamed:
        user_doc = workspace.users.get(user_id)
        if user_doc is not None:
            order_ids.update(line.id for line in user_doc.orders)
    owners = await _load_orders(sources, order_ids, workspace)
    await _load_users(sources, owners, workspace)


async def _load_users(
    sources: _Sources, user_ids: Iterable[str], workspace: ChunkWorkspace
) -> None:
    carried = sources.carried
    wanted: list[str] = []
    for user_id in user_ids:
        if user_id in workspace.users:
            continue
        if user_id in carried.users:
            workspace.adopt_user(carried.users[user_id])
        elif sources.may_hold(user_id):
            wanted.append(user_id)
    async for raw in _find_in(sources.db, sources.names.users, sorted(wanted)):
        workspace.adopt_user(UserDocument.from_mongo(raw))


async def _load_orders(
    sources: _Sources, order_ids: Iterable[str], workspace: ChunkWorkspace
) -> set[str]:
    """As `_load_users`; returns the users of the orders loaded."""
    carried = sources.carried
    wanted: list[str] = []
    owners: set[str] = set()
    for order_id in order_ids:
        if order_id in workspace.orders:
            continue
        if order_id in carried.orders:
            workspace.adopt_order(carried.orders[order_id])
            owners.add(carried.orders[order_id].user_id)
        elif sources.may_hold(order_id):
            wanted.append(order_id)
    async for raw in _find_in(sources.db, sources.names.orders, sorted(wanted)):
        order_doc = OrderDocument.from_mongo(raw)
        workspace.adopt_order(order_doc)
        owners.add(order_doc.user_id)
    return owners


async def _find_in(db: Database, collection: str, ids: list[str]) -> AsyncIterator[dict[str, Any]]:
    for first in range(0, len(ids), IN_SLICE):
        async for raw in db[collection].find({"_id": {"$in": ids[first : first + IN_SLICE]}}):
            yield raw
