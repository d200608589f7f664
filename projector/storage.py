"""Loading a batch's documents from MongoDB and writing them back, fenced by `revision`."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from eventstore import Position, RecordedEvent
from projector.projection import Workspace, documents_touched
from readmodel.collections import STATUS, ReadCollections
from readmodel.documents import (
    OrderDocument,
    ProjectionError,
    ProjectionState,
    ProjectionStatus,
    Resumed,
    UserDocument,
    find_status,
)

Database = AsyncDatabase[dict[str, Any]]


class FencedOut(Exception):
    """Another projector wrote first: this one's copy is stale, so it stops and lets it be."""


async def load_workspace(
    db: Database, names: ReadCollections, records: Sequence[RecordedEvent]
) -> tuple[Workspace, dict[str, str], dict[str, str]]:
    """The documents the batch touches, and the revision each had when loaded."""
    user_ids, order_ids, renamed = documents_touched(records)
    workspace = Workspace()
    # Two plain `$in` queries, not one `$or`: each is served by an index, where SecantusDB
    # answers an `$or` with a scan of the whole collection. None for nothing to look for: a
    # batch of sign-ups touches no order, and a pass of a steady stream is a few round trips.
    order_filters = [
        {field: {"$in": sorted(ids)}}
        for field, ids in (("_id", order_ids), ("user_id", renamed))
        if ids
    ]
    for order_filter in order_filters:
        async for raw in db[names.orders].find(order_filter):
            doc = OrderDocument.from_mongo(raw)
            workspace.orders.setdefault(doc.id, doc)
            user_ids.add(doc.user_id)
    if user_ids:
        async for raw in db[names.users].find({"_id": {"$in": sorted(user_ids)}}):
            user_doc = UserDocument.from_mongo(raw)
            workspace.users[user_doc.id] = user_doc
    loaded_users = {doc.id: doc.revision for doc in workspace.users.values()}
    loaded_orders = {doc.id: doc.revision for doc in workspace.orders.values()}
    return workspace, loaded_users, loaded_orders


Writes = list[InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]]]


async def save_workspace(
    db: Database,
    names: ReadCollections,
    workspace: Workspace,
    loaded_users: dict[str, str],
    loaded_orders: dict[str, str],
) -> int:
    """Write the changed documents; returns how many. Raises FencedOut if one moved meanwhile."""
    return await write_documents(
        db, workspace_writes(names, workspace, loaded_users, loaded_orders)
    )


def workspace_writes(
    names: ReadCollections,
    workspace: Workspace,
    loaded_users: dict[str, str],
    loaded_orders: dict[str, str],
) -> list[tuple[str, Writes]]:
    """Each collection's writes of the changed documents: an insert for a document that was
    not loaded, else a replace fenced by the revision it was loaded with. Serialized now, so
    the documents may change afterwards without changing what is written."""
    batches: list[tuple[str, Writes]] = []
    for collection, changed, docs, loaded in (
        (names.users, workspace.changed_users, workspace.users, loaded_users),
        (names.orders, workspace.changed_orders, workspace.orders, loaded_orders),
    ):
        writes: Writes = []
        for doc_id in sorted(changed):
            doc = docs[doc_id].to_mongo()
            if doc_id in loaded:
                writes.append(ReplaceOne({"_id": doc_id, "revision": loaded[doc_id]}, doc))
            else:
                writes.append(InsertOne(doc))
        if writes:
            batches.append((collection, writes))
    return batches


async def write_documents(db: Database, batches: list[tuple[str, Writes]]) -> int:
    """Unordered bulk writes, collection by collection (users before orders, as
    `workspace_writes` lists them: an order is never stored without its line in its user's
    document, which a rebuild's replay relies on); returns how many documents. Raises
    FencedOut if a document moved since it was loaded."""
    written = 0
    for collection, writes in batches:
        try:
            result = await db[collection].bulk_write(writes, ordered=False)
        except BulkWriteError as error:
            raise FencedOut(f"{collection}: {error.details.get('writeErrors', [])[:1]}") from error
        replaced = sum(isinstance(w, ReplaceOne) for w in writes)
        if result.matched_count != replaced:
            raise FencedOut(f"{collection}: {replaced - result.matched_count} documents moved")
        written += len(writes)
    return written


async def read_status(db: Database, name: str) -> ProjectionStatus:
    """The status document, written with its defaults first if there is none yet."""
    status = await find_status(db, name)
    if status is None:
        fresh = ProjectionStatus(name=name)
        await db[STATUS].update_one(
            {"_id": name}, {"$setOnInsert": fresh.model_dump(by_alias=True)}, upsert=True
        )
        status = await find_status(db, name)
        assert status is not None
    return status


async def advance_checkpoint(
    db: Database, status: ProjectionStatus, last: RecordedEvent, applied: int
) -> ProjectionStatus:
    """Move the checkpoint past `last`, only if nobody else moved it meanwhile."""
    moved = status.model_copy(
        update={
            "checkpoint": str(last.position),
            "checkpoint_transaction_id": last.position.transaction_id,
            "checkpoint_position": last.position.position,
            "events_applied": status.events_applied + applied,
            "last_event_recorded_at": last.recorded_at,
            "updated_at": datetime.now(UTC),
        }
    )
    result = await db[STATUS].replace_one(fence(status), moved.model_dump(by_alias=True))
    if result.matched_count != 1:
        raise FencedOut(f"checkpoint of {status.name} moved from {status.checkpoint}")
    return moved


async def stop_at(
    db: Database, status: ProjectionStatus, record: RecordedEvent, reason: Exception
) -> ProjectionStatus:
    """Record a poison event: the projection stops there, visibly, instead of skipping it."""
    stopped = status.model_copy(
        update={
            "state": ProjectionState.STOPPED,
            "error": ProjectionError(
                position=str(record.position),
                event_id=str(record.event_id),
                event_type=record.event_type,
                message=f"{type(reason).__name__}: {reason}"[:500],
                at=datetime.now(UTC),
            ),
            "updated_at": datetime.now(UTC),
        }
    )
    # Fenced as the checkpoint is: a holder whose lock lapsed, its status overtaken (by a
    # rebuild's switch, say), must not write that old status back.
    result = await db[STATUS].replace_one(fence(status), stopped.model_dump(by_alias=True))
    if result.matched_count != 1:
        raise FencedOut(f"status of {status.name} moved from {status.checkpoint}")
    return stopped


async def resume(db: Database, name: str, by: str) -> ProjectionStatus | None:
    """Lift a poison stop, once the cause is fixed: the next catch-up applies the event again
    (and stops again if it still cannot). None if the projection was not stopped."""
    status = await read_status(db, name)
    if status.state is not ProjectionState.STOPPED or status.error is None:
        return None
    record = Resumed(error=status.error, by=by, at=datetime.now(UTC))
    result = await db[STATUS].update_one(
        fence(status) | {"state": ProjectionState.STOPPED.value},
        {
            "$set": {"state": ProjectionState.RUNNING.value, "error": None},
            "$push": {"resumed": record.model_dump()},
        },
    )
    return await read_status(db, name) if result.matched_count == 1 else None


async def record_lag(db: Database, name: str, events: int, seconds: float) -> dict[str, Any]:
    """Store the lag in the status document; the fields as stored."""
    lag = {"lag_events": events, "lag_seconds": round(seconds, 3)}
    await db[STATUS].update_one({"_id": name}, {"$set": lag})
    return lag


def fence(status: ProjectionStatus) -> dict[str, object]:
    """Matches the status document only while nobody has moved it on from `status`: neither
    its checkpoint nor, through a rebuild's switch, its collections."""
    return {"_id": status.name, "checkpoint": status.checkpoint, "generation": status.generation}


def checkpoint_of(status: ProjectionStatus) -> Position:
    return Position(status.checkpoint_transaction_id, status.checkpoint_position)
