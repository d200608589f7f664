"""Rebuilding a projection from every event, without readers ever seeing it half-built
(guarantee 7).

1. Replay the whole feed into the next generation's collections, beside the live projection
   and with its own checkpoint (the status document `<name>.rebuild`), in large chunks
   (`projector.replay`).
2. Pause the live projection (take its lock), bring it to the head of the feed, bring the
   replay to exactly the same checkpoint, and compare the two (counts and a content hash).
3. Switch: one write to the live status document names the new collections. Readers and the
   projector take the names from that document on every read, so they all move at once, and
   never to collections that are not complete.

Every step can be interrupted (the process killed) and the rebuild run again: the replay
resumes from its checkpoint, and the switch is a single fenced write, done or not done.
"""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from eventstore import feed_lag
from eventstore.position import START
from projector.catch_up import Projection, catch_up
from projector.coordination import lock_key, pause_key
from projector.replay import Chunking, replay_in_chunks
from projector.storage import checkpoint_of, fence, read_status
from readmodel.collections import STATUS, ReadCollections, ensure_indexes
from readmodel.documents import ProjectionState, ProjectionStatus, RebuildPhase, find_status
from web.tasks import stop

log = structlog.get_logger()
Database = AsyncDatabase[dict[str, Any]]
Progress = Callable[[ProjectionStatus], Awaitable[object]]

REBUILD_BATCH = 5000  # events per read of the feed
# A replay writes its documents and checkpoint once per chunk of this many reads, or sooner
# once the chunk holds `CHUNK_DOCUMENTS` documents (which bounds the replay's memory).
CHUNK_PAGES = 2
CHUNK_DOCUMENTS = 10_000
# How long a switch waits for a catch-up under way to step aside.
SWITCH_WAIT_SECONDS = 60.0
# Readers that read the old names just before the switch finish on the old collections.
DROP_OLD_AFTER_SECONDS = 5.0


class RebuildFailed(Exception):
    """The rebuild stopped without switching; the live projection is as it was."""


@dataclass(frozen=True)
class Rebuild:
    projection: Projection
    redis: Redis
    batch_size: int = REBUILD_BATCH
    chunk_pages: int = CHUNK_PAGES
    chunk_documents: int = CHUNK_DOCUMENTS
    keep_old: bool = False
    # As the projector's (`PROJECTOR_LOCK_SECONDS`): a rebuild killed while it holds the
    # live projection's lock stops blocking it this soon after.
    lock_seconds: float = 10.0

    @property
    def name(self) -> str:
        return self.projection.name

    @property
    def replay(self) -> Projection:
        return Projection(
            self.projection.sessions, self.projection.db, rebuild_name(self.name), self.batch_size
        )

    @property
    def chunking(self) -> Chunking:
        return Chunking(self.batch_size, self.batch_size * self.chunk_pages, self.chunk_documents)


def rebuild_name(name: str) -> str:
    return f"{name}.rebuild"


async def run_rebuild(
    rebuild: Rebuild, *, from_scratch: bool = False, progress: Progress | None = None
) -> ProjectionStatus:
    """Rebuild, resuming an interrupted rebuild unless `from_scratch`; returns the rebuild's
    final status. Raises RebuildFailed (after recording why) if it cannot switch."""
    db = rebuild.projection.db
    state = await _begin(rebuild, from_scratch)
    if state.phase is RebuildPhase.DONE:
        return state

    async def report() -> None:
        if progress is not None:
            await progress(await read_status(db, state.name))

    await replay_in_chunks(rebuild.replay, rebuild.chunking, on_chunk=report)
    # Indexes once the bulk of the documents is in: SecantusDB builds an index over them in a
    # fraction of the time it takes to keep it up insert by insert. Safe from its trap (a
    # write that creates a collection while an index on it is being built, see
    # `ensure_indexes`): nothing else writes these collections before the switch, and this
    # returns before the rest of the replay and the switch write them.
    await ensure_indexes(db, state.collections)
    await catch_up(rebuild.replay, on_batch=report)  # records the lag; normally nothing is left
    await _check_running(rebuild, db)
    try:
        return await _switch(rebuild, progress)
    except RebuildFailed as error:
        await _set(db, state.name, phase=RebuildPhase.FAILED, message=str(error)[:500])
        raise


async def _begin(rebuild: Rebuild, from_scratch: bool) -> ProjectionStatus:
    """The rebuild's status: the interrupted one to resume, or a new one."""
    db = rebuild.projection.db
    live = await read_status(db, rebuild.name)
    name = rebuild_name(rebuild.name)
    current = await find_status(db, name)
    if (
        current is not None
        and current.phase is RebuildPhase.SWITCHING
        and current.generation == live.generation
    ):
        # Killed after the switch, before saying so: the switch stands.
        return await _set(db, name, phase=RebuildPhase.DONE, finished_at=_now())
    resumable = current is not None and current.phase in (
        RebuildPhase.REPLAYING,
        RebuildPhase.SWITCHING,
    )
    if resumable and not from_scratch:
        assert current is not None
        log.info("rebuild resumed", projection=rebuild.name, checkpoint=current.checkpoint)
        return current
    generation = live.generation + 1
    target = ReadCollections.of_generation(generation)
    for collection in (target.users, target.orders):  # leftovers of an abandoned attempt
        await db.drop_collection(collection)
    async with rebuild.projection.sessions() as session:
        total, _ = await feed_lag(session, START, cap=10**9)
    fresh = ProjectionStatus(
        name=name,
        generation=generation,
        users_collection=target.users,
        orders_collection=target.orders,
        phase=RebuildPhase.REPLAYING,
        events_total=total,
        started_at=_now(),
        updated_at=_now(),
    )
    await db[STATUS].replace_one({"_id": name}, fresh.model_dump(by_alias=True), upsert=True)
    log.info("rebuild started", projection=rebuild.name, generation=generation, events=total)
    return fresh


async def _check_running(rebuild: Rebuild, db: Database) -> None:
    replayed = await read_status(db, rebuild_name(rebuild.name))
    if replayed.state is ProjectionState.STOPPED:
        error = replayed.error
        detail = "a poison event" if error is None else f"{error.event_type} at {error.position}"
        message = f"the replay stopped at {detail}: {error.message if error else ''}"
        await _set(db, replayed.name, phase=RebuildPhase.FAILED, message=message[:500])
        raise RebuildFailed(message)


async def _switch(rebuild: Rebuild, progress: Progress | None) -> ProjectionStatus:
    db = rebuild.projection.db
    name = rebuild_name(rebuild.name)
    await _set(db, name, phase=RebuildPhase.SWITCHING)
    seconds = rebuild.lock_seconds
    paused = pause_key(rebuild.projection.scope)
    lock: Lock = rebuild.redis.lock(
        lock_key(rebuild.projection.scope), timeout=seconds, blocking_timeout=SWITCH_WAIT_SECONDS
    )

    async def keep_alive() -> None:
        await rebuild.redis.set(paused, 1, px=int(seconds * 1000))
        await lock.extend(seconds, replace_ttl=True)

    async def heartbeat() -> None:
        # On a clock, not per batch: one batch of a large replay can outlast the lock.
        while True:
            await asyncio.sleep(seconds / 3)
            try:
                await keep_alive()
            except LockError:  # lost: the fenced switch below still refuses to go wrong
                log.warning("rebuild lost the projection lock", projection=rebuild.name)
                return

    await rebuild.redis.set(paused, 1, px=int(seconds * 1000))
    if not await lock.acquire():
        await rebuild.redis.delete(paused)
        raise RebuildFailed("the live projection did not let go of its lock")
    beating = asyncio.create_task(heartbeat())
    try:
        # Paused: the live projection moves only here, so both can meet at one checkpoint.
        await catch_up(rebuild.projection)
        live = await read_status(db, rebuild.name)
        if live.state is not ProjectionState.RUNNING:
            raise RebuildFailed("the live projection is stopped; fix that before switching")
        await catch_up(rebuild.replay, until=checkpoint_of(live))
        await _check_running(rebuild, db)
        replayed = await read_status(db, name)
        if replayed.checkpoint != live.checkpoint:
            raise RebuildFailed(f"the replay reached {replayed.checkpoint}, not {live.checkpoint}")
        await _verify(db, live.collections, replayed.collections)
        switched = await db[STATUS].update_one(
            fence(live),
            {
                "$set": {
                    "generation": replayed.generation,
                    "users_collection": replayed.users_collection,
                    "orders_collection": replayed.orders_collection,
                    "updated_at": _now(),
                }
            },
        )
        if switched.matched_count != 1:
            raise RebuildFailed("the live projection moved during the switch")
    finally:
        try:
            failure = await stop(beating)
            if failure is not None:  # the pause may have lapsed: the fence still held
                log.warning("rebuild heartbeat failed", projection=rebuild.name, error=failure)
        finally:  # also when cancelled while the heartbeat stops
            await _let_go(rebuild, paused, lock)
    log.info("rebuild switched", projection=rebuild.name, generation=replayed.generation)
    done = await _set(db, name, phase=RebuildPhase.DONE, finished_at=_now())
    if progress is not None:
        await progress(done)
    if not rebuild.keep_old:
        await asyncio.sleep(DROP_OLD_AFTER_SECONDS)
        for collection in (live.users_collection, live.orders_collection):
            await db.drop_collection(collection)
    return done


async def _let_go(rebuild: Rebuild, paused: str, lock: Lock) -> None:
    """Unpause the live projection and release its lock. The catch-ups that stepped aside
    meanwhile left their mark: the next one runs them."""
    await rebuild.redis.delete(paused)
    try:
        await lock.release()
    except LockError:  # it expired while we worked; the fenced switch protected us
        log.warning("rebuild lock expired while held", projection=rebuild.name)


async def _verify(db: Database, live: ReadCollections, rebuilt: ReadCollections) -> None:
    """Document for document: the same count and the same content hash, collection by
    collection."""
    pairs = ((live.users, rebuilt.users), (live.orders, rebuilt.orders))
    hashes = await asyncio.gather(*(content_hash(db, name) for pair in pairs for name in pair))
    for index, (old, new) in enumerate(pairs):
        (old_count, old_hash), (new_count, new_hash) = hashes[2 * index : 2 * index + 2]
        if (old_count, old_hash) != (new_count, new_hash):
            raise RebuildFailed(
                f"{new} differs from {old}: {new_count} documents against {old_count}, "
                f"hash {new_hash[:12]} against {old_hash[:12]}"
            )


async def content_hash(db: Database, collection: str) -> tuple[int, str]:
    """How many documents, and a hash of all of them: of each one's BSON as stored (field
    order counts: both sides are written by the same code), in the order of those digests,
    so that the server may answer in any order (sorting by `_id` costs SecantusDB more)."""
    raw = db[collection].with_options(codec_options=CodecOptions(document_class=RawBSONDocument))
    digests = [hashlib.sha256(document.raw).digest() async for document in raw.find()]
    digests.sort()
    return len(digests), hashlib.sha256(b"".join(digests)).hexdigest()


async def _set(db: Database, name: str, **fields: object) -> ProjectionStatus:
    changes = {**fields, "updated_at": _now()}
    await db[STATUS].update_one({"_id": name}, {"$set": changes})
    return await read_status(db, name)


def _now() -> datetime:
    return datetime.now(UTC)
