"""The arq worker: wake-up jobs after commits, a cron job as the safety net, and the
rebuild job that `POST /admin/projections/{name}/rebuild` enqueues.

One catch-up per projection at a time, across processes: a Redis lock guards the run, and
a wake-up that finds it taken leaves a `pending` mark that the holder honours before it
lets go; a holder whose last catch-up found events goes on without one, and one whose time
is up hands over to a job of its own. Documents and checkpoint are fenced as well (see
`storage`), so even a holder whose lock expired cannot write over newer work.
"""

import time
from typing import Any

import structlog
from arq import cron, func
from arq.connections import ArqRedis, RedisSettings
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from eventstore.database import create_engine, create_sessions
from projector import CATCH_UP_JOB, REBUILD_JOB
from projector.catch_up import Carried, Projection, catch_up_with_retries
from projector.coordination import lock_key, pause_key, pending_key
from projector.overview import PROJECTIONS
from projector.rebuild import Rebuild, RebuildFailed, run_rebuild
from projector.storage import read_status
from readmodel.client import mongo_client as readmodel_client
from readmodel.collections import ensure_indexes
from readmodel.documents import ProjectionStatus
from settings import Settings, get_settings
from web.heap import settle_heap
from web.logging import configure_logging

log = structlog.get_logger()
# How long one catch-up job holds the projection, retries included. arq's timeout for the job
# is a minute more: room for the batch under way when it runs out, while the stores answer.
RUN_BUDGET_SECONDS = 240


def mongo_client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    return readmodel_client(settings, "projector", bounded=False)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    configure_logging()
    engine = create_engine(settings, application_name="projector")
    client = mongo_client(settings)
    db = client[settings.mongodb_db]
    ctx.update(
        settings=settings,
        engine=engine,
        mongo=client,
        projection=Projection(
            sessions=create_sessions(engine), db=db, batch_size=settings.projector_batch_size
        ),
    )
    try:
        await _ensure_indexes_once(ctx)
    except PyMongoError as error:  # MongoDB down at start: the first catch-up tries again
        log.warning("indexes not ensured at start-up", error=repr(error)[:200])
    settle_heap()


async def _ensure_indexes_once(ctx: dict[str, Any]) -> None:
    # Before the first write, never beside it: a collection created by a write while its index
    # build runs can hang SecantusDB, and on MongoDB reads would go unindexed meanwhile.
    if not ctx.get("indexes_ready"):
        projection: Projection = ctx["projection"]
        status = await read_status(projection.db, projection.name)
        await ensure_indexes(projection.db, status.collections)
        ctx["indexes_ready"] = True
        log.info("indexes ready", database=projection.db.name)


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["mongo"].close()
    await ctx["engine"].dispose()


async def catch_up_job(ctx: dict[str, Any]) -> int:
    projection: Projection = ctx["projection"]
    redis: ArqRedis = ctx["redis"]
    lock_seconds = ctx["settings"].projector_lock_seconds
    pending, lock = pending_key(projection.scope), lock_key(projection.scope)
    paused = pause_key(projection.scope)
    try:
        await _ensure_indexes_once(ctx)
    except PyMongoError as error:  # still down: the cron job comes back in a moment
        log.warning("indexes not ensured; catch-up deferred", error=repr(error)[:200])
        return 0
    await redis.set(pending, 1)
    applied = 0
    deadline = time.monotonic() + RUN_BUDGET_SECONDS
    # Marking before trying the lock closes the race with a holder that is just letting go:
    # either the holder sees the mark, or this job finds the lock free.
    while await redis.exists(pending):
        # A rebuild switching collections wants the lock: step aside, leaving the mark for
        # the first catch-up after it (the cron job's, at the latest).
        if await redis.exists(paused):
            return applied
        guard = redis.lock(lock, timeout=lock_seconds)
        if not await guard.acquire(blocking=False):
            return applied
        try:
            applied += await _hold(projection, redis, LockRenewal(guard, lock_seconds), deadline)
        finally:
            try:
                await guard.release()
            except LockError:
                log.warning("projection lock expired while held", projection=projection.name)
        if time.monotonic() >= deadline:
            # Under a steady stream of commits the mark is set again during every catch-up,
            # so the holder would stay until arq's job timeout cancelled it mid-batch. It
            # hands over instead, to a job of its own that goes on from the checkpoint.
            await redis.enqueue_job(CATCH_UP_JOB)
            return applied
    return applied


async def _hold(
    projection: Projection, redis: ArqRedis, renewal: "LockRenewal", deadline: float
) -> int:
    """Catch up, the lock held, while there is a mark or the last catch-up found events, until
    the deadline or a rebuild's pause; how many events were applied.

    Going on while catch-ups find events spares each event of a steady stream the whole trip
    of its wake-up (the enqueue, the worker's poll, the job)."""
    pending, paused = pending_key(projection.scope), pause_key(projection.scope)
    carried = Carried()
    applied, busy = 0, False
    while (
        time.monotonic() < deadline
        and not await redis.exists(paused)
        and (busy or await redis.delete(pending))
    ):
        try:
            await renewal()
        except LockError:  # lapsed, perhaps taken since: stop before this pass writes anything
            return applied
        found = await catch_up_with_retries(
            projection,
            deadline - time.monotonic(),
            on_batch=renewal,
            report_idle=not busy,
            carried=carried,
        )
        applied += found
        busy = found > 0
    return applied


class LockRenewal:
    """Gives the held lock its whole time again, before each pass and after each batch, once a
    fifth of it has gone by; raises LockError if the lock has lapsed.

    Each renewal is a round trip to Redis, and under a steady stream of commits a pass takes a
    few milliseconds: renewing after every batch was one of its handful of round trips. Each
    pass and each batch still starts with at least four fifths of the lock's time ahead, and a
    lock that lapsed (a whole lock's time since the last renewal) is found before a pass."""

    def __init__(self, guard: Lock, seconds: float) -> None:
        self._guard = guard
        self._seconds = seconds
        self._renewed = time.monotonic()  # made as the lock is taken

    async def __call__(self) -> None:
        now = time.monotonic()
        if now - self._renewed >= self._seconds / 5:
            await self._guard.extend(self._seconds, replace_ttl=True)
            self._renewed = now


async def rebuild_job(
    ctx: dict[str, Any], name: str, from_scratch: bool = False, keep_old: bool = False
) -> str:
    """Rebuild one projection (guarantee 7); returns a summary for arq's log.

    A refusal to switch is an outcome, not a fault: the rebuild's status document records it
    for `GET /admin/projections/{name}`, and the live projection is as it was. A store fault
    raises; the job is not retried (`max_tries=1`), and the next rebuild resumes this one.
    """
    if name not in PROJECTIONS:
        log.error("rebuild of an unknown projection", projection=name)
        return f"no projection named {name!r}"
    live: Projection = ctx["projection"]
    settings: Settings = ctx["settings"]
    rebuild = Rebuild(
        projection=Projection(live.sessions, live.db, name, live.batch_size),
        redis=ctx["redis"],
        lock_seconds=settings.projector_lock_seconds,
        keep_old=keep_old,
    )
    log.info("rebuild job started", projection=name, from_scratch=from_scratch, keep_old=keep_old)
    try:
        done = await run_rebuild(rebuild, from_scratch=from_scratch, progress=_log_progress)
    except RebuildFailed as error:
        log.error("rebuild failed", projection=name, error=str(error)[:500])
        return f"rebuild of {name} failed: {error}"
    log.info("rebuild job done", projection=name, generation=done.generation)
    return f"rebuilt {name}: generation {done.generation}, {done.events_applied} events replayed"


async def _log_progress(status: ProjectionStatus) -> None:
    log.info(
        "rebuild progress",
        projection=status.name,
        phase=status.phase,
        events_applied=status.events_applied,
        events_total=status.events_total,
    )


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for arq's `Worker`, from the service's settings."""
    return {
        "functions": [
            func(catch_up_job, name=CATCH_UP_JOB, keep_result=0, max_tries=3),
            # Never retried by arq: a rebuild that died resumes when an operator asks again.
            func(
                rebuild_job,
                name=REBUILD_JOB,
                keep_result=0,
                max_tries=1,
                timeout=settings.rebuild_timeout_seconds,
            ),
        ],
        "cron_jobs": [
            cron(catch_up_job, name="catch_up_cron", second=set(range(0, 60, 2)), keep_result=0)
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.projector_queue,
        "poll_delay": settings.projector_poll_seconds,
        "ctx": {"settings": settings},
        "max_jobs": 4,
        "job_timeout": RUN_BUDGET_SECONDS + 60,
        "keep_result": 0,
        "handle_signals": True,
    }
